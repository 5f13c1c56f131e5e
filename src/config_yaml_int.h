/* The generic YAML schema walker behind the configuration loader (internal
 * to src/config*.c): libyaml's document tree with 0-based marks reported
 * 1-based, typed getters that check a value and say what is wrong with it
 * in one sentence "<file>:<line>: <path>: <reason>", ${VAR} interpolation,
 * "did you mean" hints, and a bound on the nodes visited. It knows no
 * driftwatch key: src/config.c holds the schema.
 *
 * Every getter reads map[key] (map may be NULL: the key is then absent),
 * treats an absent or null value as "use the default", and returns 0 or a
 * negative dw_err with the sentence in the context's errbuf. Strings it
 * returns are the caller's to free. */
#ifndef DRIFTWATCH_CONFIG_YAML_INT_H
#define DRIFTWATCH_CONFIG_YAML_INT_H

#include "driftwatch/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

/* Longest key path in a message ("models[12].columns.features.x.psi"). */
#define DW_YAML_PATHLEN 320
/* Longest message body before the "<file>:<line>: " prefix. */
#define DW_YAML_MSGLEN 768

typedef struct dw_yaml_ctx {
    const char *name;
    const char *basedir;
    yaml_document_t *doc;
    char *errbuf;
    size_t errlen;
    size_t visits;  /* bounded by DW_CONFIG_MAX_NODES: aliases can multiply nodes */
    dw_config *cfg; /* what the schema fills in; the walker never reads it */
} dw_yaml_ctx;

/* Each returns NULL when s is acceptable, else the reason. */
typedef const char *(*dw_yaml_validator)(const char *s);

/* dw_yaml_check_map() with the allowed keys of a static array. */
#define DW_YAML_CHECK_MAP(c, n, path, keys, max)                                                   \
    dw_yaml_check_map((c), (n), (path), (keys), sizeof(keys) / sizeof((keys)[0]), (max))

int dw_yaml_fail(dw_yaml_ctx *c, const yaml_node_t *n, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* 1-based line of n (1 for NULL). */
int dw_yaml_line_of(const yaml_node_t *n);

/* "a scalar", "a list", "a mapping": for "expected X, got Y". */
const char *dw_yaml_kind_name(const yaml_node_t *n);

/* Writes ` (did you mean "x"?)` or "" into buf. */
const char *dw_yaml_hint(char *buf, size_t len, const char *s, const char *const *names, size_t n);

/* "parent.key" (or "key") into buf[DW_YAML_PATHLEN], "..." when cut. */
const char *dw_yaml_join_path(char *buf, const char *parent, const char *key);

/* "parent[i]" into buf[DW_YAML_PATHLEN]. */
const char *dw_yaml_index_path(char *buf, const char *parent, size_t i);

/* The node with libyaml id, or NULL. */
yaml_node_t *dw_yaml_node_at(dw_yaml_ctx *c, int id);

/* Counts k more nodes visited; DW_ERR_LIMIT past DW_CONFIG_MAX_NODES. */
int dw_yaml_budget(dw_yaml_ctx *c, const yaml_node_t *n, size_t k);

/* A plain "null", "~" or nothing at all: treated as if the key were absent. */
bool dw_yaml_is_null(const yaml_node_t *n);

/* Entries of a mapping / items of a sequence node. */
size_t dw_yaml_map_size(const yaml_node_t *m);

size_t dw_yaml_seq_size(const yaml_node_t *s);

/* The text of pair p's key (NULL when not a scalar); *keynode its node. */
const char *dw_yaml_key_text(dw_yaml_ctx *c, const yaml_node_pair_t *p, yaml_node_t **keynode);

/* Checks that n is a mapping of at most max entries (0: no bound beyond the
 * node budget) with string keys, no duplicates and, when allowed is not
 * NULL, only keys from allowed[0..nallowed). */
int dw_yaml_check_map(dw_yaml_ctx *c, yaml_node_t *n, const char *path, const char *const *allowed,
                      size_t nallowed, size_t max);

/* The value node of key in mapping m, or NULL (m NULL or not a mapping). */
yaml_node_t *dw_yaml_map_get(dw_yaml_ctx *c, yaml_node_t *m, const char *key);

/* Checks that n is a list of min..max items. */
int dw_yaml_check_seq(dw_yaml_ctx *c, yaml_node_t *n, const char *path, size_t min, size_t max);

/* Item i of list s. */
yaml_node_t *dw_yaml_seq_item(dw_yaml_ctx *c, yaml_node_t *s, size_t i);

/* A character of an environment variable name: letter, digit or '_'. */
bool dw_yaml_var_char(char ch);

/* The interpolated text of scalar node n; the caller frees *out. */
int dw_yaml_scalar_text(dw_yaml_ctx *c, yaml_node_t *n, const char *path, char **out);

/* Validators shared by schemas: not empty; anything; no whitespace; an
 * http(s) URL; an HTTP header name; a header value without line breaks. */
const char *dw_yaml_v_nonempty(const char *s);

const char *dw_yaml_v_any(const char *s);

const char *dw_yaml_v_no_space(const char *s);

const char *dw_yaml_v_url(const char *s);

const char *dw_yaml_v_header_name(const char *s);

const char *dw_yaml_v_header_value(const char *s);

/* The scalar v checked by check (NULL: not empty); the caller frees *out. */
int dw_yaml_conv_string(dw_yaml_ctx *c, yaml_node_t *v, const char *path, dw_yaml_validator check,
                        char **out);

/* The "missing required key" error for key of map at parent. */
int dw_yaml_missing(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, const char *key);

/* String at map[key]. Absent, null, or (for optional keys) empty after
 * interpolation ("${VAR:-}") gives a copy of def (or NULL); required keys
 * must be present and non-empty. */
int dw_yaml_get_string(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, const char *key,
                       bool req, const char *def, dw_yaml_validator check, char **out);

/* An integer in lo..hi; def when absent. */
int dw_yaml_get_int(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, const char *key,
                    int64_t def, int64_t lo, int64_t hi, int64_t *out);

/* Range: lo < x (lo_open) or lo <= x; x < hi (hi_open) or x <= hi; hi may be
 * INFINITY. */
int dw_yaml_get_double(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, const char *key,
                       double def, double lo, bool lo_open, double hi, bool hi_open, double *out,
                       yaml_node_t **where);

/* true/True/TRUE or false/False/FALSE. */
int dw_yaml_parse_bool(dw_yaml_ctx *c, yaml_node_t *v, const char *p, bool *out);

int dw_yaml_get_bool(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, const char *key,
                     bool def, bool *out);

/* Parses duration text s of node v (lo..hi ms) into *out. */
int dw_yaml_check_duration(dw_yaml_ctx *c, yaml_node_t *v, const char *p, const char *s, int64_t lo,
                           int64_t hi, int64_t *out);

/* A duration in lo..hi ms; def when absent; *where (may be NULL) the node. */
int dw_yaml_get_duration(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, const char *key,
                         int64_t def, int64_t lo, int64_t hi, int64_t *out, yaml_node_t **where);

/* The index of scalar v in names[0..n), or an error listing them. */
int dw_yaml_enum_value(dw_yaml_ctx *c, yaml_node_t *v, const char *p, const char *const *names,
                       size_t n, int *out);

int dw_yaml_get_enum(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, const char *key,
                     const char *const *names, size_t n, int def, int *out);

/* Free what dw_yaml_get_strv() / dw_yaml_get_kv() returned. */
void dw_yaml_free_strv(char **v, size_t n);

/* A list of strings. Absent: a copy of defs[0..ndefs) (req: an error). */
int dw_yaml_get_strv(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, const char *key,
                     bool req, const char *const *defs, size_t ndefs, size_t min, size_t max,
                     dw_yaml_validator check, char ***out, size_t *nout);

void dw_yaml_free_kv(dw_kv *kv, size_t n);

/* A map of string keys to scalar values (stringified), values may be empty. */
int dw_yaml_get_kv(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, const char *key,
                   size_t max, dw_yaml_validator check_key, dw_yaml_validator check_value,
                   dw_kv **out, size_t *nout);

/* A section (mapping) by key: NULL when absent or null. */
int dw_yaml_get_section(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, const char *key,
                        const char *const *allowed, size_t nallowed, yaml_node_t **out);

/* p against basedir unless absolute (or basedir NULL/"."); caller frees. */
char *dw_yaml_resolve_path(const char *basedir, const char *p);

#endif

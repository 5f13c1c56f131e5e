/* The generic YAML schema walker (config_yaml_int.h): node access, typed
 * getters with one-sentence errors, ${VAR} interpolation and "did you
 * mean" hints. src/config.c walks the driftwatch schema with it. */
#include "config_yaml_int.h"

#include "driftwatch/duration.h"
#include "driftwatch/dynbuf.h"
#include "driftwatch/error.h"
#include "driftwatch/number.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- errors */

int dw_yaml_line_of(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.line + 1 : 1;
}

int dw_yaml_fail(dw_yaml_ctx *c, const yaml_node_t *n, int err, const char *fmt, ...)
{
    char msg[DW_YAML_MSGLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dw_seterr(c->errbuf, c->errlen, err, "%s:%d: %s", c->name, dw_yaml_line_of(n), msg);
}

const char *dw_yaml_kind_name(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

static size_t min_sz(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* Edit distance for "did you mean", counting a swap of two neighbours as one
 * edit (optimal string alignment: "pis" is one edit from "psi"). Keys are
 * short; longer strings are not compared (a large distance is returned). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    size_t d[64][64];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t v = min_sz(d[i - 1][j - 1] + (a[i - 1] != b[j - 1]),
                              min_sz(d[i - 1][j] + 1, d[i][j - 1] + 1));
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                v = min_sz(v, d[i - 2][j - 2] + 1);
            d[i][j] = v;
        }
    }
    return d[la][lb];
}

/* The closest of names[0..n) to s, or NULL when none is close. */
static const char *closest(const char *s, const char *const *names, size_t n)
{
    const char *best = NULL;
    size_t bestd = 3; /* at most two edits, and fewer than half the word */
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(s, names[i]);
        if (d < bestd && d * 2 < strlen(names[i]) + 1) {
            best = names[i];
            bestd = d;
        }
    }
    return best;
}

/* Writes ` (did you mean "x"?)` or "" into buf. */
const char *dw_yaml_hint(char *buf, size_t len, const char *s, const char *const *names, size_t n)
{
    const char *m = closest(s, names, n);
    if (m)
        snprintf(buf, len, " (did you mean \"%s\"?)", m);
    else
        buf[0] = '\0';
    return buf;
}

/* Marks a truncated path with "..." (paths are only used in messages). */
static const char *mark_truncated(char *buf, int w)
{
    if (w < 0 || w >= DW_YAML_PATHLEN)
        memcpy(buf + DW_YAML_PATHLEN - 4, "...", 4);
    return buf;
}

const char *dw_yaml_join_path(char *buf, const char *parent, const char *key)
{
    if (parent && *parent)
        return mark_truncated(buf, snprintf(buf, DW_YAML_PATHLEN, "%s.%s", parent, key));
    return mark_truncated(buf, snprintf(buf, DW_YAML_PATHLEN, "%s", key));
}

const char *dw_yaml_index_path(char *buf, const char *parent, size_t i)
{
    return mark_truncated(buf, snprintf(buf, DW_YAML_PATHLEN, "%s[%zu]", parent, i));
}

/* ----------------------------------------------------------------- nodes */

yaml_node_t *dw_yaml_node_at(dw_yaml_ctx *c, int id)
{
    return yaml_document_get_node(c->doc, id);
}

int dw_yaml_budget(dw_yaml_ctx *c, const yaml_node_t *n, size_t k)
{
    c->visits += k;
    if (c->visits > DW_CONFIG_MAX_NODES)
        return dw_yaml_fail(c, n, DW_ERR_LIMIT,
                            "the configuration has more than %d YAML nodes (aliases expanded)",
                            DW_CONFIG_MAX_NODES);
    return 0;
}

/* A plain "null", "~" or nothing at all: treated as if the key were absent. */
bool dw_yaml_is_null(const yaml_node_t *n)
{
    if (!n)
        return true;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return n->data.scalar.length == 0 || !strcmp(v, "~") || !strcmp(v, "null") ||
           !strcmp(v, "Null") || !strcmp(v, "NULL");
}

size_t dw_yaml_map_size(const yaml_node_t *m)
{
    return (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
}

size_t dw_yaml_seq_size(const yaml_node_t *s)
{
    return (size_t)(s->data.sequence.items.top - s->data.sequence.items.start);
}

const char *dw_yaml_key_text(dw_yaml_ctx *c, const yaml_node_pair_t *p, yaml_node_t **keynode)
{
    yaml_node_t *k = dw_yaml_node_at(c, p->key);
    if (keynode)
        *keynode = k;
    return k && k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : NULL;
}

/* Checks that n is of type (what names it: "a mapping", "a list") and
 * charges its *count entries to the node budget. */
static int check_kind(dw_yaml_ctx *c, yaml_node_t *n, yaml_node_type_t type, const char *what,
                      const char *path, size_t *count)
{
    if (n->type != type)
        return dw_yaml_fail(c, n, DW_ERR_INVALID, "%s: expected %s, got %s", path, what,
                            dw_yaml_kind_name(n));
    *count = type == YAML_MAPPING_NODE ? dw_yaml_map_size(n) : dw_yaml_seq_size(n);
    return dw_yaml_budget(c, n, *count);
}

/* Checks that n is a mapping of at most max entries (0: no bound beyond the
 * node budget) with string keys, no duplicates and, when allowed is not
 * NULL, only keys from allowed[0..nallowed). */
int dw_yaml_check_map(dw_yaml_ctx *c, yaml_node_t *n, const char *path, const char *const *allowed,
                      size_t nallowed, size_t max)
{
    size_t count = 0;
    int rc = check_kind(c, n, YAML_MAPPING_NODE, "a mapping", path, &count);
    if (rc)
        return rc;
    if (max && count > max)
        return dw_yaml_fail(c, n, DW_ERR_LIMIT, "%s: more than %zu entries", path, max);
    yaml_node_pair_t *pairs = n->data.mapping.pairs.start;
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *k;
        const char *key = dw_yaml_key_text(c, &pairs[i], &k);
        if (!key)
            return dw_yaml_fail(c, k ? k : n, DW_ERR_INVALID, "%s: keys must be strings", path);
        if (strlen(key) != k->data.scalar.length)
            return dw_yaml_fail(c, k, DW_ERR_INVALID, "%s: a key contains a NUL character", path);
        for (size_t j = 0; j < i; j++) {
            yaml_node_t *k2;
            const char *key2 = dw_yaml_key_text(c, &pairs[j], &k2);
            if (key2 && !strcmp(key, key2))
                return dw_yaml_fail(c, k, DW_ERR_INVALID,
                                    "%s%sduplicate key \"%s\" (first at line %d)", path,
                                    *path ? ": " : "", key, dw_yaml_line_of(k2));
        }
        if (!allowed)
            continue;
        bool known = false;
        for (size_t j = 0; j < nallowed && !known; j++)
            known = !strcmp(key, allowed[j]);
        if (!known) {
            char h[128];
            dw_yaml_hint(h, sizeof h, key, allowed, nallowed);
            if (*path)
                return dw_yaml_fail(c, k, DW_ERR_INVALID, "%s: unknown key \"%s\"%s", path, key, h);
            return dw_yaml_fail(c, k, DW_ERR_INVALID, "unknown top-level key \"%s\"%s", key, h);
        }
    }
    return 0;
}

yaml_node_t *dw_yaml_map_get(dw_yaml_ctx *c, yaml_node_t *m, const char *key)
{
    if (!m || m->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        const char *k = dw_yaml_key_text(c, p, NULL);
        if (k && !strcmp(k, key))
            return dw_yaml_node_at(c, p->value);
    }
    return NULL;
}

int dw_yaml_check_seq(dw_yaml_ctx *c, yaml_node_t *n, const char *path, size_t min, size_t max)
{
    size_t count = 0;
    int rc = check_kind(c, n, YAML_SEQUENCE_NODE, "a list", path, &count);
    if (rc)
        return rc;
    if (count < min)
        return dw_yaml_fail(c, n, DW_ERR_INVALID, "%s: needs at least %zu entr%s", path, min,
                            min == 1 ? "y" : "ies");
    if (count > max)
        return dw_yaml_fail(c, n, DW_ERR_LIMIT, "%s: more than %zu entries", path, max);
    return 0;
}

yaml_node_t *dw_yaml_seq_item(dw_yaml_ctx *c, yaml_node_t *s, size_t i)
{
    return dw_yaml_node_at(c, s->data.sequence.items.start[i]);
}

/* --------------------------------------------------------- interpolation */

static bool var_start(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_';
}

bool dw_yaml_var_char(char ch)
{
    return var_start(ch) || (ch >= '0' && ch <= '9');
}

/* Expands ${VAR}, ${VAR:-default} and $$ in s[0..len); a '$' followed by
 * anything else is kept. ":-" uses the default when VAR is unset or empty,
 * as in the shell. Result bounded by DW_CONFIG_MAX_SCALAR. */
static int interpolate(dw_yaml_ctx *c, yaml_node_t *n, const char *path, const char *s, size_t len,
                       char **out)
{
    dw_dynbuf b;
    dw_dynbuf_init(&b, DW_CONFIG_MAX_SCALAR);
    size_t i = 0;
    while (i < len) {
        if (s[i] != '$' || i + 1 >= len || (s[i + 1] != '$' && s[i + 1] != '{')) {
            dw_dynbuf_add(&b, s + i, 1);
            i++;
        } else if (s[i + 1] == '$') {
            dw_dynbuf_add(&b, "$", 1);
            i += 2;
        } else {
            const char *open = s + i + 2;
            const char *close = memchr(open, '}', len - (i + 2));
            if (!close) {
                dw_dynbuf_free(&b);
                return dw_yaml_fail(c, n, DW_ERR_INVALID,
                                    "%s: unterminated \"${\" (write $$ for a literal dollar)",
                                    path);
            }
            size_t nl = 0;
            while (open + nl < close && dw_yaml_var_char(open[nl]))
                nl++;
            bool has_default = open + nl + 1 < close && open[nl] == ':' && open[nl + 1] == '-';
            if (nl == 0 || !var_start(open[0]) || nl > 255 ||
                (open + nl != close && !has_default)) {
                int len2 = (int)min_sz((size_t)(close - open), 64);
                dw_dynbuf_free(&b);
                return dw_yaml_fail(c, n, DW_ERR_INVALID,
                                    "%s: \"${%.*s}\" is not a variable reference (use ${NAME} or "
                                    "${NAME:-default}; $$ for a literal dollar)",
                                    path, len2, open);
            }
            char *var = dw_strndup(open, nl);
            const char *val = getenv(var);
            if (has_default && (!val || !*val)) {
                dw_dynbuf_add(&b, open + nl + 2, (size_t)(close - (open + nl + 2)));
            } else if (!val) {
                int rc =
                    dw_yaml_fail(c, n, DW_ERR_NOT_FOUND,
                                 "%s: environment variable \"%s\" is not set (use ${%s:-default} "
                                 "for a default)",
                                 path, var, var);
                free(var);
                dw_dynbuf_free(&b);
                return rc;
            } else {
                dw_dynbuf_addstr(&b, val);
            }
            free(var);
            i = (size_t)(close - s) + 1;
        }
        if (b.cut) {
            dw_dynbuf_free(&b);
            return dw_yaml_fail(c, n, DW_ERR_LIMIT, "%s: value longer than %d bytes", path,
                                DW_CONFIG_MAX_SCALAR);
        }
    }
    *out = dw_dynbuf_take(&b);
    return 0;
}

/* The interpolated text of scalar node n; the caller frees *out. */
int dw_yaml_scalar_text(dw_yaml_ctx *c, yaml_node_t *n, const char *path, char **out)
{
    if (n->type != YAML_SCALAR_NODE)
        return dw_yaml_fail(c, n, DW_ERR_INVALID, "%s: expected a single value, got %s", path,
                            dw_yaml_kind_name(n));
    int rc = dw_yaml_budget(c, n, 1);
    if (rc)
        return rc;
    const char *v = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    if (memchr(v, '\0', len))
        return dw_yaml_fail(c, n, DW_ERR_INVALID, "%s: value contains a NUL character", path);
    return interpolate(c, n, path, v, len, out);
}

/* ------------------------------------------------------------ validators */

const char *dw_yaml_v_nonempty(const char *s)
{
    return *s ? NULL : "must not be empty";
}

const char *dw_yaml_v_any(const char *s)
{
    (void)s;
    return NULL;
}

const char *dw_yaml_v_no_space(const char *s)
{
    if (!*s)
        return "must not be empty";
    for (; *s; s++)
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
            return "must not contain whitespace";
    return NULL;
}

const char *dw_yaml_v_url(const char *s)
{
    if (strncmp(s, "http://", 7) && strncmp(s, "https://", 8))
        return "must start with http:// or https://";
    const char *r = dw_yaml_v_no_space(s);
    if (r)
        return r;
    if (!s[strncmp(s, "https://", 8) ? 7 : 8])
        return "has no host";
    return NULL;
}

const char *dw_yaml_v_header_name(const char *s)
{
    if (!*s)
        return "must not be empty";
    for (; *s; s++)
        if (*s <= ' ' || *s == ':' || *s == 127)
            return "is not a valid HTTP header name";
    return NULL;
}

const char *dw_yaml_v_header_value(const char *s)
{
    /* CR/LF would let a value inject further headers. */
    return strpbrk(s, "\r\n") ? "must not contain a line break" : NULL;
}

/* ------------------------------------------------------- typed getters */

int dw_yaml_conv_string(dw_yaml_ctx *c, yaml_node_t *v, const char *path, dw_yaml_validator check,
                        char **out)
{
    char *s;
    int rc = dw_yaml_scalar_text(c, v, path, &s);
    if (rc)
        return rc;
    const char *why = (check ? check : dw_yaml_v_nonempty)(s);
    if (why) {
        if (*s)
            rc = dw_yaml_fail(c, v, DW_ERR_INVALID, "%s: \"%.80s\" %s", path, s, why);
        else
            rc = dw_yaml_fail(c, v, DW_ERR_INVALID, "%s: %s", path, why);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int dw_yaml_missing(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, const char *key)
{
    if (parent && *parent)
        return dw_yaml_fail(c, map, DW_ERR_INVALID, "%s: missing required key \"%s\"", parent, key);
    return dw_yaml_fail(c, map, DW_ERR_INVALID, "missing required key \"%s\"", key);
}

/* String at map[key]. Absent, null, or (for optional keys) empty after
 * interpolation ("${VAR:-}") gives a copy of def (or NULL); required keys
 * must be present and non-empty. */
int dw_yaml_get_string(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, const char *key,
                       bool req, const char *def, dw_yaml_validator check, char **out)
{
    char p[DW_YAML_PATHLEN];
    dw_yaml_join_path(p, parent, key);
    yaml_node_t *v = dw_yaml_map_get(c, map, key);
    char *s = NULL;
    if (!dw_yaml_is_null(v)) {
        int rc = dw_yaml_scalar_text(c, v, p, &s);
        if (rc)
            return rc;
    }
    if (!s || (!*s && !req)) {
        free(s);
        if (req)
            return v ? dw_yaml_fail(c, v, DW_ERR_INVALID, "%s: must not be empty", p)
                     : dw_yaml_missing(c, map, parent, key);
        free(*out);
        *out = def ? dw_strdup(def) : NULL;
        return 0;
    }
    const char *why = (check ? check : dw_yaml_v_nonempty)(s);
    if (why) {
        int rc = *s ? dw_yaml_fail(c, v, DW_ERR_INVALID, "%s: \"%.80s\" %s", p, s, why)
                    : dw_yaml_fail(c, v, DW_ERR_INVALID, "%s: %s", p, why);
        free(s);
        return rc;
    }
    free(*out);
    *out = s;
    return 0;
}

/* The text of map[key] with its path in p and node in *v (and in *where,
 * when not NULL, or NULL for an absent key): 1 when the key is absent or
 * null (the caller uses its default), 0 with *s to free, or a negative
 * dw_err. */
static int value_at(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, const char *key, char *p,
                    yaml_node_t **v, char **s, yaml_node_t **where)
{
    dw_yaml_join_path(p, parent, key);
    *v = dw_yaml_map_get(c, map, key);
    bool absent = dw_yaml_is_null(*v);
    if (where)
        *where = absent ? NULL : *v;
    if (absent)
        return 1;
    return dw_yaml_scalar_text(c, *v, p, s);
}

/* The range of a number read by get_number(). */
typedef struct num_range {
    bool integer; /* int64 in ilo..ihi, else double in lo..hi */
    int64_t ilo, ihi;
    double lo, hi; /* hi may be INFINITY */
    bool lo_open, hi_open;
} num_range;

/* map[key] parsed per r into out (int64_t or double); 1 when absent (out
 * untouched), 0, or a negative dw_err. */
static int get_number(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, const char *key,
                      const num_range *r, void *out, yaml_node_t **where)
{
    char p[DW_YAML_PATHLEN], *s, why[160];
    yaml_node_t *v;
    int rc = value_at(c, map, parent, key, p, &v, &s, where);
    if (rc)
        return rc;
    const char *bad = r->integer ? dw_number_parse_int(s, r->ilo, r->ihi, out, why, sizeof why)
                                 : dw_number_parse_double(s, r->lo, r->lo_open, r->hi, r->hi_open,
                                                          out, why, sizeof why);
    if (bad)
        rc = dw_yaml_fail(c, v, DW_ERR_INVALID, "%s: %s", p, bad);
    free(s);
    return rc;
}

int dw_yaml_get_int(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, const char *key,
                    int64_t def, int64_t lo, int64_t hi, int64_t *out)
{
    num_range r = {.integer = true, .ilo = lo, .ihi = hi};
    int rc = get_number(c, map, parent, key, &r, out, NULL);
    if (rc > 0)
        *out = def;
    return rc > 0 ? 0 : rc;
}

/* Range: lo < x (lo_open) or lo <= x; x < hi (hi_open) or x <= hi; hi may be
 * INFINITY. */
int dw_yaml_get_double(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, const char *key,
                       double def, double lo, bool lo_open, double hi, bool hi_open, double *out,
                       yaml_node_t **where)
{
    num_range r = {.lo = lo, .hi = hi, .lo_open = lo_open, .hi_open = hi_open};
    int rc = get_number(c, map, parent, key, &r, out, where);
    if (rc > 0)
        *out = def;
    return rc > 0 ? 0 : rc;
}

int dw_yaml_parse_bool(dw_yaml_ctx *c, yaml_node_t *v, const char *p, bool *out)
{
    char *s;
    int rc = dw_yaml_scalar_text(c, v, p, &s);
    if (rc)
        return rc;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        *out = true;
    else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        *out = false;
    else
        rc = dw_yaml_fail(c, v, DW_ERR_INVALID,
                          "%s: \"%.80s\" is not a boolean (use true or false)", p, s);
    free(s);
    return rc;
}

int dw_yaml_get_bool(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, const char *key,
                     bool def, bool *out)
{
    char p[DW_YAML_PATHLEN];
    dw_yaml_join_path(p, parent, key);
    yaml_node_t *v = dw_yaml_map_get(c, map, key);
    if (dw_yaml_is_null(v)) {
        *out = def;
        return 0;
    }
    return dw_yaml_parse_bool(c, v, p, out);
}

int dw_yaml_check_duration(dw_yaml_ctx *c, yaml_node_t *v, const char *p, const char *s, int64_t lo,
                           int64_t hi, int64_t *out)
{
    int64_t ms;
    if (dw_duration_parse(s, &ms))
        return dw_yaml_fail(c, v, DW_ERR_INVALID,
                            "%s: \"%.80s\" is not a duration (use 30s, 5m, 1h, 1h30m)", p, s);
    if (ms < lo || ms > hi) {
        char a[48], b[48];
        return dw_yaml_fail(c, v, DW_ERR_INVALID, "%s: %s is out of range (%s to %s)", p, s,
                            dw_duration_format(lo, a, sizeof a),
                            dw_duration_format(hi, b, sizeof b));
    }
    *out = ms;
    return 0;
}

int dw_yaml_get_duration(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, const char *key,
                         int64_t def, int64_t lo, int64_t hi, int64_t *out, yaml_node_t **where)
{
    char p[DW_YAML_PATHLEN], *s;
    yaml_node_t *v;
    int rc = value_at(c, map, parent, key, p, &v, &s, where);
    if (rc > 0)
        *out = def;
    if (rc)
        return rc > 0 ? 0 : rc;
    rc = dw_yaml_check_duration(c, v, p, s, lo, hi, out);
    free(s);
    return rc;
}

int dw_yaml_enum_value(dw_yaml_ctx *c, yaml_node_t *v, const char *p, const char *const *names,
                       size_t n, int *out)
{
    char *s;
    int rc = dw_yaml_scalar_text(c, v, p, &s);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(s, names[i])) {
            *out = (int)i;
            free(s);
            return 0;
        }
    }
    char h[128];
    dw_dynbuf list;
    dw_dynbuf_init(&list, 255);
    dw_dynbuf_addlist(&list, names, n, ", ", NULL);
    rc = dw_yaml_fail(c, v, DW_ERR_INVALID, "%s: \"%.80s\" is not one of %s%s", p, s,
                      dw_dynbuf_str(&list), dw_yaml_hint(h, sizeof h, s, names, n));
    dw_dynbuf_free(&list);
    free(s);
    return rc;
}

int dw_yaml_get_enum(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, const char *key,
                     const char *const *names, size_t n, int def, int *out)
{
    char p[DW_YAML_PATHLEN];
    dw_yaml_join_path(p, parent, key);
    yaml_node_t *v = dw_yaml_map_get(c, map, key);
    if (dw_yaml_is_null(v)) {
        *out = def;
        return 0;
    }
    return dw_yaml_enum_value(c, v, p, names, n, out);
}

void dw_yaml_free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* A list of strings. Absent: a copy of defs[0..ndefs) (req: an error). */
int dw_yaml_get_strv(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, const char *key,
                     bool req, const char *const *defs, size_t ndefs, size_t min, size_t max,
                     dw_yaml_validator check, char ***out, size_t *nout)
{
    char p[DW_YAML_PATHLEN], ip[DW_YAML_PATHLEN];
    dw_yaml_join_path(p, parent, key);
    yaml_node_t *v = dw_yaml_map_get(c, map, key);
    if (dw_yaml_is_null(v)) {
        if (req)
            return v ? dw_yaml_fail(c, v, DW_ERR_INVALID, "%s: must not be empty", p)
                     : dw_yaml_missing(c, map, parent, key);
        *out = dw_calloc(ndefs, sizeof(char *));
        for (size_t i = 0; i < ndefs; i++)
            (*out)[i] = dw_strdup(defs[i]);
        *nout = ndefs;
        return 0;
    }
    int rc = dw_yaml_check_seq(c, v, p, min, max);
    if (rc)
        return rc;
    size_t n = dw_yaml_seq_size(v);
    char **arr = dw_calloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *it = dw_yaml_seq_item(c, v, i);
        rc = dw_yaml_conv_string(c, it, dw_yaml_index_path(ip, p, i), check, &arr[i]);
        if (rc) {
            dw_yaml_free_strv(arr, n);
            return rc;
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(arr[i], arr[j])) {
                rc =
                    dw_yaml_fail(c, it, DW_ERR_INVALID, "%s: \"%.80s\" is listed twice", p, arr[i]);
                dw_yaml_free_strv(arr, n);
                return rc;
            }
        }
    }
    *out = arr;
    *nout = n;
    return 0;
}

void dw_yaml_free_kv(dw_kv *kv, size_t n)
{
    for (size_t i = 0; kv && i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

/* A map of string keys to scalar values (stringified), values may be empty. */
int dw_yaml_get_kv(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, const char *key,
                   size_t max, dw_yaml_validator check_key, dw_yaml_validator check_value,
                   dw_kv **out, size_t *nout)
{
    char p[DW_YAML_PATHLEN], kp[DW_YAML_PATHLEN];
    dw_yaml_join_path(p, parent, key);
    yaml_node_t *v = dw_yaml_map_get(c, map, key);
    *out = NULL;
    *nout = 0;
    if (dw_yaml_is_null(v))
        return 0;
    int rc = dw_yaml_check_map(c, v, p, NULL, 0, max);
    if (rc)
        return rc;
    size_t n = dw_yaml_map_size(v);
    dw_kv *kv = dw_calloc(n, sizeof *kv);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *kn;
        yaml_node_pair_t *pair = &v->data.mapping.pairs.start[i];
        const char *k = dw_yaml_key_text(c, pair, &kn);
        dw_yaml_join_path(kp, p, k);
        const char *why = check_key ? check_key(k) : NULL;
        if (why) {
            rc = dw_yaml_fail(c, kn, DW_ERR_INVALID, "%s: key \"%.80s\" %s", p, k, why);
            break;
        }
        kv[i].key = dw_strdup(k);
        yaml_node_t *val = dw_yaml_node_at(c, pair->value);
        if (dw_yaml_is_null(val)) {
            kv[i].value = dw_strdup("");
        } else {
            rc = dw_yaml_scalar_text(c, val, kp, &kv[i].value);
            if (rc)
                break;
        }
        why = check_value ? check_value(kv[i].value) : NULL;
        if (why) {
            rc = dw_yaml_fail(c, val, DW_ERR_INVALID, "%s: %s", kp, why);
            break;
        }
    }
    if (rc) {
        dw_yaml_free_kv(kv, n);
        return rc;
    }
    *out = kv;
    *nout = n;
    return 0;
}

/* A section (mapping) by key: NULL when absent or null. */
int dw_yaml_get_section(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, const char *key,
                        const char *const *allowed, size_t nallowed, yaml_node_t **out)
{
    char p[DW_YAML_PATHLEN];
    yaml_node_t *v = dw_yaml_map_get(c, map, key);
    *out = NULL;
    if (dw_yaml_is_null(v))
        return 0;
    int rc = dw_yaml_check_map(c, v, dw_yaml_join_path(p, parent, key), allowed, nallowed, 0);
    if (rc == 0)
        *out = v;
    return rc;
}

char *dw_yaml_resolve_path(const char *basedir, const char *p)
{
    if (p[0] == '/' || !basedir || !*basedir || !strcmp(basedir, "."))
        return dw_strdup(p);
    size_t bl = strlen(basedir);
    while (bl > 1 && basedir[bl - 1] == '/')
        bl--;
    size_t n = bl + 1 + strlen(p) + 1;
    char *r = dw_malloc(n);
    snprintf(r, n, "%.*s/%s", (int)bl, basedir, p);
    return r;
}

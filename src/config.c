/* YAML/JSON configuration: libyaml's document API builds the node tree (with
 * 0-based marks that we report 1-based), and this file walks it against the
 * schema in docs/configuration.md. The walk is by key, not by file order, so
 * sections that others depend on (thresholds before models, models before
 * sinks and retrain) are parsed first. */
#include "driftwatch/config.h"

#include "driftwatch/duration.h"
#include "driftwatch/error.h"
#include "driftwatch/state_dir.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

/* Longest key path in a message ("models[12].columns.features.x.psi"). */
#define PATHLEN 320
/* Longest message body before the "<file>:<line>: " prefix. */
#define MSGLEN 768

typedef struct ctx {
    const char *name;
    const char *basedir;
    yaml_document_t *doc;
    char *errbuf;
    size_t errlen;
    size_t visits; /* bounded by DW_CONFIG_MAX_NODES: aliases can multiply nodes */
    dw_config *cfg;
} ctx;

/* ---------------------------------------------------------------- errors */

static int line_of(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.line + 1 : 1;
}

static int fail(ctx *c, const yaml_node_t *n, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(ctx *c, const yaml_node_t *n, int err, const char *fmt, ...)
{
    char msg[MSGLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dw_seterr(c->errbuf, c->errlen, err, "%s:%d: %s", c->name, line_of(n), msg);
}

static const char *kind_name(const yaml_node_t *n)
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
static const char *hint(char *buf, size_t len, const char *s, const char *const *names, size_t n)
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
    if (w < 0 || w >= PATHLEN)
        memcpy(buf + PATHLEN - 4, "...", 4);
    return buf;
}

static const char *join_path(char *buf, const char *parent, const char *key)
{
    if (parent && *parent)
        return mark_truncated(buf, snprintf(buf, PATHLEN, "%s.%s", parent, key));
    return mark_truncated(buf, snprintf(buf, PATHLEN, "%s", key));
}

static const char *index_path(char *buf, const char *parent, size_t i)
{
    return mark_truncated(buf, snprintf(buf, PATHLEN, "%s[%zu]", parent, i));
}

/* ----------------------------------------------------------------- nodes */

static yaml_node_t *node_at(ctx *c, int id)
{
    return yaml_document_get_node(c->doc, id);
}

static int budget(ctx *c, const yaml_node_t *n, size_t k)
{
    c->visits += k;
    if (c->visits > DW_CONFIG_MAX_NODES)
        return fail(c, n, DW_ERR_LIMIT,
                    "the configuration has more than %d YAML nodes (aliases expanded)",
                    DW_CONFIG_MAX_NODES);
    return 0;
}

/* A plain "null", "~" or nothing at all: treated as if the key were absent. */
static bool is_null(const yaml_node_t *n)
{
    if (!n)
        return true;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return n->data.scalar.length == 0 || !strcmp(v, "~") || !strcmp(v, "null") ||
           !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static size_t map_size(const yaml_node_t *m)
{
    return (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
}

static size_t seq_size(const yaml_node_t *s)
{
    return (size_t)(s->data.sequence.items.top - s->data.sequence.items.start);
}

static const char *key_text(ctx *c, const yaml_node_pair_t *p, yaml_node_t **keynode)
{
    yaml_node_t *k = node_at(c, p->key);
    if (keynode)
        *keynode = k;
    return k && k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : NULL;
}

/* Checks that n is a mapping of at most max entries (0: no bound beyond the
 * node budget) with string keys, no duplicates and, when allowed is not
 * NULL, only keys from allowed[0..nallowed). */
static int check_map(ctx *c, yaml_node_t *n, const char *path, const char *const *allowed,
                     size_t nallowed, size_t max)
{
    if (n->type != YAML_MAPPING_NODE)
        return fail(c, n, DW_ERR_INVALID, "%s: expected a mapping, got %s", path, kind_name(n));
    size_t count = map_size(n);
    int rc = budget(c, n, count);
    if (rc)
        return rc;
    if (max && count > max)
        return fail(c, n, DW_ERR_LIMIT, "%s: more than %zu entries", path, max);
    yaml_node_pair_t *pairs = n->data.mapping.pairs.start;
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *k;
        const char *key = key_text(c, &pairs[i], &k);
        if (!key)
            return fail(c, k ? k : n, DW_ERR_INVALID, "%s: keys must be strings", path);
        if (strlen(key) != k->data.scalar.length)
            return fail(c, k, DW_ERR_INVALID, "%s: a key contains a NUL character", path);
        for (size_t j = 0; j < i; j++) {
            yaml_node_t *k2;
            const char *key2 = key_text(c, &pairs[j], &k2);
            if (key2 && !strcmp(key, key2))
                return fail(c, k, DW_ERR_INVALID, "%s%sduplicate key \"%s\" (first at line %d)",
                            path, *path ? ": " : "", key, line_of(k2));
        }
        if (!allowed)
            continue;
        bool known = false;
        for (size_t j = 0; j < nallowed && !known; j++)
            known = !strcmp(key, allowed[j]);
        if (!known) {
            char h[128];
            hint(h, sizeof h, key, allowed, nallowed);
            if (*path)
                return fail(c, k, DW_ERR_INVALID, "%s: unknown key \"%s\"%s", path, key, h);
            return fail(c, k, DW_ERR_INVALID, "unknown top-level key \"%s\"%s", key, h);
        }
    }
    return 0;
}

#define CHECK_MAP(c, n, path, keys, max)                                                           \
    check_map((c), (n), (path), (keys), sizeof(keys) / sizeof((keys)[0]), (max))

static yaml_node_t *map_get(ctx *c, yaml_node_t *m, const char *key)
{
    if (!m || m->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        const char *k = key_text(c, p, NULL);
        if (k && !strcmp(k, key))
            return node_at(c, p->value);
    }
    return NULL;
}

static int check_seq(ctx *c, yaml_node_t *n, const char *path, size_t min, size_t max)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(c, n, DW_ERR_INVALID, "%s: expected a list, got %s", path, kind_name(n));
    size_t count = seq_size(n);
    int rc = budget(c, n, count);
    if (rc)
        return rc;
    if (count < min)
        return fail(c, n, DW_ERR_INVALID, "%s: needs at least %zu entr%s", path, min,
                    min == 1 ? "y" : "ies");
    if (count > max)
        return fail(c, n, DW_ERR_LIMIT, "%s: more than %zu entries", path, max);
    return 0;
}

static yaml_node_t *seq_item(ctx *c, yaml_node_t *s, size_t i)
{
    return node_at(c, s->data.sequence.items.start[i]);
}

/* --------------------------------------------------------- interpolation */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = dw_realloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static bool var_start(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_';
}

static bool var_char(char ch)
{
    return var_start(ch) || (ch >= '0' && ch <= '9');
}

/* Expands ${VAR}, ${VAR:-default} and $$ in s[0..len); a '$' followed by
 * anything else is kept. ":-" uses the default when VAR is unset or empty,
 * as in the shell. Result bounded by DW_CONFIG_MAX_SCALAR. */
static int interpolate(ctx *c, yaml_node_t *n, const char *path, const char *s, size_t len,
                       char **out)
{
    sbuf b = {0};
    sb_add(&b, "", 0);
    size_t i = 0;
    while (i < len) {
        if (s[i] != '$' || i + 1 >= len || (s[i + 1] != '$' && s[i + 1] != '{')) {
            sb_add(&b, s + i, 1);
            i++;
        } else if (s[i + 1] == '$') {
            sb_add(&b, "$", 1);
            i += 2;
        } else {
            const char *open = s + i + 2;
            const char *close = memchr(open, '}', len - (i + 2));
            if (!close) {
                free(b.p);
                return fail(c, n, DW_ERR_INVALID,
                            "%s: unterminated \"${\" (write $$ for a literal dollar)", path);
            }
            size_t nl = 0;
            while (open + nl < close && var_char(open[nl]))
                nl++;
            bool has_default = open + nl + 1 < close && open[nl] == ':' && open[nl + 1] == '-';
            if (nl == 0 || !var_start(open[0]) || nl > 255 ||
                (open + nl != close && !has_default)) {
                int len2 = (int)min_sz((size_t)(close - open), 64);
                free(b.p);
                return fail(c, n, DW_ERR_INVALID,
                            "%s: \"${%.*s}\" is not a variable reference (use ${NAME} or "
                            "${NAME:-default}; $$ for a literal dollar)",
                            path, len2, open);
            }
            char *var = dw_strndup(open, nl);
            const char *val = getenv(var);
            if (has_default && (!val || !*val)) {
                sb_add(&b, open + nl + 2, (size_t)(close - (open + nl + 2)));
            } else if (!val) {
                int rc = fail(c, n, DW_ERR_NOT_FOUND,
                              "%s: environment variable \"%s\" is not set (use ${%s:-default} "
                              "for a default)",
                              path, var, var);
                free(var);
                free(b.p);
                return rc;
            } else {
                sb_add(&b, val, strlen(val));
            }
            free(var);
            i = (size_t)(close - s) + 1;
        }
        if (b.len > DW_CONFIG_MAX_SCALAR) {
            free(b.p);
            return fail(c, n, DW_ERR_LIMIT, "%s: value longer than %d bytes", path,
                        DW_CONFIG_MAX_SCALAR);
        }
    }
    *out = b.p;
    return 0;
}

/* The interpolated text of scalar node n; the caller frees *out. */
static int scalar_text(ctx *c, yaml_node_t *n, const char *path, char **out)
{
    if (n->type != YAML_SCALAR_NODE)
        return fail(c, n, DW_ERR_INVALID, "%s: expected a single value, got %s", path,
                    kind_name(n));
    int rc = budget(c, n, 1);
    if (rc)
        return rc;
    const char *v = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    if (memchr(v, '\0', len))
        return fail(c, n, DW_ERR_INVALID, "%s: value contains a NUL character", path);
    return interpolate(c, n, path, v, len, out);
}

/* ------------------------------------------------------------ validators */

/* Each returns NULL when s is acceptable, else the reason. */
typedef const char *(*validator)(const char *s);

static const char *v_nonempty(const char *s)
{
    return *s ? NULL : "must not be empty";
}

static const char *v_any(const char *s)
{
    (void)s;
    return NULL;
}

static const char *v_no_space(const char *s)
{
    if (!*s)
        return "must not be empty";
    for (; *s; s++)
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
            return "must not contain whitespace";
    return NULL;
}

/* Window, sink and retrain names appear in metric labels and URLs. */
static const char *v_name(const char *s)
{
    if (!*s)
        return "must not be empty";
    if (strlen(s) > DW_CONFIG_MAX_NAME)
        return "is longer than 64 characters";
    for (; *s; s++) {
        char ch = *s;
        if (!var_char(ch) && ch != '-' && ch != '.')
            return "may contain only letters, digits, '_', '-' and '.'";
    }
    return NULL;
}

static const char *v_model_name(const char *s)
{
    if (!*s)
        return "must not be empty";
    if (strlen(s) >= 256)
        return "is longer than 255 bytes";
    return NULL;
}

/* Kafka's own rule for topic names. */
static const char *v_topic(const char *s)
{
    if (!*s)
        return "must not be empty";
    if (strlen(s) > 249)
        return "is longer than 249 characters (Kafka's limit)";
    if (!strcmp(s, ".") || !strcmp(s, ".."))
        return "is not a valid Kafka topic name";
    for (; *s; s++)
        if (!var_char(*s) && *s != '-' && *s != '.')
            return "may contain only letters, digits, '.', '_' and '-' (Kafka's rule)";
    return NULL;
}

static const char *v_dotted(const char *s)
{
    if (!*s)
        return "must not be empty";
    if (strlen(s) > 255)
        return "is longer than 255 bytes";
    if (s[0] == '.' || s[strlen(s) - 1] == '.' || strstr(s, ".."))
        return "is not a dotted path (like \"features\" or \"meta.ts\")";
    return NULL;
}

static const char *v_url(const char *s)
{
    if (strncmp(s, "http://", 7) && strncmp(s, "https://", 8))
        return "must start with http:// or https://";
    const char *r = v_no_space(s);
    if (r)
        return r;
    if (!s[strncmp(s, "https://", 8) ? 7 : 8])
        return "has no host";
    return NULL;
}

static const char *v_header_name(const char *s)
{
    if (!*s)
        return "must not be empty";
    for (; *s; s++)
        if (*s <= ' ' || *s == ':' || *s == 127)
            return "is not a valid HTTP header name";
    return NULL;
}

static const char *v_header_value(const char *s)
{
    /* CR/LF would let a value inject further headers. */
    return strpbrk(s, "\r\n") ? "must not contain a line break" : NULL;
}

static const char *v_property(const char *key)
{
    static const struct {
        const char *prop, *use;
    } reserved[] = {
        {"bootstrap.servers", "kafka.brokers"},
        {"metadata.broker.list", "kafka.brokers"},
        {"group.id", "kafka.group_id"},
        {"auto.offset.reset", "kafka.auto_offset_reset"},
    };
    static char msg[96];
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        if (!strcmp(key, reserved[i].prop)) {
            snprintf(msg, sizeof msg, "is set by driftwatch (use %s)", reserved[i].use);
            return msg;
        }
    }
    return *key ? NULL : "must not be empty";
}

/* ------------------------------------------------------- typed getters */

static int conv_string(ctx *c, yaml_node_t *v, const char *path, validator check, char **out)
{
    char *s;
    int rc = scalar_text(c, v, path, &s);
    if (rc)
        return rc;
    const char *why = (check ? check : v_nonempty)(s);
    if (why) {
        if (*s)
            rc = fail(c, v, DW_ERR_INVALID, "%s: \"%.80s\" %s", path, s, why);
        else
            rc = fail(c, v, DW_ERR_INVALID, "%s: %s", path, why);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

static int missing(ctx *c, yaml_node_t *map, const char *parent, const char *key)
{
    if (parent && *parent)
        return fail(c, map, DW_ERR_INVALID, "%s: missing required key \"%s\"", parent, key);
    return fail(c, map, DW_ERR_INVALID, "missing required key \"%s\"", key);
}

/* String at map[key]. Absent, null, or (for optional keys) empty after
 * interpolation ("${VAR:-}") gives a copy of def (or NULL); required keys
 * must be present and non-empty. */
static int get_string(ctx *c, yaml_node_t *map, const char *parent, const char *key, bool req,
                      const char *def, validator check, char **out)
{
    char p[PATHLEN];
    join_path(p, parent, key);
    yaml_node_t *v = map_get(c, map, key);
    char *s = NULL;
    if (!is_null(v)) {
        int rc = scalar_text(c, v, p, &s);
        if (rc)
            return rc;
    }
    if (!s || (!*s && !req)) {
        free(s);
        if (req)
            return v ? fail(c, v, DW_ERR_INVALID, "%s: must not be empty", p)
                     : missing(c, map, parent, key);
        free(*out);
        *out = def ? dw_strdup(def) : NULL;
        return 0;
    }
    const char *why = (check ? check : v_nonempty)(s);
    if (why) {
        int rc = *s ? fail(c, v, DW_ERR_INVALID, "%s: \"%.80s\" %s", p, s, why)
                    : fail(c, v, DW_ERR_INVALID, "%s: %s", p, why);
        free(s);
        return rc;
    }
    free(*out);
    *out = s;
    return 0;
}

static int get_int(ctx *c, yaml_node_t *map, const char *parent, const char *key, int64_t def,
                   int64_t lo, int64_t hi, int64_t *out)
{
    char p[PATHLEN];
    join_path(p, parent, key);
    yaml_node_t *v = map_get(c, map, key);
    if (is_null(v)) {
        *out = def;
        return 0;
    }
    char *s;
    int rc = scalar_text(c, v, p, &s);
    if (rc)
        return rc;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (!*s || *end || errno)
        rc = fail(c, v, DW_ERR_INVALID, "%s: \"%.80s\" is not an integer", p, s);
    else if (x < lo || x > hi)
        rc = fail(c, v, DW_ERR_INVALID, "%s: %lld is out of range (%lld to %lld)", p, x,
                  (long long)lo, (long long)hi);
    else
        *out = x;
    free(s);
    return rc;
}

/* Range: lo < x (lo_open) or lo <= x; x < hi (hi_open) or x <= hi; hi may be
 * INFINITY. */
static int get_double(ctx *c, yaml_node_t *map, const char *parent, const char *key, double def,
                      double lo, bool lo_open, double hi, bool hi_open, double *out,
                      yaml_node_t **where)
{
    char p[PATHLEN];
    join_path(p, parent, key);
    yaml_node_t *v = map_get(c, map, key);
    if (where)
        *where = is_null(v) ? NULL : v;
    if (is_null(v)) {
        *out = def;
        return 0;
    }
    char *s;
    int rc = scalar_text(c, v, p, &s);
    if (rc)
        return rc;
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(x)) {
        rc = fail(c, v, DW_ERR_INVALID, "%s: \"%.80s\" is not a number", p, s);
    } else if ((lo_open ? x <= lo : x < lo) || (hi_open ? x >= hi : x > hi)) {
        if (isinf(hi))
            rc = fail(c, v, DW_ERR_INVALID, "%s: %g is out of range (must be %s %g)", p, x,
                      lo_open ? ">" : ">=", lo);
        else
            rc = fail(c, v, DW_ERR_INVALID, "%s: %g is out of range (must be %s %g and %s %g)", p,
                      x, lo_open ? ">" : ">=", lo, hi_open ? "<" : "<=", hi);
    } else {
        *out = x;
    }
    free(s);
    return rc;
}

static int parse_bool(ctx *c, yaml_node_t *v, const char *p, bool *out)
{
    char *s;
    int rc = scalar_text(c, v, p, &s);
    if (rc)
        return rc;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        *out = true;
    else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        *out = false;
    else
        rc = fail(c, v, DW_ERR_INVALID, "%s: \"%.80s\" is not a boolean (use true or false)", p, s);
    free(s);
    return rc;
}

static int get_bool(ctx *c, yaml_node_t *map, const char *parent, const char *key, bool def,
                    bool *out)
{
    char p[PATHLEN];
    join_path(p, parent, key);
    yaml_node_t *v = map_get(c, map, key);
    if (is_null(v)) {
        *out = def;
        return 0;
    }
    return parse_bool(c, v, p, out);
}

static int check_duration(ctx *c, yaml_node_t *v, const char *p, const char *s, int64_t lo,
                          int64_t hi, int64_t *out)
{
    int64_t ms;
    if (dw_duration_parse(s, &ms))
        return fail(c, v, DW_ERR_INVALID,
                    "%s: \"%.80s\" is not a duration (use 30s, 5m, 1h, 1h30m)", p, s);
    if (ms < lo || ms > hi) {
        char a[48], b[48];
        return fail(c, v, DW_ERR_INVALID, "%s: %s is out of range (%s to %s)", p, s,
                    dw_duration_format(lo, a, sizeof a), dw_duration_format(hi, b, sizeof b));
    }
    *out = ms;
    return 0;
}

static int get_duration(ctx *c, yaml_node_t *map, const char *parent, const char *key, int64_t def,
                        int64_t lo, int64_t hi, int64_t *out, yaml_node_t **where)
{
    char p[PATHLEN];
    join_path(p, parent, key);
    yaml_node_t *v = map_get(c, map, key);
    if (where)
        *where = is_null(v) ? NULL : v;
    if (is_null(v)) {
        *out = def;
        return 0;
    }
    char *s;
    int rc = scalar_text(c, v, p, &s);
    if (rc)
        return rc;
    rc = check_duration(c, v, p, s, lo, hi, out);
    free(s);
    return rc;
}

static int enum_value(ctx *c, yaml_node_t *v, const char *p, const char *const *names, size_t n,
                      int *out)
{
    char *s;
    int rc = scalar_text(c, v, p, &s);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(s, names[i])) {
            *out = (int)i;
            free(s);
            return 0;
        }
    }
    char list[256] = "", h[128];
    for (size_t i = 0; i < n; i++) {
        size_t o = strlen(list);
        snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", names[i]);
    }
    rc = fail(c, v, DW_ERR_INVALID, "%s: \"%.80s\" is not one of %s%s", p, s, list,
              hint(h, sizeof h, s, names, n));
    free(s);
    return rc;
}

static int get_enum(ctx *c, yaml_node_t *map, const char *parent, const char *key,
                    const char *const *names, size_t n, int def, int *out)
{
    char p[PATHLEN];
    join_path(p, parent, key);
    yaml_node_t *v = map_get(c, map, key);
    if (is_null(v)) {
        *out = def;
        return 0;
    }
    return enum_value(c, v, p, names, n, out);
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* A list of strings. Absent: a copy of defs[0..ndefs) (req: an error). */
static int get_strv(ctx *c, yaml_node_t *map, const char *parent, const char *key, bool req,
                    const char *const *defs, size_t ndefs, size_t min, size_t max, validator check,
                    char ***out, size_t *nout)
{
    char p[PATHLEN], ip[PATHLEN];
    join_path(p, parent, key);
    yaml_node_t *v = map_get(c, map, key);
    if (is_null(v)) {
        if (req)
            return v ? fail(c, v, DW_ERR_INVALID, "%s: must not be empty", p)
                     : missing(c, map, parent, key);
        *out = dw_calloc(ndefs, sizeof(char *));
        for (size_t i = 0; i < ndefs; i++)
            (*out)[i] = dw_strdup(defs[i]);
        *nout = ndefs;
        return 0;
    }
    int rc = check_seq(c, v, p, min, max);
    if (rc)
        return rc;
    size_t n = seq_size(v);
    char **arr = dw_calloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *it = seq_item(c, v, i);
        rc = conv_string(c, it, index_path(ip, p, i), check, &arr[i]);
        if (rc) {
            free_strv(arr, n);
            return rc;
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(arr[i], arr[j])) {
                rc = fail(c, it, DW_ERR_INVALID, "%s: \"%.80s\" is listed twice", p, arr[i]);
                free_strv(arr, n);
                return rc;
            }
        }
    }
    *out = arr;
    *nout = n;
    return 0;
}

static void free_kv(dw_kv *kv, size_t n)
{
    for (size_t i = 0; kv && i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

/* A map of string keys to scalar values (stringified), values may be empty. */
static int get_kv(ctx *c, yaml_node_t *map, const char *parent, const char *key, size_t max,
                  validator check_key, validator check_value, dw_kv **out, size_t *nout)
{
    char p[PATHLEN], kp[PATHLEN];
    join_path(p, parent, key);
    yaml_node_t *v = map_get(c, map, key);
    *out = NULL;
    *nout = 0;
    if (is_null(v))
        return 0;
    int rc = check_map(c, v, p, NULL, 0, max);
    if (rc)
        return rc;
    size_t n = map_size(v);
    dw_kv *kv = dw_calloc(n, sizeof *kv);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *kn;
        yaml_node_pair_t *pair = &v->data.mapping.pairs.start[i];
        const char *k = key_text(c, pair, &kn);
        join_path(kp, p, k);
        const char *why = check_key ? check_key(k) : NULL;
        if (why) {
            rc = fail(c, kn, DW_ERR_INVALID, "%s: key \"%.80s\" %s", p, k, why);
            break;
        }
        kv[i].key = dw_strdup(k);
        yaml_node_t *val = node_at(c, pair->value);
        if (is_null(val)) {
            kv[i].value = dw_strdup("");
        } else {
            rc = scalar_text(c, val, kp, &kv[i].value);
            if (rc)
                break;
        }
        why = check_value ? check_value(kv[i].value) : NULL;
        if (why) {
            rc = fail(c, val, DW_ERR_INVALID, "%s: %s", kp, why);
            break;
        }
    }
    if (rc) {
        free_kv(kv, n);
        return rc;
    }
    *out = kv;
    *nout = n;
    return 0;
}

/* A section (mapping) by key: NULL when absent or null. */
static int get_section(ctx *c, yaml_node_t *map, const char *parent, const char *key,
                       const char *const *allowed, size_t nallowed, yaml_node_t **out)
{
    char p[PATHLEN];
    yaml_node_t *v = map_get(c, map, key);
    *out = NULL;
    if (is_null(v))
        return 0;
    int rc = check_map(c, v, join_path(p, parent, key), allowed, nallowed, 0);
    if (rc == 0)
        *out = v;
    return rc;
}

static char *resolve_path(const char *basedir, const char *p)
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

/* ------------------------------------------------------------ thresholds */

/* Bit 3 of th_override.set and where[3]: min_samples; the other bits are
 * the real-valued thresholds' (real_thresholds[].bit). */
enum { TH_MIN_SAMPLES = 1u << 3 };

static const char *const threshold_keys[] = {
    "alpha",
    "psi",
    "ks",
    "min_samples",
    "missing_rate_delta",
    "type_error_rate",
    "out_of_range_rate",
    "unseen_rate",
    "false_alarms_per_week",
};

typedef struct th_override {
    dw_thresholds v;
    unsigned set;
    yaml_node_t *where[9]; /* value node of each set key, for conflict messages */
} th_override;

/* The real-valued thresholds: key, allowed range, field, and bit (the TH_
 * flag and the index into th_override.where). min_samples, an integer, is
 * read on its own. */
static const struct {
    const char *key;
    double lo;
    bool lo_open;
    double hi;
    bool hi_open;
    size_t off;
    unsigned bit;
} real_thresholds[] = {
    {"alpha", 0, true, 1, true, offsetof(dw_thresholds, alpha), 0},
    {"psi", 0, false, INFINITY, false, offsetof(dw_thresholds, psi_threshold), 1},
    {"ks", 0, false, 1, false, offsetof(dw_thresholds, ks_threshold), 2},
    {"missing_rate_delta", 0, false, 1, false, offsetof(dw_thresholds, missing_rate_delta), 4},
    {"type_error_rate", 0, false, 1, false, offsetof(dw_thresholds, type_error_rate), 5},
    {"out_of_range_rate", 0, false, 1, false, offsetof(dw_thresholds, out_of_range_rate), 6},
    {"unseen_rate", 0, false, 1, false, offsetof(dw_thresholds, unseen_rate), 7},
    {"false_alarms_per_week", 0, false, INFINITY, false,
     offsetof(dw_thresholds, false_alarms_per_week), 8},
};

static double *threshold_field(dw_thresholds *t, size_t off)
{
    return (double *)(void *)((char *)t + off);
}

/* Reads the threshold keys present in map (other keys are the caller's). */
static int read_thresholds(ctx *c, yaml_node_t *map, const char *path, th_override *o)
{
    memset(o, 0, sizeof *o);
    int rc;
    for (size_t i = 0; i < NELEM(real_thresholds); i++) {
        double d;
        yaml_node_t *w;
        if ((rc = get_double(c, map, path, real_thresholds[i].key, 0, real_thresholds[i].lo,
                             real_thresholds[i].lo_open, real_thresholds[i].hi,
                             real_thresholds[i].hi_open, &d, &w)))
            return rc;
        if (w) {
            *threshold_field(&o->v, real_thresholds[i].off) = d;
            o->set |= 1u << real_thresholds[i].bit;
            o->where[real_thresholds[i].bit] = w;
        }
    }
    yaml_node_t *ms = map_get(c, map, "min_samples");
    if (!is_null(ms)) {
        int64_t n;
        if ((rc = get_int(c, map, path, "min_samples", 0, 1, INT64_C(1000000000000), &n)))
            return rc;
        o->v.min_samples = (uint64_t)n;
        o->set |= TH_MIN_SAMPLES;
        o->where[3] = ms;
    }
    return 0;
}

static void apply_thresholds(dw_thresholds *t, const th_override *o)
{
    for (size_t i = 0; i < NELEM(real_thresholds); i++)
        if (o->set & (1u << real_thresholds[i].bit))
            *threshold_field(t, real_thresholds[i].off) =
                *threshold_field((dw_thresholds *)&o->v, real_thresholds[i].off);
    if (o->set & TH_MIN_SAMPLES)
        t->min_samples = o->v.min_samples;
}

/* A "thresholds:" block at map[key] applied onto *t. */
static int get_thresholds(ctx *c, yaml_node_t *map, const char *parent, dw_thresholds *t,
                          th_override *ov)
{
    yaml_node_t *sec;
    char p[PATHLEN];
    int rc = get_section(c, map, parent, "thresholds", threshold_keys, NELEM(threshold_keys), &sec);
    if (rc)
        return rc;
    memset(ov, 0, sizeof *ov);
    if (!sec)
        return 0;
    if ((rc = read_thresholds(c, sec, join_path(p, parent, "thresholds"), ov)))
        return rc;
    apply_thresholds(t, ov);
    return 0;
}

/* ----------------------------------------------------------------- kafka */

static int parse_kafka(ctx *c, yaml_node_t *root)
{
    static const char *const keys[] = {
        "brokers",    "topics",       "group_id",        "auto_offset_reset", "dead_letter_topic",
        "properties", "poll_timeout", "commit_interval", "max_message_bytes",
    };
    static const char *const resets[] = {"earliest", "latest"};
    dw_kafka_config *k = &c->cfg->kafka;
    yaml_node_t *sec = map_get(c, root, "kafka");
    if (!sec)
        return fail(c, root, DW_ERR_INVALID, "missing required section \"kafka\"");
    if (is_null(sec))
        return fail(c, sec, DW_ERR_INVALID, "kafka: must not be empty");
    int rc, e;
    int64_t n;
    if ((rc = CHECK_MAP(c, sec, "kafka", keys, 0)) ||
        (rc = get_string(c, sec, "kafka", "brokers", true, NULL, v_no_space, &k->brokers)) ||
        (rc = get_strv(c, sec, "kafka", "topics", true, NULL, 0, 1, DW_CONFIG_MAX_TOPICS, v_topic,
                       &k->topics, &k->ntopics)) ||
        (rc = get_string(c, sec, "kafka", "group_id", false, "driftwatch", v_no_space,
                         &k->group_id)) ||
        (rc = get_enum(c, sec, "kafka", "auto_offset_reset", resets, NELEM(resets),
                       DW_OFFSET_EARLIEST, &e)) ||
        (rc = get_string(c, sec, "kafka", "dead_letter_topic", false, NULL, v_topic,
                         &k->dead_letter_topic)) ||
        (rc = get_kv(c, sec, "kafka", "properties", DW_CONFIG_MAX_MAP, v_property, NULL,
                     &k->properties, &k->nproperties)) ||
        (rc = get_duration(c, sec, "kafka", "poll_timeout", 100, 1, 60000, &k->poll_timeout_ms,
                           NULL)) ||
        (rc = get_duration(c, sec, "kafka", "commit_interval", 5000, 1, 24 * 3600 * 1000,
                           &k->commit_interval_ms, NULL)) ||
        (rc = get_int(c, sec, "kafka", "max_message_bytes", 1048576, 1024, 1000000000, &n)))
        return rc;
    k->auto_offset_reset = (dw_offset_reset)e;
    k->max_message_bytes = n;
    return 0;
}

/* --------------------------------------------------------------- records */

static int parse_records(ctx *c, yaml_node_t *root)
{
    static const char *const keys[] = {"timestamp", "model",         "model_version", "columns",
                                       "fields",    "default_model", "max_fields"};
    static const char *const def_columns[] = {"features", "prediction"};
    dw_records_config *r = &c->cfg->records;
    yaml_node_t *sec;
    int rc = get_section(c, root, "", "records", keys, NELEM(keys), &sec);
    if (rc)
        return rc;
    if ((rc = get_string(c, sec, "records", "timestamp", false, "ts", v_dotted, &r->timestamp)) ||
        (rc = get_string(c, sec, "records", "model", false, "model", v_dotted, &r->model)) ||
        (rc = get_string(c, sec, "records", "model_version", false, "model_version", v_dotted,
                         &r->model_version)) ||
        (rc = get_strv(c, sec, "records", "columns", false, def_columns, NELEM(def_columns), 0,
                       DW_CONFIG_MAX_LIST, v_dotted, &r->columns, &r->ncolumns)) ||
        (rc = get_strv(c, sec, "records", "fields", false, NULL, 0, 0, DW_CONFIG_MAX_LIST, v_dotted,
                       &r->fields, &r->nfields)) ||
        (rc = get_string(c, sec, "records", "default_model", false, NULL, v_model_name,
                         &r->default_model)))
        return rc;
    int64_t mf;
    if ((rc = get_int(c, sec, "records", "max_fields", 1024, 16, 65536, &mf)))
        return rc;
    r->max_fields = (size_t)mf;
    if (r->ncolumns + r->nfields == 0)
        return fail(c, sec, DW_ERR_INVALID,
                    "records: columns and fields are both empty, so nothing would be monitored");
    if (r->default_model) {
        bool any = false;
        for (size_t i = 0; i < c->cfg->nmodels && !any; i++)
            any = !strcmp(c->cfg->models[i].name, r->default_model);
        if (!any)
            return fail(c, map_get(c, sec, "default_model"), DW_ERR_NOT_FOUND,
                        "records.default_model: \"%.80s\" is not one of the models",
                        r->default_model);
    }
    return 0;
}

/* ---------------------------------------------------------------- models */

static int cmp_column(const void *a, const void *b)
{
    return strcmp(((const dw_column_config *)a)->name, ((const dw_column_config *)b)->name);
}

static int parse_column(ctx *c, dw_model_config *m, yaml_node_t *kn, yaml_node_t *v,
                        const char *path, dw_column_config *col)
{
    static const char *const keys[] = {
        "ignore",
        "thresholds",
        "alpha",
        "psi",
        "ks",
        "min_samples",
        "missing_rate_delta",
        "type_error_rate",
        "out_of_range_rate",
        "unseen_rate",
        "false_alarms_per_week",
    };
    col->name = dw_strdup((const char *)kn->data.scalar.value);
    col->line = line_of(kn);
    col->thresholds = m->thresholds;
    if (!*col->name)
        return fail(c, kn, DW_ERR_INVALID, "%s: column names must not be empty", path);
    if (is_null(v))
        return 0;
    int rc;
    th_override nested, inl;
    if ((rc = CHECK_MAP(c, v, path, keys, 0)) ||
        (rc = get_bool(c, v, path, "ignore", false, &col->ignore)) ||
        (rc = get_thresholds(c, v, path, &col->thresholds, &nested)) ||
        (rc = read_thresholds(c, v, path, &inl)))
        return rc;
    unsigned both = nested.set & inl.set;
    if (both) {
        int b = __builtin_ctz(both);
        return fail(c, inl.where[b], DW_ERR_INVALID,
                    "%s: \"%s\" is set both here and under thresholds", path, threshold_keys[b]);
    }
    apply_thresholds(&col->thresholds, &inl);
    return 0;
}

static int parse_model(ctx *c, yaml_node_t *v, const char *path, dw_model_config *m)
{
    static const char *const keys[] = {"name", "version", "reference", "thresholds", "columns"};
    m->line = line_of(v);
    m->thresholds = c->cfg->thresholds;
    int rc;
    char *ref = NULL;
    th_override ov;
    if ((rc = CHECK_MAP(c, v, path, keys, 0)) ||
        (rc = get_string(c, v, path, "name", true, NULL, v_model_name, &m->name)) ||
        (rc = get_string(c, v, path, "version", false, NULL, v_model_name, &m->version)) ||
        (rc = get_string(c, v, path, "reference", true, NULL, v_nonempty, &ref)) ||
        (rc = get_thresholds(c, v, path, &m->thresholds, &ov)))
        return rc;
    m->reference = resolve_path(c->basedir, ref);
    m->reference_line = line_of(map_get(c, v, "reference"));
    free(ref);

    char cp[PATHLEN], ccp[PATHLEN];
    join_path(cp, path, "columns");
    yaml_node_t *cols = map_get(c, v, "columns");
    if (is_null(cols))
        return 0;
    if ((rc = check_map(c, cols, cp, NULL, 0, DW_CONFIG_MAX_COLUMN_OVERRIDES)))
        return rc;
    size_t n = map_size(cols);
    m->columns = dw_calloc(n, sizeof *m->columns);
    m->ncolumns = n;
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *pair = &cols->data.mapping.pairs.start[i];
        yaml_node_t *kn = node_at(c, pair->key);
        join_path(ccp, cp, (const char *)kn->data.scalar.value);
        if ((rc = parse_column(c, m, kn, node_at(c, pair->value), ccp, &m->columns[i])))
            return rc;
    }
    qsort(m->columns, n, sizeof *m->columns, cmp_column);
    return 0;
}

static bool same_opt(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static int parse_models(ctx *c, yaml_node_t *root)
{
    char ip[PATHLEN];
    yaml_node_t *v = map_get(c, root, "models");
    if (!v)
        return fail(c, root, DW_ERR_INVALID, "missing required section \"models\"");
    if (is_null(v))
        return fail(c, v, DW_ERR_INVALID, "models: needs at least 1 entry");
    int rc = check_seq(c, v, "models", 1, DW_CONFIG_MAX_MODELS);
    if (rc)
        return rc;
    size_t n = seq_size(v);
    c->cfg->models = dw_calloc(n, sizeof *c->cfg->models);
    c->cfg->nmodels = n;
    for (size_t i = 0; i < n; i++) {
        dw_model_config *m = &c->cfg->models[i];
        yaml_node_t *it = seq_item(c, v, i);
        if ((rc = parse_model(c, it, index_path(ip, "models", i), m)))
            return rc;
        for (size_t j = 0; j < i; j++) {
            dw_model_config *o = &c->cfg->models[j];
            if (!strcmp(o->name, m->name) && same_opt(o->version, m->version))
                return fail(c, it, DW_ERR_INVALID,
                            "%s: model \"%.80s\" (version %.80s) is configured twice (first at "
                            "line %d)",
                            ip, m->name, m->version ? m->version : "any", o->line);
        }
    }
    return 0;
}

/* --------------------------------------------------------------- windows */

static int parse_windows(ctx *c, yaml_node_t *root)
{
    static const char *const keys[] = {"name", "length", "slide"};
    static const struct {
        const char *name;
        int64_t length, slide;
    } defaults[] = {{"15m", 15 * 60000, 60000}, {"1h", 3600000, 5 * 60000}};
    dw_config *cfg = c->cfg;
    yaml_node_t *v = map_get(c, root, "windows");
    if (is_null(v)) {
        cfg->windows = dw_calloc(NELEM(defaults), sizeof *cfg->windows);
        cfg->nwindows = NELEM(defaults);
        for (size_t i = 0; i < NELEM(defaults); i++) {
            cfg->windows[i].name = dw_strdup(defaults[i].name);
            cfg->windows[i].length_ms = defaults[i].length;
            cfg->windows[i].slide_ms = defaults[i].slide;
            cfg->windows[i].panes = (uint32_t)(defaults[i].length / defaults[i].slide);
        }
        return 0;
    }
    int rc = check_seq(c, v, "windows", 1, DW_CONFIG_MAX_WINDOWS);
    if (rc)
        return rc;
    size_t n = seq_size(v);
    cfg->windows = dw_calloc(n, sizeof *cfg->windows);
    cfg->nwindows = n;
    char ip[PATHLEN], lp[PATHLEN];
    int *lines = dw_calloc(n, sizeof *lines);
    for (size_t i = 0; i < n && !rc; i++) {
        dw_window_config *w = &cfg->windows[i];
        yaml_node_t *it = seq_item(c, v, i), *ln, *sn;
        index_path(ip, "windows", i);
        if ((rc = CHECK_MAP(c, it, ip, keys, 0)))
            break;
        yaml_node_t *lv = map_get(c, it, "length");
        if (is_null(lv)) {
            rc = lv ? fail(c, lv, DW_ERR_INVALID, "%s.length: must not be empty", ip)
                    : missing(c, it, ip, "length");
            break;
        }
        if ((rc = get_duration(c, it, ip, "length", 0, 1, 366LL * 24 * 3600 * 1000, &w->length_ms,
                               &ln)) ||
            (rc = get_duration(c, it, ip, "slide", w->length_ms, 1, 366LL * 24 * 3600 * 1000,
                               &w->slide_ms, &sn)))
            break;
        char deflt[48];
        dw_duration_format(w->length_ms, deflt, sizeof deflt);
        if ((rc = get_string(c, it, ip, "name", false, deflt, v_name, &w->name)))
            break;
        lines[i] = line_of(map_get(c, it, "name") ? map_get(c, it, "name") : it);
        char a[48], b[48];
        if (w->slide_ms > w->length_ms || w->length_ms % w->slide_ms) {
            rc = fail(c, ln, DW_ERR_INVALID, "%s: %s is not a positive multiple of slide %s",
                      join_path(lp, ip, "length"), dw_duration_format(w->length_ms, a, sizeof a),
                      dw_duration_format(w->slide_ms, b, sizeof b));
            break;
        }
        int64_t panes = w->length_ms / w->slide_ms;
        if (panes > DW_CONFIG_MAX_PANES) {
            rc = fail(c, sn ? sn : ln, DW_ERR_LIMIT,
                      "%s: length %s / slide %s = %lld panes, more than %d (use a longer slide)",
                      ip, dw_duration_format(w->length_ms, a, sizeof a),
                      dw_duration_format(w->slide_ms, b, sizeof b), (long long)panes,
                      DW_CONFIG_MAX_PANES);
            break;
        }
        w->panes = (uint32_t)panes;
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(cfg->windows[j].name, w->name)) {
                rc = fail(c, map_get(c, it, "name") ? map_get(c, it, "name") : it, DW_ERR_INVALID,
                          "%s.name: duplicate window name \"%s\" (first at line %d)", ip, w->name,
                          lines[j]);
                break;
            }
        }
    }
    free(lines);
    return rc;
}

/* ------------------------------------------------- alerts, time, misc */

static int parse_alerts(ctx *c, yaml_node_t *root)
{
    static const char *const keys[] = {"for", "clear_psi", "clear_ks", "keep_firing_for",
                                       "group_by_model"};
    dw_alerts_config *a = &c->cfg->alerts;
    const dw_thresholds *t = &c->cfg->thresholds;
    yaml_node_t *sec, *w;
    int rc = get_section(c, root, "", "alerts", keys, NELEM(keys), &sec);
    if (rc)
        return rc;
    int64_t n;
    if ((rc = get_int(c, sec, "alerts", "for", 2, 1, 10000, &n)))
        return rc;
    a->for_evaluations = (int)n;
    /* The default clear levels never exceed the firing levels, so that a
     * lowered threshold alone does not make a fired alert unresolvable. */
    double def_psi = 0.1, def_ks = 0.05;
    if (t->psi_threshold > 0 && t->psi_threshold < def_psi)
        def_psi = t->psi_threshold;
    if (t->ks_threshold > 0 && t->ks_threshold < def_ks)
        def_ks = t->ks_threshold;
    if ((rc = get_double(c, sec, "alerts", "clear_psi", def_psi, 0, false, INFINITY, false,
                         &a->clear_psi, &w)))
        return rc;
    if (w && t->psi_threshold > 0 && a->clear_psi > t->psi_threshold)
        return fail(c, w, DW_ERR_INVALID,
                    "alerts.clear_psi: %g is above thresholds.psi %g (an alert must clear "
                    "below the level that fires it)",
                    a->clear_psi, t->psi_threshold);
    if ((rc = get_double(c, sec, "alerts", "clear_ks", def_ks, 0, false, 1, false, &a->clear_ks,
                         &w)))
        return rc;
    if (w && t->ks_threshold > 0 && a->clear_ks > t->ks_threshold)
        return fail(c, w, DW_ERR_INVALID,
                    "alerts.clear_ks: %g is above thresholds.ks %g (an alert must clear "
                    "below the level that fires it)",
                    a->clear_ks, t->ks_threshold);
    if ((rc = get_duration(c, sec, "alerts", "keep_firing_for", 0, 0, 30LL * 24 * 3600 * 1000,
                           &a->keep_firing_for_ms, NULL)))
        return rc;
    return get_bool(c, sec, "alerts", "group_by_model", true, &a->group_by_model);
}

static int parse_time(ctx *c, yaml_node_t *root)
{
    static const char *const keys[] = {"allowed_lateness", "idle_timeout", "max_future"};
    yaml_node_t *sec;
    int rc = get_section(c, root, "", "time", keys, NELEM(keys), &sec);
    if (rc)
        return rc;
    if ((rc = get_duration(c, sec, "time", "allowed_lateness", 60000, 0, 24 * 3600 * 1000,
                           &c->cfg->time.allowed_lateness_ms, NULL)))
        return rc;
    if ((rc = get_duration(c, sec, "time", "idle_timeout", 30000, 0, 24 * 3600 * 1000,
                           &c->cfg->time.idle_timeout_ms, NULL)))
        return rc;
    return get_duration(c, sec, "time", "max_future", 600000, 0, 7LL * 24 * 3600 * 1000,
                        &c->cfg->time.max_future_ms, NULL);
}

/* state: window state on a Kafka topic (docs/operations.md, "State on
 * Kafka"). Off unless enabled or a topic is named. */
static int parse_state(ctx *c, yaml_node_t *root)
{
    static const char *const keys[] = {"enabled", "topic", "flush_interval", "retention"};
    yaml_node_t *sec;
    int rc = get_section(c, root, "", "state", keys, NELEM(keys), &sec);
    if (rc)
        return rc;
    dw_config *cfg = c->cfg;
    bool enabled;
    if ((rc = get_string(c, sec, "state", "topic", false, NULL, v_topic, &cfg->state.topic)) ||
        (rc = get_bool(c, sec, "state", "enabled", cfg->state.topic != NULL, &enabled)) ||
        (rc = get_duration(c, sec, "state", "flush_interval", 1000, 10, 60000,
                           &cfg->state.flush_interval_ms, NULL)) ||
        (rc = get_duration(c, sec, "state", "retention", 0, 0, 365LL * 24 * 3600 * 1000,
                           &cfg->state.retention_ms, NULL)))
        return rc;
    if (!enabled) {
        free(cfg->state.topic);
        cfg->state.topic = NULL;
        return 0;
    }
    if (!cfg->state.topic) {
        size_t n = strlen(cfg->kafka.group_id) + 7;
        cfg->state.topic = dw_malloc(n);
        snprintf(cfg->state.topic, n, "%s-state", cfg->kafka.group_id);
    }
    if (cfg->state.retention_ms == 0) {
        /* Everything a restart needs to rebuild the longest window, twice
         * over, plus the lateness allowance and an hour of margin. */
        int64_t longest = 0;
        for (size_t w = 0; w < cfg->nwindows; w++)
            if (cfg->windows[w].length_ms > longest)
                longest = cfg->windows[w].length_ms;
        cfg->state.retention_ms = 2 * longest + cfg->time.allowed_lateness_ms + 3600 * 1000;
    }
    return 0;
}

/* "host:port" or "[v6]:port"; host may be empty (all addresses). */
static int parse_listen(ctx *c, yaml_node_t *v, const char *listen)
{
    const char *colon = strrchr(listen, ':');
    const char *host = listen, *host_end = colon;
    if (listen[0] == '[') {
        const char *rb = strchr(listen, ']');
        if (!rb || rb + 1 != colon)
            colon = NULL;
        host = listen + 1;
        host_end = rb;
    } else if (colon && memchr(listen, ':', (size_t)(colon - listen))) {
        colon = NULL; /* a bare IPv6 address needs brackets */
    }
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    /* Port 0 asks for an ephemeral port (tests): src/http.c logs the bound
     * one and writes it to $DW_HTTP_PORT_FILE. */
    if (!colon || !colon[1] || *end || port < 0 || port > 65535)
        return fail(c, v, DW_ERR_INVALID,
                    "http.listen: \"%.80s\" is not host:port (like 0.0.0.0:9187 or [::]:9187)",
                    listen);
    c->cfg->http.host = dw_strndup(host, (size_t)(host_end - host));
    c->cfg->http.port = (uint16_t)port;
    return 0;
}

static int parse_misc(ctx *c, yaml_node_t *root)
{
    static const char *const http_keys[] = {"listen", "enabled"};
    static const char *const log_keys[] = {"level", "format"};
    static const char *const eval_keys[] = {"max_new_categories", "max_memory_mb"};
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    static const char *const formats[] = {"json", "text"};
    dw_config *cfg = c->cfg;
    yaml_node_t *sec;
    int rc, e;
    if ((rc = get_section(c, root, "", "http", http_keys, NELEM(http_keys), &sec)) ||
        (rc = get_string(c, sec, "http", "listen", false, "0.0.0.0:9187", v_no_space,
                         &cfg->http.listen)) ||
        (rc = parse_listen(c, sec ? map_get(c, sec, "listen") : root, cfg->http.listen)) ||
        (rc = get_bool(c, sec, "http", "enabled", true, &cfg->http.enabled)))
        return rc;
    if ((rc = get_section(c, root, "", "log", log_keys, NELEM(log_keys), &sec)) ||
        (rc = get_enum(c, sec, "log", "level", levels, NELEM(levels), DW_LOG_INFO, &e)))
        return rc;
    cfg->log.level = (dw_log_level)e;
    if ((rc = get_enum(c, sec, "log", "format", formats, NELEM(formats), DW_LOG_JSON, &e)))
        return rc;
    cfg->log.format = (dw_log_format)e;
    char *dir = NULL;
    if ((rc = get_string(c, root, "", "state_dir", false, NULL, v_nonempty, &dir)))
        return rc;
    cfg->state_dir_default = dir == NULL;
    cfg->state_dir = dir ? resolve_path(c->basedir, dir) : dw_state_dir_default();
    free(dir);
    int64_t n;
    if ((rc = get_section(c, root, "", "evaluation", eval_keys, NELEM(eval_keys), &sec)) ||
        (rc = get_int(c, sec, "evaluation", "max_new_categories", 32, 0, 10000, &n)))
        return rc;
    cfg->evaluation.max_new_categories = (uint32_t)n;
    if ((rc = get_int(c, sec, "evaluation", "max_memory_mb", 1024, 1, 1048576, &n)))
        return rc;
    cfg->evaluation.max_memory_mb = n;
    /* Below Kubernetes' default 30 s grace period, with room to commit. */
    return get_duration(c, root, "", "shutdown_budget", 10000, 0, 600000, &cfg->shutdown_budget_ms,
                        NULL);
}

/* ------------------------------------------ sinks and retrain targets */

typedef enum { P_STRING, P_DURATION, P_ENUM, P_URL } param_kind;

typedef struct param_spec {
    const char *key;
    param_kind kind;
    bool required;
    const char *const *values; /* P_ENUM */
    size_t nvalues;
} param_spec;

typedef struct type_spec {
    const char *name;
    const param_spec *params;
    size_t nparams;
    bool needs_url;
} type_spec;

static const char *const pd_severities[] = {"critical", "error", "warning", "info"};
static const param_spec p_slack[] = {{"channel", P_STRING, false, NULL, 0},
                                     {"username", P_STRING, false, NULL, 0}};
static const param_spec p_pagerduty[] = {
    {"routing_key", P_STRING, true, NULL, 0},
    {"severity", P_ENUM, false, pd_severities, NELEM(pd_severities)},
    {"source", P_STRING, false, NULL, 0}};
static const param_spec p_alertmanager[] = {{"generator_url", P_URL, false, NULL, 0},
                                            {"resend_interval", P_DURATION, false, NULL, 0}};
static const param_spec p_webhook[] = {{"secret", P_STRING, false, NULL, 0}};
static const char *const stdout_formats[] = {"json", "text"};
static const param_spec p_stdout[] = {
    {"format", P_ENUM, false, stdout_formats, NELEM(stdout_formats)}};

/* Indexed by dw_sink_type. */
static const type_spec sink_types[] = {
    {"webhook", p_webhook, NELEM(p_webhook), true},
    {"stdout", p_stdout, NELEM(p_stdout), false},
    {"slack", p_slack, NELEM(p_slack), true},
    {"pagerduty", p_pagerduty, NELEM(p_pagerduty), true},
    {"alertmanager", p_alertmanager, NELEM(p_alertmanager), true},
};

static const char *const airflow_apis[] = {"v1", "v2"};
static const param_spec p_airflow[] = {{"dag_id", P_STRING, true, NULL, 0},
                                       {"api", P_ENUM, false, airflow_apis, NELEM(airflow_apis)},
                                       {"username", P_STRING, false, NULL, 0},
                                       {"password", P_STRING, false, NULL, 0},
                                       {"token", P_STRING, false, NULL, 0}};
static const param_spec p_argo[] = {{"workflow_template", P_STRING, false, NULL, 0},
                                    {"discriminator", P_STRING, false, NULL, 0},
                                    {"namespace", P_STRING, false, NULL, 0},
                                    {"token", P_STRING, false, NULL, 0}};
static const param_spec p_kubeflow[] = {{"pipeline_id", P_STRING, true, NULL, 0},
                                        {"pipeline_version_id", P_STRING, false, NULL, 0},
                                        {"experiment_id", P_STRING, false, NULL, 0},
                                        {"token", P_STRING, false, NULL, 0}};
static const param_spec p_github[] = {{"repository", P_STRING, true, NULL, 0},
                                      {"event_type", P_STRING, false, NULL, 0},
                                      {"workflow", P_STRING, false, NULL, 0},
                                      {"ref", P_STRING, false, NULL, 0},
                                      {"token", P_STRING, false, NULL, 0}};

/* Indexed by dw_retrain_type. */
static const type_spec retrain_types[] = {
    {"airflow", p_airflow, NELEM(p_airflow), true},    {"argo", p_argo, NELEM(p_argo), true},
    {"kubeflow", p_kubeflow, NELEM(p_kubeflow), true}, {"github", p_github, NELEM(p_github), true},
    {"webhook", p_webhook, NELEM(p_webhook), true},
};

const char *dw_sink_type_name(dw_sink_type t)
{
    return (size_t)t < NELEM(sink_types) ? sink_types[t].name : "unknown";
}

const char *dw_retrain_type_name(dw_retrain_type t)
{
    return (size_t)t < NELEM(retrain_types) ? retrain_types[t].name : "unknown";
}

#define MAX_KEYS 32

/* Reads "type", then checks the keys of entry v against common + the type's
 * own keys (naming the type a misplaced key belongs to), then reads the
 * type-specific parameters into *params. */
static int typed_entry(ctx *c, yaml_node_t *v, const char *path, const type_spec *types,
                       size_t ntypes, const char *const *common, size_t ncommon, const char *what,
                       int *type, dw_kv **params, size_t *nparams)
{
    const char *names[8];
    char p[PATHLEN];
    for (size_t i = 0; i < ntypes; i++)
        names[i] = types[i].name;
    if (v->type != YAML_MAPPING_NODE)
        return fail(c, v, DW_ERR_INVALID, "%s: expected a mapping, got %s", path, kind_name(v));
    yaml_node_t *tv = map_get(c, v, "type");
    if (is_null(tv))
        return tv ? fail(c, tv, DW_ERR_INVALID, "%s.type: must not be empty", path)
                  : missing(c, v, path, "type");
    int rc = enum_value(c, tv, join_path(p, path, "type"), names, ntypes, type);
    if (rc)
        return rc;
    const type_spec *ts = &types[*type];
    const char *allowed[MAX_KEYS];
    size_t nallowed = 0;
    for (size_t i = 0; i < ncommon; i++)
        allowed[nallowed++] = common[i];
    for (size_t i = 0; i < ts->nparams; i++)
        allowed[nallowed++] = ts->params[i].key;
    for (yaml_node_pair_t *pp = v->data.mapping.pairs.start; pp < v->data.mapping.pairs.top; pp++) {
        yaml_node_t *kn;
        const char *k = key_text(c, pp, &kn);
        if (!k)
            continue;
        bool known = false;
        for (size_t i = 0; i < nallowed && !known; i++)
            known = !strcmp(k, allowed[i]);
        for (size_t t = 0; t < ntypes && !known; t++)
            for (size_t i = 0; i < types[t].nparams; i++)
                if (!strcmp(k, types[t].params[i].key))
                    return fail(c, kn, DW_ERR_INVALID,
                                "%s: key \"%s\" is not used by %s %s (it belongs to type %s)", path,
                                k, ts->name, what, types[t].name);
    }
    if ((rc = check_map(c, v, path, allowed, nallowed, 0)))
        return rc;
    if (!ts->needs_url && !is_null(map_get(c, v, "url")))
        return fail(c, map_get(c, v, "url"), DW_ERR_INVALID, "%s.url: %s %s take no url", path,
                    ts->name, what);

    *params = dw_calloc(ts->nparams, sizeof **params);
    *nparams = 0;
    for (size_t i = 0; i < ts->nparams; i++) {
        const param_spec *ps = &ts->params[i];
        char *s = NULL;
        if ((rc = get_string(c, v, path, ps->key, ps->required, NULL,
                             ps->required ? v_nonempty : v_any, &s)))
            return rc;
        /* An optional key that interpolates to "" (secret: "${SECRET:-}") is
         * treated as absent, so one file serves setups with and without it. */
        if (!s || !*s) {
            free(s);
            continue;
        }
        /* Count first so that dw_config_free() releases s on a later error. */
        dw_kv *kv = &(*params)[(*nparams)++];
        kv->key = dw_strdup(ps->key);
        kv->value = s;
        yaml_node_t *pv = map_get(c, v, ps->key);
        join_path(p, path, ps->key);
        const char *why = ps->kind == P_URL ? v_url(s) : NULL;
        if (why)
            return fail(c, pv, DW_ERR_INVALID, "%s: \"%.80s\" %s", p, s, why);
        if (ps->kind == P_DURATION) {
            int64_t ms;
            if ((rc = check_duration(c, pv, p, s, 1, DW_DURATION_MAX_MS, &ms)))
                return rc;
        } else if (ps->kind == P_ENUM) {
            int e;
            if ((rc = enum_value(c, pv, p, ps->values, ps->nvalues, &e)))
                return rc;
        }
    }
    return 0;
}

static bool model_exists(const dw_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nmodels; i++)
        if (!strcmp(cfg->models[i].name, name))
            return true;
    return false;
}

static int parse_filter(ctx *c, yaml_node_t *v, const char *path, dw_sink_filter *f)
{
    static const char *const keys[] = {"models", "columns", "severity"};
    static const char *const sev[] = {"any", "warning", "critical"};
    char p[PATHLEN], ip[PATHLEN];
    yaml_node_t *sec;
    int rc, e;
    if ((rc = get_section(c, v, path, "filter", keys, NELEM(keys), &sec)))
        return rc;
    join_path(p, path, "filter");
    if ((rc = get_strv(c, sec, p, "models", false, NULL, 0, 0, DW_CONFIG_MAX_LIST, v_model_name,
                       &f->models, &f->nmodels)) ||
        (rc = get_strv(c, sec, p, "columns", false, NULL, 0, 0, DW_CONFIG_MAX_LIST, v_nonempty,
                       &f->columns, &f->ncolumns)))
        return rc;
    for (size_t i = 0; i < f->nmodels; i++) {
        if (!model_exists(c->cfg, f->models[i])) {
            join_path(ip, p, "models");
            return fail(c, seq_item(c, map_get(c, sec, "models"), i), DW_ERR_NOT_FOUND,
                        "%s[%zu]: \"%.80s\" is not one of the models", ip, i, f->models[i]);
        }
    }
    /* "any" is accepted for symmetry with the default (no filter). */
    if ((rc = get_enum(c, sec, p, "severity", sev, NELEM(sev), DW_SEVERITY_ANY, &e)))
        return rc;
    f->min_severity = (dw_severity)e;
    return 0;
}

static void free_sink(dw_sink_config *s)
{
    free(s->name);
    free(s->url);
    free_kv(s->headers, s->nheaders);
    free_strv(s->filter.models, s->filter.nmodels);
    free_strv(s->filter.columns, s->filter.ncolumns);
    free_kv(s->params, s->nparams);
}

/* Prometheus label names: [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__". */
static const char *v_label_name(const char *s)
{
    if (!(isalpha((unsigned char)s[0]) || s[0] == '_') || strncmp(s, "__", 2) == 0)
        return "is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, no leading __)";
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return "is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, no leading __)";
    return NULL;
}

/* Static labels and annotations of an alertmanager sink (team, runbook_url)
 * travel with its type-specific options as "labels.<name>" and
 * "annotations.<name>", so the notifier copies them like any option. */
static int get_static_kv(ctx *c, yaml_node_t *v, const char *path, const char *key,
                         dw_sink_config *s)
{
    dw_kv *kv = NULL;
    size_t n = 0;
    int rc = get_kv(c, v, path, key, DW_CONFIG_MAX_STATIC_KV, v_label_name, v_nonempty, &kv, &n);
    if (rc == 0 && n && s->type != DW_SINK_ALERTMANAGER)
        rc = fail(c, map_get(c, v, key), DW_ERR_INVALID,
                  "%s.%s: only alertmanager sinks take static %s", path, key, key);
    if (rc == 0 && n) {
        s->params = dw_realloc(s->params, (s->nparams + n) * sizeof *s->params);
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(key) + strlen(kv[i].key) + 2;
            dw_kv *o = &s->params[s->nparams++];
            o->key = dw_malloc(len);
            snprintf(o->key, len, "%s.%s", key, kv[i].key);
            o->value = kv[i].value;
            kv[i].value = NULL;
        }
    }
    free_kv(kv, n);
    return rc;
}

static int parse_sink(ctx *c, yaml_node_t *v, const char *path, dw_sink_config *s)
{
    static const char *const common[] = {
        "name",    "type",         "url",    "timeout", "max_retries", "send_resolved",
        "headers", "min_interval", "filter", "labels",  "annotations"};
    int type, rc;
    int64_t n;
    if ((rc = typed_entry(c, v, path, sink_types, NELEM(sink_types), common, NELEM(common), "sinks",
                          &type, &s->params, &s->nparams)))
        return rc;
    s->type = (dw_sink_type)type;
    if ((rc = get_string(c, v, path, "name", true, NULL, v_name, &s->name)) ||
        (rc = get_string(c, v, path, "url", sink_types[type].needs_url, NULL, v_url, &s->url)) ||
        (rc = get_duration(c, v, path, "timeout", 5000, 1, 600000, &s->timeout_ms, NULL)) ||
        (rc = get_int(c, v, path, "max_retries", 5, 0, 100, &n)))
        return rc;
    s->max_retries = (int)n;
    if ((rc = get_bool(c, v, path, "send_resolved", true, &s->send_resolved)) ||
        (rc = get_kv(c, v, path, "headers", DW_CONFIG_MAX_MAP, v_header_name, v_header_value,
                     &s->headers, &s->nheaders)) ||
        (rc = get_duration(c, v, path, "min_interval", 0, 0, 7LL * 24 * 3600 * 1000,
                           &s->min_interval_ms, NULL)) ||
        (rc = parse_filter(c, v, path, &s->filter)) ||
        (rc = get_static_kv(c, v, path, "labels", s)) ||
        (rc = get_static_kv(c, v, path, "annotations", s)))
        return rc;
    return 0;
}

static int parse_sinks(ctx *c, yaml_node_t *root)
{
    dw_config *cfg = c->cfg;
    yaml_node_t *v = map_get(c, root, "sinks");
    char ip[PATHLEN];
    if (is_null(v)) {
        cfg->sinks = dw_calloc(1, sizeof *cfg->sinks);
        cfg->nsinks = 1;
        dw_sink_config *s = &cfg->sinks[0];
        s->name = dw_strdup("stdout");
        s->type = DW_SINK_STDOUT;
        s->timeout_ms = 5000;
        s->max_retries = 5;
        s->send_resolved = true;
        return 0;
    }
    int rc = check_seq(c, v, "sinks", 0, DW_CONFIG_MAX_SINKS);
    if (rc)
        return rc;
    size_t n = seq_size(v);
    cfg->sinks = dw_calloc(n, sizeof *cfg->sinks);
    cfg->nsinks = n;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *it = seq_item(c, v, i);
        if ((rc = parse_sink(c, it, index_path(ip, "sinks", i), &cfg->sinks[i])))
            return rc;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(cfg->sinks[j].name, cfg->sinks[i].name))
                return fail(c, map_get(c, it, "name"), DW_ERR_INVALID,
                            "%s.name: duplicate sink name \"%s\"", ip, cfg->sinks[i].name);
    }
    return 0;
}

static void free_retrain(dw_retrain_config *r)
{
    free(r->name);
    free(r->url);
    free(r->model);
    free(r->window);
    free_kv(r->params, r->nparams);
}

static int parse_retrain_entry(ctx *c, yaml_node_t *v, const char *path, dw_retrain_config *r)
{
    static const char *const common[] = {"name",        "type",   "url", "model",
                                         "min_columns", "window", "for", "cooldown"};
    int type, rc;
    int64_t n;
    if ((rc = typed_entry(c, v, path, retrain_types, NELEM(retrain_types), common, NELEM(common),
                          "retrain targets", &type, &r->params, &r->nparams)))
        return rc;
    r->type = (dw_retrain_type)type;
    if ((rc = get_string(c, v, path, "name", true, NULL, v_name, &r->name)) ||
        (rc = get_string(c, v, path, "url", true, NULL, v_url, &r->url)) ||
        (rc = get_string(c, v, path, "model", false, NULL, v_model_name, &r->model)) ||
        (rc = get_int(c, v, path, "min_columns", 3, 1, 100000, &n)))
        return rc;
    r->min_columns = (int)n;
    if (r->model && !model_exists(c->cfg, r->model))
        return fail(c, map_get(c, v, "model"), DW_ERR_NOT_FOUND,
                    "%s.model: \"%.80s\" is not one of the models", path, r->model);
    if ((rc = get_string(c, v, path, "window", false, c->cfg->windows[0].name, v_name, &r->window)))
        return rc;
    if (!dw_config_find_window(c->cfg, r->window))
        return fail(c, map_get(c, v, "window"), DW_ERR_NOT_FOUND,
                    "%s.window: \"%.80s\" is not one of the windows", path, r->window);
    if ((rc = get_duration(c, v, path, "for", 15 * 60000, 0, 30LL * 24 * 3600 * 1000, &r->for_ms,
                           NULL)) ||
        (rc = get_duration(c, v, path, "cooldown", 6 * 3600000, 0, 30LL * 24 * 3600 * 1000,
                           &r->cooldown_ms, NULL)))
        return rc;
    return 0;
}

static int parse_retrain(ctx *c, yaml_node_t *root)
{
    dw_config *cfg = c->cfg;
    yaml_node_t *v = map_get(c, root, "retrain");
    char ip[PATHLEN];
    if (is_null(v))
        return 0;
    int rc = check_seq(c, v, "retrain", 0, DW_CONFIG_MAX_RETRAIN);
    if (rc)
        return rc;
    size_t n = seq_size(v);
    cfg->retrain = dw_calloc(n, sizeof *cfg->retrain);
    cfg->nretrain = n;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *it = seq_item(c, v, i);
        if ((rc = parse_retrain_entry(c, it, index_path(ip, "retrain", i), &cfg->retrain[i])))
            return rc;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(cfg->retrain[j].name, cfg->retrain[i].name))
                return fail(c, map_get(c, it, "name"), DW_ERR_INVALID,
                            "%s.name: duplicate retrain target name \"%s\"", ip,
                            cfg->retrain[i].name);
        /* Rules and sinks share the notifier's names (logs, metrics). */
        for (size_t j = 0; j < cfg->nsinks; j++)
            if (!strcmp(cfg->sinks[j].name, cfg->retrain[i].name))
                return fail(c, map_get(c, it, "name"), DW_ERR_INVALID,
                            "%s.name: \"%s\" is already the name of a sink", ip,
                            cfg->retrain[i].name);
        if (cfg->retrain[i].type == DW_RETRAIN_GITHUB) {
            const char *repo =
                dw_kv_get(cfg->retrain[i].params, cfg->retrain[i].nparams, "repository");
            const char *slash = repo ? strchr(repo, '/') : NULL;
            if (repo && (!slash || slash == repo || !slash[1] || strchr(slash + 1, '/')))
                return fail(c, map_get(c, it, "repository"), DW_ERR_INVALID,
                            "%s.repository: \"%s\" is not owner/name", ip, repo);
        }
    }
    return 0;
}

/* ------------------------------------------------------------ top level */

static int parse_root(ctx *c, yaml_node_t *root)
{
    static const char *const keys[] = {
        "kafka", "records", "models", "windows", "thresholds", "alerts",     "time",
        "sinks", "retrain", "http",   "log",     "state_dir",  "evaluation", "shutdown_budget",
        "state"};
    if (root->type != YAML_MAPPING_NODE)
        return fail(c, root, DW_ERR_INVALID, "the configuration must be a mapping, not %s",
                    kind_name(root));
    int rc;
    th_override ov;
    dw_thresholds_default(&c->cfg->thresholds);
    /* Dependencies first: thresholds feed models, models and windows are
     * referenced by records, sinks and retrain. */
    if ((rc = CHECK_MAP(c, root, "", keys, 0)) ||
        (rc = get_thresholds(c, root, "", &c->cfg->thresholds, &ov)) ||
        (rc = parse_kafka(c, root)) || (rc = parse_models(c, root)) ||
        (rc = parse_records(c, root)) || (rc = parse_windows(c, root)) ||
        (rc = parse_alerts(c, root)) || (rc = parse_time(c, root)) || (rc = parse_sinks(c, root)) ||
        (rc = parse_retrain(c, root)) || (rc = parse_misc(c, root)) ||
        (rc = parse_state(c, root)))
        return rc;
    return 0;
}

static int yaml_error(ctx *c, yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "malformed input";
    if (p->context)
        return dw_seterr(c->errbuf, c->errlen, DW_ERR_PARSE, "%s:%d: invalid YAML: %s %s", c->name,
                         (int)p->problem_mark.line + 1, problem, p->context);
    return dw_seterr(c->errbuf, c->errlen, DW_ERR_PARSE, "%s:%d: invalid YAML: %s", c->name,
                     (int)p->problem_mark.line + 1, problem);
}

int dw_config_parse(const char *name, const char *text, size_t len, const char *basedir,
                    dw_config **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (!name)
        name = "config";
    if (!text)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "%s: no configuration text", name);
    if (len > DW_CONFIG_MAX_BYTES)
        return dw_seterr(errbuf, errlen, DW_ERR_LIMIT, "%s: larger than %d bytes", name,
                         DW_CONFIG_MAX_BYTES);
    ctx c = {.name = name, .basedir = basedir, .errbuf = errbuf, .errlen = errlen};
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return dw_seterr(errbuf, errlen, DW_ERR_PARSE, "%s: cannot initialise libyaml", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        int rc = yaml_error(&c, &parser);
        yaml_parser_delete(&parser);
        return rc;
    }
    c.doc = &doc;
    int rc = 0;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        rc = dw_seterr(errbuf, errlen, DW_ERR_EMPTY, "%s:1: the configuration is empty", name);
    } else {
        /* A second document would be silently ignored: refuse it. */
        yaml_document_t next;
        if (!yaml_parser_load(&parser, &next)) {
            rc = yaml_error(&c, &parser);
        } else {
            yaml_node_t *nr = yaml_document_get_root_node(&next);
            if (nr)
                rc = dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                               "%s:%d: only one YAML document is allowed", name,
                               (int)nr->start_mark.line + 1);
            yaml_document_delete(&next);
        }
    }
    if (rc == 0) {
        c.cfg = dw_calloc(1, sizeof *c.cfg);
        c.cfg->path = dw_strdup(name);
        c.cfg->basedir = basedir ? dw_strdup(basedir) : NULL;
        rc = parse_root(&c, root);
        if (rc) {
            dw_config_free(c.cfg);
            c.cfg = NULL;
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    *out = c.cfg;
    return rc;
}

int dw_config_load(const char *path, dw_config **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return dw_seterr(errbuf, errlen, DW_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    /* Read one byte past the bound to detect an oversized file without
     * trusting st_size (pipes, /proc files). */
    char *buf = dw_malloc(DW_CONFIG_MAX_BYTES + 1);
    size_t n = fread(buf, 1, DW_CONFIG_MAX_BYTES + 1, f);
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        free(buf);
        return dw_seterr(errbuf, errlen, DW_ERR_IO, "%s: read error", path);
    }
    if (n > DW_CONFIG_MAX_BYTES) {
        free(buf);
        return dw_seterr(errbuf, errlen, DW_ERR_LIMIT, "%s: larger than %d bytes", path,
                         DW_CONFIG_MAX_BYTES);
    }
    const char *slash = strrchr(path, '/');
    char *dir =
        slash ? dw_strndup(path, slash == path ? 1 : (size_t)(slash - path)) : dw_strdup(".");
    int rc = dw_config_parse(path, buf, n, dir, out, errbuf, errlen);
    free(dir);
    free(buf);
    return rc;
}

void dw_config_free(dw_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    free(cfg->basedir);
    dw_kafka_config *k = &cfg->kafka;
    free(k->brokers);
    free_strv(k->topics, k->ntopics);
    free(k->group_id);
    free(k->dead_letter_topic);
    free_kv(k->properties, k->nproperties);
    dw_records_config *r = &cfg->records;
    free(r->timestamp);
    free(r->model);
    free(r->model_version);
    free_strv(r->columns, r->ncolumns);
    free_strv(r->fields, r->nfields);
    free(r->default_model);
    for (size_t i = 0; i < cfg->nmodels; i++) {
        dw_model_config *m = &cfg->models[i];
        free(m->name);
        free(m->version);
        free(m->reference);
        for (size_t j = 0; j < m->ncolumns; j++)
            free(m->columns[j].name);
        free(m->columns);
    }
    free(cfg->models);
    for (size_t i = 0; i < cfg->nwindows; i++)
        free(cfg->windows[i].name);
    free(cfg->windows);
    for (size_t i = 0; i < cfg->nsinks; i++)
        free_sink(&cfg->sinks[i]);
    free(cfg->sinks);
    for (size_t i = 0; i < cfg->nretrain; i++)
        free_retrain(&cfg->retrain[i]);
    free(cfg->retrain);
    free(cfg->http.listen);
    free(cfg->http.host);
    free(cfg->state_dir);
    free(cfg->state.topic);
    free(cfg);
}

/* ------------------------------------------------------------- lookups */

const char *dw_kv_get(const dw_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(kv[i].key, key))
            return kv[i].value;
    return NULL;
}

const dw_thresholds *dw_config_column_thresholds(const dw_config *cfg, const dw_model_config *model,
                                                 const char *column, bool *ignored)
{
    if (ignored)
        *ignored = false;
    if (!model)
        return &cfg->thresholds;
    if (column && model->ncolumns) {
        dw_column_config key = {.name = (char *)column};
        const dw_column_config *col =
            bsearch(&key, model->columns, model->ncolumns, sizeof key, cmp_column);
        if (col) {
            if (ignored)
                *ignored = col->ignore;
            return &col->thresholds;
        }
    }
    return &model->thresholds;
}

const dw_model_config *dw_config_find_model(const dw_config *cfg, const char *name,
                                            const char *version)
{
    const dw_model_config *any = NULL;
    for (size_t i = 0; i < cfg->nmodels; i++) {
        const dw_model_config *m = &cfg->models[i];
        if (strcmp(m->name, name))
            continue;
        if (!m->version)
            any = any ? any : m;
        else if (version && !strcmp(m->version, version))
            return m;
    }
    return any;
}

const dw_window_config *dw_config_find_window(const dw_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nwindows; i++)
        if (!strcmp(cfg->windows[i].name, name))
            return &cfg->windows[i];
    return NULL;
}

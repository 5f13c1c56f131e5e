/* The reference file format (docs/reference-format.md): JSON via jansson,
 * SHA-256 via OpenSSL's EVP interface.
 *
 * Checksum: SHA-256 over json_dumps(root without "checksum",
 * JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17)), stored as
 * "sha256:<64 lowercase hex>". Hashing the canonical serialisation rather
 * than the file bytes keeps the checksum independent of indentation, and 17
 * significant digits make every double round-trip exactly.
 *
 * Loading does not go through jansson's tree: src/reference_doc.c reads the
 * document and hashes the same canonical bytes as it writes them (five times
 * cheaper, see reference_doc_int.h). Writing still uses jansson, and
 * dw_reference_save() loads what it wrote, so every saved file is checked
 * against both. */
#include "driftwatch/reference.h"

#include "driftwatch/error.h"
#include "driftwatch/histogram.h"
#include "reference_doc_int.h"

#include <errno.h>
#include <stdarg.h>
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FORMAT_NAME "driftwatch-reference"
#define CANON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17))
#define FILE_FLAGS (JSON_INDENT(1) | JSON_REAL_PRECISION(17))

/* ---------- checksum ---------- */

static int checksum_of(json_t *root_without_checksum, char out[72])
{
    char *canon = json_dumps(root_without_checksum, CANON_FLAGS);
    if (!canon)
        return DW_ERR_INVALID;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int ok = EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(), NULL);
    free(canon);
    if (!ok || mdlen != 32)
        return DW_ERR_INVALID;
    memcpy(out, "sha256:", 7);
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
    return 0;
}

/* ---------- free / find ---------- */

static void free_column(dw_ref_column *c)
{
    free(c->name);
    free(c->edges);
    free(c->bin_counts);
    for (size_t i = 0; i < c->ncat && c->categories; i++)
        free(c->categories[i]);
    free(c->categories);
    free(c->cat_counts);
    dw_cat_index_free(c->cat_index);
    c->cat_index = NULL;
    dw_bin_index_free(c->bin_index);
    c->bin_index = NULL;
}

void dw_reference_free(dw_reference *ref)
{
    if (!ref)
        return;
    for (size_t i = 0; i < ref->ncols; i++)
        free_column(&ref->cols[i]);
    free(ref->cols);
    free(ref->model);
    free(ref->model_version);
    free(ref->created_at);
    free(ref->source);
    free(ref);
}

int dw_reference_find(const dw_reference *ref, const char *name)
{
    for (size_t i = 0; i < ref->ncols; i++)
        if (!strcmp(ref->cols[i].name, name))
            return (int)i;
    return -1;
}

bool dw_reference_is_flat(const dw_reference *ref)
{
    for (size_t i = 0; i < ref->ncols; i++)
        if (strchr(ref->cols[i].name, '.'))
            return false;
    return true;
}

static int find_n(const dw_reference *ref, const char *name, size_t len)
{
    for (size_t i = 0; i < ref->ncols; i++)
        if (strncmp(ref->cols[i].name, name, len) == 0 && ref->cols[i].name[len] == '\0')
            return (int)i;
    return -1;
}

int dw_reference_match(const dw_reference *ref, const char *path, size_t len)
{
    int j = find_n(ref, path, len);
    if (j >= 0)
        return j;
    const char *dot = memrchr(path, '.', len);
    if (!dot || !dw_reference_is_flat(ref))
        return -1;
    return find_n(ref, dot + 1, len - (size_t)(dot + 1 - path));
}

bool dw_reference_mismatch(const dw_reference *ref, const char *model, const char *version,
                           char *buf, size_t len)
{
    if (ref->model && model && strcmp(ref->model, model) != 0) {
        snprintf(buf, len, "model %s: its reference was built for model %s", model, ref->model);
        return true;
    }
    if (ref->model_version && version && strcmp(ref->model_version, version) != 0) {
        snprintf(buf, len, "model %s version %s: its reference was built for version %s",
                 model ? model : "?", version, ref->model_version);
        return true;
    }
    return false;
}

static bool in_list(char *const *list, size_t n, const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]) == len && memcmp(list[i], s, len) == 0)
            return true;
    return false;
}

size_t dw_reference_unreachable(const dw_reference *ref, char *const *containers,
                                size_t ncontainers, char *const *fields, size_t nfields,
                                const char **first)
{
    size_t n = 0;
    *first = NULL;
    for (size_t j = 0; j < ref->ncols; j++) {
        const char *name = ref->cols[j].name;
        const char *dot = strrchr(name, '.');
        if (!dot || in_list(containers, ncontainers, name, (size_t)(dot - name)) ||
            in_list(fields, nfields, name, strlen(name)))
            continue;
        if (!n++)
            *first = name;
    }
    return n;
}

/* ---------- parsing and validation ---------- */

typedef struct pctx {
    const char *name; /* file name for messages */
    const char *col;  /* current column name, NULL at top level */
    char *errbuf;
    size_t errlen;
} pctx;

static int perr(const pctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int perr(const pctx *p, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->col)
        return dw_seterr(p->errbuf, p->errlen, DW_ERR_INVALID, "%s: column \"%s\": %s", p->name,
                         p->col, msg);
    return dw_seterr(p->errbuf, p->errlen, DW_ERR_INVALID, "%s: %s", p->name, msg);
}

static int get_u64(const pctx *p, const dw_jnode *obj, const char *key, uint64_t *out)
{
    const dw_jnode *v = dw_jnode_get(obj, key);
    if (!v)
        return perr(p, "missing field \"%s\"", key);
    if (!dw_jnode_is(v, DW_J_INT) || v->u.i < 0)
        return perr(p, "field \"%s\" must be a non-negative integer", key);
    *out = (uint64_t)v->u.i;
    return 0;
}

static int get_double(const pctx *p, const dw_jnode *obj, const char *key, double *out)
{
    const dw_jnode *v = dw_jnode_get(obj, key);
    if (!v)
        return perr(p, "missing field \"%s\"", key);
    if (!dw_jnode_is_number(v) || !isfinite(dw_jnode_number(v)))
        return perr(p, "field \"%s\" must be a finite number", key);
    *out = dw_jnode_number(v);
    return 0;
}

/* Optional string (absent or null -> NULL). */
static int get_opt_str(const pctx *p, const dw_jnode *obj, const char *key, char **out)
{
    const dw_jnode *v = dw_jnode_get(obj, key);
    *out = NULL;
    if (!v || dw_jnode_is(v, DW_J_NULL))
        return 0;
    if (!dw_jnode_is(v, DW_J_STRING))
        return perr(p, "field \"%s\" must be a string or null", key);
    *out = dw_strdup(dw_jnode_string(v));
    return 0;
}

static int add_u64(const pctx *p, uint64_t *sum, uint64_t x, const char *what)
{
    if (*sum + x < *sum)
        return perr(p, "%s overflow 64 bits", what);
    *sum += x;
    return 0;
}

static int parse_numeric(const pctx *p, const dw_jnode *jc, dw_ref_column *c)
{
    int rc;
    uint64_t nb = 0;
    if ((rc = get_double(p, jc, "min", &c->min)) < 0 ||
        (rc = get_double(p, jc, "max", &c->max)) < 0 ||
        (rc = get_double(p, jc, "mean", &c->mean)) < 0 ||
        (rc = get_double(p, jc, "std", &c->std)) < 0 || (rc = get_u64(p, jc, "nbins", &nb)) < 0)
        return rc;
    if (c->count == 0)
        return perr(p, "a numeric column needs at least one non-missing value (count is 0)");
    if (c->min > c->max)
        return perr(p, "min (%.17g) is greater than max (%.17g)", c->min, c->max);
    if (c->std < 0)
        return perr(p, "std is negative");
    if (nb < 1 || nb > DW_MAX_BINS)
        return perr(p, "nbins must be between 1 and %d, found %llu", DW_MAX_BINS,
                    (unsigned long long)nb);
    c->nbins = (size_t)nb;
    const dw_jnode *je = dw_jnode_get(jc, "edges"), *jb = dw_jnode_get(jc, "bin_counts");
    if (!dw_jnode_is(je, DW_J_ARRAY))
        return perr(p, "missing array \"edges\"");
    if (!dw_jnode_is(jb, DW_J_ARRAY))
        return perr(p, "missing array \"bin_counts\"");
    if (je->n != c->nbins + 1)
        return perr(p, "\"edges\" has %zu entries, expected nbins + 1 = %zu", je->n, c->nbins + 1);
    if (jb->n != c->nbins)
        return perr(p, "\"bin_counts\" has %zu entries, expected nbins = %zu", jb->n, c->nbins);
    c->edges = dw_malloc((c->nbins + 1) * sizeof *c->edges);
    c->bin_counts = dw_malloc(c->nbins * sizeof *c->bin_counts);
    for (size_t i = 0; i <= c->nbins; i++) {
        const dw_jnode *v = &je->u.k[i];
        if (!dw_jnode_is_number(v) || !isfinite(dw_jnode_number(v)))
            return perr(p, "edges[%zu] is not a finite number", i);
        c->edges[i] = dw_jnode_number(v);
        /* edges[0] may equal edges[1] (a bin of the minimum alone); from
         * index 1 on they must strictly increase (reference.h). */
        if (i == 1 && c->edges[1] < c->edges[0])
            return perr(p, "edges decrease at 1 (%.17g < %.17g)", c->edges[1], c->edges[0]);
        if (i >= 2 && !(c->edges[i] > c->edges[i - 1]))
            return perr(p, "edges not increasing at %zu (%.17g after %.17g)", i, c->edges[i],
                        c->edges[i - 1]);
    }
    if (c->edges[0] != c->min)
        return perr(p, "edges[0] (%.17g) differs from min (%.17g)", c->edges[0], c->min);
    if (c->edges[c->nbins] != c->max)
        return perr(p, "edges[nbins] (%.17g) differs from max (%.17g)", c->edges[c->nbins], c->max);
    uint64_t sum = 0;
    for (size_t i = 0; i < c->nbins; i++) {
        const dw_jnode *v = &jb->u.k[i];
        if (!dw_jnode_is(v, DW_J_INT) || v->u.i < 0)
            return perr(p, "bin_counts[%zu] is not a non-negative integer", i);
        c->bin_counts[i] = (uint64_t)v->u.i;
        if ((rc = add_u64(p, &sum, c->bin_counts[i], "bin_counts")) < 0)
            return rc;
    }
    if (sum != c->count)
        return perr(p, "bin_counts sum to %llu but count is %llu", (unsigned long long)sum,
                    (unsigned long long)c->count);
    dw_bin_index_build(c); /* speeds up dw_ref_bin(); without it the search still works */
    return 0;
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int parse_categorical(const pctx *p, const dw_jnode *jc, dw_ref_column *c)
{
    int rc;
    if ((rc = get_u64(p, jc, "other_count", &c->other_count)) < 0)
        return rc;
    const dw_jnode *jcat = dw_jnode_get(jc, "categories");
    if (!dw_jnode_is(jcat, DW_J_ARRAY))
        return perr(p, "missing array \"categories\"");
    size_t n = jcat->n;
    if (n > DW_MAX_CATEGORIES)
        return perr(p, "%zu categories, more than the limit of %d", n, DW_MAX_CATEGORIES);
    c->categories = dw_calloc(n ? n : 1, sizeof *c->categories);
    c->cat_counts = dw_calloc(n ? n : 1, sizeof *c->cat_counts);
    uint64_t sum = c->other_count;
    for (size_t i = 0; i < n; i++) {
        const dw_jnode *e = &jcat->u.k[i], *jv = dw_jnode_get(e, "value");
        if (!dw_jnode_is(e, DW_J_OBJECT) || !dw_jnode_is(jv, DW_J_STRING))
            return perr(p, "categories[%zu] must be an object with a string \"value\"", i);
        size_t len = jv->n;
        if (len == 0 || len > DW_MAX_NAME || memchr(dw_jnode_string(jv), '\0', len))
            return perr(p, "categories[%zu] value must be 1 to %d bytes without NUL", i,
                        DW_MAX_NAME);
        const dw_jnode *jn = dw_jnode_get(e, "count");
        if (!dw_jnode_is(jn, DW_J_INT) || jn->u.i < 1)
            return perr(p, "categories[%zu] (\"%s\") count must be a positive integer", i,
                        dw_jnode_string(jv));
        c->categories[i] = dw_strdup(dw_jnode_string(jv));
        c->cat_counts[i] = (uint64_t)jn->u.i;
        c->ncat = i + 1;
        if ((rc = add_u64(p, &sum, c->cat_counts[i], "category counts")) < 0)
            return rc;
    }
    if (sum != c->count)
        return perr(p, "category counts plus other_count sum to %llu but count is %llu",
                    (unsigned long long)sum, (unsigned long long)c->count);
    if (n > 1) {
        char **sorted = dw_malloc(n * sizeof *sorted);
        memcpy(sorted, c->categories, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, cmp_strp);
        for (size_t i = 1; i < n; i++)
            if (!strcmp(sorted[i], sorted[i - 1])) {
                rc = perr(p, "category \"%s\" is listed twice", sorted[i]);
                free(sorted);
                return rc;
            }
        free(sorted);
    }
    if ((rc = dw_cat_index_build(c)) < 0)
        return perr(p, "cannot index the categories (%s)", dw_strerror(rc));
    return 0;
}

static int parse_column(pctx *p, const dw_jnode *jc, size_t idx, uint64_t rows, dw_ref_column *c)
{
    int rc;
    p->col = NULL;
    if (!dw_jnode_is(jc, DW_J_OBJECT))
        return perr(p, "columns[%zu] is not an object", idx);
    const dw_jnode *jn = dw_jnode_get(jc, "name");
    if (!dw_jnode_is(jn, DW_J_STRING) || jn->n == 0 || jn->n > DW_MAX_NAME)
        return perr(p, "columns[%zu] needs a \"name\" of 1 to %d bytes", idx, DW_MAX_NAME);
    c->name = dw_strdup(dw_jnode_string(jn));
    p->col = c->name;
    const char *type = dw_jnode_string(dw_jnode_get(jc, "type"));
    if (!type)
        return perr(p, "missing string field \"type\"");
    if (!strcmp(type, "numeric"))
        c->type = DW_COL_NUMERIC;
    else if (!strcmp(type, "categorical"))
        c->type = DW_COL_CATEGORICAL;
    else
        return perr(p, "unknown type \"%s\" (expected \"numeric\" or \"categorical\")", type);
    if ((rc = get_u64(p, jc, "count", &c->count)) < 0 ||
        (rc = get_u64(p, jc, "missing", &c->missing)) < 0)
        return rc;
    if (c->count + c->missing < c->count || c->count + c->missing != rows)
        return perr(p, "count (%llu) + missing (%llu) differs from rows (%llu)",
                    (unsigned long long)c->count, (unsigned long long)c->missing,
                    (unsigned long long)rows);
    return c->type == DW_COL_NUMERIC ? parse_numeric(p, jc, c) : parse_categorical(p, jc, c);
}

static int is_hex64(const char *s)
{
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[64] == '\0';
}

static int parse_root(pctx *p, const dw_jnode *root, dw_reference *ref)
{
    int rc;
    if (!dw_jnode_is(root, DW_J_OBJECT))
        return perr(p, "not a driftwatch reference (the top level is not a JSON object)");
    const char *fmt = dw_jnode_string(dw_jnode_get(root, "format"));
    if (!fmt || strcmp(fmt, FORMAT_NAME))
        return perr(p, "not a driftwatch reference (\"format\" is not \"%s\")", FORMAT_NAME);
    const dw_jnode *jv = dw_jnode_get(root, "format_version");
    if (!dw_jnode_is(jv, DW_J_INT))
        return perr(p, "missing integer field \"format_version\"");
    if (jv->u.i != DW_REFERENCE_FORMAT_VERSION)
        return perr(p, "unsupported format_version %lld (this driftwatch reads %d)",
                    (long long)jv->u.i, DW_REFERENCE_FORMAT_VERSION);
    ref->format_version = DW_REFERENCE_FORMAT_VERSION;
    const char *sum = dw_jnode_string(dw_jnode_get(root, "checksum"));
    if (!sum)
        return perr(p, "missing string field \"checksum\"");
    if (strncmp(sum, "sha256:", 7) || !is_hex64(sum + 7))
        return perr(p, "\"checksum\" must be \"sha256:\" and 64 lowercase hex digits");
    memcpy(ref->checksum, sum, 72);
    if ((rc = get_opt_str(p, root, "model", &ref->model)) < 0 ||
        (rc = get_opt_str(p, root, "model_version", &ref->model_version)) < 0 ||
        (rc = get_opt_str(p, root, "created_at", &ref->created_at)) < 0 ||
        (rc = get_opt_str(p, root, "source", &ref->source)) < 0 ||
        (rc = get_u64(p, root, "rows", &ref->rows)) < 0)
        return rc;
    const dw_jnode *jcols = dw_jnode_get(root, "columns");
    if (!dw_jnode_is(jcols, DW_J_ARRAY))
        return perr(p, "missing array \"columns\"");
    size_t n = jcols->n;
    if (n == 0)
        return perr(p, "\"columns\" is empty");
    if (n > DW_REFERENCE_MAX_COLUMNS)
        return perr(p, "%zu columns, more than the limit of %d", n, DW_REFERENCE_MAX_COLUMNS);
    ref->cols = dw_calloc(n, sizeof *ref->cols);
    for (size_t i = 0; i < n; i++) {
        ref->ncols = i + 1;
        if ((rc = parse_column(p, &jcols->u.k[i], i, ref->rows, &ref->cols[i])) < 0)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(ref->cols[j].name, ref->cols[i].name))
                return perr(p, "listed twice (columns[%zu] and columns[%zu])", j, i);
    }
    p->col = NULL;
    /* Last, so that a structural defect gets its specific message; any
     * change that keeps the structure valid is caught here. */
    char computed[72];
    rc = dw_jdoc_checksum(root, "checksum", computed);
    if (rc < 0)
        return perr(p, "cannot compute the checksum");
    if (strcmp(computed, ref->checksum))
        return dw_seterr(p->errbuf, p->errlen, DW_ERR_CHECKSUM,
                         "%s: checksum mismatch: the file says %s but its content hashes to %s "
                         "(modified after it was written?)",
                         p->name, ref->checksum, computed);
    return 0;
}

int dw_reference_parse(const char *name, const char *json, size_t len, dw_reference **out,
                       char *errbuf, size_t errlen)
{
    *out = NULL;
    json_error_t jerr;
    dw_jdoc *doc;
    if (dw_jdoc_parse(json, len, &doc, &jerr) < 0)
        return dw_seterr(errbuf, errlen, DW_ERR_PARSE,
                         "%s: not valid JSON at line %d column %d: %s (truncated file?)", name,
                         jerr.line, jerr.column, jerr.text);
    dw_reference *ref = dw_calloc(1, sizeof *ref);
    pctx p = {name, NULL, errbuf, errlen};
    int rc = parse_root(&p, dw_jdoc_root(doc), ref);
    dw_jdoc_free(doc);
    if (rc < 0) {
        dw_reference_free(ref);
        return rc;
    }
    *out = ref;
    return 0;
}

int dw_reference_load(const char *path, dw_reference **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return dw_seterr(errbuf, errlen, DW_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return dw_seterr(errbuf, errlen, DW_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > DW_REFERENCE_MAX_FILE) {
        fclose(f);
        return dw_seterr(errbuf, errlen, DW_ERR_LIMIT,
                         "%s: file is larger than %u bytes (the reference size limit)", path,
                         DW_REFERENCE_MAX_FILE);
    }
    size_t size = (size_t)st.st_size;
    char *buf = dw_malloc(size + 1);
    size_t got = fread(buf, 1, size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != size) {
        free(buf);
        return dw_seterr(errbuf, errlen, DW_ERR_IO, "%s: read error", path);
    }
    if (size == 0) {
        free(buf);
        return dw_seterr(errbuf, errlen, DW_ERR_EMPTY, "%s: empty file", path);
    }
    buf[size] = '\0';
    int rc = dw_reference_parse(path, buf, size, out, errbuf, errlen);
    free(buf);
    return rc;
}

/* ---------- serialisation ---------- */

static json_t *opt_str(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *column_json(const dw_ref_column *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(c->name));
    json_object_set_new(o, "type",
                        json_string(c->type == DW_COL_NUMERIC ? "numeric" : "categorical"));
    json_object_set_new(o, "count", json_integer((json_int_t)c->count));
    json_object_set_new(o, "missing", json_integer((json_int_t)c->missing));
    if (c->type == DW_COL_NUMERIC) {
        json_object_set_new(o, "min", json_real(c->min));
        json_object_set_new(o, "max", json_real(c->max));
        json_object_set_new(o, "mean", json_real(c->mean));
        json_object_set_new(o, "std", json_real(c->std));
        json_object_set_new(o, "nbins", json_integer((json_int_t)c->nbins));
        json_t *e = json_array(), *b = json_array();
        for (size_t i = 0; c->edges && i <= c->nbins; i++)
            json_array_append_new(e, json_real(c->edges[i]));
        for (size_t i = 0; c->bin_counts && i < c->nbins; i++)
            json_array_append_new(b, json_integer((json_int_t)c->bin_counts[i]));
        json_object_set_new(o, "edges", e);
        json_object_set_new(o, "bin_counts", b);
    } else {
        json_t *a = json_array();
        for (size_t i = 0; i < c->ncat; i++) {
            json_t *e = json_object();
            json_object_set_new(e, "value", json_string(c->categories[i]));
            json_object_set_new(e, "count", json_integer((json_int_t)c->cat_counts[i]));
            json_array_append_new(a, e);
        }
        json_object_set_new(o, "categories", a);
        json_object_set_new(o, "other_count", json_integer((json_int_t)c->other_count));
    }
    return o;
}

int dw_reference_to_string(const dw_reference *ref, char **out, char checksum[72], char *errbuf,
                           size_t errlen)
{
    *out = NULL;
    for (size_t i = 0; i < ref->ncols; i++) {
        const dw_ref_column *c = &ref->cols[i];
        /* jansson refuses non-finite reals; say which column has one. */
        if (c->type == DW_COL_NUMERIC &&
            !(isfinite(c->min) && isfinite(c->max) && isfinite(c->mean) && isfinite(c->std)))
            return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                             "column \"%s\": statistics are not finite numbers", c->name);
    }
    json_t *root = json_object();
    json_object_set_new(root, "format", json_string(FORMAT_NAME));
    json_object_set_new(root, "format_version", json_integer(DW_REFERENCE_FORMAT_VERSION));
    json_object_set_new(root, "created_at", opt_str(ref->created_at));
    json_object_set_new(root, "model", opt_str(ref->model));
    json_object_set_new(root, "model_version", opt_str(ref->model_version));
    json_object_set_new(root, "source", opt_str(ref->source));
    json_object_set_new(root, "rows", json_integer((json_int_t)ref->rows));
    json_t *cols = json_array();
    for (size_t i = 0; i < ref->ncols; i++)
        json_array_append_new(cols, column_json(&ref->cols[i]));
    json_object_set_new(root, "columns", cols);
    char sum[72];
    if (checksum_of(root, sum) < 0) {
        json_decref(root);
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "cannot serialise the reference");
    }
    json_object_set_new(root, "checksum", json_string(sum));
    char *text = json_dumps(root, FILE_FLAGS);
    json_decref(root);
    if (!text)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "cannot serialise the reference");
    if (checksum)
        memcpy(checksum, sum, 72);
    *out = text;
    return 0;
}

int dw_reference_save(const dw_reference *ref, const char *path, char *errbuf, size_t errlen)
{
    char *text;
    char pe[512];
    int rc = dw_reference_to_string(ref, &text, NULL, pe, sizeof pe);
    if (rc < 0)
        return dw_seterr(errbuf, errlen, rc, "%s: %s", path, pe);
    dw_reference *check;
    rc = dw_reference_parse(path, text, strlen(text), &check, errbuf, errlen);
    if (rc < 0) {
        free(text);
        return rc;
    }
    dw_reference_free(check);

    size_t plen = strlen(path);
    char *tmp = dw_malloc(plen + 16);
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rc = dw_seterr(errbuf, errlen, DW_ERR_IO, "%s: cannot create a temporary file: %s", path,
                       strerror(errno));
        goto out;
    }
    /* mkstemp makes the file 0600; a reference is not a secret. */
    fchmod(fd, 0644);
    size_t len = strlen(text), off = 0;
    text[len] = '\n'; /* a final newline replaces the NUL; only len + 1 bytes are written */
    while (off < len + 1) {
        ssize_t w = write(fd, text + off, len + 1 - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        off += (size_t)w;
    }
    if (off != len + 1 || fsync(fd) < 0) {
        rc = dw_seterr(errbuf, errlen, DW_ERR_IO, "%s: write error: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        rc = dw_seterr(errbuf, errlen, DW_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    free(tmp);
    free(text);
    return rc;
}

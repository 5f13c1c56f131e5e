/* Row reader over CSV (csv.c) and JSONL (jansson), see table.h. */
#include "driftwatch/table.h"

#include "driftwatch/scanner.h"

#include "driftwatch/csv.h"
#include "driftwatch/error.h"
#include "driftwatch/hash.h"
#include "driftwatch/reference.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct dw_table {
    dw_table_format fmt;
    char *name;

    /* CSV */
    dw_csv *csv;

    /* JSONL */
    FILE *f;
    int own;
    char *line;
    size_t linecap;
    size_t lineno; /* line of the current row */
    size_t nextline;
    json_t *root;   /* the current line's value, keeps cell strings alive */
    size_t arr_idx; /* next element when root is an array */
    json_t *obj;    /* the current row object */

    /* columns: names plus an open-addressing hash (power-of-two size, load
     * factor <= 0.5) from name to index */
    char **cols;
    size_t ncols, colcap;
    long *hash;
    size_t hashcap;

    dw_cell *cells;
    size_t ncells, cellcap;
};

static const char *const META_KEYS[] = {"ts", "model", "model_version", "request_id"};

int dw_table_format_parse(const char *s, dw_table_format *out)
{
    if (!strcmp(s, "csv"))
        *out = DW_TABLE_CSV;
    else if (!strcmp(s, "jsonl") || !strcmp(s, "json") || !strcmp(s, "ndjson"))
        *out = DW_TABLE_JSONL;
    else
        return DW_ERR_INVALID;
    return 0;
}

dw_table_format dw_table_format_from_name(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash))
        return DW_TABLE_AUTO;
    dot++;
    if (!strcasecmp(dot, "csv"))
        return DW_TABLE_CSV;
    if (!strcasecmp(dot, "jsonl") || !strcasecmp(dot, "json") || !strcasecmp(dot, "ndjson"))
        return DW_TABLE_JSONL;
    return DW_TABLE_AUTO;
}

int dw_text_is_missing(const char *s, size_t len)
{
    switch (len) {
    case 0: return 1;
    case 2: return !memcmp(s, "NA", 2);
    case 3: return !memcmp(s, "NaN", 3) || !memcmp(s, "nan", 3);
    case 4: return !memcmp(s, "null", 4);
    }
    return 0;
}

int dw_parse_number(const char *s, size_t len, double *out)
{
    /* strtod alone would also take leading spaces, hex, "inf" and "nan";
     * training data with those is better kept as text, so only plain
     * decimal syntax is a number. */
    char tmp[64];
    if (len == 0 || len >= sizeof tmp)
        return DW_ERR_PARSE;
    /* Most cells are plain JSON-style numbers: the scanner's reader is
     * exact and several times faster than strtod (a third of `check`'s
     * time went to strtod). Other spellings ("+1", ".5", "1.") go on. */
    if (dw_scan_number(s, len, out) == 0)
        return isfinite(*out) ? 0 : DW_ERR_PARSE;
    int digits = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch >= '0' && ch <= '9')
            digits = 1;
        else if (ch != '+' && ch != '-' && ch != '.' && ch != 'e' && ch != 'E')
            return DW_ERR_PARSE;
    }
    if (!digits)
        return DW_ERR_PARSE;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(tmp, &end);
    if (end != tmp + len || !isfinite(v))
        return DW_ERR_PARSE;
    *out = v;
    return 0;
}

size_t dw_format_number(double x, char *buf)
{
    int n = 0;
    for (int p = 1; p <= 17; p++) {
        n = snprintf(buf, DW_NUM_TEXT_MAX, "%.*g", p, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    return (size_t)n;
}

const char *dw_cell_text(const dw_cell *c, char *buf, size_t *len)
{
    if (c->kind == DW_CELL_MISSING) {
        *len = 0;
        return NULL;
    }
    if (c->str) {
        *len = c->len;
        return c->str;
    }
    *len = dw_format_number(c->num, buf);
    return buf;
}

/* FNV-1a: short keys, no adversary that matters (the column count is
 * bounded), and simple. */
static uint64_t hash_str(const char *s)
{
    return dw_fnv1a(DW_FNV1A_SEED, s, strlen(s));
}

long dw_table_find_column(const dw_table *t, const char *name)
{
    if (!t->hashcap)
        return -1;
    size_t mask = t->hashcap - 1;
    for (size_t i = hash_str(name) & mask;; i = (i + 1) & mask) {
        long v = t->hash[i];
        if (v < 0)
            return -1;
        if (!strcmp(t->cols[v], name))
            return v;
    }
}

static void hash_insert(dw_table *t, size_t idx)
{
    size_t mask = t->hashcap - 1;
    size_t i = hash_str(t->cols[idx]) & mask;
    while (t->hash[i] >= 0)
        i = (i + 1) & mask;
    t->hash[i] = (long)idx;
}

/* Index of column name, adding it if new. Returns -1 at the column limit. */
static long column_index(dw_table *t, const char *name)
{
    long v = dw_table_find_column(t, name);
    if (v >= 0)
        return v;
    if (t->ncols >= DW_TABLE_MAX_COLUMNS)
        return -1;
    if (t->ncols == t->colcap) {
        t->colcap = t->colcap ? t->colcap * 2 : 32;
        t->cols = dw_realloc(t->cols, t->colcap * sizeof *t->cols);
    }
    t->cols[t->ncols] = dw_strdup(name);
    if (2 * (t->ncols + 1) > t->hashcap) {
        free(t->hash);
        t->hashcap = t->hashcap ? t->hashcap * 2 : 64;
        t->hash = dw_malloc(t->hashcap * sizeof *t->hash);
        for (size_t i = 0; i < t->hashcap; i++)
            t->hash[i] = -1;
        for (size_t i = 0; i < t->ncols; i++)
            hash_insert(t, i);
    }
    hash_insert(t, t->ncols);
    return (long)t->ncols++;
}

static dw_cell *new_cell(dw_table *t)
{
    if (t->ncells == t->cellcap) {
        t->cellcap = t->cellcap ? t->cellcap * 2 : 32;
        t->cells = dw_realloc(t->cells, t->cellcap * sizeof *t->cells);
    }
    dw_cell *c = &t->cells[t->ncells++];
    memset(c, 0, sizeof *c);
    return c;
}

static void text_cell(dw_cell *c, const char *s, size_t len, int csv)
{
    c->str = s;
    c->len = len;
    if (dw_text_is_missing(s, len))
        c->kind = DW_CELL_MISSING;
    else if (csv && dw_parse_number(s, len, &c->num) == 0)
        c->kind = DW_CELL_NUMBER;
    else
        c->kind = DW_CELL_STRING;
}

int dw_table_open(const char *path, dw_table_format fmt, dw_table **out, char *errbuf,
                  size_t errlen)
{
    *out = NULL;
    if (fmt == DW_TABLE_AUTO && dw_table_format_from_name(path) == DW_TABLE_AUTO)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "%s: cannot tell the format from the file name; use --format csv or "
                         "--format jsonl",
                         strcmp(path, "-") ? path : "<stdin>");
    if (!strcmp(path, "-"))
        return dw_table_open_stream(stdin, "-", fmt, 0, out, errbuf, errlen);
    FILE *f = fopen(path, "rb");
    if (!f)
        return dw_seterr(errbuf, errlen, DW_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    return dw_table_open_stream(f, path, fmt, 1, out, errbuf, errlen);
}

int dw_table_open_stream(FILE *f, const char *name, dw_table_format fmt, int own_stream,
                         dw_table **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    const char *shown = strcmp(name, "-") ? name : "<stdin>";
    if (fmt == DW_TABLE_AUTO)
        fmt = dw_table_format_from_name(name);
    if (fmt == DW_TABLE_AUTO) {
        if (own_stream)
            fclose(f);
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "%s: cannot tell the format from the file name; use --format csv or "
                         "--format jsonl",
                         shown);
    }
    dw_table *t = dw_calloc(1, sizeof *t);
    t->fmt = fmt;
    t->name = dw_strdup(shown);
    if (fmt == DW_TABLE_CSV) {
        int rc = dw_csv_open_stream(f, name, own_stream, &t->csv, errbuf, errlen);
        if (rc < 0) {
            dw_table_free(t);
            return rc;
        }
        for (size_t i = 0; i < dw_csv_ncols(t->csv); i++) {
            const char *col = dw_csv_colname(t->csv, i);
            if (strlen(col) > DW_MAX_NAME) {
                rc = dw_seterr(errbuf, errlen, DW_ERR_LIMIT,
                               "%s:%zu: column name in field %zu is longer than %d bytes", t->name,
                               dw_csv_line(t->csv), i + 1, DW_MAX_NAME);
                dw_table_free(t);
                return rc;
            }
            /* The CSV reader already refused duplicates, so indexes match. */
            column_index(t, col);
        }
    } else {
        t->f = f;
        t->own = own_stream;
        t->nextline = 1;
    }
    *out = t;
    return 0;
}

/* Reads one line (without its LF / CRLF) into t->line. 1 = line, 0 = end,
 * < 0 error. */
static int read_line(dw_table *t, size_t *len, char *errbuf, size_t errlen)
{
    size_t n = 0;
    for (;;) {
        if (t->linecap - n < 2) {
            t->linecap = t->linecap ? t->linecap * 2 : 65536;
            if (t->linecap > DW_TABLE_MAX_LINE + 2)
                t->linecap = DW_TABLE_MAX_LINE + 2;
            t->line = dw_realloc(t->line, t->linecap);
        }
        if (!fgets(t->line + n, (int)(t->linecap - n), t->f)) {
            if (ferror(t->f))
                return dw_seterr(errbuf, errlen, DW_ERR_IO, "%s:%zu: read error: %s", t->name,
                                 t->nextline, strerror(errno));
            if (n == 0)
                return 0;
            break;
        }
        n += strlen(t->line + n);
        if (n > 0 && t->line[n - 1] == '\n')
            break;
        if (n > DW_TABLE_MAX_LINE)
            return dw_seterr(errbuf, errlen, DW_ERR_LIMIT,
                             "%s:%zu: line is longer than %u bytes (the line size limit)", t->name,
                             t->nextline, DW_TABLE_MAX_LINE);
    }
    if (n && t->line[n - 1] == '\n')
        n--;
    if (n && t->line[n - 1] == '\r')
        n--;
    t->line[n] = '\0';
    *len = n;
    return 1;
}

static int is_meta(const char *key)
{
    for (size_t i = 0; i < sizeof META_KEYS / sizeof META_KEYS[0]; i++)
        if (!strcmp(key, META_KEYS[i]))
            return 1;
    return 0;
}

static int json_cell(dw_table *t, const char *name, json_t *v, char *errbuf, size_t errlen)
{
    if (json_is_object(v) || json_is_array(v))
        return 0;
    if (strlen(name) > DW_MAX_NAME)
        return dw_seterr(errbuf, errlen, DW_ERR_LIMIT,
                         "%s:%zu: column name \"%.40s...\" is longer than %d bytes", t->name,
                         t->lineno, name, DW_MAX_NAME);
    long idx = column_index(t, name);
    if (idx < 0)
        return dw_seterr(errbuf, errlen, DW_ERR_LIMIT,
                         "%s:%zu: more than %d distinct columns (the column limit)", t->name,
                         t->lineno, DW_TABLE_MAX_COLUMNS);
    dw_cell *c = new_cell(t);
    c->col = (size_t)idx;
    switch (json_typeof(v)) {
    case JSON_STRING: text_cell(c, json_string_value(v), json_string_length(v), 0); break;
    case JSON_REAL:
    case JSON_INTEGER:
        c->kind = DW_CELL_NUMBER;
        c->num = json_number_value(v);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        c->kind = DW_CELL_BOOL;
        c->boolean = json_is_true(v);
        c->str = c->boolean ? "true" : "false";
        c->len = strlen(c->str);
        break;
    default: c->kind = DW_CELL_MISSING; break;
    }
    return 0;
}

static int flatten(dw_table *t, json_t *obj, char *errbuf, size_t errlen)
{
    const char *key;
    json_t *v;
    char name[2 * DW_MAX_NAME + 2];
    t->ncells = 0;
    json_object_foreach (obj, key, v) {
        int rc;
        if (is_meta(key))
            continue;
        if (json_is_object(v) && (!strcmp(key, "features") || !strcmp(key, "prediction"))) {
            const char *k2;
            json_t *v2;
            json_object_foreach (v, k2, v2) {
                size_t n1 = strlen(key), n2 = strlen(k2);
                if (n2 > DW_MAX_NAME)
                    n2 = DW_MAX_NAME; /* too long anyway: json_cell reports it */
                memcpy(name, key, n1);
                name[n1] = '.';
                memcpy(name + n1 + 1, k2, n2);
                name[n1 + 1 + n2] = '\0';
                if ((rc = json_cell(t, name, v2, errbuf, errlen)) < 0)
                    return rc;
            }
            continue;
        }
        if ((rc = json_cell(t, key, v, errbuf, errlen)) < 0)
            return rc;
    }
    return 0;
}

static int jsonl_next(dw_table *t, char *errbuf, size_t errlen)
{
    for (;;) {
        if (t->root && json_is_array(t->root) && t->arr_idx < json_array_size(t->root)) {
            json_t *el = json_array_get(t->root, t->arr_idx++);
            if (!json_is_object(el))
                return dw_seterr(errbuf, errlen, DW_ERR_PARSE,
                                 "%s:%zu: array element %zu is not a JSON object", t->name,
                                 t->lineno, t->arr_idx);
            t->obj = el;
            return 1;
        }
        json_decref(t->root);
        t->root = NULL;
        t->obj = NULL;
        size_t len = 0;
        int rc = read_line(t, &len, errbuf, errlen);
        if (rc <= 0)
            return rc;
        t->lineno = t->nextline++;
        size_t i = 0;
        while (i < len && (t->line[i] == ' ' || t->line[i] == '\t'))
            i++;
        if (i == len)
            continue;
        json_error_t jerr;
        t->root = json_loadb(t->line, len,
                             JSON_DECODE_INT_AS_REAL | JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (!t->root)
            return dw_seterr(errbuf, errlen, DW_ERR_PARSE,
                             "%s:%zu: malformed JSON at column %d: %s", t->name, t->lineno,
                             jerr.column, jerr.text);
        if (json_is_object(t->root)) {
            t->obj = t->root;
            return 1;
        }
        if (!json_is_array(t->root))
            return dw_seterr(errbuf, errlen, DW_ERR_PARSE,
                             "%s:%zu: expected a JSON object (or an array of objects)", t->name,
                             t->lineno);
        t->arr_idx = 0;
    }
}

int dw_table_next(dw_table *t, const dw_cell **cells, size_t *ncells, char *errbuf, size_t errlen)
{
    int rc;
    *cells = NULL;
    *ncells = 0;
    if (t->fmt == DW_TABLE_CSV) {
        rc = dw_csv_next(t->csv, errbuf, errlen);
        if (rc <= 0)
            return rc;
        t->ncells = 0;
        for (size_t i = 0; i < t->ncols; i++) {
            size_t len;
            const char *s = dw_csv_field(t->csv, i, &len);
            dw_cell *c = new_cell(t);
            c->col = i;
            text_cell(c, s, len, 1);
        }
    } else {
        rc = jsonl_next(t, errbuf, errlen);
        if (rc <= 0)
            return rc;
        if ((rc = flatten(t, t->obj, errbuf, errlen)) < 0)
            return rc;
    }
    *cells = t->cells;
    *ncells = t->ncells;
    return 1;
}

size_t dw_table_ncolumns(const dw_table *t)
{
    return t->ncols;
}

const char *dw_table_column(const dw_table *t, size_t i)
{
    return i < t->ncols ? t->cols[i] : NULL;
}

size_t dw_table_line(const dw_table *t)
{
    return t->fmt == DW_TABLE_CSV ? dw_csv_line(t->csv) : t->lineno;
}

const char *dw_table_name(const dw_table *t)
{
    return t->name;
}

dw_table_format dw_table_get_format(const dw_table *t)
{
    return t->fmt;
}

const char *dw_table_meta(const dw_table *t, const char *key)
{
    if (t->fmt != DW_TABLE_JSONL || !t->obj || !is_meta(key))
        return NULL;
    return json_string_value(json_object_get(t->obj, key));
}

void dw_table_free(dw_table *t)
{
    if (!t)
        return;
    dw_csv_free(t->csv);
    if (t->own && t->f)
        fclose(t->f);
    json_decref(t->root);
    free(t->line);
    for (size_t i = 0; i < t->ncols; i++)
        free(t->cols[i]);
    free(t->cols);
    free(t->hash);
    free(t->cells);
    free(t->name);
    free(t);
}

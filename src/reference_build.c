/* `driftwatch reference build`: training data -> reference statistics.
 * See reference_build.h for the rules; docs/reference-format.md for the
 * output. */
#include "driftwatch/reference_build.h"

#include "driftwatch/error.h"
#include "driftwatch/hash.h"
#include "driftwatch/timestamp.h"
#include "driftwatch/histogram.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void dw_build_options_init(dw_build_options *o)
{
    memset(o, 0, sizeof *o);
    o->format = DW_TABLE_AUTO;
    o->bins = DW_DEFAULT_BINS;
    o->max_categories = DW_DEFAULT_MAX_CATEGORIES;
}

/* ---------- numeric ---------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int dw_build_numeric(dw_ref_column *c, double *v, size_t n, size_t bins)
{
    if (n == 0 || bins < 1 || bins > DW_MAX_BINS)
        return DW_ERR_INVALID;
    qsort(v, n, sizeof *v, cmp_double);
    /* long double accumulation: the mean of 1e6 values keeps ~19 digits,
     * and the two-pass variance avoids the cancellation of sum(x^2). */
    long double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    double mean = (double)(sum / (long double)n);
    long double ss = 0;
    for (size_t i = 0; i < n; i++) {
        long double d = (long double)v[i] - mean;
        ss += d * d;
    }
    double sd = n > 1 ? (double)sqrtl(ss / (long double)(n - 1)) : 0.0;
    if (!isfinite(mean) || !isfinite(sd))
        return DW_ERR_INVALID;
    c->type = DW_COL_NUMERIC;
    c->count = n;
    c->min = v[0];
    c->max = v[n - 1];
    /* Rounding could put the mean a hair outside [min, max]. */
    c->mean = mean < c->min ? c->min : mean > c->max ? c->max : mean;
    c->std = sd;

    size_t distinct = 1;
    for (size_t i = 1; i < n; i++)
        distinct += v[i] != v[i - 1];
    /* A discrete column gets a point bin per value and, between two
     * neighbours, a gap bin holding the open interval (v[j-1], v[j]): its
     * upper edge is the largest double below v[j], so it needs no format
     * change and old readers bin it the same way. Without the gap bins a
     * serving value between two reference values is counted with the next
     * value up, and a move down into the gaps is invisible to KS. */
    bool gaps = distinct <= bins && 2 * distinct - 1 <= DW_MAX_BINS;
    size_t nb = gaps ? 2 * distinct - 1 : distinct < bins ? distinct : bins;
    free(c->edges);
    free(c->bin_counts);
    c->edges = dw_malloc((nb + 1) * sizeof *c->edges);
    c->edges[0] = v[0];
    size_t k = 0; /* upper edges written so far */
    if (distinct <= bins) {
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && v[i] == v[i - 1])
                continue;
            double below = nextafter(v[i], -INFINITY);
            /* No gap bin when no double lies between the neighbours. */
            if (gaps && k > 0 && below > c->edges[k])
                c->edges[++k] = below;
            c->edges[++k] = v[i];
        }
    } else {
        for (size_t i = 1; i <= bins; i++) {
            /* 0-based index of the value at 1-based rank ceil(i*n/bins). */
            size_t idx = (size_t)(((unsigned __int128)i * n + bins - 1) / bins) - 1;
            if (k == 0 || v[idx] > c->edges[k])
                c->edges[++k] = v[idx];
        }
    }
    c->nbins = k;
    c->bin_counts = dw_calloc(k, sizeof *c->bin_counts);
    /* Count with the same lookup the serving side uses, so that loading and
     * binning agree exactly. */
    for (size_t i = 0; i < n; i++) {
        long b = dw_ref_bin(c, v[i]);
        if (b < 0 || (size_t)b >= k)
            return DW_ERR_INVALID; /* cannot happen: edges span [min, max] */
        c->bin_counts[b]++;
    }
    return 0;
}

/* ---------- categorical ---------- */

typedef struct catent {
    const char *s;
    size_t len;
    uint64_t count;
} catent;

static int cmp_catent(const void *a, const void *b)
{
    const catent *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    size_t m = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->s, y->s, m);
    if (r)
        return r;
    return (x->len > y->len) - (x->len < y->len);
}

static int build_cat(dw_ref_column *c, catent *e, size_t n, uint64_t pooled, size_t maxcat)
{
    qsort(e, n, sizeof *e, cmp_catent);
    size_t ncat = n < maxcat ? n : maxcat;
    c->type = DW_COL_CATEGORICAL;
    c->categories = dw_calloc(ncat ? ncat : 1, sizeof *c->categories);
    c->cat_counts = dw_calloc(ncat ? ncat : 1, sizeof *c->cat_counts);
    c->ncat = ncat;
    c->count = pooled;
    c->other_count = pooled;
    for (size_t i = 0; i < n; i++) {
        c->count += e[i].count;
        if (i < ncat) {
            c->categories[i] = dw_strndup(e[i].s, e[i].len);
            c->cat_counts[i] = e[i].count;
        } else {
            c->other_count += e[i].count;
        }
    }
    return dw_cat_index_build(c) < 0 ? DW_ERR_INVALID : 0;
}

int dw_build_categorical(dw_ref_column *col, const char *const *values, const uint64_t *counts,
                         size_t n, uint64_t pooled, size_t max_categories)
{
    catent *e = dw_calloc(n ? n : 1, sizeof *e);
    for (size_t i = 0; i < n; i++) {
        e[i].s = values[i];
        e[i].len = strlen(values[i]);
        e[i].count = counts[i];
        if (e[i].len == 0) {
            free(e);
            return DW_ERR_INVALID;
        }
    }
    int rc = build_cat(col, e, n, pooled, max_categories);
    free(e);
    return rc;
}

/* ---------- per-column accumulation ---------- */

/* Distinct values of one categorical column: open addressing, power-of-two
 * size, load factor <= 0.5, at most DW_BUILD_MAX_DISTINCT entries. */
typedef struct catmap {
    catent *slots;
    size_t cap, n;
} catmap;

static void catmap_free(catmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free((char *)m->slots[i].s);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static catent *catmap_slot(catent *slots, size_t cap, const char *s, size_t len)
{
    size_t mask = cap - 1;
    for (size_t i = dw_fnv1a(DW_FNV1A_SEED, s, len) & mask;; i = (i + 1) & mask)
        if (!slots[i].s || (slots[i].len == len && !memcmp(slots[i].s, s, len)))
            return &slots[i];
}

/* Adds k occurrences of s; returns 0, or 1 if it had to be pooled. */
static int catmap_add(catmap *m, const char *s, size_t len, uint64_t k)
{
    if (len == 0 || len > DW_MAX_NAME || memchr(s, '\0', len))
        return 1;
    if (m->cap) {
        catent *e = catmap_slot(m->slots, m->cap, s, len);
        if (e->s) {
            e->count += k;
            return 0;
        }
    }
    if (m->n >= DW_BUILD_MAX_DISTINCT)
        return 1;
    if (2 * (m->n + 1) > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        catent *ns = dw_calloc(ncap, sizeof *ns);
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].s)
                *catmap_slot(ns, ncap, m->slots[i].s, m->slots[i].len) = m->slots[i];
        free(m->slots);
        m->slots = ns;
        m->cap = ncap;
    }
    catent *e = catmap_slot(m->slots, m->cap, s, len);
    e->s = dw_strndup(s, len);
    e->len = len;
    e->count = k;
    m->n++;
    return 0;
}

enum { FORCE_NONE = 0, FORCE_NUMERIC, FORCE_CATEGORICAL };

typedef struct bcol {
    int selected;
    int force;
    int is_cat;
    int switched; /* CSV: became categorical after numbers were stored */
    uint64_t count;
    double *vals;
    size_t nvals, capvals;
    catmap map;
    uint64_t pooled;
} bcol;

typedef struct builder {
    const dw_build_options *o;
    dw_table *t;
    bcol *cols;
    size_t ncols;
    uint64_t rows;
    uint64_t total_values;
    int rerun;
} builder;

static int in_list(const char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], name))
            return 1;
    return 0;
}

static void bcol_reset(bcol *b)
{
    free(b->vals);
    catmap_free(&b->map);
    b->vals = NULL;
    b->nvals = b->capvals = 0;
    b->count = 0;
    b->pooled = 0;
}

/* Makes sure cols[] covers every column the table has seen so far. */
static void sync_columns(builder *bd)
{
    size_t n = dw_table_ncolumns(bd->t);
    if (n <= bd->ncols)
        return;
    bd->cols = dw_realloc(bd->cols, n * sizeof *bd->cols);
    for (size_t i = bd->ncols; i < n; i++) {
        bcol *b = &bd->cols[i];
        memset(b, 0, sizeof *b);
        const char *name = dw_table_column(bd->t, i);
        const dw_build_options *o = bd->o;
        b->selected = !o->columns || in_list(o->columns, o->ncolumns, name);
        if (in_list(o->numeric, o->nnumeric, name))
            b->force = FORCE_NUMERIC;
        else if (in_list(o->categorical, o->ncategorical, name))
            b->force = FORCE_CATEGORICAL;
        b->is_cat = b->force == FORCE_CATEGORICAL;
    }
    bd->ncols = n;
}

static int push_value(builder *bd, bcol *b, double x, char *errbuf, size_t errlen)
{
    if (bd->total_values >= DW_BUILD_MAX_VALUES)
        return dw_seterr(errbuf, errlen, DW_ERR_LIMIT,
                         "%s:%zu: more than %u numeric values in total (the build's memory "
                         "limit); select fewer columns with --columns",
                         dw_table_name(bd->t), dw_table_line(bd->t), DW_BUILD_MAX_VALUES);
    if (b->nvals == b->capvals) {
        b->capvals = b->capvals ? b->capvals * 2 : 1024;
        b->vals = dw_realloc(b->vals, b->capvals * sizeof *b->vals);
    }
    b->vals[b->nvals++] = x;
    bd->total_values++;
    return 0;
}

static void add_text(bcol *b, const char *s, size_t len)
{
    b->pooled += (uint64_t)catmap_add(&b->map, s, len, 1);
}

/* The column turned out categorical: its stored numbers become categories
 * named by their shortest round-trip form (exact for JSON numbers; for CSV
 * the input is read again, see reference_build.h). */
static void to_categorical(builder *bd, bcol *b)
{
    char buf[DW_NUM_TEXT_MAX];
    if (b->nvals && dw_table_get_format(bd->t) == DW_TABLE_CSV) {
        b->switched = 1;
        bd->rerun = 1;
    }
    for (size_t i = 0; i < b->nvals; i++) {
        size_t len = dw_format_number(b->vals[i], buf);
        add_text(b, buf, len);
    }
    bd->total_values -= b->nvals;
    free(b->vals);
    b->vals = NULL;
    b->nvals = b->capvals = 0;
    b->is_cat = 1;
}

static int add_cell(builder *bd, const dw_cell *cell, char *errbuf, size_t errlen)
{
    bcol *b = &bd->cols[cell->col];
    if (!b->selected || cell->kind == DW_CELL_MISSING)
        return 0;
    b->count++;
    if (!b->is_cat) {
        if (cell->kind == DW_CELL_NUMBER)
            return push_value(bd, b, cell->num, errbuf, errlen);
        if (b->force == FORCE_NUMERIC)
            return dw_seterr(errbuf, errlen, DW_ERR_PARSE,
                             "%s:%zu: column \"%s\": \"%.*s\" is not a number (the column is "
                             "forced numeric by --numeric)",
                             dw_table_name(bd->t), dw_table_line(bd->t),
                             dw_table_column(bd->t, cell->col),
                             (int)(cell->len > 40 ? 40 : cell->len), cell->str ? cell->str : "");
        to_categorical(bd, b);
    }
    char buf[DW_NUM_TEXT_MAX];
    size_t len;
    const char *s = dw_cell_text(cell, buf, &len);
    add_text(b, s, len);
    return 0;
}

static int read_pass(builder *bd, char *errbuf, size_t errlen)
{
    const dw_cell *cells;
    size_t n;
    int rc;
    bd->rows = 0;
    while ((rc = dw_table_next(bd->t, &cells, &n, errbuf, errlen)) == 1) {
        sync_columns(bd);
        bd->rows++;
        for (size_t i = 0; i < n; i++)
            if ((rc = add_cell(bd, &cells[i], errbuf, errlen)) < 0)
                return rc;
    }
    return rc;
}

static long find_col(const builder *bd, const char *name)
{
    return dw_table_find_column(bd->t, name);
}

static int check_names(const builder *bd, const char *const *list, size_t n, const char *opt,
                       char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (find_col(bd, list[i]) < 0)
            return dw_seterr(errbuf, errlen, DW_ERR_NOT_FOUND,
                             "%s: column \"%s\" (from %s) is not in the input",
                             dw_table_name(bd->t), list[i], opt);
        if (bd->o->columns && !in_list(bd->o->columns, bd->o->ncolumns, list[i]))
            return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                             "column \"%s\" is named by %s but not by --columns", list[i], opt);
    }
    return 0;
}

static int finish_column(builder *bd, size_t idx, dw_ref_column *c, char *errbuf, size_t errlen)
{
    bcol *b = &bd->cols[idx];
    const char *name = dw_table_column(bd->t, idx);
    c->name = dw_strdup(name);
    c->missing = bd->rows - b->count;
    if (!b->is_cat && b->count == 0) {
        if (b->force == FORCE_NUMERIC)
            return dw_seterr(errbuf, errlen, DW_ERR_EMPTY,
                             "%s: column \"%s\": no non-missing values, so no numeric reference "
                             "can be built",
                             dw_table_name(bd->t), name);
        b->is_cat = 1;
    }
    if (!b->is_cat) {
        if (dw_build_numeric(c, b->vals, b->nvals, bd->o->bins) < 0)
            return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                             "%s: column \"%s\": values too large to summarise (the mean or "
                             "standard deviation overflows a double)",
                             dw_table_name(bd->t), name);
        return 0;
    }
    catent *e = dw_calloc(b->map.n ? b->map.n : 1, sizeof *e);
    size_t k = 0;
    for (size_t i = 0; i < b->map.cap; i++)
        if (b->map.slots[i].s)
            e[k++] = b->map.slots[i];
    int rc = build_cat(c, e, k, b->pooled, bd->o->max_categories);
    free(e);
    if (rc < 0)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "%s: column \"%s\": cannot index the categories", dw_table_name(bd->t),
                         name);
    return 0;
}

static char *now_rfc3339(void)
{
    char buf[DW_TS_FORMAT_SIZE];
    dw_ts_format_as((int64_t)time(NULL) * 1000, DW_TS_SECONDS, buf, sizeof buf);
    return dw_strdup(buf);
}

/* Copies stdin into an anonymous temporary file so it can be read twice. */
static FILE *spool_stdin(char *errbuf, size_t errlen)
{
    FILE *tf = tmpfile();
    if (!tf) {
        dw_seterr(errbuf, errlen, DW_ERR_IO, "<stdin>: cannot create a temporary file: %s",
                  strerror(errno));
        return NULL;
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
        if (fwrite(buf, 1, n, tf) != n) {
            dw_seterr(errbuf, errlen, DW_ERR_IO, "<stdin>: cannot spool to a temporary file: %s",
                      strerror(errno));
            fclose(tf);
            return NULL;
        }
    if (ferror(stdin)) {
        dw_seterr(errbuf, errlen, DW_ERR_IO, "<stdin>: read error");
        fclose(tf);
        return NULL;
    }
    rewind(tf);
    return tf;
}

static int validate_options(const dw_build_options *o, char *errbuf, size_t errlen)
{
    if (o->bins < 1 || o->bins > DW_MAX_BINS)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "--bins must be between 1 and %d",
                         DW_MAX_BINS);
    if (o->max_categories > DW_MAX_CATEGORIES)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "--max-categories must be between 0 and %d", DW_MAX_CATEGORIES);
    for (size_t i = 0; i < o->nnumeric; i++)
        if (in_list(o->categorical, o->ncategorical, o->numeric[i]))
            return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                             "column \"%s\" is forced both numeric and categorical", o->numeric[i]);
    for (size_t i = 0; i < o->ncolumns; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(o->columns[i], o->columns[j]))
                return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                                 "column \"%s\" is named twice in --columns", o->columns[i]);
    return 0;
}

static void builder_free(builder *bd)
{
    for (size_t i = 0; i < bd->ncols; i++)
        bcol_reset(&bd->cols[i]);
    free(bd->cols);
    dw_table_free(bd->t);
    bd->cols = NULL;
    bd->ncols = 0;
    bd->t = NULL;
}

int dw_reference_build(const char *input, const dw_build_options *o, dw_reference **out,
                       char *errbuf, size_t errlen)
{
    *out = NULL;
    int rc = validate_options(o, errbuf, errlen);
    if (rc < 0)
        return rc;
    int is_stdin = !strcmp(input, "-");
    const char *shown = is_stdin ? "<stdin>" : input;
    dw_table_format fmt = o->format ? o->format : dw_table_format_from_name(input);
    if (fmt == DW_TABLE_AUTO)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "%s: cannot tell the format from the file name; use --format csv or "
                         "--format jsonl",
                         shown);
    FILE *f;
    if (is_stdin)
        f = fmt == DW_TABLE_CSV ? spool_stdin(errbuf, errlen) : stdin;
    else
        f = fopen(input, "rb");
    if (!f)
        return is_stdin ? DW_ERR_IO
                        : dw_seterr(errbuf, errlen, DW_ERR_IO, "%s: cannot open: %s", input,
                                    strerror(errno));
    int own_f = f != stdin;

    builder bd;
    memset(&bd, 0, sizeof bd);
    bd.o = o;
    dw_reference *ref = NULL;
    /* At most two passes: the second only when a CSV column switched to
     * categorical after numbers (see reference_build.h). */
    for (int pass = 0; pass < 2; pass++) {
        rc = dw_table_open_stream(f, input, fmt, 0, &bd.t, errbuf, errlen);
        if (rc < 0)
            goto out;
        sync_columns(&bd);
        rc = read_pass(&bd, errbuf, errlen);
        if (rc < 0)
            goto out;
        if (!bd.rerun)
            break;
        if (fseek(f, 0, SEEK_SET) < 0) {
            rc = dw_seterr(errbuf, errlen, DW_ERR_IO,
                           "%s: cannot read the input a second time (not seekable): %s", shown,
                           strerror(errno));
            goto out;
        }
        clearerr(f);
        /* Columns that switched are categorical from the start this time;
         * all others behave exactly as before, so no new switch happens. */
        for (size_t i = 0; i < bd.ncols; i++) {
            bcol *b = &bd.cols[i];
            bcol_reset(b);
            if (b->switched)
                b->force = FORCE_CATEGORICAL;
            b->is_cat = b->force == FORCE_CATEGORICAL;
            b->switched = 0;
        }
        bd.total_values = 0;
        bd.rerun = 0;
        dw_table_free(bd.t);
        bd.t = NULL;
    }
    if (bd.rows == 0) {
        rc = dw_seterr(errbuf, errlen, DW_ERR_EMPTY, "%s: empty input: no data rows", shown);
        goto out;
    }
    if ((rc = check_names(&bd, o->columns, o->ncolumns, "--columns", errbuf, errlen)) < 0 ||
        (rc = check_names(&bd, o->numeric, o->nnumeric, "--numeric", errbuf, errlen)) < 0 ||
        (rc = check_names(&bd, o->categorical, o->ncategorical, "--categorical", errbuf, errlen)) <
            0)
        goto out;

    ref = dw_calloc(1, sizeof *ref);
    ref->format_version = DW_REFERENCE_FORMAT_VERSION;
    ref->model = o->model ? dw_strdup(o->model) : NULL;
    ref->model_version = o->model_version ? dw_strdup(o->model_version) : NULL;
    ref->created_at = o->created_at ? dw_strdup(o->created_at) : now_rfc3339();
    ref->source = dw_strdup(o->source ? o->source : shown);
    ref->rows = bd.rows;
    size_t nsel = 0;
    for (size_t i = 0; i < bd.ncols; i++)
        nsel += bd.cols[i].selected;
    if (nsel == 0) {
        rc = dw_seterr(errbuf, errlen, DW_ERR_EMPTY, "%s: the input has no columns", shown);
        goto out;
    }
    if (nsel > DW_REFERENCE_MAX_COLUMNS) {
        rc = dw_seterr(errbuf, errlen, DW_ERR_LIMIT,
                       "%s: %zu columns, more than a reference holds (%d); select some with "
                       "--columns",
                       shown, nsel, DW_REFERENCE_MAX_COLUMNS);
        goto out;
    }
    ref->cols = dw_calloc(nsel, sizeof *ref->cols);
    for (size_t k = 0; k < nsel; k++) {
        size_t idx = k;
        if (o->columns)
            idx = (size_t)find_col(&bd, o->columns[k]);
        else
            for (size_t i = 0, seen = 0; i < bd.ncols; i++)
                if (bd.cols[i].selected && seen++ == k) {
                    idx = i;
                    break;
                }
        ref->ncols = k + 1;
        if ((rc = finish_column(&bd, idx, &ref->cols[k], errbuf, errlen)) < 0)
            goto out;
    }
    rc = 0;
out:
    builder_free(&bd);
    if (own_f)
        fclose(f);
    if (rc < 0) {
        dw_reference_free(ref);
        return rc;
    }
    *out = ref;
    return 0;
}

#include "driftwatch/check.h"

#include "driftwatch/error.h"
#include "driftwatch/sample.h"
#include "driftwatch/status.h"
#include "driftwatch/value.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct col_counts {
    uint64_t missing, type_errors;
    uint64_t *bins; /* dw_sample_nbins(ref) */
    size_t nnew;    /* unseen categories tracked by name */
    char **new_names;
    uint64_t *new_counts;
    uint64_t new_overflow;
    const dw_thresholds *th;
} col_counts;

struct dw_check_report {
    const dw_reference *ref;
    char *input;
    uint64_t rows;
    col_counts *cols;
    dw_column_result *res;
    dw_thresholds *th; /* per column, resolved */
    size_t drifted, quality;
    size_t nunmonitored; /* input columns the reference does not have */
    char **unmonitored;
    char **bound;      /* per column: the input column it follows, NULL if absent */
    size_t nambiguous; /* input columns left out: their column follows another */
};

static void count_unseen(col_counts *c, const char *s, size_t len)
{
    for (size_t k = 0; k < c->nnew; k++)
        if (strlen(c->new_names[k]) == len && memcmp(c->new_names[k], s, len) == 0) {
            c->new_counts[k]++;
            return;
        }
    if (c->nnew >= DW_CHECK_MAX_NEW_CATEGORIES || len > DW_MAX_NAME) {
        c->new_overflow++;
        return;
    }
    if ((c->nnew & (c->nnew - 1)) == 0) { /* grow at powers of two */
        size_t cap = c->nnew ? c->nnew * 2 : 4;
        c->new_names = dw_realloc(c->new_names, cap * sizeof *c->new_names);
        c->new_counts = dw_realloc(c->new_counts, cap * sizeof *c->new_counts);
    }
    c->new_names[c->nnew] = dw_strndup(s, len);
    c->new_counts[c->nnew++] = 1;
}

static void count_value(const dw_ref_column *ref, col_counts *c, const dw_value *v)
{
    long idx = 0;
    const char *text = NULL;
    size_t len = 0;
    char scratch[DW_VALUE_SCRATCH];
    switch (dw_value_classify(ref, v, &idx, &text, &len, scratch)) {
    case DW_CLASS_MISSING: c->missing++; break;
    case DW_CLASS_TYPE_ERROR: c->type_errors++; break;
    case DW_CLASS_BIN: c->bins[idx + 1]++; break; /* bins[0] is the underflow */
    case DW_CLASS_CATEGORY: c->bins[idx]++; break;
    case DW_CLASS_UNSEEN: count_unseen(c, text, len); break;
    }
}

static void cell_value(const dw_cell *cell, dw_value *v)
{
    memset(v, 0, sizeof *v);
    switch (cell->kind) {
    case DW_CELL_MISSING: v->kind = DW_VAL_MISSING; break;
    case DW_CELL_NUMBER:
        v->kind = DW_VAL_NUMBER;
        v->num = cell->num;
        break;
    case DW_CELL_BOOL:
        v->kind = DW_VAL_BOOL;
        v->b = cell->boolean != 0;
        break;
    case DW_CELL_STRING:
        v->kind = DW_VAL_STRING;
        v->str = cell->str;
        v->len = cell->len;
        break;
    }
}

void dw_check_report_free(dw_check_report *r)
{
    if (!r)
        return;
    for (size_t j = 0; r->cols && j < r->ref->ncols; j++) {
        col_counts *c = &r->cols[j];
        free(c->bins);
        for (size_t k = 0; k < c->nnew; k++)
            free(c->new_names[k]);
        free(c->new_names);
        free(c->new_counts);
    }
    for (size_t i = 0; i < r->nunmonitored; i++)
        free(r->unmonitored[i]);
    free(r->unmonitored);
    for (size_t j = 0; r->bound && j < r->ref->ncols; j++)
        free(r->bound[j]);
    free(r->bound);
    free(r->cols);
    free(r->res);
    free(r->th);
    free(r->input);
    free(r);
}

/* Whether the row's version (opts->version_field: JSONL metadata, or a
 * column) is opts->version; *vcol caches the field's table column (-2: not
 * looked up yet). */
static bool row_selected(const dw_table *t, const dw_check_options *opts, const dw_cell *cells,
                         size_t ncells, long *vcol)
{
    /* JSONL keeps ts, model, model_version, request_id as metadata */
    const char *meta = dw_table_meta(t, opts->version_field);
    if (meta)
        return !strcmp(meta, opts->version);
    if (*vcol == -2)
        *vcol = dw_table_find_column(t, opts->version_field);
    for (size_t i = 0; *vcol >= 0 && i < ncells; i++) {
        if ((long)cells[i].col != *vcol)
            continue;
        char num[40];
        const char *s = cells[i].str;
        size_t len = cells[i].len;
        if (cells[i].kind == DW_CELL_NUMBER) {
            len = (size_t)snprintf(num, sizeof num, "%.17g", cells[i].num);
            s = num;
        }
        return s && len == strlen(opts->version) && !memcmp(s, opts->version, len);
    }
    return false;
}

static void sample_of(const dw_check_report *r, size_t j, dw_sample *s)
{
    const col_counts *c = &r->cols[j];
    memset(s, 0, sizeof *s);
    s->ref = &r->ref->cols[j];
    s->missing = c->missing;
    s->type_errors = c->type_errors;
    s->bins = c->bins;
    s->nnew = c->nnew;
    s->new_counts = c->new_counts;
    s->new_names = (const char *const *)c->new_names;
    s->new_overflow = c->new_overflow;
}

int dw_check_run(const dw_reference *ref, const char *input, const dw_check_options *opts,
                 dw_check_report **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    size_t nc = ref->ncols;
    dw_check_report *r = dw_calloc(1, sizeof *r);
    r->ref = ref;
    r->input = dw_strdup(input);
    r->cols = dw_calloc(nc + 1, sizeof *r->cols);
    r->res = dw_calloc(nc + 1, sizeof *r->res);
    r->th = dw_calloc(nc + 1, sizeof *r->th);
    r->bound = dw_calloc(nc + 1, sizeof *r->bound);
    for (size_t j = 0; j < nc; j++) {
        r->cols[j].bins = dw_calloc(dw_sample_nbins(&ref->cols[j]) + 1, sizeof(uint64_t));
        r->th[j] = opts->thresholds;
    }
    for (size_t i = 0; i < opts->noverrides; i++) {
        int j = dw_reference_find(ref, opts->overrides[i].column);
        if (j < 0) {
            dw_check_report_free(r);
            return dw_seterr(errbuf, errlen, DW_ERR_NOT_FOUND,
                             "threshold override: column \"%s\" is not in the reference",
                             opts->overrides[i].column);
        }
        r->th[j] = opts->overrides[i].th;
    }

    dw_table *t = NULL;
    int rc = dw_table_open(input, opts->format, &t, errbuf, errlen);
    if (rc < 0) {
        dw_check_report_free(r);
        return rc;
    }
    /* Map table columns (which can appear as rows go, in JSONL) to
     * reference columns, lazily. -2: not looked up yet, -1: unmonitored. */
    size_t mapcap = 64;
    long *map = dw_malloc(mapcap * sizeof *map);
    for (size_t i = 0; i < mapcap; i++)
        map[i] = -2;
    uint8_t *seen = dw_calloc(nc + 1, 1);
    const dw_cell *cells;
    size_t ncells;
    long vcol = -2;
    while ((rc = dw_table_next(t, &cells, &ncells, errbuf, errlen)) == 1) {
        if (opts->version && !row_selected(t, opts, cells, ncells, &vcol))
            continue;
        r->rows++;
        memset(seen, 0, nc);
        for (size_t i = 0; i < ncells; i++) {
            size_t tc = cells[i].col;
            if (tc >= mapcap) {
                size_t nm = mapcap;
                while (nm <= tc)
                    nm *= 2;
                map = dw_realloc(map, nm * sizeof *map);
                for (size_t k = mapcap; k < nm; k++)
                    map[k] = -2;
                mapcap = nm;
            }
            if (map[tc] == -2) {
                const char *name = dw_table_column(t, tc);
                map[tc] = dw_reference_match(ref, name, strlen(name));
                /* A flat column follows the first input column it matches:
                 * a second one (top-level "score" and "prediction.score")
                 * is left out rather than mixed in. */
                if (map[tc] >= 0 && r->bound[map[tc]]) {
                    map[tc] = -1;
                    r->nambiguous++;
                } else if (map[tc] >= 0) {
                    r->bound[map[tc]] = dw_strdup(name);
                }
                if (map[tc] < 0) {
                    r->unmonitored =
                        dw_realloc(r->unmonitored, (r->nunmonitored + 1) * sizeof *r->unmonitored);
                    r->unmonitored[r->nunmonitored++] = dw_strdup(dw_table_column(t, tc));
                }
            }
            long j = map[tc];
            if (j < 0 || seen[j])
                continue;
            seen[j] = 1;
            dw_value v;
            cell_value(&cells[i], &v);
            count_value(&ref->cols[j], &r->cols[j], &v);
        }
        /* A reference column absent from a row is missing in that row. */
        for (size_t j = 0; j < nc; j++)
            if (!seen[j])
                r->cols[j].missing++;
    }
    free(map);
    free(seen);
    dw_table_free(t);
    if (rc < 0) {
        dw_check_report_free(r);
        return rc;
    }
    if (r->rows == 0) {
        dw_check_report_free(r);
        if (opts->version)
            return dw_seterr(errbuf, errlen, DW_ERR_EMPTY, "%s: no row with %s \"%s\"", input,
                             opts->version_field, opts->version);
        return dw_seterr(errbuf, errlen, DW_ERR_EMPTY, "%s: no data rows", input);
    }
    for (size_t j = 0; j < nc; j++) {
        dw_sample s;
        sample_of(r, j, &s);
        dw_column_evaluate(&s, &r->res[j]);
    }
    r->drifted = dw_drift_decide(r->res, nc, r->th, 1);
    for (size_t j = 0; j < nc; j++)
        if (r->res[j].quality_issue)
            r->quality++;
    *out = r;
    return 0;
}

void dw_check_sample(const dw_check_report *r, size_t j, dw_sample *out)
{
    sample_of(r, j, out);
}

uint64_t dw_check_rows(const dw_check_report *r)
{
    return r->rows;
}

size_t dw_check_drifted(const dw_check_report *r)
{
    return r->drifted;
}

size_t dw_check_quality_issues(const dw_check_report *r)
{
    return r->quality;
}

size_t dw_check_absent_columns(const dw_check_report *r)
{
    size_t n = 0;
    for (size_t j = 0; j < r->ref->ncols; j++)
        n += r->bound[j] == NULL;
    return n;
}

const char *dw_check_input_column(const dw_check_report *r, size_t j)
{
    return j < r->ref->ncols ? r->bound[j] : NULL;
}

/* Appends up to max names, then how many more. */
static void list_names(char *buf, size_t len, size_t *o, const char *const *names, size_t n,
                       size_t max)
{
    for (size_t i = 0; i < n && i < max; i++)
        dw_appendf(buf, len, o, "%s%s", i ? ", " : "", names[i]);
    if (n > max)
        dw_appendf(buf, len, o, ", ... (%zu more)", n - max);
}

bool dw_check_absent_warning(const dw_check_report *r, char *buf, size_t len)
{
    size_t nc = r->ref->ncols, absent = dw_check_absent_columns(r);
    if (absent * 2 <= nc)
        return false;
    const char **names = dw_calloc(absent + 1, sizeof *names);
    size_t k = 0, o = 0;
    for (size_t j = 0; j < nc; j++)
        if (!r->bound[j])
            names[k++] = r->ref->cols[j].name;
    dw_appendf(buf, len, &o, "%zu of %zu reference columns never occur in %s (", absent, nc,
               r->input);
    list_names(buf, len, &o, names, k, 4);
    dw_appendf(buf, len, &o, "), whose own columns are ");
    if (r->nunmonitored)
        list_names(buf, len, &o, (const char *const *)r->unmonitored, r->nunmonitored, 4);
    else
        dw_appendf(buf, len, &o, "none besides the matched ones");
    dw_appendf(buf, len, &o,
               ". A reference column matches the field of the same dotted path "
               "(features.amount) or, when no reference column name has a dot, any field "
               "with the same last name; see docs/record-format.md");
    free(names);
    return true;
}

const dw_column_result *dw_check_results(const dw_check_report *r, size_t *ncols)
{
    *ncols = r->ref->ncols;
    return r->res;
}

/* Indices of the named unseen categories of column j, by count desc. */
static size_t sorted_new(const col_counts *c, size_t *order)
{
    size_t n = 0;
    for (size_t k = 0; k < c->nnew; k++)
        order[n++] = k;
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0; k--) {
            size_t a = order[k - 1], b = order[k];
            if (c->new_counts[a] > c->new_counts[b] ||
                (c->new_counts[a] == c->new_counts[b] &&
                 strcmp(c->new_names[a], c->new_names[b]) <= 0))
                break;
            order[k - 1] = b;
            order[k] = a;
        }
    return n;
}

json_t *dw_check_report_json(const dw_check_report *r)
{
    json_t *cols = json_array();
    size_t *order = dw_calloc(DW_CHECK_MAX_NEW_CATEGORIES + 1, sizeof *order);
    for (size_t j = 0; j < r->ref->ncols; j++) {
        const dw_column_result *res = &r->res[j];
        const col_counts *c = &r->cols[j];
        const dw_thresholds *th = &r->th[j];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(r->ref->cols[j].name));
        json_object_set_new(o, "input_column",
                            r->bound[j] ? json_string(r->bound[j]) : json_null());
        json_object_set_new(o, "type", json_string(dw_status_col_type_name(res->type)));
        json_object_set_new(o, "count", json_integer((json_int_t)res->count));
        json_object_set_new(o, "missing", json_integer((json_int_t)res->missing));
        json_object_set_new(o, "missing_rate", dw_json_number(res->quality.missing_rate));
        json_object_set_new(o, "reference_missing_rate",
                            dw_json_number(res->quality.ref_missing_rate));
        json_object_set_new(o, "type_errors", json_integer((json_int_t)res->quality.type_errors));
        json_object_set_new(o, "drift", json_boolean(res->drift));
        json_object_set_new(o, "quality_issue", json_boolean(res->quality_issue));
        json_object_set_new(o, "quality_reasons", dw_status_quality_reasons_json(res));
        /* The test objects as the status document renders them, with KS's
         * critical value instead of p_adjusted (a column member here,
         * docs/check.md). */
        if (res->has_ks)
            json_object_set_new(
                o, "ks", dw_status_test_json(res, DW_STATUS_TEST_KS, DW_STATUS_TEST_CRITICAL));
        if (res->has_chi2)
            json_object_set_new(o, "chi2", dw_status_test_json(res, DW_STATUS_TEST_CHI2, 0));
        json_object_set_new(o, "psi", dw_json_number(res->psi));
        json_object_set_new(o, "psi_critical", dw_json_number(res->psi_critical));
        json_object_set_new(o, "p_adjusted", dw_json_number(res->p_adjusted));
        if (res->type == DW_COL_NUMERIC)
            json_object_set_new(o, "out_of_range_rate",
                                dw_json_number(res->quality.out_of_range_rate));
        else {
            json_t *nc = json_array();
            size_t n = sorted_new(c, order);
            for (size_t i = 0; i < n; i++)
                json_array_append_new(nc, json_string(c->new_names[order[i]]));
            json_object_set_new(o, "new_categories", nc);
            json_t *ncc = json_object();
            for (size_t i = 0; i < n; i++)
                json_object_set_new(ncc, c->new_names[order[i]],
                                    json_integer((json_int_t)c->new_counts[order[i]]));
            json_object_set_new(o, "new_category_counts", ncc);
            /* Unseen values beyond the categories tracked by name. */
            json_object_set_new(o, "new_category_overflow",
                                json_integer((json_int_t)c->new_overflow));
            json_object_set_new(o, "unseen_rate", dw_json_number(res->quality.unseen_rate));
        }
        json_object_set_new(o, "thresholds", dw_status_thresholds_json(th, true));
        json_array_append_new(cols, o);
    }
    free(order);
    json_t *unmon = json_array();
    for (size_t i = 0; i < r->nunmonitored; i++)
        json_array_append_new(unmon, json_string(r->unmonitored[i]));
    json_t *doc = json_object();
    json_object_set_new(doc, "version", json_string("1"));
    json_object_set_new(doc, "input", json_string(r->input));
    json_object_set_new(doc, "reference_model",
                        r->ref->model ? json_string(r->ref->model) : json_null());
    json_object_set_new(doc, "reference_checksum", json_string(r->ref->checksum));
    json_object_set_new(doc, "rows", json_integer((json_int_t)r->rows));
    json_object_set_new(doc, "drift", json_boolean(r->drifted > 0));
    json_object_set_new(doc, "drifted_columns", json_integer((json_int_t)r->drifted));
    json_object_set_new(doc, "quality_issues", json_integer((json_int_t)r->quality));
    json_object_set_new(doc, "columns", cols);
    json_object_set_new(doc, "unmonitored_columns", unmon);
    return doc;
}

/* prec > 0: fixed with prec decimals; prec < 0: %g with -prec digits. */
static void fmt_num(char *buf, size_t len, double x, int prec)
{
    if (!isfinite(x))
        snprintf(buf, len, "-");
    else if (prec >= 0)
        snprintf(buf, len, "%.*f", prec, x);
    else
        snprintf(buf, len, "%.*g", -prec, x);
}

void dw_check_report_print(const dw_check_report *r, FILE *f)
{
    size_t w = 6;
    for (size_t j = 0; j < r->ref->ncols; j++) {
        size_t l = strlen(r->ref->cols[j].name);
        if (l > w)
            w = l;
    }
    fprintf(f, "  %-*s  %-11s %9s %7s %7s %9s %7s %11s %9s  %s\n", (int)w, "COLUMN", "TYPE", "N",
            "MISS%", "KS_D", "KS_P", "PSI", "CHI2", "CHI2_P", "VERDICT");
    size_t *order = dw_calloc(DW_CHECK_MAX_NEW_CATEGORIES + 1, sizeof *order);
    for (size_t j = 0; j < r->ref->ncols; j++) {
        const dw_column_result *res = &r->res[j];
        const col_counts *c = &r->cols[j];
        char ksd[16] = "-", ksp[16] = "-", psi[16], chi[24] = "-", chip[16] = "-";
        if (res->has_ks) {
            fmt_num(ksd, sizeof ksd, res->ks.statistic, 4);
            fmt_num(ksp, sizeof ksp, res->ks.p_value, -2);
        }
        fmt_num(psi, sizeof psi, res->psi, 4);
        if (res->has_chi2) {
            fmt_num(chi, sizeof chi, res->chi2.statistic, 1);
            fmt_num(chip, sizeof chip, res->chi2.p_value, -2);
        }
        const char *verdict = res->drift             ? "DRIFT"
                              : res->quality_issue   ? "QUALITY"
                              : !res->enough_samples ? "too few samples"
                                                     : "ok";
        fprintf(f, "%s %-*s  %-11s %9llu %6.1f%% %7s %9s %7s %11s %9s  %s",
                res->drift || res->quality_issue ? "*" : " ", (int)w, r->ref->cols[j].name,
                res->type == DW_COL_NUMERIC ? "numeric" : "categorical",
                (unsigned long long)res->count, 100.0 * res->quality.missing_rate, ksd, ksp, psi,
                chi, chip, verdict);
        if (res->drift && res->quality_issue)
            fputs(" +QUALITY", f);
        size_t n = sorted_new(c, order);
        if (n || c->new_overflow) {
            uint64_t total = res->count ? res->count : 1;
            fputs("  new:", f);
            for (size_t i = 0; i < n && i < 5; i++)
                fprintf(f, " %s (%.1f%%)", c->new_names[order[i]],
                        100.0 * (double)c->new_counts[order[i]] / (double)total);
            if (n > 5)
                fprintf(f, " +%zu more", n - 5);
            if (c->new_overflow)
                fprintf(f, " +%llu values of further categories",
                        (unsigned long long)c->new_overflow);
        }
        fputc('\n', f);
    }
    free(order);
    fprintf(f, "\n%llu rows; %zu of %zu columns drifted, %zu with data-quality issues\n",
            (unsigned long long)r->rows, r->drifted, r->ref->ncols, r->quality);
    size_t nrenamed = 0;
    for (size_t j = 0; j < r->ref->ncols; j++)
        if (r->bound[j] && strcmp(r->bound[j], r->ref->cols[j].name) != 0) {
            fprintf(f, "%s %s <- %s",
                    nrenamed ? "," : "columns matched by their last name:", r->ref->cols[j].name,
                    r->bound[j]);
            nrenamed++;
        }
    if (nrenamed)
        fputc('\n', f);
    if (r->nunmonitored)
        fprintf(f, "%zu input column(s) not in the reference were ignored\n", r->nunmonitored);
    if (r->nambiguous)
        fprintf(f,
                "%zu input column(s) were left out: their reference column already follows "
                "another input column with the same last name\n",
                r->nambiguous);
}

/* Reference performance from a labelled table (see perf_reference.h). */
#include "driftwatch/perf_reference.h"

#include "driftwatch/config.h"
#include "driftwatch/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Column indexes, resolved as columns appear (JSONL tables learn their
 * columns row by row). */
enum { COL_LABEL, COL_PREDICTED, COL_SCORE, NCOLS };

static bool text_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    return a && b && alen == blen && memcmp(a, b, alen) == 0;
}

static int check_columns(const dw_perf *p, const dw_perf_columns *cols, char *errbuf, size_t errlen)
{
    if (!cols->label)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "reference performance: the label column is not set");
    if (dw_perf_get_kind(p) == DW_PERF_REGRESSION) {
        if (!cols->predicted)
            return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                             "reference performance: regression needs the prediction column");
        return DW_OK;
    }
    if (!cols->positive)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "reference performance: classification needs the positive class");
    if (!cols->predicted && !cols->score)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "reference performance: classification needs a prediction or a score "
                         "column");
    return DW_OK;
}

/* Counts one row; returns false when it had to be skipped. */
static bool count_row(const dw_perf *p, const dw_perf_columns *cols, const dw_cell *cell[NCOLS],
                      uint64_t *c)
{
    if (!cell[COL_LABEL])
        return false;
    if (dw_perf_get_kind(p) == DW_PERF_REGRESSION) {
        if (!cell[COL_PREDICTED] || cell[COL_LABEL]->kind != DW_CELL_NUMBER ||
            cell[COL_PREDICTED]->kind != DW_CELL_NUMBER)
            return false;
        dw_perf_add_reg(p, c, cell[COL_PREDICTED]->num, cell[COL_LABEL]->num);
        return true;
    }
    char lbuf[DW_NUM_TEXT_MAX], pbuf[DW_NUM_TEXT_MAX];
    size_t llen = 0, plen = 0, poslen = strlen(cols->positive);
    const char *label = dw_cell_text(cell[COL_LABEL], lbuf, &llen);
    if (!label)
        return false;
    dw_perf_obs o = {.actual_positive = text_equal(label, llen, cols->positive, poslen)};
    if (cell[COL_SCORE] && cell[COL_SCORE]->kind == DW_CELL_NUMBER) {
        o.has_score = true;
        o.score = cell[COL_SCORE]->num;
    }
    if (cols->predicted) {
        const char *pred =
            cell[COL_PREDICTED] ? dw_cell_text(cell[COL_PREDICTED], pbuf, &plen) : NULL;
        if (!pred)
            return false;
        o.predicted_positive = text_equal(pred, plen, cols->positive, poslen);
        o.correct = text_equal(pred, plen, label, llen);
    } else {
        if (!o.has_score)
            return false;
        o.predicted_positive = o.score >= cols->threshold;
        o.correct = o.predicted_positive == o.actual_positive;
    }
    dw_perf_add_class(p, c, &o);
    return true;
}

int dw_perf_count_table(const dw_perf *p, const dw_perf_columns *cols, dw_table *t, uint64_t *c,
                        uint64_t *skipped, char *errbuf, size_t errlen)
{
    int rc = check_columns(p, cols, errbuf, errlen);
    if (rc)
        return rc;
    const char *names[NCOLS] = {cols->label, cols->predicted,
                                dw_perf_get_kind(p) == DW_PERF_CLASSIFICATION ? cols->score : NULL};
    long idx[NCOLS] = {-1, -1, -1};
    uint64_t skip = 0;
    const dw_cell *cells;
    size_t ncells;
    while ((rc = dw_table_next(t, &cells, &ncells, errbuf, errlen)) == 1) {
        const dw_cell *cell[NCOLS] = {NULL, NULL, NULL};
        for (int k = 0; k < NCOLS; k++)
            if (names[k] && idx[k] < 0)
                idx[k] = dw_table_find_column(t, names[k]);
        for (size_t i = 0; i < ncells; i++)
            for (int k = 0; k < NCOLS; k++)
                if (idx[k] >= 0 && cells[i].col == (size_t)idx[k] &&
                    cells[i].kind != DW_CELL_MISSING)
                    cell[k] = &cells[i];
        if (!count_row(p, cols, cell, c))
            skip++;
    }
    if (skipped)
        *skipped = skip;
    if (rc < 0)
        return rc;
    for (int k = 0; k < NCOLS; k++)
        if (names[k] && idx[k] < 0)
            return dw_seterr(errbuf, errlen, DW_ERR_NOT_FOUND, "%s: no column \"%s\"",
                             dw_table_name(t), names[k]);
    return DW_OK;
}

static const char *kind_name(dw_perf_kind k)
{
    return k == DW_PERF_REGRESSION ? "regression" : "classification";
}

json_t *dw_perf_reference_to_json(const dw_perf_result *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "kind", json_string(kind_name(r->kind)));
    json_object_set_new(o, "n", json_integer((json_int_t)r->n));
    for (int m = 0; m < DW_PERF_METRIC_COUNT; m++)
        if (!isnan(r->m[m].value))
            json_object_set_new(o, dw_perf_metric_name((dw_perf_metric)m),
                                json_real(r->m[m].value));
    return o;
}

int dw_perf_reference_from_json(const json_t *block, dw_perf_kind *kind,
                                double ref[DW_PERF_METRIC_COUNT], uint64_t *n, char *errbuf,
                                size_t errlen)
{
    for (int m = 0; m < DW_PERF_METRIC_COUNT; m++)
        ref[m] = NAN;
    *n = 0;
    if (!json_is_object(block))
        return dw_seterr(errbuf, errlen, DW_ERR_PARSE, "performance: not an object");
    const char *k = json_string_value(json_object_get(block, "kind"));
    if (k && strcmp(k, "classification") == 0)
        *kind = DW_PERF_CLASSIFICATION;
    else if (k && strcmp(k, "regression") == 0)
        *kind = DW_PERF_REGRESSION;
    else
        return dw_seterr(errbuf, errlen, DW_ERR_PARSE,
                         "performance: \"kind\" must be \"classification\" or \"regression\"");
    const char *key;
    json_t *v;
    json_object_foreach ((json_t *)block, key, v) {
        if (strcmp(key, "kind") == 0)
            continue;
        if (strcmp(key, "n") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0)
                return dw_seterr(errbuf, errlen, DW_ERR_PARSE,
                                 "performance: \"n\" must be a non-negative integer");
            *n = (uint64_t)json_integer_value(v);
            continue;
        }
        dw_perf_metric m;
        if (dw_perf_metric_parse(key, &m) != DW_OK)
            return dw_seterr(errbuf, errlen, DW_ERR_PARSE, "performance: unknown metric \"%s\"",
                             key);
        if (dw_perf_metric_kind(m) != *kind)
            return dw_seterr(errbuf, errlen, DW_ERR_PARSE,
                             "performance: metric \"%s\" is not a %s metric", key,
                             kind_name(*kind));
        if (!json_is_number(v) || !isfinite(json_number_value(v)))
            return dw_seterr(errbuf, errlen, DW_ERR_PARSE,
                             "performance: \"%s\" must be a finite number", key);
        ref[m] = json_number_value(v);
    }
    return DW_OK;
}

int dw_perf_reference_values(const dw_perf_config *pc, double ref[DW_PERF_METRIC_COUNT],
                             uint64_t *n, char *errbuf, size_t errlen)
{
    for (int k = 0; k < DW_PERF_METRIC_COUNT; k++)
        ref[k] = NAN;
    if (n)
        *n = 0;
    if (!pc->reference_data)
        return 0;
    dw_perf_spec spec = {
        .kind = (dw_perf_kind)pc->kind, .score_bins = pc->score_bins, .ece_bins = pc->ece_bins};
    dw_perf *layout = dw_perf_new(&spec, errbuf, errlen);
    if (!layout)
        return DW_ERR_INVALID;
    dw_table *t = NULL;
    int rc = dw_table_open(pc->reference_data, DW_TABLE_AUTO, &t, errbuf, errlen);
    if (rc < 0) {
        dw_perf_free(layout);
        return rc;
    }
    uint64_t *c = dw_calloc(dw_perf_width(layout), sizeof *c);
    uint64_t skipped = 0;
    dw_perf_columns cols = {.label = pc->reference_label,
                            .predicted = pc->predicted,
                            .score = pc->score,
                            .positive = pc->positive,
                            .threshold = pc->threshold};
    rc = dw_perf_count_table(layout, &cols, t, c, &skipped, errbuf, errlen);
    dw_table_free(t);
    if (rc == 0) {
        dw_perf_result r;
        dw_perf_compute(layout, c, pc->confidence, &r);
        for (int k = 0; k < DW_PERF_METRIC_COUNT; k++)
            ref[k] = r.m[k].value;
        if (n)
            *n = r.n;
        if (r.n == 0)
            rc = dw_seterr(errbuf, errlen, DW_ERR_EMPTY,
                           "%s: no labelled row to compute reference performance from",
                           pc->reference_data);
    }
    free(c);
    dw_perf_free(layout);
    return rc;
}

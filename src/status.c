/* The status snapshot (driftwatch/status.h): its lifetime and its one JSON
 * rendering, plus the JSON encoders of a column result that the status
 * document and the notification documents share. */
#include "driftwatch/status.h"
#include "driftwatch/status_perf.h"

#include "driftwatch/check_compare.h"
#include "driftwatch/error.h"
#include "driftwatch/timestamp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

dw_status *dw_status_new(void)
{
    dw_status *s = dw_calloc(1, sizeof *s);
    s->watermark_ms = INT64_MIN;
    s->max_event_ms = INT64_MIN;
    s->refs = 1;
    return s;
}

dw_status *dw_status_retain(dw_status *s)
{
    if (s)
        __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
    return s;
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void free_latency(dw_status_latency *l)
{
    if (!l)
        return;
    for (size_t k = 0; k < l->nslos; k++)
        free(l->slos[k].name);
    free(l->slos);
    free(l->quantiles);
    free(l->values);
    free(l->field);
    free(l->unit);
    free(l);
}

static void free_comparison(dw_status_comparison *c)
{
    for (size_t k = 0; k < c->ncolumns; k++)
        free(c->columns[k].name);
    free(c->columns);
    if (c->latency)
        free(c->latency->unit);
    free(c->latency);
    free(c->model);
    free(c->baseline);
    free(c->candidate);
    free(c->window);
    free(c->reason);
}

static void free_model(dw_status_model *m)
{
    for (size_t j = 0; j < m->ncolumns; j++) {
        dw_status_column *c = &m->columns[j];
        for (size_t w = 0; c->cells && w < m->nwindows; w++) {
            dw_status_cell *x = &c->cells[w];
            free_strings(x->histogram.labels, x->histogram.n);
            free(x->histogram.reference);
            free(x->histogram.current);
            free_strings(x->new_categories, x->nnew);
            free(x->history);
        }
        free(c->cells);
        free(c->name);
    }
    free(m->columns);
    for (size_t w = 0; w < m->nwindows; w++) {
        free(m->windows[w].name);
        free_latency(m->windows[w].latency);
    }
    free(m->windows);
    free(m->model);
    free(m->version);
    free(m->reference_path);
    free(m->reference_checksum);
}

void dw_status_release(dw_status *s)
{
    /* acq_rel: the thread that frees sees every other holder's reads done. */
    if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (size_t i = 0; i < s->nmodels; i++)
        free_model(&s->models[i]);
    free(s->models);
    for (size_t i = 0; i < s->ncomparisons; i++)
        free_comparison(&s->comparisons[i]);
    free(s->comparisons);
    dw_status_perf_free(s->perf);
    free(s);
}

const char *dw_status_col_type_name(dw_col_type t)
{
    return t == DW_COL_NUMERIC ? "numeric" : "categorical";
}

json_t *dw_json_number(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

json_t *dw_json_time(int64_t ms)
{
    char buf[40];
    dw_ts_format(ms, buf, sizeof buf);
    return json_string(buf);
}

static json_t *time_or_null(int64_t ms)
{
    return ms == INT64_MIN ? json_null() : dw_json_time(ms);
}

json_t *dw_status_test_json(const dw_column_result *r, dw_status_test t, unsigned extra)
{
    json_t *o;
    if (t == DW_STATUS_TEST_KS) {
        if (!r->has_ks)
            return NULL;
        o = json_pack("{s:o,s:o}", "statistic", dw_json_number(r->ks.statistic), "p_value",
                      dw_json_number(r->ks.p_value));
    } else {
        if (!r->has_chi2)
            return NULL;
        o = json_pack("{s:o,s:i,s:o}", "statistic", dw_json_number(r->chi2.statistic), "df",
                      r->chi2.df, "p_value", dw_json_number(r->chi2.p_value));
    }
    if (extra & DW_STATUS_TEST_P_ADJUSTED)
        json_object_set_new(o, "p_adjusted", dw_json_number(r->p_adjusted));
    /* Only KS has a critical value in the result (chi2's decision uses
     * its p-value alone). */
    if ((extra & DW_STATUS_TEST_CRITICAL) && t == DW_STATUS_TEST_KS)
        json_object_set_new(o, "critical", dw_json_number(r->ks_critical));
    if ((extra & DW_STATUS_TEST_N_EFF) && t == DW_STATUS_TEST_KS)
        json_object_set_new(o, "n_eff", dw_json_number(r->ks.n_eff));
    return o;
}

json_t *dw_status_tests_json(const dw_column_result *r)
{
    json_t *t = json_object();
    if (r->has_ks)
        json_object_set_new(t, "ks",
                            dw_status_test_json(r, DW_STATUS_TEST_KS, DW_STATUS_TEST_P_ADJUSTED));
    if (r->has_chi2)
        json_object_set_new(t, "chi2",
                            dw_status_test_json(r, DW_STATUS_TEST_CHI2, DW_STATUS_TEST_P_ADJUSTED));
    json_object_set_new(t, "psi", dw_json_number(r->psi));
    if (r->recent_panes) {
        /* The window alone was not flagged, its newest panes were. */
        json_t *g = json_pack("{s:I,s:o}", "panes", (json_int_t)r->recent_panes, "psi",
                              dw_json_number(r->recent_psi));
        if (r->has_ks)
            json_object_set_new(g, "ks", dw_json_number(r->recent_ks));
        json_object_set_new(t, "recent", g);
    }
    return t;
}

json_t *dw_status_quality_json(const dw_column_result *r)
{
    const dw_quality *q = &r->quality;
    return json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:I}", "values", (json_int_t)q->total,
                     "missing_rate", dw_json_number(q->missing_rate), "ref_missing_rate",
                     dw_json_number(q->ref_missing_rate), "out_of_range_rate",
                     dw_json_number(q->out_of_range_rate), "unseen_rate",
                     dw_json_number(q->unseen_rate), "type_error_rate",
                     dw_json_number(q->type_error_rate), "type_errors", (json_int_t)q->type_errors);
}

json_t *dw_status_thresholds_json(const dw_thresholds *t, bool quality)
{
    json_t *o = json_pack("{s:o,s:o,s:o,s:I}", "alpha", dw_json_number(t->alpha), "psi",
                          dw_json_number(t->psi_threshold), "ks", dw_json_number(t->ks_threshold),
                          "min_samples", (json_int_t)t->min_samples);
    if (quality) {
        json_object_set_new(o, "missing_rate_delta", dw_json_number(t->missing_rate_delta));
        json_object_set_new(o, "type_error_rate", dw_json_number(t->type_error_rate));
        json_object_set_new(o, "out_of_range_rate", dw_json_number(t->out_of_range_rate));
        json_object_set_new(o, "unseen_rate", dw_json_number(t->unseen_rate));
    }
    return o;
}

json_t *dw_status_quality_reasons_json(const dw_column_result *r)
{
    /* In the order of the DW_QUALITY_* bits (drift.h). */
    static const char *const reasons[] = {"missing", "type_errors", "out_of_range", "unseen"};
    json_t *why = json_array();
    for (unsigned b = 0; b < sizeof reasons / sizeof *reasons; b++)
        if (r->quality_reasons & (1u << b))
            json_array_append_new(why, json_string(reasons[b]));
    return why;
}

json_t *dw_json_strings(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *reals(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_real(v[i]));
    return a;
}

static json_t *cell_json(const dw_status_cell *x)
{
    json_t *o = json_object();
    if (x->evaluated) {
        const dw_column_result *r = &x->result;
        json_object_set_new(o, "samples", json_integer((json_int_t)r->count));
        json_object_set_new(o, "tests", dw_status_tests_json(r));
        json_object_set_new(o, "quality", dw_status_quality_json(r));
        json_object_set_new(o, "drift", json_boolean(r->drift));
        json_object_set_new(o, "quality_issue", json_boolean(r->quality_issue));
        json_object_set_new(o, "enough_samples", json_boolean(r->enough_samples));
    }
    json_object_set_new(o, "state", json_string(dw_alert_state_name(x->state)));
    json_object_set_new(o, "quality_state", json_string(dw_alert_state_name(x->quality_state)));
    const dw_status_hist *h = &x->histogram;
    json_object_set_new(o, "histogram",
                        json_pack("{s:o,s:o,s:o}", "labels", dw_json_strings(h->labels, h->n),
                                  "reference", reals(h->reference, h->n), "current",
                                  reals(h->current, h->n)));
    json_object_set_new(o, "new_categories", dw_json_strings(x->new_categories, x->nnew));
    json_t *hist = json_array();
    for (size_t i = 0; i < x->nhistory; i++)
        json_array_append_new(hist, json_pack("{s:o,s:o}", "at", dw_json_time(x->history[i].at_ms),
                                              "psi", dw_json_number(x->history[i].psi)));
    json_object_set_new(o, "psi_history", hist);
    return o;
}

char *dw_status_quantile_key(double q, char *buf, size_t len)
{
    snprintf(buf, len, "p%g", q * 100);
    for (char *p = buf; *p; p++)
        if (*p == '.')
            *p = '_';
    return buf;
}

static json_t *latency_json(const dw_status_latency *l)
{
    json_t *o = json_object();
    json_object_set_new(o, "field", json_string(l->field));
    json_object_set_new(o, "unit", json_string(l->unit));
    json_object_set_new(o, "relative_error", json_real(l->relative_error));
    json_object_set_new(o, "samples", json_integer((json_int_t)l->samples));
    json_t *qs = json_object();
    for (size_t k = 0; k < l->nquantiles; k++) {
        char key[32];
        dw_status_quantile_key(l->quantiles[k], key, sizeof key);
        json_object_set_new(o, key, dw_json_number(l->values[k]));
        json_object_set_new(qs, key, json_real(l->quantiles[k]));
    }
    json_object_set_new(o, "quantiles", qs);
    json_t *slos = json_array();
    for (size_t k = 0; k < l->nslos; k++) {
        const dw_status_slo *slo = &l->slos[k];
        json_array_append_new(slos, json_pack("{s:s,s:f,s:f,s:o,s:s}", "name", slo->name,
                                              "quantile", slo->quantile, "max", slo->max, "value",
                                              dw_json_number(slo->value), "state",
                                              dw_alert_state_name(slo->state)));
    }
    json_object_set_new(o, "slos", slos);
    return o;
}

json_t *dw_status_comparison_json(const dw_status_comparison *c, bool all_columns)
{
    json_t *cols = json_array();
    for (size_t k = 0; k < c->ncolumns; k++) {
        const dw_status_compare_column *sc = &c->columns[k];
        if (!all_columns && sc->c.verdict == DW_VERDICT_PASS)
            continue;
        json_t *o = dw_compare_column_json(&sc->c, sc->name);
        json_object_set_new(o, "state", json_string(dw_alert_state_name(sc->state)));
        json_array_append_new(cols, o);
    }
    json_t *lat = json_null();
    if (c->latency) {
        const dw_latency_compare *l = &c->latency->cmp;
        lat = json_pack("{s:f,s:o,s:o,s:s,s:o,s:f,s:f,s:I,s:I,s:s}", "quantile", l->q, "baseline",
                        dw_json_number(l->baseline), "candidate", dw_json_number(l->candidate),
                        "unit", c->latency->unit, "ratio", dw_json_number(l->ratio), "max_ratio",
                        c->latency->max_ratio, "relative_error", c->latency->relative_error,
                        "baseline_samples", (json_int_t)l->n_baseline, "candidate_samples",
                        (json_int_t)l->n_candidate, "verdict", dw_verdict_name(l->verdict));
    }
    return json_pack(
        "{s:s,s:s,s:o,s:s,s:o,s:o,s:s,s:s,s:o,s:o,s:o,s:o}", "model", c->model, "baseline",
        c->baseline, "candidate", c->candidate ? json_string(c->candidate) : json_null(), "window",
        c->window, "window_start", dw_json_time(c->start_ms), "window_end", dw_json_time(c->end_ms),
        "verdict", dw_verdict_name(c->verdict), "reason", c->reason, "summary",
        dw_compare_summary_json(&c->summary), "thresholds",
        dw_status_thresholds_json(&c->thresholds, false), "columns", cols, "latency", lat);
}

static json_t *model_json(const dw_status_model *m)
{
    json_t *wins = json_array();
    for (size_t w = 0; w < m->nwindows; w++) {
        const dw_status_window *sw = &m->windows[w];
        json_t *wo;
        json_array_append_new(
            wins, wo = json_pack("{s:s,s:I,s:I,s:o,s:o,s:o}", "name", sw->name, "length_seconds",
                                 (json_int_t)(sw->length_ms / 1000), "slide_seconds",
                                 (json_int_t)(sw->slide_ms / 1000), "start",
                                 sw->evaluated ? dw_json_time(sw->start_ms) : json_null(), "end",
                                 sw->evaluated ? dw_json_time(sw->end_ms) : json_null(),
                                 "evaluated", json_boolean(sw->evaluated)));
        if (sw->latency)
            json_object_set_new(wo, "latency", latency_json(sw->latency));
    }
    json_t *cols = json_array();
    for (size_t j = 0; j < m->ncolumns; j++) {
        const dw_status_column *c = &m->columns[j];
        json_t *cells = json_object();
        for (size_t w = 0; w < m->nwindows; w++)
            json_object_set_new(cells, m->windows[w].name, cell_json(&c->cells[w]));
        json_array_append_new(cols, json_pack("{s:s,s:s,s:I,s:o}", "name", c->name, "type",
                                              dw_status_col_type_name(c->type), "reference_samples",
                                              (json_int_t)c->reference_samples, "windows", cells));
    }
    return json_pack("{s:s,s:o,s:{s:s,s:s,s:I},s:o,s:o}", "model", m->model, "model_version",
                     m->version ? json_string(m->version) : json_null(), "reference", "path",
                     m->reference_path, "checksum", m->reference_checksum, "rows",
                     (json_int_t)m->reference_rows, "windows", wins, "columns", cols);
}

json_t *dw_status_json(const dw_status *s)
{
    json_t *models = json_array();
    for (size_t i = 0; i < s->nmodels; i++)
        json_array_append_new(models, model_json(&s->models[i]));
    json_t *cmp = json_array();
    for (size_t i = 0; i < s->ncomparisons; i++)
        json_array_append_new(cmp, dw_status_comparison_json(&s->comparisons[i], true));
    json_t *o = json_pack("{s:s,s:o,s:o,s:o,s:o}", "version", "1", "watermark",
                          time_or_null(s->watermark_ms), "max_event_time",
                          time_or_null(s->max_event_ms), "models", models, "comparisons", cmp);
    if (s->perf)
        json_object_set_new(o, "performance", dw_status_perf_json(s->perf));
    return o;
}

/* The performance part of the status snapshot as JSON (status_perf.h). */
#include "driftwatch/status_perf.h"

#include "driftwatch/status.h"

#include <math.h>
#include <stdlib.h>

const double dw_status_perf_quantiles[3] = {0.5, 0.9, 0.99};
const char *const dw_status_perf_quantile_names[3] = {"0.5", "0.9", "0.99"};

void dw_status_perf_counters(const dw_status_perf *p,
                             dw_status_perf_counter out[DW_STATUS_PERF_NCOUNTERS])
{
    const dw_join_stats *j = &p->join;
    const dw_status_perf_counter c[DW_STATUS_PERF_NCOUNTERS] = {
        {"predictions", j->predictions},
        {"labels", j->labels},
        {"matched", j->matched},
        {"matched_early", j->matched_early},
        {"expired", j->expired},
        {"evicted_predictions", j->evicted_predictions},
        {"duplicate_predictions", j->duplicate_predictions},
        {"duplicate_labels", j->duplicate_labels},
        {"late_labels", j->late_labels},
        {"orphan_labels", j->orphan_labels},
        {"evicted_labels", j->evicted_labels},
        {"negative_delays", j->negative_delays},
        {"predictions_without_key", p->predictions_without_key},
        {"labels_without_key", p->labels_without_key},
        {"labels_without_value", p->labels_without_value},
    };
    for (size_t i = 0; i < DW_STATUS_PERF_NCOUNTERS; i++)
        out[i] = c[i];
}

static json_t *value_json(const dw_perf_value *v)
{
    return json_pack("{s:o,s:o,s:o}", "value", dw_json_number(v->value), "lower",
                     dw_json_number(v->lo), "upper", dw_json_number(v->hi));
}

static json_t *result_json(const dw_status_perf_result *r)
{
    if (!r->present)
        return json_null();
    json_t *o = json_object();
    json_object_set_new(o, "start", dw_json_time(r->start_ms));
    json_object_set_new(o, "end", dw_json_time(r->end_ms));
    json_object_set_new(o, "provisional", json_boolean(r->provisional));
    json_object_set_new(o, "labelled", json_integer((json_int_t)r->realised.n));
    json_object_set_new(o, "unlabelled", json_integer((json_int_t)r->realised.unlabelled));
    json_object_set_new(o, "coverage", dw_json_number(r->realised.coverage));
    json_t *ms = json_object();
    for (int k = 0; k < DW_PERF_METRIC_COUNT; k++)
        if (dw_perf_metric_kind((dw_perf_metric)k) == r->realised.kind)
            json_object_set_new(ms, dw_perf_metric_name((dw_perf_metric)k),
                                value_json(&r->realised.m[k]));
    json_object_set_new(o, "metrics", ms);
    if (r->has_estimate) {
        const dw_cbpe_result *e = &r->estimated;
        json_object_set_new(o, "estimated",
                            json_pack("{s:I,s:o,s:o,s:o,s:o,s:o}", "predictions", (json_int_t)e->n,
                                      "accuracy", value_json(&e->accuracy), "precision",
                                      value_json(&e->precision), "recall", value_json(&e->recall),
                                      "f1", value_json(&e->f1), "auc", value_json(&e->auc)));
    }
    return o;
}

static json_t *window_json(const dw_status_perf_model *m, const dw_status_perf_window *w)
{
    json_t *rules = json_array();
    for (size_t k = 0; k < w->nrules; k++)
        json_array_append_new(rules, json_pack("{s:s,s:o,s:o,s:s}", "metric",
                                               dw_perf_metric_name(w->rules[k].metric), "reference",
                                               dw_json_number(w->rules[k].reference), "margin",
                                               dw_json_number(w->rules[k].margin), "state",
                                               dw_alert_state_name(w->rules[k].state)));
    json_t *hist = json_array();
    for (size_t k = 0; k < w->nhistory; k++) {
        const dw_status_perf_point *h = &w->history[k];
        json_t *ho = json_object();
        json_object_set_new(ho, "end", dw_json_time(h->end_ms));
        json_object_set_new(ho, "labelled", json_integer((json_int_t)h->labelled));
        json_object_set_new(ho, "unlabelled", json_integer((json_int_t)h->unlabelled));
        for (int mi = 0; mi < DW_PERF_METRIC_COUNT; mi++)
            if (dw_perf_metric_kind((dw_perf_metric)mi) == m->kind)
                json_object_set_new(ho, dw_perf_metric_name((dw_perf_metric)mi),
                                    dw_json_number(h->m[mi]));
        if (m->estimate) {
            json_object_set_new(ho, "estimated_accuracy", dw_json_number(h->est_accuracy));
            json_object_set_new(ho, "estimated_auc", dw_json_number(h->est_auc));
        }
        json_array_append_new(hist, ho);
    }
    return json_pack("{s:s,s:o,s:o,s:o,s:I,s:o}", "name", w->name, "final", result_json(&w->final),
                     "provisional", result_json(&w->provisional), "rules", rules, "dropped",
                     (json_int_t)w->dropped, "history", hist);
}

json_t *dw_status_perf_json(const dw_status_perf *p)
{
    json_t *lab = json_object();
    dw_status_perf_counter c[DW_STATUS_PERF_NCOUNTERS];
    dw_status_perf_counters(p, c);
    for (size_t i = 0; i < DW_STATUS_PERF_NCOUNTERS; i++)
        json_object_set_new(lab, c[i].name, json_integer((json_int_t)c[i].value));
    json_object_set_new(lab, "waiting_predictions",
                        json_integer((json_int_t)p->join.waiting_predictions));
    json_object_set_new(lab, "waiting_labels", json_integer((json_int_t)p->join.waiting_labels));
    json_object_set_new(lab, "memory_bytes", json_integer((json_int_t)p->join.memory_bytes));
    json_object_set_new(lab, "memory_limit_bytes", json_integer((json_int_t)p->memory_limit_bytes));
    json_object_set_new(lab, "max_delay_seconds", json_real((double)p->max_delay_ms / 1000.0));
    json_object_set_new(lab, "coverage", dw_json_number(p->coverage));
    json_t *dq = json_object();
    for (size_t i = 0; i < 3; i++)
        json_object_set_new(dq, dw_status_perf_quantile_names[i], dw_json_number(p->delay_s[i]));
    json_object_set_new(lab, "delay_seconds", dq);
    json_t *models = json_array();
    for (size_t i = 0; i < p->nmodels; i++) {
        const dw_status_perf_model *m = &p->models[i];
        json_t *wins = json_array();
        for (size_t w = 0; w < m->nwindows; w++)
            json_array_append_new(wins, window_json(m, &m->windows[w]));
        json_array_append_new(
            models, json_pack("{s:s,s:o,s:s,s:o}", "model", m->model, "model_version",
                              m->version ? json_string(m->version) : json_null(), "task",
                              m->kind == DW_PERF_CLASSIFICATION ? "classification" : "regression",
                              "windows", wins));
    }
    return json_pack("{s:o,s:o}", "labels", lab, "models", models);
}

void dw_status_perf_free(dw_status_perf *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nmodels; i++) {
        dw_status_perf_model *m = &p->models[i];
        for (size_t w = 0; w < m->nwindows; w++) {
            free(m->windows[w].name);
            free(m->windows[w].rules);
            free(m->windows[w].history);
        }
        free(m->windows);
        free(m->model);
        free(m->version);
    }
    free(p->models);
    free(p);
}

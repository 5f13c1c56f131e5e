/* /metrics for performance from delayed labels (issue 14; docs/api.md),
 * from the status snapshot's performance part. One family at a time, as
 * the exposition format wants every sample of a family together. */
#include "metrics_int.h"

#include "driftwatch/metrics.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* name{model=..,model_version=..,window=..[,metric=..][,status=..]} v */
static void sample(dw_dynbuf *f, const char *name, const dw_status_perf_model *m,
                   const char *window, const char *metric, const char *status, double v)
{
    dw_dynbuf_addf(f, "%s{model=\"", name);
    dw_metrics_write_label_value(f, m->model);
    dw_dynbuf_addstr(f, "\",model_version=\"");
    dw_metrics_write_label_value(f, m->version ? m->version : "");
    dw_dynbuf_addstr(f, "\",window=\"");
    dw_metrics_write_label_value(f, window);
    if (metric) {
        dw_dynbuf_addstr(f, "\",metric=\"");
        dw_metrics_write_label_value(f, metric);
    }
    if (status)
        dw_dynbuf_addf(f, "\",status=\"%s", status);
    dw_dynbuf_addstr(f, "\"} ");
    dw_metrics_write_double(f, v);
    dw_dynbuf_addc(f, '\n');
}

/* Which number of a window's result a family shows. */
enum { F_VALUE, F_LOWER, F_UPPER, F_ESTIMATED, F_LABELLED, F_COVERAGE, F_END, F_N };

static const struct {
    const char *name, *help;
} fams[F_N] = {
    {"driftwatch_performance", "Model performance of the window from joined labels."},
    {"driftwatch_performance_lower", "Lower end of the performance confidence interval."},
    {"driftwatch_performance_upper", "Upper end of the performance confidence interval."},
    {"driftwatch_performance_estimated",
     "Performance estimated from calibrated scores before labels (CBPE)."},
    {"driftwatch_performance_labelled", "Labelled predictions in the window."},
    {"driftwatch_performance_label_coverage",
     "Share of the window's predictions that got a label so far."},
    {"driftwatch_performance_window_end_timestamp_seconds", "End of the window (event time)."},
};

static double pick(int k, const dw_perf_value *v)
{
    return k == F_LOWER ? v->lo : k == F_UPPER ? v->hi : v->value;
}

static void window_family(dw_dynbuf *f, int k, const dw_status_perf_model *m, const char *wname,
                          const dw_status_perf_result *r)
{
    if (!r->present)
        return;
    const char *status = r->provisional ? "provisional" : "final";
    switch (k) {
    case F_LABELLED: sample(f, fams[k].name, m, wname, NULL, status, (double)r->realised.n); return;
    case F_COVERAGE: sample(f, fams[k].name, m, wname, NULL, status, r->realised.coverage); return;
    case F_END: sample(f, fams[k].name, m, wname, NULL, status, (double)r->end_ms / 1000.0); return;
    case F_ESTIMATED: {
        if (!r->has_estimate)
            return;
        const dw_cbpe_result *e = &r->estimated;
        const struct {
            const char *n;
            const dw_perf_value *v;
        } est[] = {{"accuracy", &e->accuracy},
                   {"precision", &e->precision},
                   {"recall", &e->recall},
                   {"f1", &e->f1},
                   {"auc", &e->auc}};
        for (size_t i = 0; i < sizeof est / sizeof est[0]; i++)
            sample(f, fams[k].name, m, wname, est[i].n, status, est[i].v->value);
        return;
    }
    default:
        for (int mi = 0; mi < DW_PERF_METRIC_COUNT; mi++)
            if (dw_perf_metric_kind((dw_perf_metric)mi) == m->kind)
                sample(f, fams[k].name, m, wname, dw_perf_metric_name((dw_perf_metric)mi), status,
                       pick(k, &r->realised.m[mi]));
    }
}

void dw_metrics_write_performance(dw_dynbuf *f, const dw_status_perf *p)
{
    for (int k = 0; k < F_N; k++) {
        dw_mx_family(f, fams[k].name, "gauge", fams[k].help);
        for (size_t i = 0; i < p->nmodels; i++)
            for (size_t w = 0; w < p->models[i].nwindows; w++) {
                const dw_status_perf_window *sw = &p->models[i].windows[w];
                window_family(f, k, &p->models[i], sw->name, &sw->final);
                window_family(f, k, &p->models[i], sw->name, &sw->provisional);
            }
    }
    dw_mx_family(f, "driftwatch_performance_alert_firing", "gauge",
                 "1 while the performance rule of the metric fires.");
    for (size_t i = 0; i < p->nmodels; i++)
        for (size_t w = 0; w < p->models[i].nwindows; w++) {
            const dw_status_perf_window *sw = &p->models[i].windows[w];
            for (size_t r = 0; r < sw->nrules; r++)
                sample(f, "driftwatch_performance_alert_firing", &p->models[i], sw->name,
                       dw_perf_metric_name(sw->rules[r].metric), NULL,
                       sw->rules[r].state == DW_ALERT_FIRING);
        }

    dw_mx_family(f, "driftwatch_label_coverage", "gauge",
                 "Share of the predictions that left the join with a label.");
    dw_dynbuf_addstr(f, "driftwatch_label_coverage ");
    dw_metrics_write_double(f, p->coverage);
    dw_dynbuf_addc(f, '\n');
    dw_mx_family(f, "driftwatch_label_delay_seconds", "gauge",
                 "Label delay quantiles (label time - prediction time) over every match.");
    for (size_t i = 0; i < 3; i++) {
        dw_dynbuf_addf(f, "driftwatch_label_delay_seconds{quantile=\"%s\"} ",
                       dw_status_perf_quantile_names[i]);
        dw_metrics_write_double(f, p->delay_s[i]);
        dw_dynbuf_addc(f, '\n');
    }
    dw_mx_family(f, "driftwatch_label_join_events_total", "counter",
                 "What the label join saw, by event (docs/performance.md).");
    dw_status_perf_counter c[DW_STATUS_PERF_NCOUNTERS];
    dw_status_perf_counters(p, c);
    for (size_t i = 0; i < DW_STATUS_PERF_NCOUNTERS; i++)
        dw_dynbuf_addf(f, "driftwatch_label_join_events_total{event=\"%s\"} %" PRIu64 "\n",
                       c[i].name, c[i].value);
    dw_mx_family(f, "driftwatch_label_join_waiting", "gauge",
                 "Predictions waiting for their label, and labels waiting for their prediction.");
    dw_dynbuf_addf(f, "driftwatch_label_join_waiting{kind=\"predictions\"} %" PRIu64 "\n",
                   p->join.waiting_predictions);
    dw_dynbuf_addf(f, "driftwatch_label_join_waiting{kind=\"labels\"} %" PRIu64 "\n",
                   p->join.waiting_labels);
    dw_mx_family(f, "driftwatch_label_join_memory_bytes", "gauge",
                 "Memory the label join holds (allocated once, never above the limit).");
    dw_dynbuf_addf(f, "driftwatch_label_join_memory_bytes %zu\n", p->join.memory_bytes);
    dw_mx_family(f, "driftwatch_label_join_memory_limit_bytes", "gauge",
                 "The configured labels.memory_mb in bytes.");
    dw_dynbuf_addf(f, "driftwatch_label_join_memory_limit_bytes %" PRIu64 "\n",
                   p->memory_limit_bytes);
}

void dw_metrics_perf_alerts(dw_dynbuf *f, const dw_status_perf *p)
{
    static const char *const names[] = {"model", "model_version", "kind"};
    for (size_t i = 0; i < p->nmodels; i++) {
        const dw_status_perf_model *m = &p->models[i];
        size_t n = 0;
        for (size_t w = 0; w < m->nwindows; w++)
            for (size_t r = 0; r < m->windows[w].nrules; r++)
                n += m->windows[w].rules[r].state == DW_ALERT_FIRING;
        const char *vals[] = {m->model, m->version ? m->version : "", "performance"};
        char *l = dw_mx_labels(3, names, vals);
        dw_mx_sample(f, "driftwatch_alerts_firing", l, (double)n);
        free(l);
    }
}

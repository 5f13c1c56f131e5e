/* /metrics for performance from delayed labels (issue 14; docs/api.md):
 * read from the status document's "performance" member, like the column
 * series in metrics.c. One family at a time, as the exposition format
 * wants every sample of a family together. */
#include "metrics_int.h"

#include "driftwatch/metrics.h"
#include "driftwatch/timestamp.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

static const char *str_or_empty(const json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : "";
}

static double num_or_nan(const json_t *v)
{
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{model=..,model_version=..,window=..[,metric=..][,status=..]} v */
static void sample(FILE *f, const char *name, const json_t *m, const char *window,
                   const char *metric, const char *status, double v)
{
    fprintf(f, "%s{model=\"", name);
    dw_metrics_write_label_value(f, str_or_empty(json_object_get(m, "model")));
    fputs("\",model_version=\"", f);
    dw_metrics_write_label_value(f, str_or_empty(json_object_get(m, "model_version")));
    fputs("\",window=\"", f);
    dw_metrics_write_label_value(f, window);
    if (metric) {
        fputs("\",metric=\"", f);
        dw_metrics_write_label_value(f, metric);
    }
    if (status)
        fprintf(f, "\",status=\"%s", status);
    fputs("\"} ", f);
    dw_metrics_write_double(f, v);
    fputc('\n', f);
}

/* Which number of a window's result a family shows. */
enum { F_VALUE, F_LOWER, F_UPPER, F_ESTIMATED, F_LABELLED, F_COVERAGE, F_END, F_N };

static const struct {
    const char *name, *help;
    bool per_metric;
} fams[F_N] = {
    {"driftwatch_performance", "Model performance of the window from joined labels.", true},
    {"driftwatch_performance_lower", "Lower end of the performance confidence interval.", true},
    {"driftwatch_performance_upper", "Upper end of the performance confidence interval.", true},
    {"driftwatch_performance_estimated",
     "Performance estimated from calibrated scores before labels (CBPE).", true},
    {"driftwatch_performance_labelled", "Labelled predictions in the window.", false},
    {"driftwatch_performance_label_coverage",
     "Share of the window's predictions that got a label so far.", false},
    {"driftwatch_performance_window_end_timestamp_seconds", "End of the window (event time).",
     false},
};

static void window_family(FILE *f, int k, const json_t *m, const char *wname, const json_t *res,
                          const char *status)
{
    if (!json_is_object(res))
        return;
    if (!fams[k].per_metric) {
        double v = NAN;
        if (k == F_LABELLED)
            v = num_or_nan(json_object_get(res, "labelled"));
        else if (k == F_COVERAGE)
            v = num_or_nan(json_object_get(res, "coverage"));
        else if (k == F_END) {
            /* RFC 3339 in the document; the gauge is seconds. */
            const char *t = str_or_empty(json_object_get(res, "end"));
            int64_t ms;
            if (dw_ts_parse_rfc3339(t, strlen(t), &ms) == 0)
                v = (double)ms / 1000.0;
        }
        sample(f, fams[k].name, m, wname, NULL, status, v);
        return;
    }
    const json_t *src = json_object_get(res, k == F_ESTIMATED ? "estimated" : "metrics");
    const char *metric;
    const json_t *v;
    json_object_foreach ((json_t *)src, metric, v) {
        if (!json_is_object(v))
            continue;
        const char *key = k == F_LOWER ? "lower" : k == F_UPPER ? "upper" : "value";
        sample(f, fams[k].name, m, wname, metric, status, num_or_nan(json_object_get(v, key)));
    }
}

void dw_metrics_write_performance(FILE *f, const json_t *snap)
{
    const json_t *perf = json_object_get(snap, "performance");
    if (!json_is_object(perf))
        return;
    const json_t *models = json_object_get(perf, "models");
    size_t i, j;
    const json_t *m, *w;
    for (int k = 0; k < F_N; k++) {
        family(f, fams[k].name, "gauge", fams[k].help);
        json_array_foreach (models, i, m)
            json_array_foreach (json_object_get(m, "windows"), j, w) {
                const char *wname = str_or_empty(json_object_get(w, "name"));
                window_family(f, k, m, wname, json_object_get(w, "final"), "final");
                window_family(f, k, m, wname, json_object_get(w, "provisional"), "provisional");
            }
    }
    family(f, "driftwatch_performance_alert_firing", "gauge",
           "1 while the performance rule of the metric fires.");
    json_array_foreach (models, i, m)
        json_array_foreach (json_object_get(m, "windows"), j, w) {
            size_t r;
            const json_t *rule;
            json_array_foreach (json_object_get(w, "rules"), r, rule)
                sample(f, "driftwatch_performance_alert_firing", m,
                       str_or_empty(json_object_get(w, "name")),
                       str_or_empty(json_object_get(rule, "metric")), NULL,
                       !strcmp(str_or_empty(json_object_get(rule, "state")), "firing"));
        }

    const json_t *lab = json_object_get(perf, "labels");
    family(f, "driftwatch_label_coverage", "gauge",
           "Share of the predictions that left the join with a label.");
    fputs("driftwatch_label_coverage ", f);
    dw_metrics_write_double(f, num_or_nan(json_object_get(lab, "coverage")));
    fputc('\n', f);
    family(f, "driftwatch_label_delay_seconds", "gauge",
           "Label delay quantiles (label time - prediction time) over every match.");
    const char *q;
    const json_t *v;
    json_object_foreach ((json_t *)json_object_get(lab, "delay_seconds"), q, v) {
        fprintf(f, "driftwatch_label_delay_seconds{quantile=\"%s\"} ", q);
        dw_metrics_write_double(f, num_or_nan(v));
        fputc('\n', f);
    }
    static const char *const events[] = {
        "predictions",    "labels",          "matched",
        "matched_early",  "expired",         "evicted_predictions",
        "duplicate_predictions", "duplicate_labels", "late_labels",
        "orphan_labels",  "evicted_labels",  "negative_delays",
        "predictions_without_key", "labels_without_key", "labels_without_value"};
    family(f, "driftwatch_label_join_events_total", "counter",
           "What the label join saw, by event (docs/performance.md).");
    for (size_t e = 0; e < sizeof events / sizeof events[0]; e++)
        fprintf(f, "driftwatch_label_join_events_total{event=\"%s\"} %" PRIu64 "\n", events[e],
                (uint64_t)json_integer_value(json_object_get(lab, events[e])));
    family(f, "driftwatch_label_join_waiting", "gauge",
           "Predictions waiting for their label, and labels waiting for their prediction.");
    fprintf(f, "driftwatch_label_join_waiting{kind=\"predictions\"} %" PRIu64 "\n",
            (uint64_t)json_integer_value(json_object_get(lab, "waiting_predictions")));
    fprintf(f, "driftwatch_label_join_waiting{kind=\"labels\"} %" PRIu64 "\n",
            (uint64_t)json_integer_value(json_object_get(lab, "waiting_labels")));
    family(f, "driftwatch_label_join_memory_bytes", "gauge",
           "Memory the label join holds (allocated once, never above the limit).");
    fprintf(f, "driftwatch_label_join_memory_bytes %" PRIu64 "\n",
            (uint64_t)json_integer_value(json_object_get(lab, "memory_bytes")));
    family(f, "driftwatch_label_join_memory_limit_bytes", "gauge",
           "The configured labels.memory_mb in bytes.");
    fprintf(f, "driftwatch_label_join_memory_limit_bytes %" PRIu64 "\n",
            (uint64_t)json_integer_value(json_object_get(lab, "memory_limit_bytes")));
}

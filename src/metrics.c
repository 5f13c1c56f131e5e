#include "driftwatch/metrics.h"

#include "metrics_int.h"

#include "driftwatch/dynbuf.h"
#include "driftwatch/error.h"
#include "driftwatch/rewind.h"

#include <inttypes.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void dw_metrics_write_label_value(dw_dynbuf *f, const char *v)
{
    for (const char *p = v ? v : ""; *p; p++) {
        switch (*p) {
        case '\\': dw_dynbuf_addstr(f, "\\\\"); break;
        case '"': dw_dynbuf_addstr(f, "\\\""); break;
        case '\n': dw_dynbuf_addstr(f, "\\n"); break;
        default: dw_dynbuf_addc(f, *p);
        }
    }
}

/* A float the way Prometheus reads it: NaN, +Inf, -Inf, or the shortest of
 * %.15g / %.17g that reads back to the same double (so 0.1 prints as 0.1,
 * not 0.10000000000000001). */
void dw_metrics_write_double(dw_dynbuf *f, double x)
{
    if (isnan(x)) {
        dw_dynbuf_addstr(f, "NaN");
        return;
    }
    if (isinf(x)) {
        dw_dynbuf_addstr(f, x > 0 ? "+Inf" : "-Inf");
        return;
    }
    char b[40];
    snprintf(b, sizeof b, "%.15g", x);
    if (strtod(b, NULL) != x)
        snprintf(b, sizeof b, "%.17g", x);
    dw_dynbuf_addstr(f, b);
}

void dw_mx_family(dw_dynbuf *f, const char *name, const char *type, const char *help)
{
    /* HELP texts are constants of the metrics files without backslashes
     * or newlines, so they need no escaping. */
    dw_dynbuf_addf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_u64(dw_dynbuf *f, const char *name, const char *labels, uint64_t v)
{
    if (labels && *labels)
        dw_dynbuf_addf(f, "%s{%s} %" PRIu64 "\n", name, labels, v);
    else
        dw_dynbuf_addf(f, "%s %" PRIu64 "\n", name, v);
}

static void sample_double(dw_dynbuf *f, const char *name, const char *labels, double v)
{
    if (labels && *labels)
        dw_dynbuf_addf(f, "%s{%s} ", name, labels);
    else
        dw_dynbuf_addf(f, "%s ", name);
    dw_metrics_write_double(f, v);
    dw_dynbuf_addc(f, '\n');
}

/* A family with one unlabelled sample: the common case. */
static void metric_u64(dw_dynbuf *f, const char *name, const char *type, const char *help,
                       uint64_t v)
{
    dw_mx_family(f, name, type, help);
    sample_u64(f, name, NULL, v);
}

static void metric_double(dw_dynbuf *f, const char *name, const char *type, const char *help,
                          double v)
{
    dw_mx_family(f, name, type, help);
    sample_double(f, name, NULL, v);
}

/* Formats label pairs (names[i]="values[i]", escaped) into a new string. */
static char *labels_of(size_t n, const char *const *names, const char *const *values)
{
    dw_dynbuf b;
    dw_dynbuf_init(&b, DW_METRICS_MAX_BYTES);
    for (size_t i = 0; i < n; i++) {
        dw_dynbuf_addf(&b, "%s%s=\"", i ? "," : "", names[i]);
        dw_metrics_write_label_value(&b, values[i]);
        dw_dynbuf_addc(&b, '"');
    }
    return dw_dynbuf_take(&b);
}

void dw_mx_sample(dw_dynbuf *f, const char *name, const char *labels, double v)
{
    sample_double(f, name, labels, v);
}

char *dw_mx_labels(size_t n, const char *const *names, const char *const *values)
{
    return labels_of(n, names, values);
}

/* A family with one sample per value, labelled label="values[i]". */
static void sample_labelled(dw_dynbuf *f, const char *name, const char *label, const char *value,
                            uint64_t v)
{
    const char *const names[] = {label};
    const char *vals[] = {value};
    char *l = labels_of(1, names, vals);
    sample_u64(f, name, l, v);
    free(l);
}

static void metric_by_label(dw_dynbuf *f, const char *name, const char *type, const char *help,
                            const char *label, const char *const *values, const uint64_t *v,
                            size_t n)
{
    dw_mx_family(f, name, type, help);
    for (size_t i = 0; i < n; i++)
        sample_labelled(f, name, label, values[i], v[i]);
}

/* A counter family with one sample per value of one label. */
typedef struct {
    const char *value;
    uint64_t n;
} label_count;

static void counter_by_label(dw_dynbuf *f, const char *name, const char *help, const char *label,
                             const label_count *c, size_t n)
{
    dw_mx_family(f, name, "counter", help);
    for (size_t i = 0; i < n; i++)
        sample_labelled(f, name, label, c[i].value, c[i].n);
}

/* ---- column series from the status snapshot ---- */

/* A finite value as a sample; statistics that are not finite are left out
 * (the status document shows them as null). */
static bool finite_to(double x, double *out)
{
    *out = x;
    return isfinite(x);
}

static bool get_samples(const dw_column_result *r, double *v)
{
    *v = (double)r->count;
    return true;
}
static bool get_ks_d(const dw_column_result *r, double *v)
{
    return r->has_ks && finite_to(r->ks.statistic, v);
}
static bool get_ks_p(const dw_column_result *r, double *v)
{
    return r->has_ks && finite_to(r->ks.p_value, v);
}
static bool get_psi(const dw_column_result *r, double *v)
{
    return finite_to(r->psi, v);
}
static bool get_chi2_p(const dw_column_result *r, double *v)
{
    return r->has_chi2 && finite_to(r->chi2.p_value, v);
}
static bool get_missing(const dw_column_result *r, double *v)
{
    return finite_to(r->quality.missing_rate, v);
}
static bool get_drift(const dw_column_result *r, double *v)
{
    *v = r->drift ? 1 : 0;
    return true;
}

/* The per-(model, version, column, window) gauges, in exposition order:
 * a new one is a row here (and a line in docs/api.md). */
static const struct {
    const char *name;
    const char *help;
    bool (*get)(const dw_column_result *r, double *v);
} cell_gauges[] = {
    {"driftwatch_column_samples", "Values of the column in the window at its latest evaluation.",
     get_samples},
    {"driftwatch_column_ks_statistic",
     "Kolmogorov-Smirnov distance D between reference and window (numeric columns).", get_ks_d},
    {"driftwatch_column_ks_p_value",
     "Kolmogorov-Smirnov p-value, before correction (numeric columns).", get_ks_p},
    {"driftwatch_column_psi", "Population Stability Index of the window against the reference.",
     get_psi},
    {"driftwatch_column_chi2_p_value",
     "Chi-squared homogeneity p-value, before correction (categorical columns).", get_chi2_p},
    {"driftwatch_column_missing_rate", "Share of missing values in the window.", get_missing},
    {"driftwatch_column_drift", "1 when the column drifts at its latest evaluation, else 0.",
     get_drift},
};
#define NGAUGES (sizeof cell_gauges / sizeof cell_gauges[0])

typedef struct col_series {
    char *labels;
    const dw_column_result *r;
} col_series;

/* Collects the evaluated (model, version, column, window) label sets, at
 * most max; returns how many exist in total (kept + dropped). */
static size_t collect_columns(const dw_status *st, size_t max, col_series **out, size_t *nout)
{
    static const char *const names[] = {"model", "model_version", "column", "window"};
    size_t total = 0, n = 0, cap = 0;
    col_series *cs = NULL;
    for (size_t i = 0; i < st->nmodels; i++) {
        const dw_status_model *m = &st->models[i];
        for (size_t j = 0; j < m->ncolumns; j++) {
            const dw_status_column *c = &m->columns[j];
            for (size_t w = 0; w < m->nwindows; w++) {
                if (!c->cells[w].evaluated)
                    continue; /* not evaluated yet: no statistics to show */
                total++;
                if (n >= max)
                    continue;
                if (n == cap) {
                    cap = cap ? 2 * cap : 64;
                    cs = dw_realloc(cs, cap * sizeof *cs);
                }
                const char *vals[] = {m->model, m->version ? m->version : "", c->name,
                                      m->windows[w].name};
                cs[n++] = (col_series){labels_of(4, names, vals), &c->cells[w].result};
            }
        }
    }
    *out = cs;
    *nout = n;
    return total;
}

static void alerts_firing(dw_dynbuf *f, const dw_status *st)
{
    static const char *const names[] = {"model", "model_version", "kind"};
    for (size_t i = 0; i < st->nmodels; i++) {
        const dw_status_model *m = &st->models[i];
        uint64_t firing[2] = {0, 0};
        for (size_t j = 0; j < m->ncolumns; j++)
            for (size_t w = 0; w < m->nwindows; w++) {
                firing[0] += m->columns[j].cells[w].state == DW_ALERT_FIRING;
                firing[1] += m->columns[j].cells[w].quality_state == DW_ALERT_FIRING;
            }
        for (int k = 0; k < 2; k++) {
            const char *vals[] = {m->model, m->version ? m->version : "",
                                  k ? "quality" : "distribution"};
            char *l = labels_of(3, names, vals);
            sample_u64(f, "driftwatch_alerts_firing", l, firing[k]);
            free(l);
        }
    }
}

/* ---- the exposition ---- */

static void write_histogram(dw_dynbuf *f, const dw_engine_stats *st)
{
    const char *name = "driftwatch_evaluation_duration_seconds";
    dw_mx_family(f, name, "histogram",
                 "Time to evaluate one window of one model version (all its columns).");
    uint64_t cum = 0;
    for (int b = 0; b <= DW_ENGINE_EVAL_BUCKETS; b++) {
        cum += st->eval_buckets[b];
        dw_dynbuf_addf(f, "%s_bucket{le=\"", name);
        if (b < DW_ENGINE_EVAL_BUCKETS)
            dw_metrics_write_double(f, dw_engine_eval_bounds[b]);
        else
            dw_dynbuf_addstr(f, "+Inf");
        dw_dynbuf_addf(f, "\"} %" PRIu64 "\n", cum);
    }
    sample_double(f, "driftwatch_evaluation_duration_seconds_sum", NULL, (double)st->eval_ns / 1e9);
    sample_u64(f, "driftwatch_evaluation_duration_seconds_count", NULL, cum);
}

/* The names and meanings of the official Prometheus clients
 * (client_golang's process collector), without a driftwatch_ prefix. */
static void process_metrics(dw_dynbuf *f, const dw_process_stats *p)
{
    metric_double(f, "process_cpu_seconds_total", "counter",
                  "Total user and system CPU time spent in seconds.", p->cpu_seconds);
    metric_u64(f, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
               p->rss_bytes);
    metric_u64(f, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
               p->virtual_bytes);
    metric_u64(f, "process_open_fds", "gauge", "Number of open file descriptors.", p->open_fds);
    if (p->max_fds)
        metric_u64(f, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                   p->max_fds);
    metric_double(f, "process_start_time_seconds", "gauge",
                  "Start time of the process since unix epoch in seconds.", p->start_time);
}

char *dw_metrics_render(const dw_metrics_input *in, size_t *len, uint64_t *dropped)
{
    uint64_t drop = 0;
    const dw_engine_stats *st = in->stats;
    dw_dynbuf out;
    dw_dynbuf_init(&out, DW_METRICS_MAX_BYTES);
    dw_dynbuf *f = &out;

    const char *version = in->version ? in->version : "unknown";
    const uint64_t one = 1;
    metric_by_label(f, "driftwatch_build_info", "gauge",
                    "Always 1; the version label says which build runs.", "version", &version, &one,
                    1);
    metric_u64(f, "driftwatch_up", "gauge",
               "1 while the consumer loop makes progress (the same test as /healthz), else 0.",
               in->up ? 1 : 0);

    metric_u64(f, "driftwatch_messages_total", "counter", "Messages given to the engine.",
               st->messages);
    metric_u64(f, "driftwatch_records_total", "counter", "Records found in the messages.",
               st->records);
    metric_u64(f, "driftwatch_records_applied_total", "counter",
               "Records counted into the windows.", st->applied);
    const char *reasons[DW_REJECT_MAX];
    for (int r = 0; r < DW_REJECT_MAX; r++)
        reasons[r] = dw_reject_reason_name((dw_reject_reason)r);
    metric_by_label(f, "driftwatch_records_rejected_total", "counter",
                    "Records or messages not applied, by reason (late records have reason late).",
                    "reason", reasons, st->rejected, DW_REJECT_MAX);
    metric_u64(f, "driftwatch_field_type_errors_total", "counter",
               "Monitored values of the wrong type (the record is still applied).",
               st->wrong_type_fields);
    metric_u64(f, "driftwatch_model_versions_dropped_total", "counter",
               "Model versions dropped to make room for a new one (no record for a window length).",
               st->versions_dropped);

    dw_mx_family(f, "driftwatch_consumer_lag", "gauge",
                 "Messages between the consumer position and the partition's high watermark.");
    size_t nlag = 0;
    for (size_t i = 0; i < in->nlag; i++) {
        const dw_partition_lag *pl = &in->lag[i];
        if (pl->lag < 0)
            continue;
        if (nlag++ >= DW_METRICS_MAX_PARTITIONS) {
            drop++;
            continue;
        }
        static const char *const n[] = {"topic", "partition"};
        char part[16];
        snprintf(part, sizeof part, "%d", (int)pl->partition);
        const char *v[] = {pl->topic, part};
        char *l = labels_of(2, n, v);
        sample_u64(f, "driftwatch_consumer_lag", l, (uint64_t)pl->lag);
        free(l);
    }
    /* Present whenever the lag is (a sidecar with a consumer), so an alert
     * on it can tell 0 from "not running". */
    if (in->have_consumer) {
        uint64_t npaused = 0;
        for (size_t i = 0; i < in->nlag; i++)
            npaused += in->lag[i].paused;
        metric_u64(f, "driftwatch_consumer_paused_partitions", "gauge",
                   "Partitions paused because they ran ahead of the others in event time.",
                   npaused);
    }
    dw_mx_family(f, "driftwatch_watermark_seconds", "gauge",
                 "Event-time watermark (Unix seconds); absent before the first record.");
    if (st->watermark_ms != INT64_MIN)
        sample_double(f, "driftwatch_watermark_seconds", NULL, (double)st->watermark_ms / 1000.0);
    metric_u64(f, "driftwatch_evaluations_total", "counter", "Window evaluations.",
               st->evaluations);
    write_histogram(f, st);

    col_series *cs = NULL;
    size_t ncs = 0;
    size_t max = in->max_column_series ? in->max_column_series : DW_METRICS_MAX_COLUMN_SERIES;
    if (in->status)
        drop += collect_columns(in->status, max, &cs, &ncs) - ncs;
    for (size_t k = 0; k < NGAUGES; k++) {
        dw_mx_family(f, cell_gauges[k].name, "gauge", cell_gauges[k].help);
        for (size_t i = 0; i < ncs; i++) {
            double v;
            if (cell_gauges[k].get(cs[i].r, &v))
                sample_double(f, cell_gauges[k].name, cs[i].labels, v);
        }
    }
    for (size_t i = 0; i < ncs; i++)
        free(cs[i].labels);
    free(cs);

    dw_mx_family(
        f, "driftwatch_alerts_firing", "gauge",
        "Alerts firing now, per model version and kind (distribution, quality, divergence, "
        "latency, performance).");
    if (in->status) {
        alerts_firing(f, in->status);
        dw_metrics_canary_alerts(f, in->status);
        if (in->status->perf)
            dw_metrics_perf_alerts(f, in->status->perf);
        drop += dw_metrics_canary(f, in->status, max, in->stats->latency_invalid);
    }
    if (in->status && in->status->perf)
        dw_metrics_write_performance(f, in->status->perf);

    /* Per-sink families: a value of dw_metrics_sink each (all uint64_t). */
    static const struct {
        const char *name, *type, *help;
        size_t at; /* offsetof(dw_metrics_sink, ...) */
    } sink_fams[] = {
        {"driftwatch_notifications_sent_total", "counter",
         "Notifications the sink's receiver accepted.", offsetof(dw_metrics_sink, stats.sent)},
        {"driftwatch_notifications_retried_total", "counter",
         "Delivery attempts that failed and were retried.",
         offsetof(dw_metrics_sink, stats.retried)},
        {"driftwatch_notifications_failed_total", "counter",
         "Notifications given up (retries exhausted or a permanent error).",
         offsetof(dw_metrics_sink, stats.failed)},
        {"driftwatch_notifications_dropped_total", "counter",
         "Notifications dropped because the queue was full.",
         offsetof(dw_metrics_sink, stats.dropped)},
        {"driftwatch_outbox_depth", "gauge",
         "Notifications kept in the on-disk outbox for delivery after a restart.",
         offsetof(dw_metrics_sink, outbox_depth)},
        {"driftwatch_sink_circuit_open", "gauge",
         "1 while the sink's circuit breaker holds deliveries back after repeated failures.",
         offsetof(dw_metrics_sink, stats.circuit_open)},
        {"driftwatch_outbox_errors_total", "counter",
         "Outbox files that could not be written, removed or read (set aside as .bad).",
         offsetof(dw_metrics_sink, stats.outbox_errors)},
    };
    size_t nsinks = in->nsinks < DW_METRICS_MAX_SINKS ? in->nsinks : DW_METRICS_MAX_SINKS;
    if (in->nsinks > nsinks)
        drop += in->nsinks - nsinks;
    char **sl = dw_calloc(nsinks + 1, sizeof *sl);
    for (size_t i = 0; i < nsinks; i++) {
        static const char *const n[] = {"sink"};
        const char *v[] = {in->sinks[i].name};
        sl[i] = labels_of(1, n, v);
    }
    for (size_t k = 0; k < sizeof sink_fams / sizeof sink_fams[0]; k++) {
        dw_mx_family(f, sink_fams[k].name, sink_fams[k].type, sink_fams[k].help);
        for (size_t i = 0; i < nsinks; i++) {
            uint64_t v;
            memcpy(&v, (const char *)&in->sinks[i] + sink_fams[k].at, sizeof v);
            sample_u64(f, sink_fams[k].name, sl[i], v);
        }
    }
    for (size_t i = 0; i < nsinks; i++)
        free(sl[i]);
    free(sl);

    if (in->dead_letter) {
        const dw_dead_letter_stats *d = in->dead_letter;
        const label_count res[] = {{"queued", d->queued},
                                   {"delivered", d->delivered},
                                   {"failed", d->failed},
                                   {"dropped_queue_full", d->dropped_queue_full}};
        counter_by_label(
            f, "driftwatch_dead_letter_records_total",
            "Rejected records copied to kafka.dead_letter_topic, by result (failed: the "
            "broker refused them or they were not flushed; dropped_queue_full: the "
            "local queue was full).",
            "result", res, sizeof res / sizeof *res);
    }
    if (in->http) {
        const label_count why[] = {{"request_timeout", in->http->closed_timeout},
                                   {"capacity", in->http->closed_capacity},
                                   {"refused", in->http->refused}};
        metric_u64(f, "driftwatch_http_connections", "gauge", "HTTP connections held now.",
                   in->http->open);
        counter_by_label(f, "driftwatch_http_connections_closed_total",
                         "HTTP connections the server closed before answering, by reason (slow or "
                         "idle clients; see docs/operations.md).",
                         "reason", why, sizeof why / sizeof *why);
        metric_u64(f, "driftwatch_http_request_bodies_too_large_total", "counter",
                   "Request bodies over their limit, answered 413 (POST /api/v1/compare).",
                   in->http->too_large);
    }
    if (in->kafka) {
        /* Kafka health: visible although readiness does not depend on it
         * (docs/operations.md, "Readiness is deliberately not tied to Kafka"). */
        metric_u64(f, "driftwatch_kafka_brokers_up", "gauge",
                   "Kafka brokers of the cluster the consumer is connected to (0: none; from "
                   "librdkafka's statistics every 2 s).",
                   in->kafka->brokers_up > 0 ? (uint64_t)in->kafka->brokers_up : 0);
        if (in->kafka->last_message_ms > 0) {
            metric_double(f, "driftwatch_kafka_last_message_timestamp_seconds", "gauge",
                          "When the consumer last received a message, Unix seconds.",
                          (double)in->kafka->last_message_ms / 1000.0);
        }
        const char *outcomes[DW_REWIND_OUTCOME_MAX];
        for (int o = 0; o < DW_REWIND_OUTCOME_MAX; o++)
            outcomes[o] = dw_rewind_outcome_name((dw_rewind_outcome)o);
        metric_by_label(f, "driftwatch_consumer_rewinds_total", "counter",
                        "Partitions paused and sought back for event-time alignment, by what "
                        "became of them (reread: read again at the offset; skipped: the fetch "
                        "resumed past it; revoked: revoked first; reseek: sought again after "
                        "a timeout).",
                        "outcome", outcomes, in->kafka->rewinds, DW_REWIND_OUTCOME_MAX);
    }
    if (in->state) {
        const dw_metrics_state *ms = in->state;
        /* One family and one sample each: a table, not 12 copies. */
        const struct {
            const char *name, *type, *help;
            uint64_t v;
        } fams[] = {
            {"driftwatch_state_leader", "gauge",
             "1 when this replica sends the notifications (it owns the first input "
             "partition).",
             ms->leader ? 1 : 0},
            {"driftwatch_state_lag_messages", "gauge",
             "State topic messages this replica has not read yet: its windows lack the other "
             "replicas' newest counts.",
             ms->lag > 0 ? (uint64_t)ms->lag : 0},
            {"driftwatch_state_messages_queued", "gauge",
             "Deltas and marks written but not acknowledged by the broker yet (their input "
             "offsets are not committed).",
             ms->queued},
            {"driftwatch_state_deltas_written_total", "counter",
             "Delta messages this replica wrote to the state topic.", st->deltas_out},
            {"driftwatch_state_delta_bytes_written_total", "counter",
             "Bytes of those deltas (before the producer's compression).", st->delta_bytes_out},
            {"driftwatch_state_deltas_merged_total", "counter",
             "Other replicas' delta messages (or this replica's from before a restart) merged "
             "into the windows.",
             st->deltas_in},
            {"driftwatch_state_records_merged_total", "counter", "Records those deltas counted.",
             st->delta_records_in},
            {"driftwatch_state_records_late_total", "counter",
             "Merged records whose pane had already closed here.", st->delta_late},
            {"driftwatch_state_groups_waiting", "gauge",
             "Merged counts beyond the panes open here, waiting for the watermark.",
             st->delta_ahead},
            {"driftwatch_state_documents_held", "gauge",
             "Notification documents a replica that does not notify keeps until the leader's "
             "mark covers them.",
             ms->held},
            {"driftwatch_state_documents_dropped_total", "counter",
             "Held documents dropped because the bounded list was full.", ms->held_dropped},
        };
        for (size_t i = 0; i < sizeof fams / sizeof fams[0]; i++) {
            metric_u64(f, fams[i].name, fams[i].type, fams[i].help, fams[i].v);
        }
        const label_count why[] = {{"duplicate", st->delta_duplicates},
                                   {"foreign", st->delta_foreign},
                                   {"invalid", st->delta_invalid}};
        counter_by_label(
            f, "driftwatch_state_deltas_ignored_total",
            "Parts of the state topic not merged: duplicate (offsets already covered), "
            "foreign (another model or reference), invalid (not a delta).",
            "reason", why, sizeof why / sizeof *why);
    }
    if (in->reload) {
        metric_u64(f, "driftwatch_config_last_reload_successful", "gauge",
                   "1 when the last configuration load (start or SIGHUP) succeeded, else 0.",
                   in->reload->last_successful ? 1 : 0);
        metric_double(f, "driftwatch_config_last_reload_success_timestamp_seconds", "gauge",
                      "When the configuration was last loaded successfully, Unix seconds.",
                      in->reload->success_time);
    }
    if (in->process)
        process_metrics(f, in->process);

    metric_u64(f, "driftwatch_metrics_series_dropped_total", "counter",
               "Series left out of /metrics by the label cardinality bounds, summed over scrapes.",
               in->series_dropped_before + drop);

    if (dropped)
        *dropped = drop;
    if (len)
        *len = out.len;
    return dw_dynbuf_take(&out);
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "driftwatch/metrics.h"
#include "driftwatch/status_perf.h"

#include "driftwatch/ui.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A status snapshot as the engine publishes it (src/engine_docs.c), cut
 * down to what the renderers read: model M v3, windows 15m and 1h; C0
 * numeric (15m: drifting and firing; 1h: never evaluated), country
 * categorical (15m: quality alert firing; 1h: evaluated, PSI not finite,
 * pending). Lives in fx, which the caller keeps while the snapshot is used. */
typedef struct fixture {
    dw_status st;
    dw_status_model m;
    dw_status_window w[2];
    dw_status_column c[2];
    dw_status_cell cells[2][2];
    char *labels[3];
    double ref[3], cur[3];
    dw_status_point hist[2];
} fixture;

static dw_status *snapshot(fixture *fx, const char *model, const char *column0)
{
    memset(fx, 0, sizeof *fx);
    fx->w[0] = (dw_status_window){.name = "15m", .length_ms = 900000, .slide_ms = 300000};
    fx->w[1] = (dw_status_window){.name = "1h", .length_ms = 3600000, .slide_ms = 300000};
    fx->m = (dw_status_model){.model = (char *)model,
                              .version = "v3",
                              .reference_path = "ref.json",
                              .reference_checksum = "abc",
                              .reference_rows = 1000,
                              .nwindows = 2,
                              .windows = fx->w,
                              .ncolumns = 2,
                              .columns = fx->c};
    fx->c[0] =
        (dw_status_column){.name = (char *)column0, .type = DW_COL_NUMERIC, .cells = fx->cells[0]};
    fx->c[1] =
        (dw_status_column){.name = "country", .type = DW_COL_CATEGORICAL, .cells = fx->cells[1]};
    static const char *const labels[] = {"<0", "0", ">1"};
    memcpy(fx->labels, labels, sizeof labels);
    memcpy(fx->ref, (double[]){0.2, 0.5, 0.3}, sizeof fx->ref);
    memcpy(fx->cur, (double[]){0.1, 0.4, 0.5}, sizeof fx->cur);
    fx->hist[0] = (dw_status_point){.at_ms = 1795500000000, .psi = 0.1};
    fx->hist[1] = (dw_status_point){.at_ms = 1795500300000, .psi = 0.3};

    dw_status_cell *x = &fx->cells[0][0]; /* C0 / 15m */
    x->evaluated = true;
    x->result = (dw_column_result){.type = DW_COL_NUMERIC,
                                   .count = 120,
                                   .has_ks = true,
                                   .ks = {.statistic = 0.1, .p_value = 0.25},
                                   .psi = 0.3,
                                   .quality = {.missing_rate = 0.05},
                                   .drift = true,
                                   .enough_samples = true};
    x->state = DW_ALERT_FIRING;
    x->histogram =
        (dw_status_hist){.n = 3, .labels = fx->labels, .reference = fx->ref, .current = fx->cur};
    x->nhistory = 2;
    x->history = fx->hist;

    x = &fx->cells[1][0]; /* country / 15m */
    x->evaluated = true;
    x->result = (dw_column_result){.type = DW_COL_CATEGORICAL,
                                   .count = 120,
                                   .has_chi2 = true,
                                   .chi2 = {.statistic = 3, .p_value = 0.5},
                                   .psi = 0.01,
                                   .enough_samples = true};
    x->quality_state = DW_ALERT_FIRING;

    x = &fx->cells[1][1]; /* country / 1h */
    x->evaluated = true;
    x->result = (dw_column_result){.type = DW_COL_CATEGORICAL,
                                   .count = 400,
                                   .psi = NAN,
                                   .quality = {.missing_rate = 0},
                                   .enough_samples = true};
    x->state = DW_ALERT_PENDING;

    fx->st = (dw_status){.watermark_ms = 1795500000000,
                         .max_event_ms = 1795500000000,
                         .nmodels = 1,
                         .models = &fx->m};
    return &fx->st;
}

static char *render(const dw_engine_stats *st, const dw_status *snap, size_t max_series,
                    uint64_t *dropped)
{
    dw_partition_lag lag[2] = {
        {.topic = "logs", .partition = 0, .position = 5, .high_watermark = 12, .lag = 7},
        {.topic = "logs", .partition = 1, .position = -1, .high_watermark = -1, .lag = -1},
    };
    dw_metrics_sink sinks[1] = {{.name = "hook"}};
    sinks[0].stats.sent = 4;
    sinks[0].stats.retried = 2;
    sinks[0].stats.failed = 1;
    sinks[0].stats.dropped = 3;
    dw_metrics_input in = {
        .version = "9.9.9",
        .up = true,
        .stats = st,
        .status = snap,
        .lag = lag,
        .nlag = 2,
        .sinks = sinks,
        .nsinks = 1,
        .max_column_series = max_series,
        .series_dropped_before = 10,
    };
    size_t len = 0;
    char *text = dw_metrics_render(&in, &len, dropped);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

static dw_engine_stats base_stats(void)
{
    dw_engine_stats st;
    memset(&st, 0, sizeof st);
    st.messages = 9;
    st.records = 8;
    st.applied = 5;
    st.rejected[DW_REJECT_LATE] = 2;
    st.rejected[DW_REJECT_INVALID_JSON] = 1;
    st.wrong_type_fields = 6;
    st.evaluations = 4;
    st.watermark_ms = 1795500000500;
    return st;
}

/* The whole line (without "\n") must be present. */
static void assert_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == 0))
            return;
    fail_msg("line not found: %s", line);
}

static bool has_prefix_line(const char *text, const char *prefix)
{
    for (const char *p = text; (p = strstr(p, prefix)) != NULL; p++)
        if (p == text || p[-1] == '\n')
            return true;
    return false;
}

/* Checks the text format 0.0.4 grammar line by line: comments are HELP or
 * TYPE, a family's HELP and TYPE precede its samples, a family's samples
 * are contiguous, sample values parse as floats. */
static void assert_wellformed(const char *text)
{
    char seen[128][96];
    size_t nseen = 0;
    char cur[96] = "";
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl); /* every line ends with \n */
        size_t n = (size_t)(nl - p);
        char line[2048];
        assert_true(n < sizeof line);
        memcpy(line, p, n);
        line[n] = 0;
        p = nl + 1;
        if (line[0] == '#') {
            char kind[8], name[96];
            assert_int_equal(sscanf(line, "# %7s %95s", kind, name), 2);
            assert_true(!strcmp(kind, "HELP") || !strcmp(kind, "TYPE"));
            if (!strcmp(kind, "HELP")) {
                for (size_t i = 0; i < nseen; i++)
                    if (!strcmp(seen[i], name))
                        fail_msg("family %s appears twice", name);
                assert_true(nseen < 128);
                strcpy(seen[nseen++], name);
                strcpy(cur, name);
            } else {
                assert_string_equal(name, cur);
                const char *type = line + strlen("# TYPE ") + strlen(name) + 1;
                assert_true(!strcmp(type, "counter") || !strcmp(type, "gauge") ||
                            !strcmp(type, "histogram"));
            }
            continue;
        }
        /* metric name, then optional {labels}, then one space and a value */
        size_t i = 0;
        while (isalnum((unsigned char)line[i]) || line[i] == '_' || line[i] == ':')
            i++;
        assert_true(i > 0);
        char name[96];
        memcpy(name, line, i);
        name[i] = 0;
        /* samples belong to the current family (histograms add suffixes) */
        assert_true(strncmp(name, cur, strlen(cur)) == 0);
        if (line[i] == '{') {
            bool in_str = false;
            for (i++; line[i] && (in_str || line[i] != '}'); i++) {
                if (in_str && line[i] == '\\') {
                    assert_true(line[i + 1] == '\\' || line[i + 1] == '"' || line[i + 1] == 'n');
                    i++;
                } else if (line[i] == '"') {
                    in_str = !in_str;
                }
            }
            assert_int_equal(line[i], '}');
            i++;
        }
        assert_int_equal(line[i], ' ');
        const char *v = line + i + 1;
        if (strcmp(v, "NaN") && strcmp(v, "+Inf") && strcmp(v, "-Inf")) {
            char *end;
            strtod(v, &end);
            assert_true(end != v && *end == 0);
        }
    }
}

static void test_metrics_counters_and_format(void **state)
{
    (void)state;
    dw_engine_stats st = base_stats();
    fixture fx;
    dw_status *snap = snapshot(&fx, "M", "C0");
    uint64_t dropped = 99;
    char *t = render(&st, snap, 0, &dropped);
    assert_wellformed(t);
    assert_int_equal(dropped, 0);
    assert_line(t, "driftwatch_build_info{version=\"9.9.9\"} 1");
    assert_line(t, "driftwatch_up 1");
    assert_line(t, "# TYPE driftwatch_messages_total counter");
    assert_line(t, "driftwatch_messages_total 9");
    assert_line(t, "driftwatch_records_total 8");
    assert_line(t, "driftwatch_records_applied_total 5");
    assert_line(t, "driftwatch_records_rejected_total{reason=\"late\"} 2");
    assert_line(t, "driftwatch_records_rejected_total{reason=\"invalid_json\"} 1");
    assert_line(t, "driftwatch_records_rejected_total{reason=\"too_large\"} 0");
    assert_line(t, "driftwatch_field_type_errors_total 6");
    assert_line(t, "driftwatch_evaluations_total 4");
    assert_line(t, "driftwatch_watermark_seconds 1795500000.5");
    /* known lag only: partition 1 has not been fetched yet */
    assert_line(t, "driftwatch_consumer_lag{topic=\"logs\",partition=\"0\"} 7");
    assert_false(has_prefix_line(t, "driftwatch_consumer_lag{topic=\"logs\",partition=\"1\"}"));
    assert_line(t, "driftwatch_notifications_sent_total{sink=\"hook\"} 4");
    assert_line(t, "driftwatch_notifications_retried_total{sink=\"hook\"} 2");
    assert_line(t, "driftwatch_notifications_failed_total{sink=\"hook\"} 1");
    assert_line(t, "driftwatch_notifications_dropped_total{sink=\"hook\"} 3");
    assert_line(t, "driftwatch_outbox_depth{sink=\"hook\"} 0");
    assert_line(t, "driftwatch_metrics_series_dropped_total 10");
    free(t);
}

/* Dead-letter and HTTP connection counters appear only when given, with
 * every result and reason present. */
static void test_metrics_dead_letter_and_http(void **state)
{
    (void)state;
    dw_engine_stats st = base_stats();
    char *t = render(&st, NULL, 0, NULL);
    assert_false(has_prefix_line(t, "driftwatch_dead_letter_records_total"));
    assert_false(has_prefix_line(t, "driftwatch_http_connections"));
    free(t);

    dw_dead_letter_stats dl = {.queued = 7, .delivered = 3, .failed = 4, .dropped_queue_full = 2};
    dw_metrics_http hs = {
        .open = 5, .closed_timeout = 11, .closed_capacity = 12, .refused = 1, .too_large = 3};
    dw_metrics_input in = {.version = "9.9.9", .stats = &st, .http = &hs, .dead_letter = &dl};
    t = dw_metrics_render(&in, NULL, NULL);
    assert_wellformed(t);
    assert_line(t, "# TYPE driftwatch_dead_letter_records_total counter");
    assert_line(t, "driftwatch_dead_letter_records_total{result=\"queued\"} 7");
    assert_line(t, "driftwatch_dead_letter_records_total{result=\"delivered\"} 3");
    assert_line(t, "driftwatch_dead_letter_records_total{result=\"failed\"} 4");
    assert_line(t, "driftwatch_dead_letter_records_total{result=\"dropped_queue_full\"} 2");
    assert_line(t, "# TYPE driftwatch_http_connections gauge");
    assert_line(t, "driftwatch_http_connections 5");
    assert_line(t, "driftwatch_http_connections_closed_total{reason=\"request_timeout\"} 11");
    assert_line(t, "driftwatch_http_connections_closed_total{reason=\"capacity\"} 12");
    assert_line(t, "driftwatch_http_connections_closed_total{reason=\"refused\"} 1");
    assert_line(t, "# TYPE driftwatch_http_request_bodies_too_large_total counter");
    assert_line(t, "driftwatch_http_request_bodies_too_large_total 3");
    assert_line(t, "driftwatch_records_rejected_total{reason=\"too_many_fields\"} 0");
    free(t);
}

/* Kafka health: the rewinds family has every outcome, with the consumer's
 * counts; absent without a consumer (replay). */
static void test_metrics_kafka_rewinds(void **state)
{
    (void)state;
    dw_engine_stats st = base_stats();
    char *t = render(&st, NULL, 0, NULL);
    assert_false(has_prefix_line(t, "driftwatch_consumer_rewinds_total"));
    free(t);

    dw_kafka_health kh = {.brokers_up = 1, .brokers_known = 1};
    kh.rewinds[DW_REWIND_REREAD] = 9;
    kh.rewinds[DW_REWIND_REVOKED] = 2;
    dw_metrics_input in = {.version = "9.9.9", .stats = &st, .kafka = &kh};
    t = dw_metrics_render(&in, NULL, NULL);
    assert_wellformed(t);
    assert_line(t, "# TYPE driftwatch_consumer_rewinds_total counter");
    assert_line(t, "driftwatch_consumer_rewinds_total{outcome=\"reread\"} 9");
    assert_line(t, "driftwatch_consumer_rewinds_total{outcome=\"skipped\"} 0");
    assert_line(t, "driftwatch_consumer_rewinds_total{outcome=\"revoked\"} 2");
    assert_line(t, "driftwatch_consumer_rewinds_total{outcome=\"reseek\"} 0");
    free(t);
}

/* The reload and process families appear only when given, with the
 * values given (the process numbers themselves: tests/unit/test_process.c). */
/* The state topic's families appear only with a state topic, with the
 * engine's delta counters and the replica's figures. */
static void test_metrics_state(void **state)
{
    (void)state;
    dw_engine_stats st = base_stats();
    st.deltas_out = 12;
    st.delta_bytes_out = 3456;
    st.deltas_in = 7;
    st.delta_records_in = 900;
    st.delta_duplicates = 2;
    st.delta_foreign = 1;
    st.delta_invalid = 3;
    st.delta_late = 4;
    st.delta_ahead = 5;
    dw_metrics_input in = {.stats = &st};
    char *t = dw_metrics_render(&in, NULL, NULL);
    assert_false(has_prefix_line(t, "driftwatch_state_leader"));
    free(t);
    dw_metrics_state ms = {.leader = true, .lag = 42, .queued = 6, .held = 9, .held_dropped = 1};
    in.state = &ms;
    t = dw_metrics_render(&in, NULL, NULL);
    assert_wellformed(t);
    assert_line(t, "# TYPE driftwatch_state_leader gauge");
    assert_line(t, "driftwatch_state_leader 1");
    assert_line(t, "driftwatch_state_lag_messages 42");
    assert_line(t, "driftwatch_state_messages_queued 6");
    assert_line(t, "driftwatch_state_deltas_written_total 12");
    assert_line(t, "driftwatch_state_delta_bytes_written_total 3456");
    assert_line(t, "driftwatch_state_deltas_merged_total 7");
    assert_line(t, "driftwatch_state_records_merged_total 900");
    assert_line(t, "driftwatch_state_deltas_ignored_total{reason=\"duplicate\"} 2");
    assert_line(t, "driftwatch_state_deltas_ignored_total{reason=\"foreign\"} 1");
    assert_line(t, "driftwatch_state_deltas_ignored_total{reason=\"invalid\"} 3");
    assert_line(t, "driftwatch_state_records_late_total 4");
    assert_line(t, "driftwatch_state_groups_waiting 5");
    assert_line(t, "driftwatch_state_documents_held 9");
    assert_line(t, "driftwatch_state_documents_dropped_total 1");
    free(t);
}

static void test_metrics_reload_and_process(void **state)
{
    (void)state;
    dw_engine_stats st = base_stats();
    dw_metrics_reload rl = {.last_successful = false, .success_time = 1795500000.25};
    dw_process_stats ps = {.cpu_seconds = 1.5,
                           .rss_bytes = 4096,
                           .virtual_bytes = 8192,
                           .open_fds = 7,
                           .max_fds = 1024,
                           .start_time = 1795499000.5};
    dw_metrics_input in = {.stats = &st, .reload = &rl, .process = &ps};
    char *t = dw_metrics_render(&in, NULL, NULL);
    assert_wellformed(t);
    assert_line(t, "# TYPE driftwatch_config_last_reload_successful gauge");
    assert_line(t, "driftwatch_config_last_reload_successful 0");
    assert_line(t, "driftwatch_config_last_reload_success_timestamp_seconds 1795500000.25");
    assert_line(t, "# TYPE process_cpu_seconds_total counter");
    assert_line(t, "process_cpu_seconds_total 1.5");
    assert_line(t, "process_resident_memory_bytes 4096");
    assert_line(t, "process_virtual_memory_bytes 8192");
    assert_line(t, "process_open_fds 7");
    assert_line(t, "process_max_fds 1024");
    assert_line(t, "process_start_time_seconds 1795499000.5");
    free(t);
    /* Without them (replay without --http has no server): absent. */
    in.reload = NULL;
    in.process = NULL;
    t = dw_metrics_render(&in, NULL, NULL);
    assert_false(has_prefix_line(t, "driftwatch_config_last_reload_successful"));
    assert_false(has_prefix_line(t, "process_open_fds"));
    free(t);
}

static void test_metrics_column_series(void **state)
{
    (void)state;
    dw_engine_stats st = base_stats();
    fixture fx;
    dw_status *snap = snapshot(&fx, "M", "C0");
    char *t = render(&st, snap, 0, NULL);
#define L(col, win) "{model=\"M\",model_version=\"v3\",column=\"" col "\",window=\"" win "\"}"
    assert_line(t, "driftwatch_column_samples" L("C0", "15m") " 120");
    /* 0.1 prints as 0.1: shortest round-trip formatting */
    assert_line(t, "driftwatch_column_ks_statistic" L("C0", "15m") " 0.1");
    assert_line(t, "driftwatch_column_ks_p_value" L("C0", "15m") " 0.25");
    assert_line(t, "driftwatch_column_psi" L("C0", "15m") " 0.3");
    assert_line(t, "driftwatch_column_missing_rate" L("C0", "15m") " 0.05");
    assert_line(t, "driftwatch_column_drift" L("C0", "15m") " 1");
    assert_line(t, "driftwatch_column_chi2_p_value" L("country", "15m") " 0.5");
    assert_line(t, "driftwatch_column_drift" L("country", "15m") " 0");
    assert_line(t, "driftwatch_column_samples" L("country", "1h") " 400");
    /* a numeric column has no chi2, a categorical one no KS; a null PSI
     * and a window never evaluated (C0/1h) give no sample at all */
    assert_false(has_prefix_line(t, "driftwatch_column_chi2_p_value" L("C0", "15m")));
    assert_false(has_prefix_line(t, "driftwatch_column_ks_statistic" L("country", "15m")));
    assert_false(has_prefix_line(t, "driftwatch_column_psi" L("country", "1h")));
    assert_false(has_prefix_line(t, "driftwatch_column_samples" L("C0", "1h")));
    /* firing: C0/15m distribution, country/15m quality; pending is not firing */
    assert_line(t, "driftwatch_alerts_firing{model=\"M\",model_version=\"v3\","
                   "kind=\"distribution\"} 1");
    assert_line(t, "driftwatch_alerts_firing{model=\"M\",model_version=\"v3\",kind=\"quality\"} 1");
#undef L
    free(t);
}

/* Performance alerts are a kind of driftwatch_alerts_firing like the
 * others (they had only their per-rule gauge), counted over the windows of
 * their model version; the per-rule gauge stays. */
static void test_metrics_alerts_firing_has_kind_performance(void **state)
{
    (void)state;
    dw_engine_stats st = base_stats();
    fixture fx;
    dw_status *snap = snapshot(&fx, "M", "C0");
    dw_status_perf_rule r15[2] = {{.metric = DW_PERF_ACCURACY, .state = DW_ALERT_FIRING},
                                  {.metric = DW_PERF_F1, .state = DW_ALERT_PENDING}};
    dw_status_perf_rule r1h[1] = {{.metric = DW_PERF_ACCURACY, .state = DW_ALERT_FIRING}};
    dw_status_perf_window pw[2] = {{.name = "15m", .nrules = 2, .rules = r15},
                                   {.name = "1h", .nrules = 1, .rules = r1h}};
    dw_status_perf_rule quiet = {.metric = DW_PERF_ACCURACY, .state = DW_ALERT_INACTIVE};
    dw_status_perf_window pw2[1] = {{.name = "15m", .nrules = 1, .rules = &quiet}};
    dw_status_perf_model pm[2] = {
        {.model = "M",
         .version = "v3",
         .kind = DW_PERF_CLASSIFICATION,
         .nwindows = 2,
         .windows = pw},
        {.model = "M",
         .version = NULL,
         .kind = DW_PERF_CLASSIFICATION,
         .nwindows = 1,
         .windows = pw2},
    };
    dw_status_perf perf = {.coverage = NAN, .delay_s = {NAN, NAN, NAN}, .nmodels = 2, .models = pm};
    snap->perf = &perf;
    char *t = render(&st, snap, 0, NULL);
    assert_wellformed(t);
    assert_line(t, "driftwatch_alerts_firing{model=\"M\",model_version=\"v3\","
                   "kind=\"performance\"} 2");
    assert_line(t, "driftwatch_alerts_firing{model=\"M\",model_version=\"\","
                   "kind=\"performance\"} 0");
    /* the other kinds and the per-rule gauge as before */
    assert_line(t, "driftwatch_alerts_firing{model=\"M\",model_version=\"v3\","
                   "kind=\"distribution\"} 1");
    assert_line(t, "driftwatch_performance_alert_firing{model=\"M\",model_version=\"v3\","
                   "window=\"1h\",metric=\"accuracy\"} 1");
    free(t);
    /* Without labels configured, no performance sample. */
    snap->perf = NULL;
    t = render(&st, snap, 0, NULL);
    assert_false(strstr(t, "kind=\"performance\""));
    free(t);
}

static void test_metrics_label_escaping(void **state)
{
    (void)state;
    dw_engine_stats st = base_stats();
    fixture fx;
    dw_status *snap = snapshot(&fx, "a\"b\\c\nd", "x\\\"y");
    char *t = render(&st, snap, 0, NULL);
    assert_wellformed(t);
    assert_line(t, "driftwatch_column_samples{model=\"a\\\"b\\\\c\\nd\",model_version=\"v3\","
                   "column=\"x\\\\\\\"y\",window=\"15m\"} 120");
    free(t);

    dw_dynbuf b;
    dw_dynbuf_init(&b, 1024);
    dw_metrics_write_label_value(&b, "plain {}=, \xc3\xa9");
    dw_metrics_write_label_value(&b, NULL);
    assert_string_equal(dw_dynbuf_str(&b),
                        "plain {}=, \xc3\xa9"); /* only \\, \" and \n are escaped */
    dw_metrics_write_label_value(&b, "a\\b\"c\nd");
    assert_string_equal(dw_dynbuf_str(&b), "plain {}=, \xc3\xa9"
                                           "a\\\\b\\\"c\\nd");
    dw_dynbuf_free(&b);
}

static void test_metrics_histogram_cumulative(void **state)
{
    (void)state;
    dw_engine_stats st = base_stats();
    uint64_t per_bucket[DW_ENGINE_EVAL_BUCKETS + 1] = {3, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 4};
    memcpy(st.eval_buckets, per_bucket, sizeof per_bucket);
    st.eval_ns = 2500000000u;
    char *t = render(&st, NULL, 0, NULL);
    assert_wellformed(t);
    assert_line(t, "# TYPE driftwatch_evaluation_duration_seconds histogram");
    uint64_t cum = 0;
    double prev = -1;
    for (int b = 0; b <= DW_ENGINE_EVAL_BUCKETS; b++) {
        cum += per_bucket[b];
        char want[160];
        if (b < DW_ENGINE_EVAL_BUCKETS) {
            assert_true(dw_engine_eval_bounds[b] > prev); /* bounds increase */
            prev = dw_engine_eval_bounds[b];
            snprintf(want, sizeof want,
                     "driftwatch_evaluation_duration_seconds_bucket{le=\"%g\"} %llu",
                     dw_engine_eval_bounds[b], (unsigned long long)cum);
        } else {
            snprintf(want, sizeof want,
                     "driftwatch_evaluation_duration_seconds_bucket{le=\"+Inf\"} %llu",
                     (unsigned long long)cum);
        }
        assert_line(t, want);
    }
    assert_int_equal(cum, 10);
    assert_line(t, "driftwatch_evaluation_duration_seconds_count 10");
    assert_line(t, "driftwatch_evaluation_duration_seconds_sum 2.5");
    /* no snapshot: no column series, and no watermark before data */
    assert_false(has_prefix_line(t, "driftwatch_column_samples{"));
    free(t);

    st.watermark_ms = INT64_MIN;
    t = render(&st, NULL, 0, NULL);
    assert_false(has_prefix_line(t, "driftwatch_watermark_seconds "));
    assert_line(t, "# TYPE driftwatch_watermark_seconds gauge");
    free(t);
}

static void test_metrics_series_bound(void **state)
{
    (void)state;
    dw_engine_stats st = base_stats();
    fixture fx;
    dw_status *snap = snapshot(&fx, "M", "C0");
    /* three evaluated label sets (C0/15m, country/15m, country/1h); keep 2 */
    uint64_t dropped = 0;
    char *t = render(&st, snap, 2, &dropped);
    assert_wellformed(t);
    assert_int_equal(dropped, 1);
    assert_line(t, "driftwatch_metrics_series_dropped_total 11"); /* 10 before + 1 */
    assert_true(has_prefix_line(t, "driftwatch_column_samples{model=\"M\",model_version=\"v3\","
                                   "column=\"country\",window=\"15m\"}"));
    assert_false(has_prefix_line(t, "driftwatch_column_samples{model=\"M\",model_version=\"v3\","
                                    "column=\"country\",window=\"1h\"}"));
    free(t);
}

/* The status page: one chart per column, text escaped, state classes. */
static void test_ui_page(void **state)
{
    (void)state;
    fixture fx;
    dw_status *snap = snapshot(&fx, "<script>alert(1)</script>", "col\"<b>&");
    size_t len = 0;
    char *html = dw_ui_render(snap, NULL, NULL, &len);
    assert_int_equal(strlen(html), len);
    assert_non_null(strstr(html, "<meta http-equiv=\"refresh\" content=\"10\">"));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "col\"<b>&"));
    assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_non_null(strstr(html, "data-column=\"col&quot;&lt;b&gt;&amp;\""));
    assert_non_null(strstr(html, "data-column=\"country\""));
    size_t charts = 0;
    for (const char *p = html; (p = strstr(p, "data-column=")) != NULL; p++)
        charts++;
    assert_int_equal(charts, 2);
    /* 15m (the first window) is shown: C0 is firing, country has a quality alert */
    assert_non_null(strstr(html, "<div class=\"card firing\">"));
    assert_non_null(strstr(html, "<div class=\"card quality\">"));
    /* self-contained: nothing loaded from anywhere */
    assert_null(strstr(html, "src="));
    assert_null(strstr(html, "href=\"http"));
    assert_null(strstr(html, "url("));
    free(html);

    /* ?window=1h: C0 never evaluated there, country pending */
    html = dw_ui_render(snap, NULL, "1h", NULL);
    assert_non_null(strstr(html, "<div class=\"card nodata\">"));
    assert_non_null(strstr(html, "<div class=\"card pending\">"));
    assert_non_null(strstr(html, "<a class=\"sel\" href=\"?window=1h\">"));
    free(html);

    dw_status *empty = dw_status_new();
    html = dw_ui_render(empty, NULL, "nope", NULL);
    assert_non_null(strstr(html, "No window has been evaluated yet"));
    assert_null(strstr(html, "data-column="));
    free(html);
    dw_status_release(empty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_counters_and_format),
        cmocka_unit_test(test_metrics_dead_letter_and_http),
        cmocka_unit_test(test_metrics_kafka_rewinds),
        cmocka_unit_test(test_metrics_reload_and_process),
        cmocka_unit_test(test_metrics_state),
        cmocka_unit_test(test_metrics_column_series),
        cmocka_unit_test(test_metrics_alerts_firing_has_kind_performance),
        cmocka_unit_test(test_metrics_label_escaping),
        cmocka_unit_test(test_metrics_histogram_cumulative),
        cmocka_unit_test(test_metrics_series_bound),
        cmocka_unit_test(test_ui_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

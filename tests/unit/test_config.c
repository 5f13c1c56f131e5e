#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "config_fixture.h"

#include "driftwatch/config.h"
#include "driftwatch/state_dir.h"
#include "driftwatch/duration.h"
#include "driftwatch/error.h"
#include "driftwatch/sink.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Thresholds are decimal literals parsed with strtod and compared with the
 * same literal: the only error is the last-bit rounding of the literal. */
#define EPS 1e-12
/* cmocka 1.1.5 has no double comparison. */
#define assert_close(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))

static const char minimal_yaml[] = "kafka:\n"
                                   "  brokers: \"127.0.0.1:9092\"\n"
                                   "  topics: [\"model-logs\"]\n"
                                   "  group_id: \"driftwatch\"\n"
                                   "models:\n"
                                   "  - name: fraud\n"
                                   "    reference: reference_stats/fraud.json\n"
                                   "windows:\n"
                                   "  - name: 15m\n"
                                   "    length: 15m\n"
                                   "    slide: 1m\n"
                                   "sinks:\n"
                                   "  - name: hook\n"
                                   "    type: webhook\n"
                                   "    url: \"http://127.0.0.1:8080/alerts\"\n";

/* Six lines: whatever a test appends starts on line 7. */
#define BASE                                                                                       \
    "kafka:\n"                                                                                     \
    "  brokers: 127.0.0.1:9092\n"                                                                  \
    "  topics: [t]\n"                                                                              \
    "models:\n"                                                                                    \
    "  - name: fraud\n"                                                                            \
    "    reference: r.json\n"

/* Window w of cfg: its name, length, slide and number of panes. */
static void expect_window(const dw_config *cfg, size_t w, const char *name, int64_t length_ms,
                          int64_t slide_ms, int panes)
{
    assert_true(w < cfg->nwindows);
    assert_string_equal(cfg->windows[w].name, name);
    assert_int_equal(cfg->windows[w].length_ms, length_ms);
    assert_int_equal(cfg->windows[w].slide_ms, slide_ms);
    assert_int_equal(cfg->windows[w].panes, panes);
}

/* The http: and log: settings of cfg. */
static void expect_http_and_log(const dw_config *cfg, const char *listen, const char *host,
                                int port, bool enabled, dw_log_level level, dw_log_format format)
{
    assert_string_equal(cfg->http.listen, listen);
    assert_string_equal(cfg->http.host, host);
    assert_int_equal(cfg->http.port, port);
    assert_int_equal(cfg->http.enabled, enabled);
    assert_int_equal(cfg->log.level, level);
    assert_int_equal(cfg->log.format, format);
}

/* The alerts: block (for, clear_psi, clear_ks, keep_firing_for, group_by_model)
 * and the time: lateness and idle timeout cfg holds. */
static void expect_alerts_and_time(const dw_config *cfg, int for_evaluations, double clear_psi,
                                   double clear_ks, int64_t keep_ms, bool group_by_model,
                                   int64_t lateness_ms, int64_t idle_ms)
{
    assert_int_equal(cfg->alerts.for_evaluations, for_evaluations);
    assert_close(cfg->alerts.clear_psi, clear_psi, EPS);
    assert_close(cfg->alerts.clear_ks, clear_ks, EPS);
    assert_int_equal(cfg->alerts.keep_firing_for_ms, keep_ms);
    assert_int_equal(cfg->alerts.group_by_model, group_by_model);
    assert_int_equal(cfg->time.allowed_lateness_ms, lateness_ms);
    assert_int_equal(cfg->time.idle_timeout_ms, idle_ms);
}

static void test_minimal_defaults(void **state)
{
    (void)state;
    dw_config *cfg = dwt_parse_ok(minimal_yaml, "/etc/driftwatch");
    assert_string_equal(cfg->path, "test.yaml");

    assert_string_equal(cfg->kafka.brokers, "127.0.0.1:9092");
    assert_int_equal(cfg->kafka.ntopics, 1);
    assert_string_equal(cfg->kafka.topics[0], "model-logs");
    assert_string_equal(cfg->kafka.group_id, "driftwatch");
    assert_int_equal(cfg->kafka.auto_offset_reset, DW_OFFSET_EARLIEST);
    assert_null(cfg->kafka.dead_letter_topic);
    assert_int_equal(cfg->kafka.nproperties, 0);
    assert_int_equal(cfg->kafka.poll_timeout_ms, 100);
    assert_int_equal(cfg->kafka.commit_interval_ms, 5000);
    assert_int_equal(cfg->kafka.max_message_bytes, 1048576);

    assert_string_equal(cfg->records.timestamp, "ts");
    assert_string_equal(cfg->records.model, "model");
    assert_string_equal(cfg->records.model_version, "model_version");
    assert_int_equal(cfg->records.ncolumns, 2);
    assert_string_equal(cfg->records.columns[0], "features");
    assert_string_equal(cfg->records.columns[1], "prediction");
    assert_int_equal(cfg->records.nfields, 0);
    assert_null(cfg->records.default_model);

    assert_int_equal(cfg->nmodels, 1);
    assert_string_equal(cfg->models[0].name, "fraud");
    assert_null(cfg->models[0].version);
    /* Relative reference paths are resolved against the config's directory. */
    assert_string_equal(cfg->models[0].reference, "/etc/driftwatch/reference_stats/fraud.json");
    assert_int_equal(cfg->models[0].line, 6);
    assert_int_equal(cfg->models[0].reference_line, 7);
    assert_int_equal(cfg->models[0].ncolumns, 0);

    assert_int_equal(cfg->nwindows, 1);
    expect_window(cfg, 0, "15m", 15 * 60000, 60000, 15);

    const dw_thresholds *t = &cfg->thresholds;
    assert_close(t->alpha, 0.01, EPS);
    assert_close(t->psi_threshold, 0.2, EPS);
    assert_close(t->ks_threshold, 0.1, EPS);
    assert_int_equal(t->min_samples, 100);
    assert_close(t->missing_rate_delta, 0.1, EPS);
    assert_close(t->type_error_rate, 0.05, EPS);
    assert_close(t->out_of_range_rate, 0.01, EPS);
    assert_close(t->unseen_rate, 0.01, EPS);
    assert_close(t->false_alarms_per_week, 1.0, EPS);

    expect_alerts_and_time(cfg, 2, 0.1, 0.05, 0, true, 60000, 30000);

    assert_int_equal(cfg->nsinks, 1);
    const dw_sink_config *s = &cfg->sinks[0];
    assert_string_equal(s->name, "hook");
    assert_string_equal(s->type, "webhook");
    assert_string_equal(s->url, "http://127.0.0.1:8080/alerts");
    assert_int_equal(s->timeout_ms, 5000);
    assert_int_equal(s->max_retries, 5);
    assert_true(s->send_resolved);
    assert_int_equal(s->nheaders, 0);
    assert_int_equal(s->min_interval_ms, 0);
    assert_int_equal(s->filter.nmodels, 0);
    assert_int_equal(s->filter.ncolumns, 0);
    assert_int_equal(s->filter.min_severity, DW_SEVERITY_ANY);
    assert_int_equal(s->nparams, 0);

    assert_int_equal(cfg->nretrain, 0);
    expect_http_and_log(cfg, "0.0.0.0:9187", "0.0.0.0", 9187, true, DW_LOG_INFO, DW_LOG_JSON);
    /* No state_dir: the default that works where the process runs
     * (/var/lib/driftwatch in the image, ~/.local/state/driftwatch on a
     * laptop). */
    char *def = dw_state_dir_default();
    assert_string_equal(cfg->state_dir, def);
    assert_true(cfg->state_dir_default);
    free(def);
    assert_int_equal(cfg->evaluation.max_new_categories, 32);
    dw_config_free(cfg);
}

static void test_omitted_sections_get_defaults(void **state)
{
    (void)state;
    dw_config *cfg = dwt_parse_ok(BASE, NULL);
    assert_int_equal(cfg->nwindows, 2);
    expect_window(cfg, 0, "15m", 900000, 60000, 15);
    expect_window(cfg, 1, "1h", 3600000, 300000, 12);
    assert_int_equal(cfg->nsinks, 1);
    assert_string_equal(cfg->sinks[0].type, "stdout");
    assert_string_equal(cfg->sinks[0].name, "stdout");
    assert_null(cfg->sinks[0].url);
    /* Without a basedir, relative paths stay as written. */
    assert_string_equal(cfg->models[0].reference, "r.json");
    dw_config_free(cfg);

    /* An explicit empty list means "no sinks", not the default. */
    cfg = dwt_parse_ok(BASE "sinks: []\n", NULL);
    assert_int_equal(cfg->nsinks, 0);
    dw_config_free(cfg);
}

static const char full_yaml[] = "# every key set\n"
                                "kafka:\n"
                                "  brokers: \"k1:9092,k2:9092\"\n"
                                "  topics: [logs-a, logs-b]\n"
                                "  group_id: dw-prod\n"
                                "  auto_offset_reset: latest\n"
                                "  dead_letter_topic: dw-dead\n"
                                "  properties:\n"
                                "    security.protocol: SASL_SSL\n"
                                "    sasl.mechanism: PLAIN\n"
                                "    enable.idempotence: true\n"
                                "    fetch.max.bytes: 52428800\n"
                                "  poll_timeout: 250ms\n"
                                "  commit_interval: 10s\n"
                                "  max_message_bytes: 2097152\n"
                                "records:\n"
                                "  timestamp: meta.ts\n"
                                "  model: meta.model\n"
                                "  model_version: meta.version\n"
                                "  columns: [inputs, outputs]\n"
                                "  fields: [latency_ms]\n"
                                "  default_model: fraud\n"
                                "thresholds:\n"
                                "  alpha: 0.05\n"
                                "  psi: 0.25\n"
                                "  ks: 0.15\n"
                                "  min_samples: 500\n"
                                "  missing_rate_delta: 0.2\n"
                                "  type_error_rate: 0.01\n"
                                "  out_of_range_rate: 0.03\n"
                                "  unseen_rate: 0.04\n"
                                "  false_alarms_per_week: 0.5\n"
                                "models:\n"
                                "  - name: fraud\n"
                                "    version: v3\n"
                                "    reference: /data/fraud-v3.json\n"
                                "    thresholds: {psi: 0.3, min_samples: 1000}\n"
                                "    columns:\n"
                                "      inputs.amount: {psi: 0.5}\n"
                                "      inputs.id: {ignore: true}\n"
                                "      outputs.score:\n"
                                "        thresholds: {ks: 0.2}\n"
                                "        alpha: 0.001\n"
                                "  - name: fraud\n"
                                "    reference: refs/fraud.json\n"
                                "  - name: churn\n"
                                "    reference: refs/churn.json\n"
                                "windows:\n"
                                "  - {name: 5m, length: 5m, slide: 30s}\n"
                                "  - name: day\n"
                                "    length: 1d\n"
                                "    slide: 1h\n"
                                "  - length: 2h\n"
                                "alerts:\n"
                                "  for: 3\n"
                                "  clear_psi: 0.15\n"
                                "  clear_ks: 0.1\n"
                                "  keep_firing_for: 10m\n"
                                "  group_by_model: false\n"
                                "time:\n"
                                "  allowed_lateness: 2m\n"
                                "  idle_timeout: 0\n"
                                "sinks:\n"
                                "  - name: hook\n"
                                "    type: webhook\n"
                                "    url: https://127.0.0.1:8443/hook\n"
                                "    timeout: 2s\n"
                                "    max_retries: 0\n"
                                "    send_resolved: false\n"
                                "    headers: {Authorization: Bearer abc, X-Team: ml}\n"
                                "    min_interval: 1m\n"
                                "    secret: s3cret\n"
                                "    filter:\n"
                                "      models: [fraud]\n"
                                "      columns: [inputs.amount]\n"
                                "      severity: critical\n"
                                "  - name: chat\n"
                                "    type: slack\n"
                                "    url: http://127.0.0.1:9000/slack\n"
                                "    channel: \"#ml-alerts\"\n"
                                "  - name: pd\n"
                                "    type: pagerduty\n"
                                "    url: http://127.0.0.1:9000/pd\n"
                                "    routing_key: R0UT1NG\n"
                                "    severity: warning\n"
                                "  - name: am\n"
                                "    type: alertmanager\n"
                                "    url: http://127.0.0.1:9093/api/v2/alerts\n"
                                "    resend_interval: 4h\n"
                                "  - {name: console, type: stdout}\n"
                                "retrain:\n"
                                "  - name: gh\n"
                                "    type: github\n"
                                "    url: http://127.0.0.1:9000/gh\n"
                                "    model: fraud\n"
                                "    min_columns: 5\n"
                                "    window: day\n"
                                "    for: 30m\n"
                                "    cooldown: 12h\n"
                                "    repository: acme/models\n"
                                "    workflow: retrain.yml\n"
                                "  - name: af\n"
                                "    type: airflow\n"
                                "    url: http://127.0.0.1:8080\n"
                                "    dag_id: retrain_churn\n"
                                "http:\n"
                                "  listen: \"[::1]:9999\"\n"
                                "  enabled: false\n"
                                "log:\n"
                                "  level: debug\n"
                                "  format: text\n"
                                "state_dir: state\n"
                                "evaluation:\n"
                                "  max_new_categories: 64\n";

static void test_full_file(void **state)
{
    (void)state;
    dw_config *cfg = dwt_parse_ok(full_yaml, "/cfg");
    const dw_kafka_config *k = &cfg->kafka;
    assert_string_equal(k->brokers, "k1:9092,k2:9092");
    assert_int_equal(k->ntopics, 2);
    assert_string_equal(k->topics[1], "logs-b");
    assert_string_equal(k->group_id, "dw-prod");
    assert_int_equal(k->auto_offset_reset, DW_OFFSET_LATEST);
    assert_string_equal(k->dead_letter_topic, "dw-dead");
    assert_int_equal(k->nproperties, 4);
    assert_string_equal(dw_kv_get(k->properties, k->nproperties, "security.protocol"), "SASL_SSL");
    /* Non-string scalars are passed to librdkafka as written. */
    assert_string_equal(dw_kv_get(k->properties, k->nproperties, "enable.idempotence"), "true");
    assert_string_equal(dw_kv_get(k->properties, k->nproperties, "fetch.max.bytes"), "52428800");
    assert_null(dw_kv_get(k->properties, k->nproperties, "nope"));
    assert_int_equal(k->poll_timeout_ms, 250);
    assert_int_equal(k->commit_interval_ms, 10000);
    assert_int_equal(k->max_message_bytes, 2097152);

    const dw_records_config *r = &cfg->records;
    assert_string_equal(r->timestamp, "meta.ts");
    assert_string_equal(r->model, "meta.model");
    assert_string_equal(r->model_version, "meta.version");
    assert_int_equal(r->ncolumns, 2);
    assert_string_equal(r->columns[0], "inputs");
    assert_int_equal(r->nfields, 1);
    assert_string_equal(r->fields[0], "latency_ms");
    assert_string_equal(r->default_model, "fraud");

    assert_close(cfg->thresholds.alpha, 0.05, EPS);
    assert_close(cfg->thresholds.psi_threshold, 0.25, EPS);
    assert_close(cfg->thresholds.ks_threshold, 0.15, EPS);
    assert_int_equal(cfg->thresholds.min_samples, 500);
    assert_close(cfg->thresholds.missing_rate_delta, 0.2, EPS);
    assert_close(cfg->thresholds.type_error_rate, 0.01, EPS);
    assert_close(cfg->thresholds.out_of_range_rate, 0.03, EPS);
    assert_close(cfg->thresholds.unseen_rate, 0.04, EPS);
    assert_close(cfg->thresholds.false_alarms_per_week, 0.5, EPS);

    assert_int_equal(cfg->nmodels, 3);
    const dw_model_config *m = &cfg->models[0];
    assert_string_equal(m->version, "v3");
    assert_string_equal(m->reference, "/data/fraud-v3.json");
    assert_string_equal(cfg->models[1].reference, "/cfg/refs/fraud.json");
    assert_int_equal(m->ncolumns, 3);

    /* Resolution: global < model < column. */
    bool ign = true;
    const dw_thresholds *t = dw_config_column_thresholds(cfg, m, "inputs.amount", &ign);
    assert_false(ign);
    assert_close(t->psi_threshold, 0.5, EPS); /* column */
    assert_int_equal(t->min_samples, 1000);   /* model */
    assert_close(t->alpha, 0.05, EPS);        /* global */
    assert_close(t->ks_threshold, 0.15, EPS); /* global */
    t = dw_config_column_thresholds(cfg, m, "inputs.id", &ign);
    assert_true(ign);
    t = dw_config_column_thresholds(cfg, m, "outputs.score", &ign);
    assert_false(ign);
    assert_close(t->ks_threshold, 0.2, EPS); /* nested thresholds block */
    assert_close(t->alpha, 0.001, EPS);      /* inline key */
    assert_close(t->psi_threshold, 0.3, EPS);
    t = dw_config_column_thresholds(cfg, m, "inputs.other", &ign);
    assert_false(ign);
    assert_ptr_equal(t, &m->thresholds);
    assert_close(t->psi_threshold, 0.3, EPS);
    assert_ptr_equal(dw_config_column_thresholds(cfg, NULL, "x", NULL), &cfg->thresholds);
    t = dw_config_column_thresholds(cfg, &cfg->models[2], "inputs.amount", NULL);
    assert_close(t->psi_threshold, 0.25, EPS);

    /* A versioned entry wins over the any-version entry of the same name. */
    assert_ptr_equal(dw_config_find_model(cfg, "fraud", "v3"), &cfg->models[0]);
    assert_ptr_equal(dw_config_find_model(cfg, "fraud", "v4"), &cfg->models[1]);
    assert_ptr_equal(dw_config_find_model(cfg, "fraud", NULL), &cfg->models[1]);
    assert_ptr_equal(dw_config_find_model(cfg, "churn", "v1"), &cfg->models[2]);
    assert_null(dw_config_find_model(cfg, "other", NULL));

    assert_int_equal(cfg->nwindows, 3);
    expect_window(cfg, 0, "5m", 300000, 30000, 10);
    expect_window(cfg, 1, "day", 86400000, 3600000, 24);
    /* Name defaults to the length, slide to the length (tumbling). */
    expect_window(cfg, 2, "2h", 7200000, 7200000, 1);
    assert_ptr_equal(dw_config_find_window(cfg, "day"), &cfg->windows[1]);
    assert_null(dw_config_find_window(cfg, "1h"));

    expect_alerts_and_time(cfg, 3, 0.15, 0.1, 600000, false, 120000, 0);

    assert_int_equal(cfg->nsinks, 5);
    const dw_sink_config *s = &cfg->sinks[0];
    assert_int_equal(s->timeout_ms, 2000);
    assert_int_equal(s->max_retries, 0);
    assert_false(s->send_resolved);
    assert_int_equal(s->nheaders, 2);
    assert_string_equal(dw_kv_get(s->headers, s->nheaders, "Authorization"), "Bearer abc");
    assert_int_equal(s->min_interval_ms, 60000);
    assert_string_equal(dw_kv_get(s->params, s->nparams, "secret"), "s3cret");
    assert_int_equal(s->filter.nmodels, 1);
    assert_string_equal(s->filter.models[0], "fraud");
    assert_string_equal(s->filter.columns[0], "inputs.amount");
    assert_int_equal(s->filter.min_severity, DW_SEVERITY_CRITICAL);
    assert_string_equal(cfg->sinks[1].type, "slack");
    assert_string_equal(dw_kv_get(cfg->sinks[1].params, cfg->sinks[1].nparams, "channel"),
                        "#ml-alerts");
    assert_string_equal(cfg->sinks[2].type, "pagerduty");
    assert_string_equal(dw_kv_get(cfg->sinks[2].params, cfg->sinks[2].nparams, "routing_key"),
                        "R0UT1NG");
    assert_string_equal(cfg->sinks[3].type, "alertmanager");
    assert_string_equal(dw_kv_get(cfg->sinks[3].params, cfg->sinks[3].nparams, "resend_interval"),
                        "4h");
    assert_string_equal(cfg->sinks[4].type, "stdout");
    assert_ptr_equal(cfg->sinks[3].type, dw_sink_ops_find("alertmanager")->name);

    assert_int_equal(cfg->nretrain, 2);
    const dw_retrain_config *rt = &cfg->retrain[0];
    assert_string_equal(rt->type, "github");
    assert_string_equal(rt->model, "fraud");
    assert_int_equal(rt->min_columns, 5);
    assert_string_equal(rt->window, "day");
    assert_int_equal(rt->for_ms, 1800000);
    assert_int_equal(rt->cooldown_ms, 12 * 3600000);
    assert_string_equal(dw_kv_get(rt->params, rt->nparams, "workflow"), "retrain.yml");
    rt = &cfg->retrain[1];
    assert_string_equal(rt->type, "airflow");
    assert_null(rt->model);
    assert_int_equal(rt->min_columns, 3);
    assert_string_equal(rt->window, "5m"); /* the first window */
    assert_int_equal(rt->for_ms, 900000);
    assert_int_equal(rt->cooldown_ms, 6 * 3600000);
    assert_ptr_equal(rt->type, dw_sink_ops_find("airflow")->name);

    expect_http_and_log(cfg, "[::1]:9999", "::1", 9999, false, DW_LOG_DEBUG, DW_LOG_TEXT);
    assert_string_equal(cfg->state_dir, "/cfg/state");
    assert_false(cfg->state_dir_default);
    assert_int_equal(cfg->evaluation.max_new_categories, 64);
    dw_config_free(cfg);
}

static void test_json_config(void **state)
{
    (void)state;
    const char *json =
        "{\n"
        "  \"kafka\": {\"brokers\": \"127.0.0.1:9092\", \"topics\": [\"a\"]},\n"
        "  \"models\": [{\"name\": \"m\", \"reference\": \"m.json\",\n"
        "              \"thresholds\": {\"alpha\": 0.02, \"min_samples\": 50}}],\n"
        "  \"windows\": [{\"name\": \"w\", \"length\": \"10m\", \"slide\": \"1m\"}],\n"
        "  \"http\": {\"enabled\": false}\n"
        "}\n";
    dw_config *cfg = dwt_parse_ok(json, NULL);
    assert_string_equal(cfg->kafka.topics[0], "a");
    assert_close(cfg->models[0].thresholds.alpha, 0.02, EPS);
    assert_int_equal(cfg->models[0].thresholds.min_samples, 50);
    assert_int_equal(cfg->windows[0].panes, 10);
    assert_false(cfg->http.enabled);
    dw_config_free(cfg);

    /* Errors in JSON carry the line too. */
    dwt_parse_error("{\"kafka\": {\"brokers\": \"b\", \"topics\": [\"a\"]},\n"
                    " \"models\": [{\"name\": \"m\", \"reference\": \"r\"}],\n"
                    " \"http\": {\"enabeld\": true}}\n",
                    DW_ERR_INVALID,
                    "test.yaml:3: http: unknown key \"enabeld\" (did you mean \"enabled\"?)");
}

static void test_env_interpolation(void **state)
{
    (void)state;
    setenv("DW_TEST_BROKERS", "10.0.0.1:9092", 1);
    setenv("DW_TEST_EMPTY", "", 1);
    setenv("DW_TEST_RETRIES", "7", 1);
    unsetenv("DW_TEST_UNSET");
    dw_config *cfg =
        dwt_parse_ok("kafka:\n"
                     "  brokers: ${DW_TEST_BROKERS}\n"
                     "  topics: [\"${DW_TEST_UNSET:-fallback}\", \"x${DW_TEST_EMPTY:-e}y\"]\n"
                     "  group_id: \"g-${DW_TEST_EMPTY}-$$HOME-$x\"\n"
                     "  dead_letter_topic: \"${DW_TEST_UNSET:-}\"\n"
                     "models:\n"
                     "  - {name: m, reference: r}\n"
                     "sinks:\n"
                     "  - name: s\n"
                     "    type: webhook\n"
                     "    url: \"http://127.0.0.1:${DW_TEST_PORT:-8080}/a\"\n"
                     "    max_retries: \"${DW_TEST_RETRIES}\"\n"
                     "    headers: {X-Key: \"${DW_TEST_UNSET:-}\"}\n",
                     NULL);
    assert_string_equal(cfg->kafka.brokers, "10.0.0.1:9092");
    assert_string_equal(cfg->kafka.topics[0], "fallback");
    /* ":-" also applies when the variable is set but empty, as in the shell. */
    assert_string_equal(cfg->kafka.topics[1], "xey");
    /* "$$" is a literal dollar; a "$" not followed by "{" is kept. */
    assert_string_equal(cfg->kafka.group_id, "g--$HOME-$x");
    /* An optional key that interpolates to "" is absent. */
    assert_null(cfg->kafka.dead_letter_topic);
    assert_string_equal(cfg->sinks[0].url, "http://127.0.0.1:8080/a");
    assert_int_equal(cfg->sinks[0].max_retries, 7);
    assert_string_equal(dw_kv_get(cfg->sinks[0].headers, 1, "X-Key"), "");
    dw_config_free(cfg);

    dwt_parse_error(BASE "state_dir: /x/${DW_TEST_UNSET}\n", DW_ERR_NOT_FOUND,
                    "test.yaml:7: state_dir: environment variable \"DW_TEST_UNSET\" is not set "
                    "(use ${DW_TEST_UNSET:-default} for a default)");
    dwt_parse_error(BASE "state_dir: /x/${DW_TEST\n", DW_ERR_INVALID,
                    "test.yaml:7: state_dir: unterminated \"${\" (write $$ for a literal dollar)");
    dwt_parse_error(BASE "state_dir: \"${1BAD}\"\n", DW_ERR_INVALID,
                    "test.yaml:7: state_dir: \"${1BAD}\" is not a variable reference (use ${NAME} "
                    "or ${NAME:-default}; $$ for a literal dollar)");
    /* Interpolated values are type-checked like written ones. */
    setenv("DW_TEST_RETRIES", "many", 1);
    dwt_parse_error(
        BASE "sinks:\n  - name: s\n    type: stdout\n    max_retries: ${DW_TEST_RETRIES}\n",
        DW_ERR_INVALID, "test.yaml:10: sinks[0].max_retries: \"many\" is not an integer");
    unsetenv("DW_TEST_BROKERS");
    unsetenv("DW_TEST_EMPTY");
    unsetenv("DW_TEST_RETRIES");
}

static void test_unknown_keys(void **state)
{
    (void)state;
    dwt_parse_error("kafka:\n  brokers: b\n  topic: [t]\n", DW_ERR_INVALID,
                    "test.yaml:3: kafka: unknown key \"topic\" (did you mean \"topics\"?)");
    dwt_parse_error(BASE "kafak: {}\n", DW_ERR_INVALID,
                    "test.yaml:7: unknown top-level key \"kafak\" (did you mean \"kafka\"?)");
    dwt_parse_error(BASE "colour: red\n", DW_ERR_INVALID,
                    "test.yaml:7: unknown top-level key \"colour\"");
    dwt_parse_error(BASE "windows:\n  - name: w\n    length: 1h\n    slid: 1m\n", DW_ERR_INVALID,
                    "test.yaml:10: windows[0]: unknown key \"slid\" (did you mean \"slide\"?)");
    /* A key of another sink type names the type it belongs to. */
    dwt_parse_error(BASE "sinks:\n  - name: s\n    type: webhook\n    url: http://h\n"
                         "    channel: x\n",
                    DW_ERR_INVALID,
                    "test.yaml:11: sinks[0]: key \"channel\" is not used by webhook sinks (it "
                    "belongs to type slack)");
    dwt_parse_error(BASE "  - name: m2\n    reference: r\n    columns:\n      a.b: {ignore: true, "
                         "pis: 0.1}\n",
                    DW_ERR_INVALID,
                    "test.yaml:10: models[1].columns.a.b: unknown key \"pis\" (did you mean "
                    "\"psi\"?)");
}

static void test_wrong_types(void **state)
{
    (void)state;
    dwt_parse_error("kafka:\n  brokers: b\n  topics: t\nmodels: []\n", DW_ERR_INVALID,
                    "test.yaml:3: kafka.topics: expected a list, got a scalar");
    dwt_parse_error("kafka:\n  brokers: [a, b]\n", DW_ERR_INVALID,
                    "test.yaml:2: kafka.brokers: expected a single value, got a list");
    dwt_parse_error(BASE "http:\n  enabled: yes\n", DW_ERR_INVALID,
                    "test.yaml:8: http.enabled: \"yes\" is not a boolean (use true or false)");
    dwt_parse_error(BASE "alerts:\n  for: 2.5\n", DW_ERR_INVALID,
                    "test.yaml:8: alerts.for: \"2.5\" is not an integer");
    dwt_parse_error(BASE "thresholds:\n  psi: high\n", DW_ERR_INVALID,
                    "test.yaml:8: thresholds.psi: \"high\" is not a number");
    dwt_parse_error(BASE "time: 5m\n", DW_ERR_INVALID,
                    "test.yaml:7: time: expected a mapping, got a scalar");
    dwt_parse_error("- a\n- b\n", DW_ERR_INVALID,
                    "test.yaml:1: the configuration must be a mapping, not a list");
    dwt_parse_error(BASE "log:\n  level: verbose\n", DW_ERR_INVALID,
                    "test.yaml:8: log.level: \"verbose\" is not one of debug, info, warn, error");
    dwt_parse_error(BASE "kafka2: 1\n", DW_ERR_INVALID,
                    "test.yaml:7: unknown top-level key \"kafka2\" (did you mean \"kafka\"?)");
}

static void test_required_keys(void **state)
{
    (void)state;
    dwt_parse_error("models:\n  - {name: m, reference: r}\n", DW_ERR_INVALID,
                    "test.yaml:1: missing required section \"kafka\"");
    dwt_parse_error("kafka:\n  topics: [t]\nmodels: []\n", DW_ERR_INVALID,
                    "test.yaml:2: kafka: missing required key \"brokers\"");
    dwt_parse_error("kafka:\n  brokers: b\nmodels: []\n", DW_ERR_INVALID,
                    "test.yaml:2: kafka: missing required key \"topics\"");
    dwt_parse_error("kafka:\n  brokers: b\n  topics: []\nmodels: []\n", DW_ERR_INVALID,
                    "test.yaml:3: kafka.topics: needs at least 1 entry");
    dwt_parse_error("kafka:\n  brokers: \"\"\n  topics: [t]\n", DW_ERR_INVALID,
                    "test.yaml:2: kafka.brokers: must not be empty");
    dwt_parse_error("kafka:\n  brokers: b\n  topics: [t]\n", DW_ERR_INVALID,
                    "test.yaml:1: missing required section \"models\"");
    dwt_parse_error("kafka:\n  brokers: b\n  topics: [t]\nmodels: []\n", DW_ERR_INVALID,
                    "test.yaml:4: models: needs at least 1 entry");
    dwt_parse_error("kafka:\n  brokers: b\n  topics: [t]\nmodels:\n  - name: m\n", DW_ERR_INVALID,
                    "test.yaml:5: models[0]: missing required key \"reference\"");
    dwt_parse_error(BASE "  - reference: x\n", DW_ERR_INVALID,
                    "test.yaml:7: models[1]: missing required key \"name\"");
    dwt_parse_error(BASE "sinks:\n  - name: s\n    type: slack\n", DW_ERR_INVALID,
                    "test.yaml:8: sinks[0]: missing required key \"url\"");
    dwt_parse_error(BASE "sinks:\n  - name: s\n    url: http://h\n", DW_ERR_INVALID,
                    "test.yaml:8: sinks[0]: missing required key \"type\"");
    dwt_parse_error(BASE "sinks:\n  - name: s\n    type: pagerduty\n    url: http://h\n",
                    DW_ERR_INVALID, "test.yaml:8: sinks[0]: missing required key \"routing_key\"");
    dwt_parse_error(BASE "retrain:\n  - name: r\n    type: github\n    url: http://h\n",
                    DW_ERR_INVALID, "test.yaml:8: retrain[0]: missing required key \"repository\"");
    dwt_parse_error(BASE "retrain:\n  - name: r\n    type: github\n    url: http://h\n"
                         "    repository: nobody\n",
                    DW_ERR_INVALID,
                    "test.yaml:11: retrain[0].repository: \"nobody\" is not owner/name");
    dwt_parse_error(BASE "sinks:\n  - {name: same, type: stdout}\n"
                         "retrain:\n  - name: same\n    type: webhook\n    url: http://h\n",
                    DW_ERR_INVALID,
                    "test.yaml:10: retrain[0].name: \"same\" is already the name of a sink");
    dwt_parse_error(BASE "windows:\n  - name: w\n", DW_ERR_INVALID,
                    "test.yaml:8: windows[0]: missing required key \"length\"");
}

static void test_ranges_and_durations(void **state)
{
    (void)state;
    dwt_parse_error(BASE "windows:\n  - name: w\n    length: 15m\n    slide: 5x\n", DW_ERR_INVALID,
                    "test.yaml:10: windows[0].slide: \"5x\" is not a duration (use 30s, 5m, 1h, "
                    "1h30m)");
    dwt_parse_error(BASE "windows:\n  - name: w\n    length: 15m\n    slide: 7m\n", DW_ERR_INVALID,
                    "test.yaml:9: windows[0].length: 15m is not a positive multiple of slide 7m");
    dwt_parse_error(BASE "windows:\n  - name: w\n    length: 1h\n    slide: 2h\n", DW_ERR_INVALID,
                    "test.yaml:9: windows[0].length: 1h is not a positive multiple of slide 2h");
    dwt_parse_error(BASE "windows:\n  - name: w\n    length: 1d\n    slide: 30s\n", DW_ERR_LIMIT,
                    "test.yaml:10: windows[0]: length 1d / slide 30s = 2880 panes, more than 1440 "
                    "(use a longer slide)");
    dwt_parse_error(BASE "windows:\n  - name: w\n    length: 0s\n", DW_ERR_INVALID,
                    "test.yaml:9: windows[0].length: 0s is out of range (1ms to 366d)");
    dwt_parse_error(BASE "windows:\n  - {name: a, length: 1h}\n  - {name: a, length: 2h}\n",
                    DW_ERR_INVALID,
                    "test.yaml:9: windows[1].name: duplicate window name \"a\" (first at line 8)");
    dwt_parse_error(BASE "windows:\n  - {name: \"a b\", length: 1h}\n", DW_ERR_INVALID,
                    "test.yaml:8: windows[0].name: \"a b\" may contain only letters, digits, '_', "
                    "'-' and '.'");
    dwt_parse_error(BASE "thresholds:\n  alpha: 1.5\n", DW_ERR_INVALID,
                    "test.yaml:8: thresholds.alpha: 1.5 is out of range (must be > 0 and < 1)");
    dwt_parse_error(BASE "thresholds:\n  alpha: 0\n", DW_ERR_INVALID,
                    "test.yaml:8: thresholds.alpha: 0 is out of range (must be > 0 and < 1)");
    dwt_parse_error(BASE "thresholds:\n  psi: -0.1\n", DW_ERR_INVALID,
                    "test.yaml:8: thresholds.psi: -0.1 is out of range (must be >= 0)");
    dwt_parse_error(BASE "thresholds:\n  min_samples: 0\n", DW_ERR_INVALID,
                    "test.yaml:8: thresholds.min_samples: 0 is out of range (1 to 1000000000000)");
    dwt_parse_error(BASE "alerts:\n  for: 0\n", DW_ERR_INVALID,
                    "test.yaml:8: alerts.for: 0 is out of range (1 to 10000)");
    dwt_parse_error(BASE "alerts:\n  clear_psi: 0.3\n", DW_ERR_INVALID,
                    "test.yaml:8: alerts.clear_psi: 0.3 is above thresholds.psi 0.2 (an alert must "
                    "clear below the level that fires it)");
    dwt_parse_error(BASE "http:\n  listen: localhost\n", DW_ERR_INVALID,
                    "test.yaml:8: http.listen: \"localhost\" is not host:port (like 0.0.0.0:9187 "
                    "or [::]:9187)");
    dwt_parse_error(BASE "http:\n  listen: \"0.0.0.0:70000\"\n", DW_ERR_INVALID,
                    "test.yaml:8: http.listen: \"0.0.0.0:70000\" is not host:port (like "
                    "0.0.0.0:9187 or [::]:9187)");
    dwt_parse_error(BASE "sinks:\n  - {name: s, type: stdout, url: \"http://h\"}\n", DW_ERR_INVALID,
                    "test.yaml:8: sinks[0].url: stdout sinks take no url");
    dwt_parse_error(BASE "sinks:\n  - {name: s, type: webhook, url: \"ftp://h\"}\n", DW_ERR_INVALID,
                    "test.yaml:8: sinks[0].url: \"ftp://h\" must start with http:// or https://");
    dwt_parse_error(BASE "sinks:\n  - {name: s, type: webhok, url: \"http://h\"}\n", DW_ERR_INVALID,
                    "test.yaml:8: sinks[0].type: \"webhok\" is not one of webhook, stdout, slack, "
                    "pagerduty, alertmanager (did you mean \"webhook\"?)");
    dwt_parse_error(BASE "sinks:\n  - {name: a, type: stdout}\n  - {name: a, type: stdout}\n",
                    DW_ERR_INVALID, "test.yaml:9: sinks[1].name: duplicate sink name \"a\"");
    dwt_parse_error(BASE "sinks:\n  - name: a\n    type: alertmanager\n    url: http://h\n"
                         "    resend_interval: often\n",
                    DW_ERR_INVALID,
                    "test.yaml:11: sinks[0].resend_interval: \"often\" is not a duration (use 30s, "
                    "5m, 1h, 1h30m)");
    dwt_parse_error(BASE "sinks:\n  - name: a\n    type: stdout\n    filter: {models: [fruad]}\n",
                    DW_ERR_NOT_FOUND,
                    "test.yaml:10: sinks[0].filter.models[0]: \"fruad\" is not one of the models");
    dwt_parse_error(BASE "retrain:\n  - {name: r, type: webhook, url: \"http://h\", window: 2h}\n",
                    DW_ERR_NOT_FOUND,
                    "test.yaml:8: retrain[0].window: \"2h\" is not one of the windows");
    dwt_parse_error(BASE "records:\n  default_model: churn\n", DW_ERR_NOT_FOUND,
                    "test.yaml:8: records.default_model: \"churn\" is not one of the models");
    dwt_parse_error(BASE "records:\n  columns: []\n", DW_ERR_INVALID,
                    "test.yaml:8: records: columns and fields are both empty, so nothing would be "
                    "monitored");
    dwt_parse_error(BASE "records:\n  columns: [features..x]\n", DW_ERR_INVALID,
                    "test.yaml:8: records.columns[0]: \"features..x\" is not a dotted path (like "
                    "\"features\" or \"meta.ts\")");
    /* Members of a.b.c would be 4 names deep; records are read 3 deep. */
    dwt_parse_error(BASE "records:\n  columns: [a.b.c]\n", DW_ERR_INVALID,
                    "test.yaml:8: records.columns[0]: \"a.b.c\" is nested too deep: its members "
                    "would be deeper than records are read (at most 2 names, like "
                    "\"payload.features\")");
    dwt_parse_error(BASE "records:\n  timestamp: a.b.c.d\n", DW_ERR_INVALID,
                    "test.yaml:8: records.timestamp: \"a.b.c.d\" is nested deeper than records "
                    "are read (at most 3 names, like \"a.b.c\")");
    dwt_parse_error("kafka:\n  brokers: b\n  topics: [\"bad topic\"]\n", DW_ERR_INVALID,
                    "test.yaml:3: kafka.topics[0]: \"bad topic\" may contain only letters, digits, "
                    "'.', '_' and '-' (Kafka's rule)");
    dwt_parse_error(BASE "  - name: fraud\n    reference: other.json\n", DW_ERR_INVALID,
                    "test.yaml:7: models[1]: model \"fraud\" (version any) is configured twice "
                    "(first at line 5)");
    dwt_parse_error("kafka:\n  brokers: b\n  topics: [t]\n  properties:\n    group.id: x\n",
                    DW_ERR_INVALID,
                    "test.yaml:5: kafka.properties: key \"group.id\" is set by driftwatch (use "
                    "kafka.group_id)");
    dwt_parse_error(BASE "sinks:\n  - name: a\n    type: webhook\n    url: http://h\n"
                         "    headers: {X-A: \"a\\r\\nX-B: b\"}\n",
                    DW_ERR_INVALID,
                    "test.yaml:11: sinks[0].headers.X-A: must not contain a line break");
    dwt_parse_error(BASE "  - name: m2\n    reference: r\n    columns:\n      a: {psi: 0.1, "
                         "thresholds: {psi: 0.2}}\n",
                    DW_ERR_INVALID,
                    "test.yaml:10: models[1].columns.a: \"psi\" is set both here and under "
                    "thresholds");
}

static void test_too_many_windows(void **state)
{
    (void)state;
    char text[2048] = BASE "windows:\n";
    for (int i = 0; i < DW_CONFIG_MAX_WINDOWS + 1; i++) {
        size_t o = strlen(text);
        snprintf(text + o, sizeof text - o, "  - {name: w%d, length: %dm}\n", i, i + 1);
    }
    dwt_parse_error(text, DW_ERR_LIMIT, "test.yaml:8: windows: more than 16 entries");
}

static void test_syntax_and_structure_errors(void **state)
{
    (void)state;
    dwt_parse_error("kafka:\n  brokers: b\n   topics: [t]\n", DW_ERR_PARSE,
                    "test.yaml:3: invalid YAML: mapping values are not allowed in this context");
    dwt_parse_error("kafka: {brokers: b\n", DW_ERR_PARSE,
                    "test.yaml:2: invalid YAML: did not find expected ',' or '}' while parsing a "
                    "flow mapping");
    dwt_parse_error("kafka:\n  brokers: a\n  brokers: b\n", DW_ERR_INVALID,
                    "test.yaml:3: kafka: duplicate key \"brokers\" (first at line 2)");
    dwt_parse_error(BASE "state_dir: a\nstate_dir: b\n", DW_ERR_INVALID,
                    "test.yaml:8: duplicate key \"state_dir\" (first at line 7)");
    dwt_parse_error("", DW_ERR_EMPTY, "test.yaml:1: the configuration is empty");
    dwt_parse_error("# only a comment\n", DW_ERR_EMPTY, "test.yaml:1: the configuration is empty");
    dwt_parse_error(BASE "---\nother: 1\n", DW_ERR_INVALID,
                    "test.yaml:8: only one YAML document is allowed");
    /* Aliases are expanded, within the node budget. */
    dw_config *cfg = dwt_parse_ok("kafka:\n  brokers: b\n  topics: &t [a, b]\n"
                                  "models:\n  - {name: m, reference: r}\n"
                                  "sinks:\n  - {name: s, type: stdout, filter: {columns: *t}}\n",
                                  NULL);
    assert_int_equal(cfg->sinks[0].filter.ncolumns, 2);
    dw_config_free(cfg);
}

static void test_load_resolves_paths(void **state)
{
    (void)state;
    char dir[] = "/tmp/dwcfgXXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/driftwatch.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(BASE "state_dir: state\n", f);
    fclose(f);

    char err[512] = "";
    dw_config *cfg = NULL;
    int rc = dw_config_load(path, &cfg, err, sizeof err);
    assert_int_equal(rc, 0);
    char want[512];
    snprintf(want, sizeof want, "%s/r.json", dir);
    assert_string_equal(cfg->models[0].reference, want);
    snprintf(want, sizeof want, "%s/state", dir);
    assert_string_equal(cfg->state_dir, want);
    assert_string_equal(cfg->path, path);
    dw_config_free(cfg);

    /* Errors name the file as given. */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(BASE "log: {level: loud}\n", f);
    fclose(f);
    rc = dw_config_load(path, &cfg, err, sizeof err);
    assert_int_equal(rc, DW_ERR_INVALID);
    assert_null(cfg);
    snprintf(want, sizeof want, "%s:7: log.level: \"loud\" is not one of debug, info, warn, error",
             path);
    assert_string_equal(err, want);
    unlink(path);

    rc = dw_config_load(path, &cfg, err, sizeof err);
    assert_int_equal(rc, DW_ERR_IO);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    assert_string_equal(err, want);
    rmdir(dir);
    dw_config_free(NULL);
}

static void test_duration_table(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t ms;
    } ok[] = {
        {"500ms", 500},     {"30s", 30000},    {"5m", 300000},    {"1h", 3600000},
        {"1h30m", 5400000}, {"2d", 172800000}, {"30", 30000},     {"0", 0},
        {"0s", 0},          {"1m30s", 90000},  {"1s500ms", 1500}, {"1d2h3m4s5ms", 93784005},
        {"007s", 7000},     {"90m", 5400000},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ms = -1;
        if (dw_duration_parse(ok[i].s, &ms) != 0)
            fail_msg("\"%s\" should parse", ok[i].s);
        assert_int_equal(ms, ok[i].ms);
    }
    static const char *const bad[] = {
        "",       "5x",   "m",   "-5s", "1.5h",
        "30m1h",  "1h1h", "5 m", " 5m", "5m ",
        "1s500",  "ms",   "5M",  "1y",  "999999999999999999999s",
        "40000d",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 42;
        if (dw_duration_parse(bad[i], &ms) != DW_ERR_INVALID)
            fail_msg("\"%s\" should be refused", bad[i]);
        assert_int_equal(ms, 42); /* untouched on error */
    }
    assert_int_equal(dw_duration_parse(NULL, &(int64_t){0}), DW_ERR_INVALID);

    /* Formatting uses the largest units and reads back to the same value. */
    static const struct {
        int64_t ms;
        const char *s;
    } fmt[] = {{0, "0s"},          {500, "500ms"},   {1500, "1s500ms"},        {60000, "1m"},
               {5400000, "1h30m"}, {86400000, "1d"}, {93784005, "1d2h3m4s5ms"}};
    for (size_t i = 0; i < sizeof fmt / sizeof fmt[0]; i++) {
        char buf[48];
        assert_string_equal(dw_duration_format(fmt[i].ms, buf, sizeof buf), fmt[i].s);
        int64_t back;
        assert_int_equal(dw_duration_parse(buf, &back), 0);
        assert_int_equal(back, fmt[i].ms);
    }
}

/* The shipped examples must stay valid: they are what users copy. */
static void test_examples_parse(void **state)
{
    (void)state;
    static const char *const files[] = {"minimal.yaml", "minimal.json", "full.yaml"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[1024], err[512] = "";
        snprintf(path, sizeof path, "%s/deploy/examples/%s", DW_SOURCE_ROOT, files[i]);
        dw_config *cfg = NULL;
        if (dw_config_load(path, &cfg, err, sizeof err) != 0)
            fail_msg("%s", err);
        assert_string_equal(cfg->models[0].name, "fraud");
        if (i < 2) {
            /* The YAML and JSON minimal examples describe the same thing. */
            assert_int_equal(cfg->nsinks, 1);
            assert_string_equal(cfg->sinks[0].type, "webhook");
            assert_int_equal(cfg->windows[0].panes, 15);
        } else {
            assert_int_equal(cfg->nmodels, 2);
            assert_int_equal(cfg->nsinks, 5);
            assert_int_equal(cfg->nretrain, 1);
            assert_int_equal(cfg->nwindows, 3);
            bool ign = false;
            dw_config_column_thresholds(cfg, &cfg->models[0], "features.request_hour", &ign);
            assert_true(ign);
        }
        dw_config_free(cfg);
    }
}

/* The keys of a sink or retrain entry come from the type's option table
 * (src/sinks/): a type with a default url needs none in the file, and an
 * option's type and limits are checked at load with the line. */
static void test_sink_options_come_from_the_type_tables(void **state)
{
    (void)state;
    dw_config *cfg = dwt_parse_ok(BASE "sinks:\n  - name: pd\n    type: pagerduty\n"
                                       "    routing_key: rk\n  - name: out\n    type: stdout\n"
                                       "    format: text\n"
                                       "retrain:\n  - name: gh\n    type: github\n"
                                       "    repository: acme/models\n",
                                  NULL);
    assert_string_equal(cfg->sinks[0].type, "pagerduty");
    assert_null(cfg->sinks[0].url);
    assert_string_equal(dw_kv_get(cfg->sinks[0].params, cfg->sinks[0].nparams, "routing_key"),
                        "rk");
    assert_string_equal(dw_kv_get(cfg->sinks[1].params, cfg->sinks[1].nparams, "format"), "text");
    assert_string_equal(cfg->retrain[0].type, "github");
    assert_null(cfg->retrain[0].url);
    dw_config_free(cfg);

    dwt_parse_error(BASE "sinks:\n  - name: out\n    type: stdout\n    format: yaml\n",
                    DW_ERR_INVALID,
                    "test.yaml:10: sinks[0].format: \"yaml\" is not one of json, text");
    dwt_parse_error(BASE "sinks:\n  - name: pd\n    type: pagerduty\n    routing_key: rk\n"
                         "    severity: critcal\n",
                    DW_ERR_INVALID,
                    "test.yaml:11: sinks[0].severity: \"critcal\" is not one of critical, error, "
                    "warning, info (did you mean \"critical\"?)");
    dwt_parse_error(BASE "retrain:\n  - name: gh\n    type: github\n    repository: a/b\n"
                         "    event_type: \""
                         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"\n",
                    DW_ERR_INVALID,
                    "test.yaml:11: retrain[0].event_type: \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\" is longer than 100 characters");
    dwt_parse_error(BASE "retrain:\n  - name: r\n    type: airflow\n    url: http://h\n"
                         "    dag_id: d\n    routing_key: rk\n",
                    DW_ERR_INVALID, "test.yaml:12: retrain[0]: unknown key \"routing_key\"");
    /* A map option (alertmanager's static labels) arrives as "<key>.<name>";
     * another type's entry with it is told which type takes it. */
    cfg = dwt_parse_ok(BASE "sinks:\n  - name: am\n    type: alertmanager\n    url: http://h\n"
                            "    labels: {team: ml}\n",
                       NULL);
    assert_string_equal(dw_kv_get(cfg->sinks[0].params, cfg->sinks[0].nparams, "labels.team"),
                        "ml");
    dw_config_free(cfg);
    dwt_parse_error(BASE "sinks:\n  - name: w\n    type: webhook\n    url: http://h\n"
                         "    labels: {team: ml}\n",
                    DW_ERR_INVALID,
                    "test.yaml:11: sinks[0].labels: only alertmanager sinks take "
                    "static labels");
    dwt_parse_error(BASE "sinks:\n  - name: am\n    type: alertmanager\n    url: http://h\n"
                         "    annotations: {__x: y}\n",
                    DW_ERR_INVALID,
                    "test.yaml:11: sinks[0].annotations: key \"__x\" is not a label name "
                    "([a-zA-Z_][a-zA-Z0-9_]*, no leading __)");
    /* The limits the notifier enforces are the ones the loader checks. */
    dwt_parse_error(BASE "sinks:\n  - {name: s, type: stdout, min_interval: 2h}\n", DW_ERR_INVALID,
                    "test.yaml:8: sinks[0].min_interval: 2h is out of range (0s to 1h)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_defaults),
        cmocka_unit_test(test_omitted_sections_get_defaults),
        cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_json_config),
        cmocka_unit_test(test_env_interpolation),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_required_keys),
        cmocka_unit_test(test_ranges_and_durations),
        cmocka_unit_test(test_too_many_windows),
        cmocka_unit_test(test_syntax_and_structure_errors),
        cmocka_unit_test(test_load_resolves_paths),
        cmocka_unit_test(test_duration_table),
        cmocka_unit_test(test_examples_parse),
        cmocka_unit_test(test_sink_options_come_from_the_type_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of the retraining targets (Airflow v1/v2, Argo, Kubeflow,
 * GitHub): the request each one builds from a retraining trigger (URL,
 * headers, body fields and their JSON types), their settings checks, how
 * they judge answers, and dw_notifier_submit_to(). The expected values are
 * written out from the APIs' documentation, not computed by the code under
 * test; the Basic credentials are checked against an independent base64
 * value (`printf admin:s3cret | base64` gives YWRtaW46czNjcmV0). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "driftwatch/error.h"
#include "driftwatch/log.h"
#include "driftwatch/notifier.h"
#include "driftwatch/sink.h"

#include "sink_int.h"

#define DWT_SPEC_NAME "rt"
#include "sink_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY "3f2a9c0d11e4b7a5"

/* A retraining trigger as the engine emits it (src/engine.c check_retrain),
 * "sent_at" added as the notifier does. */
static json_t *retrain_doc(bool with_version)
{
    json_t *cols = json_pack("[{s:s, s:I, s:{s:{s:f, s:f, s:f}, s:f}, s:s},"
                             " {s:s, s:I, s:{s:{s:f, s:i, s:f, s:f}, s:f}, s:s}]",
                             "column", "features.amount", "samples", (json_int_t)18000, "tests",
                             "ks", "statistic", 0.31, "p_value", 1e-40, "p_adjusted", 1e-39, "psi",
                             0.52, "firing_since", "2026-11-25T13:02:00.000Z", "column",
                             "features.country", "samples", (json_int_t)18000, "tests", "chi2",
                             "statistic", 812.5, "df", 7, "p_value", 1e-170, "p_adjusted", 1e-169,
                             "psi", 0.41, "firing_since", "2026-11-25T13:03:00.000Z");
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:{s:s, s:s, s:I}, s:s, s:s, "
                     "s:s, s:s, s:s, s:o, s:s}",
                     "version", "1", "kind", "retrain", "id", KEY, "idempotency_key", KEY, "rule",
                     "fraud-retrain", "target", "airflow", "model", "fraud", "model_version",
                     with_version ? json_string("v3") : json_null(), "reference", "path",
                     "reference_stats/fraud.json", "checksum", "sha256:0a1b", "rows",
                     (json_int_t)100000, "window", "1h", "window_start", "2026-11-25T12:18:00.000Z",
                     "window_end", "2026-11-25T13:18:00.000Z", "drift_since",
                     "2026-11-25T13:03:00.000Z", "triggered_at", "2026-11-25T13:18:00.000Z",
                     "columns", cols, "sent_at", "2026-11-25T13:18:00.412Z");
}

static json_t *drift_doc(void)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:[]}", "version", "1", "kind", "drift", "id",
                     "fraud/v3/x", "model", "fraud", "model_version", "v3", "alerts");
}

/* The evidence (docs/alerts.md, "Retraining triggers"): exactly these nine
 * keys, with these types and values from retrain_doc(). */
static void check_evidence(json_t *ev, bool version_as_empty_string)
{
    assert_true(json_is_object(ev));
    assert_int_equal(json_object_size(ev), 9);
    assert_string_equal(sget(ev, "idempotency_key"), KEY);
    assert_string_equal(sget(ev, "rule"), "fraud-retrain");
    assert_string_equal(sget(ev, "model"), "fraud");
    json_t *mv = json_object_get(ev, "model_version");
    if (version_as_empty_string)
        assert_string_equal(json_string_value(mv), "");
    else
        assert_string_equal(sget(ev, "model_version"), "v3");
    json_t *ref = json_object_get(ev, "reference");
    assert_int_equal(json_object_size(ref), 3);
    static const char *const ref_strings[][2] = {{"path", "reference_stats/fraud.json"},
                                                 {"checksum", "sha256:0a1b"}};
    expect_strings(ref, ref_strings, DWT_N(ref_strings));
    assert_true(json_is_integer(json_object_get(ref, "rows")));
    assert_int_equal(json_integer_value(json_object_get(ref, "rows")), 100000);
    json_t *w = json_object_get(ev, "window");
    assert_int_equal(json_object_size(w), 3);
    static const char *const w_strings[][2] = {
        {"name", "1h"}, {"start", "2026-11-25T12:18:00.000Z"}, {"end", "2026-11-25T13:18:00.000Z"}};
    expect_strings(w, w_strings, DWT_N(w_strings));
    static const char *const times[][2] = {{"drift_since", "2026-11-25T13:03:00.000Z"},
                                           {"triggered_at", "2026-11-25T13:18:00.000Z"}};
    expect_strings(ev, times, DWT_N(times));
    json_t *cols = json_object_get(ev, "columns");
    assert_true(json_is_array(cols));
    assert_int_equal(json_array_size(cols), 2);
    json_t *c0 = json_array_get(cols, 0);
    assert_string_equal(sget(c0, "column"), "features.amount");
    assert_int_equal(json_integer_value(json_object_get(c0, "samples")), 18000);
    /* Tolerance 0: the number is copied, not recomputed. */
    assert_true(json_real_value(json_object_get(json_object_get(json_object_get(c0, "tests"), "ks"),
                                                "statistic")) == 0.31);
    assert_string_equal(sget(json_array_get(cols, 1), "column"), "features.country");
    /* Transport fields stay out. */
    assert_null(json_object_get(ev, "sent_at"));
    assert_null(json_object_get(ev, "kind"));
    assert_null(json_object_get(ev, "version"));
}

static json_t *format_ok(const dw_sink_ops *ops, const dw_sink_spec *spec, json_t *doc,
                         dw_http_request *req)
{
    char err[256];
    assert_int_equal(dw_sink_validate(spec, err, sizeof err), 0);
    memset(req, 0, sizeof *req);
    int rc = ops->format(spec, doc, req);
    if (rc != 0)
        fail_msg("format returned %d", rc);
    json_decref(doc);
    return parse_body(req);
}

/* ---- Airflow ----------------------------------------------------------- */

static void test_airflow_v1_dag_run_with_conf_and_basic_auth(void **state)
{
    (void)state;
    dw_sink_kv o[] = {{"dag_id", "retrain_fraud"}, {"username", "admin"}, {"password", "s3cret"}};
    dw_sink_spec sp = spec_of("airflow", "http://airflow.example:8080/", o, 3);
    dw_http_request req;
    json_t *b = format_ok(&dw_target_airflow, &sp, retrain_doc(true), &req);
    assert_string_equal(req.url, "http://airflow.example:8080/api/v1/dags/retrain_fraud/dagRuns");
    assert_true(req.method[0] == '\0' || strcmp(req.method, "POST") == 0);
    assert_int_equal(json_object_size(b), 2);
    assert_string_equal(sget(b, "dag_run_id"), "driftwatch-" KEY);
    check_evidence(json_object_get(b, "conf"), false);
    assert_null(json_object_get(b, "logical_date")); /* v1: Airflow picks it */
    assert_string_equal(header_value(&req, "Authorization"), "Basic YWRtaW46czNjcmV0");
    assert_string_equal(header_value(&req, "Accept"), "application/json");
    assert_string_equal(header_value(&req, "Idempotency-Key"), KEY);
    json_decref(b);
    dw_http_request_clear(&req);
}

static void test_airflow_v2_logical_date_and_bearer_token(void **state)
{
    (void)state;
    dw_sink_kv o[] = {{"dag_id", "retrain fraud/v3"}, {"api", "v2"}, {"token", "Bearer eyJ.x"}};
    dw_sink_spec sp = spec_of("airflow", "https://af.example/base", o, 3);
    dw_http_request req;
    json_t *b = format_ok(&dw_target_airflow, &sp, retrain_doc(false), &req);
    /* The dag id is one path segment: space and slash are escaped. */
    assert_string_equal(req.url,
                        "https://af.example/base/api/v2/dags/retrain%20fraud%2Fv3/dagRuns");
    assert_int_equal(json_object_size(b), 3);
    assert_string_equal(sget(b, "dag_run_id"), "driftwatch-" KEY);
    assert_string_equal(sget(b, "logical_date"), "2026-11-25T13:18:00.000Z");
    json_t *conf = json_object_get(b, "conf");
    assert_true(json_is_null(json_object_get(conf, "model_version")));
    /* A token pasted with its scheme is not given a second one. */
    assert_string_equal(header_value(&req, "Authorization"), "Bearer eyJ.x");
    json_decref(b);
    dw_http_request_clear(&req);
}

static void test_airflow_same_episode_same_run_and_409_is_delivered(void **state)
{
    (void)state;
    dw_sink_kv o[] = {{"dag_id", "d"}};
    dw_sink_spec sp = spec_of("airflow", "http://127.0.0.1:1", o, 1);
    dw_http_request a, b;
    json_t *ba = format_ok(&dw_target_airflow, &sp, retrain_doc(true), &a);
    json_t *bb = format_ok(&dw_target_airflow, &sp, retrain_doc(true), &b);
    /* Two attempts (a retry, another replica) ask for the same run. */
    assert_string_equal(sget(ba, "dag_run_id"), sget(bb, "dag_run_id"));
    assert_null(header_value(&a, "Authorization"));
    json_decref(ba);
    json_decref(bb);
    dw_http_request_clear(&a);
    dw_http_request_clear(&b);
    static const dwt_answer answers[] = {
        {200, NULL, DW_DELIVERY_OK},    {409, "{\"title\":\"Conflict\"}", DW_DELIVERY_OK},
        {400, NULL, DW_DELIVERY_DROP},  {404, NULL, DW_DELIVERY_DROP},
        {503, NULL, DW_DELIVERY_RETRY}, {0, NULL, DW_DELIVERY_RETRY},
    };
    expect_answers(&dw_target_airflow, &sp, answers, DWT_N(answers));
}

static void test_airflow_validation(void **state)
{
    (void)state;
    static const dwt_refused refused[] = {
        {{{0}}, 0, "http://a", "dag_id"},
        {{{"dag_id", "d"}, {"api", "v3"}}, 2, "http://a", "v1 or v2"},
        {{{"dag_id", "d"}, {"username", "u"}}, 2, "http://a", NULL},
        {{{"dag_id", "d"}, {"username", "u"}, {"password", "p"}, {"token", "t"}},
         4,
         "http://a",
         NULL},
        {{{"dag_id", "d"}}, 1, "ftp://a", NULL},
    };
    expect_refused("airflow", refused, DWT_N(refused));
}

/* ---- Argo -------------------------------------------------------------- */

static void test_argo_event_defaults(void **state)
{
    (void)state;
    dw_sink_kv o[] = {{"workflow_template", "retrain-fraud"}};
    dw_sink_spec sp = spec_of("argo", "https://argo.example:2746", o, 1);
    dw_http_request req;
    json_t *b = format_ok(&dw_target_argo, &sp, retrain_doc(true), &req);
    assert_string_equal(req.url, "https://argo.example:2746/api/v1/events/argo/retrain-fraud");
    check_evidence(b, false); /* the body is the evidence itself */
    assert_null(header_value(&req, "Authorization"));
    assert_string_equal(header_value(&req, "Idempotency-Key"), KEY);
    json_decref(b);
    dw_http_request_clear(&req);
}

static void test_argo_namespace_discriminator_and_token(void **state)
{
    (void)state;
    dw_sink_kv o[] = {{"workflow_template", "retrain-fraud"},
                      {"namespace", "ml"},
                      {"discriminator", "drift/fraud"},
                      {"token", "v2:abc"}};
    dw_sink_spec sp = spec_of("argo", "http://127.0.0.1:2746/", o, 4);
    dw_http_request req;
    json_t *b = format_ok(&dw_target_argo, &sp, retrain_doc(true), &req);
    assert_string_equal(req.url, "http://127.0.0.1:2746/api/v1/events/ml/drift%2Ffraud");
    assert_string_equal(header_value(&req, "Authorization"), "Bearer v2:abc");
    json_decref(b);
    dw_http_request_clear(&req);
    static const dwt_refused refused[] = {{{{0}}, 0, "http://a", "workflow_template"}};
    expect_refused("argo", refused, DWT_N(refused));
}

/* ---- Kubeflow ---------------------------------------------------------- */

static void test_kubeflow_v2beta1_run(void **state)
{
    (void)state;
    dw_sink_kv o[] = {{"pipeline_id", "p-123"},
                      {"pipeline_version_id", "pv-7"},
                      {"experiment_id", "e-9"},
                      {"token", "tok"}};
    dw_sink_spec sp = spec_of("kubeflow", "http://kfp.example/pipeline/", o, 4);
    dw_http_request req;
    json_t *b = format_ok(&dw_target_kubeflow, &sp, retrain_doc(true), &req);
    assert_string_equal(req.url, "http://kfp.example/pipeline/apis/v2beta1/runs");
    assert_int_equal(json_object_size(b), 5);
    assert_string_equal(sget(b, "display_name"), "driftwatch-" KEY);
    const char *desc = sget(b, "description");
    assert_non_null(strstr(desc, "fraud-retrain"));
    assert_non_null(strstr(desc, "fraud v3"));
    assert_non_null(strstr(desc, "2 columns"));
    json_t *pvr = json_object_get(b, "pipeline_version_reference");
    assert_int_equal(json_object_size(pvr), 2);
    assert_string_equal(sget(pvr, "pipeline_id"), "p-123");
    assert_string_equal(sget(pvr, "pipeline_version_id"), "pv-7");
    assert_string_equal(sget(b, "experiment_id"), "e-9");
    json_t *rc = json_object_get(b, "runtime_config");
    assert_int_equal(json_object_size(rc), 1);
    check_evidence(json_object_get(rc, "parameters"), false);
    assert_string_equal(header_value(&req, "Authorization"), "Bearer tok");
    json_decref(b);
    dw_http_request_clear(&req);
}

static void test_kubeflow_optional_ids_left_out(void **state)
{
    (void)state;
    dw_sink_kv o[] = {{"pipeline_id", "p-123"}};
    dw_sink_spec sp = spec_of("kubeflow", "http://kfp", o, 1);
    dw_http_request req;
    json_t *b = format_ok(&dw_target_kubeflow, &sp, retrain_doc(false), &req);
    assert_null(json_object_get(b, "experiment_id"));
    json_t *pvr = json_object_get(b, "pipeline_version_reference");
    assert_int_equal(json_object_size(pvr), 1);
    assert_null(json_object_get(pvr, "pipeline_version_id"));
    /* A string pipeline input cannot be null. */
    check_evidence(json_object_get(json_object_get(b, "runtime_config"), "parameters"), true);
    json_decref(b);
    dw_http_request_clear(&req);
    static const dwt_refused refused[] = {{{{0}}, 0, "http://kfp", "pipeline_id"}};
    expect_refused("kubeflow", refused, DWT_N(refused));
}

/* ---- GitHub ------------------------------------------------------------ */

static void test_github_repository_dispatch(void **state)
{
    (void)state;
    dw_sink_kv o[] = {{"repository", "acme/models"},
                      {"workflow", "retrain.yml"},
                      {"ref", "main"},
                      {"token", "ghp_x"}};
    dw_sink_spec sp = spec_of("github", NULL, o, 4);
    dw_http_request req;
    json_t *b = format_ok(&dw_target_github, &sp, retrain_doc(true), &req);
    assert_string_equal(req.url, "https://api.github.com/repos/acme/models/dispatches");
    assert_int_equal(json_object_size(b), 2);
    assert_string_equal(sget(b, "event_type"), "driftwatch-retrain");
    json_t *cp = json_object_get(b, "client_payload");
    /* GitHub's limit: at most 10 top-level properties. */
    assert_int_equal(json_object_size(cp), 10);
    json_t *dispatch = json_object_get(cp, "dispatch");
    assert_string_equal(sget(dispatch, "workflow"), "retrain.yml");
    assert_string_equal(sget(dispatch, "ref"), "main");
    json_object_del(cp, "dispatch");
    check_evidence(cp, false);
    assert_string_equal(header_value(&req, "Accept"), "application/vnd.github+json");
    assert_string_equal(header_value(&req, "Authorization"), "Bearer ghp_x");
    assert_string_equal(header_value(&req, "X-GitHub-Api-Version"), "2022-11-28");
    json_decref(b);
    dw_http_request_clear(&req);
}

static void test_github_loopback_url_and_answers(void **state)
{
    (void)state;
    dw_sink_kv o[] = {{"repository", "acme/models"}, {"event_type", "retrain-now"}};
    dw_sink_spec sp = spec_of("github", "http://127.0.0.1:8080/", o, 2);
    dw_http_request req;
    json_t *b = format_ok(&dw_target_github, &sp, retrain_doc(true), &req);
    assert_string_equal(req.url, "http://127.0.0.1:8080/repos/acme/models/dispatches");
    assert_string_equal(sget(b, "event_type"), "retrain-now");
    check_evidence(json_object_get(b, "client_payload"), false);
    assert_null(header_value(&req, "Authorization"));
    json_decref(b);
    dw_http_request_clear(&req);

    static const dwt_answer answers[] = {
        {204, NULL, DW_DELIVERY_OK},
        {403, "{\"message\":\"You have exceeded a secondary rate limit.\"}", DW_DELIVERY_RETRY},
        {403, "{\"message\":\"Resource not accessible by integration\"}", DW_DELIVERY_DROP},
        {422, NULL, DW_DELIVERY_DROP},
        {429, NULL, DW_DELIVERY_RETRY},
    };
    expect_answers(&dw_target_github, &sp, answers, DWT_N(answers));

    static const dwt_refused refused[] = {
        {{{"repository", "acme"}}, 1, NULL, NULL},    {{{"repository", "acme/"}}, 1, NULL, NULL},
        {{{"repository", "/models"}}, 1, NULL, NULL}, {{{"repository", "a/b/c"}}, 1, NULL, NULL},
        {{{"repository", ""}}, 1, NULL, NULL},
    };
    expect_refused("github", refused, DWT_N(refused));
    char longtype[128];
    memset(longtype, 'x', 101);
    longtype[101] = '\0';
    dw_sink_kv lt[] = {{"repository", "a/b"}, {"event_type", longtype}};
    char err[256];
    sp = spec_of("github", NULL, lt, 2);
    assert_int_equal(dw_sink_validate(&sp, err, sizeof err), DW_ERR_INVALID);
}

/* ---- every target ------------------------------------------------------ */

static void test_targets_skip_drift_documents(void **state)
{
    (void)state;
    dw_sink_kv o[] = {
        {"dag_id", "d"}, {"workflow_template", "w"}, {"pipeline_id", "p"}, {"repository", "a/b"}};
    const dw_sink_ops *ops[] = {&dw_target_airflow, &dw_target_argo, &dw_target_kubeflow,
                                &dw_target_github};
    for (size_t i = 0; i < 4; i++) {
        dw_sink_spec sp = spec_of(ops[i]->name, "http://127.0.0.1:1", o, 4);
        dw_http_request req;
        memset(&req, 0, sizeof req);
        json_t *d = drift_doc();
        assert_int_equal(ops[i]->format(&sp, d, &req), DW_SINK_SKIP);
        assert_null(req.body);
        json_decref(d);
    }
}

static void test_registry_knows_the_targets(void **state)
{
    (void)state;
    assert_ptr_equal(dw_sink_ops_find("airflow"), &dw_target_airflow);
    assert_ptr_equal(dw_sink_ops_find("argo"), &dw_target_argo);
    assert_ptr_equal(dw_sink_ops_find("kubeflow"), &dw_target_kubeflow);
    assert_ptr_equal(dw_sink_ops_find("github"), &dw_target_github);
}

/* ---- dw_notifier_submit_to ---------------------------------------------- */

static void test_submit_to_queues_only_the_range(void **state)
{
    (void)state;
    dw_sink_kv o[] = {{"dag_id", "d"}};
    dw_sink_spec specs[3];
    specs[0] = spec_of("webhook", "http://127.0.0.1:9/", NULL, 0);
    specs[0].name = "hook";
    specs[1] = spec_of("webhook", "http://127.0.0.1:9/", NULL, 0);
    specs[1].name = "hook2";
    specs[2] = spec_of("airflow", "http://127.0.0.1:9/", o, 1);
    specs[2].name = "af";
    dw_notifier_options opts = {.start_paused = true};
    dw_notifier *n = NULL;
    char err[256];
    assert_int_equal(dw_notifier_new_ex(specs, 3, &opts, &n, err, sizeof err), 0);
    assert_int_equal(dw_notifier_submit_to(n, retrain_doc(true), 2, 1), 0);
    assert_int_equal(dw_notifier_submit_to(n, drift_doc(), 0, 2), 0);
    assert_int_equal(dw_notifier_submit_to(n, drift_doc(), 1, 0), 0);
    /* Outside the sinks: refused, and the document is still released
     * (LeakSanitizer would report it). */
    assert_int_equal(dw_notifier_submit_to(n, drift_doc(), 2, 2), DW_ERR_INVALID);
    assert_int_equal(dw_notifier_submit_to(n, drift_doc(), 4, 0), DW_ERR_INVALID);
    assert_int_equal(dw_notifier_submit_to(n, json_array(), 0, 1), DW_ERR_INVALID);
    static const uint64_t want[] = {1, 1, 1};
    for (size_t i = 0; i < 3; i++) {
        dw_sink_stats st;
        assert_int_equal(dw_notifier_stats(n, i, &st), 0);
        assert_int_equal(st.submitted, want[i]);
        assert_int_equal(st.queued, want[i]);
    }
    /* dw_notifier_submit is every sink. */
    assert_int_equal(dw_notifier_submit(n, drift_doc()), 0);
    for (size_t i = 0; i < 3; i++) {
        dw_sink_stats st;
        assert_int_equal(dw_notifier_stats(n, i, &st), 0);
        assert_int_equal(st.submitted, want[i] + 1);
    }
    dw_notifier_free(n);
}

int main(void)
{
    dw_log_set_level(DW_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_airflow_v1_dag_run_with_conf_and_basic_auth),
        cmocka_unit_test(test_airflow_v2_logical_date_and_bearer_token),
        cmocka_unit_test(test_airflow_same_episode_same_run_and_409_is_delivered),
        cmocka_unit_test(test_airflow_validation),
        cmocka_unit_test(test_argo_event_defaults),
        cmocka_unit_test(test_argo_namespace_discriminator_and_token),
        cmocka_unit_test(test_kubeflow_v2beta1_run),
        cmocka_unit_test(test_kubeflow_optional_ids_left_out),
        cmocka_unit_test(test_github_repository_dispatch),
        cmocka_unit_test(test_github_loopback_url_and_answers),
        cmocka_unit_test(test_targets_skip_drift_documents),
        cmocka_unit_test(test_registry_knows_the_targets),
        cmocka_unit_test(test_submit_to_queues_only_the_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_util.h"

#include "driftwatch/error.h"
#include "driftwatch/log.h"
#include "driftwatch/notifier.h"
#include "driftwatch/timestamp.h"
#include "driftwatch/sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- backoff ---------------------------------------------------------- */

static void test_backoff_ceiling_doubles_then_caps(void **state)
{
    (void)state;
    int64_t want[] = {500, 1000, 2000, 4000, 8000, 16000, 30000, 30000};
    for (unsigned a = 0; a < sizeof want / sizeof want[0]; a++)
        assert_int_equal(dw_backoff_ceiling_ms(a, 500, 30000), want[a]);
    /* Huge attempt numbers must not overflow the doubling. */
    assert_int_equal(dw_backoff_ceiling_ms(63, 500, 30000), 30000);
    assert_int_equal(dw_backoff_ceiling_ms(1000000, 500, 30000), 30000);
    assert_int_equal(dw_backoff_ceiling_ms(200, 1, INT64_MAX), INT64_MAX);
}

static void test_full_jitter_stays_within_ceiling_and_grows(void **state)
{
    (void)state;
    uint64_t rng = 42;
    double prev_mean = 0;
    enum { DRAWS = 20000 };
    for (unsigned a = 0; a < 10; a++) {
        int64_t ceil = dw_backoff_ceiling_ms(a, 500, 30000);
        int64_t max = 0;
        double sum = 0;
        for (int i = 0; i < DRAWS; i++) {
            int64_t d = dw_backoff_delay_ms(a, 500, 30000, &rng);
            assert_true(d >= 0);
            assert_true(d <= ceil);
            assert_true(d <= 30000);
            if (d > max)
                max = d;
            sum += (double)d;
        }
        double mean = sum / DRAWS;
        /* Uniform on [0, ceil]: the mean is ceil/2 with a standard error of
         * ceil/sqrt(12 * DRAWS) ~ 0.002 ceil, so 3% is a wide, seed-proof
         * tolerance; the largest of 20000 draws is within 1% of the top. */
        assert_true(mean > 0.47 * (double)ceil && mean < 0.53 * (double)ceil);
        assert_true((double)max > 0.99 * (double)ceil);
        if (a > 0 && ceil < 30000) {
            /* Below the cap the expected delay doubles per attempt (same
             * tolerance reasoning as above, on a ratio). */
            assert_true(mean / prev_mean > 1.85 && mean / prev_mean < 2.15);
        }
        prev_mean = mean;
    }
}

/* ---- Retry-After ------------------------------------------------------ */

/* Wed, 21 Oct 2015 07:28:00 GMT */
#define NOW_MS 1445412480000LL

/* Each Retry-After value parses to the delay given in milliseconds. */
typedef struct {
    const char *value;
    int64_t want_ms;
} retry_after_case;

static void expect_retry_after(const retry_after_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t d = -1;
        assert_int_equal(dw_retry_after_parse(c[i].value, NOW_MS, &d), 0);
        if (d != c[i].want_ms)
            fail_msg("Retry-After \"%s\": %lld ms, want %lld", c[i].value, (long long)d,
                     (long long)c[i].want_ms);
    }
}

static void test_retry_after_seconds(void **state)
{
    (void)state;
    static const retry_after_case cases[] = {
        {"2", 2000},
        {" 120 ", 120000},
        {"0", 0},
        /* Longer than the cap: shortened to it (and no overflow). */
        {"99999999999999999999999", DW_RETRY_AFTER_CAP_MS},
        {"301", DW_RETRY_AFTER_CAP_MS},
    };
    expect_retry_after(cases, sizeof cases / sizeof cases[0]);
}

static void test_retry_after_http_date(void **state)
{
    (void)state;
    static const retry_after_case cases[] = {
        {"Wed, 21 Oct 2015 07:28:30 GMT", 30000},
        /* The two obsolete forms HTTP still requires receivers to accept. */
        {"Wednesday, 21-Oct-15 07:29:00 GMT", 60000},
        {"Wed Oct 21 07:28:10 2015", 10000},
        /* A date in the past means "now". */
        {"Wed, 21 Oct 2015 07:00:00 GMT", 0},
        /* Far future: capped. */
        {"Fri, 01 Jan 2100 00:00:00 GMT", DW_RETRY_AFTER_CAP_MS},
    };
    expect_retry_after(cases, sizeof cases / sizeof cases[0]);
}

static void test_retry_after_garbage(void **state)
{
    (void)state;
    int64_t d = 7;
    assert_int_equal(dw_retry_after_parse("", NOW_MS, &d), DW_ERR_PARSE);
    assert_int_equal(dw_retry_after_parse("soon", NOW_MS, &d), DW_ERR_PARSE);
    assert_int_equal(dw_retry_after_parse("2x", NOW_MS, &d), DW_ERR_PARSE);
    assert_int_equal(dw_retry_after_parse("-5", NOW_MS, &d), DW_ERR_PARSE);
    assert_int_equal(dw_retry_after_parse(NULL, NOW_MS, &d), DW_ERR_PARSE);
    assert_int_equal(d, 7); /* untouched on error */
}

/* ---- classification ---------------------------------------------------- */

static void test_classification_table(void **state)
{
    (void)state;
    static const struct {
        long status;
        dw_delivery want;
    } table[] = {
        {200, DW_DELIVERY_OK},    {201, DW_DELIVERY_OK},    {202, DW_DELIVERY_OK},
        {204, DW_DELIVERY_OK},    {299, DW_DELIVERY_OK},    {0, DW_DELIVERY_RETRY},
        {408, DW_DELIVERY_RETRY}, {429, DW_DELIVERY_RETRY}, {500, DW_DELIVERY_RETRY},
        {502, DW_DELIVERY_RETRY}, {503, DW_DELIVERY_RETRY}, {504, DW_DELIVERY_RETRY},
        {599, DW_DELIVERY_RETRY}, {400, DW_DELIVERY_DROP},  {401, DW_DELIVERY_DROP},
        {403, DW_DELIVERY_DROP},  {404, DW_DELIVERY_DROP},  {409, DW_DELIVERY_DROP},
        {413, DW_DELIVERY_DROP},  {422, DW_DELIVERY_DROP},  {100, DW_DELIVERY_DROP},
        {301, DW_DELIVERY_DROP},  {304, DW_DELIVERY_DROP},  {600, DW_DELIVERY_DROP},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (dw_sink_classify_http(table[i].status) != table[i].want)
            fail_msg("status %ld classified as %d, want %d", table[i].status,
                     (int)dw_sink_classify_http(table[i].status), (int)table[i].want);
    }
}

/* ---- registry, specs and formatting ------------------------------------ */

static json_t *make_doc(const char *id, const char *status1, const char *status2)
{
    json_t *alerts = json_array();
    const char *st[2] = {status1, status2};
    for (int i = 0; i < 2; i++) {
        if (!st[i])
            continue;
        json_array_append_new(
            alerts, json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:{s:{s:f, s:f}, s:f}}", "status",
                              st[i], "column", i ? "features.country" : "features.amount", "window",
                              "15m", "severity", "warning", "kind", "distribution", "samples", 4980,
                              "tests", "ks", "statistic", 0.31, "p_adjusted", 1e-39, "psi", 0.52));
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "version", "1", "kind", "drift", "id",
                     id, "model", "fraud", "model_version", "v3", "evaluated_at",
                     "2026-11-25T13:45:00.000Z", "alerts", alerts);
}

static void test_registry_knows_builtin_types(void **state)
{
    (void)state;
    assert_non_null(dw_sink_ops_find("webhook"));
    assert_non_null(dw_sink_ops_find("stdout"));
    assert_null(dw_sink_ops_find("carrier-pigeon"));
    assert_null(dw_sink_ops_find(NULL));
    char names[64];
    dw_sink_ops_names(names, sizeof names);
    assert_non_null(strstr(names, "webhook"));
    assert_non_null(strstr(names, "stdout"));
}

static void test_bad_specs_are_rejected_with_a_sentence(void **state)
{
    (void)state;
    char err[256];
    dw_notifier *n = (dw_notifier *)1;
    dw_sink_spec sp[2];
    dw_sink_spec_init(&sp[0]);
    sp[0].name = "hooks";
    sp[0].type = "carrier-pigeon";
    assert_int_equal(dw_notifier_new(sp, 1, &n, err, sizeof err), DW_ERR_INVALID);
    assert_null(n);
    assert_non_null(strstr(err, "unknown type \"carrier-pigeon\""));

    sp[0].type = "webhook";
    assert_int_equal(dw_notifier_new(sp, 1, &n, err, sizeof err), DW_ERR_INVALID);
    assert_non_null(strstr(err, "url is required"));

    sp[0].url = "ftp://127.0.0.1/x";
    assert_int_equal(dw_notifier_new(sp, 1, &n, err, sizeof err), DW_ERR_INVALID);
    assert_non_null(strstr(err, "http://"));

    sp[0].url = "http://127.0.0.1:9/x";
    sp[0].timeout_ms = 0;
    assert_int_equal(dw_notifier_new(sp, 1, &n, err, sizeof err), DW_ERR_INVALID);
    assert_non_null(strstr(err, "timeout_ms"));

    sp[0].timeout_ms = 1000;
    dw_sink_kv bad = {"X-Evil", "a\r\nHost: elsewhere"};
    sp[0].headers = &bad;
    sp[0].n_headers = 1;
    assert_int_equal(dw_notifier_new(sp, 1, &n, err, sizeof err), DW_ERR_INVALID);
    assert_non_null(strstr(err, "X-Evil"));

    sp[0].headers = NULL;
    sp[0].n_headers = 0;
    sp[1] = sp[0];
    assert_int_equal(dw_notifier_new(sp, 2, &n, err, sizeof err), DW_ERR_INVALID);
    assert_non_null(strstr(err, "used by another sink"));

    dw_sink_kv fmt = {"format", "yaml"};
    dw_sink_spec_init(&sp[0]);
    sp[0].name = "out";
    sp[0].type = "stdout";
    sp[0].options = &fmt;
    sp[0].n_options = 1;
    assert_int_equal(dw_notifier_new(sp, 1, &n, err, sizeof err), DW_ERR_INVALID);
    assert_non_null(strstr(err, "json or text"));
}

static void test_header_injection_is_refused(void **state)
{
    (void)state;
    dw_http_request r = {0};
    assert_int_equal(dw_http_request_add_header(&r, "X-A", "ok"), 0);
    assert_int_equal(dw_http_request_add_header(&r, "X-B", "bad\nHost: x"), DW_ERR_INVALID);
    assert_int_equal(dw_http_request_add_header(&r, "X:C", "v"), DW_ERR_INVALID);
    for (size_t i = r.n_headers; i < DW_HTTP_MAX_HEADERS; i++)
        assert_int_equal(dw_http_request_add_header(&r, "X-Fill", "1"), 0);
    assert_int_equal(dw_http_request_add_header(&r, "X-Over", "1"), DW_ERR_LIMIT);
    assert_string_equal(r.headers[0], "X-A: ok");
    dw_http_request_clear(&r);
    assert_int_equal(r.n_headers, 0);
}

static void test_webhook_filters_resolved_when_asked(void **state)
{
    (void)state;
    const dw_sink_ops *t = dw_sink_ops_find("webhook");
    dw_sink_spec sp;
    dw_sink_spec_init(&sp);
    sp.name = "hook";
    sp.type = "webhook";
    sp.url = "http://127.0.0.1:9/";
    json_t *doc = make_doc("n-1", "firing", "resolved");

    dw_http_request r = {0};
    assert_int_equal(t->format(&sp, doc, &r), 0);
    json_t *sent = json_loads(r.body, 0, NULL);
    assert_non_null(sent);
    assert_int_equal(json_array_size(json_object_get(sent, "alerts")), 2);
    assert_string_equal(r.content_type, "application/json");
    assert_int_equal(r.n_headers, 1);
    assert_string_equal(r.headers[0], "Idempotency-Key: n-1");
    json_decref(sent);
    dw_http_request_clear(&r);

    sp.send_resolved = false;
    assert_int_equal(t->format(&sp, doc, &r), 0);
    sent = json_loads(r.body, 0, NULL);
    json_t *alerts = json_object_get(sent, "alerts");
    assert_int_equal(json_array_size(alerts), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(alerts, 0), "status")),
                        "firing");
    /* The rest of the document is untouched. */
    assert_string_equal(json_string_value(json_object_get(sent, "model")), "fraud");
    json_decref(sent);
    dw_http_request_clear(&r);
    /* The caller's document still has both alerts. */
    assert_int_equal(json_array_size(json_object_get(doc, "alerts")), 2);
    json_decref(doc);

    /* A document without an alerts array (e.g. a retraining trigger) is
     * passed through whole. */
    doc = json_pack("{s:s, s:s}", "kind", "retrain", "id", "t-1");
    assert_int_equal(t->format(&sp, doc, &r), 0);
    assert_string_equal(r.body, "{\"kind\":\"retrain\",\"id\":\"t-1\"}");
    dw_http_request_clear(&r);
    json_decref(doc);

    doc = make_doc("n-2", "resolved", NULL);
    assert_int_equal(t->format(&sp, doc, &r), DW_SINK_SKIP);
    dw_http_request_clear(&r);
    json_decref(doc);
}

/* A stdout sink named "out" with every other setting at its default. */
static dw_sink_spec stdout_spec(void)
{
    dw_sink_spec sp;
    dw_sink_spec_init(&sp);
    sp.name = "out";
    sp.type = "stdout";
    return sp;
}

static void test_stdout_text_format_one_line_per_alert(void **state)
{
    (void)state;
    const dw_sink_ops *t = dw_sink_ops_find("stdout");
    dw_sink_kv opt = {"format", "text"};
    dw_sink_spec sp = stdout_spec();
    sp.options = &opt;
    sp.n_options = 1;
    json_t *doc = make_doc("n-3", "firing", "resolved");
    dw_http_request r = {0};
    assert_int_equal(t->format(&sp, doc, &r), 0);
    assert_non_null(r.body);
    const char *nl = strchr(r.body, '\n');
    assert_non_null(nl);
    assert_non_null(strchr(nl + 1, '\n'));
    assert_int_equal(r.body[r.body_len - 1], '\n');
    assert_non_null(strstr(r.body, "2026-11-25T13:45:00.000Z FIRING model=fraud version=v3 "
                                   "column=features.amount window=15m"));
    assert_non_null(strstr(r.body, "ks.p_adjusted=1e-39"));
    assert_non_null(strstr(r.body, "RESOLVED"));
    dw_http_request_clear(&r);
    json_decref(doc);
}

/* ---- queue bounds (through a paused notifier) --------------------------- */

static void test_queue_overflow_drops_oldest_and_counts(void **state)
{
    (void)state;
    dw_sink_spec sp = stdout_spec();
    sp.queue_size = 3;
    dw_notifier_options o = {.start_paused = true, .rng_seed = 1};
    dw_notifier *n = NULL;
    char err[256];
    assert_int_equal(dw_notifier_new_ex(&sp, 1, &o, &n, err, sizeof err), 0);

    /* Capture stdout in a file while the sink writes. */
    dwt_capture cap;
    dwt_capture_start(&cap);

    int old_level = dw_log_min_level;
    dw_log_set_level(DW_LOG_ERROR); /* the expected drop warnings */
    for (int i = 1; i <= 5; i++) {
        char id[16];
        snprintf(id, sizeof id, "n-%d", i);
        assert_int_equal(dw_notifier_submit(n, make_doc(id, "firing", NULL)), 0);
    }
    dw_sink_stats st = dwt_stats(n, 0);
    assert_int_equal(st.submitted, 5);
    assert_int_equal(st.dropped, 2);
    assert_int_equal(st.queued, 3);
    assert_int_equal(st.sent, 0);
    /* Paused: nothing can leave, so a short drain reports all three. */
    assert_int_equal(dw_notifier_drain(n, 20), 3);

    dw_notifier_resume(n);
    assert_int_equal(dw_notifier_drain(n, 10000), 0);
    dw_log_set_level((dw_log_level)old_level);
    st = dwt_stats(n, 0);
    assert_int_equal(st.sent, 3);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.failed, 0);
    assert_int_equal(dw_notifier_stats(n, 1, &st), DW_ERR_INVALID);
    dw_notifier_free(n);

    dwt_capture_stop(&cap);

    /* The survivors are the three newest, in order, each with sent_at. */
    static const char *const want[] = {"n-3", "n-4", "n-5"};
    dwt_capture_expect_ids(&cap, want, 3, true);
}

static void test_only_resolved_is_skipped_when_not_sent(void **state)
{
    (void)state;
    dw_sink_spec sp = stdout_spec();
    sp.send_resolved = false;
    dw_notifier *n = NULL;
    assert_int_equal(dw_notifier_new(&sp, 1, &n, NULL, 0), 0);
    assert_int_equal(dw_notifier_submit(n, make_doc("n-9", "resolved", NULL)), 0);
    assert_int_equal(dw_notifier_submit(n, json_string("not an object")), DW_ERR_INVALID);
    assert_int_equal(dw_notifier_drain(n, 10000), 0);
    dw_sink_stats st = dwt_stats(n, 0);
    assert_int_equal(st.skipped, 1);
    assert_int_equal(st.sent, 0);
    assert_int_equal(st.submitted, 1);
    dw_notifier_free(n);
    dw_notifier_free(NULL);
}

/* A document delivered a moment ago and submitted again (the same
 * evaluation replayed after a restart, its outbox copy already sent) is
 * not sent twice. */
static void test_recently_delivered_id_is_not_sent_again(void **state)
{
    (void)state;
    dw_sink_spec sp = stdout_spec();
    dw_notifier *n = NULL;
    assert_int_equal(dw_notifier_new(&sp, 1, &n, NULL, 0), 0);
    assert_int_equal(dw_notifier_submit(n, make_doc("r-1", "firing", NULL)), 0);
    assert_int_equal(dw_notifier_drain(n, 10000), 0);
    assert_int_equal(dw_notifier_submit(n, make_doc("r-1", "firing", NULL)), 0);
    assert_int_equal(dw_notifier_submit(n, make_doc("r-2", "firing", NULL)), 0);
    assert_int_equal(dw_notifier_drain(n, 10000), 0);
    dw_sink_stats st = dwt_stats(n, 0);
    assert_int_equal(st.sent, 2);
    assert_int_equal(st.deduplicated, 1);
    dw_notifier_free(n);
}

static void test_time_format_rfc3339_ms(void **state)
{
    (void)state;
    char buf[32];
    dw_ts_format(NOW_MS + 7, buf, sizeof buf);
    assert_string_equal(buf, "2015-10-21T07:28:00.007Z");
    dw_ts_format(0, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_ceiling_doubles_then_caps),
        cmocka_unit_test(test_full_jitter_stays_within_ceiling_and_grows),
        cmocka_unit_test(test_retry_after_seconds),
        cmocka_unit_test(test_retry_after_http_date),
        cmocka_unit_test(test_retry_after_garbage),
        cmocka_unit_test(test_classification_table),
        cmocka_unit_test(test_registry_knows_builtin_types),
        cmocka_unit_test(test_bad_specs_are_rejected_with_a_sentence),
        cmocka_unit_test(test_header_injection_is_refused),
        cmocka_unit_test(test_webhook_filters_resolved_when_asked),
        cmocka_unit_test(test_stdout_text_format_one_line_per_alert),
        cmocka_unit_test(test_queue_overflow_drops_oldest_and_counts),
        cmocka_unit_test(test_only_resolved_is_skipped_when_not_sent),
        cmocka_unit_test(test_recently_delivered_id_is_not_sent_again),
        cmocka_unit_test(test_time_format_rfc3339_ms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of the Slack, PagerDuty and Alertmanager sink formats, the
 * per-sink filters, webhook signing and its primitives (base64,
 * HMAC-SHA256). Cryptographic vectors come from independent sources: RFC
 * 4648, the well-known HMAC "quick brown fox" value, the Standard Webhooks
 * specification's example, and Python's hmac/hashlib/base64 (the command is
 * next to each vector). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "driftwatch/error.h"
#include "driftwatch/hmac.h"
#include "driftwatch/log.h"
#include "driftwatch/notifier.h"
#include "driftwatch/timestamp.h"

#include "sink_int.h"
#include "sink_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- fixtures ----------------------------------------------------------- */

static json_t *ks_alert(const char *status, const char *column, const char *window,
                        const char *severity, const char *dedup)
{
    bool resolved = strcmp(status, "resolved") == 0;
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s,"
                     " s:{s:{s:f, s:f, s:f}, s:f}, s:I, s:[], s:s, s:s, s:o}",
                     "status", status, "column", column, "window", window, "window_start",
                     "2026-11-25T13:30:00.000Z", "window_end", "2026-11-25T13:45:00.000Z",
                     "samples", (json_int_t)4980, "severity", severity, "kind", "distribution",
                     "tests", "ks", "statistic", 0.31, "p_value", 1e-40, "p_adjusted", 1e-39, "psi",
                     0.52, "reference_samples", (json_int_t)100000, "new_categories", "dedup_key",
                     dedup, "starts_at", "2026-11-25T13:00:00.000Z", "ends_at",
                     resolved ? json_string("2026-11-25T13:45:00.000Z") : json_null());
}

static json_t *quality_alert(const char *status)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:{},"
                     " s:{s:f, s:f, s:f, s:f, s:f}, s:I, s:[], s:s, s:s, s:n}",
                     "status", status, "column", "features.age", "window", "15m", "window_start",
                     "2026-11-25T13:30:00.000Z", "window_end", "2026-11-25T13:45:00.000Z",
                     "samples", (json_int_t)4980, "severity", "critical", "kind", "quality",
                     "tests", "quality", "missing_rate", 0.31, "ref_missing_rate", 0.02,
                     "out_of_range_rate", 0.0, "unseen_rate", 0.0, "type_error_rate", 0.0,
                     "reference_samples", (json_int_t)100000, "new_categories", "dedup_key",
                     "e4b9d0a1c7f25a33", "starts_at", "2026-11-25T13:45:00.000Z", "ends_at");
}

static json_t *chi2_alert(void)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s,"
                     " s:{s:{s:f, s:i, s:f, s:f}, s:f}, s:I, s:[s], s:s, s:s, s:s}",
                     "status", "resolved", "column", "features.country", "window", "1h",
                     "window_start", "2026-11-25T12:45:00.000Z", "window_end",
                     "2026-11-25T13:45:00.000Z", "samples", (json_int_t)20112, "severity",
                     "warning", "kind", "distribution", "tests", "chi2", "statistic", 3.2, "df", 7,
                     "p_value", 0.87, "p_adjusted", 0.95, "psi", 0.01, "reference_samples",
                     (json_int_t)100000, "new_categories", "XX", "dedup_key", "51aa07c2e9f03b86",
                     "starts_at", "2026-11-25T11:30:00.000Z", "ends_at",
                     "2026-11-25T13:45:00.000Z");
}

/* A document with the given alerts (references stolen). */
static json_t *doc_with(const char *model, json_t *alerts)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s}", "version", "1", "kind", "drift",
                     "id", "fraud/v3/n1", "model", model, "model_version", "v3", "evaluated_at",
                     "2026-11-25T13:45:00.000Z", "alerts", alerts, "sent_at",
                     "2026-11-25T13:45:00.412Z");
}

static json_t *three_alert_doc(void)
{
    json_t *a = json_array();
    json_array_append_new(a, ks_alert("firing", "features.amount", "15m", "warning", "k-amount"));
    json_array_append_new(a, chi2_alert());
    json_array_append_new(a, quality_alert("firing"));
    return doc_with("fraud", a);
}

/* ---- base64, HMAC, Standard Webhooks ----------------------------------- */

static void test_base64_rfc4648_vectors(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char *e = dw_base64_encode((const unsigned char *)plain[i], strlen(plain[i]));
        assert_string_equal(e, enc[i]);
        free(e);
        unsigned char out[16];
        size_t n = 99;
        assert_int_equal(dw_base64_decode(enc[i], out, sizeof out, &n), 0);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(out, plain[i], n);
    }
    /* Binary bytes, and padding left off (accepted). */
    unsigned char out[8];
    size_t n;
    assert_int_equal(dw_base64_decode("AP8QYWI", out, sizeof out, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(out,
                        "\x00\xff\x10"
                        "ab",
                        5);
}

static void test_base64_rejects_bad_input(void **state)
{
    (void)state;
    unsigned char out[16];
    size_t n;
    assert_int_equal(dw_base64_decode("Zm9v!", out, sizeof out, &n), DW_ERR_PARSE);
    assert_int_equal(dw_base64_decode("Z", out, sizeof out, &n), DW_ERR_PARSE);
    assert_int_equal(dw_base64_decode("Zm9 v", out, sizeof out, &n), DW_ERR_PARSE);
    assert_int_equal(dw_base64_decode("Zg=", out, sizeof out, &n), DW_ERR_PARSE);
    assert_int_equal(dw_base64_decode("Zm9vYmFy", out, 5, &n), DW_ERR_LIMIT);
}

static void test_hmac_sha256_known_vector(void **state)
{
    (void)state;
    /* The widely published HMAC-SHA256("key", "The quick brown fox jumps
     * over the lazy dog"). */
    static const unsigned char want[32] = {0xf7, 0xbc, 0x83, 0xf4, 0x30, 0x53, 0x84, 0x24,
                                           0xb1, 0x32, 0x98, 0xe6, 0xaa, 0x6f, 0xb1, 0x43,
                                           0xef, 0x4d, 0x59, 0xa1, 0x49, 0x46, 0x17, 0x59,
                                           0x97, 0x47, 0x9d, 0xbc, 0x2d, 0x1a, 0x3c, 0xd8};
    unsigned char mac[32];
    const char *msg = "The quick brown fox jumps over the lazy dog";
    dw_hmac_sha256("key", 3, msg, strlen(msg), mac);
    assert_memory_equal(mac, want, 32);
}

static void test_webhook_signature_standard_webhooks_example(void **state)
{
    (void)state;
    /* The example in the Standard Webhooks specification; reproduced with
     * python3: base64.b64encode(hmac.new(base64.b64decode(secret), b"msg_p5j
     * XN8AQM9LWM0D4loKWxJek.1614265330.{\"test\": 2432232314}",
     * hashlib.sha256).digest()). */
    const char *body = "{\"test\": 2432232314}";
    char sig[DW_WEBHOOK_SIGNATURE_LEN];
    assert_int_equal(dw_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                     "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body),
                                     sig, sizeof sig),
                     0);
    assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /* The prefix is optional. */
    assert_int_equal(dw_webhook_sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                     "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body),
                                     sig, sizeof sig),
                     0);
    assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

static void test_webhook_signature_python_vector(void **state)
{
    (void)state;
    /* python3: key = bytes(range(1, 33)); "v1," + base64.b64encode(hmac.new(
     * key, b"fraud/v3/notif-1.1795500000." + body, hashlib.sha256).digest()) */
    const char *body = "{\"alerts\":[],\"id\":\"fraud/v3/notif-1\"}";
    char sig[DW_WEBHOOK_SIGNATURE_LEN];
    assert_int_equal(
        dw_webhook_sign("whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=", "fraud/v3/notif-1",
                        1795500000, body, strlen(body), sig, sizeof sig),
        0);
    assert_string_equal(sig, "v1,hTIniEjGKT4twxMGqxWyBzI+kqpX15ERBRHKgBKuH/0=");
    assert_int_equal(dw_webhook_sign("whsec_", "x", 1, "", 0, sig, sizeof sig), DW_ERR_PARSE);
    assert_int_equal(dw_webhook_sign("not base64!", "x", 1, "", 0, sig, sizeof sig), DW_ERR_PARSE);
    assert_int_equal(dw_webhook_sign("Zm9v", "x", 1, "", 0, sig, 10), DW_ERR_LIMIT);
}

static void test_webhook_signs_when_secret_is_set(void **state)
{
    (void)state;
    const char *secret = "whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
    dw_sink_kv opt = {"secret", secret};
    dw_sink_spec s = spec_of("webhook", "http://127.0.0.1:9/hook", &opt, 1);
    char err[256];
    assert_int_equal(dw_sink_validate(&s, err, sizeof err), 0);
    json_t *doc = three_alert_doc();
    dw_http_request req = {0};
    int64_t before = dw_wall_ms() / 1000;
    assert_int_equal(dw_sink_webhook.format(&s, doc, &req), 0);
    int64_t after = dw_wall_ms() / 1000;
    assert_string_equal(header_value(&req, "webhook-id"), "fraud/v3/n1");
    const char *ts = header_value(&req, "webhook-timestamp");
    assert_non_null(ts);
    long long t = atoll(ts);
    assert_true(t >= before && t <= after);
    /* The header is the signature of exactly this body, id and time. */
    char want[DW_WEBHOOK_SIGNATURE_LEN];
    assert_int_equal(
        dw_webhook_sign(secret, "fraud/v3/n1", t, req.body, req.body_len, want, sizeof want), 0);
    assert_string_equal(header_value(&req, "webhook-signature"), want);
    assert_string_equal(header_value(&req, "Idempotency-Key"), "fraud/v3/n1");
    dw_http_request_clear(&req);

    /* No secret (or an empty one): no signature headers. */
    dw_sink_kv empty = {"secret", ""};
    s = spec_of("webhook", "http://127.0.0.1:9/hook", &empty, 1);
    assert_int_equal(dw_sink_webhook.format(&s, doc, &req), 0);
    assert_null(header_value(&req, "webhook-signature"));
    assert_null(header_value(&req, "webhook-id"));
    dw_http_request_clear(&req);

    dw_sink_kv bad = {"secret", "whsec_***"};
    s = spec_of("webhook", "http://127.0.0.1:9/hook", &bad, 1);
    assert_int_equal(dw_sink_validate(&s, err, sizeof err), DW_ERR_INVALID);
    assert_non_null(strstr(err, "secret"));
    json_decref(doc);
}

/* ---- filters ------------------------------------------------------------ */

static size_t kept_count(const dw_sink_spec *s, json_t *doc)
{
    json_t *d = dw_sink_filter_alerts(s, doc);
    size_t n = d ? json_array_size(json_object_get(d, "alerts")) : 0;
    json_decref(d);
    return n;
}

static void test_filter_by_model_column_severity_and_resolved(void **state)
{
    (void)state;
    json_t *doc = three_alert_doc(); /* amount/warning/firing, country/warning/resolved,
                                        age/critical/firing */
    dw_sink_spec s = spec_of("webhook", "http://x/", NULL, 0);
    assert_int_equal(kept_count(&s, doc), 3);

    char *models[] = {"other", "fraud"};
    s.filter_models = models;
    s.n_filter_models = 2;
    assert_int_equal(kept_count(&s, doc), 3);
    s.n_filter_models = 1; /* only "other" */
    assert_null(dw_sink_filter_alerts(&s, doc));
    s.n_filter_models = 0;

    char *cols[] = {"features.age", "features.country"};
    s.filter_columns = cols;
    s.n_filter_columns = 2;
    assert_int_equal(kept_count(&s, doc), 2);
    s.send_resolved = false;
    assert_int_equal(kept_count(&s, doc), 1);
    s.send_resolved = true;
    s.n_filter_columns = 0;

    s.filter_severity = "critical";
    json_t *d = dw_sink_filter_alerts(&s, doc);
    assert_int_equal(json_array_size(json_object_get(d, "alerts")), 1);
    assert_string_equal(sget(json_array_get(json_object_get(d, "alerts"), 0), "column"),
                        "features.age");
    /* The input is left alone; the copy keeps the other fields. */
    assert_int_equal(json_array_size(json_object_get(doc, "alerts")), 3);
    assert_string_equal(sget(d, "id"), "fraud/v3/n1");
    json_decref(d);
    s.filter_severity = "warning";
    assert_int_equal(kept_count(&s, doc), 3);
    s.filter_severity = "info";
    assert_int_equal(kept_count(&s, doc), 3);
    json_decref(doc);
}

static void test_filter_is_checked_by_the_notifier(void **state)
{
    (void)state;
    dw_sink_spec s = spec_of("webhook", "http://127.0.0.1:9/", NULL, 0);
    s.filter_severity = "urgent";
    dw_notifier *n = NULL;
    char err[256];
    assert_int_equal(dw_notifier_new(&s, 1, &n, err, sizeof err), DW_ERR_INVALID);
    assert_null(n);
    assert_non_null(strstr(err, "severity"));
    s.filter_severity = "critical";
    char *cols[DW_SINK_MAX_FILTER + 1];
    for (size_t i = 0; i <= DW_SINK_MAX_FILTER; i++)
        cols[i] = "c";
    s.filter_columns = cols;
    s.n_filter_columns = DW_SINK_MAX_FILTER + 1;
    assert_int_equal(dw_notifier_new(&s, 1, &n, err, sizeof err), DW_ERR_INVALID);
    s.n_filter_columns = 2;
    assert_int_equal(dw_notifier_new(&s, 1, &n, err, sizeof err), 0);
    dw_notifier_free(n);
}

static void test_alert_stats_lines(void **state)
{
    (void)state;
    char buf[256];
    json_t *a = ks_alert("firing", "features.amount", "15m", "warning", "k");
    assert_string_equal(dw_sink_alert_stats(a, buf, sizeof buf),
                        "KS D=0.31 p_adj=1e-39, PSI=0.52; 4980 samples");
    json_decref(a);
    a = chi2_alert();
    assert_string_equal(dw_sink_alert_stats(a, buf, sizeof buf),
                        "chi2=3.2 df=7 p_adj=0.95, PSI=0.01; new categories: XX; 20112 samples");
    json_decref(a);
    a = quality_alert("firing");
    assert_string_equal(dw_sink_alert_stats(a, buf, sizeof buf),
                        "missing 31.0% (reference 2.0%); 4980 samples");
    /* Truncation keeps the string terminated. */
    char small[8];
    assert_int_equal(strlen(dw_sink_alert_stats(a, small, sizeof small)), 7);
    json_decref(a);
}

/* ---- Slack -------------------------------------------------------------- */

static void test_slack_payload_text_blocks_and_resolved(void **state)
{
    (void)state;
    dw_sink_kv opts[] = {{"channel", "#ml-alerts"}, {"username", "driftwatch"}};
    dw_sink_spec s = spec_of("slack", "https://hooks.slack.com/services/T/B/X", opts, 2);
    char err[256];
    assert_int_equal(dw_sink_validate(&s, err, sizeof err), 0);
    json_t *doc = three_alert_doc();
    dw_http_request req = {0};
    assert_int_equal(dw_sink_slack.format(&s, doc, &req), 0);
    assert_null(req.url); /* the spec's url */
    json_t *m = parse_body(&req);
    assert_string_equal(sget(m, "channel"), "#ml-alerts");
    assert_string_equal(sget(m, "username"), "driftwatch");
    const char *text = sget(m, "text");
    assert_non_null(strstr(text, "fraud v3"));
    assert_non_null(strstr(text, "2 firing"));
    assert_non_null(strstr(text, "1 resolved"));
    assert_non_null(strstr(text, "features.amount"));

    json_t *blocks = json_object_get(m, "blocks");
    /* header, 3 alerts, context */
    assert_int_equal(json_array_size(blocks), 5);
    json_t *h = json_array_get(blocks, 0);
    assert_string_equal(sget(h, "type"), "header");
    assert_string_equal(sget(json_object_get(h, "text"), "type"), "plain_text");
    assert_string_equal(sget(json_object_get(h, "text"), "text"), "Drift: fraud v3 (15m, 1h)");
    /* Firing alerts first, then the resolved one, each marked. */
    const char *want_cols[] = {"features.amount", "features.age", "features.country"};
    for (size_t i = 0; i < 3; i++) {
        json_t *b = json_array_get(blocks, i + 1);
        assert_string_equal(sget(b, "type"), "section");
        assert_string_equal(sget(json_object_get(b, "text"), "type"), "mrkdwn");
        const char *t = sget(json_object_get(b, "text"), "text");
        assert_non_null(strstr(t, want_cols[i]));
        assert_non_null(strstr(t, i < 2 ? "*FIRING*" : "*RESOLVED*"));
    }
    const char *amount = sget(json_object_get(json_array_get(blocks, 1), "text"), "text");
    assert_non_null(strstr(amount, "KS D=0.31 p_adj=1e-39, PSI=0.52"));
    assert_non_null(strstr(amount, "15m"));
    const char *country = sget(json_object_get(json_array_get(blocks, 3), "text"), "text");
    assert_non_null(strstr(country, "chi2=3.2"));
    assert_non_null(strstr(country, "to 2026-11-25T13:45:00.000Z"));
    json_t *ctx = json_array_get(blocks, 4);
    assert_string_equal(sget(ctx, "type"), "context");
    assert_non_null(strstr(sget(json_array_get(json_object_get(ctx, "elements"), 0), "text"),
                           "2026-11-25T13:45:00.000Z"));
    json_decref(m);
    dw_http_request_clear(&req);

    /* Only resolved alerts left: the header says so. */
    s.filter_columns = (char *[]){"features.country"};
    s.n_filter_columns = 1;
    assert_int_equal(dw_sink_slack.format(&s, doc, &req), 0);
    m = parse_body(&req);
    h = json_array_get(json_object_get(m, "blocks"), 0);
    assert_string_equal(sget(json_object_get(h, "text"), "text"), "Resolved: fraud v3 (1h)");
    json_decref(m);
    dw_http_request_clear(&req);
    /* ... and not even that with send_resolved off. */
    s.send_resolved = false;
    assert_int_equal(dw_sink_slack.format(&s, doc, &req), DW_SINK_SKIP);
    json_decref(doc);
}

static void test_slack_bounds_blocks_and_escapes(void **state)
{
    (void)state;
    dw_sink_spec s = spec_of("slack", "http://127.0.0.1:9/slack", NULL, 0);
    json_t *alerts = json_array();
    for (int i = 0; i < 60; i++) {
        char col[32], key[32];
        snprintf(col, sizeof col, "f%d", i);
        snprintf(key, sizeof key, "k%d", i);
        json_array_append_new(alerts, ks_alert("firing", col, "15m", "warning", key));
    }
    json_array_append_new(alerts, ks_alert("firing", "a<b>&`c`", "15m", "warning", "k-escape"));
    json_t *doc = doc_with("fraud", alerts);
    dw_http_request req = {0};
    assert_int_equal(dw_sink_slack.format(&s, doc, &req), 0);
    json_t *m = parse_body(&req);
    json_t *blocks = json_object_get(m, "blocks");
    /* Slack takes at most 50 blocks: header, 45 alerts, "+16 more", context. */
    assert_int_equal(json_array_size(blocks), 48);
    assert_true(json_array_size(blocks) <= 50);
    const char *more = sget(json_object_get(json_array_get(blocks, 46), "text"), "text");
    assert_string_equal(more, "+16 more");
    json_decref(m);
    dw_http_request_clear(&req);

    /* The odd column alone: &, <, > escaped, the backtick replaced. */
    s.filter_columns = (char *[]){"a<b>&`c`"};
    s.n_filter_columns = 1;
    assert_int_equal(dw_sink_slack.format(&s, doc, &req), 0);
    m = parse_body(&req);
    const char *t =
        sget(json_object_get(json_array_get(json_object_get(m, "blocks"), 1), "text"), "text");
    assert_non_null(strstr(t, "`a&lt;b&gt;&amp;'c'`"));
    json_decref(m);
    dw_http_request_clear(&req);
    json_decref(doc);
}

static void test_slack_defaults_to_one_message_a_second(void **state)
{
    (void)state;
    assert_int_equal(dw_sink_slack.default_min_interval_ms, 1000);
    assert_false(dw_sink_slack.one_alert_per_request);
    static const dwt_refused refused[] = {{{{0}}, 0, "ftp://x", NULL}, {{{0}}, 0, NULL, NULL}};
    expect_refused("slack", refused, DWT_N(refused));
}

/* ---- PagerDuty ---------------------------------------------------------- */

static json_t *one_alert_doc(json_t *alert)
{
    json_t *a = json_array();
    json_array_append_new(a, alert);
    return doc_with("fraud", a);
}

static void test_pagerduty_trigger_event(void **state)
{
    (void)state;
    dw_sink_kv opts[] = {{"routing_key", "R0UTINGKEY0123456789abcdef012345"}};
    dw_sink_spec s = spec_of("pagerduty", "http://127.0.0.1:9/v2/enqueue", opts, 1);
    char err[256];
    assert_int_equal(dw_sink_validate(&s, err, sizeof err), 0);
    json_t *doc = one_alert_doc(ks_alert("firing", "features.amount", "15m", "warning", "k-1"));
    dw_http_request req = {0};
    assert_int_equal(dw_sink_pagerduty.format(&s, doc, &req), 0);
    assert_null(req.url);
    json_t *ev = parse_body(&req);
    assert_string_equal(sget(ev, "routing_key"), "R0UTINGKEY0123456789abcdef012345");
    assert_string_equal(sget(ev, "event_action"), "trigger");
    assert_string_equal(sget(ev, "dedup_key"), "k-1");
    json_t *p = json_object_get(ev, "payload");
    assert_string_equal(sget(p, "summary"), "Drift in fraud v3: features.amount (15m window): KS "
                                            "D=0.31 p_adj=1e-39, PSI=0.52; 4980 samples");
    assert_string_equal(sget(p, "source"), "driftwatch");
    assert_string_equal(sget(p, "severity"), "warning");
    assert_string_equal(sget(p, "timestamp"), "2026-11-25T13:00:00.000Z");
    assert_string_equal(sget(p, "component"), "fraud");
    assert_string_equal(sget(p, "group"), "v3");
    assert_string_equal(sget(p, "class"), "distribution");
    json_t *cd = json_object_get(p, "custom_details");
    assert_string_equal(sget(cd, "column"), "features.amount");
    assert_string_equal(sget(cd, "window"), "15m");
    assert_int_equal(json_integer_value(json_object_get(cd, "samples")), 4980);
    json_t *ks = json_object_get(json_object_get(cd, "tests"), "ks");
    /* Exact: the number goes through JSON unchanged. */
    assert_true(json_real_value(json_object_get(ks, "statistic")) == 0.31);
    assert_null(json_object_get(cd, "quality")); /* distribution alert */
    json_decref(ev);
    dw_http_request_clear(&req);
    json_decref(doc);
}

static void test_pagerduty_resolve_severity_source_and_default_url(void **state)
{
    (void)state;
    dw_sink_kv opts[] = {{"routing_key", "rk"}, {"severity", "error"}, {"source", "pod-7"}};
    dw_sink_spec s = spec_of("pagerduty", NULL, opts, 3);
    char err[256];
    assert_int_equal(dw_sink_validate(&s, err, sizeof err), 0);
    json_t *doc = one_alert_doc(ks_alert("resolved", "features.amount", "15m", "warning", "k-1"));
    dw_http_request req = {0};
    assert_int_equal(dw_sink_pagerduty.format(&s, doc, &req), 0);
    assert_string_equal(req.url, "https://events.pagerduty.com/v2/enqueue");
    json_t *ev = parse_body(&req);
    assert_string_equal(sget(ev, "event_action"), "resolve");
    assert_string_equal(sget(ev, "dedup_key"), "k-1");
    assert_string_equal(sget(ev, "routing_key"), "rk");
    assert_int_equal(json_object_size(ev), 3); /* a resolve needs nothing else */
    json_decref(ev);
    dw_http_request_clear(&req);
    json_decref(doc);

    /* The option's severity and source win over the alert's. */
    doc = one_alert_doc(quality_alert("firing"));
    assert_int_equal(dw_sink_pagerduty.format(&s, doc, &req), 0);
    ev = parse_body(&req);
    json_t *p = json_object_get(ev, "payload");
    assert_string_equal(sget(p, "severity"), "error");
    assert_string_equal(sget(p, "source"), "pod-7");
    assert_string_equal(sget(p, "class"), "quality");
    assert_non_null(strstr(sget(p, "summary"), "Data quality problem in fraud v3: features.age"));
    json_t *q = json_object_get(json_object_get(p, "custom_details"), "quality");
    assert_true(json_real_value(json_object_get(q, "missing_rate")) == 0.31);
    json_decref(ev);
    dw_http_request_clear(&req);

    /* Without the option, the alert's own severity (critical). */
    s.n_options = 1;
    assert_int_equal(dw_sink_pagerduty.format(&s, doc, &req), 0);
    ev = parse_body(&req);
    assert_string_equal(sget(json_object_get(ev, "payload"), "severity"), "critical");
    json_decref(ev);
    dw_http_request_clear(&req);
    json_decref(doc);
}

static void test_pagerduty_validation_and_one_alert_per_request(void **state)
{
    (void)state;
    static const dwt_refused refused[] = {
        {{{0}}, 0, "http://127.0.0.1:9/", "routing_key"},
        {{{"routing_key", "rk"}, {"severity", "fatal"}}, 2, "http://127.0.0.1:9/", "severity"},
    };
    expect_refused("pagerduty", refused, DWT_N(refused));

    assert_true(dw_sink_pagerduty.one_alert_per_request);
    dw_sink_spec s = spec_of("pagerduty", "http://127.0.0.1:9/", refused[1].opts, 1);
    json_t *doc = three_alert_doc();
    dw_http_request req = {0};
    /* The notifier splits documents for this type; an unsplit one is an
     * error rather than a partial send. */
    assert_int_equal(dw_sink_pagerduty.format(&s, doc, &req), DW_ERR_INVALID);
    dw_http_request_clear(&req);
    json_decref(doc);
}

static void test_pagerduty_classifies_events_api_answers(void **state)
{
    (void)state;
    dw_sink_spec s = spec_of("pagerduty", NULL, NULL, 0);
    static const dwt_answer answers[] = {
        {202, NULL, DW_DELIVERY_OK},    {400, NULL, DW_DELIVERY_DROP},
        {429, NULL, DW_DELIVERY_RETRY}, {500, NULL, DW_DELIVERY_RETRY},
        {503, NULL, DW_DELIVERY_RETRY}, {0, NULL, DW_DELIVERY_RETRY},
        {404, NULL, DW_DELIVERY_DROP},
    };
    expect_answers(&dw_sink_pagerduty, &s, answers, DWT_N(answers));
}

/* ---- Alertmanager ------------------------------------------------------- */

static void test_alertmanager_postable_alerts(void **state)
{
    (void)state;
    dw_sink_kv opts[] = {{"generator_url", "http://driftwatch:8080/ui"}};
    dw_sink_spec s = spec_of("alertmanager", "http://127.0.0.1:9093/", opts, 1);
    char err[256];
    assert_int_equal(dw_sink_validate(&s, err, sizeof err), 0);
    json_t *doc = three_alert_doc();
    dw_http_request req = {0};
    int64_t before = dw_wall_ms();
    assert_int_equal(dw_sink_alertmanager.format(&s, doc, &req), 0);
    int64_t after = dw_wall_ms();
    assert_string_equal(req.url, "http://127.0.0.1:9093/api/v2/alerts");
    json_t *arr = parse_body(&req);
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr), 3);

    json_t *a0 = json_array_get(arr, 0);
    json_t *l = json_object_get(a0, "labels");
    assert_int_equal(json_object_size(l), 6);
    static const char *const labels[][2] = {
        {"alertname", "DriftDetected"}, {"model", "fraud"}, {"model_version", "v3"},
        {"column", "features.amount"},  {"window", "15m"},  {"severity", "warning"},
    };
    expect_strings(l, labels, DWT_N(labels));
    json_t *an = json_object_get(a0, "annotations");
    assert_string_equal(sget(an, "summary"), "Drift in fraud v3: features.amount (15m window)");
    assert_string_equal(sget(an, "description"),
                        "KS D=0.31 p_adj=1e-39, PSI=0.52; 4980 samples (window "
                        "2026-11-25T13:30:00.000Z to 2026-11-25T13:45:00.000Z)");
    assert_string_equal(sget(a0, "startsAt"), "2026-11-25T13:00:00.000Z");
    assert_string_equal(sget(a0, "generatorURL"), "http://driftwatch:8080/ui");
    /* Firing: endsAt 4 x resend_interval (default 5m) after the later of
     * start and now, as Prometheus does. */
    const char *ends = sget(a0, "endsAt");
    int64_t ends_ms, start_ms;
    assert_int_equal(dw_ts_parse_rfc3339(ends, strlen(ends), &ends_ms), 0);
    assert_int_equal(dw_ts_parse_rfc3339("2026-11-25T13:00:00.000Z", 24, &start_ms), 0);
    int64_t lo = (start_ms > before ? start_ms : before) + 20LL * 60 * 1000;
    int64_t hi = (start_ms > after ? start_ms : after) + 20LL * 60 * 1000;
    assert_true(ends_ms >= lo && ends_ms <= hi);

    /* Resolved: endsAt is the resolve time. */
    json_t *a1 = json_array_get(arr, 1);
    assert_string_equal(sget(json_object_get(a1, "labels"), "column"), "features.country");
    assert_string_equal(sget(a1, "endsAt"), "2026-11-25T13:45:00.000Z");
    assert_string_equal(sget(a1, "startsAt"), "2026-11-25T11:30:00.000Z");
    /* Quality alerts have their own alertname. */
    json_t *a2 = json_array_get(arr, 2);
    assert_string_equal(sget(json_object_get(a2, "labels"), "alertname"), "DataQuality");
    assert_string_equal(sget(json_object_get(a2, "labels"), "severity"), "critical");
    assert_non_null(strstr(sget(json_object_get(a2, "annotations"), "description"),
                           "missing 31.0% (reference 2.0%)"));
    json_decref(arr);
    dw_http_request_clear(&req);
    json_decref(doc);
}

/* Static labels/annotations of the sink are added, driftwatch's own win;
 * endsAt follows resend_interval. */
static void test_alertmanager_static_labels_and_resend_interval(void **state)
{
    (void)state;
    dw_sink_kv opts[] = {{"resend_interval", "2m"},
                         {"labels.team", "ml"},
                         {"labels.severity", "page"},
                         {"annotations.runbook_url", "https://rb/x"},
                         {"annotations.summary", "mine"}};
    dw_sink_spec s = spec_of("alertmanager", "http://127.0.0.1:9093", opts, 5);
    json_t *doc = three_alert_doc();
    dw_http_request req = {0};
    int64_t before = dw_wall_ms();
    assert_int_equal(dw_sink_alertmanager.format(&s, doc, &req), 0);
    int64_t after = dw_wall_ms();
    json_t *arr = parse_body(&req);
    json_t *a0 = json_array_get(arr, 0);
    json_t *l = json_object_get(a0, "labels"), *an = json_object_get(a0, "annotations");
    assert_int_equal(json_object_size(l), 7);
    assert_string_equal(sget(l, "team"), "ml");
    assert_string_equal(sget(l, "severity"), "warning");
    assert_string_equal(sget(an, "runbook_url"), "https://rb/x");
    assert_string_equal(sget(an, "summary"), "Drift in fraud v3: features.amount (15m window)");
    const char *ends = sget(a0, "endsAt");
    int64_t ends_ms;
    assert_int_equal(dw_ts_parse_rfc3339(ends, strlen(ends), &ends_ms), 0);
    /* The start (2026-11-25) lies before now: the hold counts from now. */
    assert_true(ends_ms >= before + 8 * 60000 && ends_ms <= after + 8 * 60000);
    json_decref(arr);
    dw_http_request_clear(&req);
    json_decref(doc);

    /* The same option sets the engine's reminder interval (sink API);
     * unset it is the default 5m; a webhook wants no reminders. */
    assert_int_equal(dw_sink_reminder_interval(&s), 2 * 60000);
    dw_sink_spec d = spec_of("alertmanager", "http://127.0.0.1:9093", opts + 1, 4);
    assert_int_equal(dw_sink_reminder_interval(&d), 5 * 60000);
    dw_sink_spec w = spec_of("webhook", "http://127.0.0.1:9", NULL, 0);
    assert_int_equal(dw_sink_reminder_interval(&w), 0);
}

static void test_alertmanager_endpoint_and_validation(void **state)
{
    (void)state;
    char err[256];
    json_t *doc = one_alert_doc(ks_alert("firing", "c", "1h", "warning", "k"));
    /* The version is optional in the document; its label is left out. */
    json_object_set_new(doc, "model_version", json_null());
    const char *urls[][2] = {
        {"http://am:9093", "http://am:9093/api/v2/alerts"},
        {"http://am:9093/prefix//", "http://am:9093/prefix/api/v2/alerts"},
        {"https://am/api/v2/alerts", "https://am/api/v2/alerts"},
    };
    for (size_t i = 0; i < 3; i++) {
        dw_sink_spec s = spec_of("alertmanager", urls[i][0], NULL, 0);
        assert_int_equal(dw_sink_validate(&s, err, sizeof err), 0);
        dw_http_request req = {0};
        assert_int_equal(dw_sink_alertmanager.format(&s, doc, &req), 0);
        assert_string_equal(req.url, urls[i][1]);
        json_t *arr = parse_body(&req);
        json_t *a = json_array_get(arr, 0);
        assert_null(json_object_get(json_object_get(a, "labels"), "model_version"));
        assert_null(json_object_get(a, "generatorURL"));
        json_decref(arr);
        dw_http_request_clear(&req);
    }
    json_decref(doc);
    static const dwt_refused refused[] = {
        {{{0}}, 0, NULL, NULL},
        {{{"generator_url", "driftwatch/ui"}}, 1, "http://am:9093", "generator_url"},
    };
    expect_refused("alertmanager", refused, DWT_N(refused));
}

/* ---- every alert kind named by what it is ------------------------------ */

/* The other kinds' alerts, shaped as engine_canary.c and engine_perf.c
 * make them (docs/alerts.md). */
static json_t *divergence_alert(const char *status)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:I,"
                     " s:{s:{s:f, s:f, s:f}, s:f}, s:s, s:s, s:n}",
                     "status", status, "kind", "divergence", "column", "features.amount",
                     "column_type", "numeric", "window", "15m", "window_start",
                     "2026-11-25T13:30:00.000Z", "window_end", "2026-11-25T13:45:00.000Z",
                     "samples", (json_int_t)2100, "severity", "warning", "baseline", "v2",
                     "baseline_samples", (json_int_t)18000, "tests", "ks", "statistic", 0.22,
                     "p_value", 1e-9, "p_adjusted", 4e-9, "psi", 0.31, "dedup_key",
                     "0d1f2e3c4b5a6978", "starts_at", "2026-11-25T13:45:00.000Z", "ends_at");
}

static json_t *latency_alert(void)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I,"
                     " s:{s:s, s:f, s:f, s:f, s:s, s:f}, s:s, s:s, s:n}",
                     "status", "firing", "kind", "latency", "column", "latency_ms", "window", "15m",
                     "window_start", "2026-11-25T13:30:00.000Z", "window_end",
                     "2026-11-25T13:45:00.000Z", "severity", "critical", "samples",
                     (json_int_t)2100, "latency", "slo", "p99", "quantile", 0.99, "value", 412.0,
                     "max", 250.0, "unit", "ms", "relative_error", 0.01, "dedup_key",
                     "7a6b5c4d3e2f1a0b", "starts_at", "2026-11-25T13:45:00.000Z", "ends_at");
}

static json_t *performance_alert(void)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I,"
                     " s:{s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:f}, s:s, s:s, s:n}",
                     "status", "firing", "kind", "performance", "column", "performance.accuracy",
                     "window", "1h", "window_start", "2026-11-25T12:00:00.000Z", "window_end",
                     "2026-11-25T13:00:00.000Z", "severity", "warning", "samples", (json_int_t)3600,
                     "performance", "metric", "accuracy", "value", 0.71, "lower", 0.69, "upper",
                     0.73, "reference", 0.85, "margin", 0.03, "confidence", 0.95, "coverage", 0.9,
                     "dedup_key", "99aa88bb77cc66dd", "starts_at", "2026-11-25T13:00:00.000Z",
                     "ends_at");
}

/* The Slack header of a document holding the given alerts. */
static void assert_slack_header(json_t *alerts, const char *want)
{
    dw_sink_spec s = spec_of("slack", "https://hooks.slack.com/services/T/B/X", NULL, 0);
    json_t *doc = doc_with("fraud", alerts);
    dw_http_request req = {0};
    assert_int_equal(dw_sink_slack.format(&s, doc, &req), 0);
    json_t *m = parse_body(&req);
    json_t *h = json_array_get(json_object_get(m, "blocks"), 0);
    assert_string_equal(sget(json_object_get(h, "text"), "text"), want);
    json_decref(m);
    dw_http_request_clear(&req);
    json_decref(doc);
}

static void test_slack_header_names_the_firing_kinds(void **state)
{
    (void)state;
    assert_slack_header(json_pack("[o]", divergence_alert("firing")),
                        "Canary divergence: fraud v3 (15m)");
    assert_slack_header(json_pack("[o]", latency_alert()), "Latency SLO: fraud v3 (15m)");
    assert_slack_header(json_pack("[o]", performance_alert()), "Model performance: fraud v3 (1h)");
    assert_slack_header(json_pack("[o]", quality_alert("firing")), "Data quality: fraud v3 (15m)");
    /* Drift keeps its header, quality alerts beside it included (the
     * payload drift documents always had). */
    assert_slack_header(json_pack("[o, o]",
                                  ks_alert("firing", "features.amount", "15m", "warning", "k"),
                                  quality_alert("firing")),
                        "Drift: fraud v3 (15m)");
    /* Several kinds firing: each named, in a fixed order; a resolved
     * alert's kind is not. */
    assert_slack_header(json_pack("[o, o, o, o]", latency_alert(), divergence_alert("resolved"),
                                  quality_alert("firing"),
                                  ks_alert("firing", "features.age", "1h", "warning", "k")),
                        "Drift, Latency SLO: fraud v3 (15m, 1h)");
    assert_slack_header(json_pack("[o, o]", performance_alert(), divergence_alert("firing")),
                        "Canary divergence, Model performance: fraud v3 (1h, 15m)");
    assert_slack_header(json_pack("[o]", divergence_alert("resolved")), "Resolved: fraud v3 (15m)");
}

static void test_pagerduty_and_alertmanager_name_each_kind(void **state)
{
    (void)state;
    dw_sink_kv rk = {"routing_key", "rk"};
    dw_sink_spec pd = spec_of("pagerduty", "http://127.0.0.1:9/", &rk, 1);
    dw_sink_spec am = spec_of("alertmanager", "http://127.0.0.1:9093", NULL, 0);
    static const struct {
        const char *summary, *alertname, *detail;
    } want[] = {
        {"Divergence from baseline in fraud v3: features.amount (15m window): KS D=0.22 "
         "p_adj=4e-09, PSI=0.31; 2100 samples",
         "ModelDivergence", "baseline"},
        {"Latency SLO breach in fraud v3: latency_ms (15m window): value=412 max=250 "
         "quantile=0.99 (ms); 2100 samples",
         "LatencySLOBreach", "latency"},
        {"Model performance below reference in fraud v3: performance.accuracy (1h window): "
         "accuracy=0.71 [0.69, 0.73], reference=0.85, margin=0.03; 3600 samples",
         "ModelPerformanceDrop", "performance"},
    };
    for (size_t i = 0; i < 3; i++) {
        json_t *a = i == 0   ? divergence_alert("firing")
                    : i == 1 ? latency_alert()
                             : performance_alert();
        json_t *doc = one_alert_doc(a);
        dw_http_request req = {0};
        assert_int_equal(dw_sink_pagerduty.format(&pd, doc, &req), 0);
        json_t *ev = parse_body(&req);
        json_t *p = json_object_get(ev, "payload");
        assert_string_equal(sget(p, "summary"), want[i].summary);
        /* The kind's evidence is in the details, as the tests are for drift. */
        json_t *cd = json_object_get(p, "custom_details");
        assert_true(
            json_equal(json_object_get(cd, want[i].detail), json_object_get(a, want[i].detail)));
        json_decref(ev);
        dw_http_request_clear(&req);

        assert_int_equal(dw_sink_alertmanager.format(&am, doc, &req), 0);
        json_t *arr = parse_body(&req);
        json_t *al = json_array_get(arr, 0);
        assert_string_equal(sget(json_object_get(al, "labels"), "alertname"), want[i].alertname);
        const char *sum = sget(json_object_get(al, "annotations"), "summary");
        assert_int_equal(strncmp(sum, want[i].summary, strlen(sum)), 0);
        json_decref(arr);
        dw_http_request_clear(&req);
        json_decref(doc);
    }
}

static void test_stdout_text_shows_latency_and_baseline(void **state)
{
    (void)state;
    dw_sink_kv fmt = {"format", "text"};
    dw_sink_spec s = spec_of("stdout", NULL, &fmt, 1);
    json_t *doc =
        doc_with("fraud", json_pack("[o, o]", latency_alert(), divergence_alert("firing")));
    dw_http_request req = {0};
    assert_int_equal(dw_sink_stdout.format(&s, doc, &req), 0);
    assert_string_equal(
        req.body, "2026-11-25T13:45:00.000Z FIRING model=fraud version=v3 column=latency_ms "
                  "window=15m severity=critical kind=latency samples=2100 slo=p99 "
                  "quantile=0.99 value=412 max=250 unit=ms\n"
                  "2026-11-25T13:45:00.000Z FIRING model=fraud version=v3 "
                  "column=features.amount window=15m severity=warning kind=divergence "
                  "samples=2100 ks.statistic=0.22 ks.p_adjusted=4e-09 psi=0.31 baseline=v2\n");
    dw_http_request_clear(&req);
    json_decref(doc);
}

static void test_notifier_queues_one_document_per_alert_for_pagerduty(void **state)
{
    (void)state;
    dw_sink_kv rk = {"routing_key", "rk"};
    dw_sink_spec specs[2];
    specs[0] = spec_of("pagerduty", "http://127.0.0.1:9/", &rk, 1);
    specs[0].name = "pd";
    specs[1] = spec_of("webhook", "http://127.0.0.1:9/", NULL, 0);
    specs[1].name = "hook";
    dw_notifier_options o = {.start_paused = true};
    dw_notifier *n = NULL;
    char err[256];
    assert_int_equal(dw_notifier_new_ex(specs, 2, &o, &n, err, sizeof err), 0);
    assert_int_equal(dw_notifier_submit(n, three_alert_doc()), 0);
    dw_sink_stats st;
    assert_int_equal(dw_notifier_stats(n, 0, &st), 0);
    assert_int_equal(st.submitted, 3);
    assert_int_equal(st.queued, 3);
    assert_int_equal(dw_notifier_stats(n, 1, &st), 0);
    assert_int_equal(st.submitted, 1);
    assert_int_equal(st.queued, 1);
    dw_notifier_free(n);
}

static void test_registry_knows_the_new_types(void **state)
{
    (void)state;
    assert_ptr_equal(dw_sink_ops_find("slack"), &dw_sink_slack);
    assert_ptr_equal(dw_sink_ops_find("pagerduty"), &dw_sink_pagerduty);
    assert_ptr_equal(dw_sink_ops_find("alertmanager"), &dw_sink_alertmanager);
    char names[256];
    dw_sink_ops_names(names, sizeof names);
    assert_non_null(strstr(names, "alertmanager"));
}

/* Every registered type's option table is one the generic code can apply:
 * enums list values, required options have no default, keys are unique,
 * and each type is usable somewhere. */
static void test_option_tables_are_well_formed(void **state)
{
    (void)state;
    size_t ntypes = 0;
    for (const dw_sink_ops *t; (t = dw_sink_ops_at(ntypes)); ntypes++) {
        assert_true(t->roles & (DW_SINK_ROLE_ALERTS | DW_SINK_ROLE_RETRAIN));
        assert_ptr_equal(dw_sink_ops_find(t->name), t);
        size_t nopts = 0;
        for (const dw_sink_option *o = t->options; o && o->key; o++, nopts++) {
            assert_ptr_equal(dw_sink_option_find(t, o->key), o);
            if (o->type == DW_SINK_OPT_ENUM)
                assert_non_null(o->values);
            if (o->required)
                assert_null(o->def);
            char why[160];
            if (o->def)
                assert_null(dw_sink_option_check(o, o->def, why, sizeof why));
        }
        assert_true(nopts <= DW_SINK_MAX_OPTION_KEYS);
    }
    /* At least the shipped types; a new type needs no change here (adding
     * one touches three places, docs/writing-a-sink.md). */
    assert_true(ntypes >= 9);
}

/* dw_sink_validate() refuses an option the type does not declare, and
 * dw_sink_spec_option() gives a declared default for an unset or empty one. */
static void test_options_unknown_refused_defaults_applied(void **state)
{
    (void)state;
    char err[256];
    dw_sink_kv opts[] = {{"routing_key", "rk"}, {"channel", "#x"}};
    dw_sink_spec s = spec_of("pagerduty", NULL, opts, 2);
    assert_int_equal(dw_sink_validate(&s, err, sizeof err), DW_ERR_INVALID);
    assert_non_null(strstr(err, "takes no option \"channel\""));
    s.n_options = 1;
    assert_int_equal(dw_sink_validate(&s, err, sizeof err), 0);
    assert_string_equal(dw_sink_spec_option(&s, "source"), "driftwatch");
    assert_null(dw_sink_spec_option(&s, "severity"));
    dw_sink_kv empty[] = {{"routing_key", "rk"}, {"source", ""}};
    s = spec_of("pagerduty", NULL, empty, 2);
    assert_string_equal(dw_sink_spec_option(&s, "source"), "driftwatch");
    /* Map options: each name checked, at most the declared number. */
    dw_sink_kv lab[] = {{"labels.team", "ml"}, {"labels.1x", "y"}};
    s = spec_of("alertmanager", "http://am", lab, 2);
    assert_int_equal(dw_sink_validate(&s, err, sizeof err), DW_ERR_INVALID);
    assert_non_null(strstr(err, "labels name \"1x\" is not a label name"));
    s.n_options = 1;
    assert_int_equal(dw_sink_validate(&s, err, sizeof err), 0);
    dw_sink_kv many[9];
    char names[9][16];
    for (int i = 0; i < 9; i++) {
        snprintf(names[i], sizeof names[i], "labels.l%d", i);
        many[i] = (dw_sink_kv){names[i], "v"};
    }
    s = spec_of("alertmanager", "http://am", many, 9);
    assert_int_equal(dw_sink_validate(&s, err, sizeof err), DW_ERR_INVALID);
    assert_non_null(strstr(err, "more than 8 labels"));
    s.n_options = 8;
    assert_int_equal(dw_sink_validate(&s, err, sizeof err), 0);
    dw_sink_kv dur[] = {{"resend_interval", "soon"}};
    s = spec_of("alertmanager", "http://am", dur, 1);
    assert_int_equal(dw_sink_validate(&s, err, sizeof err), DW_ERR_INVALID);
    assert_non_null(strstr(err, "is not a duration"));
}

int main(void)
{
    dw_log_set_level(DW_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_rfc4648_vectors),
        cmocka_unit_test(test_base64_rejects_bad_input),
        cmocka_unit_test(test_hmac_sha256_known_vector),
        cmocka_unit_test(test_webhook_signature_standard_webhooks_example),
        cmocka_unit_test(test_webhook_signature_python_vector),
        cmocka_unit_test(test_webhook_signs_when_secret_is_set),
        cmocka_unit_test(test_filter_by_model_column_severity_and_resolved),
        cmocka_unit_test(test_filter_is_checked_by_the_notifier),
        cmocka_unit_test(test_alert_stats_lines),
        cmocka_unit_test(test_slack_payload_text_blocks_and_resolved),
        cmocka_unit_test(test_slack_bounds_blocks_and_escapes),
        cmocka_unit_test(test_slack_defaults_to_one_message_a_second),
        cmocka_unit_test(test_pagerduty_trigger_event),
        cmocka_unit_test(test_pagerduty_resolve_severity_source_and_default_url),
        cmocka_unit_test(test_pagerduty_validation_and_one_alert_per_request),
        cmocka_unit_test(test_pagerduty_classifies_events_api_answers),
        cmocka_unit_test(test_alertmanager_postable_alerts),
        cmocka_unit_test(test_alertmanager_static_labels_and_resend_interval),
        cmocka_unit_test(test_alertmanager_endpoint_and_validation),
        cmocka_unit_test(test_slack_header_names_the_firing_kinds),
        cmocka_unit_test(test_pagerduty_and_alertmanager_name_each_kind),
        cmocka_unit_test(test_stdout_text_shows_latency_and_baseline),
        cmocka_unit_test(test_notifier_queues_one_document_per_alert_for_pagerduty),
        cmocka_unit_test(test_registry_knows_the_new_types),
        cmocka_unit_test(test_option_tables_are_well_formed),
        cmocka_unit_test(test_options_unknown_refused_defaults_applied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The engine end to end in-process: references built from generated data,
 * records fed as JSON messages, notification documents captured. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "config_fixture.h"

#include "driftwatch/config.h"
#include "driftwatch/delta.h"
#include "driftwatch/engine.h"
#include "driftwatch/timestamp.h"
#include "engine_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct fixture {
    char dir[64];
    char refpath[128];
    dw_config *cfg;
    dw_engine *e;
    json_t *docs; /* captured notification documents */
    size_t rejects[DW_REJECT_MAX];
} fixture;

static void capture(void *ctx, json_t *doc)
{
    fixture *f = ctx;
    json_array_append_new(f->docs, doc);
}

static void on_reject(void *ctx, dw_reject_reason r, const char *detail, const char *raw,
                      size_t len)
{
    (void)detail;
    (void)raw;
    (void)len;
    ((fixture *)ctx)->rejects[r]++;
}

static int record(char *buf, size_t cap, gsl_rng *r, int64_t ts, double shift, bool newcat)
{
    return dwt_record(buf, cap, r, ts, shift, newcat ? "zz" : NULL, NULL);
}

static const char *extra_yaml = "";
static const char *model_yaml = ""; /* more keys of model m */
static const char *alerts_yaml = "alerts: {for: 2}\n";
static const char *sinks_yaml = "sinks: []\n";

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/dw-test-engine-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->refpath, sizeof f->refpath, "%s/m.json", f->dir);
    dwt_build_reference(f->dir, f->refpath, 1, 20000);
    char err[512];

    f->cfg = dwt_parse_fmt("kafka: {brokers: \"127.0.0.1:1\", topics: [t]}\n"
                           "models:\n  - name: m\n    reference: \"%s\"\n%s"
                           "windows:\n  - {name: 10m, length: 10m, slide: 1m}\n"
                           "%s"
                           "time: {allowed_lateness: 30s, idle_timeout: 0s}\n"
                           "%s%s",
                           f->refpath, model_yaml, alerts_yaml, sinks_yaml, extra_yaml);
    assert_int_equal(dw_engine_new(f->cfg, &f->e, err, sizeof err), 0);
    f->docs = json_array();
    dw_engine_on_emit(f->e, capture, f);
    dw_engine_on_reject(f->e, on_reject, f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    dw_engine_free(f->e);
    dw_config_free(f->cfg);
    json_decref(f->docs);
    unlink(f->refpath);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Feeds `minutes` of event time at `per_min` records a minute. */
static void feed(fixture *f, gsl_rng *r, int64_t from_min, int minutes, int per_min, double shift,
                 bool newcat)
{
    char buf[512];
    for (int64_t m = from_min; m < from_min + minutes; m++)
        for (int i = 0; i < per_min; i++) {
            int n =
                record(buf, sizeof buf, r, T0 + m * 60000 + i * (60000 / per_min), shift, newcat);
            dw_engine_process(f->e, buf, (size_t)n, INT64_MIN);
        }
}

/* The objects of arr whose string member k1 is v1 and (k2 not NULL) k2 is v2. */
static size_t count_matching(json_t *arr, const char *k1, const char *v1, const char *k2,
                             const char *v2)
{
    size_t n = 0, i;
    json_t *o;
    json_array_foreach (arr, i, o) {
        const char *s1 = json_string_value(json_object_get(o, k1));
        const char *s2 = k2 ? json_string_value(json_object_get(o, k2)) : NULL;
        n += s1 && !strcmp(s1, v1) && (!k2 || (s2 && !strcmp(s2, v2)));
    }
    return n;
}

/* The captured alerts of column with status, over every document. */
static size_t count_alerts(json_t *docs, const char *column, const char *status)
{
    size_t n = 0, i;
    json_t *d;
    json_array_foreach (docs, i, d)
        n += count_matching(json_object_get(d, "alerts"), "column", column, "status", status);
    return n;
}

static void test_quiet_then_drift_then_resolve(void **state)
{
    fixture *f = *state;
    gsl_rng *r = dwt_rng(2);
    feed(f, r, 0, 60, 200, 0, false);
    assert_int_equal(json_array_size(f->docs), 0); /* no drift: nothing sent */
    feed(f, r, 60, 30, 200, 1.0, true);
    assert_int_equal(count_alerts(f->docs, "features.x", "firing"), 1);
    assert_int_equal(count_alerts(f->docs, "features.c", "firing"), 1);
    assert_int_equal(count_alerts(f->docs, "features.y", "firing"), 0);
    feed(f, r, 90, 30, 200, 0, false);
    dw_engine_flush(f->e);
    assert_int_equal(count_alerts(f->docs, "features.x", "resolved"), 1);
    assert_int_equal(count_alerts(f->docs, "features.c", "resolved"), 1);

    /* The firing document names the new category and carries the tests. */
    size_t i, k;
    json_t *d, *a;
    bool seen = false;
    json_array_foreach (f->docs, i, d)
        json_array_foreach (json_object_get(d, "alerts"), k, a) {
            if (strcmp(json_string_value(json_object_get(a, "column")), "features.c") ||
                strcmp(json_string_value(json_object_get(a, "status")), "firing"))
                continue;
            json_t *nc = json_object_get(a, "new_categories");
            assert_int_equal(json_array_size(nc), 1);
            assert_string_equal(json_string_value(json_array_get(nc, 0)), "zz");
            assert_non_null(json_object_get(json_object_get(a, "tests"), "chi2"));
            assert_string_equal(json_string_value(json_object_get(d, "kind")), "drift");
            seen = true;
        }
    assert_true(seen);
    dw_engine_stats st;
    dw_engine_stats_get(f->e, &st);
    assert_int_equal(st.applied, 120 * 200);
    gsl_rng_free(r);
}

static void test_rejects_are_counted_by_reason(void **state)
{
    fixture *f = *state;
    const char *msgs[] = {
        "{\"ts\": 1795500000000, \"model\": \"m\", \"features\": {\"x\": 1}}", /* ok */
        "{not json",                                                           /* invalid */
        "{\"ts\": 1795500000000, \"model\": \"other\"}",                       /* unknown */
        "{\"ts\": 1795500000000}",                                             /* no model */
        "{\"ts\": \"yesterday\", \"model\": \"m\"}",                           /* bad ts */
        "[{\"ts\": 1795500001000, \"model\": \"m\"}, 5]",                      /* 1 ok, 1 not obj */
        "{\"ts\": 1795500600000, \"model\": \"m\"}",                           /* ok, 10 min on */
        "{\"ts\": 1795500000000, \"model\": \"m\"}",                           /* now late */
        "{\"ts\": 1795500600000, \"model\": \"m\", \"features\": {\"x\": \"abc\"}}", /* type */
    };
    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++)
        dw_engine_process(f->e, msgs[i], strlen(msgs[i]), INT64_MIN);
    /* Regression: a truncated array is rejected whole, nothing of it
     * applied, and counted once (not also as "no model"). */
    const char *cut[] = {"[{\"ts\": 1795500600000, \"model\": \"m\"}, {\"ts\": 1", "[{\"ts\": 1}"};
    for (size_t i = 0; i < 2; i++)
        dw_engine_process(f->e, cut[i], strlen(cut[i]), INT64_MIN);
    dw_engine_stats st;
    dw_engine_stats_get(f->e, &st);
    assert_int_equal(st.applied, 4);
    assert_int_equal(st.rejected[DW_REJECT_INVALID_JSON], 3);
    assert_int_equal(st.rejected[DW_REJECT_UNKNOWN_MODEL], 1);
    assert_int_equal(st.rejected[DW_REJECT_NO_MODEL], 1);
    assert_int_equal(st.messages, 11);
    assert_int_equal(st.rejected[DW_REJECT_BAD_TIMESTAMP], 1);
    assert_int_equal(st.rejected[DW_REJECT_NOT_OBJECT], 1);
    assert_int_equal(st.rejected[DW_REJECT_LATE], 1);
    assert_int_equal(st.wrong_type_fields, 1);
    assert_int_equal(f->rejects[DW_REJECT_LATE], 1);
    /* Records without a timestamp use the Kafka time when there is one. */
    const char *nots = "{\"model\": \"m\"}";
    dw_engine_process(f->e, nots, strlen(nots), 1795500600000LL);
    dw_engine_stats_get(f->e, &st);
    assert_int_equal(st.applied, 5);
}

/* Regression: one record an hour ahead of the wall clock made every later
 * record "late" (the watermark followed it). It is rejected as "future"
 * now, and time goes on: later records count, panes close every slide. */
static void test_record_from_the_future_cannot_hijack_event_time(void **state)
{
    fixture *f = *state;
    gsl_rng *r = dwt_rng(11);
    feed(f, r, 0, 5, 50, 0, false);
    char buf[512];
    int64_t future = (int64_t)time(NULL) * 1000 + 3600 * 1000;
    int n = record(buf, sizeof buf, r, future, 0, false);
    dw_engine_process(f->e, buf, (size_t)n, INT64_MIN);
    dw_engine_stats st;
    dw_engine_stats_get(f->e, &st);
    uint64_t evals = st.evaluations;
    assert_int_equal(f->rejects[DW_REJECT_FUTURE], 1);
    feed(f, r, 5, 10, 50, 0, false);
    dw_engine_stats_get(f->e, &st);
    assert_int_equal(st.rejected[DW_REJECT_FUTURE], 1);
    assert_int_equal(st.rejected[DW_REJECT_LATE], 0);
    assert_int_equal(st.applied, 15 * 50);
    /* minutes 5..14 close about ten 1-minute panes (the lateness holds the
     * last one open) */
    assert_true(st.evaluations >= evals + 9);
    assert_true(st.watermark_ms < T0 + 15 * 60000);
    gsl_rng_free(r);
}

/* One record of model version ver (the record() fields otherwise). */
static void feed_version(fixture *f, gsl_rng *r, const char *ver, int64_t ts, double shift)
{
    char buf[512], out[600];
    record(buf, sizeof buf, r, ts, shift, shift != 0);
    int n = snprintf(out, sizeof out, "{\"model_version\":\"%s\",%s", ver, buf + 1);
    dw_engine_process(f->e, out, (size_t)n, INT64_MIN);
}

static bool snapshot_has_version(fixture *f, const char *ver)
{
    dw_engine_publish(f->e);
    json_t *snap = dw_engine_snapshot(f->e);
    size_t i;
    json_t *m;
    bool found = false;
    json_array_foreach (json_object_get(snap, "models"), i, m) {
        const char *v = json_string_value(json_object_get(m, "model_version"));
        if (v && !strcmp(v, ver))
            found = true;
    }
    json_decref(snap);
    return found;
}

/* Regression: 16 junk model_version values locked a real new version out
 * until restart. Versions without a record for a window length are
 * dropped (a firing alert of theirs resolved first), so v4 gets in. */
static void test_junk_versions_age_out_for_a_real_one(void **state)
{
    fixture *f = *state;
    gsl_rng *r = dwt_rng(12);
    /* v3 serves; j00 drifts for 6 minutes (its alert fires), then stops. */
    for (int64_t s = 0; s < 6 * 60; s++) {
        feed_version(f, r, "v3", T0 + s * 1000, 0);
        feed_version(f, r, "j00", T0 + s * 1000 + 500, 1.5);
    }
    assert_int_equal(count_alerts(f->docs, "features.x", "firing"), 1);
    /* 15 more junk versions, one record each: with v3 and j00 that is one
     * beyond the limit of 16 versions per model. */
    char ver[8];
    for (int k = 1; k <= 15; k++) {
        snprintf(ver, sizeof ver, "j%02d", k);
        feed_version(f, r, ver, T0 + 6 * 60000 + k, 0);
    }
    feed_version(f, r, "v4", T0 + 6 * 60000 + 100, 0);
    dw_engine_stats st;
    dw_engine_stats_get(f->e, &st);
    assert_int_equal(st.rejected[DW_REJECT_TOO_MANY_VERSIONS], 2); /* j15 and v4 */
    assert_false(snapshot_has_version(f, "v4"));
    /* Traffic stops for most of an hour. After such a gap every window
     * starts afresh, and a window that is not full yet does not resolve
     * what fires (model.c): j00's alert is still firing when v4 comes. */
    for (int64_t s = 60 * 60; s < 63 * 60; s++)
        feed_version(f, r, "v3", T0 + s * 1000, 0);
    assert_int_equal(count_alerts(f->docs, "features.x", "resolved"), 0);
    feed_version(f, r, "v4", T0 + 63 * 60000, 0);
    for (int64_t s = 63 * 60; s < 66 * 60; s++) {
        feed_version(f, r, "v3", T0 + s * 1000, 0);
        feed_version(f, r, "v4", T0 + s * 1000 + 500, 0);
    }
    dw_engine_stats_get(f->e, &st);
    assert_int_equal(st.rejected[DW_REJECT_TOO_MANY_VERSIONS], 2);
    assert_int_equal(st.rejected[DW_REJECT_LATE], 0);
    assert_int_equal(st.versions_dropped, 15); /* j00..j14 */
    assert_true(snapshot_has_version(f, "v4"));
    assert_true(snapshot_has_version(f, "v3"));
    assert_false(snapshot_has_version(f, "j00"));
    assert_false(snapshot_has_version(f, "j07"));
    /* j00's firing alert was resolved by the drop, in a document of its
     * own, not left open at the receivers. */
    assert_int_equal(count_alerts(f->docs, "features.x", "resolved"), 1);
    size_t i;
    json_t *d, *dropped = NULL;
    json_array_foreach (f->docs, i, d)
        if (json_is_true(json_object_get(d, "version_dropped")))
            dropped = d;
    assert_non_null(dropped);
    assert_string_equal(json_string_value(json_object_get(dropped, "model_version")), "j00");
    json_t *a = json_array_get(json_object_get(dropped, "alerts"), 0);
    assert_string_equal(json_string_value(json_object_get(a, "status")), "resolved");
    assert_string_equal(json_string_value(json_object_get(a, "resolved_by")), "version_dropped");
    assert_non_null(json_string_value(json_object_get(a, "ends_at")));
    gsl_rng_free(r);
}

static json_t *run_once(fixture *f, unsigned long seed)
{
    gsl_rng *r = dwt_rng(seed);
    feed(f, r, 0, 20, 100, 0, false);
    feed(f, r, 20, 20, 100, 1.5, false);
    feed(f, r, 40, 20, 100, 0, false);
    dw_engine_flush(f->e);
    gsl_rng_free(r);
    return json_incref(f->docs);
}

static void test_same_input_same_documents(void **state)
{
    fixture *a = *state;
    json_t *da = run_once(a, 9);
    fixture *b = NULL;
    setup((void **)&b);
    json_t *db = run_once(b, 9);
    assert_true(json_array_size(da) > 0);
    char *sa = json_dumps(da, JSON_SORT_KEYS), *sb = json_dumps(db, JSON_SORT_KEYS);
    assert_string_equal(sa, sb);
    free(sa);
    free(sb);
    json_decref(da);
    json_decref(db);
    teardown((void **)&b);
}

/* The quality block of column `name` in window 10m of the status. */
static json_t *column_quality(json_t *snap, const char *name)
{
    size_t i;
    json_t *col;
    json_array_foreach (
        json_object_get(json_array_get(json_object_get(snap, "models"), 0), "columns"), i, col)
        if (!strcmp(json_string_value(json_object_get(col, "name")), name))
            return json_object_get(json_object_get(json_object_get(col, "windows"), "10m"),
                                   "quality");
    fail_msg("no column %s in the status", name);
    return NULL;
}

/* Records whose shape changes from one to the next (the engine remembers
 * which field of the previous record was which column, and which fields
 * shared a parent object): every value still lands in its own column, and
 * the same names under another object ("other.x", "other.y", far out of
 * range) are never counted. The third shape follows one where "other"
 * held only x at the place of the first shape's features.x, so a
 * remembered "same parent as the field before" of the first shape would
 * misread other.y as features.y. */
static void test_changing_record_shapes_count_the_right_columns(void **state)
{
    fixture *f = *state;
    static const char *shapes[] = {
        "\"features\":{\"x\":0.5,\"y\":-0.5,\"c\":\"a\"}}",
        "\"other\":{\"x\":100}}",
        "\"other\":{\"x\":100,\"y\":100},\"features\":{\"x\":0.5,\"y\":-0.5,\"c\":\"a\"}}",
    };
    char buf[256];
    for (int i = 0; i < 30; i++) {
        int n = snprintf(buf, sizeof buf, "{\"ts\":%lld,\"model\":\"m\",%s",
                         (long long)(T0 + i * 1000), shapes[i % 3]);
        assert_int_equal(dw_engine_process(f->e, buf, (size_t)n, INT64_MIN), 1);
    }
    dw_engine_flush(f->e);
    json_t *snap = dw_engine_snapshot(f->e);
    /* Tolerance: rates are k/30 computed in double. */
    for (int k = 0; k < 2; k++) {
        json_t *q = column_quality(snap, k ? "features.y" : "features.x");
        assert_int_equal(json_integer_value(json_object_get(q, "values")), 30);
        assert_float_equal(json_real_value(json_object_get(q, "missing_rate")), 10.0 / 30, 1e-12);
        assert_float_equal(json_real_value(json_object_get(q, "out_of_range_rate")), 0, 1e-12);
    }
    json_t *q = column_quality(snap, "features.c");
    assert_float_equal(json_real_value(json_object_get(q, "missing_rate")), 10.0 / 30, 1e-12);
    assert_float_equal(json_real_value(json_object_get(q, "unseen_rate")), 0, 1e-12);
    json_decref(snap);
}

/* A null flood in one column, with what is left of it shifted (a degraded
 * upstream): one data-quality alert, not a quality plus a distribution
 * alert. */
static void test_missing_flood_is_one_quality_alert(void **state)
{
    fixture *f = *state;
    gsl_rng *r = dwt_rng(4);
    feed(f, r, 0, 30, 200, 0, false);
    char buf[512];
    for (int64_t m = 30; m < 60; m++)
        for (int i = 0; i < 200; i++) {
            int64_t ts = T0 + m * 60000 + i * 300;
            int n;
            if (gsl_rng_uniform(r) < 0.6)
                n = snprintf(buf, sizeof buf,
                             "{\"ts\":%lld,\"model\":\"m\",\"features\":{\"x\":null,"
                             "\"y\":%.4f,\"c\":\"a\"},\"prediction\":{\"score\":0.5}}",
                             (long long)ts, gsl_ran_gaussian(r, 1.0));
            else
                n = record(buf, sizeof buf, r, ts, 2.0, false);
            dw_engine_process(f->e, buf, (size_t)n, INT64_MIN);
        }
    size_t i, k, quality = 0, distribution = 0;
    json_t *d, *a;
    json_array_foreach (f->docs, i, d)
        json_array_foreach (json_object_get(d, "alerts"), k, a) {
            if (strcmp(json_string_value(json_object_get(a, "column")), "features.x") ||
                strcmp(json_string_value(json_object_get(a, "status")), "firing"))
                continue;
            if (!strcmp(json_string_value(json_object_get(a, "kind")), "quality"))
                quality++;
            else
                distribution++;
        }
    assert_int_equal(quality, 1);
    assert_int_equal(distribution, 0);
    gsl_rng_free(r);
}

static void test_partition_ahead_is_held_back(void **state)
{
    fixture *f = *state;
    int s1 = dw_engine_source(f->e, "t", 0), s2 = dw_engine_source(f->e, "t", 1);
    assert_true(s1 > 0 && s2 > 0 && s1 != s2);
    assert_int_equal(dw_engine_source(f->e, "t", 0), s1);
    dw_engine_source_assigned(f->e, s1, true);
    dw_engine_source_assigned(f->e, s2, true);
    char buf[256];
    dw_process_result res;
    /* Partition 0 runs an hour ahead while partition 1 has said nothing:
     * the watermark must not move, so partition 1's records stay on time. */
    int64_t t;
    for (t = 0; t < 60; t++) {
        int n =
            snprintf(buf, sizeof buf, "{\"ts\":%lld,\"model\":\"m\"}", (long long)(T0 + t * 60000));
        dw_engine_process_from(f->e, s1, buf, (size_t)n, INT64_MIN, &res);
        if (res.ahead)
            break;
    }
    assert_true(res.ahead); /* beyond the panes held open: pause it */
    /* Regression: a message put back is counted when it comes again, not
     * now as well (messages_total over-counted on backlogs). */
    dw_engine_stats st;
    dw_engine_stats_get(f->e, &st);
    assert_int_equal(st.messages, (uint64_t)t);
    assert_int_equal(st.records, (uint64_t)t);
    assert_true(res.ahead_ts >= dw_engine_open_until(f->e));
    assert_int_equal(dw_engine_watermark(f->e), INT64_MIN);
    int n = snprintf(buf, sizeof buf, "{\"ts\":%lld,\"model\":\"m\"}", (long long)(T0 + 1000));
    dw_engine_process_from(f->e, s2, buf, (size_t)n, INT64_MIN, &res);
    assert_int_equal(res.applied, 1);
    assert_false(res.ahead);
}

/* One record of source src at minute m (fractional) after T0. */
static void at_minute(fixture *f, int src, double m, dw_process_result *res)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "{\"ts\":%lld,\"model\":\"m\"}",
                     (long long)(T0 + (int64_t)(m * 60000)));
    dw_engine_process_from(f->e, src, buf, (size_t)n, INT64_MIN, res);
}

/* Partitions 0..n-1 of topic t as sources of e, assigned, into s. */
static void assign_partitions(dw_engine *e, int *s, int n)
{
    for (int p = 0; p < n; p++) {
        s[p] = dw_engine_source(e, "t", p);
        dw_engine_source_assigned(e, s[p], true);
    }
}

/* run's final evaluation at shutdown stops at the slowest source's pane:
 * partition 1 has delivered up to minute 9.5 while partition 0 is at 29.5,
 * so only the panes up to minute 10 are evaluated (the full flush of a
 * replay goes on to minute 30). */
static void test_shutdown_evaluates_only_complete_panes(void **state)
{
    fixture *f = *state;
    int s[2];
    assign_partitions(f->e, s, 2);
    dw_process_result res;
    for (int m = 0; m < 10; m++) {
        at_minute(f, s[0], m + 0.5, &res);
        at_minute(f, s[1], m + 0.5, &res);
    }
    for (int m = 10; m < 30; m++) {
        at_minute(f, s[0], m + 0.5, &res);
        if (res.ahead)
            break; /* held back: the sidecar would pause it here */
    }
    dw_engine_stats st;
    dw_engine_stats_get(f->e, &st);
    assert_true(st.evaluations < 10);
    dw_engine_flush_complete(f->e, dw_wall_ms());
    dw_engine_stats_get(f->e, &st);
    assert_int_equal(st.evaluations, 10);
    dw_engine_flush(f->e);
    dw_engine_stats_get(f->e, &st);
    assert_true(st.evaluations > 10);
}

/* Regression (test_sidecar case 4 stalled under TSan, 532 records applied,
 * then nothing): after a restart two partitions delivered from minute 21
 * and paused a minute later (the watermark was not known yet); the third
 * started ten minutes earlier, moved the windows' clock back to its pane,
 * caught up and then ran ahead of the open panes itself. Every partition
 * was then paused, and the resume rule (the earliest paused message fits
 * before dw_engine_open_until()) must still be met, or nothing moves again. */
static void test_all_paused_after_an_older_partition_can_resume(void **state)
{
    fixture *f = *state;
    int s[3];
    assign_partitions(f->e, s, 3);
    dw_process_result res;
    int64_t paused_min = INT64_MAX;
    const double newer[2][3] = {{21.0023, 21.5, 22.0630}, {21.0141, 21.6, 22.0545}};
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 3; i++) {
            at_minute(f, s[k == 0 ? 0 : 2], newer[k][i], &res);
            if (res.ahead)
                break;
        }
        assert_true(res.ahead); /* a minute past the first before the watermark is known */
        if (res.ahead_ts < paused_min)
            paused_min = res.ahead_ts;
    }
    bool ahead = false;
    for (double m = 11.0085; m < 22.01 && !ahead; m += 0.0833) {
        at_minute(f, s[1], m, &res);
        ahead = res.ahead;
        if (ahead && res.ahead_ts < paused_min)
            paused_min = res.ahead_ts;
    }
    if (!ahead) {
        at_minute(f, s[1], 22.0067, &res);
        if (res.ahead && res.ahead_ts < paused_min)
            paused_min = res.ahead_ts;
    }
    assert_int_equal(f->rejects[DW_REJECT_LATE], 0);
    assert_true(dw_engine_watermark(f->e) != INT64_MIN);
    assert_true(paused_min < dw_engine_open_until(f->e));
}

/* Per-slot sums of the deltas an engine hands out. */
#define SUM_SLOTS 65536
typedef struct delta_sum {
    uint64_t cnt[SUM_SLOTS];
    uint64_t records;
    size_t deltas, pairs, max_pairs; /* max_pairs: of one delta */
} delta_sum;

static void sum_delta(void *ctx, const void *buf, size_t len, const dw_delta_cover *cover,
                      size_t ncover)
{
    (void)cover;
    (void)ncover;
    delta_sum *d = ctx;
    dw_delta dd;
    size_t before = d->pairs;
    assert_int_equal(dw_delta_decode(buf, len, &dd), 0);
    for (size_t s = 0; s < dd.nsections; s++)
        for (size_t g = 0; g < dd.sections[s].ngroups; g++) {
            const dw_delta_grp *gr = &dd.sections[s].groups[g];
            d->records += gr->records;
            for (size_t i = 0; i < gr->npairs; i++) {
                /* The wire format needs slots ascending (gaps). */
                assert_true(i == 0 || gr->slots[i] > gr->slots[i - 1]);
                assert_true(gr->slots[i] < SUM_SLOTS);
                assert_true(gr->counts[i] > 0);
                d->cnt[gr->slots[i]] += gr->counts[i];
            }
            d->pairs += gr->npairs;
        }
    if (d->pairs - before > d->max_pairs)
        d->max_pairs = d->pairs - before;
    d->deltas++;
    dw_delta_free(&dd);
}

/* A second engine on f's configuration: f's engine sums its deltas into
 * *a (writer 1), the second engine into *b (writer 2); free both. */
static dw_engine *delta_pair(fixture *f, delta_sum **a, delta_sum **b)
{
    dw_engine *e2 = NULL;
    char err[512];
    assert_int_equal(dw_engine_new(f->cfg, &e2, err, sizeof err), 0);
    *a = calloc(1, sizeof **a);
    *b = calloc(1, sizeof **b);
    dw_engine_state_enable(f->e, 1, sum_delta, *a);
    dw_engine_state_enable(e2, 2, sum_delta, *b);
    return e2;
}

/* A delta of a busy pane (most counters touched: the encoder lists them by
 * a pass over the counters) holds the same counts, in ascending slots, as
 * one delta per record (a few counters: sorted). */
static void test_delta_dense_equals_per_record(void **state)
{
    fixture *f = *state;
    enum { N = 3000 };
    delta_sum *dense, *single;
    dw_engine *e2 = delta_pair(f, &dense, &single);
    int s1 = dw_engine_source(f->e, "t", 0), s2 = dw_engine_source(e2, "t", 0);
    dw_engine_source_assigned(f->e, s1, true);
    dw_engine_source_assigned(e2, s2, true);
    gsl_rng *r = dwt_rng(7);
    char buf[512];
    dw_process_result res;
    for (int i = 0; i < N; i++) {
        /* 10 ms apart: all in the first one-minute pane. */
        int n = record(buf, sizeof buf, r, T0 + i * 10, 0, false);
        dw_engine_process_from(f->e, s1, buf, (size_t)n, INT64_MIN, &res);
        assert_int_equal(res.applied, 1);
        dw_engine_process_from(e2, s2, buf, (size_t)n, INT64_MIN, &res);
        assert_int_equal(res.applied, 1);
        dw_engine_delta_flush(e2);
    }
    dw_engine_delta_flush(f->e);
    gsl_rng_free(r);
    assert_int_equal(dense->deltas, 1);
    assert_int_equal(single->deltas, N);
    assert_int_equal(dense->records, N);
    assert_int_equal(single->records, N);
    /* Thousands of distinct slots in one group: far more than 1/64 of
     * any layout that fits SUM_SLOTS, so the pass over the counters ran. */
    assert_true(dense->pairs > SUM_SLOTS / 64);
    assert_memory_equal(dense->cnt, single->cnt, sizeof dense->cnt);
    free(dense);
    free(single);
    dw_engine_free(e2);
}

/* Many partitions' busy panes pending at once: the engine sends a delta
 * before the pending counters would make a message too large for Kafka,
 * and those deltas still add up to one delta per record. */
static void test_delta_size_is_bounded(void **state)
{
    fixture *f = *state;
    enum { PARTS = 30, PER = 3000 };
    delta_sum *busy, *single;
    dw_engine *e2 = delta_pair(f, &busy, &single);
    int s1[PARTS], s2[PARTS];
    assign_partitions(f->e, s1, PARTS);
    assign_partitions(e2, s2, PARTS);
    gsl_rng *r = dwt_rng(8);
    char buf[512];
    dw_process_result res;
    for (int i = 0; i < PER; i++)
        for (int p = 0; p < PARTS; p++) {
            /* All in the first one-minute pane. */
            int n = record(buf, sizeof buf, r, T0 + i * 10, 0, false);
            dw_engine_process_from(f->e, s1[p], buf, (size_t)n, INT64_MIN, &res);
            assert_int_equal(res.applied, 1);
            dw_engine_process_from(e2, s2[p], buf, (size_t)n, INT64_MIN, &res);
            assert_int_equal(res.applied, 1);
            dw_engine_delta_flush(e2);
        }
    dw_engine_delta_flush(f->e);
    gsl_rng_free(r);
    /* More counters than one delta may hold were touched... */
    assert_true(busy->pairs > DW_ENGINE_MAX_PENDING_PAIRS);
    assert_true(busy->deltas > 1);
    /* ...so none holds more than the bound and the last record's. */
    assert_true(busy->max_pairs <= DW_ENGINE_MAX_PENDING_PAIRS + 16);
    assert_int_equal(busy->records, PARTS * PER);
    assert_int_equal(single->records, PARTS * PER);
    assert_memory_equal(busy->cnt, single->cnt, sizeof busy->cnt);
    free(busy);
    free(single);
    dw_engine_free(e2);
}

static int setup_retrain(void **state)
{
    extra_yaml = "retrain:\n  - name: rt\n    type: webhook\n    url: http://127.0.0.1:9/x\n"
                 "    model: m\n    window: 10m\n    min_columns: 2\n    for: 5m\n"
                 "    cooldown: 3h\n";
    int rc = setup(state);
    extra_yaml = "";
    return rc;
}

static size_t count_kind(json_t *docs, const char *kind)
{
    return count_matching(docs, "kind", kind, NULL, NULL);
}

/* A 1-hour drift in 2 columns: one trigger per episode, not one per
 * window; a second episode inside the cooldown: none; after it: one. */
static void test_retrain_once_per_episode_and_cooldown(void **state)
{
    fixture *f = *state;
    gsl_rng *r = dwt_rng(5);
    feed(f, r, 0, 30, 200, 0, false);
    feed(f, r, 30, 60, 200, 1.0, true); /* x and c drift for an hour */
    assert_int_equal(count_kind(f->docs, "retrain"), 1);
    feed(f, r, 90, 30, 200, 0, false);
    feed(f, r, 120, 40, 200, 1.0, true); /* second episode, inside the 3h cooldown */
    assert_int_equal(count_kind(f->docs, "retrain"), 1);
    feed(f, r, 160, 60, 200, 0, false);
    feed(f, r, 220, 40, 200, 1.0, true); /* third episode, after the cooldown */
    assert_int_equal(count_kind(f->docs, "retrain"), 2);

    json_t *doc = NULL, *d;
    size_t i;
    json_array_foreach (f->docs, i, d)
        if (!strcmp(json_string_value(json_object_get(d, "kind")), "retrain"))
            doc = d;
    assert_string_equal(json_string_value(json_object_get(doc, "rule")), "rt");
    assert_true(json_array_size(json_object_get(doc, "columns")) >= 2);
    assert_int_equal(strlen(json_string_value(json_object_get(doc, "idempotency_key"))), 16);
    assert_non_null(json_object_get(json_object_get(doc, "reference"), "checksum"));
    gsl_rng_free(r);
}

static dw_config *config_with(fixture *f, const char *thresholds, const char *window)
{
    return dwt_parse_fmt("kafka: {brokers: \"127.0.0.1:1\", topics: [t]}\n"
                         "models:\n  - name: m\n    reference: \"%s\"\n"
                         "windows:\n  - {name: 10m, length: %s, slide: 1m}\n"
                         "thresholds: %s\n"
                         "alerts: {for: 2}\n"
                         "time: {allowed_lateness: 30s, idle_timeout: 0s}\n"
                         "sinks: []\n",
                         f->refpath, window, thresholds);
}

/* SIGHUP: a changed threshold changes the next evaluation, the windows keep
 * their counts; a configuration that changes the windows is refused and the
 * old one keeps running. */
static void test_reload_keeps_windows_and_applies_thresholds(void **state)
{
    fixture *f = *state;
    dw_config *strict = config_with(f, "{psi: 50, ks: 0.99}", "10m");
    char err[512];
    assert_int_equal(dw_engine_reload(f->e, strict, err, sizeof err), 0);
    gsl_rng *r = dwt_rng(6);
    feed(f, r, 0, 20, 200, 1.0, false);
    assert_int_equal(count_alerts(f->docs, "features.x", "firing"), 0);

    dw_config *moved = config_with(f, "{psi: 0.2, ks: 0.1}", "20m");
    assert_true(dw_engine_reload(f->e, moved, err, sizeof err) < 0);
    assert_non_null(strstr(err, "restart"));
    dw_config_free(moved);

    dw_config *normal = config_with(f, "{psi: 0.2, ks: 0.1}", "10m");
    assert_int_equal(dw_engine_reload(f->e, normal, err, sizeof err), 0);
    dw_config_free(strict); /* the engine no longer refers to it */
    /* Two more minutes of the same data: the window already holds 10
     * minutes of drifted records, so the new thresholds fire after `for`
     * (2) evaluations without waiting for a new window to fill. */
    feed(f, r, 20, 3, 200, 1.0, false);
    assert_int_equal(count_alerts(f->docs, "features.x", "firing"), 1);
    dw_engine_stats st;
    dw_engine_stats_get(f->e, &st);
    assert_int_equal(st.applied, 23 * 200);
    dw_engine_free(f->e);
    f->e = NULL;
    dw_config_free(normal);
    gsl_rng_free(r);
}

static int setup_alertmanager(void **state)
{
    sinks_yaml = "sinks:\n  - name: am\n    type: alertmanager\n    url: http://127.0.0.1:9/\n"
                 "    resend_interval: 5m\n";
    int rc = setup(state);
    sinks_yaml = "sinks: []\n";
    return rc;
}

/* With an Alertmanager sink, alerts that stay firing are re-sent every
 * resend_interval of event time in separate "reminder" documents (with
 * their own ids); the firing notification itself is sent once. */
static void test_reminders_for_alertmanager(void **state)
{
    fixture *f = *state;
    gsl_rng *r = dwt_rng(8);
    feed(f, r, 0, 20, 200, 0, false);
    feed(f, r, 20, 40, 200, 1.5, false); /* features.x drifts for 40 minutes */
    size_t i, k, firing = 0, reminders = 0;
    json_t *d, *a;
    char first_id[32] = "";
    json_array_foreach (f->docs, i, d) {
        bool rem = json_is_true(json_object_get(d, "reminder"));
        json_array_foreach (json_object_get(d, "alerts"), k, a) {
            if (strcmp(json_string_value(json_object_get(a, "column")), "features.x") ||
                strcmp(json_string_value(json_object_get(a, "window")), "10m"))
                continue;
            if (rem) {
                reminders++;
                assert_string_not_equal(json_string_value(json_object_get(d, "id")), first_id);
            } else if (!strcmp(json_string_value(json_object_get(a, "status")), "firing")) {
                firing++;
                snprintf(first_id, sizeof first_id, "%s",
                         json_string_value(json_object_get(d, "id")));
            }
        }
    }
    assert_int_equal(firing, 1);
    /* Fired within the first minutes of the drift, then every 5 minutes. */
    assert_true(reminders >= 6 && reminders <= 8);
    gsl_rng_free(r);
}

static const char *dedup_of(json_t *docs, const char *column, const char *status)
{
    size_t i, k;
    json_t *d, *a;
    json_array_foreach (docs, i, d)
        json_array_foreach (json_object_get(d, "alerts"), k, a)
            if (!strcmp(json_string_value(json_object_get(a, "column")), column) &&
                !strcmp(json_string_value(json_object_get(a, "status")), status))
                return json_string_value(json_object_get(a, "dedup_key"));
    return NULL;
}

/* A restart must not swallow the resolve of an alert that was firing: the
 * new engine restores it and resolves it (same dedup key) once the data
 * shows the drift is over; a window still filling with too few samples to
 * judge does not resolve it. */
static void test_firing_alert_survives_restart(void **state)
{
    fixture *a = *state;
    gsl_rng *r = dwt_rng(10);
    feed(a, r, 0, 20, 200, 0, false);
    feed(a, r, 20, 20, 200, 1.5, false);
    const char *fired = dedup_of(a->docs, "features.x", "firing");
    assert_non_null(fired);
    json_t *saved = dw_engine_alert_state(a->e);
    char *text = json_dumps(saved, JSON_COMPACT); /* what a file holds */
    json_decref(saved);

    fixture *b = NULL;
    setup((void **)&b);
    json_t *loaded = json_loads(text, 0, NULL);
    dw_engine_restore_alerts(b->e, loaded);
    json_decref(loaded);
    free(text);
    /* One record a minute: a window too thin to judge, still filling. */
    feed(b, r, 40, 5, 1, 0, false);
    assert_null(dedup_of(b->docs, "features.x", "resolved"));
    /* Normal traffic again: resolved, with the key the receiver knows. */
    feed(b, r, 45, 5, 200, 0, false);
    const char *resolved = dedup_of(b->docs, "features.x", "resolved");
    assert_non_null(resolved);
    assert_string_equal(resolved, fired);
    assert_null(dedup_of(b->docs, "features.x", "firing"));
    /* Regression: a reload with another reference starts the windows
     * afresh, and the new state took up the restored (and since resolved)
     * alert again, so a second resolve went out. */
    dwt_build_reference(b->dir, b->refpath, 2, 20000);
    dw_config *other = config_with(b, "{psi: 0.2, ks: 0.1}", "10m");
    char err[512];
    assert_int_equal(dw_engine_reload(b->e, other, err, sizeof err), 0);
    feed(b, r, 50, 15, 200, 0, false);
    assert_int_equal(count_alerts(b->docs, "features.x", "resolved"), 1);
    assert_int_equal(count_alerts(b->docs, "features.x", "firing"), 0);
    dw_engine_free(b->e);
    b->e = NULL;
    dw_config_free(other);
    teardown((void **)&b);
    gsl_rng_free(r);
}
/* The divergence alerts of v2's features.x in the captured documents, as
 * "<status>[/<resolved_by>]" joined by spaces, and their dedup_key. */
static void divergence_trail(json_t *docs, char *out, size_t len, char key[17])
{
    out[0] = 0;
    key[0] = 0;
    size_t i, k;
    json_t *d, *a;
    json_array_foreach (docs, i, d)
        json_array_foreach (json_object_get(d, "alerts"), k, a) {
            if (strcmp(json_string_value(json_object_get(a, "kind")), "divergence") ||
                strcmp(json_string_value(json_object_get(a, "column")), "features.x"))
                continue;
            const char *by = json_string_value(json_object_get(a, "resolved_by"));
            size_t n = strlen(out);
            snprintf(out + n, len - n, "%s%s%s%s", n ? " " : "",
                     json_string_value(json_object_get(a, "status")), by ? "/" : "", by ? by : "");
            snprintf(key, 17, "%s", json_string_value(json_object_get(a, "dedup_key")));
        }
}

/* A divergence episode left firing by a previous run: restored, it sends
 * no second firing while v2 still diverges and resolves with the key the
 * receiver knows; restored against another baseline than this run's, it
 * resolves at the first comparison, as at any change of baseline (and the
 * pair this run compares has an episode of its own). */
static void test_divergence_alert_survives_restart(void **state)
{
    (void)state;
    model_yaml = "    compare: {baseline: v1, thresholds: {psi: 0.1, ks: 0.05}}\n";
    char want_key[17];
    dw_alert_dedup_key("m", "v2", "features.x", "10m", "divergence", want_key);
    static const char *const baselines[] = {"v1", "v0"};
    for (int pass = 0; pass < 2; pass++) {
        fixture *f = NULL;
        setup((void **)&f);
        char text[512];
        snprintf(text, sizeof text,
                 "{\"version\":1,\"alerts\":[],\"extra_alerts\":[{\"model\":\"m\","
                 "\"model_version\":\"v2\",\"column\":\"features.x\",\"window\":\"10m\","
                 "\"kind\":\"divergence\",\"started_at_ms\":%lld,\"notified_at_ms\":%lld,"
                 "\"dedup_key\":\"%s\",\"baseline\":\"%s\"}]}",
                 (long long)T0, (long long)T0, want_key, baselines[pass]);
        json_t *saved = json_loads(text, 0, NULL);
        assert_non_null(saved);
        dw_engine_restore_alerts(f->e, saved);
        json_decref(saved);
        gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
        gsl_rng_set(r, 30);
        /* v2 still diverges for 20 minutes, then no longer. */
        for (int64_t m = 10; m < 60; m++)
            for (int i = 0; i < 100; i++) {
                int64_t ts = T0 + m * 60000 + i * 600;
                feed_version(f, r, "v1", ts, 0);
                feed_version(f, r, "v2", ts + 300, m < 30 ? 1.5 : 0);
            }
        char trail[256], key[17];
        divergence_trail(f->docs, trail, sizeof trail, key);
        /* Against v0, the pair v1/v2 starts afresh: its own episode. */
        assert_string_equal(trail,
                            pass == 0 ? "resolved" : "resolved/baseline_changed firing resolved");
        assert_string_equal(key, want_key);
        gsl_rng_free(r);
        teardown((void **)&f);
    }
    model_yaml = "";
}

/* Event time (ms) of the resolve of column's alert, or -1. */
static int64_t resolved_at(json_t *docs, const char *column)
{
    size_t i, k;
    json_t *d, *a;
    json_array_foreach (docs, i, d)
        json_array_foreach (json_object_get(d, "alerts"), k, a) {
            if (!strcmp(json_string_value(json_object_get(a, "column")), column) &&
                !strcmp(json_string_value(json_object_get(a, "status")), "resolved")) {
                const char *at = json_string_value(json_object_get(a, "ends_at"));
                int64_t ms;
                assert_int_equal(dw_ts_parse_rfc3339(at, strlen(at), &ms), 0);
                return ms;
            }
        }
    return -1;
}

/* alerts.keep_firing_for: the same stream resolves the same alerts, each
 * at least that much later (event time) than without it, and once. */
static void test_keep_firing_for_delays_resolve(void **state)
{
    void *plain_state;
    alerts_yaml = "alerts: {for: 2}\n";
    assert_int_equal(setup(&plain_state), 0);
    fixture *plain = plain_state;
    alerts_yaml = "alerts: {for: 2, keep_firing_for: 10m}\n";
    assert_int_equal(setup(state), 0);
    alerts_yaml = "alerts: {for: 2}\n";
    fixture *keep = *state;
    fixture *fs[2] = {plain, keep};
    for (int k = 0; k < 2; k++) {
        gsl_rng *r = dwt_rng(2);
        feed(fs[k], r, 0, 60, 200, 0, false);
        feed(fs[k], r, 60, 30, 200, 1.0, false);
        feed(fs[k], r, 90, 60, 200, 0, false);
        dw_engine_flush(fs[k]->e);
        gsl_rng_free(r);
    }
    assert_int_equal(count_alerts(keep->docs, "features.x", "firing"), 1);
    assert_int_equal(count_alerts(keep->docs, "features.x", "resolved"), 1);
    int64_t t_plain = resolved_at(plain->docs, "features.x");
    int64_t t_keep = resolved_at(keep->docs, "features.x");
    assert_true(t_plain > 0);
    assert_true(t_keep >= t_plain + 10 * 60000);
    teardown(&plain_state);
}

int main(void)
{
#define TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        TEST(test_quiet_then_drift_then_resolve),
        TEST(test_rejects_are_counted_by_reason),
        TEST(test_record_from_the_future_cannot_hijack_event_time),
        TEST(test_junk_versions_age_out_for_a_real_one),
        TEST(test_same_input_same_documents),
        TEST(test_changing_record_shapes_count_the_right_columns),
        TEST(test_partition_ahead_is_held_back),
        TEST(test_shutdown_evaluates_only_complete_panes),
        TEST(test_all_paused_after_an_older_partition_can_resume),
        TEST(test_delta_dense_equals_per_record),
        TEST(test_delta_size_is_bounded),
        TEST(test_missing_flood_is_one_quality_alert),
        TEST(test_reload_keeps_windows_and_applies_thresholds),
        TEST(test_firing_alert_survives_restart),
        cmocka_unit_test(test_divergence_alert_survives_restart),
        cmocka_unit_test_teardown(test_keep_firing_for_delays_resolve, teardown),
        cmocka_unit_test_setup_teardown(test_reminders_for_alertmanager, setup_alertmanager,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_retrain_once_per_episode_and_cooldown, setup_retrain,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

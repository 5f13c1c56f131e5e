#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_rng.h"
#include "driftwatch/error.h"
#include "driftwatch/perf_reference.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Metrics of a handful of rows: a few divisions, 1e-12 is ample. */
#define TOL 1e-12

static dw_table *open_text(const char *name, const char *text)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    assert_non_null(f);
    dw_table *t = NULL;
    char err[256];
    if (dw_table_open_stream(f, name, DW_TABLE_AUTO, 1, &t, err, sizeof err) != 0)
        fail_msg("%s", err);
    return t;
}

static dw_perf *layout(dw_perf_kind kind)
{
    dw_perf_spec spec = {.kind = kind, .score_bins = 10, .ece_bins = 2};
    return dw_perf_new(&spec, NULL, 0);
}

/* The counters of table t read with cols into a new array (the caller
 * frees it); rows left out counted in *skipped. */
static uint64_t *count_ok(dw_perf *p, const dw_perf_columns *cols, dw_table *t, uint64_t *skipped)
{
    uint64_t *c = calloc(dw_perf_width(p), sizeof *c);
    char err[256] = "";
    if (dw_perf_count_table(p, cols, t, c, skipped, err, sizeof err) != 0)
        fail_msg("counting the table failed: %s", err);
    return c;
}

/* CSV with a predicted class: multi-class accuracy by text, the positive
 * class for precision/recall; a row without label is skipped. */
static void test_csv_predicted_class(void **state)
{
    (void)state;
    dw_table *t = open_text("val.csv", "label,pred,score\n"
                                       "fraud,fraud,0.9\n"
                                       "ok,fraud,0.6\n"
                                       "ok,ok,0.2\n"
                                       "fraud,ok,0.4\n"
                                       "other,other,0.1\n"
                                       ",ok,0.3\n");
    dw_perf *p = layout(DW_PERF_CLASSIFICATION);
    dw_perf_columns cols = {
        .label = "label", .predicted = "pred", .score = "score", .positive = "fraud"};
    uint64_t skipped = 0, *c = count_ok(p, &cols, t, &skipped);
    assert_int_equal(skipped, 1);
    dw_perf_result r;
    dw_perf_compute(p, c, 0.95, &r);
    assert_int_equal(r.n, 5);
    assert_near(r.m[DW_PERF_ACCURACY].value, 3.0 / 5, TOL); /* fraud, ok, other */
    assert_near(r.m[DW_PERF_PRECISION].value, 0.5, TOL);    /* 1 of 2 predicted fraud */
    assert_near(r.m[DW_PERF_RECALL].value, 0.5, TOL);       /* 1 of 2 fraud */
    /* positives .9 .4 against negatives .6 .2 .1: 5 of 6 pairs */
    assert_near(r.m[DW_PERF_AUC].value, 5.0 / 6, TOL);
    free(c);
    dw_perf_free(p);
    dw_table_free(t);
}

/* JSONL with nested prediction and numeric labels, the class from the
 * score and a threshold; JSON true/1 read as "true"/"1". */
static void test_jsonl_threshold(void **state)
{
    (void)state;
    dw_table *t = open_text("val.jsonl", "{\"y\": 1, \"prediction\": {\"score\": 0.8}}\n"
                                         "{\"y\": 0, \"prediction\": {\"score\": 0.7}}\n"
                                         "{\"y\": 0, \"prediction\": {\"score\": 0.1}}\n"
                                         "{\"y\": 1}\n");
    dw_perf *p = layout(DW_PERF_CLASSIFICATION);
    dw_perf_columns cols = {
        .label = "y", .score = "prediction.score", .positive = "1", .threshold = 0.75};
    uint64_t skipped = 0, *c = count_ok(p, &cols, t, &skipped);
    assert_int_equal(skipped, 1); /* no score: no predicted class */
    dw_perf_result r;
    dw_perf_compute(p, c, 0.95, &r);
    assert_int_equal(r.n, 3);
    assert_near(r.m[DW_PERF_ACCURACY].value, 1.0, TOL); /* .8 -> 1, .7 -> 0, .1 -> 0 */
    assert_near(r.m[DW_PERF_BRIER].value, (0.04 + 0.49 + 0.01) / 3, TOL);
    free(c);
    dw_perf_free(p);
    dw_table_free(t);
}

static void test_regression_and_json_round_trip(void **state)
{
    (void)state;
    dw_table *t = open_text("val.csv", "actual,predicted\n10,11\n10,8\n1,NA\nx,1\n");
    dw_perf *p = layout(DW_PERF_REGRESSION);
    dw_perf_columns cols = {.label = "actual", .predicted = "predicted"};
    uint64_t skipped = 0, *c = count_ok(p, &cols, t, &skipped);
    assert_int_equal(skipped, 2);
    dw_perf_result r;
    dw_perf_compute(p, c, 0.95, &r);
    assert_near(r.m[DW_PERF_MAE].value, 1.5, TOL);
    assert_near(r.m[DW_PERF_BIAS].value, -0.5, TOL);

    json_t *j = dw_perf_reference_to_json(&r);
    char *text = json_dumps(j, JSON_SORT_KEYS);
    json_decref(j);
    json_t *back = json_loads(text, 0, NULL);
    free(text);
    dw_perf_kind kind;
    double ref[DW_PERF_METRIC_COUNT];
    uint64_t n;
    assert_int_equal(dw_perf_reference_from_json(back, &kind, ref, &n, NULL, 0), 0);
    json_decref(back);
    assert_int_equal(kind, DW_PERF_REGRESSION);
    assert_int_equal(n, 2);
    for (int m = 0; m < DW_PERF_METRIC_COUNT; m++) {
        if (isnan(r.m[m].value))
            assert_true(isnan(ref[m]));
        else
            assert_true(ref[m] == r.m[m].value); /* jansson writes doubles round-trip */
    }
    free(c);
    dw_perf_free(p);
    dw_table_free(t);
}

static void test_errors(void **state)
{
    (void)state;
    char err[256];
    dw_perf *p = layout(DW_PERF_CLASSIFICATION);
    uint64_t *c = calloc(dw_perf_width(p), sizeof *c);
    dw_table *t = open_text("val.csv", "label,score\n1,0.5\n");
    dw_perf_columns none = {.label = "label", .positive = "1"};
    assert_int_equal(dw_perf_count_table(p, &none, t, c, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "score"));
    dw_perf_columns wrong = {.label = "truth", .score = "score", .positive = "1"};
    assert_int_equal(dw_perf_count_table(p, &wrong, t, c, NULL, err, sizeof err), -4);
    assert_non_null(strstr(err, "\"truth\""));
    dw_table_free(t);

    const char *bad[] = {
        "[]",
        "{\"kind\": \"ranking\"}",
        "{\"kind\": \"classification\", \"logloss\": 0.3}",
        "{\"kind\": \"classification\", \"mae\": 0.3}",
        "{\"kind\": \"classification\", \"accuracy\": \"high\"}",
        "{\"kind\": \"regression\", \"n\": -1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *j = json_loads(bad[i], 0, NULL);
        dw_perf_kind kind;
        double ref[DW_PERF_METRIC_COUNT];
        uint64_t n;
        err[0] = 0;
        if (dw_perf_reference_from_json(j, &kind, ref, &n, err, sizeof err) != DW_ERR_PARSE)
            fail_msg("accepted %s", bad[i]);
        assert_true(strlen(err) > 0);
        json_decref(j);
    }
    free(c);
    dw_perf_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_predicted_class),
        cmocka_unit_test(test_jsonl_threshold),
        cmocka_unit_test(test_regression_and_json_round_trip),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

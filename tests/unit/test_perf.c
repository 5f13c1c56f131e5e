#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_rng.h"
#include "driftwatch/perf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Metrics are a few divisions of exact sums: 1e-12 absolute is far above
 * double rounding and far below any meaningful difference. */
#define TOL 1e-12

static dw_perf *new_class(uint32_t bins, uint32_t ece)
{
    char err[256];
    dw_perf_spec spec = {.kind = DW_PERF_CLASSIFICATION, .score_bins = bins, .ece_bins = ece};
    dw_perf *p = dw_perf_new(&spec, err, sizeof err);
    assert_non_null(p);
    return p;
}

static dw_perf *new_reg(void)
{
    dw_perf_spec spec = {.kind = DW_PERF_REGRESSION};
    dw_perf *p = dw_perf_new(&spec, NULL, 0);
    assert_non_null(p);
    return p;
}

static void add_scored(const dw_perf *p, uint64_t *c, double score, bool y)
{
    bool pred = score >= 0.5;
    dw_perf_obs o = {.predicted_positive = pred,
                     .actual_positive = y,
                     .correct = pred == y,
                     .has_score = true,
                     .score = score};
    dw_perf_add_class(p, c, &o);
}

static void test_classification_by_hand(void **state)
{
    (void)state;
    dw_perf *p = new_class(10, 2);
    uint64_t *c = calloc(dw_perf_width(p), sizeof *c);
    /* scores/labels: .9/1 .8/1 .7/0 .4/1 .3/0 .1/0; threshold .5 */
    double s[] = {0.9, 0.8, 0.7, 0.4, 0.3, 0.1};
    bool y[] = {1, 1, 0, 1, 0, 0};
    for (int i = 0; i < 6; i++)
        add_scored(p, c, s[i], y[i]);
    dw_perf_result r;
    assert_int_equal(dw_perf_compute(p, c, 0.95, &r), 0);
    assert_int_equal(r.n, 6);
    /* TP 2 (.9 .8), FP 1 (.7), FN 1 (.4), TN 2 */
    assert_int_equal(r.tp, 2);
    assert_int_equal(r.fp, 1);
    assert_int_equal(r.fn, 1);
    assert_int_equal(r.tn, 2);
    assert_near(r.m[DW_PERF_ACCURACY].value, 4.0 / 6, TOL);
    assert_near(r.m[DW_PERF_PRECISION].value, 2.0 / 3, TOL);
    assert_near(r.m[DW_PERF_RECALL].value, 2.0 / 3, TOL);
    assert_near(r.m[DW_PERF_F1].value, 2.0 / 3, TOL);
    /* pairs (pos, neg) ordered correctly: .9,.8 beat all 3 negatives; .4
     * beats .3 and .1: 8 of 9. Every score in its own bin: bound 0. */
    assert_near(r.m[DW_PERF_AUC].value, 8.0 / 9, TOL);
    assert_near(r.auc_bound, 0.0, TOL);
    /* Brier: (.01 + .04 + .49 + .36 + .09 + .01) / 6 */
    assert_near(r.m[DW_PERF_BRIER].value, 1.0 / 6, TOL);
    /* ECE, 2 bins: [0,.5): .4 .3 .1, sum .8, positives 1 -> .2;
     * [.5,1]: .9 .8 .7, sum 2.4, positives 2 -> .4; (.2 + .4) / 6 */
    assert_near(r.m[DW_PERF_ECE].value, 0.1, TOL);
    assert_true(isnan(r.m[DW_PERF_ECE].lo));
    assert_true(isnan(r.m[DW_PERF_MAE].value));
    assert_near(r.coverage, 1.0, TOL);
    /* every interval contains its value */
    for (int m = DW_PERF_ACCURACY; m <= DW_PERF_BRIER; m++) {
        assert_true(r.m[m].lo <= r.m[m].value);
        assert_true(r.m[m].value <= r.m[m].hi);
    }
    free(c);
    dw_perf_free(p);
}

/* Same-bin pairs are ties: with 1 bin everything ties, AUC .5, and the
 * bound says it may be off by up to .5. */
static void test_auc_bin_bound(void **state)
{
    (void)state;
    dw_perf *p = new_class(1, 0);
    uint64_t *c = calloc(dw_perf_width(p), sizeof *c);
    add_scored(p, c, 0.9, 1);
    add_scored(p, c, 0.1, 0);
    dw_perf_result r;
    dw_perf_compute(p, c, 0.95, &r);
    assert_near(r.m[DW_PERF_AUC].value, 0.5, TOL);
    assert_near(r.auc_bound, 0.5, TOL);
    free(c);
    dw_perf_free(p);
}

/* Wilson interval of 8/10 at 95 %: (0.4901625, 0.9433178), the published
 * values (e.g. scipy.stats.binomtest(8, 10).proportion_ci("wilson")). */
static void test_wilson_interval(void **state)
{
    (void)state;
    dw_perf *p = new_class(0, 0);
    uint64_t *c = calloc(dw_perf_width(p), sizeof *c);
    for (int i = 0; i < 10; i++) {
        dw_perf_obs o = {.predicted_positive = true, .actual_positive = i < 8, .correct = i < 8};
        dw_perf_add_class(p, c, &o);
    }
    dw_perf_result r;
    dw_perf_compute(p, c, 0.95, &r);
    assert_near(r.m[DW_PERF_ACCURACY].lo, 0.4901625, 1e-6);
    assert_near(r.m[DW_PERF_ACCURACY].hi, 0.9433178, 1e-6);
    /* no score: no AUC, Brier, ECE */
    assert_int_equal(r.scored, 0);
    assert_true(isnan(r.m[DW_PERF_AUC].value));
    assert_true(isnan(r.m[DW_PERF_BRIER].value));
    free(c);
    dw_perf_free(p);
}

static void test_undefined_is_nan(void **state)
{
    (void)state;
    dw_perf *p = new_class(0, 0);
    uint64_t *c = calloc(dw_perf_width(p), sizeof *c);
    dw_perf_result r;
    dw_perf_compute(p, c, 0.95, &r);
    for (int m = 0; m < DW_PERF_METRIC_COUNT; m++)
        assert_true(isnan(r.m[m].value));
    assert_true(isnan(r.coverage));
    /* negatives only, all predicted negative: accuracy 1, the rest undefined */
    for (int i = 0; i < 5; i++)
        add_scored(p, c, 0.1 * i, 0);
    dw_perf_compute(p, c, 0.95, &r);
    assert_near(r.m[DW_PERF_ACCURACY].value, 1.0, TOL);
    assert_true(isnan(r.m[DW_PERF_PRECISION].value));
    assert_true(isnan(r.m[DW_PERF_RECALL].value));
    assert_true(isnan(r.m[DW_PERF_F1].value));
    assert_true(isnan(r.m[DW_PERF_AUC].value));
    assert_false(isnan(r.m[DW_PERF_BRIER].value));
    /* invalid scores are rejected, the record still counts */
    add_scored(p, c, NAN, 1);
    add_scored(p, c, 1.5, 1);
    dw_perf_add_unlabelled(p, c);
    dw_perf_compute(p, c, 0.95, &r);
    assert_int_equal(r.n, 7);
    assert_int_equal(r.scored, 5);
    assert_int_equal(r.rejected, 2);
    assert_near(r.coverage, 7.0 / 8, TOL);
    assert_int_equal(dw_perf_compute(p, c, 1.0, &r), -1);
    free(c);
    dw_perf_free(p);
}

/* A window is a sum of panes and slides by subtracting the oldest: the
 * counters must come out exactly equal to counting the remaining records
 * directly, including the fixed-point sums of real values. */
static void test_panes_merge_exactly(void **state)
{
    (void)state;
    dw_perf *pc = new_class(0, 0), *pr = new_reg();
    dw_perf *ps[2] = {pc, pr};
    for (int k = 0; k < 2; k++) {
        dw_perf *p = ps[k];
        size_t w = dw_perf_width(p);
        uint64_t *pane[3], *sum = calloc(w, 8), *direct = calloc(w, 8);
        rng_state = 42 + (uint64_t)k;
        for (int i = 0; i < 3; i++) {
            pane[i] = calloc(w, 8);
            for (int n = 0; n < 1000; n++) {
                double a = uniform(), b = uniform();
                uint64_t *targets[2] = {pane[i], i > 0 ? direct : NULL};
                for (int t = 0; t < 2; t++) {
                    if (!targets[t])
                        continue;
                    if (k == 0)
                        add_scored(p, targets[t], a, b < a);
                    else
                        dw_perf_add_reg(p, targets[t], (a - 0.5) * 1e6, (b - 0.5) * 1e-3);
                }
            }
            dw_perf_merge(p, sum, pane[i]);
        }
        dw_perf_unmerge(p, sum, pane[0]);
        assert_memory_equal(sum, direct, w * 8);
        dw_perf_unmerge(p, sum, pane[1]);
        dw_perf_unmerge(p, sum, pane[2]);
        for (size_t i = 0; i < w; i++)
            assert_int_equal(sum[i], 0);
        for (int i = 0; i < 3; i++)
            free(pane[i]);
        free(sum);
        free(direct);
    }
    dw_perf_free(pc);
    dw_perf_free(pr);
}

static void test_regression_by_hand(void **state)
{
    (void)state;
    dw_perf *p = new_reg();
    uint64_t *c = calloc(dw_perf_width(p), sizeof *c);
    /* errors 1, -2, 3, -4 */
    dw_perf_add_reg(p, c, 11, 10);
    dw_perf_add_reg(p, c, 8, 10);
    dw_perf_add_reg(p, c, 13, 10);
    dw_perf_add_reg(p, c, 6, 10);
    dw_perf_add_reg(p, c, NAN, 1);
    dw_perf_add_reg(p, c, 1e10, 0);
    dw_perf_result r;
    dw_perf_compute(p, c, 0.95, &r);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.rejected, 2);
    assert_near(r.m[DW_PERF_MAE].value, 2.5, TOL);
    assert_near(r.m[DW_PERF_RMSE].value, sqrt(30.0 / 4), TOL);
    assert_near(r.m[DW_PERF_BIAS].value, -0.5, TOL);
    /* bias interval: sample sd of (1,-2,3,-4) = sqrt(29/3 - ...) -> sum sq
     * 30, mean -.5: var = (30 - 4 * .25) / 3 = 29/3 */
    double half = 1.959963984540054 * sqrt(29.0 / 3 / 4);
    assert_near(r.m[DW_PERF_BIAS].lo, -0.5 - half, 1e-9);
    assert_near(r.m[DW_PERF_BIAS].hi, -0.5 + half, 1e-9);
    assert_true(r.m[DW_PERF_RMSE].lo <= r.m[DW_PERF_RMSE].value);
    assert_true(r.m[DW_PERF_RMSE].hi >= r.m[DW_PERF_RMSE].value);
    assert_true(isnan(r.m[DW_PERF_ACCURACY].value));
    free(c);
    dw_perf_free(p);
}

/* The fixed-point sums keep tiny signed errors exact: no cancellation
 * between the sign limb and the rest. */
static void test_regression_tiny_negative_bias(void **state)
{
    (void)state;
    dw_perf *p = new_reg();
    uint64_t *c = calloc(dw_perf_width(p), sizeof *c);
    for (int i = 0; i < 1000; i++)
        dw_perf_add_reg(p, c, 1.0, 1.0 + 1e-10);
    dw_perf_add_reg(p, c, 2e9, 0); /* a large one, then take it out again */
    dw_perf_result r;
    dw_perf_compute(p, c, 0.95, &r);
    assert_near(r.m[DW_PERF_MAE].value, (1000 * 1e-10 + 2e9) / 1001, 1e-6);
    uint64_t *big = calloc(dw_perf_width(p), sizeof *big);
    dw_perf_add_reg(p, big, 2e9, 0);
    dw_perf_unmerge(p, c, big);
    dw_perf_compute(p, c, 0.95, &r);
    /* 1 + 1e-10 is not exact in double: the error is the double difference */
    double e = 1.0 - (1.0 + 1e-10);
    /* each record is rounded to 2^-64 (5.4e-20): the mean is within that */
    assert_near(r.m[DW_PERF_BIAS].value, e, 6e-20);
    assert_near(r.m[DW_PERF_MAE].value, -e, 6e-20);
    free(big);
    free(c);
    dw_perf_free(p);
}

static void test_worse_with_confidence(void **state)
{
    (void)state;
    dw_perf_value acc = {0.80, 0.78, 0.82};
    assert_true(dw_perf_worse(DW_PERF_ACCURACY, &acc, 0.90, 0.05));  /* .82 < .85 */
    assert_true(dw_perf_worse(DW_PERF_ACCURACY, &acc, 0.86, 0.03));  /* .82 < .83 */
    assert_false(dw_perf_worse(DW_PERF_ACCURACY, &acc, 0.86, 0.05)); /* .82 >= .81 */
    assert_false(dw_perf_worse(DW_PERF_ACCURACY, &acc, 0.85, 0.05)); /* .82 >= .80 */
    dw_perf_value mae = {2.0, 1.8, 2.2};
    assert_true(dw_perf_worse(DW_PERF_MAE, &mae, 1.5, 0.2));  /* 1.8 > 1.7 */
    assert_false(dw_perf_worse(DW_PERF_MAE, &mae, 1.5, 0.4)); /* 1.8 <= 1.9 */
    dw_perf_value bias = {-1.0, -1.2, -0.8};
    assert_true(dw_perf_worse(DW_PERF_BIAS, &bias, 0.1, 0.5));  /* -.8 < -.6 */
    assert_false(dw_perf_worse(DW_PERF_BIAS, &bias, 0.1, 0.8)); /* -.8 >= -.9 */
    dw_perf_value ece = {0.5, NAN, NAN};
    assert_false(dw_perf_worse(DW_PERF_ECE, &ece, 0.0, 0.0));
}

static void test_names_and_errors(void **state)
{
    (void)state;
    for (int m = 0; m < DW_PERF_METRIC_COUNT; m++) {
        dw_perf_metric back;
        assert_int_equal(dw_perf_metric_parse(dw_perf_metric_name((dw_perf_metric)m), &back), 0);
        assert_int_equal(back, m);
    }
    dw_perf_metric x;
    assert_int_equal(dw_perf_metric_parse("logloss", &x), -4);
    assert_int_equal(dw_perf_metric_kind(DW_PERF_RMSE), DW_PERF_REGRESSION);
    assert_int_equal(dw_perf_metric_kind(DW_PERF_ECE), DW_PERF_CLASSIFICATION);
    char err[256];
    dw_perf_spec bad = {.kind = DW_PERF_CLASSIFICATION, .score_bins = DW_PERF_MAX_BINS + 1};
    assert_null(dw_perf_new(&bad, err, sizeof err));
    assert_non_null(strstr(err, "score_bins"));
    dw_perf_spec nokind = {0};
    assert_null(dw_perf_new(&nokind, err, sizeof err));
    assert_int_equal(dw_perf_score_bin(1.0, 10), 9);
    assert_int_equal(dw_perf_score_bin(0.0, 10), 0);
    assert_int_equal(dw_perf_score_bin(-0.1, 10), -1);
    dw_perf_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classification_by_hand),
        cmocka_unit_test(test_auc_bin_bound),
        cmocka_unit_test(test_wilson_interval),
        cmocka_unit_test(test_undefined_is_nan),
        cmocka_unit_test(test_panes_merge_exactly),
        cmocka_unit_test(test_regression_by_hand),
        cmocka_unit_test(test_regression_tiny_negative_bias),
        cmocka_unit_test(test_worse_with_confidence),
        cmocka_unit_test(test_names_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

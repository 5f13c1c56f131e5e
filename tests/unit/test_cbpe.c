#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_rng.h"
#include "driftwatch/cbpe.h"
#include "driftwatch/perf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Two predictions by hand: .9 (predicted +) is right with probability .9,
 * .2 (predicted -) with .8. */
static void test_by_hand(void **state)
{
    (void)state;
    dw_cbpe *e = dw_cbpe_new(10, NULL, 0);
    assert_non_null(e);
    uint64_t *c = calloc(dw_cbpe_width(e), sizeof *c);
    dw_cbpe_add(e, c, 0.9, true);
    dw_cbpe_add(e, c, 0.2, false);
    dw_cbpe_add(e, c, NAN, false);
    dw_cbpe_result r;
    assert_int_equal(dw_cbpe_compute(e, c, 0.95, &r), 0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.rejected, 1);
    /* sums of one or two values rounded to 2^-52: 1e-15 */
    assert_near(r.exp_tp, 0.9, 1e-15);
    assert_near(r.exp_fp, 0.1, 1e-15);
    assert_near(r.exp_fn, 0.2, 1e-15);
    assert_near(r.exp_tn, 0.8, 1e-15);
    assert_near(r.accuracy.value, 0.85, 1e-15);
    assert_near(r.precision.value, 0.9, 1e-15);
    assert_near(r.recall.value, 0.9 / 1.1, 1e-15);
    assert_near(r.f1.value, 1.8 / (1.8 + 0.3), 1e-15);
    /* expected ROC: positives weigh .9 (bin 9) and .2 (bin 2), negatives
     * .1 (bin 9) and .8 (bin 2): (.9 * (.8 + .5 * .1) + .2 * .5 * .8) / (1.1 * .9) */
    assert_near(r.auc.value, (0.9 * 0.85 + 0.08) / 0.99, 1e-15);
    /* sd of realised accuracy: sqrt(.9 * .1 + .8 * .2) / 2; hi is clamped at 1 */
    assert_near(r.accuracy.value - r.accuracy.lo, 1.959963984540054 * sqrt(0.25) / 2, 1e-9);
    assert_near(r.accuracy.hi, 1.0, 0);
    free(c);
    dw_cbpe_free(e);
}

static void test_empty_is_nan(void **state)
{
    (void)state;
    dw_cbpe *e = dw_cbpe_new(0, NULL, 0);
    uint64_t *c = calloc(dw_cbpe_width(e), sizeof *c);
    dw_cbpe_result r;
    assert_int_equal(dw_cbpe_compute(e, c, 0.95, &r), 0);
    assert_true(isnan(r.accuracy.value));
    assert_true(isnan(r.auc.value));
    assert_true(isnan(r.f1.value));
    assert_int_equal(dw_cbpe_compute(e, c, 0.0, &r), -1);
    char err[128];
    assert_null(dw_cbpe_new(DW_PERF_MAX_BINS + 1, err, sizeof err));
    free(c);
    dw_cbpe_free(e);
    dw_cbpe_free(NULL);
}

typedef struct window {
    uint64_t *est, *real;
} window;

/* A calibrated model: x ~ U(0,1), true P(y=1|x) = x^2 (skewed towards
 * negatives), the model scores exactly that probability and predicts
 * positive at >= .5. One window per seed of 20,000 predictions; the realised
 * accuracy's sd is about .003, so the issue's .02 bound is over 6 sd. */
static void run_window(const dw_cbpe *e, const dw_perf *p, window *w, uint64_t seed, double flip)
{
    rng_state = seed;
    for (int i = 0; i < 20000; i++) {
        double x = uniform(), score = x * x;
        bool y = uniform() < score;
        if (uniform() < flip)
            y = !y; /* concept shift: the world no longer matches the scores */
        bool pred = score >= 0.5;
        dw_cbpe_add(e, w->est, score, pred);
        dw_perf_obs o = {.predicted_positive = pred,
                         .actual_positive = y,
                         .correct = pred == y,
                         .has_score = true,
                         .score = score};
        dw_perf_add_class(p, w->real, &o);
    }
}

static void test_calibrated_estimate_matches_realised(void **state)
{
    (void)state;
    dw_cbpe *e = dw_cbpe_new(0, NULL, 0);
    dw_perf_spec spec = {.kind = DW_PERF_CLASSIFICATION};
    dw_perf *p = dw_perf_new(&spec, NULL, 0);
    int inside = 0;
    for (uint64_t seed = 1; seed <= 10; seed++) {
        window w = {calloc(dw_cbpe_width(e), 8), calloc(dw_perf_width(p), 8)};
        run_window(e, p, &w, seed, 0.0);
        dw_cbpe_result est;
        dw_perf_result real;
        dw_cbpe_compute(e, w.est, 0.95, &est);
        dw_perf_compute(p, w.real, 0.95, &real);
        double ra = real.m[DW_PERF_ACCURACY].value;
        assert_near(est.accuracy.value, ra, 0.02);
        inside += est.accuracy.lo <= ra && ra <= est.accuracy.hi;
        /* AUC of the expected ROC vs the realised AUC: sd about .005 here */
        assert_near(est.auc.value, real.m[DW_PERF_AUC].value, 0.02);
        assert_near(est.f1.value, real.m[DW_PERF_F1].value, 0.03);
        free(w.est);
        free(w.real);
    }
    /* a 95 % interval: at least 8 of 10 windows (P(fewer) < 1.2 %) */
    assert_true(inside >= 8);
    dw_cbpe_free(e);
    dw_perf_free(p);
}

/* With 20 % of labels flipped the scores are no longer calibrated: the
 * estimate stays where it was and the realised accuracy drops, so the gap
 * shows the shift. */
static void test_concept_shift_shows_as_gap(void **state)
{
    (void)state;
    dw_cbpe *e = dw_cbpe_new(0, NULL, 0);
    dw_perf_spec spec = {.kind = DW_PERF_CLASSIFICATION};
    dw_perf *p = dw_perf_new(&spec, NULL, 0);
    window w = {calloc(dw_cbpe_width(e), 8), calloc(dw_perf_width(p), 8)};
    run_window(e, p, &w, 99, 0.2);
    dw_cbpe_result est;
    dw_perf_result real;
    dw_cbpe_compute(e, w.est, 0.95, &est);
    dw_perf_compute(p, w.real, 0.95, &real);
    /* flipping 20 % moves accuracy a to .8 a + .2 (1 - a): about -.11 here */
    assert_true(est.accuracy.value - real.m[DW_PERF_ACCURACY].value > 0.08);
    assert_true(real.m[DW_PERF_ACCURACY].value < est.accuracy.lo);
    free(w.est);
    free(w.real);
    dw_cbpe_free(e);
    dw_perf_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_hand),
        cmocka_unit_test(test_empty_is_nan),
        cmocka_unit_test(test_calibrated_estimate_matches_realised),
        cmocka_unit_test(test_concept_shift_shows_as_gap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

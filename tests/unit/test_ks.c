#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "driftwatch/ks.h"

#include "driftwatch/error.h"

#include <math.h>
#include <string.h>

/* Relative tolerance for the Kolmogorov series against scipy's
 * special.kolmogorov: both are converged series in double precision, so they
 * agree to a few ulps; 1e-12 leaves room for different summation orders. */
#define SERIES_RTOL 1e-12

static void assert_rel(double got, double want, double rtol)
{
    double err = fabs(got - want);
    if (err > rtol * fabs(want))
        fail_msg("got %.17g want %.17g (rel err %.3g > %.3g)", got, want, err / fabs(want), rtol);
}

static void test_kolmogorov_sf_known_values(void **state)
{
    (void)state;
    /* Reference values: scipy.special.kolmogorov(x), scipy 1.10.1. They cover
     * both series (the cutover is 1.0) and the far tail. */
    static const struct {
        double x, sf;
    } v[] = {
        {0.3, 0.9999906941986655},    {0.5, 0.9639452436648751},     {0.82, 0.5119717052984973},
        {1.0, 0.26999967167735456},   {1.5, 0.022217962616525127},   {2.0, 0.0006709252557796953},
        {3.0, 3.045995948942526e-08}, {6.0, 1.0760372320042276e-31},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        assert_rel(dw_kolmogorov_sf(v[i].x), v[i].sf, SERIES_RTOL);
}

static void test_kolmogorov_sf_range_and_monotone(void **state)
{
    (void)state;
    assert_true(dw_kolmogorov_sf(0.0) == 1.0);
    assert_true(dw_kolmogorov_sf(-3.0) == 1.0);
    assert_true(dw_kolmogorov_sf(1e-310) == 1.0); /* subnormal: no inf * 0 */
    assert_true(dw_kolmogorov_sf(NAN) == 1.0);
    assert_true(dw_kolmogorov_sf(40.0) == 0.0);
    assert_true(dw_kolmogorov_sf(INFINITY) == 0.0);
    double prev = 1.0;
    for (double x = 0.0; x < 30.0; x += 0.001) {
        double p = dw_kolmogorov_sf(x);
        assert_false(isnan(p));
        assert_true(p >= 0.0 && p <= 1.0);
        assert_true(p <= prev);
        prev = p;
    }
    /* The two series meet at the cutover: the jump is rounding only. */
    double below = dw_kolmogorov_sf(nextafter(1.0, 0.0)), at = dw_kolmogorov_sf(1.0);
    assert_true(fabs(below - at) < 1e-14);
}

static void test_ks_pvalue_stephens(void **state)
{
    (void)state;
    assert_true(dw_ks_pvalue(0.0, 100.0) == 1.0);
    assert_true(dw_ks_pvalue(0.3, 0.0) == 1.0);
    /* lambda = (sqrt(100) + 0.12 + 0.11 / 10) * 0.1 = 1.0131;
     * scipy.special.kolmogorov(1.0131) = 0.25622118507010405. */
    assert_rel(dw_ks_pvalue(0.1, 100.0), 0.25622118507010405, SERIES_RTOL);
    assert_true(dw_ks_pvalue(1.0, 1e12) == 0.0);
}

typedef struct fixture {
    double edges[8];
    uint64_t counts[8];
    uint64_t bins[10];
    dw_ref_column col;
    dw_sample s;
} fixture;

static void setup_col(fixture *f, const double *edges, const uint64_t *counts, size_t nbins)
{
    memset(f, 0, sizeof *f);
    memcpy(f->edges, edges, (nbins + 1) * sizeof *edges);
    memcpy(f->counts, counts, nbins * sizeof *counts);
    f->col.type = DW_COL_NUMERIC;
    f->col.nbins = nbins;
    f->col.edges = f->edges;
    f->col.bin_counts = f->counts;
    for (size_t i = 0; i < nbins; i++)
        f->col.count += counts[i];
    f->s.ref = &f->col;
    f->s.bins = f->bins;
}

static void test_ks_identical_is_zero(void **state)
{
    (void)state;
    fixture f;
    setup_col(&f, (double[]){0, 1, 2, 3, 4}, (uint64_t[]){5, 0, 7, 3}, 4);
    uint64_t cur[] = {0, 10, 0, 14, 6, 0}; /* twice the reference, empty bin kept */
    memcpy(f.bins, cur, sizeof cur);
    dw_ks_result r;
    assert_int_equal(dw_ks(&f.s, &r), 0);
    assert_true(r.statistic == 0.0);
    assert_true(r.p_value == 1.0);
    /* n_eff = 15 * 30 / 45 = 10 exactly in binary floating point. */
    assert_true(r.n_eff == 10.0);
}

static void test_ks_hand_computed(void **state)
{
    (void)state;
    fixture f;
    setup_col(&f, (double[]){0, 1, 2, 3, 4}, (uint64_t[]){1, 1, 1, 1}, 4);
    /* F_ref at the edges 1..4: .25 .5 .75 1; F_cur: 0 0 .5 1 -> D = .5 */
    uint64_t cur[] = {0, 0, 0, 2, 2, 0};
    memcpy(f.bins, cur, sizeof cur);
    dw_ks_result r;
    assert_int_equal(dw_ks(&f.s, &r), 0);
    assert_true(r.statistic == 0.5);
    assert_true(r.n_eff == 2.0);
    assert_true(r.p_value == dw_ks_pvalue(0.5, 2.0));
}

static void test_ks_underflow_and_overflow_are_exact(void **state)
{
    (void)state;
    fixture f;
    setup_col(&f, (double[]){0, 1, 2}, (uint64_t[]){10, 10}, 2);
    dw_ks_result r;
    /* Everything below the minimum: at min- F_cur = 1, F_ref = 0. */
    uint64_t under[] = {8, 0, 0, 0};
    memcpy(f.bins, under, sizeof under);
    assert_int_equal(dw_ks(&f.s, &r), 0);
    assert_true(r.statistic == 1.0);
    /* Everything above the maximum: at max F_ref = 1, F_cur = 0. */
    uint64_t over[] = {0, 0, 0, 8};
    memcpy(f.bins, over, sizeof over);
    assert_int_equal(dw_ks(&f.s, &r), 0);
    assert_true(r.statistic == 1.0);
    /* Half below, half in range as the reference: D = .5 at min-. */
    uint64_t half[] = {20, 10, 10, 0};
    memcpy(f.bins, half, sizeof half);
    assert_int_equal(dw_ks(&f.s, &r), 0);
    assert_true(r.statistic == 0.5);
    assert_true(r.p_value > 0.0 && r.p_value < 1.0);
}

static void test_ks_constant_column(void **state)
{
    (void)state;
    fixture f;
    setup_col(&f, (double[]){5, 5}, (uint64_t[]){100}, 1);
    dw_ks_result r;
    uint64_t same[] = {0, 40, 0};
    memcpy(f.bins, same, sizeof same);
    assert_int_equal(dw_ks(&f.s, &r), 0);
    assert_true(r.statistic == 0.0);
    uint64_t shifted[] = {0, 10, 30};
    memcpy(f.bins, shifted, sizeof shifted);
    assert_int_equal(dw_ks(&f.s, &r), 0);
    assert_true(r.statistic == 0.75);
}

static void test_ks_empty_and_size_one(void **state)
{
    (void)state;
    fixture f;
    setup_col(&f, (double[]){0, 1, 2}, (uint64_t[]){3, 1}, 2);
    dw_ks_result r;
    assert_int_equal(dw_ks(&f.s, &r), DW_ERR_EMPTY);
    assert_true(r.statistic == 0.0 && r.p_value == 1.0);

    uint64_t one[] = {0, 0, 1, 0};
    memcpy(f.bins, one, sizeof one);
    assert_int_equal(dw_ks(&f.s, &r), 0);
    /* F_ref(1) = .75, F_cur(1) = 0. */
    assert_true(r.statistic == 0.75);
    assert_true(r.p_value >= 0.0 && r.p_value <= 1.0);
    assert_false(isnan(r.p_value));

    /* Empty reference. */
    setup_col(&f, (double[]){0, 1}, (uint64_t[]){0}, 1);
    uint64_t cur[] = {0, 4, 0};
    memcpy(f.bins, cur, sizeof cur);
    assert_int_equal(dw_ks(&f.s, &r), DW_ERR_EMPTY);
    assert_true(r.p_value == 1.0);
}

static void test_ks_heavy_ties_and_categorical(void **state)
{
    (void)state;
    fixture f;
    /* 99% of the reference at one value (a bin {0}), then a sparse tail. */
    setup_col(&f, (double[]){0, 0, 1, 2}, (uint64_t[]){990, 0, 10}, 3);
    uint64_t cur[] = {0, 500, 0, 500, 0};
    memcpy(f.bins, cur, sizeof cur);
    dw_ks_result r;
    assert_int_equal(dw_ks(&f.s, &r), 0);
    /* At edge 0: .99 vs .5 */
    assert_true(fabs(r.statistic - 0.49) < 1e-15); /* one rounding in .99 - .5 */
    assert_true(r.p_value < 1e-6);

    f.col.type = DW_COL_CATEGORICAL;
    assert_int_equal(dw_ks(&f.s, &r), DW_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kolmogorov_sf_known_values),
        cmocka_unit_test(test_kolmogorov_sf_range_and_monotone),
        cmocka_unit_test(test_ks_pvalue_stephens),
        cmocka_unit_test(test_ks_identical_is_zero),
        cmocka_unit_test(test_ks_hand_computed),
        cmocka_unit_test(test_ks_underflow_and_overflow_are_exact),
        cmocka_unit_test(test_ks_constant_column),
        cmocka_unit_test(test_ks_empty_and_size_one),
        cmocka_unit_test(test_ks_heavy_ties_and_categorical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

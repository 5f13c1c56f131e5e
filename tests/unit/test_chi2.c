#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "column_fixture.h"

#include "driftwatch/chi2.h"

#include "driftwatch/error.h"

#include <math.h>
#include <string.h>

/* The statistic is a short sum of exact-integer quotients and the p-value
 * comes from GSL's incomplete gamma; scipy agrees to ~1e-15, 1e-12 relative
 * allows for different evaluation order. */
#define RTOL 1e-12

static void assert_rel(double got, double want)
{
    if (fabs(got - want) > RTOL * fabs(want))
        fail_msg("got %.17g want %.17g", got, want);
}

static void test_chi2_counts_hand_computed(void **state)
{
    (void)state;
    /* Rows (10, 20, 30) and (20, 20, 20): A = B = 60,
     * X^2 = sum (60 a - 60 b)^2 / (a + b) / 3600 = (12000 + 0 + 7200) / 3600.
     * p: scipy.stats.chi2_contingency(..., correction=False) gives
     * 0.0694834512228015 for df 2. */
    dw_chi2_result r;
    assert_int_equal(dw_chi2_counts((uint64_t[]){10, 20, 30}, (uint64_t[]){20, 20, 20}, 3, &r), 0);
    assert_rel(r.statistic, 16.0 / 3.0);
    assert_int_equal(r.df, 2);
    assert_rel(r.p_value, 0.0694834512228015);
}

static void test_chi2_zero_columns_dropped(void **state)
{
    (void)state;
    dw_chi2_result a, b;
    assert_int_equal(dw_chi2_counts((uint64_t[]){10, 0, 30, 0}, (uint64_t[]){20, 0, 20, 0}, 4, &a),
                     0);
    assert_int_equal(dw_chi2_counts((uint64_t[]){10, 30}, (uint64_t[]){20, 20}, 2, &b), 0);
    assert_int_equal(a.df, 1);
    assert_true(a.statistic == b.statistic && a.p_value == b.p_value);
    /* scipy: statistic 5.333333333333334, p 0.020921335337794004 */
    assert_rel(a.statistic, 16.0 / 3.0);
    assert_rel(a.p_value, 0.020921335337794004);
}

static void test_chi2_degenerate(void **state)
{
    (void)state;
    dw_chi2_result r;
    /* Proportional rows: exactly 0, p 1. */
    assert_int_equal(dw_chi2_counts((uint64_t[]){3, 5, 7}, (uint64_t[]){300, 500, 700}, 3, &r), 0);
    assert_true(r.statistic == 0.0);
    assert_true(r.p_value == 1.0);
    /* One category: df 0, p 1. */
    assert_int_equal(dw_chi2_counts((uint64_t[]){3, 0}, (uint64_t[]){9, 0}, 2, &r), 0);
    assert_int_equal(r.df, 0);
    assert_true(r.p_value == 1.0 && r.statistic == 0.0);
    /* An empty side. */
    assert_int_equal(dw_chi2_counts((uint64_t[]){3, 4}, (uint64_t[]){0, 0}, 2, &r), DW_ERR_EMPTY);
    assert_true(r.p_value == 1.0 && r.statistic == 0.0 && r.df == 0);
    assert_int_equal(dw_chi2_counts(NULL, NULL, 0, &r), DW_ERR_EMPTY);
    /* Huge, disjoint counts: finite, p underflows to 0 at worst. */
    assert_int_equal(
        dw_chi2_counts((uint64_t[]){4000000000000ULL, 0}, (uint64_t[]){0, 4000000000000ULL}, 2, &r),
        0);
    assert_false(isnan(r.statistic) || isinf(r.statistic));
    assert_true(r.p_value >= 0.0 && r.p_value < 1e-300);
    /* Disjoint rows give X^2 = T exactly (here T = 8e12). */
    assert_rel(r.statistic, 8e12);
}

static void test_chi2_sample_unseen_categories(void **state)
{
    (void)state;
    char *cats[] = {"A", "B", "C"};
    uint64_t rc[] = {10, 20, 30};
    dw_ref_column col = dwt_categorical(cats, rc, 3, 0);
    uint64_t bins[] = {20, 0, 20}; /* "B" only in the reference */
    const char *names[] = {"X", "Y"};
    uint64_t nc[] = {15, 0};
    dw_sample s = {.ref = &col,
                   .bins = bins,
                   .nnew = 2,
                   .new_counts = nc,
                   .new_names = names,
                   .new_overflow = 5};
    dw_chi2_result got, want;
    /* Columns: A, B, C, X (only in the current data); Y is empty and dropped;
     * the overflow is one more column. Its expected count 60 * 5 / 120 =
     * 2.5 is below 5, so it is pooled, and the pool (still 2.5) takes the
     * kept column with the smallest expected count, X (7.5). */
    assert_int_equal(dw_chi2(&s, &got), 0);
    assert_int_equal(
        dw_chi2_counts((uint64_t[]){10, 20, 30, 0}, (uint64_t[]){20, 0, 20, 20}, 4, &want), 0);
    assert_int_equal(got.df, 3);
    assert_rel(got.statistic, want.statistic);
    assert_rel(got.p_value, want.p_value);

    /* With a non-empty "other", unseen values are folded into it. */
    col.other_count = 7;
    assert_int_equal(dw_chi2(&s, &got), 0);
    assert_int_equal(
        dw_chi2_counts((uint64_t[]){10, 20, 30, 7}, (uint64_t[]){20, 0, 20, 20}, 4, &want), 0);
    assert_int_equal(got.df, 3);
    assert_rel(got.statistic, want.statistic);
    assert_rel(got.p_value, want.p_value);
}

/* Regression: a 30-level column in a window of 100 had P(p < 0.001) five
 * times nominal, because most cells expected far fewer than 5 values. */
static void test_chi2_sparse_columns_pooled(void **state)
{
    (void)state;
    char *cats[] = {"A", "B", "C", "D", "E"};
    uint64_t rc[] = {5000, 3000, 1500, 300, 200};
    dw_ref_column col = dwt_categorical(cats, rc, 5, 0);
    uint64_t bins[] = {50, 30, 12, 3, 5}; /* 100 values */
    dw_sample s = {.ref = &col, .bins = bins};
    dw_chi2_result got, want;
    /* Expected (current row): 49.5, 29.7, 14.9, 3.0, 2.0: D and E pooled
     * into one column of 5.0 (not below 5, so nothing more joins). */
    assert_int_equal(dw_chi2(&s, &got), 0);
    assert_int_equal(
        dw_chi2_counts((uint64_t[]){5000, 3000, 1500, 500}, (uint64_t[]){50, 30, 12, 8}, 4, &want),
        0);
    assert_int_equal(got.df, 3);
    assert_rel(got.statistic, want.statistic);
    assert_rel(got.p_value, want.p_value);

    /* Every column sparse: one pooled column, nothing to test. */
    uint64_t few[] = {1, 1, 0, 0, 1};
    s.bins = few;
    assert_int_equal(dw_chi2(&s, &got), 0);
    assert_int_equal(got.df, 0);
    assert_true(got.p_value == 1.0);
}

static void test_chi2_sample_identical_empty_numeric(void **state)
{
    (void)state;
    char *cats[] = {"A", "B"};
    uint64_t rc[] = {10, 30};
    dw_ref_column col = dwt_categorical(cats, rc, 2, 0);
    uint64_t bins[] = {10, 30};
    dw_sample s = {.ref = &col, .bins = bins};
    dw_chi2_result r;
    assert_int_equal(dw_chi2(&s, &r), 0);
    assert_true(r.statistic == 0.0 && r.p_value == 1.0 && r.df == 1);

    uint64_t none[] = {0, 0};
    s.bins = none;
    assert_int_equal(dw_chi2(&s, &r), DW_ERR_EMPTY);
    assert_true(r.p_value == 1.0);

    /* Sample of size 1. */
    uint64_t one[] = {0, 1};
    s.bins = one;
    assert_int_equal(dw_chi2(&s, &r), 0);
    assert_true(r.p_value > 0.0 && r.p_value <= 1.0);

    col.type = DW_COL_NUMERIC;
    assert_int_equal(dw_chi2(&s, &r), DW_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chi2_counts_hand_computed),
        cmocka_unit_test(test_chi2_zero_columns_dropped),
        cmocka_unit_test(test_chi2_degenerate),
        cmocka_unit_test(test_chi2_sample_unseen_categories),
        cmocka_unit_test(test_chi2_sparse_columns_pooled),
        cmocka_unit_test(test_chi2_sample_identical_empty_numeric),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

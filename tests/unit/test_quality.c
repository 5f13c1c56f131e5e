#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "column_fixture.h"

#include "driftwatch/quality.h"

#include <math.h>
#include <string.h>

/* Rates are one division of small integers: exact to the last ulp, so the
 * tolerance only absorbs that single rounding. */
#define TOL 1e-15

static void test_quality_numeric(void **state)
{
    (void)state;
    double edges[] = {0.0, 1.0, 2.0};
    uint64_t counts[] = {45, 45};
    dw_ref_column col = dwt_numeric_col(edges, 2);
    col.bin_counts = counts;
    col.count = 90;
    col.missing = 10;
    uint64_t bins[] = {3, 40, 50, 7}; /* 100 values, 10 outside [min, max] */
    dw_sample s = {.ref = &col, .bins = bins, .missing = 20, .type_errors = 5};
    dw_quality q;
    dw_quality_compute(&s, &q);
    assert_int_equal(q.total, 125);
    assert_int_equal(q.type_errors, 5);
    assert_true(fabs(q.missing_rate - 20.0 / 125.0) < TOL);
    assert_true(fabs(q.ref_missing_rate - 0.1) < TOL);
    assert_true(fabs(q.out_of_range_rate - 0.1) < TOL);
    assert_true(fabs(q.type_error_rate - 5.0 / 125.0) < TOL);
    assert_true(q.unseen_rate == 0.0);
}

static void test_quality_categorical_and_empty(void **state)
{
    (void)state;
    char *cats[] = {"A"};
    uint64_t rc[] = {10};
    dw_ref_column col = dwt_categorical(cats, rc, 1, 0);
    uint64_t bins[] = {6};
    const char *names[] = {"B"};
    uint64_t nc[] = {3};
    dw_sample s = dwt_unseen_sample(&col, bins, names, nc, 1, 1);
    dw_quality q;
    dw_quality_compute(&s, &q);
    assert_int_equal(q.total, 10);
    assert_true(fabs(q.unseen_rate - 0.4) < TOL);
    assert_true(q.out_of_range_rate == 0.0);
    /* col.count + col.missing is 0 here: the reference rate is 0, not NaN. */
    assert_true(q.ref_missing_rate == 0.0);

    /* Nothing seen at all: every rate 0. */
    uint64_t zero[] = {0};
    dw_sample e = {.ref = &col, .bins = zero};
    dw_quality_compute(&e, &q);
    assert_int_equal(q.total, 0);
    assert_true(q.missing_rate == 0.0 && q.unseen_rate == 0.0 && q.type_error_rate == 0.0);

    /* Only missing values. */
    e.missing = 4;
    dw_quality_compute(&e, &q);
    assert_int_equal(q.total, 4);
    assert_true(q.missing_rate == 1.0);
    assert_true(q.unseen_rate == 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quality_numeric),
        cmocka_unit_test(test_quality_categorical_and_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "driftwatch/fdr.h"

#include <math.h>

/* Adjusted values are one multiplication and one division of the input:
 * 1e-15 absolute covers that rounding for values in [0, 1]. */
#define TOL 1e-15

static void assert_close(const double *got, const double *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fabs(got[i] - want[i]) > TOL)
            fail_msg("index %zu: got %.17g want %.17g", i, got[i], want[i]);
}

static void test_bh_hand_computed(void **state)
{
    (void)state;
    /* Sorted: .005 .01 .03 .04; n/rank * p: .02 .02 .04 .04; running
     * minimum from the top leaves them as they are. */
    double p[] = {0.01, 0.04, 0.03, 0.005}, adj[4];
    dw_fdr_bh(p, adj, 4);
    assert_close(adj, (double[]){0.02, 0.04, 0.04, 0.02}, 4);
}

static void test_bh_step_up_monotone(void **state)
{
    (void)state;
    /* n/rank * p: 3 * .01 = .03, 1.5 * .04 = .06, 1 * .045 = .045 -> the
     * second is lowered to .045 by the step-up minimum. */
    double p[] = {0.045, 0.01, 0.04}, adj[3];
    dw_fdr_bh(p, adj, 3);
    assert_close(adj, (double[]){0.045, 0.03, 0.045}, 3);
}

/* Evenly spaced p-values: every n / rank * p is .05, so all adjusted
 * values are .05 (the oracle test checks BH against a numpy version). */
static void test_bh_statsmodels_example(void **state)
{
    (void)state;
    double p[] = {0.01, 0.02, 0.03, 0.04, 0.05}, adj[5];
    dw_fdr_bh(p, adj, 5);
    assert_close(adj, (double[]){0.05, 0.05, 0.05, 0.05, 0.05}, 5);
}

static void test_bh_nan_cap_ties_inplace(void **state)
{
    (void)state;
    double p[] = {NAN, 0.2, 1.5, 0.2, -0.1};
    /* Treated as 1, .2, 1, .2, 0: sorted 0 .2 .2 1 1 ->
     * 5*0 = 0, 5/2*.2 = .5, 5/3*.2 = 1/3, 5/4 = 1.25, 1 -> step-up: 0, 1/3,
     * 1/3, 1, 1 (capped at 1). In place. */
    dw_fdr_bh(p, p, 5);
    assert_close(p, (double[]){1.0, 1.0 / 3.0, 1.0, 1.0 / 3.0, 0.0}, 5);

    double one[] = {0.3};
    dw_fdr_bh(one, one, 1);
    assert_true(one[0] == 0.3);
    dw_fdr_bh(NULL, NULL, 0); /* no columns: nothing to do, no crash */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bh_hand_computed),
        cmocka_unit_test(test_bh_step_up_monotone),
        cmocka_unit_test(test_bh_statsmodels_example),
        cmocka_unit_test(test_bh_nan_cap_ties_inplace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

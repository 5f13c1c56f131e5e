/* Unit tests of the quantile sketch (sketch.c): accuracy against the exact
 * quantile (numpy's "linear" definition computed on the sorted data, the
 * same numbers tests/oracle/test_canary_oracle.py gets from numpy),
 * merge, subtract, sliding panes, collapse and edge cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_rng.h"

#include "driftwatch/error.h"
#include "driftwatch/sketch.h"

#include <stdlib.h>
#include <string.h>

static const double QS[] = {0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0};
#define NQ (sizeof QS / sizeof QS[0])

static dw_sketch *new_sketch(double alpha, size_t buckets)
{
    dw_sketch *s = NULL;
    char err[256];
    assert_int_equal(dw_sketch_new(alpha, buckets, &s, err, sizeof err), 0);
    assert_non_null(s);
    return s;
}

static double normal(void)
{
    /* Box-Muller; 1 - uniform() is in (0, 1], so the log is finite. */
    double u = 1.0 - uniform(), v = uniform();
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

typedef enum { LOGNORMAL, EXPONENTIAL, UNIFORM, BIMODAL } dist;

static double draw(dist d)
{
    switch (d) {
    case LOGNORMAL: return exp(3.0 + 0.8 * normal()); /* ms: median 20 */
    case EXPONENTIAL: return -25.0 * log(1.0 - uniform());
    case UNIFORM: return 5.0 + 95.0 * uniform();
    case BIMODAL:
        /* Cache hits near 2 ms, misses near 120 ms. */
        return uniform() < 0.7 ? exp(log(2.0) + 0.3 * normal()) : exp(log(120.0) + 0.2 * normal());
    }
    return 0.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy.quantile(x, q) with the default "linear" method, x sorted. */
static double exact_quantile(const double *x, size_t n, double q)
{
    double rank = q * (double)(n - 1);
    size_t k = (size_t)floor(rank);
    if (k >= n - 1)
        return x[n - 1];
    return x[k] + (rank - (double)k) * (x[k + 1] - x[k]);
}

/* The relative bound of sketch.h; 1e-12 covers the rounding of log() at a
 * bucket boundary, which can put a value in the neighbouring bucket, whose
 * representative is then within alpha (1 + a few ulps). */
static void assert_within_alpha(const dw_sketch *s, const double *sorted, size_t n)
{
    double alpha = dw_sketch_alpha(s);
    for (size_t i = 0; i < NQ; i++) {
        double got, want = exact_quantile(sorted, n, QS[i]);
        assert_int_equal(dw_sketch_quantile(s, QS[i], &got), 0);
        if (!(fabs(got - want) <= alpha * want * (1 + 1e-12) + 1e-300))
            fail_msg("q %g: got %.17g, want %.17g (alpha %g, rel %g)", QS[i], got, want, alpha,
                     fabs(got - want) / want);
    }
}

static double *sample(dist d, size_t n, uint64_t seed)
{
    rng_state = seed;
    double *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = draw(d);
    return x;
}

static void check_dist(dist d, double alpha)
{
    const size_t n = 20000;
    double *x = sample(d, n, 1000 + (uint64_t)d);
    /* A finer alpha needs more buckets for the same span (2048 buckets at
     * alpha 0.001 span only a factor 60). */
    dw_sketch *s =
        new_sketch(alpha, alpha < 0.01 ? DW_SKETCH_MAX_BUCKETS : DW_SKETCH_DEFAULT_MAX_BUCKETS);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(dw_sketch_add(s, x[i]), 0);
    assert_int_equal(dw_sketch_count(s), n);
    assert_false(dw_sketch_collapsed(s));
    qsort(x, n, sizeof *x, cmp_double);
    assert_within_alpha(s, x, n);
    dw_sketch_free(s);
    free(x);
}

static void test_accuracy_distributions(void **state)
{
    (void)state;
    for (dist d = LOGNORMAL; d <= BIMODAL; d++) {
        check_dist(d, DW_SKETCH_DEFAULT_ALPHA);
        check_dist(d, 0.001);
        check_dist(d, 0.05);
    }
}

/* Quantiles of two sketches agree exactly (same counts, same buckets). */
static void assert_same_quantiles(const dw_sketch *a, const dw_sketch *b)
{
    assert_int_equal(dw_sketch_count(a), dw_sketch_count(b));
    for (size_t i = 0; i < NQ; i++) {
        double x, y;
        int ra = dw_sketch_quantile(a, QS[i], &x), rb = dw_sketch_quantile(b, QS[i], &y);
        assert_int_equal(ra, rb);
        if (x != y)
            fail_msg("q %g: %.17g != %.17g", QS[i], x, y);
    }
}

static void test_merge_equals_union(void **state)
{
    (void)state;
    const size_t n = 9000;
    double *x = sample(BIMODAL, n, 7);
    dw_sketch *all = new_sketch(0.01, 2048), *part[3], *merged = new_sketch(0.01, 2048);
    for (int p = 0; p < 3; p++)
        part[p] = new_sketch(0.01, 2048);
    for (size_t i = 0; i < n; i++) {
        dw_sketch_add(all, x[i]);
        /* Parts with different ranges: small values, large values, mixed,
         * so the merge has to move the destination's buckets. */
        int p = x[i] < 10 ? 0 : (i % 2 ? 1 : 2);
        dw_sketch_add(part[p], x[i]);
    }
    dw_sketch_add(all, 0.0);
    dw_sketch_add(part[1], 0.0);
    for (int p = 2; p >= 0; p--)
        assert_int_equal(dw_sketch_merge(merged, part[p]), 0);
    assert_same_quantiles(merged, all);
    for (int p = 0; p < 3; p++)
        dw_sketch_free(part[p]);
    dw_sketch_free(all);
    dw_sketch_free(merged);
    free(x);
}

static void test_subtract_inverts_merge(void **state)
{
    (void)state;
    const size_t n = 6000;
    double *x = sample(LOGNORMAL, n, 11);
    dw_sketch *a = new_sketch(0.01, 2048), *b = new_sketch(0.01, 2048);
    dw_sketch *sum = new_sketch(0.01, 2048);
    for (size_t i = 0; i < n; i++)
        dw_sketch_add(i % 3 ? a : b, i % 3 ? x[i] : 1000.0 * x[i]);
    dw_sketch_add_n(b, 0.0, 5);
    assert_int_equal(dw_sketch_merge(sum, a), 0);
    assert_int_equal(dw_sketch_merge(sum, b), 0);
    assert_int_equal(dw_sketch_subtract(sum, b), 0);
    assert_same_quantiles(sum, a);
    assert_int_equal(dw_sketch_subtract(sum, a), 0);
    assert_int_equal(dw_sketch_count(sum), 0);
    double q;
    assert_int_equal(dw_sketch_quantile(sum, 0.5, &q), DW_ERR_EMPTY);
    /* Reusable after draining. */
    assert_int_equal(dw_sketch_merge(sum, b), 0);
    assert_same_quantiles(sum, b);
    dw_sketch_free(a);
    dw_sketch_free(b);
    dw_sketch_free(sum);
    free(x);
}

static void test_subtract_refuses_unmerged(void **state)
{
    (void)state;
    dw_sketch *a = new_sketch(0.01, 64), *b = new_sketch(0.01, 64), *c = new_sketch(0.02, 64);
    dw_sketch_add(a, 10.0);
    dw_sketch_add(a, 20.0);
    dw_sketch_add(b, 30.0);
    assert_int_equal(dw_sketch_subtract(a, b), DW_ERR_INVALID);
    assert_int_equal(dw_sketch_merge(a, c), DW_ERR_INVALID);
    assert_int_equal(dw_sketch_subtract(a, c), DW_ERR_INVALID);
    /* More zeros than held. */
    dw_sketch_clear(b);
    dw_sketch_add(b, 0.0);
    assert_int_equal(dw_sketch_subtract(a, b), DW_ERR_INVALID);
    /* Unchanged by the refusals. */
    assert_int_equal(dw_sketch_count(a), 2);
    double q;
    assert_int_equal(dw_sketch_quantile(a, 1.0, &q), 0);
    assert_true(fabs(q - 20.0) <= 0.01 * 20.0 * (1 + 1e-12));
    dw_sketch_free(a);
    dw_sketch_free(b);
    dw_sketch_free(c);
}

/* A window of 4 panes sliding over 30 panes, as the engine will run it:
 * merge the closing pane, subtract the expiring one; the sum always equals
 * a sketch built from the values of the panes in the window. The values'
 * level moves by 6 orders of magnitude so the sum's array re-centres; a
 * small max_buckets makes it collapse too. */
static void run_sliding(size_t buckets)
{
    enum { PANES = 30, WIN = 4, PER = 500 };
    static double vals[PANES][PER];
    dw_sketch *pane[PANES], *sum = new_sketch(0.01, buckets);
    rng_state = 99;
    for (int p = 0; p < PANES; p++) {
        pane[p] = new_sketch(0.01, buckets);
        double level = pow(10.0, (double)(p % 7) - 3.0);
        for (int i = 0; i < PER; i++) {
            vals[p][i] = i % 50 == 0 ? 0.0 : level * draw(LOGNORMAL);
            dw_sketch_add(pane[p], vals[p][i]);
        }
    }
    for (int p = 0; p < PANES; p++) {
        assert_int_equal(dw_sketch_merge(sum, pane[p]), 0);
        if (p >= WIN)
            assert_int_equal(dw_sketch_subtract(sum, pane[p - WIN]), 0);
        int first = p >= WIN ? p - WIN + 1 : 0;
        dw_sketch *fresh = new_sketch(0.01, buckets);
        for (int k = first; k <= p; k++)
            assert_int_equal(dw_sketch_merge(fresh, pane[k]), 0);
        if (!dw_sketch_collapsed(sum) && !dw_sketch_collapsed(fresh)) {
            assert_same_quantiles(sum, fresh);
        } else {
            /* Collapsed: the sum keeps the highest floor it had while it
             * held values (sketch.h), so only what lies above both floors
             * agrees; below, both overestimate and never underestimate. */
            assert_int_equal(dw_sketch_count(sum), dw_sketch_count(fresh));
            static double win[WIN * PER];
            size_t n = 0;
            for (int k = first; k <= p; k++)
                for (int i = 0; i < PER; i++)
                    win[n++] = vals[k][i];
            qsort(win, n, sizeof *win, cmp_double);
            double lim = fmax(dw_sketch_floor(sum), dw_sketch_floor(fresh)), x, y;
            for (size_t i = 0; i < NQ; i++) {
                double want = exact_quantile(win, n, QS[i]);
                dw_sketch_quantile(sum, QS[i], &x);
                dw_sketch_quantile(fresh, QS[i], &y);
                assert_true(x >= want * (1 - 0.01) * (1 - 1e-12));
                assert_true(y >= want * (1 - 0.01) * (1 - 1e-12));
            }
            dw_sketch_quantile(sum, 1.0, &x);
            dw_sketch_quantile(fresh, 1.0, &y);
            if (win[n - 1] > lim)
                assert_true(x == y);
        }
        dw_sketch_free(fresh);
    }
    for (int p = PANES - WIN; p < PANES; p++)
        assert_int_equal(dw_sketch_subtract(sum, pane[p]), 0);
    assert_int_equal(dw_sketch_count(sum), 0);
    assert_false(dw_sketch_collapsed(sum));
    for (int p = 0; p < PANES; p++)
        dw_sketch_free(pane[p]);
    dw_sketch_free(sum);
}

static void test_sliding_panes(void **state)
{
    (void)state;
    run_sliding(DW_SKETCH_DEFAULT_MAX_BUCKETS);
    run_sliding(DW_SKETCH_MIN_BUCKETS);
}

static void test_empty_and_one_value(void **state)
{
    (void)state;
    dw_sketch *s = new_sketch(0.01, 2048);
    double q = 42.0;
    assert_int_equal(dw_sketch_count(s), 0);
    assert_int_equal(dw_sketch_quantile(s, 0.5, &q), DW_ERR_EMPTY);
    assert_true(q == 0.0);
    dw_sketch_add(s, 123.456);
    for (size_t i = 0; i < NQ; i++) {
        assert_int_equal(dw_sketch_quantile(s, QS[i], &q), 0);
        assert_true(fabs(q - 123.456) <= 0.01 * 123.456 * (1 + 1e-12));
    }
    assert_int_equal(dw_sketch_quantile(s, -0.1, &q), DW_ERR_INVALID);
    assert_int_equal(dw_sketch_quantile(s, 1.1, &q), DW_ERR_INVALID);
    assert_int_equal(dw_sketch_quantile(s, NAN, &q), DW_ERR_INVALID);
    dw_sketch_free(s);
}

static void test_zeros_and_invalid(void **state)
{
    (void)state;
    dw_sketch *s = new_sketch(0.01, 2048);
    assert_int_equal(dw_sketch_add(s, -1.0), DW_ERR_INVALID);
    assert_int_equal(dw_sketch_add(s, NAN), DW_ERR_INVALID);
    assert_int_equal(dw_sketch_add(s, INFINITY), DW_ERR_INVALID);
    assert_int_equal(dw_sketch_add(s, 2e300), DW_ERR_INVALID);
    assert_int_equal(dw_sketch_count(s), 0);
    /* 60 zeros (one below the smallest positive value) and 40 values. */
    dw_sketch_add_n(s, 0.0, 59);
    dw_sketch_add(s, DW_SKETCH_MIN_POSITIVE / 2);
    double x[100];
    for (int i = 0; i < 60; i++)
        x[i] = 0.0;
    for (int i = 60; i < 100; i++) {
        x[i] = (double)(i - 59);
        dw_sketch_add(s, x[i]);
    }
    assert_int_equal(dw_sketch_count(s), 100);
    double q;
    assert_int_equal(dw_sketch_quantile(s, 0.5, &q), 0);
    assert_true(q == 0.0);
    assert_within_alpha(s, x, 100);
    /* Only zeros. */
    dw_sketch_clear(s);
    dw_sketch_add_n(s, 0.0, 10);
    assert_int_equal(dw_sketch_quantile(s, 0.99, &q), 0);
    assert_true(q == 0.0);
    dw_sketch_free(s);
}

static void test_huge_range(void **state)
{
    (void)state;
    /* 1e-8 .. 1e299 with the default buckets, which span about 17.8
     * decades: it collapses; the top 5 % of the values keep the bound. */
    const size_t n = 3000;
    double *x = malloc(n * sizeof *x);
    rng_state = 5;
    dw_sketch *s = new_sketch(0.01, 2048);
    for (size_t i = 0; i < n; i++) {
        x[i] = pow(10.0, -8.0 + 307.0 * uniform());
        assert_int_equal(dw_sketch_add(s, x[i]), 0);
    }
    assert_true(dw_sketch_collapsed(s));
    qsort(x, n, sizeof *x, cmp_double);
    double floor_v = dw_sketch_floor(s), q;
    assert_true(floor_v > 0.0);
    /* Above the floor: within alpha. */
    for (int pc = 96; pc <= 100; pc++) {
        double p = pc / 100.0, want = exact_quantile(x, n, p);
        assert_int_equal(dw_sketch_quantile(s, p, &q), 0);
        assert_true(want > floor_v);
        assert_true(fabs(q - want) <= 0.01 * want * (1 + 1e-12));
    }
    /* Below the floor: reported at the floor bucket, an overestimate. */
    assert_int_equal(dw_sketch_quantile(s, 0.0, &q), 0);
    assert_true(q >= x[0]);
    assert_true(q <= floor_v);
    /* Without collapse the whole range fits in enough buckets. */
    dw_sketch *big = new_sketch(0.01, DW_SKETCH_MAX_BUCKETS);
    for (size_t i = 0; i < n; i++)
        dw_sketch_add(big, x[i]);
    assert_false(dw_sketch_collapsed(big));
    assert_within_alpha(big, x, n);
    dw_sketch_free(big);
    dw_sketch_free(s);
    free(x);
}

static void test_new_rejects_bad_settings(void **state)
{
    (void)state;
    dw_sketch *s = (dw_sketch *)1;
    char err[256] = "";
    assert_int_equal(dw_sketch_new(0.0, 2048, &s, err, sizeof err), DW_ERR_INVALID);
    assert_null(s);
    assert_non_null(strstr(err, "relative accuracy"));
    assert_int_equal(dw_sketch_new(0.01, 4, &s, err, sizeof err), DW_ERR_INVALID);
    assert_non_null(strstr(err, "max_buckets"));
    assert_int_equal(dw_sketch_new(NAN, 2048, &s, err, sizeof err), DW_ERR_INVALID);
    /* Constant memory: the allocation depends on max_buckets only. */
    assert_true(dw_sketch_memory(2048) >= 2048 * sizeof(uint64_t));
    assert_true(dw_sketch_memory(2048) < 2048 * sizeof(uint64_t) + 256);
    dw_sketch_free(NULL);
}

static void test_layout_matches_sketch(void **state)
{
    (void)state;
    dw_sketch_layout l;
    char err[256];
    assert_int_equal(dw_sketch_layout_init(&l, 0.01, DW_SKETCH_DEFAULT_MIN_MS,
                                           DW_SKETCH_DEFAULT_MAX_MS, err, sizeof err),
                     0);
    /* 10 decades at alpha 0.01: ln(1e10) / ln(1.01 / 0.99), plus the zero
     * counter and one bucket for the rounding of the ends. */
    assert_true(dw_sketch_layout_width(&l) >= 1152 && dw_sketch_layout_width(&l) <= 1154);
    /* The exponential sample reaches below 1 us: widen the range so that
     * every value is inside it (clamping is test_layout_edges'). */
    assert_int_equal(dw_sketch_layout_init(&l, 0.01, 1e-6, 1e7, err, sizeof err), 0);
    for (dist d = LOGNORMAL; d <= BIMODAL; d++) {
        const size_t n = 20000;
        double *x = sample(d, n, 500 + (uint64_t)d);
        uint64_t *c = calloc(dw_sketch_layout_width(&l), sizeof *c);
        dw_sketch *s = new_sketch(0.01, DW_SKETCH_DEFAULT_MAX_BUCKETS);
        for (size_t i = 0; i < n; i++) {
            long slot = dw_sketch_layout_slot(&l, x[i]);
            assert_true(slot > 0 && (size_t)slot < dw_sketch_layout_width(&l));
            c[slot]++;
            dw_sketch_add(s, x[i]);
        }
        qsort(x, n, sizeof *x, cmp_double);
        for (size_t i = 0; i < NQ; i++) {
            double got, dyn, want = exact_quantile(x, n, QS[i]);
            assert_int_equal(dw_sketch_layout_quantile(&l, c, QS[i], &got), 0);
            assert_int_equal(dw_sketch_quantile(s, QS[i], &dyn), 0);
            /* The same buckets: the same numbers to the bit. */
            if (got != dyn)
                fail_msg("q %g: layout %.17g, sketch %.17g", QS[i], got, dyn);
            assert_true(fabs(got - want) <= 0.01 * want * (1 + 1e-12));
        }
        dw_sketch_free(s);
        free(c);
        free(x);
    }
}

static void test_layout_edges(void **state)
{
    (void)state;
    dw_sketch_layout l;
    char err[256] = "";
    assert_int_equal(dw_sketch_layout_init(&l, 0.01, 1.0, 1000.0, err, sizeof err), 0);
    size_t w = dw_sketch_layout_width(&l);
    uint64_t *c = calloc(w, sizeof *c);
    double q;
    assert_int_equal(dw_sketch_layout_quantile(&l, c, 0.5, &q), DW_ERR_EMPTY);
    assert_int_equal(dw_sketch_layout_slot(&l, 0.0), 0);
    assert_int_equal(dw_sketch_layout_slot(&l, -1.0), -1);
    assert_int_equal(dw_sketch_layout_slot(&l, NAN), -1);
    assert_int_equal(dw_sketch_layout_slot(&l, INFINITY), -1);
    /* Clamped: below the range to the lowest bucket, above to the highest. */
    assert_int_equal(dw_sketch_layout_slot(&l, 0.001), 1);
    assert_int_equal(dw_sketch_layout_slot(&l, 1.0), 1);
    assert_int_equal(dw_sketch_layout_slot(&l, 1e9), (long)w - 1);
    assert_int_equal(dw_sketch_layout_slot(&l, 1000.0), (long)w - 1);
    c[dw_sketch_layout_slot(&l, 0.001)] += 3;
    c[0] += 1;
    assert_int_equal(dw_sketch_layout_quantile(&l, c, 0.0, &q), 0);
    assert_true(q == 0.0);
    assert_int_equal(dw_sketch_layout_quantile(&l, c, 1.0, &q), 0);
    assert_true(fabs(q - 1.0) <= 0.01 * (1 + 1e-12)); /* reported at min_value */
    assert_int_equal(dw_sketch_layout_quantile(&l, c, 2.0, &q), DW_ERR_INVALID);
    free(c);

    assert_int_equal(dw_sketch_layout_init(&l, 0.01, 10.0, 10.0, err, sizeof err), DW_ERR_INVALID);
    assert_non_null(strstr(err, "range"));
    assert_int_equal(dw_sketch_layout_init(&l, 0.0001, 1e-9, 1e300, err, sizeof err),
                     DW_ERR_INVALID);
    assert_non_null(strstr(err, "buckets"));
    assert_int_equal(dw_sketch_layout_init(&l, 0.9, 1.0, 2.0, err, sizeof err), DW_ERR_INVALID);
    assert_non_null(strstr(err, "relative accuracy"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accuracy_distributions),
        cmocka_unit_test(test_merge_equals_union),
        cmocka_unit_test(test_subtract_inverts_merge),
        cmocka_unit_test(test_subtract_refuses_unmerged),
        cmocka_unit_test(test_sliding_panes),
        cmocka_unit_test(test_empty_and_one_value),
        cmocka_unit_test(test_zeros_and_invalid),
        cmocka_unit_test(test_huge_range),
        cmocka_unit_test(test_new_rejects_bad_settings),
        cmocka_unit_test(test_layout_matches_sketch),
        cmocka_unit_test(test_layout_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

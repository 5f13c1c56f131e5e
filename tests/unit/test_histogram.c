#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "column_fixture.h"

#include "driftwatch/histogram.h"

#include "driftwatch/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_bin_right_closed_rule(void **state)
{
    (void)state;
    double e[] = {0.0, 1.0, 2.0, 3.0};
    dw_ref_column c = dwt_numeric_col(e, 3);
    assert_int_equal(dw_ref_bin(&c, -0.1), -1);
    assert_int_equal(dw_ref_bin(&c, 0.0), 0); /* bin 0 is closed on the left */
    assert_int_equal(dw_ref_bin(&c, 0.5), 0);
    assert_int_equal(dw_ref_bin(&c, 1.0), 0); /* right-closed */
    assert_int_equal(dw_ref_bin(&c, nextafter(1.0, 2.0)), 1);
    assert_int_equal(dw_ref_bin(&c, 2.0), 1);
    assert_int_equal(dw_ref_bin(&c, 2.5), 2);
    assert_int_equal(dw_ref_bin(&c, 3.0), 2); /* the maximum is in range */
    assert_int_equal(dw_ref_bin(&c, nextafter(3.0, 4.0)), 3);
}

static void test_bin_nan_and_infinities(void **state)
{
    (void)state;
    double e[] = {0.0, 1.0, 2.0};
    dw_ref_column c = dwt_numeric_col(e, 2);
    assert_int_equal(dw_ref_bin(&c, NAN), DW_BIN_NAN);
    assert_int_equal(dw_ref_bin(&c, -INFINITY), -1);
    assert_int_equal(dw_ref_bin(&c, INFINITY), 2);
}

static void test_bin_constant_column(void **state)
{
    (void)state;
    /* One bin holding only the value 5: edges[0] == edges[1]. */
    double e[] = {5.0, 5.0};
    dw_ref_column c = dwt_numeric_col(e, 1);
    assert_int_equal(dw_ref_bin(&c, 5.0), 0);
    assert_int_equal(dw_ref_bin(&c, 4.999), -1);
    assert_int_equal(dw_ref_bin(&c, 5.001), 1);
}

static void test_bin_discrete_column(void **state)
{
    (void)state;
    /* Values 1, 2, 3 each in their own bin: {1}, (1, 2], (2, 3]. */
    double e[] = {1.0, 1.0, 2.0, 3.0};
    dw_ref_column c = dwt_numeric_col(e, 3);
    assert_int_equal(dw_ref_bin(&c, 1.0), 0);
    assert_int_equal(dw_ref_bin(&c, 2.0), 1);
    assert_int_equal(dw_ref_bin(&c, 3.0), 2);
    assert_int_equal(dw_ref_bin(&c, 1.5), 1);
}

/* The binary search agrees with the definition evaluated by a linear scan. */
static void test_bin_matches_linear_scan(void **state)
{
    (void)state;
    enum { NB = 1000 };
    double *e = malloc((NB + 1) * sizeof *e);
    for (size_t i = 0; i <= NB; i++)
        e[i] = (double)i * 0.37 - 100.0;
    dw_ref_column c = dwt_numeric_col(e, NB);
    srand(42);
    for (int t = 0; t < 20000; t++) {
        double x;
        if (t % 4 == 0)
            x = e[rand() % (NB + 1)]; /* exactly on an edge */
        else
            x = -110.0 + 390.0 * rand() / (double)RAND_MAX;
        long want;
        if (x < e[0])
            want = -1;
        else if (x > e[NB])
            want = NB;
        else {
            want = 0;
            while (!(x <= e[want + 1]))
                want++;
        }
        assert_int_equal(dw_ref_bin(&c, x), want);
    }
    free(e);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static long bin_by_definition(const double *e, size_t n, double x)
{
    if (x < e[0])
        return -1;
    if (x > e[n])
        return (long)n;
    long i = 0;
    while (!(x <= e[i + 1]))
        i++;
    return i;
}

/* With the lookup table (dw_bin_index_build) the bin is the one the
 * definition gives, on quantile edges of a normal sample (narrow bins in the
 * middle, wide in the tails: the table's fixed-step search spans several
 * edges there), on repeated edges (discrete values), exactly on edges and
 * one ulp either side. */
static void test_bin_index_matches_definition(void **state)
{
    (void)state;
    enum { NB = 1000, N = 20000 };
    double *e = malloc((NB + 1) * sizeof *e);
    double *sample = malloc(N * sizeof *sample);
    srand(7);
    for (size_t i = 0; i < N; i++) {
        /* Box-Muller, rounded to 4 decimals like the benchmark data */
        double u1 = (rand() + 1.0) / ((double)RAND_MAX + 2.0), u2 = rand() / (double)RAND_MAX;
        sample[i] = round(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2) * 1e4) / 1e4;
    }
    for (int shape = 0; shape < 2; shape++) {
        qsort(sample, N, sizeof *sample, cmp_double);
        for (size_t i = 0; i <= NB; i++)
            e[i] = shape == 0 ? sample[i * (N - 1) / NB] : floor(sample[i * (N - 1) / NB] * 4) / 4;
        dw_ref_column c = dwt_numeric_col(e, NB);
        assert_int_equal(dw_bin_index_build(&c), 0);
        for (int t = 0; t < 60000; t++) {
            double x;
            if (t % 3 == 0) {
                x = e[rand() % (NB + 1)];
                x = t % 2 ? nextafter(x, -INFINITY) : t % 5 ? x : nextafter(x, INFINITY);
            } else {
                x = -6.0 + 12.0 * rand() / (double)RAND_MAX;
            }
            assert_int_equal(dw_ref_bin(&c, x), bin_by_definition(e, NB, x));
        }
        dw_bin_index_free(c.bin_index);
    }
    free(sample);
    free(e);
}

static void test_category_index_lookup_slices(void **state)
{
    (void)state;
    char *cats[] = {"DE", "FR", "", "D", "DEU"};
    dw_ref_column c = dwt_categorical(cats, NULL, 5, 0);
    assert_int_equal(dw_cat_index_build(&c), 0);
    assert_non_null(c.cat_index);
    /* Slices need not be NUL-terminated. */
    assert_int_equal(dw_ref_category(&c, "DEx", 2), 0);
    assert_int_equal(dw_ref_category(&c, "DEU", 3), 4);
    assert_int_equal(dw_ref_category(&c, "DEU", 1), 3);
    assert_int_equal(dw_ref_category(&c, "FR", 2), 1);
    assert_int_equal(dw_ref_category(&c, "x", 0), 2); /* the empty category */
    assert_int_equal(dw_ref_category(&c, "IT", 2), -1);
    assert_int_equal(dw_ref_category(&c, "DE\0x", 4), -1);
    /* Rebuilding replaces the old index without leaking it. */
    assert_int_equal(dw_cat_index_build(&c), 0);
    assert_int_equal(dw_ref_category(&c, "FR", 2), 1);
    dw_cat_index_free(c.cat_index);
}

static void test_category_without_index_scans(void **state)
{
    (void)state;
    char *cats[] = {"a", "bb"};
    dw_ref_column c = dwt_categorical(cats, NULL, 2, 0);
    assert_int_equal(dw_ref_category(&c, "bbb", 2), 1);
    assert_int_equal(dw_ref_category(&c, "bbb", 3), -1);
    assert_int_equal(dw_ref_category(&c, "a\0", 2), -1);
}

static void test_category_index_many(void **state)
{
    (void)state;
    enum { N = 5000 };
    char **cats = malloc(N * sizeof *cats);
    for (size_t i = 0; i < N; i++) {
        cats[i] = malloc(16);
        snprintf(cats[i], 16, "cat-%zu", i * 7919);
    }
    dw_ref_column c = dwt_categorical(cats, NULL, N, 0);
    assert_int_equal(dw_cat_index_build(&c), 0);
    char buf[32];
    for (size_t i = 0; i < N; i++) {
        int len = snprintf(buf, sizeof buf, "cat-%zu", i * 7919);
        assert_int_equal(dw_ref_category(&c, buf, (size_t)len), (long)i);
        len = snprintf(buf, sizeof buf, "cat-%zu", i * 7919 + 1);
        assert_int_equal(dw_ref_category(&c, buf, (size_t)len), -1);
    }
    dw_cat_index_free(c.cat_index);
    for (size_t i = 0; i < N; i++)
        free(cats[i]);
    free(cats);
}

static void test_category_index_errors(void **state)
{
    (void)state;
    char *dup[] = {"x", "y", "x"};
    dw_ref_column c = dwt_categorical(dup, NULL, 3, 0);
    assert_int_equal(dw_cat_index_build(&c), DW_ERR_INVALID);
    assert_null(c.cat_index);

    static char *many[DW_MAX_CATEGORIES + 1];
    dw_ref_column big = dwt_categorical(many, NULL, DW_MAX_CATEGORIES + 1, 0);
    assert_int_equal(dw_cat_index_build(&big), DW_ERR_LIMIT);
    assert_null(big.cat_index);

    double e[] = {0.0, 1.0};
    dw_ref_column num = dwt_numeric_col(e, 1);
    assert_int_equal(dw_cat_index_build(&num), DW_ERR_INVALID);

    dw_ref_column empty = dwt_categorical(NULL, NULL, 0, 0);
    assert_int_equal(dw_cat_index_build(&empty), 0);
    assert_int_equal(dw_ref_category(&empty, "a", 1), -1);
    dw_cat_index_free(empty.cat_index);
    dw_cat_index_free(NULL);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The lookup table must give exactly the binary search's answer: on
 * quantile edges of skewed data, on discrete edges with a closed first bin,
 * at every edge and its neighbours, and on random values. */
static void test_bin_index_matches_search(void **state)
{
    (void)state;
    srand(11);
    for (int kind = 0; kind < 3; kind++) {
        size_t n = kind == 2 ? 7 : 1000;
        double *e = malloc((n + 1) * sizeof *e);
        if (kind == 0) { /* quantiles of a lognormal-like sample */
            for (size_t i = 0; i <= n; i++) {
                double u = ((double)rand() + 1) / ((double)RAND_MAX + 2);
                e[i] = exp(3 * (u - 0.5)) * 100;
            }
            qsort(e, n + 1, sizeof *e, cmp_d);
            for (size_t i = 1; i <= n; i++)
                if (e[i] <= e[i - 1])
                    e[i] = nextafter(e[i - 1], INFINITY);
        } else if (kind == 1) { /* dense in the middle, tiny gaps */
            for (size_t i = 0; i <= n; i++)
                e[i] = tan(((double)i / (double)n - 0.5) * 3.0);
        } else { /* discrete: one bin per value, bin 0 closed */
            double v[] = {1, 1, 2, 3, 5, 8, 13, 21};
            memcpy(e, v, sizeof v);
        }
        dw_ref_column plain = dwt_numeric_col(e, n), fast = dwt_numeric_col(e, n);
        assert_int_equal(dw_bin_index_build(&fast), 0);
        assert_non_null(fast.bin_index);
        for (size_t i = 0; i <= n; i++) {
            double probes[] = {e[i], nextafter(e[i], -INFINITY), nextafter(e[i], INFINITY)};
            for (int k = 0; k < 3; k++)
                assert_int_equal(dw_ref_bin(&fast, probes[k]), dw_ref_bin(&plain, probes[k]));
        }
        double span = e[n] - e[0];
        for (int r = 0; r < 200000; r++) {
            double x = e[0] - 0.1 * span + 1.2 * span * ((double)rand() / RAND_MAX);
            assert_int_equal(dw_ref_bin(&fast, x), dw_ref_bin(&plain, x));
        }
        dw_bin_index_free(fast.bin_index);
        free(e);
    }
    /* A constant column has no table: the search serves it. */
    double c[] = {4, 4};
    dw_ref_column k = dwt_numeric_col(c, 1);
    assert_true(dw_bin_index_build(&k) < 0);
    assert_int_equal(dw_ref_bin(&k, 4), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bin_right_closed_rule),
        cmocka_unit_test(test_bin_index_matches_search),
        cmocka_unit_test(test_bin_nan_and_infinities),
        cmocka_unit_test(test_bin_constant_column),
        cmocka_unit_test(test_bin_discrete_column),
        cmocka_unit_test(test_bin_matches_linear_scan),
        cmocka_unit_test(test_bin_index_matches_definition),
        cmocka_unit_test(test_category_index_lookup_slices),
        cmocka_unit_test(test_category_without_index_scans),
        cmocka_unit_test(test_category_index_many),
        cmocka_unit_test(test_category_index_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

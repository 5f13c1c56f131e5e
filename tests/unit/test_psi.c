#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "column_fixture.h"

#include "driftwatch/psi.h"

#include "driftwatch/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Hand-computed expectations go through a handful of logs and divisions:
 * 1e-12 relative is far above double rounding, far below any real change. */
#define RTOL 1e-12

static void assert_rel(double got, double want)
{
    if (fabs(got - want) > RTOL * fabs(want))
        fail_msg("got %.17g want %.17g", got, want);
}

static void assert_finite_nonneg(double v)
{
    assert_false(isnan(v));
    assert_false(isinf(v));
    assert_true(v >= 0.0);
}

static void test_psi_counts_hand_computed(void **state)
{
    (void)state;
    /* p = (50.5, 50.5) / 101, q = (90.5, 10.5) / 101:
     * (q1 - p1) ln(q1 / p1) + (q2 - p2) ln(q2 / p2) = 0.8530592449672882 */
    assert_rel(dw_psi_counts((uint64_t[]){50, 50}, (uint64_t[]){90, 10}, 2), 0.8530592449672882);
    /* PSI is symmetric in its two arguments. */
    assert_rel(dw_psi_counts((uint64_t[]){90, 10}, (uint64_t[]){50, 50}, 2), 0.8530592449672882);
}

static void test_psi_counts_edge_cases(void **state)
{
    (void)state;
    uint64_t a[] = {7, 0, 3};
    assert_true(dw_psi_counts(a, a, 3) == 0.0); /* identical */
    assert_true(dw_psi_counts(a, a, 0) == 0.0);
    uint64_t z[] = {0, 0};
    assert_true(dw_psi_counts(z, z, 2) == 0.0);
    /* One side empty: its smoothed proportions are uniform, finite result.
     * p = (.5, .5), q = (3.5, 1.5) / 5 */
    assert_rel(dw_psi_counts(z, (uint64_t[]){3, 1}, 2), 0.16945957207744072);
    /* Extreme, disjoint counts stay finite. */
    double v =
        dw_psi_counts((uint64_t[]){1000000000000ULL, 0}, (uint64_t[]){0, 1000000000000ULL}, 2);
    assert_finite_nonneg(v);
    assert_true(v > 10.0);
    /* Proportional rows differ only through the smoothing: tiny, >= 0. */
    v = dw_psi_counts((uint64_t[]){100, 300}, (uint64_t[]){1000, 3000}, 2);
    assert_finite_nonneg(v);
    assert_true(v < 1e-5);
}

static void test_psi_numeric_equal_mass_groups(void **state)
{
    (void)state;
    numfix f;
    dwt_numeric(&f, 40, 0);
    for (size_t i = 0; i < 40; i++)
        f.counts[i] = 1;
    /* Identical shape: 0. */
    for (size_t i = 0; i < 40; i++)
        f.bins[1 + i] = 3;
    double psi;
    assert_int_equal(dw_psi(&f.s, &psi), 0);
    assert_true(psi == 0.0);
    /* 40 bins of equal mass -> 10 buckets of 4 bins. Everything in the first
     * 6 bins: buckets 0 and 1 get (24, 12)... as computed by hand here. */
    memset(f.bins, 0, sizeof f.bins);
    for (size_t i = 0; i < 6; i++)
        f.bins[1 + i] = 6;
    uint64_t r[10] = {4, 4, 4, 4, 4, 4, 4, 4, 4, 4};
    uint64_t c[10] = {24, 12, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(dw_psi(&f.s, &psi), 0);
    assert_rel(psi, dw_psi_counts(r, c, 10));
    /* Underflow joins the first bucket, overflow the last. */
    memset(f.bins, 0, sizeof f.bins);
    f.bins[0] = 5;
    f.bins[1 + 39] = 2;
    f.bins[41] = 3;
    uint64_t c2[10] = {5, 0, 0, 0, 0, 0, 0, 0, 0, 5};
    assert_int_equal(dw_psi(&f.s, &psi), 0);
    assert_rel(psi, dw_psi_counts(r, c2, 10));
}

static void test_psi_numeric_unequal_mass_groups(void **state)
{
    (void)state;
    numfix f;
    dwt_numeric(&f, 11, 0);
    /* Bin 0 holds half the reference. Group ids floor(10 * before / 100):
     * bin0 0; bins 1,2 -> 5,5; 3,4 -> 6,6; 5,6 -> 7,7; 7,8 -> 8,8; 9,10 -> 9,9.
     * So 6 buckets: {0} {1,2} {3,4} {5,6} {7,8} {9,10}. */
    f.counts[0] = 50;
    for (size_t i = 1; i <= 10; i++)
        f.counts[i] = 5;
    uint64_t cur[13] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
    memcpy(f.bins, cur, sizeof cur);
    uint64_t r[6] = {50, 10, 10, 10, 10, 10};
    uint64_t c[6] = {1 + 2, 3 + 4, 5 + 6, 7 + 8, 9 + 10, 11 + 12 + 13};
    double psi;
    assert_int_equal(dw_psi(&f.s, &psi), 0);
    assert_rel(psi, dw_psi_counts(r, c, 6));
}

static void test_psi_numeric_trailing_empty_and_constant(void **state)
{
    (void)state;
    numfix f;
    dwt_numeric(&f, 4, 0);
    /* Empty reference bins at the end stay in the last bucket. Ids: bin0 0,
     * bin1 floor(10*2/4)=5; bins 2 and 3 come after all the reference mass
     * -> {0} {1,2,3}, never an empty reference bucket. */
    f.counts[0] = 2;
    f.counts[1] = 2;
    uint64_t cur[6] = {0, 1, 1, 1, 1, 0};
    memcpy(f.bins, cur, sizeof cur);
    double psi;
    assert_int_equal(dw_psi(&f.s, &psi), 0);
    assert_rel(psi, dw_psi_counts((uint64_t[]){2, 2}, (uint64_t[]){1, 3}, 2));

    /* A constant column has one bucket, so PSI is 0 whatever the values
     * (KS and the out-of-range rate see the change instead). */
    numfix g;
    dwt_numeric(&g, 1, 0);
    g.edges[1] = 0.0;
    g.counts[0] = 100;
    uint64_t c2[3] = {7, 1, 9};
    memcpy(g.bins, c2, sizeof c2);
    assert_int_equal(dw_psi(&g.s, &psi), 0);
    assert_true(psi == 0.0);
}

static void test_psi_empty_current(void **state)
{
    (void)state;
    numfix f;
    dwt_numeric(&f, 2, 0);
    f.counts[0] = f.counts[1] = 5;
    double psi = 42.0;
    assert_int_equal(dw_psi(&f.s, &psi), DW_ERR_EMPTY);
    assert_true(psi == 0.0);
}

static void test_psi_categorical(void **state)
{
    (void)state;
    char *cats[] = {"A", "B"};
    uint64_t rc[] = {30, 20};
    dw_ref_column col = dwt_categorical(cats, rc, 2, 0);
    uint64_t bins[] = {10, 10};
    const char *names[] = {"C"};
    uint64_t nc[] = {4};
    dw_sample s = dwt_unseen_sample(&col, bins, names, nc, 1, 1);
    /* A category only in the current data: one unseen bucket with reference
     * count 0. Hand value for (30, 20, 0) vs (10, 10, 5). */
    double psi;
    assert_int_equal(dw_psi(&s, &psi), 0);
    assert_rel(psi, 0.684633342592678);

    /* No unseen values and no "other": just the listed categories. */
    s.nnew = 0;
    s.new_overflow = 0;
    assert_int_equal(dw_psi(&s, &psi), 0);
    assert_rel(psi, dw_psi_counts(rc, bins, 2));

    /* A category only in the reference (current count 0): finite. */
    bins[1] = 0;
    assert_int_equal(dw_psi(&s, &psi), 0);
    assert_finite_nonneg(psi);
    assert_rel(psi, dw_psi_counts(rc, bins, 2));

    /* A non-empty "other" bucket absorbs the unseen values. */
    bins[1] = 10;
    col.other_count = 6;
    s.nnew = 1;
    s.new_overflow = 1;
    assert_int_equal(dw_psi(&s, &psi), 0);
    assert_rel(psi, dw_psi_counts((uint64_t[]){30, 20, 6}, (uint64_t[]){10, 10, 5}, 3));
}

/* Counts so large that before * DW_PSI_BUCKETS overflows 64 bits take the
 * 128-bit division; small ones the 64-bit one: both give equal-frequency
 * buckets (2 fine bins each here), and the same for the same proportions. */
/* The grouping by its definition: fine bin i starts bucket
 * min(B - 1, floor(before_i * B / total)) when that exceeds the last id. */
static size_t group_by_definition(const uint64_t *ref, size_t n, size_t *bucket_of)
{
    __extension__ unsigned __int128 total = 0, before = 0;
    for (size_t i = 0; i < n; i++)
        total += ref[i];
    size_t k = 1, id = 0;
    for (size_t i = 0; i < n; i++) {
        if (before < total) {
            size_t g = (size_t)(before * DW_PSI_BUCKETS / total);
            if (g > DW_PSI_BUCKETS - 1)
                g = DW_PSI_BUCKETS - 1;
            if (g > id) {
                id = g;
                k++;
            }
        }
        bucket_of[i] = k - 1;
        before += ref[i];
    }
    return k;
}

/* Random reference counts with empty bins, heavy bins (several ids
 * skipped) and trailing zeros: the buckets are the definition's. */
static void test_psi_group_matches_definition(void **state)
{
    (void)state;
    enum { N = 200 };
    uint64_t ref[N], cur[N], r[DW_PSI_BUCKETS], c[DW_PSI_BUCKETS];
    size_t want_of[N];
    srand(11);
    for (int t = 0; t < 500; t++) {
        size_t n = 1 + (size_t)rand() % N;
        for (size_t i = 0; i < n; i++) {
            int u = rand() % 10;
            ref[i] = u < 3 ? 0 : u < 9 ? (uint64_t)(rand() % 100) : (uint64_t)(rand() % 5000);
            cur[i] = (uint64_t)(rand() % 7);
        }
        if (t % 5 == 0)
            for (size_t i = n / 2; i < n; i++)
                ref[i] = 0;
        size_t want_k = group_by_definition(ref, n, want_of);
        assert_int_equal(dw_psi_group(ref, cur, n, r, c), want_k);
        uint64_t wr[DW_PSI_BUCKETS] = {0}, wc[DW_PSI_BUCKETS] = {0};
        for (size_t i = 0; i < n; i++) {
            wr[want_of[i]] += ref[i];
            wc[want_of[i]] += cur[i];
        }
        for (size_t b = 0; b < want_k; b++) {
            assert_true(r[b] == wr[b]);
            assert_true(c[b] == wc[b]);
        }
    }
}

static void test_psi_group_huge_counts(void **state)
{
    (void)state;
    enum { N = 2 * DW_PSI_BUCKETS };
    const uint64_t scales[] = {1, 1000, UINT64_MAX / (2 * N)};
    for (size_t sc = 0; sc < sizeof scales / sizeof *scales; sc++) {
        uint64_t ref[N], cur[N], r[DW_PSI_BUCKETS], c[DW_PSI_BUCKETS];
        for (size_t i = 0; i < N; i++) {
            ref[i] = scales[sc];
            cur[i] = i;
        }
        assert_int_equal(dw_psi_group(ref, cur, N, r, c), DW_PSI_BUCKETS);
        for (size_t k = 0; k < DW_PSI_BUCKETS; k++) {
            assert_true(r[k] == 2 * scales[sc]);
            assert_true(c[k] == 4 * k + 1);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_psi_counts_hand_computed),
        cmocka_unit_test(test_psi_counts_edge_cases),
        cmocka_unit_test(test_psi_numeric_equal_mass_groups),
        cmocka_unit_test(test_psi_numeric_unequal_mass_groups),
        cmocka_unit_test(test_psi_numeric_trailing_empty_and_constant),
        cmocka_unit_test(test_psi_empty_current),
        cmocka_unit_test(test_psi_categorical),
        cmocka_unit_test(test_psi_group_huge_counts),
        cmocka_unit_test(test_psi_group_matches_definition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

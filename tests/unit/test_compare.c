/* Unit tests of the candidate-vs-baseline comparison (compare.c): the
 * alignment of the two windows' counters, the verdicts, and the latency
 * ratio. The statistics' values are checked against scipy in
 * tests/oracle/test_canary_oracle.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_rng.h"

#include "driftwatch/chi2.h"
#include "driftwatch/compare.h"
#include "driftwatch/error.h"
#include "driftwatch/psi.h"
#include "driftwatch/sketch.h"

#include <stdlib.h>
#include <string.h>

#define NB 100 /* fine bins over [-5, 5] */

static double edges[NB + 1];
static dw_ref_column num_col;

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i <= NB; i++)
        edges[i] = -5.0 + 10.0 * i / NB;
    memset(&num_col, 0, sizeof num_col);
    num_col.name = "prediction.score";
    num_col.type = DW_COL_NUMERIC;
    num_col.nbins = NB;
    num_col.edges = edges;
    return 0;
}

static double normal(void)
{
    double u = 1.0 - uniform(), v = uniform();
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* Counts n normal(mu, 1) values into bins[NB + 2] (under, bins, over). */
static void fill_normal(uint64_t *bins, size_t n, double mu)
{
    memset(bins, 0, (NB + 2) * sizeof *bins);
    for (size_t i = 0; i < n; i++) {
        double x = mu + normal();
        long b = x < edges[0] ? -1 : x > edges[NB] ? NB : (long)ceil((x - edges[0]) / 0.1) - 1;
        if (b < 0 && x >= edges[0])
            b = 0;
        bins[b + 1]++;
    }
}

static dw_sample num_sample(const uint64_t *bins)
{
    dw_sample s = {.ref = &num_col, .bins = bins};
    return s;
}

/* Compares n normal(mu_a, 1) baseline values with m normal(mu_b, 1)
 * candidate values (seeded), without deciding. */
static void compare_normals(uint64_t seed, size_t n, double mu_a, size_t m, double mu_b,
                            dw_compare_column *c)
{
    static uint64_t a[NB + 2], b[NB + 2];
    rng_state = seed;
    fill_normal(a, n, mu_a);
    fill_normal(b, m, mu_b);
    dw_sample sa = num_sample(a), sb = num_sample(b);
    assert_int_equal(dw_compare_column_evaluate(&sa, &sb, c), 0);
}

static dw_thresholds defaults(void)
{
    dw_thresholds t;
    dw_thresholds_default(&t);
    return t;
}

static void test_identical_windows_pass(void **state)
{
    (void)state;
    uint64_t a[NB + 2];
    rng_state = 1;
    fill_normal(a, 5000, 0.0);
    dw_sample s = num_sample(a);
    dw_compare_column c;
    assert_int_equal(dw_compare_column_evaluate(&s, &s, &c), 0);
    assert_true(c.r.has_ks);
    assert_true(c.r.ks.statistic == 0.0);
    assert_true(c.r.psi == 0.0);
    assert_true(c.r.p_value == 1.0);
    assert_int_equal(c.n_baseline, 5000);
    assert_int_equal(c.r.count, 5000);
    dw_thresholds t = defaults();
    dw_compare_summary sum;
    assert_int_equal(dw_compare_decide(&c, 1, &t, 0, &sum), DW_VERDICT_PASS);
    assert_int_equal(sum.passed, 1);
    assert_string_equal(dw_verdict_name(c.verdict), "pass");
}

static void test_same_distribution_passes(void **state)
{
    (void)state;
    dw_compare_column c;
    compare_normals(2, 20000, 0.0, 15000, 0.0, &c);
    assert_int_equal(c.r.count, 15000);
    assert_true(c.r.ks.statistic < 0.03);
    dw_thresholds t = defaults();
    assert_int_equal(dw_compare_decide(&c, 1, &t, 0, NULL), DW_VERDICT_PASS);
    /* The noise level uses the two window sizes (not the reference's, which
     * is 0 here): c_0.01 (1 / sqrt(n) + 1 / sqrt(m)), c_0.01 = 1.62762 the
     * Kolmogorov upper 1 % point; the reference column is given back. */
    assert_near(c.r.ks_critical, 1.62762 * (1 / sqrt(20000.0) + 1 / sqrt(15000.0)), 1e-4);
    assert_true(c.r.psi_critical > 0);
    assert_ptr_equal(c.r.ref, &num_col);
}

static void test_shift_fails(void **state)
{
    (void)state;
    /* 0.5 sigma: D about 0.2, PSI about 0.25, both above the defaults. */
    dw_compare_column c;
    compare_normals(3, 5000, 0.0, 5000, 0.5, &c);
    assert_true(c.r.ks.statistic > 0.15);
    assert_true(c.r.p_value < 1e-10);
    assert_near(c.r.ks.n_eff, 2500.0, 1e-9); /* n m / (n + m), exact */
    dw_thresholds t = defaults();
    dw_compare_summary sum;
    assert_int_equal(dw_compare_decide(&c, 1, &t, 0, &sum), DW_VERDICT_FAIL);
    assert_true(c.r.drift);
    assert_int_equal(sum.failed, 1);
}

static void test_tiny_shift_on_big_samples_passes(void **state)
{
    (void)state;
    /* Significant (n = 200000 each) but far below the effect thresholds:
     * the effect size is what keeps a rollout from failing on noise. */
    dw_compare_column c;
    compare_normals(4, 200000, 0.0, 200000, 0.03, &c);
    dw_thresholds t = defaults();
    assert_int_equal(dw_compare_decide(&c, 1, &t, 0, NULL), DW_VERDICT_PASS);
    assert_true(c.r.significant);
    assert_false(c.r.effect);
}

static void test_few_samples_inconclusive(void **state)
{
    (void)state;
    dw_compare_column c;
    compare_normals(5, 5000, 0.0, 99, 2.0, &c); /* a big shift, but under min_samples */
    dw_thresholds t = defaults();
    assert_int_equal(dw_compare_decide(&c, 1, &t, 0, NULL), DW_VERDICT_INCONCLUSIVE);
    assert_false(c.r.enough_samples);

    /* Enough samples, a big effect, not significant: inconclusive. */
    t.min_samples = 10;
    compare_normals(5, 12, 0.0, 12, 0.7, &c);
    assert_int_equal(dw_compare_decide(&c, 1, &t, 0, NULL), DW_VERDICT_INCONCLUSIVE);
    assert_true(c.r.enough_samples);
    assert_true(c.r.ks.statistic >= t.ks_threshold);
    /* Below the noise level of two windows of 12 (drift.h): no effect. */
    assert_true(c.r.ks.statistic < c.r.ks_critical);
    assert_false(c.r.effect);
    assert_false(c.r.significant);
    /* With the effect criteria off, significance alone decides: pass. */
    t.psi_threshold = 0;
    t.ks_threshold = 0;
    assert_int_equal(dw_compare_decide(&c, 1, &t, 0, NULL), DW_VERDICT_PASS);
}

static void test_empty_and_incompatible(void **state)
{
    (void)state;
    uint64_t a[NB + 2] = {0}, b[NB + 2];
    rng_state = 6;
    fill_normal(b, 500, 0.0);
    dw_sample sa = num_sample(a), sb = num_sample(b);
    dw_compare_column c;
    assert_int_equal(dw_compare_column_evaluate(&sa, &sb, &c), DW_ERR_EMPTY);
    assert_true(c.r.p_value == 1.0 && c.r.psi == 0.0 && c.r.ks.statistic == 0.0);
    assert_int_equal(c.n_candidate, 500);

    /* Other edges: not the same layout. */
    double e2[NB + 1];
    memcpy(e2, edges, sizeof e2);
    e2[50] += 1e-9;
    dw_ref_column other = num_col;
    other.edges = e2;
    dw_sample so = {.ref = &other, .bins = b};
    assert_false(dw_compare_compatible(&num_col, &other));
    assert_int_equal(dw_compare_column_evaluate(&sb, &so, &c), DW_ERR_INVALID);
    /* A copy with equal edges is compatible. */
    e2[50] = edges[50];
    assert_true(dw_compare_compatible(&num_col, &other));
    assert_int_equal(dw_compare_column_evaluate(&sb, &so, &c), 0);
    assert_true(c.r.ks.statistic == 0.0);
}

static void test_categorical_alignment(void **state)
{
    (void)state;
    char *cats[] = {"DE", "FR", "US"};
    dw_ref_column col = {
        .name = "features.country", .type = DW_COL_CATEGORICAL, .ncat = 3, .categories = cats};
    /* Unseen names in different slots and orders on the two sides. */
    uint64_t ba[3] = {300, 200, 0}, bb[3] = {280, 260, 0};
    const char *na[] = {"IT", "ES", "PL"}, *nb[] = {"ES", "NL", "IT"};
    uint64_t ca[] = {40, 10, 0}, cb[] = {15, 30, 35};
    dw_sample sa = {
        .ref = &col, .bins = ba, .nnew = 3, .new_counts = ca, .new_names = na, .new_overflow = 7};
    dw_sample sb = {
        .ref = &col, .bins = bb, .nnew = 3, .new_counts = cb, .new_names = nb, .new_overflow = 0};
    dw_compare_column c;
    assert_int_equal(dw_compare_column_evaluate(&sa, &sb, &c), 0);
    assert_int_equal(c.n_baseline, 557);
    assert_int_equal(c.n_candidate, 620);
    /* The table: DE, FR, (US dropped: empty on both), ES, IT, NL,
     * (PL dropped), overflow. */
    uint64_t wa[] = {300, 200, 10, 40, 0, 7}, wb[] = {280, 260, 15, 35, 30, 0};
    dw_chi2_result want;
    assert_int_equal(dw_chi2_counts_pooled(wa, wb, 6, &want), 0);
    assert_true(c.r.has_chi2);
    /* The overflow column expects 557 * 7 / 1177 < 5 values: pooled, and
     * the pool, still below 5, takes ES (the smallest kept column). */
    assert_int_equal(c.r.chi2.df, 4);
    assert_int_equal(c.r.psi_buckets, 6);
    assert_near(c.r.chi2.statistic, want.statistic, 1e-12 * want.statistic);
    assert_near(c.r.psi, dw_psi_counts(wa, wb, 6), 1e-15);
    dw_thresholds t = defaults();
    dw_compare_decide(&c, 1, &t, 0, NULL);
    assert_true(c.r.significant);
}

static void test_overall_verdict(void **state)
{
    (void)state;
    uint64_t a[NB + 2], b[NB + 2], d[NB + 2], few[NB + 2];
    rng_state = 8;
    fill_normal(a, 4000, 0.0);
    fill_normal(b, 4000, 0.0);
    fill_normal(d, 4000, 1.0);
    fill_normal(few, 20, 0.0);
    dw_sample sa = num_sample(a), sb = num_sample(b), sd = num_sample(d), sf = num_sample(few);
    dw_compare_column c[3];
    dw_thresholds t = defaults();
    dw_compare_summary sum;
    dw_compare_column_evaluate(&sa, &sb, &c[0]);
    dw_compare_column_evaluate(&sa, &sf, &c[1]);
    dw_compare_column_evaluate(&sa, &sd, &c[2]);
    assert_int_equal(dw_compare_decide(c, 2, &t, 0, &sum), DW_VERDICT_INCONCLUSIVE);
    assert_int_equal(sum.passed, 1);
    assert_int_equal(sum.inconclusive, 1);
    assert_int_equal(dw_compare_decide(c, 3, &t, 0, &sum), DW_VERDICT_FAIL);
    assert_int_equal(sum.failed, 1);
    assert_int_equal(sum.compared, 3);
    assert_int_equal(dw_compare_decide(c, 0, &t, 0, &sum), DW_VERDICT_INCONCLUSIVE);
    assert_int_equal(sum.compared, 0);
    assert_string_equal(dw_verdict_name(DW_VERDICT_INCONCLUSIVE), "inconclusive");
    assert_string_equal(dw_verdict_name(DW_VERDICT_FAIL), "fail");
}

static void test_latency_ratio(void **state)
{
    (void)state;
    dw_sketch *b = NULL, *c = NULL;
    assert_int_equal(dw_sketch_new(0.01, 2048, &b, NULL, 0), 0);
    assert_int_equal(dw_sketch_new(0.01, 2048, &c, NULL, 0), 0);
    dw_latency_compare lc;
    assert_int_equal(dw_compare_latency(b, c, 0.99, 1.2, 100, &lc), 0);
    assert_int_equal(lc.verdict, DW_VERDICT_INCONCLUSIVE);
    assert_true(lc.ratio == 0.0);
    rng_state = 9;
    for (int i = 0; i < 5000; i++) {
        double x = exp(3.0 + 0.5 * normal());
        dw_sketch_add(b, x);
        dw_sketch_add(c, 1.5 * x); /* the same values, 50 % slower */
    }
    assert_int_equal(dw_compare_latency(b, c, 0.99, 1.2, 100, &lc), 0);
    /* Each quantile is within alpha = 1 %, so the ratio within about 2 %. */
    assert_near(lc.ratio, 1.5, 1.5 * 0.0201);
    assert_int_equal(lc.verdict, DW_VERDICT_FAIL);
    assert_int_equal(dw_compare_latency(b, c, 0.5, 2.0, 100, &lc), 0);
    assert_int_equal(lc.verdict, DW_VERDICT_PASS);
    assert_int_equal(dw_compare_latency(b, c, 0.5, 2.0, 10000, &lc), 0);
    assert_int_equal(lc.verdict, DW_VERDICT_INCONCLUSIVE);
    assert_int_equal(dw_compare_latency(b, c, 1.5, 2.0, 1, &lc), DW_ERR_INVALID);
    assert_int_equal(dw_compare_latency(b, c, 0.5, 0.0, 1, &lc), DW_ERR_INVALID);
    /* The same through the pane-counter form gives the same numbers. */
    dw_sketch_layout l;
    assert_int_equal(dw_sketch_layout_init(&l, 0.01, 0.001, 1e7, NULL, 0), 0);
    uint64_t *cb = calloc(dw_sketch_layout_width(&l), sizeof *cb);
    uint64_t *cc = calloc(dw_sketch_layout_width(&l), sizeof *cc);
    rng_state = 9;
    for (int i = 0; i < 5000; i++) {
        double x = exp(3.0 + 0.5 * normal());
        cb[dw_sketch_layout_slot(&l, x)]++;
        cc[dw_sketch_layout_slot(&l, 1.5 * x)]++;
    }
    dw_latency_compare ll;
    assert_int_equal(dw_compare_latency(b, c, 0.99, 1.2, 100, &lc), 0);
    assert_int_equal(dw_compare_latency_layout(&l, cb, cc, 0.99, 1.2, 100, &ll), 0);
    assert_int_equal(ll.n_baseline, 5000);
    assert_true(ll.baseline == lc.baseline && ll.candidate == lc.candidate);
    assert_int_equal(ll.verdict, DW_VERDICT_FAIL);
    assert_int_equal(dw_compare_latency_layout(&l, cb, cc, 0.99, 1.2, 10000, &ll), 0);
    assert_int_equal(ll.verdict, DW_VERDICT_INCONCLUSIVE);
    assert_int_equal(dw_compare_latency_layout(&l, cb, cc, -1, 1.2, 1, &ll), DW_ERR_INVALID);
    free(cb);
    free(cc);

    /* A baseline of zeros: no ratio, inconclusive. */
    dw_sketch_clear(b);
    dw_sketch_add_n(b, 0.0, 500);
    assert_int_equal(dw_compare_latency(b, c, 0.5, 2.0, 1, &lc), 0);
    assert_int_equal(lc.verdict, DW_VERDICT_INCONCLUSIVE);
    dw_sketch_free(b);
    dw_sketch_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identical_windows_pass),
        cmocka_unit_test(test_same_distribution_passes),
        cmocka_unit_test(test_shift_fails),
        cmocka_unit_test(test_tiny_shift_on_big_samples_passes),
        cmocka_unit_test(test_few_samples_inconclusive),
        cmocka_unit_test(test_empty_and_incompatible),
        cmocka_unit_test(test_categorical_alignment),
        cmocka_unit_test(test_overall_verdict),
        cmocka_unit_test(test_latency_ratio),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "column_fixture.h"

#include "driftwatch/drift.h"

#include "driftwatch/fdr.h"
#include "driftwatch/psi.h"

#include <math.h>
#include <string.h>

enum { NB = 100 };

/* A categorical reference with the two categories cats and counts rc. */
static dw_ref_column two_categories(char **cats, uint64_t *rc)
{
    dw_ref_column col = dwt_categorical(cats, rc, 2, 0);
    col.count = rc[0] + rc[1];
    return col;
}

/* Evaluates one column and decides it alone. */
static void decide1(const dw_sample *s, const dw_thresholds *t, dw_column_result *r)
{
    dw_column_evaluate(s, r);
    dw_drift_decide(r, 1, t, 0);
}

static void test_defaults(void **state)
{
    (void)state;
    dw_thresholds t;
    dw_thresholds_default(&t);
    assert_true(t.alpha == DW_DEFAULT_ALPHA);
    assert_true(t.psi_threshold == DW_DEFAULT_PSI_THRESHOLD);
    assert_true(t.ks_threshold == DW_DEFAULT_KS_THRESHOLD);
    assert_int_equal(t.min_samples, DW_DEFAULT_MIN_SAMPLES);
    assert_true(t.missing_rate_delta == DW_DEFAULT_MISSING_RATE_DELTA);
    assert_true(t.type_error_rate == DW_DEFAULT_TYPE_ERROR_RATE);
}

static void test_numeric_identical_vs_shifted(void **state)
{
    (void)state;
    dw_thresholds t;
    dw_thresholds_default(&t);
    numfix same, shifted;
    dwt_numeric(&same, NB, 100);
    dwt_numeric(&shifted, NB, 100);
    for (size_t i = 0; i < NB; i++)
        same.bins[1 + i] = 50;
    for (size_t i = NB / 2; i < NB; i++)
        shifted.bins[1 + i] = 100; /* the upper half only: D = .5 */

    dw_column_result r[2];
    dw_column_evaluate(&same.s, &r[0]);
    dw_column_evaluate(&shifted.s, &r[1]);
    assert_true(r[0].has_ks && !r[0].has_chi2);
    assert_int_equal(r[0].count, 5000);
    assert_true(r[0].ks.statistic == 0.0 && r[0].psi == 0.0);
    assert_true(r[0].p_value == r[0].ks.p_value);
    assert_true(r[1].ks.statistic == 0.5);
    assert_true(r[1].p_value == r[1].ks.p_value);
    assert_true(r[1].p_value < 1e-100);
    assert_true(r[1].psi > 1.0);

    assert_int_equal(dw_drift_decide(r, 2, &t, 0), 1);
    assert_false(r[0].drift);
    assert_false(r[0].significant);
    assert_true(r[1].enough_samples && r[1].significant && r[1].effect && r[1].drift);
    assert_false(r[0].quality_issue || r[1].quality_issue);
}

static void test_too_few_samples_never_drift(void **state)
{
    (void)state;
    dw_thresholds t;
    dw_thresholds_default(&t);
    numfix f;
    dwt_numeric(&f, NB, 100);
    f.bins[NB + 1] = 60; /* 60 values above the maximum: D = 1 */
    dw_column_result r;
    dw_column_evaluate(&f.s, &r);
    assert_true(r.ks.statistic == 1.0);
    assert_true(r.p_value < 1e-6);
    assert_int_equal(dw_drift_decide(&r, 1, &t, 0), 0);
    assert_false(r.enough_samples);
    assert_false(r.drift);
    assert_true(r.p_adjusted == 1.0); /* outside the BH family */
}

/* Big samples make a tiny shift significant; the effect size keeps it from
 * being called drift. */
static void test_significant_but_small_effect(void **state)
{
    (void)state;
    dw_thresholds t;
    dw_thresholds_default(&t);
    numfix f;
    dwt_numeric(&f, NB, 1000000);
    for (size_t i = 0; i < NB; i++)
        f.bins[1 + i] = i < NB / 2 ? 1030000 : 970000;
    dw_column_result r;
    dw_column_evaluate(&f.s, &r);
    /* F_cur at the middle edge: .515 vs .5 */
    assert_true(fabs(r.ks.statistic - 0.015) < 1e-12); /* ratio of ~1e8 integers */
    assert_true(r.psi < 0.01);
    assert_int_equal(dw_drift_decide(&r, 1, &t, 0), 0);
    assert_true(r.significant);
    assert_false(r.effect);
    assert_false(r.drift);

    /* With both effect criteria disabled, significance alone decides. */
    t.psi_threshold = 0.0;
    t.ks_threshold = -1.0;
    assert_int_equal(dw_drift_decide(&r, 1, &t, 0), 1);
    assert_true(r.effect && r.drift);
}

static void test_categorical_uses_chi2(void **state)
{
    (void)state;
    dw_thresholds t;
    dw_thresholds_default(&t);
    char *cats[] = {"A", "B"};
    uint64_t rc[] = {500, 500};
    dw_ref_column col = two_categories(cats, rc);
    uint64_t bins[] = {900, 100};
    dw_sample s = {.ref = &col, .bins = bins};
    dw_column_result r;
    dw_column_evaluate(&s, &r);
    assert_true(r.has_chi2 && !r.has_ks);
    assert_true(r.p_value == r.chi2.p_value);
    assert_int_equal(r.chi2.df, 1);
    double psi;
    assert_int_equal(dw_psi(&s, &psi), 0);
    assert_true(r.psi == psi);
    assert_int_equal(dw_drift_decide(&r, 1, &t, 0), 1);
    assert_true(r.drift);
}

/* The decision uses the BH-adjusted p across the family, with per-column
 * thresholds when th_stride is 1. */
static void test_bh_family_and_per_column_thresholds(void **state)
{
    (void)state;
    dw_column_result r[4];
    memset(r, 0, sizeof r);
    double raw[4] = {0.004, 0.009, 0.5, 0.001};
    for (size_t i = 0; i < 4; i++) {
        r[i].type = DW_COL_CATEGORICAL;
        r[i].count = 1000;
        r[i].p_value = raw[i];
        r[i].psi = 1.0;
    }
    r[3].count = 10; /* too few: not in the family */
    dw_thresholds th[4];
    for (size_t i = 0; i < 4; i++)
        dw_thresholds_default(&th[i]);
    th[0].alpha = 0.005;

    double adj[3] = {0.004, 0.009, 0.5};
    dw_fdr_bh(adj, adj, 3); /* .012 .0135 .5 */
    size_t n = dw_drift_decide(r, 4, th, 1);
    for (size_t i = 0; i < 3; i++)
        assert_true(r[i].p_adjusted == adj[i]);
    assert_true(r[3].p_adjusted == 1.0);
    /* Column 0: adjusted .012 is above its own alpha .005; column 1: .0135
     * is above the default .01 too. Nothing drifts... */
    assert_int_equal(n, 0);
    /* ...until column 1 gets a looser alpha. */
    th[1].alpha = 0.05;
    assert_int_equal(dw_drift_decide(r, 4, th, 1), 1);
    assert_true(r[1].drift);
    assert_false(r[0].drift || r[2].drift || r[3].drift);
}

static void test_quality_issue(void **state)
{
    (void)state;
    dw_thresholds t;
    dw_thresholds_default(&t);
    numfix f;
    dwt_numeric(&f, NB, 100);
    f.col.missing = 1000; /* reference missing rate 1000 / 11000 */
    for (size_t i = 0; i < NB; i++)
        f.bins[1 + i] = 2;
    f.s.missing = 100; /* 100 / 300 = .333, significantly above .091 + .1 */
    dw_column_result r;
    decide1(&f.s, &t, &r);
    assert_true(r.quality_issue);
    assert_int_equal(r.quality_reasons, DW_QUALITY_MISSING);
    assert_false(r.quality_clear);
    assert_false(r.drift);

    /* Regression (a 10 % null flood flapped 3-6 times in 2 hours): a rate
     * just above the level, 50 / 250 = .2 against .191, is not
     * significantly above it, so it does not fire. */
    f.s.missing = 50;
    decide1(&f.s, &t, &r);
    assert_false(r.quality_issue);
    /* ...and it does not clear a firing alert either: the clear level is
     * half the delta (.091 + .05). */
    assert_false(r.quality_clear);
    f.s.missing = 30; /* 30 / 230 = .130 */
    decide1(&f.s, &t, &r);
    assert_false(r.quality_issue);
    assert_true(r.quality_clear);

    f.s.missing = 40;
    f.s.type_errors = 40; /* 40 / 280 = .143, significantly above .05 */
    decide1(&f.s, &t, &r);
    assert_true(r.quality_issue);
    assert_int_equal(r.quality_reasons, DW_QUALITY_TYPE_ERRORS);

    /* Fewer than min_samples values seen: no verdict. */
    numfix g;
    dwt_numeric(&g, NB, 100);
    g.s.missing = 50;
    decide1(&g.s, &t, &r);
    assert_false(r.quality_issue);
    assert_true(r.p_value == 1.0 && r.psi == 0.0); /* empty: neutral results */
}

/* One parser for the threshold keys serves the configuration and
 * `driftwatch check`: ranges, integer min_samples, messages. */
static void test_threshold_keys_parse_in_one_place(void **state)
{
    (void)state;
    dw_thresholds t;
    dw_thresholds_default(&t);
    char why[160];
    assert_int_equal(dw_threshold_index("alpha"), 0);
    assert_int_equal(dw_threshold_index("type_error_rate"), 5);
    assert_int_equal(dw_threshold_index("false_alarms_per_week"), DW_THRESHOLD_NKEYS - 1);
    assert_int_equal(dw_threshold_index("pis"), -1);
    int psi = dw_threshold_index("psi"), ms = dw_threshold_index("min_samples");
    assert_null(dw_thresholds_set(&t, psi, "0.35", why, sizeof why));
    assert_true(t.psi_threshold == 0.35); /* the same literal, parsed by strtod both times */
    assert_null(dw_thresholds_set(&t, ms, "250", why, sizeof why));
    assert_int_equal(t.min_samples, 250);
    assert_string_equal(dw_thresholds_set(&t, psi, "high", why, sizeof why),
                        "\"high\" is not a number");
    assert_string_equal(dw_thresholds_set(&t, 0, "1", why, sizeof why),
                        "1 is out of range (must be > 0 and < 1)");
    assert_string_equal(dw_thresholds_set(&t, psi, "-0.1", why, sizeof why),
                        "-0.1 is out of range (must be >= 0)");
    assert_string_equal(dw_thresholds_set(&t, ms, "0", why, sizeof why),
                        "0 is out of range (1 to 1000000000000)");
    assert_string_equal(dw_thresholds_set(&t, ms, "1e3", why, sizeof why),
                        "\"1e3\" is not an integer");
    /* Refused values leave t as it was. */
    assert_true(t.psi_threshold == 0.35);
    assert_int_equal(t.min_samples, 250);
    dw_thresholds d;
    dw_thresholds_default(&d);
    dw_thresholds_copy(&d, &t, psi);
    assert_true(d.psi_threshold == 0.35);
    assert_int_equal(d.min_samples, DW_DEFAULT_MIN_SAMPLES);
}

/* Regression: 8 % of a column became the sentinel -999; out-of-range
 * values were not a quality signal at all. */
static void test_out_of_range_is_quality(void **state)
{
    (void)state;
    dw_thresholds t;
    dw_thresholds_default(&t);
    numfix f;
    dwt_numeric(&f, NB, 500); /* 50,000 reference rows */
    for (size_t i = 0; i < NB; i++)
        f.bins[1 + i] = 46;
    f.bins[0] = 400; /* 400 / 5000 = 8 % below the minimum */
    dw_column_result r;
    decide1(&f.s, &t, &r);
    assert_true(r.quality_issue);
    assert_int_equal(r.quality_reasons, DW_QUALITY_OUT_OF_RANGE);

    /* 0.4 % beyond the range: within the 1 % level and below half of it. */
    f.bins[0] = 20;
    decide1(&f.s, &t, &r);
    assert_false(r.quality_issue);
    assert_true(r.quality_clear);

    /* A reference of 200 rows allows up to 2 ln(2 / .01) / 200 = 5.3 %
     * beyond its range: 4 % there is expected, not a quality problem. */
    numfix g;
    dwt_numeric(&g, NB, 2);
    for (size_t i = 0; i < NB; i++)
        g.bins[1 + i] = 48;
    g.bins[NB + 1] = 200; /* 4 % */
    decide1(&g.s, &t, &r);
    assert_false(r.quality_reasons & DW_QUALITY_OUT_OF_RANGE);

    t.out_of_range_rate = 0; /* disabled */
    f.bins[0] = 400;
    decide1(&f.s, &t, &r);
    assert_false(r.quality_issue);
}

/* Regression: a brand-new category at 2 % (chi-squared p 4e-192) was never
 * flagged. It is a quality signal when its share is significantly above
 * both unseen_rate and what the reference's size allows. */
static void test_new_category_share_is_quality(void **state)
{
    (void)state;
    dw_thresholds t;
    dw_thresholds_default(&t);
    t.eval_alpha = 1e-5;
    char *cats[] = {"A", "B"};
    uint64_t rc[] = {1000, 1000};
    dw_ref_column col = two_categories(cats, rc);
    uint64_t bins[] = {4900, 4900};
    const char *names[] = {"NEW"};
    uint64_t nc[] = {200}; /* 2 % of 10,000 */
    dw_sample s = {.ref = &col, .bins = bins, .nnew = 1, .new_counts = nc, .new_names = names};
    dw_column_result r;
    decide1(&s, &t, &r);
    assert_true(r.quality_issue);
    assert_int_equal(r.quality_reasons, DW_QUALITY_UNSEEN);

    /* 2,000 rows without the category allow ln(1e5) / 2000 = .58 %: 0.7 %
     * is not significantly above the 1 % level. */
    nc[0] = 70;
    decide1(&s, &t, &r);
    assert_false(r.quality_issue);
    /* A reference of 200 rows allows 5.8 %: 2 % is no evidence. */
    rc[0] = rc[1] = 100;
    col.count = 200;
    nc[0] = 200;
    decide1(&s, &t, &r);
    assert_false(r.quality_issue);
}

/* Regression: at 0.25-0.5 records/s the fixed D >= 0.1 sat inside the
 * noise (7-28 false alerts a week). The effect must also clear the
 * critical value c_a (1 / sqrt(m) + 1 / sqrt(n)). */
static void test_critical_values_scale_with_sample_sizes(void **state)
{
    (void)state;
    dw_thresholds t;
    dw_thresholds_default(&t);
    numfix f;
    dwt_numeric(&f, NB, 20); /* 2,000 reference rows */
    /* 400 values, 5 in each of the lower 50 bins and 3 in each upper one:
     * D = 250 / 400 - 1 / 2 = .125, above the .1 threshold. */
    for (size_t i = 0; i < NB; i++)
        f.bins[1 + i] = i < 50 ? 5 : 3;
    dw_column_result r;
    dw_column_evaluate(&f.s, &r);
    assert_true(fabs(r.ks.statistic - 0.125) < 1e-12);
    /* One-shot (eval_alpha 0: alpha .01): scipy.special.kolmogi(.01) =
     * 1.6276236115189504, critical .118 (1e-9: the bisection's tolerance). */
    dw_drift_decide(&r, 1, &t, 0);
    double want = 1.6276236115189504 * (1 / sqrt(400.0) + 1 / sqrt(2000.0));
    assert_true(fabs(r.ks_critical - want) < 1e-9);
    assert_true(r.effect);
    /* A streaming evaluation allowed 1e-4: kolmogi(1e-4) =
     * 2.2252513961950457, critical .161: noise can reach .125 there. */
    t.eval_alpha = 1e-4;
    dw_drift_decide(&r, 1, &t, 0);
    want = 2.2252513961950457 * (1 / sqrt(400.0) + 1 / sqrt(2000.0));
    assert_true(fabs(r.ks_critical - want) < 1e-9);
    assert_false(r.effect);
    assert_false(r.drift);

    /* The same shape in 40,000 values clears it (critical .061). */
    for (size_t i = 0; i < NB + 2; i++)
        f.bins[i] *= 100;
    decide1(&f.s, &t, &r);
    assert_true(r.ks_critical < 0.1 && r.effect && r.drift);

    /* PSI's critical value: scipy.stats.chi2.isf(.001, 9) = 27.877...;
     * 10 buckets, m = 40,000, n = 2,000. */
    t.eval_alpha = 0.001;
    dw_drift_decide(&r, 1, &t, 0);
    double q = 27.877164871256575;
    double s = sqrt(q / 40000.0) + sqrt(q / 2000.0);
    assert_int_equal(r.psi_buckets, 10);
    assert_true(fabs(r.psi_critical - s * s) < 1e-9 * s * s);
}

static void test_eval_alpha_from_weekly_budget(void **state)
{
    (void)state;
    dw_thresholds t;
    dw_thresholds_default(&t);
    /* 1 a week over 20 columns, 2 windows, a 1-minute slide (10,080
     * evaluations a week). */
    assert_true(fabs(dw_eval_alpha(&t, 20, 2, 60000) - 1.0 / (20 * 2 * 10080.0)) < 1e-18);
    t.false_alarms_per_week = 0; /* disabled: alpha per evaluation */
    assert_true(dw_eval_alpha(&t, 20, 2, 60000) == t.alpha);
    t.false_alarms_per_week = 1e9; /* never looser than alpha */
    assert_true(dw_eval_alpha(&t, 20, 2, 60000) == t.alpha);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_numeric_identical_vs_shifted),
        cmocka_unit_test(test_too_few_samples_never_drift),
        cmocka_unit_test(test_significant_but_small_effect),
        cmocka_unit_test(test_categorical_uses_chi2),
        cmocka_unit_test(test_bh_family_and_per_column_thresholds),
        cmocka_unit_test(test_quality_issue),
        cmocka_unit_test(test_out_of_range_is_quality),
        cmocka_unit_test(test_new_category_share_is_quality),
        cmocka_unit_test(test_critical_values_scale_with_sample_sizes),
        cmocka_unit_test(test_eval_alpha_from_weekly_budget),
        cmocka_unit_test(test_threshold_keys_parse_in_one_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

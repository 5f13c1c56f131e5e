#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "driftwatch/drift.h"

#include "driftwatch/fdr.h"
#include "driftwatch/psi.h"

#include <math.h>
#include <string.h>

enum { NB = 100 };

typedef struct numfix {
    double edges[NB + 1];
    uint64_t counts[NB];
    uint64_t bins[NB + 2];
    dw_ref_column col;
    dw_sample s;
} numfix;

/* A uniform reference: NB bins of `per_bin` values each. */
static void numeric(numfix *f, uint64_t per_bin)
{
    memset(f, 0, sizeof *f);
    for (size_t i = 0; i <= NB; i++)
        f->edges[i] = (double)i;
    for (size_t i = 0; i < NB; i++)
        f->counts[i] = per_bin;
    f->col.type = DW_COL_NUMERIC;
    f->col.nbins = NB;
    f->col.edges = f->edges;
    f->col.bin_counts = f->counts;
    f->col.count = per_bin * NB;
    f->s.ref = &f->col;
    f->s.bins = f->bins;
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
    numeric(&same, 100);
    numeric(&shifted, 100);
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
    numeric(&f, 100);
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
    numeric(&f, 1000000);
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
    dw_ref_column col;
    memset(&col, 0, sizeof col);
    col.type = DW_COL_CATEGORICAL;
    col.ncat = 2;
    col.categories = cats;
    col.cat_counts = rc;
    col.count = 1000;
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
    numeric(&f, 100);
    f.col.missing = 1000; /* reference missing rate 1000 / 11000 */
    for (size_t i = 0; i < NB; i++)
        f.bins[1 + i] = 2;
    f.s.missing = 50; /* 50 / 250 = .2: +.109, above the .1 delta */
    dw_column_result r;
    dw_column_evaluate(&f.s, &r);
    dw_drift_decide(&r, 1, &t, 0);
    assert_true(r.quality_issue);
    assert_false(r.drift);

    f.s.missing = 40; /* 40 / 240 = .1667: +.076, within the delta */
    dw_column_evaluate(&f.s, &r);
    dw_drift_decide(&r, 1, &t, 0);
    assert_false(r.quality_issue);

    f.s.type_errors = 20; /* 20 / 260 = .077 > .05 */
    dw_column_evaluate(&f.s, &r);
    dw_drift_decide(&r, 1, &t, 0);
    assert_true(r.quality_issue);

    /* Fewer than min_samples values seen: no verdict. */
    numfix g;
    numeric(&g, 100);
    g.s.missing = 50;
    dw_column_evaluate(&g.s, &r);
    dw_drift_decide(&r, 1, &t, 0);
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
    assert_int_equal(dw_threshold_index("type_error_rate"), DW_THRESHOLD_NKEYS - 1);
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
        cmocka_unit_test(test_threshold_keys_parse_in_one_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

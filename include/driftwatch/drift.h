/* The drift decision for one evaluation of many columns.
 *
 * A column drifts when (1) its window holds at least min_samples values,
 * (2) its test's p-value, corrected across the evaluated columns with
 * Benjamini-Hochberg, is below alpha, and (3) its effect size clears both
 * the threshold and the level noise reaches with probability eval_alpha
 * given both sample sizes: PSI >= max(psi_threshold, psi_critical) or D >=
 * max(ks_threshold, ks_critical) (numeric), PSI >= max(psi_threshold,
 * psi_critical) (categorical). Big samples make every tiny shift
 * significant; the threshold keeps alerts meaningful. Small samples make
 * noise cross a fixed threshold; the critical value keeps the weekly
 * false-alarm budget (docs/statistics.md).
 *
 * A column has a quality problem (with at least min_samples values seen,
 * counting missing values and type errors) when a rate is significantly
 * (one-sided binomial test at eval_alpha) above its level: missing above
 * the reference's rate + missing_rate_delta, type errors above
 * type_error_rate, out-of-range values above max(out_of_range_rate, what a
 * reference of n rows allows: 2 ln(2 / eval_alpha) / n), unseen categories
 * above max(unseen_rate, (other + ln(1 / eval_alpha)) / n). It clears
 * (quality_clear) when every rate is at most half its level. */
#ifndef DRIFTWATCH_DRIFT_H
#define DRIFTWATCH_DRIFT_H

#include "driftwatch/chi2.h"
#include "driftwatch/ks.h"
#include "driftwatch/quality.h"
#include "driftwatch/sample.h"

#include <stdbool.h>

/* Defaults; docs/statistics.md gives the reasons for each value. */
#define DW_DEFAULT_ALPHA 0.01
#define DW_DEFAULT_PSI_THRESHOLD 0.2
#define DW_DEFAULT_KS_THRESHOLD 0.1
#define DW_DEFAULT_MIN_SAMPLES 100
#define DW_DEFAULT_MISSING_RATE_DELTA 0.1
#define DW_DEFAULT_TYPE_ERROR_RATE 0.05
#define DW_DEFAULT_OUT_OF_RANGE_RATE 0.01
#define DW_DEFAULT_UNSEEN_RATE 0.01
#define DW_DEFAULT_FALSE_ALARMS_PER_WEEK 1.0
/* Evaluations per week are counted from the window slide. */
#define DW_WEEK_MS (7LL * 24 * 3600 * 1000)

typedef struct dw_thresholds {
    double alpha;              /* significance after BH correction */
    double psi_threshold;      /* effect size; <= 0 disables the PSI criterion */
    double ks_threshold;       /* effect size; <= 0 disables the KS criterion */
    uint64_t min_samples;      /* fewer values: never drift, never quality */
    double missing_rate_delta; /* missing-rate increase over the reference */
    double type_error_rate;    /* type errors / values seen */
    double out_of_range_rate;  /* numeric values beyond [min, max]; <= 0 disables */
    double unseen_rate;        /* categorical values not in the reference; <= 0 disables */
    /* False alarms a model may raise per week without drift (all columns
     * and windows); sets eval_alpha through dw_eval_alpha(). */
    double false_alarms_per_week;
    /* Not configured: the false-alarm probability allowed per column and
     * evaluation, set by the evaluator (dw_eval_alpha()); <= 0 means alpha
     * (a one-shot comparison such as `check`). */
    double eval_alpha;
} dw_thresholds;

/* Fills t with the defaults above. */
void dw_thresholds_default(dw_thresholds *t);

/* The threshold keys, as the configuration (thresholds:, models[].columns)
 * and `driftwatch check` (--alpha, --column NAME:alpha=...) both spell
 * them, in this order: alpha, psi, ks, min_samples, missing_rate_delta,
 * type_error_rate, out_of_range_rate, unseen_rate, false_alarms_per_week.
 * Both parse them with dw_thresholds_set(), so the two accept the same
 * values. `check` takes the first DW_THRESHOLD_NKEYS_CHECK: a weekly
 * false-alarm budget needs an evaluation rate, which a one-shot comparison
 * does not have. */
#define DW_THRESHOLD_NKEYS 9
#define DW_THRESHOLD_NKEYS_CHECK 8
extern const char *const dw_threshold_keys[DW_THRESHOLD_NKEYS];

/* Index of key in dw_threshold_keys, or -1. */
int dw_threshold_index(const char *key);

/* Parses value (text, as written) for threshold index i into t. Returns
 * NULL, or the reason it is refused, worded to follow the key
 * ("\"high\" is not a number", "1.5 is out of range (must be > 0 and < 1)"),
 * written into why[0..len). */
const char *dw_thresholds_set(dw_thresholds *t, int i, const char *value, char *why, size_t len);

/* Copies threshold index i from src to dst. */
void dw_thresholds_copy(dw_thresholds *dst, const dw_thresholds *src, int i);

typedef struct dw_column_result {
    const dw_ref_column *ref;
    dw_col_type type;
    uint64_t count; /* non-missing values */
    uint64_t missing;
    bool has_ks;
    dw_ks_result ks;
    double psi;
    bool has_chi2;
    dw_chi2_result chi2;
    dw_quality quality;
    double p_value;    /* the deciding test's raw p-value (KS or chi2) */
    double p_adjusted; /* after BH across the evaluation */
    bool enough_samples;
    bool significant;         /* p_adjusted < alpha */
    bool effect;              /* effect size clears its threshold */
    bool drift;               /* enough_samples && significant && effect */
    bool quality_issue;       /* see file comment */
    bool quality_clear;       /* every quality rate at most half its firing level */
    unsigned quality_reasons; /* DW_QUALITY_* bits of quality_issue */
    size_t psi_buckets;       /* buckets PSI summed over */
    double ks_critical;       /* D that noise reaches with probability eval_alpha */
    double psi_critical;      /* the same for PSI */
    /* Set by the caller before dw_drift_decide(): the number of
     * distribution tests the column's eval_alpha is shared by (the window
     * and its recent segments, see model.h); the critical values use
     * eval_alpha / tests. 0 counts as 1. */
    unsigned tests;
    /* Set by dw_model_evaluate() when the window itself is not flagged but
     * its newest recent_panes panes are (drift is then true): that
     * segment's D (numeric) and PSI. 0 when the window decided. */
    size_t recent_panes;
    double recent_ks, recent_psi;
} dw_column_result;

#define DW_QUALITY_MISSING 1u
#define DW_QUALITY_TYPE_ERRORS 2u
#define DW_QUALITY_OUT_OF_RANGE 4u
#define DW_QUALITY_UNSEEN 8u

/* The false-alarm probability per column and evaluation that keeps a model
 * of ncols tested columns and nwindows windows within
 * t->false_alarms_per_week: the budget split evenly over windows, columns
 * and the evaluations of a week (DW_WEEK_MS / slide_ms), a union bound
 * that ignores how much overlapping windows share. Never above t->alpha;
 * t->alpha when the budget is <= 0. */
double dw_eval_alpha(const dw_thresholds *t, size_t ncols, size_t nwindows, int64_t slide_ms);

/* Computes the statistics of one column (everything except p_adjusted and
 * the decision flags). An empty side gives neutral results (p 1, PSI 0).
 * out->ref points at cur->ref (borrowed). No allocation. */
void dw_column_evaluate(const dw_sample *cur, dw_column_result *out);

/* When more than half of the evaluated columns (ignored[j] false; ignored
 * may be NULL) had only missing values (count 0, missing > 0), returns how
 * many and sets *first to the first; else 0. Column names that are not
 * the records' field paths look like this, and deserve a louder word than
 * one DataQuality alert per column. */
size_t dw_drift_absent(const dw_column_result *res, size_t n, const bool *ignored, size_t *first);

/* Applies BH across res[0..n) and sets p_adjusted and the decision flags.
 * Column i uses the thresholds th[i * th_stride]: th_stride 1 with n structs
 * for per-column thresholds, th_stride 0 to use th[0] for all. The BH family
 * is the columns with enough samples (chosen without looking at p-values);
 * the others get p_adjusted = 1. BH uses alpha-independent adjusted
 * p-values, so per-column alpha is compared with the same adjusted value.
 * When both effect criteria are disabled, significance alone decides.
 * Returns the number of drifting columns. */
size_t dw_drift_decide(dw_column_result *res, size_t n, const dw_thresholds *th, size_t th_stride);

#endif

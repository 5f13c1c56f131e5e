/* The drift decision for one evaluation of many columns.
 *
 * A column drifts when (1) its window holds at least min_samples values,
 * (2) its test's p-value, corrected across the evaluated columns with
 * Benjamini-Hochberg, is below alpha, and (3) its effect size clears the
 * threshold: PSI >= psi_threshold or KS D >= ks_threshold (numeric), PSI >=
 * psi_threshold (categorical). Big samples make every tiny shift significant;
 * the effect size keeps alerts meaningful.
 *
 * A column has a quality problem when its missing rate exceeds the
 * reference's by more than missing_rate_delta, or its type-error rate exceeds
 * type_error_rate (with at least min_samples values seen, counting missing
 * values and type errors). */
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

typedef struct dw_thresholds {
    double alpha;              /* significance after BH correction */
    double psi_threshold;      /* effect size; <= 0 disables the PSI criterion */
    double ks_threshold;       /* effect size; <= 0 disables the KS criterion */
    uint64_t min_samples;      /* fewer values: never drift, never quality */
    double missing_rate_delta; /* missing-rate increase over the reference */
    double type_error_rate;    /* type errors / values seen */
} dw_thresholds;

/* Fills t with the defaults above. */
void dw_thresholds_default(dw_thresholds *t);

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
    bool significant;   /* p_adjusted < alpha */
    bool effect;        /* effect size clears its threshold */
    bool drift;         /* enough_samples && significant && effect */
    bool quality_issue; /* see file comment */
} dw_column_result;

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

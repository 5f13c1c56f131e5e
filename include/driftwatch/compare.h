/* Two-sample comparison of a candidate model version's window with the
 * baseline version's window (canary analysis, issue 13), over the counters
 * the windows already keep (sample.h): the same tests and the same decision
 * as reference drift (drift.h), with the baseline's window in the place of
 * the training reference.
 *
 * Numeric columns: both samples count over the same reference bin layout
 * (under, bin_0 .. bin_{k-1}, over).
 *   KS: D = max |F_base - F_cand| at the right edges of every bin (the
 *       two-sample statistic of the binned data, exact for the bin-expanded
 *       samples; it underestimates the raw-value statistic by at most the
 *       largest bin mass, see ks.h); p-value dw_ks_pvalue(D, n m / (n + m)).
 *   PSI: over up to DW_PSI_BUCKETS equal-frequency buckets of the baseline
 *       (dw_psi_group() on the fine bins, under/overflow included), with the
 *       smoothing of psi.h.
 * Categorical columns: the table is every listed category, every unseen
 * category named in either window (matched by name), and the two windows'
 * untracked-overflow counts as one more column; columns empty on both sides
 * are dropped.
 *   chi-squared: homogeneity of that 2 x k table with dw_chi2()'s pooling
 *       of sparse columns (dw_chi2_counts_pooled(), no continuity
 *       correction).
 *   PSI: over the kept columns (dw_psi_counts()).
 *
 * Verdict of a column (after dw_compare_decide()):
 *   fail          enough samples on both sides, significant after
 *                 Benjamini-Hochberg across the compared columns, and the
 *                 effect size clears its threshold and its noise level
 *                 (dw_drift_decide(), with the two window sizes where
 *                 reference drift has the reference and window sizes; set
 *                 th->eval_alpha with dw_eval_alpha() as for drift);
 *   inconclusive  fewer than min_samples values on either side, or PSI or
 *                 D at or above its threshold without the rest (a
 *                 difference as big as a divergence the samples cannot
 *                 confirm yet);
 *   pass          otherwise.
 * The comparison's verdict is fail if any column fails, else inconclusive
 * if any column is (or no column was compared), else pass. */
#ifndef DRIFTWATCH_COMPARE_H
#define DRIFTWATCH_COMPARE_H

#include "driftwatch/drift.h"
#include "driftwatch/sample.h"
#include "driftwatch/sketch.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum dw_verdict {
    DW_VERDICT_PASS = 0,
    DW_VERDICT_FAIL = 1,
    DW_VERDICT_INCONCLUSIVE = 2,
} dw_verdict;

/* "pass", "fail" or "inconclusive" (the JSON values of /api/v1/compare). */
const char *dw_verdict_name(dw_verdict v);

typedef struct dw_compare_column {
    /* Statistics and decision flags in the shape of reference drift:
     * r.ref is the baseline's column, r.count the smaller of the two sample
     * sizes (so min_samples applies to both sides), r.missing the
     * candidate's missing values, r.p_value the KS or chi-squared p-value,
     * r.drift "diverges". r.quality is zero: quality is a per-version check
     * against the reference, not a comparison. */
    dw_column_result r;
    uint64_t n_baseline, n_candidate; /* non-missing values of each side */
    dw_verdict verdict;               /* set by dw_compare_decide() */
} dw_compare_column;

typedef struct dw_compare_summary {
    dw_verdict verdict;
    size_t compared; /* columns */
    size_t failed, inconclusive, passed;
} dw_compare_summary;

/* True when the two columns share the counter layout: the same column, or
 * the same type and the same bin edges (numeric) or category list
 * (categorical). Versions compared must use such references. */
bool dw_compare_compatible(const dw_ref_column *a, const dw_ref_column *b);

/* Computes the statistics of one column (everything except p_adjusted, the
 * decision flags and the verdict). Returns 0; DW_ERR_EMPTY when either side
 * holds no value (neutral results: D 0, p 1, PSI 0); DW_ERR_INVALID when
 * the layouts differ (dw_compare_compatible()), out neutral. Allocates
 * temporaries for categorical columns only (freed before returning). */
int dw_compare_column_evaluate(const dw_sample *baseline, const dw_sample *candidate,
                               dw_compare_column *out);

/* Applies Benjamini-Hochberg across cols[0..n) and sets the decision flags
 * and verdicts (thresholds th[i * th_stride], as dw_drift_decide()).
 * Writes the counts and the overall verdict to *sum (may be NULL) and
 * returns the overall verdict. */
dw_verdict dw_compare_decide(dw_compare_column *cols, size_t n, const dw_thresholds *th,
                             size_t th_stride, dw_compare_summary *sum);

/* Latency of the candidate against the baseline at quantile q. */
typedef struct dw_latency_compare {
    double q;
    double baseline, candidate; /* the q-quantiles (0 when empty) */
    double ratio;               /* candidate / baseline; 0 when undefined */
    uint64_t n_baseline, n_candidate;
    dw_verdict verdict;
} dw_latency_compare;

/* Compares the q-quantiles of two latency sketches: fail when
 * candidate > max_ratio * baseline (both within the sketches' relative
 * accuracy, so a ratio is known to within about 2 alpha), inconclusive when
 * either side has fewer than min_samples values or the baseline quantile is
 * 0, else pass. Returns 0, DW_ERR_INVALID for q outside [0, 1] or
 * max_ratio <= 0. */
int dw_compare_latency(const dw_sketch *baseline, const dw_sketch *candidate, double q,
                       double max_ratio, uint64_t min_samples, dw_latency_compare *out);

/* The same on two windows' counters of a fixed sketch layout
 * (dw_sketch_layout: the form the engine's panes hold). */
int dw_compare_latency_layout(const dw_sketch_layout *l, const uint64_t *baseline,
                              const uint64_t *candidate, double q, double max_ratio,
                              uint64_t min_samples, dw_latency_compare *out);

#endif

/* Population Stability Index.
 *
 * PSI = sum_i (c_i - r_i) * ln(c_i / r_i) over B buckets, with smoothed
 * proportions p_i = (count_i + 0.5) / (total + 0.5 * B) on both sides
 * (additive "Jeffreys" smoothing: finite for empty buckets, and negligible
 * once a bucket holds a few dozen values). Never inf or NaN; 0 when both
 * sides are empty.
 *
 * Numeric buckets: up to DW_PSI_BUCKETS equal-frequency buckets of the
 * reference, made by grouping the fine bins by cumulative reference count
 * without splitting one: fine bin i goes to group
 * min(B - 1, floor(B * (reference count of bins before i) / total)), bins
 * after the last one with reference mass join the last group; current
 * underflow joins the first bucket and overflow the last
 * (docs/statistics.md has the details).
 * Categorical buckets: each listed category; then the reference "other"
 * bucket if non-empty, which also absorbs all unseen values; otherwise one
 * bucket for all unseen values when there are any. */
#ifndef DRIFTWATCH_PSI_H
#define DRIFTWATCH_PSI_H

#include "driftwatch/sample.h"

#define DW_PSI_BUCKETS 10
#define DW_PSI_SMOOTHING 0.5

/* PSI of the sample against its reference column. Returns 0 or
 * DW_ERR_EMPTY (with *out = 0) when the current sample is empty. */
int dw_psi(const dw_sample *cur, double *out);

/* dw_psi() that also writes the number of buckets it summed over (0 when
 * the current side is empty), which the noise level of PSI depends on. */
int dw_psi_buckets(const dw_sample *cur, double *out, size_t *buckets);

/* PSI from two count vectors of length k (the formula above). */
double dw_psi_counts(const uint64_t *ref, const uint64_t *cur, size_t k);

/* Groups n fine bins into k <= DW_PSI_BUCKETS equal-frequency buckets of
 * ref (the numeric rule above, without under/overflow) and writes the
 * bucket counts of ref and cur into r and c. Returns k (1 when n is 0 or
 * ref is empty). */
size_t dw_psi_group(const uint64_t *ref, const uint64_t *cur, size_t n, uint64_t r[DW_PSI_BUCKETS],
                    uint64_t c[DW_PSI_BUCKETS]);

#endif

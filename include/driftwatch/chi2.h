/* Chi-squared test of homogeneity of the 2 x k table (reference counts vs
 * current counts) over the union of categories, without continuity
 * correction: the same as scipy.stats.chi2_contingency(table,
 * correction=False). Columns where both counts are zero are dropped.
 * Categories: the listed reference categories, the reference "other" bucket,
 * and each unseen current category (tracked names, plus the overflow as one
 * more column). When the reference has a non-empty "other" bucket, unseen
 * values are folded into it (they may be rare training values). */
#ifndef DRIFTWATCH_CHI2_H
#define DRIFTWATCH_CHI2_H

#include "driftwatch/sample.h"

typedef struct dw_chi2_result {
    double statistic;
    int df;         /* (columns kept - 1); 0 means the test is undefined */
    double p_value; /* 1 when df == 0 or a side is empty */
} dw_chi2_result;

/* Columns whose smaller expected count, min(A, B) (a + b) / (A + B), is
 * below this are pooled by dw_chi2() (not by dw_chi2_counts()). */
#define DW_CHI2_MIN_EXPECTED 5

/* The test of the window against its reference, with sparse columns
 * pooled: every column whose smaller expected count is below
 * DW_CHI2_MIN_EXPECTED goes into one pooled column; if that column is
 * itself below the limit it also takes the kept column with the smallest
 * expected count (the first in column order on ties). Then the statistic
 * and p are scipy's chi2_contingency(correction=False) of the pooled table.
 * Returns 0, DW_ERR_INVALID for a numeric column, DW_ERR_EMPTY (statistic
 * 0, p 1) if either side has no values. */
int dw_chi2(const dw_sample *cur, dw_chi2_result *out);

/* The homogeneity test on explicit count rows a[k], b[k], without pooling. */
int dw_chi2_counts(const uint64_t *a, const uint64_t *b, size_t k, dw_chi2_result *out);

/* The homogeneity test on explicit count rows with dw_chi2()'s pooling of
 * sparse columns (two windows compared with each other, compare.h). */
int dw_chi2_counts_pooled(const uint64_t *a, const uint64_t *b, size_t k, dw_chi2_result *out);

#endif

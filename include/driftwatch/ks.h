/* Two-sample Kolmogorov-Smirnov test between a reference column's fine
 * histogram and a binned current sample.
 *
 * D = max |F_ref - F_cur| over the reference bin edges (plus the points just
 * below the minimum and at the maximum, which the under/overflow counts make
 * exact). Because bins are right-closed this equals the raw-sample statistic
 * whenever the current values fall on edges; otherwise it underestimates the
 * raw statistic by at most the largest reference bin mass
 * (docs/statistics.md). The p-value uses the asymptotic Kolmogorov
 * distribution with n_eff = n*m/(n+m). */
#ifndef DRIFTWATCH_KS_H
#define DRIFTWATCH_KS_H

#include "driftwatch/sample.h"

typedef struct dw_ks_result {
    double statistic; /* D in [0, 1] */
    double p_value;   /* in [0, 1]; 1 when either sample is empty */
    double n_eff;     /* n*m/(n+m) */
} dw_ks_result;

/* Computes KS for a numeric column. Returns 0, DW_ERR_INVALID for a
 * categorical column, DW_ERR_EMPTY (result D=0, p=1) if either side has no
 * values. */
int dw_ks(const dw_sample *cur, dw_ks_result *out);

/* Two-sample KS of two count vectors over the same ordered bins (a[k],
 * b[k]): D = max |F_a - F_b| at the right end of every bin, the statistic
 * of the bin-expanded samples; p-value as dw_ks_pvalue(). Returns 0 or
 * DW_ERR_EMPTY (D 0, p 1) when either side is empty. */
int dw_ks_counts(const uint64_t *a, const uint64_t *b, size_t k, dw_ks_result *out);

/* Survival function of the Kolmogorov distribution, P(K > x) for the
 * asymptotic (kstwobign) distribution. */
double dw_kolmogorov_sf(double x);

/* p-value for statistic d and effective sample size n_eff (asymptotic with
 * Stephens' small-sample correction). */
double dw_ks_pvalue(double d, double n_eff);

#endif

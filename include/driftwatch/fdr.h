/* Benjamini-Hochberg false discovery rate control across the columns of one
 * evaluation. */
#ifndef DRIFTWATCH_FDR_H
#define DRIFTWATCH_FDR_H

#include <stddef.h>

/* Writes the BH-adjusted p-values (as statsmodels' multipletests
 * method="fdr_bh": monotone, capped at 1) of p[0..n) into adj[0..n).
 * NaN inputs are treated as 1, values outside [0, 1] are clamped. adj may
 * equal p. Allocates one temporary array of n entries. */
void dw_fdr_bh(const double *p, double *adj, size_t n);

#endif

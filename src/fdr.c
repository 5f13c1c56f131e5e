/* Benjamini-Hochberg step-up adjusted p-values (fdr.h). */
#include "driftwatch/fdr.h"

#include "driftwatch/error.h"

#include <math.h>
#include <stdlib.h>

typedef struct ranked {
    double p;
    size_t idx;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->p < y->p)
        return -1;
    if (x->p > y->p)
        return 1;
    /* Ties in any order give the same adjusted values; the index only makes
     * the sort deterministic. */
    return (x->idx > y->idx) - (x->idx < y->idx);
}

void dw_fdr_bh(const double *p, double *adj, size_t n)
{
    if (n == 0)
        return;
    /* n is the number of columns of one evaluation, bounded by the
     * configured columns, so one allocation per evaluation is fine. */
    ranked *r = dw_malloc(n * sizeof *r);
    for (size_t i = 0; i < n; i++) {
        double v = p[i];
        /* NaN means "no evidence" (1); values outside [0, 1] are clamped so
         * one bad input cannot poison the others' adjustment. */
        if (isnan(v) || v > 1.0)
            v = 1.0;
        else if (v < 0.0)
            v = 0.0;
        r[i].p = v;
        r[i].idx = i;
    }
    qsort(r, n, sizeof *r, cmp_ranked);
    /* Step-up: adj_(j) = min_{l >= j} n / l * p_(l), capped at 1. */
    double run = 1.0;
    for (size_t j = n; j-- > 0;) {
        double v = (double)n / (double)(j + 1) * r[j].p;
        if (v < run)
            run = v;
        adj[r[j].idx] = run;
    }
    free(r);
}

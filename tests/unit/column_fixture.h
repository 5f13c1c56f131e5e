/* Hand-built references, columns and samples shared by the unit tests of
 * the statistics and of what reads a reference (test_chi2.c, test_drift.c,
 * test_histogram.c, test_model.c, test_psi.c, test_quality.c,
 * test_reference.c, test_value.c). Include after cmocka.h. */
#ifndef DW_TEST_COLUMN_FIXTURE_H
#define DW_TEST_COLUMN_FIXTURE_H

#include "driftwatch/reference.h"
#include "driftwatch/sample.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A reference of ncols zeroed columns, for dw_reference_free(). */
static inline dw_reference *dwt_reference_new(size_t ncols)
{
    dw_reference *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->ncols = ncols;
    r->cols = calloc(ncols, sizeof *r->cols);
    assert_non_null(r->cols);
    return r;
}

/* A numeric column with the edges given (nbins bins), no counts. */
static inline dw_ref_column dwt_numeric_col(double *edges, size_t nbins)
{
    return (dw_ref_column){.type = DW_COL_NUMERIC, .nbins = nbins, .edges = edges};
}

/* A categorical column of n categories, their reference counts (NULL:
 * none) and `other` values beyond them; count is left 0. */
static inline dw_ref_column dwt_categorical(char **cats, uint64_t *counts, size_t n, uint64_t other)
{
    return (dw_ref_column){.type = DW_COL_CATEGORICAL,
                           .ncat = n,
                           .categories = cats,
                           .cat_counts = counts,
                           .other_count = other};
}

/* A sample of col: bins[] for its categories, nnew unseen values counted
 * by name (names, counts) and overflow more that were not. */
static inline dw_sample dwt_unseen_sample(const dw_ref_column *col, const uint64_t *bins,
                                          const char *const *names, const uint64_t *counts,
                                          size_t nnew, uint64_t overflow)
{
    return (dw_sample){.ref = col,
                       .bins = bins,
                       .nnew = nnew,
                       .new_counts = counts,
                       .new_names = names,
                       .new_overflow = overflow};
}

#define DWT_MAX_BINS 128

/* A numeric reference column and a sample of it, in one block. */
typedef struct numfix {
    double edges[DWT_MAX_BINS + 1];
    uint64_t counts[DWT_MAX_BINS];
    uint64_t bins[DWT_MAX_BINS + 2];
    dw_ref_column col;
    dw_sample s;
} numfix;

/* nbins unit-wide bins [0, 1], (1, 2], ... holding per_bin reference
 * values each (count = per_bin * nbins); the sample counts into f->bins,
 * all 0. */
static inline void dwt_numeric(numfix *f, size_t nbins, uint64_t per_bin)
{
    assert_true(nbins <= DWT_MAX_BINS);
    memset(f, 0, sizeof *f);
    for (size_t i = 0; i <= nbins; i++)
        f->edges[i] = (double)i;
    for (size_t i = 0; i < nbins; i++)
        f->counts[i] = per_bin;
    f->col.type = DW_COL_NUMERIC;
    f->col.nbins = nbins;
    f->col.edges = f->edges;
    f->col.bin_counts = f->counts;
    f->col.count = per_bin * nbins;
    f->s.ref = &f->col;
    f->s.bins = f->bins;
}

#endif

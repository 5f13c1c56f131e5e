/* Value lookup in a reference column: the numeric bin of a value and the
 * index of a category. These run once per monitored value on the consumer's
 * hot path, so neither allocates.
 *
 * dw_ref_bin() and dw_ref_category() are declared in reference.h (with the
 * right-closed bin rule); this header adds the category hash index that the
 * reference loader builds once per categorical column. */
#ifndef DRIFTWATCH_HISTOGRAM_H
#define DRIFTWATCH_HISTOGRAM_H

#include "driftwatch/reference.h"

#include <stddef.h>

/* dw_ref_bin() returns this for NaN: NaN is not a value of any bin, the
 * caller counts it as missing. -inf gives -1 (underflow), +inf nbins
 * (overflow). */
#define DW_BIN_NAN (-2L)

/* Open-addressing hash index over a column's categories (private layout).
 * Bound: at most DW_MAX_CATEGORIES categories, table size the next power of
 * two >= 2 * ncat, so the load factor stays <= 0.5 and lookups are O(1) on
 * average. */
struct dw_cat_index;

/* Builds the index of col->categories[0..ncat) and stores it in
 * col->cat_index (freeing an index already there). The column owns the
 * index; free it with dw_cat_index_free(col->cat_index) and set the field to
 * NULL. Returns 0, DW_ERR_INVALID for a numeric column or a duplicate
 * category (col->cat_index is then NULL), DW_ERR_LIMIT if ncat >
 * DW_MAX_CATEGORIES. Without an index, dw_ref_category() falls back to a
 * linear scan. */
int dw_cat_index_build(dw_ref_column *col);

/* Frees an index; NULL is a no-op. */
void dw_cat_index_free(struct dw_cat_index *idx);

/* A lookup table that makes dw_ref_bin() O(1) on average: the range
 * [min, max] cut into two equal-width buckets per bin (at most
 * DW_BIN_INDEX_MAX), each remembering the first fine bin it can hold, so a
 * lookup searches the few bins a bucket spans, in a fixed number of
 * branch-free steps per column, instead of binary-searching ~10
 * unpredictable branches (which profiling showed to be a quarter of replay
 * time). The result is always the same as the binary search: a bucket start
 * that floating-point rounding made wrong is detected and the search used. */
#define DW_BIN_INDEX_MAX 16384
struct dw_bin_index;

/* Builds col->bin_index for a numeric column (replacing one there). Returns
 * 0, or DW_ERR_INVALID for a column it does not apply to (categorical,
 * constant, no bins): dw_ref_bin() then searches. */
int dw_bin_index_build(dw_ref_column *col);

/* Frees an index; NULL is a no-op. */
void dw_bin_index_free(struct dw_bin_index *idx);

#endif

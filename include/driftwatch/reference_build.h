/* Building reference statistics from training data (CSV or JSONL, read with
 * table.h): `driftwatch reference build`.
 *
 * Types: a column is numeric if every non-missing cell is a finite number,
 * categorical otherwise (strings, booleans as "true"/"false", and mixed
 * columns). --numeric / --categorical force a type; a non-number in a forced
 * numeric column is an error naming file, line and column. A column with no
 * non-missing value at all is categorical with no categories (its missing
 * rate is still monitored), unless forced numeric, which is an error.
 *
 * Category names are the cell text as written (CSV, JSON strings) or, for
 * JSON numbers, their shortest round-trip form (dw_format_number()).
 *
 * Numeric: count, missing, min, max, mean, std (the sample standard
 * deviation, divisor n - 1; 0 when n == 1) and fine bins, see
 * dw_build_numeric(). Categorical: counts sorted by count (descending, ties by
 * value, bytewise), at most max_categories listed, the rest pooled in
 * other_count.
 *
 * Memory: the build holds every non-missing numeric value in memory as a
 * double (8 bytes; 1,000,000 rows x 20 columns is 160 MB), at most
 * DW_BUILD_MAX_VALUES in total (DW_ERR_LIMIT beyond), and per categorical
 * column at most DW_BUILD_MAX_DISTINCT distinct values; values first seen
 * after that (and values longer than DW_MAX_NAME bytes) are pooled in
 * other_count.
 *
 * Passes: one pass over the input, except for a CSV column that turns out
 * categorical after numbers were seen in it: the input is then read once
 * more so that those numbers are named as written ("007" stays "007"). For
 * that, CSV from stdin is first copied to a temporary file. */
#ifndef DRIFTWATCH_REFERENCE_BUILD_H
#define DRIFTWATCH_REFERENCE_BUILD_H

#include "driftwatch/reference.h"
#include "driftwatch/table.h"

#include <stddef.h>
#include <stdint.h>

#define DW_BUILD_MAX_VALUES 200000000u /* 1.6 GB of doubles */
#define DW_BUILD_MAX_DISTINCT 100000

typedef struct dw_build_options {
    dw_table_format format;     /* DW_TABLE_AUTO: from the file name */
    const char *const *columns; /* columns to keep, in output order; NULL: all */
    size_t ncolumns;
    const char *const *numeric; /* forced numeric */
    size_t nnumeric;
    const char *const *categorical; /* forced categorical */
    size_t ncategorical;
    size_t bins;               /* fine bins per numeric column, 1..DW_MAX_BINS */
    size_t max_categories;     /* listed categories, 0..DW_MAX_CATEGORIES */
    const char *model;         /* may be NULL */
    const char *model_version; /* may be NULL */
    const char *created_at;    /* RFC 3339; NULL: now (UTC) */
    const char *source;        /* NULL: the input path */
} dw_build_options;

/* Defaults: all columns, inferred types, DW_DEFAULT_BINS,
 * DW_DEFAULT_MAX_CATEGORIES, everything else NULL. */
void dw_build_options_init(dw_build_options *o);

/* Reads input ("-" is stdin) and builds the reference. Output columns come
 * in the order of o->columns, else in order of first appearance. Errors: an
 * unreadable or malformed input, an input without data rows (DW_ERR_EMPTY),
 * a name in columns/numeric/categorical that the input does not have
 * (DW_ERR_NOT_FOUND), a column forced both ways, text in a forced numeric
 * column; errbuf names file, line and column where there is one. The
 * caller owns *out (dw_reference_free()). */
int dw_reference_build(const char *input, const dw_build_options *o, dw_reference **out,
                       char *errbuf, size_t errlen);

/* Fills the numeric part of col (count = n, min, max, mean, std, nbins,
 * edges, bin_counts) from values[0..n), n >= 1, all finite; sorts values in
 * place. With d <= bins distinct values every value gets its own point bin
 * and every pair of neighbours a gap bin (reference count 0) for the values
 * strictly between them: edges = {min, v1 = min, below(v2), v2, ...,
 * below(vd), vd} with below(x) the largest double < x (no gap bin where
 * below(v[j]) == v[j-1]; no gap bins at all if 2d - 1 > DW_MAX_BINS), so
 * KS is exact for discrete columns. Otherwise the upper edges are the
 * sorted values at ranks ceil(i*n/bins) (1-based), i = 1..bins, dropping
 * repeats so they strictly increase. Bin counts are the exact training
 * counts per bin by dw_ref_bin(). col->missing and col->name are left
 * alone. Returns 0, DW_ERR_INVALID (n == 0, bins out of range, or
 * statistics that overflow a double). */
int dw_build_numeric(dw_ref_column *col, double *values, size_t n, size_t bins);

/* Fills the categorical part of col (count, ncat, categories, cat_counts,
 * other_count) from n distinct values[i] with counts[i] (copied) plus
 * `pooled` values that go straight to other_count. Returns 0 or
 * DW_ERR_INVALID (duplicate or empty value). */
int dw_build_categorical(dw_ref_column *col, const char *const *values, const uint64_t *counts,
                         size_t n, uint64_t pooled, size_t max_categories);

#endif

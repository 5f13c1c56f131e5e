/* Reference statistics: the training distribution of every monitored column
 * of one model, loaded from and saved to the versioned JSON format described
 * in docs/reference-format.md.
 *
 * The structs are public on purpose: a loaded reference is immutable, and the
 * statistics modules and the window code read its arrays directly on the hot
 * path. Only reference.c and reference_build.c create or modify one.
 *
 * Numeric bins: edges[0..nbins] with edges[0] = min and edges[nbins] = max.
 * Bin 0 is the closed interval [edges[0], edges[1]]; bin i > 0 is the
 * half-open interval (edges[i], edges[i+1]]. So each bin is "right-closed",
 * which makes the cumulative count at edges[i+1] equal to #(x <= edges[i+1]),
 * the empirical CDF that the KS test uses. edges[0] <= edges[1] and edges are
 * strictly increasing from index 1 on (edges[0] == edges[1] is a bin holding
 * only the minimum, which is how discrete columns get one bin per value). */
#ifndef DRIFTWATCH_REFERENCE_H
#define DRIFTWATCH_REFERENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DW_REFERENCE_FORMAT_VERSION 1
/* Default and maximum number of fine bins of a numeric column. */
#define DW_DEFAULT_BINS 1000
#define DW_MAX_BINS 100000
/* Default and maximum number of listed categories; the rest go to "other". */
#define DW_DEFAULT_MAX_CATEGORIES 100
#define DW_MAX_CATEGORIES 10000
/* Longest column name or category value, in bytes. */
#define DW_MAX_NAME 256
/* Most columns in one reference, and the largest reference file read. */
#define DW_REFERENCE_MAX_COLUMNS 4096
#define DW_REFERENCE_MAX_FILE (256u << 20)

typedef enum dw_col_type {
    DW_COL_NUMERIC = 0,
    DW_COL_CATEGORICAL = 1,
} dw_col_type;

typedef struct dw_ref_column {
    char *name; /* e.g. "features.amount" */
    dw_col_type type;
    uint64_t count;   /* non-missing values seen in training */
    uint64_t missing; /* missing values (empty, null, NA, NaN) */

    /* numeric only */
    double min, max, mean, std;
    size_t nbins;         /* >= 1 */
    double *edges;        /* nbins + 1, see the file comment */
    uint64_t *bin_counts; /* nbins, summing to count */

    /* categorical only */
    size_t ncat;                    /* listed categories, most frequent first */
    char **categories;              /* ncat NUL-terminated values */
    uint64_t *cat_counts;           /* ncat */
    uint64_t other_count;           /* values beyond max_categories, pooled */
    struct dw_cat_index *cat_index; /* private hash index for dw_ref_category */
    struct dw_bin_index *bin_index; /* private lookup table for dw_ref_bin, may be NULL */
} dw_ref_column;

typedef struct dw_reference {
    int format_version;  /* DW_REFERENCE_FORMAT_VERSION */
    char *model;         /* may be NULL */
    char *model_version; /* may be NULL */
    char *created_at;    /* RFC 3339, may be NULL */
    char *source;        /* description of the training data, may be NULL */
    uint64_t rows;       /* training rows */
    size_t ncols;
    dw_ref_column *cols; /* ncols */
    char checksum[72];   /* "sha256:<64 hex>" as stored/computed */
} dw_reference;

/* Loads and strictly validates a reference file. On failure returns a
 * negative dw_err, *out is NULL and errbuf holds
 * "<path>: column \"<name>\": <reason>" (or "<path>: <reason>").
 * The caller owns *out and frees it with dw_reference_free(). */
int dw_reference_load(const char *path, dw_reference **out, char *errbuf, size_t errlen);

/* Parses a reference from memory; `name` is used in error messages. */
int dw_reference_parse(const char *name, const char *json, size_t len, dw_reference **out,
                       char *errbuf, size_t errlen);

/* Writes ref to path (atomically: a temporary file in the same directory,
 * fsync, rename), with its checksum. The serialised text is first checked
 * with dw_reference_parse(), so a file that is written can be loaded.
 * ref is not modified. */
int dw_reference_save(const dw_reference *ref, const char *path, char *errbuf, size_t errlen);

/* Serialises ref (with its checksum, as dw_reference_save() writes it) into
 * a NUL-terminated string the caller frees with free(). If checksum is
 * non-NULL it receives "sha256:<hex>" (72 bytes). */
int dw_reference_to_string(const dw_reference *ref, char **out, char checksum[72], char *errbuf,
                           size_t errlen);

/* Index of the column called name, or -1. */
int dw_reference_find(const dw_reference *ref, const char *name);

/* True when no column name holds a dot: the reference was built from flat
 * training data (a CSV header "amount,country"), and its columns also match
 * nested serving fields by their last name (docs/record-format.md). */
bool dw_reference_is_flat(const dw_reference *ref);

/* The column that the input field path (dotted, len bytes, not necessarily
 * NUL-terminated) stands for: the column of exactly that name, else, in a
 * flat reference, the column named like the path's last segment
 * ("features.amount" -> "amount"). -1 if none. Callers that can meet two
 * paths with the same last segment keep the first one they bind. */
int dw_reference_match(const dw_reference *ref, const char *path, size_t len);

/* When ref records a model (or model version) other than model (version;
 * NULL: any), writes a sentence saying so and returns true: a reference
 * copied from another model gives meaningless drift. */
bool dw_reference_mismatch(const dw_reference *ref, const char *model, const char *version,
                           char *buf, size_t len);

/* How many columns of ref no record can fill under the records layout
 * "containers" (objects whose members are columns "<container>.<member>")
 * and "fields" (paths monitored under their own name): a dotted name whose
 * prefix is no container and which is no field. Flat names always count as
 * reachable (top-level fields, or members by last name). *first receives
 * the first such column name, or NULL. */
size_t dw_reference_unreachable(const dw_reference *ref, char *const *containers,
                                size_t ncontainers, char *const *fields, size_t nfields,
                                const char **first);

void dw_reference_free(dw_reference *ref);

/* Bin index of a numeric value: -1 below min (underflow), nbins above max
 * (overflow), else the bin per the right-closed rule above. O(log nbins). */
long dw_ref_bin(const dw_ref_column *col, double x);

/* Index of a category value of length len (not necessarily NUL-terminated)
 * in col->categories, or -1. */
long dw_ref_category(const dw_ref_column *col, const char *value, size_t len);

#endif

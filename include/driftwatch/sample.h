/* A current sample of one column, as counts over its reference column's bins.
 *
 * This is the common currency between whoever counts values (the one-shot
 * `check` command, the streaming windows) and the statistics (ks, psi, chi2,
 * quality, drift). The sample does not own any of its arrays.
 *
 * Numeric columns: bins has ref->nbins + 2 entries: bins[0] counts values
 * below the reference minimum, bins[1 + i] reference bin i,
 * bins[nbins + 1] values above the reference maximum.
 *
 * Categorical columns: bins has ref->ncat entries (the listed categories);
 * values not listed in the reference are "unseen": up to nnew of them are
 * counted by name in new_counts/new_names, the rest in new_overflow. */
#ifndef DRIFTWATCH_SAMPLE_H
#define DRIFTWATCH_SAMPLE_H

#include "driftwatch/reference.h"

#include <stddef.h>
#include <stdint.h>

typedef struct dw_sample {
    const dw_ref_column *ref;
    uint64_t missing;     /* missing values (null, absent, NaN, "", NA) */
    uint64_t type_errors; /* values of the wrong type (text in a numeric column...) */
    const uint64_t *bins; /* see above */
    size_t nnew;
    const uint64_t *new_counts;   /* nnew */
    const char *const *new_names; /* nnew, NUL-terminated */
    uint64_t new_overflow;        /* unseen values not tracked by name */
} dw_sample;

/* Number of entries of dw_sample.bins for ref. */
size_t dw_sample_nbins(const dw_ref_column *ref);

/* Non-missing, correctly typed values in the sample (sum of bins, new counts
 * and new_overflow). */
uint64_t dw_sample_count(const dw_sample *s);

/* Unseen categorical values (sum of new_counts and new_overflow); 0 for numeric. */
uint64_t dw_sample_unseen(const dw_sample *s);

#endif

/* Data-quality comparison of a current sample with its reference column:
 * missing rate, out-of-range rate (numeric values outside [min, max] of the
 * training data), unseen-category rate, and type errors. */
#ifndef DRIFTWATCH_QUALITY_H
#define DRIFTWATCH_QUALITY_H

#include "driftwatch/sample.h"

typedef struct dw_quality {
    uint64_t total;           /* values seen: non-missing + missing + type errors */
    double missing_rate;      /* current missing / total (0 if total == 0) */
    double ref_missing_rate;  /* reference missing / (count + missing) */
    double out_of_range_rate; /* numeric: (under + over) / non-missing */
    double unseen_rate;       /* categorical: unseen / non-missing */
    double type_error_rate;   /* type errors / total */
    uint64_t type_errors;
} dw_quality;

void dw_quality_compute(const dw_sample *cur, dw_quality *out);

#endif

/* Reference performance: the metrics of a model on labelled validation (or
 * training) data, read from a CSV or JSONL table (see table.h), which
 * performance rules compare serving windows with; and its JSON form, a
 * block meant for the reference statistics file.
 *
 * Columns are named as table.h names them (a JSONL record's
 * "prediction": {"score": ...} is the column "prediction.score").
 *
 * Classification: `label` holds the true class and `positive` names the
 * positive class as text (a JSON number 1 reads as "1", true as "true").
 * The predicted class comes from `predicted` when given (compared with the
 * label as text, so multi-class models count accuracy correctly); else
 * from `score` >= `threshold` (positive) or not (the record is correct when
 * that matches label == positive). `score`, when given, is P(positive) and
 * feeds AUC, Brier and ECE.
 * Regression: `label` and `predicted` are numbers.
 *
 * A row whose label (or needed prediction) is missing, or of the wrong
 * type, is skipped and counted; it never stops the count. */
#ifndef DRIFTWATCH_PERF_REFERENCE_H
#define DRIFTWATCH_PERF_REFERENCE_H

#include "driftwatch/perf.h"
#include "driftwatch/table.h"

#include <jansson.h>
#include <stdint.h>

typedef struct dw_perf_columns {
    const char *label;     /* required */
    const char *predicted; /* regression: required; classification: optional */
    const char *score;     /* classification: optional P(positive) */
    const char *positive;  /* classification: required, the positive class as text */
    double threshold;      /* classification without `predicted`: score >= threshold */
} dw_perf_columns;

/* Counts every row of t into c (dw_perf_width(p) counters, not cleared
 * first). *skipped (may be NULL) gets the rows that could not be counted.
 * Errors: DW_ERR_INVALID for missing column names (a sentence in errbuf),
 * DW_ERR_NOT_FOUND when a named column never appears in the table, or the
 * table's read error. */
int dw_perf_count_table(const dw_perf *p, const dw_perf_columns *cols, dw_table *t, uint64_t *c,
                        uint64_t *skipped, char *errbuf, size_t errlen);

/* The reference block: {"kind": "classification"|"regression", "n": N,
 * "<metric>": value, ...} with the defined metrics of r (undefined ones are
 * left out). New reference; the caller owns it. */
json_t *dw_perf_reference_to_json(const dw_perf_result *r);

/* Reads a block written by dw_perf_reference_to_json(): ref[m] gets each
 * metric, NaN where absent; *n the record count. DW_ERR_PARSE with a
 * sentence for a malformed block (unknown metric, value not a number,
 * metric of the other kind). */
int dw_perf_reference_from_json(const json_t *block, dw_perf_kind *kind,
                                double ref[DW_PERF_METRIC_COUNT], uint64_t *n, char *errbuf,
                                size_t errlen);

/* The reference values of a model's performance block: ref[m] of every
 * metric counted from performance.reference_data (all NaN without it),
 * *n (may be NULL) its labelled rows. Errors: the table's (a sentence in
 * errbuf), DW_ERR_EMPTY when no row could be counted. */
struct dw_perf_config;
int dw_perf_reference_values(const struct dw_perf_config *pc, double ref[DW_PERF_METRIC_COUNT],
                             uint64_t *n, char *errbuf, size_t errlen);

#endif

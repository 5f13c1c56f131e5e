/* One-shot comparison of a data file (CSV or JSONL, e.g. a sample of serving
 * logs or a feature pipeline's output) with a reference: the engine behind
 * `driftwatch check`, a CI gate against training/serving skew. */
#ifndef DRIFTWATCH_CHECK_H
#define DRIFTWATCH_CHECK_H

#include "driftwatch/drift.h"
#include "driftwatch/reference.h"
#include "driftwatch/table.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* Unseen categories tracked by name per column; more are pooled. */
#define DW_CHECK_MAX_NEW_CATEGORIES 1000

typedef struct dw_check_override {
    const char *column; /* full column name */
    dw_thresholds th;   /* complete thresholds for that column */
} dw_check_override;

typedef struct dw_check_options {
    dw_table_format format;   /* DW_TABLE_AUTO: by extension */
    dw_thresholds thresholds; /* for every column without an override */
    const dw_check_override *overrides;
    size_t noverrides;
    /* With version: only rows whose column version_field (a table column
     * name, e.g. "model_version") equals version count (two versions of
     * one file, `check --versions`); the others are skipped. */
    const char *version_field;
    const char *version;
} dw_check_options;

typedef struct dw_check_report dw_check_report;

/* Reads input (a path, or "-" for stdin) and compares every reference
 * column. Errors (unreadable file, malformed row, an override naming no
 * reference column, an input without any row) are one sentence naming the
 * file, line or column. The caller frees *out with dw_check_report_free(). */
int dw_check_run(const dw_reference *ref, const char *input, const dw_check_options *opts,
                 dw_check_report **out, char *errbuf, size_t errlen);

/* Number of reference columns that drifted / have a quality issue. */
size_t dw_check_drifted(const dw_check_report *r);
size_t dw_check_quality_issues(const dw_check_report *r);

/* Reference columns that no input column matched (all their rows count as
 * missing). */
size_t dw_check_absent_columns(const dw_check_report *r);

/* The input column that reference column j was matched to ("features.amount"
 * for a flat reference's "amount"), or NULL if none. Owned by r. */
const char *dw_check_input_column(const dw_check_report *r, size_t j);

/* When more than half of the reference columns never occur in the input
 * (names that do not match: a reference built with other column names),
 * writes a sentence saying which, what the input holds instead and how
 * columns are matched, and returns true. */
bool dw_check_absent_warning(const dw_check_report *r, char *buf, size_t len);

/* The per-column results (ncols = ref->ncols, in reference order). */
const dw_column_result *dw_check_results(const dw_check_report *r, size_t *ncols);

/* The counts of reference column j as a sample (views into r). */
void dw_check_sample(const dw_check_report *r, size_t j, dw_sample *out);

/* Rows counted (after the version filter). */
uint64_t dw_check_rows(const dw_check_report *r);

/* The documented JSON report (docs/check.md). Its per-column results are
 * the status snapshot's type (dw_column_result) and their test objects and
 * quality reasons come from status.c's renderers, as in GET /api/v1/status.
 * New reference. */
json_t *dw_check_report_json(const dw_check_report *r);

/* The aligned table for people. */
void dw_check_report_print(const dw_check_report *r, FILE *f);

void dw_check_report_free(dw_check_report *r);

#endif

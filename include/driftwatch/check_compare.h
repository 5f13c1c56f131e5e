/* Two samples of one model compared offline (`driftwatch check --baseline
 * A --candidate B`, or `--versions A,B` in one file), with the comparison
 * of the live canary gate (compare.h), and the JSON both give a compared
 * column. */
#ifndef DRIFTWATCH_CHECK_COMPARE_H
#define DRIFTWATCH_CHECK_COMPARE_H

#include "driftwatch/check.h"
#include "driftwatch/compare.h"

#include <jansson.h>
#include <stdio.h>

/* {"name", "type", "verdict", "divergent", "baseline_samples",
 * "candidate_samples", "tests": {"ks": {statistic, p_value, p_adjusted,
 * n_eff} | "chi2": {statistic, df, p_value, p_adjusted}, "psi"}}; name
 * NULL: the name of cc->r.ref. New reference. */
json_t *dw_compare_column_json(const dw_compare_column *cc, const char *name);

/* {"compared", "failed", "inconclusive", "passed"}. New reference. */
json_t *dw_compare_summary_json(const dw_compare_summary *s);

/* One sentence for the verdict of cols[0..n) ("1 of 3 columns diverge:
 * prediction.score") into buf. Returns buf. */
char *dw_compare_reason(const dw_compare_column *cols, size_t n, const dw_compare_summary *sum,
                        char *buf, size_t len);

/* Compares every column of candidate with baseline (two reports over the
 * same reference) at thresholds th (every column). *doc receives the
 * verdict document (the shape of GET /api/v1/compare, every column, with
 * "baseline" and "candidate" the given names); returns the verdict. */
dw_verdict dw_check_compare(const dw_check_report *baseline, const dw_check_report *candidate,
                            const dw_thresholds *th, const char *baseline_name,
                            const char *candidate_name, json_t **doc);

/* The verdict document as an aligned table for people. */
void dw_check_compare_print(const json_t *doc, FILE *f);

#endif

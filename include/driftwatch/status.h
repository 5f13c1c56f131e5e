/* The engine's status snapshot: the typed schema of what the engine
 * publishes for other threads (GET /api/v1/status, /ui, /metrics). The
 * engine fills one dw_status after evaluations (src/engine_docs.c) and
 * hands out references to it; readers never see it change.
 *
 * Adding a field (one place each):
 *   1. the field, here, with a comment saying its unit and "absent" value;
 *   2. fill it in src/engine_docs.c (dw_eng_publish_snapshot(), the only
 *      writer; copy strings, the snapshot outlives a reload), or for the
 *      latency and comparison fields in src/engine_canary.c, which it calls;
 *   3. its JSON in src/status.c (dw_status_json(), the only place that
 *      renders the snapshot as JSON) and docs/api.md;
 *   4. a metric, if it is one: a row in the table of per-cell gauges in
 *      src/metrics.c (cell_gauges[], a getter per row) or a family beside
 *      alerts_firing() there, and docs/api.md;
 *   5. the UI reads the struct directly (src/ui.c).
 * Free what you allocated in free_model() (src/status.c).
 *
 * Threads: the engine's thread builds a snapshot; dw_engine_status() gives
 * any thread its own reference, dropped with dw_status_release(). A
 * snapshot is immutable once published. */
#ifndef DRIFTWATCH_STATUS_H
#define DRIFTWATCH_STATUS_H

#include "driftwatch/alert.h"
#include "driftwatch/compare.h"
#include "driftwatch/drift.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Display histogram of one column: a coarse grid a person can read
 * (20 equal-width bins over the training range plus below/above for
 * numbers; the top categories plus "(other)" and "(new)" for categories).
 * reference[i] and current[i] are fractions of each side's total. */
typedef struct dw_status_hist {
    size_t n;
    char **labels; /* n strings */
    double *reference, *current;
} dw_status_hist;

/* One point of the recent PSI history (psi NaN when not finite). */
typedef struct dw_status_point {
    int64_t at_ms; /* window end of the evaluation */
    double psi;
} dw_status_point;

/* One column in one window. */
typedef struct dw_status_cell {
    /* result holds the latest evaluation; false before the first one (then
     * only the states, histogram, new categories and history are shown). */
    bool evaluated;
    dw_column_result result; /* result.ref is NULL (the reference may be gone) */
    dw_alert_state state;    /* distribution alert */
    dw_alert_state quality_state;
    dw_status_hist histogram;
    size_t nnew;
    char **new_categories; /* unseen categories, most frequent first */
    size_t nhistory;
    dw_status_point *history; /* oldest first */
} dw_status_cell;

/* One latency SLO rule (models[].latency.slos[]) that applies to a
 * version's window. */
typedef struct dw_status_slo {
    char *name;
    double quantile; /* 0..1 */
    double max;      /* in the latency unit */
    double value;    /* the quantile at the latest evaluation; NaN: not evaluated */
    dw_alert_state state;
} dw_status_slo;

/* Latency of one version in one window (models[].latency, src/engine_canary.c). */
typedef struct dw_status_latency {
    char *field, *unit; /* the record field; "ms", "s" or "us" */
    double relative_error;
    uint64_t samples; /* latency values in the window (0 before any) */
    size_t nquantiles;
    double *quantiles; /* nquantiles levels, 0..1, in the configuration's order */
    double *values;    /* nquantiles values in unit; NaN: no value yet */
    size_t nslos;
    dw_status_slo *slos;
} dw_status_latency;

typedef struct dw_status_window {
    char *name;
    int64_t length_ms, slide_ms;
    bool evaluated;             /* evaluated at least once */
    int64_t start_ms;           /* of the window at its latest evaluation (with evaluated) */
    int64_t end_ms;             /* its latest evaluation (with evaluated) */
    dw_status_latency *latency; /* NULL: the model has no latency: block */
} dw_status_window;

typedef struct dw_status_column {
    char *name;
    dw_col_type type;
    uint64_t reference_samples;
    dw_status_cell *cells; /* one per window of the model, in its order */
} dw_status_column;

/* One version of one models[] entry. */
typedef struct dw_status_model {
    char *model;
    char *version; /* NULL: records without a version */
    char *reference_path, *reference_checksum;
    uint64_t reference_rows;
    size_t nwindows;
    dw_status_window *windows;
    size_t ncolumns;
    dw_status_column *columns;
} dw_status_model;

/* One compared column of a comparison (compare.h). */
typedef struct dw_status_compare_column {
    char *name;
    dw_compare_column c;  /* c.r.ref is NULL (the reference may be gone) */
    dw_alert_state state; /* its divergence alert */
} dw_status_compare_column;

/* The latency gate of a comparison (compare.latency). */
typedef struct dw_status_compare_latency {
    dw_latency_compare cmp; /* quantile, both values, ratio, samples, verdict */
    double max_ratio;
    double relative_error;
    char *unit;
} dw_status_compare_latency;

/* A candidate version's window against the baseline version's window over
 * the same event-time span (models[].compare, src/engine_canary.c). */
typedef struct dw_status_comparison {
    char *model;
    char *baseline;  /* "" for records without a version */
    char *candidate; /* NULL: records without a version */
    char *window;
    int64_t start_ms, end_ms;
    dw_verdict verdict;         /* the columns' verdict with the latency gate's */
    char *reason;               /* one sentence for the verdict */
    dw_compare_summary summary; /* the columns alone */
    dw_thresholds thresholds;   /* compare.thresholds (alpha, psi, ks, min_samples used) */
    size_t ncolumns;
    dw_status_compare_column *columns;  /* failing, then inconclusive, then passing */
    dw_status_compare_latency *latency; /* NULL: no latency gate */
} dw_status_comparison;

typedef struct dw_status {
    int64_t watermark_ms; /* INT64_MIN before any record */
    int64_t max_event_ms; /* INT64_MIN before any record */
    size_t nmodels;
    dw_status_model *models;
    size_t ncomparisons; /* in the configuration's model and window order */
    dw_status_comparison *comparisons;
    struct dw_status_perf *perf; /* labels and performance (status_perf.h); NULL without labels */
    int refs; /* dw_engine_status() / dw_status_release(); 0 for one on the stack */
} dw_status;

/* A new empty snapshot (no models, no watermark) with one reference. */
dw_status *dw_status_new(void);

/* Drops a reference; the last one frees the snapshot. NULL is a no-op. */
void dw_status_release(dw_status *s);

/* Takes another reference (any thread). Returns s. */
dw_status *dw_status_retain(dw_status *s);

/* The engine's part of the status document of GET /api/v1/status
 * (docs/api.md): "version", "watermark", "max_event_time", "models",
 * "comparisons" and, with labels, "performance". A new JSON object the
 * caller owns. */
json_t *dw_status_json(const dw_status *s);

/* One element of "comparisons" (also the body of GET /api/v1/compare);
 * all_columns false leaves out the passing columns. New reference. */
json_t *dw_status_comparison_json(const dw_status_comparison *c, bool all_columns);

/* The key of latency quantile q in windows[].latency ("p50", "p99_9") into
 * buf. Returns buf. */
char *dw_status_quantile_key(double q, char *buf, size_t len);

/* Static name of a column type: "numeric" or "categorical". */
const char *dw_status_col_type_name(dw_col_type t);

/* A JSON number for x, or null when x is not finite (shared by every
 * document that prints statistics). New reference. */
json_t *dw_json_number(double x);

/* A JSON RFC 3339 string for ms (the one formatter, timestamp.h). New
 * reference. */
json_t *dw_json_time(int64_t ms);

/* A JSON array of the n strings of v. New reference. */
json_t *dw_json_strings(char *const *v, size_t n);

/* A column result (dw_column_result, the type of a status cell's result
 * and of `driftwatch check`'s per-column results) is rendered as JSON
 * here only; the status, notification and check documents pick what they
 * show of it. */

typedef enum dw_status_test { DW_STATUS_TEST_KS, DW_STATUS_TEST_CHI2 } dw_status_test;

/* Members of a test object beside "statistic", ("df",) "p_value". */
#define DW_STATUS_TEST_P_ADJUSTED 1u /* "p_adjusted": status and notifications */
#define DW_STATUS_TEST_CRITICAL 2u   /* "critical" (KS only): check --json */
#define DW_STATUS_TEST_N_EFF 4u      /* "n_eff" (KS only): version comparisons */

/* The object of test t of r with the members extra asks for, or NULL when
 * r has no such test. New reference. */
json_t *dw_status_test_json(const dw_column_result *r, dw_status_test t, unsigned extra);

/* A column result's tests ({"ks": {...}, "chi2": {...}, "psi": x}) and
 * quality rates as the status and notification documents show them
 * (docs/api.md, docs/alerts.md). New references. */
json_t *dw_status_tests_json(const dw_column_result *r);
json_t *dw_status_quality_json(const dw_column_result *r);

/* Thresholds as documents show them: {"alpha", "psi", "ks", "min_samples"}
 * and, with quality, "missing_rate_delta", "type_error_rate",
 * "out_of_range_rate", "unseen_rate" (check --json). New reference. */
json_t *dw_status_thresholds_json(const dw_thresholds *t, bool quality);

/* The names of r's quality_reasons bits ("missing", "type_errors",
 * "out_of_range", "unseen") as a JSON array. New reference. */
json_t *dw_status_quality_reasons_json(const dw_column_result *r);

#endif

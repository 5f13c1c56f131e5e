/* The engine's status snapshot: the typed schema of what the engine
 * publishes for other threads (GET /api/v1/status, /ui, /metrics). The
 * engine fills one dw_status after evaluations (src/engine_docs.c) and
 * hands out references to it; readers never see it change.
 *
 * Adding a field (one place each):
 *   1. the field, here, with a comment saying its unit and "absent" value;
 *   2. fill it in src/engine_docs.c (dw_eng_publish_snapshot(), the only
 *      writer; copy strings, the snapshot outlives a reload);
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

typedef struct dw_status_window {
    char *name;
    int64_t length_ms, slide_ms;
    bool evaluated;   /* evaluated at least once */
    int64_t start_ms; /* of the window at its latest evaluation (with evaluated) */
    int64_t end_ms;   /* its latest evaluation (with evaluated) */
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

typedef struct dw_status {
    int64_t watermark_ms; /* INT64_MIN before any record */
    int64_t max_event_ms; /* INT64_MIN before any record */
    size_t nmodels;
    dw_status_model *models;
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
 * (docs/api.md): "version", "watermark", "max_event_time", "models". A new
 * JSON object the caller owns. */
json_t *dw_status_json(const dw_status *s);

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

/* A column result's tests ({"ks": {...}, "chi2": {...}, "psi": x}) and
 * quality rates as the status and notification documents show them
 * (docs/api.md, docs/alerts.md). New references. */
json_t *dw_status_tests_json(const dw_column_result *r);
json_t *dw_status_quality_json(const dw_column_result *r);

#endif

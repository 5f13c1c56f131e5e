/* The performance part of the engine's status snapshot (status.h; issue
 * 14, docs/performance.md): the label join's counters and, per model
 * version and window, the latest final and provisional results, rule
 * states and recent final windows. Filled by src/engine_perf.c (engine
 * thread), rendered as JSON by src/status_perf.c, read by /metrics and /ui.
 * Immutable once published, like the rest of the snapshot. */
#ifndef DRIFTWATCH_STATUS_PERF_H
#define DRIFTWATCH_STATUS_PERF_H

#include "driftwatch/alert.h"
#include "driftwatch/cbpe.h"
#include "driftwatch/label_join.h"
#include "driftwatch/perf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A window's result: realised metrics from joined labels and, with
 * has_estimate, the estimate from every prediction's score. */
typedef struct dw_status_perf_result {
    bool present; /* false: none (the other fields are unset) */
    bool provisional;
    int64_t start_ms, end_ms;
    dw_perf_result realised;
    bool has_estimate;
    dw_cbpe_result estimated;
} dw_status_perf_result;

typedef struct dw_status_perf_rule {
    dw_perf_metric metric;
    double reference, margin; /* reference NaN: not known */
    dw_alert_state state;
} dw_status_perf_rule;

/* One final window, for the history. Metrics of the other kind are NaN. */
typedef struct dw_status_perf_point {
    int64_t end_ms;
    uint64_t labelled, unlabelled;
    double m[DW_PERF_METRIC_COUNT];
    double est_accuracy, est_auc; /* NaN without an estimate */
} dw_status_perf_point;

typedef struct dw_status_perf_window {
    char *name;
    dw_status_perf_result final, provisional;
    size_t nrules;
    dw_status_perf_rule *rules;
    uint64_t dropped; /* outcomes for panes the window no longer held */
    size_t nhistory;
    dw_status_perf_point *history; /* oldest first */
} dw_status_perf_window;

typedef struct dw_status_perf_model {
    char *model;
    char *version; /* NULL: records without a version */
    dw_perf_kind kind;
    bool estimate; /* the windows carry estimates */
    size_t nwindows;
    dw_status_perf_window *windows;
} dw_status_perf_model;

typedef struct dw_status_perf {
    dw_join_stats join;
    uint64_t predictions_without_key, labels_without_key, labels_without_value;
    uint64_t memory_limit_bytes;
    int64_t max_delay_ms;
    double coverage;   /* NaN before any prediction left the join */
    double delay_s[3]; /* label delay quantiles 0.5, 0.9, 0.99 in seconds (NaN: none) */
    size_t nmodels;
    dw_status_perf_model *models;
} dw_status_perf;

/* The quantiles delay_s[] holds, and their names in JSON and metrics. */
extern const double dw_status_perf_quantiles[3];
extern const char *const dw_status_perf_quantile_names[3];

/* The "performance" member of GET /api/v1/status (docs/api.md). New
 * reference. */
json_t *dw_status_perf_json(const dw_status_perf *p);

/* Frees p and everything it owns; NULL is a no-op. */
void dw_status_perf_free(dw_status_perf *p);

/* One join counter by its name in JSON and metrics ("matched", ...): the
 * table of the status document's labels counters. */
typedef struct dw_status_perf_counter {
    const char *name;
    uint64_t value;
} dw_status_perf_counter;
#define DW_STATUS_PERF_NCOUNTERS 15
void dw_status_perf_counters(const dw_status_perf *p,
                             dw_status_perf_counter out[DW_STATUS_PERF_NCOUNTERS]);

#endif

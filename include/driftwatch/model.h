/* The live state of one monitored (model, version): its reference, the
 * counter layout of its columns, one sliding window per configured window,
 * the unseen-category slots, the alert state of every (column, window, kind)
 * and the latest evaluation results.
 *
 * Counter layout of one column inside a pane (offset `off`):
 *   numeric:     [missing, type_error, under, bin_0 .. bin_{k-1}, over]
 *   categorical: [missing, type_error, cat_0 .. cat_{m-1},
 *                 new_0 .. new_{K-1}, new_overflow]
 * where K = max_new_categories. So a dw_sample is a view into a window sum
 * and sliding a window is plain vector arithmetic.
 *
 * Single writer (the consumer thread). */
#ifndef DRIFTWATCH_MODEL_H
#define DRIFTWATCH_MODEL_H

#include "driftwatch/alert.h"
#include "driftwatch/drift.h"
#include "driftwatch/reference.h"
#include "driftwatch/value.h"
#include "driftwatch/window.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DW_MAX_WINDOWS 16
/* Upper bound of unseen categories tracked by name per column. */
#define DW_MAX_NEW_CATEGORIES 1024

typedef struct dw_window_spec {
    const char *name;
    int64_t length_ms, slide_ms;
} dw_window_spec;

typedef struct dw_model_spec {
    const char *name;
    const char *version;                        /* NULL: records without a version */
    const dw_reference *ref;                    /* borrowed, must outlive the model */
    const dw_thresholds *const *col_thresholds; /* ref->ncols pointers, borrowed */
    const bool *col_ignored;                    /* ref->ncols, may be NULL */
    const dw_window_spec *windows;
    size_t nwindows; /* 1..DW_MAX_WINDOWS */
    int64_t lateness_ms;
    size_t max_new_categories;  /* K, 0..DW_MAX_NEW_CATEGORIES */
    dw_alert_rule alert;        /* alerts.for and alerts.keep_firing_for */
    double clear_psi, clear_ks; /* hysteresis levels */
    /* Counters after the columns' (a latency sketch, sketch.h's fixed
     * layout): they slide, merge and travel in deltas like the others;
     * dw_model_extra_offset() says where they start. */
    size_t extra_width;
} dw_model_spec;

typedef struct dw_model dw_model;

/* Creates the state. Copies what it needs from spec except the borrowed
 * pointers noted above. Returns NULL on an invalid spec (window sizes). */
dw_model *dw_model_new(const dw_model_spec *spec);
void dw_model_free(dw_model *m);

/* Bytes dw_model_new(spec) would allocate (window rings and per-column
 * state; the reference is borrowed and not counted). Allocates nothing. */
size_t dw_model_memory(const dw_model_spec *spec);

/* Applies new thresholds and alert settings (a configuration reload) while
 * keeping the window state. Same ownership rules as dw_model_spec; the
 * reference and windows must be the ones the model was created with. */
void dw_model_set_params(dw_model *m, const dw_thresholds *const *col_thresholds,
                         const bool *col_ignored, const dw_alert_rule *alert, double clear_psi,
                         double clear_ks);

const char *dw_model_name(const dw_model *m);
const char *dw_model_version(const dw_model *m);
const dw_reference *dw_model_reference(const dw_model *m);
size_t dw_model_nwindows(const dw_model *m);
dw_window *dw_model_window(dw_model *m, size_t wi);
const char *dw_model_window_name(const dw_model *m, size_t wi);

/* Result of classifying one value of column col. */
typedef enum dw_slot_status {
    DW_SLOT_OK = 0,
    DW_SLOT_MISSING,
    DW_SLOT_TYPE_ERROR,
} dw_slot_status;

/* The counter index (within a pane) that value v of column col increments,
 * allocating an unseen-category slot if needed. Never allocates memory. */
size_t dw_model_slot(dw_model *m, size_t col, const dw_value *v, dw_slot_status *status);

/* dw_model_slot() of the number x in numeric column col, without a
 * dw_value (the record path's common case): the same counter. */
size_t dw_model_number_slot(const dw_model *m, size_t col, double x);

/* dw_model_slot() of the text s[0..len) (unescaped) in categorical column
 * col, without a dw_value: the same counter and status. */
size_t dw_model_text_slot(dw_model *m, size_t col, const char *s, size_t len,
                          dw_slot_status *status);

/* Counter index of "missing" for column col (used for absent fields). */
size_t dw_model_missing_slot(const dw_model *m, size_t col);

/* Adds 1 to each counter in slots[0..n) in the pane of every window holding
 * event time t_ms. Returns 0; DW_ERR_STATE if t is beyond the panes some
 * window holds open (the caller must advance time first, nothing was
 * added); DW_ERR_LIMIT if some window's pane for t closed (a late record). */
int dw_model_add(dw_model *m, int64_t t_ms, const size_t *slots, size_t n);

/* True (once) when an add since the last call moved a window's clock
 * back: an older record, before the first pane closed, made an earlier
 * pane the next to close. A caller caching the next pane end
 * (dw_window_next_end()) must look again: until it does, panes the
 * watermark already passed stay open and the ring may refuse newer
 * records as ahead. */
bool dw_model_clock_moved_back(dw_model *m);

/* Evaluates window wi (after the caller closed a pane of it): computes the
 * statistics of every non-ignored column, applies BH and the decision, and
 * steps the alert state machines at event time now_ms. Besides the window,
 * its newest 1, 2, 4, ... closed panes (shorter than the window, at most
 * 32) are tested as their own BH families, so a change younger than the
 * window is not diluted by the older panes: a column drifts when the
 * window or one of these segments is flagged (dw_column_result
 * recent_panes says which). The column's distribution tests (the window
 * and every segment with at least min_samples values) share its
 * eval_alpha (dw_column_result tests); a segment whose own missing or
 * type-error rate is flagged is an outage, not drift. A firing alert
 * resolves only when the window and every segment are clear (not
 * significant, or below the clear levels). res receives
 * ref->ncols results (ignored columns have count 0 and drift false);
 * events receives, per column, the distribution event in [2*col] and the
 * quality event in [2*col+1]. Frees unseen-category slots that no window
 * counts any more. Returns the number of drifting columns. */
size_t dw_model_evaluate(dw_model *m, size_t wi, int64_t now_ms, dw_column_result *res,
                         dw_alert_event *events);

/* Alert state of (col, window, kind) where kind 0 = distribution,
 * 1 = quality. */
const dw_alert *dw_model_alert(const dw_model *m, size_t col, size_t wi, int kind);

/* Evaluations remembered per (column, window) for the status page. */
#define DW_MODEL_HISTORY 60

/* The result of the last evaluation of (col, window wi), or NULL before
 * the first one. */
const dw_column_result *dw_model_last_result(const dw_model *m, size_t wi, size_t col);

/* End time of the last evaluation of window wi (INT64_MIN before it). */
int64_t dw_model_last_evaluated(const dw_model *m, size_t wi);

/* Copies up to max of the most recent evaluations of (col, wi), oldest
 * first: their window end times and PSI values. Returns how many. */
size_t dw_model_history(const dw_model *m, size_t wi, size_t col, int64_t *t, double *psi,
                        size_t max);

/* Records that a reminder of the firing alert (col, wi, kind) was sent at
 * event time now_ms. */
void dw_model_alert_notified(dw_model *m, size_t col, size_t wi, int kind, int64_t now_ms);

/* Marks (col, wi, kind) firing since started_ms, as a previous run left it
 * (see dw_engine_restore_alerts()), so its resolve is sent when the data
 * recovers. */
void dw_model_alert_restore(dw_model *m, size_t col, size_t wi, int kind, int64_t started_ms,
                            int64_t notified_ms);

/* The current sample of column col in window wi (a view into the window's
 * sum; valid until the next change of the window). */
void dw_model_sample(const dw_model *m, size_t wi, size_t col, dw_sample *out);

/* ---- state deltas (engine.h, "State on Kafka") ---- */

/* Counters per pane (the layout above). */
size_t dw_model_width(const dw_model *m);

/* The first of the spec's extra_width counters in a pane (the columns'
 * width). */
size_t dw_model_extra_offset(const dw_model *m);

/* Adds counts[i] to counter slots[i] (i < n) in the pane of every window
 * holding event time t_ms: another replica's counts, or this replica's from
 * before a restart. Same returns as dw_model_add(); nothing is added unless
 * it returns 0. Slots beyond the layout are ignored. */
int dw_model_add_counts(dw_model *m, int64_t t_ms, const uint32_t *slots, const uint32_t *counts,
                        size_t n);

/* When slot is one of the unseen-category slots of a categorical column:
 * that column in *col and the category's name ("" if the slot is free).
 * NULL for every other counter (including the overflow counter), whose
 * meaning depends only on the reference. The name is owned by the model
 * and valid until the next evaluation. */
const char *dw_model_new_category(const dw_model *m, size_t slot, size_t *col);

/* Per counter (dw_model_width() bytes): non-zero exactly at the
 * unseen-category slots, the counters dw_model_new_category() may name. So
 * a delta's encoder tests a counter with one load. Owned by the model. */
const uint8_t *dw_model_new_category_map(const dw_model *m);

/* True when some unseen-category slot holds a name now. */
bool dw_model_has_new_categories(const dw_model *m);

/* The counter of unseen category name/len in column col (allocating a
 * slot, or the overflow counter when none is free). */
size_t dw_model_category_slot(dw_model *m, size_t col, const char *name, size_t len);

#endif

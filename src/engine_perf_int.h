/* Performance from delayed labels inside the engine (src/engine_perf.c):
 * label routing, the join, per-window performance panes, performance
 * alerts and their status document. Internal to src/engine*.c. */
#ifndef DW_ENGINE_PERF_INT_H
#define DW_ENGINE_PERF_INT_H

#include "engine_int.h"

#include "driftwatch/label_join.h"

/* Final windows kept for the status document, per window. */
#define DW_ENG_PERF_HISTORY 64

/* Sets e->perf (NULL without a labels section). Errors name the file. */
int dw_eng_perf_new(dw_engine *e, char *errbuf, size_t errlen);
void dw_eng_perf_free(dw_engine *e);

/* Whether rec (from src) is a label record: from a labels-only topic, or
 * with the label field and no prediction field (docs/performance.md). */
bool dw_eng_perf_is_label(dw_engine *e, const source *src, const dw_scan_record *rec);
/* Offers a label record to the join; *t gets its event time. DW_ERR_PARSE
 * for a bad or missing timestamp (the caller rejects the record). */
int dw_eng_perf_label(dw_engine *e, const dw_scan_record *rec, int64_t fallback_ts, int64_t *t);
/* A prediction of model midx, version state sidx, applied at t. */
void dw_eng_perf_prediction(dw_engine *e, size_t midx, size_t sidx, const dw_scan_record *rec,
                            int64_t t);
/* The join's callback (ctx: the dw_eng_perf). */
void dw_eng_perf_emit(void *ctx, dw_join_outcome outcome, const dw_join_pred *pred,
                      const dw_join_label *label);
/* Moves the join's clock to the watermark, finalises the windows whose
 * labels can no longer come and steps the performance alerts; final: end
 * of input (every waiting prediction expires, every window is final). */
void dw_eng_perf_advance(dw_engine *e, int64_t wm, bool final);
/* Version state `from` of model midx takes slot `to` (the version in
 * `to` was dropped: its performance state goes with it). */
void dw_eng_perf_move_version(dw_engine *e, size_t midx, size_t to, size_t from);
/* dw_engine_labels_complete() was called. */
bool dw_eng_perf_input_complete(const dw_engine *e);
/* Treat the records of the next messages as labels (replay's label file). */
void dw_eng_perf_force_label(dw_engine *e, bool on);
/* Whether a performance rule fires in window wi of (model, version). */
bool dw_eng_perf_firing(const dw_engine *e, size_t midx, size_t sidx, size_t wi);
/* The reference value of rule k of model midx (inline or reference_data). */
double dw_eng_perf_rule_reference(const dw_eng_perf *p, size_t midx, size_t rule);
/* Alert states across restarts (dw_engine_alert_state()): the firing
 * performance rules of version state sidx of model midx appended to arr
 * (column "performance.<metric>"), and one such entry restored; ignored
 * when the model has no rule of that metric. */
void dw_eng_perf_alert_state(const dw_engine *e, size_t midx, size_t sidx, json_t *arr);
void dw_eng_perf_restore(dw_engine *e, size_t midx, size_t sidx, const char *column, size_t wi,
                         int64_t started_ms, int64_t notified_ms);
/* The performance part of the status snapshot (status_perf.h); the caller
 * owns it (normally a dw_status's perf member). */
struct dw_status_perf *dw_eng_perf_status(dw_engine *e);

#endif

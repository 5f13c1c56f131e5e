/* Shared by the status page's files (src/ui*.c): the HTML escaper and
 * model heading ui.c owns, and the sections of model performance
 * (ui_perf.c) and model versions side by side (ui_canary.c). */
#ifndef DRIFTWATCH_UI_INT_H
#define DRIFTWATCH_UI_INT_H

#include "driftwatch/status.h"
#include "driftwatch/status_perf.h"

#include "driftwatch/dynbuf.h"

#include <stdio.h>

/* s HTML-escaped (NULL writes nothing). */
void dw_ui_esc(dw_dynbuf *f, const char *s);

/* "model <span class=ver>version</span>" (version may be NULL). */
void dw_ui_model_title(dw_dynbuf *f, const char *model, const char *version);

/* The "Model performance" section of the snapshot's performance part
 * (src/ui_perf.c). window: as dw_ui_render()'s. */
void dw_ui_performance(dw_dynbuf *f, const dw_status_perf *p, const char *window);

/* "latency p50 12.3 · p90 … ms" and the SLO states for a window of the
 * status snapshot (nothing without a latency block). */
void dw_ui_latency_meta(dw_dynbuf *f, const dw_status_window *window);

/* The comparisons of the status snapshot as a table (nothing without
 * any): model, baseline, candidate, window, verdict, reason, latency. */
void dw_ui_comparisons(dw_dynbuf *f, const dw_status *status);

#endif

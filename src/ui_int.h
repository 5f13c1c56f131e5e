/* Internal to src/ui*.c: the HTML escaper ui.c owns, and the section of
 * model versions side by side (ui_canary.c). */
#ifndef DRIFTWATCH_UI_INT_H
#define DRIFTWATCH_UI_INT_H

#include "driftwatch/status.h"

#include <stdio.h>

/* s as HTML text (NULL prints nothing). */
void dw_ui_esc(FILE *f, const char *s);

/* "latency p50 12.3 · p90 … ms" and the SLO states for a window of the
 * status snapshot (nothing without a latency block). */
void dw_ui_latency_meta(FILE *f, const dw_status_window *window);

/* The comparisons of the status snapshot as a table (nothing without
 * any): model, baseline, candidate, window, verdict, reason, latency. */
void dw_ui_comparisons(FILE *f, const dw_status *status);

#endif

/* Internal to src/ui*.c: the HTML escaper ui.c owns, and the section of
 * model versions side by side (ui_canary.c). */
#ifndef DRIFTWATCH_UI_INT_H
#define DRIFTWATCH_UI_INT_H

#include <jansson.h>
#include <stdio.h>

/* s as HTML text (NULL prints nothing). */
void dw_ui_esc(FILE *f, const char *s);

/* "latency p50 12.3 · p90 … ms (n values)" for a window of the status
 * document (nothing without windows[].latency). */
void dw_ui_latency_meta(FILE *f, const json_t *window);

/* The comparisons of the status document as a table (nothing without
 * any): model, baseline, candidate, window, verdict, reason, latency. */
void dw_ui_comparisons(FILE *f, const json_t *status);

#endif

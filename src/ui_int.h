/* Shared by the status page's files (src/ui*.c). */
#ifndef DRIFTWATCH_UI_INT_H
#define DRIFTWATCH_UI_INT_H

#include <jansson.h>
#include <stdio.h>

/* s HTML-escaped (NULL writes nothing). */
void dw_ui_esc(FILE *f, const char *s);

/* "model <span class=ver>version</span>" of a status models[] entry. */
void dw_ui_model_title(FILE *f, const json_t *m);

/* The "Model performance" section from the status document's
 * "performance" member (src/ui_perf.c); nothing when it has none. window:
 * as dw_ui_render()'s. */
void dw_ui_performance(FILE *f, const json_t *status, const char *window);

#endif

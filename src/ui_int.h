/* Shared by the status page's files (src/ui*.c). */
#ifndef DRIFTWATCH_UI_INT_H
#define DRIFTWATCH_UI_INT_H

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

#endif

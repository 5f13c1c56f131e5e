/* The status page (GET /ui): one self-contained HTML document, rendered on
 * the server from the status document of GET /api/v1/status. No external
 * assets and no JavaScript: charts are inline SVG, the page refreshes
 * itself every DW_UI_REFRESH_SECONDS.
 *
 * Per model version, a grid with one card per column: the reference and
 * the current display histograms overlaid (an <svg data-column="NAME">),
 * the latest statistics, the drift state colour-coded, and a sparkline of
 * recent PSI values. All text taken from the document is HTML-escaped. */
#ifndef DRIFTWATCH_UI_H
#define DRIFTWATCH_UI_H

#include <jansson.h>
#include <stddef.h>

#define DW_UI_REFRESH_SECONDS 10

/* Renders the page for status (borrowed). window selects the window whose
 * statistics are charted (NULL, or a name no model has: each model's first
 * window). Returns a NUL-terminated buffer the caller frees with free();
 * *len (if not NULL) is its length. Never fails (out of memory aborts). */
char *dw_ui_render(const json_t *status, const char *window, size_t *len);

#endif

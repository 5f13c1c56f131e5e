/* The status page (GET /ui): one self-contained HTML document, rendered on
 * the server from the engine's status snapshot (driftwatch/status.h) and a
 * few process counters. No external
 * assets and no JavaScript: charts are inline SVG, the page refreshes
 * itself every DW_UI_REFRESH_SECONDS.
 *
 * Per model version, a grid with one card per column: the reference and
 * the current display histograms overlaid (an <svg data-column="NAME">),
 * the latest statistics, the drift state colour-coded, and a sparkline of
 * recent PSI values. All text taken from the document is HTML-escaped. */
#ifndef DRIFTWATCH_UI_H
#define DRIFTWATCH_UI_H

#include "driftwatch/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DW_UI_REFRESH_SECONDS 10
/* Ceiling on the page (a card is a few kB; a page that reached it would end
 * cut rather than grow memory further). */
#define DW_UI_MAX_BYTES ((size_t)256 << 20)

/* The page header's process facts (src/http.c fills them). */
typedef struct dw_ui_header {
    const char *version; /* NULL: not shown */
    bool have_health;    /* live is shown */
    bool live;           /* the consumer loop makes progress */
    bool have_counters;  /* applied and rejected are shown */
    uint64_t applied, rejected;
    bool have_lag; /* a consumer runs: lag_total is shown */
    int64_t lag_total;
} dw_ui_header;

/* Renders the page for status and hd (borrowed; hd may be NULL). window selects the window whose
 * statistics are charted (NULL, or a name no model has: each model's first
 * window). Returns a NUL-terminated buffer the caller frees with free();
 * *len (if not NULL) is its length. Never fails (out of memory aborts). */
char *dw_ui_render(const dw_status *status, const dw_ui_header *hd, const char *window,
                   size_t *len);

#endif

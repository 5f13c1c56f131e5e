/* The status page's part of model versions side by side (docs/canary.md):
 * a table of the candidate-vs-baseline verdicts and each window's latency
 * quantiles, from the status snapshot (driftwatch/status.h). */
#include "driftwatch/ui.h"

#include "ui_int.h"

#include "driftwatch/dynbuf.h"

#include <math.h>
#include <stdbool.h>

void dw_ui_latency_meta(dw_dynbuf *f, const dw_status_window *w)
{
    const dw_status_latency *lat = w->latency;
    if (!lat)
        return;
    dw_dynbuf_addstr(f, " &middot; latency");
    int shown = 0;
    for (size_t k = 0; k < lat->nquantiles; k++) {
        if (!isfinite(lat->values[k]))
            continue;
        char key[32];
        dw_dynbuf_addc(f, ' ');
        dw_ui_esc(f, dw_status_quantile_key(lat->quantiles[k], key, sizeof key));
        dw_dynbuf_addf(f, " <b>%.4g</b>", lat->values[k]);
        shown++;
    }
    dw_dynbuf_addc(f, ' ');
    if (shown)
        dw_ui_esc(f, lat->unit);
    else
        dw_dynbuf_addstr(f, "no values");
    for (size_t i = 0; i < lat->nslos; i++) {
        bool firing = lat->slos[i].state == DW_ALERT_FIRING;
        dw_dynbuf_addstr(f, " &middot; SLO ");
        dw_ui_esc(f, lat->slos[i].name);
        dw_dynbuf_addf(f, " <b class=\"%s\" style=\"color:var(--c)\">%s</b>",
                       firing ? "firing" : "ok", firing ? "breached" : "met");
    }
}

void dw_ui_comparisons(dw_dynbuf *f, const dw_status *status)
{
    if (status->ncomparisons == 0)
        return;
    dw_dynbuf_addstr(
        f, "<section class=\"model\"><h2>Versions side by side</h2>"
           "<table class=\"stats\" style=\"background:#fff\"><tr><td>model</td><td>baseline</td>"
           "<td>candidate</td><td>window</td><td>verdict</td><td>evidence</td><td>latency "
           "ratio</td></tr>");
    for (size_t i = 0; i < status->ncomparisons; i++) {
        const dw_status_comparison *c = &status->comparisons[i];
        const char *cls = c->verdict == DW_VERDICT_FAIL   ? "firing"
                          : c->verdict == DW_VERDICT_PASS ? "ok"
                                                          : "pending";
        const char *cells[] = {c->model, c->baseline, c->candidate, c->window};
        dw_dynbuf_addstr(f, "<tr>");
        for (size_t k = 0; k < 4; k++) {
            dw_dynbuf_addstr(f, "<td>");
            dw_ui_esc(f, cells[k]);
            dw_dynbuf_addstr(f, "</td>");
        }
        dw_dynbuf_addf(f, "<td class=\"%s\"><span class=\"badge\">", cls);
        dw_ui_esc(f, dw_verdict_name(c->verdict));
        dw_dynbuf_addstr(f, "</span></td><td>");
        dw_ui_esc(f, c->reason);
        dw_dynbuf_addstr(f, "</td><td class=\"v\">");
        if (c->latency && isfinite(c->latency->cmp.ratio))
            dw_dynbuf_addf(f, "%.3g", c->latency->cmp.ratio);
        dw_dynbuf_addstr(f, "</td></tr>");
    }
    dw_dynbuf_addstr(f, "</table></section>");
}

/* The status page's part of model versions side by side (docs/canary.md):
 * a table of the candidate-vs-baseline verdicts and each window's latency
 * quantiles, from the status snapshot (driftwatch/status.h). */
#include "driftwatch/ui.h"

#include "ui_int.h"

#include <math.h>
#include <stdbool.h>

void dw_ui_latency_meta(FILE *f, const dw_status_window *w)
{
    const dw_status_latency *lat = w->latency;
    if (!lat)
        return;
    fputs(" &middot; latency", f);
    int shown = 0;
    for (size_t k = 0; k < lat->nquantiles; k++) {
        if (!isfinite(lat->values[k]))
            continue;
        char key[32];
        fputc(' ', f);
        dw_ui_esc(f, dw_status_quantile_key(lat->quantiles[k], key, sizeof key));
        fprintf(f, " <b>%.4g</b>", lat->values[k]);
        shown++;
    }
    fputc(' ', f);
    if (shown)
        dw_ui_esc(f, lat->unit);
    else
        fputs("no values", f);
    for (size_t i = 0; i < lat->nslos; i++) {
        bool firing = lat->slos[i].state == DW_ALERT_FIRING;
        fputs(" &middot; SLO ", f);
        dw_ui_esc(f, lat->slos[i].name);
        fprintf(f, " <b class=\"%s\" style=\"color:var(--c)\">%s</b>", firing ? "firing" : "ok",
                firing ? "breached" : "met");
    }
}

void dw_ui_comparisons(FILE *f, const dw_status *status)
{
    if (status->ncomparisons == 0)
        return;
    fputs("<section class=\"model\"><h2>Versions side by side</h2>"
          "<table class=\"stats\" style=\"background:#fff\"><tr><td>model</td><td>baseline</td>"
          "<td>candidate</td><td>window</td><td>verdict</td><td>evidence</td><td>latency "
          "ratio</td></tr>",
          f);
    for (size_t i = 0; i < status->ncomparisons; i++) {
        const dw_status_comparison *c = &status->comparisons[i];
        const char *cls = c->verdict == DW_VERDICT_FAIL   ? "firing"
                          : c->verdict == DW_VERDICT_PASS ? "ok"
                                                          : "pending";
        const char *cells[] = {c->model, c->baseline, c->candidate, c->window};
        fputs("<tr>", f);
        for (size_t k = 0; k < 4; k++) {
            fputs("<td>", f);
            dw_ui_esc(f, cells[k]);
            fputs("</td>", f);
        }
        fprintf(f, "<td class=\"%s\"><span class=\"badge\">", cls);
        dw_ui_esc(f, dw_verdict_name(c->verdict));
        fputs("</span></td><td>", f);
        dw_ui_esc(f, c->reason);
        fputs("</td><td class=\"v\">", f);
        if (c->latency && isfinite(c->latency->cmp.ratio))
            fprintf(f, "%.3g", c->latency->cmp.ratio);
        fputs("</td></tr>", f);
    }
    fputs("</table></section>", f);
}

/* The status page's "Model performance" section (issue 14): per model
 * version, the latest final window and the provisional one after it,
 * realised metrics next to the estimate from calibrated scores, rule
 * states, and the label join's coverage and delay. Plain HTML table, no
 * script, from the status snapshot like the rest of the page. */
#include "ui_int.h"

#include "driftwatch/timestamp.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

/* A number with 3 decimals, "–" when undefined. */
static void cell(dw_dynbuf *f, double v)
{
    if (isfinite(v))
        dw_dynbuf_addf(f, "<td>%.3f</td>", v);
    else
        dw_dynbuf_addstr(f, "<td>&#8211;</td>");
}

static const dw_perf_metric class_metrics[] = {DW_PERF_ACCURACY, DW_PERF_F1, DW_PERF_AUC,
                                               DW_PERF_BRIER};
static const dw_perf_metric reg_metrics[] = {DW_PERF_MAE, DW_PERF_RMSE, DW_PERF_BIAS};

static void result_row(dw_dynbuf *f, const char *wname, const dw_status_perf_result *r,
                       bool classification, bool estimate)
{
    if (!r->present)
        return;
    char end[40];
    dw_ts_format(r->end_ms, end, sizeof end);
    dw_dynbuf_addf(f, "<tr class=\"%s\"><td>", r->provisional ? "prov" : "final");
    dw_ui_esc(f, wname);
    dw_dynbuf_addstr(f, "</td><td>");
    dw_ui_esc(f, end);
    dw_dynbuf_addf(f, "</td><td>%s</td><td>%llu</td>", r->provisional ? "provisional" : "final",
                   (unsigned long long)r->realised.n);
    cell(f, r->realised.coverage);
    const dw_perf_metric *names = classification ? class_metrics : reg_metrics;
    size_t n = classification ? 4 : 3;
    for (size_t i = 0; i < n; i++) {
        cell(f, r->realised.m[names[i]].value);
        if (classification && estimate && names[i] == DW_PERF_ACCURACY)
            cell(f, r->has_estimate ? r->estimated.accuracy.value : NAN);
        if (classification && estimate && names[i] == DW_PERF_AUC)
            cell(f, r->has_estimate ? r->estimated.auc.value : NAN);
    }
    dw_dynbuf_addstr(f, "</tr>");
}

void dw_ui_performance(dw_dynbuf *f, const dw_status_perf *p, const char *window)
{
    dw_dynbuf_addstr(f, "<section class=\"model perf\"><h2>Model performance from labels</h2><p>");
    if (isfinite(p->coverage))
        dw_dynbuf_addf(f, "Label coverage %.1f%%", 100 * p->coverage);
    else
        dw_dynbuf_addstr(f, "No prediction has left the label join yet");
    static const char *const pn[] = {"p50", "p90", "p99"};
    for (size_t i = 0; i < 3; i++)
        if (isfinite(p->delay_s[i]))
            dw_dynbuf_addf(f, "%s delay %s %.0f s", i ? "," : " &#183;", pn[i], p->delay_s[i]);
    dw_dynbuf_addf(
        f,
        " &#183; waiting %llu predictions, %llu labels &#183; evicted %llu &#183; orphan "
        "labels %llu</p>",
        (unsigned long long)p->join.waiting_predictions, (unsigned long long)p->join.waiting_labels,
        (unsigned long long)p->join.evicted_predictions, (unsigned long long)p->join.orphan_labels);
    for (size_t i = 0; i < p->nmodels; i++) {
        const dw_status_perf_model *m = &p->models[i];
        bool cls = m->kind == DW_PERF_CLASSIFICATION;
        dw_dynbuf_addstr(f, "<h3>");
        dw_ui_model_title(f, m->model, m->version);
        dw_dynbuf_addstr(f,
                         "</h3><table class=\"perf\"><tr><th>window</th><th>end</th><th>status</th>"
                         "<th>labelled</th><th>coverage</th>");
        if (cls)
            dw_dynbuf_addf(f, "<th>accuracy</th>%s<th>F1</th><th>AUC</th>%s<th>Brier</th>",
                           m->estimate ? "<th>estimated accuracy</th>" : "",
                           m->estimate ? "<th>estimated AUC</th>" : "");
        else
            dw_dynbuf_addstr(f, "<th>MAE</th><th>RMSE</th><th>bias</th>");
        dw_dynbuf_addstr(f, "</tr>");
        for (size_t w = 0; w < m->nwindows; w++) {
            const dw_status_perf_window *sw = &m->windows[w];
            if (window && m->nwindows > 1 && strcmp(sw->name, window) != 0)
                continue;
            result_row(f, sw->name, &sw->final, cls, m->estimate);
            result_row(f, sw->name, &sw->provisional, cls, m->estimate);
        }
        dw_dynbuf_addstr(f, "</table><p class=\"rules\">");
        for (size_t w = 0; w < m->nwindows; w++)
            for (size_t k = 0; k < m->windows[w].nrules; k++) {
                const dw_status_perf_rule *r = &m->windows[w].rules[k];
                const char *st = dw_alert_state_name(r->state);
                dw_dynbuf_addf(f, "<span class=\"rule %s\">", st);
                dw_ui_esc(f, m->windows[w].name);
                dw_dynbuf_addf(f, " %s: %s</span> ", dw_perf_metric_name(r->metric), st);
            }
        dw_dynbuf_addstr(f, "</p>");
    }
    dw_dynbuf_addstr(
        f, "<p class=\"note\">Final: every label of the window's predictions has had its "
           "labels.max_delay; provisional: labels may still come. Estimated values assume "
           "calibrated scores: a gap to the realised value means calibration or the concept "
           "moved.</p></section>");
}

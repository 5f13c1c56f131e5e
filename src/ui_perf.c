/* The status page's "Model performance" section (issue 14): per model
 * version, the latest final window and the provisional one after it,
 * realised metrics next to the estimate from calibrated scores, rule
 * states, and the label join's coverage and delay. Plain HTML table, no
 * script, from the status document like the rest of the page. */
#include "ui_int.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

static const char *jstr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A number with 3 decimals, "–" when absent or undefined. */
static void cell(FILE *f, const json_t *v)
{
    if (json_is_number(v))
        fprintf(f, "<td>%.3f</td>", json_number_value(v));
    else
        fputs("<td>&#8211;</td>", f);
}

static const char *const class_metrics[] = {"accuracy", "f1", "auc", "brier"};
static const char *const reg_metrics[] = {"mae", "rmse", "bias"};

static void result_row(FILE *f, const char *wname, const json_t *r, bool classification,
                       bool estimate)
{
    if (!json_is_object(r))
        return;
    bool prov = json_is_true(json_object_get(r, "provisional"));
    fprintf(f, "<tr class=\"%s\"><td>", prov ? "prov" : "final");
    dw_ui_esc(f, wname);
    fputs("</td><td>", f);
    dw_ui_esc(f, jstr(r, "end"));
    fprintf(f, "</td><td>%s</td>", prov ? "provisional" : "final");
    fprintf(f, "<td>%lld</td>", (long long)json_integer_value(json_object_get(r, "labelled")));
    cell(f, json_object_get(r, "coverage"));
    const json_t *ms = json_object_get(r, "metrics"), *es = json_object_get(r, "estimated");
    const char *const *names = classification ? class_metrics : reg_metrics;
    size_t n = classification ? 4 : 3;
    for (size_t i = 0; i < n; i++) {
        cell(f, json_object_get(json_object_get(ms, names[i]), "value"));
        if (classification && estimate && (!strcmp(names[i], "accuracy") || !strcmp(names[i], "auc")))
            cell(f, json_object_get(json_object_get(es, names[i]), "value"));
    }
    fputs("</tr>", f);
}

void dw_ui_performance(FILE *f, const json_t *status, const char *window)
{
    const json_t *perf = json_object_get(status, "performance");
    if (!json_is_object(perf))
        return;
    const json_t *lab = json_object_get(perf, "labels");
    fputs("<section class=\"model perf\"><h2>Model performance from labels</h2><p>", f);
    const json_t *cov = json_object_get(lab, "coverage");
    if (json_is_number(cov))
        fprintf(f, "Label coverage %.1f%%", 100 * json_number_value(cov));
    else
        fputs("No prediction has left the label join yet", f);
    const json_t *dq = json_object_get(lab, "delay_seconds");
    const char *qs[] = {"0.5", "0.9", "0.99"}, *pn[] = {"p50", "p90", "p99"};
    for (size_t i = 0; i < 3; i++) {
        const json_t *v = json_object_get(dq, qs[i]);
        if (json_is_number(v))
            fprintf(f, "%s delay %s %.0f s", i ? "," : " &#183;", pn[i], json_number_value(v));
    }
    fprintf(f,
            " &#183; waiting %lld predictions, %lld labels &#183; evicted %lld &#183; orphan "
            "labels %lld</p>",
            (long long)json_integer_value(json_object_get(lab, "waiting_predictions")),
            (long long)json_integer_value(json_object_get(lab, "waiting_labels")),
            (long long)json_integer_value(json_object_get(lab, "evicted_predictions")),
            (long long)json_integer_value(json_object_get(lab, "orphan_labels")));
    size_t i, j;
    const json_t *m, *w;
    json_array_foreach (json_object_get(perf, "models"), i, m) {
        bool cls = !strcmp(jstr(m, "task") ? jstr(m, "task") : "", "classification");
        bool est = false;
        json_array_foreach (json_object_get(m, "windows"), j, w) {
            const json_t *fr = json_object_get(w, "final");
            est = est || json_object_get(fr, "estimated") ||
                  json_object_get(json_object_get(w, "provisional"), "estimated");
        }
        fputs("<h3>", f);
        dw_ui_model_title(f, m);
        fputs("</h3><table class=\"perf\"><tr><th>window</th><th>end</th><th>status</th>"
              "<th>labelled</th><th>coverage</th>",
              f);
        if (cls)
            fprintf(f, "<th>accuracy</th>%s<th>F1</th><th>AUC</th>%s<th>Brier</th>",
                    est ? "<th>estimated accuracy</th>" : "", est ? "<th>estimated AUC</th>" : "");
        else
            fputs("<th>MAE</th><th>RMSE</th><th>bias</th>", f);
        fputs("</tr>", f);
        json_array_foreach (json_object_get(m, "windows"), j, w) {
            const char *wn = jstr(w, "name");
            if (window && wn && strcmp(wn, window) != 0 && json_array_size(json_object_get(m, "windows")) > 1)
                continue;
            result_row(f, wn, json_object_get(w, "final"), cls, est);
            result_row(f, wn, json_object_get(w, "provisional"), cls, est);
        }
        fputs("</table><p class=\"rules\">", f);
        json_array_foreach (json_object_get(m, "windows"), j, w) {
            size_t k;
            const json_t *r;
            json_array_foreach (json_object_get(w, "rules"), k, r) {
                const char *st = jstr(r, "state");
                fputs("<span class=\"rule ", f);
                dw_ui_esc(f, st);
                fputs("\">", f);
                dw_ui_esc(f, jstr(w, "name"));
                fputs(" ", f);
                dw_ui_esc(f, jstr(r, "metric"));
                fputs(": ", f);
                dw_ui_esc(f, st);
                fputs("</span> ", f);
            }
        }
        fputs("</p>", f);
    }
    fputs("<p class=\"note\">Final: every label of the window's predictions has had its "
          "labels.max_delay; provisional: labels may still come. Estimated values assume "
          "calibrated scores: a gap to the realised value means calibration or the concept "
          "moved.</p></section>",
          f);
}

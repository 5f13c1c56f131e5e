/* The status page's part of model versions side by side (docs/canary.md):
 * a table of the candidate-vs-baseline verdicts and each window's latency
 * quantiles, from the status document. */
#include "driftwatch/ui.h"

#include "ui_int.h"

#include <string.h>

static const char *s_of(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

void dw_ui_latency_meta(FILE *f, const json_t *w)
{
    const json_t *lat = json_object_get(w, "latency");
    if (!lat)
        return;
    fputs(" &middot; latency", f);
    const char *key;
    const json_t *q;
    int shown = 0;
    json_object_foreach ((json_t *)json_object_get(lat, "quantiles"), key, q) {
        const json_t *v = json_object_get(lat, key);
        if (!json_is_number(v))
            continue;
        fputc(' ', f);
        dw_ui_esc(f, key);
        fprintf(f, " <b>%.4g</b>", json_number_value(v));
        shown++;
    }
    fputc(' ', f);
    if (shown)
        dw_ui_esc(f, s_of(lat, "unit"));
    else
        fputs("no values", f);
    const json_t *slo;
    size_t i;
    json_array_foreach (json_object_get(lat, "slos"), i, slo) {
        const char *st = s_of(slo, "state");
        fputs(" &middot; SLO ", f);
        dw_ui_esc(f, s_of(slo, "name"));
        fprintf(f, " <b class=\"%s\" style=\"color:var(--c)\">%s</b>",
                st && !strcmp(st, "firing") ? "firing" : "ok",
                st && !strcmp(st, "firing") ? "breached" : "met");
    }
}

void dw_ui_comparisons(FILE *f, const json_t *status)
{
    const json_t *all = json_object_get(status, "comparisons"), *c;
    if (json_array_size(all) == 0)
        return;
    fputs("<section class=\"model\"><h2>Versions side by side</h2>"
          "<table class=\"stats\" style=\"background:#fff\"><tr><td>model</td><td>baseline</td>"
          "<td>candidate</td><td>window</td><td>verdict</td><td>evidence</td><td>latency "
          "ratio</td></tr>",
          f);
    size_t i;
    json_array_foreach (all, i, c) {
        const char *v = s_of(c, "verdict");
        const char *cls = !v ? "nodata" : !strcmp(v, "fail") ? "firing"
                                      : !strcmp(v, "pass") ? "ok" : "pending";
        static const char *const keys[] = {"model", "baseline", "candidate", "window"};
        fputs("<tr>", f);
        for (size_t k = 0; k < 4; k++) {
            fputs("<td>", f);
            dw_ui_esc(f, s_of(c, keys[k]));
            fputs("</td>", f);
        }
        fprintf(f, "<td class=\"%s\"><span class=\"badge\">", cls);
        dw_ui_esc(f, v);
        fputs("</span></td><td>", f);
        dw_ui_esc(f, s_of(c, "reason"));
        fputs("</td><td class=\"v\">", f);
        const json_t *r = json_object_get(json_object_get(c, "latency"), "ratio");
        if (json_is_number(r))
            fprintf(f, "%.3g", json_number_value(r));
        fputs("</td></tr>", f);
    }
    fputs("</table></section>", f);
}

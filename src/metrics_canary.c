/* /metrics families of model versions side by side (docs/canary.md,
 * docs/api.md): the comparison verdicts and statistics per (model,
 * baseline, candidate, window[, column]) and the latency quantiles per
 * (model, version, window), from the status document's "comparisons" and
 * windows[].latency. */
#include "driftwatch/metrics.h"

#include "metrics_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *s_of(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static bool num(const json_t *o, const char *k, double *out)
{
    const json_t *v = json_object_get(o, k);
    if (!json_is_number(v))
        return false;
    *out = json_number_value(v);
    return true;
}

enum { CC_KS, CC_PSI, CC_P, CC_DIV, CC_N };

static const struct {
    const char *name, *help;
} col_fams[CC_N] = {
    {"driftwatch_compare_column_ks_statistic",
     "KS D of the candidate's window against the baseline's (numeric columns)."},
    {"driftwatch_compare_column_psi", "PSI of the candidate's window against the baseline's."},
    {"driftwatch_compare_column_p_value",
     "KS or chi-squared p-value against the baseline, before correction."},
    {"driftwatch_compare_column_divergent",
     "1 when the column of the candidate diverges from the baseline."},
};

static void pair_labels(const json_t *c, const char **vals)
{
    vals[0] = s_of(c, "model");
    vals[1] = s_of(c, "baseline");
    vals[2] = s_of(c, "candidate");
    vals[3] = s_of(c, "window");
}

static const char *const verdicts[] = {"pass", "fail", "inconclusive"};

static size_t comparisons(FILE *f, const json_t *snap, size_t max)
{
    static const char *const pn[] = {"model", "baseline", "candidate", "window", "verdict"};
    static const char *const cn[] = {"model", "baseline", "candidate", "window", "column"};
    static const char *const qn[] = {"model", "baseline", "candidate", "window", "quantile"};
    const json_t *all = json_object_get(snap, "comparisons"), *c, *col;
    size_t i, j, dropped = 0;
    dw_mx_family(f, "driftwatch_compare_verdict", "gauge",
                 "Verdict of the candidate against the baseline: 1 for the current verdict.");
    json_array_foreach (all, i, c) {
        const char *vals[5];
        pair_labels(c, vals);
        for (size_t k = 0; k < 3; k++) {
            vals[4] = verdicts[k];
            char *l = dw_mx_labels(5, pn, vals);
            dw_mx_sample(f, "driftwatch_compare_verdict", l,
                         !strcmp(s_of(c, "verdict"), verdicts[k]));
            free(l);
        }
    }
    dw_mx_family(f, "driftwatch_compare_columns", "gauge", "Compared columns by verdict.");
    json_array_foreach (all, i, c) {
        const char *vals[5];
        pair_labels(c, vals);
        static const char *const keys[] = {"passed", "failed", "inconclusive"};
        for (size_t k = 0; k < 3; k++) {
            double v = 0;
            num(json_object_get(c, "summary"), keys[k], &v);
            vals[4] = verdicts[k];
            char *l = dw_mx_labels(5, pn, vals);
            dw_mx_sample(f, "driftwatch_compare_columns", l, v);
            free(l);
        }
    }
    for (int k = 0; k < CC_N; k++) {
        dw_mx_family(f, col_fams[k].name, "gauge", col_fams[k].help);
        size_t n = 0;
        json_array_foreach (all, i, c) {
            json_array_foreach (json_object_get(c, "columns"), j, col) {
                if (n++ >= max) {
                    if (k == 0)
                        dropped++;
                    continue;
                }
                const json_t *t = json_object_get(col, "tests");
                const json_t *ks = json_object_get(t, "ks"), *chi = json_object_get(t, "chi2");
                double v;
                bool has = false;
                switch (k) {
                case CC_KS: has = num(ks, "statistic", &v); break;
                case CC_PSI: has = num(t, "psi", &v); break;
                case CC_P: has = num(ks ? ks : chi, "p_value", &v); break;
                default:
                    has = true;
                    v = json_is_true(json_object_get(col, "divergent"));
                    break;
                }
                if (!has)
                    continue;
                const char *vals[5];
                pair_labels(c, vals);
                vals[4] = s_of(col, "name");
                char *l = dw_mx_labels(5, cn, vals);
                dw_mx_sample(f, col_fams[k].name, l, v);
                free(l);
            }
        }
    }
    dw_mx_family(f, "driftwatch_latency_ratio", "gauge",
                 "Candidate / baseline latency quantile (compare.latency).");
    json_array_foreach (all, i, c) {
        const json_t *lat = json_object_get(c, "latency");
        double q, r;
        if (!num(lat, "quantile", &q) || !num(lat, "ratio", &r))
            continue;
        char qs[32];
        snprintf(qs, sizeof qs, "%g", q);
        const char *vals[5];
        pair_labels(c, vals);
        vals[4] = qs;
        char *l = dw_mx_labels(5, qn, vals);
        dw_mx_sample(f, "driftwatch_latency_ratio", l, r);
        free(l);
    }
    return dropped;
}

static void latency(FILE *f, const json_t *snap, uint64_t invalid)
{
    static const char *const qn[] = {"model", "model_version", "window", "quantile"};
    static const char *const sn[] = {"model", "model_version", "window", "slo"};
    const json_t *m, *w, *slo;
    size_t i, j, k;
    for (int pass = 0; pass < 3; pass++) {
        if (pass == 0)
            dw_mx_family(f, "driftwatch_latency_seconds", "gauge",
                         "Latency quantile of a model version's window, in seconds.");
        else if (pass == 1)
            dw_mx_family(f, "driftwatch_latency_samples", "gauge",
                         "Latency values in a model version's window.");
        else
            dw_mx_family(f, "driftwatch_latency_slo_breach", "gauge",
                         "1 while a latency SLO rule is breached (its alert fires).");
        json_array_foreach (json_object_get(snap, "models"), i, m) {
            json_array_foreach (json_object_get(m, "windows"), j, w) {
                const json_t *lat = json_object_get(w, "latency");
                if (!lat)
                    continue;
                const char *unit = s_of(lat, "unit");
                double scale = !strcmp(unit, "s") ? 1 : !strcmp(unit, "us") ? 1e-6 : 1e-3;
                const char *vals[4] = {s_of(m, "model"), s_of(m, "model_version"),
                                       s_of(w, "name"), NULL};
                if (pass == 0) {
                    const char *key;
                    const json_t *qv;
                    json_object_foreach ((json_t *)json_object_get(lat, "quantiles"), key, qv) {
                        double v;
                        if (!num(lat, key, &v))
                            continue;
                        char qs[32];
                        snprintf(qs, sizeof qs, "%g", json_number_value(qv));
                        vals[3] = qs;
                        char *l = dw_mx_labels(4, qn, vals);
                        dw_mx_sample(f, "driftwatch_latency_seconds", l, v * scale);
                        free(l);
                    }
                } else if (pass == 1) {
                    double n = 0;
                    num(lat, "samples", &n);
                    char *l = dw_mx_labels(3, qn, vals);
                    dw_mx_sample(f, "driftwatch_latency_samples", l, n);
                    free(l);
                } else {
                    json_array_foreach (json_object_get(lat, "slos"), k, slo) {
                        vals[3] = s_of(slo, "name");
                        char *l = dw_mx_labels(4, sn, vals);
                        dw_mx_sample(f, "driftwatch_latency_slo_breach", l,
                                     !strcmp(s_of(slo, "state"), "firing"));
                        free(l);
                    }
                }
            }
        }
    }
    dw_mx_family(f, "driftwatch_latency_invalid_total", "counter",
                 "Latency values refused (not a number, negative, too large).");
    dw_mx_sample(f, "driftwatch_latency_invalid_total", NULL, (double)invalid);
}

size_t dw_metrics_canary(FILE *f, const json_t *snap, size_t max_series, uint64_t latency_invalid)
{
    size_t dropped = comparisons(f, snap, max_series);
    latency(f, snap, latency_invalid);
    return dropped;
}

void dw_metrics_canary_alerts(FILE *f, const json_t *snap)
{
    static const char *const names[] = {"model", "model_version", "kind"};
    const json_t *c, *col, *m, *w, *slo;
    size_t i, j, k;
    /* divergence: per candidate version, over its comparisons */
    json_array_foreach (json_object_get(snap, "comparisons"), i, c) {
        size_t n = 0;
        json_array_foreach (json_object_get(c, "columns"), j, col)
            n += !strcmp(s_of(col, "state"), "firing");
        const char *vals[] = {s_of(c, "model"), s_of(c, "candidate"), "divergence"};
        char *l = dw_mx_labels(3, names, vals);
        /* One sample per (model, candidate): comparisons of several
         * windows add up. */
        size_t same = 0;
        const json_t *o;
        for (size_t p = 0; p < i; p++) {
            o = json_array_get(json_object_get(snap, "comparisons"), p);
            same += !strcmp(s_of(o, "model"), vals[0]) && !strcmp(s_of(o, "candidate"), vals[1]);
        }
        if (!same) {
            for (size_t p = i + 1; p < json_array_size(json_object_get(snap, "comparisons")); p++) {
                o = json_array_get(json_object_get(snap, "comparisons"), p);
                if (strcmp(s_of(o, "model"), vals[0]) || strcmp(s_of(o, "candidate"), vals[1]))
                    continue;
                json_array_foreach (json_object_get(o, "columns"), j, col)
                    n += !strcmp(s_of(col, "state"), "firing");
            }
            dw_mx_sample(f, "driftwatch_alerts_firing", l, (double)n);
        }
        free(l);
    }
    json_array_foreach (json_object_get(snap, "models"), i, m) {
        size_t n = 0;
        bool any = false;
        json_array_foreach (json_object_get(m, "windows"), j, w) {
            const json_t *lat = json_object_get(w, "latency");
            any |= lat != NULL;
            json_array_foreach (json_object_get(lat, "slos"), k, slo)
                n += !strcmp(s_of(slo, "state"), "firing");
        }
        if (!any)
            continue;
        const char *vals[] = {s_of(m, "model"), s_of(m, "model_version"), "latency"};
        char *l = dw_mx_labels(3, names, vals);
        dw_mx_sample(f, "driftwatch_alerts_firing", l, (double)n);
        free(l);
    }
}

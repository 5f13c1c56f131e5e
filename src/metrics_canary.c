/* /metrics families of model versions side by side (docs/canary.md,
 * docs/api.md): the comparison verdicts and statistics per (model,
 * baseline, candidate, window[, column]) and the latency quantiles per
 * (model, version, window), from the status snapshot's comparisons and
 * windows[].latency (driftwatch/status.h). */
#include "driftwatch/metrics.h"

#include "metrics_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *or_empty(const char *s)
{
    return s ? s : "";
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

static void pair_labels(const dw_status_comparison *c, const char **vals)
{
    vals[0] = c->model;
    vals[1] = c->baseline;
    vals[2] = or_empty(c->candidate);
    vals[3] = c->window;
}

/* In the order of dw_verdict. */
static const char *const verdicts[] = {"pass", "fail", "inconclusive"};

/* The value of family k for a compared column; false: none (a statistic
 * the column's type has not, or not finite: the JSON has null there). */
static bool column_value(int k, const dw_compare_column *cc, double *v)
{
    const dw_column_result *r = &cc->r;
    switch (k) {
    case CC_KS: *v = r->ks.statistic; return r->has_ks && isfinite(*v);
    case CC_PSI: *v = r->psi; return isfinite(*v);
    case CC_P:
        *v = r->has_ks ? r->ks.p_value : r->chi2.p_value;
        return (r->has_ks || r->has_chi2) && isfinite(*v);
    default: *v = r->drift; return true;
    }
}

static size_t comparisons(dw_dynbuf *f, const dw_status *st, size_t max)
{
    static const char *const pn[] = {"model", "baseline", "candidate", "window", "verdict"};
    static const char *const cn[] = {"model", "baseline", "candidate", "window", "column"};
    static const char *const qn[] = {"model", "baseline", "candidate", "window", "quantile"};
    size_t dropped = 0;
    dw_mx_family(f, "driftwatch_compare_verdict", "gauge",
                 "Verdict of the candidate against the baseline: 1 for the current verdict.");
    for (size_t i = 0; i < st->ncomparisons; i++) {
        const dw_status_comparison *c = &st->comparisons[i];
        const char *vals[5];
        pair_labels(c, vals);
        for (size_t k = 0; k < 3; k++) {
            vals[4] = verdicts[k];
            char *l = dw_mx_labels(5, pn, vals);
            dw_mx_sample(f, "driftwatch_compare_verdict", l, c->verdict == (dw_verdict)k);
            free(l);
        }
    }
    dw_mx_family(f, "driftwatch_compare_columns", "gauge", "Compared columns by verdict.");
    for (size_t i = 0; i < st->ncomparisons; i++) {
        const dw_status_comparison *c = &st->comparisons[i];
        const char *vals[5];
        pair_labels(c, vals);
        const size_t counts[] = {c->summary.passed, c->summary.failed, c->summary.inconclusive};
        for (size_t k = 0; k < 3; k++) {
            vals[4] = verdicts[k];
            char *l = dw_mx_labels(5, pn, vals);
            dw_mx_sample(f, "driftwatch_compare_columns", l, (double)counts[k]);
            free(l);
        }
    }
    for (int k = 0; k < CC_N; k++) {
        dw_mx_family(f, col_fams[k].name, "gauge", col_fams[k].help);
        size_t n = 0;
        for (size_t i = 0; i < st->ncomparisons; i++) {
            const dw_status_comparison *c = &st->comparisons[i];
            for (size_t j = 0; j < c->ncolumns; j++) {
                if (n++ >= max) {
                    if (k == 0)
                        dropped++;
                    continue;
                }
                double v;
                if (!column_value(k, &c->columns[j].c, &v))
                    continue;
                const char *vals[5];
                pair_labels(c, vals);
                vals[4] = c->columns[j].name;
                char *l = dw_mx_labels(5, cn, vals);
                dw_mx_sample(f, col_fams[k].name, l, v);
                free(l);
            }
        }
    }
    dw_mx_family(f, "driftwatch_latency_ratio", "gauge",
                 "Candidate / baseline latency quantile (compare.latency).");
    for (size_t i = 0; i < st->ncomparisons; i++) {
        const dw_status_comparison *c = &st->comparisons[i];
        if (!c->latency || !isfinite(c->latency->cmp.ratio))
            continue;
        char qs[32];
        snprintf(qs, sizeof qs, "%g", c->latency->cmp.q);
        const char *vals[5];
        pair_labels(c, vals);
        vals[4] = qs;
        char *l = dw_mx_labels(5, qn, vals);
        dw_mx_sample(f, "driftwatch_latency_ratio", l, c->latency->cmp.ratio);
        free(l);
    }
    return dropped;
}

static double unit_seconds(const char *unit)
{
    return !strcmp(unit, "s") ? 1 : !strcmp(unit, "us") ? 1e-6 : 1e-3;
}

static void latency(dw_dynbuf *f, const dw_status *st, uint64_t invalid)
{
    static const char *const qn[] = {"model", "model_version", "window", "quantile"};
    static const char *const sn[] = {"model", "model_version", "window", "slo"};
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
        for (size_t i = 0; i < st->nmodels; i++) {
            const dw_status_model *m = &st->models[i];
            for (size_t j = 0; j < m->nwindows; j++) {
                const dw_status_latency *lat = m->windows[j].latency;
                if (!lat)
                    continue;
                const char *vals[4] = {m->model, or_empty(m->version), m->windows[j].name, NULL};
                if (pass == 0) {
                    double scale = unit_seconds(lat->unit);
                    for (size_t k = 0; k < lat->nquantiles; k++) {
                        if (!isfinite(lat->values[k]))
                            continue;
                        char qs[32];
                        snprintf(qs, sizeof qs, "%g", lat->quantiles[k]);
                        vals[3] = qs;
                        char *l = dw_mx_labels(4, qn, vals);
                        dw_mx_sample(f, "driftwatch_latency_seconds", l, lat->values[k] * scale);
                        free(l);
                    }
                } else if (pass == 1) {
                    char *l = dw_mx_labels(3, qn, vals);
                    dw_mx_sample(f, "driftwatch_latency_samples", l, (double)lat->samples);
                    free(l);
                } else {
                    for (size_t k = 0; k < lat->nslos; k++) {
                        vals[3] = lat->slos[k].name;
                        char *l = dw_mx_labels(4, sn, vals);
                        dw_mx_sample(f, "driftwatch_latency_slo_breach", l,
                                     lat->slos[k].state == DW_ALERT_FIRING);
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

size_t dw_metrics_canary(dw_dynbuf *f, const dw_status *st, size_t max_series,
                         uint64_t latency_invalid)
{
    size_t dropped = comparisons(f, st, max_series);
    latency(f, st, latency_invalid);
    return dropped;
}

static bool same_pair(const dw_status_comparison *a, const dw_status_comparison *b)
{
    return !strcmp(a->model, b->model) && !strcmp(or_empty(a->candidate), or_empty(b->candidate));
}

static size_t firing_columns(const dw_status_comparison *c)
{
    size_t n = 0;
    for (size_t j = 0; j < c->ncolumns; j++)
        n += c->columns[j].state == DW_ALERT_FIRING;
    return n;
}

void dw_metrics_canary_alerts(dw_dynbuf *f, const dw_status *st)
{
    static const char *const names[] = {"model", "model_version", "kind"};
    /* divergence: one sample per (model, candidate), at its first
     * comparison, adding up the comparisons of its windows */
    for (size_t i = 0; i < st->ncomparisons; i++) {
        const dw_status_comparison *c = &st->comparisons[i];
        bool seen = false;
        for (size_t p = 0; p < i && !seen; p++)
            seen = same_pair(&st->comparisons[p], c);
        if (seen)
            continue;
        size_t n = 0;
        for (size_t p = i; p < st->ncomparisons; p++)
            if (same_pair(&st->comparisons[p], c))
                n += firing_columns(&st->comparisons[p]);
        const char *vals[] = {c->model, or_empty(c->candidate), "divergence"};
        char *l = dw_mx_labels(3, names, vals);
        dw_mx_sample(f, "driftwatch_alerts_firing", l, (double)n);
        free(l);
    }
    for (size_t i = 0; i < st->nmodels; i++) {
        const dw_status_model *m = &st->models[i];
        size_t n = 0;
        bool any = false;
        for (size_t j = 0; j < m->nwindows; j++) {
            const dw_status_latency *lat = m->windows[j].latency;
            if (!lat)
                continue;
            any = true;
            for (size_t k = 0; k < lat->nslos; k++)
                n += lat->slos[k].state == DW_ALERT_FIRING;
        }
        if (!any)
            continue;
        const char *vals[] = {m->model, or_empty(m->version), "latency"};
        char *l = dw_mx_labels(3, names, vals);
        dw_mx_sample(f, "driftwatch_alerts_firing", l, (double)n);
        free(l);
    }
}

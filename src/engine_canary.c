/* Model versions side by side (docs/canary.md, issue 13): latency
 * quantiles and SLO rules per (model, version, window), and each candidate
 * version's window tested against the baseline version's window over the
 * same event-time span, with alerts of kind "divergence" and "latency".
 *
 * Latency lives in the pane layout: the fixed-range sketch (sketch.h) is
 * extra_width counters after the columns (model.h), so it slides, merges
 * across replicas and travels in state deltas like the column counters.
 * Everything here runs on the engine's thread, after the windows of one
 * boundary closed and were evaluated (dw_eng_canary_evaluate()). */
#include "engine_int.h"

#include "driftwatch/check_compare.h"
#include "driftwatch/compare.h"
#include "driftwatch/error.h"
#include "driftwatch/sketch.h"
#include "driftwatch/status.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The comparison of one candidate state with the baseline in one window. */
typedef struct cmp_result {
    int64_t end_ms; /* INT64_MIN: not compared yet */
    int64_t start_ms;
    char baseline[DW_MAX_NAME + 1];
    dw_compare_summary sum;
    dw_compare_column *cols; /* ncmp */
    dw_alert *alerts;        /* ncmp, kind "divergence" */
    bool has_lat;
    dw_latency_compare lat;
} cmp_result;

/* Latency of one state in one window. */
typedef struct lat_result {
    int64_t end_ms; /* INT64_MIN: not evaluated yet */
    uint64_t samples;
    double q[DW_CONFIG_MAX_QUANTILES];
    double slo_value[DW_CONFIG_MAX_SLOS];
    dw_alert slo[DW_CONFIG_MAX_SLOS];
} lat_result;

struct dw_canary {
    const dw_model_config *cfg;
    bool lat_on;
    dw_sketch_layout lay;
    size_t lat_width;
    size_t ncmp;       /* compared columns */
    size_t *cmp_cols;  /* their indices in the reference */
    dw_thresholds *th; /* ncmp (eval_alpha set per evaluation) */
    size_t nwin;
    cmp_result *cmp[DW_ENGINE_MAX_VERSIONS + 1]; /* per state: nwin, or NULL */
    lat_result *lat[DW_ENGINE_MAX_VERSIONS + 1]; /* per state: nwin, or NULL */
    int baseline[DW_MAX_WINDOWS];                /* state index of the last baseline, -1 */
};

static bool column_selected(const dw_compare_config *cc, const char *name)
{
    if (!cc->ncolumns)
        return true;
    for (size_t i = 0; i < cc->ncolumns; i++) {
        size_t l = strlen(cc->columns[i]);
        if (l && cc->columns[i][l - 1] == '.' ? !strncmp(name, cc->columns[i], l)
                                              : !strcmp(name, cc->columns[i]))
            return true;
    }
    return false;
}

size_t dw_eng_canary_width(const dw_model_config *mc)
{
    return dw_config_latency_width(&mc->latency);
}

struct dw_canary *dw_eng_canary_new(const dw_config *cfg, const model_entry *me)
{
    const dw_model_config *mc = me->cfg;
    if (!mc->compare.enabled && !mc->latency.enabled)
        return NULL;
    struct dw_canary *c = dw_calloc(1, sizeof *c);
    c->cfg = mc;
    c->nwin = cfg->nwindows;
    for (size_t w = 0; w < DW_MAX_WINDOWS; w++)
        c->baseline[w] = -1;
    if (mc->latency.enabled) {
        const dw_latency_config *l = &mc->latency;
        /* Validated with the configuration: cannot fail here. */
        c->lat_on = dw_sketch_layout_init(&c->lay, l->alpha, l->min, l->max, NULL, 0) == 0;
        c->lat_width = c->lat_on ? dw_sketch_layout_width(&c->lay) : 0;
    }
    size_t nc = me->ref->ncols;
    c->cmp_cols = dw_calloc(nc + 1, sizeof *c->cmp_cols);
    c->th = dw_calloc(nc + 1, sizeof *c->th);
    if (mc->compare.enabled)
        for (size_t j = 0; j < nc; j++)
            if (!me->ignored[j] && column_selected(&mc->compare, me->ref->cols[j].name)) {
                c->th[c->ncmp] = mc->compare.thresholds;
                c->cmp_cols[c->ncmp++] = j;
            }
    return c;
}

static void free_state(struct dw_canary *c, size_t v)
{
    if (c->cmp[v])
        for (size_t w = 0; w < c->nwin; w++) {
            free(c->cmp[v][w].cols);
            free(c->cmp[v][w].alerts);
        }
    free(c->cmp[v]);
    free(c->lat[v]);
    c->cmp[v] = NULL;
    c->lat[v] = NULL;
}

void dw_eng_canary_free(struct dw_canary *c)
{
    if (!c)
        return;
    for (size_t v = 0; v <= DW_ENGINE_MAX_VERSIONS; v++)
        free_state(c, v);
    free(c->cmp_cols);
    free(c->th);
    free(c);
}

/* A baseline state that no longer exists: the next evaluation picks
 * another and resolves the episodes against this one. */
#define BASELINE_GONE INT_MAX

void dw_eng_canary_move(struct dw_canary *c, size_t to, size_t from)
{
    if (!c)
        return;
    free_state(c, to);
    for (size_t w = 0; w < DW_MAX_WINDOWS; w++)
        if (c->baseline[w] == (int)to)
            c->baseline[w] = BASELINE_GONE;
    if (to != from) {
        c->cmp[to] = c->cmp[from];
        c->lat[to] = c->lat[from];
        c->cmp[from] = NULL;
        c->lat[from] = NULL;
        for (size_t w = 0; w < DW_MAX_WINDOWS; w++)
            if (c->baseline[w] == (int)from)
                c->baseline[w] = (int)to;
    }
}

void dw_eng_canary_adopt(struct dw_canary *c, struct dw_canary *old)
{
    if (!c || !old)
        return;
    /* Alert states carry over when the compared columns and the latency
     * rules are the same; otherwise they start afresh. */
    bool same_cmp = c->ncmp == old->ncmp && c->nwin == old->nwin &&
                    !memcmp(c->cmp_cols, old->cmp_cols, c->ncmp * sizeof *c->cmp_cols);
    bool same_lat = c->cfg->latency.nslos == old->cfg->latency.nslos &&
                    c->cfg->latency.nquantiles == old->cfg->latency.nquantiles;
    for (size_t v = 0; v <= DW_ENGINE_MAX_VERSIONS; v++) {
        if (same_cmp) {
            c->cmp[v] = old->cmp[v];
            old->cmp[v] = NULL;
        }
        if (same_lat) {
            c->lat[v] = old->lat[v];
            old->lat[v] = NULL;
        }
    }
}

void dw_eng_canary_record(dw_engine *e, model_entry *me, dw_model *m, const dw_scan_record *rec,
                          size_t *slots, size_t *n)
{
    struct dw_canary *c = me->canary;
    if (!c->lat_on)
        return;
    const char *path = c->cfg->latency.field;
    for (size_t i = 0; i < rec->nfields; i++) {
        const dw_scan_field *f = &rec->fields[i];
        /* first-byte reject unless the key holds escapes */
        if (f->key[0].len == 0 || (!(f->key_escaped & 1) && f->key[0].ptr[0] != path[0]) ||
            !dw_scan_path_eq(f, path))
            continue;
        if (f->kind == DW_SCAN_NULL)
            return;
        long s = f->kind == DW_SCAN_NUMBER ? dw_sketch_layout_slot(&c->lay, f->num) : -1;
        if (s < 0) {
            STAT_ADD(e, latency_invalid, 1);
            return;
        }
        slots[(*n)++] = dw_model_extra_offset(m) + (size_t)s;
        return;
    }
}

/* Records in window wi of m: every record counts each column once (a
 * value or missing), so column 0's total is the record count; without
 * columns, the latency values. */
static uint64_t traffic(const struct dw_canary *c, dw_model *m, size_t wi)
{
    if (dw_model_reference(m)->ncols) {
        dw_sample s;
        dw_model_sample(m, wi, 0, &s);
        return dw_sample_count(&s) + s.missing + s.type_errors;
    }
    if (!c->lat_on)
        return 0;
    return dw_sketch_layout_count(&c->lay,
                                  dw_window_sum(dw_model_window(m, wi)) + dw_model_extra_offset(m));
}

static bool is_candidate(const dw_compare_config *cc, const char *ver)
{
    if (!cc->ncandidates)
        return true;
    for (size_t i = 0; i < cc->ncandidates; i++)
        if (ver && !strcmp(ver, cc->candidates[i]))
            return true;
    return false;
}

/* Adds alert a to the notification document of state v at end_ms (the
 * one the drift alerts of the same evaluation go into). */
static void add_alert(dw_engine *e, model_entry *me, size_t v, int64_t end_ms, json_t *a)
{
    size_t pidx = (size_t)(me - e->models) * (DW_ENGINE_MAX_VERSIONS + 1) + v;
    if (!e->pending[pidx])
        e->pending[pidx] = dw_eng_new_document(me->states[v], end_ms, "notification");
    json_array_append_new(json_object_get(e->pending[pidx], "alerts"), a);
}

/* State v's latency and comparison results, allocated on first use. */
static lat_result *lat_results(struct dw_canary *c, size_t v)
{
    if (!c->lat[v]) {
        c->lat[v] = dw_calloc(c->nwin, sizeof *c->lat[v]);
        for (size_t w = 0; w < c->nwin; w++)
            c->lat[v][w].end_ms = INT64_MIN;
    }
    return c->lat[v];
}

static cmp_result *cmp_results(struct dw_canary *c, size_t v)
{
    if (!c->cmp[v]) {
        c->cmp[v] = dw_calloc(c->nwin, sizeof *c->cmp[v]);
        for (size_t w = 0; w < c->nwin; w++) {
            c->cmp[v][w].end_ms = INT64_MIN;
            c->cmp[v][w].cols = dw_calloc(c->ncmp + 1, sizeof *c->cmp[v][w].cols);
            c->cmp[v][w].alerts = dw_calloc(c->ncmp + 1, sizeof *c->cmp[v][w].alerts);
        }
    }
    return c->cmp[v];
}

static json_t *alert_common(const dw_alert *a, dw_alert_event ev, const char *kind,
                            const char *column, const char *window, int64_t start, int64_t end,
                            const char *key)
{
    /* An episode restored from a previous run and resolved before this run
     * evaluated its window has no window bounds: the resolve time stands
     * for them. */
    if (end == INT64_MIN)
        start = end = a->ended_ms;
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(ev == DW_ALERT_FIRED ? "firing" : "resolved"));
    json_object_set_new(o, "kind", json_string(kind));
    json_object_set_new(o, "column", json_string(column));
    json_object_set_new(o, "window", json_string(window));
    json_object_set_new(o, "window_start", dw_json_time(start));
    json_object_set_new(o, "window_end", dw_json_time(end));
    json_object_set_new(o, "dedup_key", json_string(key));
    json_object_set_new(o, "starts_at", dw_json_time(a->started_ms));
    json_object_set_new(o, "ends_at",
                        ev == DW_ALERT_RESOLVED ? dw_json_time(a->ended_ms) : json_null());
    return o;
}

static void latency_window(dw_engine *e, model_entry *me, size_t v, size_t wi, int64_t end_ms)
{
    struct dw_canary *c = me->canary;
    const dw_latency_config *l = &c->cfg->latency;
    dw_model *m = me->states[v];
    lat_result *r = &lat_results(c, v)[wi];
    dw_window *win = dw_model_window(m, wi);
    const uint64_t *cnt = dw_window_sum(win) + dw_model_extra_offset(m);
    r->end_ms = end_ms;
    r->samples = dw_sketch_layout_count(&c->lay, cnt);
    for (size_t k = 0; k < l->nquantiles; k++)
        dw_sketch_layout_quantile(&c->lay, cnt, l->quantiles[k], &r->q[k]);
    const char *ver = dw_model_version(m);
    bool full = dw_window_filled(win) >= (size_t)(dw_window_length(win) / dw_window_slide(win));
    for (size_t s = 0; s < l->nslos; s++) {
        const dw_slo_config *slo = &l->slos[s];
        if (slo->window != wi || (slo->version && (!ver || strcmp(ver, slo->version))))
            continue;
        double val = 0;
        dw_sketch_layout_quantile(&c->lay, cnt, slo->quantile, &val);
        r->slo_value[s] = val;
        bool enough = r->samples >= me->cfg->thresholds.min_samples;
        bool breach = enough && val > slo->max;
        /* A thin window resolves only once it is full (the traffic stopped),
         * as for drift alerts. */
        bool clear = enough ? val <= slo->max : full;
        dw_alert_rule rule = {.for_count = slo->for_evaluations,
                              .keep_firing_ms = e->cfg->alerts.keep_firing_for_ms};
        dw_alert_event ev = dw_alert_step(&r->slo[s], breach, clear, &rule, end_ms);
        if (ev == DW_ALERT_NONE)
            continue;
        char key[17];
        dw_alert_dedup_key(me->cfg->name, ver, slo->name, dw_model_window_name(m, wi), "latency",
                           key);
        json_t *o = alert_common(&r->slo[s], ev, "latency", l->field, dw_model_window_name(m, wi),
                                 dw_window_start(win), end_ms, key);
        json_object_set_new(o, "severity", json_string(slo->critical ? "critical" : "warning"));
        json_object_set_new(o, "samples", json_integer((json_int_t)r->samples));
        json_object_set_new(o, "latency",
                            json_pack("{s:s,s:f,s:o,s:f,s:s,s:f}", "slo", slo->name, "quantile",
                                      slo->quantile, "value", dw_json_number(val), "max", slo->max,
                                      "unit", l->unit, "relative_error", l->alpha));
        add_alert(e, me, v, end_ms, o);
    }
}

static void compare_window(dw_engine *e, model_entry *me, size_t b, size_t v, size_t wi,
                           int64_t end_ms)
{
    struct dw_canary *c = me->canary;
    const dw_compare_config *cc = &c->cfg->compare;
    dw_model *mb = me->states[b], *mv = me->states[v];
    cmp_result *r = &cmp_results(c, v)[wi];
    dw_window *win = dw_model_window(mv, wi);
    int64_t slide = dw_window_slide(win);
    size_t nwin = (size_t)__builtin_popcount(cc->windows);
    for (size_t k = 0; k < c->ncmp; k++) {
        dw_sample sb, sv;
        dw_model_sample(mb, wi, c->cmp_cols[k], &sb);
        dw_model_sample(mv, wi, c->cmp_cols[k], &sv);
        dw_compare_column_evaluate(&sb, &sv, &r->cols[k]);
        c->th[k].eval_alpha = dw_eval_alpha(&c->th[k], c->ncmp, nwin ? nwin : 1, slide);
    }
    dw_compare_decide(r->cols, c->ncmp, c->th, 1, &r->sum);
    r->end_ms = end_ms;
    r->start_ms = dw_window_start(win);
    const char *bname = dw_model_version(mb), *vname = dw_model_version(mv);
    snprintf(r->baseline, sizeof r->baseline, "%s", bname ? bname : "");
    bool full = dw_window_filled(win) >= (size_t)(dw_window_length(win) / slide);
    const dw_alerts_config *ac = &e->cfg->alerts;
    dw_alert_rule rule = {.for_count = cc->for_evaluations,
                          .keep_firing_ms = ac->keep_firing_for_ms};
    for (size_t k = 0; k < c->ncmp; k++) {
        dw_column_result *cr = &r->cols[k].r;
        /* Hysteresis as for drift alerts (model.c): clear once the
         * difference is no longer significant or fell below the clear
         * levels; a thin window clears only once it is full. */
        bool effect_high =
            cr->psi >= ac->clear_psi || (cr->has_ks && cr->ks.statistic >= ac->clear_ks);
        bool clear = !cr->enough_samples ? full : (!cr->significant || !effect_high);
        dw_alert_event ev = dw_alert_step(&r->alerts[k], cr->drift, clear, &rule, end_ms);
        if (ev == DW_ALERT_NONE)
            continue;
        const char *col = me->ref->cols[c->cmp_cols[k]].name;
        char key[17];
        dw_alert_dedup_key(me->cfg->name, vname, col, dw_model_window_name(mv, wi), "divergence",
                           key);
        json_t *o = alert_common(&r->alerts[k], ev, "divergence", col, dw_model_window_name(mv, wi),
                                 r->start_ms, end_ms, key);
        json_object_set_new(o, "column_type",
                            json_string(cr->type == DW_COL_NUMERIC ? "numeric" : "categorical"));
        json_object_set_new(o, "severity", json_string("warning"));
        json_object_set_new(o, "samples", json_integer((json_int_t)r->cols[k].n_candidate));
        json_object_set_new(o, "baseline", bname ? json_string(bname) : json_null());
        json_object_set_new(o, "candidate", vname ? json_string(vname) : json_null());
        json_object_set_new(o, "baseline_samples", json_integer((json_int_t)r->cols[k].n_baseline));
        json_object_set_new(o, "tests", dw_status_tests_json(cr));
        add_alert(e, me, v, end_ms, o);
    }
    r->has_lat = c->lat_on && cc->latency_max_ratio > 0;
    if (r->has_lat) {
        size_t off = dw_model_extra_offset(mb);
        dw_compare_latency_layout(&c->lay, dw_window_sum(dw_model_window(mb, wi)) + off,
                                  dw_window_sum(win) + off, cc->latency_quantile,
                                  cc->latency_max_ratio, cc->thresholds.min_samples, &r->lat);
    }
}

/* The baseline state of window wi among the states evaluated at end_ms, or
 * -1: the configured version, or the one with the most records (ties: the
 * one that was the baseline before, then the oldest state). */
static int pick_baseline(struct dw_canary *c, model_entry *me, size_t wi, int64_t end_ms)
{
    const char *fixed = c->cfg->compare.baseline;
    int best = -1;
    uint64_t most = 0;
    for (size_t v = 0; v < me->nstates; v++) {
        dw_model *m = me->states[v];
        if (dw_model_last_evaluated(m, wi) != end_ms)
            continue;
        const char *ver = dw_model_version(m);
        if (fixed) {
            if (ver && !strcmp(ver, fixed))
                return (int)v;
            continue;
        }
        uint64_t t = traffic(c, m, wi);
        if (best < 0 || t > most || (t == most && (int)v == c->baseline[wi])) {
            best = (int)v;
            most = t;
        }
    }
    return best;
}

/* The baseline of window wi moved from state old to another (a rollout
 * completed, or the traffic shifted under most_traffic): every open
 * divergence episode of the window resolves, so an alert always names the
 * pair it is about, and the pairs start afresh. */
static void baseline_changed(dw_engine *e, model_entry *me, size_t wi, int64_t end_ms)
{
    struct dw_canary *c = me->canary;
    for (size_t v = 0; v < me->nstates; v++) {
        cmp_result *r = c->cmp[v] ? &c->cmp[v][wi] : NULL;
        if (!r)
            continue;
        dw_model *mv = me->states[v];
        for (size_t k = 0; k < c->ncmp; k++) {
            dw_alert *a = &r->alerts[k];
            if (a->state == DW_ALERT_FIRING) {
                const char *col = me->ref->cols[c->cmp_cols[k]].name;
                char key[17];
                dw_alert_dedup_key(me->cfg->name, dw_model_version(mv), col,
                                   dw_model_window_name(mv, wi), "divergence", key);
                a->ended_ms = end_ms;
                json_t *o = alert_common(a, DW_ALERT_RESOLVED, "divergence", col,
                                         dw_model_window_name(mv, wi), r->start_ms, r->end_ms, key);
                json_object_set_new(o, "severity", json_string("warning"));
                json_object_set_new(o, "baseline", json_string(r->baseline));
                json_object_set_new(o, "resolved_by", json_string("baseline_changed"));
                add_alert(e, me, v, end_ms, o);
            }
            memset(a, 0, sizeof *a);
        }
        r->end_ms = INT64_MIN;
    }
}

/* The first baseline of window wi in this run is b: whether an episode
 * restored from a previous run (dw_eng_canary_restore()) compared against
 * another version. Then it resolves as for a change of baseline. */
static bool restored_against_other(const struct dw_canary *c, const model_entry *me, size_t wi,
                                   int b)
{
    const char *bname = dw_model_version(me->states[b]);
    for (size_t v = 0; v < me->nstates; v++) {
        const cmp_result *r = c->cmp[v] ? &c->cmp[v][wi] : NULL;
        if (!r || !r->baseline[0] || !strcmp(r->baseline, bname ? bname : ""))
            continue;
        for (size_t k = 0; k < c->ncmp; k++)
            if (r->alerts[k].state == DW_ALERT_FIRING)
                return true;
    }
    return false;
}

void dw_eng_canary_evaluate(dw_engine *e, int64_t end_ms)
{
    for (size_t i = 0; i < e->nmodels; i++) {
        model_entry *me = &e->models[i];
        struct dw_canary *c = me->canary;
        if (!c)
            continue;
        for (size_t wi = 0; wi < c->nwin; wi++) {
            if (c->lat_on)
                for (size_t v = 0; v < me->nstates; v++)
                    if (dw_model_last_evaluated(me->states[v], wi) == end_ms)
                        latency_window(e, me, v, wi, end_ms);
            const dw_compare_config *cc = &c->cfg->compare;
            if (!cc->enabled || !(cc->windows & (1u << wi)))
                continue;
            int b = pick_baseline(c, me, wi, end_ms);
            if (b >= 0 && (c->baseline[wi] != -1 ? b != c->baseline[wi]
                                                 : restored_against_other(c, me, wi, b)))
                baseline_changed(e, me, wi, end_ms);
            if (b >= 0)
                c->baseline[wi] = b;
            if (b < 0)
                continue;
            for (size_t v = 0; v < me->nstates; v++)
                if ((int)v != b && dw_model_last_evaluated(me->states[v], wi) == end_ms &&
                    is_candidate(cc, dw_model_version(me->states[v])))
                    compare_window(e, me, (size_t)b, v, wi, end_ms);
        }
    }
}

void dw_eng_canary_drop(dw_engine *e, model_entry *me, size_t v, int64_t at)
{
    struct dw_canary *c = me->canary;
    if (!c)
        return;
    dw_model *m = me->states[v];
    json_t *doc = NULL;
    for (size_t wi = 0; wi < c->nwin; wi++) {
        for (size_t k = 0; c->cmp[v] && k < c->ncmp; k++) {
            cmp_result *r = &c->cmp[v][wi];
            if (r->alerts[k].state != DW_ALERT_FIRING)
                continue;
            const char *col = me->ref->cols[c->cmp_cols[k]].name;
            char key[17];
            dw_alert_dedup_key(me->cfg->name, dw_model_version(m), col, dw_model_window_name(m, wi),
                               "divergence", key);
            r->alerts[k].ended_ms = at;
            json_t *o = alert_common(&r->alerts[k], DW_ALERT_RESOLVED, "divergence", col,
                                     dw_model_window_name(m, wi), r->start_ms, r->end_ms, key);
            json_object_set_new(o, "severity", json_string("warning"));
            json_object_set_new(o, "resolved_by", json_string("version_dropped"));
            if (!doc)
                doc = dw_eng_new_document(m, at, "version_dropped_canary");
            json_array_append_new(json_object_get(doc, "alerts"), o);
        }
        const dw_latency_config *l = &c->cfg->latency;
        for (size_t s = 0; c->lat[v] && s < l->nslos; s++) {
            lat_result *r = &c->lat[v][wi];
            if (r->slo[s].state != DW_ALERT_FIRING)
                continue;
            char key[17];
            dw_alert_dedup_key(me->cfg->name, dw_model_version(m), l->slos[s].name,
                               dw_model_window_name(m, wi), "latency", key);
            r->slo[s].ended_ms = at;
            json_t *o = alert_common(&r->slo[s], DW_ALERT_RESOLVED, "latency", l->field,
                                     dw_model_window_name(m, wi), r->end_ms, r->end_ms, key);
            json_object_set_new(o, "severity",
                                json_string(l->slos[s].critical ? "critical" : "warning"));
            json_object_set_new(o, "resolved_by", json_string("version_dropped"));
            if (!doc)
                doc = dw_eng_new_document(m, at, "version_dropped_canary");
            json_array_append_new(json_object_get(doc, "alerts"), o);
        }
    }
    if (!doc)
        return;
    json_object_set_new(doc, "version_dropped", json_true());
    dw_eng_emit(e, doc);
}

/* ---- alert states across restarts ---- */

static bool slo_applies(const dw_slo_config *slo, size_t wi, const char *ver)
{
    return slo->window == wi && (!slo->version || (ver && !strcmp(ver, slo->version)));
}

void dw_eng_canary_alert_state(const model_entry *me, size_t v, json_t *arr)
{
    const struct dw_canary *c = me->canary;
    const dw_model *m = me->states[v];
    const dw_latency_config *l = &c->cfg->latency;
    for (size_t wi = 0; wi < c->nwin; wi++) {
        const cmp_result *r = c->cmp[v] ? &c->cmp[v][wi] : NULL;
        for (size_t k = 0; r && k < c->ncmp; k++)
            if (r->alerts[k].state == DW_ALERT_FIRING) {
                json_t *o =
                    dw_eng_alert_entry(m, me->ref->cols[c->cmp_cols[k]].name,
                                       dw_model_window_name(m, wi), "divergence", &r->alerts[k]);
                json_object_set_new(o, "baseline", json_string(r->baseline));
                json_array_append_new(arr, o);
            }
        const lat_result *lr = c->lat[v] ? &c->lat[v][wi] : NULL;
        for (size_t s = 0; lr && s < l->nslos; s++)
            if (lr->slo[s].state == DW_ALERT_FIRING)
                json_array_append_new(arr, dw_eng_alert_entry(m, l->slos[s].name,
                                                              dw_model_window_name(m, wi),
                                                              "latency", &lr->slo[s]));
    }
}

void dw_eng_canary_restore(model_entry *me, size_t v, const char *kind, const char *column,
                           size_t wi, int64_t started_ms, int64_t notified_ms, const char *baseline)
{
    struct dw_canary *c = me->canary;
    const char *ver = dw_model_version(me->states[v]);
    if (wi >= c->nwin)
        return;
    if (!strcmp(kind, "latency")) {
        const dw_latency_config *l = &c->cfg->latency;
        for (size_t s = 0; c->lat_on && s < l->nslos; s++)
            if (!strcmp(l->slos[s].name, column) && slo_applies(&l->slos[s], wi, ver)) {
                dw_alert_restore(&lat_results(c, v)[wi].slo[s], l->slos[s].for_evaluations,
                                 started_ms, notified_ms);
                return;
            }
        return;
    }
    const dw_compare_config *cc = &c->cfg->compare;
    if (!cc->enabled || !(cc->windows & (1u << wi)) || !is_candidate(cc, ver))
        return;
    for (size_t k = 0; k < c->ncmp; k++)
        if (!strcmp(me->ref->cols[c->cmp_cols[k]].name, column)) {
            cmp_result *r = &cmp_results(c, v)[wi];
            dw_alert_restore(&r->alerts[k], cc->for_evaluations, started_ms, notified_ms);
            snprintf(r->baseline, sizeof r->baseline, "%s", baseline ? baseline : "");
            return;
        }
}

/* ---- status snapshot (driftwatch/status.h) ---- */

void dw_eng_canary_status_model(const model_entry *me, size_t v, dw_status_model *sm)
{
    const struct dw_canary *c = me->canary;
    if (!c || !c->lat_on)
        return;
    const dw_latency_config *l = &c->cfg->latency;
    const char *ver = dw_model_version(me->states[v]);
    for (size_t wi = 0; wi < sm->nwindows; wi++) {
        const lat_result *r = c->lat[v] ? &c->lat[v][wi] : NULL;
        dw_status_latency *sl = dw_calloc(1, sizeof *sl);
        sl->field = dw_strdup(l->field);
        sl->unit = dw_strdup(l->unit);
        sl->relative_error = l->alpha;
        sl->samples = r ? r->samples : 0;
        sl->nquantiles = l->nquantiles;
        sl->quantiles = dw_calloc(l->nquantiles + 1, sizeof *sl->quantiles);
        sl->values = dw_calloc(l->nquantiles + 1, sizeof *sl->values);
        for (size_t k = 0; k < l->nquantiles; k++) {
            sl->quantiles[k] = l->quantiles[k];
            sl->values[k] = r && r->samples ? r->q[k] : NAN;
        }
        sl->slos = dw_calloc(l->nslos + 1, sizeof *sl->slos);
        for (size_t s = 0; s < l->nslos; s++) {
            const dw_slo_config *slo = &l->slos[s];
            if (!slo_applies(slo, wi, ver))
                continue;
            sl->slos[sl->nslos++] = (dw_status_slo){
                .name = dw_strdup(slo->name),
                .quantile = slo->quantile,
                .max = slo->max,
                .value = r && r->end_ms != INT64_MIN ? r->slo_value[s] : NAN,
                .state = r ? r->slo[s].state : DW_ALERT_INACTIVE,
            };
        }
        sm->windows[wi].latency = sl;
    }
}

static void comparison_status(const dw_engine *e, const model_entry *me, size_t v, size_t wi,
                              const cmp_result *r, dw_status_comparison *sc)
{
    const struct dw_canary *c = me->canary;
    const dw_compare_config *cc = &c->cfg->compare;
    const char *ver = dw_model_version(me->states[v]);
    sc->model = dw_strdup(me->cfg->name);
    sc->baseline = dw_strdup(r->baseline);
    sc->candidate = ver ? dw_strdup(ver) : NULL;
    sc->window = dw_strdup(e->windows[wi].name);
    sc->start_ms = r->start_ms;
    sc->end_ms = r->end_ms;
    sc->summary = r->sum;
    sc->thresholds = cc->thresholds;
    sc->columns = dw_calloc(c->ncmp + 1, sizeof *sc->columns);
    /* Failing and inconclusive columns first: they are the evidence. */
    static const dw_verdict order[] = {DW_VERDICT_FAIL, DW_VERDICT_INCONCLUSIVE, DW_VERDICT_PASS};
    for (size_t o = 0; o < 3; o++)
        for (size_t k = 0; k < c->ncmp; k++)
            if (r->cols[k].verdict == order[o]) {
                dw_status_compare_column *col = &sc->columns[sc->ncolumns++];
                col->name = dw_strdup(me->ref->cols[c->cmp_cols[k]].name);
                col->c = r->cols[k];
                col->c.r.ref = NULL;
                col->state = r->alerts[k].state;
            }
    char why[700];
    dw_compare_reason(r->cols, c->ncmp, &r->sum, why, sizeof why);
    dw_verdict verdict = r->sum.verdict;
    if (r->has_lat) {
        const dw_latency_compare *l = &r->lat;
        sc->latency = dw_calloc(1, sizeof *sc->latency);
        sc->latency->cmp = *l;
        sc->latency->max_ratio = cc->latency_max_ratio;
        sc->latency->relative_error = c->cfg->latency.alpha;
        sc->latency->unit = dw_strdup(c->cfg->latency.unit);
        /* The latency gate takes part in the verdict: fail wins, then
         * inconclusive. */
        if (l->verdict == DW_VERDICT_FAIL && verdict != DW_VERDICT_FAIL) {
            verdict = DW_VERDICT_FAIL;
            snprintf(why, sizeof why, "latency p%g is %.3g times the baseline's (max %.3g)",
                     l->q * 100, l->ratio, cc->latency_max_ratio);
        } else if (l->verdict == DW_VERDICT_INCONCLUSIVE && verdict == DW_VERDICT_PASS) {
            verdict = DW_VERDICT_INCONCLUSIVE;
            snprintf(why, sizeof why, "too few latency values to compare");
        }
    }
    sc->verdict = verdict;
    sc->reason = dw_strdup(why);
}

/* The current comparison of state v in window wi, or NULL: none, or one
 * older than the baseline's latest evaluation. */
static const cmp_result *current_comparison(const model_entry *me, size_t v, size_t wi)
{
    const struct dw_canary *c = me->canary;
    int b = c->baseline[wi];
    if (b < 0 || (size_t)b >= me->nstates || (int)v == b || !c->cmp[v])
        return NULL;
    const cmp_result *r = &c->cmp[v][wi];
    if (r->end_ms == INT64_MIN || r->end_ms != dw_model_last_evaluated(me->states[b], wi))
        return NULL;
    return r;
}

void dw_eng_canary_status(const dw_engine *e, dw_status *st)
{
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < e->nmodels; i++) {
            const model_entry *me = &e->models[i];
            const struct dw_canary *c = me->canary;
            if (!c || !c->cfg->compare.enabled)
                continue;
            for (size_t wi = 0; wi < c->nwin; wi++)
                for (size_t v = 0; v < me->nstates; v++) {
                    const cmp_result *r = current_comparison(me, v, wi);
                    if (!r)
                        continue;
                    if (pass)
                        comparison_status(e, me, v, wi, r, &st->comparisons[st->ncomparisons++]);
                    else
                        n++;
                }
        }
        if (!pass)
            st->comparisons = dw_calloc(n + 1, sizeof *st->comparisons);
    }
}

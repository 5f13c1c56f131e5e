#include "driftwatch/engine.h"
#include "engine_int.h"
#include "engine_perf_int.h"

#include "driftwatch/budget.h"
#include "driftwatch/error.h"
#include "driftwatch/hash.h"
#include "driftwatch/log.h"
#include "driftwatch/model.h"
#include "driftwatch/reference.h"
#include "driftwatch/scanner.h"
#include "driftwatch/timestamp.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- column name index: "features.amount" -> column, looked up from
 * scanner path slices without building the joined string ---- */

static void col_index_build(col_index *ci, const dw_reference *ref)
{
    size_t size = 8;
    while (size < ref->ncols * 2)
        size <<= 1;
    ci->mask = size - 1;
    ci->ref = ref;
    ci->slots = dw_malloc(size * sizeof *ci->slots);
    for (size_t i = 0; i < size; i++)
        ci->slots[i] = -1;
    for (size_t j = 0; j < ref->ncols; j++) {
        const char *n = ref->cols[j].name;
        size_t h = (size_t)dw_fnv1a(DW_FNV1A_SEED, n, strlen(n)) & ci->mask;
        while (ci->slots[h] >= 0)
            h = (h + 1) & ci->mask;
        ci->slots[h] = (int32_t)j;
    }
}

/* Finds the column whose name is parts joined by '.'. */
static int col_index_find(const col_index *ci, const dw_scan_slice *parts, size_t nparts)
{
    uint64_t hv = DW_FNV1A_SEED;
    size_t total = 0;
    for (size_t i = 0; i < nparts; i++) {
        if (i) {
            hv = dw_fnv1a(hv, ".", 1);
            total++;
        }
        hv = dw_fnv1a(hv, parts[i].ptr, parts[i].len);
        total += parts[i].len;
    }
    for (size_t h = (size_t)hv & ci->mask;; h = (h + 1) & ci->mask) {
        int32_t j = ci->slots[h];
        if (j < 0)
            return -1;
        const char *name = ci->ref->cols[j].name;
        if (strlen(name) != total)
            continue;
        size_t pos = 0;
        bool eq = true;
        for (size_t i = 0; i < nparts && eq; i++) {
            if (i) {
                eq = name[pos] == '.';
                pos++;
            }
            eq = eq && memcmp(name + pos, parts[i].ptr, parts[i].len) == 0;
            pos += parts[i].len;
        }
        if (eq)
            return j;
    }
}

/* ---- engine ---- */

static const char *reject_names[DW_REJECT_MAX] = {
    "invalid_json",      "not_object", "no_model",        "unknown_model", "bad_timestamp", "late",
    "too_many_versions", "too_large",  "too_many_fields", "too_deep",      "future",
};

const char *dw_reject_reason_name(dw_reject_reason r)
{
    return r < DW_REJECT_MAX ? reject_names[r] : "unknown";
}

void dw_engine_on_emit(dw_engine *e, dw_emit_fn fn, void *ctx)
{
    e->emit = fn;
    e->emit_ctx = ctx;
}

void dw_engine_on_reject(dw_engine *e, dw_reject_fn fn, void *ctx)
{
    e->reject = fn;
    e->reject_ctx = ctx;
}

/* The C string s equals p[0..n): one pass, no libc calls (model names and
 * versions, compared for every record, are short). */
static inline bool cstr_eq(const char *s, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != p[i] || s[i] == '\0')
            return false;
    return s[n] == '\0';
}

void dw_eng_cpath_init(cpath *cp, const char *dotted)
{
    memset(cp, 0, sizeof *cp);
    cp->dotted = dotted;
    const char *p = dotted;
    for (int d = 0; d < DW_SCAN_MAX_DEPTH; d++) {
        const char *dot = strchr(p, '.');
        cp->part[d] = p;
        cp->len[d] = dot ? (size_t)(dot - p) : strlen(p);
        cp->depth = d + 1;
        if (!dot)
            return;
        p = dot + 1;
    }
    cp->depth = 0; /* deeper than the scanner reports */
}

static void cpaths_init(dw_engine *e)
{
    dw_eng_cpath_init(&e->p_ts, e->cfg->records.timestamp);
    dw_eng_cpath_init(&e->p_model, e->cfg->records.model);
    dw_eng_cpath_init(&e->p_version, e->cfg->records.model_version);
}

static void entry_free(model_entry *me)
{
    for (size_t v = 0; v < me->nstates; v++)
        dw_model_free(me->states[v]);
    free(me->cols.slots);
    free(me->memo);
    free(me->via);
    free(me->th);
    free(me->ignored);
    dw_eng_canary_free(me->canary);
    dw_reference_free(me->ref);
    memset(me, 0, sizeof *me);
}

/* Loads every model's reference and resolves its column thresholds. */
static int entries_load(const dw_config *cfg, model_entry **out, size_t *max_cols, char *errbuf,
                        size_t errlen)
{
    model_entry *models = dw_calloc(cfg->nmodels ? cfg->nmodels : 1, sizeof *models);
    *max_cols = 0;
    for (size_t i = 0; i < cfg->nmodels; i++) {
        model_entry *me = &models[i];
        me->cfg = &cfg->models[i];
        int rc = dw_reference_load(me->cfg->reference, &me->ref, errbuf, errlen);
        if (rc < 0) {
            for (size_t k = 0; k < i; k++)
                entry_free(&models[k]);
            free(models);
            return rc;
        }
        col_index_build(&me->cols, me->ref);
        me->memo = dw_malloc(cfg->records.max_fields * sizeof *me->memo);
        for (size_t k = 0; k < cfg->records.max_fields; k++)
            me->memo[k].col = -2;
        me->flat = dw_reference_is_flat(me->ref);
        me->via = dw_calloc(me->ref->ncols + 1, sizeof *me->via);
        char why[512];
        if (dw_reference_mismatch(me->ref, me->cfg->name, me->cfg->version, why, sizeof why))
            dw_log(DW_LOG_WARN, "engine", "%s", why);
        me->th = dw_calloc(me->ref->ncols + 1, sizeof *me->th);
        me->ignored = dw_calloc(me->ref->ncols + 1, sizeof *me->ignored);
        for (size_t j = 0; j < me->ref->ncols; j++)
            me->th[j] =
                dw_config_column_thresholds(cfg, me->cfg, me->ref->cols[j].name, &me->ignored[j]);
        if (me->ref->ncols > *max_cols)
            *max_cols = me->ref->ncols;
        me->canary = dw_eng_canary_new(cfg, me);
    }
    /* Refused here, not at the first record: see budget.h. */
    const dw_reference **refs = dw_calloc(cfg->nmodels + 1, sizeof *refs);
    for (size_t i = 0; i < cfg->nmodels; i++)
        refs[i] = models[i].ref;
    int rc = dw_budget_check(cfg, refs, NULL, errbuf, errlen);
    free(refs);
    if (rc < 0) {
        for (size_t k = 0; k < cfg->nmodels; k++)
            entry_free(&models[k]);
        free(models);
        return rc;
    }
    *out = models;
    return 0;
}

/* Sinks that want still-firing alerts posted again (Alertmanager) get
 * reminders at the smallest interval they ask for (sink.h), or none (0). */
static int64_t resend_interval(const dw_config *cfg)
{
    int64_t best = 0;
    for (size_t i = 0; i < cfg->nsinks; i++) {
        const dw_sink_config *sc = &cfg->sinks[i];
        dw_sink_kv opts[DW_SINK_MAX_OPTIONS];
        dw_sink_spec sp;
        dw_sink_spec_init(&sp);
        sp.type = sc->type;
        sp.options = opts;
        for (; sp.n_options < sc->nparams && sp.n_options < DW_SINK_MAX_OPTIONS; sp.n_options++)
            opts[sp.n_options] =
                (dw_sink_kv){sc->params[sp.n_options].key, sc->params[sp.n_options].value};
        int64_t ms = dw_sink_reminder_interval(&sp);
        if (ms > 0 && (best == 0 || ms < best))
            best = ms;
    }
    return best;
}

/* (Re)sizes what depends on the models: per-record scratch, pending
 * documents and retraining state (which starts afresh). */
static void size_scratch(dw_engine *e, size_t max_cols)
{
    if (max_cols + 1 > e->max_cols + 1 || !e->slots) {
        free(e->slots);
        free(e->seen);
        free(e->res);
        free(e->events);
        e->max_cols = max_cols;
        e->slots = dw_calloc(e->max_cols + 1, sizeof *e->slots);
        e->seen = dw_calloc(e->max_cols + 1, sizeof *e->seen);
        e->res = dw_calloc(e->max_cols + 1, sizeof *e->res);
        e->events = dw_calloc(2 * e->max_cols + 2, sizeof *e->events);
        e->seen_gen = 0;
    }
    if (e->nfields_cap != e->cfg->records.max_fields) {
        free(e->fields);
        e->nfields_cap = e->cfg->records.max_fields;
        e->fields = dw_calloc(e->nfields_cap, sizeof *e->fields);
    }
    free(e->pending);
    e->pending = dw_calloc(e->nmodels * (DW_ENGINE_MAX_VERSIONS + 1) + 1, sizeof *e->pending);
    free(e->pending_reminder);
    e->pending_reminder =
        dw_calloc(e->nmodels * (DW_ENGINE_MAX_VERSIONS + 1) + 1, sizeof *e->pending_reminder);
    e->resend_ms = resend_interval(e->cfg);
    free(e->retrain);
    size_t nrs =
        e->nmodels * (DW_ENGINE_MAX_VERSIONS + 1) * (e->cfg->nretrain ? e->cfg->nretrain : 1);
    e->retrain = dw_calloc(nrs, sizeof *e->retrain);
    for (size_t i = 0; i < nrs; i++)
        e->retrain[i].since = e->retrain[i].last_fired = INT64_MIN;
}

int dw_engine_new(const dw_config *cfg, dw_engine **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    dw_engine *e = dw_calloc(1, sizeof *e);
    e->cfg = cfg;
    pthread_mutex_init(&e->snap_lock, NULL);
    e->max_event_ms = INT64_MIN;
    e->watermark_ms = INT64_MIN;
    e->stats.watermark_ms = INT64_MIN; /* as documented: INT64_MIN before data */
    e->stats.max_event_ms = INT64_MIN;
    e->next_boundary = INT64_MAX;
    e->nwindows = cfg->nwindows;
    e->pre_limit = INT64_MIN;
    e->min_slide = INT64_MAX;
    e->emit_at = INT64_MIN;
    for (size_t w = 0; w < cfg->nwindows; w++) {
        if (cfg->windows[w].slide_ms < e->min_slide)
            e->min_slide = cfg->windows[w].slide_ms;
        e->windows[w].name = cfg->windows[w].name;
        e->windows[w].length_ms = cfg->windows[w].length_ms;
        e->windows[w].slide_ms = cfg->windows[w].slide_ms;
    }
    size_t max_cols;
    int rc = entries_load(cfg, &e->models, &max_cols, errbuf, errlen);
    if (rc < 0) {
        pthread_mutex_destroy(&e->snap_lock);
        free(e);
        return rc;
    }
    e->nmodels = cfg->nmodels;
    e->sources = dw_calloc(DW_ENGINE_MAX_SOURCES, sizeof *e->sources);
    e->nsources = 1; /* source 0: files, and anything unregistered */
    e->pending_retrain = json_array();
    size_scratch(e, max_cols);
    cpaths_init(e);
    if ((rc = dw_eng_perf_new(e, errbuf, errlen)) < 0) {
        dw_engine_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

/* alerts.for and alerts.keep_firing_for as every model's alert rule. */
static dw_alert_rule alert_rule(const dw_config *cfg)
{
    return (dw_alert_rule){.for_count = (uint32_t)cfg->alerts.for_evaluations,
                           .keep_firing_ms = cfg->alerts.keep_firing_for_ms};
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

int dw_engine_reload(dw_engine *e, const dw_config *cfg, char *errbuf, size_t errlen)
{
    /* Pending counts name model states that a reload may drop. */
    if (e->delta_on)
        dw_engine_delta_flush(e);
    const dw_config *old = e->cfg;
    bool same_windows = cfg->nwindows == old->nwindows &&
                        cfg->time.allowed_lateness_ms == old->time.allowed_lateness_ms &&
                        cfg->evaluation.max_new_categories == old->evaluation.max_new_categories;
    for (size_t w = 0; same_windows && w < cfg->nwindows; w++)
        same_windows = !strcmp(cfg->windows[w].name, old->windows[w].name) &&
                       cfg->windows[w].length_ms == old->windows[w].length_ms &&
                       cfg->windows[w].slide_ms == old->windows[w].slide_ms;
    if (!same_windows)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "%s: windows, time.allowed_lateness or evaluation.max_new_categories "
                         "changed: restart driftwatch to apply them",
                         cfg->path);
    model_entry *models;
    size_t max_cols;
    int rc = entries_load(cfg, &models, &max_cols, errbuf, errlen);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < cfg->nmodels; i++) {
        model_entry *me = &models[i];
        for (size_t k = 0; k < e->nmodels; k++) {
            model_entry *oe = &e->models[k];
            if (!oe->ref || strcmp(oe->cfg->name, me->cfg->name) ||
                !same_str(oe->cfg->version, me->cfg->version))
                continue;
            if (dw_eng_canary_width(oe->cfg) != dw_eng_canary_width(me->cfg)) {
                dw_log(DW_LOG_WARN, "engine",
                       "model %s: latency sketch changed, its windows start afresh", me->cfg->name);
                break;
            }
            if (strcmp(oe->ref->checksum, me->ref->checksum) != 0) {
                dw_log(DW_LOG_WARN, "engine",
                       "model %s: reference %s changed, its windows start afresh", me->cfg->name,
                       me->cfg->reference);
                break;
            }
            /* Same reference: keep the old one (the states point into it)
             * and move the window state over. */
            dw_reference_free(me->ref);
            free(me->cols.slots);
            me->ref = oe->ref;
            me->cols = oe->cols;
            oe->ref = NULL;
            oe->cols.slots = NULL;
            for (size_t j = 0; j < me->ref->ncols; j++)
                me->th[j] = dw_config_column_thresholds(cfg, me->cfg, me->ref->cols[j].name,
                                                        &me->ignored[j]);
            dw_eng_canary_adopt(me->canary, oe->canary);
            memcpy(me->states, oe->states, sizeof me->states);
            me->nstates = oe->nstates;
            oe->nstates = 0;
            dw_alert_rule rule = alert_rule(cfg);
            for (size_t v = 0; v < me->nstates; v++)
                dw_model_set_params(me->states[v], me->th, me->ignored, &rule,
                                    cfg->alerts.clear_psi, cfg->alerts.clear_ks);
            break;
        }
    }
    /* Pending documents belong to the old models; nothing is pending
     * between two messages, so this only frees empty slots. */
    for (size_t i = 0; i < e->nmodels * (DW_ENGINE_MAX_VERSIONS + 1); i++) {
        json_decref(e->pending[i]);
        json_decref(e->pending_reminder[i]);
        e->pending_reminder[i] = NULL;
    }
    for (size_t k = 0; k < e->nmodels; k++)
        entry_free(&e->models[k]);
    free(e->models);
    e->models = models;
    e->nmodels = cfg->nmodels;
    e->cfg = cfg;
    for (size_t w = 0; w < cfg->nwindows; w++)
        e->windows[w].name = cfg->windows[w].name;
    size_scratch(e, max_cols);
    cpaths_init(e);
    /* Performance state points into the configuration: it starts afresh
     * (docs/performance.md, "Limits"). */
    dw_eng_perf_free(e);
    char perr[512];
    if (dw_eng_perf_new(e, perr, sizeof perr) < 0)
        dw_log(DW_LOG_ERROR, "engine", "performance monitoring off after the reload: %s", perr);
    dw_eng_refresh_next_boundary(e);
    return 0;
}

void dw_engine_free(dw_engine *e)
{
    if (!e)
        return;
    dw_eng_state_free(e);
    dw_eng_perf_free(e);
    for (size_t i = 0; i < e->nmodels; i++)
        entry_free(&e->models[i]);
    for (size_t i = 0; i < e->nsources; i++)
        free(e->sources[i].topic);
    free(e->sources);
    free(e->models);
    free(e->fields);
    free(e->slots);
    free(e->seen);
    free(e->res);
    free(e->events);
    if (e->pending)
        for (size_t i = 0; i < e->nmodels * (DW_ENGINE_MAX_VERSIONS + 1); i++)
            json_decref(e->pending[i]);
    free(e->pending);
    if (e->pending_reminder)
        for (size_t i = 0; i < e->nmodels * (DW_ENGINE_MAX_VERSIONS + 1); i++)
            json_decref(e->pending_reminder[i]);
    free(e->pending_reminder);
    json_decref(e->pending_retrain);
    json_decref(e->restored);
    free(e->retrain);
    dw_status_release(e->status);
    pthread_mutex_destroy(&e->snap_lock);
    free(e);
}

/* Every member of dw_engine_stats is a 64-bit counter or time (engine.h),
 * so the struct is an array of words: each is read as STAT_GET reads it. */
_Static_assert(sizeof(dw_engine_stats) % sizeof(uint64_t) == 0,
               "dw_engine_stats holds 64-bit members only");

void dw_engine_stats_get(dw_engine *e, dw_engine_stats *out)
{
    const uint64_t *from = (const uint64_t *)&e->stats;
    uint64_t *to = (uint64_t *)out;
    for (size_t i = 0; i < sizeof *out / sizeof *to; i++)
        to[i] = __atomic_load_n(&from[i], __ATOMIC_RELAXED);
}

static void reject(dw_engine *e, dw_reject_reason r, const char *detail, const char *raw,
                   size_t len)
{
    STAT_ADD(e, rejected[r], 1);
    if (e->reject)
        e->reject(e->reject_ctx, r, detail, raw, len);
}

/* ---- time ---- */

/* Evaluation durations for the metrics histogram: a few hundred
 * evaluations a second at most, so two clock reads each cost nothing. */
const double dw_engine_eval_bounds[DW_ENGINE_EVAL_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void record_eval_duration(dw_engine *e, uint64_t ns)
{
    size_t b = 0;
    while (b < DW_ENGINE_EVAL_BUCKETS && (double)ns > dw_engine_eval_bounds[b] * 1e9)
        b++;
    STAT_ADD(e, eval_buckets[b], 1);
    STAT_ADD(e, eval_ns, ns);
}

static void evaluate_window(dw_engine *e, model_entry *me, size_t state_idx, size_t wi,
                            int64_t end_ms)
{
    dw_model *m = me->states[state_idx];
    size_t ncols = me->ref->ncols;
    uint64_t t0 = mono_ns();
    dw_model_evaluate(m, wi, end_ms, e->res, e->events);
    record_eval_duration(e, mono_ns() - t0);
    size_t first,
        absent = me->warned_absent ? 0 : dw_drift_absent(e->res, ncols, me->ignored, &first);
    if (absent) {
        /* Column names that are not the records' field paths, said once. */
        me->warned_absent = true;
        dw_log(DW_LOG_WARN, "engine",
               "model %s: %zu reference columns (first: %s) occur in no record of the window: "
               "check that %s names them like the records' fields (docs/record-format.md)",
               me->cfg->name, absent, me->ref->cols[first].name, me->cfg->reference);
    }
    STAT_ADD(e, evaluations, 1);
    size_t pidx = (size_t)(me - e->models) * (DW_ENGINE_MAX_VERSIONS + 1) + state_idx;
    for (size_t j = 0; j < ncols; j++) {
        for (int kind = 0; kind < 2; kind++) {
            dw_alert_event ev = e->events[2 * j + (size_t)kind];
            if (ev == DW_ALERT_NONE)
                continue;
            if (!e->pending[pidx])
                e->pending[pidx] = dw_eng_new_document(m, end_ms, "notification");
            json_array_append_new(json_object_get(e->pending[pidx], "alerts"),
                                  dw_eng_alert_json(me, m, wi, j, kind, ev, &e->res[j]));
        }
    }
    if (e->resend_ms > 0) {
        for (size_t j = 0; j < ncols; j++)
            for (int kind = 0; kind < 2; kind++) {
                const dw_alert *a = dw_model_alert(m, j, wi, kind);
                if (a->state != DW_ALERT_FIRING ||
                    e->events[2 * j + (size_t)kind] != DW_ALERT_NONE ||
                    end_ms - a->notified_ms < e->resend_ms)
                    continue;
                if (!e->pending_reminder[pidx]) {
                    e->pending_reminder[pidx] = dw_eng_new_document(m, end_ms, "reminder");
                    json_object_set_new(e->pending_reminder[pidx], "reminder", json_true());
                }
                json_array_append_new(
                    json_object_get(e->pending_reminder[pidx], "alerts"),
                    dw_eng_alert_json(me, m, wi, j, kind, DW_ALERT_FIRED, &e->res[j]));
                dw_model_alert_notified(m, j, wi, kind, end_ms);
            }
    }
    if (e->cfg->nretrain)
        dw_eng_check_retrain(e, me, state_idx, wi, end_ms);
}

static void emit_pending(dw_engine *e)
{
    size_t n = e->nmodels * (DW_ENGINE_MAX_VERSIONS + 1);
    for (size_t i = 0; i < n; i++) {
        if (!e->pending[i])
            continue;
        STAT_ADD(e, notifications, 1);
        if (e->emit)
            e->emit(e->emit_ctx, e->pending[i]);
        else
            json_decref(e->pending[i]);
        e->pending[i] = NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!e->pending_reminder[i])
            continue;
        if (e->emit)
            e->emit(e->emit_ctx, e->pending_reminder[i]);
        else
            json_decref(e->pending_reminder[i]);
        e->pending_reminder[i] = NULL;
    }
    size_t k;
    json_t *doc;
    json_array_foreach (e->pending_retrain, k, doc) {
        STAT_ADD(e, notifications, 1);
        if (e->emit)
            e->emit(e->emit_ctx, json_incref(doc));
    }
    json_array_clear(e->pending_retrain);
}

/* Caches the earliest pane end still open, so records only pay for
 * advance() when the watermark crosses a boundary. */
void dw_eng_refresh_next_boundary(dw_engine *e)
{
    int64_t nb = INT64_MAX;
    for (size_t i = 0; i < e->nmodels; i++)
        for (size_t v = 0; v < e->models[i].nstates; v++)
            for (size_t w = 0; w < e->nwindows; w++) {
                int64_t ne = dw_window_next_end(dw_model_window(e->models[i].states[v], w));
                if (ne != INT64_MIN && ne < nb)
                    nb = ne;
            }
    e->next_boundary = nb;
}

/* Closes, in time order, every pane whose end is <= limit (per window:
 * limit_for(slide)), evaluating each window as its pane closes and emitting
 * the grouped documents once per boundary. final: limit is an event time,
 * and each window closes up to the end of its pane holding it (flush). */
void dw_eng_advance(dw_engine *e, int64_t limit, bool final)
{
    bool published = true; /* nothing evaluated yet: nothing new to publish */
    /* Counts go out before any pane closes: a replica applying the deltas
     * in log order then closes each pane with the same counts as here. */
    if (e->delta_on)
        dw_engine_delta_flush(e);
    if (e->ahead_list)
        dw_eng_retry_ahead(e);
    /* Long gaps: windows whose data all expired restart at the gap's end
     * instead of closing thousands of empty panes. */
    for (size_t i = 0; i < e->nmodels; i++)
        for (size_t v = 0; v < e->models[i].nstates; v++)
            for (size_t w = 0; w < e->nwindows; w++) {
                dw_window *win = dw_model_window(e->models[i].states[v], w);
                int64_t slide = dw_window_slide(win);
                int64_t lim = floor_to(limit, slide) + (final ? slide : 0);
                dw_window_skip_to(win, lim);
            }
    for (;;) {
        int64_t next = INT64_MAX;
        for (size_t i = 0; i < e->nmodels; i++)
            for (size_t v = 0; v < e->models[i].nstates; v++)
                for (size_t w = 0; w < e->nwindows; w++) {
                    dw_window *win = dw_model_window(e->models[i].states[v], w);
                    int64_t ne = dw_window_next_end(win);
                    int64_t slide = dw_window_slide(win);
                    int64_t lim = final ? floor_to(limit, slide) + slide : limit;
                    if (ne != INT64_MIN && ne <= lim && ne < next)
                        next = ne;
                }
        if (next == INT64_MAX)
            break;
        for (size_t i = 0; i < e->nmodels; i++)
            for (size_t v = 0; v < e->models[i].nstates; v++)
                for (size_t w = 0; w < e->nwindows; w++) {
                    dw_window *win = dw_model_window(e->models[i].states[v], w);
                    if (dw_window_next_end(win) != next)
                        continue;
                    dw_window_close_next(win);
                    evaluate_window(e, &e->models[i], v, w, next);
                }
        dw_eng_canary_evaluate(e, next);
        e->emit_at = next;
        emit_pending(e);
        e->emit_at = INT64_MIN;
        published = false;
    }
    if (e->perf) {
        /* A flush at shutdown leaves the join: labels may still come. */
        bool done = final && dw_eng_perf_input_complete(e);
        dw_eng_perf_advance(e, final ? e->watermark_ms : limit, done);
        published = false;
    }
    /* Building the document costs about a millisecond: at most once a
     * second of wall time (a replay crosses thousands of boundaries a
     * second), and always at the end (flush). */
    if (!published)
        e->snapshot_stale = true;
    if ((e->snapshot_stale && !e->snapshot_quiet && dw_now_ms() - e->last_publish_ms >= 1000) ||
        final) {
        dw_eng_publish_snapshot(e);
        e->last_publish_ms = dw_now_ms();
        e->snapshot_stale = false;
    }
    dw_eng_refresh_next_boundary(e);
}

static void set_watermark(dw_engine *e, int64_t wm)
{
    if (wm <= e->watermark_ms)
        return;
    e->watermark_ms = wm;
    STAT_SET(e, watermark_ms, wm);
    STAT_SET(e, max_event_ms, e->max_event_ms);
    if (wm >= e->next_boundary)
        dw_eng_advance(e, wm, false);
}

/* min over active sources of their newest event time (see engine.h);
 * INT64_MIN while an assigned source has delivered nothing yet, unless
 * delivered_only (then such a source, an empty partition, is left out). */
static int64_t sources_min(const dw_engine *e, int64_t wall_ms, bool delivered_only)
{
    int64_t idle = e->cfg->time.idle_timeout_ms;
    int64_t m = INT64_MAX;
    bool any = false;
    for (size_t i = 0; i < e->nsources; i++) {
        const source *src = &e->sources[i];
        if (!src->seen && (delivered_only || (!src->assigned && !src->expected)))
            continue;
        if (idle > 0 && wall_ms - src->last_wall >= idle)
            continue;
        any = true;
        int64_t v = src->seen ? src->max_t : INT64_MIN;
        if (v < m)
            m = v;
    }
    return any ? m : e->max_event_ms;
}

int64_t dw_eng_watermark_target(const dw_engine *e, int64_t wall_ms)
{
    int64_t m = sources_min(e, wall_ms, false);
    return m == INT64_MIN ? INT64_MIN : m - e->cfg->time.allowed_lateness_ms;
}

void dw_eng_update_watermark(dw_engine *e, int64_t wall_ms)
{
    int64_t wm = dw_eng_watermark_target(e, wall_ms);
    if (wm != INT64_MIN)
        set_watermark(e, wm);
}

int dw_engine_source(dw_engine *e, const char *topic, int32_t partition)
{
    for (size_t i = 1; i < e->nsources; i++)
        if (e->sources[i].partition == partition && !strcmp(e->sources[i].topic, topic))
            return (int)i;
    if (e->nsources >= DW_ENGINE_MAX_SOURCES)
        return -1;
    source *src = &e->sources[e->nsources];
    src->topic = dw_strdup(topic);
    src->partition = partition;
    src->max_t = INT64_MIN;
    src->off_from = src->off_to = src->log_to = -1;
    return (int)e->nsources++;
}

const char *dw_engine_source_topic(const dw_engine *e, int id, int32_t *partition)
{
    if (id < 0 || (size_t)id >= e->nsources)
        return NULL;
    *partition = e->sources[id].partition;
    return e->sources[id].topic;
}

void dw_engine_source_assigned(dw_engine *e, int id, bool assigned)
{
    if (id < 0 || (size_t)id >= e->nsources)
        return;
    source *src = &e->sources[id];
    src->assigned = assigned;
    src->last_wall = dw_wall_ms();
    /* With state deltas the partition goes on holding time back: its new
     * owner's deltas carry its event time here, and until they come the
     * panes it feeds must not close. */
    if (!assigned && !e->delta_on) {
        /* Another replica owns it now: it no longer holds time back. */
        src->seen = false;
        src->max_t = INT64_MIN;
        dw_eng_update_watermark(e, src->last_wall);
    }
}

int64_t dw_engine_open_until(dw_engine *e)
{
    int64_t m = INT64_MAX;
    if (e->watermark_ms == INT64_MIN && e->nsources > 1 && e->pre_limit != INT64_MIN)
        m = floor_to(e->pre_limit, e->min_slide) + e->min_slide; /* see apply_record */
    for (size_t i = 0; i < e->nmodels; i++)
        for (size_t v = 0; v < e->models[i].nstates; v++)
            for (size_t w = 0; w < e->nwindows; w++) {
                int64_t oe = dw_window_open_end(dw_model_window(e->models[i].states[v], w));
                if (oe < m)
                    m = oe;
            }
    return m;
}

int64_t dw_engine_watermark(const dw_engine *e)
{
    return e->watermark_ms;
}

void dw_engine_tick(dw_engine *e, int64_t wall_ms)
{
    /* Evaluations the throttle kept out of the last snapshot are published
     * here, a second later at most, even when no further pane closes
     * (otherwise /metrics and /ui could show stale statistics for a whole
     * slide). */
    if (e->snapshot_stale && dw_now_ms() - e->last_publish_ms >= 1000) {
        dw_eng_publish_snapshot(e);
        e->last_publish_ms = dw_now_ms();
        e->snapshot_stale = false;
    }
    if (e->ahead_list)
        dw_eng_retry_ahead(e);
    int64_t idle = e->cfg->time.idle_timeout_ms;
    if (idle <= 0 || e->max_event_ms == INT64_MIN)
        return;
    /* A source that went quiet stops holding the watermark back. */
    dw_eng_update_watermark(e, wall_ms);
    if (wall_ms - e->last_record_wall < idle) {
        e->last_tick_wall = wall_ms;
        return;
    }
    /* Idle: event time follows the wall clock. */
    int64_t step = wall_ms - (e->last_tick_wall > e->last_record_wall ? e->last_tick_wall
                                                                      : e->last_record_wall);
    e->last_tick_wall = wall_ms;
    if (step <= 0)
        return;
    e->max_event_ms += step;
    for (size_t i = 0; i < e->nsources; i++)
        if (e->sources[i].seen && e->sources[i].max_t < e->max_event_ms)
            e->sources[i].max_t = e->max_event_ms;
    set_watermark(e, e->max_event_ms - e->cfg->time.allowed_lateness_ms);
}

void dw_engine_flush(dw_engine *e)
{
    if (e->max_event_ms == INT64_MIN)
        return;
    dw_eng_advance(e, e->max_event_ms, true);
}

void dw_engine_flush_complete(dw_engine *e, int64_t wall_ms)
{
    if (e->max_event_ms == INT64_MIN)
        return;
    /* The slowest source that has delivered and is not idle: a source
     * that never delivered (an empty partition) holds nothing back. */
    dw_eng_advance(e, sources_min(e, wall_ms, true), true);
}

/* ---- alert state across restarts ---- */

static int window_index(const dw_engine *e, const char *name)
{
    for (size_t w = 0; w < e->nwindows; w++)
        if (name && !strcmp(e->windows[w].name, name))
            return (int)w;
    return -1;
}

json_t *dw_eng_alert_entry(const dw_model *m, const char *column, const char *window,
                           const char *kind, const dw_alert *a)
{
    char key[17];
    dw_alert_dedup_key(dw_model_name(m), dw_model_version(m), column, window, kind, key);
    return json_pack(
        "{s:s,s:o,s:s,s:s,s:s,s:I,s:I,s:s}", "model", dw_model_name(m), "model_version",
        dw_model_version(m) ? json_string(dw_model_version(m)) : json_null(), "column", column,
        "window", window, "kind", kind, "started_at_ms", (json_int_t)a->started_ms,
        "notified_at_ms", (json_int_t)a->notified_ms, "dedup_key", key);
}

json_t *dw_engine_alert_state(dw_engine *e)
{
    json_t *alerts = json_array(), *extra = json_array();
    for (size_t i = 0; i < e->nmodels; i++) {
        model_entry *me = &e->models[i];
        for (size_t v = 0; v < me->nstates; v++) {
            dw_model *m = me->states[v];
            for (size_t j = 0; j < me->ref->ncols; j++)
                for (size_t w = 0; w < e->nwindows; w++)
                    for (int kind = 0; kind < 2; kind++) {
                        const dw_alert *a = dw_model_alert(m, j, w, kind);
                        if (a->state == DW_ALERT_FIRING)
                            json_array_append_new(
                                alerts,
                                dw_eng_alert_entry(m, me->ref->cols[j].name, e->windows[w].name,
                                                   kind ? "quality" : "distribution", a));
                    }
            if (me->canary)
                dw_eng_canary_alert_state(me, v, extra);
            if (e->perf)
                dw_eng_perf_alert_state(e, i, v, extra);
        }
    }
    /* The other kinds apart: a build from before them reads every entry of
     * "alerts" as a drift alert of its column. */
    return json_pack("{s:i,s:o,s:o}", "version", 1, "alerts", alerts, "extra_alerts", extra);
}

void dw_engine_restore_alerts(dw_engine *e, const json_t *state)
{
    json_t *alerts = json_object_get(state, "alerts");
    json_t *extra = json_object_get(state, "extra_alerts");
    if (!json_is_array(alerts))
        return;
    json_decref(e->restored);
    e->restored = json_deep_copy(alerts);
    if (json_is_array(extra))
        json_array_extend(e->restored, extra);
}

/* Restores entry a (of state v's model and version) into state v. */
static void restore_one(dw_engine *e, model_entry *me, size_t v, const json_t *a)
{
    const char *kind = json_string_value(json_object_get(a, "kind"));
    int w = window_index(e, json_string_value(json_object_get(a, "window")));
    if (!kind || w < 0)
        return;
    int64_t started = (int64_t)json_integer_value(json_object_get(a, "started_at_ms"));
    int64_t notified = (int64_t)json_integer_value(json_object_get(a, "notified_at_ms"));
    const char *column = json_string_value(json_object_get(a, "column"));
    if (!strcmp(kind, "divergence") || !strcmp(kind, "latency")) {
        if (me->canary && column)
            dw_eng_canary_restore(me, v, kind, column, (size_t)w, started, notified,
                                  json_string_value(json_object_get(a, "baseline")));
        return;
    }
    if (!strcmp(kind, "performance")) {
        if (e->perf && column)
            dw_eng_perf_restore(e, (size_t)(me - e->models), v, column, (size_t)w, started,
                                notified);
        return;
    }
    /* A kind this build does not know (from a newer one) is left out. */
    int col = dw_reference_find(me->ref, column);
    if (col < 0 || (strcmp(kind, "distribution") && strcmp(kind, "quality")))
        return;
    dw_model_alert_restore(me->states[v], (size_t)col, (size_t)w, !strcmp(kind, "quality"), started,
                           notified);
}

/* Applies the restored alerts of (model, version) state v just created,
 * and forgets them: a state made again later for the same version (after
 * a reload that starts the windows afresh, or after the version was
 * dropped) does not take up an episode this run has already ended. */
static void apply_restored(dw_engine *e, model_entry *me, size_t v)
{
    if (!e->restored)
        return;
    dw_model *m = me->states[v];
    const char *mv = dw_model_version(m);
    for (size_t i = 0; i < json_array_size(e->restored);) {
        json_t *a = json_array_get(e->restored, i);
        const char *model = json_string_value(json_object_get(a, "model"));
        const char *ver = json_string_value(json_object_get(a, "model_version"));
        if (!model || strcmp(model, dw_model_name(m)) ||
            !((!ver && !mv) || (ver && mv && !strcmp(ver, mv)))) {
            i++;
            continue;
        }
        restore_one(e, me, v, a);
        json_array_remove(e->restored, i);
    }
}

/* ---- records ---- */

static bool slice_eq(dw_scan_slice s, const char *str)
{
    size_t n = strlen(str);
    return s.len == n && memcmp(s.ptr, str, n) == 0;
}

static bool field_in_list(const dw_scan_field *f, char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (dw_scan_path_eq(f, list[i]))
            return true;
    return false;
}

/* A flat reference (built from a CSV: "amount") also matches nested fields
 * by their last name ("features.amount"), and each column follows the
 * first path it meets, so a second field of the same last name is not
 * mixed in (docs/record-format.md). Runs on memo misses only. */
static int flat_bind(model_entry *me, const dw_scan_field *f, int col, bool nested)
{
    if (col < 0 && nested)
        col = col_index_find(&me->cols, &f->key[f->depth - 1], 1);
    if (col < 0)
        return col;
    uint64_t h = DW_FNV1A_SEED;
    for (int d = 0; d < f->depth; d++)
        h = dw_fnv1a(dw_fnv1a(h, f->key[d].ptr, f->key[d].len), ".", 1);
    h |= 1; /* 0 means unbound */
    if (!me->via[col])
        me->via[col] = h;
    return me->via[col] == h ? col : -1;
}

/* True when the field is a member of an object records.columns names
 * ("features", or "payload.features" for one level deeper). Keys with
 * escapes never name a column (the column index compares raw bytes). */
static bool parent_in_list(const dw_scan_field *f, char *const *list, size_t n)
{
    if (f->depth < 2 || f->key_escaped)
        return false;
    for (size_t i = 0; i < n; i++)
        if (f->depth == 2 ? slice_eq(f->key[0], list[i])
                          : dw_scan_prefix_eq(f, f->depth - 1, list[i]))
            return true;
    return false;
}

/* The models[] entry for (model, version): an entry naming the version
 * wins over one for every version of the model. NULL if none covers it. */
model_entry *dw_eng_route(dw_engine *e, const char *mname, size_t mlen, const char *ver,
                          size_t verlen)
{
    model_entry *me = NULL;
    for (size_t i = 0; i < e->nmodels; i++) {
        const dw_model_config *mc = e->models[i].cfg;
        if (!cstr_eq(mc->name, mname, mlen))
            continue;
        if (mc->version) {
            if (ver && cstr_eq(mc->version, ver, verlen))
                return &e->models[i]; /* an exact version entry wins */
        } else if (!me) {
            me = &e->models[i];
        }
    }
    return me;
}

/* Drops the state of a version whose records all left every window, so
 * that versions sent once (a typo, a test, a hostile producer) cannot keep
 * a real new version out for good. Its firing alerts are resolved first,
 * in a document of their own, so no receiver keeps them open. The last
 * state takes its slot: between boundaries no document is pending, and the
 * retraining progress moves with the state. */
void dw_eng_emit(dw_engine *e, json_t *doc)
{
    STAT_ADD(e, notifications, 1);
    if (e->emit)
        e->emit(e->emit_ctx, doc);
    else
        json_decref(doc);
}

static void evict_state(dw_engine *e, model_entry *me, size_t v)
{
    dw_model *m = me->states[v];
    int64_t at = e->watermark_ms;
    json_t *doc = NULL;
    for (size_t j = 0; j < me->ref->ncols; j++)
        for (size_t w = 0; w < e->nwindows; w++)
            for (int kind = 0; kind < 2; kind++) {
                if (dw_model_alert(m, j, w, kind)->state != DW_ALERT_FIRING)
                    continue;
                const dw_column_result *r = dw_model_last_result(m, w, j);
                dw_column_result none = {.ref = &me->ref->cols[j], .type = me->ref->cols[j].type};
                json_t *a = dw_eng_alert_json(me, m, w, j, kind, DW_ALERT_RESOLVED, r ? r : &none);
                json_object_set_new(a, "ends_at", dw_json_time(at));
                json_object_set_new(a, "resolved_by", json_string("version_dropped"));
                if (!doc) {
                    doc = dw_eng_new_document(m, at, "version_dropped");
                    json_object_set_new(doc, "version_dropped", json_true());
                }
                json_array_append_new(json_object_get(doc, "alerts"), a);
            }
    dw_eng_canary_drop(e, me, v, at);
    dw_log(DW_LOG_INFO, "engine",
           "model %s: version %s dropped: no record for a window length of event time",
           me->cfg->name, dw_model_version(m) ? dw_model_version(m) : "(none)");
    if (doc)
        dw_eng_emit(e, doc);
    STAT_ADD(e, versions_dropped, 1);
    dw_model_free(m);
    size_t last = --me->nstates;
    if (e->perf)
        dw_eng_perf_move_version(e, (size_t)(me - e->models), v, last);
    me->states[v] = me->states[last];
    me->last_t[v] = me->last_t[last];
    dw_eng_canary_move(me->canary, v, last);
    me->states[last] = NULL;
    size_t nr = e->cfg->nretrain, base = (size_t)(me - e->models) * (DW_ENGINE_MAX_VERSIONS + 1);
    if (nr && v != last)
        memcpy(&e->retrain[(base + v) * nr], &e->retrain[(base + last) * nr],
               nr * sizeof *e->retrain);
    for (size_t k = 0; k < nr; k++)
        e->retrain[(base + last) * nr + k] =
            (retrain_state){.since = INT64_MIN, .last_fired = INT64_MIN};
    dw_eng_refresh_next_boundary(e);
}

/* Makes room for a new version by dropping those not seen for the longest
 * window's length of event time. Not with state deltas: their pending
 * counts and other replicas' deltas name states by slot and version, and a
 * version dropped here could be revived by a delta (the version limit then
 * holds as before). */
static bool evict_stale(dw_engine *e, model_entry *me)
{
    if (e->delta_on || e->watermark_ms == INT64_MIN)
        return false;
    int64_t longest = 0;
    for (size_t w = 0; w < e->nwindows; w++)
        if (e->windows[w].length_ms > longest)
            longest = e->windows[w].length_ms;
    bool any = false;
    for (size_t v = me->nstates; v-- > 0;)
        if (me->last_t[v] <= e->watermark_ms - longest) {
            evict_state(e, me, v);
            any = true;
        }
    return any;
}

/* The model state for (entry, version), created on first sight. */
dw_model *dw_eng_model_state(dw_engine *e, model_entry *me, const char *ver, size_t verlen,
                             size_t *state_idx, bool *too_many)
{
    *too_many = false;
    for (size_t v = 0; v < me->nstates; v++) {
        const char *sv = dw_model_version(me->states[v]);
        if ((!sv && !ver) || (sv && ver && cstr_eq(sv, ver, verlen))) {
            *state_idx = v;
            return me->states[v];
        }
    }
    if (me->nstates >= DW_ENGINE_MAX_VERSIONS && !evict_stale(e, me)) {
        *too_many = true;
        return NULL;
    }
    /* First record of this version: the only allocation outside start-up,
     * once per (model, version). */
    char *vcopy = ver ? dw_strndup(ver, verlen) : NULL;
    dw_model_spec spec = {
        .name = me->cfg->name,
        .version = vcopy,
        .ref = me->ref,
        .col_thresholds = me->th,
        .col_ignored = me->ignored,
        .windows = e->windows,
        .nwindows = e->nwindows,
        .lateness_ms = e->cfg->time.allowed_lateness_ms > DW_ENGINE_MIN_AHEAD_MS
                           ? e->cfg->time.allowed_lateness_ms
                           : DW_ENGINE_MIN_AHEAD_MS,
        .max_new_categories = e->cfg->evaluation.max_new_categories,
        .alert = alert_rule(e->cfg),
        .clear_psi = e->cfg->alerts.clear_psi,
        .clear_ks = e->cfg->alerts.clear_ks,
        .extra_width = dw_eng_canary_width(me->cfg),
    };
    dw_model *m = dw_model_new(&spec);
    free(vcopy);
    if (!m)
        return NULL;
    *state_idx = me->nstates;
    me->last_t[me->nstates] = INT64_MIN;
    me->states[me->nstates++] = m;
    apply_restored(e, me, *state_idx);
    return m;
}

void dw_eng_value_of(const dw_scan_field *f, char *buf, size_t cap, dw_value *v)
{
    memset(v, 0, sizeof *v);
    switch (f->kind) {
    case DW_SCAN_NULL: v->kind = DW_VAL_MISSING; break;
    case DW_SCAN_BOOL:
        v->kind = DW_VAL_BOOL;
        v->b = f->boolean;
        break;
    case DW_SCAN_NUMBER:
        v->kind = DW_VAL_NUMBER;
        v->num = f->num;
        v->str = f->raw.ptr;
        v->len = f->raw.len;
        break;
    case DW_SCAN_STRING:
        v->kind = DW_VAL_STRING;
        if (f->str_escaped) {
            size_t n = 0;
            dw_scan_unescape(f->raw.ptr, f->raw.len, buf, cap, &n);
            v->str = buf;
            v->len = n;
        } else {
            v->str = f->raw.ptr;
            v->len = f->raw.len;
        }
        break;
    default: v->kind = DW_VAL_OTHER; break;
    }
}

/* A record at event time t from src: the source's time, and with it the
 * watermark, moves (see apply_record). */
static void note_source_time(dw_engine *e, source *src, int64_t t, int64_t wall_ms)
{
    src->last_wall = wall_ms;
    if (!src->seen) {
        src->first_t = t;
        /* Until every assigned partition has delivered (the watermark is
         * unknown), windows only take records up to the first pane of the
         * oldest partition seen, so a partition read first cannot fill
         * panes far ahead of one that turns out to be older. */
        if (e->pre_limit == INT64_MIN || t < e->pre_limit)
            e->pre_limit = t;
    }
    if (!src->seen || t > src->max_t) {
        src->seen = true;
        src->max_t = t;
    }
    if (t > e->max_event_ms)
        e->max_event_ms = t;
    dw_eng_update_watermark(e, wall_ms);
}

static void apply_record(dw_engine *e, source *src, dw_scan_record *rec, int64_t fallback_ts,
                         int64_t wall_ms, bool first)
{
    const dw_records_config *rc = &e->cfg->records;
    const dw_scan_field *f_ts = NULL, *f_model = NULL, *f_ver = NULL;
    if (e->perf && dw_eng_perf_is_label(e, src, rec)) {
        /* Labels join their predictions (engine_perf.c); their time moves
         * the watermark like any source's, and lateness is the join's. */
        int64_t lt;
        if (dw_eng_perf_label(e, rec, fallback_ts, &lt) < 0) {
            reject(e, DW_REJECT_BAD_TIMESTAMP, "label without a valid labels.timestamp",
                   rec->raw.ptr, rec->raw.len);
            return;
        }
        note_source_time(e, src, lt, wall_ms);
        e->last_record_wall = e->last_tick_wall = wall_ms;
        return;
    }
    for (size_t i = 0; i < rec->nfields; i++) {
        const dw_scan_field *f = &rec->fields[i];
        if (!f_ts && dw_eng_cpath_eq(&e->p_ts, f))
            f_ts = f;
        else if (!f_model && dw_eng_cpath_eq(&e->p_model, f))
            f_model = f;
        else if (!f_ver && dw_eng_cpath_eq(&e->p_version, f))
            f_ver = f;
        else if (f_ts && f_model && f_ver)
            break;
    }

    /* Timestamp: number (s/ms/us/ns by magnitude) or RFC 3339; else the
     * Kafka message time. */
    int64_t t;
    if (f_ts && (f_ts->kind == DW_SCAN_NUMBER || f_ts->kind == DW_SCAN_STRING)) {
        if (dw_ts_from_field(f_ts, &t) < 0) {
            reject(e, DW_REJECT_BAD_TIMESTAMP, "timestamp is neither epoch s/ms/us/ns nor RFC 3339",
                   rec->raw.ptr, rec->raw.len);
            return;
        }
    } else if (f_ts && f_ts->kind != DW_SCAN_NULL) {
        reject(e, DW_REJECT_BAD_TIMESTAMP, "timestamp is neither a number nor a string",
               rec->raw.ptr, rec->raw.len);
        return;
    } else if (fallback_ts != INT64_MIN) {
        t = fallback_ts;
    } else {
        reject(e, DW_REJECT_BAD_TIMESTAMP, "no timestamp", rec->raw.ptr, rec->raw.len);
        return;
    }
    /* Event time drives the watermark: one record from the future would
     * make every later record late (or pause its partition). The bound is
     * on the wall clock, so old logs are never affected. */
    int64_t max_future = e->cfg->time.max_future_ms;
    if (max_future > 0 && t > wall_ms + max_future) {
        reject(e, DW_REJECT_FUTURE, "timestamp beyond wall clock + time.max_future", rec->raw.ptr,
               rec->raw.len);
        return;
    }

    /* Model and version. */
    char namebuf[DW_MAX_NAME + 1], verbuf[DW_MAX_NAME + 1];
    const char *mname = NULL, *ver = NULL;
    size_t mlen = 0, verlen = 0;
    if (f_model && f_model->kind == DW_SCAN_STRING) {
        dw_value v;
        dw_eng_value_of(f_model, namebuf, sizeof namebuf, &v);
        mname = v.str;
        mlen = v.len;
    } else if (rc->default_model) {
        mname = rc->default_model;
        mlen = strlen(mname);
    } else {
        reject(e, DW_REJECT_NO_MODEL, "no model field", rec->raw.ptr, rec->raw.len);
        return;
    }
    if (f_ver && (f_ver->kind == DW_SCAN_STRING || f_ver->kind == DW_SCAN_NUMBER)) {
        dw_value v;
        dw_eng_value_of(f_ver, verbuf, sizeof verbuf, &v);
        ver = v.str;
        verlen = v.len;
    }
    model_entry *me = dw_eng_route(e, mname, mlen, ver, verlen);
    if (!me) {
        reject(e, DW_REJECT_UNKNOWN_MODEL, "no models[] entry for this model and version",
               rec->raw.ptr, rec->raw.len);
        return;
    }
    /* Event time: the watermark moves before the record is placed, so its
     * pane is open unless the record is late (or its source is far ahead).
     * The source's time moves even for a record that is ahead: Kafka
     * partitions are in time order, so the partition has got that far,
     * and the slower ones can then move the watermark. */
    note_source_time(e, src, t, wall_ms);
    if (e->watermark_ms != INT64_MIN && t < e->watermark_ms) {
        /* The pane may still be open for a long slide, but one rule for
         * all windows keeps "late" meaning one thing. */
        reject(e, DW_REJECT_LATE, "older than the watermark", rec->raw.ptr, rec->raw.len);
        return;
    }
    /* The state only now: a late record of a new version must not leave an
     * empty state that only this replica shows (deltas carry counts). */
    size_t sidx;
    bool too_many;
    dw_model *m = dw_eng_model_state(e, me, ver, verlen, &sidx, &too_many);
    if (!m) {
        reject(e, too_many ? DW_REJECT_TOO_MANY_VERSIONS : DW_REJECT_UNKNOWN_MODEL,
               "too many versions of this model", rec->raw.ptr, rec->raw.len);
        return;
    }

    /* Columns. */
    size_t n = 0;
    uint32_t gen = ++e->seen_gen;
    if (gen == 0) {
        memset(e->seen, 0, (e->max_cols + 1) * sizeof *e->seen);
        gen = e->seen_gen = 1;
    }
    uint64_t wrong = 0;
    char valbuf[DW_MAX_NAME + 1];
    /* key[0] of the previous field when it matched its memo entry: the
     * scanner gives the members of one object the same key[0] slice, so a
     * field with that slice and a same_parent entry needs only key[1]
     * compared ("features" once per object, not once per feature). */
    const char *parent_ok = NULL;
    for (size_t i = 0; i < rec->nfields; i++) {
        const dw_scan_field *f = &rec->fields[i];
        field_memo *mm = &me->memo[i];
        int col;
        if (mm->col != -2 && mm->depth == f->depth && !f->key_escaped &&
            ((mm->same_parent && f->key[0].ptr == parent_ok) ||
             (mm->len[0] == f->key[0].len &&
              dw_eng_key_eq(mm->key[0], f->key[0].ptr, mm->len[0]))) &&
            (f->depth == 1 || (mm->len[1] == f->key[1].len &&
                               dw_eng_key_eq(mm->key[1], f->key[1].ptr, mm->len[1])))) {
            col = mm->col;
            parent_ok = f->depth == 2 ? f->key[0].ptr : NULL;
        } else {
            parent_ok = NULL;
            col = -1;
            bool nested = parent_in_list(f, rc->columns, rc->ncolumns);
            if (nested)
                col = col_index_find(&me->cols, f->key, f->depth);
            else if (rc->nfields && field_in_list(f, rc->fields, rc->nfields))
                col = col_index_find(&me->cols, f->key, f->depth);
            else if (f->depth == 1 && !(f->key_escaped & 1) && f != f_ts && f != f_model &&
                     f != f_ver)
                /* Top-level scalars (latency_ms) are columns when the
                 * reference has them, as the training-data reader makes them. */
                col = col_index_find(&me->cols, f->key, 1);
            if (me->flat)
                col = flat_bind(me, f, col, nested);
            mm->col = -2;
            mm->same_parent = false;
            /* The next entry's same_parent compared its key[0] with this
             * entry's old one. */
            if (i + 1 < e->nfields_cap)
                me->memo[i + 1].same_parent = false;
            if (f->depth <= 2 && !f->key_escaped && f->key[0].len < MEMO_KEY &&
                (f->depth == 1 || f->key[1].len < MEMO_KEY)) {
                mm->depth = f->depth;
                for (int d = 0; d < f->depth; d++) {
                    mm->len[d] = (uint8_t)f->key[d].len;
                    memcpy(mm->key[d], f->key[d].ptr, f->key[d].len);
                }
                mm->col = col;
                mm->numeric = col >= 0 && me->ref->cols[col].type == DW_COL_NUMERIC;
                const field_memo *pm = i ? &me->memo[i - 1] : NULL;
                mm->same_parent = f->depth == 2 && pm && pm->col != -2 && pm->depth == 2 &&
                                  pm->len[0] == mm->len[0] &&
                                  !memcmp(pm->key[0], mm->key[0], mm->len[0]);
            }
        }
        if (col < 0 || e->seen[col] == gen)
            continue;
        e->seen[col] = gen;
        /* The common cases without building a dw_value: a number in a
         * numeric column, a plain string in a categorical one. */
        if (f->kind == DW_SCAN_NUMBER && mm->numeric && mm->col == col) {
            e->slots[n++] = dw_model_number_slot(m, (size_t)col, f->num);
            continue;
        }
        dw_slot_status st;
        if (f->kind == DW_SCAN_STRING && !f->str_escaped &&
            me->ref->cols[col].type == DW_COL_CATEGORICAL) {
            e->slots[n++] = dw_model_text_slot(m, (size_t)col, f->raw.ptr, f->raw.len, &st);
            continue; /* never a type error */
        }
        dw_value v;
        dw_eng_value_of(f, valbuf, sizeof valbuf, &v);
        e->slots[n++] = dw_model_slot(m, (size_t)col, &v, &st);
        if (st == DW_SLOT_TYPE_ERROR)
            wrong++;
    }
    /* n counts distinct columns seen: all of them (the usual record) leave
     * none missing. */
    for (size_t j = 0; n < me->ref->ncols && j < me->ref->ncols; j++)
        if (e->seen[j] != gen)
            e->slots[n++] = dw_model_missing_slot(m, j);
    if (me->canary)
        dw_eng_canary_record(e, me, m, rec, e->slots, &n);

    bool fresh = dw_window_next_end(dw_model_window(m, 0)) == INT64_MIN;
    int arc;
    if (e->watermark_ms == INT64_MIN && e->nsources > 1 &&
        t >= floor_to(e->pre_limit, e->min_slide) + e->min_slide)
        arc = DW_ERR_STATE; /* ahead of the partitions not heard from yet */
    else
        arc = dw_model_add(m, t, e->slots, n);
    if (arc == DW_ERR_LIMIT) {
        reject(e, DW_REJECT_LATE, "its pane already closed", rec->raw.ptr, rec->raw.len);
        return;
    }
    if (arc < 0) {
        if (first) {
            e->ahead = true; /* the caller redelivers the message later */
            e->ahead_ts = t;
            return;
        }
        reject(e, DW_REJECT_LATE, "too far ahead of the other partitions", rec->raw.ptr,
               rec->raw.len);
        return;
    }
    if (fresh || dw_model_clock_moved_back(m)) {
        /* This state's windows started their clocks with this record, or
         * an older record moved them back (another partition's, before
         * the first pane closed). Without looking again the cached
         * boundary stayed at the later pane: the watermark passed the
         * earlier panes without closing them, newer records were refused
         * as ahead, and with every partition paused nothing moved again
         * (test_sidecar case 4 stalled so under TSan). */
        dw_eng_refresh_next_boundary(e);
        if (e->watermark_ms >= e->next_boundary)
            dw_eng_advance(e, e->watermark_ms, false);
    }
    if (e->delta_on)
        dw_eng_pend_add(e, src, (size_t)(me - e->models) * (DW_ENGINE_MAX_VERSIONS + 1) + sidx, m,
                        t, e->slots, n);
    if (t > me->last_t[sidx])
        me->last_t[sidx] = t;
    STAT_ADD(e, applied, 1);
    if (e->perf)
        dw_eng_perf_prediction(e, (size_t)(me - e->models), sidx, rec, t);
    if (wrong)
        STAT_ADD(e, wrong_type_fields, wrong);
    e->last_record_wall = e->last_tick_wall = wall_ms;
}

/* A message beyond the scanner's nesting limit is counted under that
 * limit, not as broken JSON. */
static dw_reject_reason scan_reject_reason(const dw_scanner *sc)
{
    const char *why = dw_scan_error(sc, NULL);
    return why && !strcmp(why, DW_SCAN_ERR_NESTING) ? DW_REJECT_TOO_DEEP : DW_REJECT_INVALID_JSON;
}

size_t dw_engine_process(dw_engine *e, const char *buf, size_t len, int64_t fallback_ts_ms)
{
    dw_process_result res;
    dw_engine_process_from(e, 0, buf, len, fallback_ts_ms, &res);
    return res.applied;
}

static void process_message(dw_engine *e, int source_id, const char *buf, size_t len,
                            int64_t fallback_ts_ms, dw_process_result *res);

void dw_engine_process_from(dw_engine *e, int source_id, const char *buf, size_t len,
                            int64_t fallback_ts_ms, dw_process_result *res)
{
    if (!e->delta_on) {
        process_message(e, source_id, buf, len, fallback_ts_ms, res);
        return;
    }
    /* With deltas, a message's counts travel in one delta with the offset
     * that covers it (dw_engine_source_offset() was called before), so a
     * restart neither loses nor repeats part of a message. */
    e->in_message = true;
    process_message(e, source_id, buf, len, fallback_ts_ms, res);
    e->in_message = false;
    /* The offset counts as covered unless the message was put back (it
     * comes again). Any flush the message asked for happens only now. */
    if (e->next_off_src == source_id && e->next_off >= 0 && !res->ahead) {
        source *src = &e->sources[source_id];
        if (src->off_from < 0)
            src->off_from = e->next_off - 1;
        src->off_to = e->next_off;
    }
    e->next_off_src = -1;
    e->next_off = -1;
    if (e->flush_wanted)
        dw_engine_delta_flush(e);
}

static void process_message(dw_engine *e, int source_id, const char *buf, size_t len,
                            int64_t fallback_ts_ms, dw_process_result *res)
{
    res->applied = 0;
    res->ahead = false;
    e->ahead = false;
    source *src = &e->sources[source_id >= 0 && (size_t)source_id < e->nsources ? source_id : 0];
    /* A message put back because its partition ran ahead is counted when
     * it comes again, not twice. */
    int64_t max_bytes = e->cfg->kafka.max_message_bytes;
    if (max_bytes > 0 && (int64_t)len > max_bytes) {
        STAT_ADD(e, messages, 1);
        reject(e, DW_REJECT_TOO_LARGE, "message larger than kafka.max_message_bytes", buf,
               len > 256 ? 256 : len);
        return;
    }
    uint64_t applied_before = STAT_GET(e, applied);
    /* Read per message: the coarse clock (a clock_gettime was 1.5 % of
     * replay's time). */
    int64_t wall = dw_wall_ms_coarse();
    dw_scanner sc;
    /* An array of records is validated whole first, so a message that is
     * not valid JSON is rejected whole instead of half applied. (A single
     * object is only yielded once it is complete and valid.) */
    size_t lead = 0;
    while (lead < len &&
           (buf[lead] == ' ' || buf[lead] == '\t' || buf[lead] == '\n' || buf[lead] == '\r'))
        lead++;
    if (lead < len && buf[lead] == '[') {
        dw_scan_record probe = {.fields = NULL, .cap = 0};
        int vrc;
        dw_scan_init(&sc, buf, len);
        while ((vrc = dw_scan_next(&sc, &probe)) != 0)
            if (vrc < 0 && vrc != DW_ERR_INVALID) {
                char detail[256];
                dw_scan_format_error(&sc, NULL, detail, sizeof detail);
                STAT_ADD(e, messages, 1);
                reject(e, scan_reject_reason(&sc), detail, buf, len);
                return;
            }
    }
    dw_scan_init(&sc, buf, len);
    dw_scan_record rec = {.fields = e->fields, .cap = e->nfields_cap};
    bool first = true;
    for (;;) {
        int rc = dw_scan_next(&sc, &rec);
        if (rc == 0)
            break;
        if (rc == DW_ERR_INVALID) {
            STAT_ADD(e, records, 1);
            reject(e, DW_REJECT_NOT_OBJECT, "array element is not an object", buf, len);
            first = false;
            continue;
        }
        if (rc < 0) {
            char detail[256];
            dw_scan_format_error(&sc, NULL, detail, sizeof detail);
            reject(e, scan_reject_reason(&sc), detail, buf, len);
            break;
        }
        if (rec.ndropped) {
            /* Its timestamp or model may be among the leaves not read. */
            char detail[96];
            snprintf(detail, sizeof detail, "more than records.max_fields (%zu) fields",
                     e->nfields_cap);
            STAT_ADD(e, records, 1);
            reject(e, DW_REJECT_TOO_MANY_FIELDS, detail, rec.raw.ptr, rec.raw.len);
            first = false;
            continue;
        }
        apply_record(e, src, &rec, fallback_ts_ms, wall, first);
        if (e->ahead) {
            res->ahead = true; /* nothing of this message was applied */
            res->ahead_ts = e->ahead_ts;
            return;
        }
        STAT_ADD(e, records, 1);
        first = false;
    }
    STAT_ADD(e, messages, 1);
    res->applied = (size_t)(STAT_GET(e, applied) - applied_before);
}

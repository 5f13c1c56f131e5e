/* The engine's documents: notification documents (docs/alerts.md) and the
 * published status snapshot (docs/api.md, /api/v1/status, /ui, /metrics),
 * built from the model states on the engine's thread. */
#include "engine_int.h"

#include "driftwatch/error.h"
#include "driftwatch/log.h"
#include "driftwatch/model.h"
#include "driftwatch/reference.h"
#include "driftwatch/status.h"
#include "driftwatch/timestamp.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- notification documents ---- */

/* Unseen categories of the sample, most frequent first (bounded by K), as
 * new strings (*n of them). */
static char **new_categories(const dw_sample *s, size_t *nout)
{
    *nout = 0;
    if (s->ref->type != DW_COL_CATEGORICAL)
        return NULL;
    size_t order[DW_MAX_NEW_CATEGORIES];
    size_t n = 0;
    for (size_t k = 0; k < s->nnew; k++)
        if (s->new_counts[k] > 0 && s->new_names[k][0])
            order[n++] = k;
    for (size_t i = 1; i < n; i++) /* insertion sort by count desc, name asc */
        for (size_t j = i; j > 0; j--) {
            size_t a1 = order[j - 1], b1 = order[j];
            uint64_t ca = s->new_counts[a1], cb = s->new_counts[b1];
            if (ca > cb || (ca == cb && strcmp(s->new_names[a1], s->new_names[b1]) <= 0))
                break;
            order[j - 1] = b1;
            order[j] = a1;
        }
    char **v = dw_calloc(n + 1, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = dw_strdup(s->new_names[order[i]]);
    *nout = n;
    return v;
}

static json_t *new_categories_json(const dw_sample *s)
{
    size_t n;
    char **v = new_categories(s, &n);
    json_t *a = dw_json_strings(v, n);
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
    return a;
}

json_t *dw_eng_alert_json(const model_entry *me, dw_model *m, size_t wi, size_t col, int kind,
                          dw_alert_event ev, const dw_column_result *r)
{
    const dw_alert *a = dw_model_alert(m, col, wi, kind);
    dw_window *w = dw_model_window(m, wi);
    const char *colname = me->ref->cols[col].name;
    const char *kind_name = kind ? "quality" : "distribution";
    char key[17];
    dw_alert_dedup_key(dw_model_name(m), dw_model_version(m), colname, dw_model_window_name(m, wi),
                       kind_name, key);
    dw_sample s;
    dw_model_sample(m, wi, col, &s);
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(ev == DW_ALERT_FIRED ? "firing" : "resolved"));
    json_object_set_new(o, "column", json_string(colname));
    json_object_set_new(o, "column_type", json_string(dw_status_col_type_name(r->type)));
    json_object_set_new(o, "window", json_string(dw_model_window_name(m, wi)));
    json_object_set_new(o, "window_start", dw_json_time(dw_window_start(w)));
    json_object_set_new(o, "window_end", dw_json_time(dw_window_end(w)));
    json_object_set_new(o, "samples", json_integer((json_int_t)r->count));
    json_object_set_new(o, "kind", json_string(kind_name));
    /* Quality problems (null floods, type changes) are usually outages
     * upstream: critical. Distribution drift is a warning. */
    json_object_set_new(o, "severity", json_string(kind ? "critical" : "warning"));
    json_object_set_new(o, "tests", dw_status_tests_json(r));
    json_object_set_new(o, "quality", dw_status_quality_json(r));
    json_object_set_new(o, "reference_samples", json_integer((json_int_t)me->ref->cols[col].count));
    json_object_set_new(o, "new_categories", new_categories_json(&s));
    json_object_set_new(o, "dedup_key", json_string(key));
    json_object_set_new(o, "starts_at", dw_json_time(a->started_ms));
    json_object_set_new(o, "ends_at",
                        ev == DW_ALERT_RESOLVED ? dw_json_time(a->ended_ms) : json_null());
    return o;
}

/* kind "notification" or "reminder": part of the id, so a reminder and a
 * notification of the same evaluation are two documents to the outbox. */
json_t *dw_eng_new_document(const dw_model *m, int64_t at_ms, const char *kind)
{
    char id[17];
    char at[40];
    dw_ts_format(at_ms, at, sizeof at);
    dw_alert_dedup_key(dw_model_name(m), dw_model_version(m), "", at, kind, id);
    json_t *doc = json_object();
    json_object_set_new(doc, "version", json_string("1"));
    json_object_set_new(doc, "kind", json_string("drift"));
    json_object_set_new(doc, "id", json_string(id));
    json_object_set_new(doc, "model", json_string(dw_model_name(m)));
    json_object_set_new(doc, "model_version",
                        dw_model_version(m) ? json_string(dw_model_version(m)) : json_null());
    json_object_set_new(doc, "evaluated_at", json_string(at));
    json_object_set_new(doc, "alerts", json_array());
    return doc;
}

/* ---- status snapshot (driftwatch/status.h) ---- */

#define DISPLAY_BINS 20
#define DISPLAY_CATEGORIES 10

/* Appends one bar of the display histogram (h sized for it). */
static void hist_bar(dw_status_hist *h, const char *label, double ref, double cur)
{
    h->labels[h->n] = dw_strdup(label);
    h->reference[h->n] = ref;
    h->current[h->n] = cur;
    h->n++;
}

/* Reference and current distributions of a column on a coarse grid a
 * person can read (dw_status_hist). */
static void display_hist(const dw_sample *s, dw_status_hist *h)
{
    const dw_ref_column *c = s->ref;
    size_t cap = c->type == DW_COL_NUMERIC ? DISPLAY_BINS + 2 : DISPLAY_CATEGORIES + 2;
    h->n = 0;
    h->labels = dw_calloc(cap, sizeof *h->labels);
    h->reference = dw_calloc(cap, sizeof *h->reference);
    h->current = dw_calloc(cap, sizeof *h->current);
    double rt = 0, ct = 0;
    if (c->type == DW_COL_NUMERIC) {
        double r[DISPLAY_BINS + 2] = {0}, q[DISPLAY_BINS + 2] = {0};
        double lo = c->edges[0], hi = c->edges[c->nbins], w = (hi - lo) / DISPLAY_BINS;
        for (size_t i = 0; i < c->nbins; i++) {
            double mid = 0.5 * (c->edges[i] + c->edges[i + 1]);
            size_t d = w > 0 ? (size_t)((mid - lo) / w) : 0;
            if (d >= DISPLAY_BINS)
                d = DISPLAY_BINS - 1;
            r[d + 1] += (double)c->bin_counts[i];
            q[d + 1] += (double)s->bins[i + 1];
        }
        q[0] = (double)s->bins[0];
        q[DISPLAY_BINS + 1] = (double)s->bins[c->nbins + 1];
        for (int d = 0; d < DISPLAY_BINS + 2; d++) {
            rt += r[d];
            ct += q[d];
        }
        for (int d = 0; d < DISPLAY_BINS + 2; d++) {
            char lab[48];
            if (d == 0)
                snprintf(lab, sizeof lab, "< %.4g", lo);
            else if (d == DISPLAY_BINS + 1)
                snprintf(lab, sizeof lab, "> %.4g", hi);
            else
                snprintf(lab, sizeof lab, "%.4g", lo + w * (d - 1));
            hist_bar(h, lab, rt > 0 ? r[d] / rt : 0, ct > 0 ? q[d] / ct : 0);
        }
    } else {
        size_t top = c->ncat < DISPLAY_CATEGORIES ? c->ncat : DISPLAY_CATEGORIES;
        double r_other = (double)c->other_count, q_other = 0;
        for (size_t i = 0; i < c->ncat; i++) {
            rt += (double)c->cat_counts[i];
            ct += (double)s->bins[i];
            if (i >= top) {
                r_other += (double)c->cat_counts[i];
                q_other += (double)s->bins[i];
            }
        }
        rt += (double)c->other_count;
        double q_new = (double)dw_sample_unseen(s);
        ct += q_new;
        for (size_t i = 0; i < top; i++)
            hist_bar(h, c->categories[i], rt > 0 ? (double)c->cat_counts[i] / rt : 0,
                     ct > 0 ? (double)s->bins[i] / ct : 0);
        if (c->ncat > top || c->other_count)
            hist_bar(h, "(other)", rt > 0 ? r_other / rt : 0, ct > 0 ? q_other / ct : 0);
        hist_bar(h, "(new)", 0, ct > 0 ? q_new / ct : 0);
    }
}

static void cell_status(dw_model *m, size_t w, size_t j, dw_status_cell *x)
{
    const dw_column_result *r = dw_model_last_result(m, w, j);
    if (r) {
        x->evaluated = true;
        x->result = *r;
        x->result.ref = NULL;
    }
    x->state = dw_model_alert(m, j, w, 0)->state;
    x->quality_state = dw_model_alert(m, j, w, 1)->state;
    dw_sample s;
    dw_model_sample(m, w, j, &s);
    display_hist(&s, &x->histogram);
    x->new_categories = new_categories(&s, &x->nnew);
    int64_t t[DW_MODEL_HISTORY];
    double psi[DW_MODEL_HISTORY];
    size_t n = dw_model_history(m, w, j, t, psi, DW_MODEL_HISTORY);
    x->history = dw_calloc(n + 1, sizeof *x->history);
    for (size_t i = 0; i < n; i++)
        x->history[i] = (dw_status_point){.at_ms = t[i], .psi = psi[i]};
    x->nhistory = n;
}

static void model_status(const dw_engine *e, const model_entry *me, dw_model *m,
                         dw_status_model *sm)
{
    sm->model = dw_strdup(dw_model_name(m));
    sm->version = dw_model_version(m) ? dw_strdup(dw_model_version(m)) : NULL;
    sm->reference_path = dw_strdup(me->cfg->reference);
    sm->reference_checksum = dw_strdup(me->ref->checksum);
    sm->reference_rows = (uint64_t)me->ref->rows;
    sm->nwindows = e->nwindows;
    sm->windows = dw_calloc(e->nwindows + 1, sizeof *sm->windows);
    for (size_t w = 0; w < e->nwindows; w++) {
        dw_window *win = dw_model_window(m, w);
        int64_t le = dw_model_last_evaluated(m, w);
        sm->windows[w] = (dw_status_window){
            .name = dw_strdup(dw_model_window_name(m, w)),
            .length_ms = dw_window_length(win),
            .slide_ms = dw_window_slide(win),
            .evaluated = le != INT64_MIN,
            .start_ms = le != INT64_MIN ? dw_window_start(win) : INT64_MIN,
            .end_ms = le,
        };
    }
    sm->ncolumns = me->ref->ncols;
    sm->columns = dw_calloc(me->ref->ncols + 1, sizeof *sm->columns);
    for (size_t j = 0; j < me->ref->ncols; j++) {
        const dw_ref_column *rc = &me->ref->cols[j];
        dw_status_column *c = &sm->columns[j];
        c->name = dw_strdup(rc->name);
        c->type = rc->type;
        c->reference_samples = (uint64_t)rc->count;
        c->cells = dw_calloc(e->nwindows + 1, sizeof *c->cells);
        for (size_t w = 0; w < e->nwindows; w++)
            cell_status(m, w, j, &c->cells[w]);
    }
}

void dw_eng_publish_snapshot(dw_engine *e)
{
    dw_status *st = dw_status_new();
    st->watermark_ms = e->watermark_ms;
    st->max_event_ms = e->max_event_ms;
    size_t n = 0;
    for (size_t i = 0; i < e->nmodels; i++)
        n += e->models[i].nstates;
    st->models = dw_calloc(n + 1, sizeof *st->models);
    for (size_t i = 0; i < e->nmodels; i++) {
        model_entry *me = &e->models[i];
        for (size_t v = 0; v < me->nstates; v++)
            model_status(e, me, me->states[v], &st->models[st->nmodels++]);
    }
    pthread_mutex_lock(&e->snap_lock);
    dw_status *old = e->status;
    e->status = st;
    pthread_mutex_unlock(&e->snap_lock);
    dw_status_release(old);
}

void dw_engine_set_live_snapshot(dw_engine *e, bool live)
{
    e->snapshot_quiet = !live;
}

void dw_engine_publish(dw_engine *e)
{
    dw_eng_publish_snapshot(e);
    e->last_publish_ms = dw_now_ms();
    e->snapshot_stale = false;
}

dw_status *dw_engine_status(dw_engine *e)
{
    pthread_mutex_lock(&e->snap_lock);
    dw_status *s = dw_status_retain(e->status);
    pthread_mutex_unlock(&e->snap_lock);
    return s ? s : dw_status_new();
}

json_t *dw_engine_snapshot(dw_engine *e)
{
    dw_status *s = dw_engine_status(e);
    json_t *doc = dw_status_json(s);
    dw_status_release(s);
    return doc;
}

/* The engine's documents: notification documents (docs/alerts.md) and the
 * published status snapshot (docs/api.md, /api/v1/status, /ui, /metrics),
 * built from the model states on the engine's thread. */
#include "engine_int.h"

#include "driftwatch/error.h"
#include "driftwatch/log.h"
#include "driftwatch/model.h"
#include "driftwatch/reference.h"
#include "driftwatch/timestamp.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- notification documents ---- */

json_t *dw_eng_jnum(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

json_t *dw_eng_jtime(int64_t ms)
{
    char buf[40];
    dw_ts_format(ms, buf, sizeof buf);
    return json_string(buf);
}

json_t *dw_eng_tests_json(const dw_column_result *r)
{
    json_t *t = json_object();
    if (r->has_ks)
        json_object_set_new(t, "ks",
                            json_pack("{s:o,s:o,s:o}", "statistic", dw_eng_jnum(r->ks.statistic),
                                      "p_value", dw_eng_jnum(r->ks.p_value), "p_adjusted",
                                      dw_eng_jnum(r->p_adjusted)));
    if (r->has_chi2)
        json_object_set_new(t, "chi2",
                            json_pack("{s:o,s:i,s:o,s:o}", "statistic",
                                      dw_eng_jnum(r->chi2.statistic), "df", r->chi2.df, "p_value",
                                      dw_eng_jnum(r->chi2.p_value), "p_adjusted",
                                      dw_eng_jnum(r->p_adjusted)));
    json_object_set_new(t, "psi", dw_eng_jnum(r->psi));
    if (r->recent_panes) {
        /* The window alone was not flagged, its newest panes were. */
        json_t *g = json_pack("{s:I,s:o}", "panes", (json_int_t)r->recent_panes, "psi",
                              dw_eng_jnum(r->recent_psi));
        if (r->has_ks)
            json_object_set_new(g, "ks", dw_eng_jnum(r->recent_ks));
        json_object_set_new(t, "recent", g);
    }
    return t;
}

static json_t *quality_json(const dw_column_result *r)
{
    const dw_quality *q = &r->quality;
    return json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:I}", "values", (json_int_t)q->total,
                     "missing_rate", dw_eng_jnum(q->missing_rate), "ref_missing_rate",
                     dw_eng_jnum(q->ref_missing_rate), "out_of_range_rate",
                     dw_eng_jnum(q->out_of_range_rate), "unseen_rate", dw_eng_jnum(q->unseen_rate),
                     "type_error_rate", dw_eng_jnum(q->type_error_rate), "type_errors",
                     (json_int_t)q->type_errors);
}

/* Unseen categories of the sample, most frequent first (bounded by K). */
static json_t *new_categories_json(const dw_sample *s)
{
    json_t *a = json_array();
    if (s->ref->type != DW_COL_CATEGORICAL)
        return a;
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
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(s->new_names[order[i]]));
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
    json_object_set_new(o, "column_type",
                        json_string(r->type == DW_COL_NUMERIC ? "numeric" : "categorical"));
    json_object_set_new(o, "window", json_string(dw_model_window_name(m, wi)));
    json_object_set_new(o, "window_start", dw_eng_jtime(dw_window_start(w)));
    json_object_set_new(o, "window_end", dw_eng_jtime(dw_window_end(w)));
    json_object_set_new(o, "samples", json_integer((json_int_t)r->count));
    json_object_set_new(o, "kind", json_string(kind_name));
    /* Quality problems (null floods, type changes) are usually outages
     * upstream: critical. Distribution drift is a warning. */
    json_object_set_new(o, "severity", json_string(kind ? "critical" : "warning"));
    json_object_set_new(o, "tests", dw_eng_tests_json(r));
    json_object_set_new(o, "quality", quality_json(r));
    json_object_set_new(o, "reference_samples", json_integer((json_int_t)me->ref->cols[col].count));
    json_object_set_new(o, "new_categories", new_categories_json(&s));
    json_object_set_new(o, "dedup_key", json_string(key));
    json_object_set_new(o, "starts_at", dw_eng_jtime(a->started_ms));
    json_object_set_new(o, "ends_at",
                        ev == DW_ALERT_RESOLVED ? dw_eng_jtime(a->ended_ms) : json_null());
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

/* ---- status snapshot (for /api/v1/status, /ui and /metrics) ---- */

#define DISPLAY_BINS 20
#define DISPLAY_CATEGORIES 10

/* Reference and current distributions of a column on a coarse grid a
 * person can read: 20 equal-width bins over the training range (plus
 * below/above) for numbers, the top categories plus "other" and "new" for
 * categories. Values are fractions of each side's total. */
static json_t *display_hist(const dw_sample *s)
{
    const dw_ref_column *c = s->ref;
    json_t *labels = json_array(), *ref = json_array(), *cur = json_array();
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
            json_array_append_new(labels, json_string(lab));
            json_array_append_new(ref, json_real(rt > 0 ? r[d] / rt : 0));
            json_array_append_new(cur, json_real(ct > 0 ? q[d] / ct : 0));
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
        for (size_t i = 0; i < top; i++) {
            json_array_append_new(labels, json_string(c->categories[i]));
            json_array_append_new(ref, json_real(rt > 0 ? (double)c->cat_counts[i] / rt : 0));
            json_array_append_new(cur, json_real(ct > 0 ? (double)s->bins[i] / ct : 0));
        }
        if (c->ncat > top || c->other_count) {
            json_array_append_new(labels, json_string("(other)"));
            json_array_append_new(ref, json_real(rt > 0 ? r_other / rt : 0));
            json_array_append_new(cur, json_real(ct > 0 ? q_other / ct : 0));
        }
        json_array_append_new(labels, json_string("(new)"));
        json_array_append_new(ref, json_real(0));
        json_array_append_new(cur, json_real(ct > 0 ? q_new / ct : 0));
    }
    return json_pack("{s:o,s:o,s:o}", "labels", labels, "reference", ref, "current", cur);
}

static json_t *column_status(dw_model *m, const model_entry *me, size_t j, size_t nwin)
{
    const dw_ref_column *rc = &me->ref->cols[j];
    json_t *wins = json_object();
    for (size_t w = 0; w < nwin; w++) {
        const dw_column_result *r = dw_model_last_result(m, w, j);
        json_t *o = json_object();
        if (r) {
            json_object_set_new(o, "samples", json_integer((json_int_t)r->count));
            json_object_set_new(o, "tests", dw_eng_tests_json(r));
            json_object_set_new(o, "quality", quality_json(r));
            json_object_set_new(o, "drift", json_boolean(r->drift));
            json_object_set_new(o, "quality_issue", json_boolean(r->quality_issue));
            json_object_set_new(o, "enough_samples", json_boolean(r->enough_samples));
        }
        json_object_set_new(o, "state",
                            json_string(dw_alert_state_name(dw_model_alert(m, j, w, 0)->state)));
        json_object_set_new(o, "quality_state",
                            json_string(dw_alert_state_name(dw_model_alert(m, j, w, 1)->state)));
        dw_sample s;
        dw_model_sample(m, w, j, &s);
        json_object_set_new(o, "histogram", display_hist(&s));
        json_object_set_new(o, "new_categories", new_categories_json(&s));
        int64_t t[DW_MODEL_HISTORY];
        double psi[DW_MODEL_HISTORY];
        size_t n = dw_model_history(m, w, j, t, psi, DW_MODEL_HISTORY);
        json_t *hist = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(
                hist, json_pack("{s:o,s:o}", "at", dw_eng_jtime(t[i]), "psi", dw_eng_jnum(psi[i])));
        json_object_set_new(o, "psi_history", hist);
        json_object_set_new(wins, dw_model_window_name(m, w), o);
    }
    return json_pack("{s:s,s:s,s:I,s:o}", "name", rc->name, "type",
                     rc->type == DW_COL_NUMERIC ? "numeric" : "categorical", "reference_samples",
                     (json_int_t)rc->count, "windows", wins);
}

void dw_eng_publish_snapshot(dw_engine *e)
{
    json_t *models = json_array();
    for (size_t i = 0; i < e->nmodels; i++) {
        model_entry *me = &e->models[i];
        for (size_t v = 0; v < me->nstates; v++) {
            dw_model *m = me->states[v];
            json_t *wins = json_array();
            for (size_t w = 0; w < e->nwindows; w++) {
                dw_window *win = dw_model_window(m, w);
                int64_t le = dw_model_last_evaluated(m, w);
                json_array_append_new(
                    wins,
                    json_pack("{s:s,s:I,s:I,s:o,s:o,s:o}", "name", dw_model_window_name(m, w),
                              "length_seconds", (json_int_t)(dw_window_length(win) / 1000),
                              "slide_seconds", (json_int_t)(dw_window_slide(win) / 1000), "start",
                              le == INT64_MIN ? json_null() : dw_eng_jtime(dw_window_start(win)),
                              "end", le == INT64_MIN ? json_null() : dw_eng_jtime(le), "evaluated",
                              json_boolean(le != INT64_MIN)));
            }
            json_t *cols = json_array();
            for (size_t j = 0; j < me->ref->ncols; j++)
                json_array_append_new(cols, column_status(m, me, j, e->nwindows));
            json_array_append_new(
                models,
                json_pack("{s:s,s:o,s:{s:s,s:s,s:I},s:o,s:o}", "model", dw_model_name(m),
                          "model_version",
                          dw_model_version(m) ? json_string(dw_model_version(m)) : json_null(),
                          "reference", "path", me->cfg->reference, "checksum", me->ref->checksum,
                          "rows", (json_int_t)me->ref->rows, "windows", wins, "columns", cols));
        }
    }
    json_t *doc =
        json_pack("{s:s,s:o,s:o,s:o}", "version", "1", "watermark",
                  e->watermark_ms == INT64_MIN ? json_null() : dw_eng_jtime(e->watermark_ms),
                  "max_event_time",
                  e->max_event_ms == INT64_MIN ? json_null() : dw_eng_jtime(e->max_event_ms),
                  "models", models);
    pthread_mutex_lock(&e->snap_lock);
    json_t *old = e->snapshot;
    e->snapshot = doc;
    pthread_mutex_unlock(&e->snap_lock);
    json_decref(old);
}

void dw_engine_publish(dw_engine *e)
{
    dw_eng_publish_snapshot(e);
    e->last_publish_ms = dw_now_ms();
    e->snapshot_stale = false;
}

json_t *dw_engine_snapshot(dw_engine *e)
{
    /* A copy, not a shared reference: jansson drops references with a
     * release-only decrement, so the engine thread freeing the old document
     * after a reader's last json_decref() would not be ordered after that
     * reader's accesses (ThreadSanitizer reports it). */
    pthread_mutex_lock(&e->snap_lock);
    json_t *doc = e->snapshot ? json_deep_copy(e->snapshot) : NULL;
    pthread_mutex_unlock(&e->snap_lock);
    if (!doc)
        doc = json_pack("{s:s,s:n,s:n,s:[]}", "version", "1", "watermark", "max_event_time",
                        "models");
    return doc;
}

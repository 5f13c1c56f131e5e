/* Model performance from delayed labels, wired into the engine (issue 14;
 * docs/performance.md): label records are told apart from predictions,
 * predictions wait in the bounded join (label_join.h), and what leaves it
 * is counted into per-window panes on the *prediction's* event time (perf.h
 * counters), next to the confidence-based estimate of every prediction
 * (cbpe.h). A window ending at T is provisional until the watermark passes
 * T + labels.max_delay and final after; performance rules step their alert
 * state on final windows only, so a verdict never changes afterwards.
 *
 * Single writer: the engine's thread calls everything here. */
#include "engine_perf_int.h"

#include "driftwatch/alert.h"
#include "driftwatch/cbpe.h"
#include "driftwatch/error.h"
#include "driftwatch/hash.h"
#include "driftwatch/label_join.h"
#include "driftwatch/log.h"
#include "driftwatch/model.h"
#include "driftwatch/perf.h"
#include "driftwatch/perf_reference.h"
#include "driftwatch/status.h"
#include "driftwatch/status_perf.h"
#include "driftwatch/table.h"
#include "driftwatch/timestamp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A window's panes, kept open for max_delay after they end so that labels
 * can still land in them: a ring of `ring` panes indexed by pane number. */
typedef struct perf_win {
    int64_t length, slide;
    uint32_t ring;
    int64_t *pstart;    /* [ring] start of the pane a slot holds, INT64_MIN: none */
    uint64_t *pc, *ec;  /* [ring * width] perf and estimation counters */
    int64_t next_final; /* end of the next window to finalise; INT64_MIN before data */
    int64_t prov_end;   /* end of the provisional result held, INT64_MIN: none */
    bool has_final, has_prov;
    int64_t final_end;
    dw_perf_result final, prov;
    dw_cbpe_result est_final, est_prov;
    dw_alert alerts[DW_CONFIG_MAX_PERF_RULES];
    uint64_t dropped; /* outcomes for a pane the ring no longer holds */
    /* The latest final windows, oldest first from hist_next (status). */
    dw_status_perf_point hist[DW_ENG_PERF_HISTORY];
    uint32_t hist_len, hist_next;
} perf_win;

typedef struct perf_mv {
    perf_win win[DW_MAX_WINDOWS];
    int64_t max_t; /* newest prediction counted */
} perf_mv;

typedef struct perf_model {
    const dw_perf_config *pc; /* NULL: no performance block */
    dw_perf *layout;
    dw_cbpe *cbpe; /* NULL without estimation */
    cpath p_score, p_pred;
    int32_t pos_cls;
    double ref[DW_PERF_METRIC_COUNT]; /* reference values from reference_data */
    perf_mv *mv[DW_ENGINE_MAX_VERSIONS + 1];
} perf_model;

struct dw_eng_perf {
    const dw_labels_config *lc;
    dw_label_join *join;
    cpath p_key, p_label, p_lts;
    perf_model *models; /* [e->nmodels] */
    size_t nmodels;
    uint64_t *sum, *esum; /* window sums (scratch) */
    size_t sum_w, esum_w;
    dw_engine *e;
    bool force_label;
    int col_depth[DW_CONFIG_MAX_LIST]; /* names in each records.columns path */
    bool complete;                     /* dw_engine_labels_complete(): no input after this */
    uint64_t no_key_predictions, no_key_labels, bad_labels, dropped;
};

/* ---- class ids: the join keeps an int32 per side ---- */

/* Classes are compared as text (a JSON number 1 reads "1", true "true"),
 * carried through the join as a 31-bit hash (FNV-1a): two classes of one
 * model collide with probability about k^2 / 2^32 for k classes. -2 stands
 * for "not the positive class" (a score-only binary model). */
#define CLS_NEGATIVE (-2)

static int32_t class_id(const char *s, size_t n)
{
    uint64_t h = dw_fnv1a(DW_FNV1A_SEED, s, n);
    return (int32_t)((h ^ (h >> 31)) & 0x7fffffff);
}

/* The text of a scalar field (string unescaped into buf). false for
 * objects, arrays and null. */
static bool field_text(const dw_scan_field *f, char *buf, size_t cap, const char **s, size_t *n)
{
    dw_value v;
    if (f->kind == DW_SCAN_BOOL) {
        *s = f->boolean ? "true" : "false";
        *n = strlen(*s);
        return true;
    }
    if (f->kind != DW_SCAN_STRING && f->kind != DW_SCAN_NUMBER)
        return false;
    dw_eng_value_of(f, buf, cap, &v);
    *s = v.str;
    *n = v.len;
    return *n > 0;
}

/* ---- lifetime ---- */

int dw_eng_perf_new(dw_engine *e, char *errbuf, size_t errlen)
{
    const dw_config *cfg = e->cfg;
    e->perf = NULL;
    if (!cfg->labels.enabled)
        return 0;
    dw_eng_perf *p = dw_calloc(1, sizeof *p);
    p->e = e;
    p->lc = &cfg->labels;
    dw_join_config jc = {.max_delay_ms = p->lc->max_delay_ms,
                         .max_early_ms = p->lc->max_early_ms,
                         .memory_bytes = (size_t)p->lc->memory_mb << 20};
    char why[256];
    p->join = dw_label_join_new(&jc, dw_eng_perf_emit, p, why, sizeof why);
    if (!p->join) {
        free(p);
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "%s: labels: %s", cfg->path, why);
    }
    for (size_t k = 0; k < cfg->records.ncolumns && k < DW_CONFIG_MAX_LIST; k++) {
        p->col_depth[k] = 1;
        for (const char *c = cfg->records.columns[k]; *c; c++)
            p->col_depth[k] += *c == '.';
    }
    dw_eng_cpath_init(&p->p_key, p->lc->key);
    dw_eng_cpath_init(&p->p_label, p->lc->label);
    dw_eng_cpath_init(&p->p_lts, p->lc->timestamp);
    p->nmodels = e->nmodels;
    p->models = dw_calloc(e->nmodels, sizeof *p->models);
    int rc = 0;
    for (size_t i = 0; i < e->nmodels && rc == 0; i++) {
        const dw_perf_config *pc = &e->models[i].cfg->perf;
        perf_model *pm = &p->models[i];
        if (!pc->enabled)
            continue;
        pm->pc = pc;
        dw_perf_spec spec = {
            .kind = (dw_perf_kind)pc->kind, .score_bins = pc->score_bins, .ece_bins = pc->ece_bins};
        pm->layout = dw_perf_new(&spec, why, sizeof why);
        if (pc->estimate)
            pm->cbpe = dw_cbpe_new(pc->score_bins, why, sizeof why);
        if (!pm->layout || (pc->estimate && !pm->cbpe)) {
            rc = dw_seterr(errbuf, errlen, DW_ERR_INVALID, "%s:%d: performance: %s", cfg->path,
                           pc->line, why);
            break;
        }
        if (pc->score)
            dw_eng_cpath_init(&pm->p_score, pc->score);
        if (pc->predicted)
            dw_eng_cpath_init(&pm->p_pred, pc->predicted);
        if (pc->positive)
            pm->pos_cls = class_id(pc->positive, strlen(pc->positive));
        if ((rc = dw_perf_reference_values(pc, pm->ref, NULL, why, sizeof why)) < 0) {
            rc = dw_seterr(errbuf, errlen, rc, "%s:%d: performance.reference_data: %s", cfg->path,
                           pc->line, why);
            break;
        }
        size_t w = dw_perf_width(pm->layout);
        if (w > p->sum_w)
            p->sum_w = w;
        if (pm->cbpe && dw_cbpe_width(pm->cbpe) > p->esum_w)
            p->esum_w = dw_cbpe_width(pm->cbpe);
    }
    p->sum = dw_calloc(p->sum_w ? p->sum_w : 1, sizeof *p->sum);
    p->esum = dw_calloc(p->esum_w ? p->esum_w : 1, sizeof *p->esum);
    e->perf = p;
    if (rc < 0) {
        dw_eng_perf_free(e);
        return rc;
    }
    return 0;
}

static void mv_free(perf_mv *mv, size_t nwin)
{
    if (!mv)
        return;
    for (size_t w = 0; w < nwin; w++) {
        free(mv->win[w].pstart);
        free(mv->win[w].pc);
        free(mv->win[w].ec);
    }
    free(mv);
}

void dw_eng_perf_free(dw_engine *e)
{
    dw_eng_perf *p = e->perf;
    if (!p)
        return;
    for (size_t i = 0; i < p->nmodels; i++) {
        perf_model *pm = &p->models[i];
        for (size_t v = 0; v <= DW_ENGINE_MAX_VERSIONS; v++)
            mv_free(pm->mv[v], e->nwindows);
        dw_perf_free(pm->layout);
        dw_cbpe_free(pm->cbpe);
    }
    free(p->models);
    free(p->sum);
    free(p->esum);
    dw_label_join_free(p->join);
    free(p);
    e->perf = NULL;
}

/* The panes a window keeps: its own, those still waiting for labels
 * (max_delay), and those records may be placed in ahead of the watermark. */
static perf_mv *mv_get(dw_eng_perf *p, perf_model *pm, size_t sidx)
{
    if (pm->mv[sidx])
        return pm->mv[sidx];
    dw_engine *e = p->e;
    perf_mv *mv = dw_calloc(1, sizeof *mv);
    mv->max_t = INT64_MIN;
    int64_t lateness = e->cfg->time.allowed_lateness_ms;
    int64_t ahead = lateness > DW_ENGINE_MIN_AHEAD_MS ? lateness : DW_ENGINE_MIN_AHEAD_MS;
    size_t pw = dw_perf_width(pm->layout), ew = pm->cbpe ? dw_cbpe_width(pm->cbpe) : 0;
    for (size_t w = 0; w < e->nwindows; w++) {
        perf_win *pwn = &mv->win[w];
        pwn->length = e->windows[w].length_ms;
        pwn->slide = e->windows[w].slide_ms;
        int64_t extra = (p->lc->max_delay_ms + ahead + lateness + pwn->slide - 1) / pwn->slide;
        pwn->ring = (uint32_t)(pwn->length / pwn->slide + extra + 2);
        pwn->pstart = dw_malloc(pwn->ring * sizeof *pwn->pstart);
        for (uint32_t k = 0; k < pwn->ring; k++)
            pwn->pstart[k] = INT64_MIN;
        pwn->pc = dw_calloc((size_t)pwn->ring * pw, sizeof *pwn->pc);
        if (ew)
            pwn->ec = dw_calloc((size_t)pwn->ring * ew, sizeof *pwn->ec);
        pwn->next_final = pwn->prov_end = INT64_MIN;
    }
    pm->mv[sidx] = mv;
    return mv;
}

/* The slot of the pane holding t, taken over from an older pane when
 * needed; NULL when the slot already holds a newer pane (t is too old for
 * the ring). */
static long pane_slot(perf_win *w, int64_t t, size_t pw, size_t ew)
{
    int64_t start = floor_to(t, w->slide);
    int64_t q = start / w->slide;
    long k = (long)(((q % (int64_t)w->ring) + (int64_t)w->ring) % (int64_t)w->ring);
    if (w->pstart[k] == start)
        return k;
    if (w->pstart[k] != INT64_MIN && w->pstart[k] > start)
        return -1;
    w->pstart[k] = start;
    memset(w->pc + (size_t)k * pw, 0, pw * sizeof *w->pc);
    if (w->ec)
        memset(w->ec + (size_t)k * ew, 0, ew * sizeof *w->ec);
    return k;
}

/* ---- records ---- */

static bool topic_in(const char *t, char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t, list[i]))
            return true;
    return false;
}

bool dw_eng_perf_is_label(dw_engine *e, const source *src, const dw_scan_record *rec)
{
    dw_eng_perf *p = e->perf;
    if (p->force_label)
        return true;
    const dw_config *cfg = e->cfg;
    if (src->topic && p->lc->ntopics) {
        bool lt = topic_in(src->topic, p->lc->topics, p->lc->ntopics);
        bool pt = topic_in(src->topic, cfg->kafka.topics, cfg->kafka.ntopics);
        if (lt != pt)
            return lt;
    }
    /* A shared topic or a merged file: a label has the label field and
     * none of the prediction's monitored fields (records.columns/fields). */
    bool has_label = false;
    for (size_t i = 0; i < rec->nfields; i++) {
        const dw_scan_field *f = &rec->fields[i];
        if (dw_eng_cpath_eq(&p->p_label, f)) {
            has_label = true;
            continue;
        }
        for (size_t k = 0; k < cfg->records.ncolumns; k++)
            if (f->depth > p->col_depth[k] &&
                dw_scan_prefix_eq(f, p->col_depth[k], cfg->records.columns[k]))
                return false;
        for (size_t k = 0; k < cfg->records.nfields; k++)
            if (dw_scan_path_eq(f, cfg->records.fields[k]))
                return false;
    }
    return has_label;
}

int dw_eng_perf_label(dw_engine *e, const dw_scan_record *rec, int64_t fallback_ts, int64_t *t_out)
{
    dw_eng_perf *p = e->perf;
    const cpath *const paths[3] = {&p->p_key, &p->p_label, &p->p_lts};
    const dw_scan_field *found[3];
    dw_eng_find_paths(rec, paths, found, 3);
    const dw_scan_field *fk = found[0], *fl = found[1], *ft = found[2];
    int64_t t;
    if (ft && ft->kind != DW_SCAN_NULL) {
        if (dw_ts_from_field(ft, &t) < 0)
            return DW_ERR_PARSE;
    } else if (fallback_ts != INT64_MIN) {
        t = fallback_ts;
    } else {
        return DW_ERR_PARSE;
    }
    *t_out = t;
    char kbuf[DW_MAX_NAME + 1], lbuf[DW_MAX_NAME + 1];
    const char *ks, *ls;
    size_t kn, ln;
    if (!fk || !field_text(fk, kbuf, sizeof kbuf, &ks, &kn)) {
        p->no_key_labels++;
        return 0;
    }
    if (!fl || !field_text(fl, lbuf, sizeof lbuf, &ls, &ln)) {
        p->bad_labels++;
        return 0;
    }
    dw_join_label lab = {.ts_ms = t, .value = NAN, .cls = class_id(ls, ln)};
    if (fl->kind == DW_SCAN_NUMBER)
        lab.value = fl->num;
    dw_label_join_label(p->join, ks, kn, &lab);
    return 0;
}

void dw_eng_perf_prediction(dw_engine *e, size_t midx, size_t sidx, const dw_scan_record *rec,
                            int64_t t)
{
    dw_eng_perf *p = e->perf;
    perf_model *pm = &p->models[midx];
    if (!pm->pc)
        return;
    const cpath *const paths[3] = {&p->p_key, pm->pc->score ? &pm->p_score : NULL,
                                   pm->pc->predicted ? &pm->p_pred : NULL};
    const dw_scan_field *found[3];
    dw_eng_find_paths(rec, paths, found, 3);
    const dw_scan_field *fk = found[0], *fs = found[1], *fp = found[2];
    dw_join_pred pr = {.ts_ms = t,
                       .score = NAN,
                       .cls = -1,
                       .tag = (uint32_t)(midx * (DW_ENGINE_MAX_VERSIONS + 1) + sidx)};
    if (fs && fs->kind == DW_SCAN_NUMBER)
        pr.score = fs->num;
    char pbuf[DW_MAX_NAME + 1];
    if (pm->pc->kind == DW_PERF_REGRESSION) {
        if (fp && fp->kind == DW_SCAN_NUMBER)
            pr.score = fp->num;
    } else if (pm->pc->predicted) {
        const char *s;
        size_t n;
        if (fp && field_text(fp, pbuf, sizeof pbuf, &s, &n))
            pr.cls = class_id(s, n);
    } else if (!isnan(pr.score)) {
        pr.cls = pr.score >= pm->pc->threshold ? pm->pos_cls : CLS_NEGATIVE;
    }
    perf_mv *mv = mv_get(p, pm, sidx);
    if (t > mv->max_t)
        mv->max_t = t;
    /* Every prediction counts for the estimate when it is made. */
    if (pm->cbpe && pr.cls != -1 && pr.score >= 0 && pr.score <= 1) {
        size_t pw = dw_perf_width(pm->layout), ew = dw_cbpe_width(pm->cbpe);
        for (size_t w = 0; w < e->nwindows; w++) {
            perf_win *pwn = &mv->win[w];
            long k = pane_slot(pwn, t, pw, ew);
            if (k < 0) {
                pwn->dropped++;
                continue;
            }
            dw_cbpe_add(pm->cbpe, pwn->ec + (size_t)k * ew, pr.score, pr.cls == pm->pos_cls);
            if (pwn->next_final == INT64_MIN)
                pwn->next_final = floor_to(t, pwn->slide) + pwn->slide;
        }
    }
    const char *ks;
    size_t kn;
    char kbuf[DW_MAX_NAME + 1];
    if (!fk || !field_text(fk, kbuf, sizeof kbuf, &ks, &kn)) {
        p->no_key_predictions++;
        return;
    }
    dw_label_join_prediction(p->join, ks, kn, &pr);
}

/* What leaves the join lands in the pane of the prediction's time. */
void dw_eng_perf_emit(void *ctx, dw_join_outcome outcome, const dw_join_pred *pred,
                      const dw_join_label *label)
{
    dw_eng_perf *p = ctx;
    size_t midx = pred->tag / (DW_ENGINE_MAX_VERSIONS + 1);
    size_t sidx = pred->tag % (DW_ENGINE_MAX_VERSIONS + 1);
    if (midx >= p->nmodels || !p->models[midx].pc || !p->models[midx].mv[sidx])
        return;
    perf_model *pm = &p->models[midx];
    perf_mv *mv = pm->mv[sidx];
    size_t pw = dw_perf_width(pm->layout), ew = pm->cbpe ? dw_cbpe_width(pm->cbpe) : 0;
    for (size_t w = 0; w < p->e->nwindows; w++) {
        perf_win *pwn = &mv->win[w];
        long k = pane_slot(pwn, pred->ts_ms, pw, ew);
        if (k < 0) {
            pwn->dropped++;
            continue;
        }
        if (pwn->next_final == INT64_MIN)
            pwn->next_final = floor_to(pred->ts_ms, pwn->slide) + pwn->slide;
        uint64_t *c = pwn->pc + (size_t)k * pw;
        if (outcome != DW_JOIN_MATCHED) {
            dw_perf_add_unlabelled(pm->layout, c);
        } else if (pm->pc->kind == DW_PERF_REGRESSION) {
            dw_perf_add_reg(pm->layout, c, pred->score, label->value);
        } else {
            bool actual = label->cls == pm->pos_cls;
            bool predicted = pred->cls == pm->pos_cls;
            dw_perf_obs o = {
                .predicted_positive = predicted,
                .actual_positive = actual,
                .correct = pred->cls == CLS_NEGATIVE ? !actual : pred->cls == label->cls,
                .has_score = !isnan(pred->score),
                .score = pred->score,
            };
            if (pred->cls == -1) { /* no predicted class: only the score counts */
                o.predicted_positive = false;
                o.correct = false;
            }
            dw_perf_add_class(pm->layout, c, &o);
        }
    }
}

/* ---- evaluation ---- */

static bool window_sum(dw_eng_perf *p, perf_model *pm, perf_win *w, int64_t end)
{
    size_t pw = dw_perf_width(pm->layout), ew = pm->cbpe ? dw_cbpe_width(pm->cbpe) : 0;
    memset(p->sum, 0, pw * sizeof *p->sum);
    if (ew)
        memset(p->esum, 0, ew * sizeof *p->esum);
    bool any = false;
    for (int64_t s = end - w->length; s < end; s += w->slide) {
        int64_t q = s / w->slide;
        long k = (long)(((q % (int64_t)w->ring) + (int64_t)w->ring) % (int64_t)w->ring);
        if (w->pstart[k] != s)
            continue;
        any = true;
        dw_perf_merge(pm->layout, p->sum, w->pc + (size_t)k * pw);
        if (ew)
            for (size_t i = 0; i < ew; i++)
                p->esum[i] += w->ec[(size_t)k * ew + i];
    }
    return any;
}

static void compute(dw_eng_perf *p, perf_model *pm, dw_perf_result *r, dw_cbpe_result *est)
{
    dw_perf_compute(pm->layout, p->sum, pm->pc->confidence, r);
    if (pm->cbpe)
        dw_cbpe_compute(pm->cbpe, p->esum, pm->pc->confidence, est);
    else
        memset(est, 0, sizeof *est);
}

double dw_eng_perf_rule_reference(const dw_eng_perf *p, size_t midx, size_t rule)
{
    const perf_model *pm = &p->models[midx];
    const dw_perf_rule_config *rc = &pm->pc->rules[rule];
    return isnan(rc->reference) ? pm->ref[rc->metric] : rc->reference;
}

/* The resolve condition: the point estimate is back within the margin. */
static bool rule_clear(dw_perf_metric m, double v, double ref, double margin)
{
    if (m == DW_PERF_BIAS)
        return fabs(v) <= fabs(ref) + margin;
    return dw_perf_higher_is_better(m) ? v >= ref - margin : v <= ref + margin;
}

static json_t *perf_value_json(const dw_perf_value *v)
{
    return json_pack("{s:o,s:o,s:o}", "value", dw_json_number(v->value), "lower",
                     dw_json_number(v->lo), "upper", dw_json_number(v->hi));
}

/* The alert column of rule k: "performance.<metric>". */
static void rule_column(const perf_model *pm, size_t k, char *buf, size_t len)
{
    snprintf(buf, len, "performance.%s",
             dw_perf_metric_name((dw_perf_metric)pm->pc->rules[k].metric));
}

static json_t *alert_json(dw_engine *e, size_t midx, size_t sidx, size_t wi, size_t k,
                          dw_alert_event ev, const dw_perf_result *r, const dw_cbpe_result *est,
                          int64_t end)
{
    dw_eng_perf *p = e->perf;
    perf_model *pm = &p->models[midx];
    perf_win *w = &pm->mv[sidx]->win[wi];
    dw_model *m = e->models[midx].states[sidx];
    const dw_perf_rule_config *rc = &pm->pc->rules[k];
    const char *mname = dw_perf_metric_name((dw_perf_metric)rc->metric);
    char col[40], key[17];
    rule_column(pm, k, col, sizeof col);
    const char *wname = e->cfg->windows[wi].name;
    dw_alert_dedup_key(dw_model_name(m), dw_model_version(m), col, wname, "performance", key);
    const dw_alert *a = &w->alerts[k];
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(ev == DW_ALERT_FIRED ? "firing" : "resolved"));
    json_object_set_new(o, "column", json_string(col));
    json_object_set_new(o, "window", json_string(wname));
    json_object_set_new(o, "window_start", dw_json_time(end - w->length));
    json_object_set_new(o, "window_end", dw_json_time(end));
    json_object_set_new(o, "samples", json_integer((json_int_t)r->n));
    json_object_set_new(o, "kind", json_string("performance"));
    json_object_set_new(o, "severity", json_string("warning"));
    json_t *perf = perf_value_json(&r->m[rc->metric]);
    json_object_set_new(perf, "metric", json_string(mname));
    json_object_set_new(perf, "reference", dw_json_number(dw_eng_perf_rule_reference(p, midx, k)));
    json_object_set_new(perf, "margin", dw_json_number(rc->margin));
    json_object_set_new(perf, "confidence", dw_json_number(pm->pc->confidence));
    json_object_set_new(perf, "coverage", dw_json_number(r->coverage));
    if (pm->cbpe && rc->metric == DW_PERF_ACCURACY)
        json_object_set_new(perf, "estimated", dw_json_number(est->accuracy.value));
    else if (pm->cbpe && rc->metric == DW_PERF_AUC)
        json_object_set_new(perf, "estimated", dw_json_number(est->auc.value));
    json_object_set_new(o, "performance", perf);
    json_object_set_new(o, "dedup_key", json_string(key));
    json_object_set_new(o, "starts_at", dw_json_time(a->started_ms));
    json_object_set_new(o, "ends_at",
                        ev == DW_ALERT_RESOLVED ? dw_json_time(a->ended_ms) : json_null());
    return o;
}

static void finalise(dw_engine *e, size_t midx, size_t sidx, size_t wi, int64_t end, json_t **doc)
{
    dw_eng_perf *p = e->perf;
    perf_model *pm = &p->models[midx];
    perf_win *w = &pm->mv[sidx]->win[wi];
    if (!window_sum(p, pm, w, end))
        return; /* nothing in it: no verdict, the alerts hold */
    compute(p, pm, &w->final, &w->est_final);
    w->has_final = true;
    w->final_end = end;
    dw_status_perf_point *h = &w->hist[w->hist_next];
    w->hist_next = (w->hist_next + 1) % DW_ENG_PERF_HISTORY;
    if (w->hist_len < DW_ENG_PERF_HISTORY)
        w->hist_len++;
    h->end_ms = end;
    h->labelled = w->final.n;
    h->unlabelled = w->final.unlabelled;
    for (int k = 0; k < DW_PERF_METRIC_COUNT; k++)
        h->m[k] = w->final.m[k].value;
    h->est_accuracy = pm->cbpe ? w->est_final.accuracy.value : NAN;
    h->est_auc = pm->cbpe ? w->est_final.auc.value : NAN;
    STAT_ADD(e, evaluations, 1);
    const dw_perf_config *pc = pm->pc;
    for (size_t k = 0; k < pc->nrules; k++) {
        dw_perf_metric m = (dw_perf_metric)pc->rules[k].metric;
        double ref = dw_eng_perf_rule_reference(p, midx, k);
        const dw_perf_value *v = &w->final.m[m];
        bool enough = w->final.n >= pc->min_labels && !isnan(v->value) && !isnan(ref);
        bool breach = enough && dw_perf_worse(m, v, ref, pc->rules[k].margin);
        bool clear = enough && rule_clear(m, v->value, ref, pc->rules[k].margin);
        dw_alert_rule rule = {.for_count = (uint32_t)e->cfg->alerts.for_evaluations,
                              .keep_firing_ms = e->cfg->alerts.keep_firing_for_ms};
        dw_alert_event ev = dw_alert_step(&w->alerts[k], breach, clear && !breach, &rule, end);
        if (ev == DW_ALERT_NONE)
            continue;
        if (!*doc)
            *doc = dw_eng_new_document(e->models[midx].states[sidx], end, "performance");
        json_array_append_new(json_object_get(*doc, "alerts"),
                              alert_json(e, midx, sidx, wi, k, ev, &w->final, &w->est_final, end));
    }
}

/* Oldest pane start a window still holds, or INT64_MAX. */
static int64_t oldest_pane(const perf_win *w)
{
    int64_t o = INT64_MAX;
    for (uint32_t k = 0; k < w->ring; k++)
        if (w->pstart[k] != INT64_MIN && w->pstart[k] < o)
            o = w->pstart[k];
    return o;
}

void dw_eng_perf_advance(dw_engine *e, int64_t wm, bool final)
{
    dw_eng_perf *p = e->perf;
    if (final)
        dw_label_join_flush(p->join);
    else if (wm != INT64_MIN)
        dw_label_join_advance(p->join, wm);
    if (wm == INT64_MIN && !final)
        return;
    int64_t delay = p->lc->max_delay_ms;
    for (size_t i = 0; i < p->nmodels; i++) {
        perf_model *pm = &p->models[i];
        if (!pm->pc)
            continue;
        for (size_t v = 0; v <= DW_ENGINE_MAX_VERSIONS; v++) {
            perf_mv *mv = pm->mv[v];
            if (!mv || v >= e->models[i].nstates)
                continue;
            json_t *doc = NULL;
            for (size_t wi = 0; wi < e->nwindows; wi++) {
                perf_win *w = &mv->win[wi];
                if (w->next_final == INT64_MIN)
                    continue;
                int64_t limit = final ? floor_to(mv->max_t, w->slide) + w->slide : wm - delay;
                /* A long gap: skip the windows that hold no pane. */
                int64_t oldest = oldest_pane(w);
                if (oldest != INT64_MAX && w->next_final <= oldest)
                    w->next_final = oldest + w->slide;
                while (w->next_final <= limit) {
                    finalise(e, i, v, wi, w->next_final, &doc);
                    w->next_final += w->slide;
                }
                /* The newest window that has ended: provisional until final. */
                int64_t pend = final ? INT64_MIN : floor_to(wm, w->slide);
                if (pend == INT64_MIN || pend < w->next_final) {
                    w->has_prov = false;
                } else if (pend != w->prov_end) {
                    w->prov_end = pend;
                    w->has_prov = window_sum(p, pm, w, pend);
                    if (w->has_prov)
                        compute(p, pm, &w->prov, &w->est_prov);
                }
            }
            if (doc)
                dw_eng_emit(e, doc);
        }
    }
}

void dw_eng_perf_move_version(dw_engine *e, size_t midx, size_t to, size_t from)
{
    perf_model *pm = &e->perf->models[midx];
    mv_free(pm->mv[to], e->nwindows);
    pm->mv[to] = to == from ? NULL : pm->mv[from];
    pm->mv[from] = NULL;
}

bool dw_eng_perf_input_complete(const dw_engine *e)
{
    return e->perf && e->perf->complete;
}

void dw_engine_labels_complete(dw_engine *e)
{
    if (e->perf)
        e->perf->complete = true;
}

void dw_eng_perf_force_label(dw_engine *e, bool on)
{
    if (e->perf)
        e->perf->force_label = on;
}

bool dw_eng_perf_firing(const dw_engine *e, size_t midx, size_t sidx, size_t wi)
{
    const dw_eng_perf *p = e->perf;
    if (!p || midx >= p->nmodels || !p->models[midx].pc || !p->models[midx].mv[sidx])
        return false;
    const perf_win *w = &p->models[midx].mv[sidx]->win[wi];
    for (size_t k = 0; k < p->models[midx].pc->nrules; k++)
        if (w->alerts[k].state == DW_ALERT_FIRING)
            return true;
    return false;
}

/* ---- alert states across restarts ---- */

void dw_eng_perf_alert_state(const dw_engine *e, size_t midx, size_t sidx, json_t *arr)
{
    const dw_eng_perf *p = e->perf;
    if (midx >= p->nmodels || !p->models[midx].pc || !p->models[midx].mv[sidx])
        return;
    const perf_model *pm = &p->models[midx];
    const dw_model *m = e->models[midx].states[sidx];
    for (size_t wi = 0; wi < e->nwindows; wi++)
        for (size_t k = 0; k < pm->pc->nrules; k++) {
            const dw_alert *a = &pm->mv[sidx]->win[wi].alerts[k];
            if (a->state != DW_ALERT_FIRING)
                continue;
            char col[40];
            rule_column(pm, k, col, sizeof col);
            json_array_append_new(
                arr, dw_eng_alert_entry(m, col, e->cfg->windows[wi].name, "performance", a));
        }
}

void dw_eng_perf_restore(dw_engine *e, size_t midx, size_t sidx, const char *column, size_t wi,
                         int64_t started_ms, int64_t notified_ms)
{
    dw_eng_perf *p = e->perf;
    if (midx >= p->nmodels || !p->models[midx].pc || wi >= e->nwindows)
        return;
    perf_model *pm = &p->models[midx];
    for (size_t k = 0; k < pm->pc->nrules; k++) {
        char col[40];
        rule_column(pm, k, col, sizeof col);
        if (strcmp(col, column))
            continue;
        dw_alert_restore(&mv_get(p, pm, sidx)->win[wi].alerts[k],
                         (uint32_t)e->cfg->alerts.for_evaluations, started_ms, notified_ms);
        return;
    }
}

/* ---- status ---- */

static void result_status(const perf_model *pm, const perf_win *w, bool prov,
                          dw_status_perf_result *out)
{
    out->present = prov ? w->has_prov : w->has_final;
    if (!out->present)
        return;
    out->provisional = prov;
    out->end_ms = prov ? w->prov_end : w->final_end;
    out->start_ms = out->end_ms - w->length;
    out->realised = prov ? w->prov : w->final;
    out->has_estimate = pm->cbpe != NULL;
    if (out->has_estimate)
        out->estimated = prov ? w->est_prov : w->est_final;
}

dw_status_perf *dw_eng_perf_status(dw_engine *e)
{
    dw_eng_perf *p = e->perf;
    dw_status_perf *st = dw_calloc(1, sizeof *st);
    dw_label_join_stats(p->join, &st->join);
    st->predictions_without_key = p->no_key_predictions;
    st->labels_without_key = p->no_key_labels;
    st->labels_without_value = p->bad_labels;
    st->memory_limit_bytes = (uint64_t)p->lc->memory_mb << 20;
    st->max_delay_ms = p->lc->max_delay_ms;
    st->coverage = dw_label_join_coverage(p->join);
    for (size_t i = 0; i < 3; i++)
        st->delay_s[i] =
            dw_label_join_delay_quantile(p->join, dw_status_perf_quantiles[i]) / 1000.0;
    size_t n = 0;
    for (size_t i = 0; i < p->nmodels; i++)
        n += p->models[i].pc ? e->models[i].nstates : 0;
    st->models = dw_calloc(n + 1, sizeof *st->models);
    for (size_t i = 0; i < p->nmodels; i++) {
        perf_model *pm = &p->models[i];
        if (!pm->pc)
            continue;
        for (size_t v = 0; v < e->models[i].nstates; v++) {
            perf_mv *mv = pm->mv[v];
            if (!mv)
                continue;
            dw_model *m = e->models[i].states[v];
            dw_status_perf_model *sm = &st->models[st->nmodels++];
            sm->model = dw_strdup(dw_model_name(m));
            sm->version = dw_model_version(m) ? dw_strdup(dw_model_version(m)) : NULL;
            sm->kind = (dw_perf_kind)pm->pc->kind;
            sm->estimate = pm->cbpe != NULL;
            sm->nwindows = e->nwindows;
            sm->windows = dw_calloc(e->nwindows, sizeof *sm->windows);
            for (size_t wi = 0; wi < e->nwindows; wi++) {
                const perf_win *w = &mv->win[wi];
                dw_status_perf_window *sw = &sm->windows[wi];
                sw->name = dw_strdup(e->cfg->windows[wi].name);
                result_status(pm, w, false, &sw->final);
                result_status(pm, w, true, &sw->provisional);
                sw->nrules = pm->pc->nrules;
                sw->rules = dw_calloc(sw->nrules + 1, sizeof *sw->rules);
                for (size_t k = 0; k < sw->nrules; k++) {
                    sw->rules[k].metric = (dw_perf_metric)pm->pc->rules[k].metric;
                    sw->rules[k].reference = dw_eng_perf_rule_reference(p, i, k);
                    sw->rules[k].margin = pm->pc->rules[k].margin;
                    sw->rules[k].state = w->alerts[k].state;
                }
                sw->dropped = w->dropped;
                sw->nhistory = w->hist_len;
                sw->history = dw_calloc(w->hist_len + 1, sizeof *sw->history);
                for (uint32_t k = 0; k < w->hist_len; k++)
                    sw->history[k] =
                        w->hist[(w->hist_next + DW_ENG_PERF_HISTORY - w->hist_len + k) %
                                DW_ENG_PERF_HISTORY];
            }
        }
    }
    return st;
}

/* ---- replay of two files ---- */

void dw_engine_process_labels(dw_engine *e, const char *buf, size_t len)
{
    dw_eng_perf_force_label(e, true);
    dw_engine_process(e, buf, len, INT64_MIN);
    dw_eng_perf_force_label(e, false);
}

int64_t dw_engine_message_time(dw_engine *e, const char *buf, size_t len, bool label)
{
    const cpath *ts = label && e->perf ? &e->perf->p_lts : &e->p_ts;
    dw_scanner sc;
    dw_scan_init(&sc, buf, len);
    dw_scan_record rec = {.fields = e->fields, .cap = e->nfields_cap};
    int64_t t = INT64_MIN;
    const dw_scan_field *f = NULL;
    if (dw_scan_next(&sc, &rec) > 0)
        dw_eng_find_paths(&rec, &ts, &f, 1);
    if (f && dw_ts_from_field(f, &t) < 0)
        t = INT64_MIN;
    return t;
}

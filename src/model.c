#include "driftwatch/model.h"

#include "driftwatch/error.h"
#include "driftwatch/histogram.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct col_state {
    const dw_ref_column *ref;
    size_t off; /* first counter of the column in a pane */
    const dw_thresholds *th;
    bool ignored;
    /* categorical: unseen-category slots (names live here, counts in panes) */
    char **new_names;      /* K buffers of DW_MAX_NAME + 1 bytes, "" = free */
    const char **new_view; /* the same pointers, const, for dw_sample */
    size_t *new_len;
    dw_alert alerts[DW_MAX_WINDOWS][2];
    dw_column_result last[DW_MAX_WINDOWS];
    double hist_psi[DW_MAX_WINDOWS][DW_MODEL_HISTORY];
    int64_t hist_t[DW_MAX_WINDOWS][DW_MODEL_HISTORY];
    size_t hist_n[DW_MAX_WINDOWS]; /* evaluations so far (ring index = n % size) */
} col_state;

struct dw_model {
    char *name, *version;
    const dw_reference *ref;
    size_t ncols, width, nwin, K, extra_off;
    col_state *cols;
    dw_window *win[DW_MAX_WINDOWS];
    char *win_name[DW_MAX_WINDOWS];
    dw_alert_rule alert;
    double clear_psi, clear_ks;
    uint64_t **pane_tmp; /* per-window pane pointers for dw_model_add */
    bool clock_back;     /* a window's clock moved back (dw_model_clock_moved_back) */
    uint8_t *newcat;     /* width: 1 at the unseen-category slots (deltas ask per counter) */
    int64_t last_eval[DW_MAX_WINDOWS];
    /* evaluation scratch, ncols each, so evaluating does not allocate */
    dw_column_result *tested;
    dw_thresholds *tested_th;
    size_t *tested_map;
    /* the recent-segment scan: DW_SCAN_SCALES * ncols results and one
     * segment's counters (width) */
    dw_column_result *scan;
    uint64_t *seg;
    bool *scan_high; /* ncols: a segment is significant and above a clear level */
};

/* Recent segments a window's evaluation also tests: its newest 1, 2, 4,
 * ... panes, up to DW_SCAN_MAX_PANES and shorter than the window. */
#define DW_SCAN_MAX_PANES 32
#define DW_SCAN_SCALES 6

static size_t col_width(const dw_ref_column *c, size_t K)
{
    if (c->type == DW_COL_NUMERIC)
        return 2 + c->nbins + 2;
    return 2 + c->ncat + K + 1;
}

/* Counters per pane: the sum of the columns' widths. */
static size_t model_width(const dw_reference *ref, size_t K)
{
    size_t off = 0;
    for (size_t j = 0; j < ref->ncols; j++)
        off += col_width(&ref->cols[j], K);
    return off ? off : 1;
}

size_t dw_model_memory(const dw_model_spec *spec)
{
    if (!spec->ref)
        return 0;
    size_t K = spec->max_new_categories, nc = spec->ref->ncols ? spec->ref->ncols : 1;
    size_t width = model_width(spec->ref, K) + spec->extra_width;
    uint64_t bytes = sizeof(dw_model) + nc * (sizeof(col_state) + sizeof(dw_column_result) +
                                              sizeof(dw_thresholds) + sizeof(size_t));
    for (size_t j = 0; j < spec->ref->ncols; j++)
        if (spec->ref->cols[j].type == DW_COL_CATEGORICAL)
            bytes += K * (DW_MAX_NAME + 1 + 2 * sizeof(char *) + sizeof(size_t));
    for (size_t w = 0; w < spec->nwindows; w++)
        bytes += dw_window_memory(spec->windows[w].length_ms, spec->windows[w].slide_ms,
                                  spec->lateness_ms, width);
    return (size_t)bytes;
}

dw_model *dw_model_new(const dw_model_spec *spec)
{
    if (!spec->ref || spec->nwindows == 0 || spec->nwindows > DW_MAX_WINDOWS ||
        spec->max_new_categories > DW_MAX_NEW_CATEGORIES)
        return NULL;
    dw_model *m = dw_calloc(1, sizeof *m);
    m->name = dw_strdup(spec->name);
    m->version = spec->version ? dw_strdup(spec->version) : NULL;
    m->ref = spec->ref;
    m->ncols = spec->ref->ncols;
    m->K = spec->max_new_categories;
    m->alert = spec->alert;
    m->clear_psi = spec->clear_psi;
    m->clear_ks = spec->clear_ks;
    m->cols = dw_calloc(m->ncols ? m->ncols : 1, sizeof *m->cols);
    size_t off = 0;
    for (size_t j = 0; j < m->ncols; j++) {
        col_state *c = &m->cols[j];
        c->ref = &spec->ref->cols[j];
        c->off = off;
        c->th = spec->col_thresholds[j];
        c->ignored = spec->col_ignored ? spec->col_ignored[j] : false;
        off += col_width(c->ref, m->K);
        if (c->ref->type == DW_COL_CATEGORICAL && m->K) {
            c->new_names = dw_calloc(m->K, sizeof *c->new_names);
            c->new_view = dw_calloc(m->K, sizeof *c->new_view);
            c->new_len = dw_calloc(m->K, sizeof *c->new_len);
            for (size_t k = 0; k < m->K; k++) {
                c->new_names[k] = dw_calloc(1, DW_MAX_NAME + 1);
                c->new_view[k] = c->new_names[k];
            }
        }
    }
    m->extra_off = off;
    m->width = off + spec->extra_width ? off + spec->extra_width : 1;
    m->seg = dw_calloc(m->width, sizeof *m->seg);
    m->newcat = dw_calloc(m->width, 1);
    for (size_t j = 0; j < m->ncols; j++)
        if (m->cols[j].new_names)
            memset(m->newcat + m->cols[j].off + 2 + m->cols[j].ref->ncat, 1, m->K);
    size_t nc = m->ncols ? m->ncols : 1;
    m->tested = dw_calloc(nc, sizeof *m->tested);
    m->tested_th = dw_calloc(nc, sizeof *m->tested_th);
    m->tested_map = dw_calloc(nc, sizeof *m->tested_map);
    m->scan = dw_calloc(DW_SCAN_SCALES * nc, sizeof *m->scan);
    m->scan_high = dw_calloc(nc, sizeof *m->scan_high);
    m->nwin = spec->nwindows;
    for (size_t w = 0; w < DW_MAX_WINDOWS; w++)
        m->last_eval[w] = INT64_MIN;
    m->pane_tmp = dw_calloc(m->nwin, sizeof *m->pane_tmp);
    for (size_t w = 0; w < m->nwin; w++) {
        m->win[w] = dw_window_new(spec->windows[w].length_ms, spec->windows[w].slide_ms,
                                  spec->lateness_ms, m->width);
        m->win_name[w] = dw_strdup(spec->windows[w].name);
        if (m->win[w])
            dw_window_on_clock_back(m->win[w], &m->clock_back);
        if (!m->win[w]) {
            m->nwin = w + 1;
            dw_model_free(m);
            return NULL;
        }
    }
    return m;
}

void dw_model_free(dw_model *m)
{
    if (!m)
        return;
    for (size_t j = 0; j < m->ncols; j++) {
        col_state *c = &m->cols[j];
        if (c->new_names) {
            for (size_t k = 0; k < m->K; k++)
                free(c->new_names[k]);
            free(c->new_names);
            free(c->new_view);
            free(c->new_len);
        }
    }
    for (size_t w = 0; w < m->nwin; w++) {
        dw_window_free(m->win[w]);
        free(m->win_name[w]);
    }
    free(m->pane_tmp);
    free(m->newcat);
    free(m->tested);
    free(m->tested_th);
    free(m->tested_map);
    free(m->scan);
    free(m->seg);
    free(m->scan_high);
    free(m->cols);
    free(m->name);
    free(m->version);
    free(m);
}

void dw_model_set_params(dw_model *m, const dw_thresholds *const *col_thresholds,
                         const bool *col_ignored, const dw_alert_rule *alert, double clear_psi,
                         double clear_ks)
{
    for (size_t j = 0; j < m->ncols; j++) {
        m->cols[j].th = col_thresholds[j];
        m->cols[j].ignored = col_ignored ? col_ignored[j] : false;
    }
    m->alert = *alert;
    m->clear_psi = clear_psi;
    m->clear_ks = clear_ks;
}

const char *dw_model_name(const dw_model *m)
{
    return m->name;
}
const char *dw_model_version(const dw_model *m)
{
    return m->version;
}
const dw_reference *dw_model_reference(const dw_model *m)
{
    return m->ref;
}
size_t dw_model_nwindows(const dw_model *m)
{
    return m->nwin;
}
dw_window *dw_model_window(dw_model *m, size_t wi)
{
    return m->win[wi];
}
const char *dw_model_window_name(const dw_model *m, size_t wi)
{
    return m->win_name[wi];
}

size_t dw_model_number_slot(const dw_model *m, size_t col, double x)
{
    const col_state *c = &m->cols[col];
    if (isnan(x))
        return c->off; /* missing, as dw_value_classify() says */
    /* under (-1) at off+2, bin i at off+3+i, over (nbins) at off+3+nbins */
    return (size_t)((long)c->off + 3 + dw_ref_bin(c->ref, x));
}

size_t dw_model_missing_slot(const dw_model *m, size_t col)
{
    return m->cols[col].off;
}

static size_t category_slot(dw_model *m, col_state *c, long idx, const char *s, size_t len)
{
    if (idx >= 0)
        return c->off + 2 + (size_t)idx;
    size_t base = c->off + 2 + c->ref->ncat;
    size_t free_k = m->K;
    for (size_t k = 0; k < m->K; k++) {
        if (c->new_names[k][0] == '\0') {
            if (free_k == m->K)
                free_k = k;
            continue;
        }
        if (c->new_len[k] == len && memcmp(c->new_names[k], s, len) == 0)
            return base + k;
    }
    /* No slot free, or a name longer than a slot holds: pooled. */
    if (free_k == m->K || len > DW_MAX_NAME || len == 0)
        return base + m->K;
    memcpy(c->new_names[free_k], s, len);
    c->new_names[free_k][len] = '\0';
    c->new_len[free_k] = len;
    return base + free_k;
}

size_t dw_model_slot(dw_model *m, size_t col, const dw_value *v, dw_slot_status *status)
{
    col_state *c = &m->cols[col];
    long idx = -1;
    const char *text = NULL;
    size_t len = 0;
    char scratch[DW_VALUE_SCRATCH];
    *status = DW_SLOT_OK;
    switch (dw_value_classify(c->ref, v, &idx, &text, &len, scratch)) {
    case DW_CLASS_MISSING: *status = DW_SLOT_MISSING; return c->off;
    case DW_CLASS_TYPE_ERROR: *status = DW_SLOT_TYPE_ERROR; return c->off + 1;
    case DW_CLASS_BIN:
        /* idx is -1 (under) .. nbins (over): under sits at off+2, bin i at
         * off+3+i, over at off+3+nbins. */
        return (size_t)((long)c->off + 3 + idx);
    case DW_CLASS_CATEGORY: return category_slot(m, c, idx, NULL, 0);
    case DW_CLASS_UNSEEN: return category_slot(m, c, -1, text, len);
    }
    *status = DW_SLOT_TYPE_ERROR;
    return c->off + 1;
}

size_t dw_model_text_slot(dw_model *m, size_t col, const char *s, size_t len,
                          dw_slot_status *status)
{
    col_state *c = &m->cols[col];
    /* dw_value_classify() of a string in a categorical column */
    if (dw_value_text_is_missing(s, len)) {
        *status = DW_SLOT_MISSING;
        return c->off;
    }
    *status = DW_SLOT_OK;
    long idx = dw_ref_category(c->ref, s, len);
    return idx >= 0 ? category_slot(m, c, idx, NULL, 0) : category_slot(m, c, -1, s, len);
}

/* The pane of every window holding t_ms into m->pane_tmp: 0, or what
 * dw_model_add() returns when one is not open. */
static int panes_for(dw_model *m, int64_t t_ms)
{
    for (size_t w = 0; w < m->nwin; w++) {
        m->pane_tmp[w] = dw_window_pane_for(m->win[w], t_ms);
        if (!m->pane_tmp[w])
            return dw_window_is_ahead(m->win[w], t_ms) ? DW_ERR_STATE : DW_ERR_LIMIT;
    }
    return 0;
}

bool dw_model_clock_moved_back(dw_model *m)
{
    bool moved = m->clock_back;
    m->clock_back = false;
    return moved;
}

int dw_model_add(dw_model *m, int64_t t_ms, const size_t *slots, size_t n)
{
    int rc = panes_for(m, t_ms);
    if (rc < 0)
        return rc;
    for (size_t w = 0; w < m->nwin; w++) {
        uint64_t *pane = m->pane_tmp[w];
        for (size_t i = 0; i < n; i++)
            pane[slots[i]]++;
    }
    return 0;
}

/* The sample of column col over a model-wide array of counters (a window's
 * sum or a segment of its panes). */
static void sample_of(const dw_model *m, size_t col, const uint64_t *counters, dw_sample *out)
{
    const col_state *c = &m->cols[col];
    const uint64_t *sum = counters + c->off;
    memset(out, 0, sizeof *out);
    out->ref = c->ref;
    out->missing = sum[0];
    out->type_errors = sum[1];
    out->bins = sum + 2;
    if (c->ref->type == DW_COL_CATEGORICAL) {
        out->nnew = c->new_names ? m->K : 0;
        out->new_counts = sum + 2 + c->ref->ncat;
        out->new_names = c->new_view;
        out->new_overflow = sum[2 + c->ref->ncat + m->K];
    }
}

void dw_model_sample(const dw_model *m, size_t wi, size_t col, dw_sample *out)
{
    sample_of(m, col, dw_window_sum(m->win[wi]), out);
}

/* The recent-segment scan (model.h): evaluates the newest 1, 2, 4, ...
 * closed panes of window wi for the n tested columns, sets every column's
 * number of distribution tests (the window plus each segment with at least
 * min_samples values: a segment too thin to flag spends none of the
 * budget) and decides each segment as its own BH family. Returns the
 * number of segments. */
static size_t scan_recent(dw_model *m, size_t wi, dw_column_result *tested, const dw_thresholds *th,
                          const size_t *map, size_t n)
{
    const dw_window *win = m->win[wi];
    size_t filled = dw_window_filled(win), nsc = 0, age = 0;
    memset(m->seg, 0, m->width * sizeof *m->seg);
    for (size_t k = 1; k < filled && k <= DW_SCAN_MAX_PANES && nsc < DW_SCAN_SCALES; k *= 2) {
        for (; age < k; age++) {
            const uint64_t *pane = dw_window_closed_pane(win, age);
            for (size_t i = 0; i < m->extra_off; i++) /* the columns' counters */
                m->seg[i] += pane[i];
        }
        for (size_t i = 0; i < n; i++) {
            dw_sample s;
            sample_of(m, map[i], m->seg, &s);
            dw_column_evaluate(&s, &m->scan[nsc * n + i]);
        }
        nsc++;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned tests = 1;
        for (size_t sc = 0; sc < nsc; sc++)
            tests += m->scan[sc * n + i].count >= th[i].min_samples;
        tested[i].tests = tests;
        for (size_t sc = 0; sc < nsc; sc++)
            m->scan[sc * n + i].tests = tests;
    }
    for (size_t sc = 0; sc < nsc; sc++)
        (void)dw_drift_decide(&m->scan[sc * n], n, th, 1);
    return nsc;
}

/* The effect is at or above the clear levels of the hysteresis. */
static bool effect_high(const dw_model *m, const dw_column_result *r)
{
    return r->psi >= m->clear_psi || (r->has_ks && r->ks.statistic >= m->clear_ks);
}

/* After the window's own decision: a column the window does not flag
 * drifts when one of the nsc segments scan_recent() decided does. Also
 * notes, per column, whether a segment is still significant with an effect
 * above the clear levels: a firing alert does not resolve then. */
static size_t scan_merge(dw_model *m, dw_column_result *tested, const size_t *map, size_t n,
                         size_t nsc)
{
    size_t drifting = 0;
    for (size_t i = 0; i < n; i++) {
        dw_column_result *r = &tested[i];
        r->recent_panes = 0;
        r->recent_ks = r->recent_psi = 0.0;
        bool high = false;
        for (size_t sc = 0; sc < nsc; sc++) {
            const dw_column_result *g = &m->scan[sc * n + i];
            high = high || (g->significant && effect_high(m, g));
        }
        m->scan_high[map[i]] = high;
        /* The window decides before its segments; the shortest flagged
         * segment is reported. */
        for (size_t sc = 0; sc < nsc && !r->drift; sc++) {
            const dw_column_result *g = &m->scan[sc * n + i];
            /* A segment flooded with missing values or type errors is an
             * outage starting, whose distribution is a symptom (the
             * inhibition below, judged on the segment's own rates). */
            if (!g->drift || (g->quality_reasons & (DW_QUALITY_MISSING | DW_QUALITY_TYPE_ERRORS)))
                continue;
            r->drift = true;
            r->recent_panes = (size_t)1 << sc;
            r->recent_ks = g->has_ks ? g->ks.statistic : 0.0;
            r->recent_psi = g->psi;
        }
        drifting += r->drift;
    }
    return drifting;
}

/* Frees unseen-category slots no window counts any more, so a long-running
 * sidecar does not run out of slots. */
static void reclaim_slots(dw_model *m)
{
    for (size_t j = 0; j < m->ncols; j++) {
        col_state *c = &m->cols[j];
        if (!c->new_names)
            continue;
        size_t base = c->off + 2 + c->ref->ncat;
        for (size_t k = 0; k < m->K; k++) {
            if (c->new_names[k][0] == '\0')
                continue;
            uint64_t total = 0;
            for (size_t w = 0; w < m->nwin && total == 0; w++)
                total += dw_window_total(m->win[w], base + k);
            if (total == 0) {
                c->new_names[k][0] = '\0';
                c->new_len[k] = 0;
            }
        }
    }
}

size_t dw_model_evaluate(dw_model *m, size_t wi, int64_t now_ms, dw_column_result *res,
                         dw_alert_event *events)
{
    /* Ignored columns are evaluated for display but kept out of the BH
     * family: they are not tests we act on. */
    size_t n = 0;
    for (size_t j = 0; j < m->ncols; j++) {
        dw_sample s;
        dw_model_sample(m, wi, j, &s);
        dw_column_evaluate(&s, &res[j]);
    }
    /* Compact the tested columns, decide, and copy back. */
    dw_column_result *tested = m->tested;
    dw_thresholds *th = m->tested_th;
    size_t *map = m->tested_map;
    for (size_t j = 0; j < m->ncols; j++) {
        if (m->cols[j].ignored)
            continue;
        tested[n] = res[j];
        th[n] = *m->cols[j].th;
        map[n++] = j;
    }
    for (size_t i = 0; i < n; i++)
        th[i].eval_alpha = dw_eval_alpha(&th[i], n, m->nwin, dw_window_slide(m->win[wi]));
    size_t drifting = 0;
    if (n) {
        size_t nsc = scan_recent(m, wi, tested, th, map, n);
        (void)dw_drift_decide(tested, n, th, 1);
        drifting = scan_merge(m, tested, map, n, nsc);
    }
    for (size_t i = 0; i < n; i++)
        res[map[i]] = tested[i];

    const dw_window *win = m->win[wi];
    bool full = dw_window_filled(win) >= (size_t)(dw_window_length(win) / dw_window_slide(win));
    for (size_t j = 0; j < m->ncols; j++) {
        col_state *c = &m->cols[j];
        dw_column_result *r = &res[j];
        if (c->ignored) {
            r->drift = r->quality_issue = false;
            events[2 * j] = events[2 * j + 1] = DW_ALERT_NONE;
            continue;
        }
        /* Hysteresis: a firing distribution alert resolves once the test is
         * no longer significant, the window is too thin to judge, or the
         * effect fell below the clear levels, in the window and in every
         * recent segment (an alert a segment raised while the window still
         * looks clear does not resolve at once). */
        /* A window still filling (after a start or a long gap) that is too
         * thin to judge does not resolve what is firing: it waits until the
         * window is full, then too few samples means the data stopped. */
        bool thin = !r->enough_samples, judge_thin = full;
        bool clear =
            thin ? judge_thin : (!r->significant || !effect_high(m, r)) && !m->scan_high[j];
        /* Inhibition: while the column has a data-quality problem (an
         * upstream outage flooding it with nulls or wrong types), its
         * distribution is a symptom, not news: the one quality alert says
         * it, so the distribution alert does not fire on top. Values out
         * of range or unseen categories are the distribution itself: when
         * the distribution alert says it, the quality alert does not. */
        bool outage = r->quality_reasons & (DW_QUALITY_MISSING | DW_QUALITY_TYPE_ERRORS);
        bool breach = r->drift && !outage;
        bool q_breach = r->quality_issue && (outage || !r->drift);
        events[2 * j] = dw_alert_step(&c->alerts[wi][0], breach, clear, &m->alert, now_ms);
        events[2 * j + 1] = dw_alert_step(&c->alerts[wi][1], q_breach,
                                          thin ? judge_thin : r->quality_clear, &m->alert, now_ms);
    }
    for (size_t j = 0; j < m->ncols; j++) {
        col_state *c = &m->cols[j];
        c->last[wi] = res[j];
        size_t h = c->hist_n[wi]++ % DW_MODEL_HISTORY;
        c->hist_psi[wi][h] = res[j].psi;
        c->hist_t[wi][h] = now_ms;
    }
    m->last_eval[wi] = now_ms;
    reclaim_slots(m);
    return drifting;
}

const dw_alert *dw_model_alert(const dw_model *m, size_t col, size_t wi, int kind)
{
    return &m->cols[col].alerts[wi][kind ? 1 : 0];
}

const dw_column_result *dw_model_last_result(const dw_model *m, size_t wi, size_t col)
{
    if (m->last_eval[wi] == INT64_MIN)
        return NULL;
    return &m->cols[col].last[wi];
}

int64_t dw_model_last_evaluated(const dw_model *m, size_t wi)
{
    return m->last_eval[wi];
}

size_t dw_model_history(const dw_model *m, size_t wi, size_t col, int64_t *t, double *psi,
                        size_t max)
{
    const col_state *c = &m->cols[col];
    size_t n = c->hist_n[wi] < DW_MODEL_HISTORY ? c->hist_n[wi] : DW_MODEL_HISTORY;
    if (n > max)
        n = max;
    size_t first = c->hist_n[wi] - n;
    for (size_t i = 0; i < n; i++) {
        size_t h = (first + i) % DW_MODEL_HISTORY;
        t[i] = c->hist_t[wi][h];
        psi[i] = c->hist_psi[wi][h];
    }
    return n;
}

void dw_model_alert_notified(dw_model *m, size_t col, size_t wi, int kind, int64_t now_ms)
{
    m->cols[col].alerts[wi][kind ? 1 : 0].notified_ms = now_ms;
}

void dw_model_alert_restore(dw_model *m, size_t col, size_t wi, int kind, int64_t started_ms,
                            int64_t notified_ms)
{
    dw_alert_restore(&m->cols[col].alerts[wi][kind ? 1 : 0], m->alert.for_count, started_ms,
                     notified_ms);
}

/* ---- state deltas (see engine.h, "State on Kafka") ---- */

size_t dw_model_width(const dw_model *m)
{
    return m->width;
}

size_t dw_model_extra_offset(const dw_model *m)
{
    return m->extra_off;
}

int dw_model_add_counts(dw_model *m, int64_t t_ms, const uint32_t *slots, const uint32_t *counts,
                        size_t n)
{
    int rc = panes_for(m, t_ms);
    /* Slots past the model's width (a delta from another layout) are
     * skipped; each count goes to the pane of every window. */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (slots[i] >= m->width)
            continue;
        for (size_t w = 0; w < m->nwin; w++)
            m->pane_tmp[w][slots[i]] += counts[i];
    }
    return rc;
}

const uint8_t *dw_model_new_category_map(const dw_model *m)
{
    return m->newcat;
}

bool dw_model_has_new_categories(const dw_model *m)
{
    for (size_t j = 0; j < m->ncols; j++)
        for (size_t k = 0; m->cols[j].new_names && k < m->K; k++)
            if (m->cols[j].new_names[k][0])
                return true;
    return false;
}

const char *dw_model_new_category(const dw_model *m, size_t slot, size_t *col)
{
    if (!m->K || slot >= m->width || !m->newcat[slot])
        return NULL; /* most counters: one load, no search */
    /* Columns are laid out in order: find the one holding slot. */
    size_t lo = 0, hi = m->ncols;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (m->cols[mid].off <= slot)
            lo = mid;
        else
            hi = mid;
    }
    const col_state *c = &m->cols[lo];
    if (!c->new_names || slot < c->off + 2 + c->ref->ncat)
        return NULL;
    size_t k = slot - (c->off + 2 + c->ref->ncat);
    if (k >= m->K)
        return NULL; /* the overflow counter: layout-stable, sent as is */
    *col = lo;
    return c->new_names[k];
}

size_t dw_model_category_slot(dw_model *m, size_t col, const char *name, size_t len)
{
    col_state *c = &m->cols[col];
    if (c->ref->type != DW_COL_CATEGORICAL || !c->new_names)
        return c->off + 1; /* cannot happen with the same reference: a type error */
    return category_slot(m, c, -1, name, len);
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_rng.h"
#include "driftwatch/label_join.h"
#include "driftwatch/perf.h"
#include "driftwatch/window.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the callback saw. */
typedef struct seen {
    uint64_t n[3]; /* per outcome */
    dw_join_pred last_pred;
    dw_join_label last_label;
    int has_label;
    uint64_t mismatched; /* matches whose label is not the prediction's own */
    uint8_t *emitted;    /* optional: per prediction tag, times emitted */
} seen;

static void on_emit(void *ctx, dw_join_outcome o, const dw_join_pred *p, const dw_join_label *l)
{
    seen *s = ctx;
    s->n[o]++;
    s->last_pred = *p;
    s->has_label = l != NULL;
    if (l) {
        s->last_label = *l;
        /* the tests give prediction and label of key k the same cls */
        if (l->cls != p->cls)
            s->mismatched++;
    }
    if (s->emitted)
        s->emitted[p->tag]++;
}

static dw_label_join *new_join_ctx(dw_join_emit_fn fn, void *ctx, int64_t max_delay, size_t mem)
{
    char err[256];
    dw_join_config cfg = {.max_delay_ms = max_delay, .memory_bytes = mem};
    dw_label_join *j = dw_label_join_new(&cfg, fn, ctx, err, sizeof err);
    if (!j)
        fail_msg("%s", err);
    return j;
}

static dw_label_join *new_join(seen *s, int64_t max_delay, size_t mem)
{
    return new_join_ctx(on_emit, s, max_delay, mem);
}

static int pred(dw_label_join *j, const char *key, int64_t ts, int32_t cls)
{
    dw_join_pred p = {.ts_ms = ts, .score = 0.5, .cls = cls, .tag = (uint32_t)cls};
    return dw_label_join_prediction(j, key, strlen(key), &p);
}

static int label(dw_label_join *j, const char *key, int64_t ts, int32_t cls)
{
    dw_join_label l = {.ts_ms = ts, .value = (double)cls, .cls = cls};
    return dw_label_join_label(j, key, strlen(key), &l);
}

static void test_prediction_then_label(void **state)
{
    (void)state;
    seen s = {0};
    dw_label_join *j = new_join(&s, 60000, 1 << 20);
    assert_int_equal(pred(j, "r-1", 1000, 7), 0);
    assert_int_equal(s.n[DW_JOIN_MATCHED], 0);
    assert_int_equal(label(j, "r-1", 31000, 7), 0);
    assert_int_equal(s.n[DW_JOIN_MATCHED], 1);
    assert_true(s.has_label);
    assert_int_equal(s.last_pred.ts_ms, 1000);
    assert_int_equal(s.last_label.ts_ms, 31000);
    /* a second label for the same key is a duplicate, not an orphan */
    label(j, "r-1", 32000, 7);
    dw_join_stats st;
    dw_label_join_stats(j, &st);
    assert_int_equal(st.matched, 1);
    assert_int_equal(st.duplicate_labels, 1);
    assert_int_equal(st.waiting_labels, 0);
    assert_int_equal(st.waiting_predictions, 0);
    /* the delay, 30 s, within 1 % */
    assert_true(fabs(dw_label_join_delay_quantile(j, 0.5) - 30000) <= 300);
    assert_true(dw_label_join_coverage(j) == 1.0);
    assert_int_equal(pred(j, "", 1, 1), -1);
    dw_label_join_free(j);
}

static void test_label_first_and_duplicates(void **state)
{
    (void)state;
    seen s = {0};
    dw_label_join *j = new_join(&s, 60000, 1 << 20);
    label(j, "a", 5000, 1);
    label(j, "a", 5001, 1); /* twice before its prediction */
    pred(j, "a", 4000, 1);
    pred(j, "a", 4000, 1);  /* the prediction twice */
    label(j, "a", 6000, 1); /* and once more after the match */
    dw_join_stats st;
    dw_label_join_stats(j, &st);
    assert_int_equal(s.n[DW_JOIN_MATCHED], 1);
    assert_int_equal(st.matched_early, 1);
    assert_int_equal(st.duplicate_labels, 2);
    assert_int_equal(st.duplicate_predictions, 1);
    assert_int_equal(st.predictions, 1);
    assert_int_equal(st.labels, 3);
    /* a label stamped before its prediction: delay counted as 0 */
    label(j, "b", 100, 2);
    pred(j, "b", 200, 2);
    dw_label_join_stats(j, &st);
    assert_int_equal(st.negative_delays, 1);
    assert_true(dw_label_join_delay_quantile(j, 0.0) == 0.0);
    assert_int_equal(s.mismatched, 0);
    dw_label_join_free(j);
}

static void test_expiry_is_exact_in_event_time(void **state)
{
    (void)state;
    seen s = {0};
    dw_label_join *j = new_join(&s, 1000, 1 << 20);
    pred(j, "x", 5000, 1);
    /* the deadline is inclusive: at 6000 a label may still come */
    assert_int_equal(dw_label_join_advance(j, 6000), 0);
    assert_int_equal(dw_label_join_advance(j, 6001), 1);
    assert_int_equal(s.n[DW_JOIN_EXPIRED], 1);
    assert_false(s.has_label);
    /* a label for it now waits as an early label, then is an orphan */
    label(j, "x", 6500, 1);
    dw_label_join_advance(j, 6500 + 1001);
    dw_join_stats st;
    dw_label_join_stats(j, &st);
    assert_int_equal(st.orphan_labels, 1);
    assert_int_equal(st.expired, 1);
    assert_true(dw_label_join_coverage(j) == 0.0);
    /* the clock never goes back */
    assert_int_equal(dw_label_join_advance(j, 0), 0);
    dw_label_join_free(j);
}

/* One prediction stamped a day ahead must not hold back the expiry of the
 * ones that arrived after it (issue 11's "record from the future"). */
static void test_future_prediction_does_not_block(void **state)
{
    (void)state;
    seen s = {0};
    dw_label_join *j = new_join(&s, 1000, 1 << 20);
    pred(j, "future", 86400000, 1);
    pred(j, "a", 100, 2);
    pred(j, "b", 200, 3);
    assert_int_equal(dw_label_join_advance(j, 5000), 2);
    dw_join_stats st;
    dw_label_join_stats(j, &st);
    assert_int_equal(st.waiting_predictions, 1);
    /* and it still matches its label, then expires as usual */
    label(j, "future", 86400500, 1);
    assert_int_equal(s.n[DW_JOIN_MATCHED], 1);
    dw_label_join_advance(j, 86402000);
    dw_label_join_stats(j, &st);
    assert_int_equal(st.expired, 2);
    assert_int_equal(st.waiting_predictions, 0);
    dw_label_join_free(j);
}

/* A label later than max_delay after its prediction never matches, even
 * while the prediction is still in memory: outcomes depend on event times
 * only, so a window is final once max_delay has passed. */
static void test_late_label_refused(void **state)
{
    (void)state;
    seen s = {0};
    dw_label_join *j = new_join(&s, 1000, 1 << 20);
    pred(j, "y", 0, 3);
    label(j, "y", 1001, 3);
    dw_join_stats st;
    dw_label_join_stats(j, &st);
    assert_int_equal(st.late_labels, 1);
    assert_int_equal(s.n[DW_JOIN_MATCHED], 0);
    /* same when the late label came first */
    label(j, "z", 5000, 4);
    pred(j, "z", 3000, 4);
    dw_label_join_flush(j);
    dw_label_join_stats(j, &st);
    assert_int_equal(st.late_labels, 2);
    assert_int_equal(s.n[DW_JOIN_EXPIRED], 2);
    assert_int_equal(st.orphan_labels, 0);
    dw_label_join_free(j);
}

/* The bound: a million predictions wait, none labelled, under a
 * 16 MiB cap. Memory stays under the cap, the oldest are evicted and
 * counted, every prediction leaves exactly once, and labels of the evicted
 * ones end as orphans while those of the kept ones match. */
static void test_million_waiting_under_cap(void **state)
{
    (void)state;
    const uint32_t n = 1000000;
    const size_t cap = 16u << 20;
    seen s = {0};
    s.emitted = calloc(n, 1);
    dw_label_join *j = new_join(&s, 3600000, cap);
    char key[32];
    for (uint32_t i = 0; i < n; i++) {
        snprintf(key, sizeof key, "req-%u", i);
        dw_join_pred p = {.ts_ms = 1000 + i, .cls = (int32_t)(i % 7), .tag = i};
        dw_label_join_prediction(j, key, strlen(key), &p);
    }
    dw_join_stats st;
    dw_label_join_stats(j, &st);
    assert_true(st.memory_bytes <= cap);
    assert_true(st.prediction_capacity > 100000); /* the budget is used, not wasted */
    assert_int_equal(st.waiting_predictions, st.prediction_capacity);
    assert_int_equal(st.evicted_predictions, n - st.prediction_capacity);
    assert_int_equal(s.n[DW_JOIN_EVICTED], st.evicted_predictions);
    /* labels for the first 1000 (evicted) and the last 1000 (waiting) */
    for (uint32_t i = 0; i < 1000; i++) {
        uint32_t k[2] = {i, n - 1 - i};
        for (int t = 0; t < 2; t++) {
            snprintf(key, sizeof key, "req-%u", k[t]);
            dw_join_label l = {.ts_ms = 2000000, .cls = (int32_t)(k[t] % 7)};
            dw_label_join_label(j, key, strlen(key), &l);
        }
    }
    dw_label_join_stats(j, &st);
    assert_int_equal(st.matched, 1000);
    assert_int_equal(st.waiting_labels, 1000);
    assert_int_equal(s.mismatched, 0);
    dw_label_join_flush(j);
    dw_label_join_stats(j, &st);
    assert_int_equal(st.orphan_labels, 1000);
    assert_int_equal(st.expired, st.prediction_capacity - 1000);
    assert_int_equal(st.matched + st.expired + st.evicted_predictions, n);
    for (uint32_t i = 0; i < n; i++)
        if (s.emitted[i] != 1)
            fail_msg("prediction %u emitted %u times", i, s.emitted[i]);
    assert_true(st.memory_bytes <= cap);
    free(s.emitted);
    dw_label_join_free(j);
}

static void test_early_labels_bounded(void **state)
{
    (void)state;
    seen s = {0};
    dw_label_join *j = new_join(&s, 1000, DW_JOIN_MIN_MEMORY);
    dw_join_stats st;
    dw_label_join_stats(j, &st);
    uint64_t lcap = st.label_capacity;
    assert_true(lcap > 0);
    char key[32];
    for (uint64_t i = 0; i < 3 * lcap; i++) {
        snprintf(key, sizeof key, "orphan-%llu", (unsigned long long)i);
        label(j, key, 0, 1);
    }
    dw_label_join_stats(j, &st);
    assert_int_equal(st.waiting_labels, lcap);
    assert_int_equal(st.evicted_labels, 2 * lcap);
    assert_true(st.memory_bytes <= DW_JOIN_MIN_MEMORY);
    dw_label_join_free(j);
}

/* 200,000 predictions one per ms, labels 0..999 ms later but delivered with
 * a jitter of up to 300 ms either way, so about a tenth arrive before their
 * prediction; the clock follows the slower stream. With memory to spare
 * every prediction must match its own label, whatever the interleaving of
 * inserts, matches and index deletions. */
static void test_interleaved_all_match(void **state)
{
    (void)state;
    const uint32_t n = 200000;
    seen s = {0};
    s.emitted = calloc(n, 1);
    dw_label_join *j = new_join(&s, 1000, 8u << 20);
    rng_state = 7;
    /* arrival time of each event: predictions at ts, labels at ts + delay + jitter */
    typedef struct ev {
        int64_t arrive, ts;
        uint32_t key;
        int is_label;
    } ev;
    ev *evs = malloc(2 * (size_t)n * sizeof *evs);
    for (uint32_t i = 0; i < n; i++) {
        int64_t delay = (int64_t)(rng_u64() % 1000);
        int64_t jitter = (int64_t)(rng_u64() % 601) - 300;
        evs[2 * i] = (ev){i, i, i, 0};
        evs[2 * i + 1] = (ev){i + delay + jitter, i + delay, i, 1};
    }
    /* counting sort by arrival (arrivals lie in [-300, n + 1300)) */
    size_t span = n + 1700, *start = calloc(span + 1, sizeof *start);
    for (size_t k = 0; k < 2 * (size_t)n; k++)
        start[evs[k].arrive + 300 + 1]++;
    for (size_t t = 0; t < span; t++)
        start[t + 1] += start[t];
    ev *order = malloc(2 * (size_t)n * sizeof *order);
    for (size_t k = 0; k < 2 * (size_t)n; k++)
        order[start[evs[k].arrive + 300]++] = evs[k];
    char key[32];
    for (size_t k = 0; k < 2 * (size_t)n; k++) {
        ev e = order[k];
        snprintf(key, sizeof key, "%u", e.key);
        if (e.is_label) {
            dw_join_label l = {.ts_ms = e.ts, .cls = (int32_t)e.key};
            dw_label_join_label(j, key, strlen(key), &l);
        } else {
            dw_join_pred p = {.ts_ms = e.ts, .cls = (int32_t)e.key, .tag = e.key};
            dw_label_join_prediction(j, key, strlen(key), &p);
        }
        /* watermark of the slower stream: labels lag predictions by up to
         * 1300 ms of arrival, so hold the clock that far back */
        dw_label_join_advance(j, e.arrive - 1300);
    }
    dw_label_join_flush(j);
    dw_join_stats st;
    dw_label_join_stats(j, &st);
    assert_int_equal(st.matched, n);
    assert_true(st.matched_early > n / 20);
    assert_int_equal(st.evicted_predictions + st.expired + st.orphan_labels, 0);
    assert_int_equal(s.mismatched, 0);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(s.emitted[i], 1);
    /* delays uniform on 0..999: median about 500 (1 % sketch error plus
     * sampling noise of about 1 %) */
    assert_true(fabs(dw_label_join_delay_quantile(j, 0.5) - 500) < 15);
    assert_true(fabs(dw_label_join_delay_quantile(j, 0.99) - 990) < 20);
    free(order);
    free(start);
    free(evs);
    free(s.emitted);
    dw_label_join_free(j);
}

/* The scenario end to end on the library parts: the join feeds
 * dw_perf counters into the panes of a dw_window (1h sliding by 5m, panes
 * kept open for max_delay), windows are evaluated once final, and an
 * accuracy rule "worse than the reference by more than the margin with 95 %
 * confidence, for 2 evaluations" decides. One prediction per second for
 * 24 h; 95 % get a label 1 to 120 minutes later; the model is right 85 % of
 * the time. With `degrade`, 20 % of the labels between hour 3 and hour 6
 * are flipped (realised accuracy .71). */
enum { SC_SECONDS = 24 * 3600 };
#define SC_MIN 60000LL
#define SC_HOUR (60 * SC_MIN)

typedef struct sc_event {
    int64_t ts;
    uint32_t i;
    uint8_t is_label, correct;
} sc_event;

typedef struct scenario {
    const dw_perf *perf;
    dw_window *win;
    uint64_t late; /* emissions whose pane had closed: must stay 0 */
} scenario;

static void sc_emit(void *ctx, dw_join_outcome o, const dw_join_pred *p, const dw_join_label *l)
{
    scenario *sc = ctx;
    uint64_t *pane = dw_window_pane_for(sc->win, p->ts_ms);
    if (!pane) {
        sc->late++;
        return;
    }
    if (o != DW_JOIN_MATCHED) {
        dw_perf_add_unlabelled(sc->perf, pane);
        return;
    }
    bool correct = l->cls == p->cls;
    dw_perf_obs obs = {
        .predicted_positive = p->cls == 1, .actual_positive = l->cls == 1, .correct = correct};
    dw_perf_add_class(sc->perf, pane, &obs);
}

static int sc_cmp(const void *a, const void *b)
{
    const sc_event *x = a, *y = b;
    if (x->ts != y->ts)
        return (x->ts > y->ts) - (x->ts < y->ts);
    return (int)x->is_label - (int)y->is_label; /* a prediction before a label at the same ms */
}

typedef struct sc_result {
    int evaluations, episodes;
    int64_t first_fire_end, last_resolve_end; /* window ends, -1 when none */
    uint64_t mismatched_counts;
    double min_coverage;
} sc_result;

static void run_scenario(uint64_t seed, bool degrade, sc_result *res)
{
    const int64_t max_delay = 2 * SC_HOUR, slide = 5 * SC_MIN, length = SC_HOUR;
    const double reference = 0.85, margin = 0.03;
    dw_perf_spec spec = {.kind = DW_PERF_CLASSIFICATION, .score_bins = 1, .ece_bins = 1};
    dw_perf *perf = dw_perf_new(&spec, NULL, 0);
    scenario sc = {perf, dw_window_new(length, slide, max_delay + slide, dw_perf_width(perf)), 0};
    dw_label_join *j = new_join_ctx(sc_emit, &sc, max_delay, 64u << 20);

    /* the ground truth per second, to recount every final window directly */
    uint8_t *labelled = calloc(SC_SECONDS, 1), *right = calloc(SC_SECONDS, 1);
    sc_event *ev = malloc(2 * (size_t)SC_SECONDS * sizeof *ev);
    size_t m = 0;
    rng_state = seed;
    for (uint32_t i = 0; i < SC_SECONDS; i++) {
        int64_t ts = (int64_t)i * 1000 + 500;
        bool correct = uniform() < 0.85;
        if (degrade && ts >= 3 * SC_HOUR && ts < 6 * SC_HOUR && uniform() < 0.2)
            correct = !correct;
        ev[m++] = (sc_event){ts, i, 0, 0};
        if (uniform() < 0.95) {
            int64_t delay = SC_MIN + (int64_t)(uniform() * (double)(119 * SC_MIN));
            ev[m++] = (sc_event){ts + delay, i, 1, correct};
            labelled[i] = 1;
            right[i] = correct;
        }
    }
    qsort(ev, m, sizeof *ev, sc_cmp);

    *res = (sc_result){.first_fire_end = -1, .last_resolve_end = -1, .min_coverage = 1.0};
    bool firing = false;
    int worse_run = 0, ok_run = 0;
    char key[16];
    for (size_t k = 0; k < m; k++) {
        const sc_event *e = &ev[k];
        dw_label_join_advance(j, e->ts);
        while (dw_window_next_end(sc.win) != INT64_MIN &&
               dw_window_next_end(sc.win) + max_delay < e->ts) {
            int64_t end = dw_window_close_next(sc.win);
            if (dw_window_filled(sc.win) * (size_t)slide < (size_t)length)
                continue;
            /* final: every label that can still match would be too late */
            dw_perf_result r;
            dw_perf_compute(perf, dw_window_sum(sc.win), 0.95, &r);
            res->evaluations++;
            uint64_t n = 0, correct = 0, total = 0;
            for (int64_t s = (end - length) / 1000; s < end / 1000; s++) {
                total++;
                n += labelled[s];
                correct += labelled[s] && right[s];
            }
            if (r.n != n || r.correct != correct || r.n + r.unlabelled != total)
                res->mismatched_counts++;
            if (r.coverage < res->min_coverage)
                res->min_coverage = r.coverage;
            bool worse = dw_perf_worse(DW_PERF_ACCURACY, &r.m[DW_PERF_ACCURACY], reference, margin);
            worse_run = worse ? worse_run + 1 : 0;
            ok_run = worse ? 0 : ok_run + 1;
            if (!firing && worse_run >= 2) {
                firing = true;
                res->episodes++;
                if (res->first_fire_end < 0)
                    res->first_fire_end = end;
            } else if (firing && ok_run >= 2) {
                firing = false;
                res->last_resolve_end = end;
            }
        }
        snprintf(key, sizeof key, "r%u", e->i);
        if (e->is_label) {
            /* the label class: the prediction's class when correct, else the other */
            dw_join_label l = {.ts_ms = e->ts,
                               .cls = e->correct ? (int32_t)(e->i & 1) : (int32_t) !(e->i & 1)};
            dw_label_join_label(j, key, strlen(key), &l);
        } else {
            dw_join_pred p = {.ts_ms = e->ts, .cls = (int32_t)(e->i & 1)};
            dw_label_join_prediction(j, key, strlen(key), &p);
        }
    }
    assert_int_equal(sc.late, 0);
    dw_join_stats st;
    dw_label_join_stats(j, &st);
    assert_int_equal(st.evicted_predictions, 0);
    free(ev);
    free(labelled);
    free(right);
    dw_label_join_free(j);
    dw_window_free(sc.win);
    dw_perf_free(perf);
}

static void test_scenario_no_degradation_no_alert(void **state)
{
    (void)state;
    sc_result r;
    run_scenario(11, false, &r);
    /* windows ending from 1h to 24h - 2h (the last 2h are not final yet) */
    assert_true(r.evaluations >= 250);
    assert_int_equal(r.mismatched_counts, 0);
    assert_int_equal(r.episodes, 0);
    assert_true(r.min_coverage > 0.93);
}

static void test_scenario_degradation_fires_and_resolves(void **state)
{
    (void)state;
    sc_result r;
    run_scenario(12, true, &r);
    assert_int_equal(r.mismatched_counts, 0);
    assert_int_equal(r.episodes, 1);
    /* fires on a window ending within one window length of the start of
     * the degradation (it is evaluated max_delay later, when final) */
    assert_true(r.first_fire_end > 3 * SC_HOUR);
    assert_true(r.first_fire_end <= 4 * SC_HOUR);
    /* resolves once the windows no longer hold degraded hours */
    assert_true(r.last_resolve_end > 6 * SC_HOUR);
    assert_true(r.last_resolve_end <= 7 * SC_HOUR + 2 * 5 * SC_MIN);
}

static void test_config_errors(void **state)
{
    (void)state;
    char err[256];
    seen s = {0};
    dw_join_config c = {.max_delay_ms = 0, .memory_bytes = 1 << 20};
    assert_null(dw_label_join_new(&c, on_emit, &s, err, sizeof err));
    assert_non_null(strstr(err, "max_delay"));
    c = (dw_join_config){.max_delay_ms = 10, .memory_bytes = 1000};
    assert_null(dw_label_join_new(&c, on_emit, &s, err, sizeof err));
    assert_non_null(strstr(err, "memory"));
    c = (dw_join_config){.max_delay_ms = 10, .memory_bytes = 1 << 20, .early_share = 0.9};
    assert_null(dw_label_join_new(&c, on_emit, &s, err, sizeof err));
    c.early_share = 0;
    assert_null(dw_label_join_new(&c, NULL, &s, err, sizeof err));
    dw_label_join_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prediction_then_label),
        cmocka_unit_test(test_label_first_and_duplicates),
        cmocka_unit_test(test_expiry_is_exact_in_event_time),
        cmocka_unit_test(test_late_label_refused),
        cmocka_unit_test(test_future_prediction_does_not_block),
        cmocka_unit_test(test_million_waiting_under_cap),
        cmocka_unit_test(test_early_labels_bounded),
        cmocka_unit_test(test_interleaved_all_match),
        cmocka_unit_test(test_scenario_no_degradation_no_alert),
        cmocka_unit_test(test_scenario_degradation_fires_and_resolves),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

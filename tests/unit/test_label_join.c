#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_rng.h"
#include "driftwatch/label_join.h"

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

static dw_label_join *new_join(seen *s, int64_t max_delay, size_t mem)
{
    char err[256];
    dw_join_config cfg = {.max_delay_ms = max_delay, .memory_bytes = mem};
    dw_label_join *j = dw_label_join_new(&cfg, on_emit, s, err, sizeof err);
    if (!j)
        fail_msg("%s", err);
    return j;
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
        cmocka_unit_test(test_million_waiting_under_cap),
        cmocka_unit_test(test_early_labels_bounded),
        cmocka_unit_test(test_interleaved_all_match),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

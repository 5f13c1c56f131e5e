/* Throughput of the label join and of the performance counters.
 *
 * A synthetic stream: predictions at 1,000 per second of event time, keys
 * "r-<n>", 90 % of them labelled 1 to 600 s later (10 % never), labels
 * delivered in event-time order next to the predictions; the clock follows
 * the label stream. max_delay 900 s, memory cap 128 MiB. Each matched pair
 * is counted into a dw_perf pane (1000-bin AUC histogram) and every
 * prediction into a dw_cbpe pane, as the engine would.
 *
 * Usage: bench_label_join [predictions]   (default 2,000,000; best of
 * REPEAT passes). Prints events per second (predictions + labels) for the
 * join alone and with the counters, and the join's memory. */
#include "driftwatch/cbpe.h"
#include "driftwatch/error.h"
#include "driftwatch/label_join.h"
#include "driftwatch/perf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPEAT 3

static uint64_t rng = 42;

static uint64_t next_u64(void)
{
    /* splitmix64 */
    uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct ev {
    int64_t ts;
    uint32_t key;
    float score;
    uint8_t is_label, y;
} ev;

typedef struct sink {
    const dw_perf *perf;
    uint64_t *pane;
    int count;
} sink;

static void on_emit(void *ctx, dw_join_outcome o, const dw_join_pred *p, const dw_join_label *l)
{
    sink *s = ctx;
    if (!s->count)
        return;
    if (o != DW_JOIN_MATCHED) {
        dw_perf_add_unlabelled(s->perf, s->pane);
        return;
    }
    bool pred = p->score >= 0.5, y = l->cls == 1;
    dw_perf_obs obs = {.predicted_positive = pred,
                       .actual_positive = y,
                       .correct = pred == y,
                       .has_score = true,
                       .score = p->score};
    dw_perf_add_class(s->perf, s->pane, &obs);
}

static int cmp_ev(const void *a, const void *b)
{
    const ev *x = a, *y = b;
    return (x->ts > y->ts) - (x->ts < y->ts);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000000;
    ev *evs = dw_malloc(2 * n * sizeof *evs);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        float score = (float)(next_u64() >> 11) * 0x1.0p-53f;
        uint8_t y = (float)(next_u64() >> 11) * 0x1.0p-53f < score;
        int64_t ts = (int64_t)i; /* 1 ms apart: 1,000 per second */
        evs[m++] = (ev){ts, (uint32_t)i, score, 0, y};
        if (next_u64() % 10 != 0)
            evs[m++] = (ev){ts + 1000 + (int64_t)(next_u64() % 599001), (uint32_t)i, score, 1, y};
    }
    qsort(evs, m, sizeof *evs, cmp_ev);

    dw_perf_spec spec = {.kind = DW_PERF_CLASSIFICATION};
    dw_perf *perf = dw_perf_new(&spec, NULL, 0);
    dw_cbpe *cbpe = dw_cbpe_new(0, NULL, 0);
    uint64_t *pane = dw_calloc(dw_perf_width(perf), sizeof *pane);
    uint64_t *epane = dw_calloc(dw_cbpe_width(cbpe), sizeof *epane);
    dw_join_config cfg = {.max_delay_ms = 900000, .memory_bytes = 128u << 20};
    double best[2] = {1e30, 1e30};
    dw_join_stats st = {0};
    for (int with_counters = 0; with_counters < 2; with_counters++) {
        for (int r = 0; r < REPEAT; r++) {
            sink s = {perf, pane, with_counters};
            char err[256], key[32];
            dw_label_join *j = dw_label_join_new(&cfg, on_emit, &s, err, sizeof err);
            if (!j) {
                fprintf(stderr, "%s\n", err);
                return 1;
            }
            double t0 = now_s();
            for (size_t k = 0; k < m; k++) {
                const ev *e = &evs[k];
                int len = snprintf(key, sizeof key, "r-%u", e->key);
                if (e->is_label) {
                    dw_join_label l = {.ts_ms = e->ts, .cls = e->y};
                    dw_label_join_label(j, key, (size_t)len, &l);
                } else {
                    dw_join_pred p = {.ts_ms = e->ts, .score = e->score, .cls = e->score >= 0.5f};
                    dw_label_join_prediction(j, key, (size_t)len, &p);
                    if (with_counters)
                        dw_cbpe_add(cbpe, epane, e->score, e->score >= 0.5f);
                }
                if ((k & 1023) == 0)
                    dw_label_join_advance(j, e->ts - 1000);
            }
            dw_label_join_flush(j);
            double dt = now_s() - t0;
            if (dt < best[with_counters])
                best[with_counters] = dt;
            dw_label_join_stats(j, &st);
            dw_label_join_free(j);
        }
    }
    dw_perf_result res;
    dw_perf_compute(perf, pane, 0.95, &res);
    printf("events: %zu (%zu predictions, %zu labels), matched %llu, expired %llu, evicted %llu\n",
           m, n, m - n, (unsigned long long)st.matched, (unsigned long long)st.expired,
           (unsigned long long)st.evicted_predictions);
    printf("join memory: %.1f MiB of a %.0f MiB cap, %llu prediction slots\n",
           (double)st.memory_bytes / 1048576.0, (double)cfg.memory_bytes / 1048576.0,
           (unsigned long long)st.prediction_capacity);
    printf("join only:          %.0f events/s (%.1f ns/event, key formatting included)\n",
           (double)m / best[0], best[0] * 1e9 / (double)m);
    printf("join + perf + cbpe: %.0f events/s (%.1f ns/event)\n", (double)m / best[1],
           best[1] * 1e9 / (double)m);
    printf("(accuracy of the synthetic model: %.4f, AUC %.4f)\n", res.m[DW_PERF_ACCURACY].value,
           res.m[DW_PERF_AUC].value);
    free(evs);
    free(pane);
    free(epane);
    dw_perf_free(perf);
    dw_cbpe_free(cbpe);
    return 0;
}

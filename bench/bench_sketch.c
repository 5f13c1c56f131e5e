/* Cost of the canary building blocks on the paths the engine will run.
 *
 *   per record:     dw_sketch_layout_slot() + one counter increment (the
 *                   latency field in a pane), and dw_sketch_add() for
 *                   comparison;
 *   per evaluation: p50/p90/p99 of a window with dw_sketch_layout_quantile();
 *                   dw_compare_column_evaluate() of a 1000-bin numeric
 *                   column and dw_compare_decide() over 20 columns.
 *
 * Latencies are lognormal (median 20 ms). Usage: bench_sketch [values]
 * (default 10,000,000; best of REPEAT passes). */
#include "driftwatch/compare.h"
#include "driftwatch/error.h"
#include "driftwatch/sketch.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPEAT 3
#define NB 1000
#define NCOLS 20

static uint64_t rng = 7;

static double uniform01(void)
{
    /* splitmix64 */
    uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

static double normal(void)
{
    return sqrt(-2.0 * log(1.0 - uniform01())) * cos(2.0 * M_PI * uniform01());
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 10000000;
    if (n == 0)
        n = 1;
    double *x = dw_malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = exp(log(20.0) + 0.8 * normal());

    dw_sketch_layout l;
    char err[256];
    if (dw_sketch_layout_init(&l, DW_SKETCH_DEFAULT_ALPHA, DW_SKETCH_DEFAULT_MIN_MS,
                              DW_SKETCH_DEFAULT_MAX_MS, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    uint64_t *pane = dw_calloc(dw_sketch_layout_width(&l), sizeof *pane);
    double best_slot = 1e9, best_add = 1e9, best_q = 1e9, best_cmp = 1e9;
    for (int r = 0; r < REPEAT; r++) {
        memset(pane, 0, dw_sketch_layout_width(&l) * sizeof *pane);
        double t0 = now_s();
        for (size_t i = 0; i < n; i++)
            pane[dw_sketch_layout_slot(&l, x[i])]++;
        double t = now_s() - t0;
        best_slot = t < best_slot ? t : best_slot;

        dw_sketch *s;
        dw_sketch_new(DW_SKETCH_DEFAULT_ALPHA, DW_SKETCH_DEFAULT_MAX_BUCKETS, &s, NULL, 0);
        t0 = now_s();
        for (size_t i = 0; i < n; i++)
            dw_sketch_add(s, x[i]);
        t = now_s() - t0;
        best_add = t < best_add ? t : best_add;
        dw_sketch_free(s);

        const double qs[3] = {0.5, 0.9, 0.99};
        double v, sink = 0;
        t0 = now_s();
        for (int k = 0; k < 10000; k++)
            for (int j = 0; j < 3; j++) {
                dw_sketch_layout_quantile(&l, pane, qs[j], &v);
                sink += v;
            }
        t = (now_s() - t0) / 10000;
        best_q = t < best_q ? t : best_q;
        if (sink < 0)
            printf("%g\n", sink);
    }

    /* Comparison: 20 numeric columns of 1000 fine bins, 50,000 values a side. */
    static double edges[NB + 1];
    for (int i = 0; i <= NB; i++)
        edges[i] = -5.0 + 10.0 * i / NB;
    dw_ref_column col = {.name = "c", .type = DW_COL_NUMERIC, .nbins = NB, .edges = edges};
    uint64_t *a = dw_calloc(NB + 2, sizeof *a), *b = dw_calloc(NB + 2, sizeof *b);
    for (int i = 0; i < 50000; i++) {
        a[1 + (size_t)(NB * uniform01())]++;
        b[1 + (size_t)(NB * uniform01())]++;
    }
    dw_sample sa = {.ref = &col, .bins = a}, sb = {.ref = &col, .bins = b};
    dw_compare_column cols[NCOLS];
    dw_thresholds th;
    dw_thresholds_default(&th);
    for (int r = 0; r < REPEAT; r++) {
        double t0 = now_s();
        for (int k = 0; k < 1000; k++) {
            for (int c = 0; c < NCOLS; c++)
                dw_compare_column_evaluate(&sa, &sb, &cols[c]);
            dw_compare_decide(cols, NCOLS, &th, 0, NULL);
        }
        double t = (now_s() - t0) / 1000;
        best_cmp = t < best_cmp ? t : best_cmp;
    }

    printf("values: %zu lognormal latencies, layout %zu counters (%zu bytes per pane)\n", n,
           dw_sketch_layout_width(&l), dw_sketch_layout_width(&l) * sizeof(uint64_t));
    printf("layout slot + increment: %.1f M values/s (%.1f ns each)\n", n / best_slot / 1e6,
           best_slot / n * 1e9);
    printf("dw_sketch_add:           %.1f M values/s (%.1f ns each)\n", n / best_add / 1e6,
           best_add / n * 1e9);
    printf("p50+p90+p99 of a window: %.1f us\n", best_q * 1e6);
    printf("compare %d numeric columns (1000 bins) + decide: %.1f us\n", NCOLS, best_cmp * 1e6);
    free(x);
    free(pane);
    free(a);
    free(b);
    return 0;
}

/* Record scanner throughput against jansson's DOM parse on the benchmark
 * record of docs/DESIGN (about 440 bytes: ts, model, model_version,
 * request_id, 16 numeric features f0..f15 with 4 decimals, 4 categorical
 * c0..c3 country codes, prediction.score, latency_ms).
 *
 * Usage: bench_scanner [records]   (default 200000; records are generated in
 * memory with a fixed seed, then scanned REPEAT times, best pass reported). */
#include "driftwatch/scanner.h"
#include "driftwatch/error.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPEAT 5

static uint64_t rng = 42;

static double uniform(void)
{
    /* splitmix64 */
    uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

static double normal(void)
{
    /* Irwin-Hall approximation: plenty for benchmark data. */
    double s = 0;
    for (int i = 0; i < 12; i++)
        s += uniform();
    return s - 6.0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const countries[8] = {"DE", "FR", "US", "JP", "BR", "IN", "GB", "ES"};

/* Writes one record into p (room for 1024 bytes); returns its length. */
static size_t gen_record(char *p, size_t i)
{
    int n = snprintf(p, 1024,
                     "{\"ts\": %lld, \"model\": \"fraud\", \"model_version\": \"v3\", "
                     "\"request_id\": \"r-%zu\", \"features\": {",
                     1795500000000LL + (long long)i * 7, i);
    for (int f = 0; f < 16; f++)
        n += snprintf(p + n, (size_t)(1024 - n), "\"f%d\": %.4f, ", f, normal());
    for (int c = 0; c < 4; c++)
        n += snprintf(p + n, (size_t)(1024 - n), "\"c%d\": \"%s\"%s", c,
                      countries[(int)(uniform() * 8)], c < 3 ? ", " : "");
    n += snprintf(p + n, (size_t)(1024 - n),
                  "}, \"prediction\": {\"score\": %.4f}, \"latency_ms\": %.1f}", uniform(),
                  5 + 20 * uniform());
    return (size_t)n;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
    if (n == 0) {
        fprintf(stderr, "usage: bench_scanner [records>0]\n");
        return 2;
    }
    char *data = dw_malloc(n * 1024);
    size_t *off = dw_malloc((n + 1) * sizeof *off);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        off[i] = total;
        total += gen_record(data + total, i);
    }
    off[n] = total;
    printf("records: %zu, average %.0f bytes\n", n, (double)total / (double)n);

    /* The scanner, plus what the hot path does next: find the 22 monitored
     * values (summing them keeps the compiler from dropping the work). */
    dw_scan_field fields[DW_SCAN_DEFAULT_FIELDS];
    double best = 1e30, sink = 0;
    size_t leaves = 0;
    for (int r = 0; r < REPEAT; r++) {
        double t0 = now_s();
        leaves = 0;
        for (size_t i = 0; i < n; i++) {
            dw_scanner s;
            dw_scan_init(&s, data + off[i], off[i + 1] - off[i]);
            dw_scan_record rec = {.fields = fields, .cap = DW_SCAN_DEFAULT_FIELDS};
            if (dw_scan_next(&s, &rec) != 1 || dw_scan_next(&s, &rec) != 0) {
                fprintf(stderr, "record %zu rejected\n", i);
                return 1;
            }
            leaves += rec.nfields;
            for (size_t k = 0; k < rec.nfields; k++)
                if (rec.fields[k].kind == DW_SCAN_NUMBER)
                    sink += rec.fields[k].num;
        }
        double dt = now_s() - t0;
        if (dt < best)
            best = dt;
    }
    printf("scanner: %10.0f records/s %8.1f MB/s (%zu leaves/record)\n", (double)n / best,
           (double)total / best / 1e6, leaves / n);

    /* jansson's DOM parse of the same records (fewer passes: it is slower). */
    double jbest = 1e30;
    for (int r = 0; r < 2; r++) {
        double t0 = now_s();
        for (size_t i = 0; i < n; i++) {
            json_error_t e;
            json_t *j = json_loadb(data + off[i], off[i + 1] - off[i], 0, &e);
            if (!j) {
                fprintf(stderr, "jansson rejects record %zu: %s\n", i, e.text);
                return 1;
            }
            sink += json_real_value(json_object_get(j, "latency_ms"));
            json_decref(j);
        }
        double dt = now_s() - t0;
        if (dt < jbest)
            jbest = dt;
    }
    printf("jansson: %10.0f records/s %8.1f MB/s\n", (double)n / jbest,
           (double)total / jbest / 1e6);
    printf("speedup: %.1fx (checksum %.3f)\n", jbest / best, sink);
    free(data);
    free(off);
    return 0;
}

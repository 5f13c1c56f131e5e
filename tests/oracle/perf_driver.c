/* Test driver for the performance oracle (test_perf_oracle.py): reads
 * whitespace-separated commands on stdin and prints one result line per
 * command with %.17g, so Python can compare with scikit-learn and numpy.
 *
 * Every command describes one window as panes: its records carry a pane
 * number, pane 0 is the pane that has just expired. The driver counts each
 * pane separately, merges all of them and subtracts pane 0 again, so what
 * it reports went through the same add/subtract path as a sliding window.
 *
 *   class B E N  (pane score actual predicted) x N
 *       score "nan" = no score; actual/predicted 0/1 (positive class = 1)
 *       -> n tp fp fn tn scored auc_bound, then value lo hi of accuracy
 *          precision recall f1 auc brier ece
 *   reg N  (pane predicted actual) x N
 *       -> n rejected, then value lo hi of mae rmse bias
 *   cbpe B N  (pane score predicted) x N
 *       -> n, then value lo hi of accuracy, value of precision recall f1 auc
 *   table KIND PATH LABEL PREDICTED SCORE POSITIVE THRESHOLD
 *       reference performance of a CSV/JSONL file (dw_perf_count_table,
 *       "-" = column not set, KIND class|reg, 1000 score bins, 10 ECE bins)
 *       -> skipped, then the line of "class" or "reg" above
 *
 * A malformed input exits with 2. Intervals are at 95 %. */
#include "driftwatch/cbpe.h"
#include "driftwatch/error.h"
#include "driftwatch/perf.h"
#include "driftwatch/perf_reference.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DRIVER_NAME "perf_driver"
#include "driver_io.h"

#define MAX_RECORDS 10000000UL
#define MAX_PANES 64
#define CONFIDENCE 0.95

/* Panes of width counters each, and the merged window. */
typedef struct panes {
    size_t width;
    uint64_t *pane[MAX_PANES];
    uint64_t *sum;
} panes;

/* Sets up the panes of one command; returns its record count, read next. */
static size_t panes_init(panes *p, size_t width)
{
    p->width = width;
    for (int i = 0; i < MAX_PANES; i++)
        p->pane[i] = dw_calloc(width, sizeof(uint64_t));
    p->sum = dw_calloc(width, sizeof(uint64_t));
    return read_count_max(MAX_RECORDS);
}

/* The pane a record goes to, read from its first field. */
static uint64_t *next_pane(const panes *p)
{
    return p->pane[read_count_max(MAX_PANES - 1)];
}

/* sum = all panes - pane 0 */
static void panes_window(panes *p)
{
    for (int i = 0; i < MAX_PANES; i++)
        for (size_t k = 0; k < p->width; k++)
            p->sum[k] += p->pane[i][k];
    for (size_t k = 0; k < p->width; k++)
        p->sum[k] -= p->pane[0][k];
}

static void panes_free(panes *p)
{
    for (int i = 0; i < MAX_PANES; i++)
        free(p->pane[i]);
    free(p->sum);
}

static void print_value(const dw_perf_value *v)
{
    printf(" %.17g %.17g %.17g", v->value, v->lo, v->hi);
}

/* The result line of "class" or "reg" for counters c. */
static void print_result(const dw_perf *perf, const uint64_t *c)
{
    dw_perf_result r;
    if (dw_perf_compute(perf, c, CONFIDENCE, &r) != 0)
        die("compute");
    if (r.kind == DW_PERF_CLASSIFICATION) {
        printf("%llu %llu %llu %llu %llu %llu %.17g", (unsigned long long)r.n,
               (unsigned long long)r.tp, (unsigned long long)r.fp, (unsigned long long)r.fn,
               (unsigned long long)r.tn, (unsigned long long)r.scored, r.auc_bound);
        for (int m = DW_PERF_ACCURACY; m <= DW_PERF_ECE; m++)
            print_value(&r.m[m]);
    } else {
        printf("%llu %llu", (unsigned long long)r.n, (unsigned long long)r.rejected);
        for (int m = DW_PERF_MAE; m <= DW_PERF_BIAS; m++)
            print_value(&r.m[m]);
    }
    printf("\n");
}

/* "class" and "reg": one window of classification or regression records
 * (a classification window starts with its score and ECE bin counts). */
static void cmd_perf(dw_perf_kind kind)
{
    dw_perf_spec spec = {.kind = kind};
    if (kind == DW_PERF_CLASSIFICATION) {
        spec.score_bins = (uint32_t)read_count_max(DW_PERF_MAX_BINS);
        spec.ece_bins = (uint32_t)read_count_max(DW_PERF_MAX_BINS);
    }
    char err[256];
    dw_perf *perf = dw_perf_new(&spec, err, sizeof err);
    if (!perf)
        die(err);
    panes p;
    size_t n = panes_init(&p, dw_perf_width(perf));
    for (size_t i = 0; i < n; i++) {
        uint64_t *pane = next_pane(&p);
        if (kind == DW_PERF_REGRESSION) {
            double predicted = read_double(), actual = read_double();
            dw_perf_add_reg(perf, pane, predicted, actual);
            continue;
        }
        double score = read_double();
        int actual = (int)read_count_max(1), predicted = (int)read_count_max(1);
        dw_perf_obs o = {.predicted_positive = predicted,
                         .actual_positive = actual,
                         .correct = predicted == actual,
                         .has_score = score == score,
                         .score = score};
        dw_perf_add_class(perf, pane, &o);
    }
    panes_window(&p);
    print_result(perf, p.sum);
    panes_free(&p);
    dw_perf_free(perf);
}

static void cmd_cbpe(void)
{
    char err[256];
    dw_cbpe *e = dw_cbpe_new((uint32_t)read_count_max(DW_PERF_MAX_BINS), err, sizeof err);
    if (!e)
        die(err);
    panes p;
    size_t n = panes_init(&p, dw_cbpe_width(e));
    for (size_t i = 0; i < n; i++) {
        uint64_t *pane = next_pane(&p);
        double score = read_double();
        int predicted = (int)read_count_max(1);
        dw_cbpe_add(e, pane, score, predicted);
    }
    panes_window(&p);
    dw_cbpe_result r;
    if (dw_cbpe_compute(e, p.sum, CONFIDENCE, &r) != 0)
        die("compute");
    printf("%llu", (unsigned long long)r.n);
    print_value(&r.accuracy);
    printf(" %.17g %.17g %.17g %.17g\n", r.precision.value, r.recall.value, r.f1.value,
           r.auc.value);
    panes_free(&p);
    dw_cbpe_free(e);
}

/* Reads a word into buf; returns NULL for "-" (not set). */
static const char *read_word(char buf[256])
{
    if (scanf("%255s", buf) != 1)
        die("missing word");
    return strcmp(buf, "-") == 0 ? NULL : buf;
}

static void cmd_table(void)
{
    char kind[256], path[256], label[256], predicted[256], score[256], positive[256];
    read_word(kind);
    dw_perf_spec spec = {.kind = strcmp(kind, "reg") == 0 ? DW_PERF_REGRESSION
                                                          : DW_PERF_CLASSIFICATION};
    dw_perf_columns cols = {0};
    read_word(path);
    cols.label = read_word(label);
    cols.predicted = read_word(predicted);
    cols.score = read_word(score);
    cols.positive = read_word(positive);
    cols.threshold = read_double();
    char err[512];
    dw_perf *perf = dw_perf_new(&spec, err, sizeof err);
    dw_table *t = NULL;
    if (!perf || dw_table_open(path, DW_TABLE_AUTO, &t, err, sizeof err) != 0)
        die(err);
    uint64_t *c = dw_calloc(dw_perf_width(perf), sizeof *c), skipped = 0;
    if (dw_perf_count_table(perf, &cols, t, c, &skipped, err, sizeof err) != 0)
        die(err);
    printf("%llu ", (unsigned long long)skipped);
    print_result(perf, c);
    free(c);
    dw_table_free(t);
    dw_perf_free(perf);
}

static void cmd_class(void)
{
    cmd_perf(DW_PERF_CLASSIFICATION);
}

static void cmd_reg(void)
{
    cmd_perf(DW_PERF_REGRESSION);
}

int main(void)
{
    static const driver_command cmds[] = {
        {"class", cmd_class}, {"reg", cmd_reg}, {"cbpe", cmd_cbpe}, {"table", cmd_table}};
    return run_commands(cmds, sizeof cmds / sizeof cmds[0]);
}

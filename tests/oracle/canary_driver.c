/* Test driver for the canary oracle (test_canary_oracle.py): reads
 * whitespace-separated commands on stdin and prints one result line per
 * command (several for sketchpanes) with %.17g.
 *
 *   sketch ALPHA BUCKETS N x1..xN NQ q1..qNQ
 *       -> NQ quantiles ("empty" when N is 0); invalid values are refused
 *          by dw_sketch_add and not counted
 *   sketchpanes ALPHA BUCKETS P {N x1..xN}*P WIN NQ q1..qNQ
 *       -> after closing each pane p (merge p, subtract p - WIN): the NQ
 *          quantiles of the window's running sum
 *   layout ALPHA MIN MAX N x1..xN NQ q1..qNQ
 *       -> NQ quantiles of the values counted in a fixed layout ("empty"
 *          when nothing was counted; refused values are not counted)
 *   cmpnum K a1..aK b1..bK
 *       -> D p_value n_eff psi    (counters: under, K - 2 bins, over)
 *   cmpcat NCAT a1..aNCAT b1..bNCAT NA {name count}*NA OVA NB {name count}*NB OVB
 *       -> chi2 p_value df psi n_baseline n_candidate
 *
 * A malformed input exits with 2. */
#include "driftwatch/compare.h"
#include "driftwatch/error.h"
#include "driftwatch/sketch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DRIVER_NAME "canary_driver"
#include "driver_io.h"

static dw_sketch *read_sketch_settings(void)
{
    double alpha = read_double();
    size_t buckets = read_size();
    dw_sketch *s;
    char err[256];
    if (dw_sketch_new(alpha, buckets, &s, err, sizeof err) != 0)
        die(err);
    return s;
}

static void read_values_into(dw_sketch *s)
{
    size_t n = read_size();
    for (size_t i = 0; i < n; i++)
        (void)dw_sketch_add(s, read_double());
}

static double *read_quantiles(size_t *nq)
{
    *nq = read_size();
    double *q = dw_malloc((*nq ? *nq : 1) * sizeof *q);
    for (size_t i = 0; i < *nq; i++)
        q[i] = read_double();
    return q;
}

static void print_quantiles(const dw_sketch *s, const double *q, size_t nq)
{
    if (dw_sketch_count(s) == 0) {
        printf("empty\n");
        return;
    }
    for (size_t i = 0; i < nq; i++) {
        double v;
        if (dw_sketch_quantile(s, q[i], &v) != 0)
            die("quantile");
        printf(i ? " %.17g" : "%.17g", v);
    }
    printf("\n");
}

static void cmd_sketch(void)
{
    dw_sketch *s = read_sketch_settings();
    read_values_into(s);
    size_t nq;
    double *q = read_quantiles(&nq);
    print_quantiles(s, q, nq);
    free(q);
    dw_sketch_free(s);
}

static void cmd_sketchpanes(void)
{
    dw_sketch *sum = read_sketch_settings();
    size_t np = read_size();
    dw_sketch **pane = dw_calloc(np ? np : 1, sizeof *pane);
    for (size_t p = 0; p < np; p++) {
        if (dw_sketch_new(dw_sketch_alpha(sum), dw_sketch_max_buckets(sum), &pane[p], NULL, 0))
            die("sketch");
        read_values_into(pane[p]);
    }
    size_t win = read_size(), nq;
    double *q = read_quantiles(&nq);
    for (size_t p = 0; p < np; p++) {
        if (dw_sketch_merge(sum, pane[p]) != 0)
            die("merge");
        if (p >= win && dw_sketch_subtract(sum, pane[p - win]) != 0)
            die("subtract");
        print_quantiles(sum, q, nq);
    }
    for (size_t p = 0; p < np; p++)
        dw_sketch_free(pane[p]);
    free(pane);
    free(q);
    dw_sketch_free(sum);
}

static void cmd_layout(void)
{
    double alpha = read_double(), lo = read_double(), hi = read_double();
    dw_sketch_layout l;
    char err[256];
    if (dw_sketch_layout_init(&l, alpha, lo, hi, err, sizeof err) != 0)
        die(err);
    uint64_t *c = dw_calloc(dw_sketch_layout_width(&l), sizeof *c);
    size_t n = read_size();
    for (size_t i = 0; i < n; i++) {
        long slot = dw_sketch_layout_slot(&l, read_double());
        if (slot >= 0)
            c[slot]++;
    }
    size_t nq;
    double *q = read_quantiles(&nq);
    for (size_t i = 0; i < nq; i++) {
        double v;
        int rc = dw_sketch_layout_quantile(&l, c, q[i], &v);
        if (rc == DW_ERR_EMPTY) {
            printf("empty");
            break;
        }
        if (rc != 0)
            die("quantile");
        printf(i ? " %.17g" : "%.17g", v);
    }
    printf("\n");
    free(q);
    free(c);
}

static void cmd_cmpnum(void)
{
    size_t k = read_size();
    if (k < 3 || k > DW_MAX_BINS + 2)
        die("counters");
    uint64_t *a = read_counts(k), *b = read_counts(k);
    /* Only the layout matters to the comparison: k - 2 bins on any edges. */
    dw_ref_column col;
    memset(&col, 0, sizeof col);
    col.type = DW_COL_NUMERIC;
    col.nbins = k - 2;
    col.edges = dw_malloc((k - 1) * sizeof *col.edges);
    for (size_t i = 0; i < k - 1; i++)
        col.edges[i] = (double)i;
    dw_sample sa = {.ref = &col, .bins = a}, sb = {.ref = &col, .bins = b};
    dw_compare_column c;
    (void)dw_compare_column_evaluate(&sa, &sb, &c);
    printf("%.17g %.17g %.17g %.17g\n", c.r.ks.statistic, c.r.ks.p_value, c.r.ks.n_eff, c.r.psi);
    free(col.edges);
    free(a);
    free(b);
}

/* Reads "N {name count}*N OVERFLOW" into s (names owned by *names). */
static void read_unseen(dw_sample *s, char ***names, uint64_t **counts)
{
    size_t n = read_size();
    *names = dw_calloc(n ? n : 1, sizeof **names);
    *counts = dw_calloc(n ? n : 1, sizeof **counts);
    for (size_t i = 0; i < n; i++) {
        char tok[DW_MAX_NAME];
        if (scanf("%255s", tok) != 1)
            die("missing name");
        (*names)[i] = dw_strdup(tok);
        (*counts)[i] = read_u64();
    }
    s->nnew = n;
    s->new_names = (const char *const *)*names;
    s->new_counts = *counts;
    s->new_overflow = read_u64();
}

static void cmd_cmpcat(void)
{
    dw_ref_column col;
    memset(&col, 0, sizeof col);
    col.type = DW_COL_CATEGORICAL;
    col.ncat = read_size();
    col.categories = dw_calloc(col.ncat ? col.ncat : 1, sizeof *col.categories);
    for (size_t i = 0; i < col.ncat; i++) {
        char name[32];
        snprintf(name, sizeof name, "cat%zu", i);
        col.categories[i] = dw_strdup(name);
    }
    uint64_t *a = read_counts(col.ncat), *b = read_counts(col.ncat);
    dw_sample sa = {.ref = &col, .bins = a}, sb = {.ref = &col, .bins = b};
    char **na, **nb;
    uint64_t *ca, *cb;
    read_unseen(&sa, &na, &ca);
    read_unseen(&sb, &nb, &cb);
    dw_compare_column c;
    (void)dw_compare_column_evaluate(&sa, &sb, &c);
    printf("%.17g %.17g %d %.17g %llu %llu\n", c.r.chi2.statistic, c.r.chi2.p_value, c.r.chi2.df,
           c.r.psi, (unsigned long long)c.n_baseline, (unsigned long long)c.n_candidate);
    for (size_t i = 0; i < sa.nnew; i++)
        free(na[i]);
    for (size_t i = 0; i < sb.nnew; i++)
        free(nb[i]);
    for (size_t i = 0; i < col.ncat; i++)
        free(col.categories[i]);
    free(col.categories);
    free(na);
    free(nb);
    free(ca);
    free(cb);
    free(a);
    free(b);
}

int main(void)
{
    static const driver_command cmds[] = {
        {"sketch", cmd_sketch}, {"sketchpanes", cmd_sketchpanes}, {"layout", cmd_layout},
        {"cmpnum", cmd_cmpnum}, {"cmpcat", cmd_cmpcat},
    };
    return run_commands(cmds, sizeof cmds / sizeof cmds[0]);
}

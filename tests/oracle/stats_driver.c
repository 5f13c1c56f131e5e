/* Test driver for the statistics oracle (test_stats_oracle.py): reads
 * whitespace-separated commands on stdin and prints one result line per
 * command with %.17g, so Python can compare with scipy/numpy.
 *
 *   chi2 K a1..aK b1..bK            -> statistic p_value df
 *   psi K r1..rK c1..cK             -> psi (dw_psi_counts)
 *   ks NB e0..eNB c1..cNB M x1..xM  -> D p_value n_eff   (x binned by dw_ref_bin)
 *   psinum NB e0..eNB c1..cNB M x1..xM -> psi            (dw_psi on the binned x)
 *   kspvalue D NEFF                 -> p_value
 *   ksf X                           -> dw_kolmogorov_sf(X)
 *   bh N p1..pN                     -> N adjusted p-values
 *   cat K r1..rK OTHER c1..cK NNEW n1..nNNEW OVERFLOW
 *                                   -> chi2 statistic, p_value, df, psi
 *
 * NaN current values count as missing; a malformed input exits with 2. */
#include "driftwatch/chi2.h"
#include "driftwatch/error.h"
#include "driftwatch/fdr.h"
#include "driftwatch/histogram.h"
#include "driftwatch/ks.h"
#include "driftwatch/psi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DRIVER_NAME "stats_driver"
#include "driver_io.h"

/* Reads "NB edges counts M values" into col and the binned sample s. */
static void read_numeric(dw_ref_column *col, dw_sample *s, uint64_t **bins)
{
    memset(col, 0, sizeof *col);
    memset(s, 0, sizeof *s);
    col->type = DW_COL_NUMERIC;
    col->nbins = read_size();
    if (col->nbins == 0 || col->nbins > DW_MAX_BINS)
        die("nbins");
    col->edges = dw_malloc((col->nbins + 1) * sizeof *col->edges);
    for (size_t i = 0; i <= col->nbins; i++)
        col->edges[i] = read_double();
    col->bin_counts = read_counts(col->nbins);
    for (size_t i = 0; i < col->nbins; i++)
        col->count += col->bin_counts[i];
    *bins = dw_calloc(col->nbins + 2, sizeof **bins);
    size_t m = read_size();
    for (size_t i = 0; i < m; i++) {
        long b = dw_ref_bin(col, read_double());
        if (b == DW_BIN_NAN)
            s->missing++;
        else
            (*bins)[b + 1]++;
    }
    s->ref = col;
    s->bins = *bins;
}

static void free_numeric(dw_ref_column *col, uint64_t *bins)
{
    free(col->edges);
    free(col->bin_counts);
    free(bins);
}

static void cmd_cat(void)
{
    dw_ref_column col;
    memset(&col, 0, sizeof col);
    col.type = DW_COL_CATEGORICAL;
    col.ncat = read_size();
    col.cat_counts = read_counts(col.ncat);
    col.other_count = read_u64();
    uint64_t *cur = read_counts(col.ncat);
    size_t nnew = read_size();
    uint64_t *newc = read_counts(nnew);
    /* Names are not used by the statistics; they only need to exist. */
    const char **names = dw_calloc(nnew ? nnew : 1, sizeof *names);
    for (size_t i = 0; i < nnew; i++)
        names[i] = "unseen";
    dw_sample s = {.ref = &col,
                   .bins = cur,
                   .nnew = nnew,
                   .new_counts = newc,
                   .new_names = names,
                   .new_overflow = read_u64()};
    dw_chi2_result r;
    double psi;
    (void)dw_chi2(&s, &r);
    (void)dw_psi(&s, &psi);
    printf("%.17g %.17g %d %.17g\n", r.statistic, r.p_value, r.df, psi);
    free(col.cat_counts);
    free(cur);
    free(newc);
    free(names);
}

int main(void)
{
    char cmd[32];
    while (scanf("%31s", cmd) == 1) {
        if (strcmp(cmd, "chi2") == 0) {
            size_t k = read_size();
            uint64_t *a = read_counts(k), *b = read_counts(k);
            dw_chi2_result r;
            (void)dw_chi2_counts(a, b, k, &r);
            printf("%.17g %.17g %d\n", r.statistic, r.p_value, r.df);
            free(a);
            free(b);
        } else if (strcmp(cmd, "psi") == 0) {
            size_t k = read_size();
            uint64_t *a = read_counts(k), *b = read_counts(k);
            printf("%.17g\n", dw_psi_counts(a, b, k));
            free(a);
            free(b);
        } else if (strcmp(cmd, "ks") == 0 || strcmp(cmd, "psinum") == 0) {
            dw_ref_column col;
            dw_sample s;
            uint64_t *bins;
            read_numeric(&col, &s, &bins);
            if (cmd[0] == 'k') {
                dw_ks_result r;
                (void)dw_ks(&s, &r);
                printf("%.17g %.17g %.17g\n", r.statistic, r.p_value, r.n_eff);
            } else {
                double psi;
                (void)dw_psi(&s, &psi);
                printf("%.17g\n", psi);
            }
            free_numeric(&col, bins);
        } else if (strcmp(cmd, "kspvalue") == 0) {
            double d = read_double();
            printf("%.17g\n", dw_ks_pvalue(d, read_double()));
        } else if (strcmp(cmd, "ksf") == 0) {
            printf("%.17g\n", dw_kolmogorov_sf(read_double()));
        } else if (strcmp(cmd, "bh") == 0) {
            size_t n = read_size();
            double *p = dw_malloc((n ? n : 1) * sizeof *p);
            for (size_t i = 0; i < n; i++)
                p[i] = read_double();
            dw_fdr_bh(p, p, n);
            for (size_t i = 0; i < n; i++)
                printf(i ? " %.17g" : "%.17g", p[i]);
            printf("\n");
            free(p);
        } else if (strcmp(cmd, "cat") == 0) {
            cmd_cat();
        } else {
            die(cmd);
        }
    }
    return 0;
}

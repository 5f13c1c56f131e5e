/* Chi-squared test of homogeneity for a 2 x k table, without continuity
 * correction (the same as scipy.stats.chi2_contingency(correction=False)).
 *
 * For two rows the Pearson statistic has the closed form
 *   X^2 = sum_i (a_i B - b_i A)^2 / (a_i + b_i) / (A B)
 * (A, B the row totals), which is algebraically the usual
 * sum (O - E)^2 / E but is exactly 0 for proportional rows and needs no
 * expected table: two passes over the columns (totals, then the sum) and no
 * allocation.
 *
 * dw_chi2() (a window against its reference) pools sparse columns first:
 * the chi-squared approximation needs expected counts of about 5, and a
 * window of 100 values over 30 categories has many cells far below that
 * (measured: P(p < 0.001) was 5x nominal without pooling). */
#include "driftwatch/chi2.h"

#include "driftwatch/error.h"

#include <gsl/gsl_cdf.h>
#include <stdbool.h>

typedef struct chi2_acc {
    uint64_t ta, tb; /* row totals */
    size_t kept;     /* columns in the statistic */
    long double sum; /* sum_i (a_i B - b_i A)^2 / (a_i + b_i) */
    bool pool;       /* pool the columns with small expected counts */
    uint64_t pa, pb; /* the pooled column */
    uint64_t sa, sb; /* the kept column with the smallest expected count */
} chi2_acc;

static long double term(const chi2_acc *acc, uint64_t a, uint64_t b)
{
    /* long double: the products are exact up to 2^64 on x86-64, so the
     * difference does not lose digits to cancellation for big windows. */
    long double d = (long double)a * acc->tb - (long double)b * acc->ta;
    return d * d / ((long double)a + (long double)b);
}

/* The smaller of the column's two expected counts, times (A + B): the
 * expected count is min(A, B) (a + b) / (A + B). Compared in this scaled
 * form to stay in exact integer-valued long double arithmetic. */
static long double scaled_expected(const chi2_acc *acc, uint64_t a, uint64_t b)
{
    uint64_t mn = acc->ta < acc->tb ? acc->ta : acc->tb;
    return (long double)mn * ((long double)a + (long double)b);
}

static bool is_small(const chi2_acc *acc, uint64_t a, uint64_t b)
{
    return scaled_expected(acc, a, b) <
           DW_CHI2_MIN_EXPECTED * ((long double)acc->ta + (long double)acc->tb);
}

static void acc_column(chi2_acc *acc, uint64_t a, uint64_t b, int pass)
{
    if (a == 0 && b == 0)
        return; /* dropped: its expected counts would be 0 */
    if (pass == 0) {
        acc->ta += a;
        acc->tb += b;
        return;
    }
    if (acc->pool && is_small(acc, a, b)) {
        acc->pa += a;
        acc->pb += b;
        return;
    }
    if (acc->pool &&
        (acc->kept == 0 || scaled_expected(acc, a, b) < scaled_expected(acc, acc->sa, acc->sb))) {
        acc->sa = a;
        acc->sb = b;
    }
    acc->sum += term(acc, a, b);
    acc->kept++;
}

/* Adds the pooled column. When it is itself too small it absorbs the kept
 * column with the smallest expected count first, which then has >= 5. */
static void acc_pool(chi2_acc *acc)
{
    if (acc->pa + acc->pb == 0)
        return;
    if (is_small(acc, acc->pa, acc->pb) && acc->kept > 0) {
        acc->sum -= term(acc, acc->sa, acc->sb);
        acc->kept--;
        acc->pa += acc->sa;
        acc->pb += acc->sb;
    }
    acc->sum += term(acc, acc->pa, acc->pb);
    acc->kept++;
}

static int acc_finish(const chi2_acc *acc, dw_chi2_result *out)
{
    out->statistic = 0.0;
    out->df = 0;
    out->p_value = 1.0;
    if (acc->ta == 0 || acc->tb == 0)
        return DW_ERR_EMPTY;
    if (acc->kept < 2)
        return 0; /* one category: nothing to compare, df 0 */
    double a = (double)acc->ta, b = (double)acc->tb;
    double stat = (double)(acc->sum / a / b);
    if (stat < 0)
        stat = 0; /* a pooled column's term subtracted back can leave -0-ish rounding */
    out->statistic = stat;
    out->df = (int)(acc->kept - 1);
    out->p_value = gsl_cdf_chisq_Q(stat, (double)out->df);
    return 0;
}

static int counts_test(const uint64_t *a, const uint64_t *b, size_t k, bool pool,
                       dw_chi2_result *out)
{
    chi2_acc acc = {0};
    acc.pool = pool;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < k; i++)
            acc_column(&acc, a[i], b[i], pass);
    if (pool)
        acc_pool(&acc);
    return acc_finish(&acc, out);
}

int dw_chi2_counts(const uint64_t *a, const uint64_t *b, size_t k, dw_chi2_result *out)
{
    return counts_test(a, b, k, false, out);
}

int dw_chi2_counts_pooled(const uint64_t *a, const uint64_t *b, size_t k, dw_chi2_result *out)
{
    return counts_test(a, b, k, true, out);
}

int dw_chi2(const dw_sample *cur, dw_chi2_result *out)
{
    const dw_ref_column *ref = cur->ref;
    if (ref->type != DW_COL_CATEGORICAL) {
        out->statistic = 0.0;
        out->df = 0;
        out->p_value = 1.0;
        return DW_ERR_INVALID;
    }
    chi2_acc acc = {0};
    acc.pool = true;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < ref->ncat; i++)
            acc_column(&acc, ref->cat_counts[i], cur->bins[i], pass);
        if (ref->other_count > 0) {
            /* Unseen values fold into "other": they may be rare training
             * values that were pooled there. */
            acc_column(&acc, ref->other_count, dw_sample_unseen(cur), pass);
        } else {
            for (size_t j = 0; j < cur->nnew; j++)
                acc_column(&acc, 0, cur->new_counts[j], pass);
            acc_column(&acc, 0, cur->new_overflow, pass);
        }
    }
    acc_pool(&acc);
    return acc_finish(&acc, out);
}

/* Two-sample Kolmogorov-Smirnov between a reference fine histogram and a
 * binned current sample, and the asymptotic Kolmogorov distribution.
 *
 * Written by hand because GSL has no Kolmogorov (kstwobign) distribution:
 * the two classical series below are short, converge fast in their ranges
 * and need no tables. */
#include "driftwatch/ks.h"

#include "driftwatch/error.h"

#include <math.h>

/* Below this the CDF series underflows (exp(-pi^2 / (8 x^2)) < 1e-214), so
 * P(K > x) is 1 to double precision; returning early also avoids inf * 0
 * from sqrt(2 pi) / x for subnormal x. */
#define KOLMOGOROV_TINY 0.05
/* Where we switch from the CDF series to the survival series. Both converge
 * to full precision at 1.0 within 3 to 4 terms; the survival series is used
 * for the right tail so that tiny p-values keep their relative accuracy
 * (1 - cdf would cancel). The left series gives sf >= 0.27, no cancellation. */
#define KOLMOGOROV_CUTOVER 1.0
/* Safety bound on series terms; convergence needs fewer than 10 in practice. */
#define KOLMOGOROV_MAX_TERMS 100

double dw_kolmogorov_sf(double x)
{
    if (isnan(x) || x <= KOLMOGOROV_TINY)
        return 1.0;
    if (x < KOLMOGOROV_CUTOVER) {
        /* P(K <= x) = sqrt(2 pi) / x * sum_{k>=1} exp(-(2k-1)^2 pi^2 / (8 x^2)) */
        const double a = -M_PI * M_PI / (8.0 * x * x);
        double sum = 0.0;
        for (int k = 1; k <= KOLMOGOROV_MAX_TERMS; k++) {
            double j = 2.0 * k - 1.0;
            double t = exp(a * j * j);
            sum += t;
            if (t <= 1e-17 * sum)
                break;
        }
        double cdf = sqrt(2.0 * M_PI) / x * sum;
        double sf = 1.0 - cdf;
        return sf < 0.0 ? 0.0 : (sf > 1.0 ? 1.0 : sf);
    }
    /* P(K > x) = 2 sum_{k>=1} (-1)^(k-1) exp(-2 k^2 x^2) */
    const double a = -2.0 * x * x;
    double sum = 0.0, sign = 1.0;
    for (int k = 1; k <= KOLMOGOROV_MAX_TERMS; k++) {
        double t = exp(a * (double)k * (double)k);
        sum += sign * t;
        if (t <= 1e-17 * sum || t == 0.0)
            break;
        sign = -sign;
    }
    double sf = 2.0 * sum;
    return sf < 0.0 ? 0.0 : (sf > 1.0 ? 1.0 : sf);
}

double dw_ks_pvalue(double d, double n_eff)
{
    if (!(n_eff > 0.0) || !(d > 0.0))
        return 1.0;
    /* Stephens (1970): the finite-sample distribution of sqrt(n) D is close
     * to the asymptotic one at lambda = (sqrt(n) + 0.12 + 0.11 / sqrt(n)) D;
     * within a few percent of the exact two-sample p for n_eff >= 100. */
    double s = sqrt(n_eff);
    return dw_kolmogorov_sf((s + 0.12 + 0.11 / s) * d);
}

/* Largest |A_i / n - B_i / m| over the prefix sums A_i = a0 + a[0..i],
 * B_i = b0 + b[0..i], starting with the point (a0, b0) itself. */
static double max_cdf_gap(const uint64_t *a, uint64_t a0, const uint64_t *b, uint64_t b0, size_t k,
                          uint64_t n, uint64_t m)
{
    const double dn = (double)n, dm = (double)m;
    uint64_t ca = a0, cb = b0;
    double d = fabs((double)ca / dn - (double)cb / dm);
    for (size_t i = 0; i < k; i++) {
        ca += a[i];
        cb += b[i];
        double diff = fabs((double)ca / dn - (double)cb / dm);
        if (diff > d)
            d = diff;
    }
    return d > 1.0 ? 1.0 : d;
}

static void finish(uint64_t n, uint64_t m, double d, dw_ks_result *out)
{
    const double dn = (double)n, dm = (double)m;
    out->statistic = d;
    out->n_eff = dn * dm / (dn + dm);
    out->p_value = dw_ks_pvalue(out->statistic, out->n_eff);
}

int dw_ks_counts(const uint64_t *a, const uint64_t *b, size_t k, dw_ks_result *out)
{
    out->statistic = 0.0;
    out->p_value = 1.0;
    out->n_eff = 0.0;
    uint64_t n = 0, m = 0;
    for (size_t i = 0; i < k; i++) {
        n += a[i];
        m += b[i];
    }
    if (n == 0 || m == 0)
        return DW_ERR_EMPTY;
    finish(n, m, max_cdf_gap(a, 0, b, 0, k, n, m), out);
    return 0;
}

int dw_ks(const dw_sample *cur, dw_ks_result *out)
{
    const dw_ref_column *ref = cur->ref;
    out->statistic = 0.0;
    out->p_value = 1.0;
    out->n_eff = 0.0;
    if (ref->type != DW_COL_NUMERIC)
        return DW_ERR_INVALID;

    const size_t nb = ref->nbins;
    uint64_t n = 0;
    for (size_t i = 0; i < nb; i++)
        n += ref->bin_counts[i];
    uint64_t m = dw_sample_count(cur);
    if (n == 0 || m == 0)
        return DW_ERR_EMPTY;

    /* Just below the minimum: F_ref = 0, F_cur = underflow share. At each
     * right edge edges[i + 1]: both CDFs are exact there because bins are
     * right-closed. The last edge is the maximum; above it both are 1. */
    finish(n, m, max_cdf_gap(ref->bin_counts, 0, cur->bins + 1, cur->bins[0], nb, n, m), out);
    return 0;
}

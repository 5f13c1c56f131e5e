/* Population Stability Index with additive smoothing (see psi.h and
 * docs/statistics.md). Evaluated per column and window, so it allocates
 * nothing: the totals are computed first, then the buckets are streamed. */
#include "driftwatch/psi.h"

#include "driftwatch/error.h"

#include <math.h>

/* One bucket's term (c - r) ln(c / r) with smoothed proportions. The
 * smoothing keeps both proportions > 0, so the log is finite; the term is
 * >= 0 because (c - r) and ln(c / r) have the same sign. */
static double psi_term(uint64_t r, uint64_t c, double rden, double cden)
{
    double pr = ((double)r + DW_PSI_SMOOTHING) / rden;
    double pc = ((double)c + DW_PSI_SMOOTHING) / cden;
    return (pc - pr) * log(pc / pr);
}

static double denom(uint64_t total, size_t k)
{
    return (double)total + DW_PSI_SMOOTHING * (double)k;
}

double dw_psi_counts(const uint64_t *ref, const uint64_t *cur, size_t k)
{
    uint64_t rt = 0, ct = 0;
    for (size_t i = 0; i < k; i++) {
        rt += ref[i];
        ct += cur[i];
    }
    if (k == 0 || (rt == 0 && ct == 0))
        return 0.0;
    double rden = denom(rt, k), cden = denom(ct, k), psi = 0.0;
    for (size_t i = 0; i < k; i++)
        psi += psi_term(ref[i], cur[i], rden, cden);
    return psi;
}

/* Fine bin i gets the group id g(i) = min(B - 1, floor(B * before_i / total))
 * where before_i is the reference count of bins 0..i-1 (exact integer
 * arithmetic), and consecutive bins with the same id form one bucket; bins
 * after the last non-empty one join the last bucket. So a
 * bucket boundary sits before the first bin at which the cumulative
 * reference share reaches j / B. A fine bin is never split: a bin holding
 * more than 1/B of the mass skips ids, which gives fewer, larger buckets and
 * never an empty reference bucket (except when the whole reference is
 * empty). */
size_t dw_psi_group(const uint64_t *ref, const uint64_t *cur, size_t n, uint64_t r[DW_PSI_BUCKETS],
                    uint64_t c[DW_PSI_BUCKETS])
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += ref[i];

    size_t k = 1;
    uint64_t id = 0, before = 0;
    r[0] = 0;
    c[0] = 0;
    /* g = before * B / total only changes when before * B reaches
     * (id + 1) * total: one compare per fine bin, a division only at the
     * (at most B) bucket starts. With total * B over 64 bits, the 128-bit
     * quotient for every bin. Both give the same buckets. */
    const bool narrow = total <= UINT64_MAX / DW_PSI_BUCKETS;
    uint64_t next = total; /* (id + 1) * total, when narrow */
    for (size_t i = 0; i < n; i++) {
        /* before < total: trailing empty reference bins stay in the last
         * bucket instead of forming an empty one. */
        if (before < total && (!narrow || before * DW_PSI_BUCKETS >= next)) {
            uint64_t g;
            if (narrow) {
                g = before * DW_PSI_BUCKETS / total;
            } else {
                __extension__ unsigned __int128 scaled = (unsigned __int128)before * DW_PSI_BUCKETS;
                g = (uint64_t)(scaled / total);
            }
            if (g > DW_PSI_BUCKETS - 1)
                g = DW_PSI_BUCKETS - 1;
            if (g > id) {
                id = g;
                r[k] = 0;
                c[k] = 0;
                k++;
            }
            if (narrow)
                next = (id + 1) * total;
        }
        r[k - 1] += ref[i];
        c[k - 1] += cur[i];
        before += ref[i];
    }
    return k;
}

/* The reference's fine bins grouped by dw_psi_group(); current underflow
 * joins the first bucket and overflow the last. */
static size_t numeric_buckets(const dw_sample *cur, uint64_t r[DW_PSI_BUCKETS],
                              uint64_t c[DW_PSI_BUCKETS])
{
    const dw_ref_column *ref = cur->ref;
    const size_t nb = ref->nbins;
    size_t k = dw_psi_group(ref->bin_counts, cur->bins + 1, nb, r, c);
    c[0] += cur->bins[0];
    c[k - 1] += cur->bins[nb + 1];
    return k;
}

int dw_psi(const dw_sample *cur, double *out)
{
    size_t k;
    return dw_psi_buckets(cur, out, &k);
}

int dw_psi_buckets(const dw_sample *cur, double *out, size_t *buckets)
{
    *out = 0.0;
    *buckets = 0;
    const dw_ref_column *ref = cur->ref;
    if (dw_sample_count(cur) == 0)
        return DW_ERR_EMPTY;

    if (ref->type == DW_COL_NUMERIC) {
        uint64_t r[DW_PSI_BUCKETS], c[DW_PSI_BUCKETS];
        size_t k = numeric_buckets(cur, r, c);
        *out = dw_psi_counts(r, c, k);
        *buckets = k;
        return 0;
    }

    /* Categorical: listed categories, then "other" (which absorbs unseen
     * values when it is non-empty: they may be rare training values), else
     * one bucket for unseen values if there are any. */
    uint64_t unseen = dw_sample_unseen(cur);
    uint64_t rt = ref->other_count, ct = unseen;
    for (size_t i = 0; i < ref->ncat; i++) {
        rt += ref->cat_counts[i];
        ct += cur->bins[i];
    }
    size_t k = ref->ncat + ((ref->other_count > 0 || unseen > 0) ? 1 : 0);
    *buckets = k;
    if (k == 0)
        return 0;
    double rden = denom(rt, k), cden = denom(ct, k), psi = 0.0;
    for (size_t i = 0; i < ref->ncat; i++)
        psi += psi_term(ref->cat_counts[i], cur->bins[i], rden, cden);
    if (ref->other_count > 0 || unseen > 0)
        psi += psi_term(ref->other_count, unseen, rden, cden);
    *out = psi;
    return 0;
}

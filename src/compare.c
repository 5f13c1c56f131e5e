/* Candidate-vs-baseline comparison of two windows (compare.h). The tests
 * are the ones reference drift runs (ks.c, chi2.c, psi.c on count vectors)
 * and the decision is drift.c's; this file only lines the two windows'
 * counters up and turns the decision into a verdict. */
#include "driftwatch/compare.h"

#include "driftwatch/chi2.h"
#include "driftwatch/error.h"
#include "driftwatch/ks.h"
#include "driftwatch/psi.h"

#include <stdlib.h>
#include <string.h>

const char *dw_verdict_name(dw_verdict v)
{
    switch (v) {
    case DW_VERDICT_PASS: return "pass";
    case DW_VERDICT_FAIL: return "fail";
    case DW_VERDICT_INCONCLUSIVE: return "inconclusive";
    }
    return "inconclusive";
}

bool dw_compare_compatible(const dw_ref_column *a, const dw_ref_column *b)
{
    if (a == b)
        return true;
    if (a->type != b->type)
        return false;
    if (a->type == DW_COL_NUMERIC)
        return a->nbins == b->nbins &&
               memcmp(a->edges, b->edges, (a->nbins + 1) * sizeof *a->edges) == 0;
    if (a->ncat != b->ncat)
        return false;
    for (size_t i = 0; i < a->ncat; i++)
        if (strcmp(a->categories[i], b->categories[i]) != 0)
            return false;
    return true;
}

static void neutral(const dw_sample *baseline, dw_compare_column *out)
{
    memset(out, 0, sizeof *out);
    out->r.ref = baseline->ref;
    out->r.type = baseline->ref->type;
    out->r.ks.p_value = 1.0;
    out->r.chi2.p_value = 1.0;
    out->r.p_value = 1.0;
    out->r.p_adjusted = 1.0;
    out->verdict = DW_VERDICT_INCONCLUSIVE;
}

typedef struct named_count {
    const char *name;
    uint64_t count;
} named_count;

static int cmp_named(const void *a, const void *b)
{
    return strcmp(((const named_count *)a)->name, ((const named_count *)b)->name);
}

static named_count *sorted_unseen(const dw_sample *s)
{
    named_count *v = dw_malloc((s->nnew ? s->nnew : 1) * sizeof *v);
    for (size_t i = 0; i < s->nnew; i++) {
        v[i].name = s->new_names[i];
        v[i].count = s->new_counts[i];
    }
    qsort(v, s->nnew, sizeof *v, cmp_named);
    return v;
}

/* Lines up the categories of the two windows: listed ones by index, unseen
 * ones by name (a merge of the two name-sorted lists, so O(K log K) for K
 * tracked names), then the untracked overflow; drops columns empty on both
 * sides. Writes a[k], b[k] (caller frees) and returns k. */
static size_t category_table(const dw_sample *base, const dw_sample *cand, uint64_t **pa,
                             uint64_t **pb)
{
    const size_t ncat = base->ref->ncat, cap = ncat + base->nnew + cand->nnew + 1;
    uint64_t *a = dw_malloc(cap * sizeof *a), *b = dw_malloc(cap * sizeof *b);
    size_t k = 0;
#define PUSH(x, y)                                                                                 \
    do {                                                                                           \
        if ((x) || (y)) {                                                                          \
            a[k] = (x);                                                                            \
            b[k++] = (y);                                                                          \
        }                                                                                          \
    } while (0)
    for (size_t i = 0; i < ncat; i++)
        PUSH(base->bins[i], cand->bins[i]);
    named_count *na = sorted_unseen(base), *nb = sorted_unseen(cand);
    size_t i = 0, j = 0;
    while (i < base->nnew || j < cand->nnew) {
        int c = i == base->nnew ? 1 : j == cand->nnew ? -1 : strcmp(na[i].name, nb[j].name);
        if (c == 0) {
            PUSH(na[i].count, nb[j].count);
            i++;
            j++;
        } else if (c < 0) {
            PUSH(na[i].count, 0);
            i++;
        } else {
            PUSH(0, nb[j].count);
            j++;
        }
    }
    PUSH(base->new_overflow, cand->new_overflow);
#undef PUSH
    free(na);
    free(nb);
    *pa = a;
    *pb = b;
    return k;
}

int dw_compare_column_evaluate(const dw_sample *baseline, const dw_sample *candidate,
                               dw_compare_column *out)
{
    neutral(baseline, out);
    if (!dw_compare_compatible(baseline->ref, candidate->ref))
        return DW_ERR_INVALID;
    dw_column_result *r = &out->r;
    out->n_baseline = dw_sample_count(baseline);
    out->n_candidate = dw_sample_count(candidate);
    r->count = out->n_baseline < out->n_candidate ? out->n_baseline : out->n_candidate;
    r->missing = candidate->missing;
    if (r->count == 0)
        return DW_ERR_EMPTY;

    if (r->type == DW_COL_NUMERIC) {
        const size_t k = dw_sample_nbins(baseline->ref);
        r->has_ks = true;
        (void)dw_ks_counts(baseline->bins, candidate->bins, k, &r->ks);
        r->p_value = r->ks.p_value;
        uint64_t rb[DW_PSI_BUCKETS], cb[DW_PSI_BUCKETS];
        size_t g = dw_psi_group(baseline->bins, candidate->bins, k, rb, cb);
        r->psi = dw_psi_counts(rb, cb, g);
        r->psi_buckets = g;
        return 0;
    }
    uint64_t *a, *b;
    size_t k = category_table(baseline, candidate, &a, &b);
    r->has_chi2 = true;
    (void)dw_chi2_counts_pooled(a, b, k, &r->chi2);
    r->p_value = r->chi2.p_value;
    r->psi = dw_psi_counts(a, b, k);
    r->psi_buckets = k;
    free(a);
    free(b);
    return 0;
}

/* The observed difference is as big as a divergence, whatever its
 * significance and noise level (the thresholds of drift.h alone). */
static bool big_difference(const dw_column_result *r, const dw_thresholds *t)
{
    return (t->psi_threshold > 0 && r->psi >= t->psi_threshold) ||
           (r->has_ks && t->ks_threshold > 0 && r->ks.statistic >= t->ks_threshold);
}

dw_verdict dw_compare_decide(dw_compare_column *cols, size_t n, const dw_thresholds *th,
                             size_t th_stride, dw_compare_summary *sum)
{
    dw_compare_summary s = {DW_VERDICT_INCONCLUSIVE, n, 0, 0, 0};
    if (n > 0) {
        /* dw_drift_decide() works on a dense array of results, and takes
         * the sizes for its noise levels (critical values) from r.count and
         * r.ref->count, the window and the reference. Here the two sides
         * are the windows: r.count is the smaller and a copy of the column
         * with count = the larger stands in for the reference (the
         * critical values are symmetric in the two sizes). */
        dw_column_result *res = dw_malloc(n * sizeof *res);
        dw_ref_column *sizes = dw_malloc(n * sizeof *sizes);
        for (size_t i = 0; i < n; i++) {
            res[i] = cols[i].r;
            if (res[i].ref) {
                sizes[i] = *res[i].ref;
                sizes[i].count = cols[i].n_baseline > cols[i].n_candidate ? cols[i].n_baseline
                                                                          : cols[i].n_candidate;
                res[i].ref = &sizes[i];
            }
        }
        (void)dw_drift_decide(res, n, th, th_stride);
        for (size_t i = 0; i < n; i++) {
            const dw_ref_column *ref = cols[i].r.ref;
            cols[i].r = res[i];
            cols[i].r.ref = ref;
        }
        free(sizes);
        free(res);
    }
    for (size_t i = 0; i < n; i++) {
        const dw_column_result *r = &cols[i].r;
        dw_verdict v;
        if (!r->enough_samples)
            v = DW_VERDICT_INCONCLUSIVE;
        else if (r->drift)
            v = DW_VERDICT_FAIL;
        else if (big_difference(r, &th[i * th_stride]))
            v = DW_VERDICT_INCONCLUSIVE; /* as big as a divergence, not yet confirmed */
        else
            v = DW_VERDICT_PASS;
        cols[i].verdict = v;
        s.failed += v == DW_VERDICT_FAIL;
        s.inconclusive += v == DW_VERDICT_INCONCLUSIVE;
        s.passed += v == DW_VERDICT_PASS;
    }
    if (s.failed > 0)
        s.verdict = DW_VERDICT_FAIL;
    else if (n > 0 && s.inconclusive == 0)
        s.verdict = DW_VERDICT_PASS;
    if (sum)
        *sum = s;
    return s.verdict;
}

/* The verdict once both quantiles are known (out->n_*, out->baseline and
 * out->candidate set). */
static void latency_verdict(dw_latency_compare *out, double max_ratio, uint64_t min_samples)
{
    if (out->baseline > 0.0)
        out->ratio = out->candidate / out->baseline;
    if (out->n_baseline == 0 || out->n_candidate == 0 || out->n_baseline < min_samples ||
        out->n_candidate < min_samples || !(out->baseline > 0.0))
        return;
    out->verdict = out->ratio > max_ratio ? DW_VERDICT_FAIL : DW_VERDICT_PASS;
}

static int latency_start(dw_latency_compare *out, double q, double max_ratio)
{
    memset(out, 0, sizeof *out);
    out->q = q;
    out->verdict = DW_VERDICT_INCONCLUSIVE;
    if (!(q >= 0.0 && q <= 1.0) || !(max_ratio > 0.0))
        return DW_ERR_INVALID;
    return 0;
}

int dw_compare_latency(const dw_sketch *baseline, const dw_sketch *candidate, double q,
                       double max_ratio, uint64_t min_samples, dw_latency_compare *out)
{
    int rc = latency_start(out, q, max_ratio);
    if (rc)
        return rc;
    out->n_baseline = dw_sketch_count(baseline);
    out->n_candidate = dw_sketch_count(candidate);
    /* An empty side leaves its quantile at 0 (DW_ERR_EMPTY says only that). */
    (void)dw_sketch_quantile(baseline, q, &out->baseline);
    (void)dw_sketch_quantile(candidate, q, &out->candidate);
    latency_verdict(out, max_ratio, min_samples);
    return 0;
}

int dw_compare_latency_layout(const dw_sketch_layout *l, const uint64_t *baseline,
                              const uint64_t *candidate, double q, double max_ratio,
                              uint64_t min_samples, dw_latency_compare *out)
{
    int rc = latency_start(out, q, max_ratio);
    if (rc)
        return rc;
    out->n_baseline = dw_sketch_layout_count(l, baseline);
    out->n_candidate = dw_sketch_layout_count(l, candidate);
    (void)dw_sketch_layout_quantile(l, baseline, q, &out->baseline);
    (void)dw_sketch_layout_quantile(l, candidate, q, &out->candidate);
    latency_verdict(out, max_ratio, min_samples);
    return 0;
}

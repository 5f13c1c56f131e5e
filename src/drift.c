/* Per-column statistics and the drift decision of one evaluation (drift.h). */
#include "driftwatch/drift.h"

#include "driftwatch/error.h"
#include "driftwatch/fdr.h"
#include "driftwatch/number.h"
#include "driftwatch/psi.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dw_thresholds_default(dw_thresholds *t)
{
    t->alpha = DW_DEFAULT_ALPHA;
    t->psi_threshold = DW_DEFAULT_PSI_THRESHOLD;
    t->ks_threshold = DW_DEFAULT_KS_THRESHOLD;
    t->min_samples = DW_DEFAULT_MIN_SAMPLES;
    t->missing_rate_delta = DW_DEFAULT_MISSING_RATE_DELTA;
    t->type_error_rate = DW_DEFAULT_TYPE_ERROR_RATE;
    t->out_of_range_rate = DW_DEFAULT_OUT_OF_RANGE_RATE;
    t->unseen_rate = DW_DEFAULT_UNSEEN_RATE;
    t->false_alarms_per_week = DW_DEFAULT_FALSE_ALARMS_PER_WEEK;
    t->eval_alpha = 0;
}

double dw_eval_alpha(const dw_thresholds *t, size_t ncols, size_t nwindows, int64_t slide_ms)
{
    if (!(t->false_alarms_per_week > 0) || ncols == 0 || nwindows == 0 || slide_ms <= 0)
        return t->alpha;
    double evals = (double)DW_WEEK_MS / (double)slide_ms;
    double a = t->false_alarms_per_week / (evals * (double)ncols * (double)nwindows);
    return a < t->alpha ? a : t->alpha;
}

/* The per-evaluation false-alarm probability the critical values use. */
static double column_alpha(const dw_thresholds *t)
{
    return t->eval_alpha > 0 && t->eval_alpha < t->alpha ? t->eval_alpha : t->alpha;
}

/* c with P(K > c) = a for the Kolmogorov distribution, by bisection on the
 * survival function (monotone; 60 halvings of [0, 20] reach 1e-17). */
static double kolmogorov_isf(double a)
{
    double lo = 0.0, hi = 20.0;
    for (int i = 0; i < 60; i++) {
        double mid = 0.5 * (lo + hi);
        if (dw_kolmogorov_sf(mid) > a)
            lo = mid;
        else
            hi = mid;
    }
    return hi;
}

/* The quantiles of the last column, reused while a and the degrees of
 * freedom repeat (they do for most columns of an evaluation): the
 * bisection costs about 60 series evaluations. One per decision call, so
 * no state is shared between threads. */
typedef struct quantile_cache {
    double a_ks, c;
    double a_chi, q;
    size_t df;
} quantile_cache;

/* Critical values of D and PSI for a reference of n and a window of m
 * values. The reference is one fixed sample, not a fresh one per
 * evaluation, so its own sampling error is a constant offset of every
 * evaluation rather than noise that averages out (with 2,000 rows one
 * column failed the plain two-sample test in 61 % of evaluations). So the
 * two errors are bounded separately and added (triangle inequality), each
 * at level a: sup |F_m - F| <= c / sqrt(m) with probability 1 - a
 * (Kolmogorov), the same for the reference, hence
 *   D_crit = c_a (1 / sqrt(m) + 1 / sqrt(n)).
 * For PSI the chi-squared approximation m * sum (q - p)^2 / p ~ chi2(k - 1)
 * gives the distance sqrt(PSI) <= sqrt(Q / m) + sqrt(Q / n), Q the upper-a
 * quantile of chi2(k - 1):
 *   PSI_crit = (sqrt(Q / m) + sqrt(Q / n))^2.
 * For discrete data the Kolmogorov bound is conservative. */
static void critical_values(dw_column_result *r, double a, quantile_cache *qc)
{
    r->ks_critical = r->psi_critical = 0.0;
    double m = (double)r->count, n = (double)(r->ref ? r->ref->count : 0);
    if (!(m > 0) || !(n > 0))
        return;
    if (r->has_ks) {
        if (qc->a_ks != a) {
            qc->c = kolmogorov_isf(a);
            qc->a_ks = a;
        }
        r->ks_critical = qc->c * (1.0 / sqrt(m) + 1.0 / sqrt(n));
    }
    if (r->psi_buckets >= 2) {
        if (qc->a_chi != a || qc->df != r->psi_buckets - 1) {
            qc->df = r->psi_buckets - 1;
            qc->q = gsl_cdf_chisq_Qinv(a, (double)qc->df);
            qc->a_chi = a;
        }
        double q = qc->q;
        double s = sqrt(q / m) + sqrt(q / n);
        r->psi_critical = s * s;
    }
}

/* True when x of n is significantly (one-sided binomial, level a) above a
 * share of p0. */
static bool share_above(uint64_t x, uint64_t n, double p0, double a)
{
    if (n == 0 || x == 0 || !(p0 < 1.0) || (double)x <= p0 * (double)n)
        return false;
    if (p0 <= 0.0)
        return true;
    /* P(X >= x) = P(X > x - 1). GSL takes unsigned int counts: beyond
     * them, the normal approximation is exact enough. */
    if (n <= 4000000000u)
        return gsl_cdf_binomial_Q((unsigned)(x - 1), p0, (unsigned)n) < a;
    double mu = p0 * (double)n, sd = sqrt(mu * (1.0 - p0));
    return gsl_cdf_ugaussian_Q(((double)x - 0.5 - mu) / sd) < a;
}

/* The levels the quality rates are tested against (see drift.h). */
static void quality_levels(const dw_column_result *r, const dw_thresholds *t, double a, double *oor,
                           double *unseen)
{
    double n = r->ref ? (double)r->ref->count : 0.0;
    *oor = *unseen = INFINITY;
    if (t->out_of_range_rate > 0 && n > 0) {
        /* Beyond the maximum of n draws lies a mass >= x with probability
         * (1 - x)^n <= exp(-n x): each tail is below ln(2 / a) / n except
         * with probability a / 2. */
        double allow = 2.0 * log(2.0 / a) / n;
        *oor = allow > t->out_of_range_rate ? allow : t->out_of_range_rate;
    }
    if (t->unseen_rate > 0 && n > 0) {
        /* A category absent from n rows has a share below ln(1 / a) / n
         * with probability 1 - a (3 / n at 95 %); rare values pooled into
         * "other" may also come back as unseen. */
        double allow = ((double)r->ref->other_count + log(1.0 / a)) / n; /* n > 0: ref set */
        *unseen = allow > t->unseen_rate ? allow : t->unseen_rate;
    }
}

static void quality_decide(dw_column_result *r, const dw_thresholds *t, double a)
{
    const dw_quality *q = &r->quality;
    uint64_t valid = r->count;
    double miss_level = q->ref_missing_rate + t->missing_rate_delta;
    double oor, unseen;
    quality_levels(r, t, a, &oor, &unseen);
    uint64_t oor_n = (uint64_t)llround(q->out_of_range_rate * (double)valid);
    uint64_t unseen_n = (uint64_t)llround(q->unseen_rate * (double)valid);
    unsigned why = 0;
    if (q->total >= t->min_samples) {
        if (share_above(r->missing, q->total, miss_level, a))
            why |= DW_QUALITY_MISSING;
        if (share_above(q->type_errors, q->total, t->type_error_rate, a))
            why |= DW_QUALITY_TYPE_ERRORS;
        if (r->type == DW_COL_NUMERIC && share_above(oor_n, valid, oor, a))
            why |= DW_QUALITY_OUT_OF_RANGE;
        if (r->type == DW_COL_CATEGORICAL && share_above(unseen_n, valid, unseen, a))
            why |= DW_QUALITY_UNSEEN;
    }
    r->quality_reasons = why;
    r->quality_issue = why != 0;
    /* Hysteresis: a quality alert resolves only once every rate is back to
     * half its level, so a rate hovering at the level does not flap. */
    r->quality_clear = q->missing_rate <= q->ref_missing_rate + 0.5 * t->missing_rate_delta &&
                       q->type_error_rate <= 0.5 * t->type_error_rate &&
                       q->out_of_range_rate <= 0.5 * oor && q->unseen_rate <= 0.5 * unseen;
}

/* clang-format off */
const char *const dw_threshold_keys[DW_THRESHOLD_NKEYS] = {
    "alpha", "psi", "ks", "min_samples", "missing_rate_delta", "type_error_rate",
    "out_of_range_rate", "unseen_rate", "false_alarms_per_week"};
/* clang-format on */

/* Ranges, in dw_threshold_keys order: lo < x (lo_open) or lo <= x; x < hi
 * (hi_open) or x <= hi. min_samples is an integer; the others are doubles
 * at off. */
static const struct {
    double lo, hi;
    bool lo_open, hi_open;
    size_t off;
} ranges[DW_THRESHOLD_NKEYS] = {
    {0, 1, true, true, offsetof(dw_thresholds, alpha)},
    {0, INFINITY, false, false, offsetof(dw_thresholds, psi_threshold)},
    {0, 1, false, false, offsetof(dw_thresholds, ks_threshold)},
    {1, 1e12, false, false, offsetof(dw_thresholds, min_samples)},
    {0, 1, false, false, offsetof(dw_thresholds, missing_rate_delta)},
    {0, 1, false, false, offsetof(dw_thresholds, type_error_rate)},
    {0, 1, false, false, offsetof(dw_thresholds, out_of_range_rate)},
    {0, 1, false, false, offsetof(dw_thresholds, unseen_rate)},
    {0, INFINITY, false, false, offsetof(dw_thresholds, false_alarms_per_week)},
};
enum { MIN_SAMPLES = 3 };

int dw_threshold_index(const char *key)
{
    for (int i = 0; i < DW_THRESHOLD_NKEYS; i++)
        if (strcmp(dw_threshold_keys[i], key) == 0)
            return i;
    return -1;
}

static double *real_field(dw_thresholds *t, int i)
{
    return (double *)(void *)((char *)t + ranges[i].off);
}

const char *dw_thresholds_set(dw_thresholds *t, int i, const char *value, char *why, size_t len)
{
    if (i == MIN_SAMPLES) {
        int64_t n;
        const char *bad =
            dw_number_parse_int(value, (int64_t)ranges[i].lo, (int64_t)ranges[i].hi, &n, why, len);
        if (!bad)
            t->min_samples = (uint64_t)n;
        return bad;
    }
    return dw_number_parse_double(value, ranges[i].lo, ranges[i].lo_open, ranges[i].hi,
                                  ranges[i].hi_open, real_field(t, i), why, len);
}

void dw_thresholds_copy(dw_thresholds *dst, const dw_thresholds *src, int i)
{
    if (i == MIN_SAMPLES)
        dst->min_samples = src->min_samples;
    else if (i >= 0 && i < DW_THRESHOLD_NKEYS)
        *real_field(dst, i) = *real_field((dw_thresholds *)src, i);
}

void dw_column_evaluate(const dw_sample *cur, dw_column_result *out)
{
    memset(out, 0, sizeof *out);
    out->ref = cur->ref;
    out->type = cur->ref->type;
    out->count = dw_sample_count(cur);
    out->missing = cur->missing;
    out->p_value = 1.0;
    out->p_adjusted = 1.0;
    dw_quality_compute(cur, &out->quality);
    /* An empty side gives the documented neutral results (PSI 0, p 1); the
     * DW_ERR_EMPTY codes carry no further information here. */
    (void)dw_psi_buckets(cur, &out->psi, &out->psi_buckets);
    if (out->type == DW_COL_NUMERIC) {
        out->has_ks = true;
        (void)dw_ks(cur, &out->ks);
        out->p_value = out->ks.p_value;
    } else {
        out->has_chi2 = true;
        (void)dw_chi2(cur, &out->chi2);
        out->p_value = out->chi2.p_value;
    }
}

static bool effect_clears(const dw_column_result *r, const dw_thresholds *t)
{
    bool any = false, hit = false;
    if (t->psi_threshold > 0) {
        any = true;
        hit = hit || (r->psi >= t->psi_threshold && r->psi >= r->psi_critical);
    }
    if (r->has_ks && t->ks_threshold > 0) {
        any = true;
        hit = hit || (r->ks.statistic >= t->ks_threshold && r->ks.statistic >= r->ks_critical);
    }
    /* With every effect criterion disabled only significance decides. */
    return any ? hit : true;
}

size_t dw_drift_decide(dw_column_result *res, size_t n, const dw_thresholds *th, size_t th_stride)
{
    if (n == 0)
        return 0;
    /* The BH family is the columns with enough samples: selection by sample
     * size does not depend on the p-values, so it keeps BH valid, and
     * untestable columns do not dilute the others. */
    double *p = dw_malloc(n * sizeof *p);
    size_t *which = dw_malloc(n * sizeof *which);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const dw_thresholds *t = &th[i * th_stride];
        res[i].enough_samples = res[i].count >= t->min_samples;
        res[i].p_adjusted = 1.0;
        if (res[i].enough_samples) {
            p[m] = res[i].p_value;
            which[m++] = i;
        }
    }
    dw_fdr_bh(p, p, m);
    for (size_t j = 0; j < m; j++)
        res[which[j]].p_adjusted = p[j];
    free(p);
    free(which);

    size_t drifting = 0;
    quantile_cache qc = {-1.0, 0.0, -1.0, 0.0, 0};
    for (size_t i = 0; i < n; i++) {
        dw_column_result *r = &res[i];
        const dw_thresholds *t = &th[i * th_stride];
        double a = column_alpha(t);
        /* The distribution tests of the column (window and recent
         * segments) share a by a union bound; quality tests use all of it. */
        critical_values(r, r->tests > 1 ? a / (double)r->tests : a, &qc);
        r->significant = r->enough_samples && r->p_adjusted < t->alpha;
        r->effect = effect_clears(r, t);
        r->drift = r->enough_samples && r->significant && r->effect;
        quality_decide(r, t, a);
        drifting += r->drift;
    }
    return drifting;
}

size_t dw_drift_absent(const dw_column_result *res, size_t n, const bool *ignored, size_t *first)
{
    size_t absent = 0, evaluated = 0;
    for (size_t j = 0; j < n; j++) {
        if (ignored && ignored[j])
            continue;
        evaluated++;
        if (res[j].count == 0 && res[j].missing > 0 && !absent++)
            *first = j;
    }
    return absent * 2 > evaluated ? absent : 0;
}

/* Model performance counters and metrics (see perf.h). */
#include "driftwatch/perf.h"

#include "driftwatch/error.h"
#include "perf_int.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Counter layout. Classification: */
enum {
    C_N,          /* labelled records */
    C_UNLABELLED, /* predictions that never got a label */
    C_REJECTED,   /* invalid scores / regression values */
    C_SCORED,     /* records with a valid score */
    C_TP,
    C_FP,
    C_FN,
    C_TN,
    C_CORRECT,
    C_BRIER,                               /* sum of (p - y)^2, unit fixed point */
    C_BRIER2 = C_BRIER + DW_FX_UNIT_LIMBS, /* sum of (p - y)^4 */
    C_HIST = C_BRIER2 + DW_FX_UNIT_LIMBS,  /* positives per score bin, then negatives */
};
/* Per ECE bin: count, positives, sum of scores (unit fixed point). */
enum { E_COUNT, E_POS, E_SUMP, E_WIDTH = E_SUMP + DW_FX_UNIT_LIMBS };

/* Regression: errors e = predicted - actual with |e| < 2^31. e, |e| and e^2
 * (< 2^62) fit four limbs at 2^-64 resolution; e^4 (< 2^124) five limbs at
 * 2^-32, which is only used for the RMSE interval. */
#define REG_LIMBS 4
#define REG_FRAC 64
#define REG4_LIMBS 5
#define REG4_FRAC 32
#define REG_MAX_ERROR 2147483648.0 /* 2^31 */
enum {
    R_N,
    R_UNLABELLED,
    R_REJECTED,
    R_SUM = 3,
    R_ABS = R_SUM + REG_LIMBS,
    R_SQ = R_ABS + REG_LIMBS,
    R_E4 = R_SQ + REG_LIMBS,
    R_WIDTH = R_E4 + REG4_LIMBS,
};

/* dw_perf_add_unlabelled() and the rejected count do not look at the kind. */
_Static_assert((int)C_UNLABELLED == (int)R_UNLABELLED && (int)C_REJECTED == (int)R_REJECTED,
               "shared counters at the same place in both layouts");

struct dw_perf {
    dw_perf_kind kind;
    uint32_t bins;     /* score histogram bins */
    uint32_t ece_bins; /* calibration bins */
    size_t ece_base;   /* first ECE counter */
    size_t width;
};

dw_perf *dw_perf_new(const dw_perf_spec *spec, char *errbuf, size_t errlen)
{
    if (!spec || (spec->kind != DW_PERF_CLASSIFICATION && spec->kind != DW_PERF_REGRESSION)) {
        dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                  "performance: kind must be classification or regression");
        return NULL;
    }
    uint32_t bins = spec->score_bins ? spec->score_bins : DW_PERF_DEFAULT_SCORE_BINS;
    uint32_t ece = spec->ece_bins ? spec->ece_bins : DW_PERF_DEFAULT_ECE_BINS;
    if (bins > DW_PERF_MAX_BINS || ece > DW_PERF_MAX_BINS) {
        dw_seterr(errbuf, errlen, DW_ERR_LIMIT,
                  "performance: score_bins %u and ece_bins %u must be at most %u", bins, ece,
                  DW_PERF_MAX_BINS);
        return NULL;
    }
    dw_perf *p = dw_calloc(1, sizeof *p);
    p->kind = spec->kind;
    if (spec->kind == DW_PERF_CLASSIFICATION) {
        p->bins = bins;
        p->ece_bins = ece;
        p->ece_base = C_HIST + 2 * (size_t)bins;
        p->width = p->ece_base + (size_t)E_WIDTH * ece;
    } else {
        p->width = R_WIDTH;
    }
    return p;
}

void dw_perf_free(dw_perf *p)
{
    free(p);
}

dw_perf_kind dw_perf_get_kind(const dw_perf *p)
{
    return p->kind;
}

size_t dw_perf_width(const dw_perf *p)
{
    return p->width;
}

uint32_t dw_perf_score_bins(const dw_perf *p)
{
    return p->bins;
}

long dw_perf_score_bin(double score, uint32_t bins)
{
    if (!(score >= 0.0 && score <= 1.0) || bins == 0)
        return -1;
    long b = (long)floor(score * bins);
    return b >= (long)bins ? (long)bins - 1 : b;
}

void dw_perf_add_class(const dw_perf *p, uint64_t *c, const dw_perf_obs *o)
{
    if (p->kind != DW_PERF_CLASSIFICATION) {
        c[C_REJECTED]++;
        return;
    }
    c[C_N]++;
    c[C_CORRECT] += o->correct;
    if (o->predicted_positive)
        c[o->actual_positive ? C_TP : C_FP]++;
    else
        c[o->actual_positive ? C_FN : C_TN]++;
    if (!o->has_score)
        return;
    long b = dw_perf_score_bin(o->score, p->bins);
    if (b < 0) {
        c[C_REJECTED]++;
        return;
    }
    c[C_SCORED]++;
    double y = o->actual_positive ? 1.0 : 0.0;
    double s = (o->score - y) * (o->score - y);
    dw_fx_add(c + C_BRIER, DW_FX_UNIT_LIMBS, DW_FX_UNIT_FRAC, s);
    dw_fx_add(c + C_BRIER2, DW_FX_UNIT_LIMBS, DW_FX_UNIT_FRAC, s * s);
    c[C_HIST + (o->actual_positive ? 0 : p->bins) + (size_t)b]++;
    uint64_t *e =
        c + p->ece_base + (size_t)E_WIDTH * (size_t)dw_perf_score_bin(o->score, p->ece_bins);
    e[E_COUNT]++;
    e[E_POS] += o->actual_positive;
    dw_fx_add(e + E_SUMP, DW_FX_UNIT_LIMBS, DW_FX_UNIT_FRAC, o->score);
}

void dw_perf_add_reg(const dw_perf *p, uint64_t *c, double predicted, double actual)
{
    double e = predicted - actual;
    if (p->kind != DW_PERF_REGRESSION || !isfinite(e) || fabs(e) >= REG_MAX_ERROR) {
        c[R_REJECTED]++;
        return;
    }
    c[R_N]++;
    dw_fx_add(c + R_SUM, REG_LIMBS, REG_FRAC, e);
    dw_fx_add(c + R_ABS, REG_LIMBS, REG_FRAC, fabs(e));
    dw_fx_add(c + R_SQ, REG_LIMBS, REG_FRAC, e * e);
    dw_fx_add(c + R_E4, REG4_LIMBS, REG4_FRAC, (e * e) * (e * e));
}

void dw_perf_add_unlabelled(const dw_perf *p, uint64_t *c)
{
    (void)p;
    c[C_UNLABELLED]++;
}

void dw_perf_merge(const dw_perf *p, uint64_t *dst, const uint64_t *src)
{
    for (size_t i = 0; i < p->width; i++)
        dst[i] += src[i];
}

void dw_perf_unmerge(const dw_perf *p, uint64_t *dst, const uint64_t *src)
{
    for (size_t i = 0; i < p->width; i++)
        dst[i] -= src[i];
}

double dw_perf_z(double confidence)
{
    return gsl_cdf_ugaussian_Pinv(0.5 + confidence / 2.0);
}

static const dw_perf_value undefined = {NAN, NAN, NAN};

/* Wilson score interval of k successes in n trials (no continuity
 * correction: the same as scipy's binomtest(...).proportion_ci('wilson')). */
static dw_perf_value wilson(uint64_t k, uint64_t n, double z)
{
    if (n == 0)
        return undefined;
    double dn = (double)n, p = (double)k / dn, z2 = z * z;
    double center = (p + z2 / (2 * dn)) / (1 + z2 / dn);
    double half = z / (1 + z2 / dn) * sqrt(p * (1 - p) / dn + z2 / (4 * dn * dn));
    /* At k = 0 and k = n the bound is exactly 0 or 1; the closed form can
     * miss it by an ulp and leave the estimate outside its own interval. */
    double lo = k == 0 ? 0.0 : fmax(0.0, center - half);
    double hi = k == n ? 1.0 : fmin(1.0, center + half);
    return (dw_perf_value){p, lo, hi};
}

/* Normal interval of a mean from n, sum and sum of squares. */
static dw_perf_value mean_interval(double n, double sum, double sumsq, double z)
{
    if (n <= 0)
        return undefined;
    double mean = sum / n;
    if (n < 2)
        return (dw_perf_value){mean, NAN, NAN};
    double var = fmax(0.0, (sumsq - n * mean * mean) / (n - 1));
    double half = z * sqrt(var / n);
    return (dw_perf_value){mean, mean - half, mean + half};
}

static double clamp01(double x)
{
    return fmin(1.0, fmax(0.0, x));
}

static void compute_class(const dw_perf *p, const uint64_t *c, double z, dw_perf_result *r)
{
    r->n = c[C_N];
    r->scored = c[C_SCORED];
    r->tp = c[C_TP];
    r->fp = c[C_FP];
    r->fn = c[C_FN];
    r->tn = c[C_TN];
    r->correct = c[C_CORRECT];
    r->m[DW_PERF_ACCURACY] = wilson(r->correct, r->n, z);
    r->m[DW_PERF_PRECISION] = wilson(r->tp, r->tp + r->fp, z);
    r->m[DW_PERF_RECALL] = wilson(r->tp, r->tp + r->fn, z);

    if (r->tp + r->fp + r->fn > 0) {
        double n = (double)r->n, a = (double)r->tp / n, bc = (double)(r->fp + r->fn) / n;
        double d = 2 * a + bc, f1 = 2 * a / d;
        /* Delta method: F1 is homogeneous of degree 0 in the cell shares,
         * so the mean-gradient term of the multinomial variance vanishes. */
        double ga = 2 * bc / (d * d), gbc = -2 * a / (d * d);
        double half = z * sqrt((ga * ga * a + gbc * gbc * bc) / n);
        r->m[DW_PERF_F1] = (dw_perf_value){f1, clamp01(f1 - half), clamp01(f1 + half)};
    }

    if (r->scored > 0) {
        double ns = (double)r->scored;
        double brier = dw_fx_value(c + C_BRIER, DW_FX_UNIT_LIMBS, DW_FX_UNIT_FRAC);
        double brier2 = dw_fx_value(c + C_BRIER2, DW_FX_UNIT_LIMBS, DW_FX_UNIT_FRAC);
        dw_perf_value b = mean_interval(ns, brier, brier2, z);
        if (!isnan(b.lo)) {
            b.lo = clamp01(b.lo);
            b.hi = clamp01(b.hi);
        }
        r->m[DW_PERF_BRIER] = b;

        double ece = 0;
        for (uint32_t i = 0; i < p->ece_bins; i++) {
            const uint64_t *e = c + p->ece_base + (size_t)E_WIDTH * i;
            if (e[E_COUNT] == 0)
                continue;
            double sump = dw_fx_value(e + E_SUMP, DW_FX_UNIT_LIMBS, DW_FX_UNIT_FRAC);
            ece += fabs(sump - (double)e[E_POS]);
        }
        r->m[DW_PERF_ECE] = (dw_perf_value){ece / ns, NAN, NAN};
    }

    /* AUC from the per-class score histograms: a pair in different bins is
     * ordered exactly, a pair in the same bin counts 1/2 (exact for true ties,
     * the only approximation otherwise, bounded by auc_bound). */
    const uint64_t *pos = c + C_HIST, *neg = c + C_HIST + p->bins;
    double npos = 0, nneg = 0;
    for (uint32_t i = 0; i < p->bins; i++) {
        npos += (double)pos[i];
        nneg += (double)neg[i];
    }
    if (npos > 0 && nneg > 0) {
        double below = 0, num = 0, same = 0;
        for (uint32_t i = 0; i < p->bins; i++) {
            num += (double)pos[i] * (below + 0.5 * (double)neg[i]);
            same += (double)pos[i] * (double)neg[i];
            below += (double)neg[i];
        }
        double auc = num / (npos * nneg);
        r->auc_bound = 0.5 * same / (npos * nneg);
        double q1 = auc / (2 - auc), q2 = 2 * auc * auc / (1 + auc);
        double var =
            (auc * (1 - auc) + (npos - 1) * (q1 - auc * auc) + (nneg - 1) * (q2 - auc * auc)) /
            (npos * nneg);
        double half = z * sqrt(fmax(0.0, var)) + r->auc_bound;
        r->m[DW_PERF_AUC] = (dw_perf_value){auc, clamp01(auc - half), clamp01(auc + half)};
    }
}

static void compute_reg(const uint64_t *c, double z, dw_perf_result *r)
{
    r->n = c[R_N];
    if (r->n == 0)
        return;
    double n = (double)r->n;
    double sum = dw_fx_value(c + R_SUM, REG_LIMBS, REG_FRAC);
    double abs = dw_fx_value(c + R_ABS, REG_LIMBS, REG_FRAC);
    double sq = dw_fx_value(c + R_SQ, REG_LIMBS, REG_FRAC);
    double e4 = dw_fx_value(c + R_E4, REG4_LIMBS, REG4_FRAC);
    r->m[DW_PERF_BIAS] = mean_interval(n, sum, sq, z);
    dw_perf_value mae = mean_interval(n, abs, sq, z);
    if (!isnan(mae.lo))
        mae.lo = fmax(0.0, mae.lo);
    r->m[DW_PERF_MAE] = mae;
    dw_perf_value mse = mean_interval(n, sq, e4, z);
    r->m[DW_PERF_RMSE] = (dw_perf_value){sqrt(mse.value), sqrt(fmax(0.0, mse.lo)), sqrt(mse.hi)};
    if (isnan(mse.lo))
        r->m[DW_PERF_RMSE].lo = NAN;
}

int dw_perf_compute(const dw_perf *p, const uint64_t *c, double confidence, dw_perf_result *out)
{
    if (!(confidence > 0.0 && confidence < 1.0))
        return DW_ERR_INVALID;
    memset(out, 0, sizeof *out);
    out->kind = p->kind;
    for (int i = 0; i < DW_PERF_METRIC_COUNT; i++)
        out->m[i] = undefined;
    out->auc_bound = NAN;
    out->unlabelled = c[C_UNLABELLED];
    out->rejected = c[C_REJECTED];
    double z = dw_perf_z(confidence);
    if (p->kind == DW_PERF_CLASSIFICATION)
        compute_class(p, c, z, out);
    else
        compute_reg(c, z, out);
    out->coverage =
        out->n + out->unlabelled ? (double)out->n / (double)(out->n + out->unlabelled) : NAN;
    return DW_OK;
}

bool dw_perf_higher_is_better(dw_perf_metric m)
{
    return m <= DW_PERF_AUC;
}

bool dw_perf_worse(dw_perf_metric m, const dw_perf_value *v, double reference, double margin)
{
    if (isnan(v->value) || isnan(v->lo) || isnan(v->hi) || isnan(reference) || isnan(margin))
        return false;
    if (m == DW_PERF_BIAS) {
        double limit = fabs(reference) + margin;
        return v->lo > limit || v->hi < -limit;
    }
    if (dw_perf_higher_is_better(m))
        return v->hi < reference - margin;
    return v->lo > reference + margin;
}

static const char *const metric_names[DW_PERF_METRIC_COUNT] = {
    "accuracy", "precision", "recall", "f1", "auc", "brier", "ece", "mae", "rmse", "bias",
};

const char *dw_perf_metric_name(dw_perf_metric m)
{
    return (unsigned)m < DW_PERF_METRIC_COUNT ? metric_names[m] : "unknown";
}

int dw_perf_metric_parse(const char *name, dw_perf_metric *out)
{
    for (int i = 0; i < DW_PERF_METRIC_COUNT; i++)
        if (strcmp(name, metric_names[i]) == 0) {
            *out = (dw_perf_metric)i;
            return DW_OK;
        }
    return DW_ERR_NOT_FOUND;
}

dw_perf_kind dw_perf_metric_kind(dw_perf_metric m)
{
    return m >= DW_PERF_MAE ? DW_PERF_REGRESSION : DW_PERF_CLASSIFICATION;
}

/* Confidence-based performance estimation (see cbpe.h). */
#include "driftwatch/cbpe.h"

#include "driftwatch/error.h"
#include "perf_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define U DW_FX_UNIT_LIMBS
#define UF DW_FX_UNIT_FRAC

/* Counter layout: totals, then per score bin a count and a sum of scores. */
enum {
    K_N,
    K_REJECTED,
    K_NPOS,                      /* predicted positive */
    K_SUMP_POS,                  /* sum of p over predicted positives */
    K_SUMP_NEG = K_SUMP_POS + U, /* sum of p over predicted negatives */
    K_SUMC2 = K_SUMP_NEG + U,    /* sum of c^2, c = probability of being correct */
    K_HIST = K_SUMC2 + U,
};
enum { H_COUNT, H_SUMP, H_WIDTH = H_SUMP + U };

struct dw_cbpe {
    uint32_t bins;
    size_t width;
};

dw_cbpe *dw_cbpe_new(uint32_t bins, char *errbuf, size_t errlen)
{
    if (bins == 0)
        bins = DW_PERF_DEFAULT_SCORE_BINS;
    if (bins > DW_PERF_MAX_BINS) {
        dw_seterr(errbuf, errlen, DW_ERR_LIMIT,
                  "performance estimation: score_bins %u must be at most %u", bins,
                  DW_PERF_MAX_BINS);
        return NULL;
    }
    dw_cbpe *e = dw_calloc(1, sizeof *e);
    e->bins = bins;
    e->width = K_HIST + (size_t)H_WIDTH * bins;
    return e;
}

void dw_cbpe_free(dw_cbpe *e)
{
    free(e);
}

size_t dw_cbpe_width(const dw_cbpe *e)
{
    return e->width;
}

void dw_cbpe_add(const dw_cbpe *e, uint64_t *c, double score, bool predicted_positive)
{
    long b = dw_perf_score_bin(score, e->bins);
    if (b < 0) {
        c[K_REJECTED]++;
        return;
    }
    c[K_N]++;
    double correct = predicted_positive ? score : 1.0 - score;
    if (predicted_positive) {
        c[K_NPOS]++;
        dw_fx_add(c + K_SUMP_POS, U, UF, score);
    } else {
        dw_fx_add(c + K_SUMP_NEG, U, UF, score);
    }
    dw_fx_add(c + K_SUMC2, U, UF, correct * correct);
    uint64_t *h = c + K_HIST + (size_t)H_WIDTH * (size_t)b;
    h[H_COUNT]++;
    dw_fx_add(h + H_SUMP, U, UF, score);
}

static dw_perf_value point(double num, double den)
{
    return (dw_perf_value){den > 0 ? num / den : NAN, NAN, NAN};
}

int dw_cbpe_compute(const dw_cbpe *e, const uint64_t *c, double confidence, dw_cbpe_result *out)
{
    if (!(confidence > 0.0 && confidence < 1.0))
        return DW_ERR_INVALID;
    memset(out, 0, sizeof *out);
    out->n = c[K_N];
    out->rejected = c[K_REJECTED];
    double n = (double)out->n, npos = (double)c[K_NPOS];
    out->exp_tp = dw_fx_value(c + K_SUMP_POS, U, UF);
    out->exp_fp = npos - out->exp_tp;
    out->exp_fn = dw_fx_value(c + K_SUMP_NEG, U, UF);
    out->exp_tn = (n - npos) - out->exp_fn;

    out->accuracy = point(out->exp_tp + out->exp_tn, n);
    if (n > 0) {
        /* Var(realised accuracy) = sum c(1-c) / n^2 = (sum c - sum c^2) / n^2 */
        double sumc = out->exp_tp + out->exp_tn;
        double sumc2 = dw_fx_value(c + K_SUMC2, U, UF);
        double half = dw_perf_z(confidence) * sqrt(fmax(0.0, sumc - sumc2)) / n;
        out->accuracy.lo = fmax(0.0, out->accuracy.value - half);
        out->accuracy.hi = fmin(1.0, out->accuracy.value + half);
    }
    out->precision = point(out->exp_tp, out->exp_tp + out->exp_fp);
    out->recall = point(out->exp_tp, out->exp_tp + out->exp_fn);
    out->f1 = point(2 * out->exp_tp, 2 * out->exp_tp + out->exp_fp + out->exp_fn);

    /* Expected ROC: record i is a positive with weight p_i, a negative with
     * weight 1 - p_i; same-bin pairs count 1/2 as in perf.c. */
    double wpos = 0, wneg = 0, below = 0, num = 0;
    for (uint32_t i = 0; i < e->bins; i++) {
        const uint64_t *h = c + K_HIST + (size_t)H_WIDTH * i;
        if (h[H_COUNT] == 0)
            continue;
        double p = dw_fx_value(h + H_SUMP, U, UF), q = (double)h[H_COUNT] - p;
        num += p * (below + 0.5 * q);
        below += q;
        wpos += p;
        wneg += q;
    }
    out->auc = point(num, wpos * wneg);
    return DW_OK;
}

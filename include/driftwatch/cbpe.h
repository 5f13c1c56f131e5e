/* Confidence-based performance estimation (CBPE, the idea NannyML
 * popularised): the expected performance of a binary classifier from its
 * own calibrated scores, before any label arrives.
 *
 * If the score p = P(positive | x) is calibrated, a prediction of the
 * positive class is correct with probability p and one of the negative
 * class with probability 1 - p. Summing these over a window gives the
 * expected confusion matrix
 *     E[TP] = sum_{predicted +} p        E[FP] = sum_{predicted +} (1 - p)
 *     E[FN] = sum_{predicted -} p        E[TN] = sum_{predicted -} (1 - p)
 * hence the expected accuracy (exact expectation), and precision, recall
 * and F1 as ratios of expectations (what CBPE reports; the ratio's own
 * expectation differs by O(1/n)). Expected ROC AUC is the AUC of the
 * expected ROC curve: every record counts p as a positive and 1 - p as a
 * negative in a fine score histogram (same bins and tie rule as perf.h).
 *
 * The estimate is only as good as the calibration: it assumes the scores
 * stay calibrated on the serving data (no concept shift). Where the labels
 * disagree with it once they arrive, the calibration (or the concept) moved:
 * show both, as the gap is itself the signal.
 *
 * Accuracy interval: the realised accuracy of n predictions with correct
 * probabilities c_i has mean sum c_i / n and variance sum c_i (1 - c_i) / n^2;
 * accuracy.lo/hi is the normal interval around the estimate within which
 * the realised accuracy should fall if calibration holds.
 *
 * Like perf.h this is a counter layout: counters live in the caller's
 * panes (dw_cbpe_width() uint64 each), add/subtract exactly, and are
 * turned into estimates by dw_cbpe_compute(). Every prediction is counted
 * when it is made, labelled or not. A dw_cbpe is immutable after
 * dw_cbpe_new() (any thread may use it). */
#ifndef DRIFTWATCH_CBPE_H
#define DRIFTWATCH_CBPE_H

#include "driftwatch/perf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dw_cbpe dw_cbpe;

typedef struct dw_cbpe_result {
    uint64_t n;        /* predictions with a valid score */
    uint64_t rejected; /* NaN or out-of-[0,1] scores */
    double exp_tp, exp_fp, exp_fn, exp_tn;
    /* value (NaN when undefined); lo/hi only for accuracy */
    dw_perf_value accuracy, precision, recall, f1, auc;
} dw_cbpe_result;

/* bins: score histogram bins for the AUC (0 = DW_PERF_DEFAULT_SCORE_BINS).
 * NULL with a sentence in errbuf when bins > DW_PERF_MAX_BINS. */
dw_cbpe *dw_cbpe_new(uint32_t bins, char *errbuf, size_t errlen);
void dw_cbpe_free(dw_cbpe *e);
size_t dw_cbpe_width(const dw_cbpe *e);

/* Count one prediction: score = P(positive), predicted_positive = the
 * class the model output (score >= threshold for a plain binary model). */
void dw_cbpe_add(const dw_cbpe *e, uint64_t *c, double score, bool predicted_positive);

/* Estimates of counters c at level confidence (0 < confidence < 1);
 * DW_ERR_INVALID for a bad confidence. */
int dw_cbpe_compute(const dw_cbpe *e, const uint64_t *c, double confidence, dw_cbpe_result *out);

#endif

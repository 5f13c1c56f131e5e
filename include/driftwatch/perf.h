/* Model performance from labelled predictions, as mergeable window counters.
 *
 * A dw_perf is a counter *layout* (like a model's column layout): it says
 * how many uint64 counters one window pane needs (dw_perf_width()) and how a
 * labelled record updates them (dw_perf_add_class(), dw_perf_add_reg()).
 * The counters themselves belong to the caller, normally a pane of a
 * dw_window, so performance slides exactly like the drift counts: add the
 * new pane, subtract the expired one. Real-valued sums are kept as exact
 * fixed-point integers split over several counters, so adding and
 * subtracting panes never accumulates rounding error (perf_int.h).
 * dw_perf_compute() turns a counter array (one pane, or a window's sum)
 * into metrics with confidence intervals.
 *
 * Classification (binary view with a configured positive class):
 *   accuracy, precision, recall, F1 (of the positive class), ROC AUC, Brier
 *   score and expected calibration error (ECE) of the positive-class score.
 *   The score is the predicted probability of the positive class, in [0,1].
 *   AUC comes from a histogram of scores per class with `score_bins` equal
 *   bins; pairs in the same bin count as ties (1/2), so the histogram AUC
 *   differs from the exact one by at most
 *       auc_bound = 1/2 * sum_b pos_b * neg_b / (P * N)
 *   which is reported with every result (about 1/(2*bins) for scores spread
 *   over [0,1]; 0.0005 with the default 1000 bins).
 *   ECE = sum_b |sum of scores in b - positives in b| / n over `ece_bins`
 *   equal-width bins of [0,1] (bin of p: floor(p * bins), 1.0 in the last).
 * Regression: MAE, RMSE and bias (mean of prediction - actual).
 *
 * Undefined metrics are NaN, never 0: precision without predicted
 * positives, recall or F1 without any positive, AUC with one class only,
 * everything of an empty window. (scikit-learn reports 0 with a warning for
 * the first three; a monitor must not alert on an undefined value.)
 *
 * Confidence intervals (two-sided, level `confidence`, all analytic):
 *   accuracy, precision, recall: Wilson score interval;
 *   F1: normal interval, delta method over the multinomial (TP, FP, FN, TN);
 *   AUC: Hanley-McNeil standard error, widened by auc_bound on both sides;
 *   Brier, MAE, bias: normal interval of a mean (sample variance from the
 *     stored sums of squares);
 *   RMSE: normal interval of the MSE (variance from the stored sum of e^4),
 *     square-rooted (clamped at 0);
 *   ECE: none (lo = hi = NaN): no analytic interval, so no confidence
 *     rule can be built on it (dw_perf_worse() is always false for it).
 *
 * Threads: a dw_perf is immutable after dw_perf_new(), so any thread may
 * use it; the counters follow their owner's rule (one writer).
 *
 * Bounds: memory is dw_perf_width() counters per pane whatever the traffic;
 * at most 2^32 - 1 records per counter array (a window); regression errors
 * must satisfy |prediction - actual| < 2^31 (larger ones, and non-finite
 * values, are counted in `rejected` and otherwise ignored). */
#ifndef DRIFTWATCH_PERF_H
#define DRIFTWATCH_PERF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DW_PERF_DEFAULT_SCORE_BINS 1000u
#define DW_PERF_DEFAULT_ECE_BINS 10u
#define DW_PERF_MAX_BINS 100000u

typedef enum dw_perf_kind {
    DW_PERF_CLASSIFICATION = 1,
    DW_PERF_REGRESSION = 2,
} dw_perf_kind;

typedef enum dw_perf_metric {
    DW_PERF_ACCURACY = 0,
    DW_PERF_PRECISION,
    DW_PERF_RECALL,
    DW_PERF_F1,
    DW_PERF_AUC,
    DW_PERF_BRIER,
    DW_PERF_ECE,
    DW_PERF_MAE,
    DW_PERF_RMSE,
    DW_PERF_BIAS,
    DW_PERF_METRIC_COUNT
} dw_perf_metric;

typedef struct dw_perf_spec {
    dw_perf_kind kind;
    uint32_t score_bins; /* classification: AUC histogram bins; 0 = default */
    uint32_t ece_bins;   /* classification: calibration bins; 0 = default */
} dw_perf_spec;

/* One labelled classification record. */
typedef struct dw_perf_obs {
    bool predicted_positive; /* the model predicted the positive class */
    bool actual_positive;    /* the label is the positive class */
    bool correct;            /* predicted class == label (differs from
                                predicted_positive == actual_positive only
                                for multi-class models) */
    bool has_score;          /* score below is present */
    double score;            /* P(positive class), in [0,1] */
} dw_perf_obs;

typedef struct dw_perf_value {
    double value; /* NaN when undefined */
    double lo;    /* confidence interval; NaN when none */
    double hi;
} dw_perf_value;

typedef struct dw_perf_result {
    dw_perf_kind kind;
    uint64_t n;          /* labelled records */
    uint64_t unlabelled; /* predictions whose label never came (dw_perf_add_unlabelled) */
    uint64_t rejected;   /* records (or scores) that could not be counted */
    uint64_t scored;     /* classification: records with a valid score */
    uint64_t tp, fp, fn, tn, correct;
    double coverage;  /* n / (n + unlabelled); NaN when both are 0 */
    double auc_bound; /* |histogram AUC - exact AUC| <= auc_bound (NaN without AUC) */
    dw_perf_value m[DW_PERF_METRIC_COUNT]; /* metrics of the other kind are NaN */
} dw_perf_result;

typedef struct dw_perf dw_perf;

/* Creates a layout. Errors (bins above DW_PERF_MAX_BINS, unknown kind)
 * return NULL with a sentence in errbuf. The caller owns the result. */
dw_perf *dw_perf_new(const dw_perf_spec *spec, char *errbuf, size_t errlen);
void dw_perf_free(dw_perf *p);

dw_perf_kind dw_perf_get_kind(const dw_perf *p);
/* Number of uint64 counters of one pane (a constant of the layout). */
size_t dw_perf_width(const dw_perf *p);
uint32_t dw_perf_score_bins(const dw_perf *p);

/* Count one labelled record into counters c (dw_perf_width() of them). A
 * score that is NaN or outside [0,1] is counted in `rejected` and the
 * record still counts for accuracy/precision/recall/F1. */
void dw_perf_add_class(const dw_perf *p, uint64_t *c, const dw_perf_obs *o);
/* Count one regression record; non-finite or |error| >= 2^31 -> rejected. */
void dw_perf_add_reg(const dw_perf *p, uint64_t *c, double predicted, double actual);
/* Count one prediction that will never have a label (expired or evicted
 * from the join): it lowers coverage, no metric. */
void dw_perf_add_unlabelled(const dw_perf *p, uint64_t *c);

/* Pane arithmetic for callers without a dw_window (and the tests):
 * dst += src, dst -= src over width counters. */
void dw_perf_merge(const dw_perf *p, uint64_t *dst, const uint64_t *src);
void dw_perf_unmerge(const dw_perf *p, uint64_t *dst, const uint64_t *src);

/* Metrics and intervals of counters c at level confidence (0 < confidence
 * < 1, e.g. 0.95). Returns DW_ERR_INVALID for a bad confidence. */
int dw_perf_compute(const dw_perf *p, const uint64_t *c, double confidence, dw_perf_result *out);

/* "worse than the reference by more than margin, with confidence": for a
 * metric where higher is better, the interval's upper end is below
 * reference - margin; where lower is better, its lower end is above
 * reference + margin; for bias, the whole interval lies farther from 0
 * than |reference| + margin. False when the value or interval is NaN. */
bool dw_perf_worse(dw_perf_metric m, const dw_perf_value *v, double reference, double margin);

bool dw_perf_higher_is_better(dw_perf_metric m);
/* "accuracy", "precision", "recall", "f1", "auc", "brier", "ece", "mae",
 * "rmse", "bias". */
const char *dw_perf_metric_name(dw_perf_metric m);
/* Name -> metric; DW_ERR_NOT_FOUND for an unknown name. */
int dw_perf_metric_parse(const char *name, dw_perf_metric *out);
/* Which kind a metric belongs to. */
dw_perf_kind dw_perf_metric_kind(dw_perf_metric m);

/* Two-sided normal quantile for a confidence level: z with
 * P(|Z| <= z) = confidence (1.959964 for 0.95). Shared with cbpe.c. */
double dw_perf_z(double confidence);

/* The bin of a score in [0,1] among `bins` equal-width bins (1.0 goes into
 * the last); -1 for NaN or a score outside [0,1]. Shared with cbpe.c. */
long dw_perf_score_bin(double score, uint32_t bins);

#endif

/* A mergeable quantile sketch with bounded relative error, in the style of
 * DDSketch (Masson, Rim, Lee: "DDSketch: a fast and fully-mergeable quantile
 * sketch with relative-error guarantees", VLDB 2019), for latencies.
 *
 * Values x > 0 fall in logarithmic buckets: bucket i holds
 * (gamma^(i-1), gamma^i] with gamma = (1 + alpha) / (1 - alpha), and is
 * represented by 2 gamma^i / (gamma + 1), which is within a relative alpha
 * of every value of the bucket. Quantiles use numpy's default ("linear")
 * definition: rank q (n - 1) between the order statistics k = floor(rank)
 * and k + 1, so the estimate is within a relative alpha of
 * numpy.quantile(values, q) whatever the data (a convex combination of two
 * estimates each within alpha of its order statistic).
 *
 * Values in [0, DW_SKETCH_MIN_POSITIVE) count in a separate zero bucket and
 * are reported as 0 (latencies of 0 happen: a cached answer, a clock with
 * coarse resolution). Negative values, NaN, infinities and values above
 * DW_SKETCH_MAX_VALUE are refused: a latency cannot be negative, so the
 * caller counts them as type errors.
 *
 * Memory is constant: max_buckets counters whatever the data. When the
 * values span more than max_buckets buckets (a ratio of gamma^max_buckets
 * between the largest and the smallest positive value: about 6e17 for the
 * defaults), the lowest buckets are collapsed into one, as DDSketch does.
 * The effect: quantiles that fall in the collapsed bucket are reported as
 * that bucket's value, an overestimate of the true (smaller) values, and
 * lose the alpha guarantee; quantiles above it keep it. Collapsing keeps the
 * high quantiles, the ones latency SLOs are about. dw_sketch_collapsed()
 * and dw_sketch_floor() say whether and where it happened.
 *
 * Counts are integers, so a sketch can live in the panes of a sliding
 * window: dw_sketch_merge() adds a closed pane to the window's sum and
 * dw_sketch_subtract() removes the expiring one, exactly. Subtracting a
 * sketch that was merged before gives back the counts as if it had never
 * been merged (the collapsed bucket, if any, keeps the collapse), because
 * the collapse floor of a sketch only rises while it holds values.
 *
 * Single writer: the caller serialises calls on one sketch. */
#ifndef DRIFTWATCH_SKETCH_H
#define DRIFTWATCH_SKETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 1 % relative error on every quantile, the bound issue 13 asks for. */
#define DW_SKETCH_DEFAULT_ALPHA 0.01
/* 2048 buckets = 16 KiB per sketch; at alpha 0.01 they span a ratio of
 * about 6e17 between values before anything collapses. */
#define DW_SKETCH_DEFAULT_MAX_BUCKETS 2048
#define DW_SKETCH_MIN_ALPHA 1e-4
#define DW_SKETCH_MAX_ALPHA 0.5
#define DW_SKETCH_MIN_BUCKETS 16
#define DW_SKETCH_MAX_BUCKETS 65536
/* Values below this count as 0 (in the unit of the field, e.g. 1 fs for
 * milliseconds). */
#define DW_SKETCH_MIN_POSITIVE 1e-9
/* Larger values are refused, so that bucket values never overflow. */
#define DW_SKETCH_MAX_VALUE 1e300

typedef struct dw_sketch dw_sketch;

/* Creates an empty sketch with relative accuracy alpha in
 * [DW_SKETCH_MIN_ALPHA, DW_SKETCH_MAX_ALPHA] and max_buckets in
 * [DW_SKETCH_MIN_BUCKETS, DW_SKETCH_MAX_BUCKETS]. Returns 0 and the sketch
 * in *out (the caller frees it with dw_sketch_free()), or DW_ERR_INVALID
 * with a sentence in errbuf and *out = NULL. */
int dw_sketch_new(double alpha, size_t max_buckets, dw_sketch **out, char *errbuf, size_t errlen);

void dw_sketch_free(dw_sketch *s);

/* Bytes dw_sketch_new() allocates for max_buckets (for memory budgets). */
size_t dw_sketch_memory(size_t max_buckets);

/* Empties the sketch (and forgets any collapse). */
void dw_sketch_clear(dw_sketch *s);

/* Adds n occurrences of x. Returns 0, or DW_ERR_INVALID (nothing added) for
 * a negative, NaN, infinite or too large x. Never allocates. */
int dw_sketch_add_n(dw_sketch *s, double x, uint64_t n);

/* dw_sketch_add_n(s, x, 1). */
int dw_sketch_add(dw_sketch *s, double x);

/* Adds every count of src to dst. Both must have the same alpha and
 * max_buckets (DW_ERR_INVALID otherwise, dst unchanged). Never allocates. */
int dw_sketch_merge(dw_sketch *dst, const dw_sketch *src);

/* Removes the counts of src from dst, the inverse of a dw_sketch_merge()
 * of src into dst. Returns DW_ERR_INVALID, dst unchanged, if the settings
 * differ or src holds counts dst does not (it was never merged). */
int dw_sketch_subtract(dw_sketch *dst, const dw_sketch *src);

/* Number of values (zeros included). */
uint64_t dw_sketch_count(const dw_sketch *s);

/* The q-quantile (q in [0, 1]) in *out, within a relative alpha of
 * numpy.quantile(values, q) unless it falls in a collapsed bucket.
 * Returns 0, DW_ERR_INVALID for q outside [0, 1] or NaN, DW_ERR_EMPTY
 * (*out = 0) for an empty sketch. */
int dw_sketch_quantile(const dw_sketch *s, double q, double *out);

double dw_sketch_alpha(const dw_sketch *s);
size_t dw_sketch_max_buckets(const dw_sketch *s);

/* True when lower buckets were collapsed since the sketch last was empty. */
bool dw_sketch_collapsed(const dw_sketch *s);

/* When collapsed: the upper bound of the collapsed bucket (quantiles at or
 * below it may be overestimates); 0 otherwise. */
double dw_sketch_floor(const dw_sketch *s);

/* ---- fixed layout: a sketch inside a window's pane counters ----
 *
 * The same buckets over a fixed range [min_value, max_value], as
 * 1 + nbuckets plain counters: [zero, bucket(min_value) ..
 * bucket(max_value)]. That is the shape of the engine's pane layout
 * (model.h), so a latency sketch can sit next to the column counters and
 * slide, merge across replicas and travel in state deltas like them.
 * Values below min_value count in the lowest bucket (reported as about
 * min_value: an overestimate) and values above max_value in the highest
 * (an underestimate); inside the range the alpha bound holds. The range is
 * the memory: at alpha 0.01, 1 us .. 1e7 ms (10 decades) is 1153
 * counters. */
typedef struct dw_sketch_layout {
    double alpha, ln_gamma;
    int64_t first;   /* bucket index of counter 1 */
    size_t nbuckets; /* counters 1 .. nbuckets */
} dw_sketch_layout;

/* Latency defaults, in milliseconds. */
#define DW_SKETCH_DEFAULT_MIN_MS 0.001
#define DW_SKETCH_DEFAULT_MAX_MS 1e7

/* Fills *l for accuracy alpha over [min_value, max_value]. Returns 0, or
 * DW_ERR_INVALID with a sentence in errbuf (alpha out of range, a range
 * not within [DW_SKETCH_MIN_POSITIVE, DW_SKETCH_MAX_VALUE], or one that
 * needs more than DW_SKETCH_MAX_BUCKETS buckets). */
int dw_sketch_layout_init(dw_sketch_layout *l, double alpha, double min_value, double max_value,
                          char *errbuf, size_t errlen);

/* Counters of the layout: 1 + nbuckets. */
size_t dw_sketch_layout_width(const dw_sketch_layout *l);

/* The counter (0 .. width - 1) that value x increments, or -1 for a value
 * dw_sketch_add() refuses (the caller counts a type error). */
long dw_sketch_layout_slot(const dw_sketch_layout *l, double x);

/* Values counted in counts[0 .. width). */
uint64_t dw_sketch_layout_count(const dw_sketch_layout *l, const uint64_t *counts);

/* The q-quantile of counts[0 .. width) as dw_sketch_quantile() defines it.
 * Returns 0, DW_ERR_INVALID for q outside [0, 1], DW_ERR_EMPTY (*out 0)
 * when every counter is 0. */
int dw_sketch_layout_quantile(const dw_sketch_layout *l, const uint64_t *counts, double q,
                              double *out);

#endif

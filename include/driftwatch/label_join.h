/* The bounded join of predictions with their delayed labels.
 *
 * Predictions and labels are matched by a key (the record's request_id by
 * default; the caller extracts it). A prediction waits for its label until
 * the join's event-time clock passes its timestamp + max_delay; a label that
 * arrives first waits for its prediction until label time + max_early. Every
 * prediction leaves the join exactly once, through the emit callback:
 *
 *   DW_JOIN_MATCHED  its label arrived within max_delay (label != NULL);
 *   DW_JOIN_EXPIRED  no label within max_delay: never labelled;
 *   DW_JOIN_EVICTED  pushed out by the memory cap before either happened.
 *
 * A label is matched only when label.ts - prediction.ts <= max_delay, so the
 * outcome of a prediction depends on event times only, never on when the
 * clock happened to sweep: a window of prediction times ending at T is final
 * once the clock passes T + max_delay (provisional before).
 *
 * Memory: a fixed budget `memory_bytes`, allocated once in dw_label_join_new()
 * and never grown. It holds two FIFO rings (waiting predictions, and early
 * labels with `early_share` of the budget) and their hash indexes. When a
 * ring is full its oldest entry is evicted (counted) to make room. A matched
 * prediction stays in its ring as a small "joined" marker until its
 * deadline, so a second label for the same key is recognised as a duplicate
 * rather than parked as an orphan.
 *
 * Keys are identified by a 64-bit keyed hash (seeded per join from the
 * system's random source, so producers cannot aim collisions): two distinct
 * keys collide with probability about n^2 / 2^65 (3e-8 with a million
 * waiting); a collision makes one key look like the other.
 *
 * Counted (dw_join_stats): duplicates of predictions (the first is kept) and
 * of labels (the first wins), labels too late for a prediction still in
 * memory, orphan labels (waited max_early without a prediction: their
 * prediction was never seen, or had already left), evictions of either kind,
 * and label delay (label.ts - prediction.ts of every match; negative delays,
 * labels stamped before their prediction, count as 0 and are counted) in a
 * log-bucket histogram with relative quantile error <= 1 %.
 *
 * Clock: dw_label_join_advance(watermark) with the event-time watermark;
 * with two streams pass the smaller of their watermarks, so a lagging labels
 * stream does not expire predictions whose labels it still holds.
 *
 * Single writer: the caller serialises all calls. The callback runs inside
 * the call that caused it and must not call back into the join. */
#ifndef DRIFTWATCH_LABEL_JOIN_H
#define DRIFTWATCH_LABEL_JOIN_H

#include <stddef.h>
#include <stdint.h>

/* Budget floor: a join smaller than this is a configuration error. */
#define DW_JOIN_MIN_MEMORY (64u * 1024u)

typedef struct dw_join_config {
    int64_t max_delay_ms; /* > 0: how long a prediction waits for its label */
    int64_t max_early_ms; /* >= 0: how long a label waits for its prediction
                             (0 = max_delay_ms) */
    size_t memory_bytes;  /* >= DW_JOIN_MIN_MEMORY: the whole join's budget */
    double early_share;   /* share of the budget for early labels, in (0, 0.5]
                             (0 = 0.125) */
} dw_join_config;

/* What waits for a label: opaque to the join except ts_ms. */
typedef struct dw_join_pred {
    int64_t ts_ms; /* prediction event time */
    double score;  /* score or regression prediction */
    int32_t cls;   /* predicted class id (caller's numbering), or -1 */
    uint32_t tag;  /* caller's routing (e.g. model/version slot) */
} dw_join_pred;

typedef struct dw_join_label {
    int64_t ts_ms; /* label event time */
    double value;  /* regression target, or unused */
    int32_t cls;   /* label class id (caller's numbering), or -1 */
} dw_join_label;

typedef enum dw_join_outcome {
    DW_JOIN_MATCHED = 0,
    DW_JOIN_EXPIRED = 1,
    DW_JOIN_EVICTED = 2,
} dw_join_outcome;

/* label is NULL unless outcome is DW_JOIN_MATCHED. The pointers are valid
 * only during the call. */
typedef void (*dw_join_emit_fn)(void *ctx, dw_join_outcome outcome, const dw_join_pred *pred,
                                const dw_join_label *label);

typedef struct dw_join_stats {
    uint64_t predictions;         /* accepted (not duplicate) */
    uint64_t labels;              /* every label offered */
    uint64_t matched;             /* predictions joined to a label */
    uint64_t matched_early;       /* ... of which the label had arrived first */
    uint64_t expired;             /* predictions that never got a label */
    uint64_t evicted_predictions; /* waiting predictions pushed out by the cap */
    uint64_t duplicate_predictions;
    uint64_t duplicate_labels;
    uint64_t late_labels;         /* label.ts - prediction.ts > max_delay */
    uint64_t orphan_labels;       /* early labels that expired unmatched */
    uint64_t evicted_labels;      /* early labels pushed out by the cap */
    uint64_t negative_delays;     /* matches with label.ts < prediction.ts */
    uint64_t waiting_predictions; /* now in memory, not yet matched */
    uint64_t waiting_labels;      /* early labels now in memory */
    uint64_t prediction_capacity; /* ring sizes fixed by the budget */
    uint64_t label_capacity;
    size_t memory_bytes; /* bytes allocated, <= config memory_bytes */
} dw_join_stats;

typedef struct dw_label_join dw_label_join;

/* Creates a join. Invalid settings return NULL with a sentence in errbuf.
 * emit may not be NULL. The caller owns the result. */
dw_label_join *dw_label_join_new(const dw_join_config *cfg, dw_join_emit_fn emit, void *ctx,
                                 char *errbuf, size_t errlen);
/* Frees without emitting what still waits (see dw_label_join_flush()). */
void dw_label_join_free(dw_label_join *j);

/* A prediction with key[0..len). Emits MATCHED at once when its label is
 * already waiting, and EVICTED for the oldest waiting prediction when the
 * ring is full. Returns 0, or DW_ERR_INVALID for an empty key. */
int dw_label_join_prediction(dw_label_join *j, const char *key, size_t len,
                             const dw_join_pred *pred);
/* A label with key[0..len): matches its waiting prediction (MATCHED), or
 * waits for it. Returns 0, or DW_ERR_INVALID for an empty key. */
int dw_label_join_label(dw_label_join *j, const char *key, size_t len, const dw_join_label *label);

/* Moves the clock to watermark_ms (never backwards): predictions with
 * ts + max_delay < watermark are emitted EXPIRED, labels with ts + max_early
 * < watermark become orphans. The rings are swept from their oldest entry,
 * so an entry that arrived out of order may leave a little after its
 * deadline, never before; an entry stamped ahead of the clock (a record
 * from the future) is moved out of the way rather than holding back the
 * rest. Returns the number of predictions expired. */
size_t dw_label_join_advance(dw_label_join *j, int64_t watermark_ms);

/* End of input (replay): every waiting prediction is emitted EXPIRED and
 * every waiting label counted as an orphan. */
void dw_label_join_flush(dw_label_join *j);

void dw_label_join_stats(const dw_label_join *j, dw_join_stats *out);

/* Label delay quantile (q in [0,1]) over every match so far, in ms, within
 * 1 % relative error; NaN before the first match. */
double dw_label_join_delay_quantile(const dw_label_join *j, double q);

/* Share of the predictions that left the join with a label:
 * matched / (matched + expired + evicted); NaN before any left. */
double dw_label_join_coverage(const dw_label_join *j);

#endif

/* Alert delivery: a notifier thread that sends driftwatch's native
 * notification documents (docs/alerts.md) to the configured sinks.
 *
 * The engine calls dw_notifier_submit() once per model and evaluation; the
 * call never waits for the network: it puts the document into a bounded
 * queue per sink (when a queue is full the oldest document is dropped and
 * counted). The notifier thread delivers with libcurl's multi interface:
 * sinks run in parallel, one request per sink at a time so each sink sees
 * documents in order. Failed deliveries are retried per the policy in
 * dw_sink_classify_http() with capped exponential backoff and full jitter,
 * or after the receiver's Retry-After. */
#ifndef DRIFTWATCH_NOTIFIER_H
#define DRIFTWATCH_NOTIFIER_H

#include "driftwatch/retry.h"
#include "driftwatch/sink.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DW_NOTIFIER_MAX_SINKS 64

typedef struct dw_notifier dw_notifier;

/* Tuning and test hooks; zero fields mean the defaults. */
typedef struct dw_notifier_options {
    uint64_t rng_seed;       /* jitter seed; 0 = from the clock and pid */
    bool no_jitter;          /* delay = the backoff ceiling (deterministic tests) */
    int64_t backoff_base_ms; /* 0 = DW_BACKOFF_BASE_MS */
    int64_t backoff_cap_ms;  /* 0 = DW_BACKOFF_CAP_MS */
    bool start_paused;       /* queue but do not deliver until dw_notifier_resume() */

    /* Durable outbox (outbox.h): every queued document is first written to
     * <state_dir>/outbox/<sink>/, and what a previous run left there is
     * queued again at start. NULL = no outbox (documents live in memory
     * only). When state_dir is missing or not writable the notifier logs
     * one error and runs without the outbox (counted in outbox_errors). */
    const char *state_dir;

    /* Circuit breaker per sink; 0 = DW_BREAKER_THRESHOLD / _OPEN_MS /
     * _MAX_OPEN_MS. */
    unsigned breaker_threshold;
    int64_t breaker_open_ms;
    int64_t breaker_max_open_ms;
} dw_notifier_options;

/* Counters of one sink. Each is monotonic except the gauges queued,
 * outbox_depth and circuit_open. Every document that enters ends in exactly
 * one place: submitted + recovered = sent + failed + skipped + deduplicated
 * + dropped + queued (dropped also counts outbox files beyond the queue
 * size found at start, which never entered). */
typedef struct dw_sink_stats {
    uint64_t submitted;     /* documents queued for this sink */
    uint64_t sent;          /* accepted by the receiver */
    uint64_t retried;       /* attempts that failed and were scheduled again */
    uint64_t failed;        /* given up: retries exhausted, or a permanent error */
    uint64_t dropped;       /* discarded because the queue was full (oldest first) */
    uint64_t skipped;       /* nothing to send for this sink (e.g. only resolved) */
    uint64_t queued;        /* waiting or in flight now */
    uint64_t recovered;     /* loaded from the outbox (left by an earlier run) */
    uint64_t deduplicated;  /* not queued: a document with the same id was */
    uint64_t outbox_depth;  /* outbox files pending now */
    uint64_t outbox_errors; /* outbox writes/removals that failed, corrupt files
                               set aside, and 1 when the outbox is disabled */
    uint64_t circuit_open;  /* 1 while the sink's circuit is open or half-open */
} dw_sink_stats;

/* Builds a notifier for specs[0..n) (copied: the caller keeps ownership of
 * specs) and starts its thread. n may be 0 (submit then just frees
 * documents). Returns 0, or DW_ERR_INVALID with one sentence in errbuf for a
 * bad spec (unknown type, missing url, out-of-range value, duplicate
 * name). */
int dw_notifier_new(const dw_sink_spec *specs, size_t n, dw_notifier **out, char *errbuf,
                    size_t errlen);

/* Same, with options (NULL = defaults). */
int dw_notifier_new_ex(const dw_sink_spec *specs, size_t n, const dw_notifier_options *opts,
                       dw_notifier **out, char *errbuf, size_t errlen);

/* Queues doc for every sink. Takes ownership of doc (one reference) in
 * every case, also on error. Thread-safe; never blocks on the network.
 * Returns 0, or DW_ERR_INVALID when doc is not an object. */
int dw_notifier_submit(dw_notifier *n, json_t *doc);

/* Same, for sinks [first, first + count) only (the order of the specs given
 * to dw_notifier_new): the sidecar sends a retraining trigger to its own
 * target and drift documents to the alert sinks. Takes ownership of doc in
 * every case. Returns 0 (count 0 included), or DW_ERR_INVALID when doc is
 * not an object or the range is outside the sinks. */
int dw_notifier_submit_to(dw_notifier *n, json_t *doc, size_t first, size_t count);

/* Waits until every queue is empty and nothing is in flight, or budget_ms
 * has passed, or everything left waits for a circuit that stays open past
 * the budget (waiting longer would deliver nothing). Returns the number of
 * documents still waiting (summed over sinks); 0 means all were delivered,
 * given up or skipped. What is left stays in the outbox for the next run:
 * shutting down is not a reason to give a document up. */
int dw_notifier_drain(dw_notifier *n, int64_t budget_ms);

/* Starts delivery after dw_notifier_options.start_paused. */
void dw_notifier_resume(dw_notifier *n);

/* Number of sinks, and the name of sink index (owned by the notifier). */
size_t dw_notifier_sink_count(const dw_notifier *n);
const char *dw_notifier_sink_name(const dw_notifier *n, size_t index);

/* Copies sink index's counters (safe from any thread). Returns 0 or
 * DW_ERR_INVALID for a bad index. */
int dw_notifier_stats(const dw_notifier *n, size_t index, dw_sink_stats *out);

/* Stops the thread (in-flight requests are abandoned, queued documents are
 * freed and logged; their outbox files stay for the next run) and frees
 * everything. Call dw_notifier_drain() first for an orderly shutdown. NULL
 * is a no-op. */
void dw_notifier_free(dw_notifier *n);

#endif

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

#include "driftwatch/sink.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DW_BACKOFF_BASE_MS 500
#define DW_BACKOFF_CAP_MS 30000
/* A Retry-After longer than this is shortened to it: a receiver must not be
 * able to park a sink for hours. */
#define DW_RETRY_AFTER_CAP_MS 300000
#define DW_NOTIFIER_MAX_SINKS 64

typedef struct dw_notifier dw_notifier;

/* Tuning and test hooks; zero fields mean the defaults. */
typedef struct dw_notifier_options {
    uint64_t rng_seed;       /* jitter seed; 0 = from the clock and pid */
    bool no_jitter;          /* delay = the backoff ceiling (deterministic tests) */
    int64_t backoff_base_ms; /* 0 = DW_BACKOFF_BASE_MS */
    int64_t backoff_cap_ms;  /* 0 = DW_BACKOFF_CAP_MS */
    bool start_paused;       /* queue but do not deliver until dw_notifier_resume() */
} dw_notifier_options;

/* Counters of one sink. Each is monotonic except queued. */
typedef struct dw_sink_stats {
    uint64_t submitted; /* documents queued for this sink */
    uint64_t sent;      /* accepted by the receiver */
    uint64_t retried;   /* attempts that failed and were scheduled again */
    uint64_t failed;    /* given up: retries exhausted, or a permanent error */
    uint64_t dropped;   /* discarded because the queue was full (oldest first) */
    uint64_t skipped;   /* nothing to send for this sink (e.g. only resolved) */
    uint64_t queued;    /* waiting or in flight now */
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
 * has passed. Returns the number of documents still waiting (summed over
 * sinks); 0 means all were delivered, given up or skipped. */
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
 * freed and logged) and frees everything. Call dw_notifier_drain() first for
 * an orderly shutdown. NULL is a no-op. */
void dw_notifier_free(dw_notifier *n);

/* --- The retry policy as pure functions (exported for tests) ------------ */

/* min(cap_ms, base_ms * 2^attempt): the largest delay after the
 * (attempt+1)-th failed try. */
int64_t dw_backoff_ceiling_ms(unsigned attempt, int64_t base_ms, int64_t cap_ms);

/* Full jitter: a uniform random delay in [0, dw_backoff_ceiling_ms()].
 * *rng is the generator state (any value; updated). */
int64_t dw_backoff_delay_ms(unsigned attempt, int64_t base_ms, int64_t cap_ms, uint64_t *rng);

/* Parses a Retry-After value, either delta-seconds ("120") or an HTTP-date
 * ("Wed, 21 Oct 2015 07:28:00 GMT"), into a delay from now_wall_ms (epoch
 * ms), clamped to [0, DW_RETRY_AFTER_CAP_MS]. Returns 0 or DW_ERR_PARSE. */
int dw_retry_after_parse(const char *value, int64_t now_wall_ms, int64_t *delay_ms);

/* Formats epoch milliseconds as RFC 3339 UTC with milliseconds
 * ("2026-11-25T13:45:00.000Z") into buf (at least 25 bytes). */
void dw_notifier_time_format(int64_t epoch_ms, char *buf, size_t len);

#endif

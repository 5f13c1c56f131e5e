/* The notifier's delivery policy as pure functions: capped exponential
 * backoff with full jitter, Retry-After, and a circuit breaker per sink.
 * No state beyond what the caller passes in, no clock of its own, so each
 * piece is tested on its own (tests/unit/test_notifier.c). */
#ifndef DRIFTWATCH_RETRY_H
#define DRIFTWATCH_RETRY_H

#include "driftwatch/sink.h"

#include <stdbool.h>
#include <stdint.h>

#define DW_BACKOFF_BASE_MS 500
#define DW_BACKOFF_CAP_MS 30000
/* A Retry-After longer than this is shortened to it: a receiver must not be
 * able to park a sink for hours. */
#define DW_RETRY_AFTER_CAP_MS 300000

/* --- Retry policy ------------------------------------------------------ */

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

/* --- Circuit breaker (a pure state machine) -----------------------------
 *
 * Per sink: after `threshold` consecutive failed attempts (no answer,
 * timeout, 408 or 5xx) the circuit opens and nothing is sent for open_ms;
 * then one attempt is let through (half-open; the notifier sends one
 * request per sink at a time, so it is exactly one): success closes the
 * circuit, failure opens it again for twice as long, up to max_open_ms.
 * Any other answer (2xx, 429, other 4xx) shows the receiver is up and
 * counts as a success here; whether the document is retried is the retry
 * policy's business. Times are the caller's monotonic milliseconds. */

#define DW_BREAKER_THRESHOLD 5
#define DW_BREAKER_OPEN_MS 30000
#define DW_BREAKER_MAX_OPEN_MS 300000

typedef enum dw_breaker_state {
    DW_BREAKER_CLOSED = 0,
    DW_BREAKER_OPEN = 1,
    DW_BREAKER_HALF_OPEN = 2,
} dw_breaker_state;

typedef struct dw_breaker {
    unsigned threshold;
    int64_t base_open_ms, max_open_ms;
    dw_breaker_state state;
    unsigned failures;     /* consecutive failed attempts */
    int64_t open_ms;       /* length of the current or last open period */
    int64_t open_until_ms; /* while open */
} dw_breaker;

/* A closed breaker; zero arguments mean the DW_BREAKER_* defaults. */
void dw_breaker_init(dw_breaker *b, unsigned threshold, int64_t open_ms, int64_t max_open_ms);

/* May an attempt start at now_ms? Closed and half-open: yes. Open: no
 * before open_until_ms; at or after it the breaker turns half-open and
 * says yes. */
bool dw_breaker_allow(dw_breaker *b, int64_t now_ms);

/* Records the outcome of an attempt; returns the new state. */
dw_breaker_state dw_breaker_record(dw_breaker *b, bool failed, int64_t now_ms);

/* Did an attempt that ended with status (0 = no answer) and delivery d
 * fail in the breaker's sense? */
bool dw_breaker_is_failure(dw_delivery d, long status);

#endif

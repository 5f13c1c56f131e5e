/* Durations as written in the configuration: "500ms", "30s", "5m", "1h",
 * "1h30m", "2d". A bare non-negative integer means seconds ("30" = 30s).
 *
 * Units: ms, s, m (minutes), h, d (24 hours). Components are non-negative
 * integers, each unit at most once and in decreasing order ("1h30m", not
 * "30m1h"); no spaces, no signs, no fractions. Values are int64
 * milliseconds; anything above DW_DURATION_MAX_MS is refused so that sums
 * of a few durations can never overflow. */
#ifndef DRIFTWATCH_DURATION_H
#define DRIFTWATCH_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* 100 years: far beyond any sensible window or timeout. */
#define DW_DURATION_MAX_MS ((int64_t)100 * 365 * 24 * 3600 * 1000)

/* Parses s into *ms. Returns 0, or DW_ERR_INVALID (and leaves *ms alone)
 * when s is not a duration or exceeds DW_DURATION_MAX_MS. */
int dw_duration_parse(const char *s, int64_t *ms);

/* Writes ms (>= 0) in the form dw_duration_parse() reads back, using the
 * largest units: 5400000 -> "1h30m", 500 -> "500ms", 0 -> "0s". Returns buf.
 * A buffer of 48 bytes always suffices; shorter output is truncated. */
char *dw_duration_format(int64_t ms, char *buf, size_t len);

#endif

/* Record timestamps: epoch numbers of any common unit and RFC 3339 strings,
 * converted to epoch milliseconds (UTC), and back to RFC 3339 text.
 *
 * Pure arithmetic (days-from-civil, proleptic Gregorian calendar): no
 * mktime/timegm, no time zone database, no locale, no allocation, no global
 * state, so every function is thread-safe and usable on the hot path.
 *
 * Supported range: 0000-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z
 * (DW_TS_MIN_MS..DW_TS_MAX_MS, what 4-digit RFC 3339 years can express);
 * anything outside is DW_ERR_INVALID. */
#ifndef DRIFTWATCH_TIMESTAMP_H
#define DRIFTWATCH_TIMESTAMP_H

#include "driftwatch/scanner.h"

#include <stddef.h>
#include <stdint.h>

#define DW_TS_MIN_MS (-62167219200000LL) /* 0000-01-01T00:00:00Z */
#define DW_TS_MAX_MS 253402300799999LL   /* 9999-12-31T23:59:59.999Z */

/* Unit thresholds on |v| for epoch numbers. 1e11 s is the year 5138, so no
 * realistic seconds value reaches it; 1e11 ms is 1973-03-03, 1e14 us
 * 1973-03-03, 1e17 ns 1973-03-03: timestamps of this century fall well inside
 * one band each. */
#define DW_TS_SECONDS_BELOW 1e11
#define DW_TS_MILLIS_BELOW 1e14
#define DW_TS_MICROS_BELOW 1e17

/* The longest text dw_ts_format() writes: "YYYY-MM-DDTHH:MM:SS.mmmZ" + NUL. */
#define DW_TS_FORMAT_SIZE 25

/* Epoch number -> ms. |v| < 1e11: seconds (fraction kept, rounded to the
 * nearest ms, because 1795500000.123 * 1000 is not exact in binary);
 * < 1e14: milliseconds; < 1e17: microseconds; otherwise nanoseconds (these
 * three rounded down, i.e. the millisecond the instant falls in).
 * Returns 0, or DW_ERR_INVALID for NaN/inf or a result out of range. */
int dw_ts_from_number(double v, int64_t *out_ms);

/* The same for an integer, exactly (a double cannot hold every epoch ns). */
int dw_ts_from_int(int64_t v, int64_t *out_ms);

/* RFC 3339 date-time -> ms: "2026-11-25T13:32:11Z", "2026-11-25t13:32:11.5z",
 * "2026-11-25T14:32:11.123456+01:00". Accepted extensions, both common in
 * logs: a space instead of 'T' (RFC 3339 section 5.6 allows it) and
 * fractions longer than 3 digits (truncated to ms). A leap second ":60" is
 * accepted and counted as the first ms of the next minute, as POSIX time
 * does. s is s[0..len), not necessarily NUL-terminated. Returns 0,
 * DW_ERR_PARSE (bad syntax or a field out of range, e.g. 2025-02-29) or
 * DW_ERR_INVALID (an offset moves the instant outside the supported range). */
int dw_ts_parse_rfc3339(const char *s, size_t len, int64_t *out_ms);

/* A timestamp given as text: RFC 3339, or a plain decimal epoch number in a
 * string ("1795500000123", "1795500000.5"), handled like dw_ts_from_number().
 * Returns 0, DW_ERR_PARSE or DW_ERR_INVALID (out of range). */
int dw_ts_parse(const char *s, size_t len, int64_t *out_ms);

/* A scanned record field: a number (integers of up to 19 digits exactly with
 * dw_ts_from_int(), others with dw_ts_from_number()) or a string
 * (dw_ts_parse; escapes are decoded first, into a bounded stack buffer).
 * Other kinds: DW_ERR_INVALID. */
int dw_ts_from_field(const dw_scan_field *f, int64_t *out_ms);

/* How much of the second dw_ts_format_as() writes. */
typedef enum dw_ts_precision {
    DW_TS_MILLIS = 0,  /* "YYYY-MM-DDTHH:MM:SS.mmmZ" */
    DW_TS_SECONDS = 1, /* "YYYY-MM-DDTHH:MM:SSZ": the millisecond dropped */
} dw_ts_precision;

/* The code base's one RFC 3339 formatter (UTC, 'Z'): ms into buf, which
 * needs DW_TS_FORMAT_SIZE bytes (DW_TS_FORMAT_SIZE - 4 for DW_TS_SECONDS).
 * Returns 0, DW_ERR_LIMIT if cap is too small, DW_ERR_INVALID if out of
 * range (buf is then ""). */
int dw_ts_format_as(int64_t ms, dw_ts_precision prec, char *buf, size_t cap);

/* dw_ts_format_as(ms, DW_TS_MILLIS, buf, cap): what every document,
 * log line and payload carries. */
int dw_ts_format(int64_t ms, char *buf, size_t cap);

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1..12, d 1..31;
 * not validated), and the inverse. */
int64_t dw_days_from_civil(int64_t y, unsigned m, unsigned d);
void dw_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif

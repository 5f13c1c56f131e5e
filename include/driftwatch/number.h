/* Numbers written as text by a user (configuration values, command-line
 * options), checked against a range. Each parser returns NULL when the text
 * is acceptable, else the reason, worded to follow the key it was given
 * for ("\"high\" is not a number", "1.5 is out of range (must be > 0 and
 * < 1)"), written into why[0..len). The configuration loader and
 * `driftwatch check` share them, so both accept and refuse the same text
 * with the same words. */
#ifndef DRIFTWATCH_NUMBER_H
#define DRIFTWATCH_NUMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A whole decimal number in lo..hi into *out (untouched on refusal). */
const char *dw_number_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out, char *why,
                                size_t len);

/* A finite number with lo < x (lo_open) or lo <= x, and x < hi (hi_open)
 * or x <= hi; hi may be INFINITY (no upper bound). *out is untouched on
 * refusal. */
const char *dw_number_parse_double(const char *s, double lo, bool lo_open, double hi, bool hi_open,
                                   double *out, char *why, size_t len);

#endif

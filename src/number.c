/* Range-checked numbers from text (number.h). */
#include "driftwatch/number.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

const char *dw_number_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out, char *why,
                                size_t len)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (!*s || *end || errno) {
        snprintf(why, len, "\"%.80s\" is not an integer", s);
        return why;
    }
    if (x < lo || x > hi) {
        snprintf(why, len, "%lld is out of range (%lld to %lld)", x, (long long)lo, (long long)hi);
        return why;
    }
    *out = x;
    return NULL;
}

const char *dw_number_parse_double(const char *s, double lo, bool lo_open, double hi, bool hi_open,
                                   double *out, char *why, size_t len)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(x)) {
        snprintf(why, len, "\"%.80s\" is not a number", s);
        return why;
    }
    if ((lo_open ? x <= lo : x < lo) || (hi_open ? x >= hi : x > hi)) {
        if (isinf(hi))
            snprintf(why, len, "%g is out of range (must be %s %g)", x, lo_open ? ">" : ">=", lo);
        else
            snprintf(why, len, "%g is out of range (must be %s %g and %s %g)", x,
                     lo_open ? ">" : ">=", lo, hi_open ? "<" : "<=", hi);
        return why;
    }
    *out = x;
    return NULL;
}

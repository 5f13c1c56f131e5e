#include "driftwatch/duration.h"

#include "driftwatch/error.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Units from largest to smallest; "ms" must be tried before "m". The order of
 * this table is also the order in which components must appear. */
static const struct {
    const char *suffix;
    int64_t ms;
} units[] = {
    {"d", 24 * 3600 * 1000}, {"h", 3600 * 1000}, {"m", 60 * 1000}, {"s", 1000}, {"ms", 1},
};
#define NUNITS (sizeof units / sizeof units[0])

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads the digits at *p into *v; false if there are none or they exceed
 * DW_DURATION_MAX_MS (checked per digit, so no overflow is possible). */
static bool read_number(const char **p, int64_t *v)
{
    const char *s = *p;
    int64_t n = 0;
    if (!is_digit(*s))
        return false;
    for (; is_digit(*s); s++) {
        n = n * 10 + (*s - '0');
        if (n > DW_DURATION_MAX_MS)
            return false;
    }
    *v = n;
    *p = s;
    return true;
}

/* Index of the unit spelled at p (longest match), or -1. */
static int read_unit(const char **p)
{
    const char *s = *p;
    if (s[0] == 'm' && s[1] == 's') {
        *p = s + 2;
        return 4;
    }
    for (int i = 0; i < 4; i++) {
        if (*s == units[i].suffix[0]) {
            *p = s + 1;
            return i;
        }
    }
    return -1;
}

int dw_duration_parse(const char *s, int64_t *ms)
{
    if (!s || !*s)
        return DW_ERR_INVALID;
    const char *p = s;
    int64_t v;
    if (!read_number(&p, &v))
        return DW_ERR_INVALID;
    if (*p == '\0') {
        /* A bare number is seconds (the unit people mean in timeouts). */
        if (v > DW_DURATION_MAX_MS / 1000)
            return DW_ERR_INVALID;
        *ms = v * 1000;
        return 0;
    }
    int64_t total = 0;
    int last = -1;
    p = s;
    while (*p) {
        if (!read_number(&p, &v))
            return DW_ERR_INVALID;
        int u = read_unit(&p);
        if (u < 0 || u <= last)
            return DW_ERR_INVALID;
        last = u;
        if (v > (DW_DURATION_MAX_MS - total) / units[u].ms)
            return DW_ERR_INVALID;
        total += v * units[u].ms;
    }
    *ms = total;
    return 0;
}

char *dw_duration_format(int64_t ms, char *buf, size_t len)
{
    if (!buf || !len)
        return buf;
    buf[0] = '\0';
    if (ms <= 0) {
        snprintf(buf, len, ms == 0 ? "0s" : "-");
        return buf;
    }
    size_t o = 0;
    for (size_t i = 0; i < NUNITS && ms > 0; i++) {
        int64_t n = ms / units[i].ms;
        if (n == 0)
            continue;
        ms -= n * units[i].ms;
        int w = snprintf(buf + o, len - o, "%lld%s", (long long)n, units[i].suffix);
        if (w < 0 || (size_t)w >= len - o)
            break;
        o += (size_t)w;
    }
    return buf;
}

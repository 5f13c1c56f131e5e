/* The retry policy and the circuit breaker (retry.h): pure functions of
 * their arguments, used by the notifier thread. */
#include "driftwatch/retry.h"

#include "driftwatch/error.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ */
/* Retry policy                                                        */

int64_t dw_backoff_ceiling_ms(unsigned attempt, int64_t base_ms, int64_t cap_ms)
{
    if (base_ms <= 0)
        return 0;
    /* Doubling past the cap (or past 2^62) cannot matter: stop early so
     * the shift never overflows. */
    int64_t c = base_ms;
    for (unsigned i = 0; i < attempt; i++) {
        if (c >= cap_ms || c > INT64_MAX / 2)
            return cap_ms;
        c *= 2;
    }
    return c < cap_ms ? c : cap_ms;
}

/* splitmix64: small, fast, and good enough for jitter (not for secrets). */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int64_t dw_backoff_delay_ms(unsigned attempt, int64_t base_ms, int64_t cap_ms, uint64_t *rng)
{
    int64_t ceil = dw_backoff_ceiling_ms(attempt, base_ms, cap_ms);
    if (ceil <= 0)
        return 0;
    /* The modulo bias is below 2^-37 for ceilings up to 2^27 ms. */
    return (int64_t)(rng_next(rng) % ((uint64_t)ceil + 1));
}

int dw_retry_after_parse(const char *value, int64_t now_wall_ms, int64_t *delay_ms)
{
    if (!value)
        return DW_ERR_PARSE;
    while (*value == ' ' || *value == '\t')
        value++;
    if (*value >= '0' && *value <= '9') {
        uint64_t secs = 0;
        const char *p = value;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (secs < (uint64_t)DW_RETRY_AFTER_CAP_MS) /* saturate, never overflow */
                secs = secs * 10 + (uint64_t)(*p - '0');
        }
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p)
            return DW_ERR_PARSE;
        uint64_t ms = secs * 1000;
        *delay_ms = ms > (uint64_t)DW_RETRY_AFTER_CAP_MS ? DW_RETRY_AFTER_CAP_MS : (int64_t)ms;
        return 0;
    }
    /* HTTP-date (IMF-fixdate, RFC 850 or asctime): curl_getdate() parses all
     * three, so no date parser is written here. */
    time_t t = curl_getdate(value, NULL);
    if (t == (time_t)-1)
        return DW_ERR_PARSE;
    int64_t d = (int64_t)t * 1000 - now_wall_ms;
    if (d < 0)
        d = 0;
    if (d > DW_RETRY_AFTER_CAP_MS)
        d = DW_RETRY_AFTER_CAP_MS;
    *delay_ms = d;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Circuit breaker                                                     */

void dw_breaker_init(dw_breaker *b, unsigned threshold, int64_t open_ms, int64_t max_open_ms)
{
    memset(b, 0, sizeof *b);
    b->threshold = threshold ? threshold : DW_BREAKER_THRESHOLD;
    b->base_open_ms = open_ms > 0 ? open_ms : DW_BREAKER_OPEN_MS;
    b->max_open_ms = max_open_ms > 0 ? max_open_ms : DW_BREAKER_MAX_OPEN_MS;
    if (b->max_open_ms < b->base_open_ms)
        b->max_open_ms = b->base_open_ms;
    b->state = DW_BREAKER_CLOSED;
}

bool dw_breaker_allow(dw_breaker *b, int64_t now_ms)
{
    if (b->state != DW_BREAKER_OPEN)
        return true;
    if (now_ms < b->open_until_ms)
        return false;
    b->state = DW_BREAKER_HALF_OPEN;
    return true;
}

static void breaker_open(dw_breaker *b, int64_t open_ms, int64_t now_ms)
{
    b->state = DW_BREAKER_OPEN;
    b->open_ms = open_ms < b->max_open_ms ? open_ms : b->max_open_ms;
    b->open_until_ms = now_ms + b->open_ms;
}

dw_breaker_state dw_breaker_record(dw_breaker *b, bool failed, int64_t now_ms)
{
    if (!failed) {
        b->state = DW_BREAKER_CLOSED;
        b->failures = 0;
        b->open_ms = 0;
        return b->state;
    }
    if (b->failures < UINT32_MAX)
        b->failures++;
    switch (b->state) {
    case DW_BREAKER_CLOSED:
        if (b->failures >= b->threshold)
            breaker_open(b, b->base_open_ms, now_ms);
        break;
    case DW_BREAKER_HALF_OPEN:
        /* The probe failed: the receiver is still down, wait twice as long
         * (the doubling stops at max_open_ms, so no overflow). */
        breaker_open(b, b->open_ms > 0 ? b->open_ms * 2 : b->base_open_ms, now_ms);
        break;
    case DW_BREAKER_OPEN: break; /* no attempt starts while open; nothing to change */
    }
    return b->state;
}

bool dw_breaker_is_failure(dw_delivery d, long status)
{
    if (d == DW_DELIVERY_OK)
        return false;
    return status == 0 || status == 408 || (status >= 500 && status < 600);
}

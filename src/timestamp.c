/* Timestamps without mktime/timegm: those depend on the process time zone
 * (TZ, locale, /etc/localtime) and are not all thread-safe; civil-date
 * arithmetic is exact, fast and the same everywhere. The day-count formulas
 * are the well-known era-based ones (400-year eras of 146097 days). */
#include "driftwatch/timestamp.h"
#include "driftwatch/error.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#define MS_PER_DAY 86400000LL

int64_t dw_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                   /* [0, 399] */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

void dw_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool in_range(int64_t ms)
{
    return ms >= DW_TS_MIN_MS && ms <= DW_TS_MAX_MS;
}

/* Floor division for a positive divisor. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

int dw_ts_from_int(int64_t v, int64_t *out_ms)
{
    int64_t a = v < 0 ? -(v + 1) : v; /* |v| without overflow at INT64_MIN, off by one */
    int64_t ms;
    if (a < 100000000000LL)
        ms = v * 1000;
    else if (a < 100000000000000LL)
        ms = v;
    else if (a < 100000000000000000LL)
        ms = floor_div(v, 1000);
    else
        ms = floor_div(v, 1000000);
    if (!in_range(ms))
        return DW_ERR_INVALID;
    *out_ms = ms;
    return 0;
}

int dw_ts_from_number(double v, int64_t *out_ms)
{
    if (!isfinite(v))
        return DW_ERR_INVALID;
    double a = fabs(v), ms;
    if (a < DW_TS_SECONDS_BELOW)
        ms = round(v * 1000.0);
    else if (a < DW_TS_MILLIS_BELOW)
        ms = floor(v);
    else if (a < DW_TS_MICROS_BELOW)
        ms = floor(v / 1e3);
    else
        ms = floor(v / 1e6);
    /* Compare as doubles before converting: out-of-range casts are UB. */
    if (ms < (double)DW_TS_MIN_MS || ms > (double)DW_TS_MAX_MS)
        return DW_ERR_INVALID;
    *out_ms = (int64_t)ms;
    return 0;
}

/* n decimal digits at s; -1 if any is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

int dw_ts_parse_rfc3339(const char *s, size_t len, int64_t *out_ms)
{
    /* Fixed part: "YYYY-MM-DDTHH:MM:SS" is 19 bytes. */
    if (len < 20)
        return DW_ERR_PARSE;
    if (s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':')
        return DW_ERR_PARSE;
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        return DW_ERR_PARSE;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 ||
        sec > 60)
        return DW_ERR_PARSE;
    if ((unsigned)d > days_in_month(y, (unsigned)mo))
        return DW_ERR_PARSE;
    size_t i = 19;
    int frac_ms = 0;
    if (s[i] == '.') {
        i++;
        size_t start = i;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            if (i - start < 3)
                frac_ms = frac_ms * 10 + (s[i] - '0');
        size_t nd = i - start;
        if (nd == 0)
            return DW_ERR_PARSE;
        for (; nd < 3; nd++)
            frac_ms *= 10;
    }
    if (i >= len)
        return DW_ERR_PARSE;
    int64_t offset_min = 0;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        if (len - i < 6 || s[i + 3] != ':')
            return DW_ERR_PARSE;
        int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return DW_ERR_PARSE;
        offset_min = (int64_t)oh * 60 + om;
        if (s[i] == '-')
            offset_min = -offset_min;
        i += 6;
    } else {
        return DW_ERR_PARSE;
    }
    if (i != len)
        return DW_ERR_PARSE;
    int64_t days = dw_days_from_civil(y, (unsigned)mo, (unsigned)d);
    /* Local time minus its offset is UTC. */
    int64_t ms = days * MS_PER_DAY + ((int64_t)h * 3600 + mi * 60 + sec) * 1000 + frac_ms -
                 offset_min * 60000;
    if (!in_range(ms))
        return DW_ERR_INVALID;
    *out_ms = ms;
    return 0;
}

/* "-?digits" of at most 19 digits that fits int64; 0 or -1. */
static int parse_int_text(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < len && s[i] == '-') {
        neg = true;
        i++;
    }
    if (i == len || len - i > 19)
        return -1;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        return -1;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

/* "-?digits(.digits)?" only: a plain epoch number in text. */
static bool is_plain_decimal(const char *s, size_t len)
{
    size_t i = 0, nd = 0;
    if (i < len && s[i] == '-')
        i++;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        nd++;
    if (i < len && s[i] == '.') {
        i++;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            nd++;
    }
    return i == len && nd > 0;
}

int dw_ts_parse(const char *s, size_t len, int64_t *out_ms)
{
    int64_t iv;
    if (parse_int_text(s, len, &iv) == 0)
        return dw_ts_from_int(iv, out_ms);
    if (is_plain_decimal(s, len)) {
        /* Digit by digit instead of strtod: the text is not NUL-terminated
         * and strtod's radix character follows the locale. Precision is ample
         * for a timestamp (the fraction is rounded to ms anyway). */
        size_t i = s[0] == '-';
        double ip = 0, fp = 0, scale = 1;
        for (; i < len && s[i] != '.'; i++)
            ip = ip * 10 + (s[i] - '0');
        for (i++; i < len && scale < 1e18; i++) {
            fp = fp * 10 + (s[i] - '0');
            scale *= 10;
        }
        double v = ip + fp / scale;
        return dw_ts_from_number(s[0] == '-' ? -v : v, out_ms);
    }
    return dw_ts_parse_rfc3339(s, len, out_ms);
}

int dw_ts_from_field(const dw_scan_field *f, int64_t *out_ms)
{
    if (f->kind == DW_SCAN_NUMBER) {
        /* A whole number of seconds or milliseconds (every record's epoch
         * timestamp): the scanner's value is exact below 1e14 (at most 14
         * digits, its exact path), and both readings below give the same
         * milliseconds for it, so the text need not be read again. */
        if (f->num >= 0 && f->num < DW_TS_MILLIS_BELOW && f->num == (double)(int64_t)f->num)
            return dw_ts_from_int((int64_t)f->num, out_ms);
        int64_t iv;
        if (parse_int_text(f->raw.ptr, f->raw.len, &iv) == 0)
            return dw_ts_from_int(iv, out_ms);
        return dw_ts_from_number(f->num, out_ms);
    }
    if (f->kind != DW_SCAN_STRING)
        return DW_ERR_INVALID;
    if (!f->str_escaped)
        return dw_ts_parse(f->raw.ptr, f->raw.len, out_ms);
    /* 64 bytes hold any timestamp text; longer escaped text is not one. */
    char buf[64];
    size_t n;
    if (dw_scan_unescape(f->raw.ptr, f->raw.len, buf, sizeof buf, &n) != 0)
        return DW_ERR_PARSE;
    return dw_ts_parse(buf, n, out_ms);
}

static char *put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

int dw_ts_format(int64_t ms, char *buf, size_t cap)
{
    return dw_ts_format_as(ms, DW_TS_MILLIS, buf, cap);
}

int dw_ts_format_as(int64_t ms, dw_ts_precision prec, char *buf, size_t cap)
{
    if (cap < (prec == DW_TS_SECONDS ? DW_TS_FORMAT_SIZE - 4 : DW_TS_FORMAT_SIZE))
        return DW_ERR_LIMIT;
    if (!in_range(ms)) {
        buf[0] = '\0';
        return DW_ERR_INVALID;
    }
    int64_t days = floor_div(ms, MS_PER_DAY);
    int64_t rem = ms - days * MS_PER_DAY; /* [0, MS_PER_DAY) */
    int64_t y;
    unsigned m, d;
    dw_civil_from_days(days, &y, &m, &d);
    unsigned sod = (unsigned)(rem / 1000), milli = (unsigned)(rem % 1000);
    char *p = buf;
    p = put2(p, (unsigned)(y / 100));
    p = put2(p, (unsigned)(y % 100));
    *p++ = '-';
    p = put2(p, m);
    *p++ = '-';
    p = put2(p, d);
    *p++ = 'T';
    p = put2(p, sod / 3600);
    *p++ = ':';
    p = put2(p, sod / 60 % 60);
    *p++ = ':';
    p = put2(p, sod % 60);
    if (prec != DW_TS_SECONDS) {
        *p++ = '.';
        *p++ = (char)('0' + milli / 100);
        p = put2(p, milli % 100);
    }
    *p++ = 'Z';
    *p = '\0';
    return 0;
}

/* Hand-written because no packaged JSON library parses without allocating:
 * jansson builds a DOM (one malloc per value), which caps the hot path near
 * 110k records/s. This scanner validates everything jansson validates and
 * reports leaves as slices into the message; jansson stays the oracle in
 * tests/unit/test_scanner.c and tests/fuzz/fuzz_scanner.c. */
#include "driftwatch/scanner.h"
#include "driftwatch/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ST_START = 0, ST_ARRAY_FIRST, ST_ARRAY_NEXT, ST_DONE, ST_FAILED };

/* Per-call parse context: p walks [p, end). */
typedef struct ctx {
    const char *p;
    const char *end;
    const char *err_at;
    const char *err_reason;
    dw_scan_record *rec;
    dw_scan_slice path[DW_SCAN_MAX_DEPTH];
    uint8_t path_escaped;
} ctx;

/* 1 for bytes that end the fast string loop: '"', '\\', control characters
 * and every non-ASCII byte (which goes through UTF-8 validation). */
static const uint8_t str_stop[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

static const char E_EOF[] = "unexpected end of input";

static int fail(ctx *c, const char *at, const char *reason)
{
    c->err_at = at;
    c->err_reason = reason;
    return DW_ERR_PARSE;
}

/* 1 for the four JSON whitespace bytes. */
static const uint8_t ws_tab[256] = {[' '] = 1, ['\n'] = 1, ['\r'] = 1, ['\t'] = 1};

static inline const char *skip_ws(const char *p, const char *end)
{
    /* Records hold no whitespace or a single space between tokens: exit
     * after one test in the common cases. */
    if (p < end && (unsigned char)*p > ' ')
        return p;
    if (end - p >= 2 && *p == ' ' && (unsigned char)p[1] > ' ')
        return p + 1;
    while (p < end && ws_tab[(unsigned char)*p])
        p++;
    return p;
}

static inline int hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Reads 4 hex digits at p (p + 4 <= end checked by the caller). */
static inline long hex4(const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval((unsigned char)p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Decodes one escape sequence starting at the backslash *pp into a code point
 * (or a single byte for the short escapes). Advances *pp past it. Returns the
 * code point, or -1 with *why set. Shared by validation and decoding so that
 * both agree on what is valid (jansson's rules: surrogates must pair). */
static long decode_escape(const char **pp, const char *end, const char **why)
{
    const char *p = *pp + 1;
    if (p >= end) {
        *why = E_EOF;
        return -1;
    }
    long cp;
    switch (*p) {
    case '"': cp = '"'; break;
    case '\\': cp = '\\'; break;
    case '/': cp = '/'; break;
    case 'b': cp = '\b'; break;
    case 'f': cp = '\f'; break;
    case 'n': cp = '\n'; break;
    case 'r': cp = '\r'; break;
    case 't': cp = '\t'; break;
    case 'u':
        if (end - p < 5) {
            *why = E_EOF;
            *pp = end;
            return -1;
        }
        cp = hex4(p + 1);
        if (cp < 0) {
            *why = "invalid \\u escape";
            return -1;
        }
        p += 4;
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
            *why = "unpaired surrogate in \\u escape";
            return -1;
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end - p < 7) {
                /* Not enough room for "\uXXXX": truncated if what is there
                 * could still start one, otherwise a lone surrogate. */
                const char *q = p + 1;
                if (q == end || (*q == '\\' && (q + 1 == end || q[1] == 'u'))) {
                    *why = E_EOF;
                    *pp = end;
                    return -1;
                }
                *why = "unpaired surrogate in \\u escape";
                return -1;
            }
            if (p[1] != '\\' || p[2] != 'u') {
                *why = "unpaired surrogate in \\u escape";
                return -1;
            }
            long lo = hex4(p + 3);
            if (lo < 0) {
                *why = "invalid \\u escape";
                return -1;
            }
            if (lo < 0xDC00 || lo > 0xDFFF) {
                *why = "unpaired surrogate in \\u escape";
                return -1;
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
        }
        break;
    default: *why = "invalid escape"; return -1;
    }
    *pp = p + 1;
    return cp;
}

/* Validates one UTF-8 sequence at p (first byte >= 0x80) with RFC 3629 rules
 * (no overlongs, no surrogates, <= U+10FFFF), as jansson does. Returns its
 * length, 0 if invalid, -1 if truncated by end. */
static int utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned char b = p[0];
    int n;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the 2nd byte */
    if (b >= 0xC2 && b <= 0xDF)
        n = 2;
    else if (b >= 0xE0 && b <= 0xEF) {
        n = 3;
        if (b == 0xE0)
            lo = 0xA0;
        else if (b == 0xED)
            hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        n = 4;
        if (b == 0xF0)
            lo = 0x90;
        else if (b == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    for (int i = 1; i < n; i++) {
        if (p + i >= end)
            return -1;
        unsigned char cb = p[i];
        if (i == 1 ? (cb < lo || cb > hi) : (cb < 0x80 || cb > 0xBF))
            return 0;
    }
    return n;
}

/* scan_string() from p, the first byte of the string that is not plain
 * ASCII (or the end): escapes, UTF-8, errors. */
static int __attribute__((noinline))
scan_string_rest(ctx *c, const char *p, dw_scan_slice *out, bool *escaped)
{
    const char *end = c->end;
    const char *start = c->p + 1;
    bool esc = false;
    for (;;) {
        if (p >= end)
            return fail(c, end, E_EOF);
        unsigned char ch = (unsigned char)*p;
        if (ch == '"')
            break;
        if (ch == '\\') {
            const char *why = NULL;
            const char *at = p;
            if (decode_escape(&p, end, &why) < 0)
                return fail(c, why == E_EOF ? end : at, why);
            esc = true;
        } else if (ch < 0x20) {
            return fail(c, p, "control character in string");
        } else {
            int n = utf8_len((const unsigned char *)p, (const unsigned char *)end);
            if (n < 0)
                return fail(c, end, E_EOF);
            if (n == 0)
                return fail(c, p, "invalid UTF-8 in string");
            p += n;
        }
        while (p < end && !str_stop[(unsigned char)*p])
            p++;
    }
    out->ptr = start;
    out->len = (size_t)(p - start);
    *escaped = esc;
    c->p = p + 1;
    return 0;
}

/* c->p at the opening quote. On success out is the contents and c->p is past
 * the closing quote. Inline for the common plain-ASCII string (keys and
 * short values); anything else continues in scan_string_rest(). */
static inline __attribute__((always_inline)) int scan_string(ctx *c, dw_scan_slice *out,
                                                             bool *escaped)
{
    const char *p = c->p + 1;
    const char *end = c->end;
    while (p < end && !str_stop[(unsigned char)*p])
        p++;
    if (__builtin_expect(p < end && *p == '"', 1)) {
        out->ptr = c->p + 1;
        out->len = (size_t)(p - out->ptr);
        *escaped = false;
        c->p = p + 1;
        return 0;
    }
    return scan_string_rest(c, p, out, escaped);
}

/* Slow path for numbers with many digits or a large exponent: a normalised
 * copy on the stack ("<at most 41 digits>e<exp>", no decimal point, so the
 * locale's radix character does not matter) handed to strtod. Keeping 40
 * significant digits plus a sticky 1 for any non-zero dropped digit keeps the
 * result within 1 ulp of strtod on the full text, whatever its length. */
static int number_slow(ctx *c, const char *s, const char *e, bool neg, double *out)
{
    enum { KEEP = 40 };
    char buf[KEEP + 2 + 24];
    size_t nd = 0;
    long long dexp = 0;
    bool sticky = false, in_frac = false;
    const char *p = s;
    if (*p == '-')
        p++;
    for (; p < e && *p != 'e' && *p != 'E'; p++) {
        if (*p == '.') {
            in_frac = true;
            continue;
        }
        bool leading_zero = nd == 0 && *p == '0';
        if (leading_zero) {
            if (in_frac)
                dexp--;
        } else if (nd < KEEP) {
            buf[nd++] = *p;
            if (in_frac)
                dexp--;
        } else {
            if (*p != '0')
                sticky = true;
            if (!in_frac)
                dexp++;
        }
    }
    long long x = 0;
    if (p < e) { /* exponent, saturated: anything past 1e9 is 0 or overflow */
        p++;
        bool xneg = false;
        if (*p == '+' || *p == '-')
            xneg = *p++ == '-';
        for (; p < e; p++)
            if (x < 1000000000LL)
                x = x * 10 + (*p - '0');
        if (xneg)
            x = -x;
    }
    if (nd == 0) {
        *out = neg ? -0.0 : 0.0;
        return 0;
    }
    if (sticky) {
        buf[nd++] = '1';
        dexp--;
    }
    snprintf(buf + nd, sizeof buf - nd, "e%lld", dexp + x);
    errno = 0;
    double v = strtod(buf, NULL);
    if (errno == ERANGE && v > 1.0)
        return fail(c, s, "number out of range");
    *out = neg ? -v : v;
    return 0;
}

static const double pow10_tab[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static inline bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* c->p at '-' or a digit. Validates the JSON number grammar and converts.
 * Fast path (Clinger): a mantissa of at most 2^53 and a power of ten of at
 * most 22 are both exact doubles, so one multiplication or division is
 * correctly rounded, i.e. equal to strtod. Integers of up to 19 digits are
 * one exact-to-nearest uint64 conversion. Everything else: number_slow(). */
static int __attribute__((noinline)) scan_number_general(ctx *c, double *out)
{
    const char *s = c->p, *p = s, *end = c->end;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        if (++p >= end)
            return fail(c, end, E_EOF);
    }
    uint64_t mant = 0;
    int nd = 0, frac = 0;
    if (*p == '0') {
        p++;
    } else if (is_digit(*p)) {
        while (p < end && is_digit(*p)) {
            if (nd < 19)
                mant = mant * 10 + (uint64_t)(*p - '0');
            nd++;
            p++;
        }
    } else {
        return fail(c, p, "invalid number");
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end)
            return fail(c, end, E_EOF);
        if (!is_digit(*p))
            return fail(c, p, "invalid number");
        while (p < end && is_digit(*p)) {
            if (nd < 19)
                mant = mant * 10 + (uint64_t)(*p - '0');
            nd++;
            frac++;
            p++;
        }
    }
    int x = 0;
    bool has_exp = false, big_exp = false;
    if (p < end && (*p == 'e' || *p == 'E')) {
        has_exp = true;
        p++;
        bool xneg = false;
        if (p < end && (*p == '+' || *p == '-'))
            xneg = *p++ == '-';
        if (p >= end)
            return fail(c, end, E_EOF);
        if (!is_digit(*p))
            return fail(c, p, "invalid number");
        while (p < end && is_digit(*p)) {
            if (x < 10000)
                x = x * 10 + (*p - '0');
            else
                big_exp = true;
            p++;
        }
        if (xneg)
            x = -x;
    }
    c->p = p;
    if (nd <= 19 && !big_exp) {
        if (!has_exp && frac == 0) {
            double v = (double)mant;
            *out = neg ? -v : v;
            return 0;
        }
        int e10 = x - frac;
        if (mant <= (1ULL << 53) && e10 >= -22 && e10 <= 22) {
            double v = (double)mant;
            v = e10 >= 0 ? v * pow10_tab[e10] : v / pow10_tab[-e10];
            *out = neg ? -v : v;
            return 0;
        }
    }
    return number_slow(c, s, p, neg, out);
}

/* The common number shape: an optional '-', at most 19 significant digits
 * with an optional fraction, no exponent, and a result on the exact fast
 * path (see scan_number_general()). Returns 1 with *out set and c->p past
 * the number, or 0 for everything else (and every error), which
 * scan_number_general() then parses from the start again, so both give the
 * same value and the same error. bounded: p may reach end (within 41 bytes
 * of it); otherwise no bounds test is needed, since at most '-', 19 digits,
 * '.' and the byte after are read. */
static const uint64_t pow10_u64[8] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000};

/* Bytes of w (8 characters, the first in the low byte) that are not ASCII
 * digits get a nonzero byte in the result: high nibble other than 3, or low
 * nibble above 9 (+6 carries it into bit 4; no carry leaves its byte). */
static inline uint64_t nondigit_bytes(uint64_t w)
{
    const uint64_t lo = 0x0F0F0F0F0F0F0F0FULL;
    return ((w & ~lo) ^ 0x3030303030303030ULL) |
           (((w & lo) + 0x0606060606060606ULL) & 0x1010101010101010ULL);
}

/* The value of the first k (1..7) characters of w, all digits. Subtracting
 * '0' borrows only upwards, into the bytes shifted out; the shift leaves the
 * k digits in the high bytes behind zeros. Then adjacent digits, pairs and
 * quadruples are combined in place (each lane's sum fits its lane). */
static inline uint64_t digits_value(uint64_t w, int k)
{
    uint64_t v = (w - 0x3030303030303030ULL) << (8 * (8 - k));
    v = (v * 10 + (v >> 8)) & 0x00FF00FF00FF00FFULL;
    v = (v * 100 + (v >> 16)) & 0x0000FFFF0000FFFFULL;
    return (v * 10000 + (v >> 32)) & 0xFFFFFFFFULL;
}

static inline __attribute__((always_inline)) int number_fast(const char **pp, const char *end,
                                                             double *out, bool bounded)
{
    const char *p = *pp;
#define DIGIT_AT(q) ((bounded && (q) >= end) ? 10u : (unsigned)(unsigned char)*(q) - '0')
    bool neg = *p == '-';
    p += neg;
    uint64_t mant = 0;
    int nd = 0, frac = 0;
    unsigned d = DIGIT_AT(p);
    if (d == 0) {
        p++;
    } else if (d < 10) {
        do {
            if (nd == 19)
                return 0;
            mant = mant * 10 + d;
            nd++;
            p++;
            d = DIGIT_AT(p);
        } while (d < 10);
    } else {
        return 0;
    }
    if ((!bounded || p < end) && *p == '.') {
        p++;
        if (!bounded) {
            /* Fewer than 8 fraction digits (the usual case) in one step:
             * at least 20 bytes follow p (41 from the number's start, at
             * most 21 of them read so far), so 8 can be loaded. */
            uint64_t w, n;
            memcpy(&w, p, sizeof w);
            if ((n = nondigit_bytes(w)) != 0) {
                int k = __builtin_ctzll(n) >> 3; /* digits before the first non-digit */
                if (k == 0 || nd + k > 19)
                    return 0;
                mant = mant * pow10_u64[k] + digits_value(w, k);
                frac = k;
                p += k;
                goto fraction_done;
            }
        }
        d = DIGIT_AT(p);
        if (d >= 10)
            return 0;
        do {
            if (nd + frac == 19)
                return 0;
            mant = mant * 10 + d;
            frac++;
            p++;
            d = DIGIT_AT(p);
        } while (d < 10);
    }
fraction_done:
#undef DIGIT_AT
    if (((!bounded || p < end) && (*p == 'e' || *p == 'E')) || frac > 22 || mant > (1ULL << 53))
        return 0;
    double v = (double)mant;
    if (frac)
        v /= pow10_tab[frac];
    *pp = p;
    *out = neg ? -v : v;
    return 1;
}

/* *pp at '-' or a digit: see scan_number_general(). On success *pp is past
 * the number. */
static inline __attribute__((always_inline)) int scan_number_at(ctx *c, const char **pp,
                                                                double *out)
{
    /* The fast path's value in a local, the general path's in another: the
     * caller's double then stays in a register (its address went to the
     * general reader, so it lived in memory, stored and reloaded for every
     * number). */
    double v;
    if (__builtin_expect(c->end - *pp >= 41, 1) ? number_fast(pp, c->end, &v, false)
                                                : number_fast(pp, c->end, &v, true)) {
        *out = v;
        return 0;
    }
    c->p = *pp;
    double g;
    int rc = scan_number_general(c, &g);
    *pp = c->p;
    if (rc == 0)
        *out = g;
    return rc;
}

static inline __attribute__((always_inline)) int scan_number(ctx *c, double *out)
{
    return scan_number_at(c, &c->p, out);
}

int dw_scan_number(const char *s, size_t len, double *out)
{
    if (len == 0)
        return DW_ERR_PARSE;
    ctx c;
    memset(&c, 0, sizeof c);
    c.p = s;
    c.end = s + len;
    if (scan_number_general(&c, out) < 0 || c.p != s + len)
        return DW_ERR_PARSE;
    return 0;
}

/* Literal at c->p (first letter already known to be t, f or n). */
static int scan_literal(ctx *c, const char *word, size_t n)
{
    const char *p = c->p;
    size_t avail = (size_t)(c->end - p);
    size_t i = 0;
    for (; i < n && i < avail; i++)
        if (p[i] != word[i])
            return fail(c, p, "invalid literal");
    if (i < n)
        return fail(c, c->end, E_EOF);
    c->p = p + n;
    return 0;
}

static int skip_value(ctx *c, int nest);

/* Validates an object or array at c->p without reporting anything. nest is
 * the number of open brackets including this one. */
static int skip_container(ctx *c, int nest)
{
    if (nest > DW_SCAN_MAX_NESTING)
        return fail(c, c->p, DW_SCAN_ERR_NESTING);
    const char *end = c->end;
    char close = *c->p == '{' ? '}' : ']';
    bool obj = close == '}';
    c->p = skip_ws(c->p + 1, end);
    if (c->p >= end)
        return fail(c, end, E_EOF);
    if (*c->p == close) {
        c->p++;
        return 0;
    }
    for (;;) {
        if (obj) {
            if (*c->p != '"')
                return fail(c, c->p, "expected string key");
            dw_scan_slice k;
            bool esc;
            int rc = scan_string(c, &k, &esc);
            if (rc)
                return rc;
            c->p = skip_ws(c->p, end);
            if (c->p >= end)
                return fail(c, end, E_EOF);
            if (*c->p != ':')
                return fail(c, c->p, "expected ':' after key");
            c->p = skip_ws(c->p + 1, end);
        }
        int rc = skip_value(c, nest);
        if (rc)
            return rc;
        c->p = skip_ws(c->p, end);
        if (c->p >= end)
            return fail(c, end, E_EOF);
        if (*c->p == close) {
            c->p++;
            return 0;
        }
        if (*c->p != ',')
            return fail(c, c->p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        c->p = skip_ws(c->p + 1, end);
        if (c->p >= end)
            return fail(c, end, E_EOF);
    }
}

/* Validates any value at c->p (whitespace already skipped); nest = brackets
 * open around it. */
static int skip_value(ctx *c, int nest)
{
    if (c->p >= c->end)
        return fail(c, c->end, E_EOF);
    double d;
    dw_scan_slice s;
    bool esc;
    switch (*c->p) {
    case '{':
    case '[': return skip_container(c, nest + 1);
    case '"': return scan_string(c, &s, &esc);
    case 't': return scan_literal(c, "true", 4);
    case 'f': return scan_literal(c, "false", 5);
    case 'n': return scan_literal(c, "null", 4);
    default:
        if (*c->p == '-' || is_digit(*c->p))
            return scan_number(c, &d);
        return fail(c, c->p, "expected a value");
    }
}

static inline __attribute__((always_inline)) dw_scan_field *
new_field(ctx *c, int depth, dw_scan_kind kind, const char *raw, size_t rawlen)
{
    dw_scan_record *r = c->rec;
    if (r->nfields >= r->cap) {
        r->ndropped++;
        return NULL;
    }
    dw_scan_field *f = &r->fields[r->nfields++];
    /* All components, also those beyond depth (stale, never read): one
     * fixed-size copy instead of a loop. */
    memcpy(f->key, c->path, sizeof f->key);
    f->depth = (uint8_t)depth;
    f->kind = (uint8_t)kind;
    f->key_escaped = (uint8_t)(c->path_escaped & ((1u << depth) - 1));
    f->str_escaped = false;
    f->boolean = false;
    f->num = 0;
    f->raw.ptr = raw;
    f->raw.len = rawlen;
    return f;
}

/* The end of a plain string's contents (the stop byte, see str_stop) from
 * p, its first byte, or end. */
static inline __attribute__((always_inline)) const char *plain_end(const char *p, const char *end)
{
    /* Keys and values are mostly a few bytes: the first four are tested
     * without bounds tests when there is room, then eight at a time. */
    if (__builtin_expect(end - p >= 16, 1)) {
        if (str_stop[(unsigned char)p[0]])
            return p;
        if (str_stop[(unsigned char)p[1]])
            return p + 1;
        if (str_stop[(unsigned char)p[2]])
            return p + 2;
        if (str_stop[(unsigned char)p[3]])
            return p + 3;
        p += 4;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        while (end - p >= 8) {
            /* The lowest flagged byte is the first stop byte ('"', '\\',
             * < 0x20, >= 0x80); flags above a true one may be spurious
             * (borrows), the lowest never is. */
            uint64_t w;
            memcpy(&w, p, 8);
            const uint64_t ones = 0x0101010101010101ULL;
            uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
            uint64_t stop = ((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w) | w;
            stop &= ones * 0x80;
            if (stop)
                return p + (__builtin_ctzll(stop) >> 3);
            p += 8;
        }
#endif
    }
    while (p < end && !str_stop[(unsigned char)*p])
        p++;
    return p;
}

/* A record object (or a nested object above the depth limit) at c->p whose
 * members get path component number `depth` (0-based). The cursor lives in
 * p (a register) and is handed over through c->p only around calls that
 * need it: the common record (plain keys, numbers, plain strings, single
 * spaces) runs without a call. */
static int scan_object(ctx *c, int nest, int depth)
{
    if (nest > DW_SCAN_MAX_NESTING)
        return fail(c, c->p, DW_SCAN_ERR_NESTING);
    const char *end = c->end;
    const char *p = skip_ws(c->p + 1, end);
    if (p >= end)
        return fail(c, end, E_EOF);
    if (*p == '}') {
        c->p = p + 1;
        return 0;
    }
    const uint8_t bit = (uint8_t)(1u << depth);
    int rc;
    for (;;) {
        if (*p != '"')
            return fail(c, p, "expected string key");
    key:;
        const char *q = plain_end(p + 1, end);
        if (__builtin_expect(q < end && *q == '"', 1)) {
            c->path[depth].ptr = p + 1;
            c->path[depth].len = (size_t)(q - (p + 1));
            c->path_escaped &= (uint8_t)~bit;
            p = q + 1;
        } else {
            bool kesc;
            c->p = p;
            if ((rc = scan_string_rest(c, q, &c->path[depth], &kesc)))
                return rc;
            if (kesc)
                c->path_escaped |= bit;
            else
                c->path_escaped &= (uint8_t)~bit;
            p = c->p;
        }
        /* ":" or ": " then the value (more whitespace: the case below). */
        if (__builtin_expect(end - p >= 3 && *p == ':', 1)) {
            p += 1 + (p[1] == ' ');
        } else {
            p = skip_ws(p, end);
            if (p >= end)
                return fail(c, end, E_EOF);
            if (*p != ':')
                return fail(c, p, "expected ':' after key");
            p = skip_ws(p + 1, end);
            if (p >= end)
                return fail(c, end, E_EOF);
        }

    value:;
        const char *v = p;
        dw_scan_field *f;
        switch (*v) {
        case ' ':
        case '\t':
        case '\n':
        case '\r':
            p = skip_ws(p, end);
            if (p >= end)
                return fail(c, end, E_EOF);
            goto value;
        case '"': {
            q = plain_end(v + 1, end);
            if (__builtin_expect(q < end && *q == '"', 1)) {
                p = q + 1;
                new_field(c, depth + 1, DW_SCAN_STRING, v + 1, (size_t)(q - (v + 1)));
                break;
            }
            dw_scan_slice str;
            bool esc;
            c->p = v;
            if ((rc = scan_string_rest(c, q, &str, &esc)))
                return rc;
            p = c->p;
            if ((f = new_field(c, depth + 1, DW_SCAN_STRING, str.ptr, str.len)))
                f->str_escaped = esc;
            break;
        }
        case '{':
            c->p = v;
            if (depth + 1 < DW_SCAN_MAX_DEPTH) {
                if ((rc = scan_object(c, nest + 1, depth + 1)))
                    return rc;
                p = c->p;
                break;
            }
            /* Too deep to report: validate and skip like an array. */
            __attribute__((fallthrough));
        case '[':
            c->p = v;
            if ((rc = skip_container(c, nest + 1)))
                return rc;
            p = c->p;
            new_field(c, depth + 1, *v == '{' ? DW_SCAN_OBJECT : DW_SCAN_ARRAY, v, (size_t)(p - v));
            break;
        case 't':
        case 'f':
            c->p = v;
            rc = *v == 't' ? scan_literal(c, "true", 4) : scan_literal(c, "false", 5);
            if (rc)
                return rc;
            p = c->p;
            if ((f = new_field(c, depth + 1, DW_SCAN_BOOL, v, (size_t)(p - v))))
                f->boolean = *v == 't';
            break;
        case 'n':
            c->p = v;
            if ((rc = scan_literal(c, "null", 4)))
                return rc;
            p = c->p;
            new_field(c, depth + 1, DW_SCAN_NULL, v, 4);
            break;
        default: {
            if (*v != '-' && !is_digit(*v))
                return fail(c, v, "expected a value");
            double d;
            if ((rc = scan_number_at(c, &p, &d)))
                return rc;
            if ((f = new_field(c, depth + 1, DW_SCAN_NUMBER, v, (size_t)(p - v))))
                f->num = d;
            break;
        }
        }

        /* "," or ", " then the next key's quote (anything else: below). */
        if (__builtin_expect(end - p >= 3 && *p == ',', 1)) {
            p += 1 + (p[1] == ' ');
            if (__builtin_expect(*p == '"', 1))
                goto key;
            p = skip_ws(p, end);
            if (p >= end)
                return fail(c, end, E_EOF);
            continue;
        }
        p = skip_ws(p, end);
        if (p >= end)
            return fail(c, end, E_EOF);
        if (*p == '}') {
            c->p = p + 1;
            return 0;
        }
        if (*p != ',')
            return fail(c, p, "expected ',' or '}'");
        p = skip_ws(p + 1, end);
        if (p >= end)
            return fail(c, end, E_EOF);
    }
}

void dw_scan_init(dw_scanner *s, const char *buf, size_t len)
{
    memset(s, 0, sizeof *s);
    s->buf = buf;
    s->len = len;
    s->state = ST_START;
}

static int scanner_fail(dw_scanner *s, size_t pos, const char *reason)
{
    s->state = ST_FAILED;
    s->err_pos = pos;
    s->err_reason = reason;
    return DW_ERR_PARSE;
}

/* After the top-level value: only whitespace may follow. */
static int finish(dw_scanner *s, const char *p)
{
    const char *end = s->buf + s->len;
    p = skip_ws(p, end);
    if (p != end)
        return scanner_fail(s, (size_t)(p - s->buf), "trailing characters after the message");
    s->pos = s->len;
    s->state = ST_DONE;
    return 0;
}

static int record_at(dw_scanner *s, const char *p, int nest, dw_scan_record *rec)
{
    ctx c;
    c.p = p;
    c.end = s->buf + s->len;
    c.err_at = NULL;
    c.err_reason = NULL;
    c.rec = rec;
    c.path_escaped = 0;
    memset(c.path, 0, sizeof c.path); /* new_field() copies every component */
    rec->nfields = 0;
    rec->ndropped = 0;
    rec->raw.ptr = p;
    rec->raw.len = 0;
    int rc = scan_object(&c, nest, 0);
    if (rc)
        return scanner_fail(s, (size_t)(c.err_at - s->buf), c.err_reason);
    rec->raw.len = (size_t)(c.p - p);
    s->pos = (size_t)(c.p - s->buf);
    return 0;
}

int dw_scan_next(dw_scanner *s, dw_scan_record *rec)
{
    const char *end = s->buf + s->len;
    const char *p = s->buf + s->pos;
    switch (s->state) {
    case ST_DONE: return 0;
    case ST_FAILED: return DW_ERR_PARSE;
    case ST_START:
        p = skip_ws(p, end);
        if (p >= end)
            return scanner_fail(s, s->len, s->len ? "message is only whitespace" : "empty message");
        if (*p == '{') {
            rec->index = 0;
            int rc = record_at(s, p, 1, rec);
            if (rc)
                return rc;
            /* Check the tail before yielding, so a single-record message with
             * trailing garbage yields nothing, as jansson would. */
            rc = finish(s, s->buf + s->pos);
            return rc ? rc : 1;
        }
        if (*p != '[')
            return scanner_fail(s, (size_t)(p - s->buf), "message is not a JSON object or array");
        p = skip_ws(p + 1, end);
        if (p >= end)
            return scanner_fail(s, s->len, E_EOF);
        if (*p == ']')
            return finish(s, p + 1);
        s->state = ST_ARRAY_FIRST;
        break;
    case ST_ARRAY_NEXT:
        p = skip_ws(p, end);
        if (p >= end)
            return scanner_fail(s, s->len, E_EOF);
        if (*p == ']')
            return finish(s, p + 1);
        if (*p != ',')
            return scanner_fail(s, (size_t)(p - s->buf), "expected ',' or ']'");
        p = skip_ws(p + 1, end);
        if (p >= end)
            return scanner_fail(s, s->len, E_EOF);
        break;
    case ST_ARRAY_FIRST: p = skip_ws(p, end); break;
    }

    /* p: an array element. */
    s->state = ST_ARRAY_NEXT;
    rec->index = s->next_index++;
    if (*p == '{') {
        int rc = record_at(s, p, 2, rec);
        return rc ? rc : 1;
    }
    ctx c;
    c.p = p;
    c.end = end;
    c.rec = rec;
    c.path_escaped = 0;
    int rc = skip_value(&c, 1);
    if (rc)
        return scanner_fail(s, (size_t)(c.err_at - s->buf), c.err_reason);
    s->pos = (size_t)(c.p - s->buf);
    s->err_pos = (size_t)(p - s->buf);
    s->err_reason = "array element is not a JSON object";
    rec->nfields = 0;
    rec->ndropped = 0;
    rec->raw.ptr = p;
    rec->raw.len = (size_t)(c.p - p);
    return DW_ERR_INVALID;
}

const char *dw_scan_error(const dw_scanner *s, size_t *pos)
{
    if (pos)
        *pos = s->err_pos;
    return s->err_reason;
}

int dw_scan_format_error(const dw_scanner *s, const char *source, char *errbuf, size_t errlen)
{
    if (!s->err_reason) {
        if (errbuf && errlen)
            errbuf[0] = '\0';
        return 0;
    }
    /* Line and column are computed only here, off the hot path. */
    size_t line = 1, col = 1;
    for (size_t i = 0; i < s->err_pos && i < s->len; i++) {
        if (s->buf[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    int err = s->state == ST_FAILED ? DW_ERR_PARSE : DW_ERR_INVALID;
    return dw_seterr(errbuf, errlen, err, "%s%sline %zu, column %zu (byte %zu): %s",
                     source ? source : "", source ? ": " : "", line, col, s->err_pos,
                     s->err_reason);
}

/* Encodes cp as UTF-8 into out (4 bytes of room); returns the length. */
static int utf8_put(long cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

int dw_scan_unescape(const char *raw, size_t len, char *out, size_t cap, size_t *outlen)
{
    const char *p = raw, *end = raw + len;
    size_t n = 0;
    int rc = cap ? 0 : DW_ERR_LIMIT;
    while (rc == 0 && p < end) {
        unsigned char tmp[4];
        int k;
        if (*p == '\\') {
            const char *why;
            long cp = decode_escape(&p, end, &why);
            if (cp < 0) {
                rc = DW_ERR_PARSE;
                break;
            }
            k = utf8_put(cp, tmp);
        } else {
            tmp[0] = (unsigned char)*p++;
            k = 1;
        }
        if (n + (size_t)k >= cap) {
            rc = DW_ERR_LIMIT;
            break;
        }
        memcpy(out + n, tmp, (size_t)k);
        n += (size_t)k;
    }
    if (cap)
        out[n < cap ? n : cap - 1] = '\0';
    if (outlen)
        *outlen = n;
    return rc;
}

bool dw_scan_key_eq(dw_scan_slice key, bool escaped, const char *name, size_t name_len)
{
    if (!escaped)
        return key.len == name_len && memcmp(key.ptr, name, name_len) == 0;
    /* Decode on the fly: the decoded key is never longer than the raw one. */
    const char *p = key.ptr, *end = key.ptr + key.len;
    size_t i = 0;
    while (p < end) {
        unsigned char tmp[4];
        int k;
        if (*p == '\\') {
            const char *why;
            long cp = decode_escape(&p, end, &why);
            if (cp < 0)
                return false;
            k = utf8_put(cp, tmp);
        } else {
            tmp[0] = (unsigned char)*p++;
            k = 1;
        }
        if (i + (size_t)k > name_len || memcmp(name + i, tmp, (size_t)k) != 0)
            return false;
        i += (size_t)k;
    }
    return i == name_len;
}

bool dw_scan_prefix_eq(const dw_scan_field *f, int depth, const char *dotted)
{
    if (depth < 1 || depth > f->depth)
        return false;
    const char *p = dotted;
    for (int i = 0; i < depth; i++) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!dw_scan_key_eq(f->key[i], (f->key_escaped >> i) & 1, p, n))
            return false;
        if (i + 1 < depth) {
            if (!dot)
                return false;
            p = dot + 1;
        } else if (dot) {
            return false;
        }
    }
    return true;
}

bool dw_scan_path_eq(const dw_scan_field *f, const char *dotted)
{
    return dw_scan_prefix_eq(f, f->depth, dotted);
}

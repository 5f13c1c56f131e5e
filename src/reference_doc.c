/* The reference document: parser, tree and canonical writer. The contract
 * is in reference_doc_int.h; the numbers need the most care:
 *
 * Reading. A decimal of up to 19 significant digits, mant * 10^e with
 * |e| <= 22, is computed as a double-double (the 10^e are exact doubles,
 * fma() gives products and remainders exactly) with an error below 2^-100
 * of the value. The double nearest to that is the double nearest to the
 * decimal unless the decimal lies within that error of a half-way point
 * between two doubles; then, and for everything else, strtod() decides.
 *
 * Writing. "%.17g" is the 17-digit integer N = round(|v| * 10^(16 - X)),
 * X = floor(log10|v|), laid out as printf does. For normal |v| from 10^-28
 * to below 10^39 the product is computed as a double-double the same way
 * (exactly for 10^-6 <= |v| < 10^17, where 10^(16 - X) is one exact
 * double); when it falls within 10^-6 of a rounding tie, and outside that
 * range, snprintf() decides. */
#include "reference_doc_int.h"

#include "driftwatch/error.h"
#include "driftwatch/scanner.h"

#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- arena ---------- */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
} chunk;

struct dw_jdoc {
    chunk *chunks;
    dw_jnode root;
};

static void *arena_alloc(dw_jdoc *doc, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    chunk *c = doc->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > (256u << 10) ? n : (256u << 10);
        c = dw_malloc(sizeof *c + cap);
        c->next = doc->chunks;
        c->used = 0;
        c->cap = cap;
        doc->chunks = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

void dw_jdoc_free(dw_jdoc *doc)
{
    if (!doc)
        return;
    for (chunk *c = doc->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(doc);
}

const dw_jnode *dw_jdoc_root(const dw_jdoc *doc)
{
    return &doc->root;
}

const dw_jnode *dw_jnode_get(const dw_jnode *obj, const char *key)
{
    if (!dw_jnode_is(obj, DW_J_OBJECT))
        return NULL;
    size_t len = strlen(key);
    for (size_t i = obj->n; i-- > 0;) {
        const dw_jnode *m = &obj->u.k[i];
        if (m->keylen == len && memcmp(m->key, key, len) == 0)
            return m;
    }
    return NULL;
}

/* ---------- numbers ---------- */

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* strtod on a NUL-terminated copy; ERANGE towards infinity is an error, as
 * in jansson (towards zero it is not). */
static int real_strtod(const char *s, size_t len, double *out)
{
    char stackbuf[64];
    char *buf = len < sizeof stackbuf ? stackbuf : dw_malloc(len + 1);
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    char *end;
    double v = strtod(buf, &end);
    int bad = end != buf + len || (errno == ERANGE && isinf(v));
    if (buf != stackbuf)
        free(buf);
    if (bad)
        return DW_ERR_PARSE;
    *out = v;
    return 0;
}

/* The gap between positive finite r and its neighbour above (up) or below. */
static double gap(double r, bool up)
{
    uint64_t b;
    memcpy(&b, &r, sizeof b);
    b = up ? b + 1 : b - 1;
    double o;
    memcpy(&o, &b, sizeof o);
    return up ? o - r : r - o;
}

/* mant * 10^e10 (mant < 2^63, |e10| <= 22) rounded to the nearest double,
 * or false when that cannot be decided here. */
static bool decimal_to_double(uint64_t mant, int e10, double *out)
{
    if (mant <= (1ULL << 53)) { /* Clinger: one correctly rounded operation */
        double v = (double)mant;
        *out = e10 >= 0 ? v * pow10_exact[e10] : v / pow10_exact[-e10];
        return true;
    }
    double hi = (double)mant;
    double lo = (double)(int64_t)(mant - (uint64_t)hi);
    double H, L;
    if (e10 >= 0) {
        double p = pow10_exact[e10];
        H = hi * p;
        L = fma(hi, p, -H) + lo * p;
    } else {
        double p = pow10_exact[-e10];
        H = hi / p;
        L = (fma(-H, p, hi) + lo) / p;
    }
    double r = H + L;
    double err = L - (r - H); /* H + L = r + err */
    double half = gap(r, err > 0) / 2;
    if (fabs(fabs(err) - half) <= r * 0x1p-90)
        return false;
    *out = r;
    return true;
}

static inline bool is_digit(const char *p, const char *end)
{
    return p < end && (unsigned)(*p - '0') < 10;
}

/* The 8 bytes at p as a number when all are digits, else -1. */
static inline int64_t digits8_value(const char *p)
{
    uint64_t c;
    memcpy(&c, p, 8); /* little-endian: the first digit is the low byte */
    if ((c & 0xF0F0F0F0F0F0F0F0ULL) != 0x3030303030303030ULL ||
        ((c + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) != 0x3030303030303030ULL)
        return -1;
    c -= 0x3030303030303030ULL;
    c = (c * 10 + (c >> 8)) & 0x00FF00FF00FF00FFULL;   /* pairs */
    c = (c * 100 + (c >> 16)) & 0x0000FFFF0000FFFFULL; /* fours */
    return (int64_t)((c * 10000 + (c >> 32)) & 0xFFFFFFFFULL);
}

/* The digits at p into *mant (at most 19 significant ones, *nd counting
 * them; later ones set *more). A digit kept in a fraction lowers *e10, a
 * digit dropped from a whole part raises it. Returns the digits read. */
static inline size_t read_digits(const char *p, const char *end, uint64_t *mant, int *nd,
                                 bool *more, int *e10, bool frac)
{
    const char *s = p;
    int64_t eight;
    while (*nd <= 11 && end - p >= 8 && (eight = digits8_value(p)) >= 0) {
        *mant = *mant * 100000000 + (uint64_t)eight;
        *nd += 8;
        *e10 -= frac ? 8 : 0;
        p += 8;
    }
    for (; is_digit(p, end); p++) {
        if (*nd < 19) {
            *mant = *mant * 10 + (uint64_t)(*p - '0');
            ++*nd;
            *e10 -= frac;
        } else {
            *more = true;
            *e10 += !frac;
        }
    }
    return (size_t)(p - s);
}

/* One JSON number at s (at '-' or a digit), read in one pass: *stop is set
 * past it. An integer (no fraction, no exponent) goes to *i with *is_int
 * set, else the value to *d. Returns 0, or DW_ERR_PARSE for bad text, an
 * integer outside int64 or a real that overflows (jansson's errors). */
static int read_number(const char *s, const char *end, const char **stop, bool *is_int, int64_t *i,
                       double *d)
{
    const char *p = s;
    bool neg = p < end && *p == '-';
    p += neg;
    uint64_t mant = 0;
    int nd = 0, e10 = 0; /* significant digits in mant; value mant * 10^e10 */
    bool more = false;   /* significant digits beyond 19 (dropped) */
    if (!is_digit(p, end))
        return DW_ERR_PARSE;
    if (*p == '0') {
        p++;
    } else {
        p += read_digits(p, end, &mant, &nd, &more, &e10, false);
    }
    *is_int = !(p < end && (*p == '.' || *p == 'e' || *p == 'E'));
    if (*is_int) {
        *stop = p;
        if (more || (neg ? mant > (1ULL << 63) : mant > (uint64_t)INT64_MAX))
            return DW_ERR_PARSE; /* "too big integer" */
        *i = neg ? (int64_t)(0 - mant) : (int64_t)mant;
        return 0;
    }
    if (*p == '.') {
        if (!is_digit(++p, end))
            return DW_ERR_PARSE;
        if (nd == 0)
            for (; p < end && *p == '0'; p++)
                e10--;
        p += read_digits(p, end, &mant, &nd, &more, &e10, true);
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        bool xneg = p < end && *p == '-';
        if (p < end && (*p == '-' || *p == '+'))
            p++;
        if (!is_digit(p, end))
            return DW_ERR_PARSE;
        int xv = 0;
        for (; is_digit(p, end); p++)
            if (xv < 100000)
                xv = xv * 10 + (*p - '0');
        e10 += xneg ? -xv : xv;
    }
    *stop = p;
    double v;
    if (mant == 0) { /* more is false: dropped digits follow 19 others */
        *d = neg ? -0.0 : 0.0;
        return 0;
    }
    if (more || mant >= (1ULL << 63) || e10 < -22 || e10 > 22 || !decimal_to_double(mant, e10, &v))
        return real_strtod(s, (size_t)(p - s), d);
    *d = neg ? -v : v;
    return 0;
}

int dw_jdoc_parse_real(const char *s, size_t len, double *out)
{
    const char *stop;
    bool is_int;
    int64_t i;
    if (read_number(s, s + len, &stop, &is_int, &i, out) < 0 || is_int || stop != s + len)
        return DW_ERR_PARSE;
    return 0;
}

/* jansson's jsonp_dtostr() on snprintf's output: ".0" when there is
 * neither '.' nor 'e', no '+' and no leading zeros in the exponent. */
static size_t real_fixup(char *buf, size_t len)
{
    char *e = memchr(buf, 'e', len);
    if (!e) {
        if (!memchr(buf, '.', len)) {
            memcpy(buf + len, ".0", 3);
            len += 2;
        }
        return len;
    }
    char *start = e + 1, *from = e + 2;
    if (*start == '-')
        start++;
    while (*from == '0')
        from++;
    memmove(start, from, (size_t)(buf + len - from) + 1);
    return len - (size_t)(from - start);
}

static size_t real_snprintf(double v, char *buf)
{
    int n = snprintf(buf, DW_JDOC_REAL_MAX, "%.17g", v);
    return real_fixup(buf, (size_t)n);
}

/* The whole part of a * 10^k (a > 0) into *t and whether the rest is
 * above one half, or false when the product is not known precisely enough
 * to round it or k is outside what is handled. */
static bool scaled(double a, int k, uint64_t *t, bool *up)
{
    double H, L;
    if (k >= 0 && k <= 22) {
        H = a * pow10_exact[k];
        L = fma(a, pow10_exact[k], -H);
    } else if (k > 22 && k <= 44) {
        double h1 = a * 1e22, l1 = fma(a, 1e22, -h1), p = pow10_exact[k - 22];
        H = h1 * p;
        L = fma(h1, p, -H) + l1 * p;
    } else if (k < 0 && k >= -22) {
        double p = pow10_exact[-k];
        H = a / p;
        L = fma(-H, p, a) / p;
    } else {
        return false;
    }
    /* Near 10^16..10^18, beyond 2^53: H is a whole number and |L| small. */
    if (!(H >= 0x1p53 && H < 0x1p63))
        return false;
    double fl = (double)(int64_t)L;
    if (fl > L)
        fl -= 1;
    double frac = L - fl;
    if (fabs(frac - 0.5) < 1e-6)
        return false;
    *t = (uint64_t)H + (uint64_t)(int64_t)fl;
    *up = frac > 0.5;
    return true;
}

static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                     "25262728293031323334353637383940414243444546474849"
                                     "50515253545556575859606162636465666768697071727374"
                                     "75767778798081828384858687888990919293949596979899";

/* n < 10^8 as 8 digits. */
static void digits8(uint32_t n, char *out)
{
    uint32_t hi = n / 10000, lo = n % 10000;
    memcpy(out, digit_pairs + 2 * (hi / 100), 2);
    memcpy(out + 2, digit_pairs + 2 * (hi % 100), 2);
    memcpy(out + 4, digit_pairs + 2 * (lo / 100), 2);
    memcpy(out + 6, digit_pairs + 2 * (lo % 100), 2);
}

size_t dw_jdoc_format_real(double v, char *buf)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int be = (int)((bits >> 52) & 0x7FF);
    if (be == 0 || be == 0x7FF) { /* zero, subnormal (or not finite) */
        if (v == 0) {
            memcpy(buf, signbit(v) ? "-0.0" : "0.0", signbit(v) ? 5 : 4);
            return signbit(v) ? 4 : 3;
        }
        return real_snprintf(v, buf);
    }
    double a = fabs(v);
    /* floor(log10(a)), or one less: 2^(be-1023) <= a < 2^(be-1022) */
    int x = ((be - 1023) * 78913) >> 18;
    uint64_t n = 0;
    bool ok = false;
    for (int tries = 0; tries < 3; tries++) {
        bool up;
        if (!scaled(a, 16 - x, &n, &up))
            break;
        if (n < 10000000000000000ULL) {
            x--;
            continue;
        }
        if (n >= 100000000000000000ULL) {
            x++;
            continue;
        }
        n += up;
        if (n == 100000000000000000ULL) { /* rounded up into the next decade */
            n /= 10;
            x++;
        }
        ok = true;
        break;
    }
    if (!ok)
        return real_snprintf(v, buf);
    char dig[24];
    dig[0] = (char)('0' + n / 10000000000000000ULL);
    n %= 10000000000000000ULL;
    digits8((uint32_t)(n / 100000000), dig + 1);
    digits8((uint32_t)(n % 100000000), dig + 9);
    int nd = 17;
    while (nd > 1 && dig[nd - 1] == '0')
        nd--;
    char *p = buf;
    if (v < 0)
        *p++ = '-';
    if (x < -4 || x >= 17) {
        *p++ = dig[0];
        if (nd > 1) {
            *p++ = '.';
            memcpy(p, dig + 1, (size_t)nd - 1);
            p += nd - 1;
        }
        *p++ = 'e';
        int ax = x;
        if (x < 0) {
            *p++ = '-';
            ax = -x;
        }
        if (ax >= 100)
            *p++ = (char)('0' + ax / 100);
        if (ax >= 10)
            *p++ = (char)('0' + ax / 10 % 10);
        *p++ = (char)('0' + ax % 10);
    } else if (x >= 0) {
        int ip = x + 1; /* integer digits */
        memcpy(p, dig, (size_t)ip);
        p += ip;
        *p++ = '.';
        if (nd > ip) {
            memcpy(p, dig + ip, (size_t)(nd - ip));
            p += nd - ip;
        } else {
            *p++ = '0';
        }
    } else {
        *p++ = '0';
        *p++ = '.';
        for (int i = 0; i < -x - 1; i++)
            *p++ = '0';
        memcpy(p, dig, (size_t)nd);
        p += nd;
    }
    *p = '\0';
    return (size_t)(p - buf);
}

/* ---------- parser ---------- */

typedef struct parser {
    const char *p, *end;
    dw_jdoc *doc;
    dw_jnode *stack; /* children of the open containers */
    size_t sp, cap;
    char *scratch; /* decode_string()'s copy */
    size_t scap;
} parser;

static inline const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/* A string with escapes or non-ASCII bytes, raw[0..len) between its quotes,
 * decoded into out (len + 1 bytes of room). The record scanner checks it
 * (src/scanner.c has the one copy of jansson's UTF-8 and escape rules) as
 * the value of {"":"..."}, and dw_scan_unescape() decodes it. Returns the
 * decoded length, or -1 for what jansson refuses (\u0000 included). */
static long decode_string(parser *ps, const char *raw, size_t len, char *out)
{
    if (len + 8 > ps->scap) {
        ps->scap = (len + 8) * 2;
        ps->scratch = dw_realloc(ps->scratch, ps->scap);
    }
    memcpy(ps->scratch, "{\"\":\"", 5);
    memcpy(ps->scratch + 5, raw, len);
    memcpy(ps->scratch + 5 + len, "\"}", 2);
    dw_scanner sc;
    dw_scan_field field;
    dw_scan_record rec = {.fields = &field, .cap = 1};
    dw_scan_init(&sc, ps->scratch, len + 7);
    size_t n;
    if (dw_scan_next(&sc, &rec) != 1 || dw_scan_next(&sc, &rec) != 0 || rec.nfields != 1 ||
        dw_scan_unescape(raw, len, out, len + 1, &n) < 0 || memchr(out, '\0', n))
        return -1;
    return (long)n;
}

/* The string at ps->p (at '"') into the arena, NUL-terminated. */
static int parse_string(parser *ps, const char **out, size_t *outlen)
{
    const char *s = ps->p + 1, *p = s, *end = ps->end;
    bool plain = true;
    for (;;) {
        if (p >= end)
            return -1;
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            break;
        if (c < 0x20)
            return -1;
        plain = plain && c < 0x80 && c != '\\';
        p += c == '\\' ? 2 : 1; /* an escaped quote does not end the string */
    }
    size_t len = (size_t)(p - s);
    if (len > UINT32_MAX)
        return -1;
    char *str = arena_alloc(ps->doc, len + 1);
    if (plain) {
        memcpy(str, s, len);
        str[len] = '\0';
    } else {
        long n = decode_string(ps, s, len, str);
        if (n < 0)
            return -1;
        len = (size_t)n;
    }
    *out = str;
    *outlen = len;
    ps->p = p + 1;
    return 0;
}

static int parse_number(parser *ps, dw_jnode *v)
{
    bool is_int;
    if (read_number(ps->p, ps->end, &ps->p, &is_int, &v->u.i, &v->u.d) < 0)
        return -1;
    if (ps->p < ps->end && *ps->p == '\0') /* jansson drops a NUL after a number: let it decide */
        return -1;
    v->type = is_int ? DW_J_INT : DW_J_REAL;
    return 0;
}

static int parse_literal(parser *ps, const char *word, size_t n, dw_jtype t, dw_jnode *v)
{
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
        return -1;
    ps->p += n;
    if (ps->p < ps->end && *ps->p == '\0')
        return -1;
    v->type = (uint8_t)t;
    return 0;
}

static void push(parser *ps, const dw_jnode *v)
{
    if (ps->sp == ps->cap) {
        ps->cap = ps->cap ? ps->cap * 2 : 1024;
        ps->stack = dw_realloc(ps->stack, ps->cap * sizeof *ps->stack);
    }
    ps->stack[ps->sp++] = *v;
}

static int parse_value(parser *ps, dw_jnode *v, int nest);

/* ps->p at '[' or '{'. */
static int parse_container(parser *ps, dw_jnode *v, int nest)
{
    if (nest >= DW_JDOC_MAX_NESTING)
        return -1;
    bool obj = *ps->p == '{';
    char close = obj ? '}' : ']';
    size_t base = ps->sp;
    ps->p = skip_ws(ps->p + 1, ps->end);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
    } else {
        for (;;) {
            dw_jnode m = {0};
            if (obj) {
                const char *key;
                size_t keylen;
                if (ps->p >= ps->end || *ps->p != '"' || parse_string(ps, &key, &keylen) < 0)
                    return -1;
                m.key = key;
                m.keylen = (uint32_t)keylen;
                ps->p = skip_ws(ps->p, ps->end);
                if (ps->p >= ps->end || *ps->p != ':')
                    return -1;
                ps->p = skip_ws(ps->p + 1, ps->end);
            }
            if (parse_value(ps, &m, nest + 1) < 0)
                return -1;
            push(ps, &m);
            ps->p = skip_ws(ps->p, ps->end);
            if (ps->p >= ps->end)
                return -1;
            char c = *ps->p++;
            if (c == close)
                break;
            if (c != ',')
                return -1;
            ps->p = skip_ws(ps->p, ps->end);
        }
    }
    size_t n = ps->sp - base;
    dw_jnode *kids = arena_alloc(ps->doc, (n ? n : 1) * sizeof *kids);
    if (n)
        memcpy(kids, ps->stack + base, n * sizeof *kids);
    ps->sp = base;
    v->type = obj ? DW_J_OBJECT : DW_J_ARRAY;
    v->n = n;
    v->u.k = kids;
    return 0;
}

static int parse_value(parser *ps, dw_jnode *v, int nest)
{
    if (ps->p >= ps->end)
        return -1;
    switch (*ps->p) {
    case '{':
    case '[': return parse_container(ps, v, nest);
    case '"': v->type = DW_J_STRING; return parse_string(ps, &v->u.s, &v->n);
    case 't': return parse_literal(ps, "true", 4, DW_J_TRUE, v);
    case 'f': return parse_literal(ps, "false", 5, DW_J_FALSE, v);
    case 'n': return parse_literal(ps, "null", 4, DW_J_NULL, v);
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return parse_number(ps, v);
        return -1;
    }
}

/* ---------- jansson's tree, for what the parser leaves to jansson ---------- */

static void from_jansson(dw_jdoc *doc, json_t *j, dw_jnode *v)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
    case JSON_ARRAY: {
        bool obj = json_is_object(j);
        size_t n = obj ? json_object_size(j) : json_array_size(j);
        dw_jnode *kids = arena_alloc(doc, (n ? n : 1) * sizeof *kids);
        void *it = obj ? json_object_iter(j) : NULL;
        for (size_t i = 0; i < n; i++) {
            kids[i] = (dw_jnode){0};
            json_t *val = obj ? json_object_iter_value(it) : json_array_get(j, i);
            if (obj) {
                const char *key = json_object_iter_key(it);
                size_t kl = strlen(key);
                char *k = arena_alloc(doc, kl + 1);
                memcpy(k, key, kl + 1);
                kids[i].key = k;
                kids[i].keylen = (uint32_t)kl;
                it = json_object_iter_next(j, it);
            }
            from_jansson(doc, val, &kids[i]);
        }
        v->type = obj ? DW_J_OBJECT : DW_J_ARRAY;
        v->n = n;
        v->u.k = kids;
        break;
    }
    case JSON_STRING: {
        size_t n = json_string_length(j);
        char *s = arena_alloc(doc, n + 1);
        memcpy(s, json_string_value(j), n + 1);
        v->type = DW_J_STRING;
        v->n = n;
        v->u.s = s;
        break;
    }
    case JSON_INTEGER:
        v->type = DW_J_INT;
        v->u.i = json_integer_value(j);
        break;
    case JSON_REAL:
        v->type = DW_J_REAL;
        v->u.d = json_real_value(j);
        break;
    case JSON_TRUE: v->type = DW_J_TRUE; break;
    case JSON_FALSE: v->type = DW_J_FALSE; break;
    default: v->type = DW_J_NULL; break;
    }
}

int dw_jdoc_parse(const char *buf, size_t len, dw_jdoc **out, json_error_t *jerr)
{
    dw_jdoc *doc = dw_calloc(1, sizeof *doc);
    parser ps = {.p = skip_ws(buf, buf + len), .end = buf + len, .doc = doc};
    int rc = -1;
    /* json_loadb() without JSON_DECODE_ANY: an object or an array */
    if (ps.p < ps.end && (*ps.p == '{' || *ps.p == '['))
        rc = parse_container(&ps, &doc->root, 0);
    if (rc == 0 && skip_ws(ps.p, ps.end) != ps.end)
        rc = -1;
    free(ps.stack);
    free(ps.scratch);
    if (rc == 0) {
        *out = doc;
        return 0;
    }
    /* Not ours to decide: jansson's verdict, and its tree if it takes it. */
    dw_jdoc_free(doc);
    *out = NULL;
    json_t *root = json_loadb(buf, len, 0, jerr);
    if (!root)
        return DW_ERR_PARSE;
    doc = dw_calloc(1, sizeof *doc);
    from_jansson(doc, root, &doc->root);
    json_decref(root);
    *out = doc;
    return 0;
}

/* ---------- canonical form ---------- */

typedef struct writer {
    char buf[16384];
    size_t len;
    EVP_MD_CTX *md; /* hashing, or */
    char *text;     /* collecting */
    size_t tlen, tcap;
    bool failed;
} writer;

static void flush(writer *w)
{
    if (w->md) {
        if (w->len && !EVP_DigestUpdate(w->md, w->buf, w->len))
            w->failed = true;
    } else {
        if (w->tlen + w->len + 1 > w->tcap) {
            w->tcap = (w->tlen + w->len + 1) * 2;
            w->text = dw_realloc(w->text, w->tcap);
        }
        memcpy(w->text + w->tlen, w->buf, w->len);
        w->tlen += w->len;
    }
    w->len = 0;
}

static inline void put(writer *w, const char *s, size_t n)
{
    while (n) {
        if (w->len == sizeof w->buf)
            flush(w);
        size_t k = sizeof w->buf - w->len;
        if (k > n)
            k = n;
        memcpy(w->buf + w->len, s, k);
        w->len += k;
        s += k;
        n -= k;
    }
}

/* Small writes (numbers, punctuation): room for 40 bytes first. */
static inline char *reserve(writer *w)
{
    if (sizeof w->buf - w->len < 40)
        flush(w);
    return w->buf + w->len;
}

static void put_string(writer *w, const char *s, size_t n)
{
    put(w, "\"", 1);
    const char *run = s, *end = s + n;
    for (const char *p = s; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(w, run, (size_t)(p - run));
        run = p + 1;
        char esc[8];
        const char *e = esc;
        switch (c) {
        case '"': e = "\\\""; break;
        case '\\': e = "\\\\"; break;
        case '\b': e = "\\b"; break;
        case '\f': e = "\\f"; break;
        case '\n': e = "\\n"; break;
        case '\r': e = "\\r"; break;
        case '\t': e = "\\t"; break;
        default: snprintf(esc, sizeof esc, "\\u%04X", c);
        }
        put(w, e, strlen(e));
    }
    put(w, run, (size_t)(end - run));
    put(w, "\"", 1);
}

static void put_int(writer *w, int64_t i)
{
    char tmp[24], *q = tmp + sizeof tmp;
    uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
    do {
        *--q = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (i < 0)
        *--q = '-';
    put(w, q, (size_t)(tmp + sizeof tmp - q));
}

static int cmp_member(const void *a, const void *b)
{
    const dw_jnode *x = *(const dw_jnode *const *)a, *y = *(const dw_jnode *const *)b;
    size_t n = x->keylen < y->keylen ? x->keylen : y->keylen;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    if (x->keylen != y->keylen)
        return x->keylen < y->keylen ? -1 : 1;
    return x < y ? -1 : x > y; /* document order: the last one is kept */
}

static void put_value(writer *w, const dw_jnode *v, const char *skip_key)
{
    switch (v->type) {
    case DW_J_NULL: put(w, "null", 4); break;
    case DW_J_TRUE: put(w, "true", 4); break;
    case DW_J_FALSE: put(w, "false", 5); break;
    case DW_J_INT: put_int(w, v->u.i); break;
    case DW_J_REAL: {
        char *p = reserve(w);
        w->len += dw_jdoc_format_real(v->u.d, p);
        break;
    }
    case DW_J_STRING: put_string(w, v->u.s, v->n); break;
    case DW_J_ARRAY:
        put(w, "[", 1);
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                put(w, ",", 1);
            put_value(w, &v->u.k[i], NULL);
        }
        put(w, "]", 1);
        break;
    case DW_J_OBJECT: {
        const dw_jnode *small[32];
        const dw_jnode **m = v->n <= 32 ? small : dw_malloc(v->n * sizeof *m);
        for (size_t i = 0; i < v->n; i++)
            m[i] = &v->u.k[i];
        qsort(m, v->n, sizeof *m, cmp_member);
        size_t skiplen = skip_key ? strlen(skip_key) : 0;
        bool first = true;
        put(w, "{", 1);
        for (size_t i = 0; i < v->n; i++) {
            const dw_jnode *x = m[i];
            if (i + 1 < v->n && m[i + 1]->keylen == x->keylen &&
                memcmp(m[i + 1]->key, x->key, x->keylen) == 0)
                continue; /* a later member of the same name replaced it */
            if (skip_key && x->keylen == skiplen && memcmp(x->key, skip_key, skiplen) == 0)
                continue;
            if (!first)
                put(w, ",", 1);
            first = false;
            put_string(w, x->key, x->keylen);
            put(w, ":", 1);
            put_value(w, x, NULL);
        }
        put(w, "}", 1);
        if (m != small)
            free(m);
        break;
    }
    }
}

int dw_jdoc_checksum(const dw_jnode *root, const char *skip_key, char out[72])
{
    writer *w = dw_calloc(1, sizeof *w);
    w->md = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int ok = w->md && EVP_DigestInit_ex(w->md, EVP_sha256(), NULL);
    if (ok) {
        put_value(w, root, skip_key);
        flush(w);
        ok = !w->failed && EVP_DigestFinal_ex(w->md, md, &mdlen) && mdlen == 32;
    }
    EVP_MD_CTX_free(w->md);
    free(w);
    if (!ok)
        return DW_ERR_INVALID;
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "sha256:", 7);
    for (unsigned i = 0; i < 32; i++) {
        out[7 + 2 * i] = hex[md[i] >> 4];
        out[8 + 2 * i] = hex[md[i] & 15];
    }
    out[71] = '\0';
    return 0;
}

char *dw_jdoc_canonical(const dw_jnode *root, const char *skip_key, size_t *len)
{
    writer *w = dw_calloc(1, sizeof *w);
    put_value(w, root, skip_key);
    flush(w);
    char *text = w->text ? w->text : dw_malloc(1);
    text[w->tlen] = '\0';
    if (len)
        *len = w->tlen;
    free(w);
    return text;
}

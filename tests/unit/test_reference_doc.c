/* The reference document reader and canonical writer (src/reference_doc.c)
 * against jansson as the oracle: the same documents accepted with the same
 * error, the same numbers as strtod(), and canonical bytes equal to
 * json_dumps(JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17)). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_rng.h"

#include "driftwatch/error.h"
#include "reference_doc_int.h"

#include <glob.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CANON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17))

static void check_real_format(double v)
{
    json_t *j = json_real(v);
    char *want = json_dumps(j, CANON_FLAGS | JSON_ENCODE_ANY);
    char got[DW_JDOC_REAL_MAX + 1];
    size_t n = dw_jdoc_format_real(v, got);
    if (strcmp(got, want) || n != strlen(want))
        fail_msg("%a: wrote \"%s\", jansson \"%s\"", v, got, want);
    free(want);
    json_decref(j);
}

static double from_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

/* Every kind of finite double, printed as jansson prints it. */
static void test_real_format_matches_jansson(void **state)
{
    (void)state;
    rng_state = 15;
    double fixed[] = {0.0,
                      -0.0,
                      1.0,
                      -1.0,
                      0.1,
                      0.5,
                      1e16,
                      1e17,
                      1e21,
                      1e22,
                      1e23,
                      1e-4,
                      1e-5,
                      9.5e-5,
                      123.0,
                      1e300,
                      5e-324,
                      2.2250738585072014e-308,
                      1.7976931348623157e308,
                      0.30000000000000004,
                      1.0 / 3,
                      99999999999999999.0,
                      9999999999999998.0,
                      1e15 + 0.25,
                      1e15 + 0.125,
                      1e-28,
                      1e39,
                      1e38};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
        check_real_format(fixed[i]);
        check_real_format(-fixed[i]);
    }
    /* Powers of ten and their neighbours: the decade boundaries. */
    for (int e = -330; e <= 308; e++) {
        char s[16];
        snprintf(s, sizeof s, "1e%d", e);
        double p = strtod(s, NULL);
        if (p == 0 || !isfinite(p))
            continue;
        check_real_format(p);
        check_real_format(nextafter(p, 0));
        check_real_format(nextafter(p, INFINITY));
    }
    for (int i = 0; i < 300000; i++) {
        double v;
        switch (i % 6) {
        case 0: /* any bit pattern: subnormals and huge values included */
            v = from_bits(rng_u64());
            if (!isfinite(v))
                continue;
            break;
        case 1: /* statistics of ordinary data */
            v = (uniform() - 0.5) * pow(10, (int)(rng_u64() % 12) - 4);
            break;
        case 2: /* short decimals, as data is written */
            v = (double)(int64_t)(rng_u64() % 2000001 - 1000000) / pow(10, (int)(rng_u64() % 8));
            break;
        case 3: /* whole numbers around 2^53 and 10^16 */
            v = (double)(rng_u64() >> (rng_u64() % 64));
            break;
        case 4: /* binary fractions (exact decimal ties at 17 digits) */
            v = ldexp((double)(rng_u64() >> 11), -(int)(rng_u64() % 80));
            break;
        default: /* magnitudes across the fast path's edges */
            v = uniform() * pow(10, (int)(rng_u64() % 90) - 45);
            break;
        }
        check_real_format(v);
    }
}

static void check_real_parse(const char *s)
{
    double want = strtod(s, NULL), got = 0;
    assert_int_equal(dw_jdoc_parse_real(s, strlen(s), &got), 0);
    if (memcmp(&got, &want, sizeof got))
        fail_msg("\"%s\": read %a, strtod %a", s, got, want);
}

/* Decimal text read exactly as strtod() reads it. */
static void test_real_parse_matches_strtod(void **state)
{
    (void)state;
    rng_state = 16;
    const char *fixed[] = {"0.0",
                           "-0.0",
                           "0e5",
                           "1.5",
                           "1E2",
                           "1e+2",
                           "1e-400",
                           "2.4703282292062327e-324",
                           "2.4703282292062328e-324",
                           "9007199254740993.0",
                           "9007199254740993.00000000000000000000001",
                           "1.00000000000000011102230246251565404236316680908203125",
                           "1.7976931348623157e308",
                           "0.10000000000000001",
                           "123456789012345678901234567890.5"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        check_real_parse(fixed[i]);
    double v;
    assert_int_equal(dw_jdoc_parse_real("1e400", 5, &v), DW_ERR_PARSE);
    assert_int_equal(dw_jdoc_parse_real("01.5", 4, &v), DW_ERR_PARSE);
    assert_int_equal(dw_jdoc_parse_real("1.", 2, &v), DW_ERR_PARSE);
    assert_int_equal(dw_jdoc_parse_real("1e", 2, &v), DW_ERR_PARSE);
    char s[64];
    for (int i = 0; i < 300000; i++) {
        switch (i % 4) {
        case 0: { /* what jansson writes: %.17g of any double */
            double d = from_bits(rng_u64());
            if (!isfinite(d))
                continue;
            snprintf(s, sizeof s, "%.17g", d);
            if (!strpbrk(s, ".e"))
                strcat(s, ".0");
            break;
        }
        case 1: { /* 15 to 19 digits, ordinary magnitudes */
            int nd = 15 + (int)(rng_u64() % 5), dot = 1 + (int)(rng_u64() % nd);
            char *p = s;
            if (rng_u64() & 1)
                *p++ = '-';
            *p++ = (char)('1' + rng_u64() % 9);
            for (int k = 1; k < nd; k++) {
                if (k == dot)
                    *p++ = '.';
                *p++ = (char)('0' + rng_u64() % 10);
            }
            if (dot == nd)
                p += sprintf(p, ".0");
            sprintf(p, "e%d", (int)(rng_u64() % 31) - 15);
            break;
        }
        case 2: { /* half-way between two doubles: in full (long double holds it
                   * exactly), or a whole number between 2^53 and 2^63 */
            if (rng_u64() & 1) {
                double d = uniform() * pow(10, (int)(rng_u64() % 20) - 10);
                long double mid = ((long double)d + (long double)nextafter(d, INFINITY)) / 2;
                snprintf(s, sizeof s, "%.50Le", mid);
            } else {
                int e = 1 + (int)(rng_u64() % 10); /* ulp 2^e in [2^(52+e), 2^(53+e)) */
                uint64_t m = ((1ULL << 52) | (rng_u64() >> 12)) << e;
                snprintf(s, sizeof s, "%llu.0", (unsigned long long)(m + (1ULL << (e - 1))));
            }
            break;
        }
        default: /* short decimals */
            snprintf(s, sizeof s, "%.*f", (int)(rng_u64() % 9) + 1,
                     (double)(int64_t)(rng_u64() % 20000001 - 10000000) / 1000);
            break;
        }
        check_real_parse(s);
    }
}

/* ---------- random documents ---------- */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void add(buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void adds(buf *b, const char *s)
{
    add(b, s, strlen(s));
}

static void ws(buf *b)
{
    static const char *w[] = {"", "", "", " ", "\n  ", "\t", "\r\n"};
    adds(b, w[rng_u64() % 7]);
}

static void gen_string(buf *b, bool key)
{
    static const char *pieces[] = {
        "a",
        "name",
        "value",
        "count",
        "x",
        "\\\"",
        "\\\\",
        "\\/",
        "\\b",
        "\\f",
        "\\n",
        "\\r",
        "\\t",
        "\\u0001",
        "\\u001f",
        "\\u00e9",
        "\\u20AC",
        "\\ud83d\\ude00",
        "\xc3\xa9",
        "\xe2\x82\xac",
        "\xf0\x9f\x98\x80",
        "\x7f",
        "/",
        " ",
    };
    adds(b, "\"");
    int n = key ? (int)(rng_u64() % 2) : (int)(rng_u64() % 5);
    for (int i = 0; i < n; i++)
        adds(b, pieces[rng_u64() % (sizeof pieces / sizeof *pieces)]);
    adds(b, "\"");
}

static void gen_number(buf *b)
{
    char s[64];
    switch (rng_u64() % 8) {
    case 0: snprintf(s, sizeof s, "%lld", (long long)(rng_u64() % 2001) - 1000); break;
    case 1: {
        static const char *edge[] = {"9223372036854775807",
                                     "-9223372036854775808",
                                     "-0",
                                     "0",
                                     "1e21",
                                     "-0.0",
                                     "1E-7",
                                     "5e-324",
                                     "1.7976931348623157e308"};
        snprintf(s, sizeof s, "%s", edge[rng_u64() % 9]);
        break;
    }
    case 2:
        snprintf(s, sizeof s, "%.17g", (uniform() - 0.5) * pow(10, (int)(rng_u64() % 40) - 20));
        if (!strpbrk(s, ".e"))
            strcat(s, ".0");
        break;
    case 3: {
        double d = from_bits(rng_u64());
        snprintf(s, sizeof s, "%.17g", isfinite(d) ? d : 1.5);
        if (!strpbrk(s, ".e"))
            strcat(s, ".0");
        break;
    }
    case 4: snprintf(s, sizeof s, "%lld", (long long)rng_u64()); break;
    default:
        snprintf(s, sizeof s, "%.*f", (int)(rng_u64() % 6) + 1, (uniform() - 0.3) * 1000);
        break;
    }
    adds(b, s);
}

static void gen_value(buf *b, int depth)
{
    unsigned r = (unsigned)(rng_u64() % (depth < 5 ? 10 : 6));
    switch (r) {
    case 0: adds(b, rng_u64() % 3 == 0 ? "null" : rng_u64() & 1 ? "true" : "false"); break;
    case 1:
    case 2: gen_string(b, false); break;
    case 3:
    case 4:
    case 5: gen_number(b); break;
    default: { /* 6, 7: an array; 8, 9: an object */
        bool obj = r >= 8;
        adds(b, obj ? "{" : "[");
        int n = (int)(rng_u64() % 6);
        for (int i = 0; i < n; i++) {
            ws(b);
            if (i)
                adds(b, ",");
            ws(b);
            if (obj) {
                gen_string(b, true); /* few keys: duplicates are common */
                ws(b);
                adds(b, ":");
                ws(b);
            }
            gen_value(b, depth + 1);
        }
        ws(b);
        adds(b, obj ? "}" : "]");
        break;
    }
    }
}

/* text is accepted by both or by neither (with jansson's error), and the
 * canonical bytes are jansson's. Returns whether it was accepted. */
static bool check_document(const char *text, size_t len)
{
    json_error_t want_err, got_err;
    json_t *j = json_loadb(text, len, 0, &want_err);
    dw_jdoc *doc = NULL;
    int rc = dw_jdoc_parse(text, len, &doc, &got_err);
    if (!j) {
        if (rc != DW_ERR_PARSE)
            fail_msg("accepted what jansson refuses (%s): %.*s", want_err.text, (int)len, text);
        assert_null(doc);
        assert_string_equal(got_err.text, want_err.text);
        assert_int_equal(got_err.line, want_err.line);
        assert_int_equal(got_err.column, want_err.column);
        return false;
    }
    if (rc != 0)
        fail_msg("refused what jansson accepts: %.*s", (int)len, text);
    char *want = json_dumps(j, CANON_FLAGS);
    size_t glen;
    char *got = dw_jdoc_canonical(dw_jdoc_root(doc), NULL, &glen);
    if (strcmp(got, want) || glen != strlen(want))
        fail_msg("canonical form differs for %.*s:\n got  %s\n want %s", (int)len, text, got, want);
    free(got);
    free(want);
    dw_jdoc_free(doc);
    json_decref(j);
    return true;
}

static void test_random_documents_match_jansson(void **state)
{
    (void)state;
    rng_state = 17;
    int accepted = 0, refused = 0;
    buf b = {0};
    for (int i = 0; i < 20000; i++) {
        b.len = 0;
        ws(&b);
        if (i % 2)
            gen_value(&b, 0);
        else { /* an object at the top, as a reference is */
            adds(&b, "{\"k\":");
            gen_value(&b, 1);
            adds(&b, ",\"checksum\":1}");
        }
        ws(&b);
        accepted += check_document(b.p, b.len);
        /* The same text damaged: a byte changed, cut short or doubled. */
        size_t at = (size_t)(rng_u64() % (b.len + 1));
        static const char bytes[] = "{}[]\",:\\0-.eE \x01\x80\xff\xed\xc0u";
        switch (rng_u64() % 4) {
        case 0:
            if (at < b.len)
                b.p[at] = bytes[rng_u64() % (sizeof bytes - 1)];
            break;
        case 1: b.len = at; break;
        case 2:
            if (at < b.len)
                b.p[at] = '\0';
            break;
        default: { /* twice over (a copy: add() may move b.p) */
            char *copy = malloc(b.len + 1);
            memcpy(copy, b.p, b.len);
            add(&b, copy, b.len);
            free(copy);
            break;
        }
        }
        if (check_document(b.p, b.len))
            accepted++;
        else
            refused++;
    }
    /* Both kinds were exercised in numbers. */
    assert_true(accepted > 5000);
    assert_true(refused > 5000);
    free(b.p);
}

/* Strings of random bytes and random \u escapes (surrogates, pairs, NUL):
 * jansson's UTF-8 and escape rules, byte for byte. */
static void test_random_strings_match_jansson(void **state)
{
    (void)state;
    rng_state = 18;
    static const char *esc[] = {
        "\\u0000", "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\ud83d\\u0041", "\\uD834\\uDD1E",
        "\\u00",   "\\x",     "\\",      "\\u12g4"};
    int accepted = 0, refused = 0;
    for (int i = 0; i < 50000; i++) {
        char doc[128] = "{\"s\":\""; /* 7 + 6 pieces of at most 12 + 2 */
        size_t len = strlen(doc);
        int n = 1 + (int)(rng_u64() % 6);
        for (int k = 0; k < n; k++) {
            if (rng_u64() % 4 == 0) {
                const char *e = esc[rng_u64() % (sizeof esc / sizeof *esc)];
                memcpy(doc + len, e, strlen(e));
                len += strlen(e);
            } else {
                char c;
                do
                    c = (char)(rng_u64() % 255 + 1);
                while (c == '"' || c == '\\');
                doc[len++] = c;
            }
        }
        memcpy(doc + len, "\"}", 2);
        len += 2;
        if (check_document(doc, len))
            accepted++;
        else
            refused++;
    }
    assert_true(accepted > 1000);
    assert_true(refused > 1000);
}

/* Deep nesting (beyond the reader's own limit) and a NUL after a number
 * are left to jansson: same verdict, same tree. */
static void test_left_to_jansson(void **state)
{
    (void)state;
    buf b = {0};
    for (int i = 0; i < DW_JDOC_MAX_NESTING + 10; i++)
        adds(&b, "[");
    adds(&b, "1.5");
    for (int i = 0; i < DW_JDOC_MAX_NESTING + 10; i++)
        adds(&b, "]");
    assert_true(check_document(b.p, b.len));
    free(b.p);
    const char nul[] = "[1\0]";
    check_document(nul, sizeof nul - 1);
    const char big[] = "{\"a\": 99999999999999999999}";
    assert_false(check_document(big, sizeof big - 1));
}

/* Every reference file in the repository hashes as the loader always did:
 * SHA-256 of jansson's canonical dump without "checksum". */
static void test_repository_references(void **state)
{
    (void)state;
    glob_t g;
    int found = 0;
    const char *patterns[] = {DW_SOURCE_ROOT "/reference_stats/*.json",
                              DW_SOURCE_ROOT "/examples/*/*.json",
                              DW_SOURCE_ROOT "/examples/*.json"};
    for (size_t k = 0; k < 3; k++) {
        if (glob(patterns[k], 0, NULL, &g) != 0)
            continue;
        for (size_t i = 0; i < g.gl_pathc; i++) {
            FILE *f = fopen(g.gl_pathv[i], "rb");
            assert_non_null(f);
            char *text = NULL;
            size_t cap = 0, len = 0, got;
            do {
                text = realloc(text, cap += 65536);
                got = fread(text + len, 1, cap - len, f);
                len += got;
            } while (got);
            fclose(f);
            json_t *j = json_loadb(text, len, 0, NULL);
            if (!j || !json_is_object(j) || !json_object_get(j, "checksum")) {
                json_decref(j);
                free(text);
                continue; /* not a reference */
            }
            found++;
            json_error_t err;
            dw_jdoc *doc;
            assert_int_equal(dw_jdoc_parse(text, len, &doc, &err), 0);
            json_object_del(j, "checksum");
            char *want = json_dumps(j, CANON_FLAGS);
            char *canon = dw_jdoc_canonical(dw_jdoc_root(doc), "checksum", NULL);
            assert_string_equal(canon, want);
            unsigned char md[32];
            unsigned int mdlen;
            assert_true(EVP_Digest(want, strlen(want), md, &mdlen, EVP_sha256(), NULL));
            char hex[72] = "sha256:", sum[72];
            for (int b = 0; b < 32; b++)
                sprintf(hex + 7 + 2 * b, "%02x", md[b]);
            assert_int_equal(dw_jdoc_checksum(dw_jdoc_root(doc), "checksum", sum), 0);
            assert_string_equal(sum, hex);
            free(canon);
            free(want);
            dw_jdoc_free(doc);
            json_decref(j);
            free(text);
        }
        globfree(&g);
    }
    assert_true(found >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_format_matches_jansson),
        cmocka_unit_test(test_real_parse_matches_strtod),
        cmocka_unit_test(test_random_documents_match_jansson),
        cmocka_unit_test(test_random_strings_match_jansson),
        cmocka_unit_test(test_left_to_jansson),
        cmocka_unit_test(test_repository_references),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

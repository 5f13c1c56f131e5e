#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_util.h"

#include "driftwatch/error.h"
#include "driftwatch/scanner.h"

#include "../fuzz/scan_oracle.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---------------------------------------------------------- */

/* Every scan runs on an exact-size heap copy, so that a read past len is an
 * AddressSanitizer error rather than a silent read of the NUL terminator. */
typedef struct scan {
    char *buf;
    size_t len;
    dw_scanner s;
    dw_scan_field fields[64];
    dw_scan_record rec;
} scan;

static scan *scan_new(const char *json, size_t len)
{
    scan *sc = calloc(1, sizeof *sc);
    sc->buf = malloc(len ? len : 1);
    memcpy(sc->buf, json, len);
    sc->len = len;
    dw_scan_init(&sc->s, sc->buf, len);
    sc->rec.fields = sc->fields;
    sc->rec.cap = 64;
    return sc;
}

static scan *scan_str(const char *json)
{
    return scan_new(json, strlen(json));
}

static void scan_free(scan *sc)
{
    free(sc->buf);
    free(sc);
}

static const dw_scan_field *field(const scan *sc, const char *dotted)
{
    for (size_t i = 0; i < sc->rec.nfields; i++)
        if (dw_scan_path_eq(&sc->rec.fields[i], dotted))
            return &sc->rec.fields[i];
    return NULL;
}

static int slice_is(dw_scan_slice s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

/* Scans a one-record message and returns the field's number. */
static double num_of(const char *json, const char *path)
{
    scan *sc = scan_str(json);
    assert_int_equal(dw_scan_next(&sc->s, &sc->rec), 1);
    const dw_scan_field *f = field(sc, path);
    assert_non_null(f);
    assert_int_equal(f->kind, DW_SCAN_NUMBER);
    double v = f->num;
    assert_int_equal(dw_scan_next(&sc->s, &sc->rec), 0);
    scan_free(sc);
    return v;
}

/* Expects a parse error with the given reason at byte offset pos. */
static void expect_error(const char *json, size_t len, const char *reason, size_t pos)
{
    scan *sc = scan_new(json, len);
    int rc;
    while ((rc = dw_scan_next(&sc->s, &sc->rec)) > 0 || rc == DW_ERR_INVALID)
        ;
    if (rc != DW_ERR_PARSE)
        fail_msg("no error for %.*s", (int)len, json);
    size_t at;
    const char *why = dw_scan_error(&sc->s, &at);
    if (strcmp(why, reason) != 0 || at != pos)
        fail_msg("%.*s: got '%s' at %zu, want '%s' at %zu", (int)len, json, why, at, reason, pos);
    /* Sticky: the message stays invalid. */
    assert_int_equal(dw_scan_next(&sc->s, &sc->rec), DW_ERR_PARSE);
    /* jansson, the oracle, rejects it too (except for the documented
     * nesting limit difference). */
    if (strcmp(reason, "nesting too deep") != 0) {
        json_error_t e;
        json_t *j = json_loadb(json, len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &e);
        if (j)
            fail_msg("jansson accepts %.*s", (int)len, json);
    }
    scan_free(sc);
}

#define ERR(lit, reason, pos) expect_error(lit, sizeof(lit) - 1, reason, pos)

/* ---- hand cases ------------------------------------------------------- */

static void test_design_record(void **state)
{
    (void)state;
    scan *sc = scan_str("{\"ts\": 1795500000123, \"model\": \"fraud\", \"model_version\": \"v3\",\n"
                        " \"request_id\": \"r-81\", \"features\": {\"amount\": 12.5, "
                        "\"country\": \"DE\", \"age\": null},\n"
                        " \"prediction\": {\"score\": 0.83, \"label\": \"fraud\"}, "
                        "\"latency_ms\": 12.3}");
    assert_int_equal(dw_scan_next(&sc->s, &sc->rec), 1);
    assert_int_equal(sc->rec.nfields, 10);
    assert_int_equal(sc->rec.ndropped, 0);
    assert_int_equal(sc->rec.index, 0);
    assert_int_equal(sc->rec.raw.len, sc->len);

    const dw_scan_field *f = field(sc, "ts");
    assert_non_null(f);
    assert_int_equal(f->kind, DW_SCAN_NUMBER);
    assert_true(f->num == 1795500000123.0); /* an integer below 2^53: exact */
    assert_true(slice_is(f->raw, "1795500000123"));

    f = field(sc, "model");
    assert_int_equal(f->kind, DW_SCAN_STRING);
    assert_true(slice_is(f->raw, "fraud"));
    assert_false(f->str_escaped);

    f = field(sc, "features.amount");
    assert_non_null(f);
    assert_int_equal(f->depth, 2);
    assert_true(slice_is(f->key[0], "features"));
    assert_true(slice_is(f->key[1], "amount"));
    assert_true(f->num == 12.5); /* exactly representable */

    assert_int_equal(field(sc, "features.country")->kind, DW_SCAN_STRING);
    assert_int_equal(field(sc, "features.age")->kind, DW_SCAN_NULL);
    assert_true(slice_is(field(sc, "features.age")->raw, "null"));
    /* 0.83 is not exact in binary: strtod's correctly rounded value. */
    assert_true(field(sc, "prediction.score")->num == strtod("0.83", NULL));
    assert_true(slice_is(field(sc, "prediction.label")->raw, "fraud"));
    assert_true(field(sc, "latency_ms")->num == strtod("12.3", NULL));
    /* Containers are not leaves; prefixes and extensions do not match. */
    assert_null(field(sc, "features"));
    assert_null(field(sc, "features.amount.x"));
    assert_null(field(sc, "feature.amount"));
    assert_null(field(sc, "features.amoun"));

    assert_int_equal(dw_scan_next(&sc->s, &sc->rec), 0);
    assert_int_equal(dw_scan_next(&sc->s, &sc->rec), 0); /* stays at the end */
    scan_free(sc);
}

static void test_nesting_and_skipped_values(void **state)
{
    (void)state;
    scan *sc = scan_str("{\"a\":{\"b\":{\"c\":true,\"d\":{\"e\":1,\"f\":[1,{\"g\":2}]}}},"
                        "\"arr\":[1,2,{\"x\":3}],\"t\":false,\"empty\":{},\"eo\":{\"in\":{}}}");
    assert_int_equal(dw_scan_next(&sc->s, &sc->rec), 1);
    const dw_scan_field *f = field(sc, "a.b.c");
    assert_non_null(f);
    assert_int_equal(f->kind, DW_SCAN_BOOL);
    assert_true(f->boolean);
    assert_int_equal(f->depth, 3);

    /* An object at the maximum depth is reported whole, not descended. */
    f = field(sc, "a.b.d");
    assert_non_null(f);
    assert_int_equal(f->kind, DW_SCAN_OBJECT);
    assert_true(slice_is(f->raw, "{\"e\":1,\"f\":[1,{\"g\":2}]}"));

    f = field(sc, "arr");
    assert_int_equal(f->kind, DW_SCAN_ARRAY);
    assert_true(slice_is(f->raw, "[1,2,{\"x\":3}]"));

    f = field(sc, "t");
    assert_int_equal(f->kind, DW_SCAN_BOOL);
    assert_false(f->boolean);

    /* Empty objects above the depth limit have no leaves; one at the
     * limit is a skipped value. */
    assert_null(field(sc, "empty"));
    f = field(sc, "eo.in");
    assert_null(f);
    assert_int_equal(sc->rec.nfields, 4);
    assert_int_equal(dw_scan_next(&sc->s, &sc->rec), 0);
    scan_free(sc);

    sc = scan_str("{\"x\":{\"y\":{\"z\":{}}}}");
    assert_int_equal(dw_scan_next(&sc->s, &sc->rec), 1);
    f = field(sc, "x.y.z");
    assert_non_null(f);
    assert_int_equal(f->kind, DW_SCAN_OBJECT);
    assert_true(slice_is(f->raw, "{}"));
    scan_free(sc);
}

static void test_nesting_limit(void **state)
{
    (void)state;
    /* 64 open brackets are allowed, 65 are not (jansson allows 2048: a
     * documented difference). Built at run time to keep the source legible. */
    char ok[256], bad[256];
    size_t n = 0;
    ok[n++] = '{';
    ok[n++] = '"';
    ok[n++] = 'a';
    ok[n++] = '"';
    ok[n++] = ':';
    for (int i = 0; i < 63; i++)
        ok[n++] = '[';
    for (int i = 0; i < 63; i++)
        ok[n++] = ']';
    ok[n++] = '}';
    scan *sc = scan_new(ok, n);
    assert_int_equal(dw_scan_next(&sc->s, &sc->rec), 1);
    assert_int_equal(field(sc, "a")->kind, DW_SCAN_ARRAY);
    scan_free(sc);

    size_t m = 0;
    for (int i = 0; i < 65; i++)
        bad[m++] = '[';
    for (int i = 0; i < 65; i++)
        bad[m++] = ']';
    expect_error(bad, m, "nesting too deep", 64);
    json_error_t e;
    json_t *j = json_loadb(bad, m, 0, &e);
    assert_non_null(j); /* the difference is real: jansson accepts */
    json_decref(j);
}

static void test_array_of_records(void **state)
{
    (void)state;
    scan *sc = scan_str(" [ {\"a\":1} , 5, {\"a\":2,\"b\":\"x\"}, [1,{}], \"s\", {} ] \n");
    assert_int_equal(dw_scan_next(&sc->s, &sc->rec), 1);
    assert_int_equal(sc->rec.index, 0);
    assert_true(field(sc, "a")->num == 1.0);
    assert_true(slice_is(sc->rec.raw, "{\"a\":1}"));

    assert_int_equal(dw_scan_next(&sc->s, &sc->rec), DW_ERR_INVALID);
    assert_int_equal(sc->rec.index, 1);
    size_t pos;
    assert_string_equal(dw_scan_error(&sc->s, &pos), "array element is not a JSON object");
    assert_int_equal(pos, 13);
    char msg[128];
    assert_int_equal(dw_scan_format_error(&sc->s, "t/0@7", msg, sizeof msg), DW_ERR_INVALID);
    assert_string_equal(msg, "t/0@7: line 1, column 14 (byte 13): array element is not a JSON "
                             "object");

    assert_int_equal(dw_scan_next(&sc->s, &sc->rec), 1);
    assert_int_equal(sc->rec.index, 2);
    assert_int_equal(sc->rec.nfields, 2);
    assert_true(field(sc, "a")->num == 2.0);
    assert_int_equal(dw_scan_next(&sc->s, &sc->rec), DW_ERR_INVALID);
    assert_int_equal(sc->rec.index, 3);
    assert_true(slice_is(sc->rec.raw, "[1,{}]"));
    assert_int_equal(dw_scan_next(&sc->s, &sc->rec), DW_ERR_INVALID);
    assert_int_equal(dw_scan_next(&sc->s, &sc->rec), 1);
    assert_int_equal(sc->rec.index, 5);
    assert_int_equal(sc->rec.nfields, 0);
    assert_int_equal(dw_scan_next(&sc->s, &sc->rec), 0);
    scan_free(sc);

    sc = scan_str("[]");
    assert_int_equal(dw_scan_next(&sc->s, &sc->rec), 0);
    scan_free(sc);

    /* A syntax error in element 2 after element 1 was yielded. */
    sc = scan_str("[{\"a\":1},{\"a\":]");
    assert_int_equal(dw_scan_next(&sc->s, &sc->rec), 1);
    assert_int_equal(dw_scan_next(&sc->s, &sc->rec), DW_ERR_PARSE);
    assert_int_equal(dw_scan_next(&sc->s, &sc->rec), DW_ERR_PARSE);
    scan_free(sc);

    /* Trailing garbage after a single object: the record is not yielded. */
    sc = scan_str("{\"a\":1} x");
    assert_int_equal(dw_scan_next(&sc->s, &sc->rec), DW_ERR_PARSE);
    scan_free(sc);
}

static void test_escapes_and_unicode(void **state)
{
    (void)state;
    scan *sc = scan_str("{\"k\\u00e9y\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\","
                        "\"u\":\"\\u00e9\\u20AC\\ud83d\\ude00\",\"raw\":\"\xc3\xa9\xe2\x82\xac\","
                        "\"n\":\"x\\u0000y\",\"d.o.t\":1}");
    assert_int_equal(dw_scan_next(&sc->s, &sc->rec), 1);
    const dw_scan_field *f = &sc->rec.fields[0];
    assert_int_equal(f->key_escaped, 1);
    assert_true(slice_is(f->key[0], "k\\u00e9y"));
    assert_true(dw_scan_path_eq(f, "k\xc3\xa9y"));
    assert_false(dw_scan_path_eq(f, "k\\u00e9y"));
    assert_true(f->str_escaped);
    char out[64];
    size_t n;
    assert_int_equal(dw_scan_unescape(f->raw.ptr, f->raw.len, out, sizeof out, &n), 0);
    assert_int_equal(n, 12);
    assert_memory_equal(out, "a\"b\\c/d\b\f\n\r\t", 13);

    f = field(sc, "u");
    assert_int_equal(dw_scan_unescape(f->raw.ptr, f->raw.len, out, sizeof out, &n), 0);
    /* é (2 bytes), € (3), U+1F600 from a surrogate pair (4). */
    assert_int_equal(n, 9);
    assert_memory_equal(out, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10);

    f = field(sc, "raw");
    assert_false(f->str_escaped);
    assert_true(slice_is(f->raw, "\xc3\xa9\xe2\x82\xac"));

    f = field(sc, "n");
    assert_int_equal(dw_scan_unescape(f->raw.ptr, f->raw.len, out, sizeof out, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "x\0y", 4);

    /* A key with a dot cannot be named by a dotted path, but by key_eq. */
    f = &sc->rec.fields[sc->rec.nfields - 1];
    assert_false(dw_scan_path_eq(f, "d.o.t"));
    assert_true(dw_scan_key_eq(f->key[0], false, "d.o.t", 5));
    scan_free(sc);
}

static void test_unescape_bounds(void **state)
{
    (void)state;
    char out[8];
    size_t n;
    /* 7 bytes + NUL fit in 8. */
    assert_int_equal(dw_scan_unescape("abcdefg", 7, out, sizeof out, &n), 0);
    assert_string_equal(out, "abcdefg");
    assert_int_equal(dw_scan_unescape("abcdefgh", 8, out, sizeof out, &n), DW_ERR_LIMIT);
    assert_int_equal(strlen(out), 7); /* truncated, still terminated */
    /* A 3-byte character never splits at the bound. */
    assert_int_equal(dw_scan_unescape("abcde\\u20ac", 11, out, sizeof out, &n), DW_ERR_LIMIT);
    assert_string_equal(out, "abcde");
    assert_int_equal(dw_scan_unescape("", 0, out, 0, &n), DW_ERR_LIMIT);
    assert_int_equal(dw_scan_unescape("a\\q", 3, out, sizeof out, &n), DW_ERR_PARSE);
    assert_int_equal(dw_scan_unescape("\\ud800", 6, out, sizeof out, &n), DW_ERR_PARSE);
    assert_int_equal(dw_scan_unescape("\\u12", 4, out, sizeof out, &n), DW_ERR_PARSE);
}

static void test_key_eq(void **state)
{
    (void)state;
    dw_scan_slice k = {"a\\tb", 4};
    assert_true(dw_scan_key_eq(k, true, "a\tb", 3));
    assert_false(dw_scan_key_eq(k, true, "a\tbc", 4));
    assert_false(dw_scan_key_eq(k, true, "a\t", 2));
    assert_false(dw_scan_key_eq(k, false, "a\tb", 3));
    dw_scan_slice e = {"", 0};
    assert_true(dw_scan_key_eq(e, false, "", 0));
    assert_false(dw_scan_key_eq(e, false, "x", 1));
}

static void test_numbers(void **state)
{
    (void)state;
    /* Exact comparisons: each literal below is either an exactly
     * representable value or compared against strtod, which the scanner
     * must match exactly on its fast path. */
    assert_true(num_of("{\"v\":0}", "v") == 0.0);
    assert_true(num_of("{\"v\":-17}", "v") == -17.0);
    assert_true(num_of("{\"v\":-12.3456}", "v") == strtod("-12.3456", NULL));
    assert_true(num_of("{\"v\":1.5e3}", "v") == 1500.0);
    assert_true(num_of("{\"v\":1E-3}", "v") == strtod("1e-3", NULL));
    assert_true(num_of("{\"v\":2.5e+2}", "v") == 250.0);
    assert_true(num_of("{\"v\":9007199254740993}", "v") == strtod("9007199254740993", NULL));
    assert_true(num_of("{\"v\":9223372036854775807}", "v") == 9223372036854775807.0);
    /* Beyond int64 (jansson: "too big integer"): accepted as a double. */
    assert_true(num_of("{\"v\":9223372036854775808}", "v") == 9223372036854775808.0);
    assert_true(num_of("{\"v\":-123456789012345678901234567890}", "v") ==
                strtod("-123456789012345678901234567890", NULL));
    assert_true(num_of("{\"v\":1.7976931348623157e308}", "v") == 1.7976931348623157e308);
    assert_true(num_of("{\"v\":4.9e-324}", "v") == strtod("4.9e-324", NULL));
    /* Underflow is zero, as with strtod and jansson. */
    assert_true(num_of("{\"v\":1e-400}", "v") == 0.0);
    assert_true(num_of("{\"v\":0.0000000000000000000000000001}", "v") == 1e-28);
    assert_true(num_of("{\"v\":1e00000000000000000002}", "v") == 100.0);
    /* A long mantissa: the slow path keeps 40 digits plus a sticky digit. */
    const char *longm = "0.1000000000000000055511151231257827021181583404541015625";
    char buf[128];
    snprintf(buf, sizeof buf, "{\"v\":%s}", longm);
    assert_true(oracle_ulps(num_of(buf, "v"), strtod(longm, NULL)) <= 1);
    const char *pi = "3.14159265358979323846264338327950288419716939937510582097494459";
    snprintf(buf, sizeof buf, "{\"v\":%se-5}", pi);
    char pie[80];
    snprintf(pie, sizeof pie, "%se-5", pi);
    assert_true(oracle_ulps(num_of(buf, "v"), strtod(pie, NULL)) <= 1);

    /* -0 keeps its sign. */
    double z = num_of("{\"v\":-0}", "v");
    assert_true(z == 0.0 && signbit(z));
    z = num_of("{\"v\":-0.0e7}", "v");
    assert_true(z == 0.0 && signbit(z));
    z = num_of("{\"v\":-0.00000000000000000000000000}", "v");
    assert_true(z == 0.0 && signbit(z));
}

/* Numbers followed by at least 41 bytes take the fast reader, which reads
 * a fraction of up to 7 digits in one 8-byte step: every fraction length
 * around that step, a digit count over 19 (the exact path's limit), an
 * exponent right after the fraction, and a fraction ending at each kind of
 * delimiter must give strtod's value. */
static void test_number_fraction_step(void **state)
{
    (void)state;
    const char *pad = "\"pad\": \"........................................\"";
    const char *ints[] = {"0", "-0", "7", "-42", "123456789012", "-1234567890123456"};
    const char *digits = "31415926535897932384";
    char num[64], buf[256];
    for (size_t ii = 0; ii < sizeof ints / sizeof *ints; ii++)
        for (int k = 1; k <= 12; k++) {
            snprintf(num, sizeof num, "%s.%.*s", ints[ii], k, digits);
            snprintf(buf, sizeof buf, "{\"v\": %s, %s}", num, pad);
            double want = strtod(num, NULL), got = num_of(buf, "v");
            if (strlen(num) - (num[0] == '-') - 1 <= 15)
                assert_true(got == want && signbit(got) == signbit(want));
            else
                assert_true(oracle_ulps(got, want) <= 1);
            snprintf(buf, sizeof buf, "{\"v\": [%s], %s}", num, pad);
            scan *sc = scan_str(buf);
            assert_int_equal(dw_scan_next(&sc->s, &sc->rec), 1);
            scan_free(sc);
            snprintf(buf, sizeof buf, "{\"a\": {\"v\":%s}, %s}", num, pad);
            assert_true(num_of(buf, "a.v") == got);
        }
    snprintf(buf, sizeof buf, "{\"v\": 0.25e2, %s}", pad);
    assert_true(num_of(buf, "v") == 25.0);
    snprintf(buf, sizeof buf, "{\"v\": -1.5E-3 , %s}", pad);
    assert_true(num_of(buf, "v") == strtod("-1.5E-3", NULL));
    snprintf(buf, sizeof buf, "{\"v\": 12.0000, %s}", pad);
    assert_true(num_of(buf, "v") == 12.0);
    /* A fraction without digits is an error on the fast path too. */
    snprintf(buf, sizeof buf, "{\"v\": 1., %s}", pad);
    scan *sc = scan_str(buf);
    assert_true(dw_scan_next(&sc->s, &sc->rec) < 0);
    scan_free(sc);
}

static void test_errors(void **state)
{
    (void)state;
    ERR("", "empty message", 0);
    ERR(" \n\t ", "message is only whitespace", 4);
    ERR("5", "message is not a JSON object or array", 0);
    ERR("\"s\"", "message is not a JSON object or array", 0);
    ERR("{", "unexpected end of input", 1);
    ERR("{\"a\"", "unexpected end of input", 4);
    ERR("{\"a\":", "unexpected end of input", 5);
    ERR("{\"a\":1", "unexpected end of input", 6);
    ERR("{\"a\":1,", "unexpected end of input", 7);
    ERR("{\"a\":\"xy", "unexpected end of input", 8);
    ERR("{\"a\":\"x\\", "unexpected end of input", 8);
    ERR("{\"a\":\"\\u12", "unexpected end of input", 10);
    ERR("{\"a\":\"\xc3", "unexpected end of input", 7);
    ERR("{\"a\":tr", "unexpected end of input", 7);
    ERR("{\"a\":-", "unexpected end of input", 6);
    ERR("{\"a\":1.", "unexpected end of input", 7);
    ERR("{\"a\":1e", "unexpected end of input", 7);
    ERR("{\"a\":[1,", "unexpected end of input", 8);
    ERR("[{\"a\":1}", "unexpected end of input", 8);
    ERR("[", "unexpected end of input", 1);
    ERR("{a:1}", "expected string key", 1);
    ERR("{\"a\":1,}", "expected string key", 7);
    ERR("{\"a\" 1}", "expected ':' after key", 5);
    ERR("{\"a\":1 \"b\":2}", "expected ',' or '}'", 7);
    ERR("{\"a\":[1 2]}", "expected ',' or ']'", 8);
    ERR("[{} {}]", "expected ',' or ']'", 4);
    ERR("{\"a\":}", "expected a value", 5);
    ERR("{\"a\":[1,]}", "expected a value", 8);
    ERR("{\"a\":tru}", "invalid literal", 5);
    ERR("{\"a\":nul1}", "invalid literal", 5);
    ERR("{\"a\":True}", "expected a value", 5);
    ERR("{\"a\":01}", "expected ',' or '}'", 6);
    ERR("{\"a\":+1}", "expected a value", 5);
    ERR("{\"a\":.5}", "expected a value", 5);
    ERR("{\"a\":-x}", "invalid number", 6);
    ERR("{\"a\":1.e5}", "invalid number", 7);
    ERR("{\"a\":1e+}", "invalid number", 8);
    ERR("{\"a\":1e400}", "number out of range", 5);
    ERR("{\"a\":-1e400}", "number out of range", 5);
    ERR("{\"a\":\"x\ty\"}", "control character in string", 7);
    ERR("{\"a\":\"x\0y\"}", "control character in string", 7);
    ERR("{\"a\":\"\\x\"}", "invalid escape", 6);
    ERR("{\"a\":\"\\u12g4\"}", "invalid \\u escape", 6);
    ERR("{\"a\":\"\\ud800\"}", "unpaired surrogate in \\u escape", 6);
    ERR("{\"a\":\"\\ud800\\n\"}", "unpaired surrogate in \\u escape", 6);
    ERR("{\"a\":\"\\ud800\\u0041\"}", "unpaired surrogate in \\u escape", 6);
    ERR("{\"a\":\"\\udc00\\ud800\"}", "unpaired surrogate in \\u escape", 6);
    ERR("{\"a\":\"\xff\"}", "invalid UTF-8 in string", 6);
    ERR("{\"a\":\"\xc0\x80\"}", "invalid UTF-8 in string", 6);         /* overlong */
    ERR("{\"a\":\"\xed\xa0\x80\"}", "invalid UTF-8 in string", 6);     /* surrogate */
    ERR("{\"a\":\"\xf4\x90\x80\x80\"}", "invalid UTF-8 in string", 6); /* > U+10FFFF */
    ERR("{\"a\":\"\xe2\x28\xa1\"}", "invalid UTF-8 in string", 6);     /* bad continuation */
    ERR("{\"a\":1}}", "trailing characters after the message", 7);
    ERR("[{}] []", "trailing characters after the message", 5);
    ERR("{}\0", "trailing characters after the message", 2);
    ERR("{\"a\":1} \xef\xbb\xbf", "trailing characters after the message", 8);
    /* jansson 2.14 accepts these two (it loses a NUL after a number or
     * literal); they are not JSON, so the scanner rejects them. */
    char nul1[] = "{\"a\":1\0}", nul2[] = "{\"a\":true\0}";
    scan *n1 = scan_new(nul1, sizeof nul1 - 1), *n2 = scan_new(nul2, sizeof nul2 - 1);
    assert_int_equal(dw_scan_next(&n1->s, &n1->rec), DW_ERR_PARSE);
    assert_int_equal(dw_scan_next(&n2->s, &n2->rec), DW_ERR_PARSE);
    char why[256];
    assert_int_equal(dw_scan_oracle_check((const uint8_t *)nul1, sizeof nul1 - 1, why, sizeof why),
                     1);
    scan_free(n1);
    scan_free(n2);

    scan *sc = scan_str("{\n  \"a\": 1,\n  \"b\": tx}");
    while (dw_scan_next(&sc->s, &sc->rec) > 0)
        ;
    char msg[128];
    assert_int_equal(dw_scan_format_error(&sc->s, "fraud/2@99", msg, sizeof msg), DW_ERR_PARSE);
    assert_string_equal(msg, "fraud/2@99: line 3, column 8 (byte 19): invalid literal");
    assert_int_equal(dw_scan_format_error(&sc->s, NULL, msg, sizeof msg), DW_ERR_PARSE);
    assert_string_equal(msg, "line 3, column 8 (byte 19): invalid literal");
    scan_free(sc);
}

static void test_capacity_counts_dropped(void **state)
{
    (void)state;
    const char *j = "{\"a\":1,\"b\":{\"c\":2,\"d\":3},\"e\":[],\"f\":null}";
    dw_scan_field fields[3];
    dw_scanner s;
    dw_scan_record rec = dwt_scan_one(&s, j, fields, 3);
    assert_int_equal(rec.nfields, 3);
    assert_int_equal(rec.ndropped, 2);
    assert_true(dw_scan_path_eq(&fields[2], "b.d"));

    /* Validation only: no field array at all. */
    dw_scan_init(&s, j, strlen(j));
    dw_scan_record none = {.fields = NULL, .cap = 0};
    assert_int_equal(dw_scan_next(&s, &none), 1);
    assert_int_equal(none.nfields, 0);
    assert_int_equal(none.ndropped, 5);
}

static void test_never_reads_past_len(void **state)
{
    (void)state;
    /* Every prefix of a valid message is scanned from an exact-size copy
     * (ASan catches an over-read); none but the whole is valid. */
    const char *j = "{\"a\":-1.25e+2,\"b\":\"\\ud83d\\ude00\xc3\xa9\",\"c\":[true,false,null],"
                    "\"d\":{\"e\":123456789012345678901234}}";
    size_t len = strlen(j);
    for (size_t n = 0; n <= len; n++) {
        scan *sc = scan_new(j, n);
        int rc = dw_scan_next(&sc->s, &sc->rec);
        if (n == len)
            assert_int_equal(rc, 1);
        else
            assert_int_equal(rc, DW_ERR_PARSE);
        size_t pos;
        dw_scan_error(&sc->s, &pos);
        assert_true(pos <= n);
        scan_free(sc);
    }
}

/* ---- differential test against jansson -------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* splitmix64: a fixed seed gives the same messages on every run. */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static unsigned rn(unsigned n)
{
    return (unsigned)(rnd() % n);
}

typedef struct gbuf {
    char *p;
    size_t len, cap;
} gbuf;

static void put(gbuf *b, const char *s, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void puts_(gbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

static const char *const keys[] = {
    "ts",
    "model",
    "features",
    "f0",
    "f1",
    "c0",
    "score",
    "a\\u00e9",
    "\\n\\t",
    "",
    "d.o",
    "\xc3\xa9t\xc3\xa9",
    "\\ud83d\\ude00",
    "x\\\"y",
    "prediction",
    "latency_ms",
};

static const char *const strs[] = {
    "DE",
    "",
    "fraud",
    "\\u00e9\\u20ac",
    "\\ud83d\\ude00",
    "a\\\"b\\\\c",
    "\\/\\b\\f\\n\\r\\t",
    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
    "2026-11-25T13:32:11Z",
    "\\u0000x",
    "\x7f",
};

static void gen_number(gbuf *b)
{
    char tmp[96];
    switch (rn(9)) {
    case 0: snprintf(tmp, sizeof tmp, "%d", (int)rn(2000) - 1000); break;
    case 1:
        snprintf(tmp, sizeof tmp, "%.4f", ((double)rnd() / 18446744073709551616.0 - 0.5) * 8);
        break;
    case 2:
        snprintf(tmp, sizeof tmp, "%.17g",
                 ((double)rnd() / 18446744073709551616.0) * pow(10, (int)rn(600) - 300));
        break;
    case 3:
        snprintf(tmp, sizeof tmp, "%llu%llu", (unsigned long long)rnd(), (unsigned long long)rnd());
        break;
    case 4: snprintf(tmp, sizeof tmp, "-0"); break;
    case 5:
        snprintf(tmp, sizeof tmp, "%u.%u%uE%c%u", rn(100), rn(1000000000), rn(1000000000),
                 "+-"[rn(2)], rn(40));
        break;
    case 6: snprintf(tmp, sizeof tmp, "%lld", (long long)rnd()); break;
    case 7: snprintf(tmp, sizeof tmp, "1e%d", (int)rn(700) - 350); break;
    default: snprintf(tmp, sizeof tmp, "0.%04u", rn(10000)); break;
    }
    puts_(b, tmp);
}

static void gen_value(gbuf *b, int depth);

static void gen_object(gbuf *b, int depth)
{
    puts_(b, "{");
    unsigned n = rn(depth == 0 ? 12 : 5);
    for (unsigned i = 0; i < n; i++) {
        if (i)
            puts_(b, rn(4) ? "," : ", ");
        puts_(b, "\"");
        puts_(b, keys[rn(sizeof keys / sizeof *keys)]);
        puts_(b, rn(3) ? "\":" : "\" : ");
        gen_value(b, depth + 1);
    }
    puts_(b, "}");
}

static void gen_value(gbuf *b, int depth)
{
    unsigned k = rn(depth > 5 ? 6 : 9);
    switch (k) {
    case 0:
    case 1:
    case 2: gen_number(b); break;
    case 3:
        puts_(b, "\"");
        puts_(b, strs[rn(sizeof strs / sizeof *strs)]);
        puts_(b, "\"");
        break;
    case 4: puts_(b, (const char *[]){"true", "false", "null"}[rn(3)]); break;
    case 5:
        puts_(b, "\"");
        puts_(b, strs[rn(sizeof strs / sizeof *strs)]);
        puts_(b, strs[rn(sizeof strs / sizeof *strs)]);
        puts_(b, "\"");
        break;
    case 6:
    case 7: gen_object(b, depth); break;
    default: {
        puts_(b, "[");
        unsigned n = rn(4);
        for (unsigned i = 0; i < n; i++) {
            if (i)
                puts_(b, ",");
            gen_value(b, depth + 1);
        }
        puts_(b, "]");
    }
    }
}

static void gen_message(gbuf *b)
{
    b->len = 0;
    if (rn(10) < 7) {
        gen_object(b, 0);
    } else {
        puts_(b, "[");
        unsigned n = rn(5);
        for (unsigned i = 0; i < n; i++) {
            if (i)
                puts_(b, ",\n");
            if (rn(6))
                gen_object(b, 1);
            else
                gen_value(b, 1);
        }
        puts_(b, "]");
    }
    if (rn(4) == 0)
        puts_(b, "\n");
}

/* Bytes that make a mutation interesting to the grammar. */
static const char interesting[] = "\"\\{}[],:0123456789-+.eEtfnu \t\n\x00\x80\x8f\x90\x9f\xa0\xbf"
                                  "\xc0\xc1\xc3\xe0\xed\xf0\xf4\xf5\xff";

static void mutate(gbuf *b)
{
    unsigned nm = 1 + rn(3);
    for (unsigned m = 0; m < nm; m++) {
        switch (rn(4)) {
        case 0: /* truncate */ b->len = b->len ? rn((unsigned)b->len) : 0; break;
        case 1: /* flip a byte */
            if (b->len)
                b->p[rn((unsigned)b->len)] =
                    rn(2) ? interesting[rn(sizeof interesting - 1)] : (char)rn(256);
            break;
        case 2: { /* insert a byte */
            char ch = interesting[rn(sizeof interesting - 1)];
            size_t at = rn((unsigned)b->len + 1);
            put(b, &ch, 1);
            memmove(b->p + at + 1, b->p + at, b->len - at - 1);
            b->p[at] = ch;
            break;
        }
        default: /* delete a byte */
            if (b->len) {
                size_t at = rn((unsigned)b->len);
                memmove(b->p + at, b->p + at + 1, b->len - at - 1);
                b->len--;
            }
        }
    }
}

static void test_differential_vs_jansson(void **state)
{
    (void)state;
    rng_state = 20261125;
    gbuf b = {0};
    char why[512];
    int agree = 0, skipped = 0, valid = 0;
    const int N = 40000;
    for (int i = 0; i < N; i++) {
        gen_message(&b);
        /* Two of three messages are mutated; the rest stay valid. */
        if (i % 3)
            mutate(&b);
        json_error_t e;
        json_t *j = json_loadb(b.p, b.len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &e);
        valid += j != NULL;
        json_decref(j);
        int rc = dw_scan_oracle_check((const uint8_t *)b.p, b.len, why, sizeof why);
        if (rc < 0)
            fail_msg("message %d (%zu bytes) '%.*s': %s", i, b.len, (int)b.len, b.p, why);
        if (rc == 0)
            agree++;
        else
            skipped++;
    }
    free(b.p);
    /* The generator must exercise both outcomes, or the test proves little. */
    assert_true(valid > N / 3);
    assert_true(N - valid > N / 5);
    /* Skips are for the documented differences only, which are rare here. */
    assert_true(skipped < N / 100);
    print_message("differential: %d messages, %d valid, %d agree, %d skipped\n", N, valid, agree,
                  skipped);
}

static void test_seed_corpus(void **state)
{
    (void)state;
    /* The fuzzer's seed corpus through the fuzzer's own check, so that
     * corpus regressions are caught without libFuzzer. */
    const char *dir = DW_SOURCE_ROOT "/tests/fuzz/corpus";
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    int files = 0;
    static uint8_t data[1 << 16];
    char why[512], path[1024];
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        size_t n = fread(data, 1, sizeof data, f);
        fclose(f);
        if (dw_scan_oracle_check(data, n, why, sizeof why) < 0)
            fail_msg("%s: %s", path, why);
        files++;
    }
    closedir(d);
    assert_true(files >= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design_record),
        cmocka_unit_test(test_nesting_and_skipped_values),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_array_of_records),
        cmocka_unit_test(test_escapes_and_unicode),
        cmocka_unit_test(test_unescape_bounds),
        cmocka_unit_test(test_key_eq),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_number_fraction_step),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_capacity_counts_dropped),
        cmocka_unit_test(test_never_reads_past_len),
        cmocka_unit_test(test_differential_vs_jansson),
        cmocka_unit_test(test_seed_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

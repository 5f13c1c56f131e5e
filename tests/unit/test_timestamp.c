#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_util.h"

#include "driftwatch/error.h"
#include "driftwatch/scanner.h"
#include "driftwatch/timestamp.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Expected values in this file come from Python's datetime (an independent
 * implementation), e.g. datetime.fromisoformat("2026-11-25T13:32:11+00:00"),
 * or from glibc's timegm() in the randomized test. */

static int64_t parse(const char *s)
{
    int64_t ms = INT64_MIN;
    /* Exact-size heap copy: the parser must not rely on a terminator. */
    size_t n = strlen(s);
    char *b = malloc(n ? n : 1);
    memcpy(b, s, n);
    int rc = dw_ts_parse_rfc3339(b, n, &ms);
    free(b);
    if (rc != 0)
        fail_msg("'%s' rejected (%d)", s, rc);
    return ms;
}

static void bad(const char *s)
{
    int64_t ms = 42;
    size_t n = strlen(s);
    char *b = malloc(n ? n : 1);
    memcpy(b, s, n);
    int rc = dw_ts_parse_rfc3339(b, n, &ms);
    free(b);
    if (rc == 0)
        fail_msg("'%s' accepted as %lld", s, (long long)ms);
    assert_int_equal(ms, 42); /* untouched on error */
}

static void test_rfc3339_formats(void **state)
{
    (void)state;
    assert_int_equal(parse("2026-11-25T13:32:11Z"), 1795613531000LL);
    assert_int_equal(parse("2026-11-25t13:32:11z"), 1795613531000LL);
    assert_int_equal(parse("2026-11-25 13:32:11Z"), 1795613531000LL);
    assert_int_equal(parse("2026-11-25T13:32:11.123Z"), 1795613531123LL);
    assert_int_equal(parse("2026-11-25T13:32:11.1Z"), 1795613531100LL);
    assert_int_equal(parse("2026-11-25T13:32:11.12Z"), 1795613531120LL);
    /* Digits beyond ms are truncated, not rounded. */
    assert_int_equal(parse("2026-11-25T13:32:11.123999999Z"), 1795613531123LL);
    assert_int_equal(parse("2026-11-25T14:32:11.123+01:00"), 1795613531123LL);
    assert_int_equal(parse("2026-11-25T08:02:11.123-05:30"), 1795613531123LL);
    assert_int_equal(parse("2026-11-25T13:32:11.123-00:00"), 1795613531123LL);
    /* An offset that crosses midnight and a year boundary. */
    assert_int_equal(parse("2027-01-01T00:30:00+01:00"), parse("2026-12-31T23:30:00Z"));
    assert_int_equal(parse("1969-12-31T23:59:59.999Z"), -1);
    assert_int_equal(parse("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(parse("0001-01-01T00:00:00Z"), -62135596800000LL);
    assert_int_equal(parse("9999-12-31T23:59:59.999Z"), DW_TS_MAX_MS);
    assert_int_equal(parse("0000-01-01T00:00:00Z"), DW_TS_MIN_MS);
    /* A leap second counts as the next minute's first instant. */
    assert_int_equal(parse("2016-12-31T23:59:60Z"), parse("2017-01-01T00:00:00Z"));
}

static void test_leap_years(void **state)
{
    (void)state;
    assert_int_equal(parse("2024-02-29T00:00:00Z"), 1709164800000LL);
    assert_int_equal(parse("2000-02-29T23:59:59.999Z"), 951868799999LL);
    assert_int_equal(parse("1900-03-01T00:00:00Z"), -2203891200000LL);
    bad("1900-02-29T00:00:00Z"); /* divisible by 100, not by 400 */
    bad("2025-02-29T00:00:00Z");
    bad("2100-02-29T00:00:00Z");
    assert_int_equal(parse("2400-02-29T00:00:00Z") - parse("2400-02-28T00:00:00Z"), 86400000);
    bad("2026-04-31T00:00:00Z");
    assert_int_equal(parse("2026-12-31T00:00:00Z") - parse("2026-01-01T00:00:00Z"),
                     364LL * 86400000);
    assert_int_equal(parse("2028-12-31T00:00:00Z") - parse("2028-01-01T00:00:00Z"),
                     365LL * 86400000);
}

static void test_bad_strings(void **state)
{
    (void)state;
    bad("");
    bad("2026-11-25");
    bad("2026-11-25T13:32:11"); /* no zone */
    bad("2026-11-25T13:32Z");   /* no seconds */
    bad("2026-11-25X13:32:11Z");
    bad("2026/11/25T13:32:11Z");
    bad("2026-13-25T13:32:11Z");
    bad("2026-00-25T13:32:11Z");
    bad("2026-11-00T13:32:11Z");
    bad("2026-11-25T24:00:00Z");
    bad("2026-11-25T13:60:11Z");
    bad("2026-11-25T13:32:61Z");
    bad("2026-11-25T13:32:11.Z");    /* empty fraction */
    bad("2026-11-25T13:32:11+0100"); /* RFC 3339 needs the colon */
    bad("2026-11-25T13:32:11+01");
    bad("2026-11-25T13:32:11+24:00");
    bad("2026-11-25T13:32:11+01:60");
    bad("2026-11-25T13:32:11Zjunk");
    bad("2026-11-25T13:32:11 Z");
    bad("+2026-11-25T13:32:11Z");
    bad("2026-1a-25T13:32:11Z");
    bad(" 2026-11-25T13:32:11Z");
    /* Outside the range after the offset. */
    int64_t ms;
    assert_int_equal(dw_ts_parse_rfc3339("0000-01-01T00:00:00+01:00", 25, &ms), DW_ERR_INVALID);
}

static void test_numbers_by_magnitude(void **state)
{
    (void)state;
    int64_t ms;
    /* Seconds, with a fraction rounded to the nearest ms (1795613531.123 is
     * not exact in binary: 1795613531.1229999 * 1000 must still give .123). */
    assert_int_equal(dw_ts_from_number(1795613531.0, &ms), 0);
    assert_int_equal(ms, 1795613531000LL);
    assert_int_equal(dw_ts_from_number(1795613531.123, &ms), 0);
    assert_int_equal(ms, 1795613531123LL);
    assert_int_equal(dw_ts_from_number(99999999999.0, &ms), 0); /* just below 1e11: s */
    assert_int_equal(ms, 99999999999000LL);
    /* Milliseconds from 1e11. */
    assert_int_equal(dw_ts_from_number(1e11, &ms), 0);
    assert_int_equal(ms, 100000000000LL);
    assert_int_equal(dw_ts_from_number(1795613531123.0, &ms), 0);
    assert_int_equal(ms, 1795613531123LL);
    assert_int_equal(dw_ts_from_number(1795613531123.9, &ms), 0); /* rounded down */
    assert_int_equal(ms, 1795613531123LL);
    /* Microseconds from 1e14, nanoseconds from 1e17. */
    assert_int_equal(dw_ts_from_number(1795613531123456.0, &ms), 0);
    assert_int_equal(ms, 1795613531123LL);
    assert_int_equal(dw_ts_from_number(1e17, &ms), 0);
    assert_int_equal(ms, 100000000000LL);
    /* Pre-1970 values go by |v| and round toward -inf. */
    assert_int_equal(dw_ts_from_number(-1.5, &ms), 0);
    assert_int_equal(ms, -1500);
    assert_int_equal(dw_ts_from_number(-100000000000001.0, &ms), 0); /* us */
    assert_int_equal(ms, -100000000001LL);

    assert_int_equal(dw_ts_from_number(NAN, &ms), DW_ERR_INVALID);
    assert_int_equal(dw_ts_from_number(INFINITY, &ms), DW_ERR_INVALID);
    assert_int_equal(dw_ts_from_number(1e300, &ms), DW_ERR_INVALID);

    /* Integers exactly, including ns that no double holds. */
    assert_int_equal(dw_ts_from_int(1795613531, &ms), 0);
    assert_int_equal(ms, 1795613531000LL);
    assert_int_equal(dw_ts_from_int(1795613531123, &ms), 0);
    assert_int_equal(ms, 1795613531123LL);
    assert_int_equal(dw_ts_from_int(1795613531123999, &ms), 0);
    assert_int_equal(ms, 1795613531123LL);
    assert_int_equal(dw_ts_from_int(1795613531123999999LL, &ms), 0);
    assert_int_equal(ms, 1795613531123LL);
    assert_int_equal(dw_ts_from_int(-1, &ms), 0);
    assert_int_equal(ms, -1000);
    assert_int_equal(dw_ts_from_int(-100000000000001LL, &ms), 0); /* -1e14-1 us */
    assert_int_equal(ms, -100000000001LL);
    assert_int_equal(dw_ts_from_int(INT64_MIN, &ms), 0); /* ns: 1677-09-21 */
    assert_int_equal(ms, -9223372036855LL);
}

static void test_text_and_fields(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(dw_ts_parse("1795613531123", 13, &ms), 0);
    assert_int_equal(ms, 1795613531123LL);
    assert_int_equal(dw_ts_parse("1795613531.5", 12, &ms), 0);
    assert_int_equal(ms, 1795613531500LL);
    assert_int_equal(dw_ts_parse("2026-11-25T13:32:11Z", 20, &ms), 0);
    assert_int_equal(ms, 1795613531000LL);
    assert_true(dw_ts_parse("", 0, &ms) < 0);
    assert_true(dw_ts_parse("-", 1, &ms) < 0);
    assert_true(dw_ts_parse("12abc", 5, &ms) < 0);
    assert_true(dw_ts_parse("1.2.3", 5, &ms) < 0);

    const char *j = "{\"a\":1795613531123999999,\"b\":\"2026-11-25T13:32:11.5Z\","
                    "\"c\":\"2026-11-25T13:32:11\\u002e5Z\",\"d\":1795613531.25,\"e\":true,"
                    "\"f\":\"soon\"}";
    dw_scan_field f[8];
    dw_scanner s;
    dw_scan_record rec = dwt_scan_one(&s, j, f, 8);
    assert_int_equal(rec.nfields, 6);
    /* Integer ns from the raw text: exact, unlike the field's double. */
    assert_int_equal(dw_ts_from_field(&f[0], &ms), 0);
    assert_int_equal(ms, 1795613531123LL);
    assert_int_equal(dw_ts_from_field(&f[1], &ms), 0);
    assert_int_equal(ms, 1795613531500LL);
    assert_int_equal(dw_ts_from_field(&f[2], &ms), 0); /* escaped '.' decoded first */
    assert_int_equal(ms, 1795613531500LL);
    assert_int_equal(dw_ts_from_field(&f[3], &ms), 0);
    assert_int_equal(ms, 1795613531250LL);
    assert_int_equal(dw_ts_from_field(&f[4], &ms), DW_ERR_INVALID);
    assert_int_equal(dw_ts_from_field(&f[5], &ms), DW_ERR_PARSE);
}

/* dw_ts_from_field() takes whole numbers below 1e14 from the scanner's
 * value instead of reading the text again: every kind of number text must
 * give what the text itself gives (integer text read exactly, other text
 * as a double), on both sides of the seconds/milliseconds/micros bounds. */
static void test_number_fields_whole_values(void **state)
{
    (void)state;
    const char *texts[] = {"0",
                           "-0",
                           "1",
                           "-5",
                           "1795500000",
                           "99999999999",
                           "100000000000",
                           "1795500000000",
                           "99999999999999",
                           "100000000000000",
                           "1.5e3",
                           "1795500000000.0",
                           "-0.0",
                           "2e13",
                           "1e14",
                           "99999999999999.5",
                           "1795500000.25",
                           "-1795500000000",
                           "17955000000000000"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        char j[96];
        snprintf(j, sizeof j, "{\"t\": %s}", texts[i]);
        dw_scan_field f[2];
        dw_scanner s;
        dw_scan_init(&s, j, strlen(j));
        dw_scan_record rec = {.fields = f, .cap = 2};
        assert_int_equal(dw_scan_next(&s, &rec), 1);
        bool integer = strspn(texts[i] + (texts[i][0] == '-'), "0123456789") ==
                       strlen(texts[i] + (texts[i][0] == '-'));
        int64_t want = -1, got = -1;
        int want_rc = integer ? dw_ts_from_int(strtoll(texts[i], NULL, 10), &want)
                              : dw_ts_from_number(strtod(texts[i], NULL), &want);
        assert_int_equal(dw_ts_from_field(&f[0], &got), want_rc);
        assert_int_equal(got, want);
    }
}

static void test_format(void **state)
{
    (void)state;
    char buf[DW_TS_FORMAT_SIZE];
    assert_int_equal(dw_ts_format(1795613531123LL, buf, sizeof buf), 0);
    assert_string_equal(buf, "2026-11-25T13:32:11.123Z");
    assert_int_equal(dw_ts_format(0, buf, sizeof buf), 0);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    assert_int_equal(dw_ts_format(-1, buf, sizeof buf), 0);
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
    assert_int_equal(dw_ts_format(DW_TS_MAX_MS, buf, sizeof buf), 0);
    assert_string_equal(buf, "9999-12-31T23:59:59.999Z");
    assert_int_equal(dw_ts_format(DW_TS_MIN_MS, buf, sizeof buf), 0);
    assert_string_equal(buf, "0000-01-01T00:00:00.000Z");
    assert_int_equal(dw_ts_format(951782400000LL, buf, sizeof buf), 0);
    assert_string_equal(buf, "2000-02-29T00:00:00.000Z");
    assert_int_equal(dw_ts_format(DW_TS_MAX_MS + 1, buf, sizeof buf), DW_ERR_INVALID);
    assert_int_equal(dw_ts_format(0, buf, DW_TS_FORMAT_SIZE - 1), DW_ERR_LIMIT);
    /* Whole seconds (reference files' created_at): the millisecond is cut,
     * not rounded, as gmtime() of the floored second would. */
    assert_int_equal(dw_ts_format_as(1795613531999LL, DW_TS_SECONDS, buf, sizeof buf), 0);
    assert_string_equal(buf, "2026-11-25T13:32:11Z");
    assert_int_equal(dw_ts_format_as(-1, DW_TS_SECONDS, buf, DW_TS_FORMAT_SIZE - 4), 0);
    assert_string_equal(buf, "1969-12-31T23:59:59Z");
    assert_int_equal(dw_ts_format_as(0, DW_TS_SECONDS, buf, DW_TS_FORMAT_SIZE - 5), DW_ERR_LIMIT);
}

static uint64_t rng = 1795613531;

static uint64_t rnd(void)
{
    /* xorshift64: fixed seed, same dates every run. */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_random_against_timegm_and_roundtrip(void **state)
{
    (void)state;
    /* glibc's timegm (64-bit time_t, proleptic Gregorian) is the oracle. */
    for (int i = 0; i < 20000; i++) {
        int64_t ms = DW_TS_MIN_MS + (int64_t)(rnd() % (uint64_t)(DW_TS_MAX_MS - DW_TS_MIN_MS));
        char buf[DW_TS_FORMAT_SIZE];
        assert_int_equal(dw_ts_format(ms, buf, sizeof buf), 0);
        int64_t back;
        assert_int_equal(dw_ts_parse_rfc3339(buf, strlen(buf), &back), 0);
        assert_int_equal(back, ms);

        struct tm tm = {0};
        int y, mo, d, h, mi, s, milli;
        assert_int_equal(
            sscanf(buf, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &y, &mo, &d, &h, &mi, &s, &milli), 7);
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
        tm.tm_hour = h;
        tm.tm_min = mi;
        tm.tm_sec = s;
        time_t t = timegm(&tm);
        if ((int64_t)t * 1000 + milli != ms)
            fail_msg("%s: timegm %lld ms, ours %lld", buf, (long long)t * 1000 + milli,
                     (long long)ms);

        /* Day arithmetic round-trips. */
        int64_t days = dw_days_from_civil(y, (unsigned)mo, (unsigned)d), yy;
        unsigned mm, dd;
        dw_civil_from_days(days, &yy, &mm, &dd);
        assert_true(yy == y && mm == (unsigned)mo && dd == (unsigned)d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3339_formats),
        cmocka_unit_test(test_leap_years),
        cmocka_unit_test(test_bad_strings),
        cmocka_unit_test(test_numbers_by_magnitude),
        cmocka_unit_test(test_text_and_fields),
        cmocka_unit_test(test_number_fields_whole_values),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_random_against_timegm_and_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "driftwatch/error.h"

#include <stdlib.h>
#include <string.h>

static void test_strerror_known_and_unknown(void **state)
{
    (void)state;
    assert_string_equal(dw_strerror(DW_OK), "success");
    assert_string_equal(dw_strerror(DW_ERR_CHECKSUM), "checksum mismatch");
    assert_string_equal(dw_strerror(-999), "unknown error");
}

static void test_seterr_formats_and_returns_code(void **state)
{
    (void)state;
    char buf[64];
    int rc = dw_seterr(buf, sizeof buf, DW_ERR_PARSE, "%s:%d: bad", "f.csv", 7);
    assert_int_equal(rc, DW_ERR_PARSE);
    assert_string_equal(buf, "f.csv:7: bad");
    /* A NULL buffer is allowed: only the code is returned. */
    assert_int_equal(dw_seterr(NULL, 0, DW_ERR_IO, "x"), DW_ERR_IO);
    /* Truncation never overflows. */
    char small[4];
    dw_seterr(small, sizeof small, DW_ERR_IO, "abcdef");
    assert_string_equal(small, "abc");
}

static void test_strndup_copies_prefix(void **state)
{
    (void)state;
    char *s = dw_strndup("abcdef", 3);
    assert_string_equal(s, "abc");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_known_and_unknown),
        cmocka_unit_test(test_seterr_formats_and_returns_code),
        cmocka_unit_test(test_strndup_copies_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

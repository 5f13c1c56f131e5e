/* Unit tests of the bounded string builder (src/dynbuf.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "driftwatch/dynbuf.h"
#include "driftwatch/error.h"

#include <stdlib.h>
#include <string.h>

static void test_grows_and_keeps_a_nul(void **state)
{
    (void)state;
    dw_dynbuf b;
    dw_dynbuf_init(&b, 100000);
    assert_string_equal(dw_dynbuf_str(&b), "");
    /* Past the first allocation (64 bytes) several times over. */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(dw_dynbuf_addf(&b, "%03d,", i), 0);
    assert_int_equal(b.len, 4000);
    assert_int_equal(strlen(dw_dynbuf_str(&b)), 4000);
    assert_memory_equal(dw_dynbuf_str(&b) + 3996, "999,", 4);
    assert_false(b.cut);
    char *s = dw_dynbuf_take(&b);
    assert_int_equal(strlen(s), 4000);
    free(s);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.max, 100000);
    s = dw_dynbuf_take(&b); /* nothing added: "" the caller frees */
    assert_string_equal(s, "");
    free(s);
}

static void test_ceiling_keeps_what_fits(void **state)
{
    (void)state;
    dw_dynbuf b;
    dw_dynbuf_init(&b, 10);
    assert_int_equal(dw_dynbuf_addstr(&b, "abcdef"), 0);
    assert_int_equal(dw_dynbuf_addstr(&b, "ghijkl"), DW_ERR_LIMIT);
    assert_string_equal(dw_dynbuf_str(&b), "abcdefghij");
    assert_true(b.cut);
    assert_int_equal(dw_dynbuf_add(&b, "x", 1), DW_ERR_LIMIT);
    assert_int_equal(dw_dynbuf_addf(&b, "%d", 7), DW_ERR_LIMIT);
    assert_string_equal(dw_dynbuf_str(&b), "abcdefghij");
    /* A long printf output is cut like snprintf() would cut it. */
    dw_dynbuf_free(&b);
    char big[600];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    dw_dynbuf_init(&b, 300);
    assert_int_equal(dw_dynbuf_addf(&b, "<%s>", big), DW_ERR_LIMIT);
    assert_int_equal(b.len, 300);
    assert_int_equal(dw_dynbuf_str(&b)[0], '<');
    char into[301];
    assert_ptr_equal(dw_dynbuf_take_into(&b, into), into);
    assert_int_equal(strlen(into), 300);
    assert_null(b.buf);
}

static void test_lists(void **state)
{
    (void)state;
    static const char *const v[] = {"a", "b", "c"};
    dw_dynbuf b;
    dw_dynbuf_init(&b, 64);
    dw_dynbuf_addlist(&b, v, 3, ", ", " or ");
    assert_string_equal(dw_dynbuf_str(&b), "a, b or c");
    dw_dynbuf_free(&b);
    dw_dynbuf_addlist(&b, v, 3, ", ", NULL);
    assert_string_equal(dw_dynbuf_str(&b), "a, b, c");
    dw_dynbuf_free(&b);
    dw_dynbuf_addlist(&b, v, 1, ", ", " or ");
    assert_string_equal(dw_dynbuf_str(&b), "a");
    dw_dynbuf_free(&b);
}

/* Shortening never splits a UTF-8 sequence ("é" is 2 bytes, "€" 3). */
static void test_shorten_utf8(void **state)
{
    (void)state;
    dw_dynbuf b;
    dw_dynbuf_init(&b, 1000);
    dw_dynbuf_addstr(&b, "ab\xc3\xa9\xe2\x82\xac");
    dw_dynbuf_shorten_utf8(&b, 100, "...");
    assert_string_equal(dw_dynbuf_str(&b), "ab\xc3\xa9\xe2\x82\xac"); /* fits: unchanged */
    dw_dynbuf_shorten_utf8(&b, 6, "");
    assert_string_equal(dw_dynbuf_str(&b), "ab\xc3\xa9"); /* the euro sign would be cut */
    dw_dynbuf_shorten_utf8(&b, 3, "");
    assert_string_equal(dw_dynbuf_str(&b), "ab");
    dw_dynbuf_free(&b);
    dw_dynbuf_addstr(&b, "hello \xc3\xa9t\xc3\xa9");
    dw_dynbuf_shorten_utf8(&b, 10, "...");
    /* 7 bytes before the mark would end inside the first "é". */
    assert_string_equal(dw_dynbuf_str(&b), "hello ...");
    assert_true(b.len <= 10);
    dw_dynbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_and_keeps_a_nul),
        cmocka_unit_test(test_ceiling_keeps_what_fits),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_shorten_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

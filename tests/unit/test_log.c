#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "driftwatch/log.h"

static void test_level_parse(void **state)
{
    (void)state;
    dw_log_level l;
    assert_int_equal(dw_log_level_parse("warn", &l), 0);
    assert_int_equal(l, DW_LOG_WARN);
    assert_int_equal(dw_log_level_parse("debug", &l), 0);
    assert_int_equal(l, DW_LOG_DEBUG);
    assert_true(dw_log_level_parse("loud", &l) < 0);
    dw_log_format f;
    assert_int_equal(dw_log_format_parse("text", &f), 0);
    assert_int_equal(f, DW_LOG_TEXT);
    assert_true(dw_log_format_parse("xml", &f) < 0);
}

static void test_ratelimit_counts_suppressed(void **state)
{
    (void)state;
    dw_ratelimit rl = DW_RATELIMIT_INIT(1000);
    uint64_t supp = 99;
    assert_int_equal(dw_ratelimit_allow(&rl, 5000, &supp), 1);
    assert_int_equal(supp, 0);
    assert_int_equal(dw_ratelimit_allow(&rl, 5100, &supp), 0);
    assert_int_equal(dw_ratelimit_allow(&rl, 5900, &supp), 0);
    assert_int_equal(dw_ratelimit_allow(&rl, 6000, &supp), 1);
    assert_int_equal(supp, 2);
}

static void test_level_filter_skips_argument_evaluation(void **state)
{
    (void)state;
    int evaluated = 0;
    dw_log_set_level(DW_LOG_ERROR);
    dw_log(DW_LOG_DEBUG, "test", "%d", ++evaluated);
    assert_int_equal(evaluated, 0);
    dw_log_set_level(DW_LOG_INFO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_parse),
        cmocka_unit_test(test_ratelimit_counts_suppressed),
        cmocka_unit_test(test_level_filter_skips_argument_evaluation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "driftwatch/alert.h"

#include <string.h>

static const dw_alert_rule for0 = {.for_count = 0}, for1 = {.for_count = 1},
                           for2 = {.for_count = 2}, for3 = {.for_count = 3};

static void test_fires_after_for_consecutive_breaches(void **state)
{
    (void)state;
    dw_alert a = {0};
    assert_int_equal(dw_alert_step(&a, true, false, &for2, 100), DW_ALERT_NONE);
    assert_int_equal(a.state, DW_ALERT_PENDING);
    assert_int_equal(dw_alert_step(&a, true, false, &for2, 200), DW_ALERT_FIRED);
    assert_int_equal(a.state, DW_ALERT_FIRING);
    assert_int_equal(a.started_ms, 200);
    assert_int_equal(a.episodes, 1);
}

static void test_pending_resets_on_a_non_breach(void **state)
{
    (void)state;
    dw_alert a = {0};
    dw_alert_step(&a, true, false, &for3, 1);
    dw_alert_step(&a, true, false, &for3, 2);
    assert_int_equal(dw_alert_step(&a, false, true, &for3, 3), DW_ALERT_NONE);
    assert_int_equal(a.state, DW_ALERT_INACTIVE);
    dw_alert_step(&a, true, false, &for3, 4);
    dw_alert_step(&a, true, false, &for3, 5);
    assert_int_equal(a.state, DW_ALERT_PENDING);
    assert_int_equal(dw_alert_step(&a, true, false, &for3, 6), DW_ALERT_FIRED);
}

static void test_hysteresis_keeps_firing_until_clear(void **state)
{
    (void)state;
    dw_alert a = {0};
    assert_int_equal(dw_alert_step(&a, true, false, &for1, 10), DW_ALERT_FIRED);
    /* Below the firing threshold but above the clear one: stays firing. */
    assert_int_equal(dw_alert_step(&a, false, false, &for1, 20), DW_ALERT_NONE);
    assert_int_equal(a.state, DW_ALERT_FIRING);
    assert_int_equal(dw_alert_step(&a, false, true, &for1, 30), DW_ALERT_RESOLVED);
    assert_int_equal(a.state, DW_ALERT_INACTIVE);
    assert_int_equal(a.ended_ms, 30);
    /* A second episode counts. */
    assert_int_equal(dw_alert_step(&a, true, false, &for1, 40), DW_ALERT_FIRED);
    assert_int_equal(a.episodes, 2);
}

static void test_for_zero_means_one(void **state)
{
    (void)state;
    dw_alert a = {0};
    assert_int_equal(dw_alert_step(&a, true, false, &for0, 1), DW_ALERT_FIRED);
}

/* keep_firing_for holds a firing alert for that long after its resolve
 * condition first held; a breach in between starts the wait over. */
static void test_keep_firing_for_delays_the_resolve(void **state)
{
    (void)state;
    const dw_alert_rule keep = {.for_count = 1, .keep_firing_ms = 100};
    dw_alert a = {0};
    assert_int_equal(dw_alert_step(&a, true, false, &keep, 0), DW_ALERT_FIRED);
    assert_int_equal(dw_alert_step(&a, false, true, &keep, 10), DW_ALERT_NONE);
    assert_int_equal(dw_alert_step(&a, false, true, &keep, 109), DW_ALERT_NONE);
    /* A breach (or a non-clear evaluation) restarts the wait. */
    assert_int_equal(dw_alert_step(&a, true, false, &keep, 110), DW_ALERT_NONE);
    assert_int_equal(a.episodes, 1);
    assert_int_equal(dw_alert_step(&a, false, true, &keep, 120), DW_ALERT_NONE);
    assert_int_equal(dw_alert_step(&a, false, false, &keep, 130), DW_ALERT_NONE);
    assert_int_equal(dw_alert_step(&a, false, true, &keep, 140), DW_ALERT_NONE);
    assert_int_equal(dw_alert_step(&a, false, true, &keep, 239), DW_ALERT_NONE);
    assert_int_equal(a.state, DW_ALERT_FIRING);
    assert_int_equal(dw_alert_step(&a, false, true, &keep, 240), DW_ALERT_RESOLVED);
    assert_int_equal(a.ended_ms, 240);
    /* The next episode waits afresh. */
    assert_int_equal(dw_alert_step(&a, true, false, &keep, 300), DW_ALERT_FIRED);
    assert_int_equal(dw_alert_step(&a, false, true, &keep, 310), DW_ALERT_NONE);
    assert_int_equal(dw_alert_step(&a, false, true, &keep, 410), DW_ALERT_RESOLVED);
    assert_int_equal(a.episodes, 2);
}

static void test_dedup_key_is_stable_and_distinct(void **state)
{
    (void)state;
    char k1[17], k2[17], k3[17];
    dw_alert_dedup_key("fraud", "v3", "features.amount", "15m", "distribution", k1);
    dw_alert_dedup_key("fraud", "v3", "features.amount", "15m", "distribution", k2);
    assert_string_equal(k1, k2);
    assert_int_equal(strlen(k1), 16);
    dw_alert_dedup_key("fraud", "v3", "features.amoun", "t15m", "distribution", k3);
    assert_string_not_equal(k1, k3);
    dw_alert_dedup_key("fraud", NULL, "features.amount", "15m", "quality", k3);
    assert_string_not_equal(k1, k3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fires_after_for_consecutive_breaches),
        cmocka_unit_test(test_pending_resets_on_a_non_breach),
        cmocka_unit_test(test_hysteresis_keeps_firing_until_clear),
        cmocka_unit_test(test_for_zero_means_one),
        cmocka_unit_test(test_keep_firing_for_delays_the_resolve),
        cmocka_unit_test(test_dedup_key_is_stable_and_distinct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

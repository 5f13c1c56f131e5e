#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "driftwatch/window.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void test_rejects_bad_sizes(void **state)
{
    (void)state;
    assert_null(dw_window_new(0, 60000, 0, 4));
    assert_null(dw_window_new(90000, 60000, 0, 4)); /* not a multiple */
    assert_null(dw_window_new(60000, 60000, -1, 4));
    assert_null(dw_window_new(60000, 60000, 0, 0));
    dw_window_free(NULL); /* no-op */
}

static void test_panes_align_to_slide_and_slide_over(void **state)
{
    (void)state;
    /* 3 panes of 10 s, no lateness. */
    dw_window *w = dw_window_new(30000, 10000, 0, 1);
    assert_non_null(w);
    uint64_t *p = dw_window_pane_for(w, 12345);
    assert_non_null(p);
    (*p)++;
    assert_int_equal(dw_window_next_end(w), 20000);
    assert_int_equal(dw_window_close_next(w), 20000);
    assert_int_equal(dw_window_sum(w)[0], 1);
    assert_int_equal(dw_window_start(w), -10000);
    /* The pane [10 s, 20 s) closed: a record inside it is late. */
    assert_null(dw_window_pane_for(w, 19999));
    for (int k = 0; k < 2; k++) {
        p = dw_window_pane_for(w, 20000 + k * 10000);
        assert_non_null(p);
        *p += 10;
        dw_window_close_next(w);
    }
    assert_int_equal(dw_window_sum(w)[0], 21);
    assert_int_equal(dw_window_filled(w), 3);
    /* One more close expires the first pane (1 count). */
    dw_window_close_next(w);
    assert_int_equal(dw_window_sum(w)[0], 20);
    assert_int_equal(dw_window_end(w), 50000);
    dw_window_free(w);
}

static void test_closed_panes_by_age_sum_to_the_window(void **state)
{
    (void)state;
    /* 3 panes of 10 s with 10 s lateness (an open pane behind the newest):
     * pane k gets k + 1 counts; age 0 is the newest closed pane. */
    dw_window *w = dw_window_new(30000, 10000, 10000, 2);
    assert_non_null(w);
    assert_null(dw_window_closed_pane(w, 0));
    for (int k = 0; k < 5; k++) {
        uint64_t *p = dw_window_pane_for(w, k * 10000);
        assert_non_null(p);
        p[0] += (uint64_t)k + 1;
        p[1] += 100;
        if (k >= 1)
            dw_window_close_next(w); /* closes pane k - 1 */
    }
    /* Closed: panes 0..3, the window holds 1..3 (counts 2, 3, 4); pane 4
     * (5 counts) is still open and never visible by age. */
    assert_int_equal(dw_window_filled(w), 3);
    uint64_t sum = 0;
    for (size_t age = 0; age < 3; age++) {
        const uint64_t *c = dw_window_closed_pane(w, age);
        assert_non_null(c);
        assert_int_equal(c[0], 4 - age);
        assert_int_equal(c[1], 100);
        sum += c[0];
    }
    assert_int_equal(sum, dw_window_sum(w)[0]);
    assert_null(dw_window_closed_pane(w, 3));
    dw_window_free(w);
}

static void test_records_ahead_of_ring_are_refused(void **state)
{
    (void)state;
    dw_window *w = dw_window_new(60000, 10000, 0, 1);
    assert_non_null(dw_window_pane_for(w, 0));
    /* No lateness: only the newest pane is open. */
    assert_null(dw_window_pane_for(w, 10000));
    dw_window_free(w);
}

/* A brute-force model: every accepted event with its time; the window sum
 * after a close must equal the count of events in [end - length, end). */
static void test_matches_brute_force_with_lateness(void **state)
{
    (void)state;
    const int64_t slide = 1000, length = 5000, lateness = 2500;
    dw_window *w = dw_window_new(length, slide, lateness, 2);
    enum { N = 20000 };
    int64_t *times = calloc(N, sizeof *times);
    size_t naccepted = 0, nlate = 0;
    srand(7);
    int64_t max_t = 0;
    for (int i = 0; i < N; i++) {
        /* Mostly increasing time with jitter up to 3 s backwards. */
        int64_t t = (int64_t)i * 37 - (rand() % 3000);
        if (t > max_t)
            max_t = t;
        int64_t wm = max_t - lateness;
        while (dw_window_next_end(w) != INT64_MIN && dw_window_next_end(w) <= wm) {
            int64_t end = dw_window_close_next(w);
            uint64_t expect = 0;
            for (size_t k = 0; k < naccepted; k++)
                if (times[k] >= end - length && times[k] < end)
                    expect++;
            assert_int_equal(dw_window_sum(w)[1], expect);
        }
        uint64_t *p = dw_window_pane_for(w, t);
        if (!p) {
            nlate++;
            /* Late means its pane closed: strictly behind the watermark. */
            assert_true(t < max_t - lateness + slide);
            continue;
        }
        p[1]++;
        times[naccepted++] = t;
    }
    assert_true(nlate > 0); /* the jitter exceeds the lateness sometimes */
    assert_true(naccepted > N / 2);
    free(times);
    dw_window_free(w);
}

static void test_skip_clears_after_long_gap(void **state)
{
    (void)state;
    dw_window *w = dw_window_new(3000, 1000, 0, 1);
    (*dw_window_pane_for(w, 500))++;
    dw_window_close_next(w);
    assert_int_equal(dw_window_sum(w)[0], 1);
    /* A small gap is not skipped. */
    assert_int_equal(dw_window_skip_to(w, 3000), 0);
    /* A day later: everything expired; the next close ends where asked. */
    assert_int_equal(dw_window_skip_to(w, 86400000), 1);
    assert_int_equal(dw_window_next_end(w), 86400000);
    dw_window_close_next(w);
    assert_int_equal(dw_window_sum(w)[0], 0);
    assert_int_equal(dw_window_total(w, 0), 0);
    dw_window_free(w);
}

static void test_total_and_clear_counter(void **state)
{
    (void)state;
    dw_window *w = dw_window_new(2000, 1000, 1000, 3);
    dw_window_pane_for(w, 0)[2] += 4;
    dw_window_close_next(w);
    dw_window_pane_for(w, 1500)[2] += 1; /* open pane */
    assert_int_equal(dw_window_total(w, 2), 5);
    dw_window_clear_counter(w, 2);
    assert_int_equal(dw_window_total(w, 2), 0);
    assert_int_equal(dw_window_sum(w)[2], 0);
    dw_window_free(w);
}

/* Regression: a partition whose first records are older than another
 * partition's first record must still be counted (the clock moves back
 * until the first pane closes), not bounced as "ahead" forever. */
static void test_clock_moves_back_before_first_close(void **state)
{
    (void)state;
    dw_window *w = dw_window_new(10000, 1000, 3000, 1); /* 4 open panes */
    assert_non_null(dw_window_pane_for(w, 5500));       /* starts at pane 5 */
    uint64_t *p = dw_window_pane_for(w, 3200);          /* pane 3: fits */
    assert_non_null(p);
    (*p)++;
    assert_false(dw_window_is_ahead(w, 3200));
    assert_int_equal(dw_window_next_end(w), 4000);
    /* Pane 1 would push pane 5 out of the open ones: refused, not ahead. */
    assert_null(dw_window_pane_for(w, 1500));
    assert_false(dw_window_is_ahead(w, 1500));
    assert_true(dw_window_is_ahead(w, 7100));
    dw_window_close_next(w);
    assert_int_equal(dw_window_sum(w)[0], 1);
    /* After a close the clock never moves back: that is lateness. */
    assert_null(dw_window_pane_for(w, 3900));
    dw_window_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejects_bad_sizes),
        cmocka_unit_test(test_panes_align_to_slide_and_slide_over),
        cmocka_unit_test(test_records_ahead_of_ring_are_refused),
        cmocka_unit_test(test_closed_panes_by_age_sum_to_the_window),
        cmocka_unit_test(test_matches_brute_force_with_lateness),
        cmocka_unit_test(test_skip_clears_after_long_gap),
        cmocka_unit_test(test_clock_moves_back_before_first_close),
        cmocka_unit_test(test_total_and_clear_counter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of the event-time alignment bookkeeping (src/rewind.c). The
 * Kafka side (pause, seek, resume, rebalance) is covered end to end by
 * tests/integration/test_pause_rebalance.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "driftwatch/rewind.h"

#include <stdint.h>

static void test_not_waiting_accepts_everything(void **state)
{
    (void)state;
    dw_rewind *r = dw_rewind_new(4);
    int out = 7;
    assert_true(dw_rewind_accept(r, 1, 0, &out));
    assert_int_equal(out, -1);
    assert_true(dw_rewind_accept(r, 3, 99, NULL));
    /* ids outside the table are never paused */
    dw_rewind_paused(r, 4, 5, 100);
    dw_rewind_paused(r, -1, 5, 100);
    assert_int_equal(dw_rewind_npaused(r), 0);
    assert_true(dw_rewind_accept(r, 4, 0, NULL));
    assert_true(dw_rewind_paused_min_ts(r) == INT64_MAX);
    assert_int_equal(dw_rewind_resume_next(r, 0, 0), -1);
    dw_rewind_free(r);
    dw_rewind_free(NULL);
}

static void test_reread_at_the_offset(void **state)
{
    (void)state;
    dw_rewind *r = dw_rewind_new(4);
    dw_rewind_paused(r, 2, 50, 1000);
    assert_int_equal(dw_rewind_npaused(r), 1);
    /* fetched before the seek, while paused: dropped, even at the offset */
    assert_false(dw_rewind_accept(r, 2, 51, NULL));
    assert_false(dw_rewind_accept(r, 2, 50, NULL));
    /* other sources are not affected */
    assert_true(dw_rewind_accept(r, 1, 10, NULL));
    assert_int_equal(dw_rewind_resume_next(r, 0, 5000), 2);
    assert_int_equal(dw_rewind_npaused(r), 0);
    assert_int_equal(dw_rewind_nwaiting(r), 1);
    /* older than the offset: applied before the pause */
    assert_false(dw_rewind_accept(r, 2, 49, NULL));
    int out = -1;
    assert_true(dw_rewind_accept(r, 2, 50, &out));
    assert_int_equal(out, DW_REWIND_REREAD);
    assert_int_equal(dw_rewind_nwaiting(r), 0);
    assert_true(dw_rewind_accept(r, 2, 51, &out));
    assert_int_equal(out, -1);
    dw_rewind_free(r);
}

/* The bug: a fetch that resumed past the offset (records deleted, the
 * committed offset moved by another member) dropped every later message
 * of the partition, waiting for an offset that never came. */
static void test_fetch_resumed_past_the_offset_is_taken(void **state)
{
    (void)state;
    dw_rewind *r = dw_rewind_new(4);
    dw_rewind_paused(r, 1, 50, 1000);
    assert_int_equal(dw_rewind_resume_next(r, 0, 0), 1);
    int out = -1;
    assert_true(dw_rewind_accept(r, 1, 80, &out));
    assert_int_equal(out, DW_REWIND_SKIPPED);
    assert_true(dw_rewind_accept(r, 1, 81, NULL));
    dw_rewind_free(r);
}

/* The bug seen in CI: a paused partition revoked and assigned again kept
 * its waiting state (and npaused counted it), so the resume rule could
 * wait for it forever. */
static void test_revoke_forgets_and_keeps_counts_exact(void **state)
{
    (void)state;
    dw_rewind *r = dw_rewind_new(8);
    dw_rewind_paused(r, 1, 10, 3000);
    dw_rewind_paused(r, 2, 20, 1000);
    dw_rewind_paused(r, 3, 30, 2000);
    assert_int_equal(dw_rewind_npaused(r), 3);
    assert_true(dw_rewind_paused_min_ts(r) == 1000);
    assert_true(dw_rewind_forget(r, 2));
    assert_false(dw_rewind_forget(r, 2));
    assert_false(dw_rewind_forget(r, 5));
    assert_int_equal(dw_rewind_npaused(r), 2);
    /* the minimum was the revoked one's */
    assert_true(dw_rewind_paused_min_ts(r) == 2000);
    /* a fresh assignment reads from the committed offset, whatever it is */
    assert_true(dw_rewind_accept(r, 2, 3, NULL));
    /* a resumed one revoked before it was read again */
    assert_int_equal(dw_rewind_resume_next(r, 0, 0), 1);
    assert_int_equal(dw_rewind_nwaiting(r), 1);
    assert_true(dw_rewind_forget(r, 1));
    assert_int_equal(dw_rewind_nwaiting(r), 0);
    assert_int_equal(dw_rewind_npaused(r), 1);
    assert_true(dw_rewind_paused_min_ts(r) == 2000);
    assert_int_equal(dw_rewind_resume_next(r, 0, 0), 3);
    assert_int_equal(dw_rewind_resume_next(r, 0, 0), -1);
    assert_int_equal(dw_rewind_npaused(r), 0);
    assert_true(dw_rewind_paused_min_ts(r) == INT64_MAX);
    dw_rewind_free(r);
}

static void test_pausing_again_replaces(void **state)
{
    (void)state;
    dw_rewind *r = dw_rewind_new(4);
    dw_rewind_paused(r, 1, 10, 500);
    dw_rewind_paused(r, 1, 12, 700);
    assert_int_equal(dw_rewind_npaused(r), 1);
    assert_true(dw_rewind_paused_min_ts(r) == 700);
    assert_int_equal(dw_rewind_resume_next(r, 0, 0), 1);
    dw_rewind_paused(r, 1, 14, 900); /* paused again before it was read */
    assert_int_equal(dw_rewind_npaused(r), 1);
    assert_int_equal(dw_rewind_nwaiting(r), 0);
    assert_true(dw_rewind_paused_min_ts(r) == 900);
    dw_rewind_free(r);
}

static void test_resume_walks_all_paused(void **state)
{
    (void)state;
    dw_rewind *r = dw_rewind_new(16);
    dw_rewind_paused(r, 3, 1, 10);
    dw_rewind_paused(r, 9, 1, 20);
    dw_rewind_paused(r, 15, 1, 30);
    int got[4], n = 0;
    for (int id = dw_rewind_resume_next(r, 0, 0); id >= 0; id = dw_rewind_resume_next(r, id + 1, 0))
        got[n++] = id;
    assert_int_equal(n, 3);
    assert_int_equal(got[0], 3);
    assert_int_equal(got[1], 9);
    assert_int_equal(got[2], 15);
    assert_int_equal(dw_rewind_npaused(r), 0);
    assert_int_equal(dw_rewind_nwaiting(r), 3);
    dw_rewind_free(r);
}

static void test_overdue_after_the_timeout_only(void **state)
{
    (void)state;
    dw_rewind *r = dw_rewind_new(4);
    int64_t off = -1;
    dw_rewind_paused(r, 2, 40, 100);
    /* paused (not resumed) sources are the resume rule's business */
    assert_int_equal(dw_rewind_overdue(r, 0, 1000000, 10, &off), -1);
    assert_int_equal(dw_rewind_resume_next(r, 0, 1000), 2);
    assert_int_equal(dw_rewind_overdue(r, 0, 1000 + 10000, 10000, &off), -1);
    assert_int_equal(dw_rewind_overdue(r, 0, 1000 + 10001, 10000, &off), 2);
    assert_int_equal(off, 40);
    /* its clock restarted: not again at once */
    assert_int_equal(dw_rewind_overdue(r, 0, 1000 + 10002, 10000, &off), -1);
    assert_int_equal(dw_rewind_overdue(r, 0, 1000 + 20002, 10000, &off), 2);
    /* read again: no longer overdue */
    assert_true(dw_rewind_accept(r, 2, 40, NULL));
    assert_int_equal(dw_rewind_overdue(r, 0, 1000000, 10000, &off), -1);
    dw_rewind_free(r);
}

static void test_outcome_names(void **state)
{
    (void)state;
    assert_string_equal(dw_rewind_outcome_name(DW_REWIND_REREAD), "reread");
    assert_string_equal(dw_rewind_outcome_name(DW_REWIND_SKIPPED), "skipped");
    assert_string_equal(dw_rewind_outcome_name(DW_REWIND_REVOKED), "revoked");
    assert_string_equal(dw_rewind_outcome_name(DW_REWIND_RESEEK), "reseek");
    assert_string_equal(dw_rewind_outcome_name(DW_REWIND_OUTCOME_MAX), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_waiting_accepts_everything),
        cmocka_unit_test(test_reread_at_the_offset),
        cmocka_unit_test(test_fetch_resumed_past_the_offset_is_taken),
        cmocka_unit_test(test_revoke_forgets_and_keeps_counts_exact),
        cmocka_unit_test(test_pausing_again_replaces),
        cmocka_unit_test(test_resume_walks_all_paused),
        cmocka_unit_test(test_overdue_after_the_timeout_only),
        cmocka_unit_test(test_outcome_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* model: the counter layout of a (model, version)'s columns, unseen-category
 * slots and their reuse, adding records to every window, and evaluation
 * (decision, BH family without ignored columns, alert state machines with
 * `for`, hysteresis, history). The reference is built by hand:
 *   [0] features.x  numeric 1..10, one bin per value (10 bins, the layout
 *                   before gap bins)
 *   [1] features.c  categorical a (500), b (300), c (200)
 *   [2] features.u  numeric, 10,000 evenly spaced values in (0, 1), 20 bins */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "column_fixture.h"

#include "driftwatch/error.h"
#include "driftwatch/histogram.h"
#include "driftwatch/ks.h"
#include "driftwatch/model.h"
#include "driftwatch/reference_build.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define T0 1767225600000LL /* 2026-01-01T00:00:00Z, a multiple of every slide */
#define MIN 60000LL
#define NU 10000

static dw_reference *ref;
static dw_thresholds th;
static const dw_thresholds *ths[3] = {&th, &th, &th};

static int group_setup(void **state)
{
    (void)state;
    dw_thresholds_default(&th);
    ref = dwt_reference_new(3);

    dw_ref_column *x = &ref->cols[0];
    x->name = strdup("features.x"); /* the builders set the type */
    double v[10];
    for (int i = 0; i < 10; i++)
        v[i] = i + 1;
    assert_int_equal(dw_build_numeric(x, v, 10, 10), 0);
    /* The layout of a reference built before gap bins (which still loads):
     * one bin per value, edges {1, 1, 2, ..., 10}, so bin i > 0 is
     * (i, i + 1]. The offsets below count on these 10 bins. */
    x->nbins = 10;
    x->edges[0] = 1;
    for (int i = 1; i <= 10; i++) {
        x->edges[i] = i;
        x->bin_counts[i - 1] = 1;
    }
    dw_bin_index_free(x->bin_index);
    x->bin_index = NULL;

    dw_ref_column *c = &ref->cols[1];
    c->name = strdup("features.c");
    static const char *const cats[] = {"a", "b", "c"};
    static const uint64_t counts[] = {500, 300, 200};
    assert_int_equal(dw_build_categorical(c, cats, counts, 3, 0, 100), 0);

    dw_ref_column *u = &ref->cols[2];
    u->name = strdup("features.u");
    double *uv = malloc(NU * sizeof *uv);
    for (int i = 0; i < NU; i++)
        uv[i] = (i + 0.5) / NU;
    assert_int_equal(dw_build_numeric(u, uv, NU, 20), 0);
    free(uv);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    dw_reference_free(ref);
    return 0;
}

static const dw_window_spec win10m = {"10m", 10 * MIN, MIN};

static dw_model *new_model(size_t K, uint32_t alert_for, const bool *ignored)
{
    dw_model_spec s = {
        .name = "m",
        .version = "v1",
        .ref = ref,
        .col_thresholds = ths,
        .col_ignored = ignored,
        .windows = &win10m,
        .nwindows = 1,
        .lateness_ms = 0,
        .max_new_categories = K,
        .alert = {.for_count = alert_for},
        .clear_psi = 0.1,
        .clear_ks = 0.05,
    };
    dw_model *m = dw_model_new(&s);
    assert_non_null(m);
    return m;
}

static dw_value num(double x)
{
    return (dw_value){.kind = DW_VAL_NUMBER, .num = x};
}

static dw_value str(const char *s)
{
    return (dw_value){.kind = DW_VAL_STRING, .str = s, .len = strlen(s)};
}

static size_t slot(dw_model *m, size_t col, dw_value v, dw_slot_status want)
{
    dw_slot_status st;
    size_t i = dw_model_slot(m, col, &v, &st);
    assert_int_equal(st, want);
    return i;
}

/* One record at t holding value v of column col. */
static void add(dw_model *m, int64_t t, size_t col, dw_value v)
{
    dw_slot_status st;
    size_t i = dw_model_slot(m, col, &v, &st);
    assert_int_equal(dw_model_add(m, t, &i, 1), 0);
}

/* n values of features.u in minute `minute`, evenly spaced in
 * (shift, 1 + shift). */
static void add_u_minute(dw_model *m, int64_t minute, int n, double shift)
{
    for (int i = 0; i < n; i++)
        add(m, T0 + minute * MIN + i, 2, num((i + 0.5) / n + shift));
}

static int64_t close_next(dw_model *m)
{
    return dw_window_close_next(dw_model_window(m, 0));
}

static void test_invalid_specs_are_refused(void **state)
{
    (void)state;
    dw_window_spec bad = {"bad", 10 * MIN, 3 * MIN}; /* not a multiple */
    dw_window_spec many[DW_MAX_WINDOWS + 1];
    for (size_t i = 0; i <= DW_MAX_WINDOWS; i++)
        many[i] = win10m;
    dw_model_spec s = {
        .name = "m", .ref = ref, .col_thresholds = ths, .windows = &win10m, .nwindows = 1};
    dw_model *m = dw_model_new(&s);
    assert_non_null(m);
    assert_null(dw_model_version(m)); /* no version given */
    assert_string_equal(dw_model_name(m), "m");
    dw_model_free(m);

    dw_model_spec t = s;
    t.ref = NULL;
    assert_null(dw_model_new(&t));
    t = s;
    t.nwindows = 0;
    assert_null(dw_model_new(&t));
    t = s;
    t.windows = many;
    t.nwindows = DW_MAX_WINDOWS + 1;
    assert_null(dw_model_new(&t));
    t = s;
    t.max_new_categories = DW_MAX_NEW_CATEGORIES + 1;
    assert_null(dw_model_new(&t));
    t = s;
    t.windows = &bad;
    assert_null(dw_model_new(&t));
    dw_model_free(NULL);
}

static void test_accessors(void **state)
{
    (void)state;
    dw_model *m = new_model(4, 1, NULL);
    assert_string_equal(dw_model_name(m), "m");
    assert_string_equal(dw_model_version(m), "v1");
    assert_ptr_equal(dw_model_reference(m), ref);
    assert_int_equal(dw_model_nwindows(m), 1);
    assert_string_equal(dw_model_window_name(m, 0), "10m");
    assert_int_equal(dw_window_length(dw_model_window(m, 0)), 10 * MIN);
    /* x: 10 bins + missing, type error, under, over; c: 3 listed + K=4 new
     * + overflow + missing, type error; u: 20 bins + 4. */
    assert_int_equal(dw_window_width(dw_model_window(m, 0)), 14 + 10 + 24);
    assert_int_equal(dw_model_last_evaluated(m, 0), INT64_MIN);
    assert_null(dw_model_last_result(m, 0, 0));
    dw_model_free(m);
}

static void test_numeric_slots_follow_the_layout(void **state)
{
    (void)state;
    dw_model *m = new_model(4, 1, NULL);
    /* features.x at offset 0: [missing, type_error, under, bin_0..bin_9, over] */
    assert_int_equal(dw_model_missing_slot(m, 0), 0);
    assert_int_equal(slot(m, 0, (dw_value){.kind = DW_VAL_MISSING}, DW_SLOT_MISSING), 0);
    assert_int_equal(slot(m, 0, str("NA"), DW_SLOT_MISSING), 0);
    assert_int_equal(slot(m, 0, str("ten"), DW_SLOT_TYPE_ERROR), 1);
    assert_int_equal(slot(m, 0, num(0), DW_SLOT_OK), 2);   /* under */
    assert_int_equal(slot(m, 0, num(1), DW_SLOT_OK), 3);   /* bin 0 = [1, 1] */
    assert_int_equal(slot(m, 0, num(1.5), DW_SLOT_OK), 4); /* bin 1 = (1, 2] */
    assert_int_equal(slot(m, 0, num(10), DW_SLOT_OK), 12); /* bin 9 */
    assert_int_equal(slot(m, 0, num(11), DW_SLOT_OK), 13); /* over */
    /* features.u starts after x (14) and c (2 + 3 + 4 + 1 = 10). */
    assert_int_equal(dw_model_missing_slot(m, 2), 24);
    assert_int_equal(slot(m, 2, num(-1), DW_SLOT_OK), 26);
    assert_int_equal(slot(m, 2, num(2), DW_SLOT_OK), 24 + 3 + 20);
    dw_model_free(m);
}

static void test_categorical_slots_and_unseen_names(void **state)
{
    (void)state;
    dw_model *m = new_model(2, 1, NULL);
    /* features.c at offset 14: [missing, type_error, a, b, c, new_0, new_1,
     * new_overflow]. */
    size_t off = dw_model_missing_slot(m, 1);
    assert_int_equal(off, 14);
    assert_int_equal(slot(m, 1, str("a"), DW_SLOT_OK), off + 2);
    assert_int_equal(slot(m, 1, str("c"), DW_SLOT_OK), off + 4);
    assert_int_equal(slot(m, 1, str(""), DW_SLOT_MISSING), off);
    assert_int_equal(slot(m, 1, (dw_value){.kind = DW_VAL_OTHER}, DW_SLOT_TYPE_ERROR), off + 1);
    /* Unseen names take the free slots in order and keep them. */
    assert_int_equal(slot(m, 1, str("x"), DW_SLOT_OK), off + 5);
    assert_int_equal(slot(m, 1, str("y"), DW_SLOT_OK), off + 6);
    assert_int_equal(slot(m, 1, str("x"), DW_SLOT_OK), off + 5);
    /* K = 2 used up: further names are pooled. */
    assert_int_equal(slot(m, 1, str("z"), DW_SLOT_OK), off + 7);
    assert_int_equal(slot(m, 1, str("y"), DW_SLOT_OK), off + 6);
    dw_model_free(m);

    /* A name longer than a slot holds is pooled even with slots free. */
    m = new_model(2, 1, NULL);
    char *big = malloc(DW_MAX_NAME + 2);
    memset(big, 'q', DW_MAX_NAME + 1);
    big[DW_MAX_NAME + 1] = '\0';
    assert_int_equal(slot(m, 1, str(big), DW_SLOT_OK), off + 7);
    big[DW_MAX_NAME] = '\0'; /* exactly DW_MAX_NAME bytes fits */
    assert_int_equal(slot(m, 1, str(big), DW_SLOT_OK), off + 5);
    free(big);
    dw_model_free(m);

    /* K = 0: every unseen value goes to the overflow right after the
     * listed categories. */
    m = new_model(0, 1, NULL);
    assert_int_equal(slot(m, 1, str("x"), DW_SLOT_OK), off + 5);
    dw_sample s;
    dw_model_sample(m, 0, 1, &s);
    assert_int_equal(s.nnew, 0);
    dw_model_free(m);
}

/* The record path's shortcuts (dw_model_number_slot, dw_model_text_slot)
 * give the counter and status dw_model_slot() gives for the same value,
 * unseen-category slots included (taken in the same order). */
static void test_fast_slots_agree_with_dw_model_slot(void **state)
{
    (void)state;
    dw_model *a = new_model(2, 1, NULL), *b = new_model(2, 1, NULL);
    const double xs[] = {-1e300, 0.0, 1.0, 1.5, 5.0, 10.0, 10.000001, 1e300, 0.25, 0.9999};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++)
        for (size_t col = 0; col < 3; col += 2) {
            dw_slot_status st;
            size_t want =
                dw_model_slot(a, col, &(dw_value){.kind = DW_VAL_NUMBER, .num = xs[i]}, &st);
            assert_int_equal(st, DW_SLOT_OK);
            assert_int_equal(dw_model_number_slot(b, col, xs[i]), want);
        }
    dw_slot_status st;
    assert_int_equal(dw_model_number_slot(b, 0, NAN),
                     dw_model_slot(a, 0, &(dw_value){.kind = DW_VAL_NUMBER, .num = NAN}, &st));
    assert_int_equal(st, DW_SLOT_MISSING);
    const char *texts[] = {"a", "c", "", "NA", "null", "x", "y", "x", "z", "b", "y"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        dw_slot_status sa, sb;
        size_t len = strlen(texts[i]);
        size_t want = dw_model_slot(
            a, 1, &(dw_value){.kind = DW_VAL_STRING, .str = texts[i], .len = len}, &sa);
        assert_int_equal(dw_model_text_slot(b, 1, texts[i], len, &sb), want);
        assert_int_equal(sb, sa);
    }
    dw_model_free(a);
    dw_model_free(b);
}

static void test_added_records_show_in_the_sample_once_closed(void **state)
{
    (void)state;
    dw_model *m = new_model(2, 1, NULL);
    add(m, T0, 0, num(1));
    add(m, T0 + 1, 0, num(1));
    add(m, T0 + 2, 0, num(11));
    add(m, T0 + 3, 0, str("null"));
    add(m, T0 + 4, 0, str("x"));
    add(m, T0 + 5, 1, str("b"));
    add(m, T0 + 6, 1, str("new"));
    add(m, T0 + 7, 1, str("new"));
    add(m, T0 + 8, 1, str("other"));
    add(m, T0 + 9, 1, str("pooled"));
    dw_sample s;
    dw_model_sample(m, 0, 0, &s);
    assert_int_equal(s.missing + s.bins[1], 0); /* nothing closed yet */
    assert_int_equal(close_next(m), T0 + MIN);

    dw_model_sample(m, 0, 0, &s);
    assert_ptr_equal(s.ref, &ref->cols[0]);
    assert_int_equal(s.missing, 1);
    assert_int_equal(s.type_errors, 1);
    assert_int_equal(s.bins[0], 0);  /* under */
    assert_int_equal(s.bins[1], 2);  /* bin 0 */
    assert_int_equal(s.bins[11], 1); /* over */
    assert_int_equal(dw_sample_count(&s), 3);

    dw_model_sample(m, 0, 1, &s);
    assert_int_equal(s.bins[1], 1); /* b */
    assert_int_equal(s.nnew, 2);
    assert_string_equal(s.new_names[0], "new");
    assert_int_equal(s.new_counts[0], 2);
    assert_string_equal(s.new_names[1], "other");
    assert_int_equal(s.new_counts[1], 1);
    assert_int_equal(s.new_overflow, 1);
    assert_int_equal(dw_sample_unseen(&s), 4);
    dw_model_free(m);
}

/* An older record moves the clock back before the first close, and the
 * model says so once: the engine caches the next pane end and must look
 * again (a stale one stalled test_sidecar case 4, see test_engine.c). */
static void test_clock_moved_back_is_reported_once(void **state)
{
    (void)state;
    dw_model_spec s = {
        .name = "m",
        .version = "v1",
        .ref = ref,
        .col_thresholds = ths,
        .windows = &win10m,
        .nwindows = 1,
        .lateness_ms = 10 * MIN,
        .max_new_categories = 2,
        .clear_psi = 0.1,
        .clear_ks = 0.05,
    };
    dw_model *m = dw_model_new(&s);
    assert_non_null(m);
    size_t i = dw_model_missing_slot(m, 0);
    assert_int_equal(dw_model_add(m, T0 + 5 * MIN, &i, 1), 0); /* starts the clock */
    assert_false(dw_model_clock_moved_back(m));
    assert_int_equal(dw_model_add(m, T0 + 5 * MIN + 1000, &i, 1), 0);
    assert_int_equal(dw_model_add(m, T0 + 9 * MIN, &i, 1), 0);
    assert_false(dw_model_clock_moved_back(m));
    assert_int_equal(dw_window_next_end(dw_model_window(m, 0)), T0 + 6 * MIN);
    assert_int_equal(dw_model_add(m, T0 + 2 * MIN, &i, 1), 0); /* older: moves it back */
    assert_true(dw_model_clock_moved_back(m));
    assert_false(dw_model_clock_moved_back(m));
    assert_int_equal(dw_window_next_end(dw_model_window(m, 0)), T0 + 3 * MIN);
    assert_int_equal(close_next(m), T0 + 3 * MIN);
    /* after a close the clock stays: older records are late, no move */
    assert_int_equal(dw_model_add(m, T0 + 1 * MIN, &i, 1), DW_ERR_LIMIT);
    assert_false(dw_model_clock_moved_back(m));
    dw_model_free(m);
}

static void test_add_refuses_records_ahead_and_late(void **state)
{
    (void)state;
    dw_model *m = new_model(2, 1, NULL);
    size_t i = dw_model_missing_slot(m, 0);
    assert_int_equal(dw_model_add(m, T0 + 5 * MIN, &i, 1), 0); /* starts the clock */
    /* Far beyond the open panes: the caller must advance time first, and
     * nothing was added. */
    int64_t ahead = dw_window_open_end(dw_model_window(m, 0));
    assert_int_equal(dw_model_add(m, ahead + 60 * MIN, &i, 1), DW_ERR_STATE);
    assert_int_equal(close_next(m), T0 + 6 * MIN);
    /* The pane of minute 5 is closed now: a record for it is late. */
    assert_int_equal(dw_model_add(m, T0 + 5 * MIN + 1, &i, 1), DW_ERR_LIMIT);
    dw_sample s;
    dw_model_sample(m, 0, 0, &s);
    assert_int_equal(s.missing, 1);
    dw_model_free(m);
}

static void test_unseen_slots_are_reused_once_no_window_counts_them(void **state)
{
    (void)state;
    dw_model *m = new_model(1, 1, NULL);
    size_t off = dw_model_missing_slot(m, 1);
    dw_column_result res[3];
    dw_alert_event ev[6];
    add(m, T0, 1, str("old"));
    assert_int_equal(slot(m, 1, str("newer"), DW_SLOT_OK), off + 6); /* K = 1: pooled */
    int64_t end = 0;
    for (int k = 0; k < 10; k++) {
        end = close_next(m);
        dw_model_evaluate(m, 0, end, res, ev);
    }
    /* "old" is still in the 10-minute window. */
    assert_int_equal(slot(m, 1, str("newer"), DW_SLOT_OK), off + 6);
    end = close_next(m); /* minute 0 leaves the window */
    assert_int_equal(end, T0 + 11 * MIN);
    dw_model_evaluate(m, 0, end, res, ev);
    dw_sample s;
    dw_model_sample(m, 0, 1, &s);
    assert_int_equal(s.new_counts[0], 0);
    assert_string_equal(s.new_names[0], ""); /* freed */
    assert_int_equal(slot(m, 1, str("newer"), DW_SLOT_OK), off + 5);
    dw_model_free(m);
}

/* Fills a whole 10-minute window with 100 values of features.u a minute
 * (shifted by `shift`) starting at minute `from`, closing each pane, and
 * evaluates every close. Returns the events of the last evaluation of u. */
static dw_alert_event run_window(dw_model *m, int64_t from, double shift, dw_column_result *res,
                                 dw_alert_event *ev, size_t *drifting)
{
    for (int64_t k = from; k < from + 10; k++) {
        add_u_minute(m, k, 100, shift);
        int64_t end = close_next(m);
        assert_int_equal(end, T0 + (k + 1) * MIN);
        *drifting = dw_model_evaluate(m, 0, end, res, ev);
    }
    return ev[2 * 2];
}

static void test_no_shift_no_drift_shift_fires_after_for_and_resolves(void **state)
{
    (void)state;
    dw_model *m = new_model(2, 2, NULL);
    dw_column_result res[3];
    dw_alert_event ev[6];
    size_t drifting = 99;

    /* The reference distribution: nothing drifts, nothing fires. */
    assert_int_equal(run_window(m, 0, 0.0, res, ev, &drifting), DW_ALERT_NONE);
    assert_int_equal(drifting, 0);
    assert_int_equal(res[2].count, 1000);
    assert_true(res[2].has_ks);
    assert_true(res[2].ks.statistic < 0.01);
    assert_false(res[2].drift);
    assert_int_equal(dw_model_alert(m, 2, 0, 0)->state, DW_ALERT_INACTIVE);
    /* Columns without values: too few samples, never drift. */
    assert_false(res[0].enough_samples);
    assert_false(res[0].drift);
    assert_int_equal(ev[0], DW_ALERT_NONE);
    assert_int_equal(dw_model_last_evaluated(m, 0), T0 + 10 * MIN);

    /* Shift by 0.5 one minute at a time: after j shifted minutes the
     * window's KS D is about 0.05 j, but the newest minute alone has D 0.5
     * (the recent-segment scan). The first breaching evaluation makes the
     * alert pending, the second (for = 2) fires it. */
    int64_t minute = 10, first_drift = -1, fired = -1;
    for (; minute < 20 && fired < 0; minute++) {
        add_u_minute(m, minute, 100, 0.5);
        drifting = dw_model_evaluate(m, 0, close_next(m), res, ev);
        if (res[2].drift && first_drift < 0) {
            first_drift = minute;
            assert_int_equal(drifting, 1);
            assert_int_equal(ev[4], DW_ALERT_NONE);
            assert_int_equal(dw_model_alert(m, 2, 0, 0)->state, DW_ALERT_PENDING);
        }
        if (ev[4] == DW_ALERT_FIRED)
            fired = minute;
    }
    /* One shifted minute is enough: the window alone (D 0.05) is not
     * flagged, its newest pane is. */
    assert_int_equal(first_drift, 10);
    assert_int_equal(fired, first_drift + 1);
    const dw_alert *a = dw_model_alert(m, 2, 0, 0);
    assert_int_equal(a->state, DW_ALERT_FIRING);
    assert_int_equal(a->started_ms, T0 + (fired + 1) * MIN);
    assert_int_equal(a->episodes, 1);
    /* The quality alert of the same column is a separate machine. */
    assert_int_equal(dw_model_alert(m, 2, 0, 1)->state, DW_ALERT_INACTIVE);
    assert_int_equal(ev[5], DW_ALERT_NONE);

    /* Back to the reference distribution: resolves once, within a window,
     * and not on the first clean minute (hysteresis: the effect must fall
     * below the clear levels, lower than the thresholds). */
    int64_t resolved_at = -1;
    int resolved = 0;
    for (int64_t j = minute; j < minute + 10; j++) {
        add_u_minute(m, j, 100, 0.0);
        dw_model_evaluate(m, 0, close_next(m), res, ev);
        if (ev[4] == DW_ALERT_RESOLVED) {
            resolved++;
            resolved_at = j;
            assert_false(res[2].drift);
        }
    }
    assert_int_equal(resolved, 1);
    assert_true(resolved_at > minute);
    assert_int_equal(a->state, DW_ALERT_INACTIVE);
    assert_int_equal(a->ended_ms, T0 + (resolved_at + 1) * MIN);
    dw_model_free(m);
}

/* The critical D of a column, undone: the a that gives it for sample sizes
 * m (window) and n (reference). */
static double ks_level(const dw_column_result *r)
{
    double m = (double)r->count, n = (double)r->ref->count;
    return dw_kolmogorov_sf(r->ks_critical / (1.0 / sqrt(m) + 1.0 / sqrt(n)));
}

static void test_recent_segments_flag_before_the_window_within_the_budget(void **state)
{
    (void)state;
    dw_model *m = new_model(2, 2, NULL);
    dw_column_result res[3];
    dw_alert_event ev[6];
    size_t drifting = 99;
    /* 50 values a minute: the newest pane alone is below min_samples (100),
     * so it is not a test; 2, 4 and 8 panes are. */
    for (int64_t k = 0; k < 10; k++) {
        add_u_minute(m, k, 50, 0.0);
        drifting = dw_model_evaluate(m, 0, close_next(m), res, ev);
    }
    assert_int_equal(drifting, 0);
    assert_int_equal(res[2].tests, 4);
    assert_int_equal(res[2].recent_panes, 0);
    double a = dw_eval_alpha(&th, 3, 1, MIN);
    assert_float_equal(ks_level(&res[2]), a / 4, a * 1e-6);
    /* Columns without values take no segment: their one test has all of a. */
    assert_int_equal(res[0].tests, 1);

    /* One minute of 100 values shifted by 0.5: D 0.5 in the newest pane,
     * now a test too (critical D about 0.28), 0.09 over the window (not
     * flagged: below the 0.1 threshold). */
    add_u_minute(m, 10, 100, 0.5);
    drifting = dw_model_evaluate(m, 0, close_next(m), res, ev);
    assert_int_equal(res[2].tests, 5);
    assert_float_equal(ks_level(&res[2]), a / 5, a * 1e-6);
    assert_true(res[2].ks.statistic < 0.1);
    assert_false(res[2].effect);
    assert_true(res[2].drift);
    assert_int_equal(drifting, 1);
    assert_int_equal(res[2].recent_panes, 1);
    assert_float_equal(res[2].recent_ks, 0.5, 0.01);
    assert_int_equal(dw_model_alert(m, 2, 0, 0)->state, DW_ALERT_PENDING);
    /* A burst of one slide: the next minute (50 clean values) still has it
     * in its newest 2 panes (D 0.33, critical about 0.23), so it fires
     * (for = 2). The window stays significant with D above the clear level
     * (0.05) until the burst leaves it, ten minutes later. */
    add_u_minute(m, 11, 50, 0.0);
    dw_model_evaluate(m, 0, close_next(m), res, ev);
    assert_int_equal(res[2].recent_panes, 2);
    assert_int_equal(ev[4], DW_ALERT_FIRED);
    int64_t resolved_at = -1;
    for (int64_t k = 12; k < 25 && resolved_at < 0; k++) {
        add_u_minute(m, k, 50, 0.0);
        dw_model_evaluate(m, 0, close_next(m), res, ev);
        if (ev[4] == DW_ALERT_RESOLVED)
            resolved_at = k;
        else
            assert_int_equal(dw_model_alert(m, 2, 0, 0)->state, DW_ALERT_FIRING);
    }
    assert_int_equal(resolved_at, 20);
    assert_false(res[2].drift);
    assert_int_equal(dw_model_alert(m, 2, 0, 0)->episodes, 1);
    dw_model_free(m);
}

static void test_segment_alert_resolves_only_when_its_segments_are_clear(void **state)
{
    (void)state;
    dw_model *m = new_model(2, 1, NULL); /* for = 1: fires on one breach */
    dw_column_result res[3];
    dw_alert_event ev[6];
    for (int64_t k = 0; k < 10; k++) {
        add_u_minute(m, k, 200, 0.0);
        dw_model_evaluate(m, 0, close_next(m), res, ev);
    }
    /* 100 values shifted by 0.5: the newest pane fires (D 0.5), the window
     * (1,900 values, D 0.026) is below the clear levels. */
    add_u_minute(m, 10, 100, 0.5);
    dw_model_evaluate(m, 0, close_next(m), res, ev);
    assert_int_equal(ev[4], DW_ALERT_FIRED);
    assert_int_equal(res[2].recent_panes, 1);
    assert_true(res[2].ks.statistic < 0.05 && res[2].psi < 0.1);
    /* 400 clean values: no segment is flagged any more (the newest 2 panes:
     * D 0.1, critical about 0.15) and the window is below the clear
     * levels, but those 2 panes are still significant with D above the
     * clear level 0.05: the alert stays firing. */
    add_u_minute(m, 11, 400, 0.0);
    dw_model_evaluate(m, 0, close_next(m), res, ev);
    assert_false(res[2].drift);
    assert_true(res[2].ks.statistic < 0.05 && res[2].psi < 0.1);
    assert_int_equal(ev[4], DW_ALERT_NONE);
    assert_int_equal(dw_model_alert(m, 2, 0, 0)->state, DW_ALERT_FIRING);
    /* It resolves once, before the burst leaves the window. */
    int resolved = 0;
    for (int64_t k = 12; k < 20; k++) {
        add_u_minute(m, k, 400, 0.0);
        dw_model_evaluate(m, 0, close_next(m), res, ev);
        resolved += ev[4] == DW_ALERT_RESOLVED;
        assert_int_not_equal(ev[4], DW_ALERT_FIRED);
    }
    assert_int_equal(resolved, 1);
    assert_int_equal(dw_model_alert(m, 2, 0, 0)->episodes, 1);
    dw_model_free(m);
}

static void test_ignored_columns_are_evaluated_but_never_alert(void **state)
{
    (void)state;
    static const bool ignored[3] = {false, false, true};
    dw_model *m = new_model(2, 1, ignored);
    dw_column_result res[3];
    dw_alert_event ev[6];
    size_t drifting = 99;
    run_window(m, 0, 0.5, res, ev, &drifting);
    /* The statistics are there for display; no decision, no alert. */
    assert_int_equal(res[2].count, 1000);
    assert_true(res[2].ks.statistic > 0.4);
    assert_false(res[2].drift);
    assert_int_equal(drifting, 0);
    assert_int_equal(ev[4], DW_ALERT_NONE);
    assert_int_equal(dw_model_alert(m, 2, 0, 0)->state, DW_ALERT_INACTIVE);

    /* A reload that stops ignoring it: the next evaluation fires (for 1). */
    dw_model_set_params(m, ths, NULL, &(dw_alert_rule){.for_count = 1}, 0.1, 0.05);
    add_u_minute(m, 10, 100, 0.5);
    drifting = dw_model_evaluate(m, 0, close_next(m), res, ev);
    assert_true(res[2].drift);
    assert_int_equal(drifting, 1);
    assert_int_equal(ev[4], DW_ALERT_FIRED);
    dw_model_free(m);
}

static void test_reload_thresholds_change_the_decision(void **state)
{
    (void)state;
    dw_model *m = new_model(2, 1, NULL);
    dw_column_result res[3];
    dw_alert_event ev[6];
    size_t drifting = 99;
    run_window(m, 0, 0.5, res, ev, &drifting);
    assert_int_equal(drifting, 1);
    /* Effect thresholds beyond anything observed: no drift, windows kept. */
    dw_thresholds high = th;
    high.psi_threshold = 1e9;
    high.ks_threshold = 1.0;
    const dw_thresholds *hp[3] = {&high, &high, &high};
    dw_model_set_params(m, hp, NULL, &(dw_alert_rule){.for_count = 1}, 0.1, 0.05);
    add_u_minute(m, 10, 100, 0.5);
    drifting = dw_model_evaluate(m, 0, close_next(m), res, ev);
    assert_int_equal(res[2].count, 1000); /* the window survived the reload */
    assert_false(res[2].drift);
    assert_int_equal(drifting, 0);
    dw_model_free(m);
}

static void test_quality_issue_inhibits_the_distribution_alert(void **state)
{
    (void)state;
    /* An upstream outage: half the values of u missing (the reference has
     * none) and the rest shifted. The quality alert fires; the
     * distribution alert, a symptom of the same problem, does not. */
    dw_model *m = new_model(2, 1, NULL);
    dw_column_result res[3];
    dw_alert_event ev[6];
    for (int64_t k = 0; k < 10; k++) {
        add_u_minute(m, k, 100, 0.5);
        for (int i = 0; i < 100; i++)
            add(m, T0 + k * MIN + 100 + i, 2, (dw_value){.kind = DW_VAL_MISSING});
        dw_model_evaluate(m, 0, close_next(m), res, ev);
    }
    assert_true(res[2].drift);
    assert_true(res[2].quality_issue);
    assert_int_equal(res[2].missing, 1000);
    assert_int_equal(dw_model_alert(m, 2, 0, 0)->state, DW_ALERT_INACTIVE);
    assert_int_equal(dw_model_alert(m, 2, 0, 1)->state, DW_ALERT_FIRING);
    assert_int_equal(dw_model_alert(m, 2, 0, 1)->episodes, 1);
    dw_model_free(m);
}

/* Regression (issue 10): a null flood whose rate hovered around
 * missing_rate_delta fired 3-6 times in 2 hours. Once firing, the quality
 * alert stays firing while the rate is between half the level and the
 * level, and resolves once when it falls below half. */
static void test_quality_alert_has_hysteresis(void **state)
{
    (void)state;
    dw_model *m = new_model(2, 1, NULL);
    dw_column_result res[3];
    dw_alert_event ev[6];
    int fired = 0, resolved = 0;
    /* Missing values per 100 present ones: 40 (28.6 %, far above the 10 %
     * level), then 8 (7.4 %: below the level, above half of it), then 2. */
    static const struct {
        int64_t until;
        int missing;
    } phases[] = {{10, 40}, {30, 8}, {45, 2}};
    int64_t k = 0;
    for (size_t p = 0; p < 3; p++) {
        for (; k < phases[p].until; k++) {
            add_u_minute(m, k, 100, 0.0);
            for (int i = 0; i < phases[p].missing; i++)
                add(m, T0 + k * MIN + 100 + i, 2, (dw_value){.kind = DW_VAL_MISSING});
            dw_model_evaluate(m, 0, close_next(m), res, ev);
            fired += ev[5] == DW_ALERT_FIRED;
            resolved += ev[5] == DW_ALERT_RESOLVED;
        }
        if (p == 0)
            assert_true(res[2].quality_issue && fired == 1);
        if (p == 1) { /* between the levels: neither fires nor clears */
            assert_false(res[2].quality_issue);
            assert_false(res[2].quality_clear);
            assert_int_equal(dw_model_alert(m, 2, 0, 1)->state, DW_ALERT_FIRING);
        }
    }
    assert_int_equal(fired, 1);
    assert_int_equal(resolved, 1);
    assert_true(res[2].quality_clear);
    dw_model_free(m);
}

static void test_firing_alert_resolves_when_a_full_window_has_no_data(void **state)
{
    (void)state;
    /* The data stopped: once the (full) window is too thin to judge, the
     * firing alert resolves instead of firing forever. */
    dw_model *m = new_model(2, 1, NULL);
    dw_column_result res[3];
    dw_alert_event ev[6];
    size_t drifting;
    run_window(m, 0, 0.5, res, ev, &drifting);
    assert_int_equal(dw_model_alert(m, 2, 0, 0)->state, DW_ALERT_FIRING);
    int64_t resolved_at = -1;
    for (int64_t k = 10; k < 20 && resolved_at < 0; k++) {
        dw_model_evaluate(m, 0, close_next(m), res, ev);
        if (ev[4] == DW_ALERT_RESOLVED)
            resolved_at = k;
    }
    /* The evaluation after minute k holds minutes k-9..k: 100 values per
     * minute 0..9 stay >= min_samples (and still drifting) through k = 18;
     * at k = 19 the window is empty. */
    assert_int_equal(resolved_at, 19);
    assert_false(res[2].enough_samples);
    assert_int_equal(res[2].count, 0);
    dw_model_free(m);
}

static void test_history_keeps_the_last_evaluations_oldest_first(void **state)
{
    (void)state;
    dw_model *m = new_model(2, 1, NULL);
    dw_column_result res[3];
    dw_alert_event ev[6];
    int64_t t[DW_MODEL_HISTORY + 5];
    double psi[DW_MODEL_HISTORY + 5];
    assert_int_equal(dw_model_history(m, 0, 2, t, psi, DW_MODEL_HISTORY), 0);
    add(m, T0, 2, num(0.5));
    for (int k = 1; k <= 3; k++)
        dw_model_evaluate(m, 0, close_next(m), res, ev);
    assert_int_equal(dw_model_history(m, 0, 2, t, psi, DW_MODEL_HISTORY), 3);
    assert_int_equal(t[0], T0 + MIN);
    assert_int_equal(t[2], T0 + 3 * MIN);
    /* max limits the count to the newest ones. */
    assert_int_equal(dw_model_history(m, 0, 2, t, psi, 2), 2);
    assert_int_equal(t[0], T0 + 2 * MIN);
    assert_int_equal(t[1], T0 + 3 * MIN);
    for (int k = 4; k <= DW_MODEL_HISTORY + 5; k++)
        dw_model_evaluate(m, 0, close_next(m), res, ev);
    size_t n = dw_model_history(m, 0, 2, t, psi, DW_MODEL_HISTORY + 5);
    assert_int_equal(n, DW_MODEL_HISTORY);
    assert_int_equal(t[0], T0 + 6 * MIN);
    assert_int_equal(t[n - 1], T0 + (DW_MODEL_HISTORY + 5) * MIN);
    for (size_t i = 1; i < n; i++)
        assert_int_equal(t[i] - t[i - 1], MIN);
    const dw_column_result *last = dw_model_last_result(m, 0, 2);
    assert_non_null(last);
    assert_true(last->psi == psi[n - 1]);
    dw_model_free(m);
}

static void test_restore_and_notified(void **state)
{
    (void)state;
    dw_model *m = new_model(2, 3, NULL);
    dw_model_alert_restore(m, 2, 0, 0, T0 - MIN, T0 - 30000);
    const dw_alert *a = dw_model_alert(m, 2, 0, 0);
    assert_int_equal(a->state, DW_ALERT_FIRING);
    assert_int_equal(a->breaches, 3);
    assert_int_equal(a->started_ms, T0 - MIN);
    assert_int_equal(a->notified_ms, T0 - 30000);
    assert_int_equal(a->episodes, 1);
    dw_model_alert_notified(m, 2, 0, 0, T0 + 5 * MIN);
    assert_int_equal(a->notified_ms, T0 + 5 * MIN);
    /* kind 1 is the quality machine, untouched. */
    assert_int_equal(dw_model_alert(m, 2, 0, 1)->state, DW_ALERT_INACTIVE);

    /* After a restart the window fills again. 50 clean values a minute:
     * the first evaluation (50 < min_samples 100, window not full) is too
     * thin to judge and must not resolve; the second (100 values) does. */
    dw_column_result res[3];
    dw_alert_event ev[6];
    add_u_minute(m, 0, 50, 0.0);
    assert_int_equal(dw_model_evaluate(m, 0, close_next(m), res, ev), 0);
    assert_false(res[2].enough_samples);
    assert_int_equal(ev[4], DW_ALERT_NONE);
    assert_int_equal(a->state, DW_ALERT_FIRING);
    add_u_minute(m, 1, 50, 0.0);
    assert_int_equal(dw_model_evaluate(m, 0, close_next(m), res, ev), 0);
    assert_true(res[2].enough_samples);
    assert_int_equal(ev[4], DW_ALERT_RESOLVED);
    assert_int_equal(a->state, DW_ALERT_INACTIVE);
    assert_int_equal(a->ended_ms, T0 + 2 * MIN);
    dw_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid_specs_are_refused),
        cmocka_unit_test(test_accessors),
        cmocka_unit_test(test_numeric_slots_follow_the_layout),
        cmocka_unit_test(test_categorical_slots_and_unseen_names),
        cmocka_unit_test(test_fast_slots_agree_with_dw_model_slot),
        cmocka_unit_test(test_added_records_show_in_the_sample_once_closed),
        cmocka_unit_test(test_add_refuses_records_ahead_and_late),
        cmocka_unit_test(test_clock_moved_back_is_reported_once),
        cmocka_unit_test(test_unseen_slots_are_reused_once_no_window_counts_them),
        cmocka_unit_test(test_no_shift_no_drift_shift_fires_after_for_and_resolves),
        cmocka_unit_test(test_recent_segments_flag_before_the_window_within_the_budget),
        cmocka_unit_test(test_segment_alert_resolves_only_when_its_segments_are_clear),
        cmocka_unit_test(test_ignored_columns_are_evaluated_but_never_alert),
        cmocka_unit_test(test_reload_thresholds_change_the_decision),
        cmocka_unit_test(test_quality_issue_inhibits_the_distribution_alert),
        cmocka_unit_test(test_quality_alert_has_hysteresis),
        cmocka_unit_test(test_firing_alert_resolves_when_a_full_window_has_no_data),
        cmocka_unit_test(test_history_keeps_the_last_evaluations_oldest_first),
        cmocka_unit_test(test_restore_and_notified),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/* Unit tests of the durable outbox (src/outbox.c), of the notifier's use of
 * it (recovery at start, deduplication, bound, shutdown keeps files), and of
 * the circuit breaker state machine (dw_breaker_*, driven by an injected
 * clock). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_util.h"

#include "driftwatch/error.h"
#include "driftwatch/log.h"
#include "driftwatch/notifier.h"
#include "driftwatch/outbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup_dir(void **state)
{
    char *tmpl = dw_strdup("/tmp/dw_test_outbox_XXXXXX");
    assert_non_null(mkdtemp(tmpl));
    *state = tmpl;
    return 0;
}

static int teardown_dir(void **state)
{
    char *dir = *state;
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
    return 0;
}

static json_t *doc_with_id(const char *id, int k)
{
    return json_pack("{s:s, s:s, s:i, s:[{s:s}]}", "version", "1", "id", id, "k", k, "alerts",
                     "status", "firing");
}

/* Names in dir (not starting with '.'), sorted, up to max; returns count. */
static size_t list_dir(const char *dir, char names[][256], size_t max)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        assert_true(n < max);
        snprintf(names[n++], 256, "%s", e->d_name);
    }
    closedir(d);
    qsort(names, n, 256, (int (*)(const void *, const void *))strcmp);
    return n;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static dw_outbox *open_locked(const char *state_dir, const char *sink, size_t max)
{
    dw_outbox *ob = NULL;
    char err[512];
    int rc = dw_outbox_open(state_dir, sink, max, &ob, err, sizeof err);
    if (rc)
        fail_msg("dw_outbox_open: %s", err);
    assert_int_equal(dw_outbox_lock(ob), 0);
    return ob;
}

/* ---- the outbox --------------------------------------------------------- */

static void test_put_then_load_in_order(void **state)
{
    const char *sd = *state;
    dw_outbox *ob = open_locked(sd, "hook", 10);
    const char *ids[] = {"fraud/v3/2026-11-25T13:45:00.000Z/5f1c", "b", "c"};
    char *files[3];
    for (int i = 0; i < 3; i++) {
        json_t *d = doc_with_id(ids[i], i);
        char err[256];
        assert_int_equal(dw_outbox_put(ob, d, &files[i], err, sizeof err), 0);
        json_decref(d);
    }
    /* <20 digits>-<sanitized id>.json, increasing */
    assert_int_equal(strlen(files[0]), 20 + 1 + strlen(ids[0]) + 5);
    assert_string_equal(files[0] + 21, "fraud_v3_2026-11-25T13_45_00.000Z_5f1c.json");
    assert_true(strcmp(files[0], files[1]) < 0 && strcmp(files[1], files[2]) < 0);
    char expect_dir[1024];
    snprintf(expect_dir, sizeof expect_dir, "%s/outbox/hook", sd);
    assert_string_equal(dw_outbox_dir(ob), expect_dir);
    char names[8][256];
    assert_int_equal(list_dir(expect_dir, names, 8), 3);
    dw_outbox_close(ob);

    /* A new run finds them, oldest first, unchanged. */
    ob = open_locked(sd, "hook", 10);
    dw_outbox_loaded L;
    assert_int_equal(dw_outbox_load(ob, &L), 0);
    assert_int_equal(L.n, 3);
    assert_int_equal(L.bad + L.dropped + L.duplicates, 0);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(L.items[i].file, files[i]);
        json_t *want = doc_with_id(ids[i], i);
        assert_true(json_equal(L.items[i].doc, want));
        json_decref(want);
    }
    /* What this run writes sorts after what it loaded. */
    char *later = NULL;
    json_t *d = doc_with_id("d", 9);
    assert_int_equal(dw_outbox_put(ob, d, &later, NULL, 0), 0);
    json_decref(d);
    assert_true(strcmp(later, files[2]) > 0);
    /* Removing is idempotent. */
    assert_int_equal(dw_outbox_remove(ob, files[0]), 0);
    assert_int_equal(dw_outbox_remove(ob, files[0]), 0);
    assert_int_equal(list_dir(expect_dir, names, 8), 3);
    assert_int_equal(dw_outbox_errors(ob), 0);
    dw_outbox_loaded_clear(&L);
    assert_int_equal(L.n, 0);
    free(later);
    for (int i = 0; i < 3; i++)
        free(files[i]);
    dw_outbox_close(ob);
    dw_outbox_close(NULL);
}

static void test_duplicate_ids_load_once(void **state)
{
    const char *sd = *state;
    dw_outbox *ob = open_locked(sd, "hook", 10);
    char *f1, *f2, *f3;
    json_t *a = doc_with_id("same", 1), *b = doc_with_id("same", 2), *c = doc_with_id("other", 3);
    assert_int_equal(dw_outbox_put(ob, a, &f1, NULL, 0), 0);
    assert_int_equal(dw_outbox_put(ob, b, &f2, NULL, 0), 0);
    assert_int_equal(dw_outbox_put(ob, c, &f3, NULL, 0), 0);
    dw_outbox_loaded L;
    assert_int_equal(dw_outbox_load(ob, &L), 0);
    assert_int_equal(L.n, 2);
    assert_int_equal(L.duplicates, 1);
    /* The older of the two is kept; the newer file is gone. */
    assert_true(json_equal(L.items[0].doc, a));
    assert_true(json_equal(L.items[1].doc, c));
    char names[8][256];
    assert_int_equal(list_dir(dw_outbox_dir(ob), names, 8), 2);
    assert_string_equal(names[0], f1);
    assert_string_equal(names[1], f3);
    dw_outbox_loaded_clear(&L);
    json_decref(a);
    json_decref(b);
    json_decref(c);
    free(f1);
    free(f2);
    free(f3);
    dw_outbox_close(ob);
}

static void test_corrupt_files_are_set_aside(void **state)
{
    const char *sd = *state;
    dw_outbox *ob = open_locked(sd, "hook", 10);
    const char *dir = dw_outbox_dir(ob);
    char *good;
    json_t *g = doc_with_id("good", 1);
    assert_int_equal(dw_outbox_put(ob, g, &good, NULL, 0), 0);
    /* Names that look like ours, contents that are not. */
    write_file(dir, "00000000000000000001-trunc.json", "{\"id\": \"x\", \"alerts\": [");
    write_file(dir, "00000000000000000002-array.json", "[1, 2]");
    write_file(dir, "00000000000000000003-empty.json", "");
    /* Not ours at all: ignored and left alone. */
    write_file(dir, "README", "a person's note");
    dw_outbox_loaded L;
    assert_int_equal(dw_outbox_load(ob, &L), 0);
    assert_int_equal(L.n, 1);
    assert_int_equal(L.bad, 3);
    assert_true(json_equal(L.items[0].doc, g));
    assert_int_equal(dw_outbox_errors(ob), 3);
    char names[16][256];
    size_t n = list_dir(dir, names, 16);
    assert_int_equal(n, 5);
    assert_string_equal(names[0], "00000000000000000001-trunc.json.bad");
    assert_string_equal(names[1], "00000000000000000002-array.json.bad");
    assert_string_equal(names[2], "00000000000000000003-empty.json.bad");
    assert_string_equal(names[4], "README");
    dw_outbox_loaded_clear(&L);
    /* A second load does not count them again. */
    assert_int_equal(dw_outbox_load(ob, &L), 0);
    assert_int_equal(L.n, 1);
    assert_int_equal(L.bad, 0);
    dw_outbox_loaded_clear(&L);
    json_decref(g);
    free(good);
    dw_outbox_close(ob);
}

static void test_load_keeps_the_newest_max_files(void **state)
{
    const char *sd = *state;
    /* 11 files against a bound of 3 also exercises the trimming while
     * listing (at twice the bound). */
    dw_outbox *ob = open_locked(sd, "hook", 100);
    char *files[11];
    for (int i = 0; i < 11; i++) {
        char id[16];
        snprintf(id, sizeof id, "n-%d", i);
        json_t *d = doc_with_id(id, i);
        assert_int_equal(dw_outbox_put(ob, d, &files[i], NULL, 0), 0);
        json_decref(d);
    }
    dw_outbox_close(ob);
    ob = open_locked(sd, "hook", 3);
    dw_outbox_loaded L;
    assert_int_equal(dw_outbox_load(ob, &L), 0);
    assert_int_equal(L.n, 3);
    assert_int_equal(L.dropped, 8);
    for (int i = 0; i < 3; i++)
        assert_string_equal(L.items[i].file, files[8 + i]);
    char names[16][256];
    assert_int_equal(list_dir(dw_outbox_dir(ob), names, 16), 3);
    dw_outbox_loaded_clear(&L);
    for (int i = 0; i < 11; i++)
        free(files[i]);
    dw_outbox_close(ob);
}

static void test_one_loader_per_directory(void **state)
{
    const char *sd = *state;
    dw_outbox *a = open_locked(sd, "hook", 10), *b = NULL;
    assert_int_equal(dw_outbox_open(sd, "hook", 10, &b, NULL, 0), 0);
    assert_int_equal(dw_outbox_lock(b), DW_ERR_STATE);
    dw_outbox_loaded L;
    assert_int_equal(dw_outbox_load(b, &L), DW_ERR_STATE);
    /* Writing needs no lock. */
    char *f;
    json_t *d = doc_with_id("w", 1);
    assert_int_equal(dw_outbox_put(b, d, &f, NULL, 0), 0);
    json_decref(d);
    dw_outbox_close(a);
    assert_int_equal(dw_outbox_lock(b), 0);
    assert_int_equal(dw_outbox_lock(b), 0);
    assert_int_equal(dw_outbox_load(b, &L), 0);
    assert_int_equal(L.n, 1);
    assert_string_equal(L.items[0].file, f);
    dw_outbox_loaded_clear(&L);
    free(f);
    dw_outbox_close(b);
}

static void test_sink_names_cannot_escape_or_collide(void **state)
{
    const char *sd = *state;
    dw_outbox *a = open_locked(sd, "a/b", 10), *b = open_locked(sd, "a_b", 10);
    dw_outbox *c = open_locked(sd, "..", 10);
    assert_string_not_equal(dw_outbox_dir(a), dw_outbox_dir(b));
    char outbox[1024];
    snprintf(outbox, sizeof outbox, "%s/outbox/", sd);
    for (dw_outbox *o = a; o; o = o == a ? b : o == b ? c : NULL) {
        const char *dir = dw_outbox_dir(o);
        assert_memory_equal(dir, outbox, strlen(outbox));
        assert_null(strchr(dir + strlen(outbox), '/'));
        assert_true(dir[strlen(outbox)] != '.');
    }
    dw_outbox_close(a);
    dw_outbox_close(b);
    dw_outbox_close(c);
}

static void test_missing_state_dir_is_one_sentence(void **state)
{
    const char *sd = *state;
    char missing[1024], err[512];
    snprintf(missing, sizeof missing, "%s/not-there", sd);
    dw_outbox *ob = (dw_outbox *)1;
    assert_int_equal(dw_outbox_open(missing, "hook", 10, &ob, err, sizeof err), DW_ERR_IO);
    assert_null(ob);
    assert_non_null(strstr(err, missing));
    assert_non_null(strstr(err, "No such file"));
    /* A file where the directory should be. */
    write_file(sd, "plain", "x");
    snprintf(missing, sizeof missing, "%s/plain", sd);
    assert_int_equal(dw_outbox_open(missing, "hook", 10, &ob, err, sizeof err), DW_ERR_IO);
    assert_non_null(strstr(err, missing));
    assert_int_equal(dw_outbox_open(sd, "hook", 0, &ob, err, sizeof err), DW_ERR_INVALID);
}

static void test_stale_temporary_files_are_removed(void **state)
{
    const char *sd = *state;
    dw_outbox *ob = open_locked(sd, "hook", 10);
    const char *dir = dw_outbox_dir(ob);
    write_file(dir, ".tmp-00000000000000000001-old.json", "{\"id\":");
    write_file(dir, ".tmp-00000000000000000002-new.json", "{\"id\":");
    char path[1024];
    snprintf(path, sizeof path, "%s/.tmp-00000000000000000001-old.json", dir);
    struct timespec old[2] = {{time(NULL) - 3600, 0}, {time(NULL) - 3600, 0}};
    assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
    dw_outbox_loaded L;
    assert_int_equal(dw_outbox_load(ob, &L), 0);
    assert_int_equal(L.n, 0);
    assert_int_equal(L.bad, 0);
    assert_int_equal(access(path, F_OK), -1);
    /* A young one may be another writer's, mid-write. */
    snprintf(path, sizeof path, "%s/.tmp-00000000000000000002-new.json", dir);
    assert_int_equal(access(path, F_OK), 0);
    dw_outbox_loaded_clear(&L);
    dw_outbox_close(ob);
}

/* ---- the notifier with an outbox ---------------------------------------- */

static dw_notifier *paused_notifier(const char *state_dir, size_t queue_size)
{
    dw_sink_spec sp;
    dw_sink_spec_init(&sp);
    sp.name = "out";
    sp.type = "stdout";
    sp.queue_size = queue_size;
    dw_notifier_options o = {.start_paused = true, .rng_seed = 1, .state_dir = state_dir};
    dw_notifier *n = NULL;
    char err[256];
    assert_int_equal(dw_notifier_new_ex(&sp, 1, &o, &n, err, sizeof err), 0);
    return n;
}

static size_t outbox_files(const char *state_dir)
{
    char dir[1024], names[64][256];
    snprintf(dir, sizeof dir, "%s/outbox/out", state_dir);
    return list_dir(dir, names, 64);
}

static void test_notifier_keeps_undelivered_files_and_recovers_them(void **state)
{
    const char *sd = *state;
    int old_level = dw_log_min_level;
    dw_log_set_level(DW_LOG_OFF); /* the expected shutdown warnings */

    dw_notifier *n = paused_notifier(sd, 3);
    for (int i = 1; i <= 4; i++) {
        char id[16];
        snprintf(id, sizeof id, "n-%d", i);
        assert_int_equal(dw_notifier_submit(n, doc_with_id(id, i)), 0);
    }
    dw_sink_stats st = dwt_stats(n, 0);
    /* Bounded like the queue: the oldest went, with its file. */
    assert_int_equal(st.dropped, 1);
    assert_int_equal(st.outbox_depth, 3);
    assert_int_equal(st.outbox_errors, 0);
    assert_int_equal(outbox_files(sd), 3);
    /* Shutting down is not giving up: the files stay. */
    assert_int_equal(dw_notifier_drain(n, 10), 3);
    dw_notifier_free(n);
    assert_int_equal(outbox_files(sd), 3);

    /* The next run queues them again; a document with an id it already
     * holds is not queued twice. */
    n = paused_notifier(sd, 3);
    st = dwt_stats(n, 0);
    assert_int_equal(st.recovered, 3);
    assert_int_equal(st.queued, 3);
    assert_int_equal(st.outbox_depth, 3);
    assert_int_equal(dw_notifier_submit(n, doc_with_id("n-3", 3)), 0);
    st = dwt_stats(n, 0);
    assert_int_equal(st.deduplicated, 1);
    assert_int_equal(st.queued, 3);
    assert_int_equal(outbox_files(sd), 3);

    /* Delivered (to stdout, captured in a file), oldest first: n-2, n-3, n-4. */
    dwt_capture cap;
    dwt_capture_start(&cap);
    dw_notifier_resume(n);
    assert_int_equal(dw_notifier_drain(n, 10000), 0);
    dwt_capture_stop(&cap);
    st = dwt_stats(n, 0);
    assert_int_equal(st.sent, 3);
    assert_int_equal(st.outbox_depth, 0);
    assert_int_equal(outbox_files(sd), 0);
    dw_notifier_free(n);
    dw_log_set_level((dw_log_level)old_level);

    static const char *const want[] = {"n-2", "n-3", "n-4"};
    dwt_capture_expect_ids(&cap, want, 3, false);
}

static void test_notifier_without_a_usable_state_dir_still_runs(void **state)
{
    const char *sd = *state;
    char missing[1024];
    snprintf(missing, sizeof missing, "%s/not-mounted", sd);
    int old_level = dw_log_min_level;
    dw_log_set_level(DW_LOG_OFF); /* the expected error line */
    dw_notifier *n = paused_notifier(missing, 4);
    assert_int_equal(dw_notifier_submit(n, doc_with_id("x", 1)), 0);
    dw_sink_stats st = dwt_stats(n, 0);
    assert_int_equal(st.outbox_errors, 1);
    assert_int_equal(st.outbox_depth, 0);
    assert_int_equal(st.queued, 1);
    dw_notifier_free(n);
    dw_log_set_level((dw_log_level)old_level);
    assert_int_equal(access(missing, F_OK), -1); /* not created behind the user's back */
}

/* ---- circuit breaker ---------------------------------------------------- */

static void test_breaker_opens_after_threshold_and_doubles(void **state)
{
    (void)state;
    dw_breaker b;
    dw_breaker_init(&b, 0, 0, 0);
    assert_int_equal(b.threshold, DW_BREAKER_THRESHOLD);
    int64_t t = 1000;
    for (int i = 0; i < 4; i++) {
        assert_true(dw_breaker_allow(&b, t));
        assert_int_equal(dw_breaker_record(&b, true, t), DW_BREAKER_CLOSED);
        t += 10;
    }
    assert_true(dw_breaker_allow(&b, t));
    assert_int_equal(dw_breaker_record(&b, true, t), DW_BREAKER_OPEN);
    /* Open for 30 s, then 60, 120, 240 and 300 (the cap) while the
     * half-open attempts keep failing. */
    int64_t want[] = {30000, 60000, 120000, 240000, 300000, 300000};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        int64_t opened = t;
        assert_int_equal(b.open_ms, want[k]);
        assert_false(dw_breaker_allow(&b, opened));
        assert_false(dw_breaker_allow(&b, opened + want[k] - 1));
        assert_int_equal(b.state, DW_BREAKER_OPEN);
        t = opened + want[k];
        assert_true(dw_breaker_allow(&b, t));
        assert_int_equal(b.state, DW_BREAKER_HALF_OPEN);
        assert_int_equal(dw_breaker_record(&b, true, t), DW_BREAKER_OPEN);
    }
}

static void test_breaker_half_open_success_closes_and_resets(void **state)
{
    (void)state;
    dw_breaker b;
    dw_breaker_init(&b, 3, 1000, 4000);
    int64_t t = 0;
    for (int i = 0; i < 3; i++)
        dw_breaker_record(&b, true, t);
    assert_int_equal(b.state, DW_BREAKER_OPEN);
    t += 1000;
    assert_true(dw_breaker_allow(&b, t));
    assert_int_equal(dw_breaker_record(&b, true, t), DW_BREAKER_OPEN);
    assert_int_equal(b.open_ms, 2000);
    t += 2000;
    assert_true(dw_breaker_allow(&b, t));
    assert_int_equal(dw_breaker_record(&b, false, t), DW_BREAKER_CLOSED);
    assert_int_equal(b.failures, 0);
    /* Closed again: the next opening starts from the base time. */
    for (int i = 0; i < 3; i++)
        dw_breaker_record(&b, true, t);
    assert_int_equal(b.state, DW_BREAKER_OPEN);
    assert_int_equal(b.open_ms, 1000);
    assert_int_equal(b.open_until_ms, t + 1000);
}

static void test_breaker_counts_consecutive_failures_only(void **state)
{
    (void)state;
    dw_breaker b;
    dw_breaker_init(&b, 5, 30000, 300000);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 4; i++)
            assert_int_equal(dw_breaker_record(&b, true, 0), DW_BREAKER_CLOSED);
        assert_int_equal(dw_breaker_record(&b, false, 0), DW_BREAKER_CLOSED);
    }
    assert_true(dw_breaker_allow(&b, 0));
    /* A maximum below the base is raised to it. */
    dw_breaker_init(&b, 1, 5000, 10);
    assert_int_equal(b.max_open_ms, 5000);
}

static void test_breaker_failure_classification(void **state)
{
    (void)state;
    assert_true(dw_breaker_is_failure(DW_DELIVERY_RETRY, 0));   /* refused, timeout */
    assert_true(dw_breaker_is_failure(DW_DELIVERY_RETRY, 500)); /* server error */
    assert_true(dw_breaker_is_failure(DW_DELIVERY_RETRY, 503));
    assert_true(dw_breaker_is_failure(DW_DELIVERY_RETRY, 408));
    /* The receiver answered: it is up, whatever it thought of the request. */
    assert_false(dw_breaker_is_failure(DW_DELIVERY_RETRY, 429));
    assert_false(dw_breaker_is_failure(DW_DELIVERY_DROP, 400));
    assert_false(dw_breaker_is_failure(DW_DELIVERY_DROP, 404));
    assert_false(dw_breaker_is_failure(DW_DELIVERY_OK, 200));
    assert_false(dw_breaker_is_failure(DW_DELIVERY_OK, 0)); /* a local write */
}

int main(void)
{
#define TEST(fn) cmocka_unit_test_setup_teardown(fn, setup_dir, teardown_dir)
    const struct CMUnitTest tests[] = {
        TEST(test_put_then_load_in_order),
        TEST(test_duplicate_ids_load_once),
        TEST(test_corrupt_files_are_set_aside),
        TEST(test_load_keeps_the_newest_max_files),
        TEST(test_one_loader_per_directory),
        TEST(test_sink_names_cannot_escape_or_collide),
        TEST(test_missing_state_dir_is_one_sentence),
        TEST(test_stale_temporary_files_are_removed),
        TEST(test_notifier_keeps_undelivered_files_and_recovers_them),
        TEST(test_notifier_without_a_usable_state_dir_still_runs),
        cmocka_unit_test(test_breaker_opens_after_threshold_and_doubles),
        cmocka_unit_test(test_breaker_half_open_success_closes_and_resets),
        cmocka_unit_test(test_breaker_counts_consecutive_failures_only),
        cmocka_unit_test(test_breaker_failure_classification),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

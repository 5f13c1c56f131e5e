/* Small helpers shared by unit tests: stdout captured in a temporary file
 * and the JSON documents written there checked by id, and a sink's
 * statistics (test_notifier.c, test_outbox.c); a table of texts for a
 * missing-value predicate (test_table.c, test_value.c); the one record of
 * a JSON text scanned (test_scanner.c, test_timestamp.c). Include after
 * cmocka.h. */
#ifndef DW_TEST_UTIL_H
#define DW_TEST_UTIL_H

#include "driftwatch/notifier.h"
#include "driftwatch/scanner.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char path[64];
    int fd;    /* the file stdout goes to */
    int saved; /* the real stdout */
} dwt_capture;

/* From now on stdout goes to a new temporary file. */
static inline void dwt_capture_start(dwt_capture *c)
{
    snprintf(c->path, sizeof c->path, "/tmp/dw_test_stdout_XXXXXX");
    c->fd = mkstemp(c->path);
    assert_true(c->fd >= 0);
    fflush(stdout);
    c->saved = dup(STDOUT_FILENO);
    dup2(c->fd, STDOUT_FILENO);
}

/* stdout back to where it went before. */
static inline void dwt_capture_stop(dwt_capture *c)
{
    fflush(stdout);
    dup2(c->saved, STDOUT_FILENO);
    close(c->saved);
}

/* The record of json (a single object) scanned into fields (cap of them);
 * fails unless there is one. s must outlive the record's fields. */
static inline dw_scan_record dwt_scan_one(dw_scanner *s, const char *json, dw_scan_field *fields,
                                          size_t cap)
{
    dw_scan_init(s, json, strlen(json));
    dw_scan_record rec = {.fields = fields, .cap = cap};
    assert_int_equal(dw_scan_next(s, &rec), 1);
    return rec;
}

/* The statistics of sink i of n (which must have it). */
static inline dw_sink_stats dwt_stats(dw_notifier *n, size_t i)
{
    dw_sink_stats st;
    assert_int_equal(dw_notifier_stats(n, i, &st), 0);
    return st;
}

/* The captured lines are exactly n JSON documents whose "id"s are want[],
 * in that order, each with a string "sent_at" when sent_at is set. Closes
 * and removes the file. */
static inline void dwt_capture_expect_ids(dwt_capture *c, const char *const *want, size_t n,
                                          bool sent_at)
{
    FILE *f = fdopen(c->fd, "r");
    assert_non_null(f);
    rewind(f);
    char line[4096];
    size_t k = 0;
    while (fgets(line, sizeof line, f)) {
        json_t *d = json_loads(line, 0, NULL);
        assert_non_null(d);
        assert_true(k < n);
        assert_string_equal(json_string_value(json_object_get(d, "id")), want[k]);
        if (sent_at)
            assert_non_null(json_string_value(json_object_get(d, "sent_at")));
        json_decref(d);
        k++;
    }
    assert_int_equal(k, n);
    fclose(f);
    unlink(c->path);
}

/* A text of len bytes and whether a missing-value predicate must take it
 * for missing. */
typedef struct {
    const char *text;
    size_t len;
    bool missing;
} dwt_text_case;

/* Checks fn (a predicate taking (const char *, size_t)) on every case of
 * the array cases. */
#define DWT_EXPECT_MISSING(fn, cases)                                                              \
    do {                                                                                           \
        for (size_t i_ = 0; i_ < sizeof(cases) / sizeof((cases)[0]); i_++)                         \
            if ((fn((cases)[i_].text, (cases)[i_].len) != 0) != (cases)[i_].missing)               \
                fail_msg("%s(\"%.*s\", %zu) is not %s", #fn, (int)(cases)[i_].len,                 \
                         (cases)[i_].text, (cases)[i_].len,                                        \
                         (cases)[i_].missing ? "true" : "false");                                  \
    } while (0)

#endif

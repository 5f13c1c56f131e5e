/* check: the one-shot comparison of a file with a reference (`driftwatch
 * check`): counting per column (missing, absent, type errors, unseen
 * categories, overflow), overrides, errors, the JSON report and the table.
 * The reference is built from a generated CSV with dw_reference_build(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "driftwatch/check.h"
#include "driftwatch/error.h"
#include "driftwatch/reference_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NREF 3000

static char dir[64];
static dw_reference *ref;
static dw_check_options opts;

/* x: 1..1000 three times over; c: a 50 %, b 30 %, c 20 %. */
static const char *cat_of(int i)
{
    int k = i % 10;
    return k < 5 ? "a" : k < 8 ? "b" : "c";
}

static char *path(const char *name)
{
    static char buf[4][128];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

static const char *write_file(const char *name, const char *text)
{
    const char *p = path(name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static int group_setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/dw-test-check-XXXXXX");
    assert_non_null(mkdtemp(dir));
    FILE *f = fopen(path("train.csv"), "w");
    fputs("x,c\n", f);
    for (int i = 0; i < NREF; i++)
        fprintf(f, "%d,%s\n", i % 1000 + 1, cat_of(i));
    fclose(f);
    dw_build_options o;
    dw_build_options_init(&o);
    o.model = "m";
    o.created_at = "2026-01-01T00:00:00Z";
    char err[256];
    assert_int_equal(dw_reference_build(path("train.csv"), &o, &ref, err, sizeof err), 0);
    assert_int_equal(ref->ncols, 2);
    assert_string_equal(ref->cols[0].name, "x");
    assert_int_equal(ref->cols[1].type, DW_COL_CATEGORICAL);
    /* dw_reference_build leaves the checksum to saving; give it one. */
    char *text = NULL;
    assert_int_equal(dw_reference_to_string(ref, &text, ref->checksum, err, sizeof err), 0);
    free(text);
    memset(&opts, 0, sizeof opts);
    dw_thresholds_default(&opts.thresholds);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    dw_reference_free(ref);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A CSV of n rows like the training data, x shifted by `shift`, with an
 * extra unmonitored column. */
static const char *current(const char *name, int n, int shift, int phase)
{
    const char *p = path(name);
    FILE *f = fopen(p, "w");
    fputs("x,c,extra\n", f);
    for (int i = 0; i < n; i++)
        fprintf(f, "%d,%s,%d\n", (i * 7 + phase) % 1000 + 1 + shift, cat_of(i), i);
    fclose(f);
    return p;
}

static dw_check_report *run_ok(const char *input, const dw_check_options *o)
{
    dw_check_report *r = NULL;
    char err[256] = "";
    int rc = dw_check_run(ref, input, o, &r, err, sizeof err);
    if (rc)
        fprintf(stderr, "dw_check_run: %s\n", err);
    assert_int_equal(rc, 0);
    assert_non_null(r);
    return r;
}

static json_t *column(json_t *doc, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach (json_object_get(doc, "columns"), i, c)
        if (!strcmp(json_string_value(json_object_get(c, "name")), name))
            return c;
    fail_msg("no column %s in the report", name);
    return NULL;
}

static char *printed(const dw_check_report *r)
{
    /* static: the stream keeps the addresses until fclose(), which gcc's
     * dangling-pointer analysis cannot see. */
    static char *buf;
    static size_t len;
    buf = NULL;
    len = 0;
    FILE *f = open_memstream(&buf, &len);
    dw_check_report_print(r, f);
    fclose(f);
    return buf;
}

static void test_same_distribution_no_drift(void **state)
{
    (void)state;
    dw_check_report *r = run_ok(current("same.csv", 2000, 0, 0), &opts);
    assert_int_equal(dw_check_drifted(r), 0);
    assert_int_equal(dw_check_quality_issues(r), 0);
    size_t n = 0;
    const dw_column_result *res = dw_check_results(r, &n);
    assert_int_equal(n, 2);
    assert_int_equal(res[0].count, 2000);
    assert_int_equal(res[0].missing, 0);
    assert_true(res[0].has_ks && !res[0].has_chi2);
    assert_true(res[0].ks.statistic < 0.05);
    assert_true(res[1].has_chi2 && !res[1].has_ks);
    assert_false(res[0].drift || res[1].drift);

    json_t *doc = dw_check_report_json(r);
    assert_string_equal(json_string_value(json_object_get(doc, "version")), "1");
    assert_string_equal(json_string_value(json_object_get(doc, "input")), path("same.csv"));
    assert_string_equal(json_string_value(json_object_get(doc, "reference_model")), "m");
    assert_string_equal(json_string_value(json_object_get(doc, "reference_checksum")),
                        ref->checksum);
    assert_int_equal(json_integer_value(json_object_get(doc, "rows")), 2000);
    assert_true(json_is_false(json_object_get(doc, "drift")));
    assert_int_equal(json_integer_value(json_object_get(doc, "drifted_columns")), 0);
    json_t *unmon = json_object_get(doc, "unmonitored_columns");
    assert_int_equal(json_array_size(unmon), 1);
    assert_string_equal(json_string_value(json_array_get(unmon, 0)), "extra");
    json_t *x = column(doc, "x");
    assert_string_equal(json_string_value(json_object_get(x, "type")), "numeric");
    assert_non_null(json_object_get(json_object_get(x, "ks"), "p_value"));
    assert_non_null(json_object_get(x, "out_of_range_rate"));
    assert_null(json_object_get(x, "new_categories"));
    json_t *th = json_object_get(x, "thresholds");
    assert_true(json_real_value(json_object_get(th, "alpha")) == opts.thresholds.alpha);
    assert_int_equal(json_integer_value(json_object_get(th, "min_samples")),
                     opts.thresholds.min_samples);
    json_t *c = column(doc, "c");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(c, "chi2"), "df")), 2);
    assert_int_equal(json_array_size(json_object_get(c, "new_categories")), 0);
    assert_int_equal(json_integer_value(json_object_get(c, "new_category_overflow")), 0);
    json_decref(doc);

    char *text = printed(r);
    assert_non_null(strstr(text, "2000 rows; 0 of 2 columns drifted, 0 with data-quality issues"));
    assert_non_null(strstr(text, "1 input column(s) not in the reference were ignored"));
    assert_null(strstr(text, "DRIFT"));
    free(text);
    dw_check_report_free(r);
}

static void test_shifted_column_drifts_alone(void **state)
{
    (void)state;
    dw_check_report *r = run_ok(current("shift.csv", 2000, 300, 0), &opts);
    size_t n;
    const dw_column_result *res = dw_check_results(r, &n);
    assert_int_equal(dw_check_drifted(r), 1);
    assert_true(res[0].drift);
    assert_false(res[1].drift);
    /* 30 % of the values moved above the training maximum. */
    assert_true(res[0].quality.out_of_range_rate > 0.25 && res[0].quality.out_of_range_rate < 0.35);
    json_t *doc = dw_check_report_json(r);
    assert_true(json_is_true(json_object_get(doc, "drift")));
    assert_true(json_is_true(json_object_get(column(doc, "x"), "drift")));
    json_decref(doc);
    char *text = printed(r);
    assert_non_null(strstr(text, "1 of 2 columns drifted"));
    const char *row = strstr(text, "\n* x ");
    assert_non_null(row);
    assert_non_null(strstr(row, "DRIFT"));
    free(text);
    dw_check_report_free(r);
}

static void test_overrides_apply_to_their_column_only(void **state)
{
    (void)state;
    dw_check_override ov = {.column = "x", .th = opts.thresholds};
    ov.th.psi_threshold = 1e9;
    ov.th.ks_threshold = 1.0;
    dw_check_options o = opts;
    o.overrides = &ov;
    o.noverrides = 1;
    dw_check_report *r = run_ok(current("shift2.csv", 2000, 300, 0), &o);
    assert_int_equal(dw_check_drifted(r), 0);
    json_t *doc = dw_check_report_json(r);
    json_t *thx = json_object_get(column(doc, "x"), "thresholds");
    json_t *thc = json_object_get(column(doc, "c"), "thresholds");
    assert_true(json_real_value(json_object_get(thx, "ks")) == 1.0);
    assert_true(json_real_value(json_object_get(thc, "ks")) == opts.thresholds.ks_threshold);
    json_decref(doc);
    dw_check_report_free(r);

    /* An override naming no reference column is an error naming it. */
    ov.column = "features.nope";
    dw_check_report *bad = (dw_check_report *)&ov; /* must be reset to NULL */
    char err[256] = "";
    assert_int_equal(dw_check_run(ref, path("shift2.csv"), &o, &bad, err, sizeof err),
                     DW_ERR_NOT_FOUND);
    assert_null(bad);
    assert_non_null(strstr(err, "\"features.nope\""));
}

static void test_missing_absent_and_type_errors(void **state)
{
    (void)state;
    /* JSONL: a column absent from a row is missing in that row; text in a
     * numeric column is a type error, not missing. */
    const char *p = write_file("mixed.jsonl", "{\"x\": 5, \"c\": \"a\"}\n"
                                              "{\"c\": \"b\"}\n"
                                              "{\"x\": null, \"c\": null}\n"
                                              "{\"x\": \"NA\", \"c\": \"\"}\n"
                                              "{\"x\": \"oops\", \"c\": \"a\"}\n"
                                              "{\"x\": \"7.5\", \"c\": true}\n");
    dw_check_report *r = run_ok(p, &opts);
    size_t n;
    const dw_column_result *res = dw_check_results(r, &n);
    assert_int_equal(res[0].missing, 3); /* absent, null, "NA" */
    assert_int_equal(res[0].quality.type_errors, 1);
    assert_int_equal(res[0].count, 2);   /* 5 and "7.5" */
    assert_int_equal(res[1].missing, 2); /* null, "" */
    /* 6 rows: too few for any test, but a type-error rate of 1/3 is a
     * quality issue regardless. */
    assert_false(res[0].enough_samples);
    assert_false(res[0].drift);
    json_t *doc = dw_check_report_json(r);
    json_t *c = column(doc, "c");
    /* true is not a listed category of c: an unseen value named "true". */
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(c, "new_category_counts"), "true")), 1);
    assert_int_equal(json_integer_value(json_object_get(column(doc, "x"), "type_errors")), 1);
    json_decref(doc);
    dw_check_report_free(r);
}

static void test_new_categories_sorted_by_count_then_name(void **state)
{
    (void)state;
    const char *p = path("newcat.csv");
    FILE *f = fopen(p, "w");
    fputs("x,c\n", f);
    for (int i = 0; i < 2000; i++) {
        const char *c = cat_of(i);
        if (i % 10 == 9)
            c = "zz"; /* 200 */
        else if (i % 50 == 1)
            c = "yy"; /* 40 */
        else if (i % 50 == 3)
            c = "ww"; /* 40, ties with yy: by name */
        fprintf(f, "%d,%s\n", i % 1000 + 1, c);
    }
    fclose(f);
    dw_check_report *r = run_ok(p, &opts);
    size_t n;
    const dw_column_result *res = dw_check_results(r, &n);
    assert_true(res[1].drift);
    json_t *doc = dw_check_report_json(r);
    json_t *c = column(doc, "c");
    json_t *names = json_object_get(c, "new_categories");
    assert_int_equal(json_array_size(names), 3);
    assert_string_equal(json_string_value(json_array_get(names, 0)), "zz");
    assert_string_equal(json_string_value(json_array_get(names, 1)), "ww");
    assert_string_equal(json_string_value(json_array_get(names, 2)), "yy");
    json_t *counts = json_object_get(c, "new_category_counts");
    assert_int_equal(json_integer_value(json_object_get(counts, "zz")), 200);
    assert_int_equal(json_integer_value(json_object_get(counts, "ww")), 40);
    assert_true(json_real_value(json_object_get(c, "unseen_rate")) == 280.0 / 2000.0);
    json_decref(doc);
    char *text = printed(r);
    assert_non_null(strstr(text, "new: zz (10.0%) ww (2.0%) yy (2.0%)"));
    free(text);
    dw_check_report_free(r);
}

static void test_unseen_names_beyond_the_bound_are_pooled(void **state)
{
    (void)state;
    const char *p = path("many.csv");
    FILE *f = fopen(p, "w");
    fputs("c\n", f);
    int extra = 7;
    for (int i = 0; i < DW_CHECK_MAX_NEW_CATEGORIES + extra; i++)
        fprintf(f, "n%d\n", i);
    /* A name longer than DW_MAX_NAME is pooled too, even with room left. */
    for (int i = 0; i < DW_MAX_NAME + 1; i++)
        fputc('L', f);
    fputs("\n", f);
    fclose(f);
    dw_check_report *r = run_ok(p, &opts);
    json_t *doc = dw_check_report_json(r);
    json_t *c = column(doc, "c");
    assert_int_equal(json_array_size(json_object_get(c, "new_categories")),
                     DW_CHECK_MAX_NEW_CATEGORIES);
    assert_int_equal(json_integer_value(json_object_get(c, "new_category_overflow")), extra + 1);
    /* x is absent from the file: missing in every row. */
    json_t *x = column(doc, "x");
    assert_int_equal(json_integer_value(json_object_get(x, "missing")),
                     DW_CHECK_MAX_NEW_CATEGORIES + extra + 1);
    assert_int_equal(json_integer_value(json_object_get(x, "count")), 0);
    json_decref(doc);
    char *text = printed(r);
    assert_non_null(strstr(text, "+995 more +8 values of further categories"));
    free(text);
    dw_check_report_free(r);
}

static void test_errors_name_the_file(void **state)
{
    (void)state;
    dw_check_report *r = (dw_check_report *)&opts;
    char err[256] = "";
    /* Header only: no data rows. */
    const char *empty = write_file("empty.csv", "x,c\n");
    assert_int_equal(dw_check_run(ref, empty, &opts, &r, err, sizeof err), DW_ERR_EMPTY);
    assert_null(r);
    assert_non_null(strstr(err, empty));
    assert_non_null(strstr(err, "no data rows"));
    /* A file that is not there. */
    err[0] = '\0';
    assert_true(dw_check_run(ref, path("absent.csv"), &opts, &r, err, sizeof err) < 0);
    assert_null(r);
    assert_non_null(strstr(err, "absent.csv"));
    /* A malformed JSONL line: the error names the line. */
    const char *broken = write_file("broken.jsonl", "{\"x\": 1}\n{\"x\": \n");
    err[0] = '\0';
    assert_true(dw_check_run(ref, broken, &opts, &r, err, sizeof err) < 0);
    assert_null(r);
    assert_non_null(strstr(err, "broken.jsonl"));
    assert_non_null(strstr(err, "2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_distribution_no_drift),
        cmocka_unit_test(test_shifted_column_drifts_alone),
        cmocka_unit_test(test_overrides_apply_to_their_column_only),
        cmocka_unit_test(test_missing_absent_and_type_errors),
        cmocka_unit_test(test_new_categories_sorted_by_count_then_name),
        cmocka_unit_test(test_unseen_names_beyond_the_bound_are_pooled),
        cmocka_unit_test(test_errors_name_the_file),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "driftwatch/error.h"
#include "driftwatch/histogram.h"
#include "driftwatch/reference.h"
#include "driftwatch/reference_build.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes text to a fresh temporary file whose name ends in suffix; the
 * caller unlinks and frees the returned path. */
static char *write_tmp(const char *text, const char *suffix)
{
    char *path = malloc(64);
    snprintf(path, 64, "/tmp/dw_test_rb_XXXXXX%s", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

static void free_col(dw_ref_column *c)
{
    free(c->edges);
    free(c->bin_counts);
    for (size_t i = 0; i < c->ncat; i++)
        free(c->categories[i]);
    free(c->categories);
    free(c->cat_counts);
    dw_cat_index_free(c->cat_index);
}

/* Independent check of the bin rule: the cumulative count up to bin i must
 * equal #(values <= edges[i+1]) by brute force. */
static void check_bins_brute_force(const dw_ref_column *c, const double *v, size_t n)
{
    uint64_t cum = 0;
    for (size_t i = 0; i < c->nbins; i++) {
        cum += c->bin_counts[i];
        uint64_t le = 0;
        for (size_t j = 0; j < n; j++)
            le += v[j] <= c->edges[i + 1];
        assert_int_equal(cum, le);
        if (i >= 1)
            assert_true(c->edges[i + 1] > c->edges[i]);
    }
    assert_true(c->edges[0] <= c->edges[1]);
    assert_int_equal(cum, n);
}

static void test_continuous_edges_at_quantiles(void **state)
{
    (void)state;
    size_t n = 10000;
    double *v = malloc(n * sizeof *v), *copy = malloc(n * sizeof *v);
    srand(7);
    for (size_t i = 0; i < n; i++)
        v[i] = copy[i] = (double)rand() / RAND_MAX * 100.0 - 50.0;
    dw_ref_column c = {0};
    assert_int_equal(dw_build_numeric(&c, v, n, 100), 0);
    assert_int_equal(c.nbins, 100); /* rand() values are (almost surely) distinct */
    /* Every bin holds exactly n / bins values: upper edges are the values at
     * ranks i*n/bins and there are no ties. */
    for (size_t i = 0; i < c.nbins; i++)
        assert_int_equal(c.bin_counts[i], 100);
    check_bins_brute_force(&c, copy, n);
    /* min/max exact; mean/std against a direct computation (tolerance:
     * different summation order, 1e-9 relative is far above the rounding
     * error of 1e4 terms). */
    double mn = copy[0], mx = copy[0], s = 0;
    for (size_t i = 0; i < n; i++) {
        mn = fmin(mn, copy[i]);
        mx = fmax(mx, copy[i]);
        s += copy[i];
    }
    double mean = s / (double)n, ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (copy[i] - mean) * (copy[i] - mean);
    assert_true(c.min == mn && c.max == mx);
    assert_true(c.edges[0] == mn && c.edges[c.nbins] == mx);
    assert_float_equal(c.mean, mean, 1e-9 * 50);
    assert_float_equal(c.std, sqrt(ss / (double)(n - 1)), 1e-9 * 50);
    free_col(&c);
    free(v);
    free(copy);
}

static void test_discrete_one_bin_per_value(void **state)
{
    (void)state;
    double v[] = {3, 1, 2, 1, 1, 2};
    double copy[6];
    memcpy(copy, v, sizeof v);
    dw_ref_column c = {0};
    assert_int_equal(dw_build_numeric(&c, v, 6, 1000), 0);
    /* Point bins for 1, 2, 3 and gap bins (1, 2) and (2, 3) between. */
    assert_int_equal(c.nbins, 5);
    double want[] = {1, 1, nextafter(2, 0), 2, nextafter(3, 0), 3};
    for (size_t i = 0; i < 6; i++)
        assert_true(c.edges[i] == want[i]);
    uint64_t counts[] = {3, 0, 2, 0, 1};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(c.bin_counts[i], counts[i]);
    check_bins_brute_force(&c, copy, 6);
    /* A serving value between two reference values lands in the gap, not
     * in the next value's bin (that hid downward moves from KS). */
    assert_int_equal(dw_ref_bin(&c, 1.5), 1);
    assert_int_equal(dw_ref_bin(&c, 2.0), 2);
    assert_int_equal(dw_ref_bin(&c, 2.999), 3);
    free_col(&c);
}

static void test_discrete_adjacent_doubles_need_no_gap(void **state)
{
    (void)state;
    double a = 1.0, b = nextafter(1.0, 2.0);
    double v[] = {b, a, b};
    dw_ref_column c = {0};
    assert_int_equal(dw_build_numeric(&c, v, 3, 1000), 0);
    assert_int_equal(c.nbins, 2);
    assert_true(c.edges[0] == a && c.edges[1] == a && c.edges[2] == b);
    free_col(&c);
}

static void test_constant_and_single_value(void **state)
{
    (void)state;
    double v[] = {5, 5, 5, 5};
    dw_ref_column c = {0};
    assert_int_equal(dw_build_numeric(&c, v, 4, 1000), 0);
    assert_int_equal(c.nbins, 1);
    assert_true(c.edges[0] == 5 && c.edges[1] == 5);
    assert_int_equal(c.bin_counts[0], 4);
    assert_true(c.std == 0.0 && c.mean == 5.0);
    free_col(&c);

    double one[] = {-2.5};
    dw_ref_column d = {0};
    assert_int_equal(dw_build_numeric(&d, one, 1, 10), 0);
    assert_int_equal(d.nbins, 1);
    assert_true(d.std == 0.0); /* n - 1 = 0: defined as 0 */
    free_col(&d);

    dw_ref_column e = {0};
    assert_int_equal(dw_build_numeric(&e, one, 0, 10), DW_ERR_INVALID);
    assert_int_equal(dw_build_numeric(&e, one, 1, 0), DW_ERR_INVALID);
}

static void test_heavy_ties_more_values_than_bins(void **state)
{
    (void)state;
    /* 60 % zeros, then 400 distinct values: quantile edges repeat at 0 and
     * must be deduplicated, leaving a bin of the minimum alone. */
    size_t n = 1000;
    double *v = malloc(n * sizeof *v), *copy = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = copy[i] = i < 600 ? 0.0 : (double)(i - 599);
    dw_ref_column c = {0};
    assert_int_equal(dw_build_numeric(&c, v, n, 10), 0);
    assert_true(c.nbins < 10);
    assert_true(c.edges[0] == 0.0 && c.edges[1] == 0.0);
    assert_int_equal(c.bin_counts[0], 600);
    check_bins_brute_force(&c, copy, n);
    free_col(&c);
    free(v);
    free(copy);
}

static void test_categorical_sort_and_cap(void **state)
{
    (void)state;
    const char *vals[] = {"b", "a", "c", "d"};
    uint64_t counts[] = {5, 5, 9, 1};
    dw_ref_column c = {0};
    assert_int_equal(dw_build_categorical(&c, vals, counts, 4, 2, 3), 0);
    assert_int_equal(c.ncat, 3);
    assert_string_equal(c.categories[0], "c");
    assert_string_equal(c.categories[1], "a"); /* tie with "b": by value */
    assert_string_equal(c.categories[2], "b");
    assert_int_equal(c.other_count, 1 + 2);
    assert_int_equal(c.count, 5 + 5 + 9 + 1 + 2);
    assert_int_equal(dw_ref_category(&c, "b", 1), 2);
    assert_int_equal(dw_ref_category(&c, "d", 1), -1);
    free_col(&c);
}

static dw_reference *build(const char *text, const char *suffix, dw_build_options *o, int expect_rc,
                           char *err, size_t errlen)
{
    char *path = write_tmp(text, suffix);
    dw_reference *ref = NULL;
    int rc = dw_reference_build(path, o, &ref, err, errlen);
    if (rc != expect_rc)
        fail_msg("build returned %d (%s), expected %d", rc, err, expect_rc);
    unlink(path);
    free(path);
    return ref;
}

static void test_type_inference_csv(void **state)
{
    (void)state;
    dw_build_options o;
    dw_build_options_init(&o);
    char err[512];
    dw_reference *r = build("num,mixed,flag,empty,code\n"
                            "1,1,true,,007\n"
                            "2.5,x,false,NA,12\n"
                            "NaN,2,true,,abc\n",
                            ".csv", &o, 0, err, sizeof err);
    assert_int_equal(r->rows, 3);
    assert_int_equal(r->ncols, 5);
    const dw_ref_column *c = &r->cols[dw_reference_find(r, "num")];
    assert_int_equal(c->type, DW_COL_NUMERIC);
    assert_int_equal(c->count, 2);
    assert_int_equal(c->missing, 1);
    c = &r->cols[dw_reference_find(r, "mixed")];
    assert_int_equal(c->type, DW_COL_CATEGORICAL);
    assert_int_equal(c->ncat, 3);
    c = &r->cols[dw_reference_find(r, "flag")];
    assert_int_equal(c->type, DW_COL_CATEGORICAL);
    assert_string_equal(c->categories[0], "true");
    assert_int_equal(c->cat_counts[0], 2);
    c = &r->cols[dw_reference_find(r, "empty")];
    assert_int_equal(c->type, DW_COL_CATEGORICAL); /* all missing */
    assert_int_equal(c->ncat, 0);
    assert_int_equal(c->missing, 3);
    /* Numbers seen before the column turned categorical keep their text
     * (the CSV is read a second time). */
    c = &r->cols[dw_reference_find(r, "code")];
    assert_int_equal(c->type, DW_COL_CATEGORICAL);
    assert_true(dw_ref_category(c, "007", 3) >= 0);
    assert_true(dw_ref_category(c, "7", 1) < 0);
    assert_non_null(r->created_at);
    assert_non_null(strstr(r->source, "dw_test_rb_"));
    dw_reference_free(r);
}

static void test_forced_types_and_columns(void **state)
{
    (void)state;
    const char *num[] = {"a"}, *cat[] = {"b"}, *cols[] = {"b", "a"};
    dw_build_options o;
    dw_build_options_init(&o);
    o.numeric = num;
    o.nnumeric = 1;
    o.categorical = cat;
    o.ncategorical = 1;
    o.columns = cols;
    o.ncolumns = 2;
    o.model = "m";
    o.model_version = "v1";
    o.created_at = "2026-01-01T00:00:00Z";
    char err[512];
    dw_reference *r = build("a,b,c\n1,01,x\n2,2,y\n", ".csv", &o, 0, err, sizeof err);
    assert_int_equal(r->ncols, 2);
    assert_string_equal(r->cols[0].name, "b"); /* --columns order */
    assert_int_equal(r->cols[0].type, DW_COL_CATEGORICAL);
    assert_true(dw_ref_category(&r->cols[0], "01", 2) >= 0);
    assert_int_equal(r->cols[1].type, DW_COL_NUMERIC);
    assert_string_equal(r->model, "m");
    assert_string_equal(r->created_at, "2026-01-01T00:00:00Z");
    assert_int_equal(dw_reference_find(r, "c"), -1);
    dw_reference_free(r);

    /* Text in a forced numeric column names file, line and column. */
    dw_build_options_init(&o);
    o.numeric = num;
    o.nnumeric = 1;
    build("a,b\n1,x\n\"oops\",y\n", ".csv", &o, DW_ERR_PARSE, err, sizeof err);
    assert_non_null(strstr(err, ".csv:3: column \"a\": \"oops\" is not a number"));

    /* Unknown names and contradictions. */
    dw_build_options_init(&o);
    const char *bad[] = {"zz"};
    o.columns = bad;
    o.ncolumns = 1;
    build("a\n1\n", ".csv", &o, DW_ERR_NOT_FOUND, err, sizeof err);
    assert_non_null(strstr(err, "column \"zz\" (from --columns) is not in the input"));
    dw_build_options_init(&o);
    o.numeric = num;
    o.nnumeric = 1;
    o.categorical = num;
    o.ncategorical = 1;
    build("a\n1\n", ".csv", &o, DW_ERR_INVALID, err, sizeof err);
    assert_non_null(strstr(err, "forced both"));
    /* A forced numeric column without values. */
    dw_build_options_init(&o);
    o.numeric = num;
    o.nnumeric = 1;
    build("a,b\nNA,1\n", ".csv", &o, DW_ERR_EMPTY, err, sizeof err);
    assert_non_null(strstr(err, "column \"a\": no non-missing values"));
}

static void test_empty_inputs(void **state)
{
    (void)state;
    dw_build_options o;
    dw_build_options_init(&o);
    char err[512];
    build("", ".csv", &o, DW_ERR_EMPTY, err, sizeof err);
    assert_non_null(strstr(err, "empty input"));
    build("a,b\n", ".csv", &o, DW_ERR_EMPTY, err, sizeof err);
    assert_non_null(strstr(err, "no data rows"));
    build("\n\n", ".jsonl", &o, DW_ERR_EMPTY, err, sizeof err);
    assert_non_null(strstr(err, "no data rows"));
    build("a\n1\n", ".txt", &o, DW_ERR_INVALID, err, sizeof err);
    assert_non_null(strstr(err, "cannot tell the format"));
}

static void test_jsonl_build(void **state)
{
    (void)state;
    dw_build_options o;
    dw_build_options_init(&o);
    o.bins = 2;
    o.max_categories = 1;
    char err[512];
    dw_reference *r = build(
        "{\"model\":\"fraud\",\"features\":{\"x\":1,\"c\":\"DE\"},\"prediction\":{\"s\":0.5}}\n"
        "{\"features\":{\"x\":2,\"c\":\"DE\"}}\n"
        "{\"features\":{\"x\":3,\"c\":\"FR\",\"late\":1}}\n"
        "{\"features\":{\"x\":4,\"c\":null}}\n",
        ".jsonl", &o, 0, err, sizeof err);
    assert_int_equal(r->rows, 4);
    const dw_ref_column *x = &r->cols[dw_reference_find(r, "features.x")];
    assert_int_equal(x->nbins, 2);
    assert_true(x->edges[0] == 1 && x->edges[1] == 2 && x->edges[2] == 4);
    assert_int_equal(x->bin_counts[0], 2);
    assert_int_equal(x->bin_counts[1], 2);
    const dw_ref_column *c = &r->cols[dw_reference_find(r, "features.c")];
    assert_int_equal(c->ncat, 1);
    assert_string_equal(c->categories[0], "DE");
    assert_int_equal(c->other_count, 1);
    assert_int_equal(c->missing, 1);
    /* Columns that only some rows have count the others as missing. */
    const dw_ref_column *s = &r->cols[dw_reference_find(r, "prediction.s")];
    assert_int_equal(s->count, 1);
    assert_int_equal(s->missing, 3);
    assert_int_equal(r->cols[dw_reference_find(r, "features.late")].missing, 3);
    dw_reference_free(r);

    /* Malformed JSON names file and line. */
    build("{\"a\":1}\n{\"a\":\n", ".jsonl", &o, DW_ERR_PARSE, err, sizeof err);
    assert_non_null(strstr(err, ".jsonl:2: malformed JSON"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_continuous_edges_at_quantiles),
        cmocka_unit_test(test_discrete_adjacent_doubles_need_no_gap),
        cmocka_unit_test(test_discrete_one_bin_per_value),
        cmocka_unit_test(test_constant_and_single_value),
        cmocka_unit_test(test_heavy_ties_more_values_than_bins),
        cmocka_unit_test(test_categorical_sort_and_cap),
        cmocka_unit_test(test_type_inference_csv),
        cmocka_unit_test(test_forced_types_and_columns),
        cmocka_unit_test(test_empty_inputs),
        cmocka_unit_test(test_jsonl_build),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

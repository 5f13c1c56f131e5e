#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_util.h"

#include "driftwatch/error.h"
#include "driftwatch/table.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static dw_table *open_text(const char *text, const char *name, dw_table_format fmt)
{
    FILE *f = fmemopen((void *)text, strlen(text), "rb");
    assert_non_null(f);
    dw_table *t;
    char err[256] = "";
    int rc = dw_table_open_stream(f, name, fmt, 1, &t, err, sizeof err);
    if (rc != 0)
        fail_msg("open failed: %s", err);
    return t;
}

/* The cell of column `name` in the row, or NULL if the row lacks it. */
static const dw_cell *cell_of(const dw_table *t, const dw_cell *cells, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(dw_table_column(t, cells[i].col), name))
            return &cells[i];
    return NULL;
}

static void test_csv_cell_kinds_and_missing_list(void **state)
{
    (void)state;
    dw_table *t = open_text("n,s\n1.5,x\n-2e3,inf\n,NA\nNaN,nan\nnull, 1\n0x10,007\n", "d.csv",
                            DW_TABLE_AUTO);
    const dw_cell *c;
    size_t n;
    char err[256];
    assert_int_equal(dw_table_get_format(t), DW_TABLE_CSV);
    assert_int_equal(dw_table_next(t, &c, &n, err, sizeof err), 1);
    assert_int_equal(n, 2);
    assert_int_equal(c[0].kind, DW_CELL_NUMBER);
    assert_true(c[0].num == 1.5); /* exactly representable */
    assert_int_equal(c[1].kind, DW_CELL_STRING);
    assert_int_equal(dw_table_next(t, &c, &n, err, sizeof err), 1);
    assert_true(c[0].num == -2000.0);
    assert_int_equal(c[1].kind, DW_CELL_STRING); /* inf is not a finite number */
    assert_int_equal(dw_table_next(t, &c, &n, err, sizeof err), 1);
    assert_int_equal(c[0].kind, DW_CELL_MISSING);
    assert_int_equal(c[1].kind, DW_CELL_MISSING);
    assert_int_equal(dw_table_next(t, &c, &n, err, sizeof err), 1);
    assert_int_equal(c[0].kind, DW_CELL_MISSING);
    assert_int_equal(c[1].kind, DW_CELL_MISSING);
    assert_int_equal(dw_table_next(t, &c, &n, err, sizeof err), 1);
    assert_int_equal(c[0].kind, DW_CELL_MISSING);
    assert_int_equal(c[1].kind, DW_CELL_STRING); /* leading space: text */
    assert_int_equal(dw_table_next(t, &c, &n, err, sizeof err), 1);
    assert_int_equal(c[0].kind, DW_CELL_STRING); /* no hex */
    assert_int_equal(c[1].kind, DW_CELL_NUMBER);
    char buf[DW_NUM_TEXT_MAX];
    size_t len;
    /* CSV cells keep their text as written. */
    assert_string_equal(dw_cell_text(&c[1], buf, &len), "007");
    assert_int_equal(dw_table_line(t), 7);
    assert_int_equal(dw_table_next(t, &c, &n, err, sizeof err), 0);
    assert_null(dw_table_meta(t, "model"));
    dw_table_free(t);
}

static void test_jsonl_flattening(void **state)
{
    (void)state;
    dw_table *t = open_text(
        "{\"ts\": 1795500000123, \"model\": \"fraud\", \"model_version\": \"v3\", "
        "\"request_id\": \"r-81\", \"features\": {\"amount\": 12.5, \"country\": \"DE\", "
        "\"age\": null, \"emb\": [1, 2], \"vip\": true}, \"prediction\": {\"score\": 0.83, "
        "\"label\": \"fraud\"}, \"latency_ms\": 12, \"extra\": {\"x\": 1}}\n"
        "\n"
        "{\"features\": {\"amount\": \"12\", \"country\": \"NA\"}, \"new\": false}\n",
        "r.jsonl", DW_TABLE_AUTO);
    const dw_cell *c, *x;
    size_t n;
    char err[256];
    assert_int_equal(dw_table_next(t, &c, &n, err, sizeof err), 1);
    /* amount, country, age, vip, score, label, latency_ms: metadata, the
     * array and the nested object are not columns. */
    assert_int_equal(n, 7);
    assert_int_equal(dw_table_ncolumns(t), 7);
    x = cell_of(t, c, n, "features.amount");
    assert_non_null(x);
    assert_int_equal(x->kind, DW_CELL_NUMBER);
    assert_true(x->num == 12.5);
    x = cell_of(t, c, n, "features.country");
    assert_int_equal(x->kind, DW_CELL_STRING);
    assert_string_equal(x->str, "DE");
    assert_int_equal(cell_of(t, c, n, "features.age")->kind, DW_CELL_MISSING);
    x = cell_of(t, c, n, "features.vip");
    assert_int_equal(x->kind, DW_CELL_BOOL);
    assert_string_equal(x->str, "true");
    assert_non_null(cell_of(t, c, n, "prediction.score"));
    assert_non_null(cell_of(t, c, n, "prediction.label"));
    x = cell_of(t, c, n, "latency_ms");
    char buf[DW_NUM_TEXT_MAX];
    size_t len;
    assert_string_equal(dw_cell_text(x, buf, &len), "12");
    assert_null(cell_of(t, c, n, "ts"));
    assert_null(cell_of(t, c, n, "model"));
    assert_null(cell_of(t, c, n, "features.emb"));
    assert_null(cell_of(t, c, n, "extra"));
    assert_string_equal(dw_table_meta(t, "model"), "fraud");
    assert_string_equal(dw_table_meta(t, "model_version"), "v3");
    assert_null(dw_table_meta(t, "ts"));         /* a number, not a string */
    assert_null(dw_table_meta(t, "latency_ms")); /* not metadata */
    assert_int_equal(dw_table_line(t), 1);

    assert_int_equal(dw_table_next(t, &c, &n, err, sizeof err), 1);
    assert_int_equal(dw_table_line(t), 3); /* blank line 2 skipped */
    assert_int_equal(n, 3);
    /* A JSON string is a string even when it looks like a number. */
    assert_int_equal(cell_of(t, c, n, "features.amount")->kind, DW_CELL_STRING);
    assert_int_equal(cell_of(t, c, n, "features.country")->kind, DW_CELL_MISSING);
    assert_int_equal(cell_of(t, c, n, "new")->kind, DW_CELL_BOOL);
    assert_null(cell_of(t, c, n, "prediction.score"));
    assert_int_equal(dw_table_ncolumns(t), 8);
    assert_int_equal(dw_table_find_column(t, "new"), 7);
    assert_int_equal(dw_table_find_column(t, "nope"), -1);
    assert_int_equal(dw_table_next(t, &c, &n, err, sizeof err), 0);
    dw_table_free(t);
}

static void test_jsonl_array_line_and_errors(void **state)
{
    (void)state;
    dw_table *t = open_text("[{\"a\": 1}, {\"a\": 2}]\r\n{\"a\": 3,}\n", "x.ndjson", DW_TABLE_AUTO);
    const dw_cell *c;
    size_t n;
    char err[256];
    assert_int_equal(dw_table_next(t, &c, &n, err, sizeof err), 1);
    assert_true(c[0].num == 1.0);
    assert_int_equal(dw_table_next(t, &c, &n, err, sizeof err), 1);
    assert_true(c[0].num == 2.0);
    assert_int_equal(dw_table_line(t), 1);
    assert_int_equal(dw_table_next(t, &c, &n, err, sizeof err), DW_ERR_PARSE);
    assert_non_null(strstr(err, "x.ndjson:2: malformed JSON"));
    dw_table_free(t);

    t = open_text("{\"a\": 1}\n42\n", "y.jsonl", DW_TABLE_JSONL);
    assert_int_equal(dw_table_next(t, &c, &n, err, sizeof err), 1);
    assert_int_equal(dw_table_next(t, &c, &n, err, sizeof err), DW_ERR_PARSE);
    assert_string_equal(err, "y.jsonl:2: expected a JSON object (or an array of objects)");
    dw_table_free(t);

    /* Truncated last line (no newline, cut mid-object). */
    t = open_text("{\"a\": 1}\n{\"a\": ", "z.jsonl", DW_TABLE_JSONL);
    assert_int_equal(dw_table_next(t, &c, &n, err, sizeof err), 1);
    assert_int_equal(dw_table_next(t, &c, &n, err, sizeof err), DW_ERR_PARSE);
    assert_non_null(strstr(err, "z.jsonl:2:"));
    dw_table_free(t);
}

static void test_format_selection(void **state)
{
    (void)state;
    dw_table_format f;
    assert_int_equal(dw_table_format_from_name("a/b.CSV"), DW_TABLE_CSV);
    assert_int_equal(dw_table_format_from_name("x.jsonl"), DW_TABLE_JSONL);
    assert_int_equal(dw_table_format_from_name("x.json"), DW_TABLE_JSONL);
    assert_int_equal(dw_table_format_from_name("x.ndjson"), DW_TABLE_JSONL);
    assert_int_equal(dw_table_format_from_name("x.txt"), DW_TABLE_AUTO);
    assert_int_equal(dw_table_format_from_name("dir.csv/file"), DW_TABLE_AUTO);
    assert_int_equal(dw_table_format_from_name("-"), DW_TABLE_AUTO);
    assert_int_equal(dw_table_format_parse("csv", &f), 0);
    assert_int_equal(f, DW_TABLE_CSV);
    assert_int_equal(dw_table_format_parse("jsonl", &f), 0);
    assert_int_equal(f, DW_TABLE_JSONL);
    assert_int_equal(dw_table_format_parse("xml", &f), DW_ERR_INVALID);

    dw_table *t;
    char err[256];
    assert_int_equal(dw_table_open("data.txt", DW_TABLE_AUTO, &t, err, sizeof err), DW_ERR_INVALID);
    assert_non_null(strstr(err, "data.txt: cannot tell the format"));
    assert_int_equal(dw_table_open("-", DW_TABLE_AUTO, &t, err, sizeof err), DW_ERR_INVALID);
    assert_non_null(strstr(err, "<stdin>"));
    assert_int_equal(dw_table_open("/nonexistent.csv", DW_TABLE_AUTO, &t, err, sizeof err),
                     DW_ERR_IO);
    assert_non_null(strstr(err, "/nonexistent.csv: cannot open"));
    /* --format overrides the extension. */
    t = open_text("a,b\n1,2\n", "data.txt", DW_TABLE_CSV);
    assert_int_equal(dw_table_ncolumns(t), 2);
    dw_table_free(t);
    dw_table_free(NULL);
}

static void test_number_text_and_parsing(void **state)
{
    (void)state;
    char buf[DW_NUM_TEXT_MAX];
    assert_int_equal(dw_format_number(3.0, buf), 1);
    assert_string_equal(buf, "3");
    dw_format_number(0.1, buf);
    assert_string_equal(buf, "0.1");
    dw_format_number(1.0 / 3.0, buf);
    assert_true(strtod(buf, NULL) == 1.0 / 3.0); /* round-trips exactly */
    dw_format_number(-1e300, buf);
    assert_string_equal(buf, "-1e+300");
    double v;
    assert_int_equal(dw_parse_number("1e5", 3, &v), 0);
    assert_true(v == 1e5);
    assert_int_equal(dw_parse_number("1e999", 5, &v), DW_ERR_PARSE);
    assert_int_equal(dw_parse_number("1.2.3", 5, &v), DW_ERR_PARSE);
    assert_int_equal(dw_parse_number("-", 1, &v), DW_ERR_PARSE);
    assert_int_equal(dw_parse_number("12abc", 2, &v), 0); /* only len bytes count */
    assert_true(v == 12.0);
    static const dwt_text_case missing[] = {
        {"", 0, true},     {"NA", 2, true},    {"NaN", 3, true}, {"nan", 3, true},
        {"null", 4, true}, {"NULL", 4, false}, {"na", 2, false},
    };
    DWT_EXPECT_MISSING(dw_text_is_missing, missing);
    dw_cell miss = {0};
    size_t len;
    assert_null(dw_cell_text(&miss, buf, &len));
}

/* dw_parse_number takes the scanner's fast reader first: it must give
 * exactly strtod's value on every plain decimal spelling, and still take
 * the spellings JSON does not allow ("+1", ".5", "1.", "007"). */
static void test_parse_number_equals_strtod(void **state)
{
    (void)state;
    srand(5);
    char buf[48];
    for (int i = 0; i < 200000; i++) {
        int kind = rand() % 4;
        double v = ((double)rand() / RAND_MAX - 0.5) * pow(10, rand() % 40 - 20);
        if (kind == 0)
            snprintf(buf, sizeof buf, "%.4f", v);
        else if (kind == 1)
            snprintf(buf, sizeof buf, "%.17g", v);
        else if (kind == 2)
            snprintf(buf, sizeof buf, "%d", rand() - RAND_MAX / 2);
        else
            snprintf(buf, sizeof buf, "%.3e", v);
        double got;
        assert_int_equal(dw_parse_number(buf, strlen(buf), &got), 0);
        double want = strtod(buf, NULL);
        assert_memory_equal(&got, &want, sizeof got); /* bit for bit, -0 included */
    }
    const char *other[] = {"+1", ".5", "1.", "007", "-0", "1e5", "1E-3"};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        double got;
        assert_int_equal(dw_parse_number(other[i], strlen(other[i]), &got), 0);
        double want = strtod(other[i], NULL);
        assert_memory_equal(&got, &want, sizeof got);
    }
    double x;
    assert_true(dw_parse_number("1e400", 5, &x) < 0);
    assert_true(dw_parse_number("nan", 3, &x) < 0);
    assert_true(dw_parse_number("0x10", 4, &x) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_number_equals_strtod),
        cmocka_unit_test(test_csv_cell_kinds_and_missing_list),
        cmocka_unit_test(test_jsonl_flattening),
        cmocka_unit_test(test_jsonl_array_line_and_errors),
        cmocka_unit_test(test_format_selection),
        cmocka_unit_test(test_number_text_and_parsing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

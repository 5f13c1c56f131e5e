#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "driftwatch/csv.h"
#include "driftwatch/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Opens a reader over an in-memory copy of text (the reader owns the stream). */
static int open_text(const char *text, size_t len, dw_csv **c, char *err, size_t errlen)
{
    FILE *f = fmemopen((void *)text, len, "rb");
    assert_non_null(f);
    return dw_csv_open_stream(f, "t.csv", 1, c, err, errlen);
}

static dw_csv *open_ok(const char *text)
{
    dw_csv *c;
    char err[256] = "";
    int rc = open_text(text, strlen(text), &c, err, sizeof err);
    if (rc != 0)
        fail_msg("open failed: %s", err);
    return c;
}

static void test_header_and_quoting(void **state)
{
    (void)state;
    dw_csv *c = open_ok("a,b,c\n\"x,y\",\"he said \"\"hi\"\"\",plain\n");
    char err[256];
    assert_int_equal(dw_csv_ncols(c), 3);
    assert_string_equal(dw_csv_colname(c, 1), "b");
    assert_int_equal(dw_csv_next(c, err, sizeof err), 1);
    size_t len;
    assert_string_equal(dw_csv_field(c, 0, &len), "x,y");
    assert_int_equal(len, 3);
    assert_string_equal(dw_csv_field(c, 1, NULL), "he said \"hi\"");
    assert_true(dw_csv_field_quoted(c, 1));
    assert_string_equal(dw_csv_field(c, 2, NULL), "plain");
    assert_false(dw_csv_field_quoted(c, 2));
    assert_int_equal(dw_csv_next(c, err, sizeof err), 0);
    dw_csv_free(c);
}

static void test_embedded_newlines_and_line_numbers(void **state)
{
    (void)state;
    /* Record 1 starts on line 2 and spans lines 2-4; record 2 starts on 5. */
    dw_csv *c = open_ok("id,text\n1,\"one\ntwo\nthree\"\n2,x\n3,\"a\r\nb\"\n");
    char err[256];
    assert_int_equal(dw_csv_next(c, err, sizeof err), 1);
    assert_int_equal(dw_csv_line(c), 2);
    assert_string_equal(dw_csv_field(c, 1, NULL), "one\ntwo\nthree");
    assert_int_equal(dw_csv_next(c, err, sizeof err), 1);
    assert_int_equal(dw_csv_line(c), 5);
    assert_string_equal(dw_csv_field(c, 0, NULL), "2");
    assert_int_equal(dw_csv_next(c, err, sizeof err), 1);
    assert_int_equal(dw_csv_line(c), 6);
    /* Inside quotes CRLF is data and kept as written. */
    assert_string_equal(dw_csv_field(c, 1, NULL), "a\r\nb");
    assert_int_equal(dw_csv_next(c, err, sizeof err), 0);
    dw_csv_free(c);
}

static void test_crlf_bom_blank_lines_no_final_newline(void **state)
{
    (void)state;
    dw_csv *c = open_ok("\xEF\xBB\xBF"
                        "a,b\r\n1,2\r\n\r\n\n3,\r\n4,x\ry");
    char err[256];
    assert_string_equal(dw_csv_colname(c, 0), "a");
    assert_int_equal(dw_csv_next(c, err, sizeof err), 1);
    assert_string_equal(dw_csv_field(c, 1, NULL), "2");
    assert_int_equal(dw_csv_next(c, err, sizeof err), 1);
    assert_int_equal(dw_csv_line(c), 5); /* blank lines 3 and 4 skipped, still counted */
    assert_string_equal(dw_csv_field(c, 0, NULL), "3");
    assert_string_equal(dw_csv_field(c, 1, NULL), ""); /* trailing comma: empty field */
    assert_int_equal(dw_csv_next(c, err, sizeof err), 1);
    assert_string_equal(dw_csv_field(c, 1, NULL), "x\ry"); /* lone CR is data */
    assert_int_equal(dw_csv_next(c, err, sizeof err), 0);
    dw_csv_free(c);
}

static void test_wrong_field_count_names_file_and_line(void **state)
{
    (void)state;
    dw_csv *c = open_ok("a,b\n1,2\n\"multi\nline\",2\n1,2,3\n");
    char err[256];
    assert_int_equal(dw_csv_next(c, err, sizeof err), 1);
    assert_int_equal(dw_csv_next(c, err, sizeof err), 1);
    assert_int_equal(dw_csv_next(c, err, sizeof err), DW_ERR_PARSE);
    assert_string_equal(err, "t.csv:5: expected 2 fields as in the header, found 3");
    /* The error is sticky. */
    assert_int_equal(dw_csv_next(c, err, sizeof err), DW_ERR_PARSE);
    dw_csv_free(c);
}

static void test_unterminated_quote_and_junk_after_quote(void **state)
{
    (void)state;
    dw_csv *c = open_ok("a,b\n1,\"open\n\nstill open\n");
    char err[256];
    assert_int_equal(dw_csv_next(c, err, sizeof err), DW_ERR_PARSE);
    assert_non_null(strstr(err, "t.csv:"));
    assert_non_null(strstr(err, "opened on line 2"));
    dw_csv_free(c);

    c = open_ok("a,b\n1,\"x\"y\n");
    assert_int_equal(dw_csv_next(c, err, sizeof err), DW_ERR_PARSE);
    assert_non_null(strstr(err, "t.csv:2: unexpected character 'y' after the closing quote"));
    dw_csv_free(c);

    /* A quote inside an unquoted field is kept (as Python's csv does). */
    c = open_ok("a,b\n1,ab\"c\n");
    assert_int_equal(dw_csv_next(c, err, sizeof err), 1);
    assert_string_equal(dw_csv_field(c, 1, NULL), "ab\"c");
    dw_csv_free(c);
}

static void test_field_size_limit(void **state)
{
    (void)state;
    size_t n = DW_CSV_MAX_FIELD + 1;
    char *text = malloc(n + 16);
    memcpy(text, "a\n", 2);
    memset(text + 2, 'x', n);
    memcpy(text + 2 + n, "\n", 2);
    dw_csv *c;
    char err[256];
    assert_int_equal(open_text(text, strlen(text), &c, err, sizeof err), 0);
    assert_int_equal(dw_csv_next(c, err, sizeof err), DW_ERR_LIMIT);
    assert_non_null(strstr(err, "t.csv:2: field 1 is longer than"));
    dw_csv_free(c);

    /* Exactly at the limit is fine. */
    text[2 + DW_CSV_MAX_FIELD] = '\n';
    text[3 + DW_CSV_MAX_FIELD] = '\0';
    assert_int_equal(open_text(text, strlen(text), &c, err, sizeof err), 0);
    assert_int_equal(dw_csv_next(c, err, sizeof err), 1);
    size_t len;
    dw_csv_field(c, 0, &len);
    assert_int_equal(len, DW_CSV_MAX_FIELD);
    dw_csv_free(c);
    free(text);
}

static void test_field_count_limit(void **state)
{
    (void)state;
    size_t n = DW_CSV_MAX_FIELDS + 1;
    char *text = malloc(2 * n + 2);
    for (size_t i = 0; i < n; i++) {
        text[2 * i] = 'a';
        text[2 * i + 1] = ',';
    }
    text[2 * n - 1] = '\n';
    text[2 * n] = '\0';
    dw_csv *c;
    char err[256];
    assert_int_equal(open_text(text, strlen(text), &c, err, sizeof err), DW_ERR_LIMIT);
    assert_non_null(strstr(err, "t.csv:1: record has more than 4096 fields"));
    assert_null(c);
    free(text);
}

static void test_empty_input_duplicate_header_missing_file(void **state)
{
    (void)state;
    dw_csv *c;
    char err[256];
    assert_int_equal(open_text("\n\n", 2, &c, err, sizeof err), DW_ERR_EMPTY);
    assert_string_equal(err, "t.csv: empty input: no header row");
    assert_int_equal(open_text("a,b,a\n", 6, &c, err, sizeof err), DW_ERR_PARSE);
    assert_non_null(strstr(err, "duplicate column name \"a\""));
    assert_int_equal(dw_csv_open("/nonexistent/x.csv", &c, err, sizeof err), DW_ERR_IO);
    assert_non_null(strstr(err, "/nonexistent/x.csv: cannot open"));
    /* pandas' unnamed index column gets a name. */
    c = open_ok(",a\n0,1\n");
    assert_string_equal(dw_csv_colname(c, 0), "column_1");
    dw_csv_free(c);
    dw_csv_free(NULL);
}

static void test_quoted_empty_and_single_column(void **state)
{
    (void)state;
    dw_csv *c = open_ok("v\n\"\"\n1\n");
    char err[256];
    assert_int_equal(dw_csv_next(c, err, sizeof err), 1);
    assert_string_equal(dw_csv_field(c, 0, NULL), "");
    assert_true(dw_csv_field_quoted(c, 0));
    assert_int_equal(dw_csv_next(c, err, sizeof err), 1);
    assert_string_equal(dw_csv_field(c, 0, NULL), "1");
    assert_int_equal(dw_csv_next(c, err, sizeof err), 0);
    dw_csv_free(c);
}

/* Regression: in a one-column file a blank line is an empty (missing) cell,
 * not a line to skip, or missing values would vanish from the counts. */
static void test_one_column_blank_line_is_a_missing_cell(void **state)
{
    (void)state;
    char text[] = "x\n1\n\n2\n";
    FILE *f = fmemopen(text, strlen(text), "r");
    dw_csv *c = NULL;
    char err[256];
    assert_int_equal(dw_csv_open_stream(f, "one.csv", 1, &c, err, sizeof err), 0);
    int rows = 0, empty = 0;
    while (dw_csv_next(c, err, sizeof err) == 1) {
        size_t len;
        dw_csv_field(c, 0, &len);
        rows++;
        empty += len == 0;
    }
    assert_int_equal(rows, 3);
    assert_int_equal(empty, 1);
    dw_csv_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_and_quoting),
        cmocka_unit_test(test_embedded_newlines_and_line_numbers),
        cmocka_unit_test(test_crlf_bom_blank_lines_no_final_newline),
        cmocka_unit_test(test_one_column_blank_line_is_a_missing_cell),
        cmocka_unit_test(test_wrong_field_count_names_file_and_line),
        cmocka_unit_test(test_unterminated_quote_and_junk_after_quote),
        cmocka_unit_test(test_field_size_limit),
        cmocka_unit_test(test_field_count_limit),
        cmocka_unit_test(test_empty_input_duplicate_header_missing_file),
        cmocka_unit_test(test_quoted_empty_and_single_column),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

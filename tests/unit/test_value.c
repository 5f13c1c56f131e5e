/* value: what one observed value means for a column (missing, type error,
 * numeric bin, listed or unseen category), as value.h documents it. The
 * columns are built by hand with dw_build_numeric()/dw_build_categorical(),
 * so every expected bin follows from the right-closed rule in reference.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "column_fixture.h"
#include "test_util.h"

#include "driftwatch/reference.h"
#include "driftwatch/reference_build.h"
#include "driftwatch/value.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct cols {
    dw_reference *ref; /* [0] numeric 1..10 (point and gap bins), [1] categorical */
} cols;

static int setup(void **state)
{
    dw_reference *ref = dwt_reference_new(2);

    dw_ref_column *num = &ref->cols[0];
    num->name = strdup("features.x"); /* the builders set the type */
    double v[10];
    for (int i = 0; i < 10; i++)
        v[i] = 10 - i; /* unsorted on purpose: the builder sorts */
    assert_int_equal(dw_build_numeric(num, v, 10, 10), 0);

    dw_ref_column *cat = &ref->cols[1];
    cat->name = strdup("features.c");
    static const char *const values[] = {"DE", "FR", "true", "5", "0.1"};
    static const uint64_t counts[] = {50, 30, 10, 5, 5};
    assert_int_equal(dw_build_categorical(cat, values, counts, 5, 0, 100), 0);

    cols *c = calloc(1, sizeof *c);
    c->ref = ref;
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    cols *c = *state;
    dw_reference_free(c->ref);
    free(c);
    return 0;
}

static dw_value num(double x)
{
    return (dw_value){.kind = DW_VAL_NUMBER, .num = x};
}

static dw_value str(const char *s)
{
    return (dw_value){.kind = DW_VAL_STRING, .str = s, .len = strlen(s)};
}

static dw_value boolean(bool b)
{
    return (dw_value){.kind = DW_VAL_BOOL, .b = b};
}

/* One dw_value_classify() call: what it wrote. idx is -99 before the
 * call, so an untouched index shows. */
typedef struct seen {
    long idx;
    const char *text;
    size_t len;
    char scratch[DW_VALUE_SCRATCH];
} seen;

static dw_value_class see(seen *o, const dw_ref_column *col, dw_value v)
{
    o->idx = -99;
    o->text = NULL;
    o->len = 0;
    return dw_value_classify(col, &v, &o->idx, &o->text, &o->len, o->scratch);
}

static void assert_bin(const dw_ref_column *col, dw_value v, long want)
{
    seen o;
    assert_int_equal(see(&o, col, v), DW_CLASS_BIN);
    assert_int_equal(o.idx, want);
}

static void assert_class(const dw_ref_column *col, dw_value v, dw_value_class want)
{
    seen o;
    assert_int_equal(see(&o, col, v), want);
}

static void test_the_hand_built_numeric_column(void **state)
{
    /* 10 distinct values: a point bin per value and a gap bin between
     * neighbours, 19 bins: edges {1, 1, below(2), 2, ..., below(10), 10};
     * bin 0 is [1, 1], bin 2k - 1 the open gap (k, k + 1), bin 2k the
     * point k + 1. */
    const dw_ref_column *x = &((cols *)*state)->ref->cols[0];
    assert_int_equal(x->nbins, 19);
    assert_true(x->edges[0] == 1 && x->edges[1] == 1 && x->edges[19] == 10);
    assert_true(x->edges[2] == nextafter(2.0, 0.0) && x->edges[3] == 2);
    for (size_t i = 0; i < 19; i++)
        assert_int_equal(x->bin_counts[i], i % 2 == 0 ? 1 : 0);
}

static void test_numbers_fall_in_right_closed_bins(void **state)
{
    const dw_ref_column *x = &((cols *)*state)->ref->cols[0];
    assert_bin(x, num(1), 0);
    assert_bin(x, num(1.5), 1); /* the gap (1, 2) */
    assert_bin(x, num(2), 2);
    assert_bin(x, num(2.5), 3); /* the gap (2, 3) */
    assert_bin(x, num(3), 4);
    assert_bin(x, num(10), 18);
    /* Outside the training range: underflow -1, overflow nbins. */
    assert_bin(x, num(0.999), -1);
    assert_bin(x, num(-1e300), -1);
    assert_bin(x, num(10.0000001), 19);
    assert_bin(x, num(INFINITY), 19);
    assert_bin(x, num(-INFINITY), -1);
}

static void test_numeric_strings_count_as_numbers(void **state)
{
    const dw_ref_column *x = &((cols *)*state)->ref->cols[0];
    assert_bin(x, str("2.5"), 3);
    assert_bin(x, str("1e1"), 18);
    assert_bin(x, str("-3"), -1);
    assert_bin(x, str("12.5"), 19);
    /* Not a number: a type error, not a missing value. */
    assert_class(x, str("abc"), DW_CLASS_TYPE_ERROR);
    assert_class(x, str("2.5kg"), DW_CLASS_TYPE_ERROR);
    assert_class(x, str("inf"), DW_CLASS_TYPE_ERROR); /* only finite decimals */
}

static void test_missing_forms(void **state)
{
    const dw_reference *ref = ((cols *)*state)->ref;
    static const char *const texts[] = {"", "NA", "NaN", "nan", "null"};
    for (size_t c = 0; c < 2; c++) {
        const dw_ref_column *col = &ref->cols[c];
        assert_class(col, (dw_value){.kind = DW_VAL_MISSING}, DW_CLASS_MISSING);
        for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
            assert_class(col, str(texts[i]), DW_CLASS_MISSING);
    }
    assert_class(&ref->cols[0], num(NAN), DW_CLASS_MISSING);
}

static void test_text_is_missing_list(void **state)
{
    (void)state;
    static const dwt_text_case cases[] = {
        {"", 0, true},
        {"NA", 2, true},
        {"NaN", 3, true},
        {"nan", 3, true},
        {"null", 4, true},
        /* Only those: a prefix, other spellings and real values are not. */
        {"N", 1, false},
        {"nulls", 5, false},
        {"0", 1, false},
        {" ", 1, false},
        /* The length decides, not a NUL: "NA" inside a longer buffer. */
        {"NAxyz", 2, true},
    };
    DWT_EXPECT_MISSING(dw_value_text_is_missing, cases);
}

static void test_objects_arrays_and_bools_in_numeric_columns(void **state)
{
    const dw_reference *ref = ((cols *)*state)->ref;
    assert_class(&ref->cols[0], (dw_value){.kind = DW_VAL_OTHER}, DW_CLASS_TYPE_ERROR);
    assert_class(&ref->cols[1], (dw_value){.kind = DW_VAL_OTHER}, DW_CLASS_TYPE_ERROR);
    assert_class(&ref->cols[0], boolean(true), DW_CLASS_TYPE_ERROR);
    assert_class(&ref->cols[0], boolean(false), DW_CLASS_TYPE_ERROR);
}

static void test_listed_categories(void **state)
{
    const dw_ref_column *c = &((cols *)*state)->ref->cols[1];
    seen o;
    static const char *const names[] = {"DE", "FR", "true", "5", "0.1"};
    for (long i = 0; i < 5; i++) {
        assert_int_equal(see(&o, c, str(names[i])), DW_CLASS_CATEGORY);
        assert_string_equal(c->categories[o.idx], names[i]);
    }
    /* The string's length counts, not a terminating NUL. */
    dw_value v = {.kind = DW_VAL_STRING, .str = "DEU", .len = 2};
    assert_int_equal(dw_value_classify(c, &v, &o.idx, &o.text, &o.len, o.scratch),
                     DW_CLASS_CATEGORY);
    assert_string_equal(c->categories[o.idx], "DE");
}

static void test_bools_are_categories_by_their_text(void **state)
{
    const dw_ref_column *c = &((cols *)*state)->ref->cols[1];
    seen o;
    assert_int_equal(see(&o, c, boolean(true)), DW_CLASS_CATEGORY);
    assert_string_equal(c->categories[o.idx], "true");
    /* "false" is not listed: unseen, and named. */
    assert_int_equal(see(&o, c, boolean(false)), DW_CLASS_UNSEEN);
    assert_int_equal(o.len, 5);
    assert_memory_equal(o.text, "false", 5);
}

static void test_numbers_in_categorical_columns_use_their_shortest_text(void **state)
{
    const dw_ref_column *c = &((cols *)*state)->ref->cols[1];
    seen o;
    /* 5 and 5.0 are the same category "5"; 0.1 reads back as "0.1". */
    assert_int_equal(see(&o, c, num(5)), DW_CLASS_CATEGORY);
    assert_string_equal(c->categories[o.idx], "5");
    assert_int_equal(see(&o, c, num(5.0)), DW_CLASS_CATEGORY);
    assert_string_equal(c->categories[o.idx], "5");
    assert_int_equal(see(&o, c, num(0.1)), DW_CLASS_CATEGORY);
    assert_string_equal(c->categories[o.idx], "0.1");
    /* Unlisted numbers are unseen, named by their text in scratch. */
    assert_int_equal(see(&o, c, num(5.5)), DW_CLASS_UNSEEN);
    assert_ptr_equal(o.text, o.scratch);
    assert_int_equal(o.len, 3);
    assert_memory_equal(o.text, "5.5", 3);
    assert_int_equal(see(&o, c, num(-1e300)), DW_CLASS_UNSEEN);
    assert_true(o.len < DW_VALUE_SCRATCH);
    assert_memory_equal(o.text, "-1e+300", o.len);
    /* Not finite: no category can name it. */
    assert_int_equal(see(&o, c, num(INFINITY)), DW_CLASS_TYPE_ERROR);
}

static void test_nan_is_missing_in_categorical_columns_too(void **state)
{
    /* value.h: "... and NaN are missing", whatever the column type. */
    const dw_ref_column *c = &((cols *)*state)->ref->cols[1];
    assert_class(c, num(NAN), DW_CLASS_MISSING);
}

static void test_unseen_strings_point_into_the_value(void **state)
{
    const dw_ref_column *c = &((cols *)*state)->ref->cols[1];
    seen o;
    const char *s = "BR and more";
    dw_value v = {.kind = DW_VAL_STRING, .str = s, .len = 2};
    o.idx = -99;
    assert_int_equal(dw_value_classify(c, &v, &o.idx, &o.text, &o.len, o.scratch), DW_CLASS_UNSEEN);
    assert_ptr_equal(o.text, s);
    assert_int_equal(o.len, 2);
    assert_int_equal(o.idx, -99); /* not a listed category: index untouched */
    /* Case matters: "de" is not "DE". */
    assert_class(c, str("de"), DW_CLASS_UNSEEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_hand_built_numeric_column),
        cmocka_unit_test(test_numbers_fall_in_right_closed_bins),
        cmocka_unit_test(test_numeric_strings_count_as_numbers),
        cmocka_unit_test(test_missing_forms),
        cmocka_unit_test(test_text_is_missing_list),
        cmocka_unit_test(test_objects_arrays_and_bools_in_numeric_columns),
        cmocka_unit_test(test_listed_categories),
        cmocka_unit_test(test_bools_are_categories_by_their_text),
        cmocka_unit_test(test_numbers_in_categorical_columns_use_their_shortest_text),
        cmocka_unit_test(test_nan_is_missing_in_categorical_columns_too),
        cmocka_unit_test(test_unseen_strings_point_into_the_value),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

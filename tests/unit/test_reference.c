#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "column_fixture.h"

#include "driftwatch/error.h"
#include "driftwatch/reference.h"
#include "driftwatch/reference_build.h"

#include <glob.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A small reference with a continuous, a discrete and a categorical column,
 * built through the public builder functions. */
static dw_reference *sample_ref(void)
{
    dw_reference *r = dwt_reference_new(3);
    r->format_version = DW_REFERENCE_FORMAT_VERSION;
    r->model = strdup("fraud");
    r->model_version = NULL;
    r->created_at = strdup("2026-01-02T03:04:05Z");
    r->source = strdup("train.jsonl");
    r->rows = 10;
    double a[] = {0.1, 0.2, 0.30000000000000004, 1e-300, 7.25, -3, 2, 2, 9, 1.0 / 3};
    r->cols[0].name = strdup("features.amount");
    assert_int_equal(dw_build_numeric(&r->cols[0], a, 10, 4), 0);
    double b[] = {1, 1, 2, 3, 3, 3, 4, 5};
    r->cols[1].name = strdup("features.n_items");
    assert_int_equal(dw_build_numeric(&r->cols[1], b, 8, 1000), 0);
    r->cols[1].missing = 2;
    const char *vals[] = {"DE", "FR", "quote\"d", "\xc3\xa9t\xc3\xa9"};
    uint64_t counts[] = {4, 2, 1, 1};
    r->cols[2].name = strdup("features.country");
    assert_int_equal(dw_build_categorical(&r->cols[2], vals, counts, 4, 1, 3), 0);
    r->cols[2].missing = 1;
    return r;
}

static char *tmp_path(void)
{
    char *p = malloc(64);
    snprintf(p, 64, "/tmp/dw_test_ref_XXXXXX");
    int fd = mkstemp(p);
    assert_true(fd >= 0);
    close(fd);
    return p;
}

static void assert_same(const dw_reference *a, const dw_reference *b)
{
    assert_string_equal(a->model, b->model);
    assert_null(b->model_version);
    assert_string_equal(a->created_at, b->created_at);
    assert_string_equal(a->source, b->source);
    assert_int_equal(a->rows, b->rows);
    assert_int_equal(a->ncols, b->ncols);
    for (size_t i = 0; i < a->ncols; i++) {
        const dw_ref_column *x = &a->cols[i], *y = &b->cols[i];
        assert_string_equal(x->name, y->name);
        assert_int_equal(x->type, y->type);
        assert_int_equal(x->count, y->count);
        assert_int_equal(x->missing, y->missing);
        if (x->type == DW_COL_NUMERIC) {
            /* 17 significant digits round-trip doubles exactly: no tolerance. */
            assert_true(x->min == y->min && x->max == y->max);
            assert_true(x->mean == y->mean && x->std == y->std);
            assert_int_equal(x->nbins, y->nbins);
            for (size_t k = 0; k <= x->nbins; k++)
                assert_true(x->edges[k] == y->edges[k]);
            for (size_t k = 0; k < x->nbins; k++)
                assert_int_equal(x->bin_counts[k], y->bin_counts[k]);
        } else {
            assert_int_equal(x->ncat, y->ncat);
            assert_int_equal(x->other_count, y->other_count);
            for (size_t k = 0; k < x->ncat; k++) {
                assert_string_equal(x->categories[k], y->categories[k]);
                assert_int_equal(x->cat_counts[k], y->cat_counts[k]);
                assert_int_equal(dw_ref_category(y, y->categories[k], strlen(y->categories[k])),
                                 (long)k);
            }
        }
    }
}

static void test_save_load_round_trip(void **state)
{
    (void)state;
    dw_reference *r = sample_ref(), *back;
    char *path = tmp_path();
    char err[512];
    assert_int_equal(dw_reference_save(r, path, err, sizeof err), 0);
    assert_int_equal(dw_reference_load(path, &back, err, sizeof err), 0);
    assert_same(r, back);
    assert_int_equal(dw_reference_find(back, "features.country"), 2);
    assert_int_equal(dw_reference_find(back, "nope"), -1);
    assert_int_equal(strncmp(back->checksum, "sha256:", 7), 0);
    /* No temporary file is left next to the output. */
    char pattern[80];
    snprintf(pattern, sizeof pattern, "%s.tmp.*", path);
    glob_t g;
    assert_int_equal(glob(pattern, 0, NULL, &g), GLOB_NOMATCH);
    globfree(&g);
    dw_reference_free(back);
    dw_reference_free(r);
    unlink(path);
    free(path);
}

/* The checksum as docs/reference-format.md defines it, computed here
 * independently: SHA-256 of the compact, key-sorted, 17-digit dump of the
 * document without "checksum". */
static void test_checksum_matches_documented_definition(void **state)
{
    (void)state;
    dw_reference *r = sample_ref();
    char *text, sum[72], err[256];
    assert_int_equal(dw_reference_to_string(r, &text, sum, err, sizeof err), 0);
    json_t *root = json_loads(text, 0, NULL);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "checksum")), sum);
    json_object_del(root, "checksum");
    char *canon = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    unsigned char md[32];
    unsigned int mdlen;
    assert_true(EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(), NULL));
    char hex[72] = "sha256:";
    for (int i = 0; i < 32; i++)
        sprintf(hex + 7 + 2 * i, "%02x", md[i]);
    assert_string_equal(hex, sum);
    free(canon);
    json_decref(root);
    free(text);
    dw_reference_free(r);
}

/* Applies a mutation to the serialised sample and parses the result. */
typedef void (*mutate_fn)(json_t *root);

static int parse_mutated(mutate_fn fn, char *err, size_t errlen)
{
    dw_reference *r = sample_ref(), *out = NULL;
    char *text;
    assert_int_equal(dw_reference_to_string(r, &text, NULL, err, errlen), 0);
    json_t *root = json_loads(text, 0, NULL);
    fn(root);
    char *mut = json_dumps(root, JSON_REAL_PRECISION(17));
    int rc = dw_reference_parse("ref.json", mut, strlen(mut), &out, err, errlen);
    if (rc == 0)
        dw_reference_free(out);
    else
        assert_null(out);
    free(mut);
    json_decref(root);
    free(text);
    dw_reference_free(r);
    return rc;
}

static json_t *col(json_t *root, size_t i)
{
    return json_array_get(json_object_get(root, "columns"), i);
}

static void m_format(json_t *r)
{
    json_object_set_new(r, "format", json_string("something-else"));
}
static void m_version(json_t *r)
{
    json_object_set_new(r, "format_version", json_integer(2));
}
static void m_no_checksum(json_t *r)
{
    json_object_del(r, "checksum");
}
static void m_bad_checksum_syntax(json_t *r)
{
    json_object_set_new(r, "checksum", json_string("md5:abc"));
}
static void m_tamper_model(json_t *r)
{
    json_object_set_new(r, "model", json_string("other"));
}
static void m_tamper_edge(json_t *r)
{
    /* Still increasing, still consistent: only the checksum can tell. */
    json_t *e = json_object_get(col(r, 0), "edges");
    json_array_set_new(e, 1, json_real(json_real_value(json_array_get(e, 1)) + 1e-9));
}
static void m_rows(json_t *r)
{
    json_object_set_new(r, "rows", json_integer(11));
}
static void m_no_columns(json_t *r)
{
    json_object_set_new(r, "columns", json_array());
}
static void m_dup_column(json_t *r)
{
    json_object_set_new(col(r, 1), "name", json_string("features.amount"));
}
static void m_type(json_t *r)
{
    json_object_set_new(col(r, 0), "type", json_string("text"));
}
static void m_negative_count(json_t *r)
{
    json_object_set_new(col(r, 0), "count", json_integer(-1));
}
static void m_nbins_too_big(json_t *r)
{
    json_object_set_new(col(r, 0), "nbins", json_integer(DW_MAX_BINS + 1));
}
static void m_edges_length(json_t *r)
{
    json_array_remove(json_object_get(col(r, 0), "edges"), 0);
}
static void m_edges_order(json_t *r)
{
    json_t *e = json_object_get(col(r, 1), "edges");
    json_array_set_new(e, 3, json_real(json_real_value(json_array_get(e, 2))));
}
static void m_edge_min(json_t *r)
{
    json_object_set_new(col(r, 0), "min", json_real(-100));
}
static void m_bin_sum(json_t *r)
{
    json_t *b = json_object_get(col(r, 1), "bin_counts");
    json_array_set_new(b, 0, json_integer(json_integer_value(json_array_get(b, 0)) + 1));
}
static void m_edge_string(json_t *r)
{
    json_array_set_new(json_object_get(col(r, 0), "edges"), 2, json_string("x"));
}
static void m_dup_category(json_t *r)
{
    json_t *c = json_array_get(json_object_get(col(r, 2), "categories"), 1);
    json_object_set_new(c, "value", json_string("DE"));
}
static void m_cat_sum(json_t *r)
{
    json_object_set_new(col(r, 2), "other_count", json_integer(0));
}
static void m_missing_field(json_t *r)
{
    json_object_del(col(r, 0), "std");
}

static void test_every_validation_error(void **state)
{
    (void)state;
    static const struct {
        mutate_fn fn;
        int rc;
        const char *msg;
    } cases[] = {
        {m_format, DW_ERR_INVALID, "ref.json: not a driftwatch reference"},
        {m_version, DW_ERR_INVALID, "ref.json: unsupported format_version 2"},
        {m_no_checksum, DW_ERR_INVALID, "ref.json: missing string field \"checksum\""},
        {m_bad_checksum_syntax, DW_ERR_INVALID, "\"checksum\" must be"},
        {m_tamper_model, DW_ERR_CHECKSUM, "ref.json: checksum mismatch"},
        {m_tamper_edge, DW_ERR_CHECKSUM, "ref.json: checksum mismatch"},
        {m_rows, DW_ERR_INVALID, "column \"features.amount\": count (10) + missing (0) differs"},
        {m_no_columns, DW_ERR_INVALID, "ref.json: \"columns\" is empty"},
        {m_dup_column, DW_ERR_INVALID, "column \"features.amount\": listed twice"},
        {m_type, DW_ERR_INVALID, "column \"features.amount\": unknown type \"text\""},
        {m_negative_count, DW_ERR_INVALID, "\"count\" must be a non-negative integer"},
        {m_nbins_too_big, DW_ERR_INVALID, "nbins must be between 1 and 100000"},
        {m_edges_length, DW_ERR_INVALID, "\"edges\" has 4 entries, expected nbins + 1 = 5"},
        {m_edges_order, DW_ERR_INVALID, "column \"features.n_items\": edges not increasing at 3"},
        {m_edge_min, DW_ERR_INVALID, "edges[0] (-3) differs from min (-100)"},
        {m_bin_sum, DW_ERR_INVALID, "column \"features.n_items\": bin_counts sum to 9"},
        {m_edge_string, DW_ERR_INVALID, "edges[2] is not a finite number"},
        {m_dup_category, DW_ERR_INVALID, "column \"features.country\": category \"DE\" is listed"},
        {m_cat_sum, DW_ERR_INVALID, "category counts plus other_count sum to 7 but count is 9"},
        {m_missing_field, DW_ERR_INVALID, "column \"features.amount\": missing field \"std\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";
        int rc = parse_mutated(cases[i].fn, err, sizeof err);
        if (rc != cases[i].rc || !strstr(err, cases[i].msg))
            fail_msg("case %zu: rc %d, message \"%s\"; expected %d and \"%s\"", i, rc, err,
                     cases[i].rc, cases[i].msg);
    }
}

static void test_truncated_empty_and_missing_files(void **state)
{
    (void)state;
    dw_reference *r = sample_ref(), *out;
    char *text, err[512];
    assert_int_equal(dw_reference_to_string(r, &text, NULL, err, sizeof err), 0);
    size_t len = strlen(text);
    for (size_t cut = 0; cut < len; cut += len / 7 + 1) {
        assert_int_equal(dw_reference_parse("ref.json", text, cut, &out, err, sizeof err),
                         DW_ERR_PARSE);
        assert_non_null(strstr(err, "ref.json: not valid JSON at line"));
        assert_null(out);
    }
    char *path = tmp_path();
    assert_int_equal(dw_reference_load(path, &out, err, sizeof err), DW_ERR_EMPTY);
    assert_non_null(strstr(err, "empty file"));
    FILE *f = fopen(path, "w");
    fwrite(text, 1, len / 2, f);
    fclose(f);
    assert_int_equal(dw_reference_load(path, &out, err, sizeof err), DW_ERR_PARSE);
    assert_non_null(strstr(err, path));
    unlink(path);
    assert_int_equal(dw_reference_load(path, &out, err, sizeof err), DW_ERR_IO);
    assert_non_null(strstr(err, "cannot open"));
    assert_int_equal(dw_reference_load("/tmp", &out, err, sizeof err), DW_ERR_IO);
    free(path);
    free(text);
    dw_reference_free(r);
    dw_reference_free(NULL);
}

static void test_save_refuses_invalid_and_unwritable(void **state)
{
    (void)state;
    dw_reference *r = sample_ref();
    char err[512];
    assert_int_equal(dw_reference_save(r, "/nonexistent-dir/ref.json", err, sizeof err), DW_ERR_IO);
    assert_non_null(strstr(err, "/nonexistent-dir/ref.json"));
    r->cols[0].bin_counts[0]++; /* inconsistent with count */
    char *path = tmp_path();
    assert_int_equal(dw_reference_save(r, path, err, sizeof err), DW_ERR_INVALID);
    assert_non_null(strstr(err, "bin_counts sum"));
    unlink(path);
    free(path);
    dw_reference_free(r);
}

/* Flat training data (a CSV) meets nested serving fields by last name;
 * a reference with dotted names matches exact paths only. */
static void test_match_flat_and_nested_names(void **state)
{
    (void)state;
    dw_reference *r = sample_ref();
    assert_false(dw_reference_is_flat(r));
    assert_int_equal(dw_reference_match(r, "features.amount", 15), 0);
    assert_int_equal(dw_reference_match(r, "features.amount.x", 15), 0); /* len bounds it */
    assert_int_equal(dw_reference_match(r, "inputs.amount", 13), -1);
    assert_int_equal(dw_reference_match(r, "amount", 6), -1);
    free(r->cols[0].name);
    r->cols[0].name = strdup("amount");
    free(r->cols[1].name);
    r->cols[1].name = strdup("n_items");
    free(r->cols[2].name);
    r->cols[2].name = strdup("country");
    assert_true(dw_reference_is_flat(r));
    assert_int_equal(dw_reference_match(r, "amount", 6), 0);
    assert_int_equal(dw_reference_match(r, "features.amount", 15), 0);
    assert_int_equal(dw_reference_match(r, "a.b.country", 11), 2);
    assert_int_equal(dw_reference_match(r, "features.amounts", 16), -1);
    assert_int_equal(dw_reference_match(r, "features.", 9), -1);
    dw_reference_free(r);
}

static void test_unreachable_columns_and_mismatch(void **state)
{
    (void)state;
    dw_reference *r = sample_ref();
    char *features[] = {"features"}, *inputs[] = {"inputs", "prediction"};
    char *fields[] = {"features.country"};
    const char *first = "x";
    assert_int_equal(dw_reference_unreachable(r, features, 1, NULL, 0, &first), 0);
    assert_null(first);
    assert_int_equal(dw_reference_unreachable(r, inputs, 2, NULL, 0, &first), 3);
    assert_string_equal(first, "features.amount");
    assert_int_equal(dw_reference_unreachable(r, inputs, 2, fields, 1, &first), 2);

    char buf[256];
    assert_false(dw_reference_mismatch(r, "fraud", "v3", buf, sizeof buf)); /* no version */
    assert_true(dw_reference_mismatch(r, "churn", NULL, buf, sizeof buf));
    assert_string_equal(buf, "model churn: its reference was built for model fraud");
    r->model_version = strdup("v2");
    assert_false(dw_reference_mismatch(r, "fraud", NULL, buf, sizeof buf));
    assert_true(dw_reference_mismatch(r, "fraud", "v3", buf, sizeof buf));
    assert_string_equal(buf, "model fraud version v3: its reference was built for version v2");
    dw_reference_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_save_load_round_trip),
        cmocka_unit_test(test_checksum_matches_documented_definition),
        cmocka_unit_test(test_every_validation_error),
        cmocka_unit_test(test_truncated_empty_and_missing_files),
        cmocka_unit_test(test_save_refuses_invalid_and_unwritable),
        cmocka_unit_test(test_match_flat_and_nested_names),
        cmocka_unit_test(test_unreachable_columns_and_mismatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "config_fixture.h"

#include "driftwatch/budget.h"
#include "driftwatch/config.h"
#include "driftwatch/error.h"
#include "driftwatch/reference.h"
#include "driftwatch/reference_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REF DW_SOURCE_ROOT "/reference_stats/fraud.json"

static dw_config *load(const char *extra)
{
    return dwt_parse_fmt("kafka: {brokers: \"127.0.0.1:1\", topics: [t]}\n"
                         "models:\n  - name: m\n    reference: \"%s\"\n"
                         "  - name: p\n    version: v1\n    reference: \"%s\"\n"
                         "windows:\n  - {name: 1h, length: 1h, slide: 1m}\n"
                         "  - {name: 1d, length: 1d, slide: 1h}\n"
                         "time: {allowed_lateness: 30s}\n"
                         "%s",
                         REF, REF, extra);
}

/* The counters of one (model, version), worked out from the reference the
 * way docs/operations.md ("Size") describes the layout. */
static double counter_bytes(const dw_reference *ref, size_t K)
{
    double width = 0;
    for (size_t j = 0; j < ref->ncols; j++)
        width += ref->cols[j].type == DW_COL_NUMERIC ? (double)ref->cols[j].nbins + 4
                                                     : (double)ref->cols[j].ncat + (double)K + 3;
    /* 1h/1m: 60 panes; 1d/1h: 24 panes; open panes for the engine's 10 min
     * minimum lateness: ceil(10m/1m) + 1 = 11 and ceil(10m/1h) + 1 = 2;
     * plus each window's running sum. */
    return 8.0 * width * ((60 + 11 + 1) + (24 + 2 + 1));
}

static void test_model_bytes_match_the_layout(void **state)
{
    (void)state;
    dw_config *cfg = load("");
    dw_reference *ref = NULL;
    char err[512];
    assert_int_equal(dw_reference_load(REF, &ref, err, sizeof err), 0);
    size_t v0, v1;
    uint64_t b0 = dw_budget_model_bytes(cfg, 0, ref, &v0);
    uint64_t b1 = dw_budget_model_bytes(cfg, 1, ref, &v1);
    assert_int_equal(v0, 16); /* no version: may track 16 */
    assert_int_equal(v1, 1);
    assert_int_equal(b0, b1);
    double want = counter_bytes(ref, cfg->evaluation.max_new_categories);
    /* Beyond the counters: unseen-category names (K x 257 bytes per
     * categorical column) and per-column state, well under 25 %. */
    assert_true((double)b0 >= want);
    assert_true((double)b0 <= want * 1.25 + 64 * 1024);

    const dw_reference *refs[2] = {ref, ref};
    dw_budget b;
    assert_int_equal(dw_budget_check(cfg, refs, &b, err, sizeof err), 0);
    assert_int_equal(b.window_bytes, 17 * b0);
    assert_int_equal(b.limit_bytes, 1024ull << 20);
    assert_int_equal(b.fields_needed, ref->ncols + DW_BUDGET_META_FIELDS);
    dw_reference_free(ref);
    dw_config_free(cfg);
}

static void test_refuses_above_the_limit_with_the_figure(void **state)
{
    (void)state;
    dw_config *cfg = load("evaluation: {max_memory_mb: 1}\n");
    dw_reference *ref = NULL;
    char err[1024];
    assert_int_equal(dw_reference_load(REF, &ref, err, sizeof err), 0);
    const dw_reference *refs[2] = {ref, ref};
    dw_budget b;
    int rc = dw_budget_check(cfg, refs, &b, err, sizeof err);
    assert_int_equal(rc, DW_ERR_LIMIT);
    assert_true(b.window_bytes > (1u << 20));
    char figure[64];
    snprintf(figure, sizeof figure, "(%llu bytes)", (unsigned long long)b.window_bytes);
    assert_non_null(strstr(err, figure));
    assert_non_null(strstr(err, "evaluation.max_memory_mb (1 MiB)"));
    assert_non_null(strstr(err, "models[0] \"m\""));
    dw_reference_free(ref);
    dw_config_free(cfg);
}

/* A reference of 20 numeric columns features.f0..f19, built here. */
static dw_reference *wide_reference(void)
{
    char dir[] = "/tmp/dw-test-budget-XXXXXX", path[64], err[512];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/t.jsonl", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 200; i++) {
        fputs("{\"features\": {", fp);
        for (int k = 0; k < 20; k++)
            fprintf(fp, "%s\"f%d\": %d", k ? ", " : "", k, (i * 7 + k) % 50);
        fputs("}}\n", fp);
    }
    fclose(fp);
    dw_build_options o;
    dw_build_options_init(&o);
    dw_reference *ref = NULL;
    assert_int_equal(dw_reference_build(path, &o, &ref, err, sizeof err), 0);
    unlink(path);
    rmdir(dir);
    assert_int_equal(ref->ncols, 20);
    return ref;
}

static void test_refuses_a_reference_wider_than_max_fields(void **state)
{
    (void)state;
    char err[1024];
    dw_reference *wide = wide_reference();
    const dw_reference *refs[2] = {wide, wide};
    dw_config *cfg = load("records: {max_fields: 23}\n");
    assert_int_equal(dw_budget_check(cfg, refs, NULL, err, sizeof err), 0);
    dw_config_free(cfg);
    cfg = load("records: {max_fields: 22}\n");
    assert_int_equal(dw_budget_check(cfg, refs, NULL, err, sizeof err), DW_ERR_LIMIT);
    assert_non_null(strstr(err, "has 20 columns"));
    assert_non_null(strstr(err, "records.max_fields (22)"));
    assert_non_null(strstr(err, "at least 23"));
    dw_config_free(cfg);
    dw_reference_free(wide);
}

static void test_format_bytes(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(dw_budget_format_bytes(512, b, sizeof b), "512 B");
    assert_string_equal(dw_budget_format_bytes(1536, b, sizeof b), "1.5 KiB");
    assert_string_equal(dw_budget_format_bytes(3ull << 30, b, sizeof b), "3.0 GiB");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_bytes_match_the_layout),
        cmocka_unit_test(test_refuses_above_the_limit_with_the_figure),
        cmocka_unit_test(test_refuses_a_reference_wider_than_max_fields),
        cmocka_unit_test(test_format_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

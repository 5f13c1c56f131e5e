/* models[].compare and models[].latency (src/config_canary.c) and the
 * verdict document of GET /api/v1/compare (src/http_compare.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "driftwatch/config.h"
#include "driftwatch/http_compare.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decimal literals parsed with strtod, compared with the same literal. */
#define assert_close(a, b) assert_true(fabs((double)(a) - (double)(b)) <= 1e-12)

static const char head[] = "kafka: {brokers: \"127.0.0.1:9\", topics: [t]}\n"
                           "windows:\n"
                           "  - {name: 15m, length: 15m, slide: 1m}\n"
                           "  - {name: 1h, length: 1h, slide: 5m}\n"
                           "thresholds: {psi: 0.3}\n"
                           "sinks: []\n"
                           "models:\n"
                           "  - name: fraud\n"
                           "    reference: ref.json\n";

static dw_config *parse(const char *block, char *err, size_t errlen)
{
    char text[4096];
    snprintf(text, sizeof text, "%s%s", head, block);
    dw_config *cfg = NULL;
    dw_config_parse("c.yaml", text, strlen(text), NULL, &cfg, err, errlen);
    return cfg;
}

static void defaults(void **state)
{
    (void)state;
    char err[512] = "";
    dw_config *cfg = parse("    compare: {}\n    latency: {}\n", err, sizeof err);
    assert_non_null(cfg);
    const dw_model_config *m = &cfg->models[0];
    assert_true(m->compare.enabled);
    assert_null(m->compare.baseline); /* most_traffic */
    assert_int_equal(m->compare.ncandidates, 0);
    assert_int_equal(m->compare.ncolumns, 0);
    assert_int_equal(m->compare.windows, 3u);           /* both windows */
    assert_close(m->compare.thresholds.psi_threshold, 0.3); /* the model's */
    assert_close(m->compare.latency_max_ratio, 0);
    assert_true(m->latency.enabled);
    assert_string_equal(m->latency.field, "latency_ms");
    assert_string_equal(m->latency.unit, "ms");
    assert_close(m->latency.alpha, 0.01);
    assert_int_equal(m->latency.nquantiles, 3);
    assert_close(m->latency.quantiles[2], 0.99);
    /* 1 us .. 1e7 ms at 1 %: the 1153 counters sketch.h states */
    assert_int_equal(dw_config_latency_width(&m->latency), 1153);
    dw_config_free(cfg);
    cfg = parse("", err, sizeof err);
    assert_false(cfg->models[0].compare.enabled);
    assert_int_equal(dw_config_latency_width(&cfg->models[0].latency), 0);
    dw_config_free(cfg);
}

static void full_block(void **state)
{
    (void)state;
    char err[512] = "";
    dw_config *cfg = parse("    latency:\n"
                           "      field: timing.total\n"
                           "      unit: s\n"
                           "      quantiles: [0.5, 0.999]\n"
                           "      slos:\n"
                           "        - {quantile: 0.9, max: 250ms, window: 1h, version: v4,\n"
                           "           severity: critical, for: 3}\n"
                           "    compare:\n"
                           "      baseline: v3\n"
                           "      candidates: [v4]\n"
                           "      columns: [prediction., features.amount]\n"
                           "      windows: [1h]\n"
                           "      thresholds: {psi: 0.1, min_samples: 500}\n"
                           "      latency: {max_ratio: 1.5}\n",
                           err, sizeof err);
    assert_non_null(cfg);
    const dw_model_config *m = &cfg->models[0];
    assert_string_equal(m->compare.baseline, "v3");
    assert_int_equal(m->compare.ncandidates, 1);
    assert_string_equal(m->compare.columns[0], "prediction.");
    assert_int_equal(m->compare.windows, 2u);
    assert_close(m->compare.thresholds.psi_threshold, 0.1);
    assert_int_equal(m->compare.thresholds.min_samples, 500);
    assert_close(m->compare.latency_quantile, 0.99);
    assert_close(m->compare.latency_max_ratio, 1.5);
    assert_string_equal(m->latency.field, "timing.total");
    assert_int_equal(m->latency.nquantiles, 2);
    const dw_slo_config *s = &m->latency.slos[0];
    assert_string_equal(s->name, "p90-1h");
    assert_close(s->max, 0.25); /* 250ms in seconds */
    assert_int_equal(s->window, 1);
    assert_string_equal(s->version, "v4");
    assert_true(s->critical);
    assert_int_equal(s->for_evaluations, 3);
    dw_config_free(cfg);
}

static void refused(void **state)
{
    (void)state;
    static const struct {
        const char *block, *want;
    } bad[] = {
        {"    compare: {windows: [5m]}\n",
         "c.yaml:10: models[0].compare.windows[0]: \"5m\" is not one of the windows"},
        {"    compare: {baseline: v1, candidates: [v1]}\n",
         "c.yaml:10: models[0].compare.candidates[0]: \"v1\" is the baseline itself"},
        {"    compare: {candidates: fresh}\n", "must be \"all\" or a list"},
        {"    compare: {thresholds: {ks: 2}}\n", "models[0].compare.thresholds.ks"},
        {"    compare: {latency: {max_ratio: 1.2}}\n", "needs a latency: block"},
        {"    compare: {baselin: v1}\n", "did you mean \"baseline\""},
        {"    latency: {min: 1, max: 1e300, relative_error: 0.0001}\n", "c.yaml:10: "},
        {"    latency: {unit: ns}\n", "models[0].latency.unit"},
        {"    latency:\n      slos: [{max: 10}, {max: 20}]\n", "duplicate SLO name \"p99-15m\""},
        {"    latency:\n      slos: [{max: -1}]\n", "must be above 0"},
        {"    latency:\n      slos: [{max: soon}]\n", "models[0].latency.slos[0].max"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[512] = "";
        dw_config *cfg = parse(bad[i].block, err, sizeof err);
        if (cfg || !strstr(err, bad[i].want))
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, bad[i].want);
    }
    /* a model restricted to one version cannot compare versions */
    char text[2048], err[512] = "";
    snprintf(text, sizeof text, "%s    version: v1\n    compare: {}\n", head);
    dw_config *cfg = NULL;
    assert_int_not_equal(dw_config_parse("c.yaml", text, strlen(text), NULL, &cfg, err, sizeof err),
                         0);
    assert_non_null(strstr(err, "compare needs an entry without version"));
}

/* ---- GET /api/v1/compare ---- */

/* A comparison of model/baseline/candidate/window with the verdict and
 * the given column verdicts (named a, b, c...). */
static void comparison(dw_status_comparison *c, const char *model, const char *base,
                       const char *cand, const char *window, dw_verdict v, size_t ncols,
                       const dw_verdict *cols)
{
    c->model = strdup(model);
    c->baseline = strdup(base);
    c->candidate = strdup(cand);
    c->window = strdup(window);
    c->verdict = v;
    c->reason = strdup("because");
    c->columns = calloc(ncols + 1, sizeof *c->columns);
    c->ncolumns = ncols;
    for (size_t k = 0; k < ncols; k++) {
        char name[2] = {(char)('a' + k), 0};
        c->columns[k].name = strdup(name);
        c->columns[k].c.verdict = cols[k];
    }
}

static dw_status *status_doc(void)
{
    dw_status *st = dw_status_new();
    st->comparisons = calloc(4, sizeof *st->comparisons);
    st->ncomparisons = 4;
    static const dw_verdict three[] = {DW_VERDICT_FAIL, DW_VERDICT_PASS, DW_VERDICT_INCONCLUSIVE};
    comparison(&st->comparisons[0], "fraud", "v1", "v2", "15m", DW_VERDICT_FAIL, 3, three);
    comparison(&st->comparisons[1], "fraud", "v1", "v2", "1h", DW_VERDICT_PASS, 0, NULL);
    comparison(&st->comparisons[2], "fraud", "v1", "v3", "15m", DW_VERDICT_INCONCLUSIVE, 0, NULL);
    comparison(&st->comparisons[3], "ads", "a", "b", "15m", DW_VERDICT_PASS, 0, NULL);
    return st;
}

static const char *answer(const dw_status *st, dw_compare_query q, unsigned want, json_t **body)
{
    unsigned code = dw_compare_answer(st, &q, body);
    assert_int_equal(code, want);
    const char *v = json_string_value(json_object_get(*body, code == 200 ? "verdict" : "error"));
    assert_non_null(v);
    return v;
}

static void compare_answer(void **state)
{
    (void)state;
    dw_status *st = status_doc();
    json_t *b;
    /* the first window by default; passing columns left out */
    assert_string_equal(answer(st, (dw_compare_query){.model = "fraud", .candidate = "v2"}, 200, &b),
                        "fail");
    assert_string_equal(json_string_value(json_object_get(b, "window")), "15m");
    assert_string_equal(json_string_value(json_object_get(b, "version")), "1");
    json_t *cols = json_object_get(b, "columns");
    assert_int_equal(json_array_size(cols), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 0), "name")), "a");
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 1), "name")), "c");
    json_decref(b);
    answer(st, (dw_compare_query){.model = "fraud", .candidate = "v2", .all_columns = true}, 200,
           &b);
    assert_int_equal(json_array_size(json_object_get(b, "columns")), 3);
    json_decref(b);
    assert_string_equal(
        answer(st, (dw_compare_query){.model = "fraud", .candidate = "v2", .window = "1h"}, 200, &b),
        "pass");
    json_decref(b);
    /* one candidate: candidate may be left out */
    assert_string_equal(answer(st, (dw_compare_query){.model = "ads"}, 200, &b), "pass");
    json_decref(b);
    assert_non_null(strstr(answer(st, (dw_compare_query){.model = "fraud"}, 400, &b),
                           "several candidates"));
    json_decref(b);
    answer(st, (dw_compare_query){.candidate = "v2"}, 400, &b);
    json_decref(b);
    answer(st, (dw_compare_query){.model = "nope"}, 404, &b);
    json_decref(b);
    answer(st, (dw_compare_query){.model = "fraud", .candidate = "v9"}, 404, &b);
    json_decref(b);
    answer(st, (dw_compare_query){.model = "fraud", .candidate = "v2", .window = "6h"}, 404, &b);
    json_decref(b);
    assert_non_null(strstr(
        answer(st, (dw_compare_query){.model = "fraud", .candidate = "v2", .baseline = "v0"}, 404,
               &b),
        "the baseline is \"v1\""));
    json_decref(b);
    assert_string_equal(
        answer(st, (dw_compare_query){.model = "fraud", .candidate = "v2", .baseline = "v1"}, 200,
               &b),
        "fail");
    json_decref(b);
    dw_status_release(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(full_block),
        cmocka_unit_test(refused),
        cmocka_unit_test(compare_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

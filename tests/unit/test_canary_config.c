/* models[].compare and models[].latency (src/config_canary.c), the
 * verdict document of GET /api/v1/compare (src/http_compare.c), and the
 * canary parts of the status snapshot as /api/v1/status, /metrics and /ui
 * render them (src/status.c, metrics_canary.c, ui_canary.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "driftwatch/config.h"
#include "driftwatch/http_compare.h"
#include "driftwatch/metrics.h"
#include "driftwatch/ui.h"

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
    assert_int_equal(m->compare.windows, 3u);               /* both windows */
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
    assert_string_equal(
        answer(st, (dw_compare_query){.model = "fraud", .candidate = "v2"}, 200, &b), "fail");
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
        answer(st, (dw_compare_query){.model = "fraud", .candidate = "v2", .window = "1h"}, 200,
               &b),
        "pass");
    json_decref(b);
    /* one candidate: candidate may be left out */
    assert_string_equal(answer(st, (dw_compare_query){.model = "ads"}, 200, &b), "pass");
    json_decref(b);
    assert_non_null(
        strstr(answer(st, (dw_compare_query){.model = "fraud"}, 400, &b), "several candidates"));
    json_decref(b);
    answer(st, (dw_compare_query){.candidate = "v2"}, 400, &b);
    json_decref(b);
    answer(st, (dw_compare_query){.model = "nope"}, 404, &b);
    json_decref(b);
    answer(st, (dw_compare_query){.model = "fraud", .candidate = "v9"}, 404, &b);
    json_decref(b);
    answer(st, (dw_compare_query){.model = "fraud", .candidate = "v2", .window = "6h"}, 404, &b);
    json_decref(b);
    assert_non_null(
        strstr(answer(st, (dw_compare_query){.model = "fraud", .candidate = "v2", .baseline = "v0"},
                      404, &b),
               "the baseline is \"v1\""));
    json_decref(b);
    assert_string_equal(
        answer(st, (dw_compare_query){.model = "fraud", .candidate = "v2", .baseline = "v1"}, 200,
               &b),
        "fail");
    json_decref(b);
    dw_status_release(st);
}

/* POST /api/v1/compare with Flagger's webhook payload: the query from its
 * metadata (model defaulting to the canary's name), 200 only on pass and
 * 412 with the same evidence on fail or inconclusive (Flagger fails the
 * check on any non-2xx), 400 for what is not such a payload. */
static unsigned webhook(const dw_status *st, const char *req, json_t **body)
{
    return dw_compare_webhook_answer(st, req, strlen(req), body);
}

static void compare_webhook_answer(void **state)
{
    (void)state;
    dw_status *st = status_doc();
    json_t *b;
    assert_int_equal(webhook(st,
                             "{\"name\":\"fraud-api\",\"namespace\":\"ml\",\"phase\":"
                             "\"Progressing\",\"metadata\":{\"model\":\"fraud\","
                             "\"candidate\":\"v2\"}}",
                             &b),
                     412);
    assert_string_equal(json_string_value(json_object_get(b, "verdict")), "fail");
    assert_string_equal(json_string_value(json_object_get(b, "window")), "15m");
    assert_int_equal(json_array_size(json_object_get(b, "columns")), 2); /* the evidence */
    json_decref(b);
    assert_int_equal(webhook(st,
                             "{\"name\":\"x\",\"metadata\":{\"model\":\"fraud\","
                             "\"candidate\":\"v2\",\"window\":\"1h\",\"columns\":\"all\"}}",
                             &b),
                     200);
    assert_string_equal(json_string_value(json_object_get(b, "verdict")), "pass");
    json_decref(b);
    assert_int_equal(webhook(st,
                             "{\"name\":\"x\",\"metadata\":{\"model\":\"fraud\","
                             "\"candidate\":\"v3\"}}",
                             &b),
                     412);
    assert_string_equal(json_string_value(json_object_get(b, "verdict")), "inconclusive");
    json_decref(b);
    /* the canary's name stands for the model; one candidate needs no name */
    assert_int_equal(webhook(st, "{\"name\":\"ads\",\"phase\":\"Progressing\"}", &b), 200);
    json_decref(b);
    /* the errors of GET, and a body that is not Flagger's */
    assert_int_equal(webhook(st, "{\"name\":\"nope\"}", &b), 404);
    json_decref(b);
    assert_int_equal(webhook(st,
                             "{\"name\":\"fraud\",\"metadata\":{\"baseline\":\"v0\","
                             "\"candidate\":\"v2\"}}",
                             &b),
                     404);
    json_decref(b);
    static const char *const bad[] = {
        "",
        "not json",
        "[1]",
        "{\"phase\":\"Progressing\"}",
        "{\"name\":\"fraud\",\"metadata\":[]}",
        "{\"name\":\"fraud\",\"metadata\":{\"candidate\":2}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(webhook(st, bad[i], &b), 400);
        assert_non_null(json_string_value(json_object_get(b, "error")));
        json_decref(b);
    }
    dw_status_release(st);
}

/* ---- the snapshot's latency and comparisons, rendered ---- */

/* One model version "v2" with one window "15m" whose latency has p50 12.5
 * ms, p99.9 without a value yet, an SLO firing at 120 ms (max 100), and
 * two comparisons of v2 against v1 (windows 15m and 1h), the first
 * failing on column "a" (its divergence alert firing) with a latency
 * gate of ratio 2.5. */
static dw_status *canary_status(void)
{
    dw_status *st = dw_status_new();
    st->watermark_ms = 1767225600000;
    st->max_event_ms = 1767225600000;
    st->models = calloc(1, sizeof *st->models);
    st->nmodels = 1;
    dw_status_model *m = &st->models[0];
    m->model = strdup("fraud");
    m->version = strdup("v2");
    m->reference_path = strdup("ref.json");
    m->reference_checksum = strdup("abc");
    m->columns = calloc(1, sizeof *m->columns);
    m->windows = calloc(1, sizeof *m->windows);
    m->nwindows = 1;
    m->windows[0] = (dw_status_window){.name = strdup("15m"),
                                       .length_ms = 900000,
                                       .slide_ms = 60000,
                                       .start_ms = INT64_MIN,
                                       .end_ms = INT64_MIN};
    dw_status_latency *l = calloc(1, sizeof *l);
    l->field = strdup("latency_ms");
    l->unit = strdup("ms");
    l->relative_error = 0.01;
    l->samples = 40;
    l->nquantiles = 2;
    l->quantiles = calloc(2, sizeof *l->quantiles);
    l->values = calloc(2, sizeof *l->values);
    l->quantiles[0] = 0.5;
    l->values[0] = 12.5;
    l->quantiles[1] = 0.999;
    l->values[1] = NAN;
    l->nslos = 1;
    l->slos = calloc(1, sizeof *l->slos);
    l->slos[0] = (dw_status_slo){.name = strdup("p99-100ms"),
                                 .quantile = 0.99,
                                 .max = 100,
                                 .value = 120,
                                 .state = DW_ALERT_FIRING};
    m->windows[0].latency = l;

    static const dw_verdict cols[] = {DW_VERDICT_FAIL, DW_VERDICT_PASS};
    st->comparisons = calloc(2, sizeof *st->comparisons);
    st->ncomparisons = 2;
    comparison(&st->comparisons[0], "fraud", "v1", "v2", "15m", DW_VERDICT_FAIL, 2, cols);
    comparison(&st->comparisons[1], "fraud", "v1", "v2", "1h", DW_VERDICT_PASS, 0, NULL);
    dw_status_comparison *c = &st->comparisons[0];
    c->start_ms = 1767225600000 - 900000;
    c->end_ms = 1767225600000;
    c->summary =
        (dw_compare_summary){.verdict = DW_VERDICT_FAIL, .compared = 2, .failed = 1, .passed = 1};
    c->thresholds.alpha = 0.05;
    c->thresholds.min_samples = 30;
    c->columns[0].state = DW_ALERT_FIRING;
    c->columns[0].c.r =
        (dw_column_result){.type = DW_COL_NUMERIC, .has_ks = true, .drift = true, .psi = 0.4};
    c->columns[0].c.r.ks.statistic = 0.25;
    c->columns[0].c.r.ks.p_value = 1e-9;
    c->columns[0].c.r.p_adjusted = 2e-9;
    c->columns[1].c.r =
        (dw_column_result){.type = DW_COL_CATEGORICAL, .has_chi2 = true, .psi = NAN};
    c->columns[1].c.r.chi2.p_value = 0.5;
    c->latency = calloc(1, sizeof *c->latency);
    c->latency->cmp = (dw_latency_compare){.q = 0.99,
                                           .baseline = 40,
                                           .candidate = 100,
                                           .ratio = 2.5,
                                           .n_baseline = 50,
                                           .n_candidate = 60,
                                           .verdict = DW_VERDICT_FAIL};
    c->latency->max_ratio = 1.5;
    c->latency->relative_error = 0.01;
    c->latency->unit = strdup("ms");
    return st;
}

static void assert_has(const char *text, const char *want)
{
    if (!strstr(text, want))
        fail_msg("missing \"%s\"", want);
}

static void snapshot_json(void **state)
{
    (void)state;
    dw_status *st = canary_status();
    json_t *doc = dw_status_json(st);
    json_t *lat = json_object_get(
        json_array_get(
            json_object_get(json_array_get(json_object_get(doc, "models"), 0), "windows"), 0),
        "latency");
    assert_close(json_real_value(json_object_get(lat, "p50")), 12.5);
    assert_true(json_is_null(json_object_get(lat, "p99_9")));
    assert_close(json_real_value(json_object_get(json_object_get(lat, "quantiles"), "p99_9")),
                 0.999);
    assert_int_equal(json_integer_value(json_object_get(lat, "samples")), 40);
    assert_string_equal(json_string_value(json_object_get(lat, "unit")), "ms");
    json_t *slo = json_array_get(json_object_get(lat, "slos"), 0);
    assert_string_equal(json_string_value(json_object_get(slo, "name")), "p99-100ms");
    assert_string_equal(json_string_value(json_object_get(slo, "state")), "firing");
    assert_close(json_real_value(json_object_get(slo, "value")), 120);

    json_t *all = json_object_get(doc, "comparisons");
    assert_int_equal(json_array_size(all), 2);
    json_t *c = json_array_get(all, 0);
    assert_string_equal(json_string_value(json_object_get(c, "verdict")), "fail");
    assert_string_equal(json_string_value(json_object_get(c, "window_end")),
                        "2026-01-01T00:00:00.000Z");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(c, "summary"), "failed")),
                     1);
    /* the status lists every column, passing ones too, with alert states */
    json_t *cols = json_object_get(c, "columns");
    assert_int_equal(json_array_size(cols), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 0), "state")),
                        "firing");
    assert_true(
        json_is_null(json_object_get(json_object_get(json_array_get(cols, 1), "tests"), "psi")));
    assert_close(json_real_value(json_object_get(json_object_get(c, "latency"), "ratio")), 2.5);
    assert_true(json_is_null(json_object_get(json_array_get(all, 1), "latency")));
    json_decref(doc);
    dw_status_release(st);
}

static void snapshot_metrics_and_page(void **state)
{
    (void)state;
    dw_status *st = canary_status();
    dw_engine_stats stats;
    memset(&stats, 0, sizeof stats);
    stats.latency_invalid = 3;
    dw_metrics_input in = {.version = "1", .stats = &stats, .status = st};
    char *t = dw_metrics_render(&in, NULL, NULL);
    assert_non_null(t);
    static const char *const want[] = {
        "driftwatch_compare_verdict{model=\"fraud\",baseline=\"v1\",candidate=\"v2\","
        "window=\"15m\",verdict=\"fail\"} 1\n",
        "driftwatch_compare_verdict{model=\"fraud\",baseline=\"v1\",candidate=\"v2\","
        "window=\"1h\",verdict=\"pass\"} 1\n",
        "driftwatch_compare_columns{model=\"fraud\",baseline=\"v1\",candidate=\"v2\","
        "window=\"15m\",verdict=\"pass\"} 1\n",
        "driftwatch_compare_column_ks_statistic{model=\"fraud\",baseline=\"v1\",candidate="
        "\"v2\",window=\"15m\",column=\"a\"} 0.25\n",
        "driftwatch_compare_column_p_value{model=\"fraud\",baseline=\"v1\",candidate=\"v2\","
        "window=\"15m\",column=\"b\"} 0.5\n",
        "driftwatch_compare_column_divergent{model=\"fraud\",baseline=\"v1\",candidate=\"v2\","
        "window=\"15m\",column=\"b\"} 0\n",
        "driftwatch_latency_ratio{model=\"fraud\",baseline=\"v1\",candidate=\"v2\","
        "window=\"15m\",quantile=\"0.99\"} 2.5\n",
        "driftwatch_latency_seconds{model=\"fraud\",model_version=\"v2\",window=\"15m\","
        "quantile=\"0.5\"} 0.0125\n",
        "driftwatch_latency_samples{model=\"fraud\",model_version=\"v2\",window=\"15m\"} 40\n",
        "driftwatch_latency_slo_breach{model=\"fraud\",model_version=\"v2\",window=\"15m\","
        "slo=\"p99-100ms\"} 1\n",
        "driftwatch_latency_invalid_total 3\n",
        "driftwatch_alerts_firing{model=\"fraud\",model_version=\"v2\",kind=\"divergence\"} 1\n",
        "driftwatch_alerts_firing{model=\"fraud\",model_version=\"v2\",kind=\"latency\"} 1\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_has(t, want[i]);
    /* no value: no sample (p99.9 not known yet, b's PSI not finite, b has no KS) */
    assert_null(strstr(t, "quantile=\"0.999\""));
    assert_null(strstr(t, "driftwatch_compare_column_psi{model=\"fraud\",baseline=\"v1\","
                          "candidate=\"v2\",window=\"15m\",column=\"b\"}"));
    assert_null(strstr(t, "driftwatch_compare_column_ks_statistic{model=\"fraud\",baseline="
                          "\"v1\",candidate=\"v2\",window=\"15m\",column=\"b\"}"));
    /* one divergence sample per (model, candidate), not one per window */
    const char *div = strstr(t, "kind=\"divergence\"");
    assert_null(strstr(div + 1, "kind=\"divergence\""));
    free(t);

    char *page = dw_ui_render(st, NULL, NULL, NULL);
    assert_non_null(page);
    assert_has(page, "Versions side by side");
    assert_has(page, "<td class=\"firing\"><span class=\"badge\">fail</span>");
    assert_has(page, "<td class=\"v\">2.5</td>");
    assert_has(page, " &middot; latency p50 <b>12.5</b> ms");
    assert_has(page, "SLO p99-100ms <b class=\"firing\"");
    free(page);
    dw_status_release(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(full_block),
        cmocka_unit_test(refused),
        cmocka_unit_test(compare_answer),
        cmocka_unit_test(compare_webhook_answer),
        cmocka_unit_test(snapshot_json),
        cmocka_unit_test(snapshot_metrics_and_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

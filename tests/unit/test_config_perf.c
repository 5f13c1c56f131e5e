/* The labels section and models[].performance (src/config_perf.c):
 * defaults, values, and every refusal with file:line and reason. */
#include "driftwatch/config.h"
#include "driftwatch/error.h"
#include "driftwatch/perf.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config_fixture.h"

/* Seven lines: a performance block's keys follow on line 8. */
#define BASE                                                                                       \
    "kafka: {brokers: 127.0.0.1:9092, topics: [preds]}\n"                                          \
    "models:\n"                                                                                    \
    "  - name: fraud\n"                                                                            \
    "    reference: r.json\n"                                                                      \
    "    performance:\n"                                                                           \
    "      task: classification\n"                                                                 \
    "      positive: fraud\n"

static dw_config *parse_ok(const char *text)
{
    return dwt_parse_ok(text, "/etc/dw");
}

static void expect_error(const char *text, const char *msg)
{
    dwt_parse_error(text, 0, msg);
}

static void test_defaults(void **state)
{
    (void)state;
    dw_config *cfg = parse_ok(BASE "      score: prediction.score\n"
                                   "labels: {}\n");
    const dw_perf_config *p = &cfg->models[0].perf;
    assert_true(p->enabled);
    assert_int_equal(p->kind, DW_PERF_CLASSIFICATION);
    assert_string_equal(p->positive, "fraud");
    assert_string_equal(p->score, "prediction.score");
    assert_null(p->predicted);
    /* 0.5 and 0.95 are exact in binary: compared exactly on purpose. */
    assert_true(p->threshold == 0.5 && p->confidence == 0.95);
    assert_int_equal(p->score_bins, DW_PERF_DEFAULT_SCORE_BINS);
    assert_int_equal(p->ece_bins, DW_PERF_DEFAULT_ECE_BINS);
    assert_int_equal(p->min_labels, 200);
    assert_true(p->estimate);
    assert_int_equal(p->nrules, 0);
    assert_int_equal(p->line, 6);
    const dw_labels_config *l = &cfg->labels;
    assert_true(l->enabled);
    assert_int_equal(l->ntopics, 0);
    assert_string_equal(l->key, "request_id");
    assert_string_equal(l->label, "label");
    assert_string_equal(l->timestamp, "ts");
    assert_int_equal(l->max_delay_ms, 3600 * 1000);
    assert_int_equal(l->max_early_ms, 0);
    assert_int_equal(l->memory_mb, 256);
    dw_config_free(cfg);
}

static void test_values(void **state)
{
    (void)state;
    dw_config *cfg = parse_ok(BASE "      predicted: prediction.label\n"
                                   "      reference_data: valid.csv\n"
                                   "      reference_label: y\n"
                                   "      min_labels: 50\n"
                                   "      confidence: 0.9\n"
                                   "      rules:\n"
                                   "        - {metric: accuracy, margin: 0.02}\n"
                                   "        - {metric: recall, reference: 0.7}\n"
                                   "labels:\n"
                                   "  topics: [labels, preds]\n"
                                   "  key: meta.id\n"
                                   "  label: outcome\n"
                                   "  timestamp: labelled_at\n"
                                   "  max_delay: 2h\n"
                                   "  max_early: 10m\n"
                                   "  memory_mb: 16\n");
    const dw_perf_config *p = &cfg->models[0].perf;
    assert_false(p->estimate); /* no score: nothing to estimate from */
    assert_string_equal(p->reference_data, "/etc/dw/valid.csv");
    assert_string_equal(p->reference_label, "y");
    assert_int_equal(p->min_labels, 50);
    assert_int_equal(p->nrules, 2);
    assert_int_equal(p->rules[0].metric, DW_PERF_ACCURACY);
    assert_true(isnan(p->rules[0].reference));
    assert_int_equal(p->rules[0].line, 14);
    assert_int_equal(p->rules[1].metric, DW_PERF_RECALL);
    assert_true(p->rules[1].reference == 0.7 && p->rules[1].margin == 0);
    const dw_labels_config *l = &cfg->labels;
    assert_int_equal(l->ntopics, 2);
    assert_string_equal(l->topics[0], "labels");
    assert_string_equal(l->key, "meta.id");
    assert_string_equal(l->timestamp, "labelled_at");
    assert_int_equal(l->max_delay_ms, 2 * 3600 * 1000);
    assert_int_equal(l->max_early_ms, 600 * 1000);
    assert_int_equal(l->memory_mb, 16);
    dw_config_free(cfg);

    cfg = parse_ok("kafka: {brokers: b, topics: [t]}\n"
                   "models:\n"
                   "  - name: m\n"
                   "    reference: r.json\n"
                   "    performance:\n"
                   "      task: regression\n"
                   "      predicted: prediction.value\n"
                   "      rules: [{metric: rmse, reference: 1.5, margin: 0.1}]\n"
                   "labels: {topics: [l]}\n");
    assert_int_equal(cfg->models[0].perf.kind, DW_PERF_REGRESSION);
    assert_false(cfg->models[0].perf.estimate);
    assert_int_equal(cfg->models[0].perf.rules[0].metric, DW_PERF_RMSE);
    dw_config_free(cfg);
}

static void test_refused(void **state)
{
    (void)state;
    expect_error(BASE "      score: s\n",
                 "test.yaml:6: models[0].performance: model \"fraud\" needs a labels section to "
                 "read its labels from");
    expect_error("kafka: {brokers: b, topics: [t]}\n"
                 "models: [{name: m, reference: r.json}]\n"
                 "labels: {topics: [l]}\n",
                 "test.yaml:3: labels: no model has a performance block, so labels would be "
                 "read for nothing");
    expect_error(BASE "labels: {}\n",
                 "test.yaml:6: models[0].performance: classification needs score (P(positive)) "
                 "or predicted (the predicted class), or both");
    expect_error("kafka: {brokers: b, topics: [t]}\n"
                 "models:\n"
                 "  - name: m\n"
                 "    reference: r.json\n"
                 "    performance: {task: classification, score: s}\n"
                 "labels: {}\n",
                 "test.yaml:5: models[0].performance: classification needs positive (the "
                 "positive class)");
    expect_error(BASE "      score: s\n"
                      "      rules:\n"
                      "        - {metric: accuracy}\n"
                      "labels: {}\n",
                 "test.yaml:10: models[0].performance.rules[0]: needs a reference value "
                 "(reference: ...) or performance.reference_data to compute it from");
    expect_error(BASE "      score: s\n"
                      "      rules: [{metric: ece, reference: 0.1}]\n"
                      "labels: {}\n",
                 "test.yaml:9: models[0].performance.rules[0].metric: ece has no confidence "
                 "interval, so it cannot be alerted on (it is still reported)");
    expect_error(BASE "      predicted: p\n"
                      "      rules: [{metric: auc, reference: 0.9}]\n"
                      "labels: {}\n",
                 "test.yaml:9: models[0].performance.rules[0].metric: auc needs "
                 "performance.score");
    expect_error(BASE "      score: s\n"
                      "      rules:\n"
                      "        - {metric: f1, reference: 0.9}\n"
                      "        - {metric: f1, reference: 0.8}\n"
                      "labels: {}\n",
                 "test.yaml:11: models[0].performance.rules[1]: a second rule for f1 (first at "
                 "line 10)");
    expect_error(
        BASE "      score: s\n"
             "      confidence: 1\n"
             "labels: {}\n",
        "test.yaml:9: models[0].performance.confidence: 1 is out of range (must be > 0 and < 1)");
    expect_error(BASE "      score: s\n"
                      "labels: {max_delay: 0s}\n",
                 "test.yaml:9: labels.max_delay: 0s is out of range (1s to 30d)");
    expect_error(BASE "      score: s\n"
                      "labels: {label: features.y}\n",
                 "test.yaml:9: labels.label: \"features.y\" lies under records.columns "
                 "\"features\": a label record must be told apart from a prediction by having "
                 "no prediction fields");
    expect_error(BASE "      score: s\n"
                      "      bins: 3\n"
                      "labels: {}\n",
                 "test.yaml:9: models[0].performance: unknown key \"bins\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

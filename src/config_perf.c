/* The labels section and models[].performance (docs/configuration.md,
 * docs/performance.md): the schema of issue 14's keys, kept out of
 * config.c so that file only calls in. */
#include "config_perf_int.h"

#include "driftwatch/error.h"
#include "driftwatch/perf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int parse_rule(dw_yaml_ctx *c, yaml_node_t *v, const char *path, dw_perf_config *p,
                      dw_perf_rule_config *r)
{
    static const char *const keys[] = {"metric", "margin", "reference"};
    char *name = NULL;
    int rc;
    r->line = dw_yaml_line_of(v);
    if ((rc = DW_YAML_CHECK_MAP(c, v, path, keys, 0)) ||
        (rc = dw_yaml_get_string(c, v, path, "metric", true, NULL, dw_yaml_v_nonempty, &name)))
        return rc;
    dw_perf_metric m;
    yaml_node_t *mn = dw_yaml_map_get(c, v, "metric");
    if (dw_perf_metric_parse(name, &m) < 0) {
        rc = dw_yaml_fail(c, mn, DW_ERR_INVALID,
                          "%s.metric: \"%.40s\" is not a metric (accuracy, precision, recall, f1, "
                          "auc, brier, ece, mae, rmse, bias)",
                          path, name);
        free(name);
        return rc;
    }
    free(name);
    if ((int)dw_perf_metric_kind(m) != p->kind)
        return dw_yaml_fail(c, mn, DW_ERR_INVALID, "%s.metric: %s is not a %s metric", path,
                            dw_perf_metric_name(m),
                            p->kind == DW_PERF_CLASSIFICATION ? "classification" : "regression");
    if (m == DW_PERF_ECE)
        return dw_yaml_fail(c, mn, DW_ERR_INVALID,
                            "%s.metric: ece has no confidence interval, so it cannot be alerted "
                            "on (it is still reported)",
                            path);
    if ((m == DW_PERF_AUC || m == DW_PERF_BRIER) && !p->score)
        return dw_yaml_fail(c, mn, DW_ERR_INVALID, "%s.metric: %s needs performance.score", path,
                            dw_perf_metric_name(m));
    r->metric = (int)m;
    if ((rc = dw_yaml_get_double(c, v, path, "margin", 0, 0, false, INFINITY, true, &r->margin,
                                 NULL)) ||
        (rc = dw_yaml_get_double(c, v, path, "reference", NAN, -INFINITY, true, INFINITY, true,
                                 &r->reference, NULL)))
        return rc;
    if (isnan(r->reference) && !p->reference_data)
        return dw_yaml_fail(c, v, DW_ERR_INVALID,
                            "%s: needs a reference value (reference: ...) or "
                            "performance.reference_data to compute it from",
                            path);
    return 0;
}

int dw_cfg_parse_performance(dw_yaml_ctx *c, yaml_node_t *mv, const char *mpath, dw_model_config *m)
{
    static const char *const keys[] = {"task",           "positive",   "score",    "predicted",
                                       "threshold",      "score_bins", "ece_bins", "confidence",
                                       "min_labels",     "estimate",   "rules",    "reference_data",
                                       "reference_label"};
    static const char *const tasks[] = {"classification", "regression"};
    char path[DW_YAML_PATHLEN], rp[DW_YAML_PATHLEN];
    dw_yaml_join_path(path, mpath, "performance");
    yaml_node_t *v;
    int rc = dw_yaml_get_section(c, mv, mpath, "performance", keys, NELEM(keys), &v);
    if (rc || !v)
        return rc;
    dw_perf_config *p = &m->perf;
    p->enabled = true;
    p->line = dw_yaml_line_of(v);
    int task;
    int64_t sb, eb, ml;
    char *refdata = NULL;
    if ((rc = dw_yaml_get_enum(c, v, path, "task", tasks, NELEM(tasks), 0, &task)))
        return rc;
    p->kind = task == 0 ? DW_PERF_CLASSIFICATION : DW_PERF_REGRESSION;
    if ((rc = dw_yaml_get_string(c, v, path, "positive", false, NULL, dw_yaml_v_nonempty,
                                 &p->positive)) ||
        (rc = dw_yaml_get_string(c, v, path, "score", false, NULL, dw_cfg_v_dotted, &p->score)) ||
        (rc = dw_yaml_get_string(c, v, path, "predicted", false, NULL, dw_cfg_v_dotted,
                                 &p->predicted)) ||
        (rc = dw_yaml_get_double(c, v, path, "threshold", 0.5, 0, false, 1, false, &p->threshold,
                                 NULL)) ||
        (rc = dw_yaml_get_int(c, v, path, "score_bins", DW_PERF_DEFAULT_SCORE_BINS, 2,
                              DW_PERF_MAX_BINS, &sb)) ||
        (rc = dw_yaml_get_int(c, v, path, "ece_bins", DW_PERF_DEFAULT_ECE_BINS, 2, 1000, &eb)) ||
        (rc = dw_yaml_get_double(c, v, path, "confidence", 0.95, 0, true, 1, true, &p->confidence,
                                 NULL)) ||
        (rc = dw_yaml_get_int(c, v, path, "min_labels", 200, 1, 1000000000, &ml)) ||
        (rc = dw_yaml_get_bool(c, v, path, "estimate", true, &p->estimate)) ||
        (rc = dw_yaml_get_string(c, v, path, "reference_data", false, NULL, dw_yaml_v_nonempty,
                                 &refdata)) ||
        (rc = dw_yaml_get_string(c, v, path, "reference_label", false, "label", dw_yaml_v_nonempty,
                                 &p->reference_label)))
        return rc;
    p->score_bins = (uint32_t)sb;
    p->ece_bins = (uint32_t)eb;
    p->min_labels = (uint64_t)ml;
    if (refdata) {
        p->reference_data = dw_yaml_resolve_path(c->basedir, refdata);
        free(refdata);
    }
    if (p->kind == DW_PERF_CLASSIFICATION) {
        if (!p->positive)
            return dw_yaml_fail(c, v, DW_ERR_INVALID,
                                "%s: classification needs positive (the positive class)", path);
        if (!p->score && !p->predicted)
            return dw_yaml_fail(c, v, DW_ERR_INVALID,
                                "%s: classification needs score (P(positive)) or predicted (the "
                                "predicted class), or both",
                                path);
        if (!p->score)
            p->estimate = false;
    } else {
        if (!p->predicted)
            return dw_yaml_fail(c, v, DW_ERR_INVALID,
                                "%s: regression needs predicted (the predicted value's path)",
                                path);
        if (p->positive || p->score)
            return dw_yaml_fail(c, dw_yaml_map_get(c, v, p->positive ? "positive" : "score"),
                                DW_ERR_INVALID, "%s: %s is for classification only", path,
                                p->positive ? "positive" : "score");
        p->estimate = false;
    }
    dw_yaml_join_path(rp, path, "rules");
    yaml_node_t *rules = dw_yaml_map_get(c, v, "rules");
    if (dw_yaml_is_null(rules))
        return 0;
    if ((rc = dw_yaml_check_seq(c, rules, rp, 0, DW_CONFIG_MAX_PERF_RULES)))
        return rc;
    p->nrules = dw_yaml_seq_size(rules);
    p->rules = dw_calloc(p->nrules ? p->nrules : 1, sizeof *p->rules);
    char ip[DW_YAML_PATHLEN];
    for (size_t i = 0; i < p->nrules; i++) {
        if ((rc = parse_rule(c, dw_yaml_seq_item(c, rules, i), dw_yaml_index_path(ip, rp, i), p,
                             &p->rules[i])))
            return rc;
        for (size_t j = 0; j < i; j++)
            if (p->rules[j].metric == p->rules[i].metric)
                return dw_yaml_fail(c, dw_yaml_seq_item(c, rules, i), DW_ERR_INVALID,
                                    "%s: a second rule for %s (first at line %d)", ip,
                                    dw_perf_metric_name(p->rules[i].metric), p->rules[j].line);
    }
    return 0;
}

int dw_cfg_parse_labels(dw_yaml_ctx *c, yaml_node_t *root)
{
    static const char *const keys[] = {"topics",    "key",       "label",    "timestamp",
                                       "max_delay", "max_early", "memory_mb"};
    dw_config *cfg = c->cfg;
    dw_labels_config *l = &cfg->labels;
    yaml_node_t *sec;
    int rc = dw_yaml_get_section(c, root, "", "labels", keys, NELEM(keys), &sec);
    if (rc)
        return rc;
    const dw_model_config *perf_model = NULL;
    for (size_t i = 0; i < cfg->nmodels && !perf_model; i++)
        if (cfg->models[i].perf.enabled)
            perf_model = &cfg->models[i];
    if (!sec) {
        if (!perf_model)
            return 0;
        size_t i = (size_t)(perf_model - cfg->models);
        char ip[DW_YAML_PATHLEN];
        yaml_node_t *mn = dw_yaml_seq_item(c, dw_yaml_map_get(c, root, "models"), i);
        return dw_yaml_fail(c, dw_yaml_map_get(c, mn, "performance"), DW_ERR_INVALID,
                            "%s.performance: model \"%.80s\" needs a labels section to read "
                            "its labels from",
                            dw_yaml_index_path(ip, "models", i), perf_model->name);
    }
    if (!perf_model)
        return dw_yaml_fail(c, sec, DW_ERR_INVALID,
                            "labels: no model has a performance block, so labels would be read "
                            "for nothing");
    l->enabled = true;
    if ((rc = dw_yaml_get_strv(c, sec, "labels", "topics", false, NULL, 0, 0, DW_CONFIG_MAX_TOPICS,
                               dw_cfg_v_topic, &l->topics, &l->ntopics)) ||
        (rc = dw_yaml_get_string(c, sec, "labels", "key", false, "request_id", dw_cfg_v_dotted,
                                 &l->key)) ||
        (rc = dw_yaml_get_string(c, sec, "labels", "label", false, "label", dw_cfg_v_dotted,
                                 &l->label)) ||
        (rc = dw_yaml_get_string(c, sec, "labels", "timestamp", false, cfg->records.timestamp,
                                 dw_cfg_v_dotted, &l->timestamp)) ||
        (rc = dw_yaml_get_duration(c, sec, "labels", "max_delay", 3600 * 1000, 1000,
                                   30LL * 24 * 3600 * 1000, &l->max_delay_ms, NULL)) ||
        (rc = dw_yaml_get_duration(c, sec, "labels", "max_early", 0, 0, 30LL * 24 * 3600 * 1000,
                                   &l->max_early_ms, NULL)) ||
        (rc = dw_yaml_get_int(c, sec, "labels", "memory_mb", 256, 1, 1048576, &l->memory_mb)))
        return rc;
    /* The join key and label must not be read as monitored columns'
     * values by accident: a label path under records.columns would make
     * every label look like a prediction (the merged-stream rule). */
    bool shared = l->ntopics == 0;
    for (size_t i = 0; i < l->ntopics; i++)
        for (size_t k = 0; k < cfg->kafka.ntopics; k++)
            shared = shared || !strcmp(l->topics[i], cfg->kafka.topics[k]);
    for (size_t i = 0; shared && i < cfg->records.ncolumns; i++) {
        size_t n = strlen(cfg->records.columns[i]);
        if (!strncmp(l->label, cfg->records.columns[i], n) && (l->label[n] == '.' || !l->label[n]))
            return dw_yaml_fail(c, dw_yaml_map_get(c, sec, "label"), DW_ERR_INVALID,
                                "labels.label: \"%.80s\" lies under records.columns \"%.80s\": a "
                                "label record must be told apart from a prediction by having "
                                "no prediction fields",
                                l->label, cfg->records.columns[i]);
    }
    return 0;
}

void dw_cfg_free_performance(dw_perf_config *p)
{
    free(p->positive);
    free(p->score);
    free(p->predicted);
    free(p->reference_data);
    free(p->reference_label);
    free(p->rules);
}

void dw_cfg_free_labels(dw_labels_config *l)
{
    dw_yaml_free_strv(l->topics, l->ntopics);
    free(l->key);
    free(l->label);
    free(l->timestamp);
}

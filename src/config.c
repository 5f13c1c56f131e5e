/* YAML/JSON configuration: libyaml's document API builds the node tree (with
 * 0-based marks that we report 1-based), and this file walks it against the
 * schema in docs/configuration.md. The walk is by key, not by file order, so
 * sections that others depend on (thresholds before models, models before
 * sinks and retrain) are parsed first. */
#include "driftwatch/config.h"

#include "driftwatch/duration.h"
#include "driftwatch/error.h"
#include "driftwatch/model.h"
#include "driftwatch/scanner.h"
#include "driftwatch/sink.h"
#include "driftwatch/state_dir.h"

#include "config_canary_int.h"
#include "config_perf_int.h"
#include "config_yaml_int.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Every configured window becomes one window of each model (model.h): a
 * configuration the loader accepts must fit there. */
_Static_assert(DW_CONFIG_MAX_WINDOWS <= DW_MAX_WINDOWS,
               "DW_CONFIG_MAX_WINDOWS (config.h) exceeds DW_MAX_WINDOWS (model.h)");

/* ------------------------------------------------------ schema validators */

/* What the name-like values share: not empty, at most max bytes, and with
 * bad_char (NULL: any bytes) only letters, digits, '_', '-' and '.'.
 * NULL when acceptable, else the reason. */
static const char *v_text(const char *s, size_t max, const char *too_long, const char *bad_char)
{
    if (!*s)
        return "must not be empty";
    if (strlen(s) > max)
        return too_long;
    for (; bad_char && *s; s++)
        if (!dw_yaml_var_char(*s) && *s != '-' && *s != '.')
            return bad_char;
    return NULL;
}

/* Window, sink and retrain names appear in metric labels and URLs. */
static const char *v_name(const char *s)
{
    return v_text(s, DW_CONFIG_MAX_NAME, "is longer than 64 characters",
                  "may contain only letters, digits, '_', '-' and '.'");
}

static const char *v_model_name(const char *s)
{
    return v_text(s, 255, "is longer than 255 bytes", NULL);
}

/* Kafka's own rule for topic names. */
static const char *v_topic(const char *s)
{
    const char *why = v_text(s, 249, "is longer than 249 characters (Kafka's limit)",
                             "may contain only letters, digits, '.', '_' and '-' (Kafka's rule)");
    if (!why && (!strcmp(s, ".") || !strcmp(s, "..")))
        return "is not a valid Kafka topic name";
    return why;
}

/* Names of a dotted path; 0 when it is not one. */
static int dotted_depth(const char *s)
{
    if (!*s || s[0] == '.' || s[strlen(s) - 1] == '.' || strstr(s, ".."))
        return 0;
    int n = 1;
    for (; *s; s++)
        n += *s == '.';
    return n;
}

/* A field's path: the record reader sees fields DW_SCAN_MAX_DEPTH deep. */
static const char *v_dotted(const char *s)
{
    const char *why = v_text(s, 255, "is longer than 255 bytes", NULL);
    if (why)
        return why;
    int d = dotted_depth(s);
    if (!d)
        return "is not a dotted path (like \"features\" or \"meta.ts\")";
    if (d > DW_SCAN_MAX_DEPTH)
        return "is nested deeper than records are read (at most 3 names, like \"a.b.c\")";
    return NULL;
}

/* An object whose members are columns: the members are one level deeper. */
static const char *v_columns_path(const char *s)
{
    const char *why = v_dotted(s);
    if (!why && dotted_depth(s) > DW_SCAN_MAX_DEPTH - 1)
        return "is nested too deep: its members would be deeper than records are read (at most "
               "2 names, like \"payload.features\")";
    return why;
}

static const char *v_property(const char *key)
{
    static const struct {
        const char *prop, *use;
    } reserved[] = {
        {"bootstrap.servers", "kafka.brokers"},
        {"metadata.broker.list", "kafka.brokers"},
        {"group.id", "kafka.group_id"},
        {"auto.offset.reset", "kafka.auto_offset_reset"},
    };
    static char msg[96];
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        if (!strcmp(key, reserved[i].prop)) {
            snprintf(msg, sizeof msg, "is set by driftwatch (use %s)", reserved[i].use);
            return msg;
        }
    }
    return *key ? NULL : "must not be empty";
}

const char *dw_cfg_v_topic(const char *s)
{
    return v_topic(s);
}

const char *dw_cfg_v_dotted(const char *s)
{
    return v_dotted(s);
}

/* ------------------------------------------------------------ thresholds */

/* The threshold keys set in one mapping: bit i of set stands for
 * dw_threshold_keys[i] (drift.h, which also parses them for `check`). */
typedef struct th_override {
    dw_thresholds v;
    unsigned set;
    yaml_node_t *where[DW_THRESHOLD_NKEYS]; /* value node of each set key, for messages */
} th_override;

/* Reads the threshold keys present in map (other keys are the caller's). */
static int read_thresholds(dw_yaml_ctx *c, yaml_node_t *map, const char *path, th_override *o)
{
    memset(o, 0, sizeof *o);
    char p[DW_YAML_PATHLEN], why[160];
    for (int i = 0; i < DW_THRESHOLD_NKEYS; i++) {
        yaml_node_t *w = dw_yaml_map_get(c, map, dw_threshold_keys[i]);
        if (dw_yaml_is_null(w))
            continue;
        char *s;
        dw_yaml_join_path(p, path, dw_threshold_keys[i]);
        int rc = dw_yaml_scalar_text(c, w, p, &s);
        if (rc)
            return rc;
        const char *bad = dw_thresholds_set(&o->v, i, s, why, sizeof why);
        free(s);
        if (bad)
            return dw_yaml_fail(c, w, DW_ERR_INVALID, "%s: %s", p, bad);
        o->set |= 1u << i;
        o->where[i] = w;
    }
    return 0;
}

static void apply_thresholds(dw_thresholds *t, const th_override *o)
{
    for (int i = 0; i < DW_THRESHOLD_NKEYS; i++)
        if (o->set & (1u << i))
            dw_thresholds_copy(t, &o->v, i);
}

/* A "thresholds:" block at map[key] applied onto *t. */
static int get_thresholds(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, dw_thresholds *t,
                          th_override *ov)
{
    yaml_node_t *sec;
    char p[DW_YAML_PATHLEN];
    int rc = dw_yaml_get_section(c, map, parent, "thresholds", dw_threshold_keys,
                                 DW_THRESHOLD_NKEYS, &sec);
    if (rc)
        return rc;
    memset(ov, 0, sizeof *ov);
    if (!sec)
        return 0;
    if ((rc = read_thresholds(c, sec, dw_yaml_join_path(p, parent, "thresholds"), ov)))
        return rc;
    apply_thresholds(t, ov);
    return 0;
}

int dw_cfg_thresholds_block(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, dw_thresholds *t)
{
    th_override ov;
    return get_thresholds(c, map, parent, t, &ov);
}

/* ----------------------------------------------------------------- kafka */

static int parse_kafka(dw_yaml_ctx *c, yaml_node_t *root)
{
    static const char *const keys[] = {
        "brokers",    "topics",       "group_id",        "auto_offset_reset", "dead_letter_topic",
        "properties", "poll_timeout", "commit_interval", "max_message_bytes",
    };
    static const char *const resets[] = {"earliest", "latest"};
    dw_kafka_config *k = &c->cfg->kafka;
    yaml_node_t *sec = dw_yaml_map_get(c, root, "kafka");
    if (!sec)
        return dw_yaml_fail(c, root, DW_ERR_INVALID, "missing required section \"kafka\"");
    if (dw_yaml_is_null(sec))
        return dw_yaml_fail(c, sec, DW_ERR_INVALID, "kafka: must not be empty");
    int rc, e;
    int64_t n;
    if ((rc = DW_YAML_CHECK_MAP(c, sec, "kafka", keys, 0)) ||
        (rc = dw_yaml_get_string(c, sec, "kafka", "brokers", true, NULL, dw_yaml_v_no_space,
                                 &k->brokers)) ||
        (rc = dw_yaml_get_strv(c, sec, "kafka", "topics", true, NULL, 0, 1, DW_CONFIG_MAX_TOPICS,
                               v_topic, &k->topics, &k->ntopics)) ||
        (rc = dw_yaml_get_string(c, sec, "kafka", "group_id", false, "driftwatch",
                                 dw_yaml_v_no_space, &k->group_id)) ||
        (rc = dw_yaml_get_enum(c, sec, "kafka", "auto_offset_reset", resets, NELEM(resets),
                               DW_OFFSET_EARLIEST, &e)) ||
        (rc = dw_yaml_get_string(c, sec, "kafka", "dead_letter_topic", false, NULL, v_topic,
                                 &k->dead_letter_topic)) ||
        (rc = dw_yaml_get_kv(c, sec, "kafka", "properties", DW_CONFIG_MAX_MAP, v_property, NULL,
                             &k->properties, &k->nproperties)) ||
        (rc = dw_yaml_get_duration(c, sec, "kafka", "poll_timeout", 100, 1, 60000,
                                   &k->poll_timeout_ms, NULL)) ||
        (rc = dw_yaml_get_duration(c, sec, "kafka", "commit_interval", 5000, 1, 24 * 3600 * 1000,
                                   &k->commit_interval_ms, NULL)) ||
        (rc = dw_yaml_get_int(c, sec, "kafka", "max_message_bytes", 1048576, 1024, 1000000000, &n)))
        return rc;
    k->auto_offset_reset = (dw_offset_reset)e;
    k->max_message_bytes = n;
    return 0;
}

/* --------------------------------------------------------------- records */

static int parse_records(dw_yaml_ctx *c, yaml_node_t *root)
{
    static const char *const keys[] = {"timestamp", "model",         "model_version", "columns",
                                       "fields",    "default_model", "max_fields"};
    static const char *const def_columns[] = {"features", "prediction"};
    dw_records_config *r = &c->cfg->records;
    yaml_node_t *sec;
    int rc = dw_yaml_get_section(c, root, "", "records", keys, NELEM(keys), &sec);
    if (rc)
        return rc;
    if ((rc = dw_yaml_get_string(c, sec, "records", "timestamp", false, "ts", v_dotted,
                                 &r->timestamp)) ||
        (rc =
             dw_yaml_get_string(c, sec, "records", "model", false, "model", v_dotted, &r->model)) ||
        (rc = dw_yaml_get_string(c, sec, "records", "model_version", false, "model_version",
                                 v_dotted, &r->model_version)) ||
        (rc = dw_yaml_get_strv(c, sec, "records", "columns", false, def_columns, NELEM(def_columns),
                               0, DW_CONFIG_MAX_LIST, v_columns_path, &r->columns, &r->ncolumns)) ||
        (rc = dw_yaml_get_strv(c, sec, "records", "fields", false, NULL, 0, 0, DW_CONFIG_MAX_LIST,
                               v_dotted, &r->fields, &r->nfields)) ||
        (rc = dw_yaml_get_string(c, sec, "records", "default_model", false, NULL, v_model_name,
                                 &r->default_model)))
        return rc;
    int64_t mf;
    if ((rc = dw_yaml_get_int(c, sec, "records", "max_fields", 1024, 16, 65536, &mf)))
        return rc;
    r->max_fields = (size_t)mf;
    if (r->ncolumns + r->nfields == 0)
        return dw_yaml_fail(
            c, sec, DW_ERR_INVALID,
            "records: columns and fields are both empty, so nothing would be monitored");
    if (r->default_model) {
        bool any = false;
        for (size_t i = 0; i < c->cfg->nmodels && !any; i++)
            any = !strcmp(c->cfg->models[i].name, r->default_model);
        if (!any)
            return dw_yaml_fail(c, dw_yaml_map_get(c, sec, "default_model"), DW_ERR_NOT_FOUND,
                                "records.default_model: \"%.80s\" is not one of the models",
                                r->default_model);
    }
    return 0;
}

/* ---------------------------------------------------------------- models */

static int cmp_column(const void *a, const void *b)
{
    return strcmp(((const dw_column_config *)a)->name, ((const dw_column_config *)b)->name);
}

static int parse_column(dw_yaml_ctx *c, dw_model_config *m, yaml_node_t *kn, yaml_node_t *v,
                        const char *path, dw_column_config *col)
{
    /* A column entry takes the threshold keys inline too. */
    const char *keys[2 + DW_THRESHOLD_NKEYS] = {"ignore", "thresholds"};
    memcpy(keys + 2, dw_threshold_keys, sizeof dw_threshold_keys);
    col->name = dw_strdup((const char *)kn->data.scalar.value);
    col->line = dw_yaml_line_of(kn);
    col->thresholds = m->thresholds;
    if (!*col->name)
        return dw_yaml_fail(c, kn, DW_ERR_INVALID, "%s: column names must not be empty", path);
    if (dw_yaml_is_null(v))
        return 0;
    int rc;
    th_override nested, inl;
    if ((rc = DW_YAML_CHECK_MAP(c, v, path, keys, 0)) ||
        (rc = dw_yaml_get_bool(c, v, path, "ignore", false, &col->ignore)) ||
        (rc = get_thresholds(c, v, path, &col->thresholds, &nested)) ||
        (rc = read_thresholds(c, v, path, &inl)))
        return rc;
    unsigned both = nested.set & inl.set;
    if (both) {
        int b = __builtin_ctz(both);
        return dw_yaml_fail(c, inl.where[b], DW_ERR_INVALID,
                            "%s: \"%s\" is set both here and under thresholds", path,
                            dw_threshold_keys[b]);
    }
    apply_thresholds(&col->thresholds, &inl);
    return 0;
}

static int parse_model(dw_yaml_ctx *c, yaml_node_t *v, const char *path, dw_model_config *m)
{
    static const char *const keys[] = {"name",    "version", "reference", "thresholds",
                                       "columns", "compare", "latency",   "performance"};
    m->line = dw_yaml_line_of(v);
    m->thresholds = c->cfg->thresholds;
    int rc;
    char *ref = NULL;
    th_override ov;
    if ((rc = DW_YAML_CHECK_MAP(c, v, path, keys, 0)) ||
        (rc = dw_yaml_get_string(c, v, path, "name", true, NULL, v_model_name, &m->name)) ||
        (rc = dw_yaml_get_string(c, v, path, "version", false, NULL, v_model_name, &m->version)) ||
        (rc = dw_yaml_get_string(c, v, path, "reference", true, NULL, dw_yaml_v_nonempty, &ref)) ||
        (rc = get_thresholds(c, v, path, &m->thresholds, &ov)))
        return rc;
    m->reference = dw_yaml_resolve_path(c->basedir, ref);
    m->reference_line = dw_yaml_line_of(dw_yaml_map_get(c, v, "reference"));
    free(ref);
    if ((rc = dw_cfg_parse_performance(c, v, path, m)))
        return rc;

    char cp[DW_YAML_PATHLEN], ccp[DW_YAML_PATHLEN];
    dw_yaml_join_path(cp, path, "columns");
    yaml_node_t *cols = dw_yaml_map_get(c, v, "columns");
    if (dw_yaml_is_null(cols))
        return 0;
    if ((rc = dw_yaml_check_map(c, cols, cp, NULL, 0, DW_CONFIG_MAX_COLUMN_OVERRIDES)))
        return rc;
    size_t n = dw_yaml_map_size(cols);
    m->columns = dw_calloc(n, sizeof *m->columns);
    m->ncolumns = n;
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *pair = &cols->data.mapping.pairs.start[i];
        yaml_node_t *kn = dw_yaml_node_at(c, pair->key);
        dw_yaml_join_path(ccp, cp, (const char *)kn->data.scalar.value);
        if ((rc = parse_column(c, m, kn, dw_yaml_node_at(c, pair->value), ccp, &m->columns[i])))
            return rc;
    }
    qsort(m->columns, n, sizeof *m->columns, cmp_column);
    return 0;
}

static bool same_opt(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static int parse_models(dw_yaml_ctx *c, yaml_node_t *root)
{
    char ip[DW_YAML_PATHLEN];
    yaml_node_t *v = dw_yaml_map_get(c, root, "models");
    if (!v)
        return dw_yaml_fail(c, root, DW_ERR_INVALID, "missing required section \"models\"");
    if (dw_yaml_is_null(v))
        return dw_yaml_fail(c, v, DW_ERR_INVALID, "models: needs at least 1 entry");
    int rc = dw_yaml_check_seq(c, v, "models", 1, DW_CONFIG_MAX_MODELS);
    if (rc)
        return rc;
    size_t n = dw_yaml_seq_size(v);
    c->cfg->models = dw_calloc(n, sizeof *c->cfg->models);
    c->cfg->nmodels = n;
    for (size_t i = 0; i < n; i++) {
        dw_model_config *m = &c->cfg->models[i];
        yaml_node_t *it = dw_yaml_seq_item(c, v, i);
        if ((rc = parse_model(c, it, dw_yaml_index_path(ip, "models", i), m)))
            return rc;
        for (size_t j = 0; j < i; j++) {
            dw_model_config *o = &c->cfg->models[j];
            if (!strcmp(o->name, m->name) && same_opt(o->version, m->version))
                return dw_yaml_fail(
                    c, it, DW_ERR_INVALID,
                    "%s: model \"%.80s\" (version %.80s) is configured twice (first at "
                    "line %d)",
                    ip, m->name, m->version ? m->version : "any", o->line);
        }
    }
    return 0;
}

/* --------------------------------------------------------------- windows */

static int parse_windows(dw_yaml_ctx *c, yaml_node_t *root)
{
    static const char *const keys[] = {"name", "length", "slide"};
    static const struct {
        const char *name;
        int64_t length, slide;
    } defaults[] = {{"15m", 15 * 60000, 60000}, {"1h", 3600000, 5 * 60000}};
    dw_config *cfg = c->cfg;
    yaml_node_t *v = dw_yaml_map_get(c, root, "windows");
    if (dw_yaml_is_null(v)) {
        cfg->windows = dw_calloc(NELEM(defaults), sizeof *cfg->windows);
        cfg->nwindows = NELEM(defaults);
        for (size_t i = 0; i < NELEM(defaults); i++) {
            cfg->windows[i].name = dw_strdup(defaults[i].name);
            cfg->windows[i].length_ms = defaults[i].length;
            cfg->windows[i].slide_ms = defaults[i].slide;
            cfg->windows[i].panes = (uint32_t)(defaults[i].length / defaults[i].slide);
        }
        return 0;
    }
    int rc = dw_yaml_check_seq(c, v, "windows", 1, DW_CONFIG_MAX_WINDOWS);
    if (rc)
        return rc;
    size_t n = dw_yaml_seq_size(v);
    cfg->windows = dw_calloc(n, sizeof *cfg->windows);
    cfg->nwindows = n;
    char ip[DW_YAML_PATHLEN], lp[DW_YAML_PATHLEN];
    int *lines = dw_calloc(n, sizeof *lines);
    for (size_t i = 0; i < n && !rc; i++) {
        dw_window_config *w = &cfg->windows[i];
        yaml_node_t *it = dw_yaml_seq_item(c, v, i), *ln, *sn;
        dw_yaml_index_path(ip, "windows", i);
        if ((rc = DW_YAML_CHECK_MAP(c, it, ip, keys, 0)))
            break;
        yaml_node_t *lv = dw_yaml_map_get(c, it, "length");
        if (dw_yaml_is_null(lv)) {
            rc = lv ? dw_yaml_fail(c, lv, DW_ERR_INVALID, "%s.length: must not be empty", ip)
                    : dw_yaml_missing(c, it, ip, "length");
            break;
        }
        if ((rc = dw_yaml_get_duration(c, it, ip, "length", 0, 1, 366LL * 24 * 3600 * 1000,
                                       &w->length_ms, &ln)) ||
            (rc = dw_yaml_get_duration(c, it, ip, "slide", w->length_ms, 1,
                                       366LL * 24 * 3600 * 1000, &w->slide_ms, &sn)))
            break;
        char deflt[48];
        dw_duration_format(w->length_ms, deflt, sizeof deflt);
        if ((rc = dw_yaml_get_string(c, it, ip, "name", false, deflt, v_name, &w->name)))
            break;
        lines[i] =
            dw_yaml_line_of(dw_yaml_map_get(c, it, "name") ? dw_yaml_map_get(c, it, "name") : it);
        char a[48], b[48];
        if (w->slide_ms > w->length_ms || w->length_ms % w->slide_ms) {
            rc = dw_yaml_fail(
                c, ln, DW_ERR_INVALID, "%s: %s is not a positive multiple of slide %s",
                dw_yaml_join_path(lp, ip, "length"), dw_duration_format(w->length_ms, a, sizeof a),
                dw_duration_format(w->slide_ms, b, sizeof b));
            break;
        }
        int64_t panes = w->length_ms / w->slide_ms;
        if (panes > DW_CONFIG_MAX_PANES) {
            rc = dw_yaml_fail(
                c, sn ? sn : ln, DW_ERR_LIMIT,
                "%s: length %s / slide %s = %lld panes, more than %d (use a longer slide)", ip,
                dw_duration_format(w->length_ms, a, sizeof a),
                dw_duration_format(w->slide_ms, b, sizeof b), (long long)panes,
                DW_CONFIG_MAX_PANES);
            break;
        }
        w->panes = (uint32_t)panes;
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(cfg->windows[j].name, w->name)) {
                rc = dw_yaml_fail(
                    c, dw_yaml_map_get(c, it, "name") ? dw_yaml_map_get(c, it, "name") : it,
                    DW_ERR_INVALID, "%s.name: duplicate window name \"%s\" (first at line %d)", ip,
                    w->name, lines[j]);
                break;
            }
        }
    }
    free(lines);
    return rc;
}

/* ------------------------------------------------- alerts, time, misc */

/* alerts.clear_<stat>: the level an alert of that statistic clears below
 * (default def, at most hi), which must not be above thresholds.<stat>
 * (fire, 0 when that test is off) that fires it. */
static int clear_level(dw_yaml_ctx *c, yaml_node_t *sec, const char *stat, double def, double hi,
                       double fire, double *out)
{
    char key[32];
    yaml_node_t *w;
    snprintf(key, sizeof key, "clear_%s", stat);
    int rc = dw_yaml_get_double(c, sec, "alerts", key, def, 0, false, hi, false, out, &w);
    if (rc)
        return rc;
    if (w && fire > 0 && *out > fire)
        return dw_yaml_fail(c, w, DW_ERR_INVALID,
                            "alerts.%s: %g is above thresholds.%s %g (an alert must clear below "
                            "the level that fires it)",
                            key, *out, stat, fire);
    return 0;
}

static int parse_alerts(dw_yaml_ctx *c, yaml_node_t *root)
{
    static const char *const keys[] = {"for", "clear_psi", "clear_ks", "keep_firing_for",
                                       "group_by_model"};
    dw_alerts_config *a = &c->cfg->alerts;
    const dw_thresholds *t = &c->cfg->thresholds;
    yaml_node_t *sec;
    int rc = dw_yaml_get_section(c, root, "", "alerts", keys, NELEM(keys), &sec);
    if (rc)
        return rc;
    int64_t n;
    if ((rc = dw_yaml_get_int(c, sec, "alerts", "for", 2, 1, 10000, &n)))
        return rc;
    a->for_evaluations = (int)n;
    /* The default clear levels never exceed the firing levels, so that a
     * lowered threshold alone does not make a fired alert unresolvable. */
    double def_psi = 0.1, def_ks = 0.05;
    if (t->psi_threshold > 0 && t->psi_threshold < def_psi)
        def_psi = t->psi_threshold;
    if (t->ks_threshold > 0 && t->ks_threshold < def_ks)
        def_ks = t->ks_threshold;
    if ((rc = clear_level(c, sec, "psi", def_psi, INFINITY, t->psi_threshold, &a->clear_psi)) ||
        (rc = clear_level(c, sec, "ks", def_ks, 1, t->ks_threshold, &a->clear_ks)))
        return rc;
    if ((rc = dw_yaml_get_duration(c, sec, "alerts", "keep_firing_for", 0, 0,
                                   30LL * 24 * 3600 * 1000, &a->keep_firing_for_ms, NULL)))
        return rc;
    return dw_yaml_get_bool(c, sec, "alerts", "group_by_model", true, &a->group_by_model);
}

static int parse_time(dw_yaml_ctx *c, yaml_node_t *root)
{
    static const char *const keys[] = {"allowed_lateness", "idle_timeout", "max_future"};
    yaml_node_t *sec;
    int rc = dw_yaml_get_section(c, root, "", "time", keys, NELEM(keys), &sec);
    if (rc)
        return rc;
    if ((rc = dw_yaml_get_duration(c, sec, "time", "allowed_lateness", 60000, 0, 24 * 3600 * 1000,
                                   &c->cfg->time.allowed_lateness_ms, NULL)))
        return rc;
    if ((rc = dw_yaml_get_duration(c, sec, "time", "idle_timeout", 30000, 0, 24 * 3600 * 1000,
                                   &c->cfg->time.idle_timeout_ms, NULL)))
        return rc;
    return dw_yaml_get_duration(c, sec, "time", "max_future", 600000, 0, 7LL * 24 * 3600 * 1000,
                                &c->cfg->time.max_future_ms, NULL);
}

/* state: window state on a Kafka topic (docs/operations.md, "State on
 * Kafka"). Off unless enabled or a topic is named. */
static int parse_state(dw_yaml_ctx *c, yaml_node_t *root)
{
    static const char *const keys[] = {"enabled", "topic", "flush_interval", "retention"};
    yaml_node_t *sec;
    int rc = dw_yaml_get_section(c, root, "", "state", keys, NELEM(keys), &sec);
    if (rc)
        return rc;
    dw_config *cfg = c->cfg;
    bool enabled;
    if ((rc = dw_yaml_get_string(c, sec, "state", "topic", false, NULL, v_topic,
                                 &cfg->state.topic)) ||
        (rc = dw_yaml_get_bool(c, sec, "state", "enabled", cfg->state.topic != NULL, &enabled)) ||
        (rc = dw_yaml_get_duration(c, sec, "state", "flush_interval", 1000, 10, 60000,
                                   &cfg->state.flush_interval_ms, NULL)) ||
        (rc = dw_yaml_get_duration(c, sec, "state", "retention", 0, 0, 365LL * 24 * 3600 * 1000,
                                   &cfg->state.retention_ms, NULL)))
        return rc;
    if (!enabled) {
        free(cfg->state.topic);
        cfg->state.topic = NULL;
        return 0;
    }
    if (!cfg->state.topic) {
        size_t n = strlen(cfg->kafka.group_id) + 7;
        cfg->state.topic = dw_malloc(n);
        snprintf(cfg->state.topic, n, "%s-state", cfg->kafka.group_id);
    }
    if (cfg->state.retention_ms == 0) {
        /* Everything a restart needs to rebuild the longest window, twice
         * over, plus the lateness allowance and an hour of margin. */
        int64_t longest = 0;
        for (size_t w = 0; w < cfg->nwindows; w++)
            if (cfg->windows[w].length_ms > longest)
                longest = cfg->windows[w].length_ms;
        cfg->state.retention_ms = 2 * longest + cfg->time.allowed_lateness_ms + 3600 * 1000;
    }
    return 0;
}

/* "host:port" or "[v6]:port"; host may be empty (all addresses). */
static int parse_listen(dw_yaml_ctx *c, yaml_node_t *v, const char *listen)
{
    const char *colon = strrchr(listen, ':');
    const char *host = listen, *host_end = colon;
    if (listen[0] == '[') {
        const char *rb = strchr(listen, ']');
        if (!rb || rb + 1 != colon)
            colon = NULL;
        host = listen + 1;
        host_end = rb;
    } else if (colon && memchr(listen, ':', (size_t)(colon - listen))) {
        colon = NULL; /* a bare IPv6 address needs brackets */
    }
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    /* Port 0 asks for an ephemeral port (tests): src/http.c logs the bound
     * one and writes it to $DW_HTTP_PORT_FILE. */
    if (!colon || !colon[1] || *end || port < 0 || port > 65535)
        return dw_yaml_fail(
            c, v, DW_ERR_INVALID,
            "http.listen: \"%.80s\" is not host:port (like 0.0.0.0:9187 or [::]:9187)", listen);
    c->cfg->http.host = dw_strndup(host, (size_t)(host_end - host));
    c->cfg->http.port = (uint16_t)port;
    return 0;
}

static int parse_misc(dw_yaml_ctx *c, yaml_node_t *root)
{
    static const char *const http_keys[] = {"listen", "enabled"};
    static const char *const log_keys[] = {"level", "format"};
    static const char *const eval_keys[] = {"max_new_categories", "max_memory_mb"};
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    static const char *const formats[] = {"json", "text"};
    dw_config *cfg = c->cfg;
    yaml_node_t *sec;
    int rc, e;
    if ((rc = dw_yaml_get_section(c, root, "", "http", http_keys, NELEM(http_keys), &sec)) ||
        (rc = dw_yaml_get_string(c, sec, "http", "listen", false, "0.0.0.0:9187",
                                 dw_yaml_v_no_space, &cfg->http.listen)) ||
        (rc = parse_listen(c, sec ? dw_yaml_map_get(c, sec, "listen") : root, cfg->http.listen)) ||
        (rc = dw_yaml_get_bool(c, sec, "http", "enabled", true, &cfg->http.enabled)))
        return rc;
    if ((rc = dw_yaml_get_section(c, root, "", "log", log_keys, NELEM(log_keys), &sec)) ||
        (rc = dw_yaml_get_enum(c, sec, "log", "level", levels, NELEM(levels), DW_LOG_INFO, &e)))
        return rc;
    cfg->log.level = (dw_log_level)e;
    if ((rc = dw_yaml_get_enum(c, sec, "log", "format", formats, NELEM(formats), DW_LOG_JSON, &e)))
        return rc;
    cfg->log.format = (dw_log_format)e;
    char *dir = NULL;
    if ((rc = dw_yaml_get_string(c, root, "", "state_dir", false, NULL, dw_yaml_v_nonempty, &dir)))
        return rc;
    cfg->state_dir_default = dir == NULL;
    cfg->state_dir = dir ? dw_yaml_resolve_path(c->basedir, dir) : dw_state_dir_default();
    free(dir);
    int64_t n;
    if ((rc = dw_yaml_get_section(c, root, "", "evaluation", eval_keys, NELEM(eval_keys), &sec)) ||
        (rc = dw_yaml_get_int(c, sec, "evaluation", "max_new_categories", 32, 0, 10000, &n)))
        return rc;
    cfg->evaluation.max_new_categories = (uint32_t)n;
    if ((rc = dw_yaml_get_int(c, sec, "evaluation", "max_memory_mb", 1024, 1, 1048576, &n)))
        return rc;
    cfg->evaluation.max_memory_mb = n;
    /* Below Kubernetes' default 30 s grace period, with room to commit. */
    return dw_yaml_get_duration(c, root, "", "shutdown_budget", 10000, 0, 600000,
                                &cfg->shutdown_budget_ms, NULL);
}

/* ------------------------------------------ sinks and retrain targets */

#define MAX_KEYS 32

/* A DW_SINK_OPT_MAP option o of entry v (e.g. alertmanager's labels), its
 * entries appended to params as "<key>.<name>" (o->max at most, each name
 * checked by o->check, values not empty). */
static int map_option(dw_yaml_ctx *c, yaml_node_t *v, const char *path, const dw_sink_option *o,
                      dw_kv *params, size_t *nparams)
{
    dw_kv *kv = NULL;
    size_t n = 0;
    int rc =
        dw_yaml_get_kv(c, v, path, o->key, (size_t)o->max, o->check, dw_yaml_v_nonempty, &kv, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t len = strlen(o->key) + strlen(kv[i].key) + 2;
        dw_kv *e = &params[(*nparams)++];
        e->key = dw_malloc(len);
        snprintf(e->key, len, "%s.%s", o->key, kv[i].key);
        e->value = kv[i].value;
        kv[i].value = NULL;
    }
    dw_yaml_free_kv(kv, n);
    return rc;
}

/* Reads "type" (a registered sink type with role), then checks the keys of
 * entry v against common + the type's own options (naming the type a
 * misplaced key belongs to), then reads and checks the options against the
 * type's table into *params. The option tables live with the sink types
 * (src/sinks/), so this code knows none of them by name. */
static int typed_entry(dw_yaml_ctx *c, yaml_node_t *v, const char *path, unsigned role,
                       const char *const *common, size_t ncommon, const char *what,
                       const dw_sink_ops **type, dw_kv **params, size_t *nparams)
{
    const dw_sink_ops *types[MAX_KEYS];
    const char *names[MAX_KEYS];
    size_t ntypes = 0;
    char p[DW_YAML_PATHLEN];
    for (size_t i = 0; dw_sink_ops_at(i) && ntypes < MAX_KEYS; i++)
        if (dw_sink_ops_at(i)->roles & role) {
            types[ntypes] = dw_sink_ops_at(i);
            names[ntypes++] = dw_sink_ops_at(i)->name;
        }
    if (v->type != YAML_MAPPING_NODE)
        return dw_yaml_fail(c, v, DW_ERR_INVALID, "%s: expected a mapping, got %s", path,
                            dw_yaml_kind_name(v));
    yaml_node_t *tv = dw_yaml_map_get(c, v, "type");
    if (dw_yaml_is_null(tv))
        return tv ? dw_yaml_fail(c, tv, DW_ERR_INVALID, "%s.type: must not be empty", path)
                  : dw_yaml_missing(c, v, path, "type");
    int t;
    int rc = dw_yaml_enum_value(c, tv, dw_yaml_join_path(p, path, "type"), names, ntypes, &t);
    if (rc)
        return rc;
    const dw_sink_ops *ts = *type = types[t];
    const char *allowed[MAX_KEYS + DW_SINK_MAX_OPTION_KEYS];
    size_t nallowed = 0;
    for (size_t i = 0; i < ncommon; i++)
        allowed[nallowed++] = common[i];
    for (const dw_sink_option *o = ts->options; o && o->key; o++)
        if (nallowed < NELEM(allowed))
            allowed[nallowed++] = o->key;
    for (yaml_node_pair_t *pp = v->data.mapping.pairs.start; pp < v->data.mapping.pairs.top; pp++) {
        yaml_node_t *kn;
        const char *k = dw_yaml_key_text(c, pp, &kn);
        if (!k)
            continue;
        bool known = false;
        for (size_t i = 0; i < nallowed && !known; i++)
            known = !strcmp(k, allowed[i]);
        for (size_t i = 0; i < ntypes && !known; i++) {
            const dw_sink_option *o = dw_sink_option_find(types[i], k);
            if (!o || strcmp(o->key, k) != 0)
                continue;
            if (o->what)
                return dw_yaml_fail(c, kn, DW_ERR_INVALID, "%s.%s: only %s %s take %s", path, k,
                                    types[i]->name, what, o->what);
            return dw_yaml_fail(c, kn, DW_ERR_INVALID,
                                "%s: key \"%s\" is not used by %s %s (it belongs to type %s)", path,
                                k, ts->name, what, types[i]->name);
        }
    }
    if ((rc = dw_yaml_check_map(c, v, path, allowed, nallowed, 0)))
        return rc;
    if (ts->no_url && !dw_yaml_is_null(dw_yaml_map_get(c, v, "url")))
        return dw_yaml_fail(c, dw_yaml_map_get(c, v, "url"), DW_ERR_INVALID,
                            "%s.url: %s %s take no url", path, ts->name, what);

    size_t cap = 1;
    for (const dw_sink_option *o = ts->options; o && o->key; o++)
        cap += o->type == DW_SINK_OPT_MAP ? (size_t)o->max : 1;
    *params = dw_calloc(cap, sizeof **params);
    *nparams = 0;
    for (const dw_sink_option *o = ts->options; o && o->key; o++) {
        if (o->type == DW_SINK_OPT_MAP) {
            if ((rc = map_option(c, v, path, o, *params, nparams)))
                return rc;
            continue;
        }
        char *s = NULL;
        if ((rc = dw_yaml_get_string(c, v, path, o->key, o->required, NULL,
                                     o->required ? dw_yaml_v_nonempty : dw_yaml_v_any, &s)))
            return rc;
        /* An optional key that interpolates to "" (secret: "${SECRET:-}") is
         * treated as absent, so one file serves setups with and without it. */
        if (!s || !*s) {
            free(s);
            continue;
        }
        /* Count first so that dw_config_free() releases s on a later error. */
        dw_kv *kv = &(*params)[(*nparams)++];
        kv->key = dw_strdup(o->key);
        kv->value = s;
        yaml_node_t *pv = dw_yaml_map_get(c, v, o->key);
        dw_yaml_join_path(p, path, o->key);
        if (o->type == DW_SINK_OPT_ENUM) {
            /* dw_yaml_enum_value() adds a "did you mean". */
            size_t nv = 0;
            while (o->values[nv])
                nv++;
            int e;
            if ((rc = dw_yaml_enum_value(c, pv, p, o->values, nv, &e)))
                return rc;
        }
        char why[160];
        const char *bad = dw_sink_option_check(o, s, why, sizeof why);
        if (bad)
            return dw_yaml_fail(c, pv, DW_ERR_INVALID, "%s: \"%.80s\" %s", p, s, bad);
    }
    return 0;
}

static bool model_exists(const dw_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nmodels; i++)
        if (!strcmp(cfg->models[i].name, name))
            return true;
    return false;
}

static int parse_filter(dw_yaml_ctx *c, yaml_node_t *v, const char *path, dw_sink_filter *f)
{
    static const char *const keys[] = {"models", "columns", "severity"};
    static const char *const sev[] = {"any", "warning", "critical"};
    char p[DW_YAML_PATHLEN], ip[DW_YAML_PATHLEN];
    yaml_node_t *sec;
    int rc, e;
    if ((rc = dw_yaml_get_section(c, v, path, "filter", keys, NELEM(keys), &sec)))
        return rc;
    dw_yaml_join_path(p, path, "filter");
    if ((rc = dw_yaml_get_strv(c, sec, p, "models", false, NULL, 0, 0, DW_CONFIG_MAX_LIST,
                               v_model_name, &f->models, &f->nmodels)) ||
        (rc = dw_yaml_get_strv(c, sec, p, "columns", false, NULL, 0, 0, DW_CONFIG_MAX_LIST,
                               dw_yaml_v_nonempty, &f->columns, &f->ncolumns)))
        return rc;
    for (size_t i = 0; i < f->nmodels; i++) {
        if (!model_exists(c->cfg, f->models[i])) {
            dw_yaml_join_path(ip, p, "models");
            return dw_yaml_fail(c, dw_yaml_seq_item(c, dw_yaml_map_get(c, sec, "models"), i),
                                DW_ERR_NOT_FOUND, "%s[%zu]: \"%.80s\" is not one of the models", ip,
                                i, f->models[i]);
        }
    }
    /* "any" is accepted for symmetry with the default (no filter). */
    if ((rc = dw_yaml_get_enum(c, sec, p, "severity", sev, NELEM(sev), DW_SEVERITY_ANY, &e)))
        return rc;
    f->min_severity = (dw_severity)e;
    return 0;
}

/* Parses one element of a named sequence into out (see parse_named_seq). */
typedef int (*entry_parser)(dw_yaml_ctx *c, yaml_node_t *v, const char *path, void *out);

/* The sequence v at key (sinks, retrain) of up to max entries, each parsed
 * by parse into an array of size-byte elements whose char * at name_off
 * must differ from the earlier entries' ("duplicate <what> name"). The
 * array and its length are stored before the first entry is parsed, so
 * dw_config_free() releases a partly parsed list. */
static int parse_named_seq(dw_yaml_ctx *c, yaml_node_t *v, const char *key, size_t max, size_t size,
                           size_t name_off, entry_parser parse, const char *what, void **items,
                           size_t *nitems)
{
    char ip[DW_YAML_PATHLEN];
    int rc = dw_yaml_check_seq(c, v, key, 0, max);
    if (rc)
        return rc;
    size_t n = dw_yaml_seq_size(v);
    char *a = dw_calloc(n, size);
    *items = a;
    *nitems = n;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *it = dw_yaml_seq_item(c, v, i);
        if ((rc = parse(c, it, dw_yaml_index_path(ip, key, i), a + i * size)))
            return rc;
        const char *name = *(char **)(a + i * size + name_off);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(*(char **)(a + j * size + name_off), name))
                return dw_yaml_fail(c, dw_yaml_map_get(c, it, "name"), DW_ERR_INVALID,
                                    "%s.name: duplicate %s name \"%s\"", ip, what, name);
    }
    return 0;
}

static void free_sink(dw_sink_config *s)
{
    free(s->name);
    free(s->url);
    dw_yaml_free_kv(s->headers, s->nheaders);
    dw_yaml_free_strv(s->filter.models, s->filter.nmodels);
    dw_yaml_free_strv(s->filter.columns, s->filter.ncolumns);
    dw_yaml_free_kv(s->params, s->nparams);
}

static int parse_sink(dw_yaml_ctx *c, yaml_node_t *v, const char *path, void *out)
{
    dw_sink_config *s = out;
    static const char *const common[] = {"name",    "type",         "url",
                                         "timeout", "max_retries",  "send_resolved",
                                         "headers", "min_interval", "filter"};
    const dw_sink_ops *type;
    int rc;
    int64_t n;
    if ((rc = typed_entry(c, v, path, DW_SINK_ROLE_ALERTS, common, NELEM(common), "sinks", &type,
                          &s->params, &s->nparams)))
        return rc;
    s->type = type->name;
    if ((rc = dw_yaml_get_string(c, v, path, "name", true, NULL, v_name, &s->name)) ||
        (rc = dw_yaml_get_string(c, v, path, "url", !type->no_url && !type->default_url, NULL,
                                 dw_yaml_v_url, &s->url)) ||
        (rc = dw_yaml_get_duration(c, v, path, "timeout", DW_SINK_DEFAULT_TIMEOUT_MS, 1,
                                   DW_SINK_MAX_TIMEOUT_MS, &s->timeout_ms, NULL)) ||
        (rc = dw_yaml_get_int(c, v, path, "max_retries", DW_SINK_DEFAULT_MAX_RETRIES, 0,
                              DW_SINK_MAX_RETRIES, &n)))
        return rc;
    s->max_retries = (int)n;
    if ((rc = dw_yaml_get_bool(c, v, path, "send_resolved", true, &s->send_resolved)) ||
        (rc = dw_yaml_get_kv(c, v, path, "headers", DW_SINK_MAX_HEADERS, dw_yaml_v_header_name,
                             dw_yaml_v_header_value, &s->headers, &s->nheaders)) ||
        (rc = dw_yaml_get_duration(c, v, path, "min_interval", 0, 0, DW_SINK_MAX_MIN_INTERVAL_MS,
                                   &s->min_interval_ms, NULL)) ||
        (rc = parse_filter(c, v, path, &s->filter)))
        return rc;
    return 0;
}

static int parse_sinks(dw_yaml_ctx *c, yaml_node_t *root)
{
    dw_config *cfg = c->cfg;
    yaml_node_t *v = dw_yaml_map_get(c, root, "sinks");
    if (dw_yaml_is_null(v)) {
        cfg->sinks = dw_calloc(1, sizeof *cfg->sinks);
        cfg->nsinks = 1;
        dw_sink_config *s = &cfg->sinks[0];
        s->name = dw_strdup(DW_SINK_DEFAULT_TYPE);
        s->type = dw_sink_ops_find(DW_SINK_DEFAULT_TYPE)->name;
        s->timeout_ms = DW_SINK_DEFAULT_TIMEOUT_MS;
        s->max_retries = DW_SINK_DEFAULT_MAX_RETRIES;
        s->send_resolved = true;
        return 0;
    }
    void *items = NULL;
    int rc =
        parse_named_seq(c, v, "sinks", DW_CONFIG_MAX_SINKS, sizeof *cfg->sinks,
                        offsetof(dw_sink_config, name), parse_sink, "sink", &items, &cfg->nsinks);
    cfg->sinks = items;
    return rc;
}

static void free_retrain(dw_retrain_config *r)
{
    free(r->name);
    free(r->url);
    free(r->model);
    free(r->window);
    dw_yaml_free_kv(r->params, r->nparams);
}

static int parse_retrain_entry(dw_yaml_ctx *c, yaml_node_t *v, const char *path, void *out)
{
    dw_retrain_config *r = out;
    static const char *const common[] = {"name",        "type",   "url", "model",
                                         "min_columns", "window", "for", "cooldown"};
    const dw_sink_ops *type;
    int rc;
    int64_t n;
    if ((rc = typed_entry(c, v, path, DW_SINK_ROLE_RETRAIN, common, NELEM(common),
                          "retrain targets", &type, &r->params, &r->nparams)))
        return rc;
    r->type = type->name;
    if ((rc = dw_yaml_get_string(c, v, path, "name", true, NULL, v_name, &r->name)) ||
        (rc = dw_yaml_get_string(c, v, path, "url", !type->default_url, NULL, dw_yaml_v_url,
                                 &r->url)) ||
        (rc = dw_yaml_get_string(c, v, path, "model", false, NULL, v_model_name, &r->model)) ||
        (rc = dw_yaml_get_int(c, v, path, "min_columns", 3, 1, 100000, &n)))
        return rc;
    r->min_columns = (int)n;
    if (r->model && !model_exists(c->cfg, r->model))
        return dw_yaml_fail(c, dw_yaml_map_get(c, v, "model"), DW_ERR_NOT_FOUND,
                            "%s.model: \"%.80s\" is not one of the models", path, r->model);
    if ((rc = dw_yaml_get_string(c, v, path, "window", false, c->cfg->windows[0].name, v_name,
                                 &r->window)))
        return rc;
    if (!dw_config_find_window(c->cfg, r->window))
        return dw_yaml_fail(c, dw_yaml_map_get(c, v, "window"), DW_ERR_NOT_FOUND,
                            "%s.window: \"%.80s\" is not one of the windows", path, r->window);
    if ((rc = dw_yaml_get_duration(c, v, path, "for", 15 * 60000, 0, 30LL * 24 * 3600 * 1000,
                                   &r->for_ms, NULL)) ||
        (rc = dw_yaml_get_duration(c, v, path, "cooldown", 6 * 3600000, 0, 30LL * 24 * 3600 * 1000,
                                   &r->cooldown_ms, NULL)))
        return rc;
    /* Rules and sinks share the notifier's names (logs, metrics). */
    for (size_t j = 0; j < c->cfg->nsinks; j++)
        if (!strcmp(c->cfg->sinks[j].name, r->name))
            return dw_yaml_fail(c, dw_yaml_map_get(c, v, "name"), DW_ERR_INVALID,
                                "%s.name: \"%s\" is already the name of a sink", path, r->name);
    return 0;
}

static int parse_retrain(dw_yaml_ctx *c, yaml_node_t *root)
{
    dw_config *cfg = c->cfg;
    yaml_node_t *v = dw_yaml_map_get(c, root, "retrain");
    if (dw_yaml_is_null(v))
        return 0;
    void *items = NULL;
    int rc = parse_named_seq(c, v, "retrain", DW_CONFIG_MAX_RETRAIN, sizeof *cfg->retrain,
                             offsetof(dw_retrain_config, name), parse_retrain_entry,
                             "retrain target", &items, &cfg->nretrain);
    cfg->retrain = items;
    return rc;
}

/* ------------------------------------------------------------ top level */

static int parse_root(dw_yaml_ctx *c, yaml_node_t *root)
{
    static const char *const keys[] = {
        "kafka",      "records",         "models",  "windows", "thresholds", "alerts",
        "time",       "sinks",           "retrain", "http",    "log",        "state_dir",
        "evaluation", "shutdown_budget", "state",   "labels"};
    if (root->type != YAML_MAPPING_NODE)
        return dw_yaml_fail(c, root, DW_ERR_INVALID, "the configuration must be a mapping, not %s",
                            dw_yaml_kind_name(root));
    int rc;
    th_override ov;
    dw_thresholds_default(&c->cfg->thresholds);
    /* Dependencies first: thresholds feed models, models and windows are
     * referenced by records, sinks and retrain. */
    if ((rc = DW_YAML_CHECK_MAP(c, root, "", keys, 0)) ||
        (rc = get_thresholds(c, root, "", &c->cfg->thresholds, &ov)) ||
        (rc = parse_kafka(c, root)) || (rc = parse_models(c, root)) ||
        (rc = parse_records(c, root)) || (rc = parse_windows(c, root)) ||
        (rc = parse_alerts(c, root)) || (rc = dw_cfg_parse_canary(c, root)) ||
        (rc = parse_time(c, root)) || (rc = parse_sinks(c, root)) ||
        (rc = parse_retrain(c, root)) || (rc = parse_misc(c, root)) ||
        (rc = parse_state(c, root)) || (rc = dw_cfg_parse_labels(c, root)))
        return rc;
    return 0;
}

static int yaml_error(dw_yaml_ctx *c, yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "malformed input";
    if (p->context)
        return dw_seterr(c->errbuf, c->errlen, DW_ERR_PARSE, "%s:%d: invalid YAML: %s %s", c->name,
                         (int)p->problem_mark.line + 1, problem, p->context);
    return dw_seterr(c->errbuf, c->errlen, DW_ERR_PARSE, "%s:%d: invalid YAML: %s", c->name,
                     (int)p->problem_mark.line + 1, problem);
}

int dw_config_parse(const char *name, const char *text, size_t len, const char *basedir,
                    dw_config **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (!name)
        name = "config";
    if (!text)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "%s: no configuration text", name);
    if (len > DW_CONFIG_MAX_BYTES)
        return dw_seterr(errbuf, errlen, DW_ERR_LIMIT, "%s: larger than %d bytes", name,
                         DW_CONFIG_MAX_BYTES);
    dw_yaml_ctx c = {.name = name, .basedir = basedir, .errbuf = errbuf, .errlen = errlen};
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return dw_seterr(errbuf, errlen, DW_ERR_PARSE, "%s: cannot initialise libyaml", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        int rc = yaml_error(&c, &parser);
        yaml_parser_delete(&parser);
        return rc;
    }
    c.doc = &doc;
    int rc = 0;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        rc = dw_seterr(errbuf, errlen, DW_ERR_EMPTY, "%s:1: the configuration is empty", name);
    } else {
        /* A second document would be silently ignored: refuse it. */
        yaml_document_t next;
        if (!yaml_parser_load(&parser, &next)) {
            rc = yaml_error(&c, &parser);
        } else {
            yaml_node_t *nr = yaml_document_get_root_node(&next);
            if (nr)
                rc = dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                               "%s:%d: only one YAML document is allowed", name,
                               (int)nr->start_mark.line + 1);
            yaml_document_delete(&next);
        }
    }
    if (rc == 0) {
        c.cfg = dw_calloc(1, sizeof *c.cfg);
        c.cfg->path = dw_strdup(name);
        c.cfg->basedir = basedir ? dw_strdup(basedir) : NULL;
        rc = parse_root(&c, root);
        if (rc) {
            dw_config_free(c.cfg);
            c.cfg = NULL;
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    *out = c.cfg;
    return rc;
}

int dw_config_load(const char *path, dw_config **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return dw_seterr(errbuf, errlen, DW_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    /* Read one byte past the bound to detect an oversized file without
     * trusting st_size (pipes, /proc files). */
    char *buf = dw_malloc(DW_CONFIG_MAX_BYTES + 1);
    size_t n = fread(buf, 1, DW_CONFIG_MAX_BYTES + 1, f);
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        free(buf);
        return dw_seterr(errbuf, errlen, DW_ERR_IO, "%s: read error", path);
    }
    if (n > DW_CONFIG_MAX_BYTES) {
        free(buf);
        return dw_seterr(errbuf, errlen, DW_ERR_LIMIT, "%s: larger than %d bytes", path,
                         DW_CONFIG_MAX_BYTES);
    }
    const char *slash = strrchr(path, '/');
    char *dir =
        slash ? dw_strndup(path, slash == path ? 1 : (size_t)(slash - path)) : dw_strdup(".");
    int rc = dw_config_parse(path, buf, n, dir, out, errbuf, errlen);
    free(dir);
    free(buf);
    return rc;
}

void dw_config_free(dw_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    free(cfg->basedir);
    dw_kafka_config *k = &cfg->kafka;
    free(k->brokers);
    dw_yaml_free_strv(k->topics, k->ntopics);
    free(k->group_id);
    free(k->dead_letter_topic);
    dw_yaml_free_kv(k->properties, k->nproperties);
    dw_records_config *r = &cfg->records;
    free(r->timestamp);
    free(r->model);
    free(r->model_version);
    dw_yaml_free_strv(r->columns, r->ncolumns);
    dw_yaml_free_strv(r->fields, r->nfields);
    free(r->default_model);
    for (size_t i = 0; i < cfg->nmodels; i++) {
        dw_model_config *m = &cfg->models[i];
        free(m->name);
        free(m->version);
        free(m->reference);
        for (size_t j = 0; j < m->ncolumns; j++)
            free(m->columns[j].name);
        free(m->columns);
        dw_cfg_free_canary(m);
        dw_cfg_free_performance(&m->perf);
    }
    dw_cfg_free_labels(&cfg->labels);
    free(cfg->models);
    for (size_t i = 0; i < cfg->nwindows; i++)
        free(cfg->windows[i].name);
    free(cfg->windows);
    for (size_t i = 0; i < cfg->nsinks; i++)
        free_sink(&cfg->sinks[i]);
    free(cfg->sinks);
    for (size_t i = 0; i < cfg->nretrain; i++)
        free_retrain(&cfg->retrain[i]);
    free(cfg->retrain);
    free(cfg->http.listen);
    free(cfg->http.host);
    free(cfg->state_dir);
    free(cfg->state.topic);
    free(cfg);
}

/* ------------------------------------------------------------- lookups */

const char *dw_kv_get(const dw_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(kv[i].key, key))
            return kv[i].value;
    return NULL;
}

const dw_thresholds *dw_config_column_thresholds(const dw_config *cfg, const dw_model_config *model,
                                                 const char *column, bool *ignored)
{
    if (ignored)
        *ignored = false;
    if (!model)
        return &cfg->thresholds;
    if (column && model->ncolumns) {
        dw_column_config key = {.name = (char *)column};
        const dw_column_config *col =
            bsearch(&key, model->columns, model->ncolumns, sizeof key, cmp_column);
        if (col) {
            if (ignored)
                *ignored = col->ignore;
            return &col->thresholds;
        }
    }
    return &model->thresholds;
}

const dw_model_config *dw_config_find_model(const dw_config *cfg, const char *name,
                                            const char *version)
{
    const dw_model_config *any = NULL;
    for (size_t i = 0; i < cfg->nmodels; i++) {
        const dw_model_config *m = &cfg->models[i];
        if (strcmp(m->name, name))
            continue;
        if (!m->version)
            any = any ? any : m;
        else if (version && !strcmp(m->version, version))
            return m;
    }
    return any;
}

const dw_window_config *dw_config_find_window(const dw_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nwindows; i++)
        if (!strcmp(cfg->windows[i].name, name))
            return &cfg->windows[i];
    return NULL;
}

/* models[].compare and models[].latency (docs/configuration.md,
 * docs/canary.md): which versions of a model are compared with which, on
 * which columns, windows and thresholds, and the latency field, its sketch
 * and its SLO rules. Parsed after models and windows, which these name. */
#include "driftwatch/config.h"

#include "driftwatch/error.h"
#include "driftwatch/sketch.h"

#include "config_canary_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *v_version(const char *s)
{
    if (!*s)
        return "must not be empty";
    if (strlen(s) > 255)
        return "is longer than 255 bytes";
    return NULL;
}

static const char *v_slo_name(const char *s)
{
    if (!*s)
        return "must not be empty";
    if (strlen(s) > DW_CONFIG_MAX_NAME)
        return "is longer than 64 characters";
    for (; *s; s++)
        if (!dw_yaml_var_char(*s) && *s != '-' && *s != '.')
            return "may contain only letters, digits, '_', '-' and '.'";
    return NULL;
}

/* The index of window name in cfg, or -1. */
static int window_of(const dw_config *cfg, const char *name)
{
    for (size_t w = 0; w < cfg->nwindows; w++)
        if (!strcmp(cfg->windows[w].name, name))
            return (int)w;
    return -1;
}

static int window_error(dw_yaml_ctx *c, yaml_node_t *n, const char *p, const char *name)
{
    char hint[160];
    const char *names[DW_CONFIG_MAX_WINDOWS];
    for (size_t w = 0; w < c->cfg->nwindows; w++)
        names[w] = c->cfg->windows[w].name;
    return dw_yaml_fail(c, n, DW_ERR_NOT_FOUND, "%s: \"%.80s\" is not one of the windows%s", p,
                        name, dw_yaml_hint(hint, sizeof hint, name, names, c->cfg->nwindows));
}

/* "all" (or absent) gives 0 entries; else a list of strings. */
static int get_list_or_all(dw_yaml_ctx *c, yaml_node_t *map, const char *parent, const char *key,
                           dw_yaml_validator check, char ***out, size_t *n)
{
    yaml_node_t *v = dw_yaml_map_get(c, map, key);
    *out = NULL;
    *n = 0;
    if (dw_yaml_is_null(v))
        return 0;
    if (v->type == YAML_SCALAR_NODE) {
        char p[DW_YAML_PATHLEN];
        dw_yaml_join_path(p, parent, key);
        if (strcmp((const char *)v->data.scalar.value, "all") != 0)
            return dw_yaml_fail(c, v, DW_ERR_INVALID, "%s: must be \"all\" or a list, not \"%.80s\"",
                                p, (const char *)v->data.scalar.value);
        return 0;
    }
    return dw_yaml_get_strv(c, map, parent, key, false, NULL, 0, 1, DW_CONFIG_MAX_LIST, check, out,
                            n);
}

static int parse_compare(dw_yaml_ctx *c, yaml_node_t *sec, const char *p, dw_model_config *m)
{
    static const char *const keys[] = {"baseline", "candidates", "columns", "windows",
                                       "thresholds", "latency",   "for"};
    static const char *const lat_keys[] = {"quantile", "max_ratio"};
    dw_compare_config *cc = &m->compare;
    char ip[DW_YAML_PATHLEN];
    int rc;
    cc->enabled = true;
    cc->thresholds = m->thresholds;
    cc->latency_quantile = 0.99;
    if ((rc = DW_YAML_CHECK_MAP(c, sec, p, keys, 0)) ||
        (rc = dw_yaml_get_string(c, sec, p, "baseline", false, NULL, v_version, &cc->baseline)) ||
        (rc = get_list_or_all(c, sec, p, "candidates", v_version, &cc->candidates,
                              &cc->ncandidates)) ||
        (rc = get_list_or_all(c, sec, p, "columns", dw_yaml_v_nonempty, &cc->columns,
                              &cc->ncolumns)) ||
        (rc = dw_cfg_thresholds_block(c, sec, p, &cc->thresholds)))
        return rc;
    if (cc->baseline && !strcmp(cc->baseline, "most_traffic")) {
        free(cc->baseline);
        cc->baseline = NULL;
    }
    if (m->version)
        return dw_yaml_fail(c, sec, DW_ERR_INVALID,
                            "%s: model \"%.80s\" is configured for version %.80s only; compare "
                            "needs an entry without version: that sees every version",
                            p, m->name, m->version);
    for (size_t i = 0; cc->baseline && i < cc->ncandidates; i++)
        if (!strcmp(cc->candidates[i], cc->baseline))
            return dw_yaml_fail(c, dw_yaml_seq_item(c, dw_yaml_map_get(c, sec, "candidates"), i),
                                DW_ERR_INVALID,
                                "%s.candidates[%zu]: \"%.80s\" is the baseline itself", p, i,
                                cc->baseline);
    int64_t n;
    if ((rc = dw_yaml_get_int(c, sec, p, "for", c->cfg->alerts.for_evaluations, 1, 10000, &n)))
        return rc;
    cc->for_evaluations = (uint32_t)n;
    char **wins = NULL;
    size_t nwins = 0;
    if ((rc = get_list_or_all(c, sec, p, "windows", dw_yaml_v_nonempty, &wins, &nwins)))
        return rc;
    cc->windows = nwins ? 0 : (uint32_t)((1ull << c->cfg->nwindows) - 1);
    char wp[DW_YAML_PATHLEN];
    dw_yaml_join_path(wp, p, "windows");
    for (size_t i = 0; i < nwins && !rc; i++) {
        int w = window_of(c->cfg, wins[i]);
        if (w < 0)
            rc = window_error(c, dw_yaml_seq_item(c, dw_yaml_map_get(c, sec, "windows"), i),
                              dw_yaml_index_path(ip, wp, i), wins[i]);
        else
            cc->windows |= 1u << w;
    }
    dw_yaml_free_strv(wins, nwins);
    if (rc)
        return rc;
    yaml_node_t *lat;
    dw_yaml_join_path(ip, p, "latency");
    if ((rc = dw_yaml_get_section(c, sec, p, "latency", lat_keys, NELEM(lat_keys), &lat)))
        return rc;
    if (lat) {
        if ((rc = dw_yaml_get_double(c, lat, ip, "quantile", 0.99, 0, true, 1, true,
                                     &cc->latency_quantile, NULL)) ||
            (rc = dw_yaml_get_double(c, lat, ip, "max_ratio", 1.2, 0, true, INFINITY, false,
                                     &cc->latency_max_ratio, NULL)))
            return rc;
        if (!m->latency.enabled)
            return dw_yaml_fail(c, lat, DW_ERR_INVALID,
                                "%s: needs a latency: block in the same model (the field and "
                                "its sketch)",
                                ip);
    }
    return 0;
}

static int parse_slo(dw_yaml_ctx *c, yaml_node_t *v, const char *p, dw_model_config *m,
                     dw_slo_config *s)
{
    static const char *const keys[] = {"name", "quantile", "max", "window", "version",
                                       "severity", "for"};
    static const char *const sev[] = {"warning", "critical"};
    int rc;
    char *win = NULL;
    s->line = dw_yaml_line_of(v);
    if ((rc = DW_YAML_CHECK_MAP(c, v, p, keys, 0)) ||
        (rc = dw_yaml_get_double(c, v, p, "quantile", 0.99, 0, true, 1, true, &s->quantile,
                                 NULL)))
        return rc;
    /* max: a number in the field's unit, or a duration ("250ms"). */
    yaml_node_t *mx = dw_yaml_map_get(c, v, "max");
    char mp[DW_YAML_PATHLEN], *text = NULL, *end;
    dw_yaml_join_path(mp, p, "max");
    if (dw_yaml_is_null(mx))
        return mx ? dw_yaml_fail(c, mx, DW_ERR_INVALID, "%s: must not be empty", mp)
                  : dw_yaml_missing(c, v, p, "max");
    if ((rc = dw_yaml_scalar_text(c, mx, mp, &text)))
        return rc;
    s->max = strtod(text, &end);
    if (end == text || *end) {
        int64_t ms;
        rc = dw_yaml_check_duration(c, mx, mp, text, 0, INT64_MAX / 2, &ms);
        s->max = (double)ms / (m->latency.unit_s * 1000.0);
    }
    free(text);
    if (rc)
        return rc;
    if (!(s->max > 0) || !isfinite(s->max))
        return dw_yaml_fail(c, mx, DW_ERR_INVALID, "%s: must be above 0", mp);
    if ((rc = dw_yaml_get_string(c, v, p, "version", false, NULL, v_version, &s->version)) ||
        (rc = dw_yaml_get_string(c, v, p, "window", false, c->cfg->windows[0].name,
                                 dw_yaml_v_nonempty, &win)))
        return rc;
    int w = window_of(c->cfg, win);
    char wp[DW_YAML_PATHLEN];
    if (w < 0) {
        rc = window_error(c, dw_yaml_map_get(c, v, "window"), dw_yaml_join_path(wp, p, "window"),
                          win);
        free(win);
        return rc;
    }
    s->window = (size_t)w;
    char deflt[96];
    snprintf(deflt, sizeof deflt, "p%g-%s", s->quantile * 100, win);
    for (char *q = deflt; *q; q++)
        if (!dw_yaml_var_char(*q) && *q != '-' && *q != '.')
            *q = '_';
    free(win);
    int sv;
    int64_t n;
    if ((rc = dw_yaml_get_string(c, v, p, "name", false, deflt, v_slo_name, &s->name)) ||
        (rc = dw_yaml_get_enum(c, v, p, "severity", sev, NELEM(sev), 0, &sv)) ||
        (rc = dw_yaml_get_int(c, v, p, "for", c->cfg->alerts.for_evaluations, 1, 10000, &n)))
        return rc;
    s->critical = sv == 1;
    s->for_evaluations = (uint32_t)n;
    return 0;
}

static int parse_latency(dw_yaml_ctx *c, yaml_node_t *sec, const char *p, dw_model_config *m)
{
    static const char *const keys[] = {"field", "unit", "relative_error", "min", "max",
                                       "quantiles", "slos"};
    static const char *const units[] = {"ms", "s", "us"};
    static const double unit_s[] = {1e-3, 1.0, 1e-6};
    static const double unit_min[] = {DW_SKETCH_DEFAULT_MIN_MS, 1e-6, 1.0};
    static const double unit_max[] = {DW_SKETCH_DEFAULT_MAX_MS, 1e4, 1e10};
    dw_latency_config *l = &m->latency;
    int rc, u;
    yaml_node_t *wmin, *wmax, *w;
    l->enabled = true;
    if ((rc = DW_YAML_CHECK_MAP(c, sec, p, keys, 0)) ||
        (rc = dw_yaml_get_string(c, sec, p, "field", false, "latency_ms", dw_yaml_v_no_space,
                                 &l->field)) ||
        (rc = dw_yaml_get_enum(c, sec, p, "unit", units, NELEM(units), 0, &u)))
        return rc;
    l->unit = units[u];
    l->unit_s = unit_s[u];
    if ((rc = dw_yaml_get_double(c, sec, p, "relative_error", DW_SKETCH_DEFAULT_ALPHA,
                                 DW_SKETCH_MIN_ALPHA, false, DW_SKETCH_MAX_ALPHA, false, &l->alpha,
                                 &w)) ||
        (rc = dw_yaml_get_double(c, sec, p, "min", unit_min[u], 0, true, INFINITY, false, &l->min,
                                 &wmin)) ||
        (rc = dw_yaml_get_double(c, sec, p, "max", unit_max[u], 0, true, INFINITY, false, &l->max,
                                 &wmax)))
        return rc;
    dw_sketch_layout lay;
    char why[256];
    if (dw_sketch_layout_init(&lay, l->alpha, l->min, l->max, why, sizeof why) < 0)
        return dw_yaml_fail(c, wmax ? wmax : wmin ? wmin : w ? w : sec, DW_ERR_INVALID, "%s: %s",
                            p, why);
    char ip[DW_YAML_PATHLEN];
    yaml_node_t *qs = dw_yaml_map_get(c, sec, "quantiles");
    dw_yaml_join_path(ip, p, "quantiles");
    if (dw_yaml_is_null(qs)) {
        l->nquantiles = 3;
        l->quantiles[0] = 0.5;
        l->quantiles[1] = 0.9;
        l->quantiles[2] = 0.99;
    } else {
        if ((rc = dw_yaml_check_seq(c, qs, ip, 1, DW_CONFIG_MAX_QUANTILES)))
            return rc;
        l->nquantiles = dw_yaml_seq_size(qs);
        for (size_t i = 0; i < l->nquantiles; i++) {
            yaml_node_t *it = dw_yaml_seq_item(c, qs, i);
            char *s = NULL, *end;
            char qp[DW_YAML_PATHLEN];
            dw_yaml_index_path(qp, ip, i);
            if ((rc = dw_yaml_scalar_text(c, it, qp, &s)))
                return rc;
            double q = strtod(s, &end);
            bool bad = end == s || *end || !(q > 0 && q < 1);
            free(s);
            if (bad)
                return dw_yaml_fail(c, it, DW_ERR_INVALID,
                                    "%s: must be a number between 0 and 1 (exclusive)", qp);
            l->quantiles[i] = q;
        }
    }
    yaml_node_t *slos = dw_yaml_map_get(c, sec, "slos");
    dw_yaml_join_path(ip, p, "slos");
    if (dw_yaml_is_null(slos))
        return 0;
    if ((rc = dw_yaml_check_seq(c, slos, ip, 1, DW_CONFIG_MAX_SLOS)))
        return rc;
    size_t n = dw_yaml_seq_size(slos);
    l->slos = dw_calloc(n, sizeof *l->slos);
    l->nslos = n;
    for (size_t i = 0; i < n; i++) {
        char sp[DW_YAML_PATHLEN];
        yaml_node_t *it = dw_yaml_seq_item(c, slos, i);
        if ((rc = parse_slo(c, it, dw_yaml_index_path(sp, ip, i), m, &l->slos[i])))
            return rc;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(l->slos[j].name, l->slos[i].name))
                return dw_yaml_fail(c, it, DW_ERR_INVALID,
                                    "%s.name: duplicate SLO name \"%s\" (first at line %d)", sp,
                                    l->slos[i].name, l->slos[j].line);
    }
    return 0;
}

int dw_cfg_parse_canary(dw_yaml_ctx *c, yaml_node_t *root)
{
    yaml_node_t *models = dw_yaml_map_get(c, root, "models");
    char ip[DW_YAML_PATHLEN], p[DW_YAML_PATHLEN];
    int rc;
    for (size_t i = 0; i < c->cfg->nmodels; i++) {
        yaml_node_t *it = dw_yaml_seq_item(c, models, i);
        dw_model_config *m = &c->cfg->models[i];
        dw_yaml_index_path(ip, "models", i);
        yaml_node_t *lat = dw_yaml_map_get(c, it, "latency");
        yaml_node_t *cmp = dw_yaml_map_get(c, it, "compare");
        if (!dw_yaml_is_null(lat) &&
            (rc = parse_latency(c, lat, dw_yaml_join_path(p, ip, "latency"), m)))
            return rc;
        if (!dw_yaml_is_null(cmp) &&
            (rc = parse_compare(c, cmp, dw_yaml_join_path(p, ip, "compare"), m)))
            return rc;
    }
    return 0;
}

void dw_cfg_free_canary(dw_model_config *m)
{
    free(m->compare.baseline);
    dw_yaml_free_strv(m->compare.candidates, m->compare.ncandidates);
    dw_yaml_free_strv(m->compare.columns, m->compare.ncolumns);
    free(m->latency.field);
    for (size_t i = 0; i < m->latency.nslos; i++) {
        free(m->latency.slos[i].name);
        free(m->latency.slos[i].version);
    }
    free(m->latency.slos);
}

size_t dw_config_latency_width(const dw_latency_config *l)
{
    dw_sketch_layout lay;
    if (!l->enabled || dw_sketch_layout_init(&lay, l->alpha, l->min, l->max, NULL, 0) < 0)
        return 0;
    return dw_sketch_layout_width(&lay);
}

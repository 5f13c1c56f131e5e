/* driftwatch validate -c FILE: loads the configuration and every model's
 * reference file exactly as the sidecar would, prints a short summary, and
 * exits 0, or prints one "driftwatch: <file>:<line>: <reason>" line and
 * exits 2. Nothing is contacted: brokers and sinks are not checked. */
#include "commands.h"

#include "driftwatch/budget.h"
#include "driftwatch/config.h"
#include "driftwatch/duration.h"
#include "driftwatch/error.h"
#include "driftwatch/perf_reference.h"
#include "driftwatch/reference.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Webhook URLs often carry their secret in the path (Slack, many others)
 * or in user:password@: print only scheme://host[:port] so the summary can
 * go into CI logs. */
static const char *redact_url(const char *url, char *buf, size_t len)
{
    const char *p = strstr(url, "://");
    if (!p) {
        snprintf(buf, len, "(url)");
        return buf;
    }
    const char *host = p + 3;
    const char *at = strchr(host, '@');
    const char *slash = strchr(host, '/');
    if (at && (!slash || at < slash))
        host = at + 1;
    int hostlen = (int)(slash ? (size_t)(slash - host) : strlen(host));
    snprintf(buf, len, "%.*s%.*s%s", (int)(p + 3 - url), url, hostlen, host,
             slash && slash[1] ? "/..." : "");
    return buf;
}

static void usage(FILE *f)
{
    fputs("usage: driftwatch validate -c CONFIG\n"
          "\n"
          "Checks a configuration file (YAML or JSON) and the reference statistics of\n"
          "every model it names, then prints a summary. Exit status: 0 valid, 2 invalid.\n"
          "\n"
          "options:\n"
          "  -c, --config FILE   the configuration file\n"
          "  -q, --quiet         print nothing when the configuration is valid\n"
          "  -h, --help          this help\n",
          f);
}

/* Loads each model's reference into refs[i] and checks that its column
 * overrides name columns that exist, then the memory and field budget
 * (budget.h) that start-up would refuse. */
static int check_models(const dw_config *cfg, dw_reference **refs, dw_budget *budget)
{
    char err[1024];
    for (size_t i = 0; i < cfg->nmodels; i++) {
        const dw_model_config *m = &cfg->models[i];
        dw_reference *ref = NULL;
        if (dw_reference_load(m->reference, &ref, err, sizeof err) != 0) {
            fprintf(stderr, "driftwatch: %s:%d: models[%zu].reference: %s\n", cfg->path,
                    m->reference_line, i, err);
            return 2;
        }
        refs[i] = ref;
        double pref[DW_PERF_METRIC_COUNT];
        if (m->perf.enabled &&
            dw_perf_reference_values(&m->perf, pref, NULL, err, sizeof err) < 0) {
            fprintf(stderr, "driftwatch: %s:%d: models[%zu].performance.reference_data: %s\n",
                    cfg->path, m->perf.line, i, err);
            return 2;
        }
        for (size_t j = 0; j < m->ncolumns; j++) {
            if (dw_reference_find(ref, m->columns[j].name) < 0) {
                fprintf(stderr,
                        "driftwatch: %s:%d: models[%zu].columns: column \"%s\" is not in the "
                        "reference %s\n",
                        cfg->path, m->columns[j].line, i, m->columns[j].name, m->reference);
                return 2;
            }
        }
    }
    if (dw_budget_check(cfg, (const dw_reference *const *)refs, budget, err, sizeof err) < 0) {
        fprintf(stderr, "driftwatch: %s: %s\n", cfg->path, err);
        return 2;
    }
    return 0;
}

/* Things that load but would not work: a reference built for another
 * model or version, or one whose column names no record can fill under
 * the records layout (most often a flat reference next to records.fields).
 * Printed to stderr as warnings, also with --quiet; the exit status stays
 * 0. refs: as check_models() loaded them. Returns the number of warnings. */
static int warn_models(const dw_config *cfg, dw_reference *const *refs)
{
    char err[1024];
    int n = 0;
    for (size_t i = 0; i < cfg->nmodels; i++) {
        const dw_model_config *m = &cfg->models[i];
        const dw_reference *ref = refs[i];
        if (dw_reference_mismatch(ref, m->name, m->version, err, sizeof err)) {
            fprintf(stderr, "driftwatch: WARNING: %s:%d: models[%zu].reference: %s (%s)\n",
                    cfg->path, m->reference_line, i, err, m->reference);
            n++;
        }
        const char *first;
        size_t lost = dw_reference_unreachable(ref, cfg->records.columns, cfg->records.ncolumns,
                                               cfg->records.fields, cfg->records.nfields, &first);
        if (lost * 2 > ref->ncols) {
            fprintf(stderr,
                    "driftwatch: WARNING: %s:%d: models[%zu].reference: %zu of %zu columns of %s "
                    "(first: %s) are under no object of records.columns and in no "
                    "records.fields, so every record would count them missing; see "
                    "docs/record-format.md\n",
                    cfg->path, m->reference_line, i, lost, ref->ncols, m->reference, first);
            n++;
        }
    }
    return n;
}

static void print_summary(const dw_config *cfg, dw_reference *const *refs, const dw_budget *budget)
{
    char a[48], b[48];
    printf("config: %s\n", cfg->path);
    printf("kafka: %s, %zu topic%s, group %s\n", cfg->kafka.brokers, cfg->kafka.ntopics,
           cfg->kafka.ntopics == 1 ? "" : "s", cfg->kafka.group_id);
    printf("models (%zu):\n", cfg->nmodels);
    for (size_t i = 0; i < cfg->nmodels; i++) {
        const dw_model_config *m = &cfg->models[i];
        size_t ignored = 0;
        for (size_t j = 0; j < m->ncolumns; j++)
            ignored += m->columns[j].ignore;
        size_t nver;
        uint64_t bytes = dw_budget_model_bytes(cfg, i, refs[i], &nver);
        printf("  %s (version %s): %s, %zu columns, %zu overrides, %zu ignored, window memory %s "
               "per version (up to %zu)\n",
               m->name, m->version ? m->version : "any", m->reference, refs[i]->ncols, m->ncolumns,
               ignored, dw_budget_format_bytes(bytes, a, sizeof a), nver);
    }
    for (size_t i = 0; i < cfg->nmodels; i++) {
        const dw_perf_config *p = &cfg->models[i].perf;
        if (!p->enabled)
            continue;
        printf("  %s performance: %s, %zu rule%s%s%s\n", cfg->models[i].name,
               p->kind == DW_PERF_CLASSIFICATION ? "classification" : "regression", p->nrules,
               p->nrules == 1 ? "" : "s", p->reference_data ? ", reference from " : "",
               p->reference_data ? p->reference_data : "");
    }
    if (cfg->labels.enabled)
        printf("labels: %zu topic%s, key %s, max_delay %s, join memory %lld MiB\n",
               cfg->labels.ntopics, cfg->labels.ntopics == 1 ? "" : "s", cfg->labels.key,
               dw_duration_format(cfg->labels.max_delay_ms, b, sizeof b),
               (long long)cfg->labels.memory_mb);
    printf("window memory: up to %s of evaluation.max_memory_mb %lld MiB\n",
           dw_budget_format_bytes(budget->window_bytes, a, sizeof a),
           (long long)cfg->evaluation.max_memory_mb);
    printf("windows (%zu):\n", cfg->nwindows);
    for (size_t i = 0; i < cfg->nwindows; i++) {
        const dw_window_config *w = &cfg->windows[i];
        printf("  %s: length %s, slide %s, %u panes\n", w->name,
               dw_duration_format(w->length_ms, a, sizeof a),
               dw_duration_format(w->slide_ms, b, sizeof b), w->panes);
    }
    printf("sinks (%zu):\n", cfg->nsinks);
    for (size_t i = 0; i < cfg->nsinks; i++) {
        const dw_sink_config *s = &cfg->sinks[i];
        char u[256];
        printf("  %s: %s%s%s\n", s->name, s->type, s->url ? " " : "",
               s->url ? redact_url(s->url, u, sizeof u) : "");
    }
    if (cfg->nretrain) {
        printf("retrain (%zu):\n", cfg->nretrain);
        for (size_t i = 0; i < cfg->nretrain; i++) {
            const dw_retrain_config *r = &cfg->retrain[i];
            char u[256];
            printf("  %s: %s %s (model %s, window %s, >= %d columns)\n", r->name, r->type,
                   redact_url(r->url, u, sizeof u), r->model ? r->model : "any", r->window,
                   r->min_columns);
        }
    }
}

int cmd_validate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    int quiet = 0, opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:qh", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "driftwatch: validate: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (!path) {
        fprintf(stderr, "driftwatch: validate: -c CONFIG is required\n");
        usage(stderr);
        return 2;
    }

    char err[1024];
    dw_config *cfg = NULL;
    if (dw_config_load(path, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "driftwatch: %s\n", err);
        return 2;
    }
    /* Everything is checked before anything is printed, so a failure
     * prints only its one stderr line. */
    dw_reference **refs = dw_calloc(cfg->nmodels + 1, sizeof *refs);
    dw_budget budget = {0};
    int rc = check_models(cfg, refs, &budget);
    int warnings = rc == 0 ? warn_models(cfg, refs) : 0;
    if (rc == 0 && !quiet) {
        print_summary(cfg, refs, &budget);
        printf("configuration OK%s\n", warnings ? " (with warnings, see above)" : "");
    }
    for (size_t i = 0; i < cfg->nmodels; i++)
        dw_reference_free(refs[i]);
    free(refs);
    dw_config_free(cfg);
    return rc;
}

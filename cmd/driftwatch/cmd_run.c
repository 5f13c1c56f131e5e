/* `driftwatch run` and `driftwatch replay`: the sidecar over Kafka, or the
 * same engine over a file. */
#include "commands.h"

#include "driftwatch/config.h"
#include "driftwatch/state_dir.h"
#include "driftwatch/log.h"
#include "driftwatch/sidecar.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

typedef struct run_args {
    const char *config;
    const char *log_level;
    const char *log_format;
    int stdout_only;
    int http;
    int alertmanager;
    const char *input;
    const char *labels; /* replay --labels FILE */
} run_args;

static void usage(FILE *f, int replay)
{
    if (replay)
        fputs("usage: driftwatch replay -c CONFIG [--stdout] [--http] [--alertmanager]\n"
              "                         [--labels LABELS] [--log-level L]\n"
              "                         [--log-format json|text] FILE\n"
              "\n"
              "Runs the engine over FILE (JSONL: one message per line; '-' reads stdin) with\n"
              "the configuration's models, windows and thresholds, and delivers the\n"
              "notifications to its sinks, or prints them with --stdout. The same input\n"
              "gives the same notifications, so thresholds can be backtested. --http serves\n"
              "/metrics, /api/v1/status and /ui on http.listen while it runs.\n"
              "Alertmanager sinks are left out unless --alertmanager is given: a replay's\n"
              "alerts are history, and posted ones would stay active in Alertmanager for\n"
              "4 x resend_interval after the replay ends.\n"
              "--labels LABELS reads label records from a second JSONL file, merged with\n"
              "FILE in event-time order (labels section; docs/performance.md).\n",
              f);
    else
        fputs("usage: driftwatch run -c CONFIG [--log-level L] [--log-format json|text]\n"
              "\n"
              "Consumes the configured Kafka topics, keeps event-time sliding windows of\n"
              "every monitored column, and alerts on drift. SIGTERM/SIGINT stop it cleanly.\n",
              f);
}

static int parse(int argc, char **argv, int replay, run_args *a)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"log-level", required_argument, NULL, 'l'},
        {"log-format", required_argument, NULL, 'f'},
        {"stdout", no_argument, NULL, 's'},
        {"http", no_argument, NULL, 'H'},
        {"alertmanager", no_argument, NULL, 'A'},
        {"labels", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': a->config = optarg; break;
        case 'l': a->log_level = optarg; break;
        case 'f': a->log_format = optarg; break;
        case 's':
            if (!replay) {
                fprintf(stderr, "driftwatch: --stdout is an option of replay\n");
                return 2;
            }
            a->stdout_only = 1;
            break;
        case 'H':
            if (!replay) {
                fprintf(stderr, "driftwatch: --http is an option of replay (run always serves "
                                "http.listen unless http.enabled is false)\n");
                return 2;
            }
            a->http = 1;
            break;
        case 'A':
            if (!replay) {
                fprintf(stderr, "driftwatch: --alertmanager is an option of replay\n");
                return 2;
            }
            a->alertmanager = 1;
            break;
        case 'L':
            if (!replay) {
                fprintf(stderr, "driftwatch: --labels is an option of replay\n");
                return 2;
            }
            a->labels = optarg;
            break;
        case 'h': usage(stdout, replay); return 0;
        default: usage(stderr, replay); return 2;
        }
    }
    if (!a->config) {
        fprintf(stderr, "driftwatch: -c CONFIG is required\n");
        usage(stderr, replay);
        return 2;
    }
    if (replay) {
        if (optind != argc - 1) {
            fprintf(stderr, "driftwatch: replay needs exactly one input FILE (or -)\n");
            return 2;
        }
        a->input = argv[optind];
    } else if (optind != argc) {
        fprintf(stderr, "driftwatch: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return -1;
}

/* Loads the configuration and applies its log settings (command-line flags
 * win). Returns NULL after printing the error. */
static dw_config *load_config(const run_args *a)
{
    char err[1024];
    dw_config *cfg = NULL;
    if (dw_config_load(a->config, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "driftwatch: %s\n", err);
        return NULL;
    }
    dw_log_level lv = cfg->log.level;
    dw_log_format fm = cfg->log.format;
    if (a->log_level && dw_log_level_parse(a->log_level, &lv) < 0) {
        fprintf(stderr, "driftwatch: --log-level: '%s' is not debug|info|warn|error\n",
                a->log_level);
        dw_config_free(cfg);
        return NULL;
    }
    if (a->log_format && dw_log_format_parse(a->log_format, &fm) < 0) {
        fprintf(stderr, "driftwatch: --log-format: '%s' is not json|text\n", a->log_format);
        dw_config_free(cfg);
        return NULL;
    }
    dw_log_set_level(lv);
    dw_log_set_format(fm);
    return cfg;
}

/* Without a configured state_dir, run uses dw_state_dir_default() and
 * creates it (a laptop's ~/.local/state/driftwatch), so the outbox and the
 * alert states work without root and without an error in the log. */
static void prepare_default_state_dir(const dw_config *cfg)
{
    char err[1024];
    if (!cfg->state_dir_default)
        return;
    if (dw_mkdir_p(cfg->state_dir, 0700, err, sizeof err) < 0)
        dw_log(DW_LOG_WARN, "main", "state_dir (default): %s", err);
    else
        dw_log(DW_LOG_INFO, "main", "state_dir not configured: using %s", cfg->state_dir);
}

int cmd_run(int argc, char **argv)
{
    run_args a;
    int rc = parse(argc, argv, 0, &a);
    if (rc >= 0)
        return rc;
    dw_config *cfg = load_config(&a);
    if (!cfg)
        return 2;
    char err[1024];
    dw_sidecar *s = NULL;
    prepare_default_state_dir(cfg);
    dw_sidecar_options opts = {.reload = &dw_reload_requested};
    if (dw_sidecar_new(cfg, &opts, &s, err, sizeof err) < 0) {
        fprintf(stderr, "driftwatch: %s\n", err);
        dw_config_free(cfg);
        return 2;
    }
    rc = dw_sidecar_run(s, &dw_stop_requested, err, sizeof err);
    if (rc < 0)
        dw_log(DW_LOG_ERROR, "main", "%s", err);
    dw_sidecar_free(s);
    dw_config_free(cfg);
    return rc < 0 ? 1 : 0;
}

/* Moves the alertmanager sinks behind the first *nsinks and returns how
 * many others there are; the caller restores cfg->nsinks before freeing. */
static size_t without_alertmanager(dw_config *cfg)
{
    size_t kept = 0;
    for (size_t i = 0; i < cfg->nsinks; i++) {
        if (strcmp(cfg->sinks[i].type, "alertmanager") == 0) {
            dw_log(DW_LOG_INFO, "main",
                   "replay: sink %s (alertmanager) left out; --alertmanager posts to it",
                   cfg->sinks[i].name);
            continue;
        }
        dw_sink_config t = cfg->sinks[kept];
        cfg->sinks[kept++] = cfg->sinks[i];
        cfg->sinks[i] = t;
    }
    return kept;
}

int cmd_replay(int argc, char **argv)
{
    run_args a;
    int rc = parse(argc, argv, 1, &a);
    if (rc >= 0)
        return rc;
    dw_config *cfg = load_config(&a);
    if (!cfg)
        return 2;
    FILE *in = strcmp(a.input, "-") == 0 ? stdin : fopen(a.input, "r");
    if (!in) {
        fprintf(stderr, "driftwatch: %s: cannot open: %s\n", a.input, strerror(errno));
        dw_config_free(cfg);
        return 2;
    }
    FILE *lin = NULL;
    if (a.labels && (!cfg->labels.enabled || !(lin = fopen(a.labels, "r")))) {
        if (!cfg->labels.enabled)
            fprintf(stderr, "driftwatch: --labels needs a labels section in %s\n", a.config);
        else
            fprintf(stderr, "driftwatch: %s: cannot open: %s\n", a.labels, strerror(errno));
        if (in != stdin)
            fclose(in);
        dw_config_free(cfg);
        return 2;
    }
    /* A replay is a backtest that can be run again: without a configured
     * state_dir it keeps undelivered notifications in memory only, rather
     * than sharing (and locking) the outbox of a sidecar on this machine. */
    if (cfg->state_dir_default) {
        free(cfg->state_dir);
        cfg->state_dir = NULL;
    }
    /* The future bound is on the wall clock, which says nothing about a
     * file's records (a test fixture may lie ahead of it): a replay gives
     * the same results whenever it is run. */
    cfg->time.max_future_ms = 0;
    size_t nsinks = cfg->nsinks;
    if (!a.alertmanager)
        cfg->nsinks = without_alertmanager(cfg);
    char err[1024];
    dw_sidecar *s = NULL;
    dw_sidecar_options opts = {.stdout_only = a.stdout_only != 0, .replay_http = a.http != 0};
    if (dw_sidecar_new(cfg, &opts, &s, err, sizeof err) < 0) {
        fprintf(stderr, "driftwatch: %s\n", err);
        if (in != stdin)
            fclose(in);
        if (lin)
            fclose(lin);
        cfg->nsinks = nsinks;
        dw_config_free(cfg);
        return 2;
    }
    rc = dw_sidecar_replay_labels(s, in, a.input, lin, a.labels, err, sizeof err);
    if (in != stdin)
        fclose(in);
    if (lin)
        fclose(lin);
    if (rc < 0)
        fprintf(stderr, "driftwatch: %s\n", err);
    dw_sidecar_free(s);
    cfg->nsinks = nsinks; /* every sink is freed */
    dw_config_free(cfg);
    return rc < 0 ? 2 : 0;
}

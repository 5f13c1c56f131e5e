/* `driftwatch reference build`: option parsing and the summary; the work is
 * in src/reference_build.c. */
#include "commands.h"

#include "driftwatch/error.h"
#include "driftwatch/reference.h"
#include "driftwatch/reference_build.h"
#include "driftwatch/state_dir.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
    fputs("usage: driftwatch reference build --input FILE --output FILE [options]\n"
          "\n"
          "Builds reference statistics (docs/reference-format.md) from training data.\n"
          "\n"
          "  -i, --input FILE          training data, CSV or JSONL ('-' = stdin)\n"
          "  -o, --output FILE         reference file to write (atomically; missing\n"
          "                            directories are created)\n"
          "  -f, --format csv|jsonl    input format (default: from the file extension)\n"
          "      --columns a,b,...     only these columns, in this order (default: all)\n"
          "      --numeric a,...       force these columns numeric\n"
          "      --categorical b,...   force these columns categorical\n"
          "      --bins N              fine bins per numeric column (default 1000, max 100000)\n"
          "      --max-categories N    listed categories per column, the rest pooled as\n"
          "                            \"other\" (default 100, max 10000)\n"
          "      --model NAME          model name recorded in the reference\n"
          "      --model-version V     model version recorded in the reference\n"
          "  -h, --help                this help\n"
          "\n"
          "Missing values (counted, not binned): empty cell, JSON null, NA, NaN, nan, null.\n"
          "JSONL records' \"features\" and \"prediction\" members become columns\n"
          "features.<name> and prediction.<name>. SOURCE_DATE_EPOCH, if set, fixes created_at.\n",
          f);
}

/* Splits a comma-separated list into *out (strings point into the copy kept
 * in *store). Empty items are an error. */
static int split_list(const char *arg, const char *opt, char **store, const char ***out, size_t *n)
{
    free(*store);
    free(*out);
    *store = dw_strdup(arg);
    size_t cap = 1;
    for (const char *p = arg; *p; p++)
        cap += *p == ',';
    *out = dw_calloc(cap, sizeof **out);
    *n = 0;
    /* strsep over the copy keeps empty items visible, so "a,,b" is caught. */
    char *p = *store;
    char *item;
    while ((item = strsep(&p, ",")) != NULL) {
        if (!*item) {
            fprintf(stderr, "driftwatch: %s: empty column name in \"%s\"\n", opt, arg);
            return -1;
        }
        (*out)[(*n)++] = item;
    }
    return 0;
}

static int parse_size(const char *arg, const char *opt, size_t lo, size_t hi, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno || end == arg || *end || arg[0] == '-' || v < lo || v > hi) {
        fprintf(stderr, "driftwatch: %s must be an integer from %zu to %zu, not \"%s\"\n", opt, lo,
                hi, arg);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

/* created_at: SOURCE_DATE_EPOCH (reproducible builds) or now. */
static int created_at(char *buf, size_t len)
{
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    time_t t = time(NULL);
    if (sde && *sde) {
        char *end;
        errno = 0;
        long long v = strtoll(sde, &end, 10);
        if (errno || *end || v < 0) {
            fprintf(stderr,
                    "driftwatch: SOURCE_DATE_EPOCH must be seconds since 1970, not "
                    "\"%s\"\n",
                    sde);
            return -1;
        }
        t = (time_t)v;
    }
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return 0;
}

/* --output reference_stats/fraud.json works in a fresh checkout: the
 * directory is created, like `mkdir -p` would. */
static int make_parent(const char *path, char *err, size_t errlen)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    char *dir = dw_strndup(path, (size_t)(slash - path));
    int rc = dw_mkdir_p(dir, 0755, err, errlen);
    free(dir);
    return rc;
}

static void summary(const dw_reference *ref, const char *output)
{
    printf("reference: %llu rows, %zu columns -> %s\n", (unsigned long long)ref->rows, ref->ncols,
           output);
    for (size_t i = 0; i < ref->ncols; i++) {
        const dw_ref_column *c = &ref->cols[i];
        double miss = ref->rows ? 100.0 * (double)c->missing / (double)ref->rows : 0;
        if (c->type == DW_COL_NUMERIC)
            printf("  %-32s numeric      %6zu bins        missing %5.1f%%  range [%g, %g]\n",
                   c->name, c->nbins, miss, c->min, c->max);
        else
            printf("  %-32s categorical  %6zu categories  missing %5.1f%%  other %llu\n", c->name,
                   c->ncat, miss, (unsigned long long)c->other_count);
    }
}

static int cmd_reference_build(int argc, char **argv)
{
    enum { O_COLUMNS = 256, O_NUMERIC, O_CATEGORICAL, O_BINS, O_MAXCAT, O_MODEL, O_VERSION };
    static const struct option opts[] = {
        {"input", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'f'},
        {"columns", required_argument, NULL, O_COLUMNS},
        {"numeric", required_argument, NULL, O_NUMERIC},
        {"categorical", required_argument, NULL, O_CATEGORICAL},
        {"bins", required_argument, NULL, O_BINS},
        {"max-categories", required_argument, NULL, O_MAXCAT},
        {"model", required_argument, NULL, O_MODEL},
        {"model-version", required_argument, NULL, O_VERSION},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    dw_build_options o;
    dw_build_options_init(&o);
    const char *input = NULL, *output = NULL;
    char *st_cols = NULL, *st_num = NULL, *st_cat = NULL;
    const char **l_cols = NULL, **l_num = NULL, **l_cat = NULL;
    int status = 2, ch;
    dw_reference *ref = NULL;

    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, ":i:o:f:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'i': input = optarg; break;
        case 'o': output = optarg; break;
        case 'f':
            if (dw_table_format_parse(optarg, &o.format) < 0) {
                fprintf(stderr, "driftwatch: --format must be csv or jsonl, not \"%s\"\n", optarg);
                goto out;
            }
            break;
        case O_COLUMNS:
            if (split_list(optarg, "--columns", &st_cols, &l_cols, &o.ncolumns) < 0)
                goto out;
            o.columns = l_cols;
            break;
        case O_NUMERIC:
            if (split_list(optarg, "--numeric", &st_num, &l_num, &o.nnumeric) < 0)
                goto out;
            o.numeric = l_num;
            break;
        case O_CATEGORICAL:
            if (split_list(optarg, "--categorical", &st_cat, &l_cat, &o.ncategorical) < 0)
                goto out;
            o.categorical = l_cat;
            break;
        case O_BINS:
            if (parse_size(optarg, "--bins", 1, DW_MAX_BINS, &o.bins) < 0)
                goto out;
            break;
        case O_MAXCAT:
            if (parse_size(optarg, "--max-categories", 0, DW_MAX_CATEGORIES, &o.max_categories) < 0)
                goto out;
            break;
        case O_MODEL: o.model = optarg; break;
        case O_VERSION: o.model_version = optarg; break;
        case 'h':
            usage(stdout);
            status = 0;
            goto out;
        case ':':
            fprintf(stderr, "driftwatch: reference build: option %s needs a value\n",
                    argv[optind - 1]);
            goto out;
        default:
            fprintf(stderr, "driftwatch: reference build: unknown option %s (see --help)\n",
                    argv[optind - 1]);
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "driftwatch: reference build: unexpected argument \"%s\" (see --help)\n",
                argv[optind]);
        goto out;
    }
    if (!input || !output) {
        fprintf(stderr, "driftwatch: reference build: %s is required (see --help)\n",
                !input ? "--input" : "--output");
        goto out;
    }
    char when[32];
    if (created_at(when, sizeof when) < 0)
        goto out;
    o.created_at = when;

    char err[1024];
    int rc = dw_reference_build(input, &o, &ref, err, sizeof err);
    if (rc == 0)
        rc = make_parent(output, err, sizeof err);
    if (rc == 0)
        rc = dw_reference_save(ref, output, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "driftwatch: %s\n", err);
        goto out;
    }
    summary(ref, output);
    status = 0;
out:
    dw_reference_free(ref);
    free(st_cols);
    free(st_num);
    free(st_cat);
    free(l_cols);
    free(l_num);
    free(l_cat);
    return status;
}

int cmd_reference(int argc, char **argv)
{
    /* argv[0] is "reference". */
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "build"))
        return cmd_reference_build(argc - 1, argv + 1);
    fprintf(stderr, "driftwatch: reference: unknown subcommand \"%s\" (expected \"build\")\n",
            argv[1]);
    return 2;
}

/* `driftwatch check`: one-shot comparison of a file with a reference; exit 1
 * on drift, so it can gate a CI pipeline against training/serving skew. */
#include "commands.h"

#include "driftwatch/check.h"
#include "driftwatch/check_compare.h"
#include "driftwatch/error.h"
#include "driftwatch/reference.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OVERRIDES 256

static void usage(FILE *f)
{
    fputs("usage: driftwatch check --reference REF [--format csv|jsonl] [--json]\n"
          "                        [--alpha A] [--psi X] [--ks D] [--min-samples N]\n"
          "                        [--missing-rate-delta X] [--type-error-rate X]\n"
          "                        [--out-of-range-rate X] [--unseen-rate X]\n"
          "                        [--column NAME:key=value[,key=value...]]... FILE\n"
          "       driftwatch check --reference REF [options] --baseline A --candidate B\n"
          "       driftwatch check --reference REF [options] --versions A,B\n"
          "                        [--version-field model_version] FILE\n"
          "\n"
          "Compares FILE (CSV with a header row, or JSONL; '-' reads stdin) with the\n"
          "reference statistics REF and prints one row per column (or a JSON document\n"
          "with --json). A column drifts when its Benjamini-Hochberg corrected p-value\n"
          "is below --alpha (default 0.01), its effect size clears --psi (0.2) or --ks\n"
          "(0.1), and it has at least --min-samples values (100). --column overrides\n"
          "thresholds for one column (keys: alpha, psi, ks, min_samples,\n"
          "missing_rate_delta, type_error_rate, out_of_range_rate, unseen_rate), e.g.\n"
          "  --column features.amount:psi=0.3,ks=0.15\n"
          "\n"
          "\n"
          "With --baseline/--candidate (two files) or --versions (two values of the\n"
          "version field in one file) the two samples are compared with each other, as\n"
          "the canary gate compares two versions (docs/canary.md): two-sample KS or\n"
          "chi-squared and PSI per column over REF's bins, verdict pass, fail or\n"
          "inconclusive. Exit status 1 on fail.\n"
          "\n"
          "Exit status: 0 no drift, 1 drift or a data-quality issue, 2 usage or input error.\n",
          f);
}

/* One threshold, parsed as the configuration parses it (drift.h). */
static int set_threshold(dw_thresholds *th, const char *key, const char *val)
{
    int i = dw_threshold_index(key);
    if (i < 0 || i >= DW_THRESHOLD_NKEYS_CHECK) {
        /* The keys from drift.h's table, the one list run and check share. */
        fprintf(stderr, "driftwatch: --column: unknown threshold '%s' (", key);
        for (int k = 0; k < DW_THRESHOLD_NKEYS_CHECK; k++)
            fprintf(stderr, "%s%s", k ? ", " : "", dw_threshold_keys[k]);
        fputs(")\n", stderr);
        return -1;
    }
    char why[160];
    const char *bad = dw_thresholds_set(th, i, val, why, sizeof why);
    if (bad) {
        fprintf(stderr, "driftwatch: %s: %s\n", key, bad);
        return -1;
    }
    return 0;
}

/* "NAME:key=value,key=value" → override (column name may contain dots and
 * colons; the last ':' separates it). */
static int parse_override(char *spec, const dw_thresholds *base, dw_check_override *o)
{
    char *colon = strrchr(spec, ':');
    if (!colon || colon == spec || !colon[1]) {
        fprintf(stderr, "driftwatch: --column '%s': expected NAME:key=value[,key=value]\n", spec);
        return -1;
    }
    *colon = '\0';
    o->column = spec;
    o->th = *base;
    char *save = NULL;
    for (char *kv = strtok_r(colon + 1, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) {
            fprintf(stderr, "driftwatch: --column %s: '%s' is not key=value\n", spec, kv);
            return -1;
        }
        *eq = '\0';
        if (set_threshold(&o->th, kv, eq + 1) < 0)
            return -1;
    }
    return 0;
}

/* check --baseline A --candidate B, or --versions A,B FILE: the two
 * samples against each other (check_compare.h). */
static int compare_samples(const char *refpath, dw_check_options *opts, const char *base_file,
                           const char *cand_file, char *versions, const char *version_field,
                           const char *file, int nfiles, int json)
{
    const char *inputs[2] = {base_file, cand_file}, *names[2] = {base_file, cand_file};
    const char *vers[2] = {NULL, NULL};
    if (versions) {
        char *comma = strchr(versions, ',');
        if (base_file || cand_file || !comma || comma == versions || !comma[1] ||
            strchr(comma + 1, ',') || nfiles != 1) {
            fprintf(stderr, "driftwatch: --versions takes A,B and one input FILE (not with "
                            "--baseline/--candidate)\n");
            return 2;
        }
        *comma = '\0';
        vers[0] = names[0] = versions;
        vers[1] = names[1] = comma + 1;
        inputs[0] = inputs[1] = file;
    } else if (!base_file || !cand_file || nfiles != 0) {
        fprintf(stderr, "driftwatch: --baseline and --candidate take one file each, and no "
                        "other input FILE\n");
        return 2;
    }
    if (opts->noverrides) {
        fprintf(stderr, "driftwatch: --column does not apply to a comparison of two samples\n");
        return 2;
    }
    char err[1024];
    dw_reference *ref = NULL;
    if (dw_reference_load(refpath, &ref, err, sizeof err) < 0) {
        fprintf(stderr, "driftwatch: %s\n", err);
        return 2;
    }
    dw_check_report *rep[2] = {NULL, NULL};
    int status = 2;
    for (int i = 0; i < 2; i++) {
        opts->version_field = vers[i] ? version_field : NULL;
        opts->version = vers[i];
        if (dw_check_run(ref, inputs[i], opts, &rep[i], err, sizeof err) < 0) {
            fprintf(stderr, "driftwatch: %s\n", err);
            goto out;
        }
    }
    json_t *doc;
    dw_verdict v = dw_check_compare(rep[0], rep[1], &opts->thresholds, names[0], names[1], &doc);
    if (json) {
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        fputc('\n', stdout);
    } else {
        dw_check_compare_print(doc, stdout);
    }
    json_decref(doc);
    status = v == DW_VERDICT_FAIL ? 1 : 0;
out:
    dw_check_report_free(rep[0]);
    dw_check_report_free(rep[1]);
    dw_reference_free(ref);
    return status;
}

int cmd_check(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"reference", required_argument, NULL, 'r'},
        {"format", required_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},
        {"alpha", required_argument, NULL, 'a'},
        {"psi", required_argument, NULL, 'p'},
        {"ks", required_argument, NULL, 'k'},
        {"min-samples", required_argument, NULL, 'm'},
        {"missing-rate-delta", required_argument, NULL, 'M'},
        {"type-error-rate", required_argument, NULL, 'T'},
        {"out-of-range-rate", required_argument, NULL, 'O'},
        {"unseen-rate", required_argument, NULL, 'U'},
        {"column", required_argument, NULL, 'C'},
        {"baseline", required_argument, NULL, 'B'},
        {"candidate", required_argument, NULL, 'N'},
        {"versions", required_argument, NULL, 'V'},
        {"version-field", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *refpath = NULL;
    const char *base_file = NULL, *cand_file = NULL, *version_field = "model_version";
    char *versions = NULL;
    int json = 0;
    dw_check_options opts;
    memset(&opts, 0, sizeof opts);
    dw_thresholds_default(&opts.thresholds);
    char *column_specs[MAX_OVERRIDES];
    size_t ncolumn_specs = 0;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "r:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'r': refpath = optarg; break;
        case 'f':
            if (dw_table_format_parse(optarg, &opts.format) < 0) {
                fprintf(stderr, "driftwatch: --format: '%s' is not csv or jsonl\n", optarg);
                return 2;
            }
            break;
        case 'j': json = 1; break;
        case 'a':
        case 'p':
        case 'k':
        case 'm':
        case 'M':
        case 'O':
        case 'U':
        case 'T': {
            const char *key = opt == 'a'   ? "alpha"
                              : opt == 'p' ? "psi"
                              : opt == 'k' ? "ks"
                              : opt == 'm' ? "min_samples"
                              : opt == 'M' ? "missing_rate_delta"
                              : opt == 'O' ? "out_of_range_rate"
                              : opt == 'U' ? "unseen_rate"
                                           : "type_error_rate";
            if (set_threshold(&opts.thresholds, key, optarg) < 0)
                return 2;
            break;
        }
        case 'C':
            if (ncolumn_specs == MAX_OVERRIDES) {
                fprintf(stderr, "driftwatch: at most %d --column options\n", MAX_OVERRIDES);
                return 2;
            }
            column_specs[ncolumn_specs++] = optarg;
            break;
        case 'B': base_file = optarg; break;
        case 'N': cand_file = optarg; break;
        case 'V': versions = optarg; break;
        case 'F': version_field = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (refpath && (base_file || cand_file || versions))
        return compare_samples(refpath, &opts, base_file, cand_file, versions, version_field,
                               optind < argc ? argv[optind] : NULL, argc - optind, json);
    if (!refpath || optind != argc - 1) {
        fprintf(stderr, "driftwatch: check needs --reference REF and one input FILE\n");
        usage(stderr);
        return 2;
    }
    /* Column overrides start from the run-wide thresholds, whatever the
     * order of the options. */
    dw_check_override overrides[MAX_OVERRIDES];
    for (size_t i = 0; i < ncolumn_specs; i++)
        if (parse_override(column_specs[i], &opts.thresholds, &overrides[i]) < 0)
            return 2;
    opts.overrides = overrides;
    opts.noverrides = ncolumn_specs;

    char err[1024];
    dw_reference *ref = NULL;
    if (dw_reference_load(refpath, &ref, err, sizeof err) < 0) {
        fprintf(stderr, "driftwatch: %s\n", err);
        return 2;
    }
    dw_check_report *rep = NULL;
    if (dw_check_run(ref, argv[optind], &opts, &rep, err, sizeof err) < 0) {
        fprintf(stderr, "driftwatch: %s\n", err);
        dw_reference_free(ref);
        return 2;
    }
    if (json) {
        json_t *doc = dw_check_report_json(rep);
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        fputc('\n', stdout);
        json_decref(doc);
    } else {
        dw_check_report_print(rep, stdout);
    }
    char warn[2048];
    if (dw_check_absent_warning(rep, warn, sizeof warn))
        fprintf(stderr, "driftwatch: WARNING: %s\n", warn);
    int status = dw_check_drifted(rep) || dw_check_quality_issues(rep) ? 1 : 0;
    dw_check_report_free(rep);
    dw_reference_free(ref);
    return status;
}

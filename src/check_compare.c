/* `driftwatch check` comparing two samples (docs/check.md): the counts of
 * two check reports, compared column by column as the canary gate
 * compares two versions' windows (compare.h). */
#include "driftwatch/check_compare.h"

#include "driftwatch/error.h"
#include "driftwatch/status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *dw_compare_column_json(const dw_compare_column *cc, const char *name)
{
    const dw_column_result *r = &cc->r;
    json_t *t = json_object();
    if (r->has_ks)
        json_object_set_new(t, "ks",
                            dw_status_test_json(r, DW_STATUS_TEST_KS,
                                                DW_STATUS_TEST_P_ADJUSTED | DW_STATUS_TEST_N_EFF));
    if (r->has_chi2)
        json_object_set_new(t, "chi2",
                            dw_status_test_json(r, DW_STATUS_TEST_CHI2, DW_STATUS_TEST_P_ADJUSTED));
    json_object_set_new(t, "psi", dw_json_number(r->psi));
    return json_pack("{s:s,s:s,s:s,s:b,s:I,s:I,s:o}", "name",
                     name     ? name
                     : r->ref ? r->ref->name
                              : "",
                     "type", dw_status_col_type_name(r->type), "verdict",
                     dw_verdict_name(cc->verdict), "divergent", r->drift, "baseline_samples",
                     (json_int_t)cc->n_baseline, "candidate_samples", (json_int_t)cc->n_candidate,
                     "tests", t);
}

json_t *dw_compare_summary_json(const dw_compare_summary *s)
{
    return json_pack("{s:I,s:I,s:I,s:I}", "compared", (json_int_t)s->compared, "failed",
                     (json_int_t)s->failed, "inconclusive", (json_int_t)s->inconclusive, "passed",
                     (json_int_t)s->passed);
}

char *dw_compare_reason(const dw_compare_column *cols, size_t n, const dw_compare_summary *sum,
                        char *buf, size_t len)
{
    if (sum->verdict == DW_VERDICT_FAIL) {
        int used = snprintf(buf, len, "%zu of %zu columns diverge: ", sum->failed, sum->compared);
        size_t listed = 0;
        for (size_t k = 0; k < n && used >= 0 && (size_t)used + 80 < len; k++) {
            if (cols[k].verdict != DW_VERDICT_FAIL)
                continue;
            int w = snprintf(buf + used, len - (size_t)used, "%s%s", listed++ ? ", " : "",
                             cols[k].r.ref ? cols[k].r.ref->name : "?");
            used = w < 0 ? -1 : used + w;
        }
    } else if (sum->verdict == DW_VERDICT_INCONCLUSIVE) {
        snprintf(buf, len,
                 "%zu of %zu columns inconclusive (too few samples, or a difference the samples "
                 "cannot confirm yet)",
                 sum->inconclusive, sum->compared);
    } else {
        snprintf(buf, len, "no column of %zu diverges", sum->compared);
    }
    return buf;
}

dw_verdict dw_check_compare(const dw_check_report *baseline, const dw_check_report *candidate,
                            const dw_thresholds *th, const char *baseline_name,
                            const char *candidate_name, json_t **doc)
{
    size_t n = 0;
    dw_check_results(baseline, &n);
    dw_compare_column *cols = dw_calloc(n + 1, sizeof *cols);
    for (size_t j = 0; j < n; j++) {
        dw_sample sb, sc;
        dw_check_sample(baseline, j, &sb);
        dw_check_sample(candidate, j, &sc);
        dw_compare_column_evaluate(&sb, &sc, &cols[j]);
    }
    dw_compare_summary sum;
    dw_compare_decide(cols, n, th, 0, &sum);
    json_t *jc = json_array();
    static const dw_verdict order[] = {DW_VERDICT_FAIL, DW_VERDICT_INCONCLUSIVE, DW_VERDICT_PASS};
    for (size_t o = 0; o < 3; o++)
        for (size_t j = 0; j < n; j++)
            if (cols[j].verdict == order[o])
                json_array_append_new(jc, dw_compare_column_json(&cols[j], NULL));
    char why[700];
    dw_compare_reason(cols, n, &sum, why, sizeof why);
    *doc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o}", "version", "1", "baseline", baseline_name,
                     "candidate", candidate_name, "verdict", dw_verdict_name(sum.verdict), "reason",
                     why, "summary", dw_compare_summary_json(&sum), "thresholds",
                     dw_status_thresholds_json(th, false), "columns", jc);
    free(cols);
    return sum.verdict;
}

static double num_at(const json_t *o, const char *k1, const char *k2)
{
    const json_t *v = json_object_get(o, k1);
    if (k2)
        v = json_object_get(v, k2);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* A number for the table, "-" when it does not apply. */
static const char *cell(char *buf, size_t len, double x, bool fixed, int prec)
{
    if (isnan(x))
        snprintf(buf, len, "-");
    else if (fixed)
        snprintf(buf, len, "%.*f", prec, x);
    else
        snprintf(buf, len, "%.*g", prec, x);
    return buf;
}

void dw_check_compare_print(const json_t *doc, FILE *f)
{
    fprintf(f, "baseline %s, candidate %s: %s (%s)\n\n",
            json_string_value(json_object_get(doc, "baseline")),
            json_string_value(json_object_get(doc, "candidate")),
            json_string_value(json_object_get(doc, "verdict")),
            json_string_value(json_object_get(doc, "reason")));
    fprintf(f, "%-32s %-12s %9s %9s %9s %11s %9s %9s\n", "column", "verdict", "base n", "cand n",
            "KS D", "chi2", "p_adj", "PSI");
    size_t i;
    const json_t *c;
    json_array_foreach (json_object_get(doc, "columns"), i, c) {
        const json_t *t = json_object_get(c, "tests");
        bool ks = json_object_get(t, "ks") != NULL;
        char d[32], chi[32], p[32], psi[32];
        fprintf(f, "%-32s %-12s %9.0f %9.0f %9s %11s %9s %9s\n",
                json_string_value(json_object_get(c, "name")),
                json_string_value(json_object_get(c, "verdict")),
                num_at(c, "baseline_samples", NULL), num_at(c, "candidate_samples", NULL),
                cell(d, sizeof d, num_at(t, "ks", "statistic"), true, 4),
                cell(chi, sizeof chi, num_at(t, "chi2", "statistic"), false, 4),
                cell(p, sizeof p, num_at(t, ks ? "ks" : "chi2", "p_adjusted"), false, 3),
                cell(psi, sizeof psi, num_at(t, "psi", NULL), true, 4));
    }
}

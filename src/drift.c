/* Per-column statistics and the drift decision of one evaluation (drift.h). */
#include "driftwatch/drift.h"

#include "driftwatch/error.h"
#include "driftwatch/fdr.h"
#include "driftwatch/psi.h"

#include <stdlib.h>
#include <string.h>

void dw_thresholds_default(dw_thresholds *t)
{
    t->alpha = DW_DEFAULT_ALPHA;
    t->psi_threshold = DW_DEFAULT_PSI_THRESHOLD;
    t->ks_threshold = DW_DEFAULT_KS_THRESHOLD;
    t->min_samples = DW_DEFAULT_MIN_SAMPLES;
    t->missing_rate_delta = DW_DEFAULT_MISSING_RATE_DELTA;
    t->type_error_rate = DW_DEFAULT_TYPE_ERROR_RATE;
}

void dw_column_evaluate(const dw_sample *cur, dw_column_result *out)
{
    memset(out, 0, sizeof *out);
    out->ref = cur->ref;
    out->type = cur->ref->type;
    out->count = dw_sample_count(cur);
    out->missing = cur->missing;
    out->p_value = 1.0;
    out->p_adjusted = 1.0;
    dw_quality_compute(cur, &out->quality);
    /* An empty side gives the documented neutral results (PSI 0, p 1); the
     * DW_ERR_EMPTY codes carry no further information here. */
    (void)dw_psi(cur, &out->psi);
    if (out->type == DW_COL_NUMERIC) {
        out->has_ks = true;
        (void)dw_ks(cur, &out->ks);
        out->p_value = out->ks.p_value;
    } else {
        out->has_chi2 = true;
        (void)dw_chi2(cur, &out->chi2);
        out->p_value = out->chi2.p_value;
    }
}

static bool effect_clears(const dw_column_result *r, const dw_thresholds *t)
{
    bool any = false, hit = false;
    if (t->psi_threshold > 0) {
        any = true;
        hit = hit || r->psi >= t->psi_threshold;
    }
    if (r->has_ks && t->ks_threshold > 0) {
        any = true;
        hit = hit || r->ks.statistic >= t->ks_threshold;
    }
    /* With every effect criterion disabled only significance decides. */
    return any ? hit : true;
}

size_t dw_drift_decide(dw_column_result *res, size_t n, const dw_thresholds *th, size_t th_stride)
{
    if (n == 0)
        return 0;
    /* The BH family is the columns with enough samples: selection by sample
     * size does not depend on the p-values, so it keeps BH valid, and
     * untestable columns do not dilute the others. */
    double *p = dw_malloc(n * sizeof *p);
    size_t *which = dw_malloc(n * sizeof *which);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const dw_thresholds *t = &th[i * th_stride];
        res[i].enough_samples = res[i].count >= t->min_samples;
        res[i].p_adjusted = 1.0;
        if (res[i].enough_samples) {
            p[m] = res[i].p_value;
            which[m++] = i;
        }
    }
    dw_fdr_bh(p, p, m);
    for (size_t j = 0; j < m; j++)
        res[which[j]].p_adjusted = p[j];
    free(p);
    free(which);

    size_t drifting = 0;
    for (size_t i = 0; i < n; i++) {
        dw_column_result *r = &res[i];
        const dw_thresholds *t = &th[i * th_stride];
        r->significant = r->enough_samples && r->p_adjusted < t->alpha;
        r->effect = effect_clears(r, t);
        r->drift = r->enough_samples && r->significant && r->effect;
        r->quality_issue =
            r->quality.total >= t->min_samples &&
            (r->quality.missing_rate - r->quality.ref_missing_rate > t->missing_rate_delta ||
             r->quality.type_error_rate > t->type_error_rate);
        drifting += r->drift;
    }
    return drifting;
}

size_t dw_drift_absent(const dw_column_result *res, size_t n, const bool *ignored, size_t *first)
{
    size_t absent = 0, evaluated = 0;
    for (size_t j = 0; j < n; j++) {
        if (ignored && ignored[j])
            continue;
        evaluated++;
        if (res[j].count == 0 && res[j].missing > 0 && !absent++)
            *first = j;
    }
    return absent * 2 > evaluated ? absent : 0;
}

/* Data-quality rates of a current sample next to its reference (quality.h). */
#include "driftwatch/quality.h"

static double ratio(uint64_t num, uint64_t den)
{
    return den ? (double)num / (double)den : 0.0;
}

void dw_quality_compute(const dw_sample *cur, dw_quality *out)
{
    const dw_ref_column *ref = cur->ref;
    uint64_t valid = dw_sample_count(cur);
    out->total = valid + cur->missing + cur->type_errors;
    out->type_errors = cur->type_errors;
    out->missing_rate = ratio(cur->missing, out->total);
    out->ref_missing_rate = ratio(ref->missing, ref->count + ref->missing);
    out->type_error_rate = ratio(cur->type_errors, out->total);
    out->out_of_range_rate = 0.0;
    out->unseen_rate = 0.0;
    if (ref->type == DW_COL_NUMERIC)
        out->out_of_range_rate = ratio(cur->bins[0] + cur->bins[ref->nbins + 1], valid);
    else
        out->unseen_rate = ratio(dw_sample_unseen(cur), valid);
}

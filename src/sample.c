/* Counting helpers over a dw_sample (see sample.h for the bin layout). */
#include "driftwatch/sample.h"

size_t dw_sample_nbins(const dw_ref_column *ref)
{
    return ref->type == DW_COL_NUMERIC ? ref->nbins + 2 : ref->ncat;
}

uint64_t dw_sample_unseen(const dw_sample *s)
{
    if (s->ref->type != DW_COL_CATEGORICAL)
        return 0;
    uint64_t n = s->new_overflow;
    for (size_t i = 0; i < s->nnew; i++)
        n += s->new_counts[i];
    return n;
}

uint64_t dw_sample_count(const dw_sample *s)
{
    size_t nb = dw_sample_nbins(s->ref);
    uint64_t n = 0;
    for (size_t i = 0; i < nb; i++)
        n += s->bins[i];
    return n + dw_sample_unseen(s);
}

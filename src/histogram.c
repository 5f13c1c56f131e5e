/* Numeric bin lookup (binary search over the right-closed edges) and the
 * category hash index. Both are on the per-message hot path: no allocation,
 * no locks, O(log nbins) and O(1) average respectively. */
#include "driftwatch/histogram.h"

#include "driftwatch/error.h"
#include "driftwatch/hash.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct dw_bin_index {
    double lo, inv_width; /* bucket of x: (x - lo) * inv_width */
    double hi;            /* edges[nbins]; lo is edges[0] */
    size_t nbuckets;
    /* nbuckets: upper edges below the bucket's start; 16 bits when nbins
     * allows (half the cache footprint: it is read for every value) */
    uint16_t *first16;
    uint32_t *first;
    /* The answer for x lies in [first[b], first[b] + span] for its computed
     * bucket b, which rounding may put one below the true one: span is the
     * max over b of first[b + 2] - first[b] (n - 1 past the end). top is
     * the largest power of two <= span (0 when span is 0): the first step
     * of the search. */
    size_t span, top;
};

void dw_bin_index_free(struct dw_bin_index *idx)
{
    if (!idx)
        return;
    free(idx->first);
    free(idx->first16);
    free(idx);
}

int dw_bin_index_build(dw_ref_column *col)
{
    dw_bin_index_free(col->bin_index);
    col->bin_index = NULL;
    if (col->type != DW_COL_NUMERIC || col->nbins == 0 || !col->edges)
        return DW_ERR_INVALID;
    double lo = col->edges[0], hi = col->edges[col->nbins];
    if (!(hi > lo) || !isfinite(hi - lo))
        return DW_ERR_INVALID;
    /* Two buckets per bin: a small table (it is read for every value,
     * together with the edges, and both stay in cache), a search over a
     * few edges (span is 4 or 5 for 1000 quantile bins of a normal). */
    size_t nb = col->nbins * 2;
    if (nb > DW_BIN_INDEX_MAX)
        nb = DW_BIN_INDEX_MAX;
    struct dw_bin_index *idx = dw_calloc(1, sizeof *idx);
    idx->lo = lo;
    idx->hi = hi;
    idx->inv_width = (double)nb / (hi - lo);
    idx->nbuckets = nb;
    idx->first = dw_calloc(nb, sizeof *idx->first);
    /* Bucket starts increase, so one merge walk over the edges counts the
     * upper edges below each (linear in the reference, not nb log n). */
    size_t below = 0;
    for (size_t b = 0; b < nb; b++) {
        double start = lo + (double)b * (hi - lo) / (double)nb;
        while (below < col->nbins && col->edges[below + 1] < start)
            below++;
        idx->first[b] = (uint32_t)below;
    }
    for (size_t b = 0; b < nb; b++) {
        size_t next = b + 2 < nb ? idx->first[b + 2] : col->nbins - 1;
        if (next > idx->first[b] && next - idx->first[b] > idx->span)
            idx->span = next - idx->first[b];
    }
    while (idx->top * 2 <= idx->span)
        idx->top = idx->top ? idx->top * 2 : 1;
    if (col->nbins <= UINT16_MAX) {
        idx->first16 = dw_calloc(nb, sizeof *idx->first16);
        for (size_t b = 0; b < nb; b++)
            idx->first16[b] = (uint16_t)idx->first[b];
        free(idx->first);
        idx->first = NULL;
    }
    col->bin_index = idx;
    return 0;
}

/* dw_ref_bin() for x in [edges[0], edges[nbins]] with a 16-bit index and
 * a span of at most 4 (1000 quantile bins of most shapes): the checks of the
 * general path that cannot fail here are left out. */
static inline long bin_narrow(const dw_ref_column *col, const struct dw_bin_index *idx, double x)
{
    const double *e = col->edges;
    size_t n = col->nbins;
    size_t b = (size_t)((x - idx->lo) * idx->inv_width);
    if (b >= idx->nbuckets)
        b = idx->nbuckets - 1;
    size_t i = idx->first16[b];
    if (i + 4 > n || (i > 0 && !(e[i] < x)))
        return -2; /* near the top, or rounding: the general path */
    const double *p = e + i + 1;
    return (long)(i + (size_t)(p[0] < x) + (size_t)(p[1] < x) + (size_t)(p[2] < x) +
                  (size_t)(p[3] < x));
}

long dw_ref_bin(const dw_ref_column *col, double x)
{
    const struct dw_bin_index *fast = col->bin_index;
    if (fast && fast->first16 && fast->span <= 4 && x >= fast->lo && x <= fast->hi) {
        long bin = bin_narrow(col, fast, x);
        if (bin >= 0)
            return bin;
    }
    if (isnan(x))
        return DW_BIN_NAN;
    const double *e = col->edges;
    size_t n = col->nbins;
    /* A valid reference has nbins >= 1; without bins every value is out of
     * range, and "above" keeps the index inside [-1, nbins]. */
    if (n == 0 || !e)
        return 0;
    if (x < e[0])
        return -1;
    if (x > e[n])
        return (long)n;
    /* The bin of x is the smallest i in [0, n) with x <= e[i + 1]: bin i is
     * (e[i], e[i+1]] (bin 0 also holds e[0]); it exists since x <= e[n]. */
    const struct dw_bin_index *idx = col->bin_index;
    if (idx) {
        size_t b = (size_t)((x - idx->lo) * idx->inv_width);
        if (b >= idx->nbuckets)
            b = idx->nbuckets - 1;
        size_t i = idx->first16 ? idx->first16[b] : idx->first[b];
        if (i >= n)
            i = n - 1;
        /* The start is right unless rounding put x one bucket too far:
         * then e[i] >= x, and the search below decides. */
        if (i == 0 || e[i] < x) {
            /* With a narrow span away from the top edge, the answer is i
             * plus how many of e[i + 1..i + 4] (or ..i + 8) are below x:
             * the edges are sorted, so those form a prefix. The loads are
             * independent, unlike the steps of the search below, each of
             * which waits for the one before (the lookup is bound by that
             * latency, not by instructions). e[n] >= x, so comparing up to
             * e[n] counts nothing past the answer. */
            if (idx->span <= 4 && i + 4 <= n) {
                const double *p = e + i + 1;
                return (long)(i + (size_t)(p[0] < x) + (size_t)(p[1] < x) + (size_t)(p[2] < x) +
                              (size_t)(p[3] < x));
            }
            if (idx->span <= 8 && i + 8 <= n) {
                const double *p = e + i + 1;
                return (long)(i + (size_t)(p[0] < x) + (size_t)(p[1] < x) + (size_t)(p[2] < x) +
                              (size_t)(p[3] < x) + (size_t)(p[4] < x) + (size_t)(p[5] < x) +
                              (size_t)(p[6] < x) + (size_t)(p[7] < x));
            }
            /* The answer is the largest j in [i, i + span] with e[j] < x
             * (j = i qualifies): a binary search with a fixed number of
             * steps per column and no data-dependent branch (the loop
             * exit of a linear scan mispredicts about once per value).
             * j stays <= n - 1 because the answer does: e[n] >= x. */
            for (size_t step = idx->top; step; step >>= 1) {
                size_t j = i + step < n - 1 ? i + step : n - 1;
                i = e[j] < x ? j : i;
            }
            return (long)i;
        }
    }
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x <= e[mid + 1])
            hi = mid;
        else
            lo = mid + 1;
    }
    return (long)lo;
}

struct dw_cat_index {
    size_t mask;     /* table size - 1; the size is a power of two */
    uint32_t *slots; /* 0 = empty, else category index + 1 */
    size_t *lens;    /* strlen of each category, so lookups compare lengths first */
    size_t ncat;
};

void dw_cat_index_free(struct dw_cat_index *idx)
{
    if (!idx)
        return;
    free(idx->slots);
    free(idx->lens);
    free(idx);
}

/* Category names are a few bytes: a loop costs less than a memcmp call
 * (which was 2 % of replay's time for four lookups per record). */
static inline bool name_eq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

/* Returns the slot holding (value, len), or the empty slot where it would go. */
static size_t probe(const struct dw_cat_index *idx, char *const *cats, const char *value,
                    size_t len)
{
    /* FNV-1a, not keyed: the index is built from the trusted reference and
     * never grows from input. */
    size_t i = (size_t)dw_fnv1a(DW_FNV1A_SEED, value, len) & idx->mask;
    /* Terminates: the load factor is <= 0.5, so an empty slot exists. */
    for (;;) {
        uint32_t s = idx->slots[i];
        if (s == 0)
            return i;
        size_t c = s - 1;
        if (idx->lens[c] == len && name_eq(cats[c], value, len))
            return i;
        i = (i + 1) & idx->mask; /* linear probing: cache friendly for small tables */
    }
}

int dw_cat_index_build(dw_ref_column *col)
{
    dw_cat_index_free(col->cat_index);
    col->cat_index = NULL;
    if (col->type != DW_COL_CATEGORICAL)
        return DW_ERR_INVALID;
    if (col->ncat > DW_MAX_CATEGORIES)
        return DW_ERR_LIMIT;

    struct dw_cat_index *idx = dw_calloc(1, sizeof *idx);
    size_t size = 16;
    while (size < 2 * col->ncat)
        size *= 2;
    idx->mask = size - 1;
    idx->ncat = col->ncat;
    idx->slots = dw_calloc(size, sizeof *idx->slots);
    idx->lens = dw_calloc(col->ncat ? col->ncat : 1, sizeof *idx->lens);
    for (size_t c = 0; c < col->ncat; c++) {
        idx->lens[c] = strlen(col->categories[c]);
        size_t slot = probe(idx, col->categories, col->categories[c], idx->lens[c]);
        if (idx->slots[slot] != 0) {
            dw_cat_index_free(idx);
            return DW_ERR_INVALID; /* duplicate category */
        }
        idx->slots[slot] = (uint32_t)(c + 1);
    }
    col->cat_index = idx;
    return 0;
}

long dw_ref_category(const dw_ref_column *col, const char *value, size_t len)
{
    const struct dw_cat_index *idx = col->cat_index;
    if (idx && idx->ncat == col->ncat) {
        uint32_t s = idx->slots[probe(idx, col->categories, value, len)];
        return s ? (long)s - 1 : -1;
    }
    /* No index (a column built by hand, e.g. in a test): linear scan. */
    for (size_t c = 0; c < col->ncat; c++) {
        const char *cat = col->categories[c];
        if (strlen(cat) == len && memcmp(cat, value, len) == 0)
            return (long)c;
    }
    return -1;
}

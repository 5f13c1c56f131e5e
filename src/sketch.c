/* Log-bucket quantile sketch (sketch.h).
 *
 * Written here rather than taken from a library: Debian has no C DDSketch,
 * and what the windows need (integer counts that subtract exactly, a fixed
 * allocation, no allocation per value) is a few dozen lines.
 *
 * The positive buckets are a dense array of `cap` counters holding the
 * bucket indices [base, base + cap). While the values fit, the array is
 * re-centred on them when they move; once they span more than cap buckets,
 * the lowest ones are folded into counts[0] and the sketch is "collapsed":
 * from then on base is a floor that only rises (until the sketch holds no
 * positive value again), and every index below it counts at base. A floor
 * that only rises is what makes subtract the inverse of merge: a value
 * merged at index j sits at max(j, base) for every later base. */
#include "driftwatch/sketch.h"

#include "driftwatch/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct dw_sketch {
    double alpha;
    double ln_gamma;  /* log((1 + alpha) / (1 - alpha)) */
    size_t cap;       /* counters in counts */
    int64_t base;     /* bucket index of counts[0] */
    int64_t lo, hi;   /* lowest and highest non-empty index (npos > 0) */
    bool collapsed;   /* indices below base count at base */
    uint64_t zero;    /* values below DW_SKETCH_MIN_POSITIVE */
    uint64_t npos;    /* values in the positive buckets */
    uint64_t *counts; /* cap */
};

static double ln_gamma_of(double alpha)
{
    return log1p(2.0 * alpha / (1.0 - alpha)); /* log((1 + a) / (1 - a)) */
}

static int check_alpha(double alpha, char *errbuf, size_t errlen)
{
    if (!(alpha >= DW_SKETCH_MIN_ALPHA && alpha <= DW_SKETCH_MAX_ALPHA))
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "sketch relative accuracy %g is outside [%g, %g]", alpha,
                         DW_SKETCH_MIN_ALPHA, DW_SKETCH_MAX_ALPHA);
    return 0;
}

int dw_sketch_new(double alpha, size_t max_buckets, dw_sketch **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    int rc = check_alpha(alpha, errbuf, errlen);
    if (rc)
        return rc;
    if (max_buckets < DW_SKETCH_MIN_BUCKETS || max_buckets > DW_SKETCH_MAX_BUCKETS)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "sketch max_buckets %zu is outside [%d, %d]", max_buckets,
                         DW_SKETCH_MIN_BUCKETS, DW_SKETCH_MAX_BUCKETS);
    dw_sketch *s = dw_calloc(1, sizeof *s);
    s->alpha = alpha;
    s->ln_gamma = ln_gamma_of(alpha);
    s->cap = max_buckets;
    s->counts = dw_calloc(max_buckets, sizeof *s->counts);
    *out = s;
    return 0;
}

void dw_sketch_free(dw_sketch *s)
{
    if (!s)
        return;
    free(s->counts);
    free(s);
}

size_t dw_sketch_memory(size_t max_buckets)
{
    return sizeof(dw_sketch) + max_buckets * sizeof(uint64_t);
}

void dw_sketch_clear(dw_sketch *s)
{
    memset(s->counts, 0, s->cap * sizeof *s->counts);
    s->zero = 0;
    s->npos = 0;
    s->collapsed = false;
    s->base = s->lo = s->hi = 0;
}

/* Bucket i holds (gamma^(i-1), gamma^i]; its value (1 - alpha) gamma^i =
 * 2 gamma^i / (gamma + 1) is within alpha of all of it (order_statistic()). */
static int64_t index_of(double ln_gamma, double x)
{
    return (int64_t)ceil(log(x) / ln_gamma);
}

static bool valid_value(double x)
{
    return x >= 0.0 && x <= DW_SKETCH_MAX_VALUE;
}

/* Moves the array so that counts[0] holds index nb. Moving up folds the
 * counts of the indices below nb into nb; moving down requires that the
 * highest non-empty index stays below nb + cap (the callers ensure it). */
static void rebase(dw_sketch *s, int64_t nb)
{
    int64_t shift = nb - s->base;
    const size_t cap = s->cap;
    if (shift == 0)
        return;
    if (shift > 0) {
        size_t k = (uint64_t)shift >= cap ? cap : (size_t)shift;
        uint64_t folded = 0;
        for (size_t j = 0; j < k; j++)
            folded += s->counts[j];
        memmove(s->counts, s->counts + k, (cap - k) * sizeof *s->counts);
        memset(s->counts + (cap - k), 0, k * sizeof *s->counts);
        s->counts[0] += folded;
        if (s->lo < nb)
            s->lo = nb;
        if (s->hi < nb)
            s->hi = nb;
    } else {
        size_t k = (size_t)(-shift);
        memmove(s->counts + k, s->counts, (cap - k) * sizeof *s->counts);
        memset(s->counts, 0, k * sizeof *s->counts);
    }
    s->base = nb;
}

/* Makes indices [a, b] placeable: afterwards every index in [a, b] maps to
 * max(index, base) inside the array (index >= base unless collapsed). */
static void make_room(dw_sketch *s, int64_t a, int64_t b)
{
    const int64_t cap = (int64_t)s->cap;
    if (s->npos == 0) {
        /* Nothing positive held (every counter is 0): no earlier merge can
         * depend on the floor, so start afresh, centred on [a, b]. */
        int64_t span = b - a + 1;
        s->collapsed = span > cap;
        s->base = s->collapsed ? b - cap + 1 : a - (cap - span) / 2;
        return;
    }
    int64_t lo = a < s->lo ? a : s->lo;
    int64_t hi = b > s->hi ? b : s->hi;
    if (s->collapsed) {
        if (hi >= s->base + cap)
            rebase(s, hi - cap + 1);
        return;
    }
    if (lo >= s->base && hi < s->base + cap)
        return;
    int64_t span = hi - lo + 1;
    if (span <= cap) {
        /* Centre the values so that drifting latencies rarely re-centre. */
        rebase(s, lo - (cap - span) / 2);
        return;
    }
    /* Too wide: keep the top cap buckets, fold the rest into the lowest. */
    rebase(s, hi - cap + 1);
    s->collapsed = true;
}

static void place(dw_sketch *s, int64_t i, uint64_t n)
{
    if (i < s->base)
        i = s->base; /* collapsed: the floor holds everything below it */
    s->counts[i - s->base] += n;
    if (s->npos == 0 || i < s->lo)
        s->lo = i;
    if (s->npos == 0 || i > s->hi)
        s->hi = i;
    s->npos += n;
}

int dw_sketch_add_n(dw_sketch *s, double x, uint64_t n)
{
    if (!valid_value(x))
        return DW_ERR_INVALID;
    if (n == 0)
        return 0;
    if (x < DW_SKETCH_MIN_POSITIVE) {
        s->zero += n;
        return 0;
    }
    int64_t i = index_of(s->ln_gamma, x);
    make_room(s, i, i);
    place(s, i, n);
    return 0;
}

int dw_sketch_add(dw_sketch *s, double x)
{
    return dw_sketch_add_n(s, x, 1);
}

static bool same_settings(const dw_sketch *a, const dw_sketch *b)
{
    return a->alpha == b->alpha && a->cap == b->cap;
}

int dw_sketch_merge(dw_sketch *dst, const dw_sketch *src)
{
    if (!same_settings(dst, src))
        return DW_ERR_INVALID;
    dst->zero += src->zero;
    if (src->npos == 0)
        return 0;
    make_room(dst, src->lo, src->hi);
    for (int64_t j = src->lo; j <= src->hi; j++) {
        uint64_t c = src->counts[j - src->base];
        if (c)
            place(dst, j, c);
    }
    return 0;
}

/* Where src's index j sits in dst: -1 when dst cannot hold it. */
static long subtract_slot(const dw_sketch *dst, int64_t j)
{
    if (j < dst->base) {
        if (!dst->collapsed)
            return -1;
        j = dst->base;
    }
    if (j >= dst->base + (int64_t)dst->cap)
        return -1;
    return (long)(j - dst->base);
}

int dw_sketch_subtract(dw_sketch *dst, const dw_sketch *src)
{
    if (!same_settings(dst, src) || src->zero > dst->zero || src->npos > dst->npos)
        return DW_ERR_INVALID;
    if (src->npos > 0) {
        /* Check everything before changing anything: several src buckets
         * can land in dst's collapsed floor, so the floor's share is
         * summed first. */
        uint64_t at_floor = 0;
        for (int64_t j = src->lo; j <= src->hi; j++) {
            uint64_t c = src->counts[j - src->base];
            if (!c)
                continue;
            long slot = subtract_slot(dst, j);
            if (slot < 0)
                return DW_ERR_INVALID;
            if (slot == 0)
                at_floor += c;
            else if (c > dst->counts[slot])
                return DW_ERR_INVALID;
        }
        if (at_floor > dst->counts[0])
            return DW_ERR_INVALID;
        for (int64_t j = src->lo; j <= src->hi; j++) {
            uint64_t c = src->counts[j - src->base];
            if (c)
                dst->counts[subtract_slot(dst, j)] -= c;
        }
        dst->npos -= src->npos;
    }
    dst->zero -= src->zero;
    if (dst->npos == 0) {
        /* The subtracted values may have been the ones at lo/hi; with
         * nothing left, forget the range and the collapse. */
        dst->collapsed = false;
        return 0;
    }
    size_t first = 0, last = dst->cap - 1;
    while (dst->counts[first] == 0)
        first++;
    while (dst->counts[last] == 0)
        last--;
    dst->lo = dst->base + (int64_t)first;
    dst->hi = dst->base + (int64_t)last;
    return 0;
}

/* The buckets of a quantile query: `zero` zeros, then counts[0..n) for the
 * bucket indices first, first + 1, ... */
typedef struct bucket_run {
    double alpha, ln_gamma;
    uint64_t zero;
    const uint64_t *counts;
    size_t n;
    int64_t first;
} bucket_run;

/* Value of the k-th smallest value (0-based, k < count) as the buckets
 * know it. */
static double order_statistic(const bucket_run *b, uint64_t k)
{
    if (k < b->zero || b->n == 0)
        return 0.0;
    uint64_t seen = b->zero;
    size_t j = 0;
    for (; j < b->n; j++) {
        seen += b->counts[j];
        if (k < seen)
            break;
    }
    if (j == b->n)
        j = b->n - 1; /* unreachable with k < count */
    return (1.0 - b->alpha) * exp((double)(b->first + (int64_t)j) * b->ln_gamma);
}

static int run_quantile(const bucket_run *b, uint64_t n, double q, double *out)
{
    *out = 0.0;
    if (!(q >= 0.0 && q <= 1.0))
        return DW_ERR_INVALID;
    if (n == 0)
        return DW_ERR_EMPTY;
    /* numpy's "linear" method: interpolate between the order statistics
     * around rank q (n - 1). */
    double rank = q * (double)(n - 1);
    uint64_t k = (uint64_t)floor(rank);
    if (k > n - 1)
        k = n - 1;
    double frac = rank - (double)k;
    double v = order_statistic(b, k);
    if (frac > 0.0 && k + 1 < n)
        v += frac * (order_statistic(b, k + 1) - v);
    *out = v;
    return 0;
}

uint64_t dw_sketch_count(const dw_sketch *s)
{
    return s->zero + s->npos;
}

int dw_sketch_quantile(const dw_sketch *s, double q, double *out)
{
    bucket_run b = {s->alpha, s->ln_gamma, s->zero, s->counts, 0, 0};
    if (s->npos > 0) {
        b.counts = s->counts + (s->lo - s->base);
        b.n = (size_t)(s->hi - s->lo + 1);
        b.first = s->lo;
    }
    return run_quantile(&b, dw_sketch_count(s), q, out);
}

double dw_sketch_alpha(const dw_sketch *s)
{
    return s->alpha;
}

size_t dw_sketch_max_buckets(const dw_sketch *s)
{
    return s->cap;
}

bool dw_sketch_collapsed(const dw_sketch *s)
{
    return s->collapsed;
}

double dw_sketch_floor(const dw_sketch *s)
{
    return s->collapsed ? exp((double)s->base * s->ln_gamma) : 0.0;
}

/* ---- fixed layout ---- */

int dw_sketch_layout_init(dw_sketch_layout *l, double alpha, double min_value, double max_value,
                          char *errbuf, size_t errlen)
{
    memset(l, 0, sizeof *l);
    int rc = check_alpha(alpha, errbuf, errlen);
    if (rc)
        return rc;
    if (!(min_value >= DW_SKETCH_MIN_POSITIVE && max_value > min_value &&
          max_value <= DW_SKETCH_MAX_VALUE))
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "sketch range [%g, %g] is not within [%g, %g] with min < max", min_value,
                         max_value, DW_SKETCH_MIN_POSITIVE, DW_SKETCH_MAX_VALUE);
    double lg = ln_gamma_of(alpha);
    int64_t lo = index_of(lg, min_value), hi = index_of(lg, max_value);
    if (hi - lo + 1 > DW_SKETCH_MAX_BUCKETS)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "sketch range [%g, %g] needs %lld buckets at relative accuracy %g, "
                         "more than %d: narrow the range or raise the accuracy value",
                         min_value, max_value, (long long)(hi - lo + 1), alpha,
                         DW_SKETCH_MAX_BUCKETS);
    l->alpha = alpha;
    l->ln_gamma = lg;
    l->first = lo;
    l->nbuckets = (size_t)(hi - lo + 1);
    return 0;
}

size_t dw_sketch_layout_width(const dw_sketch_layout *l)
{
    return 1 + l->nbuckets;
}

long dw_sketch_layout_slot(const dw_sketch_layout *l, double x)
{
    if (!valid_value(x))
        return -1;
    if (x < DW_SKETCH_MIN_POSITIVE)
        return 0;
    int64_t i = index_of(l->ln_gamma, x) - l->first;
    if (i < 0)
        i = 0; /* below min_value: the lowest bucket (an overestimate) */
    if (i >= (int64_t)l->nbuckets)
        i = (int64_t)l->nbuckets - 1; /* above max_value: the highest (an underestimate) */
    return 1 + (long)i;
}

uint64_t dw_sketch_layout_count(const dw_sketch_layout *l, const uint64_t *counts)
{
    uint64_t n = 0;
    for (size_t i = 0; i <= l->nbuckets; i++)
        n += counts[i];
    return n;
}

int dw_sketch_layout_quantile(const dw_sketch_layout *l, const uint64_t *counts, double q,
                              double *out)
{
    uint64_t n = dw_sketch_layout_count(l, counts);
    bucket_run b = {l->alpha, l->ln_gamma, counts[0], counts + 1, l->nbuckets, l->first};
    return run_quantile(&b, n, q, out);
}

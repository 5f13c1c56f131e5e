/* Internal to perf.c and cbpe.c: exact fixed-point sums kept in uint64
 * counters, so real-valued sums can live in window panes next to plain
 * counts and be added and subtracted without drift.
 *
 * Why not doubles: a sliding window adds the newest pane and subtracts the
 * expired one forever; double sums would accumulate rounding error with
 * every slide (and differ between replicas that merged in another order).
 * Integers add and subtract exactly, in any order.
 *
 * A value x is rounded to an integer multiple of 2^-frac and split into
 * `limbs` 32-bit limbs; counter k holds the sum of limb k over the records
 * (two's complement for the top limb, which carries the sign). Lower limb
 * counters stay exact for fewer than 2^32 records per sum, which bounds a
 * window to 4.29 billion records (documented in perf.h). A record must fit:
 * |x| < 2^(32*limbs - 1 - frac) (dw_fx_fits). */
#ifndef DRIFTWATCH_PERF_INT_H
#define DRIFTWATCH_PERF_INT_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#define DW_FX_MAX_LIMBS 6

/* Unit-interval sums (probabilities, squared probability errors): two limbs
 * at 2^-52 resolution, i.e. as fine as a double near 1. */
#define DW_FX_UNIT_LIMBS 2
#define DW_FX_UNIT_FRAC 52

static inline bool dw_fx_fits(unsigned limbs, int frac, double x)
{
    return isfinite(x) && fabs(x) < ldexp(1.0, 32 * (int)limbs - 1 - frac);
}

/* Adds x to the sum in c[0..limbs). The caller checked dw_fx_fits(). */
static inline void dw_fx_add(uint64_t *c, unsigned limbs, int frac, double x)
{
    uint32_t l[DW_FX_MAX_LIMBS] = {0};
    double y = nearbyint(ldexp(fabs(x), frac)); /* an integer < 2^(32*limbs-1) */
    /* Peel limbs off the top of the non-negative magnitude: every step is
     * exact in double arithmetic because the remainder keeps a subset of
     * y's significant bits. */
    for (int k = (int)limbs - 1; k >= 0; k--) {
        double q = floor(ldexp(y, -32 * k));
        l[k] = (uint32_t)q;
        y -= ldexp(q, 32 * k);
    }
    if (x < 0) { /* two's complement across the limbs */
        uint64_t carry = 1;
        for (unsigned k = 0; k < limbs; k++) {
            uint64_t v = (uint64_t)(uint32_t)~l[k] + carry;
            l[k] = (uint32_t)v;
            carry = v >> 32;
        }
    }
    for (unsigned k = 0; k + 1 < limbs; k++)
        c[k] += l[k];
    c[limbs - 1] += (uint64_t)(int64_t)(int32_t)l[limbs - 1];
}

/* The exact sum held in c[0..limbs), converted to double once (relative
 * error about 1e-16 of the result, without cancellation). */
static inline double dw_fx_value(const uint64_t *c, unsigned limbs, int frac)
{
    uint64_t lo[DW_FX_MAX_LIMBS];
    uint64_t carry = 0;
    /* Normalise: lower counters into 32-bit limbs, carries upwards. */
    for (unsigned k = 0; k + 1 < limbs; k++) {
        uint64_t v = c[k] + carry; /* no overflow below 2^32 records */
        lo[k] = v & 0xffffffffu;
        carry = v >> 32;
    }
    int64_t top = (int64_t)(c[limbs - 1] + carry);
    double sign = 1.0;
    if (top < 0) { /* negate the whole integer so the sum below has no cancellation */
        sign = -1.0;
        uint64_t cy = 1;
        for (unsigned k = 0; k + 1 < limbs; k++) {
            uint64_t v = (~lo[k] & 0xffffffffu) + cy;
            lo[k] = v & 0xffffffffu;
            cy = v >> 32;
        }
        top = (int64_t)(~(uint64_t)top + cy);
    }
    double s = ldexp((double)top, 32 * ((int)limbs - 1) - frac);
    for (int k = (int)limbs - 2; k >= 0; k--)
        s += ldexp((double)lo[k], 32 * k - frac);
    return sign * s;
}

#endif

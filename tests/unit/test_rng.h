/* Shared by unit tests of statistics: fixed-seed random numbers that are
 * the same on every libc (splitmix64), and a float comparison that names
 * the expression. Include after cmocka.h. */
#ifndef DW_TEST_RNG_H
#define DW_TEST_RNG_H

#include <math.h>
#include <stdint.h>

#define assert_near(got, want, tol)                                                                \
    do {                                                                                           \
        double g_ = (got), w_ = (want);                                                            \
        if (!(fabs(g_ - w_) <= (tol)))                                                             \
            fail_msg("%s = %.17g, want %.17g (tol %g)", #got, g_, w_, (double)(tol));              \
    } while (0)

static uint64_t rng_state;

static inline uint64_t rng_u64(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform on [0, 1) with 53 random bits. */
static inline double uniform(void)
{
    return (double)(rng_u64() >> 11) * 0x1.0p-53;
}

#endif

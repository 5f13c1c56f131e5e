/* FNV-1a 64: the one non-keyed hash, for in-memory indexes built from
 * trusted names (columns, categories, classes) and for stable keys (alert
 * dedup keys). Not for anything an adversary fills: no key, no defence
 * against chosen collisions. */
#ifndef DRIFTWATCH_HASH_H
#define DRIFTWATCH_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV's 64-bit offset basis: where a hash starts. */
#define DW_FNV1A_SEED 14695981039346656037ULL

/* Continues hash h over the n bytes at p (start with DW_FNV1A_SEED; feed
 * pieces one after another to hash their concatenation). */
static inline uint64_t dw_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

#endif

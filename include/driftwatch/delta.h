/* State deltas: the wire format of what one replica counted, published on the
 * state topic (docs/operations.md, "State on Kafka").
 *
 * One delta message holds, per input partition (a section), the input offsets
 * it covers [from, to), the partition's newest event time, and the sparse
 * counter increments it applied per (model, version, pane): pairs of
 * (counter index, count) in the counter layout of model.h, which depends only
 * on the reference (named by its checksum), plus unseen categories by name
 * (their counter index is local to each replica).
 *
 * Binary, little-endian, integers as LEB128 varints (signed ones zigzag):
 *
 *   "DWD" 0x02             magic and format version (1 is read too)
 *   writer  8 bytes        the writing process (random per process)
 *   seq     varint         per writer, 1, 2, ...
 *   nsect   varint
 *   section: topic str, partition varint, from zz, to zz, max_t zz, ngroups varint
 *   group:   model str, flags u8 (bit 0: has version), [version str],
 *            checksum str, pane_ms zz, records varint,
 *            npairs varint, npairs x pair,
 *            nnames varint, nnames x (column varint, name str, count varint)
 *   str = varint length + bytes
 *   pair (version 2): varint (index gap << 1 | count != 1), then the count
 *        as a varint only when it is not 1
 *   pair (version 1): index gap varint, count varint
 *
 * Version 2 differs only in the pair: at the benchmark's traffic most
 * counters a delta carries count one value, so their pair takes one byte
 * instead of two (bench/results.md). Version 1 deltas (driftwatch before
 * it) are still read; a replica that reads only version 1 skips version 2
 * deltas as unknown, so every replica of a group is upgraded together.
 *
 * A reader refuses unknown versions and anything that does not parse whole
 * (DW_ERR_PARSE), so a foreign or truncated message is counted, not applied.
 * Pure data: no Kafka, no engine. */
#ifndef DRIFTWATCH_DELTA_H
#define DRIFTWATCH_DELTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* First four bytes of every delta message written (the version read
 * besides: DW_DELTA_MAGIC_V1). */
#define DW_DELTA_MAGIC "DWD\x02"
#define DW_DELTA_MAGIC_V1 "DWD\x01"
/* Bounds a reader enforces (a delta is written by driftwatch; these only
 * stop a corrupt message from asking for absurd memory). */
#define DW_DELTA_MAX_STR 1024
#define DW_DELTA_MAX_SECTIONS 4096

/* ---- writing ---- */

/* A growing byte buffer for one message. */
typedef struct dw_delta_writer {
    uint8_t *buf;
    size_t len, cap;
} dw_delta_writer;

/* Starts a message (resets w; keeps its memory). */
void dw_delta_begin(dw_delta_writer *w, uint64_t writer, uint64_t seq, size_t nsections);
void dw_delta_section(dw_delta_writer *w, const char *topic, int32_t partition, int64_t from,
                      int64_t to, int64_t max_t, size_t ngroups);
/* version NULL: records without a version. */
void dw_delta_group(dw_delta_writer *w, const char *model, const char *version,
                    const char *checksum, int64_t pane_ms, uint32_t records);
/* slots ascending. */
void dw_delta_pairs(dw_delta_writer *w, const uint32_t *slots, const uint32_t *counts, size_t n);
/* The same pairs written by the caller, for an encoder that finds them one
 * by one: dw_delta_pairs_open() reserves room for at most max pairs and
 * returns where to write; dw_delta_pair_at() writes one pair (slot gap
 * from the previous pair's slot, or from 0) and returns the end;
 * dw_delta_pairs_close() takes that end and the number written. */
uint8_t *dw_delta_pairs_open(dw_delta_writer *w, size_t max);
void dw_delta_pairs_close(dw_delta_writer *w, uint8_t *end, size_t n);

static inline uint8_t *dw_delta_pair_at(uint8_t *p, uint32_t gap, uint32_t count)
{
    uint64_t v = (uint64_t)gap << 1 | (count != 1);
    for (;;) {
        while (v >= 0x80) {
            *p++ = (uint8_t)(v | 0x80);
            v >>= 7;
        }
        *p++ = (uint8_t)v;
        if (count == 1)
            return p;
        v = count;
        count = 1;
    }
}

void dw_delta_names_begin(dw_delta_writer *w, size_t n);
void dw_delta_name(dw_delta_writer *w, size_t col, const char *name, uint32_t count);
void dw_delta_writer_free(dw_delta_writer *w);

/* ---- reading ---- */

typedef struct dw_delta_str {
    const char *ptr; /* into the message, not NUL-terminated */
    size_t len;
} dw_delta_str;

typedef struct dw_delta_name_entry {
    size_t col;
    dw_delta_str name;
    uint32_t count;
} dw_delta_name_entry;

typedef struct dw_delta_grp {
    dw_delta_str model, version, checksum;
    bool has_version;
    int64_t pane_ms;
    uint32_t records;
    size_t npairs;
    uint32_t *slots, *counts; /* npairs each */
    size_t nnames;
    dw_delta_name_entry *names;
} dw_delta_grp;

typedef struct dw_delta_sect {
    dw_delta_str topic;
    int32_t partition;
    int64_t from, to, max_t;
    size_t ngroups;
    dw_delta_grp *groups;
} dw_delta_sect;

typedef struct dw_delta {
    uint64_t writer, seq;
    size_t nsections;
    dw_delta_sect *sections;
} dw_delta;

/* True when buf starts like a delta message. */
bool dw_delta_is_delta(const void *buf, size_t len);

/* The writer and seq of a delta message, read without decoding the rest
 * (0, or DW_ERR_PARSE when buf does not start like a delta). */
int dw_delta_peek(const void *buf, size_t len, uint64_t *writer, uint64_t *seq);

/* Decodes buf into *out (strings point into buf, which must outlive *out).
 * Returns 0, or DW_ERR_PARSE with nothing to free. */
int dw_delta_decode(const void *buf, size_t len, dw_delta *out);

/* Frees what dw_delta_decode() allocated. NULL-safe. */
void dw_delta_free(dw_delta *d);

#endif

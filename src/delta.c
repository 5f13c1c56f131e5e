/* State deltas: encoder and strict decoder (format in delta.h). */
#include "driftwatch/delta.h"

#include "driftwatch/error.h"

#include <stdlib.h>
#include <string.h>

/* ---- writing ---- */

/* Room for n more bytes. */
static void reserve(dw_delta_writer *w, size_t n)
{
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n)
            cap *= 2;
        w->buf = dw_realloc(w->buf, cap);
        w->cap = cap;
    }
}

static void put(dw_delta_writer *w, const void *p, size_t n)
{
    reserve(w, n);
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

/* Writes v at p (room for 10 bytes); returns the end. */
static inline uint8_t *varint_at(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static void put_u(dw_delta_writer *w, uint64_t v)
{
    reserve(w, 10);
    w->len = (size_t)(varint_at(w->buf + w->len, v) - w->buf);
}

static void put_z(dw_delta_writer *w, int64_t v)
{
    put_u(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void put_str(dw_delta_writer *w, const char *s)
{
    size_t n = strlen(s);
    put_u(w, n);
    put(w, s, n);
}

void dw_delta_begin(dw_delta_writer *w, uint64_t writer, uint64_t seq, size_t nsections)
{
    w->len = 0;
    put(w, DW_DELTA_MAGIC, 4);
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(writer >> (8 * i));
    put(w, b, 8);
    put_u(w, seq);
    put_u(w, nsections);
}

void dw_delta_section(dw_delta_writer *w, const char *topic, int32_t partition, int64_t from,
                      int64_t to, int64_t max_t, size_t ngroups)
{
    put_str(w, topic);
    put_u(w, (uint64_t)(uint32_t)partition);
    put_z(w, from);
    put_z(w, to);
    put_z(w, max_t);
    put_u(w, ngroups);
}

void dw_delta_group(dw_delta_writer *w, const char *model, const char *version,
                    const char *checksum, int64_t pane_ms, uint32_t records)
{
    put_str(w, model);
    uint8_t flags = version ? 1 : 0;
    put(w, &flags, 1);
    if (version)
        put_str(w, version);
    put_str(w, checksum);
    put_z(w, pane_ms);
    put_u(w, records);
}

/* Room for the pair count (a varint) before the pairs, which take at most
 * 10 bytes each (two 32-bit varints), reserved once: a delta holds tens of
 * thousands of pairs. Close writes the count and moves the pairs up
 * behind it. */
#define PAIRS_HEAD 10

uint8_t *dw_delta_pairs_open(dw_delta_writer *w, size_t max)
{
    reserve(w, PAIRS_HEAD + max * 10);
    return w->buf + w->len + PAIRS_HEAD;
}

void dw_delta_pairs_close(dw_delta_writer *w, uint8_t *end, size_t n)
{
    uint8_t *pairs = w->buf + w->len + PAIRS_HEAD;
    size_t bytes = (size_t)(end - pairs);
    w->len = (size_t)(varint_at(w->buf + w->len, n) - w->buf);
    memmove(w->buf + w->len, pairs, bytes);
    w->len += bytes;
}

void dw_delta_pairs(dw_delta_writer *w, const uint32_t *slots, const uint32_t *counts, size_t n)
{
    uint8_t *p = dw_delta_pairs_open(w, n);
    uint32_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        p = dw_delta_pair_at(p, slots[i] - prev, counts[i]);
        prev = slots[i];
    }
    dw_delta_pairs_close(w, p, n);
}

void dw_delta_names_begin(dw_delta_writer *w, size_t n)
{
    put_u(w, n);
}

void dw_delta_name(dw_delta_writer *w, size_t col, const char *name, uint32_t count)
{
    put_u(w, col);
    put_str(w, name);
    put_u(w, count);
}

void dw_delta_writer_free(dw_delta_writer *w)
{
    if (!w)
        return;
    free(w->buf);
    memset(w, 0, sizeof *w);
}

/* ---- reading ---- */

typedef struct rd {
    const uint8_t *p, *end;
    bool bad;
    uint8_t version; /* 1 or 2: how pairs are written */
} rd;

static uint64_t get_u(rd *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) {
            r->bad = true;
            return 0;
        }
        uint8_t b = *r->p++;
        /* The tenth byte holds bit 63 only: anything more does not fit in
         * 64 bits and would be silently dropped (a corrupt value read as
         * another one). */
        if (shift == 63 && b > 1) {
            r->bad = true;
            return 0;
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    r->bad = true;
    return 0;
}

static int64_t get_z(rd *r)
{
    uint64_t u = get_u(r);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static dw_delta_str get_str(rd *r)
{
    dw_delta_str s = {NULL, 0};
    uint64_t n = get_u(r);
    if (r->bad || n > DW_DELTA_MAX_STR || n > (uint64_t)(r->end - r->p)) {
        r->bad = true;
        return s;
    }
    s.ptr = (const char *)r->p;
    s.len = (size_t)n;
    r->p += n;
    return s;
}

/* A count n of items each at least min_bytes long must fit in what is left:
 * a corrupt count cannot make the decoder allocate more than the message. */
static size_t get_count(rd *r, size_t min_bytes)
{
    uint64_t n = get_u(r);
    if (r->bad || n > (uint64_t)(r->end - r->p) / min_bytes) {
        r->bad = true;
        return 0;
    }
    return (size_t)n;
}

bool dw_delta_is_delta(const void *buf, size_t len)
{
    return buf && len >= 4 &&
           (memcmp(buf, DW_DELTA_MAGIC, 4) == 0 || memcmp(buf, DW_DELTA_MAGIC_V1, 4) == 0);
}

static void decode_group(rd *r, dw_delta_grp *g)
{
    g->model = get_str(r);
    if (r->p >= r->end) {
        r->bad = true;
        return;
    }
    uint8_t flags = *r->p++;
    g->has_version = flags & 1;
    if (g->has_version)
        g->version = get_str(r);
    g->checksum = get_str(r);
    g->pane_ms = get_z(r);
    uint64_t rec = get_u(r);
    if (rec > UINT32_MAX)
        r->bad = true;
    g->records = (uint32_t)rec;
    g->npairs = get_count(r, r->version == 1 ? 2 : 1);
    if (r->bad)
        return;
    g->slots = dw_malloc((g->npairs ? g->npairs : 1) * sizeof *g->slots);
    g->counts = dw_malloc((g->npairs ? g->npairs : 1) * sizeof *g->counts);
    uint64_t slot = 0;
    for (size_t i = 0; i < g->npairs && !r->bad; i++) {
        uint64_t c;
        if (r->version == 1) {
            slot += get_u(r);
            c = get_u(r);
        } else {
            uint64_t u = get_u(r);
            slot += u >> 1;
            c = (u & 1) ? get_u(r) : 1;
        }
        if (slot > UINT32_MAX || c > UINT32_MAX)
            r->bad = true;
        g->slots[i] = (uint32_t)slot;
        g->counts[i] = (uint32_t)c;
    }
    g->nnames = get_count(r, 3);
    if (r->bad)
        return;
    g->names = dw_calloc(g->nnames ? g->nnames : 1, sizeof *g->names);
    for (size_t i = 0; i < g->nnames && !r->bad; i++) {
        uint64_t col = get_u(r);
        g->names[i].col = col > SIZE_MAX ? SIZE_MAX : (size_t)col;
        g->names[i].name = get_str(r);
        uint64_t c = get_u(r);
        if (c > UINT32_MAX)
            r->bad = true;
        g->names[i].count = (uint32_t)c;
    }
}

int dw_delta_peek(const void *buf, size_t len, uint64_t *writer, uint64_t *seq)
{
    if (!dw_delta_is_delta(buf, len) || len < 12)
        return DW_ERR_PARSE;
    rd r = {(const uint8_t *)buf + 4, (const uint8_t *)buf + len, false, 0};
    uint64_t w = 0;
    for (int i = 0; i < 8; i++)
        w |= (uint64_t)r.p[i] << (8 * i);
    r.p += 8;
    uint64_t s = get_u(&r);
    if (r.bad)
        return DW_ERR_PARSE;
    *writer = w;
    *seq = s;
    return 0;
}

int dw_delta_decode(const void *buf, size_t len, dw_delta *out)
{
    memset(out, 0, sizeof *out);
    if (!dw_delta_is_delta(buf, len) || len < 12)
        return DW_ERR_PARSE;
    rd r = {(const uint8_t *)buf + 4, (const uint8_t *)buf + len, false,
            ((const uint8_t *)buf)[3]};
    for (int i = 0; i < 8; i++)
        out->writer |= (uint64_t)r.p[i] << (8 * i);
    r.p += 8;
    out->seq = get_u(&r);
    out->nsections = get_count(&r, 6);
    if (r.bad || out->nsections > DW_DELTA_MAX_SECTIONS) {
        memset(out, 0, sizeof *out);
        return DW_ERR_PARSE;
    }
    out->sections = dw_calloc(out->nsections ? out->nsections : 1, sizeof *out->sections);
    for (size_t s = 0; s < out->nsections && !r.bad; s++) {
        dw_delta_sect *sec = &out->sections[s];
        sec->topic = get_str(&r);
        uint64_t part = get_u(&r);
        if (part > INT32_MAX)
            r.bad = true;
        sec->partition = (int32_t)part;
        sec->from = get_z(&r);
        sec->to = get_z(&r);
        sec->max_t = get_z(&r);
        sec->ngroups = get_count(&r, 6);
        if (r.bad)
            break;
        sec->groups = dw_calloc(sec->ngroups ? sec->ngroups : 1, sizeof *sec->groups);
        for (size_t g = 0; g < sec->ngroups && !r.bad; g++)
            decode_group(&r, &sec->groups[g]);
    }
    if (r.bad || r.p != r.end) {
        dw_delta_free(out);
        return DW_ERR_PARSE;
    }
    return 0;
}

void dw_delta_free(dw_delta *d)
{
    if (!d)
        return;
    for (size_t s = 0; s < d->nsections; s++) {
        dw_delta_sect *sec = &d->sections[s];
        for (size_t g = 0; sec->groups && g < sec->ngroups; g++) {
            free(sec->groups[g].slots);
            free(sec->groups[g].counts);
            free(sec->groups[g].names);
        }
        free(sec->groups);
    }
    free(d->sections);
    memset(d, 0, sizeof *d);
}

/* The bounded join of predictions with delayed labels (see label_join.h).
 *
 * Each side is a "keyed ring": a FIFO ring of fixed-size entries in arrival
 * order plus an open-addressing index (linear probing, backward-shift
 * deletion, load <= 3/4) from key hash to ring position. The ring gives
 * O(1) expiry and eviction of the oldest entry, the index O(1) lookup by
 * key; both are sized once from the byte budget and never grow. */
#include "driftwatch/label_join.h"

#include "driftwatch/error.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

enum { ST_WAITING = 0, ST_JOINED = 1, ST_DEAD = 2 };

typedef struct entry {
    uint64_t hash;
    int64_t ts;
    double value; /* prediction score, or label value */
    int32_t cls;
    uint32_t tag;
} entry;

typedef struct ring {
    entry *e;
    uint8_t *state;
    size_t cap, head, count; /* count includes dead and joined entries */
    size_t live;             /* entries in state ST_WAITING */
    uint64_t *slots;         /* 0 = empty, else (hash >> 32) << 32 | (position + 1) */
    size_t mask;
} ring;

/* Label delays: bucket 0 holds 0 ms, bucket i >= 1 holds [g^(i-1), g^i) ms
 * with g = 1.02, so a bucket's representative 2 g^i / (1 + g) is within
 * (g - 1) / (g + 1) < 1 % of every delay in it. 1500 buckets reach 2^42 ms. */
#define DELAY_GAMMA 1.02
#define DELAY_BUCKETS 1500

struct dw_label_join {
    dw_join_config cfg;
    dw_join_emit_fn emit;
    void *ctx;
    uint64_t seed;
    int64_t clock; /* event-time watermark, INT64_MIN before the first advance */
    ring preds, labels;
    dw_join_stats st;
    uint64_t delays[DELAY_BUCKETS];
    uint64_t ndelays;
    size_t allocated;
};

#define ENTRY_BYTES (sizeof(entry) + 1) /* + its state byte */

/* A keyed 64-bit hash: multiply-fold rounds over 8-byte words. Written here
 * because no library on the dependency list offers a fast seeded hash
 * (OpenSSL's SipHash goes through EVP and allocates). */
static uint64_t fold(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static uint64_t key_hash(uint64_t seed, const char *key, size_t len)
{
    const uint64_t k1 = 0xa0761d6478bd642fULL, k2 = 0xe7037ed1a0b428dbULL;
    uint64_t h = seed ^ fold(len ^ k1, k2);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, key + i, 8);
        h = fold(w ^ k1, h ^ k2);
    }
    if (i < len) {
        uint64_t w = 0;
        memcpy(&w, key + i, len - i);
        h = fold(w ^ k2, h ^ k1 ^ (uint64_t)(len - i));
    }
    return fold(h ^ k1, seed ^ 0x8ebc6af09c88c6e3ULL);
}

/* Largest ring (and its index) that fits budget bytes: try every power of
 * two for the index and keep the one that leaves room for the most entries
 * at a load of at most 3/4. */
static void ring_size(size_t budget, size_t *cap, size_t *slots)
{
    *cap = 0;
    *slots = 1;
    for (size_t s = 2; s * sizeof(uint64_t) < budget && s <= ((size_t)1 << 31); s *= 2) {
        size_t c = (budget - s * sizeof(uint64_t)) / ENTRY_BYTES;
        if (c > s / 4 * 3)
            c = s / 4 * 3;
        if (c > *cap) {
            *cap = c;
            *slots = s;
        }
    }
}

static size_t ring_init(ring *r, size_t budget)
{
    size_t slots;
    ring_size(budget, &r->cap, &slots);
    r->e = dw_malloc(r->cap * sizeof *r->e);
    r->state = dw_malloc(r->cap);
    r->slots = dw_calloc(slots, sizeof *r->slots);
    r->mask = slots - 1;
    return r->cap * ENTRY_BYTES + slots * sizeof(uint64_t);
}

static void ring_free(ring *r)
{
    free(r->e);
    free(r->state);
    free(r->slots);
}

static size_t home(const ring *r, uint64_t hash)
{
    return (size_t)(hash >> 32) & r->mask;
}

/* Ring position of hash, or SIZE_MAX. Terminates: the index is at most 3/4
 * full, so an empty slot exists. */
static size_t ring_find(const ring *r, uint64_t hash)
{
    for (size_t i = home(r, hash);; i = (i + 1) & r->mask) {
        uint64_t s = r->slots[i];
        if (s == 0)
            return SIZE_MAX;
        size_t pos = (size_t)(uint32_t)s - 1;
        if ((s >> 32) == (hash >> 32) && r->e[pos].hash == hash)
            return pos;
    }
}

static void index_remove(ring *r, size_t pos)
{
    uint64_t hash = r->e[pos].hash;
    size_t i = home(r, hash);
    while ((size_t)(uint32_t)r->slots[i] != pos + 1)
        i = (i + 1) & r->mask;
    /* Backward-shift deletion: pull later members of the probe run into the
     * hole unless their home lies cyclically in (hole, j]. */
    for (size_t j = i;;) {
        j = (j + 1) & r->mask;
        uint64_t s = r->slots[j];
        if (s == 0)
            break;
        size_t k = (size_t)(s >> 32) & r->mask;
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays)
            continue;
        r->slots[i] = s;
        i = j;
    }
    r->slots[i] = 0;
}

/* Appends (the ring must not be full) and indexes an entry. */
static void ring_push(ring *r, const entry *en, uint8_t state)
{
    size_t pos = (r->head + r->count) % r->cap;
    r->e[pos] = *en;
    r->state[pos] = state;
    r->count++;
    if (state == ST_WAITING)
        r->live++;
    size_t i = home(r, en->hash);
    while (r->slots[i] != 0)
        i = (i + 1) & r->mask;
    r->slots[i] = (en->hash >> 32) << 32 | (uint64_t)(pos + 1);
}

/* Removes the oldest entry; returns its state, *out gets a copy. */
static uint8_t ring_pop(ring *r, entry *out)
{
    size_t pos = r->head;
    uint8_t st = r->state[pos];
    *out = r->e[pos];
    if (st != ST_DEAD)
        index_remove(r, pos);
    if (st == ST_WAITING)
        r->live--;
    r->head = (r->head + 1) % r->cap;
    r->count--;
    return st;
}

/* A label leaves the middle of its ring: unindexed now, its slot freed when
 * the ring's head reaches it. */
static void ring_kill(ring *r, size_t pos)
{
    index_remove(r, pos);
    r->state[pos] = ST_DEAD;
    r->live--;
}

static void emit_pred(dw_label_join *j, dw_join_outcome o, const entry *en,
                      const dw_join_label *label)
{
    dw_join_pred p = {.ts_ms = en->ts, .score = en->value, .cls = en->cls, .tag = en->tag};
    j->emit(j->ctx, o, &p, label);
}

static void pop_prediction(dw_label_join *j, dw_join_outcome why)
{
    entry en;
    if (ring_pop(&j->preds, &en) != ST_WAITING)
        return; /* a joined marker: nothing waits on it */
    if (why == DW_JOIN_EVICTED)
        j->st.evicted_predictions++;
    else
        j->st.expired++;
    emit_pred(j, why, &en, NULL);
}

static void pop_label(dw_label_join *j, bool evicted)
{
    entry en;
    if (ring_pop(&j->labels, &en) != ST_WAITING)
        return;
    if (evicted)
        j->st.evicted_labels++;
    else
        j->st.orphan_labels++;
}

static void record_delay(dw_label_join *j, int64_t delay)
{
    size_t b = 0;
    if (delay < 0) {
        j->st.negative_delays++;
    } else if (delay >= 1) {
        double i = floor(log((double)delay) / log(DELAY_GAMMA)) + 1;
        b = i >= DELAY_BUCKETS - 1 ? DELAY_BUCKETS - 1 : (size_t)i;
    }
    j->delays[b]++;
    j->ndelays++;
}

static void match(dw_label_join *j, const entry *pred, const dw_join_label *label)
{
    j->st.matched++;
    record_delay(j, label->ts_ms - pred->ts);
    emit_pred(j, DW_JOIN_MATCHED, pred, label);
}

dw_label_join *dw_label_join_new(const dw_join_config *cfg, dw_join_emit_fn emit, void *ctx,
                                 char *errbuf, size_t errlen)
{
    if (!cfg || !emit) {
        dw_seterr(errbuf, errlen, DW_ERR_INVALID, "labels: no configuration or callback");
        return NULL;
    }
    dw_join_config c = *cfg;
    if (c.max_early_ms == 0)
        c.max_early_ms = c.max_delay_ms;
    if (c.early_share == 0)
        c.early_share = 0.125;
    if (c.max_delay_ms <= 0 || c.max_early_ms < 0) {
        dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                  "labels: max_delay must be positive and max_early not negative");
        return NULL;
    }
    if (c.memory_bytes < DW_JOIN_MIN_MEMORY) {
        dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                  "labels: memory cap %zu bytes is below the minimum of %u bytes", c.memory_bytes,
                  DW_JOIN_MIN_MEMORY);
        return NULL;
    }
    if (!(c.early_share > 0 && c.early_share <= 0.5)) {
        dw_seterr(errbuf, errlen, DW_ERR_INVALID, "labels: early_share must be in (0, 0.5], got %g",
                  c.early_share);
        return NULL;
    }
    dw_label_join *j = dw_calloc(1, sizeof *j);
    *j = (dw_label_join){.cfg = c, .emit = emit, .ctx = ctx, .clock = INT64_MIN};
    if (getrandom(&j->seed, sizeof j->seed, GRND_NONBLOCK) != (ssize_t)sizeof j->seed)
        j->seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)j; /* still not constant */
    /* The budget covers everything this join allocates. */
    size_t budget = c.memory_bytes - sizeof *j;
    size_t lab_budget = (size_t)((double)budget * c.early_share);
    j->allocated = sizeof *j;
    j->allocated += ring_init(&j->labels, lab_budget);
    j->allocated += ring_init(&j->preds, budget - lab_budget);
    return j;
}

void dw_label_join_free(dw_label_join *j)
{
    if (!j)
        return;
    ring_free(&j->preds);
    ring_free(&j->labels);
    free(j);
}

int dw_label_join_prediction(dw_label_join *j, const char *key, size_t len,
                             const dw_join_pred *pred)
{
    if (!key || len == 0)
        return DW_ERR_INVALID;
    uint64_t h = key_hash(j->seed, key, len);
    if (ring_find(&j->preds, h) != SIZE_MAX) {
        j->st.duplicate_predictions++;
        return DW_OK;
    }
    j->st.predictions++;
    entry en = {
        .hash = h, .ts = pred->ts_ms, .value = pred->score, .cls = pred->cls, .tag = pred->tag};
    uint8_t state = ST_WAITING;
    size_t lp = ring_find(&j->labels, h);
    if (lp != SIZE_MAX) {
        entry lab = j->labels.e[lp];
        ring_kill(&j->labels, lp);
        if (lab.ts - pred->ts_ms > j->cfg.max_delay_ms) {
            j->st.late_labels++;
        } else {
            dw_join_label l = {.ts_ms = lab.ts, .value = lab.value, .cls = lab.cls};
            j->st.matched_early++;
            match(j, &en, &l);
            state = ST_JOINED; /* kept as a marker to recognise duplicate labels */
        }
    }
    if (j->preds.count == j->preds.cap)
        pop_prediction(j, DW_JOIN_EVICTED);
    ring_push(&j->preds, &en, state);
    return DW_OK;
}

int dw_label_join_label(dw_label_join *j, const char *key, size_t len, const dw_join_label *label)
{
    if (!key || len == 0)
        return DW_ERR_INVALID;
    j->st.labels++;
    uint64_t h = key_hash(j->seed, key, len);
    size_t pp = ring_find(&j->preds, h);
    if (pp != SIZE_MAX) {
        if (j->preds.state[pp] == ST_JOINED) {
            j->st.duplicate_labels++;
        } else if (label->ts_ms - j->preds.e[pp].ts > j->cfg.max_delay_ms) {
            j->st.late_labels++;
        } else {
            j->preds.state[pp] = ST_JOINED;
            j->preds.live--;
            match(j, &j->preds.e[pp], label);
        }
        return DW_OK;
    }
    if (ring_find(&j->labels, h) != SIZE_MAX) {
        j->st.duplicate_labels++;
        return DW_OK;
    }
    if (j->labels.count == j->labels.cap)
        pop_label(j, true);
    entry en = {.hash = h, .ts = label->ts_ms, .value = label->value, .cls = label->cls};
    ring_push(&j->labels, &en, ST_WAITING);
    return DW_OK;
}

/* ts + limit < clock without overflow */
static bool past(int64_t ts, int64_t limit, int64_t clock)
{
    return ts < clock - limit;
}

/* Moves at most this many entries stamped ahead of the clock from the head
 * of a ring to its tail per advance (see sweep()). */
#define ROTATE_MAX 64

/* Pops the expired entries at the head of r. An entry stamped ahead of the
 * clock that reached the head (a record from the future, or every waiting
 * entry newer than a clock held back by a lagging stream) is moved to the
 * tail instead, so it cannot hold back the expiry of everything behind it;
 * ROTATE_MAX bounds that work per call. */
static void sweep(dw_label_join *j, ring *r, int64_t limit, int64_t clock)
{
    int rotations = 0;
    while (r->count > 0) {
        size_t h = r->head;
        entry en;
        if (r->state[h] == ST_DEAD) {
            ring_pop(r, &en);
        } else if (past(r->e[h].ts, limit, clock)) {
            if (r == &j->preds)
                pop_prediction(j, DW_JOIN_EXPIRED);
            else
                pop_label(j, false);
        } else if (r->e[h].ts > clock && rotations < ROTATE_MAX) {
            rotations++;
            uint8_t st = ring_pop(r, &en);
            ring_push(r, &en, st);
        } else {
            break;
        }
    }
}

size_t dw_label_join_advance(dw_label_join *j, int64_t watermark_ms)
{
    if (watermark_ms <= j->clock)
        return 0;
    j->clock = watermark_ms;
    /* clock - limit must not overflow: clamp the comparison for clocks near
     * INT64_MIN (never seen with real timestamps, cheap to be exact). */
    if (watermark_ms < INT64_MIN + j->cfg.max_delay_ms ||
        watermark_ms < INT64_MIN + j->cfg.max_early_ms)
        return 0;
    uint64_t before = j->st.expired;
    sweep(j, &j->preds, j->cfg.max_delay_ms, watermark_ms);
    sweep(j, &j->labels, j->cfg.max_early_ms, watermark_ms);
    return (size_t)(j->st.expired - before);
}

void dw_label_join_flush(dw_label_join *j)
{
    while (j->preds.count > 0)
        pop_prediction(j, DW_JOIN_EXPIRED);
    while (j->labels.count > 0)
        pop_label(j, false);
}

void dw_label_join_stats(const dw_label_join *j, dw_join_stats *out)
{
    *out = j->st;
    out->waiting_predictions = j->preds.live;
    out->waiting_labels = j->labels.live;
    out->prediction_capacity = j->preds.cap;
    out->label_capacity = j->labels.cap;
    out->memory_bytes = j->allocated;
}

double dw_label_join_delay_quantile(const dw_label_join *j, double q)
{
    if (j->ndelays == 0 || !(q >= 0 && q <= 1))
        return NAN;
    /* the value of rank floor(q (n - 1)), counting from 0 */
    uint64_t rank = (uint64_t)floor(q * (double)(j->ndelays - 1)), seen = 0;
    for (size_t b = 0; b < DELAY_BUCKETS; b++) {
        seen += j->delays[b];
        if (seen > rank)
            return b == 0 ? 0.0
                          : 2.0 * pow(DELAY_GAMMA, (double)b - 1) * DELAY_GAMMA / (1 + DELAY_GAMMA);
    }
    return NAN; /* not reached: the buckets hold ndelays */
}

double dw_label_join_coverage(const dw_label_join *j)
{
    uint64_t left = j->st.matched + j->st.expired + j->st.evicted_predictions;
    return left ? (double)j->st.matched / (double)left : NAN;
}

/* State on Kafka, the engine's side: the counts this replica applied since
 * its last delta, their encoding (delta.h), and the merge of deltas read
 * back from the state topic (engine.h, "State on Kafka"; the Kafka side is
 * in state_topic.c). */
#include "engine_int.h"

#include "driftwatch/error.h"
#include "driftwatch/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

void dw_engine_state_enable(dw_engine *e, uint64_t writer_id, dw_delta_fn fn, void *ctx)
{
    e->delta_on = true;
    e->writer_id = writer_id;
    e->delta_fn = fn;
    e->delta_ctx = ctx;
    e->next_off_src = -1;
    e->next_off = -1;
    e->late_rl = (dw_ratelimit)DW_RATELIMIT_INIT(10000);
    /* Deltas use the finest pane every window can be cut from. */
    int64_t g = 0;
    for (size_t w = 0; w < e->nwindows; w++)
        g = gcd64(e->windows[w].slide_ms, g);
    e->delta_gran = g > 0 ? g : 60000;
    if (!e->cover)
        e->cover = dw_calloc(DW_ENGINE_MAX_SOURCES, sizeof *e->cover);
}

void dw_engine_source_offset(dw_engine *e, int id, int64_t next_offset)
{
    if (!e->delta_on || id <= 0 || (size_t)id >= e->nsources)
        return;
    /* Taken by the dw_engine_process_from() that follows. */
    e->next_off_src = id;
    e->next_off = next_offset;
}

void dw_engine_source_expect(dw_engine *e, int id)
{
    if (id <= 0 || (size_t)id >= e->nsources || e->sources[id].expected)
        return;
    e->sources[id].expected = true;
    e->sources[id].last_wall = dw_wall_ms();
}

int64_t dw_engine_source_resume(dw_engine *e, int id)
{
    if (id <= 0 || (size_t)id >= e->nsources)
        return -1;
    source *src = &e->sources[id];
    src->off_from = src->off_to = src->log_to;
    return src->log_to;
}

int64_t dw_engine_emit_time(const dw_engine *e)
{
    return e->emit_at;
}

/* ---- pending counts ---- */

void dw_eng_pend_add(dw_engine *e, source *src, size_t pidx, dw_model *m, int64_t t,
                     const size_t *slots, size_t n)
{
    (void)m;
    int64_t pane = floor_to(t, e->delta_gran);
    pend_buf *pb = src->last_pb;
    if (!pb || pb->pidx != pidx || pb->pane != pane) {
        for (pb = src->pend; pb; pb = pb->next)
            if (pb->pidx == pidx && pb->pane == pane)
                break;
        if (!pb) {
            if (e->npend >= DW_ENGINE_MAX_PENDING)
                dw_engine_delta_flush(e); /* bounded memory: send what we have */
            pb = e->pend_free;
            if (pb)
                e->pend_free = pb->next;
            else
                pb = dw_calloc(1, sizeof *pb);
            pb->pidx = pidx;
            pb->pane = pane;
            pb->records = 0;
            pb->nlog = 0;
            pb->npins = pb->npinned = 0;
            pb->next = src->pend;
            src->pend = pb;
            e->npend++;
        }
        src->last_pb = pb;
    }
    pb->records++;
    if (pb->nlog + n > pb->logcap) {
        size_t cap = pb->logcap ? 2 * pb->logcap : 1024;
        while (cap < pb->nlog + n)
            cap *= 2;
        pb->log = dw_realloc(pb->log, cap * sizeof *pb->log);
        pb->logcap = cap;
    }
    uint32_t *out = pb->log + pb->nlog;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint32_t)slots[i];
    pb->nlog += n;
    src->dirty = true;
    /* A delta must fit a Kafka message: send one before it could hold
     * more than DW_ENGINE_MAX_PENDING_PAIRS pairs (after this message, see
     * flush). Each index is at most one pair. */
    e->npend_pairs += n;
    if (e->npend_pairs >= DW_ENGINE_MAX_PENDING_PAIRS)
        dw_engine_delta_flush(e);
}

static void scratch_reserve(dw_engine *e, size_t n)
{
    if (n <= e->dscratch_cap)
        return;
    size_t cap = e->dscratch_cap ? e->dscratch_cap : 1024;
    while (cap < n)
        cap *= 2;
    e->dscratch_slots = dw_realloc(e->dscratch_slots, cap * sizeof *e->dscratch_slots);
    e->dscratch_counts = dw_realloc(e->dscratch_counts, cap * sizeof *e->dscratch_counts);
    e->dscratch_cap = cap;
}

static dw_model *state_at(dw_engine *e, size_t pidx, model_entry **me_out)
{
    size_t mi = pidx / (DW_ENGINE_MAX_VERSIONS + 1), vi = pidx % (DW_ENGINE_MAX_VERSIONS + 1);
    if (mi >= e->nmodels || vi >= e->models[mi].nstates)
        return NULL;
    if (me_out)
        *me_out = &e->models[mi];
    return e->models[mi].states[vi];
}

/* The name unseen-category slot s of pb was counted under: the one taken
 * when it was pinned, else the slot's name now. */
static const char *pend_name(const pend_buf *pb, const dw_model *m, uint32_t s, size_t *col)
{
    const char *name = dw_model_new_category(m, s, col);
    for (size_t i = 0; name && i < pb->npins; i++)
        if (pb->pins[i].slot == s)
            return pb->pins[i].name;
    return name;
}

/* Takes the names of the unseen categories the pending buffers count,
 * before an evaluation inside a message (whose delta waits for the end of
 * the message) can free their slots for other names. */
static void pin_names(dw_engine *e)
{
    for (size_t i = 1; i < e->nsources; i++)
        for (pend_buf *pb = e->sources[i].pend; pb; pb = pb->next) {
            dw_model *m = state_at(e, pb->pidx, NULL);
            if (!m || !dw_model_has_new_categories(m)) {
                /* No slot is named, so none of the counters since the
                 * last pin is an unseen category: slots are freed only
                 * by evaluations, and each comes after a pin. */
                pb->npinned = pb->nlog;
                continue;
            }
            const uint8_t *newcat = dw_model_new_category_map(m);
            for (; pb->npinned < pb->nlog; pb->npinned++) {
                size_t col;
                uint32_t s = pb->log[pb->npinned];
                if (!newcat[s])
                    continue;
                bool have = false;
                for (size_t k = 0; k < pb->npins && !have; k++)
                    have = pb->pins[k].slot == s;
                const char *name = have ? NULL : dw_model_new_category(m, s, &col);
                if (!name)
                    continue;
                if (pb->npins == pb->pins_cap) {
                    pb->pins_cap = pb->pins_cap ? 2 * pb->pins_cap : 4;
                    pb->pins = dw_realloc(pb->pins, pb->pins_cap * sizeof *pb->pins);
                }
                pend_pin *pin = &pb->pins[pb->npins++];
                pin->slot = s;
                snprintf(pin->name, sizeof pin->name, "%s", name);
            }
        }
}

/* Shared counters for summing a group's indices: one set, reused by every
 * group, so it stays in cache. */
static void agg_reserve(dw_engine *e, size_t width)
{
    if (width <= e->agg_width)
        return;
    free(e->agg_cnt);
    free(e->agg_bits);
    e->agg_cnt = dw_calloc(width, sizeof *e->agg_cnt);
    e->agg_bits = dw_calloc((width + 63) / 64, sizeof *e->agg_bits);
    e->agg_width = width;
}

/* Encodes one buffer as a group and empties it. */
static void encode_group(dw_engine *e, pend_buf *pb)
{
    model_entry *me = NULL;
    dw_model *m = state_at(e, pb->pidx, &me);
    dw_delta_group(&e->dw, dw_model_name(m), dw_model_version(m), me->ref->checksum, pb->pane,
                   pb->records);
    size_t width = dw_model_width(m);
    agg_reserve(e, width);
    uint32_t *restrict cnt = e->agg_cnt;
    uint64_t *restrict bits = e->agg_bits;
    const uint32_t *restrict log = pb->log;
    size_t nlog = pb->nlog;
    for (size_t i = 0; i < nlog; i++) {
        uint32_t s = log[i];
        if (cnt[s]++ == 0)
            bits[s >> 6] |= (uint64_t)1 << (s & 63);
    }
    /* The non-zero counters in ascending order, from the bitmap, written
     * as pairs as they are found; unseen categories (sent by name, their
     * counter index is this replica's) aside in the scratch. */
    scratch_reserve(e, nlog);
    const uint8_t *newcat = dw_model_new_category_map(m);
    size_t np = 0, nn = 0;
    uint8_t *out = dw_delta_pairs_open(&e->dw, nlog);
    uint32_t prev = 0;
    for (size_t w = 0; w < (width + 63) / 64; w++) {
        uint64_t word = bits[w];
        if (!word)
            continue;
        bits[w] = 0;
        do {
            uint32_t s = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(word));
            word &= word - 1;
            uint32_t c = cnt[s];
            cnt[s] = 0;
            if (newcat[s]) {
                e->dscratch_slots[nn] = s;
                e->dscratch_counts[nn++] = c;
                continue;
            }
            out = dw_delta_pair_at(out, s - prev, c);
            prev = s;
            np++;
        } while (word);
    }
    dw_delta_pairs_close(&e->dw, out, np);
    /* Pending counts go out before any evaluation (where slots are freed),
     * except inside a message: then their names were pinned before it. */
    size_t named = 0;
    for (size_t i = 0; i < nn; i++) {
        size_t col;
        if (pend_name(pb, m, e->dscratch_slots[i], &col))
            named++;
    }
    dw_delta_names_begin(&e->dw, named);
    for (size_t i = 0; i < nn; i++) {
        size_t col;
        uint32_t s = e->dscratch_slots[i];
        const char *name = pend_name(pb, m, s, &col);
        if (name)
            dw_delta_name(&e->dw, col, name, e->dscratch_counts[i]);
    }
    pb->nlog = 0;
    pb->npins = pb->npinned = 0;
    pb->records = 0;
}

/* ---- this process's deltas, read back ---- */

static void own_pop(dw_engine *e)
{
    free(e->own[e->own_head].sects);
    e->own_head = (e->own_head + 1) % DW_ENGINE_OWN_DELTAS;
    e->nown--;
}

/* Remembers delta seq's sections (returned, nsect of them, for the caller
 * to fill). When the reader is that far behind, the oldest is forgotten:
 * it is decoded in full when it comes. */
static own_sect *own_push(dw_engine *e, uint64_t seq, size_t nsect)
{
    if (!e->own)
        e->own = dw_calloc(DW_ENGINE_OWN_DELTAS, sizeof *e->own);
    if (e->nown == DW_ENGINE_OWN_DELTAS)
        own_pop(e);
    own_delta *o = &e->own[(e->own_head + e->nown++) % DW_ENGINE_OWN_DELTAS];
    o->seq = seq;
    o->n = nsect;
    o->sects = dw_malloc(nsect * sizeof *o->sects);
    return o->sects;
}

/* A delta of this process read back: what the full merge would do with it
 * (own counts are not merged again), without decoding it. Returns false
 * when it is not the next one remembered (then it is decoded). */
static bool own_read_back(dw_engine *e, const void *buf, size_t len, dw_delta_result *res)
{
    uint64_t writer, seq;
    if (!e->delta_on || !e->nown || dw_delta_peek(buf, len, &writer, &seq) < 0 ||
        writer != e->writer_id)
        return false;
    /* One partition, one idempotent producer: they come back in order.
     * Those before seq did not come (or not yet): decoded if they do. */
    while (e->nown && e->own[e->own_head].seq < seq)
        own_pop(e);
    if (!e->nown || e->own[e->own_head].seq != seq)
        return false;
    const own_delta *o = &e->own[e->own_head];
    res->own = true;
    for (size_t i = 0; i < o->n; i++) {
        source *src = &e->sources[o->sects[i].src];
        if (o->sects[i].from >= 0 && o->sects[i].from < src->log_to) {
            res->duplicates++;
            STAT_ADD(e, delta_duplicates, 1);
            continue;
        }
        if (o->sects[i].to > src->log_to)
            src->log_to = o->sects[i].to;
        res->sections++;
    }
    own_pop(e);
    return true;
}

void dw_engine_delta_flush(dw_engine *e)
{
    if (!e->delta_on || e->in_delta_flush)
        return;
    if (e->in_message) {
        /* A message's records go out together (see dw_engine_process_from). */
        e->flush_wanted = true;
        pin_names(e);
        return;
    }
    e->flush_wanted = false;
    size_t nsect = 0;
    for (size_t i = 1; i < e->nsources; i++) {
        const source *s = &e->sources[i];
        if (s->topic && (s->dirty || s->off_to > s->off_from))
            nsect++;
    }
    if (!nsect)
        return;
    e->in_delta_flush = true;
    dw_delta_begin(&e->dw, e->writer_id, ++e->delta_seq, nsect);
    own_sect *own = own_push(e, e->delta_seq, nsect);
    size_t nc = 0;
    for (size_t i = 1; i < e->nsources; i++) {
        source *s = &e->sources[i];
        if (!s->topic || !(s->dirty || s->off_to > s->off_from))
            continue;
        size_t ng = 0;
        for (pend_buf *pb = s->pend; pb; pb = pb->next)
            ng++;
        dw_delta_section(&e->dw, s->topic, s->partition, s->off_from, s->off_to,
                         s->seen ? s->max_t : INT64_MIN, ng);
        pend_buf *pb = s->pend;
        while (pb) {
            pend_buf *next = pb->next;
            encode_group(e, pb);
            pb->next = e->pend_free;
            e->pend_free = pb;
            pb = next;
        }
        s->pend = s->last_pb = NULL;
        s->dirty = false;
        e->cover[nc].topic = s->topic;
        e->cover[nc].partition = s->partition;
        e->cover[nc].to = s->off_to;
        own[nc] = (own_sect){.src = (int)i, .from = s->off_from, .to = s->off_to};
        nc++;
        s->off_from = s->off_to;
    }
    e->npend = 0;
    e->npend_pairs = 0;
    STAT_ADD(e, deltas_out, 1);
    STAT_ADD(e, delta_bytes_out, e->dw.len);
    if (e->delta_fn)
        e->delta_fn(e->delta_ctx, e->dw.buf, e->dw.len, e->cover, nc);
    e->in_delta_flush = false;
}

/* ---- merging deltas ---- */

static void ahead_push(dw_engine *e, size_t pidx, int64_t pane, uint32_t records,
                       const uint32_t *slots, const uint32_t *counts, size_t n)
{
    if (e->nahead >= DW_ENGINE_MAX_AHEAD_GROUPS) {
        STAT_ADD(e, delta_late, records); /* bounded: counted, never applied */
        return;
    }
    ahead_grp *a = dw_calloc(1, sizeof *a);
    a->pidx = pidx;
    a->pane = pane;
    a->records = records;
    a->n = n;
    a->slots = dw_malloc((n ? n : 1) * sizeof *a->slots);
    a->counts = dw_malloc((n ? n : 1) * sizeof *a->counts);
    memcpy(a->slots, slots, n * sizeof *slots);
    memcpy(a->counts, counts, n * sizeof *counts);
    /* Oldest first, so they are retried in the order they came. */
    ahead_grp **pp = &e->ahead_list;
    while (*pp)
        pp = &(*pp)->next;
    *pp = a;
    e->nahead++;
    STAT_SET(e, delta_ahead, e->nahead);
}

static void ahead_free(ahead_grp *a)
{
    free(a->slots);
    free(a->counts);
    free(a);
}

/* Adds a group's counts; returns what dw_model_add_counts() returned. */
static int add_group(dw_engine *e, dw_model *m, int64_t pane, uint32_t records,
                     const uint32_t *slots, const uint32_t *counts, size_t n, bool *fresh)
{
    bool was_fresh = dw_window_next_end(dw_model_window(m, 0)) == INT64_MIN;
    int rc = dw_model_add_counts(m, pane, slots, counts, n);
    if (rc == DW_ERR_LIMIT) {
        STAT_ADD(e, delta_late, records);
        dw_log_ratelimited(&e->late_rl, DW_LOG_WARN, "state",
                           "%u merged record(s) of the pane at %lld came after it closed here "
                           "(watermark %lld, writer %016llx, %s)",
                           records, (long long)pane, (long long)e->watermark_ms,
                           (unsigned long long)e->cur_writer, e->cur_where);
    } else if (rc == 0) {
        STAT_ADD(e, applied, records);
        STAT_ADD(e, delta_records_in, records);
        if (was_fresh)
            *fresh = true;
    }
    return rc;
}

void dw_eng_retry_ahead(dw_engine *e)
{
    bool fresh = false;
    ahead_grp **pp = &e->ahead_list;
    while (*pp) {
        ahead_grp *a = *pp;
        dw_model *m = state_at(e, a->pidx, NULL);
        int rc = m ? add_group(e, m, a->pane, a->records, a->slots, a->counts, a->n, &fresh)
                   : DW_ERR_NOT_FOUND;
        if (rc == DW_ERR_STATE) {
            pp = &a->next;
            continue;
        }
        *pp = a->next;
        ahead_free(a);
        e->nahead--;
    }
    STAT_SET(e, delta_ahead, e->nahead);
    if (fresh)
        dw_eng_refresh_next_boundary(e);
}

/* Closes the panes a writer must have closed before it could count in pane
 * (its windows hold panes open only so far ahead), when the event times of
 * the delta being applied move the watermark past them anyway (target).
 * The delta's groups come in pane order, so each of those panes holds all
 * of its counts when it closes, as it did at the writer. */
static void make_room(dw_engine *e, dw_model *m, int64_t pane, int64_t target)
{
    bool ahead = false;
    for (size_t w = 0; w < e->nwindows && !ahead; w++)
        ahead = dw_window_is_ahead(dw_model_window(m, w), pane);
    int64_t lateness = e->cfg->time.allowed_lateness_ms;
    int64_t limit = pane - (lateness > DW_ENGINE_MIN_AHEAD_MS ? lateness : DW_ENGINE_MIN_AHEAD_MS);
    if (ahead && target != INT64_MIN && limit <= target)
        dw_eng_advance(e, limit, false);
}

static uint64_t apply_group(dw_engine *e, const dw_delta_grp *g, bool *fresh, int64_t target)
{
    model_entry *me = dw_eng_route(e, g->model.ptr, g->model.len,
                                   g->has_version ? g->version.ptr : NULL, g->version.len);
    if (!me || g->checksum.len != strlen(me->ref->checksum) ||
        memcmp(g->checksum.ptr, me->ref->checksum, g->checksum.len) != 0) {
        /* Another configuration or reference (a rollout in progress):
         * counts of another layout cannot be merged. */
        STAT_ADD(e, delta_foreign, 1);
        return 0;
    }
    size_t sidx;
    bool too_many;
    dw_model *m = dw_eng_model_state(e, me, g->has_version ? g->version.ptr : NULL, g->version.len,
                                     &sidx, &too_many);
    if (!m) {
        STAT_ADD(e, delta_foreign, 1);
        return 0;
    }
    /* Before the scratch is filled: closing panes may send a delta. */
    make_room(e, m, g->pane_ms, target);
    scratch_reserve(e, g->npairs + g->nnames);
    memcpy(e->dscratch_slots, g->slots, g->npairs * sizeof *g->slots);
    memcpy(e->dscratch_counts, g->counts, g->npairs * sizeof *g->counts);
    size_t n = g->npairs;
    for (size_t i = 0; i < g->nnames; i++) {
        if (g->names[i].col >= me->ref->ncols)
            continue;
        e->dscratch_slots[n] = (uint32_t)dw_model_category_slot(
            m, g->names[i].col, g->names[i].name.ptr, g->names[i].name.len);
        e->dscratch_counts[n++] = g->names[i].count;
    }
    int rc =
        add_group(e, m, g->pane_ms, g->records, e->dscratch_slots, e->dscratch_counts, n, fresh);
    if (rc == DW_ERR_STATE)
        ahead_push(e, (size_t)(me - e->models) * (DW_ENGINE_MAX_VERSIONS + 1) + sidx, g->pane_ms,
                   g->records, e->dscratch_slots, e->dscratch_counts, n);
    return g->records;
}

/* A group to apply, in pane order (ties: order in the message). */
typedef struct grp_ref {
    const dw_delta_grp *g;
    size_t order;
    const dw_delta_sect *sec;
} grp_ref;

static int cmp_grp(const void *a, const void *b)
{
    const grp_ref *x = a, *y = b;
    if (x->g->pane_ms != y->g->pane_ms)
        return x->g->pane_ms < y->g->pane_ms ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

int dw_engine_delta_apply(dw_engine *e, const void *buf, size_t len, dw_delta_result *res)
{
    memset(res, 0, sizeof *res);
    if (own_read_back(e, buf, len, res))
        return 0;
    dw_delta d;
    if (dw_delta_decode(buf, len, &d) < 0) {
        STAT_ADD(e, delta_invalid, 1);
        return DW_ERR_PARSE;
    }
    res->own = e->delta_on && d.writer == e->writer_id;
    e->cur_writer = d.writer;
    int64_t wall = dw_wall_ms();
    int *ids = dw_calloc(d.nsections ? d.nsections : 1, sizeof *ids);
    size_t ngroups = 0;
    for (size_t s = 0; s < d.nsections; s++) {
        const dw_delta_sect *sec = &d.sections[s];
        char topic[DW_DELTA_MAX_STR + 1];
        memcpy(topic, sec->topic.ptr, sec->topic.len);
        topic[sec->topic.len] = '\0';
        ids[s] = sec->topic.len ? dw_engine_source(e, topic, sec->partition) : -1;
        if (ids[s] <= 0)
            continue;
        source *src = &e->sources[ids[s]];
        if (sec->from >= 0 && sec->from < src->log_to) {
            /* Offsets another delta already covered: a producer retry or a
             * replica that lost the partition without knowing it. */
            res->duplicates++;
            STAT_ADD(e, delta_duplicates, 1);
            ids[s] = -1;
            continue;
        }
        if (sec->to > src->log_to)
            src->log_to = sec->to;
        res->sections++;
        ngroups += sec->ngroups;
    }
    if (!res->own && res->sections) {
        STAT_ADD(e, deltas_in, 1);
        /* The sections' event times first: they close no pane by
         * themselves, and tell how far this delta moves the watermark. */
        for (size_t s = 0; s < d.nsections; s++) {
            if (ids[s] <= 0)
                continue;
            const dw_delta_sect *sec = &d.sections[s];
            source *src = &e->sources[ids[s]];
            src->last_wall = wall;
            if (sec->max_t == INT64_MIN)
                continue;
            if (!src->seen) {
                src->first_t = sec->max_t;
                if (e->pre_limit == INT64_MIN || sec->max_t < e->pre_limit)
                    e->pre_limit = sec->max_t;
            }
            if (!src->seen || sec->max_t > src->max_t)
                src->max_t = sec->max_t;
            src->seen = true;
            if (sec->max_t > e->max_event_ms)
                e->max_event_ms = sec->max_t;
        }
        int64_t target = dw_eng_watermark_target(e, wall);
        /* Then the counts, in pane order: a pane closes (here or in
         * make_room()) only after every count the writer had in it when it
         * closed the pane. */
        grp_ref *refs = dw_malloc((ngroups ? ngroups : 1) * sizeof *refs);
        size_t n = 0;
        for (size_t s = 0; s < d.nsections; s++)
            for (size_t g = 0; ids[s] > 0 && g < d.sections[s].ngroups; g++) {
                refs[n].g = &d.sections[s].groups[g];
                refs[n].order = n;
                refs[n].sec = &d.sections[s];
                n++;
            }
        qsort(refs, n, sizeof *refs, cmp_grp);
        bool fresh = false;
        for (size_t i = 0; i < n; i++) {
            const dw_delta_sect *sec = refs[i].sec;
            snprintf(e->cur_where, sizeof e->cur_where, "%.*s [%d] offsets %lld..%lld",
                     (int)(sec->topic.len < 200 ? sec->topic.len : 200), sec->topic.ptr,
                     (int)sec->partition, (long long)sec->from, (long long)sec->to);
            res->records += apply_group(e, refs[i].g, &fresh, target);
        }
        free(refs);
        if (res->records)
            e->last_record_wall = e->last_tick_wall = wall;
        if (fresh) {
            dw_eng_refresh_next_boundary(e);
            if (e->watermark_ms != INT64_MIN && e->watermark_ms >= e->next_boundary)
                dw_eng_advance(e, e->watermark_ms, false);
        }
        dw_eng_update_watermark(e, wall);
        if (e->ahead_list)
            dw_eng_retry_ahead(e);
    }
    free(ids);
    dw_delta_free(&d);
    return 0;
}

void dw_eng_state_free(dw_engine *e)
{
    for (size_t i = 0; e->sources && i < e->nsources; i++) {
        pend_buf *pb = e->sources[i].pend;
        while (pb) {
            pend_buf *next = pb->next;
            pb->next = e->pend_free;
            e->pend_free = pb;
            pb = next;
        }
        e->sources[i].pend = NULL;
    }
    while (e->pend_free) {
        pend_buf *pb = e->pend_free;
        e->pend_free = pb->next;
        free(pb->log);
        free(pb->pins);
        free(pb);
    }
    while (e->nown)
        own_pop(e);
    free(e->own);
    e->own = NULL;
    while (e->ahead_list) {
        ahead_grp *a = e->ahead_list;
        e->ahead_list = a->next;
        ahead_free(a);
    }
    dw_delta_writer_free(&e->dw);
    free(e->dscratch_slots);
    free(e->dscratch_counts);
    free(e->agg_cnt);
    free(e->agg_bits);
    e->agg_cnt = NULL;
    e->agg_bits = NULL;
    e->agg_width = 0;
    free(e->cover);
    e->cover = NULL;
}

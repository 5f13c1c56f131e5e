/* Engine internals shared by its files (engine.c: routing, event time,
 * evaluation; engine_state.c: state deltas). Not a public header: other
 * modules use driftwatch/engine.h. */
#ifndef DW_ENGINE_INT_H
#define DW_ENGINE_INT_H

#include "driftwatch/engine.h"
#include "driftwatch/delta.h"
#include "driftwatch/log.h"
#include "driftwatch/model.h"
#include "driftwatch/scanner.h"
#include "driftwatch/status.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

typedef struct col_index {
    size_t mask;    /* table size - 1 (power of two) */
    int32_t *slots; /* column index or -1 */
    const dw_reference *ref;
} col_index;

/* Which column the i-th field of a record is, remembered from the last
 * record (producers write their fields in the same order), so most fields
 * cost two short memcmp()s instead of a hash lookup. */
#define MEMO_KEY 30
typedef struct field_memo {
    int32_t col;   /* column, -1 not a column, -2 nothing remembered */
    uint8_t depth; /* 1 or 2 */
    uint8_t len[2];
    bool numeric;     /* col is a numeric column */
    bool same_parent; /* depth 2 and key[0] equal to the previous entry's (also depth 2) */
    char key[2][MEMO_KEY];
} field_memo;

/* A configured dotted path (records.timestamp, ...) split once. */
typedef struct cpath {
    const char *dotted;
    int depth; /* 0: cannot match a scanner field (too deep) */
    const char *part[DW_SCAN_MAX_DEPTH];
    size_t len[DW_SCAN_MAX_DEPTH];
} cpath;

/* engine.c */
void dw_eng_cpath_init(cpath *cp, const char *dotted);

/* a[0..n) == b[0..n) without a libc call for the short keys records are
 * made of: two overlapping loads of 2, 4 or 8 bytes, each inside both
 * ranges (memcpy of a constant size compiles to one load). */
static inline bool dw_eng_key_eq(const char *a, const char *b, size_t n)
{
    if (n >= 8) {
        if (n > 16)
            return memcmp(a, b, n) == 0;
        uint64_t x0, y0, x1, y1;
        memcpy(&x0, a, 8);
        memcpy(&y0, b, 8);
        memcpy(&x1, a + n - 8, 8);
        memcpy(&y1, b + n - 8, 8);
        return ((x0 ^ y0) | (x1 ^ y1)) == 0;
    }
    if (n >= 4) {
        uint32_t x0, y0, x1, y1;
        memcpy(&x0, a, 4);
        memcpy(&y0, b, 4);
        memcpy(&x1, a + n - 4, 4);
        memcpy(&y1, b + n - 4, 4);
        return ((x0 ^ y0) | (x1 ^ y1)) == 0;
    }
    if (n >= 2) {
        uint16_t x0, y0, x1, y1;
        memcpy(&x0, a, 2);
        memcpy(&y0, b, 2);
        memcpy(&x1, a + n - 2, 2);
        memcpy(&y1, b + n - 2, 2);
        return ((x0 ^ y0) | (x1 ^ y1)) == 0;
    }
    return n == 0 || a[0] == b[0];
}

/* dw_scan_path_eq() with cheap rejects first: depth, then lengths. */
static inline bool dw_eng_cpath_eq(const cpath *cp, const dw_scan_field *f)
{
    if (f->depth != cp->depth)
        return false;
    if (f->key_escaped)
        return dw_scan_path_eq(f, cp->dotted);
    for (int d = 0; d < cp->depth; d++)
        if (f->key[d].len != cp->len[d] || !dw_eng_key_eq(f->key[d].ptr, cp->part[d], cp->len[d]))
            return false;
    return true;
}

/* out[k] = the first field of rec at paths[k] (NULL when none), each field
 * taken by the first path it matches. */
static inline void dw_eng_find_paths(const dw_scan_record *rec, const cpath *const *paths,
                                     const dw_scan_field **out, size_t n)
{
    for (size_t k = 0; k < n; k++)
        out[k] = NULL;
    for (size_t i = 0; i < rec->nfields; i++)
        for (size_t k = 0; k < n; k++)
            if (!out[k] && paths[k] && dw_eng_cpath_eq(paths[k], &rec->fields[i])) {
                out[k] = &rec->fields[i];
                break;
            }
}

/* A scanner field as a dw_value (strings unescaped into buf[cap]). */
void dw_eng_value_of(const dw_scan_field *f, char *buf, size_t cap, dw_value *v);

typedef struct dw_eng_perf dw_eng_perf; /* engine_perf.c */

typedef struct model_entry {
    const dw_model_config *cfg;
    dw_reference *ref; /* owned here */
    col_index cols;
    const dw_thresholds **th; /* per column, owned by the config */
    bool *ignored;
    dw_model *states[DW_ENGINE_MAX_VERSIONS + 1]; /* by version; [0] may be NULL-version */
    int64_t last_t[DW_ENGINE_MAX_VERSIONS + 1];   /* newest record applied to each state */
    field_memo *memo;                             /* records.max_fields */
    size_t nstates;
    bool flat;     /* dw_reference_is_flat(): columns match by last name too */
    uint64_t *via; /* flat: per column, hash of the path it follows (0: none yet) */
    bool warned_absent;
    struct dw_canary *canary; /* compare/latency (engine_canary.c), NULL: neither */
} model_entry;

/* One retraining rule's progress for one (model, version). */
typedef struct retrain_state {
    int64_t since;      /* event time the condition started holding, or INT64_MIN */
    int64_t last_fired; /* event time of the last trigger, or INT64_MIN */
    bool fired;         /* triggered in the current episode */
} retrain_state;

/* The name an unseen-category counter had when it was counted (see
 * pend_buf.pins). */
typedef struct pend_pin {
    uint32_t slot;
    char name[DW_MAX_NAME + 1];
} pend_pin;

/* Counts this replica applied to one (model state, pane) of one source since
 * its last delta, as the counter index of every value applied, in order
 * (a record appends one index per column). At the benchmark's traffic a
 * delta has about one increment per non-zero counter, so full-width
 * counters per source and pane were mostly zeros, and their cache
 * footprint slowed the rest of the engine; the indices are summed into one
 * shared set of counters when the delta is encoded (engine_state.c). */
typedef struct pend_buf {
    struct pend_buf *next;
    size_t pidx;  /* model index * (DW_ENGINE_MAX_VERSIONS + 1) + version */
    int64_t pane; /* start of the pane (delta granularity) */
    uint32_t records;
    uint32_t *log; /* counter indices, nlog of them (capacity logcap) */
    size_t nlog, logcap;
    /* Names of the unseen categories among log[0, npinned), taken when
     * panes closed before this buffer went out (inside a message): the
     * evaluation may free such a slot and give it to another name. */
    pend_pin *pins;
    size_t npins, pins_cap, npinned;
} pend_buf;

/* A delta this process wrote, remembered until it is read back from the
 * state topic: its sections' offsets are all the reader needs from it (its
 * counts are in the windows already), so it is not decoded again. */
typedef struct own_sect {
    int src;
    int64_t from, to;
} own_sect;

typedef struct own_delta {
    uint64_t seq;
    size_t n;
    own_sect *sects;
} own_delta;

/* Another replica's counts that lay beyond the panes open here when they
 * arrived: applied once the watermark has moved (bounded, see
 * DW_ENGINE_MAX_AHEAD_GROUPS). */
typedef struct ahead_grp {
    struct ahead_grp *next;
    size_t pidx;
    int64_t pane;
    uint32_t records;
    size_t n;
    uint32_t *slots, *counts;
} ahead_grp;

typedef struct source {
    char *topic; /* NULL for source 0 */
    int32_t partition;
    bool assigned, seen;
    int64_t max_t;     /* newest event time delivered */
    int64_t first_t;   /* event time of its first record (while seen) */
    int64_t last_wall; /* wall time of the last record (or the assignment) */
    /* state deltas: input offsets [off_from, off_to) applied since the
     * last delta; log_to: end of the offsets the state topic covers */
    int64_t off_from, off_to, log_to;
    pend_buf *pend, *last_pb;
    bool dirty;    /* pend holds counts */
    bool expected; /* a partition of an input topic (state): holds time back */
} source;

struct dw_engine {
    const dw_config *cfg;
    model_entry *models;
    size_t nmodels;
    dw_window_spec windows[DW_MAX_WINDOWS];
    size_t nwindows;

    dw_emit_fn emit;
    void *emit_ctx;
    dw_reject_fn reject;
    void *reject_ctx;

    /* event time */
    int64_t max_event_ms;
    int64_t watermark_ms;
    int64_t next_boundary; /* smallest pane end not closed yet, any window */
    int64_t last_record_wall, last_tick_wall;
    source *sources;
    size_t nsources;
    bool ahead;        /* set by apply_record when the record is beyond the open panes */
    int64_t pre_limit; /* see apply_record: before the watermark is known */
    int64_t min_slide;
    int64_t ahead_ts;

    /* per-record scratch, sized once so processing never allocates */
    dw_scan_field *fields; /* nfields_cap: records.max_fields */
    size_t nfields_cap;
    size_t *slots;
    uint32_t *seen;
    uint32_t seen_gen;
    size_t max_cols;
    dw_column_result *res;
    dw_alert_event *events;
    json_t **pending;              /* per (model, version) document for this boundary */
    json_t *pending_retrain;       /* retraining trigger documents for this boundary */
    json_t **pending_reminder;     /* per (model, version): still-firing alerts to re-send */
    int64_t resend_ms;             /* reminder interval; 0: no sink wants reminders */
    struct retrain_state *retrain; /* [model][version][rule] */

    cpath p_ts, p_model, p_version; /* records.timestamp/model/model_version */
    json_t *restored;               /* alerts of a previous run, applied as their models appear */
    dw_engine_stats stats;          /* see STAT_ADD */
    pthread_mutex_t snap_lock;
    dw_status *status; /* published snapshot, see dw_engine_status() */
    uint64_t last_publish_ms;
    bool snapshot_stale; /* evaluations since the last publish (throttled) */
    bool snapshot_quiet; /* !dw_engine_set_live_snapshot(): only flush publishes */
    int64_t emit_at;     /* pane end whose documents are being emitted */

    /* state on Kafka (engine_state.c) */
    bool delta_on;
    uint64_t writer_id, delta_seq;
    int64_t delta_gran; /* pane granularity of deltas: gcd of the slides */
    dw_delta_fn delta_fn;
    void *delta_ctx;
    size_t npend;       /* pend_bufs in use */
    size_t npend_pairs; /* counter indices in them (at least the non-zero counters) */
    pend_buf *pend_free;
    uint32_t *agg_cnt;  /* encoding: a group's counts, agg_width, zero between groups */
    uint64_t *agg_bits; /* encoding: which of agg_cnt are non-zero */
    size_t agg_width;
    own_delta *own; /* deltas written, not yet read back (ring of DW_ENGINE_OWN_DELTAS) */
    size_t own_head, nown;
    dw_delta_writer dw;
    uint32_t *dscratch_slots, *dscratch_counts; /* sized dscratch_cap */
    size_t dscratch_cap;
    dw_delta_cover *cover;
    ahead_grp *ahead_list;
    size_t nahead;
    bool in_delta_flush;
    bool in_message;     /* inside dw_engine_process_from() */
    bool flush_wanted;   /* a flush waits for the end of the message */
    int next_off_src;    /* dw_engine_source_offset() for the next message */
    uint64_t cur_writer; /* the delta being merged, for the late warning */
    char cur_where[300];
    dw_ratelimit late_rl;
    int64_t next_off;
    dw_eng_perf *perf; /* labels and performance (engine_perf.c); NULL: none */
};

/* Counters are written by the engine's thread only and read by others:
 * relaxed atomic loads and stores keep the hot path free of locks, and with
 * one writer an add needs no locked read-modify-write instruction. */
#define STAT_ADD(e, field, n)                                                                      \
    __atomic_store_n(&(e)->stats.field,                                                            \
                     __atomic_load_n(&(e)->stats.field, __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define STAT_SET(e, field, v) __atomic_store_n(&(e)->stats.field, (v), __ATOMIC_RELAXED)
#define STAT_GET(e, field) __atomic_load_n(&(e)->stats.field, __ATOMIC_RELAXED)

static inline int64_t floor_to(int64_t t, int64_t step)
{
    int64_t q = t / step;
    if (t % step != 0 && t < 0)
        q--;
    return q * step;
}

/* engine.c, shared with engine_state.c */
void dw_eng_update_watermark(dw_engine *e, int64_t wall_ms);
/* The watermark the sources' event times allow now (INT64_MIN: unknown);
 * dw_eng_update_watermark() moves to it. */
int64_t dw_eng_watermark_target(const dw_engine *e, int64_t wall_ms);
void dw_eng_refresh_next_boundary(dw_engine *e);
void dw_eng_advance(dw_engine *e, int64_t limit, bool final);
/* Hands a notification document to the emit callback (counted); takes doc. */
void dw_eng_emit(dw_engine *e, json_t *doc);
model_entry *dw_eng_route(dw_engine *e, const char *mname, size_t mlen, const char *ver,
                          size_t verlen);
dw_model *dw_eng_model_state(dw_engine *e, model_entry *me, const char *ver, size_t verlen,
                             size_t *state_idx, bool *too_many);

/* engine_docs.c: documents and the status snapshot */
json_t *dw_eng_alert_json(const model_entry *me, dw_model *m, size_t wi, size_t col, int kind,
                          dw_alert_event ev, const dw_column_result *r);
json_t *dw_eng_new_document(const dw_model *m, int64_t at_ms, const char *kind);
/* One entry of the alert state document (dw_engine_alert_state()): firing
 * alert a of state m, its dedup_key hashed from (column, window, kind). New
 * reference. */
json_t *dw_eng_alert_entry(const dw_model *m, const char *column, const char *window,
                           const char *kind, const dw_alert *a);
void dw_eng_publish_snapshot(dw_engine *e);

/* engine_retrain.c */
void dw_eng_check_retrain(dw_engine *e, model_entry *me, size_t state_idx, size_t wi,
                          int64_t end_ms);

/* engine_canary.c: versions side by side, latency */
struct dw_canary;
/* Latency counters a state of mc needs after its columns (0: none). */
size_t dw_eng_canary_width(const dw_model_config *mc);
/* NULL when the model has neither compare: nor latency:. */
struct dw_canary *dw_eng_canary_new(const dw_config *cfg, const model_entry *me);
void dw_eng_canary_free(struct dw_canary *c);
/* Before state v is dropped: resolves its firing divergence and latency
 * alerts in a "version_dropped" document at event time at. */
void dw_eng_canary_drop(dw_engine *e, model_entry *me, size_t v, int64_t at);
/* State index from moved to to (an evicted version's slot). */
void dw_eng_canary_move(struct dw_canary *c, size_t to, size_t from);
/* Takes over old's alert states where the configuration allows (reload). */
void dw_eng_canary_adopt(struct dw_canary *c, struct dw_canary *old);
/* Adds the latency counter of rec (if any) to slots[*n]. */
void dw_eng_canary_record(dw_engine *e, model_entry *me, dw_model *m, const dw_scan_record *rec,
                          size_t *slots, size_t *n);
/* After the windows ending at end_ms were evaluated: latency, SLOs,
 * comparisons, their alerts into e->pending. */
void dw_eng_canary_evaluate(dw_engine *e, int64_t end_ms);
/* Snapshot (driftwatch/status.h): the windows[].latency of state v's
 * status sm, and the current comparisons of every model into st. */
void dw_eng_canary_status_model(const model_entry *me, size_t v, dw_status_model *sm);
void dw_eng_canary_status(const dw_engine *e, dw_status *st);
/* Alert states across restarts (dw_engine_alert_state()): the firing
 * divergence and latency alerts of state v appended to arr, as entries of
 * dw_eng_alert_entry() (a latency entry's column is its SLO's name, as in
 * its dedup_key; a divergence entry has its "baseline"); and one such entry
 * restored into state v (kind "divergence" or "latency", window wi),
 * ignored when its column, SLO or window is no longer configured. */
void dw_eng_canary_alert_state(const model_entry *me, size_t v, json_t *arr);
void dw_eng_canary_restore(model_entry *me, size_t v, const char *kind, const char *column,
                           size_t wi, int64_t started_ms, int64_t notified_ms,
                           const char *baseline);

/* engine_state.c */
void dw_eng_pend_add(dw_engine *e, source *src, size_t pidx, dw_model *m, int64_t t,
                     const size_t *slots, size_t n);
void dw_eng_state_free(dw_engine *e);
void dw_eng_retry_ahead(dw_engine *e);

#endif

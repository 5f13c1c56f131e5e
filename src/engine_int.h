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
 * its last delta: dense counters and the list of those that are non-zero. */
typedef struct pend_buf {
    struct pend_buf *next;
    size_t pidx;  /* model index * (DW_ENGINE_MAX_VERSIONS + 1) + version */
    int64_t pane; /* start of the pane (delta granularity) */
    uint32_t records;
    size_t width, ntouched;
    uint32_t *cnt, *touched;
    /* Names of the unseen categories among touched[0, npinned), taken when
     * panes closed before this buffer went out (inside a message): the
     * evaluation may free such a slot and give it to another name. */
    pend_pin *pins;
    size_t npins, pins_cap, npinned;
} pend_buf;

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
    size_t npend_pairs; /* non-zero counters in them */
    pend_buf *pend_free;
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
model_entry *dw_eng_route(dw_engine *e, const char *mname, size_t mlen, const char *ver,
                          size_t verlen);
dw_model *dw_eng_model_state(dw_engine *e, model_entry *me, const char *ver, size_t verlen,
                             size_t *state_idx, bool *too_many);

/* engine_docs.c: documents and the status snapshot */
json_t *dw_eng_alert_json(const model_entry *me, dw_model *m, size_t wi, size_t col, int kind,
                          dw_alert_event ev, const dw_column_result *r);
json_t *dw_eng_new_document(const dw_model *m, int64_t at_ms, const char *kind);
void dw_eng_publish_snapshot(dw_engine *e);

/* engine_retrain.c */
void dw_eng_check_retrain(dw_engine *e, model_entry *me, size_t state_idx, size_t wi,
                          int64_t end_ms);

/* engine_state.c */
void dw_eng_pend_add(dw_engine *e, source *src, size_t pidx, dw_model *m, int64_t t,
                     const size_t *slots, size_t n);
void dw_eng_state_free(dw_engine *e);
void dw_eng_retry_ahead(dw_engine *e);

#endif

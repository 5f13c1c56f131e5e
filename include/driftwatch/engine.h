/* The drift engine: routes records to their model's state, keeps event time,
 * closes panes as the watermark passes them, evaluates every window that
 * ends, steps the alerts and emits one notification document per model and
 * evaluation time (docs/alerts.md).
 *
 * The same engine serves `run` (fed from Kafka) and `replay` (fed from a
 * file): given the same records in the same order it emits the same
 * documents, byte for byte apart from the delivery timestamp the notifier
 * adds.
 *
 * Single writer: one thread calls every function except dw_engine_stats(),
 * dw_engine_status() and dw_engine_snapshot(), which other threads may call at any time. */
#ifndef DRIFTWATCH_ENGINE_H
#define DRIFTWATCH_ENGINE_H

#include "driftwatch/config.h"
#include "driftwatch/status.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Why a record or message was not applied (a metrics label). */
typedef enum dw_reject_reason {
    DW_REJECT_INVALID_JSON = 0,  /* the message is not valid JSON */
    DW_REJECT_NOT_OBJECT,        /* a record that is not a JSON object */
    DW_REJECT_NO_MODEL,          /* no model field and no records.default_model */
    DW_REJECT_UNKNOWN_MODEL,     /* a model (or version) no models[] entry covers */
    DW_REJECT_BAD_TIMESTAMP,     /* a timestamp that is not a number or RFC 3339 */
    DW_REJECT_LATE,              /* older than the watermark: its pane closed */
    DW_REJECT_TOO_MANY_VERSIONS, /* beyond DW_ENGINE_MAX_VERSIONS of one model */
    DW_REJECT_TOO_LARGE,         /* message larger than kafka.max_message_bytes */
    DW_REJECT_TOO_MANY_FIELDS,   /* a record with more leaves than records.max_fields */
    DW_REJECT_TOO_DEEP,          /* a message nested deeper than DW_SCAN_MAX_NESTING */
    DW_REJECT_FUTURE,            /* event time beyond wall clock + time.max_future */
    DW_REJECT_MAX
} dw_reject_reason;

/* Static snake_case name of a reason ("invalid_json", ...). */
const char *dw_reject_reason_name(dw_reject_reason r);

/* Versions of one models[] entry tracked at once (each gets its own state). */
#define DW_ENGINE_MAX_VERSIONS 16

/* Upper bounds (seconds) of the evaluation-duration histogram buckets
 * (driftwatch_evaluation_duration_seconds). */
#define DW_ENGINE_EVAL_BUCKETS 12
extern const double dw_engine_eval_bounds[DW_ENGINE_EVAL_BUCKETS];

/* Counters and times of the engine. Every member is 64 bits wide
 * (uint64_t or int64_t, arrays of them): dw_engine_stats_get() copies
 * the struct word by word. */
typedef struct dw_engine_stats {
    uint64_t messages; /* messages given to dw_engine_process() */
    uint64_t records;  /* records found in them */
    uint64_t applied;  /* records counted into windows */
    uint64_t rejected[DW_REJECT_MAX];
    uint64_t wrong_type_fields; /* monitored values of the wrong type (still
                                   counted as type errors of their column) */
    uint64_t evaluations;       /* window evaluations */
    uint64_t notifications;     /* documents emitted */
    uint64_t versions_dropped;  /* model versions dropped to make room (no record
                                   for a window length) */
    uint64_t latency_invalid;   /* latency values refused (not a number, negative) */
    int64_t watermark_ms;       /* event-time watermark (INT64_MIN before data) */
    int64_t max_event_ms;       /* newest event time seen */
    /* Durations of window evaluations (one window of one model version):
     * eval_buckets[i] counts those <= dw_engine_eval_bounds[i] and above
     * the previous bound (not cumulative); the last entry counts the rest
     * (+Inf). eval_ns is their sum in nanoseconds. */
    uint64_t eval_buckets[DW_ENGINE_EVAL_BUCKETS + 1];
    uint64_t eval_ns;
    /* State on Kafka (zero without state.topic). */
    uint64_t deltas_out;       /* delta messages handed to the state producer */
    uint64_t delta_bytes_out;  /* their bytes */
    uint64_t deltas_in;        /* other replicas' delta messages applied */
    uint64_t delta_records_in; /* records those counted */
    uint64_t delta_duplicates; /* sections ignored: offsets already covered */
    uint64_t delta_foreign;    /* groups ignored: unknown model or other reference */
    uint64_t delta_invalid;    /* messages that did not decode */
    uint64_t delta_late;       /* records in received panes that had closed */
    uint64_t delta_ahead;      /* groups waiting for the watermark now */
} dw_engine_stats;

typedef struct dw_engine dw_engine;

/* Receives each notification document; takes ownership of doc. */
typedef void (*dw_emit_fn)(void *ctx, json_t *doc);
/* Told about each rejected record or message (for logs and dead letters).
 * raw/len is the record's (or, for invalid JSON, the message's) bytes;
 * detail is a short human reason. Borrowed for the call only. */
typedef void (*dw_reject_fn)(void *ctx, dw_reject_reason reason, const char *detail,
                             const char *raw, size_t len);

/* Creates an engine for cfg (borrowed: it must outlive the engine) and
 * loads every model's reference file. Errors name the file and reason. */
int dw_engine_new(const dw_config *cfg, dw_engine **out, char *errbuf, size_t errlen);
void dw_engine_free(dw_engine *e);

/* Switches to a new configuration (SIGHUP) without losing window state:
 * thresholds, alert settings, column overrides and retraining rules apply
 * from the next evaluation; a model whose reference file changed (another
 * checksum) starts its windows afresh; removed models are dropped. Changing
 * windows, time.allowed_lateness or evaluation.max_new_categories needs a
 * restart: such a configuration is refused, as is one whose references do
 * not load, and the engine then keeps running on the old one. cfg is
 * borrowed and must outlive the engine (or the next reload). */
int dw_engine_reload(dw_engine *e, const dw_config *cfg, char *errbuf, size_t errlen);

void dw_engine_on_emit(dw_engine *e, dw_emit_fn fn, void *ctx);
void dw_engine_on_reject(dw_engine *e, dw_reject_fn fn, void *ctx);

/* Processes one message (a JSON record or array of records) from source 0
 * (a file). Same as dw_engine_process_from(e, 0, ...). */
size_t dw_engine_process(dw_engine *e, const char *buf, size_t len, int64_t fallback_ts_ms);

/* Sources: the event-time watermark is the minimum over the active sources
 * (Kafka partitions) of the newest event time each has delivered, minus the
 * allowed lateness, so a partition that the consumer happens to read ahead
 * of the others does not make their records late. A source counts while it
 * is assigned or has delivered records, unless it has been idle (no records)
 * for time.idle_timeout of wall-clock time. Source 0 always exists. */
#define DW_ENGINE_MAX_SOURCES 1024

/* The id of (topic, partition), registering it on first use; -1 when
 * DW_ENGINE_MAX_SOURCES are registered (the record then counts as source 0). */
int dw_engine_source(dw_engine *e, const char *topic, int32_t partition);

/* The topic (NULL for source 0) and partition of a source. */
const char *dw_engine_source_topic(const dw_engine *e, int source, int32_t *partition);

/* Marks a source assigned (it holds the watermark back until it delivers or
 * goes idle) or revoked (it stops counting). */
void dw_engine_source_assigned(dw_engine *e, int source, bool assigned);

typedef struct dw_process_result {
    size_t applied; /* records counted into windows */
    /* The message's first record lies beyond the panes the windows hold
     * open (its source is far ahead of the others): nothing was applied and
     * the caller should pause that source and deliver the message again
     * once the watermark has moved (dw_engine_watermark()). */
    bool ahead;
    int64_t ahead_ts; /* with ahead: the event time of that record */
} dw_process_result;

/* Records with event times before this fit into every window now (so a
 * message that was ahead at ahead_ts can be delivered again once
 * ahead_ts < dw_engine_open_until()). INT64_MAX when nothing limits it. */
int64_t dw_engine_open_until(dw_engine *e);

/* Windows hold panes open this far ahead of the watermark at least (or
 * time.allowed_lateness if larger), so partitions read a little out of step
 * are counted without pausing them. */
#define DW_ENGINE_MIN_AHEAD_MS (10 * 60 * 1000)

/* Processes one message from source. fallback_ts_ms is used for records
 * without a timestamp (the Kafka message timestamp; INT64_MIN if there is
 * none, which rejects them). Never fails as a whole: problems are counted
 * per reason and reported through the reject callback. */
void dw_engine_process_from(dw_engine *e, int source, const char *buf, size_t len,
                            int64_t fallback_ts_ms, dw_process_result *res);

/* Processes one message from source 0 whose records are all labels
 * (replay's labels file; see docs/performance.md). Without a labels
 * section they are processed as any record. */
void dw_engine_process_labels(dw_engine *e, const char *buf, size_t len);

/* End of input (replay): with labels, the next dw_engine_flush() also
 * expires every prediction still waiting for its label and makes every
 * window's performance final. Without this call a flush (a shutdown)
 * leaves the waiting predictions alone: their labels may still come. */
void dw_engine_labels_complete(dw_engine *e);

/* Event time of the first record of a message (records.timestamp, or
 * labels.timestamp when label), INT64_MIN when it has none: replay merges
 * a predictions file and a labels file in time order with it. */
int64_t dw_engine_message_time(dw_engine *e, const char *buf, size_t len, bool label);

/* The current event-time watermark (INT64_MIN before any record). */
int64_t dw_engine_watermark(const dw_engine *e);

/* Wall-clock tick: when no record arrived for time.idle_timeout, event time
 * advances by the wall-clock time that passed, so windows keep closing (and
 * alerts resolve) when traffic stops. Call about once a second. */
void dw_engine_tick(dw_engine *e, int64_t wall_ms);

/* live false: no reader wants the status document while records flow (a
 * replay without --http), so it is built only by dw_engine_flush() and
 * dw_engine_publish(), not once a second of wall time while panes close.
 * The default is true. Engine thread only. */
void dw_engine_set_live_snapshot(dw_engine *e, bool live);

/* Closes every pane that holds data and evaluates the windows ending there:
 * the final evaluation at the end of a replay or at shutdown. */
void dw_engine_flush(dw_engine *e);

/* Publishes the status document now (it is otherwise throttled to once a
 * second): after a rebuild from the state topic, so the first status shows
 * the rebuilt windows. Engine thread only. */
void dw_engine_publish(dw_engine *e);

/* The latest published status snapshot (driftwatch/status.h): models,
 * columns, windows, the latest statistics and alert states, display
 * histograms and recent PSI history. Published by the engine's thread after
 * evaluations (at most once a second); safe to call from any thread.
 * Returns a reference the caller drops with dw_status_release(); never
 * NULL (an empty snapshot before the first publish). */
dw_status *dw_engine_status(dw_engine *e);

/* The same as the JSON of GET /api/v1/status's engine part
 * (dw_status_json()); a new reference the caller owns. */
json_t *dw_engine_snapshot(dw_engine *e);

/* The alerts firing now, as a document a later run can restore:
 * {"version": 1, "alerts": [{"model", "model_version", "column", "window",
 * "kind", "started_at_ms", "notified_at_ms", "dedup_key"}], "extra_alerts":
 * [...]}. "alerts" holds the distribution and quality alerts (what builds
 * before the other kinds read), "extra_alerts" the divergence (with their
 * "baseline"), latency (column: the SLO's name) and performance (column:
 * "performance.<metric>") alerts. New reference. Engine thread only. */
json_t *dw_engine_alert_state(dw_engine *e);

/* Restores alerts a previous run left firing (a document from
 * dw_engine_alert_state()), so that their resolve is sent once the data
 * has recovered; entries for models, columns or windows that no longer
 * exist are ignored. Each applies once, when its (model, version) delivers
 * its first record. Engine thread only; state is borrowed for the call. */
void dw_engine_restore_alerts(dw_engine *e, const json_t *state);

/* ---- State on Kafka (state.topic; docs/operations.md) ----
 *
 * With state enabled the engine keeps, per input source, the counter
 * increments it applied since its last delta and the input offsets they
 * cover, and hands them out as one delta message (delta.h) at least once
 * per pane of event time: before it closes any pane (so a replica that
 * applies the same deltas in log order closes the same panes with the same
 * counts), when dw_engine_delta_flush() is called, and when
 * DW_ENGINE_MAX_PENDING buffers are in use. Deltas read back from the state
 * topic are merged with dw_engine_delta_apply(): another replica's counts
 * (or this process's before a restart) go into the windows, its partitions'
 * event times into the watermark, and the offsets into the resume points. */

/* One input partition a delta covers: offsets before `to` are in it. */
typedef struct dw_delta_cover {
    const char *topic; /* valid during the callback only */
    int32_t partition;
    int64_t to;
} dw_delta_cover;

/* Receives one encoded delta (buf/len and cover borrowed for the call). */
typedef void (*dw_delta_fn)(void *ctx, const void *buf, size_t len, const dw_delta_cover *cover,
                            size_t ncover);

/* (source, model version, pane) buffers of pending counts before a forced
 * delta; with groups that wait for the watermark, the bound of memory. */
#define DW_ENGINE_MAX_PENDING 512
/* Pending counter increments (one per value applied, so at least the
 * non-zero counters a delta would carry) before a forced delta: keeps a
 * delta message to a few hundred kB (Kafka's default message.max.bytes is
 * 1 MB). */
#define DW_ENGINE_MAX_PENDING_PAIRS 65536
#define DW_ENGINE_MAX_AHEAD_GROUPS 8192
/* Deltas this process wrote and remembers until it reads them back (their
 * offsets then advance without decoding them); beyond, the oldest are
 * decoded as any other delta. */
#define DW_ENGINE_OWN_DELTAS 1024

/* Turns deltas on. writer_id names this process in its deltas (random per
 * start, so a restarted process reads its earlier deltas as another's). */
void dw_engine_state_enable(dw_engine *e, uint64_t writer_id, dw_delta_fn fn, void *ctx);

/* Call just before dw_engine_process_from() of the message at
 * next_offset - 1 of source: once processed (applied, rejected or
 * dead-lettered, but not put back as ahead) the next delta covers it. */
void dw_engine_source_offset(dw_engine *e, int source, int64_t next_offset);

/* Marks source as a partition of an input topic that some replica reads:
 * with state deltas the watermark waits for it (until it delivers, or goes
 * idle for time.idle_timeout) even before any delta for it arrived, so a
 * replica does not close panes another replica's partitions still feed. */
void dw_engine_source_expect(dw_engine *e, int source);

/* Where a newly assigned source resumes: the end of the offsets the state
 * topic's deltas cover (-1: none; start from the group's committed offset).
 * Also makes that the start of the source's next delta. */
int64_t dw_engine_source_resume(dw_engine *e, int source);

/* Hands out the pending delta now (nothing happens when nothing is
 * pending). */
void dw_engine_delta_flush(dw_engine *e);

typedef struct dw_delta_result {
    bool own;            /* written by this process (only offsets are taken) */
    size_t sections;     /* sections applied */
    size_t duplicates;   /* sections ignored as already covered */
    uint64_t records;    /* records their counts hold */
} dw_delta_result;

/* Merges one delta message read from the state topic. Returns 0, or
 * DW_ERR_PARSE for a message that is not a delta (counted). */
int dw_engine_delta_apply(dw_engine *e, const void *buf, size_t len, dw_delta_result *res);

/* The pane end whose documents the emit callback is receiving now (an
 * evaluation boundary), or INT64_MIN outside an emit. */
int64_t dw_engine_emit_time(const dw_engine *e);

/* Counters (a consistent copy; safe from any thread). */
void dw_engine_stats_get(dw_engine *e, dw_engine_stats *out);

#endif

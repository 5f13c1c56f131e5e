/* The sidecar's state shared by its files (sidecar.c: wiring, run and
 * replay; sidecar_state.c: the state topic's side of `run`). */
#ifndef DW_SIDECAR_INT_H
#define DW_SIDECAR_INT_H

#include "driftwatch/consumer.h"
#include "driftwatch/dead_letter.h"
#include "driftwatch/http.h"
#include "driftwatch/log.h"
#include "driftwatch/notifier.h"
#include "driftwatch/rewind.h"
#include "driftwatch/sidecar.h"
#include "driftwatch/state_topic.h"

#include <jansson.h>

/* Longest line replay reads (a message); longer lines are rejected as
 * too large, like Kafka messages over kafka.max_message_bytes. */
#define REPLAY_MAX_LINE (16 * 1024 * 1024)

/* Notification documents a replica that does not notify keeps until a mark
 * on the state topic says the notifying replica sent them (so a new leader
 * can send what an old one could not). Beyond this the oldest are dropped. */
#define DW_SIDECAR_HELD 1024

/* Messages behind on the state topic before `run` warns (every 10 s). */
#define DW_SIDECAR_STATE_LAG_WARN 1000

/* A partition resumed after a pause that has not delivered the message it
 * was sought back to within this long is sought there again (and counted:
 * driftwatch_consumer_rewinds_total{outcome="reseek"}). Normally the
 * message comes with the first fetch, well under a second. */
#define DW_SIDECAR_REWIND_TIMEOUT_MS 15000
/* Partitions paused while no message at all went to the engine for this
 * long are resumed anyway (a message still ahead pauses its partition
 * again; nothing is lost or counted twice): whatever held event time back
 * is then read again instead of waiting for good. */
#define DW_SIDECAR_STALL_RESUME_MS 15000

struct dw_sidecar {
    const dw_config *cfg;
    dw_config *owned_cfg; /* a reloaded configuration (the first is the caller's) */
    dw_sidecar_options opts;
    dw_engine *engine;
    dw_notifier *notifier; /* NULL with stdout_only */
    dw_sink_spec *specs;
    dw_sink_kv *spec_kv; /* headers and options of all specs */
    dw_dead_letter *dlq;
    const dw_kafka_msg *current; /* message being processed (for dead letters) */
    /* Event-time alignment: partitions paused because they ran ahead, and
     * the offset each must be read again at (driftwatch/rewind.h). */
    dw_rewind *rewind;
    uint64_t processed, processed_at_tick; /* messages given to the engine */
    int64_t last_applied_ms;               /* dw_now_ms() of the tick that saw processed move */
    dw_ratelimit stall_rl;                 /* the stalled-resume warning (resume_due) */
    const char *last_topic;                /* cache of the last message's source id */
    int32_t last_partition;
    int last_source;
    dw_ratelimit reject_rl;
    dw_ratelimit state_rl;
    dw_http *http; /* NULL when http.enabled is false or outside run/replay */

    /* state on Kafka (sidecar_state.c); state is NULL without state.topic */
    dw_state_topic *state;
    dw_consumer *consumer; /* while run consumes: offsets are stored after acks */
    uint64_t writer_id;
    bool leader;            /* this replica notifies */
    bool mark_due;          /* documents were sent since the last mark */
    int64_t marked_until;   /* newest evaluation a mark on the log says was sent */
    int64_t notified_until; /* newest evaluation this process sent */
    int64_t last_state_flush;
    int64_t last_lag_check;
    int64_t last_pump;     /* dw_now_ms() of the last dw_sc_state_pump() that did its work */
    bool assign_caught_up; /* the state topic was read to its end for the assignment in progress */
    json_t *held[DW_SIDECAR_HELD]; /* documents a non-leader keeps, oldest first */
    int64_t held_t[DW_SIDECAR_HELD];
    size_t nheld;
    uint64_t held_dropped, marks_read;
};

/* sidecar.c: hands a notification document to the sinks (takes it). */
void dw_sc_submit(dw_sidecar *s, json_t *doc);

/* sidecar_state.c */
int dw_sc_state_start(dw_sidecar *s, const char *brokers, const char *const *keys,
                      const char *const *vals, size_t nprops, char *errbuf, size_t errlen);
bool dw_sc_state_hold(dw_sidecar *s, json_t *doc);
void dw_sc_state_pump(dw_sidecar *s);
void dw_sc_state_assign(dw_sidecar *s, const char *topic, int32_t partition, bool assigned);
int64_t dw_sc_state_start_offset(void *ctx, const char *topic, int32_t partition);
void dw_sc_state_stop(dw_sidecar *s, int64_t budget_ms);
void dw_sc_state_publish(dw_sidecar *s);
void dw_sc_state_free(dw_sidecar *s);

#endif

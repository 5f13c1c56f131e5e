/* The state topic (state.topic): where every replica publishes its window
 * deltas and the notifying replica its alert marks, and from which every
 * replica reads all of them (docs/operations.md, "State on Kafka").
 *
 * Partition 0 of the topic is the log: one total order that every replica
 * reads from the beginning (outside the input consumer group), so all merge
 * the same deltas in the same order. Created with one partition and
 * retention.ms when missing (if the broker allows; otherwise the broker's
 * auto-creation or an operator creates it).
 *
 * Producer: idempotent (no duplicates from retries, order kept), lz4
 * compressed, never times a message out (message.timeout.ms=0): a delta
 * that was not acknowledged stays queued while the broker is away, and the
 * input offsets it covers are committed only after its acknowledgement
 * (on_ack). Bounded by queue.buffering.max.kbytes (DW_STATE_QUEUE_KB): when
 * full, dw_state_topic_publish() waits for room, serving acknowledgements.
 *
 * Threading: one thread (the consumer thread) calls everything; callbacks
 * run inside dw_state_topic_serve()/_publish()/_flush() on that thread. */
#ifndef DRIFTWATCH_STATE_TOPIC_H
#define DRIFTWATCH_STATE_TOPIC_H

#include "driftwatch/engine.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DW_STATE_QUEUE_KB (64 * 1024)

typedef struct dw_state_topic dw_state_topic;

typedef struct dw_state_settings {
    const char *brokers;
    const char *topic;
    const char *const *prop_keys; /* pass-through librdkafka properties */
    const char *const *prop_values;
    size_t nprops;
    int64_t retention_ms; /* for a topic created here */
    /* Told about each acknowledged delta's cover (input offsets safe to
     * commit). */
    void (*on_ack)(void *ctx, const dw_delta_cover *cover, size_t n);
    void *ctx;
} dw_state_settings;

typedef struct dw_state_stats {
    uint64_t produced, acked, failed; /* messages */
    uint64_t bytes;                   /* payload bytes produced */
    uint64_t read, read_bytes;        /* messages read back */
    int64_t position;                 /* next offset the reader reads; -1 unknown */
    int64_t end;                      /* high watermark last seen; -1 unknown */
    bool caught_up;                   /* the reader reached the end seen at start */
    int64_t lag;                      /* messages on the log not read yet */
} dw_state_stats;

/* Creates the producer and the reader (assigned to partition 0 from the
 * beginning) and creates the topic when missing. Errors name the property
 * or the broker's answer. */
int dw_state_topic_new(const dw_state_settings *s, dw_state_topic **out, char *errbuf,
                       size_t errlen);

/* Queues one message for partition 0 (copied). cover (may be NULL, n 0) is
 * passed to on_ack once the broker has it. 0 or DW_ERR_KAFKA. */
int dw_state_topic_publish(dw_state_topic *st, const void *buf, size_t len,
                           const dw_delta_cover *cover, size_t n);

/* True once a message could not be written (not queued within a minute,
 * refused, or failed for good): from then on dw_state_topic_publish()
 * refuses everything (DW_ERR_STATE), since a later delta's acknowledgement
 * would commit input offsets past the missing counts. `run` then exits with
 * an error; the restart rebuilds from what the log holds and reads the
 * input again from there. */
bool dw_state_topic_broken(const dw_state_topic *st);

/* Serves acknowledgements without waiting. */
void dw_state_topic_serve(dw_state_topic *st);

/* Waits up to timeout_ms for every queued message to be acknowledged.
 * Returns how many are still queued. */
int dw_state_topic_flush(dw_state_topic *st, int timeout_ms);

/* Reads the next message of the log, waiting up to timeout_ms. Returns 1
 * with *buf and *len valid until the next call, 0 when none came, DW_ERR_KAFKA
 * on a fatal reader error. */
int dw_state_topic_read(dw_state_topic *st, int timeout_ms, const void **buf, size_t *len);

/* Asks the broker for the end of the log (high watermark) into *end.
 * 0 or DW_ERR_KAFKA. */
int dw_state_topic_end(dw_state_topic *st, int timeout_ms, int64_t *end);

/* Reads until the reader has passed `end` or timeout_ms passed, handing
 * every message to fn. Returns 0 when caught up, DW_ERR_STATE on timeout. */
int dw_state_topic_catch_up(dw_state_topic *st, int64_t end, int timeout_ms,
                            void (*fn)(void *ctx, const void *buf, size_t len), void *ctx);

/* The number of partitions of (input) topic, from the brokers' metadata,
 * or DW_ERR_KAFKA. */
int dw_state_topic_partitions(dw_state_topic *st, const char *topic, int timeout_ms);

void dw_state_topic_stats(const dw_state_topic *st, dw_state_stats *out);

/* Flushes (up to timeout_ms) and frees. NULL-safe. */
void dw_state_topic_free(dw_state_topic *st, int timeout_ms);

#endif

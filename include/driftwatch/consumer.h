/* Kafka consumer: a librdkafka high-level consumer in a consumer group with
 * at-least-once delivery.
 *
 * Delivery contract: dw_consumer_poll() hands out one message at a time; the
 * caller applies it and only then calls dw_consumer_store(). Stored offsets
 * are committed every commit_interval_ms by librdkafka's auto-commit, on
 * every partition revocation, by dw_consumer_commit() and, synchronously, by
 * dw_consumer_close(). After a crash the group resumes at the last commit,
 * so records applied after it are delivered again (never skipped).
 *
 * Settings this module forces, after the pass-through properties (a
 * pass-through value for them is overridden, with a warning):
 *   bootstrap.servers, group.id     from dw_kafka_settings
 *   enable.auto.offset.store=false  offsets are stored only after apply
 *   enable.auto.commit=true,
 *   auto.commit.interval.ms         commit what was stored, on an interval
 *   partition.assignment.strategy=cooperative-sticky
 *                                   a rebalance pauses only the partitions
 *                                   that move, not the whole group
 *   enable.partition.eof=false      EOF is not an event we act on
 * auto.offset.reset: settings.auto_offset_reset if set, else a pass-through
 * value, else "earliest" (a new group reads the retained history).
 *
 * Threading: one thread owns a dw_consumer (the consumer thread); librdkafka
 * runs its own threads internally. */
#ifndef DRIFTWATCH_CONSUMER_H
#define DRIFTWATCH_CONSUMER_H

#include "driftwatch/rewind.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds: subscribed topics and pass-through properties per consumer. */
#define DW_KAFKA_MAX_TOPICS 64
#define DW_KAFKA_MAX_PROPS 128
/* Kafka topic names are at most 249 bytes. */
#define DW_KAFKA_TOPIC_MAX 250

typedef struct dw_kafka_settings {
    const char *brokers;       /* bootstrap.servers; required */
    const char *const *topics; /* subscription, 1..DW_KAFKA_MAX_TOPICS names */
    size_t ntopics;
    const char *group_id;           /* required */
    const char *auto_offset_reset;  /* NULL: "earliest" */
    const char *const *prop_keys;   /* librdkafka properties (SASL, SSL, ...) */
    const char *const *prop_values; /* applied before the forced settings */
    size_t nprops;                  /* 0..DW_KAFKA_MAX_PROPS */
    int64_t commit_interval_ms;     /* <= 0: 5000 */
    /* Optional: told about every partition assigned (assigned = 1) or
     * revoked (0), on the thread that calls dw_consumer_poll(). */
    void (*on_assign)(void *ctx, const char *topic, int32_t partition, int assigned);
    void *assign_ctx;
    /* Optional: where an assigned partition starts (>= 0), or -1 for the
     * group's committed offset; asked before the assignment takes effect,
     * with assign_ctx, for every partition of an assignment before
     * on_assign(1) of any of them. On revocation on_assign(0) runs before
     * the commit. */
    int64_t (*start_offset)(void *ctx, const char *topic, int32_t partition);
} dw_kafka_settings;

/* One consumed message. The pointers stay valid until
 * dw_kafka_msg_release(); the message memory belongs to librdkafka (no copy
 * is made). Callers that build a dw_kafka_msg themselves (for
 * dw_dead_letter_send()) fill the public fields and leave rkm NULL. */
typedef struct dw_kafka_msg {
    const void *payload; /* may be NULL for a tombstone */
    size_t len;
    const void *key; /* NULL when the message has no key */
    size_t key_len;
    const char *topic; /* NULL when the record did not come from Kafka */
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms; /* Kafka message timestamp; -1 if none */
    void *rkm;            /* private: the rd_kafka_message_t */
} dw_kafka_msg;

/* Lag of one assigned partition. lag = high_watermark - position; -1 when
 * either is not known yet (no fetch has completed for the partition). */
typedef struct dw_partition_lag {
    char topic[DW_KAFKA_TOPIC_MAX];
    int32_t partition;
    int64_t position;       /* next offset to be fetched; -1 if unknown */
    int64_t high_watermark; /* cached from the last fetch response; -1 if unknown */
    int64_t lag;
    bool paused; /* paused by dw_consumer_pause_at(): its partition ran ahead */
    bool lost;   /* assignment lost (brokers unreachable): the last known values */
} dw_partition_lag;

typedef struct dw_consumer dw_consumer;

/* Creates the consumer and subscribes. The settings and their strings are
 * copied (librdkafka keeps its own copies); the caller keeps ownership.
 * Returns 0 and *out (free with dw_consumer_free()), or DW_ERR_INVALID /
 * DW_ERR_LIMIT / DW_ERR_KAFKA with a sentence in errbuf naming the property
 * or topic at fault. */
int dw_consumer_new(const dw_kafka_settings *settings, dw_consumer **out, char *errbuf,
                    size_t errlen);

/* Waits up to timeout_ms for a message. Returns 1 and fills *msg (release it
 * with dw_kafka_msg_release()), 0 on timeout or after a transient error
 * (logged, rate-limited), DW_ERR_KAFKA on a fatal error (the consumer is
 * then unusable and dw_consumer_error() says why) or DW_ERR_STATE after
 * dw_consumer_close(). Rebalance callbacks run inside this call. */
int dw_consumer_poll(dw_consumer *c, int timeout_ms, dw_kafka_msg *msg);

/* Marks msg as applied: its offset + 1 will be committed. Must be called
 * before dw_kafka_msg_release(msg). Returns 0, DW_ERR_STATE if the partition
 * was revoked meanwhile (the record will be redelivered to its new owner:
 * not an error for at-least-once, callers may ignore it) or DW_ERR_KAFKA. */
int dw_consumer_store(dw_consumer *c, const dw_kafka_msg *msg);

/* Stores next_offset as the offset to commit for (topic, partition): with
 * state.topic, once the delta covering the input before it is acknowledged.
 * Returns 0, DW_ERR_STATE if the partition is no longer assigned, or
 * DW_ERR_KAFKA. */
int dw_consumer_store_offset(dw_consumer *c, const char *topic, int32_t partition,
                             int64_t next_offset);

/* Returns the message memory to librdkafka and zeroes *msg. NULL-safe. */
void dw_kafka_msg_release(dw_kafka_msg *msg);

/* Synchronously commits the stored offsets. Returns 0 (also when nothing
 * new was stored) or DW_ERR_KAFKA (reason logged). */
int dw_consumer_commit(dw_consumer *c);

/* Pauses msg's partition and seeks it back to msg's offset, so the message
 * is delivered again after dw_consumer_resume(). For event-time
 * alignment: a partition read far ahead of the others waits for them (the
 * caller's bookkeeping: driftwatch/rewind.h). Only msg's topic, partition
 * and offset are used. The seek is asynchronous: librdkafka reports no
 * error for it later (a seek during a revoke fails silently; the revoke
 * then starts the partition afresh). Returns 0, or DW_ERR_KAFKA (logged)
 * with the partition not paused. librdkafka keeps an application's pause
 * across a revoke and a later assignment of the partition; this module
 * lifts it when the partition is assigned again. */
int dw_consumer_pause_at(dw_consumer *c, const dw_kafka_msg *msg);

/* Resumes a partition paused by dw_consumer_pause_at(). Resuming one that
 * is not paused does nothing (librdkafka checks its pause flag). */
int dw_consumer_resume(dw_consumer *c, const char *topic, int32_t partition);

/* Counts what became of a rewind (dw_kafka_health.rewinds, the metric
 * driftwatch_consumer_rewinds_total). Polling thread only. */
void dw_consumer_count_rewind(dw_consumer *c, dw_rewind_outcome o);

/* Fills up to max entries with the lag of the currently assigned partitions
 * (and of those lost to a session timeout, until the group assigns again)
 * and returns how many were written. Uses watermarks librdkafka cached from
 * fetch responses; a value librdkafka no longer knows (the brokers are
 * down, a seek is under way) is the last one known, so a partition's
 * series does not vanish. For a paused partition (not fetched) the high
 * watermark is asked of the broker every 5 s, at most 4 partitions a call
 * and 100 ms each: call it from the consumer's thread, outside locks that
 * others wait for. */
size_t dw_consumer_lag(dw_consumer *c, dw_partition_lag *out, size_t max);

/* Kafka health as this consumer sees it: brokers of the cluster it is
 * connected to (-1 before librdkafka's first statistics, every
 * DW_CONSUMER_STATS_MS), how many it knows, and the wall time of the last
 * message received (0: none yet). Polling thread only. */
#define DW_CONSUMER_STATS_MS 2000
typedef struct dw_kafka_health {
    int brokers_up;
    int brokers_known;
    int64_t last_message_ms;
    uint64_t rewinds[DW_REWIND_OUTCOME_MAX]; /* dw_consumer_count_rewind() */
} dw_kafka_health;
void dw_consumer_health(const dw_consumer *c, dw_kafka_health *out);

/* The reason of the fatal error that made dw_consumer_poll() fail, or "" if
 * none. Owned by the consumer. */
const char *dw_consumer_error(const dw_consumer *c);

/* Final synchronous commit of the stored offsets, then leaves the group
 * (revoking the assignment). Returns 0 or DW_ERR_KAFKA if the commit or the
 * close failed (logged). Call once, before dw_consumer_free(). */
int dw_consumer_close(dw_consumer *c);

/* Frees the consumer; closes it first if dw_consumer_close() was not called.
 * NULL is a no-op. */
void dw_consumer_free(dw_consumer *c);

/* Shared by the Kafka modules: routes librdkafka's log lines to dw_log
 * (module "rdkafka") at driftwatch's current level. conf is an
 * rd_kafka_conf_t *. */
struct rd_kafka_conf_s;
void dw_kafka_conf_logging(struct rd_kafka_conf_s *conf);

#endif

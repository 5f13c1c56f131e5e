/* Dead-letter producer: copies a rejected record to a dead-letter topic,
 * with the reason in the Kafka header "driftwatch-reason" and the source in
 * "driftwatch-source-topic", "driftwatch-source-partition" and
 * "driftwatch-source-offset" (decimal strings; omitted when the record did
 * not come from Kafka). The original key is kept.
 *
 * Sending never blocks the consumer thread: payload, key and headers are
 * copied into librdkafka's queue (RD_KAFKA_MSG_F_COPY), and when that queue
 * is full (queue_max_messages) the record is dropped and counted. Delivery
 * reports are served by dw_dead_letter_send() and dw_dead_letter_poll() on
 * the caller's thread. */
#ifndef DRIFTWATCH_DEAD_LETTER_H
#define DRIFTWATCH_DEAD_LETTER_H

#include "driftwatch/consumer.h"

#include <stddef.h>
#include <stdint.h>

typedef struct dw_dead_letter_settings {
    const char *brokers;            /* bootstrap.servers; required */
    const char *topic;              /* the dead-letter topic; required */
    const char *const *prop_keys;   /* librdkafka properties (SASL, SSL, ...) */
    const char *const *prop_values; /* applied before the forced settings */
    size_t nprops;                  /* 0..DW_KAFKA_MAX_PROPS */
    int queue_max_messages;         /* local queue bound; <= 0: 10000 */
} dw_dead_letter_settings;

typedef struct dw_dead_letter_stats {
    uint64_t queued;             /* accepted into the local queue */
    uint64_t delivered;          /* acknowledged by the broker */
    uint64_t failed;             /* delivery failed or not flushed at close */
    uint64_t dropped_queue_full; /* rejected because the local queue was full */
} dw_dead_letter_stats;

typedef struct dw_dead_letter dw_dead_letter;

/* Bound on the reason header (longer reasons are truncated). */
#define DW_DEAD_LETTER_REASON_MAX 1024

/* Creates the producer. Settings are copied; the caller keeps ownership.
 * Returns 0 and *out (free with dw_dead_letter_free()), or DW_ERR_INVALID /
 * DW_ERR_LIMIT / DW_ERR_KAFKA with a sentence in errbuf. */
int dw_dead_letter_new(const dw_dead_letter_settings *settings, dw_dead_letter **out, char *errbuf,
                       size_t errlen);

/* Queues a copy of rec (payload, key; topic/partition/offset as headers)
 * with reason. Nothing is retained after the call returns. Returns 0 when
 * queued, DW_ERR_LIMIT when the local queue was full (record dropped and
 * counted) or DW_ERR_KAFKA (counted as failed, logged rate-limited). */
int dw_dead_letter_send(dw_dead_letter *dl, const dw_kafka_msg *rec, const char *reason);

/* Serves delivery reports without blocking. */
void dw_dead_letter_poll(dw_dead_letter *dl);

/* A copy of the counters. */
dw_dead_letter_stats dw_dead_letter_get_stats(const dw_dead_letter *dl);

/* Flushes queued records for at most timeout_ms. Returns 0 when everything
 * was delivered or failed definitively, DW_ERR_LIMIT when records were still
 * queued at the deadline (they are counted as failed and dropped by
 * dw_dead_letter_free()). */
int dw_dead_letter_close(dw_dead_letter *dl, int timeout_ms);

/* Frees the producer; anything still queued is dropped (call
 * dw_dead_letter_close() first to flush). NULL is a no-op. */
void dw_dead_letter_free(dw_dead_letter *dl);

#endif

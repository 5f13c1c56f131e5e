/* An in-process Kafka-protocol broker for tests, trials and the demo.
 *
 * Built on librdkafka's mock cluster (rdkafka_mock.h): real clients (kcat,
 * confluent-kafka, librdkafka consumers) connect to it over TCP on
 * 127.0.0.1. It supports produce, fetch, consumer groups and offset commits,
 * and it auto-creates topics that a producer asks for (4 partitions).
 *
 * It is NOT durable and NOT a production broker: everything lives in memory
 * and the mock keeps only the most recent ~5 MB (5 MiB of record batches,
 * measured with librdkafka 2.0.2) and at most 100000 record batches per
 * partition, silently dropping older ones (see docs/mock-kafka.md). */
#ifndef DRIFTWATCH_MOCK_KAFKA_H
#define DRIFTWATCH_MOCK_KAFKA_H

#include <stdbool.h>
#include <stddef.h>

typedef struct dw_mock_kafka dw_mock_kafka;

/* Upper bounds on what one mock cluster accepts (arguments beyond them are
 * rejected with DW_ERR_LIMIT). */
#define DW_MOCK_KAFKA_MAX_BROKERS 16
#define DW_MOCK_KAFKA_MAX_PARTITIONS 1024

/* Starts a mock cluster with `brokers` brokers (1..DW_MOCK_KAFKA_MAX_BROKERS)
 * and creates ntopics topics: topics[i] with partitions[i] partitions
 * (partitions may be NULL: 1 partition each). The listeners bind to
 * ephemeral ports on 127.0.0.1 and run on librdkafka's own threads, so the
 * caller need not poll anything.
 *
 * On success *out owns the cluster (free with dw_mock_kafka_free()); the
 * topic strings are copied by librdkafka and stay the caller's. On failure
 * returns DW_ERR_INVALID, DW_ERR_LIMIT or DW_ERR_KAFKA with a sentence in
 * errbuf, and *out is NULL. */
int dw_mock_kafka_new(int brokers, const char *const *topics, const int *partitions, size_t ntopics,
                      dw_mock_kafka **out, char *errbuf, size_t errlen);

/* The bootstrap.servers string ("127.0.0.1:PORT[,...]"), owned by the
 * cluster and valid until dw_mock_kafka_free(). */
const char *dw_mock_kafka_bootstraps(const dw_mock_kafka *mk);

/* Creates one more topic at runtime. Returns 0, DW_ERR_INVALID/DW_ERR_LIMIT
 * for bad arguments or DW_ERR_KAFKA (reason in errbuf). */
int dw_mock_kafka_create_topic(dw_mock_kafka *mk, const char *topic, int partitions, char *errbuf,
                               size_t errlen);

/* Stops the listeners and frees everything; clients still connected see
 * their connections drop. NULL is a no-op. */
/* Takes every broker down (connections closed and refused, data kept) or
 * up again: a broker outage for tests. 0 or DW_ERR_KAFKA. */
int dw_mock_kafka_set_down(dw_mock_kafka *mk, bool down);

void dw_mock_kafka_free(dw_mock_kafka *mk);

#endif

/* driftwatch mock-kafka: librdkafka's mock cluster behind a small API.
 *
 * The mock cluster needs an rd_kafka_t for its bookkeeping; a producer
 * handle that never produces is the lightest one. The cluster runs its own
 * thread, so nothing here needs polling. */
#include "driftwatch/mock_kafka.h"

#include "driftwatch/consumer.h"
#include "driftwatch/error.h"
#include "driftwatch/log.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdlib.h>
#include <string.h>

struct dw_mock_kafka {
    rd_kafka_t *rk; /* the dummy handle the cluster hangs off */
    rd_kafka_mock_cluster_t *mcluster;
    int brokers;
};

/* Kafka's own rule for topic names: 1..249 of [A-Za-z0-9._-]. */
static int topic_name_valid(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 249 || !strcmp(t, ".") || !strcmp(t, ".."))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int dw_mock_kafka_create_topic(dw_mock_kafka *mk, const char *topic, int partitions, char *errbuf,
                               size_t errlen)
{
    if (!mk || !topic)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "mock-kafka: no topic name given");
    if (!topic_name_valid(topic))
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "mock-kafka: topic \"%.64s\": name must be 1-249 characters of "
                         "[A-Za-z0-9._-]",
                         topic);
    if (partitions < 1 || partitions > DW_MOCK_KAFKA_MAX_PARTITIONS)
        return dw_seterr(errbuf, errlen, DW_ERR_LIMIT,
                         "mock-kafka: topic \"%s\": partitions must be 1..%d, not %d", topic,
                         DW_MOCK_KAFKA_MAX_PARTITIONS, partitions);
    /* Replication factor 1: the mock does not replicate data anyway, and a
     * factor above the broker count would be rejected by real clients'
     * expectations of ISR sizes. */
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mk->mcluster, topic, partitions, 1);
    if (err)
        return dw_seterr(errbuf, errlen, DW_ERR_KAFKA, "mock-kafka: creating topic \"%s\": %s",
                         topic, rd_kafka_err2str(err));
    dw_log(DW_LOG_INFO, "mock_kafka", "created topic %s with %d partition(s)", topic, partitions);
    return 0;
}

int dw_mock_kafka_new(int brokers, const char *const *topics, const int *partitions, size_t ntopics,
                      dw_mock_kafka **out, char *errbuf, size_t errlen)
{
    char err[512];
    *out = NULL;
    if (brokers < 1 || brokers > DW_MOCK_KAFKA_MAX_BROKERS)
        return dw_seterr(errbuf, errlen, DW_ERR_LIMIT, "mock-kafka: brokers must be 1..%d, not %d",
                         DW_MOCK_KAFKA_MAX_BROKERS, brokers);
    if (ntopics && !topics)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "mock-kafka: topic list is NULL");

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    dw_kafka_conf_logging(conf);
    /* The dummy handle has no bootstrap.servers on purpose (it never
     * connects); only errors are worth logging from it unless debugging,
     * otherwise its "no bootstrap.servers" notice confuses users. */
    if (rd_kafka_conf_set(conf, "client.id", "driftwatch-mock-kafka", err, sizeof err) !=
            RD_KAFKA_CONF_OK ||
        (dw_log_min_level > DW_LOG_DEBUG &&
         rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err) != RD_KAFKA_CONF_OK)) {
        rd_kafka_conf_destroy(conf);
        return dw_seterr(errbuf, errlen, DW_ERR_KAFKA, "mock-kafka: %s", err);
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return dw_seterr(errbuf, errlen, DW_ERR_KAFKA, "mock-kafka: creating handle: %s", err);
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        rd_kafka_destroy(rk);
        return dw_seterr(errbuf, errlen, DW_ERR_KAFKA,
                         "mock-kafka: librdkafka could not start the mock cluster (no free "
                         "loopback port?)");
    }
    dw_mock_kafka *mk = dw_calloc(1, sizeof *mk);
    mk->rk = rk;
    mk->mcluster = mc;
    mk->brokers = brokers;
    for (size_t i = 0; i < ntopics; i++) {
        int rc = dw_mock_kafka_create_topic(mk, topics[i], partitions ? partitions[i] : 1, errbuf,
                                            errlen);
        if (rc) {
            dw_mock_kafka_free(mk);
            return rc;
        }
    }
    dw_log(DW_LOG_INFO, "mock_kafka", "mock cluster with %d broker(s) listening on %s", brokers,
           rd_kafka_mock_cluster_bootstraps(mc));
    *out = mk;
    return 0;
}

int dw_mock_kafka_set_down(dw_mock_kafka *mk, bool down)
{
    /* Brokers are numbered from 1 in the mock cluster. Their data stays:
     * this is an outage, not a loss. */
    for (int id = 1; id <= mk->brokers; id++) {
        rd_kafka_resp_err_t err = down ? rd_kafka_mock_broker_set_down(mk->mcluster, id)
                                       : rd_kafka_mock_broker_set_up(mk->mcluster, id);
        if (err)
            return DW_ERR_KAFKA;
    }
    dw_log(DW_LOG_INFO, "mock_kafka", "%d broker(s) %s", mk->brokers,
           down ? "down (connections refused)" : "up again");
    return 0;
}

const char *dw_mock_kafka_bootstraps(const dw_mock_kafka *mk)
{
    return rd_kafka_mock_cluster_bootstraps(mk->mcluster);
}

void dw_mock_kafka_free(dw_mock_kafka *mk)
{
    if (!mk)
        return;
    rd_kafka_mock_cluster_destroy(mk->mcluster);
    rd_kafka_destroy(mk->rk);
    free(mk);
}

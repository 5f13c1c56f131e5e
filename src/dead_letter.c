/* Dead-letter producer (see dead_letter.h). All counters are written on the
 * owner's thread: librdkafka calls the delivery-report callback only from
 * rd_kafka_poll()/rd_kafka_flush(), which we call ourselves. */
#include "driftwatch/dead_letter.h"

#include "driftwatch/error.h"
#include "driftwatch/log.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dw_dead_letter {
    rd_kafka_t *rk;
    char *topic;
    dw_dead_letter_stats stats;
    dw_ratelimit fail_rl; /* delivery failures: one line per 10 s */
    int purged;           /* close() already counted what was left as failed */
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    dw_dead_letter *dl = opaque;
    if (!m->err) {
        dl->stats.delivered++;
        return;
    }
    if (dl->purged)
        return;
    dl->stats.failed++;
    dw_log_ratelimited(&dl->fail_rl, DW_LOG_WARN, "dead_letter", "delivery to %s failed: %s",
                       dl->topic, rd_kafka_err2str(m->err));
}

int dw_dead_letter_new(const dw_dead_letter_settings *s, dw_dead_letter **out, char *errbuf,
                       size_t errlen)
{
    *out = NULL;
    if (!s->brokers || !*s->brokers)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "dead-letter: no brokers configured");
    if (!s->topic || !*s->topic || strlen(s->topic) >= DW_KAFKA_TOPIC_MAX)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "dead-letter: topic name empty or longer than 249 bytes");
    if (s->nprops > DW_KAFKA_MAX_PROPS)
        return dw_seterr(errbuf, errlen, DW_ERR_LIMIT,
                         "dead-letter: %zu properties, at most %d supported", s->nprops,
                         DW_KAFKA_MAX_PROPS);

    char err[512], qmax[32];
    snprintf(qmax, sizeof qmax, "%d", s->queue_max_messages > 0 ? s->queue_max_messages : 10000);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *key = "client.id";
    rd_kafka_conf_res_t res =
        rd_kafka_conf_set(conf, key, "driftwatch-dead-letter", err, sizeof err);
    for (size_t i = 0; res == RD_KAFKA_CONF_OK && i < s->nprops; i++) {
        key = s->prop_keys[i];
        if (!key || !s->prop_values[i]) {
            rd_kafka_conf_destroy(conf);
            return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                             "dead-letter: property %zu has no name or value", i + 1);
        }
        res = rd_kafka_conf_set(conf, key, s->prop_values[i], err, sizeof err);
    }
    /* Forced: where to send, and the local queue bound that makes
     * dw_dead_letter_send() drop instead of growing memory. */
    const char *forced[][2] = {
        {"bootstrap.servers", s->brokers},
        {"queue.buffering.max.messages", qmax},
    };
    for (size_t i = 0; res == RD_KAFKA_CONF_OK && i < sizeof forced / sizeof forced[0]; i++) {
        key = forced[i][0];
        res = rd_kafka_conf_set(conf, key, forced[i][1], err, sizeof err);
    }
    if (res != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "dead-letter: kafka property \"%s\": %s",
                         key, err);
    }

    dw_dead_letter *dl = dw_calloc(1, sizeof *dl);
    dl->fail_rl = (dw_ratelimit)DW_RATELIMIT_INIT(10000);
    dl->topic = dw_strdup(s->topic);
    dw_kafka_conf_logging(conf);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, dl);
    dl->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!dl->rk) {
        rd_kafka_conf_destroy(conf);
        free(dl->topic);
        free(dl);
        return dw_seterr(errbuf, errlen, DW_ERR_KAFKA, "dead-letter: creating the producer: %s",
                         err);
    }
    *out = dl;
    return 0;
}

int dw_dead_letter_send(dw_dead_letter *dl, const dw_kafka_msg *rec, const char *reason)
{
    char part[16], off[24];
    const char *why = reason ? reason : "";
    size_t why_len = strnlen(why, DW_DEAD_LETTER_REASON_MAX);
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(4);
    rd_kafka_header_add(hdrs, "driftwatch-reason", -1, why, (ssize_t)why_len);
    if (rec->topic) {
        snprintf(part, sizeof part, "%" PRId32, rec->partition);
        snprintf(off, sizeof off, "%" PRId64, rec->offset);
        rd_kafka_header_add(hdrs, "driftwatch-source-topic", -1, rec->topic, -1);
        rd_kafka_header_add(hdrs, "driftwatch-source-partition", -1, part, -1);
        rd_kafka_header_add(hdrs, "driftwatch-source-offset", -1, off, -1);
    }
    /* On success librdkafka takes the headers; on failure they stay ours. */
    rd_kafka_resp_err_t err = rd_kafka_producev(
        dl->rk, RD_KAFKA_V_TOPIC(dl->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE((void *)rec->payload, rec->len),
        RD_KAFKA_V_KEY((void *)rec->key, rec->key_len), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
    int rc = 0;
    if (!err) {
        dl->stats.queued++;
    } else {
        rd_kafka_headers_destroy(hdrs);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            dl->stats.dropped_queue_full++;
            rc = DW_ERR_LIMIT;
        } else {
            dl->stats.failed++;
            rc = DW_ERR_KAFKA;
        }
        dw_log_ratelimited(&dl->fail_rl, DW_LOG_WARN, "dead_letter", "record for %s dropped: %s",
                           dl->topic, rd_kafka_err2str(err));
    }
    rd_kafka_poll(dl->rk, 0);
    return rc;
}

void dw_dead_letter_poll(dw_dead_letter *dl)
{
    rd_kafka_poll(dl->rk, 0);
}

dw_dead_letter_stats dw_dead_letter_get_stats(const dw_dead_letter *dl)
{
    return dl->stats;
}

int dw_dead_letter_close(dw_dead_letter *dl, int timeout_ms)
{
    rd_kafka_flush(dl->rk, timeout_ms);
    int left = rd_kafka_outq_len(dl->rk);
    if (left > 0) {
        dl->stats.failed += (uint64_t)left;
        dw_log(DW_LOG_WARN, "dead_letter",
               "%d record(s) for %s not delivered within %d ms; dropping them", left, dl->topic,
               timeout_ms);
        /* Drop them now so free() does not block; their purge reports
         * must not count them a second time. */
        dl->purged = 1;
        rd_kafka_purge(dl->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(dl->rk, 0);
        return DW_ERR_LIMIT;
    }
    return 0;
}

void dw_dead_letter_free(dw_dead_letter *dl)
{
    if (!dl)
        return;
    rd_kafka_destroy(dl->rk);
    free(dl->topic);
    free(dl);
}

/* The state topic's Kafka side: an idempotent producer and a reader of
 * partition 0 (state_topic.h). */
#include "driftwatch/state_topic.h"

#include "driftwatch/consumer.h"
#include "driftwatch/error.h"
#include "driftwatch/log.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dw_state_topic {
    rd_kafka_t *prod, *reader;
    rd_kafka_topic_t *ptopic;
    char *topic;
    void (*on_ack)(void *ctx, const dw_delta_cover *cover, size_t n);
    void *ctx;
    rd_kafka_message_t *last; /* the message dw_state_topic_read() handed out */
    bool closing;
    bool broken; /* a message was not written: nothing more is published */
    dw_state_stats st;
    dw_ratelimit err_rl;
};

/* What a produced message carries to its delivery report. */
typedef struct ack_info {
    size_t n;
    dw_delta_cover cover[]; /* topic strings follow the array */
} ack_info;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    dw_state_topic *st = opaque;
    ack_info *ai = m->_private;
    if (m->err) {
        /* With message.timeout.ms=0 only fatal producer errors (or the purge
         * at exit) end here. */
        st->st.failed++;
        if (st->closing) {
            free(ai);
            return;
        }
        st->broken = true;
        dw_log_ratelimited(&st->err_rl, DW_LOG_ERROR, "state",
                           "state topic %s: a delta was not written (%s): its input offsets "
                           "stay uncommitted and are read again after a restart",
                           st->topic, rd_kafka_err2str(m->err));
    } else {
        st->st.acked++;
        if (ai && ai->n && st->on_ack)
            st->on_ack(st->ctx, ai->cover, ai->n);
    }
    free(ai);
}

static void err_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    dw_state_topic *st = opaque;
    dw_log_ratelimited(&st->err_rl, DW_LOG_WARN, "state", "state topic %s: %s: %s", st->topic,
                       rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static int set(rd_kafka_conf_t *conf, const char *k, const char *v, char *errbuf, size_t errlen)
{
    char err[512];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "state topic: kafka property \"%s\": %s",
                         k, err);
    return 0;
}

static rd_kafka_conf_t *base_conf(const dw_state_settings *s, dw_state_topic *st,
                                  const char *client_id, char *errbuf, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int rc = set(conf, "client.id", client_id, errbuf, errlen);
    for (size_t i = 0; !rc && i < s->nprops; i++)
        rc = set(conf, s->prop_keys[i], s->prop_values[i], errbuf, errlen);
    if (!rc)
        rc = set(conf, "bootstrap.servers", s->brokers, errbuf, errlen);
    if (rc) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    dw_kafka_conf_logging(conf);
    rd_kafka_conf_set_error_cb(conf, err_cb);
    rd_kafka_conf_set_opaque(conf, st);
    return conf;
}

/* Creates the topic with one partition and the retention, when missing.
 * Failure is not fatal: the broker may auto-create it, or an operator. */
static bool topic_exists(dw_state_topic *st)
{
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(st->prod, 0, st->ptopic, &md, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return false;
    bool found = md->topic_cnt == 1 && md->topics[0].err == 0 && md->topics[0].partition_cnt > 0;
    rd_kafka_metadata_destroy(md);
    return found;
}

static void create_topic(dw_state_topic *st, int64_t retention_ms)
{
    char err[512], ret[32];
    if (topic_exists(st))
        return;
    snprintf(ret, sizeof ret, "%lld", (long long)retention_ms);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(st->topic, 1, -1, err, sizeof err);
    if (!nt)
        return;
    rd_kafka_NewTopic_set_config(nt, "retention.ms", ret);
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "delete");
    rd_kafka_queue_t *q = rd_kafka_queue_new(st->prod);
    rd_kafka_AdminOptions_t *opt =
        rd_kafka_AdminOptions_new(st->prod, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(opt, 5000, err, sizeof err);
    rd_kafka_CreateTopics(st->prod, &nt, 1, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 7000);
    const char *what = "no answer";
    rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR__TIMED_OUT;
    if (ev) {
        code = rd_kafka_event_error(ev);
        what = rd_kafka_event_error_string(ev);
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        size_t n = 0;
        const rd_kafka_topic_result_t **tr =
            res ? rd_kafka_CreateTopics_result_topics(res, &n) : NULL;
        if (!code && n == 1) {
            code = rd_kafka_topic_result_error(tr[0]);
            what = rd_kafka_topic_result_error_string(tr[0]);
        }
    }
    if (!code)
        dw_log(DW_LOG_INFO, "state", "created state topic %s (1 partition, retention.ms=%s)",
               st->topic, ret);
    else if (code != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        dw_log(DW_LOG_WARN, "state",
               "could not create state topic %s (%s: %s); relying on the broker's "
               "auto-creation or an existing topic (docs/operations.md)",
               st->topic, rd_kafka_err2name(code), what ? what : "");
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
}

/* The producer or the reader: base_conf() with the settings forced (n
 * key/value pairs) and, for the producer, the delivery callback dr. NULL
 * with errbuf set when a setting or the client is refused. */
static rd_kafka_t *new_client(const dw_state_settings *s, dw_state_topic *st, rd_kafka_type_t type,
                              const char *client_id, const char *const (*forced)[2], size_t n,
                              void (*dr)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                              char *errbuf, size_t errlen)
{
    rd_kafka_conf_t *conf = base_conf(s, st, client_id, errbuf, errlen);
    if (!conf)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (set(conf, forced[i][0], forced[i][1], errbuf, errlen) < 0) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    if (dr)
        rd_kafka_conf_set_dr_msg_cb(conf, dr);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        dw_seterr(errbuf, errlen, DW_ERR_KAFKA, "state topic: creating the %s: %s",
                  type == RD_KAFKA_PRODUCER ? "producer" : "reader", err);
    }
    return rk;
}

int dw_state_topic_new(const dw_state_settings *s, dw_state_topic **out, char *errbuf,
                       size_t errlen)
{
    *out = NULL;
    if (!s->topic || !*s->topic || strlen(s->topic) >= DW_KAFKA_TOPIC_MAX)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "state.topic: name empty or too long");
    dw_state_topic *st = dw_calloc(1, sizeof *st);
    st->topic = dw_strdup(s->topic);
    st->on_ack = s->on_ack;
    st->ctx = s->ctx;
    st->err_rl = (dw_ratelimit)DW_RATELIMIT_INIT(10000);
    st->st.position = st->st.end = -1;
    char kb[32];
    snprintf(kb, sizeof kb, "%d", DW_STATE_QUEUE_KB);

    /* Uncompressed: deltas are varints (delta.h, version 2) that lz4
     * shrank by 3-10 %, while every replica paid for compressing its own
     * deltas and decompressing every replica's (bench/results.md). */
    const char *const forced[][2] = {
        {"enable.idempotence", "true"},     {"message.timeout.ms", "0"},
        {"compression.codec", "none"},      {"linger.ms", "5"},
        {"queue.buffering.max.kbytes", kb},
    };
    st->prod = new_client(s, st, RD_KAFKA_PRODUCER, "driftwatch-state", forced,
                          sizeof forced / sizeof forced[0], dr_cb, errbuf, errlen);
    if (!st->prod)
        goto fail;
    st->ptopic = rd_kafka_topic_new(st->prod, st->topic, NULL);

    /* A group id is needed for the consumer API; assign() never joins the
     * group and nothing is committed: every replica reads everything. */
    const char *const rforced[][2] = {
        {"group.id", "driftwatch-state-reader"}, {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},   {"enable.partition.eof", "false"},
        {"auto.offset.reset", "earliest"},       {"fetch.wait.max.ms", "50"},
    };
    st->reader = new_client(s, st, RD_KAFKA_CONSUMER, "driftwatch-state-reader", rforced,
                            sizeof rforced / sizeof rforced[0], NULL, errbuf, errlen);
    if (!st->reader)
        goto fail;
    rd_kafka_poll_set_consumer(st->reader);

    create_topic(st, s->retention_ms);

    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, st->topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t aerr = rd_kafka_assign(st->reader, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (aerr) {
        dw_seterr(errbuf, errlen, DW_ERR_KAFKA, "state topic %s: assign: %s", st->topic,
                  rd_kafka_err2str(aerr));
        goto fail;
    }
    st->st.position = 0;
    *out = st;
    return 0;
fail:
    dw_state_topic_free(st, 0);
    return DW_ERR_KAFKA;
}

int dw_state_topic_publish(dw_state_topic *st, const void *buf, size_t len,
                           const dw_delta_cover *cover, size_t n)
{
    /* After a failed message nothing more may follow it on the log: a later
     * delta's acknowledgement would commit offsets past the missing counts. */
    if (st->broken)
        return DW_ERR_STATE;
    size_t strs = 0;
    for (size_t i = 0; i < n; i++)
        strs += strlen(cover[i].topic) + 1;
    ack_info *ai = dw_malloc(sizeof *ai + n * sizeof ai->cover[0] + strs);
    ai->n = n;
    char *p = (char *)&ai->cover[n];
    for (size_t i = 0; i < n; i++) {
        size_t tl = strlen(cover[i].topic) + 1;
        memcpy(p, cover[i].topic, tl);
        ai->cover[i] = cover[i];
        ai->cover[i].topic = p;
        p += tl;
    }
    for (int tries = 0;; tries++) {
        if (rd_kafka_produce(st->ptopic, 0, RD_KAFKA_MSG_F_COPY, (void *)buf, len, NULL, 0, ai) ==
            0)
            break;
        rd_kafka_resp_err_t err = rd_kafka_last_error();
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || tries >= 600) {
            dw_log_ratelimited(&st->err_rl, DW_LOG_ERROR, "state",
                               "state topic %s: cannot queue a delta: %s", st->topic,
                               rd_kafka_err2str(err));
            free(ai);
            st->st.failed++;
            st->broken = true;
            return DW_ERR_KAFKA;
        }
        /* Full: the broker is away or slow. Wait for room (this holds the
         * consumer back, which is what keeps the state complete). */
        if (tries == 0)
            dw_log_ratelimited(&st->err_rl, DW_LOG_WARN, "state",
                               "state topic %s: producer queue full, waiting", st->topic);
        rd_kafka_poll(st->prod, 100);
    }
    st->st.produced++;
    st->st.bytes += len;
    rd_kafka_poll(st->prod, 0);
    return 0;
}

bool dw_state_topic_broken(const dw_state_topic *st)
{
    return st->broken;
}

void dw_state_topic_serve(dw_state_topic *st)
{
    rd_kafka_poll(st->prod, 0);
}

int dw_state_topic_flush(dw_state_topic *st, int timeout_ms)
{
    rd_kafka_flush(st->prod, timeout_ms);
    return rd_kafka_outq_len(st->prod);
}

int dw_state_topic_read(dw_state_topic *st, int timeout_ms, const void **buf, size_t *len)
{
    if (st->last) {
        rd_kafka_message_destroy(st->last);
        st->last = NULL;
    }
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(st->reader, timeout_ms);
        if (!m)
            return 0;
        if (m->err) {
            if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
                rd_kafka_message_destroy(m);
                return DW_ERR_KAFKA;
            }
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                dw_log_ratelimited(&st->err_rl, DW_LOG_WARN, "state", "reading state topic %s: %s",
                                   st->topic, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            return 0;
        }
        st->st.position = m->offset + 1;
        st->st.read++;
        st->st.read_bytes += m->len;
        if (st->st.end >= 0 && st->st.position > st->st.end)
            st->st.end = st->st.position;
        st->last = m;
        *buf = m->payload;
        *len = m->len;
        return 1;
    }
}

int dw_state_topic_end(dw_state_topic *st, int timeout_ms, int64_t *end)
{
    int64_t lo = -1, hi = -1;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(st->reader, st->topic, 0, &lo, &hi, timeout_ms);
    if (err) {
        dw_log_ratelimited(&st->err_rl, DW_LOG_WARN, "state",
                           "state topic %s: end of the log unknown: %s", st->topic,
                           rd_kafka_err2str(err));
        return DW_ERR_KAFKA;
    }
    *end = hi;
    st->st.end = hi;
    return 0;
}

int dw_state_topic_catch_up(dw_state_topic *st, int64_t end, int timeout_ms,
                            void (*fn)(void *ctx, const void *buf, size_t len), void *ctx)
{
    uint64_t deadline = dw_now_ms() + (uint64_t)timeout_ms;
    while (st->st.position < end) {
        if (dw_now_ms() >= deadline)
            return DW_ERR_STATE;
        const void *buf;
        size_t len;
        int rc = dw_state_topic_read(st, 100, &buf, &len);
        if (rc < 0)
            return rc;
        if (rc == 1)
            fn(ctx, buf, len);
        rd_kafka_poll(st->prod, 0);
    }
    st->st.caught_up = true;
    return 0;
}

int dw_state_topic_partitions(dw_state_topic *st, const char *topic, int timeout_ms)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(st->prod, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = DW_ERR_KAFKA;
    if (t && rd_kafka_metadata(st->prod, 0, t, &md, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (md->topic_cnt == 1 && md->topics[0].err == 0)
            n = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    if (t)
        rd_kafka_topic_destroy(t);
    return n;
}

void dw_state_topic_stats(const dw_state_topic *st, dw_state_stats *out)
{
    *out = st->st;
    /* The end of the log as the reader's last fetch saw it (no round
     * trip): how far behind the other replicas' deltas this one is. */
    int64_t lo = -1, hi = -1;
    if (rd_kafka_get_watermark_offsets(st->reader, st->topic, 0, &lo, &hi) == 0 && hi >= 0 &&
        hi > out->end)
        out->end = hi;
    out->lag = out->end >= 0 && out->position >= 0 && out->end > out->position
                   ? out->end - out->position
                   : 0;
}

void dw_state_topic_free(dw_state_topic *st, int timeout_ms)
{
    if (!st)
        return;
    if (st->last)
        rd_kafka_message_destroy(st->last);
    if (st->prod) {
        if (timeout_ms > 0 && rd_kafka_flush(st->prod, timeout_ms) != 0)
            dw_log(DW_LOG_WARN, "state",
                   "state topic %s: %d message(s) not acknowledged at exit: their input is read "
                   "again after the restart",
                   st->topic, rd_kafka_outq_len(st->prod));
        /* What is left is dropped (its offsets were never committed); the
         * purge hands each message back so its bookkeeping is freed. */
        st->closing = true;
        st->on_ack = NULL;
        rd_kafka_purge(st->prod, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(st->prod, 0);
        if (st->ptopic)
            rd_kafka_topic_destroy(st->ptopic);
        rd_kafka_destroy(st->prod);
    }
    if (st->reader) {
        rd_kafka_consumer_close(st->reader);
        rd_kafka_destroy(st->reader);
    }
    free(st->topic);
    free(st);
}

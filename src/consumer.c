/* At-least-once Kafka consumer on librdkafka's high-level consumer.
 *
 * Only the poll API is used (rd_kafka_consumer_poll): librdkafka 2.0.x has
 * known bugs in batch consumption around rebalances. Everything librdkafka
 * calls back (rebalance, errors) is served from inside dw_consumer_poll() on
 * the caller's thread, because rd_kafka_poll_set_consumer() redirects the
 * main queue to the consumer queue; only the log callback runs on
 * librdkafka's threads (dw_log is thread-safe). */
#include "driftwatch/consumer.h"

#include "driftwatch/error.h"
#include "driftwatch/log.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

/* What dw_consumer_lag() last knew of a partition, so its lag series
 * stays while the partition is paused, the brokers are unreachable or the
 * assignment was lost to a session timeout: an alert on lag must see the
 * lag, not a gap. */
typedef struct part_mem {
    char topic[DW_KAFKA_TOPIC_MAX];
    int32_t partition;
    bool used;
    bool paused; /* by dw_consumer_pause_at() */
    bool lost;   /* revoked as lost: reported until the group decides again */
    int64_t position, high_watermark;
    uint64_t queried_ms; /* last watermark query while paused */
} part_mem;

/* Partitions remembered; beyond it lag is reported as librdkafka has it. */
#define DW_CONSUMER_MAX_REMEMBERED 1024
/* A paused partition is not fetched, so librdkafka's cached high watermark
 * stops: ask the broker this often, briefly, a few partitions per call. */
#define PAUSED_QUERY_EVERY_MS 5000
#define PAUSED_QUERY_TIMEOUT_MS 100
#define PAUSED_QUERIES_PER_CALL 4

struct dw_consumer {
    rd_kafka_t *rk;
    part_mem *mem; /* DW_CONSUMER_MAX_REMEMBERED */
    int closed;
    int fatal;
    char fatal_reason[512];
    dw_ratelimit transient_rl; /* transient errors: one line per 10 s */
    dw_ratelimit store_rl;
    void (*on_assign)(void *ctx, const char *topic, int32_t partition, int assigned);
    void *assign_ctx;
    int64_t (*start_offset)(void *ctx, const char *topic, int32_t partition);
    /* Kafka health (dw_consumer_health): written on the polling thread
     * only, from librdkafka's statistics and the messages received. */
    int brokers_up; /* -1 until the first statistics */
    int brokers_known;
    int64_t last_message_ms; /* wall time; 0 none yet */
    uint64_t rewinds[DW_REWIND_OUTCOME_MAX];
};

static part_mem *mem_find(dw_consumer *c, const char *topic, int32_t partition, bool create)
{
    part_mem *empty = NULL;
    for (size_t i = 0; i < DW_CONSUMER_MAX_REMEMBERED; i++) {
        part_mem *m = &c->mem[i];
        if (!m->used) {
            if (!empty)
                empty = m;
            continue;
        }
        if (m->partition == partition && !strcmp(m->topic, topic))
            return m;
    }
    if (!create || !empty || strlen(topic) >= sizeof empty->topic)
        return NULL;
    memset(empty, 0, sizeof *empty);
    empty->used = true;
    snprintf(empty->topic, sizeof empty->topic, "%s", topic);
    empty->partition = partition;
    empty->position = empty->high_watermark = -1;
    return empty;
}

/* The group assigned parts: partitions lost before and not among them now
 * belong to someone else, and their series end. (Cooperative or eager, the
 * assignment after a lost one starts from nothing, so parts is all of it.) */
static void mem_assigned(dw_consumer *c, const rd_kafka_topic_partition_list_t *parts)
{
    for (size_t i = 0; i < DW_CONSUMER_MAX_REMEMBERED; i++) {
        part_mem *m = &c->mem[i];
        if (!m->used || !m->lost)
            continue;
        m->used = rd_kafka_topic_partition_list_find(parts, m->topic, m->partition) != NULL;
        m->lost = false;
    }
    for (int i = 0; i < parts->cnt; i++) {
        part_mem *m = mem_find(c, parts->elems[i].topic, parts->elems[i].partition, true);
        if (m)
            m->paused = false; /* a new assignment fetches from its start */
    }
}

static void mem_revoked(dw_consumer *c, const rd_kafka_topic_partition_list_t *parts, bool lost)
{
    for (int i = 0; i < parts->cnt; i++) {
        part_mem *m = mem_find(c, parts->elems[i].topic, parts->elems[i].partition, false);
        if (m && lost)
            m->lost = true;
        else if (m)
            m->used = false;
    }
}

static void notify_assign(dw_consumer *c, const rd_kafka_topic_partition_list_t *parts,
                          int assigned)
{
    if (!c || !c->on_assign)
        return;
    for (int i = 0; i < parts->cnt; i++)
        c->on_assign(c->assign_ctx, parts->elems[i].topic, parts->elems[i].partition, assigned);
}

/* Settings we force, applied after the pass-through properties; the value
 * NULL marks one filled in from dw_kafka_settings. */
static const char *const forced_keys[] = {
    "bootstrap.servers",        "group.id",
    "enable.auto.offset.store", "enable.auto.commit",
    "auto.commit.interval.ms",  "partition.assignment.strategy",
    "enable.partition.eof",
};

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    dw_log_level lv = level <= LOG_ERR       ? DW_LOG_ERROR
                      : level <= LOG_WARNING ? DW_LOG_WARN
                      : level <= LOG_INFO    ? DW_LOG_INFO
                                             : DW_LOG_DEBUG;
    dw_log(lv, "rdkafka", "%s: %s", fac, buf);
}

void dw_kafka_conf_logging(struct rd_kafka_conf_s *conf)
{
    char err[256];
    rd_kafka_conf_set_log_cb(conf, log_cb);
    /* librdkafka filters by its syslog level before calling us; map ours so
     * debug lines are not even formatted unless wanted. */
    const char *lvl = dw_log_min_level <= DW_LOG_DEBUG  ? "7"
                      : dw_log_min_level <= DW_LOG_INFO ? "6"
                      : dw_log_min_level <= DW_LOG_WARN ? "4"
                                                        : "3";
    (void)rd_kafka_conf_set(conf, "log_level", lvl, err, sizeof err);
}

/* librdkafka's statistics (every DW_CONSUMER_STATS_MS, served from
 * dw_consumer_poll() on the caller's thread): how many of the cluster's
 * brokers this consumer is connected to. Returns 0: librdkafka frees json. */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)rk;
    dw_consumer *c = opaque;
    json_t *doc = json_loadb(json, len, 0, NULL);
    json_t *brokers = json_object_get(doc, "brokers");
    if (json_is_object(brokers)) {
        int up = 0, known = 0;
        const char *name;
        json_t *b;
        json_object_foreach (brokers, name, b) {
            /* nodeid -1: the bootstrap and internal pseudo-brokers */
            if (json_integer_value(json_object_get(b, "nodeid")) < 0)
                continue;
            known++;
            const char *state = json_string_value(json_object_get(b, "state"));
            if (state && !strcmp(state, "UP"))
                up++;
        }
        if (known && up == 0 && c->brokers_up != 0)
            dw_log(DW_LOG_WARN, "consumer", "no connection to any of the %d Kafka broker(s)",
                   known);
        else if (up && c->brokers_up == 0)
            dw_log(DW_LOG_INFO, "consumer", "connected to %d of %d Kafka broker(s) again", up,
                   known);
        c->brokers_up = up;
        c->brokers_known = known;
    }
    json_decref(doc);
    return 0;
}

void dw_consumer_health(const dw_consumer *c, dw_kafka_health *out)
{
    out->brokers_up = c->brokers_up;
    out->brokers_known = c->brokers_known;
    out->last_message_ms = c->last_message_ms;
    memcpy(out->rewinds, c->rewinds, sizeof out->rewinds);
}

void dw_consumer_count_rewind(dw_consumer *c, dw_rewind_outcome o)
{
    if (o >= 0 && o < DW_REWIND_OUTCOME_MAX)
        c->rewinds[o]++;
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    dw_consumer *c = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[400];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof why);
        snprintf(c->fatal_reason, sizeof c->fatal_reason, "%s: %s", rd_kafka_err2name(orig), why);
        c->fatal = 1;
        dw_log(DW_LOG_ERROR, "consumer", "fatal Kafka error: %s", c->fatal_reason);
        return;
    }
    dw_log_ratelimited(&c->transient_rl, DW_LOG_WARN, "consumer", "Kafka error %s: %s",
                       rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* Commits what was stored so far (synchronously). Nothing stored is fine. */
static int commit_stored(rd_kafka_t *rk, const char *why)
{
    rd_kafka_resp_err_t err = rd_kafka_commit(rk, NULL, 0);
    if (!err || err == RD_KAFKA_RESP_ERR__NO_OFFSET)
        return 0;
    dw_log(DW_LOG_WARN, "consumer", "offset commit (%s) failed: %s", why, rd_kafka_err2str(err));
    return DW_ERR_KAFKA;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    dw_consumer *c = opaque;
    int cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t aerr = 0;

    switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        dw_log(DW_LOG_INFO, "consumer", "assigned %d partition(s) (%s rebalance)", parts->cnt,
               cooperative ? "cooperative" : "eager");
        /* Where the state topic says each partition's counted input ends
         * (state.topic): that wins over the group's committed offset. */
        for (int i = 0; c->start_offset && i < parts->cnt; i++) {
            int64_t off =
                c->start_offset(c->assign_ctx, parts->elems[i].topic, parts->elems[i].partition);
            if (off >= 0)
                parts->elems[i].offset = off;
        }
        /* librdkafka keeps an application's pause on a partition across its
         * revoke and a later assignment (the flag lives on its partition
         * object): a partition dw_consumer_pause_at() paused before it went
         * away would come back paused, and nobody would resume it (the
         * owner forgets its pauses on revoke). A new assignment reads from
         * its start offset; partitions not paused are left alone. On a
         * copy: resuming sets each element's err, and parts is assigned. */
        rd_kafka_topic_partition_list_t *rl = rd_kafka_topic_partition_list_copy(parts);
        rd_kafka_resp_err_t rerr = rd_kafka_resume_partitions(rk, rl);
        rd_kafka_topic_partition_list_destroy(rl);
        if (rerr)
            dw_log(DW_LOG_WARN, "consumer", "resuming newly assigned partitions failed: %s",
                   rd_kafka_err2str(rerr));
        if (cooperative)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, parts);
        mem_assigned(c, parts);
        notify_assign(c, parts, 1);
        break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
        dw_log(DW_LOG_INFO, "consumer", "revoking %d partition(s)%s", parts->cnt,
               rd_kafka_assignment_lost(rk) ? " (assignment lost)" : "");
        /* The owner hears first, so it can finish what it holds for these
         * partitions (with state.topic: publish their delta and store the
         * offsets it covers). Then commit before giving them away so the
         * next owner starts right after what we applied. A lost assignment
         * may already be owned by someone else: committing then could move
         * their offsets backwards, so skip it (the records are redelivered
         * instead). */
        notify_assign(c, parts, 0);
        mem_revoked(c, parts, rd_kafka_assignment_lost(rk));
        if (!rd_kafka_assignment_lost(rk))
            (void)commit_stored(rk, "revoke");
        if (cooperative)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, NULL);
        break;
    default:
        dw_log(DW_LOG_WARN, "consumer", "rebalance failed: %s", rd_kafka_err2str(err));
        if (!cooperative)
            aerr = rd_kafka_assign(rk, NULL);
        break;
    }
    if (error) {
        dw_log(DW_LOG_ERROR, "consumer", "incremental (un)assign failed: %s",
               rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (aerr) {
        dw_log(DW_LOG_ERROR, "consumer", "assign failed: %s", rd_kafka_err2str(aerr));
    }
}

static int set_prop(rd_kafka_conf_t *conf, const char *key, const char *value, char *errbuf,
                    size_t errlen)
{
    char err[512];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof err) != RD_KAFKA_CONF_OK)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "kafka property \"%s\": %s", key, err);
    return 0;
}

int dw_consumer_new(const dw_kafka_settings *s, dw_consumer **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (!s->brokers || !*s->brokers)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "kafka: no brokers configured");
    if (!s->group_id || !*s->group_id)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "kafka: no consumer group id configured");
    if (s->ntopics == 0 || !s->topics)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "kafka: no topics to consume");
    if (s->ntopics > DW_KAFKA_MAX_TOPICS)
        return dw_seterr(errbuf, errlen, DW_ERR_LIMIT, "kafka: %zu topics, at most %d supported",
                         s->ntopics, DW_KAFKA_MAX_TOPICS);
    if (s->nprops > DW_KAFKA_MAX_PROPS)
        return dw_seterr(errbuf, errlen, DW_ERR_LIMIT,
                         "kafka: %zu properties, at most %d supported", s->nprops,
                         DW_KAFKA_MAX_PROPS);
    for (size_t i = 0; i < s->ntopics; i++)
        if (!s->topics[i] || !*s->topics[i] || strlen(s->topics[i]) >= DW_KAFKA_TOPIC_MAX)
            return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                             "kafka: topic %zu: name empty or longer than 249 bytes", i + 1);

    dw_consumer *c = dw_calloc(1, sizeof *c);
    c->mem = dw_calloc(DW_CONSUMER_MAX_REMEMBERED, sizeof *c->mem);
    c->on_assign = s->on_assign;
    c->assign_ctx = s->assign_ctx;
    c->start_offset = s->start_offset;
    c->brokers_up = -1;
    c->transient_rl = (dw_ratelimit)DW_RATELIMIT_INIT(10000);
    c->store_rl = (dw_ratelimit)DW_RATELIMIT_INIT(10000);

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* Defaults a pass-through property may change. */
    int rc = set_prop(conf, "client.id", "driftwatch", errbuf, errlen);
    if (!rc)
        rc = set_prop(conf, "auto.offset.reset", "earliest", errbuf, errlen);
    for (size_t i = 0; !rc && i < s->nprops; i++) {
        if (!s->prop_keys[i] || !s->prop_values[i]) {
            rc = dw_seterr(errbuf, errlen, DW_ERR_INVALID, "kafka: property %zu has no %s", i + 1,
                           s->prop_keys[i] ? "value" : "name");
            break;
        }
        for (size_t k = 0; k < sizeof forced_keys / sizeof forced_keys[0]; k++)
            if (!strcmp(s->prop_keys[i], forced_keys[k]))
                dw_log(DW_LOG_WARN, "consumer",
                       "kafka property %s is set by driftwatch; the configured value is ignored",
                       s->prop_keys[i]);
        rc = set_prop(conf, s->prop_keys[i], s->prop_values[i], errbuf, errlen);
    }

    char interval[32];
    snprintf(interval, sizeof interval, "%lld",
             (long long)(s->commit_interval_ms > 0 ? s->commit_interval_ms : 5000));
    const char *forced[][2] = {
        {"bootstrap.servers", s->brokers},
        {"group.id", s->group_id},
        {"enable.auto.offset.store", "false"},
        {"enable.auto.commit", "true"},
        {"auto.commit.interval.ms", interval},
        {"partition.assignment.strategy", "cooperative-sticky"},
        {"enable.partition.eof", "false"},
    };
    for (size_t i = 0; !rc && i < sizeof forced / sizeof forced[0]; i++)
        rc = set_prop(conf, forced[i][0], forced[i][1], errbuf, errlen);
    if (!rc && s->auto_offset_reset)
        rc = set_prop(conf, "auto.offset.reset", s->auto_offset_reset, errbuf, errlen);
    if (rc) {
        rd_kafka_conf_destroy(conf);
        free(c->mem);
        free(c);
        return rc;
    }
    dw_kafka_conf_logging(conf);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_stats_cb(conf, stats_cb);
    char stats_ms[16];
    snprintf(stats_ms, sizeof stats_ms, "%d", DW_CONSUMER_STATS_MS);
    (void)rd_kafka_conf_set(conf, "statistics.interval.ms", stats_ms, NULL, 0);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_opaque(conf, c);

    char err[512];
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!c->rk) {
        rd_kafka_conf_destroy(conf);
        free(c->mem);
        free(c);
        return dw_seterr(errbuf, errlen, DW_ERR_KAFKA, "kafka: creating the consumer: %s", err);
    }
    /* conf is owned by rk from here on. Serve callbacks from consumer_poll. */
    rd_kafka_poll_set_consumer(c->rk);

    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new((int)s->ntopics);
    for (size_t i = 0; i < s->ntopics; i++)
        rd_kafka_topic_partition_list_add(sub, s->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t serr = rd_kafka_subscribe(c->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (serr) {
        rd_kafka_destroy(c->rk);
        free(c->mem);
        free(c);
        return dw_seterr(errbuf, errlen, DW_ERR_KAFKA, "kafka: subscribing to %s%s: %s",
                         s->topics[0], s->ntopics > 1 ? " and others" : "", rd_kafka_err2str(serr));
    }
    dw_log(DW_LOG_INFO, "consumer", "consumer for group %s subscribed to %zu topic(s) at %s",
           s->group_id, s->ntopics, s->brokers);
    *out = c;
    return 0;
}

int dw_consumer_poll(dw_consumer *c, int timeout_ms, dw_kafka_msg *msg)
{
    memset(msg, 0, sizeof *msg);
    if (c->fatal || c->closed)
        return c->fatal ? DW_ERR_KAFKA : DW_ERR_STATE;
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, timeout_ms);
    if (c->fatal) {
        if (m)
            rd_kafka_message_destroy(m);
        return DW_ERR_KAFKA;
    }
    if (!m)
        return 0;
    if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
            char why[400];
            rd_kafka_resp_err_t orig = rd_kafka_fatal_error(c->rk, why, sizeof why);
            snprintf(c->fatal_reason, sizeof c->fatal_reason, "%s: %s", rd_kafka_err2name(orig),
                     why);
            c->fatal = 1;
            rd_kafka_message_destroy(m);
            return DW_ERR_KAFKA;
        }
        dw_log_ratelimited(&c->transient_rl, DW_LOG_WARN, "consumer",
                           "consume error on %s [%d]: %s",
                           m->rkt ? rd_kafka_topic_name(m->rkt) : "-", (int)m->partition,
                           rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        return 0;
    }
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    msg->payload = m->payload;
    msg->len = m->len;
    msg->key = m->key;
    msg->key_len = m->key_len;
    msg->topic = rd_kafka_topic_name(m->rkt);
    msg->partition = m->partition;
    msg->offset = m->offset;
    msg->timestamp_ms = tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ts;
    msg->rkm = m;
    c->last_message_ms = dw_wall_ms();
    return 1;
}

int dw_consumer_store(dw_consumer *c, const dw_kafka_msg *msg)
{
    const rd_kafka_message_t *m = msg->rkm;
    if (!m)
        return DW_ERR_INVALID;
    /* rd_kafka_offset_store() stores offset + 1, the next one to read. */
    rd_kafka_resp_err_t err = rd_kafka_offset_store(m->rkt, m->partition, m->offset);
    if (!err)
        return 0;
    if (err == RD_KAFKA_RESP_ERR__STATE || err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION) {
        dw_log_ratelimited(&c->store_rl, DW_LOG_INFO, "consumer",
                           "%s [%d] offset %lld not stored: partition no longer assigned",
                           msg->topic, (int)msg->partition, (long long)msg->offset);
        return DW_ERR_STATE;
    }
    dw_log_ratelimited(&c->store_rl, DW_LOG_WARN, "consumer", "storing offset failed: %s",
                       rd_kafka_err2str(err));
    return DW_ERR_KAFKA;
}

int dw_consumer_store_offset(dw_consumer *c, const char *topic, int32_t partition,
                             int64_t next_offset)
{
    if (c->closed)
        return DW_ERR_STATE;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition)->offset = next_offset;
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(c->rk, l);
    if (!err)
        err = l->elems[0].err;
    rd_kafka_topic_partition_list_destroy(l);
    if (!err)
        return 0;
    if (err == RD_KAFKA_RESP_ERR__STATE || err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION)
        return DW_ERR_STATE; /* no longer ours: the state topic has it */
    dw_log_ratelimited(&c->store_rl, DW_LOG_WARN, "consumer", "storing offset failed: %s",
                       rd_kafka_err2str(err));
    return DW_ERR_KAFKA;
}

void dw_kafka_msg_release(dw_kafka_msg *msg)
{
    if (!msg)
        return;
    if (msg->rkm)
        rd_kafka_message_destroy(msg->rkm);
    memset(msg, 0, sizeof *msg);
}

int dw_consumer_pause_at(dw_consumer *c, const dw_kafka_msg *msg)
{
    if (!msg->topic)
        return DW_ERR_INVALID;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_t *tp =
        rd_kafka_topic_partition_list_add(l, msg->topic, msg->partition);
    tp->offset = msg->offset;
    int rc = 0;
    rd_kafka_resp_err_t err = rd_kafka_pause_partitions(c->rk, l);
    if (!err)
        err = tp->err; /* per partition: not assigned (any more) */
    /* An asynchronous seek: messages fetched before it are discarded by
     * librdkafka, the next fetch starts at msg's offset. It reports no
     * error later; __IN_PROGRESS in the list means it was sent. */
    rd_kafka_error_t *error = NULL;
    if (!err) {
        error = rd_kafka_seek_partitions(c->rk, l, 0);
        if (!error && tp->err && tp->err != RD_KAFKA_RESP_ERR__IN_PROGRESS)
            err = tp->err;
        if (error || err)
            /* Not left paused with nobody to resume it: the fetch goes on
             * after the message, which the caller then counts as lost. */
            (void)rd_kafka_resume_partitions(c->rk, l);
    }
    if (err || error) {
        dw_log(DW_LOG_WARN, "consumer", "pause/seek of %s [%d] failed: %s", msg->topic,
               (int)msg->partition, err ? rd_kafka_err2str(err) : rd_kafka_error_string(error));
        rc = DW_ERR_KAFKA;
    }
    if (error)
        rd_kafka_error_destroy(error);
    rd_kafka_topic_partition_list_destroy(l);
    part_mem *m = rc ? NULL : mem_find(c, msg->topic, msg->partition, true);
    if (m) {
        m->paused = true;
        m->position = msg->offset; /* where it resumes */
    }
    return rc;
}

int dw_consumer_resume(dw_consumer *c, const char *topic, int32_t partition)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition);
    rd_kafka_resp_err_t err = rd_kafka_resume_partitions(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err) {
        dw_log(DW_LOG_WARN, "consumer", "resume of %s [%d] failed: %s", topic, (int)partition,
               rd_kafka_err2str(err));
        return DW_ERR_KAFKA;
    }
    part_mem *m = mem_find(c, topic, partition, false);
    if (m)
        m->paused = false;
    return 0;
}

int dw_consumer_commit(dw_consumer *c)
{
    if (c->closed)
        return DW_ERR_STATE;
    return commit_stored(c->rk, "explicit");
}

/* Fills l from what librdkafka knows now, falling back on (and updating)
 * what was known before. */
static void lag_of(dw_consumer *c, const char *topic, int32_t partition, int64_t pos,
                   dw_partition_lag *l, int *queries)
{
    part_mem *m = mem_find(c, topic, partition, true);
    snprintf(l->topic, sizeof l->topic, "%s", topic);
    l->partition = partition;
    int64_t lo = -1, hi = -1;
    if (rd_kafka_get_watermark_offsets(c->rk, topic, partition, &lo, &hi) || hi < 0)
        hi = -1;
    if (m && m->paused && *queries > 0 && dw_now_ms() - m->queried_ms >= PAUSED_QUERY_EVERY_MS) {
        (*queries)--;
        m->queried_ms = dw_now_ms();
        int64_t qlo = -1, qhi = -1;
        if (!rd_kafka_query_watermark_offsets(c->rk, topic, partition, &qlo, &qhi,
                                              PAUSED_QUERY_TIMEOUT_MS) &&
            qhi > hi)
            hi = qhi;
    }
    if (m) {
        /* A paused partition resumes at its pause offset, whatever the
         * seek made of librdkafka's position meanwhile. */
        if (m->paused || pos < 0)
            pos = m->position;
        else
            m->position = pos;
        if (hi < m->high_watermark)
            hi = m->high_watermark; /* unknown now, or an older cached value */
        m->high_watermark = hi;
    }
    l->position = pos;
    l->high_watermark = hi;
    l->paused = m && m->paused;
    l->lost = m && m->lost;
    l->lag = (pos >= 0 && hi >= 0) ? (hi > pos ? hi - pos : 0) : -1;
}

size_t dw_consumer_lag(dw_consumer *c, dw_partition_lag *out, size_t max)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    if (c->closed)
        return 0;
    if (rd_kafka_assignment(c->rk, &a) || !a)
        a = rd_kafka_topic_partition_list_new(0);
    (void)rd_kafka_position(c->rk, a);
    size_t n = 0;
    int queries = PAUSED_QUERIES_PER_CALL;
    for (int i = 0; i < a->cnt && n < max; i++) {
        const rd_kafka_topic_partition_t *p = &a->elems[i];
        lag_of(c, p->topic, p->partition, p->offset >= 0 ? p->offset : -1, &out[n++], &queries);
    }
    /* Partitions lost to a session timeout (the brokers went away) are not
     * in the assignment, but are still this consumer's best knowledge. */
    for (size_t i = 0; i < DW_CONSUMER_MAX_REMEMBERED && n < max; i++) {
        const part_mem *m = &c->mem[i];
        if (m->used && m->lost && !rd_kafka_topic_partition_list_find(a, m->topic, m->partition))
            lag_of(c, m->topic, m->partition, -1, &out[n++], &queries);
    }
    rd_kafka_topic_partition_list_destroy(a);
    return n;
}

const char *dw_consumer_error(const dw_consumer *c)
{
    return c->fatal_reason;
}

int dw_consumer_close(dw_consumer *c)
{
    if (c->closed)
        return 0;
    c->closed = 1;
    int rc = 0;
    if (!c->fatal)
        rc = commit_stored(c->rk, "close");
    rd_kafka_resp_err_t err = rd_kafka_consumer_close(c->rk);
    if (err) {
        dw_log(DW_LOG_WARN, "consumer", "closing the consumer: %s", rd_kafka_err2str(err));
        rc = DW_ERR_KAFKA;
    }
    return rc;
}

void dw_consumer_free(dw_consumer *c)
{
    if (!c)
        return;
    if (!c->closed)
        (void)dw_consumer_close(c);
    rd_kafka_destroy(c->rk);
    free(c->mem);
    free(c);
}

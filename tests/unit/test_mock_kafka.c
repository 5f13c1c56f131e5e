/* The Kafka modules against an in-process mock cluster: mock_kafka,
 * consumer (group resume, at-least-once redelivery, lag) and dead_letter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "driftwatch/consumer.h"
#include "driftwatch/dead_letter.h"
#include "driftwatch/error.h"
#include "driftwatch/log.h"
#include "mock_kafka.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Generous bound for anything that waits on the broker (group join,
 * fetch): the test fails instead of hanging, it does not assert speed. */
#define WAIT_MS 30000

static dw_mock_kafka *mk;

static int setup(void **state)
{
    (void)state;
    static const char *const topics[] = {"events", "other"};
    static const int parts[] = {2, 1};
    char err[256];
    dw_log_set_level(DW_LOG_WARN);
    if (dw_mock_kafka_new(1, topics, parts, 2, &mk, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dw_mock_kafka_free(mk);
    return 0;
}

/* Produces "<prefix>-<i>" for i in [0, n) to topic/partition and waits for
 * every delivery. */
static void produce(const char *topic, int32_t partition, const char *prefix, int n)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(
        rd_kafka_conf_set(conf, "bootstrap.servers", dw_mock_kafka_bootstraps(mk), err, sizeof err),
        RD_KAFKA_CONF_OK);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    assert_non_null(p);
    for (int i = 0; i < n; i++) {
        char v[64];
        int len = snprintf(v, sizeof v, "%s-%d", prefix, i);
        assert_int_equal(
            rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_VALUE(v, (size_t)len), RD_KAFKA_V_KEY("k", 1),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
            0);
    }
    assert_int_equal(rd_kafka_flush(p, WAIT_MS), 0);
    rd_kafka_destroy(p);
}

static dw_consumer *consumer(const char *group, const char *const *topics, size_t ntopics)
{
    /* Short session/heartbeat so a group rebalance after a member leaves
     * does not wait for the 45 s default; passed through as properties. */
    static const char *const keys[] = {"session.timeout.ms", "heartbeat.interval.ms"};
    static const char *const vals[] = {"6000", "500"};
    dw_kafka_settings s = {
        .brokers = dw_mock_kafka_bootstraps(mk),
        .topics = topics,
        .ntopics = ntopics,
        .group_id = group,
        .prop_keys = keys,
        .prop_values = vals,
        .nprops = 2,
        .commit_interval_ms = 200,
    };
    dw_consumer *c = NULL;
    char err[256] = "";
    int rc = dw_consumer_new(&s, &c, err, sizeof err);
    if (rc)
        fprintf(stderr, "dw_consumer_new: %s\n", err);
    assert_int_equal(rc, 0);
    return c;
}

/* A consumed record, copied out of the message. */
typedef struct seen {
    char payload[64];
    char topic[32];
    int32_t partition;
    int64_t offset;
} seen;

/* Polls until `want` messages arrived (or WAIT_MS passed); stores the
 * offset of those for which store(i) says so. Returns how many arrived. */
static int consume(dw_consumer *c, int want, seen *out, int (*store)(const seen *))
{
    int n = 0;
    uint64_t deadline = dw_now_ms() + WAIT_MS;
    while (n < want && dw_now_ms() < deadline) {
        dw_kafka_msg m;
        int rc = dw_consumer_poll(c, 100, &m);
        assert_true(rc >= 0);
        if (rc == 0)
            continue;
        seen *s = &out[n++];
        snprintf(s->payload, sizeof s->payload, "%.*s", (int)m.len, (const char *)m.payload);
        snprintf(s->topic, sizeof s->topic, "%s", m.topic);
        s->partition = m.partition;
        s->offset = m.offset;
        assert_true(m.timestamp_ms > 0);
        assert_int_equal(m.key_len, 1);
        if (!store || store(s))
            assert_int_equal(dw_consumer_store(c, &m), 0);
        dw_kafka_msg_release(&m);
        assert_null(m.rkm);
    }
    return n;
}

static int has(const seen *v, int n, const char *payload)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(v[i].payload, payload))
            return 1;
    return 0;
}

static void test_resumes_after_committed_offset(void **state)
{
    (void)state;
    static const char *const topics[] = {"events", "other"};
    produce("events", 0, "a0", 3);
    produce("events", 1, "a1", 3);
    produce("other", 0, "b", 2);

    seen v[32];
    dw_consumer *c = consumer("g-resume", topics, 2);
    assert_int_equal(consume(c, 8, v, NULL), 8);
    assert_true(has(v, 8, "a0-2") && has(v, 8, "a1-0") && has(v, 8, "b-1"));
    assert_int_equal(dw_consumer_commit(c), 0);

    /* Everything was consumed: once the fetcher has cached the high
     * watermarks, every assigned partition reports lag 0. */
    dw_partition_lag lag[8];
    size_t nl = 0;
    int all_zero = 0;
    uint64_t deadline = dw_now_ms() + WAIT_MS;
    while (!all_zero && dw_now_ms() < deadline) {
        dw_kafka_msg m;
        assert_int_equal(dw_consumer_poll(c, 100, &m), 0);
        nl = dw_consumer_lag(c, lag, 8);
        all_zero = nl == 3;
        for (size_t i = 0; i < nl; i++)
            all_zero = all_zero && lag[i].lag == 0;
    }
    assert_int_equal(nl, 3);
    assert_true(all_zero);
    for (size_t i = 0; i < nl; i++)
        assert_int_equal(lag[i].high_watermark, !strcmp(lag[i].topic, "other") ? 2 : 3);
    /* A too-small output array is filled up to its size, no further. */
    assert_int_equal(dw_consumer_lag(c, lag, 1), 1);

    assert_int_equal(dw_consumer_close(c), 0);
    dw_consumer_free(c);

    produce("events", 1, "new", 2);
    c = consumer("g-resume", topics, 2);
    int n = consume(c, 2, v, NULL);
    assert_int_equal(n, 2);
    for (int i = 0; i < n; i++) {
        /* Resumed right after the commit: only the new records, at the
         * offsets after the three committed ones. */
        assert_memory_equal(v[i].payload, "new-", 4);
        assert_string_equal(v[i].topic, "events");
        assert_int_equal(v[i].partition, 1);
        assert_int_equal(v[i].offset, 3 + (v[i].payload[4] - '0'));
    }
    /* Nothing older is redelivered: ten more polls bring nothing. */
    for (int i = 0; i < 10; i++) {
        dw_kafka_msg m;
        assert_int_equal(dw_consumer_poll(c, 100, &m), 0);
    }
    assert_int_equal(dw_consumer_close(c), 0);
    dw_consumer_free(c);
}

static int store_first_two(const seen *s)
{
    return s->offset < 2;
}

static void test_unstored_records_are_redelivered(void **state)
{
    (void)state;
    static const char *const topics[] = {"redeliver"};
    char err[256];
    assert_int_equal(dw_mock_kafka_create_topic(mk, "redeliver", 1, err, sizeof err), 0);
    produce("redeliver", 0, "r", 5);

    seen v[16];
    dw_consumer *c = consumer("g-redeliver", topics, 1);
    /* Apply all five, but store only offsets 0 and 1 (as if the process
     * died before applying the rest). */
    assert_int_equal(consume(c, 5, v, store_first_two), 5);
    assert_int_equal(dw_consumer_close(c), 0);
    dw_consumer_free(c);

    c = consumer("g-redeliver", topics, 1);
    assert_int_equal(consume(c, 3, v, NULL), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(v[i].offset, 2 + i);
        char want[16];
        snprintf(want, sizeof want, "r-%d", 2 + i);
        assert_string_equal(v[i].payload, want);
    }
    assert_int_equal(dw_consumer_close(c), 0);
    dw_consumer_free(c);
}

static const char *header(const rd_kafka_message_t *m, const char *name, char *buf, size_t len)
{
    rd_kafka_headers_t *h = NULL;
    const void *val;
    size_t sz;
    if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, name, &val, &sz))
        return NULL;
    snprintf(buf, len, "%.*s", (int)sz, (const char *)val);
    return buf;
}

static void test_dead_letter_arrives_with_headers(void **state)
{
    (void)state;
    char err[256];
    dw_dead_letter_settings ds = {.brokers = dw_mock_kafka_bootstraps(mk), .topic = "dlq"};
    dw_dead_letter *dl = NULL;
    assert_int_equal(dw_dead_letter_new(&ds, &dl, err, sizeof err), 0);
    dw_kafka_msg rec = {.payload = "{not json",
                        .len = 9,
                        .key = "k",
                        .key_len = 1,
                        .topic = "events",
                        .partition = 1,
                        .offset = 42};
    assert_int_equal(dw_dead_letter_send(dl, &rec, "not JSON: unexpected end at 1:10"), 0);
    /* The dead-letter topic does not exist yet: the mock auto-creates it. */
    assert_int_equal(dw_dead_letter_close(dl, WAIT_MS), 0);
    dw_dead_letter_stats st = dw_dead_letter_get_stats(dl);
    assert_int_equal(st.queued, 1);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.failed, 0);
    dw_dead_letter_free(dl);

    static const char *const topics[] = {"dlq"};
    dw_consumer *c = consumer("g-dlq", topics, 1);
    dw_kafka_msg m;
    int rc = 0;
    uint64_t deadline = dw_now_ms() + WAIT_MS;
    while (rc == 0 && dw_now_ms() < deadline)
        rc = dw_consumer_poll(c, 100, &m);
    assert_int_equal(rc, 1);
    assert_int_equal(m.len, 9);
    assert_memory_equal(m.payload, "{not json", 9);
    assert_int_equal(m.key_len, 1);
    char buf[128];
    const rd_kafka_message_t *rkm = m.rkm;
    assert_non_null(header(rkm, "driftwatch-reason", buf, sizeof buf));
    assert_string_equal(buf, "not JSON: unexpected end at 1:10");
    assert_non_null(header(rkm, "driftwatch-source-topic", buf, sizeof buf));
    assert_string_equal(buf, "events");
    assert_non_null(header(rkm, "driftwatch-source-partition", buf, sizeof buf));
    assert_string_equal(buf, "1");
    assert_non_null(header(rkm, "driftwatch-source-offset", buf, sizeof buf));
    assert_string_equal(buf, "42");
    dw_kafka_msg_release(&m);
    assert_int_equal(dw_consumer_close(c), 0);
    dw_consumer_free(c);
}

static void test_dead_letter_queue_full_is_counted(void **state)
{
    (void)state;
    char err[256];
    /* Nothing listens on port 1 of the loopback: nothing gets delivered, so
     * the one-message queue stays full. */
    dw_dead_letter_settings ds = {
        .brokers = "127.0.0.1:1", .topic = "dlq", .queue_max_messages = 1};
    dw_dead_letter *dl = NULL;
    assert_int_equal(dw_dead_letter_new(&ds, &dl, err, sizeof err), 0);
    dw_kafka_msg rec = {.payload = "x", .len = 1, .partition = -1, .offset = -1};
    assert_int_equal(dw_dead_letter_send(dl, &rec, "r1"), 0);
    assert_int_equal(dw_dead_letter_send(dl, &rec, "r2"), DW_ERR_LIMIT);
    assert_int_equal(dw_dead_letter_close(dl, 200), DW_ERR_LIMIT);
    dw_dead_letter_stats st = dw_dead_letter_get_stats(dl);
    assert_int_equal(st.queued, 1);
    assert_int_equal(st.dropped_queue_full, 1);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.delivered, 0);
    dw_dead_letter_free(dl);
}

static void test_invalid_arguments_name_the_culprit(void **state)
{
    (void)state;
    char err[256];
    dw_mock_kafka *bad = NULL;
    static const char *const topics[] = {"bad topic"};
    assert_int_equal(dw_mock_kafka_new(1, topics, NULL, 1, &bad, err, sizeof err), DW_ERR_INVALID);
    assert_null(bad);
    assert_non_null(strstr(err, "\"bad topic\""));
    assert_int_equal(dw_mock_kafka_new(0, NULL, NULL, 0, &bad, err, sizeof err), DW_ERR_LIMIT);

    static const char *const t[] = {"events"};
    static const char *const keys[] = {"no.such.property"};
    static const char *const vals[] = {"1"};
    dw_kafka_settings s = {.brokers = dw_mock_kafka_bootstraps(mk),
                           .topics = t,
                           .ntopics = 1,
                           .group_id = "g",
                           .prop_keys = keys,
                           .prop_values = vals,
                           .nprops = 1};
    dw_consumer *c = NULL;
    assert_int_equal(dw_consumer_new(&s, &c, err, sizeof err), DW_ERR_INVALID);
    assert_null(c);
    assert_non_null(strstr(err, "no.such.property"));
    s.nprops = 0;
    s.group_id = NULL;
    assert_int_equal(dw_consumer_new(&s, &c, err, sizeof err), DW_ERR_INVALID);
    assert_non_null(strstr(err, "group"));
    dw_consumer_free(NULL);
    dw_dead_letter_free(NULL);
    dw_mock_kafka_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resumes_after_committed_offset),
        cmocka_unit_test(test_unstored_records_are_redelivered),
        cmocka_unit_test(test_dead_letter_arrives_with_headers),
        cmocka_unit_test(test_dead_letter_queue_full_is_counted),
        cmocka_unit_test(test_invalid_arguments_name_the_culprit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

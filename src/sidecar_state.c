/* `run` with state.topic: rebuild at start, deltas out and in, offsets
 * committed after their delta is acknowledged, and one notifying replica
 * (docs/operations.md, "State on Kafka").
 *
 * Leader: the replica that owns partition 0 of the first input topic. Every
 * replica evaluates the same merged windows and so makes the same documents;
 * the leader sends them and then writes a mark ({"driftwatch_mark": 1,
 * "notified_until": <evaluation time>}) to the state topic. The others keep
 * their documents until a mark covers them, so a replica that becomes leader
 * (a rebalance, the old leader killed) sends what the old one had not. */
#include "sidecar_int.h"

#include "driftwatch/delta.h"
#include "driftwatch/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static void on_delta(void *ctx, const void *buf, size_t len, const dw_delta_cover *cover, size_t n)
{
    dw_sidecar *s = ctx;
    if (s->state)
        (void)dw_state_topic_publish(s->state, buf, len, cover, n);
}

/* The broker has a delta: the input it covers may be committed. */
static void on_ack(void *ctx, const dw_delta_cover *cover, size_t n)
{
    dw_sidecar *s = ctx;
    for (size_t i = 0; s->consumer && i < n; i++)
        if (cover[i].to >= 0)
            (void)dw_consumer_store_offset(s->consumer, cover[i].topic, cover[i].partition,
                                           cover[i].to);
}

static void drop_held_until(dw_sidecar *s, int64_t t)
{
    size_t k = 0;
    for (size_t i = 0; i < s->nheld; i++) {
        if (s->held_t[i] <= t) {
            json_decref(s->held[i]);
            continue;
        }
        s->held[k] = s->held[i];
        s->held_t[k++] = s->held_t[i];
    }
    s->nheld = k;
}

static void on_mark(dw_sidecar *s, const json_t *mark)
{
    json_t *nu = json_object_get(mark, "notified_until");
    if (!json_is_integer(nu))
        return;
    int64_t t = (int64_t)json_integer_value(nu);
    s->marks_read++;
    if (t > s->marked_until)
        s->marked_until = t;
    drop_held_until(s, s->marked_until);
}

/* One message read from the state topic. */
static void on_state_msg(void *ctx, const void *buf, size_t len)
{
    dw_sidecar *s = ctx;
    if (dw_delta_is_delta(buf, len)) {
        dw_delta_result r;
        (void)dw_engine_delta_apply(s->engine, buf, len, &r);
        return;
    }
    json_t *mark = json_loadb(buf, len, 0, NULL);
    if (json_is_object(mark) && json_object_get(mark, "driftwatch_mark"))
        on_mark(s, mark);
    else
        dw_log(DW_LOG_WARN, "state",
               "state topic: a message that is neither a delta nor a mark "
               "was skipped");
    json_decref(mark);
}

static int catch_up(dw_sidecar *s, int timeout_ms)
{
    int64_t end;
    if (dw_state_topic_end(s->state, 10000, &end) < 0)
        return DW_ERR_KAFKA;
    return dw_state_topic_catch_up(s->state, end, timeout_ms, on_state_msg, s);
}

int dw_sc_state_start(dw_sidecar *s, const char *brokers, const char *const *keys,
                      const char *const *vals, size_t nprops, char *errbuf, size_t errlen)
{
    const dw_config *cfg = s->cfg;
    dw_state_settings ss = {
        .brokers = brokers,
        .topic = cfg->state.topic,
        .prop_keys = keys,
        .prop_values = vals,
        .nprops = nprops,
        .retention_ms = cfg->state.retention_ms,
        .on_ack = on_ack,
        .ctx = s,
    };
    int rc = dw_state_topic_new(&ss, &s->state, errbuf, errlen);
    if (rc < 0)
        return rc;
    if (getrandom(&s->writer_id, sizeof s->writer_id, 0) != sizeof s->writer_id)
        s->writer_id = (uint64_t)dw_wall_ms() ^ ((uint64_t)getpid() << 32);
    s->marked_until = s->notified_until = INT64_MIN;
    s->last_state_flush = (int64_t)dw_now_ms();
    dw_engine_state_enable(s->engine, s->writer_id, on_delta, s);

    /* Rebuild: everything on the log, in order, before any input. While
     * rebuilding nobody is leader here, so documents are held and the
     * marks on the log drop those already sent. */
    uint64_t t0 = dw_now_ms();
    /* No status of half the log: panes closing during the rebuild would
     * publish one (once a second), and /api/v1/status served it while the
     * rebuild went on (test_state's restart case saw such a window). */
    dw_engine_set_live_snapshot(s->engine, false);
    rc = catch_up(s, 120000);
    dw_engine_set_live_snapshot(s->engine, true);
    dw_engine_publish(s->engine);
    /* Every partition of the input holds time back, also those another
     * replica reads and has not published for yet. */
    for (size_t i = 0; i < cfg->kafka.ntopics; i++) {
        int n = dw_state_topic_partitions(s->state, cfg->kafka.topics[i], 10000);
        if (n < 0) {
            dw_log(DW_LOG_WARN, "state",
                   "partitions of %s unknown: the watermark follows the partitions seen",
                   cfg->kafka.topics[i]);
            continue;
        }
        for (int p = 0; p < n; p++)
            dw_engine_source_expect(s->engine,
                                    dw_engine_source(s->engine, cfg->kafka.topics[i], p));
    }
    dw_state_stats st;
    dw_state_topic_stats(s->state, &st);
    dw_engine_stats es;
    dw_engine_stats_get(s->engine, &es);
    if (rc < 0)
        dw_log(DW_LOG_WARN, "state",
               "state topic %s: not read to its end (%s); continuing with what was read, the "
               "rest is merged as it comes",
               cfg->state.topic, dw_strerror(rc));
    dw_log(DW_LOG_INFO, "state",
           "rebuilt windows from state topic %s: %llu message(s), %llu bytes, %llu record(s) "
           "(%llu late, %llu waiting, %llu duplicate section(s)) in %llu ms",
           cfg->state.topic, (unsigned long long)st.read, (unsigned long long)st.read_bytes,
           (unsigned long long)es.delta_records_in, (unsigned long long)es.delta_late,
           (unsigned long long)es.delta_ahead, (unsigned long long)es.delta_duplicates,
           (unsigned long long)(dw_now_ms() - t0));
    return 0;
}

bool dw_sc_state_hold(dw_sidecar *s, json_t *doc)
{
    int64_t t = dw_engine_emit_time(s->engine);
    if (s->leader) {
        if (t != INT64_MIN && t > s->notified_until)
            s->notified_until = t;
        s->mark_due = true;
        return false;
    }
    if (t != INT64_MIN && t <= s->marked_until) {
        json_decref(doc); /* the leader has sent it already */
        return true;
    }
    if (s->nheld == DW_SIDECAR_HELD) {
        json_decref(s->held[0]);
        memmove(s->held, s->held + 1, (DW_SIDECAR_HELD - 1) * sizeof s->held[0]);
        memmove(s->held_t, s->held_t + 1, (DW_SIDECAR_HELD - 1) * sizeof s->held_t[0]);
        s->nheld--;
        s->held_dropped++;
    }
    s->held[s->nheld] = doc;
    s->held_t[s->nheld++] = t;
    return true;
}

static void publish_mark(dw_sidecar *s)
{
    if (!s->mark_due || s->notified_until == INT64_MIN)
        return;
    char writer[17];
    snprintf(writer, sizeof writer, "%016llx", (unsigned long long)s->writer_id);
    json_t *m = json_pack("{s:i,s:s,s:I}", "driftwatch_mark", 1, "writer", writer, "notified_until",
                          (json_int_t)s->notified_until);
    char *text = json_dumps(m, JSON_COMPACT);
    if (text && dw_state_topic_publish(s->state, text, strlen(text), NULL, 0) == 0)
        s->mark_due = false;
    free(text);
    json_decref(m);
}

static void become_leader(dw_sidecar *s)
{
    s->leader = true;
    size_t sent = 0;
    for (size_t i = 0; i < s->nheld; i++) {
        if (s->held_t[i] > s->marked_until) {
            if (s->held_t[i] > s->notified_until)
                s->notified_until = s->held_t[i];
            dw_sc_submit(s, s->held[i]);
            sent++;
        } else {
            json_decref(s->held[i]);
        }
    }
    s->nheld = 0;
    if (sent)
        s->mark_due = true;
    dw_log(DW_LOG_INFO, "state",
           "this replica now sends notifications (it owns the first input partition); %zu "
           "document(s) the previous sender had not sent were sent",
           sent);
    publish_mark(s);
}

void dw_sc_state_pump(dw_sidecar *s)
{
    /* The loop calls this once per input message. At a hundred thousand
     * messages a second the reader's and the producer's polls (a lock and
     * a queue each) cost more CPU than the deltas themselves
     * (bench/results.md), so the work is done at most once a millisecond:
     * as prompt as deltas, marks and acknowledgements need, and an idle
     * loop comes back here every poll (at most 20 ms). */
    int64_t now = (int64_t)dw_now_ms();
    if (now == s->last_pump)
        return;
    s->last_pump = now;
    /* Other replicas' deltas and the leader's marks. */
    for (int i = 0; i < 4096; i++) {
        const void *buf;
        size_t len;
        if (dw_state_topic_read(s->state, 0, &buf, &len) != 1)
            break;
        on_state_msg(s, buf, len);
    }
    if (now - s->last_state_flush >= s->cfg->state.flush_interval_ms) {
        dw_engine_delta_flush(s->engine);
        s->last_state_flush = now;
    }
    if (s->leader)
        publish_mark(s);
    dw_state_topic_serve(s->state);
    if (now - s->last_lag_check >= 10000) {
        /* Behind on the log means our windows miss other replicas' counts. */
        s->last_lag_check = now;
        dw_state_stats st;
        dw_state_topic_stats(s->state, &st);
        if (st.lag > DW_SIDECAR_STATE_LAG_WARN)
            dw_log(DW_LOG_WARN, "state",
                   "%lld message(s) behind on state topic %s: windows lack other replicas' "
                   "latest counts",
                   (long long)st.lag, s->cfg->state.topic);
    }
}

static bool is_first_partition(const dw_sidecar *s, const char *topic, int32_t partition)
{
    return partition == 0 && s->cfg->kafka.ntopics && !strcmp(topic, s->cfg->kafka.topics[0]);
}

void dw_sc_state_assign(dw_sidecar *s, const char *topic, int32_t partition, bool assigned)
{
    if (!s->state)
        return;
    s->assign_caught_up = false; /* the next assignment catches up again */
    if (!assigned) {
        /* Publish what we counted for the partitions we give away and wait
         * for the broker, so their offsets are stored before the commit
         * and the next owner starts where our delta ends. */
        dw_engine_delta_flush(s->engine);
        if (dw_state_topic_flush(s->state, 10000) > 0)
            dw_log(DW_LOG_WARN, "state",
                   "state topic: deltas not acknowledged at revocation of %s [%d]; the next "
                   "owner may count some records again",
                   topic, (int)partition);
        if (s->leader && is_first_partition(s, topic, partition)) {
            publish_mark(s);
            dw_state_topic_flush(s->state, 5000);
            s->leader = false;
            dw_log(DW_LOG_INFO, "state", "this replica no longer sends notifications");
        }
        return;
    }
    if (is_first_partition(s, topic, partition) && !s->leader)
        become_leader(s);
}

int64_t dw_sc_state_start_offset(void *ctx, const char *topic, int32_t partition)
{
    dw_sidecar *s = ctx;
    if (!s->state)
        return -1;
    /* What the previous owner published for this partition is on the log
     * by now (it waits for its acknowledgements before giving it up).
     * Every partition of one assignment was handed over before it began,
     * so one catch-up serves them all: each costs a query of the log's end
     * that waits behind the reader's fetch (~50 ms), 1.2 s for 24
     * partitions (bench/results.md). The consumer asks for every start
     * offset of an assignment before it applies it, and dw_sc_state_assign()
     * then clears the flag for the next one. */
    if (!s->assign_caught_up) {
        if (catch_up(s, 30000) < 0)
            dw_log(DW_LOG_WARN, "state",
                   "state topic: not caught up before resuming %s [%d]; records may be "
                   "counted twice",
                   topic, (int)partition);
        else
            s->assign_caught_up = true;
    }
    int id = dw_engine_source(s->engine, topic, partition);
    if (id <= 0)
        return -1;
    int64_t off = dw_engine_source_resume(s->engine, id);
    if (off >= 0)
        dw_log(DW_LOG_INFO, "state", "%s [%d] resumes at offset %lld, where its last delta ends",
               topic, (int)partition, (long long)off);
    return off;
}

/* For /metrics and /api/v1/status, once a second. */
void dw_sc_state_publish(dw_sidecar *s)
{
    dw_state_stats st;
    dw_state_topic_stats(s->state, &st);
    dw_metrics_state ms = {
        .leader = s->leader,
        .lag = st.lag,
        .queued = st.produced > st.acked + st.failed ? st.produced - st.acked - st.failed : 0,
        .held = s->nheld,
        .held_dropped = s->held_dropped,
    };
    dw_http_publish_state(s->http, &ms);
}

void dw_sc_state_stop(dw_sidecar *s, int64_t budget_ms)
{
    if (!s->state)
        return;
    dw_engine_delta_flush(s->engine);
    if (s->leader)
        publish_mark(s);
    int left = dw_state_topic_flush(s->state, (int)(budget_ms > 0 ? budget_ms : 5000));
    if (left > 0)
        dw_log(DW_LOG_WARN, "state",
               "%d state message(s) not acknowledged at shutdown: their input is read again "
               "at the next start",
               left);
}

void dw_sc_state_free(dw_sidecar *s)
{
    for (size_t i = 0; i < s->nheld; i++)
        json_decref(s->held[i]);
    s->nheld = 0;
    dw_state_topic_free(s->state, 0);
    s->state = NULL;
}

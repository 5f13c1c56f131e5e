#include "driftwatch/http.h"
#include "driftwatch/http_compare.h"

#include "driftwatch/dynbuf.h"
#include "driftwatch/error.h"
#include "driftwatch/log.h"
#include "driftwatch/timestamp.h"
#include "driftwatch/metrics.h"
#include "driftwatch/ui.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef DW_VERSION
#define DW_VERSION "unknown"
#endif

/* One accepted connection, as the admission policy sees it. */
typedef struct conn_slot {
    int fd;               /* -1: free */
    unsigned char ip[16]; /* client address (IPv4 in the first 4 bytes) */
    uint8_t iplen;        /* 4 or 16; 0: unknown (not limited per address) */
    uint64_t accepted_ms; /* dw_now_ms() at accept */
    bool requested;       /* its request arrived whole: it is being answered */
    bool evicted;         /* shut down here; libmicrohttpd has not closed it yet */
} conn_slot;

/* Slots libmicrohttpd may hold: the live ones plus those shut down and
 * not yet closed by its next loop. */
#define CONN_SLOTS (2 * DW_HTTP_MAX_CONNECTIONS)

struct dw_http {
    struct MHD_Daemon *daemon;
    dw_engine *engine;
    char *version;
    uint16_t port;
    int64_t liveness_ms;
    uint64_t heartbeat_ms;   /* dw_now_ms() of the last progress; atomic */
    int ready;               /* atomic */
    uint64_t series_dropped; /* running total for /metrics; atomic */

    pthread_mutex_t lock;  /* guards what follows */
    dw_notifier *notifier; /* swapped by a reload (dw_http_set_notifier) */
    char *not_ready_reason;
    dw_partition_lag *lag;      /* DW_HTTP_MAX_PARTITIONS entries */
    dw_partition_lag *lag_next; /* the publisher's scratch, filled outside the lock */
    size_t nlag;
    bool have_consumer; /* dw_http_publish_lag() was called at least once */
    dw_dead_letter_stats dead_letter;
    bool have_dead_letter; /* dw_http_publish_dead_letter() was called */
    dw_metrics_state state;
    bool have_state;       /* dw_http_publish_state() was called */
    dw_kafka_health kafka; /* with have_consumer */
    dw_metrics_reload reload;

    /* Connection admission: used only by libmicrohttpd's one thread (its
     * callbacks and the handler); the counters are atomic for /metrics. */
    conn_slot conns[CONN_SLOTS];
    uint64_t nopen, closed_timeout, closed_capacity, refused; /* atomic */
    uint64_t too_large; /* request bodies answered 413; atomic */
};

/* ---- state published by other threads ---- */

void dw_http_heartbeat(dw_http *h)
{
    if (h)
        __atomic_store_n(&h->heartbeat_ms, dw_now_ms(), __ATOMIC_RELAXED);
}

void dw_http_config_loaded(dw_http *h, bool ok)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->reload.last_successful = ok;
    if (ok)
        h->reload.success_time = (double)dw_wall_ms() / 1000.0;
    pthread_mutex_unlock(&h->lock);
}

void dw_http_set_ready(dw_http *h, bool ready, const char *reason)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    free(h->not_ready_reason);
    h->not_ready_reason = reason ? dw_strdup(reason) : NULL;
    __atomic_store_n(&h->ready, ready ? 1 : 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&h->lock);
}

void dw_http_publish_lag(dw_http *h, dw_consumer *c)
{
    if (!h || !c)
        return;
    /* dw_consumer_lag() may ask a broker (paused partitions): outside the
     * lock, so a scrape or a probe never waits for the network. */
    size_t n = dw_consumer_lag(c, h->lag_next, DW_HTTP_MAX_PARTITIONS);
    pthread_mutex_lock(&h->lock);
    dw_partition_lag *t = h->lag;
    h->lag = h->lag_next;
    h->lag_next = t;
    h->nlag = n;
    h->have_consumer = true;
    dw_consumer_health(c, &h->kafka);
    pthread_mutex_unlock(&h->lock);
}

void dw_http_publish_dead_letter(dw_http *h, const dw_dead_letter_stats *st)
{
    if (!h || !st)
        return;
    pthread_mutex_lock(&h->lock);
    h->dead_letter = *st;
    h->have_dead_letter = true;
    pthread_mutex_unlock(&h->lock);
}

void dw_http_publish_state(dw_http *h, const dw_metrics_state *st)
{
    if (!h || !st)
        return;
    pthread_mutex_lock(&h->lock);
    h->state = *st;
    h->have_state = true;
    pthread_mutex_unlock(&h->lock);
}

void dw_http_set_notifier(dw_http *h, dw_notifier *n)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->notifier = n;
    pthread_mutex_unlock(&h->lock);
}

uint16_t dw_http_port(const dw_http *h)
{
    return h->port;
}

/* Milliseconds since the consumer loop last made progress. */
static uint64_t progress_age(const dw_http *h)
{
    uint64_t hb = __atomic_load_n(&h->heartbeat_ms, __ATOMIC_RELAXED);
    uint64_t now = dw_now_ms();
    return now > hb ? now - hb : 0;
}

static bool is_live(const dw_http *h)
{
    return progress_age(h) <= (uint64_t)h->liveness_ms;
}

/* A copy of the lag table, so the renderers run without the lock. */
static dw_partition_lag *copy_lag(dw_http *h, size_t *n, bool *have_consumer)
{
    pthread_mutex_lock(&h->lock);
    dw_partition_lag *out = dw_malloc((h->nlag + 1) * sizeof *out);
    memcpy(out, h->lag, h->nlag * sizeof *out);
    *n = h->nlag;
    *have_consumer = h->have_consumer;
    pthread_mutex_unlock(&h->lock);
    return out;
}

/* The sinks' counters. Names are copied: the notifier they belong to may
 * be replaced by a reload as soon as the lock is released. */
static dw_metrics_sink *collect_sinks(dw_http *h, size_t *n)
{
    pthread_mutex_lock(&h->lock);
    size_t cnt = h->notifier ? dw_notifier_sink_count(h->notifier) : 0;
    dw_metrics_sink *s = dw_calloc(cnt + 1, sizeof *s);
    size_t k = 0;
    for (size_t i = 0; i < cnt; i++) {
        if (dw_notifier_stats(h->notifier, i, &s[k].stats) < 0)
            continue;
        s[k].name = dw_strdup(dw_notifier_sink_name(h->notifier, i));
        s[k].outbox_depth = s[k].stats.outbox_depth;
        k++;
    }
    pthread_mutex_unlock(&h->lock);
    *n = k;
    return s;
}

static void free_sinks(dw_metrics_sink *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free((char *)s[i].name);
    free(s);
}

/* ---- documents ---- */

static json_t *jcount(uint64_t v)
{
    return json_integer((json_int_t)v);
}

/* Messages behind the high watermarks, over the partitions whose lag is
 * known. */
static int64_t lag_total(const dw_partition_lag *lag, size_t n)
{
    int64_t total = 0;
    for (size_t i = 0; i < n; i++)
        if (lag[i].lag > 0)
            total += lag[i].lag;
    return total;
}

json_t *dw_http_status(dw_http *h)
{
    json_t *doc = dw_engine_snapshot(h->engine);
    json_object_set_new(doc, "driftwatch", json_pack("{s:s}", "version", h->version));

    uint64_t age = progress_age(h);
    json_object_set_new(doc, "health",
                        json_pack("{s:b,s:b,s:f}", "live", age <= (uint64_t)h->liveness_ms, "ready",
                                  __atomic_load_n(&h->ready, __ATOMIC_RELAXED) != 0,
                                  "last_progress_seconds", (double)age / 1000.0));

    dw_engine_stats st;
    dw_engine_stats_get(h->engine, &st);
    json_t *rej = json_object();
    for (int r = 0; r < DW_REJECT_MAX; r++)
        json_object_set_new(rej, dw_reject_reason_name((dw_reject_reason)r),
                            jcount(st.rejected[r]));
    json_object_set_new(
        doc, "counters",
        json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "messages", jcount(st.messages), "records",
                  jcount(st.records), "applied", jcount(st.applied), "rejected", rej,
                  "wrong_type_fields", jcount(st.wrong_type_fields), "evaluations",
                  jcount(st.evaluations), "notifications", jcount(st.notifications)));

    size_t nlag;
    bool have_consumer;
    dw_partition_lag *lag = copy_lag(h, &nlag, &have_consumer);
    if (have_consumer) {
        json_t *parts = json_array();
        int npaused = 0;
        for (size_t i = 0; i < nlag; i++) {
            const dw_partition_lag *p = &lag[i];
            npaused += p->paused;
            json_array_append_new(
                parts,
                json_pack("{s:s,s:i,s:o,s:o,s:o,s:b,s:b}", "topic", p->topic, "partition",
                          (int)p->partition, "position",
                          p->position >= 0 ? json_integer(p->position) : json_null(),
                          "high_watermark",
                          p->high_watermark >= 0 ? json_integer(p->high_watermark) : json_null(),
                          "lag", p->lag >= 0 ? json_integer(p->lag) : json_null(), "paused",
                          p->paused, "lost", p->lost));
        }
        json_object_set_new(doc, "consumer",
                            json_pack("{s:o,s:I,s:i}", "partitions", parts, "lag_total",
                                      (json_int_t)lag_total(lag, nlag), "paused_partitions",
                                      npaused));
    } else {
        json_object_set_new(doc, "consumer", json_null());
    }
    free(lag);

    pthread_mutex_lock(&h->lock);
    dw_metrics_state ms = h->state;
    bool have_state = h->have_state;
    dw_kafka_health kh = h->kafka;
    bool have_kafka = h->have_consumer;
    pthread_mutex_unlock(&h->lock);
    if (have_kafka) {
        char last[40] = "";
        if (kh.last_message_ms > 0)
            dw_ts_format(kh.last_message_ms, last, sizeof last);
        json_object_set_new(
            doc, "kafka",
            json_pack("{s:o,s:i,s:o}", "brokers_up",
                      kh.brokers_up >= 0 ? json_integer(kh.brokers_up) : json_null(),
                      "brokers_known", kh.brokers_known, "last_message",
                      *last ? json_string(last) : json_null()));
    } else {
        json_object_set_new(doc, "kafka", json_null());
    }
    if (have_state)
        json_object_set_new(doc, "state",
                            json_pack("{s:b,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o}", "leader", ms.leader,
                                      "lag", (json_int_t)ms.lag, "queued", (json_int_t)ms.queued,
                                      "deltas_written", jcount(st.deltas_out), "deltas_merged",
                                      jcount(st.deltas_in), "records_merged",
                                      jcount(st.delta_records_in), "duplicates",
                                      jcount(st.delta_duplicates), "late", jcount(st.delta_late),
                                      "documents_held", jcount(ms.held)));
    else
        json_object_set_new(doc, "state", json_null());

    size_t nsinks;
    dw_metrics_sink *sinks = collect_sinks(h, &nsinks);
    json_t *sa = json_array();
    for (size_t i = 0; i < nsinks; i++) {
        const dw_sink_stats *ss = &sinks[i].stats;
        json_array_append_new(
            sa, json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o}", "name", sinks[i].name, "sent",
                          jcount(ss->sent), "retried", jcount(ss->retried), "failed",
                          jcount(ss->failed), "dropped", jcount(ss->dropped), "queued",
                          jcount(ss->queued), "outbox_depth", jcount(sinks[i].outbox_depth)));
    }
    free_sinks(sinks, nsinks);
    json_object_set_new(doc, "sinks", sa);
    return doc;
}

static char *render_metrics(dw_http *h, size_t *len)
{
    dw_engine_stats st;
    dw_engine_stats_get(h->engine, &st);
    dw_status *status = dw_engine_status(h->engine);
    size_t nlag, nsinks;
    bool have_consumer;
    dw_partition_lag *lag = copy_lag(h, &nlag, &have_consumer);
    dw_metrics_sink *sinks = collect_sinks(h, &nsinks);
    dw_metrics_http hs = {
        .open = __atomic_load_n(&h->nopen, __ATOMIC_RELAXED),
        .closed_timeout = __atomic_load_n(&h->closed_timeout, __ATOMIC_RELAXED),
        .closed_capacity = __atomic_load_n(&h->closed_capacity, __ATOMIC_RELAXED),
        .refused = __atomic_load_n(&h->refused, __ATOMIC_RELAXED),
        .too_large = __atomic_load_n(&h->too_large, __ATOMIC_RELAXED),
    };
    pthread_mutex_lock(&h->lock);
    dw_dead_letter_stats dl = h->dead_letter;
    bool have_dl = h->have_dead_letter;
    dw_metrics_reload reload = h->reload;
    dw_metrics_state sst = h->state;
    bool have_state = h->have_state;
    dw_kafka_health kh = h->kafka;
    bool have_kafka = h->have_consumer;
    pthread_mutex_unlock(&h->lock);
    dw_process_stats proc;
    bool have_proc = dw_process_stats_read(&proc) == 0;
    dw_metrics_input in = {
        .version = h->version,
        .up = is_live(h),
        .stats = &st,
        .status = status,
        .lag = lag,
        .nlag = nlag,
        .have_consumer = have_consumer,
        .sinks = sinks,
        .nsinks = nsinks,
        .series_dropped_before = __atomic_load_n(&h->series_dropped, __ATOMIC_RELAXED),
        .http = &hs,
        .dead_letter = have_dl ? &dl : NULL,
        .reload = &reload,
        .process = have_proc ? &proc : NULL,
        .state = have_state ? &sst : NULL,
        .kafka = have_kafka ? &kh : NULL,
    };
    uint64_t dropped = 0;
    char *text = dw_metrics_render(&in, len, &dropped);
    if (dropped)
        __atomic_fetch_add(&h->series_dropped, dropped, __ATOMIC_RELAXED);
    dw_status_release(status);
    free(lag);
    free_sinks(sinks, nsinks);
    return text;
}

static char *render_ui(dw_http *h, const char *window, size_t *len)
{
    dw_engine_stats st;
    dw_engine_stats_get(h->engine, &st);
    dw_ui_header hd = {
        .version = h->version,
        .have_health = true,
        .live = is_live(h),
        .have_counters = true,
        .applied = st.applied,
    };
    for (int r = 0; r < DW_REJECT_MAX; r++)
        hd.rejected += st.rejected[r];
    size_t nlag;
    dw_partition_lag *lag = copy_lag(h, &nlag, &hd.have_lag);
    hd.lag_total = lag_total(lag, nlag);
    free(lag);
    dw_status *status = dw_engine_status(h->engine);
    char *html = dw_ui_render(status, &hd, window, len);
    dw_status_release(status);
    return html;
}

/* ---- request handling ---- */

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, char *body, size_t len,
                               const char *ctype)
{
    /* body was malloc()ed (open_memstream, json_dumps with jansson's
     * default allocator, or strdup); MHD frees it after sending. */
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    /* One request per connection: a kept-alive connection would wait for
     * its next request in a slot the admission policy cannot tell from a
     * slow client's (probes and scrapers reconnect anyway). */
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    if (ctype[5] == 'h') /* text/html: the page loads nothing from anywhere */
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result respond_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    char *b = dw_strdup(text);
    return respond(conn, status, b, strlen(b), "text/plain; charset=utf-8");
}

/* ---- connection admission ----
 *
 * A slow client (slow-loris: a request trickled a byte at a time) must not
 * hold the server's capacity, or /healthz stops answering and the kubelet
 * restarts a healthy sidecar. libmicrohttpd's own timeout is one of
 * inactivity, which a trickle resets, and its limits refuse the newest
 * connection, which is the probe. So admission is decided here, when a
 * connection is accepted:
 *   - a connection that has not sent its whole request within
 *     DW_HTTP_REQUEST_TIMEOUT_MS is closed;
 *   - at DW_HTTP_MAX_CONNECTIONS, or DW_HTTP_MAX_PER_IP from the new
 *     connection's address, the oldest connection still waiting for its
 *     request (from that address, for the per-address limit) is closed to
 *     make room; only when every held connection is being answered is the
 *     new one refused.
 * A probe sends its request as soon as it connects, so it is answered
 * while any number of slow clients come and go. Everything here runs on
 * libmicrohttpd's one polling thread (its callbacks and the handler), which
 * also closes the sockets, so a socket shut down here cannot have been
 * closed and its number reused in between. */

static void conn_close(dw_http *h, conn_slot *c, uint64_t *counter)
{
    shutdown(c->fd, SHUT_RDWR); /* libmicrohttpd sees the end and closes it */
    c->evicted = true;
    __atomic_fetch_sub(&h->nopen, 1, __ATOMIC_RELAXED);
    if (counter)
        __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

static bool same_ip(const conn_slot *c, const unsigned char *ip, uint8_t iplen)
{
    return iplen && c->iplen == iplen && !memcmp(c->ip, ip, iplen);
}

/* The oldest live connection still waiting for its request, from ip when
 * iplen is not 0, or NULL. */
static conn_slot *oldest_waiting(dw_http *h, const unsigned char *ip, uint8_t iplen)
{
    conn_slot *best = NULL;
    for (size_t i = 0; i < CONN_SLOTS; i++) {
        conn_slot *c = &h->conns[i];
        if (c->fd < 0 || c->evicted || c->requested || (iplen && !same_ip(c, ip, iplen)))
            continue;
        if (!best || c->accepted_ms < best->accepted_ms)
            best = c;
    }
    return best;
}

static conn_slot *conn_admit(dw_http *h, int fd, const struct sockaddr *sa)
{
    unsigned char ip[16];
    uint8_t iplen = 0;
    if (sa && sa->sa_family == AF_INET) {
        memcpy(ip, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        iplen = 4;
    } else if (sa && sa->sa_family == AF_INET6) {
        memcpy(ip, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        iplen = 16;
    }
    uint64_t now = dw_now_ms();
    size_t total = 0, from_ip = 0;
    conn_slot *free_slot = NULL;
    for (size_t i = 0; i < CONN_SLOTS; i++) {
        conn_slot *c = &h->conns[i];
        if (c->fd < 0) {
            if (!free_slot)
                free_slot = c;
            continue;
        }
        if (c->evicted)
            continue;
        if (!c->requested && now - c->accepted_ms > DW_HTTP_REQUEST_TIMEOUT_MS) {
            conn_close(h, c, &h->closed_timeout);
            continue;
        }
        total++;
        from_ip += same_ip(c, ip, iplen);
    }
    while (free_slot && (total >= DW_HTTP_MAX_CONNECTIONS || from_ip >= DW_HTTP_MAX_PER_IP)) {
        bool per_ip = from_ip >= DW_HTTP_MAX_PER_IP;
        conn_slot *victim = oldest_waiting(h, ip, per_ip ? iplen : 0);
        if (!victim)
            break;
        conn_close(h, victim, &h->closed_capacity);
        total--;
        from_ip -= per_ip || same_ip(victim, ip, iplen);
    }
    if (!free_slot || total >= DW_HTTP_MAX_CONNECTIONS || from_ip >= DW_HTTP_MAX_PER_IP) {
        shutdown(fd, SHUT_RDWR);
        __atomic_fetch_add(&h->refused, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    memset(free_slot, 0, sizeof *free_slot);
    free_slot->fd = fd;
    memcpy(free_slot->ip, ip, iplen);
    free_slot->iplen = iplen;
    free_slot->accepted_ms = now;
    __atomic_fetch_add(&h->nopen, 1, __ATOMIC_RELAXED);
    return free_slot;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    dw_http *h = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fd =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *addr =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        *socket_context =
            fd ? conn_admit(h, (int)fd->connect_fd, addr ? addr->client_addr : NULL) : NULL;
        return;
    }
    conn_slot *c = *socket_context;
    if (!c)
        return;
    if (!c->evicted)
        __atomic_fetch_sub(&h->nopen, 1, __ATOMIC_RELAXED);
    c->fd = -1;
    *socket_context = NULL;
}

/* The handler runs once the request line and headers are in. */
static void mark_requested(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_slot *c = ci ? ci->socket_context : NULL;
    if (c)
        c->requested = true;
}

static const char INDEX[] =
    "driftwatch\n"
    "\n"
    "/healthz        liveness: the consumer loop makes progress\n"
    "/readyz         readiness: configuration and references loaded\n"
    "/metrics        Prometheus metrics\n"
    "/api/v1/status  status document (JSON)\n"
    "/api/v1/compare canary verdict: ?model=&candidate=[&baseline=&window=]\n"
    "                (POST: a Flagger webhook, 200 pass / 412 not)\n"
    "/ui             status page\n";

/* Answers with body (a reference taken over) as indented JSON. */
static enum MHD_Result respond_json(struct MHD_Connection *conn, unsigned code, json_t *body)
{
    char *text = json_dumps(body, JSON_INDENT(2));
    json_decref(body);
    if (!text) {
        fputs("driftwatch: out of memory (compare document)\n", stderr);
        abort();
    }
    return respond(conn, code, text, strlen(text), "application/json");
}

static enum MHD_Result handle_compare(dw_http *h, struct MHD_Connection *conn)
{
#define ARG(k) MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, k)
    const char *cols = ARG("columns");
    dw_compare_query q = {.model = ARG("model"),
                          .candidate = ARG("candidate"),
                          .baseline = ARG("baseline"),
                          .window = ARG("window"),
                          .all_columns = cols && !strcmp(cols, "all")};
#undef ARG
    dw_status *st = dw_engine_status(h->engine);
    json_t *body;
    unsigned code = dw_compare_answer(st, &q, &body);
    dw_status_release(st);
    return respond_json(conn, code, body);
}

#ifndef MHD_HTTP_CONTENT_TOO_LARGE /* libmicrohttpd before 0.9.74 */
#define MHD_HTTP_CONTENT_TOO_LARGE 413
#endif

/* POST /api/v1/compare (a Flagger webhook): libmicrohttpd calls once
 * without data, then with each piece of the body, then once more without;
 * the body collects in *con_cls (freed by request_completed()), at most
 * DW_COMPARE_MAX_BODY bytes. The connection counts as requested only once
 * the body is in, so a client sending it slowly is closed like one
 * sending its headers slowly. */
static enum MHD_Result handle_compare_post(dw_http *h, struct MHD_Connection *conn,
                                           const char *upload_data, size_t *upload_data_size,
                                           void **con_cls)
{
    dw_dynbuf *b = *con_cls;
    if (!b) {
        b = dw_malloc(sizeof *b);
        dw_dynbuf_init(b, DW_COMPARE_MAX_BODY);
        *con_cls = b;
        return MHD_YES;
    }
    if (*upload_data_size) {
        /* Beyond the limit the rest is dropped (b->cut) and answered 413. */
        (void)dw_dynbuf_add(b, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    mark_requested(conn);
    if (b->cut) {
        __atomic_fetch_add(&h->too_large, 1, __ATOMIC_RELAXED);
        return respond_text(conn, MHD_HTTP_CONTENT_TOO_LARGE,
                            "request body too large for /api/v1/compare\n");
    }
    dw_status *st = dw_engine_status(h->engine);
    json_t *body;
    unsigned code = dw_compare_webhook_answer(st, dw_dynbuf_str(b), b->len, &body);
    dw_status_release(st);
    return respond_json(conn, code, body);
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    dw_dynbuf *b = *con_cls;
    if (b) {
        dw_dynbuf_free(b);
        free(b);
        *con_cls = NULL;
    }
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    dw_http *h = cls;
    (void)version;
    if (!strcmp(method, MHD_HTTP_METHOD_POST) && !strcmp(url, "/api/v1/compare"))
        return handle_compare_post(h, conn, upload_data, upload_data_size, con_cls);
    mark_requested(conn);
    dw_log(DW_LOG_DEBUG, "http", "%s %s", method, url);
    if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
        return respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                            "method not allowed: only GET and HEAD\n");
    if (!strcmp(url, "/healthz")) {
        uint64_t age = progress_age(h);
        if (age <= (uint64_t)h->liveness_ms)
            return respond_text(conn, MHD_HTTP_OK, "ok\n");
        char msg[160];
        snprintf(msg, sizeof msg, "consumer loop made no progress for %llu s (limit %lld s)\n",
                 (unsigned long long)(age / 1000), (long long)(h->liveness_ms / 1000));
        return respond_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
    }
    if (!strcmp(url, "/readyz")) {
        char msg[320];
        pthread_mutex_lock(&h->lock);
        bool ready = __atomic_load_n(&h->ready, __ATOMIC_RELAXED) != 0;
        snprintf(msg, sizeof msg, "%s\n",
                 ready                 ? "ready"
                 : h->not_ready_reason ? h->not_ready_reason
                                       : "not ready");
        pthread_mutex_unlock(&h->lock);
        return respond_text(conn, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, msg);
    }
    if (!strcmp(url, "/metrics")) {
        size_t len;
        char *text = render_metrics(h, &len);
        return respond(conn, MHD_HTTP_OK, text, len, "text/plain; version=0.0.4; charset=utf-8");
    }
    if (!strcmp(url, "/api/v1/status")) {
        json_t *doc = dw_http_status(h);
        char *text = json_dumps(doc, JSON_INDENT(2));
        json_decref(doc);
        if (!text) {
            fputs("driftwatch: out of memory (status document)\n", stderr);
            abort();
        }
        size_t len = strlen(text);
        return respond(conn, MHD_HTTP_OK, text, len, "application/json");
    }
    if (!strcmp(url, "/api/v1/compare"))
        return handle_compare(h, conn);
    if (!strcmp(url, "/ui") || !strcmp(url, "/ui/")) {
        const char *win = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "window");
        size_t len;
        char *html = render_ui(h, win, &len);
        return respond(conn, MHD_HTTP_OK, html, len, "text/html; charset=utf-8");
    }
    if (!strcmp(url, "/"))
        return respond_text(conn, MHD_HTTP_OK, INDEX);
    return respond_text(conn, MHD_HTTP_NOT_FOUND, "not found: see / for the endpoints\n");
}

/* libmicrohttpd's messages (printf-style format from the library). */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = 0;
    dw_log(DW_LOG_WARN, "http", "%s", msg);
}

/* ---- start and stop ---- */

/* Binds the listening socket ourselves (rather than letting MHD do it) so
 * a failure says exactly why: "address already in use", "cannot assign
 * requested address". */
static int listen_socket(const char *host, uint16_t port, int *fd_out, int *family, char *errbuf,
                         size_t errlen)
{
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char ps[8];
    snprintf(ps, sizeof ps, "%u", (unsigned)port);
    int g = getaddrinfo(host, ps, &hints, &ai);
    if (g != 0)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "http.listen: host \"%s\": %s", host,
                         gai_strerror(g));
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    int rc = 0;
    if (fd < 0) {
        rc = dw_seterr(errbuf, errlen, DW_ERR_IO, "http.listen: socket: %s", strerror(errno));
        goto out;
    }
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    /* The backlog holds a burst of connections while the polling thread
     * admits them (the kernel caps it at net.core.somaxconn). */
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, CONN_SLOTS) < 0) {
        rc = dw_seterr(errbuf, errlen, DW_ERR_IO, "http.listen: cannot listen on %s:%u: %s", host,
                       (unsigned)port, strerror(errno));
        close(fd);
        goto out;
    }
    *fd_out = fd;
    *family = ai->ai_family;
out:
    freeaddrinfo(ai);
    return rc;
}

static void write_port_file(uint16_t port)
{
    const char *path = getenv(DW_HTTP_PORT_FILE_ENV);
    if (!path || !*path)
        return;
    size_t n = strlen(path) + 8;
    char *tmp = dw_malloc(n);
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    bool ok = f && fprintf(f, "%u\n", (unsigned)port) > 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok || rename(tmp, path) != 0)
        dw_log(DW_LOG_WARN, "http", "%s=%s: cannot write the port file: %s", DW_HTTP_PORT_FILE_ENV,
               path, strerror(errno));
    free(tmp);
}

int dw_http_start(const dw_http_options *opts, dw_http **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (!opts || !opts->engine)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "http: no engine to serve");
    const char *host = opts->host && *opts->host ? opts->host : "0.0.0.0";
    int fd = -1, family = AF_INET;
    int rc = listen_socket(host, opts->port, &fd, &family, errbuf, errlen);
    if (rc < 0)
        return rc;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    uint16_t port = opts->port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);

    dw_http *h = dw_calloc(1, sizeof *h);
    h->engine = opts->engine;
    h->notifier = opts->notifier;
    h->version = dw_strdup(opts->version ? opts->version : DW_VERSION);
    h->port = port;
    h->liveness_ms = DW_HTTP_LIVENESS_MS;
    if (3 * opts->poll_timeout_ms > h->liveness_ms)
        h->liveness_ms = 3 * opts->poll_timeout_ms;
    h->heartbeat_ms = dw_now_ms();
    h->ready = 1;
    /* The server starts after the configuration loaded. */
    h->reload.last_successful = true;
    h->reload.success_time = (double)dw_wall_ms() / 1000.0;
    h->lag = dw_calloc(DW_HTTP_MAX_PARTITIONS, sizeof *h->lag);
    h->lag_next = dw_calloc(DW_HTTP_MAX_PARTITIONS, sizeof *h->lag_next);
    for (size_t i = 0; i < CONN_SLOTS; i++)
        h->conns[i].fd = -1;
    pthread_mutex_init(&h->lock, NULL);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->daemon = MHD_start_daemon(
        flags, port, NULL, NULL, handle, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONN_SLOTS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)DW_HTTP_TIMEOUT_S, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, h, MHD_OPTION_NOTIFY_COMPLETED, request_completed, h, MHD_OPTION_END);
    if (!h->daemon) {
        close(fd);
        dw_http_stop(h);
        return dw_seterr(errbuf, errlen, DW_ERR_IO,
                         "http.listen: cannot start the HTTP server on %s:%u (see the log)", host,
                         (unsigned)port);
    }
    dw_log(DW_LOG_INFO, "http", "listening on %s%s%s:%u", family == AF_INET6 ? "[" : "", host,
           family == AF_INET6 ? "]" : "", (unsigned)port);
    write_port_file(port);
    *out = h;
    return 0;
}

void dw_http_stop(dw_http *h)
{
    if (!h)
        return;
    if (h->daemon)
        MHD_stop_daemon(h->daemon); /* closes the listening socket too */
    pthread_mutex_destroy(&h->lock);
    free(h->not_ready_reason);
    free(h->lag);
    free(h->lag_next);
    free(h->version);
    free(h);
}

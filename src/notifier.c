/* Alert delivery: per-sink bounded queues, one notifier thread driving
 * libcurl's multi interface, the retry policy, and the sink registry and
 * helpers shared by every sink type.
 *
 * Threads: the caller's thread only touches the queues (under n->lock) and
 * wakes the notifier thread with curl_multi_wakeup(). Everything else about
 * a delivery (the current document, the curl handle, the retry schedule) is
 * owned by the notifier thread. Each json_t document belongs to exactly one
 * queue slot or one in-flight delivery at a time (submit deep-copies it for
 * the second and later sinks), so no document is shared between threads. */
#include "driftwatch/notifier.h"

#include "driftwatch/error.h"
#include "driftwatch/log.h"
#include "driftwatch/outbox.h"
#include "driftwatch/timestamp.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MOD "notifier"

/* Bytes of a refused response body written to the log. */
#define LOG_BODY_MAX 512
/* Longest the thread sleeps with nothing to do; a wakeup cuts it short. */
#define IDLE_POLL_MS 1000
/* How often a sink whose outbox directory is locked by someone else (the
 * notifier being replaced at a reload, another driftwatch on the same
 * state_dir) tries again to take it over and load what is left in it. */
#define OUTBOX_RETRY_MS 1000

/* Delivered ids remembered per sink for deduplication (sink.recent_ids). */
#define RECENT_IDS 64

/* ------------------------------------------------------------------ */
/* Bounded document queue (a ring; guarded by dw_notifier.lock)        */

/* A queued document and the name of its outbox file (NULL without an
 * outbox, or when writing the file failed). */
typedef struct qitem {
    json_t *doc;
    char *file;
} qitem;

typedef struct doc_queue {
    qitem *items;
    size_t cap, head, len;
} doc_queue;

/* Appends it; when full, removes and returns the oldest (else a NULL doc). */
static qitem queue_push(doc_queue *q, qitem it)
{
    qitem dropped = {0};
    if (q->len == q->cap) {
        dropped = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
    }
    q->items[(q->head + q->len) % q->cap] = it;
    q->len++;
    return dropped;
}

/* Puts it before everything queued (an older document loaded from the
 * outbox). The caller checks that there is room. */
static void queue_push_front(doc_queue *q, qitem it)
{
    q->head = (q->head + q->cap - 1) % q->cap;
    q->items[q->head] = it;
    q->len++;
}

static qitem queue_pop(doc_queue *q)
{
    qitem it = {0};
    if (!q->len)
        return it;
    it = q->items[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    return it;
}

static const char *doc_id(const json_t *doc)
{
    return json_string_value(json_object_get((json_t *)doc, "id"));
}

/* ------------------------------------------------------------------ */
/* The notifier                                                        */

typedef enum sink_state { SINK_IDLE, SINK_WAITING, SINK_ACTIVE } sink_state;

typedef struct sink {
    dw_sink_spec spec; /* points into the owned copies below */
    char *name, *type_name, *url;
    dw_sink_kv *headers, *options;                            /* keys and values owned */
    char **filter_models, **filter_columns, *filter_severity; /* owned */
    const dw_sink_ops *type;

    doc_queue q;  /* under lock */
    bool busy;    /* under lock: cur is set */
    char *cur_id; /* under lock: the id of cur (for deduplication), or NULL */
    /* Under lock: ids of the last RECENT_IDS documents delivered, a ring
     * (next: the slot to reuse). A document that comes again after its
     * delivery (an evaluation replayed after a restart, while the outbox
     * copy of its first emission was already sent) is not sent twice. */
    char *recent_ids[RECENT_IDS];
    size_t recent_next;

    /* Set up before the thread starts, then: put from any thread, load and
     * remove on the notifier thread. NULL without an outbox. */
    dw_outbox *ob;
    bool ob_loaded;          /* notifier thread: leftovers loaded (or none) */
    uint64_t ob_next_try_ms; /* notifier thread: next try to take the lock */
    dw_ratelimit ob_rl;      /* outbox write errors in the log */

    /* Notifier thread only. */
    sink_state state;
    json_t *cur;
    char *cur_file;        /* cur's outbox file, or NULL */
    unsigned attempt;      /* failed tries of cur so far */
    uint64_t next_at_ms;   /* monotonic time of the next try */
    uint64_t last_done_ms; /* end of the last attempt, for min_interval_ms */
    bool started_once;
    CURL *easy;
    struct curl_slist *slist;
    dw_http_request req;
    char resp[DW_SINK_RESPONSE_MAX + 1];
    size_t resp_len;
    char retry_after[128];
    char curl_err[CURL_ERROR_SIZE];
    dw_breaker br;

    _Atomic uint64_t submitted, sent, retried, failed, dropped, skipped, queued;
    _Atomic uint64_t recovered, deduplicated, outbox_depth, outbox_errors, circuit_open;
    /* Monotonic ms until which the circuit stays open, 0 when it is not
     * open: dw_notifier_drain() stops waiting for a sink parked past its
     * budget. */
    _Atomic int64_t open_until_ms;
} sink;

struct dw_notifier {
    sink *sinks;
    size_t n;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* signalled when a delivery finishes */
    pthread_t thread;
    bool thread_started;
    bool stop;      /* under lock */
    bool paused;    /* under lock */
    size_t pending; /* under lock: queued + in flight, all sinks */
    CURLM *multi;
    uint64_t rng; /* notifier thread only */
    dw_notifier_options opts;
};

#define INC(x) atomic_fetch_add_explicit(&(x), 1, memory_order_relaxed)
#define DEC(x) atomic_fetch_sub_explicit(&(x), 1, memory_order_relaxed)
#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* Removes an outbox file whose document is done (delivered, given up,
 * skipped, dropped or a duplicate); frees the name. */
static void outbox_discard(sink *s, char *file, bool in_depth)
{
    if (!file)
        return;
    /* The document is done either way, so depth (the documents whose file
     * is pending) goes down even when the file could not be removed. */
    if (in_depth)
        DEC(s->outbox_depth);
    if (dw_outbox_remove(s->ob, file) != 0)
        dw_log_ratelimited(&s->ob_rl, DW_LOG_ERROR, MOD,
                           "sink \"%s\": could not remove %s/%s; it will be sent again after "
                           "a restart",
                           s->name, dw_outbox_dir(s->ob), file);
    free(file);
}

/* cur is done: delivered, given up or skipped (never because of a
 * shutdown: dw_notifier_free() abandons cur without coming here, so its
 * outbox file stays). */
static void finish(dw_notifier *n, sink *s)
{
    json_decref(s->cur);
    s->cur = NULL;
    outbox_discard(s, s->cur_file, true);
    s->cur_file = NULL;
    s->state = SINK_IDLE;
    s->attempt = 0;
    dw_http_request_clear(&s->req);
    DEC(s->queued);
    pthread_mutex_lock(&n->lock);
    s->busy = false;
    free(s->cur_id);
    s->cur_id = NULL;
    n->pending--;
    pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->lock);
}

/* Feeds one attempt's outcome to the sink's circuit breaker and logs a
 * change of state once. */
static void breaker_update(dw_notifier *n, sink *s, dw_delivery d, long status, const char *why)
{
    dw_breaker_state before = s->br.state;
    int64_t now = (int64_t)dw_now_ms();
    dw_breaker_state after = dw_breaker_record(&s->br, dw_breaker_is_failure(d, status), now);
    if (after == before && after != DW_BREAKER_OPEN)
        return;
    if (after == DW_BREAKER_OPEN && before != DW_BREAKER_OPEN) {
        if (before == DW_BREAKER_CLOSED)
            dw_log(DW_LOG_WARN, MOD,
                   "sink \"%s\": circuit open for %.3g s after %u consecutive failed attempts "
                   "(last: %s); notifications wait in the queue",
                   s->name, (double)s->br.open_ms / 1000.0, s->br.failures, why);
        else
            dw_log(DW_LOG_WARN, MOD,
                   "sink \"%s\": the half-open attempt failed (%s); circuit open again for "
                   "%.3g s",
                   s->name, why, (double)s->br.open_ms / 1000.0);
        atomic_store(&s->circuit_open, 1);
        atomic_store(&s->open_until_ms, s->br.open_until_ms);
        /* A drain in progress may stop waiting for this sink now. */
        pthread_mutex_lock(&n->lock);
        pthread_cond_broadcast(&n->cond);
        pthread_mutex_unlock(&n->lock);
    } else if (after == DW_BREAKER_CLOSED) {
        dw_log(DW_LOG_INFO, MOD, "sink \"%s\": circuit closed: the receiver answers again",
               s->name);
        atomic_store(&s->circuit_open, 0);
        atomic_store(&s->open_until_ms, 0);
    }
}

/* Makes a response body printable as one log line. */
static void body_excerpt(const char *body, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len && i < LOG_BODY_MAX && o + 1 < outlen; i++) {
        unsigned char c = (unsigned char)body[i];
        out[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    out[o] = '\0';
}

/* Applies the outcome of one try of s->cur. why describes a transport
 * failure (NULL when a response arrived). */
static void attempt_done(dw_notifier *n, sink *s, dw_delivery d, long status, const char *why)
{
    s->last_done_ms = dw_now_ms();
    const char *id = json_string_value(json_object_get(s->cur, "id"));
    if (!id)
        id = "";
    char what[64];
    snprintf(what, sizeof what, "HTTP %ld", status);
    breaker_update(n, s, d, status, why ? why : what);
    if (d == DW_DELIVERY_OK) {
        INC(s->sent);
        dw_log(DW_LOG_DEBUG, MOD, "sink \"%s\": delivered %s (status %ld)", s->name, id, status);
        if (*id) {
            pthread_mutex_lock(&n->lock);
            free(s->recent_ids[s->recent_next]);
            s->recent_ids[s->recent_next] = dw_strdup(id);
            s->recent_next = (s->recent_next + 1) % RECENT_IDS;
            pthread_mutex_unlock(&n->lock);
        }
        finish(n, s);
        return;
    }
    char excerpt[LOG_BODY_MAX + 1];
    char reason[sizeof excerpt + CURL_ERROR_SIZE + 64];
    body_excerpt(s->resp, s->resp_len, excerpt, sizeof excerpt);
    if (why)
        snprintf(reason, sizeof reason, "%s", why);
    else
        snprintf(reason, sizeof reason, "HTTP %ld%s%s", status, excerpt[0] ? ": " : "", excerpt);
    if (d == DW_DELIVERY_DROP) {
        INC(s->failed);
        dw_log(DW_LOG_WARN, MOD, "sink \"%s\": notification %s refused, not retried: %s", s->name,
               id, reason);
        finish(n, s);
        return;
    }
    if (s->attempt >= (unsigned)s->spec.max_retries) {
        INC(s->failed);
        dw_log(DW_LOG_WARN, MOD, "sink \"%s\": giving up on notification %s after %u tries: %s",
               s->name, id, s->attempt + 1, reason);
        finish(n, s);
        return;
    }
    int64_t delay;
    if (!s->retry_after[0] || dw_retry_after_parse(s->retry_after, dw_wall_ms(), &delay) != 0) {
        if (n->opts.no_jitter)
            delay =
                dw_backoff_ceiling_ms(s->attempt, n->opts.backoff_base_ms, n->opts.backoff_cap_ms);
        else
            delay = dw_backoff_delay_ms(s->attempt, n->opts.backoff_base_ms, n->opts.backoff_cap_ms,
                                        &n->rng);
    }
    INC(s->retried);
    s->attempt++;
    s->next_at_ms = dw_now_ms() + (uint64_t)delay;
    s->state = SINK_WAITING;
    dw_log(DW_LOG_INFO, MOD, "sink \"%s\": retry %u of %d for notification %s in %lld ms (%s)",
           s->name, s->attempt, s->spec.max_retries, id, (long long)delay, reason);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    sink *s = userdata;
    size_t len = size * nmemb;
    /* Keep only the first DW_SINK_RESPONSE_MAX bytes; the rest is read and
     * discarded so a large error page cannot grow memory. */
    size_t room = DW_SINK_RESPONSE_MAX - s->resp_len;
    size_t take = len < room ? len : room;
    memcpy(s->resp + s->resp_len, ptr, take);
    s->resp_len += take;
    s->resp[s->resp_len] = '\0';
    return len;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    sink *s = userdata;
    size_t len = size * nmemb;
    /* A new status line (after a 100 Continue, say) starts a new header
     * block: forget what the previous one said. */
    if (len >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        s->retry_after[0] = '\0';
        return len;
    }
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && strncasecmp(ptr, name, sizeof name - 1) == 0) {
        size_t vlen = len - (sizeof name - 1);
        const char *v = ptr + sizeof name - 1;
        while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
            vlen--;
        if (vlen >= sizeof s->retry_after)
            vlen = sizeof s->retry_after - 1;
        memcpy(s->retry_after, v, vlen);
        s->retry_after[vlen] = '\0';
    }
    return len;
}

static void release_easy(dw_notifier *n, sink *s)
{
    if (s->easy) {
        curl_multi_remove_handle(n->multi, s->easy);
        curl_easy_cleanup(s->easy);
        s->easy = NULL;
    }
    curl_slist_free_all(s->slist);
    s->slist = NULL;
}

static bool slist_add(struct curl_slist **l, const char *line)
{
    struct curl_slist *t = curl_slist_append(*l, line);
    if (!t)
        return false;
    *l = t;
    return true;
}

/* Starts one try of s->cur: formats it, then writes it locally or hands an
 * HTTP request to the multi handle. */
static void start_attempt(dw_notifier *n, sink *s)
{
    char ts[DW_TS_FORMAT_SIZE];
    dw_ts_format(dw_wall_ms(), ts, sizeof ts);
    json_object_set_new(s->cur, "sent_at", json_string(ts));

    dw_http_request_clear(&s->req);
    s->resp_len = 0;
    s->resp[0] = '\0';
    s->retry_after[0] = '\0';
    s->curl_err[0] = '\0';
    int rc = s->type->format(&s->spec, s->cur, &s->req);
    if (rc == DW_SINK_SKIP) {
        INC(s->skipped);
        finish(n, s);
        return;
    }
    if (rc < 0) {
        INC(s->failed);
        dw_log(DW_LOG_WARN, MOD, "sink \"%s\": could not format the notification: %s", s->name,
               dw_strerror(rc));
        finish(n, s);
        return;
    }
    s->started_once = true;
    if (s->type->write) {
        dw_delivery d = s->type->write(&s->spec, &s->req);
        attempt_done(n, s, d, 0, d == DW_DELIVERY_OK ? NULL : "local write failed");
        return;
    }

    char ct[96];
    snprintf(ct, sizeof ct, "Content-Type: %s",
             s->req.content_type[0] ? s->req.content_type : "application/json");
    /* "Expect:" stops curl from waiting for a 100 Continue on big bodies. */
    bool ok = slist_add(&s->slist, ct) && slist_add(&s->slist, "Expect:");
    for (size_t i = 0; ok && i < s->req.n_headers; i++)
        ok = slist_add(&s->slist, s->req.headers[i]);
    for (size_t i = 0; ok && i < s->spec.n_headers; i++) {
        char line[1024];
        snprintf(line, sizeof line, "%s: %s", s->spec.headers[i].key, s->spec.headers[i].value);
        ok = slist_add(&s->slist, line);
    }
    s->easy = curl_easy_init();
    if (!ok || !s->easy) {
        /* curl reports allocation failure; the project's policy is abort. */
        fprintf(stderr, "driftwatch: out of memory in libcurl\n");
        abort();
    }
    CURL *e = s->easy;
    curl_easy_setopt(e, CURLOPT_URL, s->req.url ? s->req.url : s->spec.url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->req.body ? s->req.body : "");
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->req.body_len);
    if (s->req.method[0] && strcmp(s->req.method, "POST") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, s->req.method);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->slist);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "driftwatch");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)s->spec.timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)s->spec.timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->curl_err);
    curl_easy_setopt(e, CURLOPT_PRIVATE, s);
    curl_multi_add_handle(n->multi, e);
    s->state = SINK_ACTIVE;
}

static void transfer_done(dw_notifier *n, CURL *e, CURLcode res)
{
    sink *s = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&s);
    long status = 0;
    char why[CURL_ERROR_SIZE + 64];
    const char *whyp = NULL;
    if (res == CURLE_OK) {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    } else {
        snprintf(why, sizeof why, "%s", s->curl_err[0] ? s->curl_err : curl_easy_strerror(res));
        whyp = why;
    }
    release_easy(n, s);
    dw_delivery d = s->type->classify_response
                        ? s->type->classify_response(&s->spec, status, s->resp, s->resp_len)
                        : dw_sink_classify_http(status);
    /* Errors that no retry can fix. */
    if (res == CURLE_URL_MALFORMAT || res == CURLE_UNSUPPORTED_PROTOCOL)
        d = DW_DELIVERY_DROP;
    attempt_done(n, s, d, status, whyp);
}

/* Earliest monotonic time the next attempt of s->cur may start: its retry
 * schedule, the sink's minimum interval and an open circuit. The interval
 * runs from the end of the last attempt, not its start, so requests also
 * *arrive* at least that far apart, however long one took in transit. */
static uint64_t next_start_ms(const sink *s)
{
    uint64_t at = s->next_at_ms;
    if (s->started_once && s->spec.min_interval_ms > 0 &&
        s->last_done_ms + (uint64_t)s->spec.min_interval_ms > at)
        at = s->last_done_ms + (uint64_t)s->spec.min_interval_ms;
    if (s->br.state == DW_BREAKER_OPEN && s->br.open_until_ms > 0 &&
        (uint64_t)s->br.open_until_ms > at)
        at = (uint64_t)s->br.open_until_ms;
    return at;
}

/* Where a document with this id is already held for s: 1 in the queue
 * (*file = its outbox file), 2 in flight, 3 delivered a moment ago, 0
 * nowhere. Under n->lock. */
static int find_id(const sink *s, const char *id, const char **file)
{
    if (!id)
        return 0;
    if (s->cur_id && strcmp(s->cur_id, id) == 0)
        return 2;
    for (size_t k = 0; k < RECENT_IDS; k++)
        if (s->recent_ids[k] && strcmp(s->recent_ids[k], id) == 0)
            return 3;
    for (size_t k = 0; k < s->q.len; k++) {
        const qitem *it = &s->q.items[(s->q.head + k) % s->q.cap];
        const char *other = doc_id(it->doc);
        if (other && strcmp(other, id) == 0) {
            *file = it->file;
            return 1;
        }
    }
    return 0;
}

/* Loads what an earlier run (or the notifier this one replaces) left in
 * s's outbox and queues it before everything queued so far, oldest first.
 * Returns false when the directory is still locked by someone else. */
static bool outbox_recover(dw_notifier *n, sink *s)
{
    int rc = dw_outbox_lock(s->ob);
    if (rc == DW_ERR_STATE)
        return false;
    s->ob_loaded = true;
    dw_outbox_loaded L;
    if (rc == 0)
        rc = dw_outbox_load(s->ob, &L);
    if (rc < 0) {
        INC(s->outbox_errors);
        dw_log(DW_LOG_ERROR, MOD,
               "sink \"%s\": cannot read the outbox %s (%s); notifications left there by an "
               "earlier run are not sent",
               s->name, dw_outbox_dir(s->ob), dw_strerror(rc));
        return true;
    }
    if (L.bad)
        dw_log(DW_LOG_ERROR, MOD,
               "sink \"%s\": %zu unreadable outbox files in %s were renamed to *.bad", s->name,
               L.bad, dw_outbox_dir(s->ob));
    if (L.dropped)
        dw_log(DW_LOG_WARN, MOD,
               "sink \"%s\": the outbox held more than the queue size (%zu); removed the %zu "
               "oldest",
               s->name, s->q.cap, L.dropped);
    for (size_t k = 0; k < L.dropped; k++)
        INC(s->dropped);
    for (size_t k = 0; k < L.duplicates; k++)
        INC(s->deduplicated);
    size_t queued = 0, late_drops = 0, dups = 0;
    /* Newest first, each in front of the queue: the oldest ends up first,
     * and when the queue is full it is the oldest that no longer fits. */
    char **discard = dw_calloc(L.n ? L.n : 1, sizeof *discard);
    size_t nd = 0;
    pthread_mutex_lock(&n->lock);
    for (size_t k = L.n; k-- > 0;) {
        dw_outbox_item *it = &L.items[k];
        const char *held_file = NULL;
        int where = find_id(s, doc_id(it->doc), &held_file);
        if (where == 1 && held_file && strcmp(held_file, it->file) == 0) {
            /* Our own file, written before the lock was ours. */
            free(it->file);
        } else if (where) {
            discard[nd++] = it->file;
            dups++;
        } else if (s->q.len == s->q.cap) {
            discard[nd++] = it->file;
            late_drops++;
        } else {
            queue_push_front(&s->q, (qitem){it->doc, it->file});
            it->doc = NULL;
            INC(s->queued);
            INC(s->recovered);
            INC(s->outbox_depth);
            n->pending++;
            queued++;
        }
        it->file = NULL;
    }
    pthread_mutex_unlock(&n->lock);
    for (size_t k = 0; k < nd; k++)
        outbox_discard(s, discard[k], false);
    for (size_t k = 0; k < dups; k++)
        INC(s->deduplicated);
    for (size_t k = 0; k < late_drops; k++)
        INC(s->dropped);
    free(discard);
    dw_outbox_loaded_clear(&L);
    if (queued)
        dw_log(DW_LOG_INFO, MOD,
               "sink \"%s\": %zu notifications left by an earlier run queued again from %s",
               s->name, queued, dw_outbox_dir(s->ob));
    return true;
}

static void *notifier_main(void *arg)
{
    dw_notifier *n = arg;
    for (;;) {
        /* Outboxes another notifier held when this one started. */
        for (size_t i = 0; i < n->n; i++) {
            sink *s = &n->sinks[i];
            if (s->ob && !s->ob_loaded && dw_now_ms() >= s->ob_next_try_ms && !outbox_recover(n, s))
                s->ob_next_try_ms = dw_now_ms() + OUTBOX_RETRY_MS;
        }
        pthread_mutex_lock(&n->lock);
        if (n->stop) {
            pthread_mutex_unlock(&n->lock);
            break;
        }
        uint64_t now = dw_now_ms();
        if (!n->paused) {
            for (size_t i = 0; i < n->n; i++) {
                sink *s = &n->sinks[i];
                if (s->state != SINK_IDLE || !s->q.len)
                    continue;
                qitem it = queue_pop(&s->q);
                s->cur = it.doc;
                s->cur_file = it.file;
                const char *cid = doc_id(s->cur);
                s->cur_id = cid ? dw_strdup(cid) : NULL;
                s->busy = true;
                s->attempt = 0;
                s->state = SINK_WAITING;
                s->next_at_ms = now;
            }
        }
        pthread_mutex_unlock(&n->lock);

        for (size_t i = 0; i < n->n; i++) {
            sink *s = &n->sinks[i];
            if (s->state != SINK_WAITING)
                continue;
            if (next_start_ms(s) > now)
                continue;
            if (!dw_breaker_allow(&s->br, (int64_t)now))
                continue;
            if (s->br.state == DW_BREAKER_HALF_OPEN && atomic_load(&s->open_until_ms) != 0) {
                dw_log(DW_LOG_INFO, MOD, "sink \"%s\": circuit half-open: trying one request",
                       s->name);
                atomic_store(&s->open_until_ms, 0);
            }
            start_attempt(n, s);
        }

        int running = 0;
        curl_multi_perform(n->multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(n->multi, &left))) {
            if (msg->msg == CURLMSG_DONE)
                transfer_done(n, msg->easy_handle, msg->data.result);
        }

        /* Sleep until the earliest scheduled retry, a socket event, curl's
         * own timer, or a wakeup from submit/resume/free. */
        int64_t timeout = IDLE_POLL_MS;
        now = dw_now_ms();
        for (size_t i = 0; i < n->n; i++) {
            sink *s = &n->sinks[i];
            if (s->state == SINK_IDLE) {
                /* A finished sink may have more queued: loop at once. */
                pthread_mutex_lock(&n->lock);
                bool more = s->q.len > 0 && !n->paused;
                pthread_mutex_unlock(&n->lock);
                if (more)
                    timeout = 0;
                continue;
            }
            if (s->state != SINK_WAITING)
                continue;
            uint64_t at = next_start_ms(s);
            int64_t t = at > now ? (int64_t)(at - now) : 0;
            if (t < timeout)
                timeout = t;
        }
        for (size_t i = 0; i < n->n; i++) {
            sink *s = &n->sinks[i];
            if (s->ob && !s->ob_loaded) {
                int64_t t = s->ob_next_try_ms > now ? (int64_t)(s->ob_next_try_ms - now) : 0;
                if (t < timeout)
                    timeout = t;
            }
        }
        curl_multi_poll(n->multi, NULL, 0, (int)timeout, NULL);
    }
    return NULL;
}

static char *dup_or_null(const char *s)
{
    return s ? dw_strdup(s) : NULL;
}

static void sink_release(sink *s)
{
    free(s->name);
    free(s->type_name);
    free(s->url);
    for (size_t i = 0; s->headers && i < s->spec.n_headers; i++) {
        free((char *)s->headers[i].key);
        free((char *)s->headers[i].value);
    }
    free(s->headers);
    for (size_t i = 0; s->options && i < s->spec.n_options; i++) {
        free((char *)s->options[i].key);
        free((char *)s->options[i].value);
    }
    free(s->options);
    for (size_t i = 0; s->filter_models && i < s->spec.n_filter_models; i++)
        free(s->filter_models[i]);
    free(s->filter_models);
    for (size_t i = 0; s->filter_columns && i < s->spec.n_filter_columns; i++)
        free(s->filter_columns[i]);
    free(s->filter_columns);
    free(s->filter_severity);
    free(s->q.items);
    free(s->cur_id);
    for (size_t k = 0; k < RECENT_IDS; k++)
        free(s->recent_ids[k]);
    dw_outbox_close(s->ob);
}

static char **copy_list(char *const *l, size_t n)
{
    char **c = dw_calloc(n ? n : 1, sizeof *c);
    for (size_t i = 0; i < n; i++)
        c[i] = dw_strdup(l[i]);
    return c;
}

static dw_sink_kv *copy_kv(const dw_sink_kv *kv, size_t n)
{
    dw_sink_kv *c = dw_calloc(n ? n : 1, sizeof *c);
    for (size_t i = 0; i < n; i++) {
        c[i].key = dw_strdup(kv[i].key);
        c[i].value = dw_strdup(kv[i].value);
    }
    return c;
}

static int check_spec(const dw_sink_spec *specs, size_t idx, char *errbuf, size_t errlen)
{
    const dw_sink_spec *sp = &specs[idx];
    if (!sp->name || !*sp->name)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "sink #%zu: a name is required", idx + 1);
    for (size_t j = 0; j < idx; j++)
        if (specs[j].name && strcmp(specs[j].name, sp->name) == 0)
            return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                             "sink \"%s\": the name is used by another sink", sp->name);
    return dw_sink_validate(sp, errbuf, errlen);
}

/* Opens every sink's outbox and queues what an earlier run left there
 * (before the thread starts, so the leftovers go first). A state_dir that
 * is missing or not writable is one error in the log, not a refusal to
 * start: alerts still go out, they only do not survive a restart. */
static void outbox_start(dw_notifier *n)
{
    const char *dir = n->opts.state_dir;
    if (!dir || n->n == 0)
        return;
    char why[512];
    if (dw_outbox_check_dir(dir, why, sizeof why) < 0) {
        dw_log(DW_LOG_ERROR, MOD,
               "%s; running without the outbox: notifications pending at a "
               "shutdown or crash will not be sent after the restart",
               why);
        for (size_t i = 0; i < n->n; i++)
            INC(n->sinks[i].outbox_errors);
        return;
    }
    for (size_t i = 0; i < n->n; i++) {
        sink *s = &n->sinks[i];
        char err[512];
        if (dw_outbox_open(dir, s->name, s->q.cap, &s->ob, err, sizeof err) < 0) {
            dw_log(DW_LOG_ERROR, MOD, "sink \"%s\": running without the outbox: %s", s->name, err);
            INC(s->outbox_errors);
            continue;
        }
        if (!outbox_recover(n, s)) {
            dw_log(DW_LOG_INFO, MOD,
                   "sink \"%s\": the outbox %s is in use by another notifier; what it leaves "
                   "will be loaded once it is released",
                   s->name, dw_outbox_dir(s->ob));
            s->ob_next_try_ms = dw_now_ms() + OUTBOX_RETRY_MS;
        }
    }
}

int dw_notifier_new(const dw_sink_spec *specs, size_t n, dw_notifier **out, char *errbuf,
                    size_t errlen)
{
    return dw_notifier_new_ex(specs, n, NULL, out, errbuf, errlen);
}

int dw_notifier_new_ex(const dw_sink_spec *specs, size_t n, const dw_notifier_options *opts,
                       dw_notifier **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (n > DW_NOTIFIER_MAX_SINKS)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "%zu sinks configured, at most %d allowed",
                         n, DW_NOTIFIER_MAX_SINKS);
    for (size_t i = 0; i < n; i++) {
        int rc = check_spec(specs, i, errbuf, errlen);
        if (rc)
            return rc;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return dw_seterr(errbuf, errlen, DW_ERR_HTTP, "libcurl could not be initialised");

    dw_notifier *nt = dw_calloc(1, sizeof *nt);
    if (opts)
        nt->opts = *opts;
    if (nt->opts.backoff_base_ms <= 0)
        nt->opts.backoff_base_ms = DW_BACKOFF_BASE_MS;
    if (nt->opts.backoff_cap_ms <= 0)
        nt->opts.backoff_cap_ms = DW_BACKOFF_CAP_MS;
    nt->rng =
        nt->opts.rng_seed ? nt->opts.rng_seed : ((uint64_t)dw_wall_ms() << 16) ^ (uint64_t)getpid();
    nt->paused = nt->opts.start_paused;
    nt->n = n;
    nt->sinks = dw_calloc(n ? n : 1, sizeof *nt->sinks);
    for (size_t i = 0; i < n; i++) {
        sink *s = &nt->sinks[i];
        const dw_sink_spec *sp = &specs[i];
        s->spec = *sp;
        s->name = dw_strdup(sp->name);
        s->type_name = dw_strdup(sp->type);
        s->url = dup_or_null(sp->url);
        s->headers = copy_kv(sp->headers, sp->n_headers);
        s->options = copy_kv(sp->options, sp->n_options);
        s->spec.name = s->name;
        s->spec.type = s->type_name;
        s->spec.url = s->url;
        s->spec.headers = s->headers;
        s->spec.options = s->options;
        s->filter_models = copy_list(sp->filter_models, sp->n_filter_models);
        s->filter_columns = copy_list(sp->filter_columns, sp->n_filter_columns);
        s->filter_severity = dup_or_null(sp->filter_severity);
        s->spec.filter_models = s->filter_models;
        s->spec.filter_columns = s->filter_columns;
        s->spec.filter_severity = s->filter_severity;
        s->type = dw_sink_ops_find(sp->type);
        if (s->spec.min_interval_ms == 0)
            s->spec.min_interval_ms = s->type->default_min_interval_ms;
        s->q.cap = sp->queue_size ? sp->queue_size : DW_SINK_DEFAULT_QUEUE;
        s->spec.queue_size = s->q.cap;
        s->q.items = dw_calloc(s->q.cap, sizeof *s->q.items);
        dw_breaker_init(&s->br, nt->opts.breaker_threshold, nt->opts.breaker_open_ms,
                        nt->opts.breaker_max_open_ms);
        s->ob_rl = (dw_ratelimit)DW_RATELIMIT_INIT(10000);
    }

    pthread_mutex_init(&nt->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&nt->cond, &ca);
    pthread_condattr_destroy(&ca);
    outbox_start(nt);
    /* state_dir is borrowed and needed only here. */
    nt->opts.state_dir = NULL;
    nt->multi = curl_multi_init();
    if (!nt->multi) {
        fprintf(stderr, "driftwatch: out of memory in libcurl\n");
        abort();
    }
    int prc = pthread_create(&nt->thread, NULL, notifier_main, nt);
    if (prc != 0) {
        dw_notifier_free(nt);
        return dw_seterr(errbuf, errlen, DW_ERR_STATE, "the notifier thread could not start: %s",
                         strerror(prc));
    }
    nt->thread_started = true;
    *out = nt;
    return 0;
}

/* For sinks whose target takes one alert per request: the parts of doc, one
 * document per alert with id "<id>/<dedup_key>" (an array of new
 * references; doc is consumed). Each part is a deep copy, so no json value
 * is shared between queue slots. */
static json_t *split_per_alert(json_t *doc)
{
    json_t *parts = json_array();
    json_t *alerts = json_object_get(doc, "alerts");
    size_t na = json_array_size(alerts);
    if (na <= 1) {
        json_array_append_new(parts, doc);
        return parts;
    }
    const char *id = json_string_value(json_object_get(doc, "id"));
    for (size_t k = 0; k < na; k++) {
        json_t *part = json_object();
        const char *key;
        json_t *v;
        json_object_foreach (doc, key, v) {
            if (strcmp(key, "alerts") != 0)
                json_object_set_new(part, key, json_deep_copy(v));
        }
        json_t *a = json_array_get(alerts, k);
        json_t *one = json_array();
        json_array_append_new(one, json_deep_copy(a));
        json_object_set_new(part, "alerts", one);
        const char *dk = json_string_value(json_object_get(a, "dedup_key"));
        char pid[512];
        if (dk)
            snprintf(pid, sizeof pid, "%s/%s", id ? id : "", dk);
        else
            snprintf(pid, sizeof pid, "%s/%zu", id ? id : "", k);
        json_object_set_new(part, "id", json_string(pid));
        json_array_append_new(parts, part);
    }
    json_decref(doc);
    return parts;
}

int dw_notifier_submit(dw_notifier *n, json_t *doc)
{
    return dw_notifier_submit_to(n, doc, 0, n ? n->n : 0);
}

int dw_notifier_submit_to(dw_notifier *n, json_t *doc, size_t first_sink, size_t count)
{
    if (!n || !json_is_object(doc) || first_sink > n->n || count > n->n - first_sink) {
        json_decref(doc);
        return DW_ERR_INVALID;
    }
    if (count == 0) {
        json_decref(doc);
        return 0;
    }
    size_t lo = first_sink, hi = first_sink + count;
    /* Copies are made before taking the lock, so the notifier thread never
     * waits on a deep copy. */
    json_t *copies[DW_NOTIFIER_MAX_SINKS];
    copies[lo] = doc;
    for (size_t i = lo + 1; i < hi; i++) {
        copies[i] = json_deep_copy(doc);
        if (!copies[i]) {
            fprintf(stderr, "driftwatch: out of memory copying a notification\n");
            abort();
        }
    }
    /* items[first[i] .. first[i+1]): the documents for sink i (one, or one
     * per alert), each holding exactly one reference, taken out of the
     * split arrays before the lock: once queued, a document's reference
     * count is touched only by the notifier thread. */
    json_t *parts[DW_NOTIFIER_MAX_SINKS];
    size_t first[DW_NOTIFIER_MAX_SINKS + 1];
    size_t total = 0;
    for (size_t i = lo; i < hi; i++) {
        parts[i] = n->sinks[i].type->one_alert_per_request ? split_per_alert(copies[i]) : NULL;
        total += parts[i] ? json_array_size(parts[i]) : 1;
    }
    qitem *items = dw_calloc(total, sizeof *items);
    /* Room for every drop and duplicate is made before the lock too. */
    qitem *dropped = dw_calloc(total, sizeof *dropped);
    size_t *sink_of = dw_calloc(total, sizeof *sink_of);
    bool *dup = dw_calloc(total, sizeof *dup);
    size_t o = 0;
    for (size_t i = lo; i < hi; i++) {
        first[i] = o;
        if (!parts[i]) {
            items[o++].doc = copies[i];
            continue;
        }
        for (size_t k = 0; k < json_array_size(parts[i]); k++)
            items[o++].doc = json_incref(json_array_get(parts[i], k));
        json_decref(parts[i]);
    }
    first[hi] = o;
    /* Durable before queued: once submit returns, a crash does not lose the
     * document. Written outside the lock (fsync takes milliseconds); a
     * failed write leaves the document in memory only. */
    for (size_t i = lo; i < hi; i++) {
        sink *s = &n->sinks[i];
        for (size_t k = first[i]; s->ob && k < first[i + 1]; k++) {
            char err[512];
            if (dw_outbox_put(s->ob, items[k].doc, &items[k].file, err, sizeof err) == 0)
                INC(s->outbox_depth);
            else
                dw_log_ratelimited(&s->ob_rl, DW_LOG_ERROR, MOD,
                                   "sink \"%s\": outbox write failed, the notification is kept "
                                   "in memory only: %s",
                                   s->name, err);
        }
    }
    size_t nd = 0;
    pthread_mutex_lock(&n->lock);
    for (size_t i = lo; i < hi; i++) {
        sink *s = &n->sinks[i];
        for (size_t k = first[i]; k < first[i + 1]; k++) {
            INC(s->submitted);
            const char *held = NULL;
            if (find_id(s, doc_id(items[k].doc), &held)) {
                dup[k] = true;
                /* A late outbox load may already have queued this very
                 * file: then it is that item's file, not ours to remove. */
                if (held && items[k].file && strcmp(held, items[k].file) == 0) {
                    DEC(s->outbox_depth); /* counted by the load already */
                    free(items[k].file);
                    items[k].file = NULL;
                }
                continue;
            }
            qitem old = queue_push(&s->q, items[k]);
            items[k].doc = NULL; /* the queue's now */
            items[k].file = NULL;
            if (old.doc) {
                INC(s->dropped);
                sink_of[nd] = i;
                dropped[nd++] = old;
            } else {
                INC(s->queued);
                n->pending++;
            }
        }
    }
    pthread_mutex_unlock(&n->lock);
    curl_multi_wakeup(n->multi);
    for (size_t i = lo; i < hi; i++) {
        sink *s = &n->sinks[i];
        for (size_t k = first[i]; k < first[i + 1]; k++) {
            if (!dup[k])
                continue;
            dw_log(DW_LOG_DEBUG, MOD, "sink \"%s\": notification %s is already queued", s->name,
                   doc_id(items[k].doc) ? doc_id(items[k].doc) : "");
            INC(s->deduplicated);
            outbox_discard(s, items[k].file, true);
            json_decref(items[k].doc);
        }
    }
    free(items);
    free(dup);
    for (size_t k = 0; k < nd; k++) {
        sink *s = &n->sinks[sink_of[k]];
        dw_log(DW_LOG_WARN, MOD, "sink \"%s\": queue full (%zu), dropped the oldest notification",
               s->name, s->q.cap);
        outbox_discard(s, dropped[k].file, true);
        json_decref(dropped[k].doc);
    }
    free(dropped);
    free(sink_of);
    return 0;
}

/* Can waiting until deadline_ms deliver anything? Not when every sink that
 * holds documents has its circuit open past the deadline. Under n->lock. */
static bool worth_waiting(const dw_notifier *n, uint64_t deadline_ms)
{
    if (n->paused)
        return true;
    for (size_t i = 0; i < n->n; i++) {
        const sink *s = &n->sinks[i];
        if (!s->q.len && !s->busy)
            continue;
        int64_t until = atomic_load(&((sink *)s)->open_until_ms);
        if (until <= 0 || (uint64_t)until <= deadline_ms)
            return true;
    }
    return false;
}

int dw_notifier_drain(dw_notifier *n, int64_t budget_ms)
{
    if (!n)
        return 0;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    if (budget_ms < 0)
        budget_ms = 0;
    uint64_t deadline_ms = dw_now_ms() + (uint64_t)budget_ms;
    deadline.tv_sec += budget_ms / 1000;
    deadline.tv_nsec += (budget_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&n->lock);
    while (n->pending > 0 && worth_waiting(n, deadline_ms)) {
        if (pthread_cond_timedwait(&n->cond, &n->lock, &deadline) == ETIMEDOUT)
            break;
    }
    size_t left = n->pending;
    pthread_mutex_unlock(&n->lock);
    return left > INT32_MAX ? INT32_MAX : (int)left;
}

void dw_notifier_resume(dw_notifier *n)
{
    pthread_mutex_lock(&n->lock);
    n->paused = false;
    pthread_mutex_unlock(&n->lock);
    curl_multi_wakeup(n->multi);
}

size_t dw_notifier_sink_count(const dw_notifier *n)
{
    return n ? n->n : 0;
}

const char *dw_notifier_sink_name(const dw_notifier *n, size_t index)
{
    return n && index < n->n ? n->sinks[index].name : NULL;
}

int dw_notifier_stats(const dw_notifier *n, size_t index, dw_sink_stats *out)
{
    if (!n || index >= n->n)
        return DW_ERR_INVALID;
    /* The counters are atomics; reading them needs no lock (the set is not
     * a consistent snapshot across counters, which metrics do not need). */
    sink *s = &n->sinks[index];
    out->submitted = LOAD(s->submitted);
    out->sent = LOAD(s->sent);
    out->retried = LOAD(s->retried);
    out->failed = LOAD(s->failed);
    out->dropped = LOAD(s->dropped);
    out->skipped = LOAD(s->skipped);
    out->queued = LOAD(s->queued);
    out->recovered = LOAD(s->recovered);
    out->deduplicated = LOAD(s->deduplicated);
    out->outbox_depth = LOAD(s->outbox_depth);
    out->outbox_errors = LOAD(s->outbox_errors) + (s->ob ? dw_outbox_errors(s->ob) : 0);
    out->circuit_open = LOAD(s->circuit_open);
    return 0;
}

void dw_notifier_free(dw_notifier *n)
{
    if (!n)
        return;
    if (n->thread_started) {
        pthread_mutex_lock(&n->lock);
        n->stop = true;
        pthread_mutex_unlock(&n->lock);
        curl_multi_wakeup(n->multi);
        pthread_join(n->thread, NULL);
    }
    for (size_t i = 0; i < n->n; i++) {
        sink *s = &n->sinks[i];
        size_t abandoned = s->q.len + (s->cur ? 1 : 0);
        if (abandoned && s->ob)
            dw_log(DW_LOG_WARN, MOD,
                   "sink \"%s\": shutting down with %zu undelivered notifications; they stay "
                   "in %s and are sent after the restart",
                   s->name, abandoned, dw_outbox_dir(s->ob));
        else if (abandoned)
            dw_log(DW_LOG_WARN, MOD,
                   "sink \"%s\": shutting down with %zu undelivered notifications", s->name,
                   abandoned);
        release_easy(n, s);
        dw_http_request_clear(&s->req);
        /* Abandoned, not given up: the outbox files stay. */
        json_decref(s->cur);
        free(s->cur_file);
        qitem it;
        while ((it = queue_pop(&s->q)).doc) {
            json_decref(it.doc);
            free(it.file);
        }
        sink_release(s);
    }
    free(n->sinks);
    if (n->multi)
        curl_multi_cleanup(n->multi);
    pthread_cond_destroy(&n->cond);
    pthread_mutex_destroy(&n->lock);
    free(n);
    curl_global_cleanup();
}

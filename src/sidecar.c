#include "driftwatch/sidecar.h"

#include "driftwatch/consumer.h"
#include "driftwatch/dead_letter.h"
#include "driftwatch/error.h"
#include "driftwatch/http.h"
#include "driftwatch/log.h"
#include "driftwatch/notifier.h"
#include "driftwatch/outbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sidecar_int.h"

static void emit(void *ctx, json_t *doc)
{
    dw_sidecar *s = ctx;
    /* With state.topic, only the notifying replica sends; others keep the
     * document until the leader's mark says it went out. */
    if (s->state && dw_sc_state_hold(s, doc))
        return;
    dw_sc_submit(s, doc);
}

void dw_sc_submit(dw_sidecar *s, json_t *doc)
{
    if (s->notifier) {
        /* A retraining trigger goes to its rule's target only (the specs
         * after the sinks, see build_specs), a drift document to the sinks
         * only. */
        const char *kind = json_string_value(json_object_get(doc, "kind"));
        if (kind && strcmp(kind, "retrain") == 0) {
            const char *rule = json_string_value(json_object_get(doc, "rule"));
            for (size_t k = 0; rule && k < s->cfg->nretrain; k++) {
                if (strcmp(s->cfg->retrain[k].name, rule) == 0) {
                    dw_notifier_submit_to(s->notifier, doc, s->cfg->nsinks + k, 1);
                    return;
                }
            }
            dw_log(DW_LOG_WARN, "sidecar", "retraining trigger for unknown rule \"%s\" dropped",
                   rule ? rule : "");
            json_decref(doc);
            return;
        }
        dw_notifier_submit_to(s->notifier, doc, 0, s->cfg->nsinks);
        return;
    }
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    if (text) {
        fputs(text, stdout);
        fputc('\n', stdout);
        fflush(stdout);
        free(text);
    }
    json_decref(doc);
}

static void on_reject(void *ctx, dw_reject_reason reason, const char *detail, const char *raw,
                      size_t len)
{
    dw_sidecar *s = ctx;
    dw_log_ratelimited(&s->reject_rl, DW_LOG_WARN, "engine", "record rejected (%s): %s",
                       dw_reject_reason_name(reason), detail);
    if (s->current)
        dw_log(DW_LOG_DEBUG, "engine", "rejected %s [%d] offset %lld (%s), watermark %lld",
               s->current->topic ? s->current->topic : "-", (int)s->current->partition,
               (long long)s->current->offset, dw_reject_reason_name(reason),
               (long long)dw_engine_watermark(s->engine));
    if (s->dlq && s->current) {
        dw_kafka_msg copy = *s->current;
        copy.payload = raw;
        copy.len = len;
        char why[320];
        snprintf(why, sizeof why, "%s: %s", dw_reject_reason_name(reason), detail);
        dw_dead_letter_send(s->dlq, &copy, why);
    }
}

/* n configuration pairs seen as sink pairs, written at kv[*k] onwards;
 * advances *k past them. */
static const dw_sink_kv *kv_view(dw_sink_kv *kv, size_t *k, const dw_kv *src, size_t n)
{
    dw_sink_kv *v = &kv[*k];
    for (size_t i = 0; i < n; i++) {
        v[i].key = src[i].key;
        v[i].value = src[i].value;
    }
    *k += n;
    return v;
}

/* The notifier's sink specs from the configuration (borrowing its strings):
 * the sinks, then one per retraining target (emit() relies on the order). */
static int build_specs(dw_sidecar *s, char *errbuf, size_t errlen)
{
    const dw_config *cfg = s->cfg;
    size_t nkv = 0;
    for (size_t i = 0; i < cfg->nsinks; i++)
        nkv += cfg->sinks[i].nheaders + cfg->sinks[i].nparams;
    for (size_t i = 0; i < cfg->nretrain; i++)
        nkv += cfg->retrain[i].nparams;
    s->specs = dw_calloc(cfg->nsinks + cfg->nretrain + 1, sizeof *s->specs);
    s->spec_kv = dw_calloc(nkv + 1, sizeof *s->spec_kv);
    size_t k = 0;
    for (size_t i = 0; i < cfg->nsinks; i++) {
        const dw_sink_config *sc = &cfg->sinks[i];
        dw_sink_spec *sp = &s->specs[i];
        dw_sink_spec_init(sp);
        sp->name = sc->name;
        sp->type = sc->type;
        sp->url = sc->url;
        sp->timeout_ms = sc->timeout_ms;
        sp->max_retries = sc->max_retries;
        sp->send_resolved = sc->send_resolved;
        sp->min_interval_ms = sc->min_interval_ms;
        sp->filter_models = sc->filter.models;
        sp->n_filter_models = sc->filter.nmodels;
        sp->filter_columns = sc->filter.columns;
        sp->n_filter_columns = sc->filter.ncolumns;
        sp->filter_severity = sc->filter.min_severity == DW_SEVERITY_CRITICAL  ? "critical"
                              : sc->filter.min_severity == DW_SEVERITY_WARNING ? "warning"
                                                                               : NULL;
        sp->n_headers = sc->nheaders;
        sp->headers = kv_view(s->spec_kv, &k, sc->headers, sc->nheaders);
        sp->n_options = sc->nparams;
        sp->options = kv_view(s->spec_kv, &k, sc->params, sc->nparams);
        if (!dw_sink_ops_find(sp->type))
            return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                             "%s: sink \"%s\": type \"%s\" is not supported yet", cfg->path,
                             sc->name, sp->type);
    }
    for (size_t i = 0; i < cfg->nretrain; i++) {
        const dw_retrain_config *rc = &cfg->retrain[i];
        dw_sink_spec *sp = &s->specs[cfg->nsinks + i];
        dw_sink_spec_init(sp);
        sp->name = rc->name;
        sp->type = rc->type;
        sp->url = rc->url;
        /* One trigger per drift episode: worth retrying longer than an
         * alert that the next evaluation repeats anyway. */
        sp->max_retries = 10;
        sp->n_options = rc->nparams;
        sp->options = kv_view(s->spec_kv, &k, rc->params, rc->nparams);
        for (size_t j = 0; j < cfg->nsinks; j++)
            if (strcmp(cfg->sinks[j].name, rc->name) == 0)
                return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                                 "%s: retrain target \"%s\" has the name of a sink; names must "
                                 "differ (they label metrics)",
                                 cfg->path, rc->name);
    }
    return 0;
}

int dw_sidecar_new(const dw_config *cfg, const dw_sidecar_options *opts, dw_sidecar **out,
                   char *errbuf, size_t errlen)
{
    *out = NULL;
    dw_sidecar *s = dw_calloc(1, sizeof *s);
    s->cfg = cfg;
    if (opts)
        s->opts = *opts;
    if (s->opts.drain_budget_ms <= 0)
        s->opts.drain_budget_ms = cfg->shutdown_budget_ms > 0 ? cfg->shutdown_budget_ms : 10000;
    s->reject_rl = (dw_ratelimit)DW_RATELIMIT_INIT(5000);
    s->state_rl = (dw_ratelimit)DW_RATELIMIT_INIT(600000);
    s->stall_rl = (dw_ratelimit)DW_RATELIMIT_INIT(600000);
    int rc = dw_engine_new(cfg, &s->engine, errbuf, errlen);
    if (rc < 0)
        goto fail;
    if (s->opts.emit)
        dw_engine_on_emit(s->engine, s->opts.emit, s->opts.emit_ctx);
    else
        dw_engine_on_emit(s->engine, emit, s);
    dw_engine_on_reject(s->engine, on_reject, s);
    if (!s->opts.stdout_only && !s->opts.emit) {
        rc = build_specs(s, errbuf, errlen);
        if (rc < 0)
            goto fail;
        /* The outbox under state_dir keeps what is pending across restarts. */
        dw_notifier_options no = {.state_dir = cfg->state_dir};
        rc = dw_notifier_new_ex(s->specs, cfg->nsinks + cfg->nretrain, &no, &s->notifier, errbuf,
                                errlen);
        if (rc < 0)
            goto fail;
    }
    *out = s;
    return 0;
fail:
    dw_sidecar_free(s);
    return rc;
}

dw_engine *dw_sidecar_engine(dw_sidecar *s)
{
    return s->engine;
}

static void finish(dw_sidecar *s)
{
    /* With state.topic the windows live on: the next start (or the other
     * replicas) evaluates them when their panes end, not now. */
    if (!s->state)
        dw_engine_flush(s->engine);
    if (s->notifier) {
        int left = dw_notifier_drain(s->notifier, s->opts.drain_budget_ms);
        if (left > 0)
            dw_log(DW_LOG_WARN, "sidecar",
                   "%d notifications still queued after the %lld ms "
                   "drain budget",
                   left, (long long)s->opts.drain_budget_ms);
    }
}

/* Firing alerts survive a restart in <state_dir>/alerts.json, so their
 * resolve is still sent when the data recovers (docs/operations.md). */
static void alert_state_path(const dw_sidecar *s, char *buf, size_t len)
{
    snprintf(buf, len, "%s/alerts.json", s->cfg->state_dir);
}

static void load_alert_state(dw_sidecar *s)
{
    char path[4096];
    alert_state_path(s, path, sizeof path);
    if (access(path, F_OK) != 0)
        return;
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc) {
        dw_log(DW_LOG_WARN, "sidecar", "%s: line %d: %s: alert states not restored", path,
               jerr.line, jerr.text);
        return;
    }
    dw_engine_restore_alerts(s->engine, doc);
    dw_log(DW_LOG_INFO, "sidecar", "restored %zu firing alert(s) from %s",
           json_array_size(json_object_get(doc, "alerts")) +
               json_array_size(json_object_get(doc, "extra_alerts")),
           path);
    json_decref(doc);
}

static void save_alert_state(dw_sidecar *s)
{
    char path[4096], tmp[4200];
    alert_state_path(s, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    json_t *doc = dw_engine_alert_state(s->engine);
    /* Written aside and renamed, so a crash leaves the old file or the new. */
    if (json_dump_file(doc, tmp, JSON_COMPACT) != 0 || rename(tmp, path) != 0) {
        dw_log_ratelimited(&s->state_rl, DW_LOG_WARN, "sidecar",
                           "cannot write %s: alert states will not survive a restart", path);
        unlink(tmp);
    }
    json_decref(doc);
}

/* One line with every counter, so a person (or a test) reading the log
 * sees what the run did: "counters: messages=... applied=... rejected.late=..." */
static void log_counters(dw_sidecar *s)
{
    dw_engine_stats st;
    dw_engine_stats_get(s->engine, &st);
    char buf[2048];
    size_t n =
        (size_t)snprintf(buf, sizeof buf,
                         "counters: messages=%llu records=%llu applied=%llu "
                         "wrong_type_fields=%llu evaluations=%llu notifications=%llu",
                         (unsigned long long)st.messages, (unsigned long long)st.records,
                         (unsigned long long)st.applied, (unsigned long long)st.wrong_type_fields,
                         (unsigned long long)st.evaluations, (unsigned long long)st.notifications);
    for (int r = 0; r < DW_REJECT_MAX && n < sizeof buf; r++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, " rejected.%s=%llu",
                              dw_reject_reason_name((dw_reject_reason)r),
                              (unsigned long long)st.rejected[r]);
    if (s->state && n < sizeof buf)
        n += (size_t)snprintf(
            buf + n, sizeof buf - n,
            " state.deltas_out=%llu state.delta_bytes_out=%llu "
            "state.deltas_in=%llu state.records_in=%llu "
            "state.duplicates=%llu state.late=%llu state.ahead=%llu "
            "state.foreign=%llu state.invalid=%llu",
            (unsigned long long)st.deltas_out, (unsigned long long)st.delta_bytes_out,
            (unsigned long long)st.deltas_in, (unsigned long long)st.delta_records_in,
            (unsigned long long)st.delta_duplicates, (unsigned long long)st.delta_late,
            (unsigned long long)st.delta_ahead, (unsigned long long)st.delta_foreign,
            (unsigned long long)st.delta_invalid);
    uint64_t sent, failed, dropped;
    dw_sidecar_delivery_totals(s, &sent, &failed, &dropped);
    if (n < sizeof buf)
        snprintf(buf + n, sizeof buf - n, " delivered=%llu delivery_failed=%llu dropped=%llu",
                 (unsigned long long)sent, (unsigned long long)failed, (unsigned long long)dropped);
    dw_log(DW_LOG_INFO, "sidecar", "%s", buf);
}

/* The HTTP server (src/http.c) for run and replay, when http.enabled. */
static int http_start(dw_sidecar *s, char *errbuf, size_t errlen)
{
    if (!s->cfg->http.enabled)
        return 0;
    dw_http_options ho = {
        .host = s->cfg->http.host,
        .port = s->cfg->http.port,
        .engine = s->engine,
        .notifier = s->notifier,
        .poll_timeout_ms = s->cfg->kafka.poll_timeout_ms,
    };
    return dw_http_start(&ho, &s->http, errbuf, errlen);
}

static void http_stop(dw_sidecar *s)
{
    dw_http_stop(s->http);
    s->http = NULL;
}

/* Bytes asked of read() at a time: small enough that the copy does not
 * evict the engine's tables from the second-level cache (1 MiB there), large
 * enough that the system calls do not show (about 300 per 100 MB). */
#define REPLAY_BLOCK (128u * 1024)

/* One input of a replay: the next non-empty line, read ahead so two files
 * can be merged in event-time order. Lines are read in blocks and handed
 * out in place (no copy per line); the buffer holds at most one line of
 * REPLAY_MAX_LINE bytes and a block. */
typedef struct replay_in {
    FILE *f;
    char *buf;
    size_t cap, pos, len; /* unread bytes: buf[pos..len) */
    bool at_end;          /* read() returned 0 */
    bool read_error;
    const char *line;
    size_t n;
    bool has, eof, label;
    int64_t t;
} replay_in;

/* Reads one block after buf[len] (room made first). */
static void replay_read(replay_in *r)
{
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    if (r->cap - r->len < REPLAY_BLOCK) {
        r->cap = r->len + REPLAY_BLOCK;
        r->buf = dw_realloc(r->buf, r->cap);
    }
    ssize_t got;
    do
        got = read(fileno(r->f), r->buf + r->len, r->cap - r->len);
    while (got < 0 && errno == EINTR);
    if (got <= 0) {
        r->at_end = true;
        r->read_error = got < 0;
        return;
    }
    r->len += (size_t)got;
}

/* The next line (its end-of-line characters, trailing '\r' included, not
 * counted) into line/n; false at the end of the input. A line longer than
 * REPLAY_MAX_LINE gives its first REPLAY_MAX_LINE bytes (the scanner counts
 * it as invalid JSON), the rest is skipped. */
static bool replay_line(replay_in *r)
{
    size_t from = r->pos; /* where the search for '\n' resumes */
    for (;;) {
        char *nl = memchr(r->buf + from, '\n', r->len - from);
        if (nl || (r->at_end && r->len > r->pos)) {
            size_t end = nl ? (size_t)(nl - r->buf) : r->len;
            r->line = r->buf + r->pos;
            r->n = end - r->pos;
            r->pos = nl ? end + 1 : end;
            while (r->n > 0 && r->line[r->n - 1] == '\r')
                r->n--;
            if (r->n > REPLAY_MAX_LINE)
                r->n = REPLAY_MAX_LINE;
            return true;
        }
        if (r->at_end)
            return false;
        if (r->len - r->pos > REPLAY_MAX_LINE) {
            /* Keep the first REPLAY_MAX_LINE bytes; the line is then cut
             * there, unless all that follows is '\r' (then stripped, as
             * a shorter line's would be). */
            bool only_cr = true;
            for (;;) {
                const char *tail = r->buf + r->pos + REPLAY_MAX_LINE;
                size_t tn = r->len - r->pos - REPLAY_MAX_LINE;
                const char *tnl = memchr(tail, '\n', tn);
                size_t upto = tnl ? (size_t)(tnl - tail) : tn;
                for (size_t i = 0; i < upto && only_cr; i++)
                    only_cr = tail[i] == '\r';
                if (tnl) {
                    memmove((char *)tail, tnl, (size_t)(r->buf + r->len - tnl));
                    r->len -= upto;
                    break;
                }
                r->len = r->pos + REPLAY_MAX_LINE;
                replay_read(r);
                if (r->at_end)
                    break;
            }
            /* Now the line is REPLAY_MAX_LINE bytes, then '\n' or the end. */
            r->line = r->buf + r->pos;
            r->n = REPLAY_MAX_LINE;
            r->pos += REPLAY_MAX_LINE + (r->len > r->pos + REPLAY_MAX_LINE);
            if (only_cr)
                while (r->n > 0 && r->line[r->n - 1] == '\r')
                    r->n--;
            return true;
        }
        from = r->len - r->pos; /* offset: replay_read() moves the bytes */
        replay_read(r);
        from += r->pos;
    }
}

static void replay_fill(dw_sidecar *s, replay_in *r, bool merge)
{
    while (!r->has && !r->eof) {
        if (!replay_line(r)) {
            r->eof = true;
            break;
        }
        if (r->n == 0)
            continue;
        r->has = true;
        /* The time only orders two inputs; with one, it is never read,
         * and finding it scans the whole record a second time. */
        r->t = merge ? dw_engine_message_time(s->engine, r->line, r->n, r->label) : INT64_MIN;
    }
}

int dw_sidecar_replay(dw_sidecar *s, FILE *in, const char *name, char *errbuf, size_t errlen)
{
    return dw_sidecar_replay_labels(s, in, name, NULL, NULL, errbuf, errlen);
}

int dw_sidecar_replay_labels(dw_sidecar *s, FILE *in, const char *name, FILE *labels,
                             const char *lname, char *errbuf, size_t errlen)
{
    char herr[512];
    /* Only on request (replay --http): a backtest should not open a port
     * by default, and must not fail because the status port is taken
     * (another replay or the sidecar itself may hold it): warn and go on. */
    if (s->opts.replay_http && http_start(s, herr, sizeof herr) < 0)
        dw_log(DW_LOG_WARN, "sidecar", "replay continues without the HTTP server: %s", herr);
    /* Nobody reads the status before the end without the HTTP server. */
    dw_engine_set_live_snapshot(s->engine, s->http != NULL);
    uint64_t lines = 0;
    replay_in rin[2] = {{.f = in}, {.f = labels, .eof = labels == NULL, .label = true}};
    for (;;) {
        replay_fill(s, &rin[0], labels != NULL);
        replay_fill(s, &rin[1], labels != NULL);
        /* Two files: the older record first (predictions on ties), so the
         * join sees both streams in event-time order as a live run would. */
        replay_in *r = rin[0].has ? &rin[0] : NULL;
        if (rin[1].has && (!r || (rin[1].t != INT64_MIN && rin[1].t < r->t)))
            r = &rin[1];
        if (!r)
            break;
        if ((++lines & 1023) == 0)
            dw_http_heartbeat(s->http);
        if (r->label)
            dw_engine_process_labels(s->engine, r->line, r->n);
        else
            dw_engine_process(s->engine, r->line, r->n, INT64_MIN);
        r->has = false;
    }
    free(rin[0].buf);
    free(rin[1].buf);
    const char *bad = rin[0].read_error ? name : rin[1].read_error ? lname : NULL;
    if (bad) {
        http_stop(s);
        return dw_seterr(errbuf, errlen, DW_ERR_IO, "%s: read error", bad);
    }
    dw_http_heartbeat(s->http);
    dw_engine_labels_complete(s->engine); /* the files hold every label there is */
    finish(s);
    log_counters(s);
    http_stop(s);
    return 0;
}

static void on_assign(void *ctx, const char *topic, int32_t partition, int assigned)
{
    dw_sidecar *s = ctx;
    if (s->state)
        dw_sc_state_assign(s, topic, partition, assigned != 0);
    int id = dw_engine_source(s->engine, topic, partition);
    dw_log(DW_LOG_DEBUG, "sidecar", "%s %s [%d] (source %d)", assigned ? "assigned" : "revoked",
           topic, (int)partition, id);
    dw_engine_source_assigned(s->engine, id, assigned != 0);
    s->last_topic = NULL; /* topic strings may be freed with the assignment */
    /* Revoked or assigned anew, the partition is read from the group's
     * committed offset (or the state topic's): a pause or an offset it
     * waited for no longer applies (the consumer lifts librdkafka's pause
     * on assignment). Kept, it dropped the partition's messages for good
     * or held the resume rule back forever (test_paused_partitions,
     * rebalance). */
    if (s->rewind && dw_rewind_forget(s->rewind, id)) {
        dw_log(DW_LOG_DEBUG, "sidecar", "%s [%d] %s while paused for event-time alignment", topic,
               (int)partition, assigned ? "assigned anew" : "revoked");
        if (s->consumer)
            dw_consumer_count_rewind(s->consumer, DW_REWIND_REVOKED);
    }
}

/* Resumes the paused partitions once the earliest paused message fits: the
 * partitions holding time back have caught up. (The slowest partition's
 * own message always fits once the windows' panes follow the watermark,
 * and a revoked partition no longer holds time back or stays paused;
 * stalled: see DW_SIDECAR_STALL_RESUME_MS.) */
static void resume_due(dw_sidecar *s, dw_consumer *c, bool stalled)
{
    size_t n = dw_rewind_npaused(s->rewind);
    if (n == 0)
        return;
    int64_t min_ts = dw_rewind_paused_min_ts(s->rewind);
    int64_t open_until = dw_engine_open_until(s->engine);
    if (min_ts >= open_until) {
        /* stalled: a safety net, not the rule (see
         * DW_SIDECAR_STALL_RESUME_MS): nothing at all was applied for a
         * while, so no partition is moving event time. */
        if (!stalled)
            return;
        dw_log_ratelimited(&s->stall_rl, DW_LOG_WARN, "sidecar",
                           "no message applied for %lld s while %zu partition(s) wait for event "
                           "time to pass %lld (windows open until %lld): reading them again",
                           (long long)(DW_SIDECAR_STALL_RESUME_MS / 1000), n, (long long)min_ts,
                           (long long)open_until);
    }
    int64_t now = dw_now_ms();
    dw_log(DW_LOG_DEBUG, "sidecar",
           "resuming %zu paused partition(s) (event time %lld, windows open until %lld)", n,
           (long long)min_ts, (long long)open_until);
    for (int id = dw_rewind_resume_next(s->rewind, 0, now); id >= 0;
         id = dw_rewind_resume_next(s->rewind, id + 1, now)) {
        int32_t part;
        const char *topic = dw_engine_source_topic(s->engine, id, &part);
        if (topic)
            (void)dw_consumer_resume(c, topic, part);
    }
}

/* A partition resumed but not read again at its offset in
 * DW_SIDECAR_REWIND_TIMEOUT_MS: the seek did not take (librdkafka reports
 * no error for an asynchronous one). Seek it there again, once a timeout. */
static void reseek_overdue(dw_sidecar *s, dw_consumer *c)
{
    int64_t now = dw_now_ms(), off;
    for (int id = dw_rewind_overdue(s->rewind, 0, now, DW_SIDECAR_REWIND_TIMEOUT_MS, &off); id >= 0;
         id = dw_rewind_overdue(s->rewind, id + 1, now, DW_SIDECAR_REWIND_TIMEOUT_MS, &off)) {
        int32_t part;
        const char *topic = dw_engine_source_topic(s->engine, id, &part);
        if (!topic)
            continue;
        dw_log(DW_LOG_WARN, "sidecar",
               "%s [%d] was resumed %lld s ago and has not delivered offset %lld again: seeking "
               "there again",
               topic, (int)part, (long long)(DW_SIDECAR_REWIND_TIMEOUT_MS / 1000), (long long)off);
        dw_consumer_count_rewind(c, DW_REWIND_RESEEK);
        dw_kafka_msg at = {.topic = topic, .partition = part, .offset = off};
        if (dw_consumer_pause_at(c, &at) == 0)
            (void)dw_consumer_resume(c, topic, part);
    }
}

static int source_of(dw_sidecar *s, const dw_kafka_msg *msg)
{
    if (!msg->topic)
        return 0;
    if (s->last_topic && msg->partition == s->last_partition &&
        strcmp(msg->topic, s->last_topic) == 0)
        return s->last_source;
    int id = dw_engine_source(s->engine, msg->topic, msg->partition);
    if (id < 0)
        id = 0;
    s->last_topic = msg->topic;
    s->last_partition = msg->partition;
    s->last_source = id;
    return id;
}

static bool kv_equal(const dw_kv *a, size_t na, const dw_kv *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i].key, b[i].key) || strcmp(a[i].value, b[i].value))
            return false;
    return true;
}

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Whether two configurations deliver to the same sinks the same way. */
static bool sinks_equal(const dw_config *a, const dw_config *b)
{
    if (a->nsinks != b->nsinks)
        return false;
    for (size_t i = 0; i < a->nsinks; i++) {
        const dw_sink_config *x = &a->sinks[i], *y = &b->sinks[i];
        if (strcmp(x->name, y->name) || x->type != y->type || !same(x->url, y->url) ||
            x->timeout_ms != y->timeout_ms || x->max_retries != y->max_retries ||
            x->send_resolved != y->send_resolved || x->min_interval_ms != y->min_interval_ms ||
            !kv_equal(x->headers, x->nheaders, y->headers, y->nheaders) ||
            !kv_equal(x->params, x->nparams, y->params, y->nparams))
            return false;
    }
    if (a->nretrain != b->nretrain)
        return false;
    for (size_t i = 0; i < a->nretrain; i++) {
        const dw_retrain_config *x = &a->retrain[i], *y = &b->retrain[i];
        if (strcmp(x->name, y->name) || x->type != y->type || !same(x->url, y->url) ||
            !kv_equal(x->params, x->nparams, y->params, y->nparams))
            return false;
    }
    return true;
}

/* A reload that cannot apply: frees what it had built (any may be NULL)
 * and logs why. Returns false (for reload()). */
static bool refuse_reload(const char *err, dw_config *cfg, dw_notifier *notifier,
                          dw_sink_spec *specs, dw_sink_kv *spec_kv)
{
    dw_notifier_free(notifier);
    free(specs);
    free(spec_kv);
    dw_config_free(cfg);
    dw_log(DW_LOG_ERROR, "sidecar", "reload refused, keeping the running configuration: %s", err);
    return false;
}

/* SIGHUP: the new configuration and references, or the old ones with the
 * reason logged. Window state is kept (dw_engine_reload). */
static bool reload(dw_sidecar *s)
{
    char err[1024];
    dw_config *cfg = NULL;
    if (dw_config_load(s->cfg->path, &cfg, err, sizeof err) < 0)
        return refuse_reload(err, NULL, NULL, NULL, NULL);
    if (strcmp(cfg->kafka.brokers, s->cfg->kafka.brokers) ||
        strcmp(cfg->kafka.group_id, s->cfg->kafka.group_id))
        dw_log(DW_LOG_WARN, "sidecar", "kafka settings changed: they apply after a restart");
    if (!same(cfg->state.topic, s->cfg->state.topic) ||
        cfg->state.flush_interval_ms != s->cfg->state.flush_interval_ms)
        dw_log(DW_LOG_WARN, "sidecar", "state settings changed: they apply after a restart");
    dw_notifier *notifier = NULL;
    dw_sink_spec *specs = NULL;
    dw_sink_kv *spec_kv = NULL;
    bool new_sinks = s->notifier && !sinks_equal(s->cfg, cfg);
    if (new_sinks) {
        /* Build the new notifier first so a bad sink refuses the reload. */
        const dw_config *old = s->cfg;
        dw_sink_spec *old_specs = s->specs;
        dw_sink_kv *old_kv = s->spec_kv;
        s->cfg = cfg;
        int rc = build_specs(s, err, sizeof err);
        dw_notifier_options no = {.state_dir = cfg->state_dir};
        if (rc == 0)
            rc = dw_notifier_new_ex(s->specs, cfg->nsinks + cfg->nretrain, &no, &notifier, err,
                                    sizeof err);
        specs = s->specs;
        spec_kv = s->spec_kv;
        s->cfg = old;
        s->specs = old_specs;
        s->spec_kv = old_kv;
        if (rc < 0)
            return refuse_reload(err, cfg, NULL, specs, spec_kv);
    }
    if (dw_engine_reload(s->engine, cfg, err, sizeof err) < 0)
        return refuse_reload(err, cfg, notifier, specs, spec_kv);
    if (new_sinks) {
        dw_notifier_drain(s->notifier, 2000);
        dw_http_set_notifier(s->http, notifier); /* before the old one is freed */
        dw_notifier_free(s->notifier);
        free(s->specs);
        free(s->spec_kv);
        s->notifier = notifier;
        s->specs = specs;
        s->spec_kv = spec_kv;
    }
    dw_config_free(s->owned_cfg);
    s->owned_cfg = cfg;
    s->cfg = cfg;
    dw_log_set_level(cfg->log.level);
    dw_log(DW_LOG_INFO, "sidecar", "configuration reloaded from %s%s", cfg->path,
           new_sinks ? " (sinks rebuilt)" : "");
    return true;
}

int dw_sidecar_run(dw_sidecar *s, volatile sig_atomic_t *stop, char *errbuf, size_t errlen)
{
    const dw_kafka_config *kc = &s->cfg->kafka;
    const char **keys = dw_calloc(kc->nproperties + 1, sizeof *keys);
    const char **vals = dw_calloc(kc->nproperties + 1, sizeof *vals);
    for (size_t i = 0; i < kc->nproperties; i++) {
        keys[i] = kc->properties[i].key;
        vals[i] = kc->properties[i].value;
    }
    const char *brokers = s->opts.brokers ? s->opts.brokers : kc->brokers;
    /* Labels topics (issue 14) are read by the same consumer. */
    const dw_labels_config *lc = &s->cfg->labels;
    const char **topics = dw_calloc(kc->ntopics + lc->ntopics + 1, sizeof *topics);
    size_t ntopics = 0;
    for (size_t i = 0; i < kc->ntopics + lc->ntopics; i++) {
        const char *t = i < kc->ntopics ? kc->topics[i] : lc->topics[i - kc->ntopics];
        bool dup = false;
        for (size_t k = 0; k < ntopics && !dup; k++)
            dup = !strcmp(topics[k], t);
        if (!dup)
            topics[ntopics++] = t;
    }
    dw_kafka_settings ks = {
        .brokers = brokers,
        .topics = topics,
        .ntopics = ntopics,
        .group_id = kc->group_id,
        .auto_offset_reset = kc->auto_offset_reset == DW_OFFSET_LATEST ? "latest" : "earliest",
        .prop_keys = keys,
        .prop_values = vals,
        .nprops = kc->nproperties,
        .commit_interval_ms = kc->commit_interval_ms,
        .on_assign = on_assign,
        .assign_ctx = s,
    };
    if (s->cfg->state.topic)
        ks.start_offset = dw_sc_state_start_offset;
    dw_consumer *c = NULL;
    int rc = http_start(s, errbuf, errlen);
    if (rc < 0)
        goto out;
    if (s->cfg->state.topic) {
        /* Rebuild the windows from the state topic before consuming. */
        rc = dw_sc_state_start(s, brokers, keys, vals, kc->nproperties, errbuf, errlen);
        if (rc < 0)
            goto out;
    }
    s->rewind = dw_rewind_new(DW_ENGINE_MAX_SOURCES);
    s->last_applied_ms = dw_now_ms();
    rc = dw_consumer_new(&ks, &c, errbuf, errlen);
    if (rc < 0)
        goto out;
    s->consumer = c;
    if (kc->dead_letter_topic) {
        dw_dead_letter_settings ds = {
            .brokers = brokers,
            .topic = kc->dead_letter_topic,
            .prop_keys = keys,
            .prop_values = vals,
            .nprops = kc->nproperties,
        };
        rc = dw_dead_letter_new(&ds, &s->dlq, errbuf, errlen);
        if (rc < 0)
            goto out;
    }
    dw_log(DW_LOG_INFO, "sidecar", "consuming %zu topic(s) from %s as group %s", kc->ntopics,
           brokers, kc->group_id);
    int64_t last_tick = 0, last_save = dw_now_ms();
    char why[512];
    /* With sinks the notifier's outbox reports it; without, say it now
     * rather than at the first save (alerts.json, a minute in). */
    if (!s->state && s->cfg->nsinks + s->cfg->nretrain == 0 &&
        dw_outbox_check_dir(s->cfg->state_dir, why, sizeof why) < 0)
        dw_log(DW_LOG_ERROR, "sidecar", "%s; firing alerts will not survive a restart", why);
    if (!s->state)
        load_alert_state(s);
    /* With a state topic the loop also reads the other replicas' deltas:
     * do not sit in the input poll for long. */
    int poll_ms = (int)kc->poll_timeout_ms;
    if (s->state && poll_ms > 20)
        poll_ms = 20;
    /* *stop is set by a signal handler or, in the demo, by another thread. */
    while (!__atomic_load_n(stop, __ATOMIC_RELAXED)) {
        dw_kafka_msg msg;
        dw_http_heartbeat(s->http);
        if (s->state) {
            dw_sc_state_pump(s);
            if (dw_state_topic_broken(s->state)) {
                rc = dw_seterr(errbuf, errlen, DW_ERR_KAFKA,
                               "state topic %s: a delta could not be written; exiting so that "
                               "the restart rebuilds from the state topic and reads the input "
                               "again from where it ends",
                               s->cfg->state.topic);
                break;
            }
        }
        rc = dw_consumer_poll(c, poll_ms, &msg);
        if (rc < 0) {
            dw_seterr(errbuf, errlen, rc, "kafka: %s", dw_consumer_error(c));
            break;
        }
        if (rc == 1) {
            dw_process_result pr;
            int src = source_of(s, &msg);
            int outcome;
            if (!dw_rewind_accept(s->rewind, src, msg.offset, &outcome)) {
                dw_kafka_msg_release(&msg); /* fetched before the seek, or applied */
                continue;
            }
            if (outcome >= 0)
                dw_consumer_count_rewind(c, (dw_rewind_outcome)outcome);
            if (outcome == DW_REWIND_SKIPPED)
                dw_log(DW_LOG_WARN, "sidecar",
                       "%s [%d] resumed at offset %lld, past the offset it was paused at: the "
                       "records in between were deleted or another member committed past them",
                       msg.topic, (int)msg.partition, (long long)msg.offset);
            s->current = &msg;
            s->processed++;
            if (s->state)
                dw_engine_source_offset(s->engine, src, msg.offset + 1);
            dw_engine_process_from(s->engine, src, msg.payload, msg.payload ? msg.len : 0,
                                   msg.timestamp_ms >= 0 ? msg.timestamp_ms : INT64_MIN, &pr);
            s->current = NULL;
            if (pr.ahead) {
                /* This partition ran ahead of the others in event time:
                 * wait for them, then read this message again. */
                dw_log(DW_LOG_DEBUG, "sidecar",
                       "pausing %s [%d] at offset %lld: event time %lld is ahead (windows open "
                       "until %lld, watermark %lld)",
                       msg.topic, (int)msg.partition, (long long)msg.offset, (long long)pr.ahead_ts,
                       (long long)dw_engine_open_until(s->engine),
                       (long long)dw_engine_watermark(s->engine));
                if (dw_consumer_pause_at(c, &msg) == 0)
                    dw_rewind_paused(s->rewind, src, msg.offset, pr.ahead_ts);
            } else if (!s->state) {
                /* At-least-once: the offset is stored only now that the
                 * record is counted in the windows. (With state.topic it
                 * is stored once the delta holding it is acknowledged.) */
                dw_consumer_store(c, &msg);
            }
            dw_kafka_msg_release(&msg);
        }
        resume_due(s, c, false);
        rc = 0;
        if (s->opts.reload && *s->opts.reload) {
            *s->opts.reload = 0;
            dw_http_config_loaded(s->http, reload(s));
        }
        int64_t now = dw_wall_ms();
        if (now - last_tick >= 1000) {
            dw_engine_tick(s->engine, now);
            if (s->dlq) {
                dw_dead_letter_poll(s->dlq);
                dw_dead_letter_stats dls = dw_dead_letter_get_stats(s->dlq);
                dw_http_publish_dead_letter(s->http, &dls);
            }
            dw_http_publish_lag(s->http, c);
            /* Paused partitions: the watchdogs, once a second. */
            if (s->processed != s->processed_at_tick) {
                s->processed_at_tick = s->processed;
                s->last_applied_ms = dw_now_ms();
            } else if (dw_rewind_npaused(s->rewind) &&
                       dw_now_ms() - s->last_applied_ms >= DW_SIDECAR_STALL_RESUME_MS) {
                resume_due(s, c, true);
                s->last_applied_ms = dw_now_ms();
            }
            if (dw_rewind_nwaiting(s->rewind))
                reseek_overdue(s, c);
            if (s->state)
                dw_sc_state_publish(s);
            last_tick = now;
        }
        if (!s->state && dw_now_ms() - last_save >= 60000) {
            save_alert_state(s);
            last_save = dw_now_ms();
        }
    }
    dw_log(DW_LOG_INFO, "sidecar", "stopping: final evaluation, commit, drain");
    dw_http_set_ready(s->http, false, "stopping");
    if (s->state)
        dw_sc_state_stop(s, s->opts.drain_budget_ms);
    finish(s);
    if (!s->state)
        save_alert_state(s);
    log_counters(s);
out:
    s->consumer = NULL;
    if (c) {
        int crc = dw_consumer_close(c);
        if (crc < 0 && rc == 0)
            dw_log(DW_LOG_WARN, "sidecar", "final commit failed: %s", dw_consumer_error(c));
        dw_consumer_free(c);
    }
    if (s->dlq) {
        dw_dead_letter_close(s->dlq, 5000);
        dw_dead_letter_free(s->dlq);
        s->dlq = NULL;
    }
    dw_sc_state_free(s);
    http_stop(s);
    free(keys);
    free(vals);
    free(topics);
    return rc;
}

void dw_sidecar_delivery_totals(dw_sidecar *s, uint64_t *sent, uint64_t *failed, uint64_t *dropped)
{
    *sent = *failed = *dropped = 0;
    if (!s->notifier)
        return;
    for (size_t i = 0; i < dw_notifier_sink_count(s->notifier); i++) {
        dw_sink_stats st;
        if (dw_notifier_stats(s->notifier, i, &st) == 0) {
            *sent += st.sent;
            *failed += st.failed;
            *dropped += st.dropped;
        }
    }
}

void dw_sidecar_free(dw_sidecar *s)
{
    if (!s)
        return;
    dw_notifier_free(s->notifier);
    dw_engine_free(s->engine);
    free(s->specs);
    free(s->spec_kv);
    dw_rewind_free(s->rewind);
    dw_config_free(s->owned_cfg);
    free(s);
}

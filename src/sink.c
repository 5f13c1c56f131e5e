/* The sink registry and what every sink type shares: specs and their
 * options, requests, the shared HTTP policy, the alert filter and the
 * one-line statistics summary (sink.h). Delivery itself (queues, retries,
 * curl) is the notifier's. */
#include "sink_int.h"

#include "driftwatch/duration.h"
#include "driftwatch/dynbuf.h"
#include "driftwatch/error.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every registered type, in DW_SINK_REGISTRY order (sink_int.h). */
#define DW_SINK_ENTRY(ops) &ops,
static const dw_sink_ops *const sink_types[] = {DW_SINK_REGISTRY(DW_SINK_ENTRY)};

/* ------------------------------------------------------------------ */
/* Sink registry and helpers                                           */

void dw_sink_spec_init(dw_sink_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->timeout_ms = DW_SINK_DEFAULT_TIMEOUT_MS;
    spec->max_retries = DW_SINK_DEFAULT_MAX_RETRIES;
    spec->send_resolved = true;
    spec->queue_size = DW_SINK_DEFAULT_QUEUE;
}

const char *dw_sink_spec_option(const dw_sink_spec *spec, const char *key)
{
    for (size_t i = 0; i < spec->n_options; i++)
        if (spec->options[i].key && strcmp(spec->options[i].key, key) == 0 &&
            spec->options[i].value && *spec->options[i].value)
            return spec->options[i].value;
    const dw_sink_option *o = dw_sink_option_find(dw_sink_ops_find(spec->type), key);
    return o ? o->def : NULL;
}

void dw_http_request_clear(dw_http_request *req)
{
    free(req->body);
    free(req->url);
    for (size_t i = 0; i < req->n_headers; i++)
        free(req->headers[i]);
    memset(req, 0, sizeof *req);
}

static bool has_crlf(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

int dw_http_request_add_header(dw_http_request *req, const char *name, const char *value)
{
    if (!name || !*name || !value || has_crlf(name) || has_crlf(value) || strchr(name, ':'))
        return DW_ERR_INVALID;
    if (req->n_headers >= DW_HTTP_MAX_HEADERS)
        return DW_ERR_LIMIT;
    size_t len = strlen(name) + strlen(value) + 3;
    char *line = dw_malloc(len);
    snprintf(line, len, "%s: %s", name, value);
    req->headers[req->n_headers++] = line;
    return 0;
}

int dw_http_request_set_json(dw_http_request *req, const json_t *doc)
{
    char *s = json_dumps(doc, JSON_COMPACT);
    if (!s)
        return DW_ERR_INVALID;
    free(req->body);
    /* jansson allocates with malloc (no custom allocator is installed), so
     * the string can be released with free() like the rest. */
    req->body = s;
    req->body_len = strlen(s);
    snprintf(req->content_type, sizeof req->content_type, "application/json");
    return 0;
}

dw_delivery dw_sink_classify_http(long status)
{
    if (status >= 200 && status < 300)
        return DW_DELIVERY_OK;
    if (status == 0 || status == 408 || status == 429 || (status >= 500 && status < 600))
        return DW_DELIVERY_RETRY;
    return DW_DELIVERY_DROP;
}

const dw_sink_ops *dw_sink_ops_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof sink_types / sizeof sink_types[0]; i++)
        if (strcmp(sink_types[i]->name, name) == 0)
            return sink_types[i];
    return NULL;
}

const dw_sink_ops *dw_sink_ops_at(size_t i)
{
    return i < sizeof sink_types / sizeof sink_types[0] ? sink_types[i] : NULL;
}

void dw_sink_ops_names(char *buf, size_t len)
{
    if (!len)
        return;
    const char *names[sizeof sink_types / sizeof sink_types[0]];
    for (size_t i = 0; i < sizeof sink_types / sizeof sink_types[0]; i++)
        names[i] = sink_types[i]->name;
    dw_dynbuf b;
    dw_dynbuf_init(&b, len - 1);
    dw_dynbuf_addlist(&b, names, sizeof names / sizeof names[0], ", ", NULL);
    dw_dynbuf_take_into(&b, buf);
}

/* Checks that url is an http:// or https:// URL curl accepts. Returns 0
 * or DW_ERR_INVALID with one sentence naming the sink in errbuf. */
static int check_url(const dw_sink_spec *spec, const char *url, char *errbuf, size_t errlen)
{
    if (!url || !*url)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "sink \"%s\": a url is required",
                         spec->name);
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "sink \"%s\": url \"%s\" must start with http:// or https://", spec->name,
                         url);
    /* curl's own parser judges the rest: what passes is what the transfer
     * accepts. */
    CURLU *u = curl_url();
    CURLUcode uc = u ? curl_url_set(u, CURLUPART_URL, url, 0) : CURLUE_OUT_OF_MEMORY;
    curl_url_cleanup(u);
    if (uc != CURLUE_OK)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "sink \"%s\": url \"%s\" is not valid: %s",
                         spec->name, url, curl_url_strerror(uc));
    return 0;
}

int dw_sink_severity_rank(const char *severity)
{
    static const char *const names[] = {"info", "warning", "error", "critical"};
    for (int i = 0; severity && i < 4; i++)
        if (strcmp(severity, names[i]) == 0)
            return i + 1;
    return 0;
}

static bool listed(char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

int64_t dw_sink_reminder_interval(const dw_sink_spec *spec)
{
    const dw_sink_ops *ops = dw_sink_ops_find(spec->type);
    return ops && ops->reminder_interval ? ops->reminder_interval(spec) : 0;
}

json_t *dw_sink_filter_alerts(const dw_sink_spec *spec, const json_t *doc)
{
    json_t *d = (json_t *)doc; /* jansson's getters are not const-correct */
    /* Reminders of still-firing alerts go only to sinks that want them. */
    if (json_is_true(json_object_get(d, "reminder"))) {
        const dw_sink_ops *ops = dw_sink_ops_find(spec->type);
        if (!ops || !ops->reminder_interval)
            return NULL;
    }
    /* A model outside the filter: nothing in this document is for us. */
    if (spec->n_filter_models && !listed(spec->filter_models, spec->n_filter_models,
                                         json_string_value(json_object_get(d, "model"))))
        return NULL;
    json_t *alerts = json_object_get(d, "alerts");
    if (!json_is_array(alerts))
        return json_incref(d);
    int min_rank = dw_sink_severity_rank(spec->filter_severity);
    size_t total = json_array_size(alerts);
    json_t *keep = json_array();
    for (size_t i = 0; i < total; i++) {
        json_t *a = json_array_get(alerts, i);
        const char *st = json_string_value(json_object_get(a, "status"));
        if (!spec->send_resolved && st && strcmp(st, "resolved") == 0)
            continue;
        if (spec->n_filter_columns && !listed(spec->filter_columns, spec->n_filter_columns,
                                              json_string_value(json_object_get(a, "column"))))
            continue;
        /* An alert without a known severity passes only an "info" floor. */
        if (min_rank > 1 &&
            dw_sink_severity_rank(json_string_value(json_object_get(a, "severity"))) < min_rank)
            continue;
        json_array_append(keep, a);
    }
    size_t kept = json_array_size(keep);
    if (kept == 0) {
        json_decref(keep);
        return NULL;
    }
    if (kept == total) {
        json_decref(keep);
        return json_incref(d);
    }
    /* A shallow copy shares the unchanged members with doc; both stay on
     * the notifier thread, so the sharing is safe. */
    json_t *copy = json_copy(d);
    json_object_set_new(copy, "alerts", keep);
    return copy;
}

json_t *dw_sink_filter_alert_list(const dw_sink_spec *spec, const json_t *doc, json_t **alerts)
{
    json_t *d = dw_sink_filter_alerts(spec, doc);
    *alerts = d ? json_object_get(d, "alerts") : NULL;
    if (d && json_array_size(*alerts) == 0) {
        json_decref(d);
        *alerts = NULL;
        return NULL;
    }
    return d;
}

static void append_num(dw_dynbuf *b, const char *sep, const char *name, json_t *v)
{
    if (json_is_number(v))
        dw_dynbuf_addf(b, "%s%s=%.3g", b->len ? sep : "", name, json_number_value(v));
}

static void append_rate(dw_dynbuf *b, const char *name, json_t *v, bool always)
{
    if (json_is_number(v) && (always || json_number_value(v) > 0))
        dw_dynbuf_addf(b, "%s%s %.1f%%", b->len ? ", " : "", name, 100.0 * json_number_value(v));
}

char *dw_sink_alert_stats(const json_t *alert, char *buf, size_t len)
{
    if (!len)
        return buf;
    /* Built up to len - 1 bytes; what does not fit is cut. */
    dw_dynbuf b;
    dw_dynbuf_init(&b, len - 1);
    json_t *a = (json_t *)alert;
    const char *kind = json_string_value(json_object_get(a, "kind"));
    json_t *lat = json_object_get(a, "latency");
    if (kind && strcmp(kind, "latency") == 0 && json_is_object(lat)) {
        json_t *u = json_object_get(lat, "unit");
        append_num(&b, "", "value", json_object_get(lat, "value"));
        append_num(&b, " ", "max", json_object_get(lat, "max"));
        append_num(&b, " ", "quantile", json_object_get(lat, "quantile"));
        dw_dynbuf_addf(&b, " (%s)", json_is_string(u) ? json_string_value(u) : "?");
    } else if (kind && strcmp(kind, "performance") == 0) {
        /* "accuracy=0.71 [0.69, 0.73], reference=0.85, margin=0.03" */
        json_t *p = json_object_get(a, "performance");
        const char *m = json_string_value(json_object_get(p, "metric"));
        append_num(&b, ", ", m ? m : "value", json_object_get(p, "value"));
        json_t *lo = json_object_get(p, "lower"), *hi = json_object_get(p, "upper");
        if (json_is_number(lo) && json_is_number(hi))
            dw_dynbuf_addf(&b, " [%.3g, %.3g]", json_number_value(lo), json_number_value(hi));
        append_num(&b, ", ", "reference", json_object_get(p, "reference"));
        append_num(&b, ", ", "margin", json_object_get(p, "margin"));
        append_num(&b, ", ", "estimated", json_object_get(p, "estimated"));
    } else if (kind && strcmp(kind, "quality") == 0) {
        json_t *q = json_object_get(a, "quality");
        append_rate(&b, "missing", json_object_get(q, "missing_rate"), true);
        json_t *ref = json_object_get(q, "ref_missing_rate");
        if (json_is_number(ref))
            dw_dynbuf_addf(&b, " (reference %.1f%%)", 100.0 * json_number_value(ref));
        append_rate(&b, "out of range", json_object_get(q, "out_of_range_rate"), false);
        append_rate(&b, "unseen categories", json_object_get(q, "unseen_rate"), false);
        append_rate(&b, "type errors", json_object_get(q, "type_error_rate"), false);
    } else {
        json_t *t = json_object_get(a, "tests");
        json_t *ks = json_object_get(t, "ks"), *chi = json_object_get(t, "chi2");
        if (json_is_object(ks)) {
            append_num(&b, ", ", "KS D", json_object_get(ks, "statistic"));
            append_num(&b, " ", "p_adj", json_object_get(ks, "p_adjusted"));
        }
        if (json_is_object(chi)) {
            append_num(&b, ", ", "chi2", json_object_get(chi, "statistic"));
            append_num(&b, " ", "df", json_object_get(chi, "df"));
            append_num(&b, " ", "p_adj", json_object_get(chi, "p_adjusted"));
        }
        append_num(&b, ", ", "PSI", json_object_get(t, "psi"));
    }
    json_t *cats = json_object_get(a, "new_categories");
    size_t nc = json_array_size(cats);
    for (size_t i = 0; i < nc && i < 3; i++) {
        const char *c = json_string_value(json_array_get(cats, i));
        dw_dynbuf_addf(&b, "%s%s", i ? ", " : (b.len ? "; new categories: " : "new categories: "),
                       c ? c : "?");
    }
    if (nc > 3)
        dw_dynbuf_addf(&b, " (+%zu more)", nc - 3);
    json_t *n = json_object_get(a, "samples");
    if (json_is_integer(n))
        dw_dynbuf_addf(&b, "%s%lld samples", b.len ? "; " : "", (long long)json_integer_value(n));
    return dw_dynbuf_take_into(&b, buf);
}

/* ------------------------------------------------------------------ */
/* Options and validation                                              */

const dw_sink_option *dw_sink_option_find(const dw_sink_ops *ops, const char *key)
{
    for (const dw_sink_option *o = ops ? ops->options : NULL; o && o->key; o++) {
        size_t kl = strlen(o->key);
        if (strcmp(o->key, key) == 0 ||
            (o->type == DW_SINK_OPT_MAP && strncmp(o->key, key, kl) == 0 && key[kl] == '.'))
            return o;
    }
    return NULL;
}

const char *dw_sink_option_check(const dw_sink_option *o, const char *value, char *why, size_t len)
{
    switch (o->type) {
    case DW_SINK_OPT_URL:
        if (strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0)
            return "must start with http:// or https://";
        break;
    case DW_SINK_OPT_DURATION: {
        int64_t ms, max = o->max > 0 ? o->max : DW_DURATION_MAX_MS;
        if (dw_duration_parse(value, &ms) < 0)
            return "is not a duration (use 30s, 5m, 1h, 1h30m)";
        if (ms < o->min || ms > max) {
            char a[48], b[48];
            snprintf(why, len, "is out of range (%s to %s)",
                     dw_duration_format(o->min, a, sizeof a), dw_duration_format(max, b, sizeof b));
            return why;
        }
        break;
    }
    case DW_SINK_OPT_ENUM:
        for (const char *const *v = o->values; *v; v++)
            if (strcmp(*v, value) == 0)
                return o->check ? o->check(value) : NULL;
        {
            size_t n = 0;
            while (o->values[n])
                n++;
            dw_dynbuf b;
            dw_dynbuf_init(&b, len - 1);
            dw_dynbuf_addstr(&b, "must be ");
            dw_dynbuf_addlist(&b, o->values, n, ", ", " or ");
            return dw_dynbuf_take_into(&b, why);
        }
    case DW_SINK_OPT_MAP: /* the entries' names are checked by check_options() */ return NULL;
    case DW_SINK_OPT_STRING:
        if (o->max > 0 && strlen(value) > (size_t)o->max) {
            snprintf(why, len, "is longer than %lld characters", (long long)o->max);
            return why;
        }
        break;
    }
    return o->check ? o->check(value) : NULL;
}

/* One "<map>.<name>" option of map option o: the name passes o->check and
 * the map holds at most o->max entries. */
static int check_map_entry(const dw_sink_ops *t, const dw_sink_spec *sp, const dw_sink_option *o,
                           const char *name, const char *what, char *errbuf, size_t errlen)
{
    const char *bad = !*name ? "is empty" : o->check ? o->check(name) : NULL;
    if (bad)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "%s \"%s\": %s name \"%s\" %s", what,
                         sp->name, o->key, name, bad);
    size_t n = 0;
    for (size_t i = 0; i < sp->n_options; i++)
        n += dw_sink_option_find(t, sp->options[i].key) == o;
    if (o->max > 0 && n > (size_t)o->max)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "%s \"%s\": more than %lld %s", what,
                         sp->name, (long long)o->max, o->key);
    return 0;
}

/* The url and every option against t's table, then t's own checks. */
static int check_options(const dw_sink_ops *t, const dw_sink_spec *sp, char *errbuf, size_t errlen)
{
    /* Targets say so in their messages: that is what the configuration
     * calls them. */
    const char *what = t->roles == DW_SINK_ROLE_RETRAIN ? "retrain target" : "sink";
    if (!t->no_url) {
        const char *url = sp->url && *sp->url ? sp->url : t->default_url;
        int rc = check_url(sp, url, errbuf, errlen);
        if (rc)
            return rc;
    }
    char why[160];
    for (size_t i = 0; i < sp->n_options; i++) {
        const dw_sink_kv *kv = &sp->options[i];
        const dw_sink_option *o = dw_sink_option_find(t, kv->key);
        if (!o)
            return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                             "%s \"%s\": type %s takes no option \"%s\"", what, sp->name, t->name,
                             kv->key);
        if (o->type == DW_SINK_OPT_MAP) {
            int rc = check_map_entry(t, sp, o, kv->key + strlen(o->key) + 1, what, errbuf, errlen);
            if (rc)
                return rc;
            continue;
        }
        const char *bad = *kv->value ? dw_sink_option_check(o, kv->value, why, sizeof why) : NULL;
        if (bad)
            return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "%s \"%s\": option %s \"%s\" %s", what,
                             sp->name, o->key, kv->value, bad);
    }
    for (const dw_sink_option *o = t->options; o && o->key; o++)
        if (o->required && !dw_sink_spec_option(sp, o->key))
            return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "%s \"%s\": option %s is required",
                             what, sp->name, o->key);
    return t->validate ? t->validate(sp, errbuf, errlen) : 0;
}

int dw_sink_validate(const dw_sink_spec *sp, char *errbuf, size_t errlen)
{
    const char *nm = sp->name ? sp->name : "";
    const dw_sink_ops *t = dw_sink_ops_find(sp->type);
    if (!t) {
        char names[256];
        dw_sink_ops_names(names, sizeof names);
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "sink \"%s\": unknown type \"%s\" (known types: %s)", nm,
                         sp->type ? sp->type : "", names);
    }
    if (sp->timeout_ms < 1 || sp->timeout_ms > DW_SINK_MAX_TIMEOUT_MS)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "sink \"%s\": timeout_ms %lld is outside 1..%d", nm,
                         (long long)sp->timeout_ms, DW_SINK_MAX_TIMEOUT_MS);
    if (sp->max_retries < 0 || sp->max_retries > DW_SINK_MAX_RETRIES)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "sink \"%s\": max_retries %d is outside 0..%d", nm, sp->max_retries,
                         DW_SINK_MAX_RETRIES);
    if (sp->min_interval_ms < 0 || sp->min_interval_ms > DW_SINK_MAX_MIN_INTERVAL_MS)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "sink \"%s\": min_interval_ms %lld is outside 0..%d", nm,
                         (long long)sp->min_interval_ms, DW_SINK_MAX_MIN_INTERVAL_MS);
    if (sp->queue_size > DW_SINK_MAX_QUEUE)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "sink \"%s\": queue_size %zu is above the limit %d", nm, sp->queue_size,
                         DW_SINK_MAX_QUEUE);
    if (sp->n_headers > DW_SINK_MAX_HEADERS || (sp->n_headers && !sp->headers))
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "sink \"%s\": at most %d headers are allowed", nm, DW_SINK_MAX_HEADERS);
    for (size_t i = 0; i < sp->n_headers; i++) {
        const dw_sink_kv *h = &sp->headers[i];
        if (!h->key || !*h->key || !h->value || has_crlf(h->key) || has_crlf(h->value) ||
            strchr(h->key, ':') || strlen(h->key) + strlen(h->value) > 1000)
            return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                             "sink \"%s\": header \"%s\" must have a name without ':' and a "
                             "value without line breaks, 1000 bytes at most",
                             nm, h->key ? h->key : "");
    }
    if (sp->n_options > DW_SINK_MAX_OPTIONS || (sp->n_options && !sp->options))
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "sink \"%s\": at most %d options are allowed", nm, DW_SINK_MAX_OPTIONS);
    for (size_t i = 0; i < sp->n_options; i++)
        if (!sp->options[i].key || !sp->options[i].value)
            return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                             "sink \"%s\": option #%zu has no key or value", nm, i + 1);
    if (sp->n_filter_models > DW_SINK_MAX_FILTER || sp->n_filter_columns > DW_SINK_MAX_FILTER ||
        (sp->n_filter_models && !sp->filter_models) ||
        (sp->n_filter_columns && !sp->filter_columns))
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "sink \"%s\": a filter list holds at most %d names", nm,
                         DW_SINK_MAX_FILTER);
    for (size_t i = 0; i < sp->n_filter_models; i++)
        if (!sp->filter_models[i])
            return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                             "sink \"%s\": filter model #%zu is missing", nm, i + 1);
    for (size_t i = 0; i < sp->n_filter_columns; i++)
        if (!sp->filter_columns[i])
            return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                             "sink \"%s\": filter column #%zu is missing", nm, i + 1);
    if (sp->filter_severity && !dw_sink_severity_rank(sp->filter_severity))
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "sink \"%s\": filter severity \"%s\" must be info, warning, error or "
                         "critical",
                         nm, sp->filter_severity);
    return check_options(t, sp, errbuf, errlen);
}

/* One row per alert kind; a kind not listed (distribution) is drift. */
static const struct {
    const char *kind, *title, *name, *header;
} alert_kinds[] = {
    {"quality", "Data quality problem", "DataQuality", "Data quality"},
    {"divergence", "Divergence from baseline", "ModelDivergence", "Canary divergence"},
    {"latency", "Latency SLO breach", "LatencySLOBreach", "Latency SLO"},
    {"performance", "Model performance below reference", "ModelPerformanceDrop",
     "Model performance"},
};
#define NKINDS (sizeof alert_kinds / sizeof alert_kinds[0])

static int alert_kind(const json_t *alert)
{
    const char *kind = json_string_value(json_object_get(alert, "kind"));
    for (size_t i = 0; kind && i < NKINDS; i++)
        if (!strcmp(kind, alert_kinds[i].kind))
            return (int)i;
    return -1; /* distribution drift */
}

const char *dw_sink_alert_title(const json_t *alert)
{
    int k = alert_kind(alert);
    return k < 0 ? "Drift" : alert_kinds[k].title;
}

const char *dw_sink_alert_name(const json_t *alert)
{
    int k = alert_kind(alert);
    return k < 0 ? "DriftDetected" : alert_kinds[k].name;
}

void dw_sink_alerts_header(const json_t *alerts, dw_dynbuf *b)
{
    /* Bit 0: drift; bit k + 1: alert_kinds[k]. */
    unsigned seen = 0;
    size_t i;
    json_t *a;
    json_array_foreach ((json_t *)alerts, i, a) {
        const char *st = json_string_value(json_object_get(a, "status"));
        if (!st || strcmp(st, "resolved") != 0)
            seen |= 1u << (alert_kind(a) + 1);
    }
    /* Quality problems go with the drift of the same evaluation under
     * "Drift", as they always have; alone they have their own title. */
    if (seen & 1u)
        seen &= ~(1u << 1);
    size_t n = 0;
    for (int k = -1; k < (int)NKINDS; k++)
        if (seen & (1u << (k + 1)))
            dw_dynbuf_addf(b, "%s%s", n++ ? ", " : "", k < 0 ? "Drift" : alert_kinds[k].header);
}

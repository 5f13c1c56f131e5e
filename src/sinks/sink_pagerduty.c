/* The PagerDuty sink: one Events API v2 event per alert
 * (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/).
 * A firing alert becomes a "trigger" event, a resolved one a "resolve"
 * event; both carry the alert's dedup_key, so PagerDuty opens one incident
 * per drift episode and closes it when the data recovers.
 *
 * The Events API takes one event per request, so this type sets
 * one_alert_per_request: the notifier queues a document with several
 * alerts as one document per alert, and format() sees exactly one. */
#include "sink_int.h"

#include "driftwatch/dynbuf.h"
#include "driftwatch/error.h"

#include <stdio.h>
#include <string.h>

#define PD_DEFAULT_URL "https://events.pagerduty.com/v2/enqueue"
/* The Events API's limits on summary and dedup_key. */
#define PD_SUMMARY_MAX 1024
#define PD_DEDUP_KEY_MAX 255
/* Bound on the summary while it is built (its parts are bounded: names,
 * a window, a 511-byte statistics line), before the cut to PD_SUMMARY_MAX. */
#define PD_SUMMARY_BUILD_MAX 65536

static const char *const pd_severities[] = {"critical", "error", "warning", "info", NULL};

static const dw_sink_option pd_options[] = {
    {.key = "routing_key", .type = DW_SINK_OPT_STRING, .required = true},
    /* Unset: the alert's own severity. */
    {.key = "severity", .type = DW_SINK_OPT_ENUM, .values = pd_severities},
    {.key = "source", .type = DW_SINK_OPT_STRING, .def = "driftwatch"},
    {0},
};

static const char *str_of(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The option overrides; else the alert's own severity when PagerDuty
 * knows it; else "warning". */
static const char *pd_severity(const dw_sink_spec *spec, json_t *a)
{
    const char *opt = dw_sink_spec_option(spec, "severity");
    if (opt)
        return opt;
    const char *sev = str_of(a, "severity");
    return dw_sink_severity_rank(sev) ? sev : "warning";
}

/* Copies key from src into dst when present. */
static void copy_field(json_t *dst, json_t *src, const char *key)
{
    json_t *v = json_object_get(src, key);
    if (v)
        json_object_set_new(dst, key, json_deep_copy(v));
}

static json_t *custom_details(json_t *doc, json_t *a)
{
    json_t *c = json_object();
    copy_field(c, doc, "model");
    copy_field(c, doc, "model_version");
    static const char *const akeys[] = {
        "column",         "window",   "window_start",      "window_end",
        "kind",           "samples",  "reference_samples", "tests",
        "new_categories", "starts_at"};
    for (size_t k = 0; k < sizeof akeys / sizeof akeys[0]; k++)
        copy_field(c, a, akeys[k]);
    const char *kind = str_of(a, "kind");
    if (kind && strcmp(kind, "quality") == 0)
        copy_field(c, a, "quality");
    /* The evidence of the other kinds (absent from drift alerts). */
    static const char *const kkeys[] = {"baseline", "candidate", "baseline_samples", "latency",
                                        "performance"};
    for (size_t k = 0; k < sizeof kkeys / sizeof kkeys[0]; k++)
        copy_field(c, a, kkeys[k]);
    copy_field(c, doc, "evaluated_at");
    json_object_set(c, "notification_id", json_object_get(doc, "id"));
    return c;
}

static int pd_format(const dw_sink_spec *spec, const json_t *doc, dw_http_request *out)
{
    json_t *alerts;
    json_t *d = dw_sink_filter_alert_list(spec, doc, &alerts);
    if (!d)
        return DW_SINK_SKIP;
    if (json_array_size(alerts) != 1) {
        json_decref(d);
        /* The notifier splits documents for this type; anything else is a
         * caller's mistake, not something to half-send. */
        return DW_ERR_INVALID;
    }
    json_t *a = json_array_get(alerts, 0);
    const char *dk = str_of(a, "dedup_key");
    if (!dk || !*dk || strlen(dk) > PD_DEDUP_KEY_MAX) {
        json_decref(d);
        return DW_ERR_INVALID;
    }
    const char *st = str_of(a, "status");
    bool resolve = st && strcmp(st, "resolved") == 0;
    json_t *ev =
        json_pack("{s:s, s:s, s:s}", "routing_key", dw_sink_spec_option(spec, "routing_key"),
                  "event_action", resolve ? "resolve" : "trigger", "dedup_key", dk);
    if (!ev) {
        json_decref(d);
        return DW_ERR_INVALID;
    }
    /* A resolve event needs only the key (the Events API ignores a
     * payload there); a trigger carries the evidence. */
    if (!resolve) {
        const char *model = str_of(d, "model"), *version = str_of(d, "model_version");
        const char *col = str_of(a, "column"), *win = str_of(a, "window");
        const char *kind = str_of(a, "kind");
        char stats[512];
        dw_sink_alert_stats(a, stats, sizeof stats);
        /* Built whole, then cut to the Events API's limit without splitting
         * a UTF-8 sequence (jansson refuses a broken one). */
        dw_dynbuf sb;
        dw_dynbuf_init(&sb, PD_SUMMARY_BUILD_MAX);
        dw_dynbuf_addf(&sb, "%s in %s%s%s: %s (%s window)%s%s", dw_sink_alert_title(a),
                       model ? model : "?", version ? " " : "", version ? version : "",
                       col ? col : "?", win ? win : "?", stats[0] ? ": " : "", stats);
        dw_dynbuf_shorten_utf8(&sb, PD_SUMMARY_MAX - 1, "");
        const char *summary = dw_dynbuf_str(&sb);
        const char *source = dw_sink_spec_option(spec, "source");
        json_t *payload =
            json_pack("{s:s, s:s, s:s, s:o}", "summary", summary, "source", source, "severity",
                      pd_severity(spec, a), "custom_details", custom_details(d, a));
        dw_dynbuf_free(&sb);
        if (!payload) {
            json_decref(ev);
            json_decref(d);
            return DW_ERR_INVALID;
        }
        const char *since = str_of(a, "starts_at");
        if (since)
            json_object_set_new(payload, "timestamp", json_string(since));
        if (model)
            json_object_set_new(payload, "component", json_string(model));
        if (version)
            json_object_set_new(payload, "group", json_string(version));
        if (kind)
            json_object_set_new(payload, "class", json_string(kind));
        json_object_set_new(ev, "payload", payload);
        json_object_set_new(ev, "client", json_string("driftwatch"));
    }
    int rc = dw_http_request_set_json(out, ev);
    if (rc == 0 && !(spec->url && *spec->url))
        out->url = dw_strdup(PD_DEFAULT_URL);
    json_decref(ev);
    json_decref(d);
    return rc;
}

/* The Events API answers 202 on success, 400 for an event it will never
 * accept (bad routing key or payload), 429 when throttled and 5xx on its
 * own trouble. */
static dw_delivery pd_classify(const dw_sink_spec *spec, long status, const char *body,
                               size_t body_len)
{
    (void)spec;
    (void)body;
    (void)body_len;
    if (status == 202 || (status >= 200 && status < 300))
        return DW_DELIVERY_OK;
    if (status == 400)
        return DW_DELIVERY_DROP;
    if (status == 0 || status == 429 || (status >= 500 && status < 600))
        return DW_DELIVERY_RETRY;
    return dw_sink_classify_http(status);
}

const dw_sink_ops dw_sink_pagerduty = {
    .name = "pagerduty",
    .roles = DW_SINK_ROLE_ALERTS,
    .options = pd_options,
    .default_url = PD_DEFAULT_URL,
    .validate = NULL,
    .format = pd_format,
    .classify_response = pd_classify,
    .write = NULL,
    .one_alert_per_request = true,
    .default_min_interval_ms = 0,
};

/* The Alertmanager sink: POSTs the alerts of a document as a JSON array to
 * `<url>/api/v2/alerts` (url = the Alertmanager base URL), in the shape of
 * Alertmanager's postableAlerts, so its grouping, silences and inhibition
 * work on driftwatch's labels:
 *
 *   labels       alertname (DriftDetected | DataQuality | ModelDivergence |
 *                LatencySLOBreach | ModelPerformanceDrop), model,
 *                model_version, column, window, severity
 *   annotations  summary, description (the statistics)
 *   startsAt     when the alert started firing (event time)
 *   endsAt       resolved: when it resolved; firing: see below
 *   generatorURL option generator_url
 *
 * Firing alerts: Alertmanager resolves an alert by itself when endsAt
 * passes unless the client re-posts it. As Prometheus does (endsAt = send
 * time + 4 x its resend delay), a firing alert carries an endsAt of
 * DW_AM_ENDS_AFTER_RESENDS x resend_interval after the later of its start
 * and now, and the engine re-posts firing alerts every resend_interval
 * (reminders): an alert stays active while driftwatch runs, and one whose
 * driftwatch died resolves minutes later, not a day later.
 *
 * Static labels and annotations of the sink (config "labels" and
 * "annotations", passed as options "labels.<name>" / "annotations.<name>")
 * are added to every alert; driftwatch's own labels and annotations win on
 * a name clash, so grouping and dedup keep working. */
#include "sink_int.h"

#include "driftwatch/duration.h"
#include "driftwatch/error.h"
#include "driftwatch/log.h"
#include "driftwatch/timestamp.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DW_AM_ENDS_AFTER_RESENDS 4
#define AM_DEFAULT_RESEND "5m"
/* Static labels, and static annotations, per sink. */
#define AM_MAX_STATIC 8
#define AM_PATH "/api/v2/alerts"

/* Prometheus label names: [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__". */
static const char *am_label_name(const char *s)
{
    static const char why[] = "is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, no leading __)";
    if (!(isalpha((unsigned char)s[0]) || s[0] == '_') || strncmp(s, "__", 2) == 0)
        return why;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return why;
    return NULL;
}

static const dw_sink_option am_options[] = {
    {.key = "generator_url", .type = DW_SINK_OPT_URL},
    /* How often the engine sends reminders (am_resend_ms(), sink.h). */
    {.key = "resend_interval", .type = DW_SINK_OPT_DURATION, .def = AM_DEFAULT_RESEND, .min = 1},
    {.key = "labels",
     .type = DW_SINK_OPT_MAP,
     .max = AM_MAX_STATIC,
     .check = am_label_name,
     .what = "static labels"},
    {.key = "annotations",
     .type = DW_SINK_OPT_MAP,
     .max = AM_MAX_STATIC,
     .check = am_label_name,
     .what = "static annotations"},
    {0},
};

/* "<base>/api/v2/alerts"; a url that already names the endpoint is kept. */
static char *am_endpoint(const char *base)
{
    size_t n = strlen(base);
    size_t pl = strlen(AM_PATH);
    if (n >= pl && strcmp(base + n - pl, AM_PATH) == 0)
        return dw_strdup(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    char *u = dw_malloc(n + pl + 1);
    memcpy(u, base, n);
    memcpy(u + n, AM_PATH, pl + 1);
    return u;
}

static const char *str_of(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Label values must be non-empty strings: Alertmanager treats an empty
 * label as absent, so absent ones are left out. */
static void set_label(json_t *labels, const char *key, const char *value)
{
    if (value && *value)
        json_object_set_new(labels, key, json_string(value));
}

/* resend_interval: how often firing alerts are posted again (the engine
 * sends them as reminder documents). */
static int64_t am_resend_ms(const dw_sink_spec *spec)
{
    int64_t resend = 0;
    const char *v = dw_sink_spec_option(spec, "resend_interval");
    if (!v || dw_duration_parse(v, &resend) < 0 || resend <= 0)
        dw_duration_parse(AM_DEFAULT_RESEND, &resend); /* validated at load */
    return resend;
}

/* How long a posted firing alert stays active without a re-post. */
static int64_t am_hold_ms(const dw_sink_spec *spec)
{
    return DW_AM_ENDS_AFTER_RESENDS * am_resend_ms(spec);
}

/* Adds the sink's static "<prefix>.<name>" options to obj, keeping what
 * obj already has. */
static void add_static(const dw_sink_spec *spec, const char *prefix, json_t *obj)
{
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < spec->n_options; i++) {
        const char *k = spec->options[i].key;
        if (strncmp(k, prefix, pl) == 0 && k[pl] == '.' && k[pl + 1] &&
            !json_object_get(obj, k + pl + 1))
            json_object_set_new(obj, k + pl + 1, json_string(spec->options[i].value));
    }
}

static json_t *am_alert(const dw_sink_spec *spec, json_t *doc, json_t *a, int64_t now_ms)
{
    const char *model = str_of(doc, "model"), *version = str_of(doc, "model_version");
    const char *col = str_of(a, "column"), *win = str_of(a, "window");

    json_t *labels = json_object();
    set_label(labels, "alertname", dw_sink_alert_name(a));
    set_label(labels, "model", model);
    set_label(labels, "model_version", version);
    set_label(labels, "column", col);
    set_label(labels, "window", win);
    set_label(labels, "severity", str_of(a, "severity"));
    add_static(spec, "labels", labels);

    char summary[512], stats[512], desc[1024];
    snprintf(summary, sizeof summary, "%s in %s%s%s: %s (%s window)", dw_sink_alert_title(a),
             model ? model : "?", version ? " " : "", version ? version : "", col ? col : "?",
             win ? win : "?");
    dw_sink_alert_stats(a, stats, sizeof stats);
    const char *ws = str_of(a, "window_start"), *we = str_of(a, "window_end");
    snprintf(desc, sizeof desc, "%s%s%s%s%s%s", stats, ws && we ? " (window " : "",
             ws && we ? ws : "", ws && we ? " to " : "", ws && we ? we : "", ws && we ? ")" : "");
    json_t *ann = json_object();
    /* Truncation of these buffers can only cut a very long column name;
     * json_string() refuses a cut UTF-8 sequence, and then the field is
     * simply absent (json_object_set_new ignores NULL). */
    json_object_set_new(ann, "summary", json_string(summary));
    json_object_set_new(ann, "description", json_string(desc));
    const char *dk = str_of(a, "dedup_key");
    if (dk)
        json_object_set_new(ann, "dedup_key", json_string(dk));
    add_static(spec, "annotations", ann);

    json_t *al = json_object();
    json_object_set_new(al, "labels", labels);
    json_object_set_new(al, "annotations", ann);
    const char *since = str_of(a, "starts_at");
    int64_t since_ms = now_ms;
    if (since) {
        json_object_set_new(al, "startsAt", json_string(since));
        if (dw_ts_parse_rfc3339(since, strlen(since), &since_ms) != 0)
            since_ms = now_ms;
    }
    const char *st = str_of(a, "status");
    const char *until = str_of(a, "ends_at");
    char ends[40];
    if (st && strcmp(st, "resolved") == 0 && until) {
        json_object_set_new(al, "endsAt", json_string(until));
    } else {
        int64_t base = since_ms > now_ms ? since_ms : now_ms;
        dw_ts_format(base + am_hold_ms(spec), ends, sizeof ends);
        json_object_set_new(al, "endsAt", json_string(ends));
    }
    const char *gen = dw_sink_spec_option(spec, "generator_url");
    if (gen)
        json_object_set_new(al, "generatorURL", json_string(gen));
    return al;
}

static int am_format(const dw_sink_spec *spec, const json_t *doc, dw_http_request *out)
{
    json_t *alerts;
    json_t *d = dw_sink_filter_alert_list(spec, doc, &alerts);
    if (!d)
        return DW_SINK_SKIP;
    int64_t now = dw_wall_ms();
    json_t *arr = json_array();
    size_t i;
    json_t *a;
    json_array_foreach (alerts, i, a)
        json_array_append_new(arr, am_alert(spec, d, a, now));
    int rc = dw_http_request_set_json(out, arr);
    if (rc == 0)
        out->url = am_endpoint(spec->url);
    json_decref(arr);
    json_decref(d);
    return rc;
}

const dw_sink_ops dw_sink_alertmanager = {
    .name = "alertmanager",
    .roles = DW_SINK_ROLE_ALERTS,
    .options = am_options,
    .validate = NULL,
    .format = am_format,
    .classify_response = NULL, /* 200 accepted; 400 refused; 5xx retried */
    .write = NULL,
    .one_alert_per_request = false,
    .default_min_interval_ms = 0,
    .reminder_interval = am_resend_ms,
};

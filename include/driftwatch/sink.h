/* Alert sinks: one small vtable per destination type (webhook, stdout, and
 * later Slack, PagerDuty, Alertmanager, retrain targets), in the style of
 * Fluent Bit's output plugins. A sink type only turns driftwatch's native
 * notification document into a request and judges the response; queues,
 * retries, timeouts and HTTP transport live in the notifier (notifier.h), so
 * adding a sink type touches no other sink's file.
 *
 * Each type also declares the options it takes (key, type, default, limits)
 * next to its code, as Fluent Bit's config_map does: dw_sink_validate() and
 * the configuration loader check every option against that table and refuse
 * keys it does not list, so neither knows any type by name.
 *
 * Adding a sink type: write src/sinks/sink_<name>.c defining
 * `const dw_sink_ops dw_sink_<name>` with its options, add one line to the
 * registry in src/sink_int.h and one to src/meson.build (docs/writing-a-sink.md). */
#ifndef DRIFTWATCH_SINK_H
#define DRIFTWATCH_SINK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What to do with a delivery after one attempt. */
typedef enum dw_delivery {
    DW_DELIVERY_OK = 0,    /* accepted by the receiver: done */
    DW_DELIVERY_RETRY = 1, /* transient failure: try again after a backoff */
    DW_DELIVERY_DROP = 2,  /* permanent failure: give up now, count as failed */
} dw_delivery;

/* format() result meaning "this document has nothing for this sink" (for
 * example only resolved alerts and send_resolved=false): not an error, not
 * sent, counted as skipped. */
#define DW_SINK_SKIP 1

/* A borrowed key/value pair (headers, options). */
typedef struct dw_sink_kv {
    const char *key;
    const char *value;
} dw_sink_kv;

/* Bounds on a sink spec; dw_notifier_new() rejects specs beyond them. */
#define DW_SINK_MAX_HEADERS 16  /* user headers per sink */
#define DW_SINK_MAX_OPTIONS 32  /* type-specific options per sink */
#define DW_SINK_MAX_RETRIES 100 /* retries after the first attempt */
#define DW_SINK_MAX_TIMEOUT_MS 600000
#define DW_SINK_MAX_QUEUE 1048576           /* queued documents per sink */
#define DW_SINK_MAX_MIN_INTERVAL_MS 3600000 /* min_interval_ms */

/* Defaults set by dw_sink_spec_init(). */
#define DW_SINK_DEFAULT_TIMEOUT_MS 5000
#define DW_SINK_DEFAULT_MAX_RETRIES 5
#define DW_SINK_DEFAULT_QUEUE 1024

/* One configured sink, filled by the config loader. All pointers are
 * borrowed: dw_notifier_new() copies everything it keeps, so the caller may
 * free the spec afterwards. */
typedef struct dw_sink_spec {
    const char *name;          /* unique, used in logs and metrics */
    const char *type;          /* a registered dw_sink_ops name */
    const char *url;           /* HTTP sinks: http:// or https:// URL */
    int64_t timeout_ms;        /* per request, connect included; 1..DW_SINK_MAX_TIMEOUT_MS */
    int max_retries;           /* retries after the first attempt; 0..DW_SINK_MAX_RETRIES */
    bool send_resolved;        /* deliver alerts whose status is "resolved" */
    const dw_sink_kv *headers; /* extra HTTP headers (e.g. Authorization) */
    size_t n_headers;          /* <= DW_SINK_MAX_HEADERS */
    const dw_sink_kv *options; /* type-specific settings, e.g. stdout's format */
    size_t n_options;          /* <= DW_SINK_MAX_OPTIONS */
    int64_t min_interval_ms;   /* at least this long between two requests; 0 = none
                                  (or the type's default_min_interval_ms) */
    size_t queue_size;         /* 0 = DW_SINK_DEFAULT_QUEUE; <= DW_SINK_MAX_QUEUE */

    /* Which alerts this sink gets, applied by dw_sink_filter_alerts(); an
     * empty list (or NULL severity) lets everything through. */
    char *const *filter_models;  /* exact model names */
    size_t n_filter_models;      /* <= DW_SINK_MAX_FILTER */
    char *const *filter_columns; /* exact column paths ("features.amount") */
    size_t n_filter_columns;     /* <= DW_SINK_MAX_FILTER */
    const char *filter_severity; /* minimum: "info" < "warning" < "error" < "critical" */
} dw_sink_spec;

/* Names per filter list; dw_notifier_new() rejects longer lists. */
#define DW_SINK_MAX_FILTER 256

/* Sets every field to its default (NULL strings, no headers/options,
 * send_resolved true). */
void dw_sink_spec_init(dw_sink_spec *spec);

/* The value of option key when it is set and not empty (an option written
 * as "" counts as not given, so "${SECRET:-}" turns it off), else the
 * default the spec's type declares for it, else NULL. Borrowed. */
const char *dw_sink_spec_option(const dw_sink_spec *spec, const char *key);

/* Bounds on one formatted request. */
#define DW_HTTP_MAX_HEADERS 32 /* sink headers + user headers */

/* The request a sink type builds from a document. Everything in it is owned
 * by the request and released by dw_http_request_clear(). */
typedef struct dw_http_request {
    char *body; /* NUL-terminated; may be NULL for an empty body */
    size_t body_len;
    char content_type[64];              /* e.g. "application/json" */
    char method[8];                     /* "" means POST */
    char *url;                          /* NULL: use the spec's url */
    char *headers[DW_HTTP_MAX_HEADERS]; /* "Name: value" lines */
    size_t n_headers;
} dw_http_request;

/* Frees the request's contents and zeroes it; safe on a zeroed request. */
void dw_http_request_clear(dw_http_request *req);

/* Appends "name: value". Returns 0, DW_ERR_LIMIT when DW_HTTP_MAX_HEADERS
 * are set, or DW_ERR_INVALID when either part holds CR or LF (header
 * injection). */
int dw_http_request_add_header(dw_http_request *req, const char *name, const char *value);

/* Takes a JSON body: req->body becomes json_dumps(doc, JSON_COMPACT), and
 * the content type application/json. Returns 0 or DW_ERR_INVALID. */
int dw_http_request_set_json(dw_http_request *req, const json_t *doc);

/* The value types of a sink option. */
typedef enum dw_sink_opt_type {
    DW_SINK_OPT_STRING = 0, /* any text; max > 0: at most max bytes */
    DW_SINK_OPT_URL,        /* an http:// or https:// URL */
    DW_SINK_OPT_DURATION,   /* "30s", "5m", "1h30m": min..max milliseconds */
    DW_SINK_OPT_ENUM,       /* one of values[] */
    DW_SINK_OPT_MAP,        /* a mapping name -> text, passed as options "<key>.<name>";
                               max: most entries; check: applies to each name */
} dw_sink_opt_type;

/* One option a sink type takes (a key of its entry in the configuration,
 * an element of dw_sink_spec.options). */
typedef struct dw_sink_option {
    const char *key;
    dw_sink_opt_type type;
    bool required;             /* must be set and not empty */
    const char *def;           /* given by dw_sink_spec_option() when unset; NULL: none */
    const char *const *values; /* DW_SINK_OPT_ENUM: the allowed values, NULL-terminated */
    int64_t min, max;          /* DW_SINK_OPT_DURATION: bounds (max 0: DW_DURATION_MAX_MS);
                                  DW_SINK_OPT_STRING: max length (0: none) */
    /* Optional further check of a non-empty value: NULL when acceptable,
     * else the reason, worded to follow the quoted value ("is not
     * owner/name"). */
    const char *(*check)(const char *value);
    /* Optional: what the option is, for the message when another type's
     * entry has it ("static labels": "only alertmanager sinks take static
     * labels"). */
    const char *what;
} dw_sink_option;

/* Where a type may be configured (dw_sink_ops.roles). */
#define DW_SINK_ROLE_ALERTS 1u  /* an entry of sinks: (drift notifications) */
#define DW_SINK_ROLE_RETRAIN 2u /* an entry of retrain: (retraining triggers) */

/* The type configured when the configuration has no sinks section. */
#define DW_SINK_DEFAULT_TYPE "stdout"

/* Bound on a type's option table. */
#define DW_SINK_MAX_OPTION_KEYS 16

typedef struct dw_sink_ops {
    const char *name;

    /* DW_SINK_ROLE_ALERTS and/or DW_SINK_ROLE_RETRAIN. */
    unsigned roles;

    /* The options this type takes, ended by an entry with key NULL (NULL:
     * none). Other keys are refused. */
    const dw_sink_option *options;

    /* The url: a type that delivers locally (write) takes none; one with a
     * default_url may leave it out; every other type requires it. */
    bool no_url;
    const char *default_url;

    /* Optional: checks what the option table cannot say (options that go
     * together or exclude each other, a secret's encoding), after
     * dw_sink_validate() has checked the url and every option against the
     * table. Returns 0 or a negative dw_err with one sentence in errbuf. */
    int (*validate)(const dw_sink_spec *spec, char *errbuf, size_t errlen);

    /* Builds the request for doc (the native document, "sent_at" already
     * set to the delivery time). Called on the notifier thread for every
     * attempt. Returns 0, DW_SINK_SKIP, or a negative dw_err (the document
     * is then given up and counted as failed). */
    int (*format)(const dw_sink_spec *spec, const json_t *doc, dw_http_request *out);

    /* Judges one HTTP response: status is 0 when no response arrived
     * (connection refused, timeout); body holds at most the first
     * DW_SINK_RESPONSE_MAX bytes. NULL means dw_sink_classify_http(). */
    dw_delivery (*classify_response)(const dw_sink_spec *spec, long status, const char *body,
                                     size_t body_len);

    /* Optional: delivers locally instead of over HTTP (the stdout sink).
     * Runs on the notifier thread; returns a dw_delivery. */
    dw_delivery (*write)(const dw_sink_spec *spec, const dw_http_request *req);

    /* The target takes one alert per request (PagerDuty's Events API): the
     * notifier queues a document with several alerts as one document per
     * alert, with id "<id>/<dedup_key>", so each alert is delivered, retried
     * and counted on its own. */
    bool one_alert_per_request;

    /* min_interval_ms used when the spec leaves it 0 (Slack: one message a
     * second). */
    int64_t default_min_interval_ms;

    /* Optional: the sink wants reminder documents ("reminder": true: alerts
     * that are still firing, re-sent), as Alertmanager expects clients to
     * re-post active alerts; returns how often, in ms of event time (> 0),
     * from the spec's options (Alertmanager: resend_interval). NULL: no
     * reminders; such sinks never see them, so people are not paged again
     * for the same episode. */
    int64_t (*reminder_interval)(const dw_sink_spec *spec);
} dw_sink_ops;

/* Bytes of a response body kept for classification and logging. */
#define DW_SINK_RESPONSE_MAX 4096

/* The shared HTTP policy: 2xx OK; 0 (no response), 408, 429 and 5xx RETRY;
 * every other status DROP. */
dw_delivery dw_sink_classify_http(long status);

/* How often (ms of event time) the sink spec wants still-firing alerts
 * re-sent as reminder documents; 0 when its type takes none or is not
 * registered. The engine sends reminders at the smallest such interval. */
int64_t dw_sink_reminder_interval(const dw_sink_spec *spec);

/* The registered sink type called name, or NULL. */
const dw_sink_ops *dw_sink_ops_find(const char *name);

/* The i-th registered type (in registry order), or NULL past the end. */
const dw_sink_ops *dw_sink_ops_at(size_t i);

/* Writes the registered type names, comma-separated, into buf (for error
 * messages). */
void dw_sink_ops_names(char *buf, size_t len);

/* The entry for key in ops' option table, or NULL. A key "<map>.<name>"
 * finds the DW_SINK_OPT_MAP option <map>. */
const dw_sink_option *dw_sink_option_find(const dw_sink_ops *ops, const char *key);

/* Checks a non-empty value of option o: NULL when acceptable, else the
 * reason, worded to follow the quoted value ("is not a duration (use 30s,
 * 5m, 1h, 1h30m)"), written into why[0..len). The configuration loader and
 * dw_sink_validate() share it. */
const char *dw_sink_option_check(const dw_sink_option *o, const char *value, char *why, size_t len);

/* Checks spec against its type: the type is registered, the url is there
 * when the type needs one (and valid, the type's default_url included),
 * every option is one the type declares, with a valid value, the required
 * ones are set; then the type's own validate(). Returns 0 or
 * DW_ERR_INVALID with one sentence naming the sink in errbuf. */
int dw_sink_validate(const dw_sink_spec *spec, char *errbuf, size_t errlen);

#endif

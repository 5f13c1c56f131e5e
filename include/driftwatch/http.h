/* The HTTP server: /healthz, /readyz, /metrics, /api/v1/status, /ui
 * (docs/api.md). libmicrohttpd with its own polling thread; it only reads
 * state other threads publish (the engine's snapshot and atomic counters,
 * the notifier's counters, and the heartbeat and lag copy kept here), so
 * the consumer thread never waits for a scrape.
 *
 * Bounds: DW_HTTP_MAX_CONNECTIONS connections, DW_HTTP_MAX_PER_IP from one
 * client address, DW_HTTP_REQUEST_TIMEOUT_MS to send a whole request and
 * DW_HTTP_TIMEOUT_S idle seconds per connection, one request per
 * connection; at a limit the oldest connection still waiting for its
 * request is closed to admit a new one (src/http.c, "connection
 * admission"), so slow clients cannot keep /healthz from answering. GET
 * and HEAD only (405 otherwise, request bodies are not read), except POST
 * /api/v1/compare (a Flagger webhook; its body is read up to
 * DW_COMPARE_MAX_BODY bytes, within DW_HTTP_REQUEST_TIMEOUT_MS), 404 for
 * unknown paths. */
#ifndef DRIFTWATCH_HTTP_H
#define DRIFTWATCH_HTTP_H

#include "driftwatch/consumer.h"
#include "driftwatch/dead_letter.h"
#include "driftwatch/engine.h"
#include "driftwatch/metrics.h"
#include "driftwatch/notifier.h"

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DW_HTTP_MAX_CONNECTIONS 128
#define DW_HTTP_MAX_PER_IP 16
#define DW_HTTP_REQUEST_TIMEOUT_MS 5000
#define DW_HTTP_TIMEOUT_S 5
/* /healthz fails when the consumer loop has not called dw_http_heartbeat()
 * for this long (or 3 poll timeouts, if that is longer). */
#define DW_HTTP_LIVENESS_MS 30000
/* Partitions whose lag is kept for /metrics and /api/v1/status. */
#define DW_HTTP_MAX_PARTITIONS 1024

/* Environment variable: when set, the bound port is written to this file
 * (to a temporary name, then renamed) once the server listens. For tests
 * that listen on port 0. */
#define DW_HTTP_PORT_FILE_ENV "DW_HTTP_PORT_FILE"

typedef struct dw_http_options {
    const char *host;        /* numeric IPv4/IPv6 address or a host name; NULL: 0.0.0.0 */
    uint16_t port;           /* 0: an ephemeral port (see dw_http_port()) */
    const char *version;     /* build version for driftwatch_build_info; NULL: "unknown" */
    dw_engine *engine;       /* required; borrowed, must outlive the server */
    dw_notifier *notifier;   /* may be NULL (no sinks); borrowed */
    int64_t poll_timeout_ms; /* the consumer's poll timeout (widens the liveness window) */
} dw_http_options;

typedef struct dw_http dw_http;

/* Binds and starts the server thread. Returns 0 and *out, or DW_ERR_IO /
 * DW_ERR_INVALID with a sentence naming the address in errbuf (address in
 * use, host not resolvable). Logs the bound address; writes the port to
 * $DW_HTTP_PORT_FILE when set. Readiness starts true, the heartbeat at the
 * time of the call. */
int dw_http_start(const dw_http_options *opts, dw_http **out, char *errbuf, size_t errlen);

/* The bound port (the real one when opts->port was 0). */
uint16_t dw_http_port(const dw_http *h);

/* The consumer loop made progress now. Cheap (one clock read and an
 * atomic store); any thread. NULL is a no-op. */
void dw_http_heartbeat(dw_http *h);

/* Sets what /readyz answers; reason (copied, may be NULL) is the 503 body
 * when not ready. NULL h is a no-op. */
void dw_http_set_ready(dw_http *h, bool ready, const char *reason);

/* Records the outcome of a configuration reload (SIGHUP) for
 * driftwatch_config_last_reload_successful and, when ok, its time for
 * ..._success_timestamp_seconds. The load at start counts as successful
 * from dw_http_start() on. NULL h is a no-op. */
void dw_http_config_loaded(dw_http *h, bool ok);

/* Copies the consumer's assignment and lag (dw_consumer_lag()) for the
 * HTTP thread. Call from the consumer thread about once a second. NULL h
 * is a no-op. */
void dw_http_publish_lag(dw_http *h, dw_consumer *c);

/* Copies the dead-letter producer's counters for /metrics
 * (driftwatch_dead_letter_records_total). Call from the consumer thread
 * about once a second; until the first call the series are absent. NULL h
 * or st is a no-op. */
void dw_http_publish_dead_letter(dw_http *h, const dw_dead_letter_stats *st);

/* Publishes the state topic's figures (state.topic) for /metrics and
 * /api/v1/status; about once a second from the consumer thread. */
void dw_http_publish_state(dw_http *h, const dw_metrics_state *st);

/* Replaces the notifier whose counters are served (after a reload rebuilt
 * the sinks). Call before freeing the old one: once this returns, the HTTP
 * thread no longer uses it. NULL h is a no-op. */
void dw_http_set_notifier(dw_http *h, dw_notifier *n);

/* The /api/v1/status document: the engine snapshot plus counters, health,
 * consumer assignment and lag, and sink counters. New reference. */
json_t *dw_http_status(dw_http *h);

/* Stops the thread (waits for in-flight responses), frees. NULL: no-op. */
void dw_http_stop(dw_http *h);

#endif

/* Prometheus text exposition (format 0.0.4) of driftwatch's counters and
 * the latest drift statistics, for GET /metrics (docs/api.md lists every
 * metric, its type and labels).
 *
 * The renderer is a pure function of its input: the engine's counters, its
 * published status snapshot, the consumer lag and the notifier's per-sink
 * counters. It does not lock anything; callers collect a consistent input
 * first (src/http.c). */
#ifndef DRIFTWATCH_METRICS_H
#define DRIFTWATCH_METRICS_H

#include "driftwatch/consumer.h"
#include "driftwatch/dead_letter.h"
#include "driftwatch/dynbuf.h"
#include "driftwatch/engine.h"
#include "driftwatch/notifier.h"
#include "driftwatch/process.h"
#include "driftwatch/status.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Label cardinality bounds. A column series is one (model, model_version,
 * column, window) label set; each carries the seven driftwatch_column_*
 * gauges. Label sets beyond the bound are left out (the first ones in the
 * status document's order are kept) and counted in
 * driftwatch_metrics_series_dropped_total. Partitions (consumer lag) and
 * sinks beyond their bounds are left out and counted the same way. */
#define DW_METRICS_MAX_COLUMN_SERIES 10000
#define DW_METRICS_MAX_PARTITIONS 1024
#define DW_METRICS_MAX_SINKS 256
/* Ceiling on the exposition text: far above what the bounds above allow
 * (10000 column series x 7 gauges of ~200 bytes is 14 MB); an exposition
 * that reached it would end cut rather than grow memory further. */
#define DW_METRICS_MAX_BYTES ((size_t)256 << 20)

/* One notification sink's counters. */
typedef struct dw_metrics_sink {
    const char *name;
    dw_sink_stats stats;
    uint64_t outbox_depth; /* documents kept on disk for a later start (0 without an outbox) */
} dw_metrics_sink;

/* The HTTP server's own connection counters (src/http.c). */
typedef struct dw_metrics_http {
    uint64_t open;            /* connections held now */
    uint64_t closed_timeout;  /* no complete request within DW_HTTP_REQUEST_TIMEOUT_MS */
    uint64_t closed_capacity; /* waiting for their request when a newer one needed the room */
    uint64_t refused;         /* no room: every held connection was being answered */
    uint64_t too_large;       /* request bodies over their limit (POST /api/v1/compare), 413 */
} dw_metrics_http;
/* The outcome of the last configuration load: at start, then each SIGHUP
 * (driftwatch_config_last_reload_*, named like Prometheus's own). */
typedef struct dw_metrics_reload {
    bool last_successful;
    double success_time; /* Unix seconds of the last successful load */
} dw_metrics_reload;

/* State on Kafka (state.topic; docs/operations.md): what this replica
 * wrote and merged, and how far behind the state topic it is. The engine's
 * delta counters come from dw_engine_stats. */
typedef struct dw_metrics_state {
    bool leader;           /* this replica sends the notifications */
    int64_t lag;           /* state topic messages not read yet */
    uint64_t queued;       /* state messages written but not acknowledged */
    uint64_t held;         /* documents kept until the leader's mark */
    uint64_t held_dropped; /* documents dropped from that bounded list */
} dw_metrics_state;

typedef struct dw_metrics_input {
    const char *version;          /* driftwatch_build_info{version}; NULL: "unknown" */
    bool up;                      /* driftwatch_up: the consumer loop is live */
    const dw_engine_stats *stats; /* required */
    const dw_status *status;      /* dw_engine_status() snapshot; NULL: no column series */
    const dw_partition_lag *lag;  /* assigned partitions; lag < 0 (unknown) is left out */
    size_t nlag;
    bool have_consumer; /* driftwatch_consumer_paused_partitions is shown */
    const dw_metrics_sink *sinks;
    size_t nsinks;
    size_t max_column_series; /* 0: DW_METRICS_MAX_COLUMN_SERIES */
    /* driftwatch_metrics_series_dropped_total before this render (the
     * caller keeps the running total so the counter is monotonic). */
    uint64_t series_dropped_before;
    const dw_metrics_http *http;             /* NULL: no driftwatch_http_* series */
    const dw_dead_letter_stats *dead_letter; /* NULL: no dead-letter topic configured */
    const dw_metrics_reload *reload;         /* NULL: no driftwatch_config_last_reload_* */
    const dw_process_stats *process;         /* NULL: no process_* metrics */
    const dw_metrics_state *state;           /* NULL: no state topic configured */
    const dw_kafka_health *kafka;            /* NULL: no consumer (replay) */
} dw_metrics_input;

/* Renders the exposition text. Returns a NUL-terminated buffer the caller
 * frees with free(); *len (if not NULL) is its length without the NUL.
 * *dropped (if not NULL) is the number of series this render left out
 * (already included in the printed driftwatch_metrics_series_dropped_total).
 * Never fails (out of memory aborts, the project's policy). */
char *dw_metrics_render(const dw_metrics_input *in, size_t *len, uint64_t *dropped);

/* Appends v as a Prometheus label value (backslash, double quote and
 * newline escaped) to b. Exported for tests. */
void dw_metrics_write_label_value(dw_dynbuf *b, const char *v);

#endif

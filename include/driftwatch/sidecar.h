/* The sidecar: wires the configuration to the engine, the notifier (sinks)
 * and, for `run`, the Kafka consumer and the dead-letter producer. The same
 * wiring serves `run`, `replay` and `demo`. */
#ifndef DRIFTWATCH_SIDECAR_H
#define DRIFTWATCH_SIDECAR_H

#include "driftwatch/config.h"
#include "driftwatch/engine.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

typedef struct dw_sidecar_options {
    /* Print notification documents to stdout (one JSON line each) instead
     * of delivering them to the configured sinks (replay --stdout). */
    bool stdout_only;
    /* Budget for delivering what is queued when stopping. */
    int64_t drain_budget_ms;
    /* Override of the config's kafka.brokers (the demo's embedded broker). */
    const char *brokers;
    /* When set, notification documents go to this callback (which takes
     * ownership) instead of the sinks: the demo prints them for people. */
    dw_emit_fn emit;
    void *emit_ctx;
    /* When non-zero (SIGHUP), `run` reloads the configuration file and the
     * reference files and clears the flag. A file that does not load, or
     * changes what needs a restart, is refused: the old one keeps running. */
    volatile sig_atomic_t *reload;
    /* replay: serve the HTTP endpoints (http.listen) while replaying. */
    bool replay_http;
} dw_sidecar_options;

typedef struct dw_sidecar dw_sidecar;

/* Builds the engine (loading references) and the notifier. cfg is borrowed
 * and must outlive the sidecar. */
int dw_sidecar_new(const dw_config *cfg, const dw_sidecar_options *opts, dw_sidecar **out,
                   char *errbuf, size_t errlen);

/* Feeds every line of in (one message per line) through the engine, then
 * flushes the windows and drains the notifier. name is used in messages. */
int dw_sidecar_replay(dw_sidecar *s, FILE *in, const char *name, char *errbuf, size_t errlen);

/* The same with a second file of label records (labels may be NULL), merged
 * with in by event time (docs/performance.md). */
int dw_sidecar_replay_labels(dw_sidecar *s, FILE *in, const char *name, FILE *labels,
                             const char *lname, char *errbuf, size_t errlen);

/* Consumes from Kafka until *stop becomes non-zero or a fatal error; then
 * evaluates what is complete, commits offsets and drains the notifier within
 * the budget. */
int dw_sidecar_run(dw_sidecar *s, volatile sig_atomic_t *stop, char *errbuf, size_t errlen);

dw_engine *dw_sidecar_engine(dw_sidecar *s);

/* Counters of the notifier's sinks, summed: {sent, failed, dropped}. */
void dw_sidecar_delivery_totals(dw_sidecar *s, uint64_t *sent, uint64_t *failed, uint64_t *dropped);

void dw_sidecar_free(dw_sidecar *s);

#endif

/* Shared by the /metrics renderer's files (src/metrics*.c). */
#ifndef DRIFTWATCH_METRICS_INT_H
#define DRIFTWATCH_METRICS_INT_H

#include <jansson.h>
#include <stdio.h>

/* A float as Prometheus reads it (NaN, +Inf, shortest round trip). */
void dw_metrics_write_double(FILE *f, double x);

/* The driftwatch_performance_* and driftwatch_label_* families from the
 * status document's "performance" member (src/metrics_perf.c); nothing
 * when it has none. */
void dw_metrics_write_performance(FILE *f, const json_t *snap);

#endif

/* Shared by the /metrics renderer's files (src/metrics*.c). */
#ifndef DRIFTWATCH_METRICS_INT_H
#define DRIFTWATCH_METRICS_INT_H

#include "driftwatch/status_perf.h"

#include "driftwatch/dynbuf.h"

#include <stdio.h>

/* A float as Prometheus reads it (NaN, +Inf, shortest round trip). */
void dw_metrics_write_double(dw_dynbuf *f, double x);

/* The driftwatch_performance_* and driftwatch_label_* families of the
 * snapshot's performance part (src/metrics_perf.c). */
void dw_metrics_write_performance(dw_dynbuf *f, const dw_status_perf *p);

#endif

/* Shared by the /metrics renderer's files (src/metrics*.c): the exposition
 * writers metrics.c owns, and the families other files render
 * (metrics_canary.c, metrics_perf.c). */
#ifndef DRIFTWATCH_METRICS_INT_H
#define DRIFTWATCH_METRICS_INT_H

#include "driftwatch/status.h"
#include "driftwatch/status_perf.h"

#include "driftwatch/dynbuf.h"

#include <stddef.h>
#include <stdint.h>

/* A float as Prometheus reads it (NaN, +Inf, shortest round trip). */
void dw_metrics_write_double(dw_dynbuf *f, double x);

void dw_mx_family(dw_dynbuf *f, const char *name, const char *type, const char *help);
void dw_mx_sample(dw_dynbuf *f, const char *name, const char *labels, double v);
/* name="value" pairs, escaped, in a new string the caller frees. */
char *dw_mx_labels(size_t n, const char *const *names, const char *const *values);

/* The driftwatch_performance_* and driftwatch_label_* families of the
 * snapshot's performance part (src/metrics_perf.c). */
void dw_metrics_write_performance(dw_dynbuf *f, const dw_status_perf *p);

/* metrics_canary.c: comparison and latency families from the status
 * snapshot; returns the series left out by the bound max_series. */
size_t dw_metrics_canary(dw_dynbuf *f, const dw_status *st, size_t max_series,
                         uint64_t latency_invalid);
/* driftwatch_alerts_firing samples of kinds divergence and latency. */
void dw_metrics_canary_alerts(dw_dynbuf *f, const dw_status *st);
/* driftwatch_alerts_firing samples of kind performance: one per model
 * version with performance rules, their firing rules over every window
 * (driftwatch_performance_alert_firing has them one by one). */
void dw_metrics_perf_alerts(dw_dynbuf *f, const dw_status_perf *p);

#endif

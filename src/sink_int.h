/* What the sink type implementations (src/sinks/) share and nobody else
 * needs: the alert filter, the statistics line, severity ranks, and the
 * registered types themselves (listed in the registry in src/sink.c; unit
 * tests call them directly). Callers use sink.h's registry lookup. */
#ifndef DRIFTWATCH_SINK_INT_H
#define DRIFTWATCH_SINK_INT_H

#include "driftwatch/sink.h"

#include <jansson.h>
#include <stddef.h>

/* A new reference to doc keeping only the alerts this sink gets: resolved
 * alerts go when the spec does not send them, and the spec's filter
 * (models, columns, minimum severity) applies. doc itself, increfed, when
 * nothing is removed; NULL when no alert is left. */
json_t *dw_sink_filter_alerts(const dw_sink_spec *spec, const json_t *doc);

/* Rank of a severity name: info 1, warning 2, error 3, critical 4; 0 for
 * anything else (NULL included). */
int dw_sink_severity_rank(const char *severity);

/* One readable line of an alert's statistics into buf (truncated to len),
 * e.g. "KS D=0.31 p_adj=1e-39, PSI=0.52; 4980 samples" or
 * "missing 31.0% (reference 2.0%); 4980 samples".
 * Returns buf. */
char *dw_sink_alert_stats(const json_t *alert, char *buf, size_t len);

/* Registered sink types. */
extern const dw_sink_ops dw_sink_stdout;
extern const dw_sink_ops dw_sink_webhook;
extern const dw_sink_ops dw_sink_slack;
extern const dw_sink_ops dw_sink_pagerduty;
extern const dw_sink_ops dw_sink_alertmanager;

/* Retraining targets (src/sinks/target_<name>.c): sink types that take only
 * documents of kind "retrain" and skip everything else. */
extern const dw_sink_ops dw_target_airflow;
extern const dw_sink_ops dw_target_argo;
extern const dw_sink_ops dw_target_kubeflow;
extern const dw_sink_ops dw_target_github;

#endif

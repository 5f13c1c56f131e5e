/* What the sink type implementations (src/sinks/) share and nobody else
 * needs: the alert filter, the statistics line, severity ranks, and the
 * registered types themselves (the registry below; unit tests call them
 * directly). Callers use sink.h's registry lookup. */
#ifndef DRIFTWATCH_SINK_INT_H
#define DRIFTWATCH_SINK_INT_H

#include "driftwatch/dynbuf.h"
#include "driftwatch/sink.h"

#include <jansson.h>
#include <stddef.h>

/* A new reference to doc keeping only the alerts this sink gets: resolved
 * alerts go when the spec does not send them, and the spec's filter
 * (models, columns, minimum severity) applies. doc itself, increfed, when
 * nothing is removed; NULL when no alert is left. */
json_t *dw_sink_filter_alerts(const dw_sink_spec *spec, const json_t *doc);

/* dw_sink_filter_alerts() for types that send alerts and nothing else
 * (Slack, PagerDuty, Alertmanager): also NULL when no "alerts" array with
 * at least one alert is left. *alerts is that array, borrowed from the
 * result (NULL with it). */
json_t *dw_sink_filter_alert_list(const dw_sink_spec *spec, const json_t *doc, json_t **alerts);

/* Rank of a severity name: info 1, warning 2, error 3, critical 4; 0 for
 * anything else (NULL included). */
int dw_sink_severity_rank(const char *severity);

/* One readable line of an alert's statistics into buf (truncated to len),
 * e.g. "KS D=0.31 p_adj=1e-39, PSI=0.52; 4980 samples" or
 * "missing 31.0% (reference 2.0%); 4980 samples".
 * Returns buf. */
char *dw_sink_alert_stats(const json_t *alert, char *buf, size_t len);

/* What an alert is, by its kind: a title for people ("Drift", "Data
 * quality problem", "Divergence from baseline", "Latency SLO breach",
 * "Model performance below reference") and an Alertmanager alertname
 * ("DriftDetected", "DataQuality", "ModelDivergence", "LatencySLOBreach",
 * "ModelPerformanceDrop"). Static strings. */
const char *dw_sink_alert_title(const json_t *alert);
const char *dw_sink_alert_name(const json_t *alert);

/* Appends to b a short heading for the kinds among the firing alerts of an
 * array, as in a Slack header: "Drift", "Data quality", "Canary
 * divergence", "Latency SLO", "Model performance", in that order and
 * ", "-separated ("Drift, Latency SLO"). Quality goes under "Drift" when
 * distribution alerts fire too. Nothing is appended when no alert fires. */
void dw_sink_alerts_header(const json_t *alerts, dw_dynbuf *b);

/* The registry: one line per sink type (src/sinks/sink_<name>.c) or
 * retraining target (src/sinks/target_<name>.c, a type that takes only
 * documents of kind "retrain"), so that adding one is a one-line change
 * here. The order is the order of the names in messages: the alert sinks
 * first, then the retraining targets. */
/* clang-format off */
#define DW_SINK_REGISTRY(X) \
    X(dw_sink_webhook)      \
    X(dw_sink_stdout)       \
    X(dw_sink_slack)        \
    X(dw_sink_pagerduty)    \
    X(dw_sink_alertmanager) \
    X(dw_target_airflow)    \
    X(dw_target_argo)       \
    X(dw_target_kubeflow)   \
    X(dw_target_github)
/* clang-format on */

#define DW_SINK_DECLARE(ops) extern const dw_sink_ops ops;
DW_SINK_REGISTRY(DW_SINK_DECLARE)

#endif

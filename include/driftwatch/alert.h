/* The alert state machine of one (model, version, column, window, kind).
 *
 *   inactive --breach--> pending --breach x `for`--> firing --clear--> resolved
 *      ^                    |                          |                 |
 *      +------no breach-----+            (stays firing while not clear)  +--> inactive
 *
 * `for` is the number of consecutive breaching evaluations needed to fire
 * (1 fires at once). A firing alert resolves only when the evaluation is
 * "clear", a condition the caller computes with lower thresholds than the
 * breach (hysteresis), so a column hovering at the threshold does not flap.
 * `keep_firing_for` keeps it firing that long (event time) after the clear
 * condition first held, as Prometheus's rule of that name does; a breach in
 * between starts the wait over. Notifications are sent on the transitions
 * to firing and to resolved. */
#ifndef DRIFTWATCH_ALERT_H
#define DRIFTWATCH_ALERT_H

#include <stdbool.h>
#include <stdint.h>

typedef enum dw_alert_state {
    DW_ALERT_INACTIVE = 0,
    DW_ALERT_PENDING = 1,
    DW_ALERT_FIRING = 2,
} dw_alert_state;

typedef enum dw_alert_event {
    DW_ALERT_NONE = 0,     /* no notification */
    DW_ALERT_FIRED = 1,    /* became firing now */
    DW_ALERT_RESOLVED = 2, /* was firing, is clear now */
} dw_alert_event;

typedef struct dw_alert {
    dw_alert_state state;
    uint32_t breaches;      /* consecutive breaching evaluations */
    int64_t started_ms;     /* event time it fired (valid while firing) */
    int64_t ended_ms;       /* event time it resolved (after DW_ALERT_RESOLVED) */
    uint64_t episodes;      /* times it fired so far */
    int64_t notified_ms;    /* event time of the last firing notification or reminder */
    int64_t clear_since_ms; /* firing: event time the resolve condition began to hold
                               (valid while clear_held) */
    bool clear_held;
} dw_alert;

/* How one kind of alert fires and resolves (alerts.for, alerts.keep_firing_for). */
typedef struct dw_alert_rule {
    uint32_t for_count;     /* consecutive breaches before firing; 0 means 1 */
    int64_t keep_firing_ms; /* 0: resolve at the first clear evaluation */
} dw_alert_rule;

/* Feeds one evaluation at event time now_ms. breach: the firing condition
 * holds; clear: the (looser) resolve condition holds. */
dw_alert_event dw_alert_step(dw_alert *a, bool breach, bool clear, const dw_alert_rule *rule,
                             int64_t now_ms);

const char *dw_alert_state_name(dw_alert_state s);

/* Puts a firing alert of a previous run back (its state saved by
 * dw_engine_alert_state()): firing since started_ms, last notified at
 * notified_ms, as if for_count (0 means 1) breaches had fired it, so that
 * no second firing is sent and its resolve is. */
void dw_alert_restore(dw_alert *a, uint32_t for_count, int64_t started_ms, int64_t notified_ms);

/* A stable 16-hex-digit key for (model, version, column, window, kind):
 * the same alert gets the same key across restarts and replicas, so
 * receivers (PagerDuty, Alertmanager) deduplicate. out must hold 17 bytes. */
void dw_alert_dedup_key(const char *model, const char *version, const char *column,
                        const char *window, const char *kind, char out[17]);

#endif

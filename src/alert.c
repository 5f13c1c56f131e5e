#include "driftwatch/alert.h"
#include "driftwatch/hash.h"

#include <stdio.h>
#include <string.h>

dw_alert_event dw_alert_step(dw_alert *a, bool breach, bool clear, const dw_alert_rule *rule,
                             int64_t now_ms)
{
    uint32_t for_count = rule->for_count ? rule->for_count : 1;
    switch (a->state) {
    case DW_ALERT_INACTIVE:
    case DW_ALERT_PENDING:
        if (!breach) {
            a->state = DW_ALERT_INACTIVE;
            a->breaches = 0;
            return DW_ALERT_NONE;
        }
        a->breaches++;
        if (a->breaches >= for_count) {
            a->state = DW_ALERT_FIRING;
            a->started_ms = a->notified_ms = now_ms;
            a->clear_held = false;
            a->episodes++;
            return DW_ALERT_FIRED;
        }
        a->state = DW_ALERT_PENDING;
        return DW_ALERT_NONE;
    case DW_ALERT_FIRING:
        if (breach || !clear) {
            a->clear_held = false;
            return DW_ALERT_NONE;
        }
        if (rule->keep_firing_ms > 0) {
            if (!a->clear_held) {
                a->clear_held = true;
                a->clear_since_ms = now_ms;
            }
            if (now_ms - a->clear_since_ms < rule->keep_firing_ms)
                return DW_ALERT_NONE;
        }
        a->clear_held = false;
        a->state = DW_ALERT_INACTIVE;
        a->breaches = 0;
        a->ended_ms = now_ms;
        return DW_ALERT_RESOLVED;
    }
    return DW_ALERT_NONE;
}

void dw_alert_restore(dw_alert *a, uint32_t for_count, int64_t started_ms, int64_t notified_ms)
{
    a->state = DW_ALERT_FIRING;
    a->breaches = for_count ? for_count : 1;
    a->clear_held = false;
    a->started_ms = started_ms;
    a->notified_ms = notified_ms;
    a->episodes++;
}

const char *dw_alert_state_name(dw_alert_state s)
{
    switch (s) {
    case DW_ALERT_INACTIVE: return "inactive";
    case DW_ALERT_PENDING: return "pending";
    case DW_ALERT_FIRING: return "firing";
    }
    return "unknown";
}

/* FNV-1a 64 over the fields with a separator byte that cannot appear in
 * them, so ("ab","c") and ("a","bc") differ. A cryptographic hash is not
 * needed: the key only has to be stable and well spread. */
static uint64_t fnv1a(uint64_t h, const char *s)
{
    h = dw_fnv1a(h, s, s ? strlen(s) : 0);
    return dw_fnv1a(h, "\x1f", 1);
}

void dw_alert_dedup_key(const char *model, const char *version, const char *column,
                        const char *window, const char *kind, char out[17])
{
    uint64_t h = DW_FNV1A_SEED;
    h = fnv1a(h, model);
    h = fnv1a(h, version ? version : "");
    h = fnv1a(h, column);
    h = fnv1a(h, window);
    h = fnv1a(h, kind);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

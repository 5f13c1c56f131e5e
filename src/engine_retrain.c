/* Retraining triggers: one per drift episode per rule, with an idempotency
 * key and a cooldown (docs/alerts.md, "Retraining triggers"). */
#include "engine_int.h"
#include "engine_perf_int.h"

#include "driftwatch/error.h"
#include "driftwatch/log.h"
#include "driftwatch/model.h"
#include "driftwatch/reference.h"
#include "driftwatch/timestamp.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- retraining triggers ---- */

/* The rule holds when at least min_columns columns, or any prediction
 * column, have a firing distribution alert in the rule's window. */
static bool retrain_condition(dw_model *m, const dw_reference *ref, size_t wi,
                              const dw_retrain_config *rc, json_t *columns)
{
    int firing = 0;
    bool prediction = false;
    for (size_t j = 0; j < ref->ncols; j++) {
        if (dw_model_alert(m, j, wi, 0)->state != DW_ALERT_FIRING)
            continue;
        firing++;
        if (!strncmp(ref->cols[j].name, "prediction.", 11))
            prediction = true;
        const dw_column_result *r = dw_model_last_result(m, wi, j);
        if (columns && r)
            json_array_append_new(columns,
                                  json_pack("{s:s,s:I,s:o,s:o}", "column", ref->cols[j].name,
                                            "samples", (json_int_t)r->count, "tests",
                                            dw_status_tests_json(r), "firing_since",
                                            dw_json_time(dw_model_alert(m, j, wi, 0)->started_ms)));
    }
    return firing >= rc->min_columns || prediction;
}

void dw_eng_check_retrain(dw_engine *e, model_entry *me, size_t state_idx, size_t wi,
                          int64_t end_ms)
{
    const dw_config *cfg = e->cfg;
    dw_model *m = me->states[state_idx];
    for (size_t k = 0; k < cfg->nretrain; k++) {
        const dw_retrain_config *rc = &cfg->retrain[k];
        const dw_window_config *wc = dw_config_find_window(cfg, rc->window);
        if (!wc || (size_t)(wc - cfg->windows) != wi)
            continue;
        if (rc->model && strcmp(rc->model, me->cfg->name) != 0)
            continue;
        retrain_state *st =
            &e->retrain[(((size_t)(me - e->models)) * (DW_ENGINE_MAX_VERSIONS + 1) + state_idx) *
                            cfg->nretrain +
                        k];
        /* A firing performance rule (engine_perf.c) is reason enough too. */
        bool perf = e->perf && dw_eng_perf_firing(e, (size_t)(me - e->models), state_idx, wi);
        if (!retrain_condition(m, me->ref, wi, rc, NULL) && !perf) {
            st->since = INT64_MIN; /* the episode is over */
            st->fired = false;
            continue;
        }
        if (st->since == INT64_MIN)
            st->since = end_ms;
        if (st->fired || end_ms - st->since < rc->for_ms)
            continue;
        if (st->last_fired != INT64_MIN && end_ms - st->last_fired < rc->cooldown_ms)
            continue; /* an earlier episode triggered recently: cooldown */
        st->fired = true;
        st->last_fired = end_ms;

        /* The idempotency key names the episode: the same drift episode gives
         * the same key on every replica and after a restart. */
        char since[40], key[17];
        dw_ts_format(st->since, since, sizeof since);
        dw_alert_dedup_key(dw_model_name(m), dw_model_version(m), rc->name, since, "retrain", key);
        json_t *columns = json_array();
        retrain_condition(m, me->ref, wi, rc, columns);
        dw_window *w = dw_model_window(m, wi);
        json_t *doc = json_object();
        json_object_set_new(doc, "version", json_string("1"));
        json_object_set_new(doc, "kind", json_string("retrain"));
        json_object_set_new(doc, "id", json_string(key));
        json_object_set_new(doc, "idempotency_key", json_string(key));
        json_object_set_new(doc, "rule", json_string(rc->name));
        json_object_set_new(doc, "target", json_string(rc->type));
        json_object_set_new(doc, "model", json_string(dw_model_name(m)));
        json_object_set_new(doc, "model_version",
                            dw_model_version(m) ? json_string(dw_model_version(m)) : json_null());
        json_object_set_new(doc, "reference",
                            json_pack("{s:s,s:s,s:I}", "path", me->cfg->reference, "checksum",
                                      me->ref->checksum, "rows", (json_int_t)me->ref->rows));
        json_object_set_new(doc, "window", json_string(rc->window));
        json_object_set_new(doc, "window_start", dw_json_time(dw_window_start(w)));
        json_object_set_new(doc, "window_end", dw_json_time(dw_window_end(w)));
        json_object_set_new(doc, "drift_since", json_string(since));
        json_object_set_new(doc, "triggered_at", dw_json_time(end_ms));
        json_object_set_new(doc, "columns", columns);
        json_object_set_new(doc, "performance_firing", json_boolean(perf));
        json_array_append_new(e->pending_retrain, doc);
    }
}

#include "driftwatch/budget.h"
#include "driftwatch/compare.h"

#include "driftwatch/engine.h"
#include "driftwatch/error.h"
#include "driftwatch/model.h"

#include <stdio.h>

char *dw_budget_format_bytes(uint64_t bytes, char *buf, size_t len)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) {
        snprintf(buf, len, "%llu B", (unsigned long long)bytes);
        return buf;
    }
    double v = (double)bytes / 1024.0;
    size_t u = 0;
    while (v >= 1024.0 && u + 1 < sizeof units / sizeof *units) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, len, "%.1f %s", v, units[u]);
    return buf;
}

uint64_t dw_budget_model_bytes(const dw_config *cfg, size_t i, const dw_reference *ref,
                               size_t *versions)
{
    dw_window_spec win[DW_MAX_WINDOWS];
    size_t nwin = cfg->nwindows < DW_MAX_WINDOWS ? cfg->nwindows : DW_MAX_WINDOWS;
    for (size_t w = 0; w < nwin; w++) {
        win[w].name = cfg->windows[w].name;
        win[w].length_ms = cfg->windows[w].length_ms;
        win[w].slide_ms = cfg->windows[w].slide_ms;
    }
    /* The engine gives every state at least DW_ENGINE_MIN_AHEAD_MS of
     * open panes (engine.c, model_state()), whatever the lateness. */
    int64_t lateness = cfg->time.allowed_lateness_ms > DW_ENGINE_MIN_AHEAD_MS
                           ? cfg->time.allowed_lateness_ms
                           : DW_ENGINE_MIN_AHEAD_MS;
    dw_model_spec spec = {
        .ref = ref,
        .windows = win,
        .nwindows = nwin,
        .lateness_ms = lateness,
        .max_new_categories = cfg->evaluation.max_new_categories,
        .extra_width = dw_config_latency_width(&cfg->models[i].latency),
    };
    /* An entry without `version:` tracks each version it sees separately,
     * up to DW_ENGINE_MAX_VERSIONS of them, and any producer can make it
     * see that many: the budget has to hold them all. */
    if (versions)
        *versions = cfg->models[i].version ? 1 : DW_ENGINE_MAX_VERSIONS;
    /* compare: a candidate keeps, per window, the last result and the
     * alert state of every column (engine_canary.c) */
    uint64_t cmp = cfg->models[i].compare.enabled
                       ? (uint64_t)nwin * (ref->ncols + 1) *
                             (sizeof(dw_compare_column) + sizeof(dw_alert))
                       : 0;
    return dw_model_memory(&spec) + cmp;
}

int dw_budget_check(const dw_config *cfg, const dw_reference *const *refs, dw_budget *out,
                    char *errbuf, size_t errlen)
{
    dw_budget b = {.limit_bytes = (uint64_t)cfg->evaluation.max_memory_mb << 20};
    size_t worst = 0;     /* the entry that costs most */
    uint64_t worst_b = 0; /* its bytes per version */
    size_t worst_v = 1;
    for (size_t i = 0; i < cfg->nmodels; i++) {
        size_t v;
        uint64_t one = dw_budget_model_bytes(cfg, i, refs[i], &v);
        b.window_bytes += one * v;
        if (one * v > worst_b * worst_v) {
            worst = i;
            worst_b = one;
            worst_v = v;
        }
        size_t need = refs[i]->ncols + DW_BUDGET_META_FIELDS;
        if (need > b.fields_needed)
            b.fields_needed = need;
        if (need > cfg->records.max_fields)
            return dw_seterr(errbuf, errlen, DW_ERR_LIMIT,
                             "models[%zu] \"%s\": the reference %s has %zu columns, but records "
                             "are read only up to records.max_fields (%zu) fields, so some would "
                             "always be missing: set records.max_fields to at least %zu",
                             i, cfg->models[i].name, cfg->models[i].reference, refs[i]->ncols,
                             cfg->records.max_fields, need);
    }
    if (out)
        *out = b;
    if (b.window_bytes > b.limit_bytes) {
        char total[32], per[32];
        return dw_seterr(
            errbuf, errlen, DW_ERR_LIMIT,
            "window memory would reach %s (%llu bytes), above evaluation.max_memory_mb (%lld "
            "MiB); most of it is models[%zu] \"%s\": %s per version x %zu version%s%s. Use fewer "
            "reference bins, a longer slide or fewer windows, pin the model's version, or raise "
            "evaluation.max_memory_mb",
            dw_budget_format_bytes(b.window_bytes, total, sizeof total),
            (unsigned long long)b.window_bytes, (long long)cfg->evaluation.max_memory_mb, worst,
            cfg->models[worst].name, dw_budget_format_bytes(worst_b, per, sizeof per), worst_v,
            worst_v == 1 ? "" : "s",
            worst_v == 1 ? "" : " (no version: is set, so up to that many are tracked)");
    }
    return 0;
}

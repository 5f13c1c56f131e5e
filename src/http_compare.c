/* GET /api/v1/compare: picks one comparison out of the status snapshot's
 * comparisons (engine_canary.c fills them) and shapes it for a rollout
 * controller (Argo Rollouts' web provider reads {$.verdict}); POST, the
 * same for a Flagger webhook, which reads only the status code. */
#include "driftwatch/http_compare.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static bool eq(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

__attribute__((format(printf, 3, 4))) static unsigned fail(json_t **body, unsigned code,
                                                           const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    *body = json_pack("{s:s}", "error", msg);
    return code;
}

unsigned dw_compare_answer(const dw_status *status, const dw_compare_query *q, json_t **body)
{
    if (!q->model || !*q->model)
        return fail(body, 400, "the parameter model is required");
    const dw_status_comparison *found = NULL;
    size_t matches = 0;
    bool model_seen = false, cand_seen = false, base_seen = false;
    const char *current_base = NULL;
    for (size_t i = 0; i < status->ncomparisons; i++) {
        const dw_status_comparison *c = &status->comparisons[i];
        if (!eq(c->model, q->model))
            continue;
        model_seen = true;
        if (q->window && !eq(c->window, q->window))
            continue;
        if (q->candidate && !eq(c->candidate, q->candidate))
            continue;
        cand_seen = true;
        current_base = c->baseline;
        if (q->baseline && !eq(current_base, q->baseline))
            continue;
        base_seen = true;
        /* Without window: the first window compared (they come in the
         * order of the configuration). */
        if (!found) {
            found = c;
            matches = 1;
        } else if (!q->candidate && !eq(found->candidate, c->candidate) &&
                   (q->window || eq(found->window, c->window))) {
            matches++;
        }
    }
    if (!model_seen)
        return fail(body, 404,
                    "no comparison of model \"%.200s\" yet (unknown model, no compare: block, or "
                    "no window evaluated with a baseline and a candidate)",
                    q->model);
    if (!cand_seen)
        return fail(body, 404,
                    "no comparison of candidate \"%.200s\" in window \"%.200s\" (unknown version "
                    "or window, or not evaluated yet)",
                    q->candidate ? q->candidate : "(any)", q->window ? q->window : "(any)");
    if (!base_seen)
        return fail(body, 404, "the baseline is \"%.200s\", not \"%.200s\"",
                    current_base ? current_base : "", q->baseline);
    if (matches > 1)
        return fail(body, 400,
                    "model \"%.200s\" has several candidates: name one with candidate=", q->model);
    json_t *doc = dw_status_comparison_json(found, q->all_columns);
    json_object_set_new(doc, "version", json_string("1"));
    *body = doc;
    return 200;
}

/* A string member of metadata, NULL when absent; *bad when present and
 * not a string (Flagger's metadata is a map of strings). */
static const char *meta_str(json_t *meta, const char *key, bool *bad)
{
    json_t *v = json_object_get(meta, key);
    if (v && !json_is_string(v))
        *bad = true;
    return json_string_value(v);
}

unsigned dw_compare_webhook_answer(const dw_status *status, const char *req, size_t len,
                                   json_t **body)
{
    json_error_t jerr;
    json_t *in = json_loadb(req, len, 0, &jerr);
    if (!json_is_object(in)) {
        json_decref(in);
        return fail(body, 400,
                    "the body must be a Flagger webhook payload, a JSON object with name and "
                    "metadata (%.200s)",
                    in ? "not an object" : jerr.text);
    }
    json_t *meta = json_object_get(in, "metadata");
    bool bad = meta && !json_is_object(meta);
    const char *cols = meta_str(meta, "columns", &bad);
    dw_compare_query q = {.model = meta_str(meta, "model", &bad),
                          .candidate = meta_str(meta, "candidate", &bad),
                          .baseline = meta_str(meta, "baseline", &bad),
                          .window = meta_str(meta, "window", &bad),
                          .all_columns = cols && !strcmp(cols, "all")};
    if (!q.model)
        q.model = json_string_value(json_object_get(in, "name"));
    unsigned code;
    if (bad)
        code = fail(body, 400,
                    "metadata must be an object of strings (model, candidate, "
                    "baseline, window, columns)");
    else if (!q.model || !*q.model)
        code = fail(body, 400, "metadata.model (or the canary's name) is required");
    else
        code = dw_compare_answer(status, &q, body);
    json_decref(in);
    if (code == 200 && !eq(json_string_value(json_object_get(*body, "verdict")), "pass"))
        code = 412;
    return code;
}

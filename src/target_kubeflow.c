/* The Kubeflow Pipelines retraining target: creates a run through the KFP
 * v2beta1 API for every retraining trigger.
 *
 *   POST <url>/apis/v2beta1/runs
 *   {"display_name": "driftwatch-<idempotency_key>",
 *    "description": "...",
 *    "pipeline_version_reference": {"pipeline_id": ..., "pipeline_version_id": ...},
 *    "runtime_config": {"parameters": {evidence}},
 *    "experiment_id": ...}
 *
 * Options: pipeline_id (required), pipeline_version_id (left out when not
 * set: the API server then takes the pipeline's latest version),
 * experiment_id (left out: the default experiment), token (Bearer, e.g. a
 * service account token through a Kubeflow gateway).
 *
 * The evidence's fields become the run's parameters, so the pipeline
 * declares them as inputs (strings, a dict for reference and window, a
 * list for columns). KFP has no idempotency key: the display name carries
 * the episode's key so a duplicate (a retry after a lost answer) can be
 * recognised, but it is not refused by the server. */
#include "driftwatch/sink.h"

#include "driftwatch/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of the run description (KFP stores it as text; keep it short). */
#define KFP_DESCRIPTION_MAX 512

static const char *opt(const dw_sink_spec *spec, const char *key)
{
    const char *v = dw_sink_spec_option(spec, key);
    return v && *v ? v : NULL;
}

static int kubeflow_validate(const dw_sink_spec *spec, char *errbuf, size_t errlen)
{
    int rc = dw_sink_check_url(spec, spec->url, errbuf, errlen);
    if (rc)
        return rc;
    if (!opt(spec, "pipeline_id"))
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "retrain target \"%s\": option pipeline_id is required", spec->name);
    return 0;
}

/* The evidence every retraining target carries (docs/alerts.md): the
 * native document without its transport fields, with the window as one
 * object. NULL when doc is not a retraining trigger. */
static json_t *evidence(const json_t *doc)
{
    json_t *d = (json_t *)doc; /* jansson's getters are not const-correct */
    const char *kind = json_string_value(json_object_get(d, "kind"));
    if (!kind || strcmp(kind, "retrain") != 0)
        return NULL;
    return json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?, s:{s:O?, s:O?, s:O?}, s:O?, s:O?, s:O?}",
                     "idempotency_key", json_object_get(d, "idempotency_key"), "rule",
                     json_object_get(d, "rule"), "model", json_object_get(d, "model"),
                     "model_version", json_object_get(d, "model_version"), "reference",
                     json_object_get(d, "reference"), "window", "name",
                     json_object_get(d, "window"), "start", json_object_get(d, "window_start"),
                     "end", json_object_get(d, "window_end"), "drift_since",
                     json_object_get(d, "drift_since"), "triggered_at",
                     json_object_get(d, "triggered_at"), "columns", json_object_get(d, "columns"));
}

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

static int kubeflow_format(const dw_sink_spec *spec, const json_t *doc, dw_http_request *out)
{
    json_t *params = evidence(doc);
    if (!params)
        return DW_SINK_SKIP; /* drift documents are for the sinks */
    /* params goes into the body below: keep the key and the name here. */
    const char *key = json_string_value(json_object_get(params, "idempotency_key"));
    char name[128], desc[KFP_DESCRIPTION_MAX];
    if (!key || !*key || strlen(key) + 12 > sizeof name) {
        json_decref(params);
        return DW_ERR_INVALID;
    }
    snprintf(name, sizeof name, "driftwatch-%s", key);
    /* A string pipeline input cannot take null: a record without a model
     * version gives "". */
    if (json_is_null(json_object_get(params, "model_version")))
        json_object_set_new(params, "model_version", json_string(""));

    const char *model = str_or(params, "model", "?");
    const char *version = str_or(params, "model_version", "");
    snprintf(desc, sizeof desc,
             "driftwatch retraining trigger: rule %s, model %s%s%s, %zu columns drifting in the "
             "%s window since %s",
             str_or(params, "rule", "?"), model, *version ? " " : "", version,
             json_array_size(json_object_get(params, "columns")),
             str_or(json_object_get(params, "window"), "name", "?"),
             str_or(params, "drift_since", "?"));

    json_t *ref = json_pack("{s:s}", "pipeline_id", opt(spec, "pipeline_id"));
    const char *pv = opt(spec, "pipeline_version_id");
    if (pv)
        json_object_set_new(ref, "pipeline_version_id", json_string(pv));
    json_t *body =
        json_pack("{s:s, s:s, s:o, s:{s:o}}", "display_name", name, "description", desc,
                  "pipeline_version_reference", ref, "runtime_config", "parameters", params);
    const char *exp = opt(spec, "experiment_id");
    if (body && exp)
        json_object_set_new(body, "experiment_id", json_string(exp));
    int rc = body ? dw_http_request_set_json(out, body) : DW_ERR_INVALID;
    json_decref(body);
    if (rc)
        return rc;

    size_t blen = strlen(spec->url);
    while (blen && spec->url[blen - 1] == '/')
        blen--;
    size_t len = blen + sizeof "/apis/v2beta1/runs";
    out->url = dw_malloc(len);
    snprintf(out->url, len, "%.*s/apis/v2beta1/runs", (int)blen, spec->url);

    if ((rc = dw_http_request_add_header(out, "Accept", "application/json")) ||
        (rc = dw_http_request_add_header(out, "Idempotency-Key", name + strlen("driftwatch-"))))
        return rc;
    const char *token = opt(spec, "token");
    if (token) {
        if (strncmp(token, "Bearer ", 7) == 0)
            token += 7;
        size_t n = strlen(token) + 8;
        char *v = dw_malloc(n);
        snprintf(v, n, "Bearer %s", token);
        rc = dw_http_request_add_header(out, "Authorization", v);
        free(v);
    }
    return rc;
}

const dw_sink_ops dw_target_kubeflow = {
    .name = "kubeflow",
    .validate = kubeflow_validate,
    .format = kubeflow_format,
    .classify_response = NULL, /* the shared HTTP policy */
    .write = NULL,
};

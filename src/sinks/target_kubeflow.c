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
#include "sinks/target_int.h"

#include "driftwatch/error.h"

#include <stdio.h>
#include <string.h>

/* Bytes of the run description (KFP stores it as text; keep it short). */
#define KFP_DESCRIPTION_MAX 512

static const dw_sink_option kubeflow_options[] = {
    {.key = "pipeline_id", .type = DW_SINK_OPT_STRING, .required = true},
    {.key = "pipeline_version_id", .type = DW_SINK_OPT_STRING},
    {.key = "experiment_id", .type = DW_SINK_OPT_STRING},
    {.key = "token", .type = DW_SINK_OPT_STRING},
    {0},
};

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

static int kubeflow_format(const dw_sink_spec *spec, const json_t *doc, dw_http_request *out)
{
    json_t *params = dw_target_evidence(doc);
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

    json_t *ref = json_pack("{s:s}", "pipeline_id", dw_sink_spec_option(spec, "pipeline_id"));
    const char *pv = dw_sink_spec_option(spec, "pipeline_version_id");
    if (pv)
        json_object_set_new(ref, "pipeline_version_id", json_string(pv));
    json_t *body =
        json_pack("{s:s, s:s, s:o, s:{s:o}}", "display_name", name, "description", desc,
                  "pipeline_version_reference", ref, "runtime_config", "parameters", params);
    const char *exp = dw_sink_spec_option(spec, "experiment_id");
    if (body && exp)
        json_object_set_new(body, "experiment_id", json_string(exp));
    int rc = body ? dw_http_request_set_json(out, body) : DW_ERR_INVALID;
    json_decref(body);
    if (rc)
        return rc;

    out->url = dw_target_url(spec->url, "/apis/v2beta1/runs", NULL, 0);
    if (!out->url)
        return DW_ERR_INVALID;

    if ((rc = dw_http_request_add_header(out, "Accept", "application/json")) ||
        (rc = dw_http_request_add_header(out, "Idempotency-Key", name + strlen("driftwatch-"))))
        return rc;
    return dw_target_add_bearer(out, dw_sink_spec_option(spec, "token"));
}

const dw_sink_ops dw_target_kubeflow = {
    .name = "kubeflow",
    .roles = DW_SINK_ROLE_RETRAIN,
    .options = kubeflow_options,
    .validate = NULL,
    .format = kubeflow_format,
    .classify_response = NULL, /* the shared HTTP policy */
    .write = NULL,
};

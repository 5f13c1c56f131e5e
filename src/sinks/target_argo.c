/* The Argo Workflows retraining target: posts the evidence of a retraining
 * trigger to the Argo Server's events endpoint
 *
 *   POST <url>/api/v1/events/{namespace}/{discriminator}   body: {evidence}
 *
 * where a WorkflowEventBinding selects it (by `discriminator` and/or the
 * payload) and submits a WorkflowTemplate with parameters taken from the
 * payload. Options: workflow_template (required: the template the binding
 * submits; also the default discriminator, so a binding can select
 * `discriminator == "<template>"`), namespace (default "argo", where the
 * binding lives), discriminator, token (Bearer; `argo auth token` output
 * is accepted as is). The endpoint answers at once and queues the event; a
 * 503 (queue full) is retried like any 5xx. */
#include "sinks/target_int.h"

#include "driftwatch/error.h"

static const dw_sink_option argo_options[] = {
    {.key = "workflow_template", .type = DW_SINK_OPT_STRING},
    {.key = "discriminator", .type = DW_SINK_OPT_STRING}, /* default workflow_template */
    {.key = "namespace", .type = DW_SINK_OPT_STRING, .def = "argo"},
    {.key = "token", .type = DW_SINK_OPT_STRING},
    {0},
};

/* One of workflow_template and discriminator names the event. */
static int argo_validate(const dw_sink_spec *spec, char *errbuf, size_t errlen)
{
    if (!dw_sink_spec_option(spec, "workflow_template") &&
        !dw_sink_spec_option(spec, "discriminator"))
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "retrain target \"%s\": option workflow_template is required", spec->name);
    return 0;
}

static int argo_format(const dw_sink_spec *spec, const json_t *doc, dw_http_request *out)
{
    json_t *ev = dw_target_evidence(doc);
    if (!ev)
        return DW_SINK_SKIP; /* drift documents are for the sinks */
    const char *key = json_string_value(json_object_get(ev, "idempotency_key"));
    int rc = dw_http_request_set_json(out, ev);
    if (rc == 0 && key && *key)
        rc = dw_http_request_add_header(out, "Idempotency-Key", key);
    json_decref(ev);
    if (rc)
        return rc;
    const char *ns = dw_sink_spec_option(spec, "namespace"),
               *disc = dw_sink_spec_option(spec, "discriminator");
    const char *segments[] = {ns, disc ? disc : dw_sink_spec_option(spec, "workflow_template")};
    out->url = dw_target_url(spec->url, "/api/v1/events/%s/%s", segments, 2);
    if (!out->url)
        return DW_ERR_INVALID;
    if ((rc = dw_http_request_add_header(out, "Accept", "application/json")))
        return rc;
    return dw_target_add_bearer(out, dw_sink_spec_option(spec, "token"));
}

const dw_sink_ops dw_target_argo = {
    .name = "argo",
    .roles = DW_SINK_ROLE_RETRAIN,
    .options = argo_options,
    .validate = argo_validate,
    .format = argo_format,
    .classify_response = NULL, /* the shared policy: 503 (queue full) is retried */
    .write = NULL,
};

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
#include "driftwatch/sink.h"

#include "driftwatch/error.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARGO_DEFAULT_NAMESPACE "argo"

static const char *opt(const dw_sink_spec *spec, const char *key)
{
    const char *v = dw_sink_spec_option(spec, key);
    return v && *v ? v : NULL;
}

static int argo_validate(const dw_sink_spec *spec, char *errbuf, size_t errlen)
{
    int rc = dw_sink_check_url(spec, spec->url, errbuf, errlen);
    if (rc)
        return rc;
    if (!opt(spec, "workflow_template") && !opt(spec, "discriminator"))
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "retrain target \"%s\": option workflow_template is required", spec->name);
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

static char *escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    if (!e) {
        fprintf(stderr, "driftwatch: out of memory in libcurl\n");
        abort();
    }
    return e;
}

/* base (without trailing slashes) + "/api/v1/events/<ns>/<discriminator>",
 * both path segments escaped. */
static char *events_url(const char *base, const char *ns, const char *disc)
{
    char *ens = escape(ns), *edisc = escape(disc);
    size_t blen = strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    size_t len = blen + strlen(ens) + strlen(edisc) + 24;
    char *url = dw_malloc(len);
    snprintf(url, len, "%.*s/api/v1/events/%s/%s", (int)blen, base, ens, edisc);
    curl_free(ens);
    curl_free(edisc);
    return url;
}

static int argo_format(const dw_sink_spec *spec, const json_t *doc, dw_http_request *out)
{
    json_t *ev = evidence(doc);
    if (!ev)
        return DW_SINK_SKIP; /* drift documents are for the sinks */
    const char *key = json_string_value(json_object_get(ev, "idempotency_key"));
    int rc = dw_http_request_set_json(out, ev);
    if (rc == 0 && key && *key)
        rc = dw_http_request_add_header(out, "Idempotency-Key", key);
    json_decref(ev);
    if (rc)
        return rc;
    const char *ns = opt(spec, "namespace"), *disc = opt(spec, "discriminator");
    out->url = events_url(spec->url, ns ? ns : ARGO_DEFAULT_NAMESPACE,
                          disc ? disc : opt(spec, "workflow_template"));
    if ((rc = dw_http_request_add_header(out, "Accept", "application/json")))
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

const dw_sink_ops dw_target_argo = {
    .name = "argo",
    .validate = argo_validate,
    .format = argo_format,
    .classify_response = NULL, /* the shared policy: 503 (queue full) is retried */
    .write = NULL,
};

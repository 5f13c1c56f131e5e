/* The GitHub retraining target: a repository_dispatch event, which starts
 * every workflow of the repository that listens for its event type:
 *
 *   POST <url>/repos/{owner}/{repo}/dispatches        (url default
 *                                                     https://api.github.com)
 *   {"event_type": "driftwatch-retrain", "client_payload": {evidence}}
 *
 * with Accept: application/vnd.github+json, X-GitHub-Api-Version and
 * Authorization: Bearer <token>. GitHub answers 204 No Content. The payload
 * is the evidence (nine top-level keys) plus "dispatch" with the configured
 * workflow and ref, keeping within GitHub's limit of ten top-level
 * properties. A workflow reads it as github.event.client_payload.
 *
 * Options: repository ("owner/name", required), token, workflow and ref
 * (passed on in client_payload.dispatch: repository_dispatch always runs
 * the default branch's workflows, so a listener can use them to decide
 * whether it is meant), event_type (default "driftwatch-retrain"). */
#include "sinks/target_int.h"

#include "driftwatch/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GITHUB_DEFAULT_URL "https://api.github.com"
/* GitHub's limits for repository_dispatch. */
#define GITHUB_EVENT_TYPE_MAX 100
#define GITHUB_PAYLOAD_MAX_KEYS 10
/* The REST API version the request is written against. */
#define GITHUB_API_VERSION "2022-11-28"

static const char *base_url(const dw_sink_spec *spec)
{
    return spec->url && *spec->url ? spec->url : dw_target_github.default_url;
}

/* "owner/name": both parts non-empty, exactly one slash. */
static bool repository_ok(const char *r)
{
    const char *slash = r ? strchr(r, '/') : NULL;
    return slash && slash != r && slash[1] && !strchr(slash + 1, '/');
}

static const char *repository_check(const char *r)
{
    return repository_ok(r) ? NULL : "is not owner/name";
}

static const dw_sink_option github_options[] = {
    {.key = "repository", .type = DW_SINK_OPT_STRING, .required = true, .check = repository_check},
    {.key = "event_type",
     .type = DW_SINK_OPT_STRING,
     .def = "driftwatch-retrain",
     .max = GITHUB_EVENT_TYPE_MAX},
    {.key = "workflow", .type = DW_SINK_OPT_STRING},
    {.key = "ref", .type = DW_SINK_OPT_STRING},
    {.key = "token", .type = DW_SINK_OPT_STRING},
    {0},
};

static int github_format(const dw_sink_spec *spec, const json_t *doc, dw_http_request *out)
{
    json_t *payload = dw_target_evidence(doc);
    if (!payload)
        return DW_SINK_SKIP; /* drift documents are for the sinks */
    const char *wf = dw_sink_spec_option(spec, "workflow"), *ref = dw_sink_spec_option(spec, "ref");
    if (wf || ref) {
        json_t *dispatch = json_object();
        if (wf)
            json_object_set_new(dispatch, "workflow", json_string(wf));
        if (ref)
            json_object_set_new(dispatch, "ref", json_string(ref));
        json_object_set_new(payload, "dispatch", dispatch);
    }
    /* Checked, not assumed: GitHub refuses (422) a payload with more. */
    if (json_object_size(payload) > GITHUB_PAYLOAD_MAX_KEYS) {
        json_decref(payload);
        return DW_ERR_LIMIT;
    }
    char key[128];
    const char *k = json_string_value(json_object_get(payload, "idempotency_key"));
    snprintf(key, sizeof key, "%s", k ? k : "");
    const char *et = dw_sink_spec_option(spec, "event_type");
    json_t *body = json_pack("{s:s, s:o}", "event_type", et, "client_payload", payload);
    int rc = body ? dw_http_request_set_json(out, body) : DW_ERR_INVALID;
    json_decref(body);
    if (rc)
        return rc;
    /* "owner/name" (checked by repository_check) gives two path segments:
     * each is escaped on its own, the slash between them is kept. */
    const char *repo = dw_sink_spec_option(spec, "repository"), *slash = strchr(repo, '/');
    char *owner = dw_strndup(repo, (size_t)(slash - repo));
    const char *segments[] = {owner, slash + 1};
    out->url = dw_target_url(base_url(spec), "/repos/%s/%s/dispatches", segments, 2);
    free(owner);
    if (!out->url)
        return DW_ERR_INVALID;
    if ((rc = dw_http_request_add_header(out, "Accept", "application/vnd.github+json")) ||
        (rc = dw_http_request_add_header(out, "X-GitHub-Api-Version", GITHUB_API_VERSION)))
        return rc;
    if (key[0] && (rc = dw_http_request_add_header(out, "Idempotency-Key", key)))
        return rc;
    return dw_target_add_bearer(out, dw_sink_spec_option(spec, "token"));
}

/* Whether body[0..len) mentions a rate limit (case-insensitive). */
static bool mentions_rate_limit(const char *body, size_t len)
{
    static const char needle[] = "rate limit";
    size_t n = sizeof needle - 1;
    for (size_t i = 0; body && i + n <= len; i++)
        if (strncasecmp(body + i, needle, n) == 0)
            return true;
    return false;
}

/* GitHub signals its secondary rate limits with 403 (or 429) and a message
 * saying so, often with Retry-After: that 403 is worth a retry; any other
 * 403 (a token without the right permission) is not. */
static dw_delivery github_classify(const dw_sink_spec *spec, long status, const char *body,
                                   size_t body_len)
{
    (void)spec;
    if (status == 403 && mentions_rate_limit(body, body_len))
        return DW_DELIVERY_RETRY;
    return dw_sink_classify_http(status);
}

const dw_sink_ops dw_target_github = {
    .name = "github",
    .roles = DW_SINK_ROLE_RETRAIN,
    .options = github_options,
    .default_url = GITHUB_DEFAULT_URL,
    .validate = NULL,
    .format = github_format,
    .classify_response = github_classify,
    .write = NULL,
};

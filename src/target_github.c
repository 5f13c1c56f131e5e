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
#include "driftwatch/sink.h"

#include "driftwatch/error.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GITHUB_DEFAULT_URL "https://api.github.com"
#define GITHUB_DEFAULT_EVENT "driftwatch-retrain"
/* GitHub's limits for repository_dispatch. */
#define GITHUB_EVENT_TYPE_MAX 100
#define GITHUB_PAYLOAD_MAX_KEYS 10
/* The REST API version the request is written against. */
#define GITHUB_API_VERSION "2022-11-28"

static const char *opt(const dw_sink_spec *spec, const char *key)
{
    const char *v = dw_sink_spec_option(spec, key);
    return v && *v ? v : NULL;
}

static const char *base_url(const dw_sink_spec *spec)
{
    return spec->url && *spec->url ? spec->url : GITHUB_DEFAULT_URL;
}

/* "owner/name": both parts non-empty, exactly one slash. */
static bool repository_ok(const char *r)
{
    const char *slash = r ? strchr(r, '/') : NULL;
    return slash && slash != r && slash[1] && !strchr(slash + 1, '/');
}

static int github_validate(const dw_sink_spec *spec, char *errbuf, size_t errlen)
{
    int rc = dw_sink_check_url(spec, base_url(spec), errbuf, errlen);
    if (rc)
        return rc;
    const char *repo = opt(spec, "repository");
    if (!repository_ok(repo))
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "retrain target \"%s\": option repository is \"%s\", expected "
                         "\"owner/name\"",
                         spec->name, repo ? repo : "");
    const char *et = opt(spec, "event_type");
    if (et && strlen(et) > GITHUB_EVENT_TYPE_MAX)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "retrain target \"%s\": option event_type is longer than GitHub's %d "
                         "characters",
                         spec->name, GITHUB_EVENT_TYPE_MAX);
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

static char *escape(const char *s, size_t len)
{
    char *e = curl_easy_escape(NULL, s, (int)len);
    if (!e) {
        fprintf(stderr, "driftwatch: out of memory in libcurl\n");
        abort();
    }
    return e;
}

/* base (without trailing slashes) + "/repos/<owner>/<name>/dispatches". */
static char *dispatch_url(const char *base, const char *repository)
{
    const char *slash = strchr(repository, '/');
    char *owner = escape(repository, (size_t)(slash - repository));
    char *name = escape(slash + 1, strlen(slash + 1));
    size_t blen = strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    size_t len = blen + strlen(owner) + strlen(name) + 24;
    char *url = dw_malloc(len);
    snprintf(url, len, "%.*s/repos/%s/%s/dispatches", (int)blen, base, owner, name);
    curl_free(owner);
    curl_free(name);
    return url;
}

static int github_format(const dw_sink_spec *spec, const json_t *doc, dw_http_request *out)
{
    json_t *payload = evidence(doc);
    if (!payload)
        return DW_SINK_SKIP; /* drift documents are for the sinks */
    const char *wf = opt(spec, "workflow"), *ref = opt(spec, "ref");
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
    const char *et = opt(spec, "event_type");
    json_t *body = json_pack("{s:s, s:o}", "event_type", et ? et : GITHUB_DEFAULT_EVENT,
                             "client_payload", payload);
    int rc = body ? dw_http_request_set_json(out, body) : DW_ERR_INVALID;
    json_decref(body);
    if (rc)
        return rc;
    out->url = dispatch_url(base_url(spec), opt(spec, "repository"));
    if ((rc = dw_http_request_add_header(out, "Accept", "application/vnd.github+json")) ||
        (rc = dw_http_request_add_header(out, "X-GitHub-Api-Version", GITHUB_API_VERSION)))
        return rc;
    if (key[0] && (rc = dw_http_request_add_header(out, "Idempotency-Key", key)))
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
    .validate = github_validate,
    .format = github_format,
    .classify_response = github_classify,
    .write = NULL,
};

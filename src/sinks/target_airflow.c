/* The Airflow retraining target: starts a DAG run through Airflow's REST
 * API for every retraining trigger (a native document of kind "retrain").
 *
 *   api v1 (Airflow 2, the default): POST <url>/api/v1/dags/{dag_id}/dagRuns
 *       {"dag_run_id": "driftwatch-<idempotency_key>", "conf": {evidence}}
 *   api v2 (Airflow 3):              POST <url>/api/v2/dags/{dag_id}/dagRuns
 *       {"dag_run_id": ..., "logical_date": <triggered_at>, "conf": {...}}
 *
 * The run id is derived from the episode's idempotency key, so a retry
 * after a lost answer, a second replica or a restart asks for the same run:
 * Airflow answers 409 Conflict and that counts as delivered. Authentication:
 * options username + password (HTTP Basic, Airflow 2's basic_auth backend)
 * or token (Bearer, Airflow 3's JWT), or the sink's own headers. */
#include "sinks/target_int.h"

#include "driftwatch/error.h"
#include "driftwatch/hmac.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest dag_run_id Airflow stores (its column is 250 characters). */
#define AIRFLOW_RUN_ID_MAX 250

static const char *const airflow_apis[] = {"v1", "v2", NULL};

static const dw_sink_option airflow_options[] = {
    {.key = "dag_id", .type = DW_SINK_OPT_STRING, .required = true},
    {.key = "api", .type = DW_SINK_OPT_ENUM, .def = "v1", .values = airflow_apis},
    {.key = "username", .type = DW_SINK_OPT_STRING},
    {.key = "password", .type = DW_SINK_OPT_STRING},
    {.key = "token", .type = DW_SINK_OPT_STRING},
    {0},
};

/* The two ways to authenticate exclude each other. */
static int airflow_validate(const dw_sink_spec *spec, char *errbuf, size_t errlen)
{
    bool user = dw_sink_spec_option(spec, "username") != NULL,
         pass = dw_sink_spec_option(spec, "password") != NULL;
    if (user != pass)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "retrain target \"%s\": options username and password go together",
                         spec->name);
    if (user && dw_sink_spec_option(spec, "token"))
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "retrain target \"%s\": set either username/password or token, not both",
                         spec->name);
    return 0;
}

static int add_auth(const dw_sink_spec *spec, dw_http_request *out)
{
    const char *token = dw_sink_spec_option(spec, "token"),
               *user = dw_sink_spec_option(spec, "username");
    if (token)
        return dw_target_add_bearer(out, token);
    if (!user)
        return 0;
    const char *pass = dw_sink_spec_option(spec, "password");
    size_t n = strlen(user) + strlen(pass) + 2;
    char *cred = dw_malloc(n);
    snprintf(cred, n, "%s:%s", user, pass);
    char *b64 = dw_base64_encode((const unsigned char *)cred, strlen(cred));
    free(cred);
    n = strlen(b64) + 7;
    char *v = dw_malloc(n);
    snprintf(v, n, "Basic %s", b64);
    int rc = dw_http_request_add_header(out, "Authorization", v);
    free(b64);
    free(v);
    return rc;
}

static int airflow_format(const dw_sink_spec *spec, const json_t *doc, dw_http_request *out)
{
    json_t *conf = dw_target_evidence(doc);
    if (!conf)
        return DW_SINK_SKIP; /* drift documents are for the sinks */
    const char *key = json_string_value(json_object_get(conf, "idempotency_key"));
    if (!key || !*key || strlen(key) + 11 > AIRFLOW_RUN_ID_MAX) {
        json_decref(conf);
        return DW_ERR_INVALID;
    }
    const char *api = dw_sink_spec_option(spec, "api");
    bool v2 = strcmp(api, "v2") == 0;
    char run_id[AIRFLOW_RUN_ID_MAX + 1];
    snprintf(run_id, sizeof run_id, "driftwatch-%s", key);
    json_t *body = json_pack("{s:s, s:O}", "dag_run_id", run_id, "conf", conf);
    /* Airflow 3 requires logical_date (it may be null); the trigger's event
     * time keeps a replay's runs at the time the drift happened. */
    if (v2) {
        json_t *at = json_object_get(conf, "triggered_at");
        json_object_set(body, "logical_date", at ? at : json_null());
    }
    int rc = dw_http_request_set_json(out, body);
    json_decref(body);
    json_decref(conf);
    if (rc)
        return rc;
    const char *dag = dw_sink_spec_option(spec, "dag_id");
    out->url = dw_target_url(spec->url, v2 ? "/api/v2/dags/%s/dagRuns" : "/api/v1/dags/%s/dagRuns",
                             &dag, 1);
    if (!out->url)
        return DW_ERR_INVALID;
    if ((rc = dw_http_request_add_header(out, "Accept", "application/json")) ||
        (rc = dw_http_request_add_header(out, "Idempotency-Key", key)) ||
        (rc = add_auth(spec, out)))
        return rc;
    return 0;
}

/* 409 Conflict: a run with this dag_run_id exists, i.e. this episode's run
 * was already created (by an earlier attempt whose answer was lost, or by
 * another replica): done, not a failure. */
static dw_delivery airflow_classify(const dw_sink_spec *spec, long status, const char *body,
                                    size_t body_len)
{
    (void)spec;
    (void)body;
    (void)body_len;
    if (status == 409)
        return DW_DELIVERY_OK;
    return dw_sink_classify_http(status);
}

const dw_sink_ops dw_target_airflow = {
    .name = "airflow",
    .roles = DW_SINK_ROLE_RETRAIN,
    .options = airflow_options,
    .validate = airflow_validate,
    .format = airflow_format,
    .classify_response = airflow_classify,
    .write = NULL,
};

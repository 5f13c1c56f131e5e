/* The plain webhook sink: POSTs driftwatch's native document as JSON, with
 * "sent_at" set by the notifier, to any HTTP endpoint. With option `secret`
 * each request is signed per the Standard Webhooks spec (webhook-id,
 * webhook-timestamp, webhook-signature). */
#include "sink_int.h"

#include "driftwatch/error.h"
#include "driftwatch/hmac.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int webhook_validate(const dw_sink_spec *spec, char *errbuf, size_t errlen)
{
    const char *secret = dw_sink_spec_option(spec, "secret");
    unsigned char key[DW_WEBHOOK_SECRET_MAX];
    size_t keylen;
    /* An empty secret ("${SECRET:-}") means "do not sign". */
    if (secret && dw_webhook_secret_decode(secret, key, sizeof key, &keylen) != 0)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "sink \"%s\": option secret must be base64 (optionally prefixed "
                         "\"whsec_\"), at most %d bytes decoded",
                         spec->name, DW_WEBHOOK_SECRET_MAX);
    return 0;
}

static const dw_sink_option webhook_options[] = {
    {.key = "secret", .type = DW_SINK_OPT_STRING},
    {0},
};

static int webhook_format(const dw_sink_spec *spec, const json_t *doc, dw_http_request *out)
{
    json_t *d = dw_sink_filter_alerts(spec, doc);
    if (!d)
        return DW_SINK_SKIP;
    int rc = dw_http_request_set_json(out, d);
    /* The notification id is stable across retries, so receivers can use it
     * to drop duplicates (a retry after a lost 2xx). An id that cannot be a
     * header value (line breaks) is left out rather than failing delivery. */
    const char *id = json_string_value(json_object_get(d, "id"));
    if (rc == 0 && id && *id)
        (void)dw_http_request_add_header(out, "Idempotency-Key", id);
    const char *secret = dw_sink_spec_option(spec, "secret");
    if (rc == 0 && secret) {
        /* Signed per attempt: the body (sent_at) and the timestamp change
         * between retries, the id does not. A receiver needs the id, so a
         * document without a usable one is refused rather than sent
         * unverifiable. */
        char sig[DW_WEBHOOK_SIGNATURE_LEN];
        char ts[24];
        long long now = (long long)time(NULL);
        snprintf(ts, sizeof ts, "%lld", now);
        if (!id || !*id || dw_http_request_add_header(out, "webhook-id", id) != 0)
            rc = DW_ERR_INVALID;
        if (rc == 0)
            rc = dw_webhook_sign(secret, id, now, out->body, out->body_len, sig, sizeof sig);
        if (rc == 0)
            rc = dw_http_request_add_header(out, "webhook-timestamp", ts);
        if (rc == 0)
            rc = dw_http_request_add_header(out, "webhook-signature", sig);
    }
    json_decref(d);
    return rc;
}

const dw_sink_ops dw_sink_webhook = {
    .name = "webhook",
    .roles = DW_SINK_ROLE_ALERTS | DW_SINK_ROLE_RETRAIN,
    .options = webhook_options,
    .validate = webhook_validate,
    .format = webhook_format,
    .classify_response = NULL, /* the shared HTTP policy */
    .write = NULL,
};

/* The plain webhook sink: POSTs driftwatch's native document as JSON, with
 * "sent_at" set by the notifier, to any HTTP endpoint. */
#include "driftwatch/sink.h"

#include "driftwatch/error.h"

#include <curl/curl.h>
#include <string.h>

static int webhook_validate(const dw_sink_spec *spec, char *errbuf, size_t errlen)
{
    const char *url = spec->url;
    if (!url || !*url)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "sink \"%s\": a url is required",
                         spec->name);
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "sink \"%s\": url \"%s\" must start with http:// or https://", spec->name,
                         url);
    /* Let curl's own parser judge the rest, so what passes here is exactly
     * what the transfer will accept. */
    CURLU *u = curl_url();
    CURLUcode uc = u ? curl_url_set(u, CURLUPART_URL, url, 0) : CURLUE_OUT_OF_MEMORY;
    curl_url_cleanup(u);
    if (uc != CURLUE_OK)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID, "sink \"%s\": url \"%s\" is not valid: %s",
                         spec->name, url, curl_url_strerror(uc));
    return 0;
}

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
    json_decref(d);
    return rc;
}

const dw_sink_ops dw_sink_webhook = {
    .name = "webhook",
    .validate = webhook_validate,
    .format = webhook_format,
    .classify_response = NULL, /* the shared HTTP policy */
    .write = NULL,
};

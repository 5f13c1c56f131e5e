/* The stdout sink: writes each notification to standard output, as one
 * JSON line (default, `format: json`) or as one human summary line per alert
 * (`format: text`). Printing is this sink's whole job, so it is the one
 * library file that writes to stdout; it runs on the notifier thread. */
#include "sink_int.h"

#include "driftwatch/dynbuf.h"
#include "driftwatch/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ceiling on one text-mode document: an alert's line is a few hundred
 * bytes and a document holds at most one alert per (column, window, kind). */
#define DW_STDOUT_MAX_BYTES ((size_t)16 << 20)

static bool text_mode(const dw_sink_spec *spec)
{
    const char *f = dw_sink_spec_option(spec, "format");
    return f && strcmp(f, "text") == 0;
}

static const char *const stdout_formats[] = {"json", "text", NULL};

static const dw_sink_option stdout_options[] = {
    {.key = "format", .type = DW_SINK_OPT_ENUM, .def = "json", .values = stdout_formats},
    {0},
};

/* Writes s with control characters replaced, so one alert stays one line
 * whatever a column name contains. */
static void put_clean(dw_dynbuf *f, const char *s)
{
    for (; s && *s; s++)
        dw_dynbuf_addc(f, (unsigned char)*s < 0x20 ? '?' : *s);
}

static void put_str(dw_dynbuf *f, const char *key, json_t *v)
{
    const char *s = json_string_value(v);
    if (!s)
        return;
    dw_dynbuf_addf(f, " %s=", key);
    put_clean(f, s);
}

static void put_num(dw_dynbuf *f, const char *key, json_t *v)
{
    if (json_is_number(v))
        dw_dynbuf_addf(f, " %s=%.6g", key, json_number_value(v));
}

/* "<evaluated_at> FIRING model=fraud version=v3 column=... window=15m
 *  severity=warning kind=distribution samples=4980 ks.statistic=0.31
 *  ks.p_adjusted=1e-39 psi=0.52" */
static void text_line(dw_dynbuf *f, json_t *doc, json_t *a)
{
    put_clean(f, json_string_value(json_object_get(doc, "evaluated_at")));
    const char *st = json_string_value(json_object_get(a, "status"));
    dw_dynbuf_addc(f, ' ');
    for (const char *p = st ? st : "unknown"; *p; p++)
        dw_dynbuf_addc(f, (unsigned char)*p < 0x20 ? '?' : (*p >= 'a' && *p <= 'z' ? *p - 32 : *p));
    put_str(f, "model", json_object_get(doc, "model"));
    put_str(f, "version", json_object_get(doc, "model_version"));
    put_str(f, "column", json_object_get(a, "column"));
    put_str(f, "window", json_object_get(a, "window"));
    put_str(f, "severity", json_object_get(a, "severity"));
    put_str(f, "kind", json_object_get(a, "kind"));
    json_t *samples = json_object_get(a, "samples");
    if (json_is_integer(samples))
        dw_dynbuf_addf(f, " samples=%lld", (long long)json_integer_value(samples));
    const char *k;
    json_t *v;
    json_object_foreach (json_object_get(a, "tests"), k, v) {
        if (json_is_object(v)) {
            char key[128];
            snprintf(key, sizeof key, "%s.statistic", k);
            put_num(f, key, json_object_get(v, "statistic"));
            snprintf(key, sizeof key, "%s.p_adjusted", k);
            put_num(f, key, json_object_get(v, "p_adjusted"));
        } else {
            put_num(f, k, v);
        }
    }
    json_object_foreach (json_object_get(a, "quality"), k, v)
        put_num(f, k, v);
    json_t *perf = json_object_get(a, "performance");
    if (json_is_object(perf)) {
        put_str(f, "metric", json_object_get(perf, "metric"));
        static const char *const pk[] = {"value", "lower", "upper", "reference", "margin"};
        for (size_t i = 0; i < sizeof pk / sizeof pk[0]; i++)
            put_num(f, pk[i], json_object_get(perf, pk[i]));
    }
    json_t *lat = json_object_get(a, "latency");
    if (json_is_object(lat)) {
        put_str(f, "slo", json_object_get(lat, "slo"));
        static const char *const lk[] = {"quantile", "value", "max"};
        for (size_t i = 0; i < sizeof lk / sizeof lk[0]; i++)
            put_num(f, lk[i], json_object_get(lat, lk[i]));
        put_str(f, "unit", json_object_get(lat, "unit"));
    }
    put_str(f, "baseline", json_object_get(a, "baseline"));
    dw_dynbuf_addc(f, '\n');
}

static int stdout_format(const dw_sink_spec *spec, const json_t *doc, dw_http_request *out)
{
    json_t *d = dw_sink_filter_alerts(spec, doc);
    if (!d)
        return DW_SINK_SKIP;
    int rc = 0;
    if (!text_mode(spec)) {
        rc = dw_http_request_set_json(out, d);
        if (rc == 0) {
            /* One document per line: append the newline to the body. */
            out->body = dw_realloc(out->body, out->body_len + 2);
            out->body[out->body_len++] = '\n';
            out->body[out->body_len] = '\0';
        }
    } else {
        dw_dynbuf b;
        dw_dynbuf_init(&b, DW_STDOUT_MAX_BYTES);
        json_t *a;
        size_t i;
        json_array_foreach (json_object_get(d, "alerts"), i, a)
            text_line(&b, d, a);
        free(out->body);
        out->body_len = b.len;
        out->body = dw_dynbuf_take(&b);
        snprintf(out->content_type, sizeof out->content_type, "text/plain");
    }
    json_decref(d);
    return rc;
}

static dw_delivery stdout_write(const dw_sink_spec *spec, const dw_http_request *req)
{
    (void)spec;
    if (!req->body_len)
        return DW_DELIVERY_OK;
    flockfile(stdout);
    size_t w = fwrite(req->body, 1, req->body_len, stdout);
    int fl = fflush(stdout);
    funlockfile(stdout);
    /* A closed or full stdout will not get better by retrying. */
    return (w == req->body_len && fl == 0) ? DW_DELIVERY_OK : DW_DELIVERY_DROP;
}

const dw_sink_ops dw_sink_stdout = {
    .name = "stdout",
    .roles = DW_SINK_ROLE_ALERTS,
    .options = stdout_options,
    .no_url = true,
    .validate = NULL,
    .format = stdout_format,
    .classify_response = NULL,
    .write = stdout_write,
};

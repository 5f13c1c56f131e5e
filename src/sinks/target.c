/* Helpers every retraining target shares (see target_int.h). */
#include "sinks/target_int.h"

#include "driftwatch/error.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *dw_target_evidence(const json_t *doc)
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

/* curl_easy_escape() fails only when it cannot allocate: the project's
 * out-of-memory policy (error.h) applies. */
static char *escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    if (!e) {
        fprintf(stderr, "driftwatch: out of memory in libcurl\n");
        abort();
    }
    return e;
}

/* Whether pattern holds exactly n "%s" and no other '%'. */
static bool pattern_matches(const char *pattern, size_t n)
{
    size_t found = 0;
    for (const char *p = strchr(pattern, '%'); p; p = strchr(p + 2, '%')) {
        if (p[1] != 's')
            return false;
        found++;
    }
    return found == n;
}

char *dw_target_url(const char *base, const char *pattern, const char *const *segments, size_t n)
{
    if (n > DW_TARGET_URL_MAX_SEGMENTS || !pattern_matches(pattern, n))
        return NULL;
    char *esc[DW_TARGET_URL_MAX_SEGMENTS];
    size_t blen = strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    /* Each "%s" (2 bytes) gives way to its escaped segment. */
    size_t len = blen + strlen(pattern) - 2 * n + 1;
    for (size_t i = 0; i < n; i++) {
        esc[i] = escape(segments[i]);
        len += strlen(esc[i]);
    }
    char *url = dw_malloc(len), *w = url;
    memcpy(w, base, blen);
    w += blen;
    size_t next = 0;
    for (const char *p = pattern; *p;) {
        if (p[0] == '%') {
            size_t elen = strlen(esc[next]);
            memcpy(w, esc[next], elen);
            w += elen;
            curl_free(esc[next++]);
            p += 2;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
    return url;
}

int dw_target_add_bearer(dw_http_request *out, const char *token)
{
    if (!token || !*token)
        return 0;
    if (strncmp(token, "Bearer ", 7) == 0)
        token += 7;
    size_t n = strlen(token) + 8;
    char *v = dw_malloc(n);
    snprintf(v, n, "Bearer %s", token);
    int rc = dw_http_request_add_header(out, "Authorization", v);
    free(v);
    return rc;
}

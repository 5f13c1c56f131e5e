/* Shared by the unit tests of sinks and retrain targets (test_sinks.c,
 * test_targets.c): a sink spec, the request a format() built, and tables
 * of settings a type refuses and of answers and how it judges them.
 * Define DWT_SPEC_NAME before including to name the specs; include after
 * cmocka.h. */
#ifndef DW_TEST_SINK_FIXTURE_H
#define DW_TEST_SINK_FIXTURE_H

#include "driftwatch/error.h"
#include "driftwatch/sink.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#ifndef DWT_SPEC_NAME
#define DWT_SPEC_NAME "test"
#endif

static inline dw_sink_spec spec_of(const char *type, const char *url, const dw_sink_kv *opts,
                                   size_t n)
{
    dw_sink_spec s;
    dw_sink_spec_init(&s);
    s.name = DWT_SPEC_NAME;
    s.type = type;
    s.url = url;
    s.options = opts;
    s.n_options = n;
    return s;
}

/* The request's body parsed (it must be JSON, sent as such); the caller
 * owns the result. */
static inline json_t *parse_body(const dw_http_request *req)
{
    assert_non_null(req->body);
    assert_int_equal(strlen(req->body), req->body_len);
    assert_string_equal(req->content_type, "application/json");
    json_error_t e;
    json_t *j = json_loads(req->body, 0, &e);
    if (!j)
        fail_msg("body is not JSON: %s (%s)", e.text, req->body);
    return j;
}

/* o's string member key; fails when it is absent or not a string. */
static inline const char *sget(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        fail_msg("\"%s\" is not a string", key);
    return json_string_value(v);
}

/* o's string members: each {key, value} of want (n of them). */
static inline void expect_strings(json_t *o, const char *const want[][2], size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(sget(o, want[i][0]), want[i][1]) != 0)
            fail_msg("\"%s\" is \"%s\", want \"%s\"", want[i][0], sget(o, want[i][0]), want[i][1]);
}

/* The value of the request's header name, or NULL. */
static inline const char *header_value(const dw_http_request *req, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < req->n_headers; i++)
        if (strncmp(req->headers[i], name, n) == 0 && req->headers[i][n] == ':')
            return req->headers[i] + n + 2;
    return NULL;
}

/* Settings of one type that dw_sink_validate() refuses: options (n of
 * them), the url, and a part of the message (NULL: any message). */
typedef struct {
    dw_sink_kv opts[4];
    size_t n;
    const char *url;
    const char *want;
} dwt_refused;

static inline void expect_refused(const char *type, const dwt_refused *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char err[256] = "";
        dw_sink_spec s = spec_of(type, cases[i].url, cases[i].opts, cases[i].n);
        int rc = dw_sink_validate(&s, err, sizeof err);
        if (rc != DW_ERR_INVALID)
            fail_msg("%s case %zu: validate returned %d, want DW_ERR_INVALID", type, i, rc);
        if (cases[i].want && !strstr(err, cases[i].want))
            fail_msg("%s case %zu: \"%s\" does not say \"%s\"", type, i, err, cases[i].want);
    }
}

/* An answer (status, body) and how the type must judge it. */
typedef struct {
    long status;
    const char *body;
    dw_delivery want;
} dwt_answer;

static inline void expect_answers(const dw_sink_ops *ops, const dw_sink_spec *s,
                                  const dwt_answer *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *body = a[i].body ? a[i].body : "";
        dw_delivery got = ops->classify_response(s, a[i].status, body, strlen(body));
        if (got != a[i].want)
            fail_msg("%s: HTTP %ld \"%s\" judged %d, want %d", ops->name, a[i].status, body,
                     (int)got, (int)a[i].want);
    }
}

#define DWT_N(a) (sizeof(a) / sizeof((a)[0]))

#endif

/* What every retraining target (src/sinks/target_<name>.c) shares: the evidence it sends, the URL
 * it posts to and its Bearer token. The targets themselves are dw_sink_ops (sink.h); these helpers
 * only keep the four of them from carrying four copies of the same code. */
#ifndef DRIFTWATCH_TARGET_INT_H
#define DRIFTWATCH_TARGET_INT_H

#include "sink_int.h"

#include <jansson.h>
#include <stddef.h>

/* Path segments dw_target_url() substitutes at most. */
#define DW_TARGET_URL_MAX_SEGMENTS 8

/* The evidence every retraining target carries (docs/alerts.md): the
 * native document without its transport fields, with the window as one
 * object {name, start, end}, so the whole has nine top-level keys and fits
 * GitHub's limit of ten for a client_payload. Fields missing from doc are
 * left out. Returns a new reference the caller owns, or NULL when doc is
 * not a retraining trigger (its "kind" is not "retrain"). */
json_t *dw_target_evidence(const json_t *doc);

/* base without its trailing slashes, followed by pattern in which every
 * "%s" is replaced by the next of the n segments, URL-escaped as one path
 * segment (so a '/' inside a segment becomes %2F), e.g.
 *
 *   dw_target_url("http://af:8080/", "/api/v1/dags/%s/dagRuns",
 *                 (const char *const[]){"my dag"}, 1)
 *   == "http://af:8080/api/v1/dags/my%20dag/dagRuns"
 *
 * pattern holds no other '%'. Returns a string the caller frees with
 * free(), or NULL when pattern's "%s" do not match n (or n exceeds
 * DW_TARGET_URL_MAX_SEGMENTS, or pattern holds another '%'): a programming
 * error the caller reports as DW_ERR_INVALID. Aborts on out of memory. */
char *dw_target_url(const char *base, const char *pattern, const char *const *segments, size_t n);

/* Adds "Authorization: Bearer <token>" to out. A token pasted with its
 * scheme ("Bearer eyJ...", as `argo auth token` prints it) is taken
 * without it. NULL or "" adds nothing and returns 0; otherwise returns what
 * dw_http_request_add_header() returns. */
int dw_target_add_bearer(dw_http_request *out, const char *token);

#endif

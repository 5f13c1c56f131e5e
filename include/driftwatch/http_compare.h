/* GET and POST /api/v1/compare (docs/api.md, docs/canary.md): the rollout
 * gate's answer for one candidate version, taken from the comparisons of a
 * status snapshot (driftwatch/status.h, dw_engine_status()), so it says
 * what the latest evaluation found. Pure: no I/O, no engine access. */
#ifndef DRIFTWATCH_HTTP_COMPARE_H
#define DRIFTWATCH_HTTP_COMPARE_H

#include "driftwatch/status.h"

#include <jansson.h>
#include <stdbool.h>

typedef struct dw_compare_query {
    const char *model;     /* required */
    const char *candidate; /* NULL: the model's only candidate */
    const char *baseline;  /* NULL: whichever the engine uses */
    const char *window;    /* NULL: the first window compared */
    bool all_columns;      /* columns=all: the passing columns too */
} dw_compare_query;

/* The answer to q from status (borrowed): returns the HTTP status (200
 * with the verdict document, 400 for a missing or malformed parameter,
 * 404 when nothing matches) and sets *body to a new JSON document (the
 * verdict, or {"error": sentence}) the caller owns. */
unsigned dw_compare_answer(const dw_status *status, const dw_compare_query *q, json_t **body);

/* Largest request body POST /api/v1/compare reads (a Flagger payload is a
 * few hundred bytes); a longer one is answered 413. */
#define DW_COMPARE_MAX_BODY 16384

/* POST /api/v1/compare from a Flagger webhook: req[0..len) is Flagger's
 * payload, {"name", "namespace", "phase", "metadata": {string: string}},
 * and the query comes from its metadata: model (default: the canary's
 * name), candidate, baseline, window, columns ("all"). Flagger counts a
 * 2xx answer as a passed check and anything else as a failed one, so the
 * answer is 200 with the verdict document when the verdict is pass and
 * 412 with the same document when it is fail or inconclusive; 400 for a
 * body that is not such a payload; otherwise what dw_compare_answer()
 * answers (400, 404). *body as there. */
unsigned dw_compare_webhook_answer(const dw_status *status, const char *req, size_t len,
                                   json_t **body);

#endif

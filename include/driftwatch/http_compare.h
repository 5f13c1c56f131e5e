/* GET /api/v1/compare (docs/api.md, docs/canary.md): the rollout gate's
 * answer for one candidate version, taken from the comparisons of a
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

#endif

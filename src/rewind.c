#include "driftwatch/rewind.h"

#include "driftwatch/error.h"

#include <stdlib.h>

typedef struct entry {
    int64_t offset; /* where the source must be read again; -1: not waiting */
    int64_t ts;     /* event time of the message there */
    int64_t since;  /* dw_rewind_resume_next()'s now_ms, or the last re-seek */
    bool resumed;
} entry;

struct dw_rewind {
    entry *e;
    size_t n;
    size_t npaused;  /* waiting, not resumed */
    size_t nwaiting; /* waiting, resumed */
    int64_t min_ts;  /* over the paused ones; valid while !min_stale */
    bool min_stale;
};

const char *dw_rewind_outcome_name(dw_rewind_outcome o)
{
    switch (o) {
    case DW_REWIND_REREAD: return "reread";
    case DW_REWIND_SKIPPED: return "skipped";
    case DW_REWIND_REVOKED: return "revoked";
    case DW_REWIND_RESEEK: return "reseek";
    default: return "unknown";
    }
}

dw_rewind *dw_rewind_new(size_t nsources)
{
    dw_rewind *r = dw_calloc(1, sizeof *r);
    r->e = dw_calloc(nsources ? nsources : 1, sizeof *r->e);
    r->n = nsources;
    for (size_t i = 0; i < nsources; i++)
        r->e[i].offset = -1;
    r->min_ts = INT64_MAX;
    return r;
}

void dw_rewind_free(dw_rewind *r)
{
    if (!r)
        return;
    free(r->e);
    free(r);
}

static entry *get(dw_rewind *r, int src)
{
    return src >= 0 && (size_t)src < r->n ? &r->e[src] : NULL;
}

/* Leaves the waiting state, keeping the counts exact. */
static void clear(dw_rewind *r, entry *e)
{
    if (e->offset < 0)
        return;
    if (e->resumed) {
        r->nwaiting--;
    } else {
        r->npaused--;
        /* the minimum may have been this one: recomputed when asked */
        r->min_stale = true;
    }
    e->offset = -1;
    e->resumed = false;
}

void dw_rewind_paused(dw_rewind *r, int src, int64_t offset, int64_t ts)
{
    entry *e = get(r, src);
    if (!e || offset < 0)
        return;
    clear(r, e);
    e->offset = offset;
    e->ts = ts;
    e->resumed = false;
    r->npaused++;
    if (!r->min_stale && ts < r->min_ts)
        r->min_ts = ts;
}

bool dw_rewind_accept(dw_rewind *r, int src, int64_t offset, int *outcome)
{
    if (outcome)
        *outcome = -1;
    entry *e = get(r, src);
    if (!e || e->offset < 0)
        return true;
    /* Paused: librdkafka already drops what it fetched before the seek
     * (op versions), this is the second line. Resumed: what comes before
     * the offset was applied before the pause. */
    if (!e->resumed || offset < e->offset)
        return false;
    /* At the offset, or past it when the fetch resumed further on: the
     * messages in between cannot be had any more (deleted, compacted, or
     * the committed offset moved on), and waiting for them would drop this
     * partition's messages for good. */
    if (outcome)
        *outcome = offset == e->offset ? DW_REWIND_REREAD : DW_REWIND_SKIPPED;
    clear(r, e);
    return true;
}

bool dw_rewind_forget(dw_rewind *r, int src)
{
    entry *e = get(r, src);
    if (!e || e->offset < 0)
        return false;
    clear(r, e);
    return true;
}

size_t dw_rewind_npaused(const dw_rewind *r)
{
    return r->npaused;
}

size_t dw_rewind_nwaiting(const dw_rewind *r)
{
    return r->nwaiting;
}

int64_t dw_rewind_paused_min_ts(const dw_rewind *r)
{
    if (r->npaused == 0)
        return INT64_MAX;
    if (r->min_stale) {
        /* Only after a paused source left otherwise than by its resume
         * (a revoke): rare, so a scan is fine. */
        dw_rewind *w = (dw_rewind *)r;
        w->min_ts = INT64_MAX;
        for (size_t i = 0; i < r->n; i++)
            if (r->e[i].offset >= 0 && !r->e[i].resumed && r->e[i].ts < w->min_ts)
                w->min_ts = r->e[i].ts;
        w->min_stale = false;
    }
    return r->min_ts;
}

int dw_rewind_resume_next(dw_rewind *r, int from, int64_t now_ms)
{
    for (size_t i = from > 0 ? (size_t)from : 0; i < r->n && r->npaused; i++) {
        entry *e = &r->e[i];
        if (e->offset < 0 || e->resumed)
            continue;
        e->resumed = true;
        e->since = now_ms;
        r->npaused--;
        r->nwaiting++;
        if (r->npaused == 0) {
            r->min_ts = INT64_MAX;
            r->min_stale = false;
        } else {
            r->min_stale = true;
        }
        return (int)i;
    }
    return -1;
}

int dw_rewind_overdue(dw_rewind *r, int from, int64_t now_ms, int64_t timeout_ms, int64_t *offset)
{
    for (size_t i = from > 0 ? (size_t)from : 0; i < r->n && r->nwaiting; i++) {
        entry *e = &r->e[i];
        if (e->offset < 0 || !e->resumed || now_ms - e->since <= timeout_ms)
            continue;
        e->since = now_ms;
        *offset = e->offset;
        return (int)i;
    }
    return -1;
}

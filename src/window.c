#include "driftwatch/window.h"

#include "driftwatch/error.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct dw_window {
    int64_t length_ms, slide_ms;
    size_t npanes; /* panes in one window: length / slide */
    size_t nopen;  /* open panes the ring can hold ahead of the watermark */
    size_t nslots; /* npanes + nopen */
    size_t width;
    uint64_t *ring; /* nslots * width */
    uint64_t *sum;  /* width */
    bool started;
    bool closed;   /* a pane has closed: the clock can no longer move back */
    int64_t next;  /* index (time / slide) of the next pane to close */
    int64_t hi;    /* newest pane that received data */
    size_t filled; /* closed panes currently in sum, <= npanes */
    /* The last pane dw_window_pane_for() returned, for event times in
     * [c_lo, c_hi) (consecutive records mostly share a pane; this saves
     * its three divisions). Emptied whenever next moves. */
    int64_t c_lo, c_hi;
    uint64_t *c_pane;
    bool *moved; /* dw_window_on_clock_back(): set when next moves back */
};

static inline void cache_clear(dw_window *w)
{
    w->c_lo = 1;
    w->c_hi = 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static uint64_t *slot(const dw_window *w, int64_t pane)
{
    int64_t r = pane % (int64_t)w->nslots;
    if (r < 0)
        r += (int64_t)w->nslots;
    return w->ring + (size_t)r * w->width;
}

dw_window *dw_window_new(int64_t length_ms, int64_t slide_ms, int64_t lateness_ms, size_t width)
{
    if (slide_ms <= 0 || length_ms < slide_ms || length_ms % slide_ms != 0 || lateness_ms < 0 ||
        width == 0)
        return NULL;
    dw_window *w = dw_calloc(1, sizeof *w);
    w->length_ms = length_ms;
    w->slide_ms = slide_ms;
    w->npanes = (size_t)(length_ms / slide_ms);
    /* Records up to `lateness` behind the newest one land in open panes:
     * ceil(lateness / slide) panes behind plus the newest one's own. */
    w->nopen = (size_t)((lateness_ms + slide_ms - 1) / slide_ms) + 1;
    w->nslots = w->npanes + w->nopen;
    w->width = width;
    w->ring = dw_calloc(w->nslots * width, sizeof(uint64_t));
    w->sum = dw_calloc(width, sizeof(uint64_t));
    return w;
}

size_t dw_window_memory(int64_t length_ms, int64_t slide_ms, int64_t lateness_ms, size_t width)
{
    if (slide_ms <= 0 || length_ms < slide_ms || lateness_ms < 0)
        return 0;
    /* The ring and the running sum, as dw_window_new() sizes them. */
    uint64_t nslots =
        (uint64_t)(length_ms / slide_ms) + (uint64_t)((lateness_ms + slide_ms - 1) / slide_ms) + 1;
    return (size_t)(sizeof(dw_window) + (nslots + 1) * (uint64_t)width * sizeof(uint64_t));
}

void dw_window_free(dw_window *w)
{
    if (!w)
        return;
    free(w->ring);
    free(w->sum);
    free(w);
}

uint64_t *dw_window_pane_for(dw_window *w, int64_t t_ms)
{
    if (t_ms >= w->c_lo && t_ms < w->c_hi)
        return w->c_pane; /* same pane, and next has not moved since */
    int64_t q = floor_div(t_ms, w->slide_ms);
    if (!w->started) {
        w->started = true;
        w->next = w->hi = q;
    }
    if (q < w->next) {
        /* Before the first close the clock may start earlier than the first
         * record (another partition's older records), as long as the panes
         * already holding data stay within the open ones. */
        if (w->closed || w->hi - q >= (int64_t)w->nopen)
            return NULL; /* late: its pane closed, or cannot be opened */
        w->next = q;
        cache_clear(w);
        if (w->moved)
            *w->moved = true;
    }
    if (q - w->next >= (int64_t)w->nopen)
        return NULL; /* ahead of the ring: caller must close panes first */
    if (q > w->hi)
        w->hi = q;
    w->c_pane = slot(w, q);
    w->c_lo = q * w->slide_ms;
    w->c_hi = w->c_lo + w->slide_ms;
    return w->c_pane;
}

void dw_window_on_clock_back(dw_window *w, bool *flag)
{
    w->moved = flag;
}

bool dw_window_is_ahead(const dw_window *w, int64_t t_ms)
{
    return w->started && floor_div(t_ms, w->slide_ms) - w->next >= (int64_t)w->nopen;
}

int64_t dw_window_open_end(const dw_window *w)
{
    return w->started ? (w->next + (int64_t)w->nopen) * w->slide_ms : INT64_MAX;
}

int64_t dw_window_next_end(const dw_window *w)
{
    return w->started ? (w->next + 1) * w->slide_ms : INT64_MIN;
}

int64_t dw_window_close_next(dw_window *w)
{
    if (!w->started)
        return INT64_MIN;
    int64_t p = w->next;
    w->closed = true;
    uint64_t *pane = slot(w, p);
    for (size_t i = 0; i < w->width; i++)
        w->sum[i] += pane[i];
    if (w->filled == w->npanes) {
        /* The expired pane's slot is the one the newest open pane (p + nopen)
         * will use, so it is subtracted and zeroed here. */
        uint64_t *old = slot(w, p - (int64_t)w->npanes);
        for (size_t i = 0; i < w->width; i++)
            w->sum[i] -= old[i];
        memset(old, 0, w->width * sizeof(uint64_t));
    } else {
        w->filled++;
    }
    w->next = p + 1;
    cache_clear(w);
    return w->next * w->slide_ms;
}

int dw_window_skip_to(dw_window *w, int64_t end_ms)
{
    if (!w->started)
        return 0;
    int64_t q = floor_div(end_ms, w->slide_ms) - 1; /* pane ending at end_ms */
    if (q - w->next < (int64_t)w->nslots)
        return 0;
    /* Every pane holding data would close and expire before q: start over. */
    memset(w->ring, 0, w->nslots * w->width * sizeof(uint64_t));
    memset(w->sum, 0, w->width * sizeof(uint64_t));
    w->filled = 0;
    w->next = w->hi = q;
    cache_clear(w);
    return 1;
}

const uint64_t *dw_window_sum(const dw_window *w)
{
    return w->sum;
}

int64_t dw_window_end(const dw_window *w)
{
    return w->next * w->slide_ms;
}

int64_t dw_window_start(const dw_window *w)
{
    return dw_window_end(w) - w->length_ms;
}

int64_t dw_window_length(const dw_window *w)
{
    return w->length_ms;
}

int64_t dw_window_slide(const dw_window *w)
{
    return w->slide_ms;
}

size_t dw_window_width(const dw_window *w)
{
    return w->width;
}

size_t dw_window_filled(const dw_window *w)
{
    return w->filled;
}

const uint64_t *dw_window_closed_pane(const dw_window *w, size_t age)
{
    if (age >= w->filled)
        return NULL;
    return slot(w, w->next - 1 - (int64_t)age);
}

uint64_t dw_window_total(const dw_window *w, size_t i)
{
    /* Closed panes stay in the ring until they expire, so the ring alone
     * holds everything the window and its open panes count. */
    uint64_t t = 0;
    for (size_t s = 0; s < w->nslots; s++)
        t += w->ring[s * w->width + i];
    return t;
}

void dw_window_clear_counter(dw_window *w, size_t i)
{
    w->sum[i] = 0;
    for (size_t s = 0; s < w->nslots; s++)
        w->ring[s * w->width + i] = 0;
}

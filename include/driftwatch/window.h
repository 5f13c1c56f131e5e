/* Event-time sliding windows over flat arrays of counters.
 *
 * A window of `length` sliding by `slide` is a ring of panes, each pane a
 * flat array of `width` uint64 counters (the counter layout of one model's
 * columns, see layout.h). Panes are aligned to multiples of `slide` since the
 * Unix epoch, so every replica and every replay cuts the same panes.
 *
 * Time advances only through dw_window_close_until(): a pane closes once the
 * watermark reaches its end; closing adds it to the running sum and subtracts
 * the pane that expires, so a slide costs O(width) whatever the traffic, and
 * memory is O(width * (length/slide + lateness/slide + 2)).
 *
 * Single writer: the caller serialises all calls. */
#ifndef DRIFTWATCH_WINDOW_H
#define DRIFTWATCH_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dw_window dw_window;

/* Creates a window. length must be a positive multiple of slide;
 * lateness_ms >= 0 bounds how far behind the newest record a record may be
 * and still be counted (it sizes the ring). Returns NULL on invalid sizes. */
dw_window *dw_window_new(int64_t length_ms, int64_t slide_ms, int64_t lateness_ms, size_t width);
void dw_window_free(dw_window *w);

/* Bytes dw_window_new() would allocate for these sizes (0 for invalid
 * ones), so a configuration can be checked before anything is allocated. */
size_t dw_window_memory(int64_t length_ms, int64_t slide_ms, int64_t lateness_ms, size_t width);

/* The counters of the open pane holding event time t_ms, or NULL when that
 * pane already closed (a late record: the caller counts it) or is beyond the
 * ring (dw_window_is_ahead(): the caller must close panes first). The first
 * record starts the window's clock; until the first pane closes, an older
 * record moves the clock back if the panes holding data still fit. `lateness_ms` of dw_window_new()
 * sizes how far ahead of the next pane to close records may be. */
uint64_t *dw_window_pane_for(dw_window *w, int64_t t_ms);

/* *flag (borrowed; NULL: none) is set to true whenever an older record
 * moves the clock back (the next pane to close becomes an earlier one), so
 * a caller that caches the next pane end knows to look again. */
void dw_window_on_clock_back(dw_window *w, bool *flag);

/* True when t_ms lies beyond the panes the ring holds open. */
bool dw_window_is_ahead(const dw_window *w, int64_t t_ms);

/* The end (exclusive) of the newest pane the ring holds open: records at or
 * after it are refused by dw_window_pane_for(). INT64_MAX before the clock
 * started. */
int64_t dw_window_open_end(const dw_window *w);

/* End time (exclusive) of the next pane to close, or INT64_MIN before the
 * clock started. */
int64_t dw_window_next_end(const dw_window *w);

/* Closes the next pane (its end is dw_window_next_end()). After the call,
 * dw_window_sum() holds the counts of the `length` ending at that end.
 * Returns that end time. */
int64_t dw_window_close_next(dw_window *w);

/* Skips over a gap: if more than a full window of panes would close before
 * `end_ms`, clears everything and moves the clock so that the next pane to
 * close ends at end_ms. Returns 1 if it skipped, 0 otherwise. */
int dw_window_skip_to(dw_window *w, int64_t end_ms);

/* Running sum of the closed panes currently in the window (width counters). */
const uint64_t *dw_window_sum(const dw_window *w);

/* Start and end (exclusive) of the window after the last close. */
int64_t dw_window_start(const dw_window *w);
int64_t dw_window_end(const dw_window *w);

int64_t dw_window_length(const dw_window *w);
int64_t dw_window_slide(const dw_window *w);
size_t dw_window_width(const dw_window *w);

/* Number of closed panes in the window (grows to length/slide after start). */
size_t dw_window_filled(const dw_window *w);

/* The counters (width) of a closed pane in the window: age 0 is the newest
 * (the last one closed), age filled - 1 the oldest. NULL when age >=
 * dw_window_filled(). Valid until the next close. */
const uint64_t *dw_window_closed_pane(const dw_window *w, size_t age);

/* Sum of counter i over every pane still in the ring (the closed panes of
 * the window and the open ones): 0 means the counter holds nothing anywhere, so e.g. a
 * new-category slot can be reused. O(panes). */
uint64_t dw_window_total(const dw_window *w, size_t i);

/* Zeroes counter i in every pane and in the sum. */
void dw_window_clear_counter(dw_window *w, size_t i);

#endif

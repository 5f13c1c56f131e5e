/* Event-time alignment bookkeeping for `run`: which sources (Kafka
 * partitions) are paused because they ran ahead of the others, and at which
 * offset each must be read again.
 *
 * The sidecar pauses a partition whose message lies beyond the panes the
 * windows hold open and seeks it back to that message
 * (dw_consumer_pause_at()); once the others have caught up it resumes it.
 * Until the partition delivers that offset again, its messages are dropped:
 * they were fetched before the seek, or were applied before the pause. This
 * module only keeps that state and says what to do; the caller talks to
 * Kafka. No Kafka, no I/O, no locks: one thread (the consumer loop) owns a
 * dw_rewind.
 *
 * Robustness (docs/operations.md, "Paused partitions"):
 *   - after the resume, the first message at or past the offset is taken,
 *     so a fetch that resumes further on (records deleted or compacted,
 *     the committed offset moved by another member) is not dropped forever;
 *   - a revoked or newly assigned source starts afresh (dw_rewind_forget());
 *   - a source resumed but not read again within a timeout is reported by
 *     dw_rewind_overdue() so the caller can seek it again. */
#ifndef DRIFTWATCH_REWIND_H
#define DRIFTWATCH_REWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What became of a rewind: the metric driftwatch_consumer_rewinds_total
 * has one series per outcome (docs/operations.md). */
typedef enum dw_rewind_outcome {
    DW_REWIND_REREAD,  /* the message was read again at its offset */
    DW_REWIND_SKIPPED, /* the fetch resumed past the offset; read from there */
    DW_REWIND_REVOKED, /* the partition was revoked (or assigned anew) first */
    DW_REWIND_RESEEK,  /* not read again in time after the resume: sought again */
    DW_REWIND_OUTCOME_MAX
} dw_rewind_outcome;

/* "reread", "skipped", "revoked", "reseek" (the metric's label values). */
const char *dw_rewind_outcome_name(dw_rewind_outcome o);

typedef struct dw_rewind dw_rewind;

/* State for source ids 0..nsources-1 (ids outside are never paused). Free
 * with dw_rewind_free(). Out of memory aborts (the project's policy). */
dw_rewind *dw_rewind_new(size_t nsources);
void dw_rewind_free(dw_rewind *r); /* NULL is a no-op */

/* Source src was paused and sought back to offset, the message at event
 * time ts that did not fit yet. A source already waiting is replaced. */
void dw_rewind_paused(dw_rewind *r, int src, int64_t offset, int64_t ts);

/* A message of src at offset arrived. Returns false when it must
 * be dropped: src is paused (the message was fetched before the seek) or
 * resumed and the message is older than the offset (applied before the
 * pause). Otherwise src stops waiting and true is returned, with *outcome
 * (if not NULL) set to DW_REWIND_REREAD or DW_REWIND_SKIPPED when this
 * message ends a rewind, or -1 when src was not waiting. */
bool dw_rewind_accept(dw_rewind *r, int src, int64_t offset, int *outcome);

/* src was revoked or (re)assigned: whatever it waited for, the next fetch
 * starts at the group's committed offset. Returns true if it was waiting
 * (a DW_REWIND_REVOKED outcome). */
bool dw_rewind_forget(dw_rewind *r, int src);

/* Sources paused and not yet resumed, and the smallest event time of their
 * messages (INT64_MAX when none): resume once it fits. */
size_t dw_rewind_npaused(const dw_rewind *r);
int64_t dw_rewind_paused_min_ts(const dw_rewind *r);

/* Marks the next paused source with id >= from resumed at now_ms and
 * returns its id, or -1 when there is none. */
int dw_rewind_resume_next(dw_rewind *r, int from, int64_t now_ms);

/* Sources resumed and not yet read again (at most as many as were paused). */
size_t dw_rewind_nwaiting(const dw_rewind *r);

/* The next source with id >= from that was resumed more than timeout_ms
 * before now_ms and has not delivered its offset since: its clock restarts
 * at now_ms, *offset is where to seek it, and its id is returned; -1 when
 * there is none. */
int dw_rewind_overdue(dw_rewind *r, int from, int64_t now_ms, int64_t timeout_ms, int64_t *offset);

#endif

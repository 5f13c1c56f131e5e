/* Durable outbox: the notifications a sink has not delivered yet, one file
 * each, so that what is pending at a crash or a shutdown is delivered after
 * the restart (issue 4, "Delivery that does not lose or flood").
 *
 * Layout: <state_dir>/outbox/<sink>/<seq>-<id>.json, where <seq> is 20
 * zero-padded decimal digits (so name order is write order) and <id> is the
 * document's "id" with every byte outside [A-Za-z0-9._-] replaced by '_'
 * (at most DW_OUTBOX_MAX_ID_CHARS of it). The sink name is sanitized the
 * same way (and a leading '.' becomes '_'); when that changes it, a hash of
 * the real name is appended so two sinks never share a directory. Each file holds the document
 * exactly as it was queued (compact JSON). A file is written atomically: a temporary file in the
 * same directory, fsync, rename, fsync of the directory.
 *
 * One outbox per directory loads it: dw_outbox_lock() takes an flock(2) on
 * "<dir>/.lock", which also keeps a second notifier of this process (during
 * a configuration reload) or a second driftwatch on the same state_dir from
 * delivering the same files twice. Writing and removing files needs no lock.
 *
 * Threads: dw_outbox_put() may run on any thread, concurrently with
 * dw_outbox_remove(); dw_outbox_load() is called by one thread at a time. */
#ifndef DRIFTWATCH_OUTBOX_H
#define DRIFTWATCH_OUTBOX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Characters of a document id kept in a file name. */
#define DW_OUTBOX_MAX_ID_CHARS 120
/* A file larger than this is not a notification driftwatch wrote: it is
 * moved aside as corrupt instead of being read into memory. */
#define DW_OUTBOX_MAX_FILE_BYTES (16 * 1024 * 1024)
/* Temporary files older than this are leftovers of a crash mid-write and
 * are removed by dw_outbox_load() (younger ones may be another writer's). */
#define DW_OUTBOX_STALE_TMP_S 60

typedef struct dw_outbox dw_outbox;

/* Checks that state_dir exists, is a directory and is writable, without
 * creating anything. Returns 0, or DW_ERR_IO with "state_dir <path>:
 * <reason>" in errbuf. For reporting an unusable state_dir at start. */
int dw_outbox_check_dir(const char *state_dir, char *errbuf, size_t errlen);

/* Opens the outbox of sink_name under state_dir, creating "outbox" and the
 * sink's directory (mode 0700) but not state_dir itself: a missing
 * state_dir is a configuration error (a volume that is not mounted), not
 * something to paper over. max_files (>= 1) bounds what dw_outbox_load()
 * keeps. Returns 0, or DW_ERR_IO / DW_ERR_INVALID with one sentence naming
 * the path in errbuf. */
int dw_outbox_open(const char *state_dir, const char *sink_name, size_t max_files, dw_outbox **out,
                   char *errbuf, size_t errlen);

/* The outbox's directory (owned by the outbox). */
const char *dw_outbox_dir(const dw_outbox *ob);

/* Takes the directory's lock without waiting. Returns 0 when this outbox
 * holds it (also when it already did), DW_ERR_STATE when someone else does,
 * DW_ERR_IO on other errors. */
int dw_outbox_lock(dw_outbox *ob);

/* Writes doc (which must be an object) as a new file. On success *file is
 * the new file's name (relative to the directory, allocated: the caller
 * frees it). Returns 0, DW_ERR_INVALID for a document that cannot be
 * serialized, or DW_ERR_IO (disk full, directory gone) with one sentence in
 * errbuf; nothing is left behind on failure. Counted in errors on failure. */
int dw_outbox_put(dw_outbox *ob, const json_t *doc, char **file, char *errbuf, size_t errlen);

/* Removes file (a name from put or load). A file that is already gone is
 * not an error. Returns 0 or DW_ERR_IO (counted in errors). */
int dw_outbox_remove(dw_outbox *ob, const char *file);

/* One pending notification found by dw_outbox_load(). */
typedef struct dw_outbox_item {
    json_t *doc; /* one reference, owned by the item */
    char *file;  /* owned by the item */
} dw_outbox_item;

typedef struct dw_outbox_loaded {
    dw_outbox_item *items; /* oldest first; n of them */
    size_t n;
    size_t dropped;    /* oldest files removed to keep at most max_files */
    size_t duplicates; /* files removed because an older one has the same id */
    size_t bad;        /* unreadable or corrupt files renamed to <name>.bad */
} dw_outbox_loaded;

/* Reads every pending file, oldest first, into out (which the caller
 * releases with dw_outbox_loaded_clear()). Files whose id an older file
 * already has are removed (the receiver would get the same notification
 * twice); beyond max_files the oldest are removed; a file that cannot be
 * read or is not a JSON object is renamed to "<name>.bad" and counted in
 * errors, never fatal. Needs the lock (DW_ERR_STATE otherwise). Returns 0,
 * or DW_ERR_IO when the directory cannot be listed. */
int dw_outbox_load(dw_outbox *ob, dw_outbox_loaded *out);

/* Releases what dw_outbox_load() returned and zeroes out. */
void dw_outbox_loaded_clear(dw_outbox_loaded *out);

/* Failed writes, removals and corrupt files so far (any thread). */
uint64_t dw_outbox_errors(const dw_outbox *ob);

/* Releases the lock and frees the outbox; the files stay. NULL is a no-op. */
void dw_outbox_close(dw_outbox *ob);

#endif

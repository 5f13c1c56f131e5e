/* Durable outbox: one file per pending notification (see outbox.h).
 *
 * Plain POSIX file calls relative to a directory descriptor (openat,
 * renameat, unlinkat): no library does "atomic file per message" better
 * than the write-fsync-rename idiom, and the *at() calls keep working if
 * the state_dir path is replaced while the sidecar runs. */
#include "driftwatch/outbox.h"

#include "driftwatch/error.h"
#include "driftwatch/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SEQ_DIGITS 20
#define TMP_PREFIX ".tmp-"
#define LOCK_NAME ".lock"
#define BAD_SUFFIX ".bad"

struct dw_outbox {
    char *dir;
    int dirfd;
    int lockfd;
    bool locked;
    size_t max_files;
    _Atomic uint64_t seq;
    _Atomic uint64_t errors;
};

/* Copies s into out with every byte outside [A-Za-z0-9._-] replaced by
 * '_', at most max characters; returns true when anything was changed or
 * cut. */
static bool sanitize(const char *s, char *out, size_t max)
{
    bool changed = false;
    size_t o = 0;
    for (; *s && o < max; s++) {
        unsigned char c = (unsigned char)*s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        out[o++] = ok ? (char)c : '_';
        changed |= !ok;
    }
    out[o] = '\0';
    return changed || *s;
}

/* FNV-1a: only to tell apart sink names that sanitize to the same text. */
static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static bool is_seq_name(const char *name)
{
    size_t len = strlen(name);
    if (len < SEQ_DIGITS + 1 + 5 || name[SEQ_DIGITS] != '-' || strcmp(name + len - 5, ".json") != 0)
        return false;
    for (int i = 0; i < SEQ_DIGITS; i++)
        if (name[i] < '0' || name[i] > '9')
            return false;
    return true;
}

static int mkdir_at(int parent, const char *name, const char *path, char *errbuf, size_t errlen)
{
    if (mkdirat(parent, name, 0700) != 0 && errno != EEXIST)
        return dw_seterr(errbuf, errlen, DW_ERR_IO, "%s: cannot create the directory: %s", path,
                         strerror(errno));
    return 0;
}

int dw_outbox_check_dir(const char *state_dir, char *errbuf, size_t errlen)
{
    struct stat st;
    const char *why = NULL;
    if (stat(state_dir, &st) != 0)
        why = strerror(errno);
    else if (!S_ISDIR(st.st_mode))
        why = "not a directory";
    else if (access(state_dir, W_OK | X_OK) != 0)
        why = strerror(errno);
    if (why)
        return dw_seterr(errbuf, errlen, DW_ERR_IO, "state_dir %s: %s", state_dir, why);
    return 0;
}

int dw_outbox_open(const char *state_dir, const char *sink_name, size_t max_files, dw_outbox **out,
                   char *errbuf, size_t errlen)
{
    *out = NULL;
    if (!state_dir || !*state_dir || !sink_name || !*sink_name || max_files == 0)
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "outbox: a state_dir, a sink name and a bound are required");
    char sub[64 + 16];
    bool changed = sanitize(sink_name, sub, 64);
    /* No hidden directory, and never "." or "..". */
    if (sub[0] == '.') {
        sub[0] = '_';
        changed = true;
    }
    if (changed)
        snprintf(sub + strlen(sub), sizeof sub - strlen(sub), "-%08x", fnv1a(sink_name));

    size_t plen = strlen(state_dir) + strlen(sub) + 16;
    char *outbox_path = dw_malloc(plen);
    snprintf(outbox_path, plen, "%s/outbox", state_dir);
    char *dir = dw_malloc(plen);
    snprintf(dir, plen, "%s/outbox/%s", state_dir, sub);

    int rc = 0;
    int sfd = -1, ofd = -1, dfd = -1, lfd = -1;
    sfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sfd < 0) {
        rc = dw_seterr(errbuf, errlen, DW_ERR_IO, "state_dir %s: %s", state_dir, strerror(errno));
        goto done;
    }
    if ((rc = mkdir_at(sfd, "outbox", outbox_path, errbuf, errlen)))
        goto done;
    ofd = openat(sfd, "outbox", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ofd < 0) {
        rc = dw_seterr(errbuf, errlen, DW_ERR_IO, "%s: %s", outbox_path, strerror(errno));
        goto done;
    }
    if ((rc = mkdir_at(ofd, sub, dir, errbuf, errlen)))
        goto done;
    dfd = openat(ofd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        rc = dw_seterr(errbuf, errlen, DW_ERR_IO, "%s: %s", dir, strerror(errno));
        goto done;
    }
    /* Creating the lock file doubles as the check that the directory is
     * writable, so an unwritable state_dir is reported at start, once. */
    lfd = openat(dfd, LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0) {
        rc = dw_seterr(errbuf, errlen, DW_ERR_IO, "%s/%s: %s", dir, LOCK_NAME, strerror(errno));
        goto done;
    }
    if (faccessat(dfd, ".", W_OK, AT_EACCESS) != 0) {
        rc = dw_seterr(errbuf, errlen, DW_ERR_IO, "%s: not writable: %s", dir, strerror(errno));
        goto done;
    }
done:
    if (sfd >= 0)
        close(sfd);
    if (ofd >= 0)
        close(ofd);
    free(outbox_path);
    if (rc) {
        if (dfd >= 0)
            close(dfd);
        if (lfd >= 0)
            close(lfd);
        free(dir);
        return rc;
    }
    dw_outbox *ob = dw_calloc(1, sizeof *ob);
    ob->dir = dir;
    ob->dirfd = dfd;
    ob->lockfd = lfd;
    ob->max_files = max_files;
    /* Sequence numbers start at the wall clock in microseconds, so files
     * written by successive runs (and by a writer that has not loaded the
     * directory yet) sort after older ones without reading the directory
     * first; dw_outbox_load() also moves it past every file it saw. */
    atomic_store(&ob->seq, (uint64_t)dw_wall_ms() * 1000u);
    *out = ob;
    return 0;
}

const char *dw_outbox_dir(const dw_outbox *ob)
{
    return ob->dir;
}

int dw_outbox_lock(dw_outbox *ob)
{
    if (ob->locked)
        return 0;
    if (flock(ob->lockfd, LOCK_EX | LOCK_NB) != 0)
        return errno == EWOULDBLOCK ? DW_ERR_STATE : DW_ERR_IO;
    ob->locked = true;
    return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int dw_outbox_put(dw_outbox *ob, const json_t *doc, char **file, char *errbuf, size_t errlen)
{
    *file = NULL;
    char *body = json_is_object(doc) ? json_dumps(doc, JSON_COMPACT) : NULL;
    if (!body) {
        atomic_fetch_add(&ob->errors, 1);
        return dw_seterr(errbuf, errlen, DW_ERR_INVALID,
                         "%s: the notification is not a JSON object", ob->dir);
    }
    const char *id = json_string_value(json_object_get((json_t *)doc, "id"));
    char sid[DW_OUTBOX_MAX_ID_CHARS + 1];
    sanitize(id && *id ? id : "noid", sid, DW_OUTBOX_MAX_ID_CHARS);
    uint64_t seq = atomic_fetch_add(&ob->seq, 1);
    char name[SEQ_DIGITS + DW_OUTBOX_MAX_ID_CHARS + 16];
    snprintf(name, sizeof name, "%0*llu-%s.json", SEQ_DIGITS, (unsigned long long)seq, sid);
    char tmp[sizeof name + sizeof TMP_PREFIX];
    snprintf(tmp, sizeof tmp, TMP_PREFIX "%s", name);

    const char *step = "create";
    int fd = openat(ob->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    bool made = fd >= 0;
    bool ok = made;
    if (ok) {
        step = "write";
        ok = write_all(fd, body, strlen(body)) == 0 && write_all(fd, "\n", 1) == 0;
    }
    /* The data must be on disk before the name is: otherwise a crash could
     * leave a complete-looking name over an empty file. */
    if (ok) {
        step = "fsync";
        ok = fsync(fd) == 0;
    }
    int e = errno;
    if (made && close(fd) != 0 && ok) {
        e = errno;
        ok = false;
    }
    if (ok) {
        step = "rename";
        ok = renameat(ob->dirfd, tmp, ob->dirfd, name) == 0;
        e = errno;
    }
    free(body);
    if (!ok) {
        if (made)
            unlinkat(ob->dirfd, tmp, 0);
        atomic_fetch_add(&ob->errors, 1);
        return dw_seterr(errbuf, errlen, DW_ERR_IO, "%s/%s: %s failed: %s", ob->dir, name, step,
                         strerror(e));
    }
    /* The rename itself is durable only once the directory is synced. A
     * failure here leaves a complete file that a restart still finds, so it
     * is counted but not undone. */
    if (fsync(ob->dirfd) != 0)
        atomic_fetch_add(&ob->errors, 1);
    *file = dw_strdup(name);
    return 0;
}

int dw_outbox_remove(dw_outbox *ob, const char *file)
{
    if (unlinkat(ob->dirfd, file, 0) != 0 && errno != ENOENT) {
        atomic_fetch_add(&ob->errors, 1);
        return DW_ERR_IO;
    }
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Keeps the newest `keep` of names[0..*n) (sorted on return), removing the
 * files of the others; returns how many were removed. */
static size_t trim_oldest(dw_outbox *ob, char **names, size_t *n, size_t keep)
{
    qsort(names, *n, sizeof *names, cmp_names);
    if (*n <= keep)
        return 0;
    size_t excess = *n - keep;
    for (size_t i = 0; i < excess; i++) {
        dw_outbox_remove(ob, names[i]);
        free(names[i]);
    }
    memmove(names, names + excess, keep * sizeof *names);
    *n = keep;
    return excess;
}

/* Moves a corrupt file aside; it is kept for a person to look at. */
static void set_aside(dw_outbox *ob, const char *name)
{
    char bad[NAME_MAX + 1];
    snprintf(bad, sizeof bad, "%s" BAD_SUFFIX, name);
    atomic_fetch_add(&ob->errors, 1);
    if (renameat(ob->dirfd, name, ob->dirfd, bad) != 0)
        unlinkat(ob->dirfd, name, 0); /* never load it again either way */
}

/* Reads one file; NULL when it is unreadable, too large, or not a JSON
 * object. */
static json_t *read_doc(dw_outbox *ob, const char *name)
{
    int fd = openat(ob->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        st.st_size > DW_OUTBOX_MAX_FILE_BYTES) {
        close(fd);
        return NULL;
    }
    size_t len = (size_t)st.st_size, got = 0;
    char *buf = dw_malloc(len);
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    json_t *doc = got == len ? json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    free(buf);
    if (doc && !json_is_object(doc)) {
        json_decref(doc);
        doc = NULL;
    }
    return doc;
}

int dw_outbox_load(dw_outbox *ob, dw_outbox_loaded *out)
{
    memset(out, 0, sizeof *out);
    if (!ob->locked)
        return DW_ERR_STATE;
    int fd = dup(ob->dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        atomic_fetch_add(&ob->errors, 1);
        return DW_ERR_IO;
    }
    rewinddir(d); /* the duplicate shares the offset of earlier listings */
    /* Memory stays bounded however many files there are: whenever the list
     * reaches twice the bound, the oldest beyond the bound are removed. */
    size_t cap = ob->max_files * 2 + 1, n = 0;
    char **names = dw_calloc(cap, sizeof *names);
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        if (strncmp(nm, TMP_PREFIX, sizeof TMP_PREFIX - 1) == 0) {
            struct stat st;
            if (fstatat(ob->dirfd, nm, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                now - st.st_mtime > DW_OUTBOX_STALE_TMP_S)
                unlinkat(ob->dirfd, nm, 0);
            continue;
        }
        if (!is_seq_name(nm))
            continue; /* .lock, *.bad, and anything a person put there */
        if (n == cap)
            out->dropped += trim_oldest(ob, names, &n, ob->max_files);
        names[n++] = dw_strdup(nm);
    }
    closedir(d);
    out->dropped += trim_oldest(ob, names, &n, ob->max_files);

    out->items = dw_calloc(n ? n : 1, sizeof *out->items);
    json_t *seen = json_object(); /* ids loaded so far, as a hash set */
    uint64_t max_seq = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t seq = strtoull(names[i], NULL, 10);
        if (seq > max_seq)
            max_seq = seq;
        json_t *doc = read_doc(ob, names[i]);
        if (!doc) {
            set_aside(ob, names[i]);
            out->bad++;
            free(names[i]);
            continue;
        }
        const char *id = json_string_value(json_object_get(doc, "id"));
        if (id && json_object_get(seen, id)) {
            dw_outbox_remove(ob, names[i]);
            out->duplicates++;
            json_decref(doc);
            free(names[i]);
            continue;
        }
        if (id)
            json_object_set_new(seen, id, json_true());
        out->items[out->n].doc = doc;
        out->items[out->n].file = names[i];
        out->n++;
    }
    json_decref(seen);
    free(names);
    uint64_t cur = atomic_load(&ob->seq);
    while (max_seq >= cur && !atomic_compare_exchange_weak(&ob->seq, &cur, max_seq + 1))
        ;
    return 0;
}

void dw_outbox_loaded_clear(dw_outbox_loaded *out)
{
    for (size_t i = 0; i < out->n; i++) {
        json_decref(out->items[i].doc);
        free(out->items[i].file);
    }
    free(out->items);
    memset(out, 0, sizeof *out);
}

uint64_t dw_outbox_errors(const dw_outbox *ob)
{
    /* atomic_load takes a non-const pointer before C17 (DR 459). */
    return atomic_load(&((dw_outbox *)ob)->errors);
}

void dw_outbox_close(dw_outbox *ob)
{
    if (!ob)
        return;
    /* Closing the descriptor releases the flock. */
    close(ob->lockfd);
    close(ob->dirfd);
    free(ob->dir);
    free(ob);
}

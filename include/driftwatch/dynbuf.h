/* A growing string with a ceiling, after curl's dynbuf: the one string
 * builder of the code base. It grows on the heap as text is added, never
 * past max bytes (the NUL not counted): an add that does not fit keeps what
 * fits (cut at a byte), marks the buffer cut and returns DW_ERR_LIMIT, so a
 * caller either reports the limit or accepts a truncated result, and
 * untrusted input never grows memory without bound.
 *
 * Out of memory aborts (the project's policy, error.h). Not thread-safe;
 * one owner at a time. */
#ifndef DRIFTWATCH_DYNBUF_H
#define DRIFTWATCH_DYNBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct dw_dynbuf {
    char *buf;  /* NULL until something is added; then NUL-terminated */
    size_t len; /* bytes of text */
    size_t cap; /* bytes allocated */
    size_t max; /* ceiling on len */
    bool cut;   /* an add did not fit */
} dw_dynbuf;

/* An empty buffer holding at most max bytes. */
void dw_dynbuf_init(dw_dynbuf *b, size_t max);

/* Appends mem[0..n). Returns 0, or DW_ERR_LIMIT when it did not all fit
 * (what fits is kept). */
int dw_dynbuf_add(dw_dynbuf *b, const void *mem, size_t n);

/* Appends one byte; same returns. */
int dw_dynbuf_addc(dw_dynbuf *b, char c);

/* Appends a NUL-terminated string; same returns. */
int dw_dynbuf_addstr(dw_dynbuf *b, const char *s);

/* Appends printf output; same returns. */
int dw_dynbuf_addf(dw_dynbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends items[0..n) separated by sep, the last two by last (NULL: sep):
 * "a, b, c" or "a, b or c" for messages. Same returns as dw_dynbuf_add(). */
int dw_dynbuf_addlist(dw_dynbuf *b, const char *const *items, size_t n, const char *sep,
                      const char *last);

/* Cuts the text to at most max bytes without splitting a UTF-8 sequence,
 * ending it in mark (counted in max; "" for none) when something was cut.
 * max must exceed strlen(mark). */
void dw_dynbuf_shorten_utf8(dw_dynbuf *b, size_t max, const char *mark);

/* The text ("" when nothing was added); owned by b, valid until the next
 * add or free. */
const char *dw_dynbuf_str(const dw_dynbuf *b);

/* Hands the text over: a malloc()ed NUL-terminated string ("" when empty)
 * the caller frees; b is empty afterwards, with the same max. */
char *dw_dynbuf_take(dw_dynbuf *b);

/* Copies the text with its NUL into dst (which holds at least max + 1
 * bytes) and frees b: a builder for a caller's fixed buffer. Returns dst. */
char *dw_dynbuf_take_into(dw_dynbuf *b, char *dst);

/* Frees the text; b is empty afterwards, with the same max. */
void dw_dynbuf_free(dw_dynbuf *b);

#endif

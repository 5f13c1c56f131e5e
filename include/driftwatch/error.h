/* driftwatch error codes and the project's out-of-memory policy.
 *
 * Functions return int: 0 on success, a negative dw_err on failure.
 * Constructors that can fail because of user input also take
 * (char *errbuf, size_t errlen) and write one sentence a user can act on.
 *
 * Out-of-memory policy: driftwatch is a sidecar with bounded memory; an
 * allocation failure means the pod is misconfigured, so dw_malloc() and
 * friends print one line to stderr and abort(). Library code uses only these
 * wrappers and never checks for NULL after them. */
#ifndef DRIFTWATCH_ERROR_H
#define DRIFTWATCH_ERROR_H

#include <stdarg.h>
#include <stddef.h>

typedef enum dw_err {
    DW_OK = 0,
    DW_ERR_INVALID = -1,   /* bad argument or malformed input */
    DW_ERR_IO = -2,        /* file or socket error */
    DW_ERR_PARSE = -3,     /* input could not be parsed */
    DW_ERR_NOT_FOUND = -4, /* a named thing does not exist */
    DW_ERR_LIMIT = -5,     /* a documented bound was reached */
    DW_ERR_CHECKSUM = -6,  /* content does not match its checksum */
    DW_ERR_STATE = -7,     /* call not valid in the current state */
    DW_ERR_KAFKA = -8,     /* librdkafka reported an error */
    DW_ERR_HTTP = -9,      /* HTTP delivery failed */
    DW_ERR_EMPTY = -10,    /* no data where some was required */
} dw_err;

/* A static, human-readable description of err. Never NULL. */
const char *dw_strerror(int err);

/* Formats into errbuf (if errbuf && errlen) and returns err, so callers can
 * write `return dw_seterr(errbuf, errlen, DW_ERR_PARSE, "...", ...);`. */
int dw_seterr(char *errbuf, size_t errlen, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Appends printf output to buf at *off, never past len: the text is cut
 * and buf stays NUL-terminated when it does not fit. For sentences built
 * in pieces (user messages, summaries). */
void dw_appendf(char *buf, size_t len, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Allocation wrappers: abort with a message on failure (see policy above). */
void *dw_malloc(size_t n);
void *dw_calloc(size_t nmemb, size_t size);
void *dw_realloc(void *p, size_t n);
char *dw_strdup(const char *s);
char *dw_strndup(const char *s, size_t n);

#endif

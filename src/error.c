#include "driftwatch/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *dw_strerror(int err)
{
    switch (err) {
    case DW_OK: return "success";
    case DW_ERR_INVALID: return "invalid argument or input";
    case DW_ERR_IO: return "input/output error";
    case DW_ERR_PARSE: return "parse error";
    case DW_ERR_NOT_FOUND: return "not found";
    case DW_ERR_LIMIT: return "limit reached";
    case DW_ERR_CHECKSUM: return "checksum mismatch";
    case DW_ERR_STATE: return "invalid state";
    case DW_ERR_KAFKA: return "kafka error";
    case DW_ERR_HTTP: return "http error";
    case DW_ERR_EMPTY: return "no data";
    }
    return "unknown error";
}

int dw_seterr(char *errbuf, size_t errlen, int err, const char *fmt, ...)
{
    if (errbuf && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return err;
}

static void oom(size_t n)
{
    fprintf(stderr, "driftwatch: out of memory allocating %zu bytes\n", n);
    abort();
}

void *dw_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *dw_calloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p)
        oom(nmemb * size);
    return p;
}

void *dw_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *dw_strdup(const char *s)
{
    return dw_strndup(s, strlen(s));
}

char *dw_strndup(const char *s, size_t n)
{
    char *p = dw_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void dw_appendf(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
    if (!len || *off + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *off, len - *off, fmt, ap);
    va_end(ap);
    if (w > 0)
        *off = (size_t)w >= len - *off ? len - 1 : *off + (size_t)w;
}

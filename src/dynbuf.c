/* The bounded string builder (dynbuf.h). */
#include "driftwatch/dynbuf.h"

#include "driftwatch/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* First allocation: most strings built here are short lines. */
#define DYNBUF_MIN_CAP 64

void dw_dynbuf_init(dw_dynbuf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

/* Room for len + n bytes and the NUL, growing by doubling. */
static void reserve(dw_dynbuf *b, size_t n)
{
    if (b->buf && b->len + n + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : DYNBUF_MIN_CAP;
    while (cap < b->len + n + 1)
        cap *= 2;
    b->buf = dw_realloc(b->buf, cap);
    b->cap = cap;
}

int dw_dynbuf_add(dw_dynbuf *b, const void *mem, size_t n)
{
    int rc = 0;
    if (n > b->max - b->len) {
        n = b->max - b->len;
        b->cut = true;
        rc = DW_ERR_LIMIT;
    }
    reserve(b, n);
    if (n)
        memcpy(b->buf + b->len, mem, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return rc;
}

int dw_dynbuf_addc(dw_dynbuf *b, char c)
{
    return dw_dynbuf_add(b, &c, 1);
}

int dw_dynbuf_addstr(dw_dynbuf *b, const char *s)
{
    return dw_dynbuf_add(b, s, strlen(s));
}

int dw_dynbuf_addf(dw_dynbuf *b, const char *fmt, ...)
{
    va_list ap;
    /* Usually one pass: format straight into the free room (the exposition
     * and the status page are built from thousands of short adds). */
    size_t room = b->buf ? b->cap - b->len : 0;
    va_start(ap, fmt);
    int w = vsnprintf(room ? b->buf + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (b->buf && w >= 0 && (size_t)w < room && (size_t)w <= b->max - b->len) {
        b->len += (size_t)w;
        return 0;
    }
    if (b->buf)
        b->buf[b->len] = '\0'; /* undo a partial write */
    if (w < 0)
        return DW_ERR_INVALID;
    /* Format the whole output, then add what fits of it. */
    size_t n = (size_t)w;
    char small[256];
    char *tmp = n < sizeof small ? small : dw_malloc(n + 1);
    va_start(ap, fmt);
    vsnprintf(tmp, n + 1, fmt, ap);
    va_end(ap);
    int rc = dw_dynbuf_add(b, tmp, n);
    if (tmp != small)
        free(tmp);
    return rc;
}

int dw_dynbuf_addlist(dw_dynbuf *b, const char *const *items, size_t n, const char *sep,
                      const char *last)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i)
            rc = dw_dynbuf_addstr(b, i + 1 == n && last ? last : sep);
        if (rc == 0)
            rc = dw_dynbuf_addstr(b, items[i]);
    }
    return rc;
}

void dw_dynbuf_shorten_utf8(dw_dynbuf *b, size_t max, const char *mark)
{
    size_t ml = strlen(mark);
    if (b->len <= max || max < ml)
        return;
    size_t cut = max - ml;
    while (cut > 0 && ((unsigned char)b->buf[cut] & 0xC0) == 0x80)
        cut--;
    b->len = cut;
    b->buf[cut] = '\0';
    dw_dynbuf_add(b, mark, ml);
}

const char *dw_dynbuf_str(const dw_dynbuf *b)
{
    return b->buf ? b->buf : "";
}

char *dw_dynbuf_take(dw_dynbuf *b)
{
    char *s = b->buf ? b->buf : dw_strdup("");
    dw_dynbuf_init(b, b->max);
    return s;
}

char *dw_dynbuf_take_into(dw_dynbuf *b, char *dst)
{
    memcpy(dst, dw_dynbuf_str(b), b->len + 1);
    dw_dynbuf_free(b);
    return dst;
}

void dw_dynbuf_free(dw_dynbuf *b)
{
    free(b->buf);
    dw_dynbuf_init(b, b->max);
}

/* Streaming RFC 4180 reader. Hand-written because none of the installed
 * libraries reads CSV, and the job is small: a byte-level state machine over
 * a fixed 64 KiB read buffer, with the current record kept in one growing
 * (but bounded, see csv.h) byte buffer of NUL-terminated fields. */
#include "driftwatch/csv.h"

#include "driftwatch/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define READ_CHUNK 65536

struct dw_csv {
    FILE *f;
    int own;
    char *name;
    unsigned char buf[READ_CHUNK];
    size_t pos, len;
    int eof;
    int first_fill;

    char *rec; /* fields of the current record, each NUL-terminated */
    size_t reclen, reccap;
    size_t *offs; /* start of each field in rec */
    unsigned char *quoted;
    size_t nfields, fieldcap;

    size_t line;     /* current physical line (1-based) */
    size_t rec_line; /* line the current record started on */

    char **cols;
    size_t ncols;

    int err; /* sticky error code, 0 if none */
    char errmsg[512];
};

static int fill(dw_csv *c)
{
    if (c->eof)
        return 0;
    c->len = fread(c->buf, 1, sizeof c->buf, c->f);
    c->pos = 0;
    if (c->len == 0) {
        if (ferror(c->f))
            return -1;
        c->eof = 1;
        return 0;
    }
    if (c->first_fill) {
        c->first_fill = 0;
        if (c->len >= 3 && c->buf[0] == 0xEF && c->buf[1] == 0xBB && c->buf[2] == 0xBF)
            c->pos = 3;
        if (c->pos == c->len)
            return fill(c);
    }
    return 1;
}

/* Next byte, EOF at the end, -2 on a read error. */
static inline int getbyte(dw_csv *c)
{
    if (c->pos == c->len) {
        int r = fill(c);
        if (r <= 0)
            return r < 0 ? -2 : EOF;
    }
    return c->buf[c->pos++];
}

static inline int peekbyte(dw_csv *c)
{
    if (c->pos == c->len) {
        int r = fill(c);
        if (r <= 0)
            return r < 0 ? -2 : EOF;
    }
    return c->buf[c->pos];
}

static int fail(dw_csv *c, char *errbuf, size_t errlen, int err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(dw_csv *c, char *errbuf, size_t errlen, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
    c->err = err;
    return dw_seterr(errbuf, errlen, err, "%s", c->errmsg);
}

static int io_fail(dw_csv *c, char *errbuf, size_t errlen)
{
    return fail(c, errbuf, errlen, DW_ERR_IO, "%s:%zu: read error: %s", c->name, c->line,
                strerror(errno));
}

/* Appends one byte to the record buffer (bounded: append() stops at
 * DW_CSV_MAX_RECORD bytes, end_field() at DW_CSV_MAX_FIELDS fields). */
static void rec_push(dw_csv *c, char ch)
{
    if (c->reclen + 1 >= c->reccap) {
        c->reccap = c->reccap ? c->reccap * 2 : 4096;
        c->rec = dw_realloc(c->rec, c->reccap);
    }
    c->rec[c->reclen++] = ch;
}

static int append(dw_csv *c, int ch, size_t field_start, char *errbuf, size_t errlen)
{
    if (c->reclen - field_start >= DW_CSV_MAX_FIELD)
        return fail(c, errbuf, errlen, DW_ERR_LIMIT,
                    "%s:%zu: field %zu is longer than %u bytes (the field size limit)", c->name,
                    c->rec_line, c->nfields + 1, DW_CSV_MAX_FIELD);
    if (c->reclen >= DW_CSV_MAX_RECORD)
        return fail(c, errbuf, errlen, DW_ERR_LIMIT,
                    "%s:%zu: record is longer than %u bytes (the record size limit)", c->name,
                    c->rec_line, DW_CSV_MAX_RECORD);
    rec_push(c, (char)ch);
    return 0;
}

static int end_field(dw_csv *c, size_t field_start, int quoted, char *errbuf, size_t errlen)
{
    if (c->nfields >= DW_CSV_MAX_FIELDS)
        return fail(c, errbuf, errlen, DW_ERR_LIMIT,
                    "%s:%zu: record has more than %d fields (the field count limit)", c->name,
                    c->rec_line, DW_CSV_MAX_FIELDS);
    rec_push(c, '\0');
    if (c->nfields == c->fieldcap) {
        c->fieldcap = c->fieldcap ? c->fieldcap * 2 : 64;
        c->offs = dw_realloc(c->offs, c->fieldcap * sizeof *c->offs);
        c->quoted = dw_realloc(c->quoted, c->fieldcap);
    }
    c->offs[c->nfields] = field_start;
    c->quoted[c->nfields] = (unsigned char)quoted;
    c->nfields++;
    return 0;
}

enum { ST_START, ST_UNQUOTED, ST_QUOTED, ST_QUOTE_SEEN };

enum { AT_NONE = 0, AT_RECORD_END = 1, AT_NEXT = 2 };

/* Where an unquoted field or a closed quoted one may end: when *ch (CRLF
 * read as one '\n') is ',', '\n' or EOF, ends the field and says whether
 * another field follows (AT_NEXT) or the record ended (AT_RECORD_END);
 * AT_NONE when *ch is not a delimiter; a negative dw_err on error. */
static int at_delimiter(dw_csv *c, int *ch, size_t field_start, int quoted, char *errbuf,
                        size_t errlen)
{
    if (*ch == '\r' && peekbyte(c) == '\n')
        *ch = getbyte(c);
    if (*ch != ',' && *ch != '\n' && *ch != EOF)
        return AT_NONE;
    int rc = end_field(c, field_start, quoted, errbuf, errlen);
    if (rc < 0)
        return rc;
    if (*ch == ',')
        return AT_NEXT;
    if (*ch == '\n')
        c->line++;
    return AT_RECORD_END;
}

/* Reads one record into rec/offs. 1 = record, 0 = end of input, < 0 error. */
static int read_record(dw_csv *c, char *errbuf, size_t errlen)
{
    int ch;
    c->nfields = 0;
    c->reclen = 0;
    /* Skip blank lines (LF or CRLF with nothing before them), except in a
     * one-column file, where a blank line is a record with an empty (that
     * is, missing) cell: skipping it would hide missing values. */
    for (;;) {
        ch = getbyte(c);
        if (ch == -2)
            return io_fail(c, errbuf, errlen);
        if (ch == EOF)
            return 0;
        if (c->ncols == 1)
            break;
        if (ch == '\n') {
            c->line++;
            continue;
        }
        if (ch == '\r' && peekbyte(c) == '\n') {
            getbyte(c);
            c->line++;
            continue;
        }
        break;
    }
    c->rec_line = c->line;
    size_t field_start = 0, quote_line = 0;
    int st = ST_START, quoted = 0, rc;
    for (;; ch = getbyte(c)) {
        if (ch == -2)
            return io_fail(c, errbuf, errlen);
        switch (st) {
        case ST_START:
            if (ch == '"') {
                st = ST_QUOTED;
                quoted = 1;
                quote_line = c->line;
                continue;
            }
            break;
        case ST_UNQUOTED: break;
        case ST_QUOTED:
            if (ch == EOF)
                return fail(c, errbuf, errlen, DW_ERR_PARSE,
                            "%s:%zu: quoted field opened on line %zu is not closed before the "
                            "end of input",
                            c->name, c->line, quote_line);
            if (ch == '"') {
                st = ST_QUOTE_SEEN;
                continue;
            }
            if (ch == '\n')
                c->line++;
            if ((rc = append(c, ch, field_start, errbuf, errlen)) < 0)
                return rc;
            continue;
        case ST_QUOTE_SEEN:
            if (ch == '"') {
                if ((rc = append(c, '"', field_start, errbuf, errlen)) < 0)
                    return rc;
                st = ST_QUOTED;
                continue;
            }
            break;
        }
        /* Outside quotes (or right after the closing one): a delimiter ends
         * the field. */
        if ((rc = at_delimiter(c, &ch, field_start, quoted, errbuf, errlen)) == AT_NEXT) {
            field_start = c->reclen;
            quoted = 0;
            st = ST_START;
            continue;
        }
        if (rc != AT_NONE)
            return rc; /* AT_RECORD_END (1) or an error */
        if (st == ST_QUOTE_SEEN)
            return fail(c, errbuf, errlen, DW_ERR_PARSE,
                        "%s:%zu: unexpected character '%c' after the closing quote of field %zu "
                        "(a quote inside a quoted field must be doubled)",
                        c->name, c->line, (ch >= 0x20 && ch < 0x7f) ? ch : '?', c->nfields + 1);
        if ((rc = append(c, ch, field_start, errbuf, errlen)) < 0)
            return rc;
        st = ST_UNQUOTED;
    }
}

int dw_csv_open(const char *path, dw_csv **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (!strcmp(path, "-"))
        return dw_csv_open_stream(stdin, "-", 0, out, errbuf, errlen);
    FILE *f = fopen(path, "rb");
    if (!f)
        return dw_seterr(errbuf, errlen, DW_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    return dw_csv_open_stream(f, path, 1, out, errbuf, errlen);
}

int dw_csv_open_stream(FILE *f, const char *name, int own_stream, dw_csv **out, char *errbuf,
                       size_t errlen)
{
    *out = NULL;
    dw_csv *c = dw_calloc(1, sizeof *c);
    c->f = f;
    c->own = own_stream;
    c->name = dw_strdup(strcmp(name, "-") ? name : "<stdin>");
    c->line = 1;
    c->first_fill = 1;
    int rc = read_record(c, errbuf, errlen);
    if (rc == 0)
        rc = dw_seterr(errbuf, errlen, DW_ERR_EMPTY, "%s: empty input: no header row", c->name);
    if (rc < 0) {
        dw_csv_free(c);
        return rc;
    }
    c->ncols = c->nfields;
    c->cols = dw_calloc(c->ncols, sizeof *c->cols);
    for (size_t i = 0; i < c->ncols; i++) {
        const char *s = c->rec + c->offs[i];
        if (*s) {
            c->cols[i] = dw_strdup(s);
        } else {
            /* pandas writes its index column with an empty name; give it a
             * stable one rather than refusing the file. */
            char tmp[32];
            snprintf(tmp, sizeof tmp, "column_%zu", i + 1);
            c->cols[i] = dw_strdup(tmp);
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->cols[i], c->cols[j])) {
                rc = dw_seterr(errbuf, errlen, DW_ERR_PARSE,
                               "%s:%zu: duplicate column name \"%s\" in the header (fields %zu "
                               "and %zu)",
                               c->name, c->rec_line, c->cols[i], j + 1, i + 1);
                dw_csv_free(c);
                return rc;
            }
    }
    c->nfields = 0;
    *out = c;
    return 0;
}

int dw_csv_next(dw_csv *c, char *errbuf, size_t errlen)
{
    if (c->err)
        return dw_seterr(errbuf, errlen, c->err, "%s", c->errmsg);
    int rc = read_record(c, errbuf, errlen);
    if (rc <= 0)
        return rc;
    if (c->nfields != c->ncols) {
        size_t n = c->nfields;
        c->nfields = 0;
        return fail(c, errbuf, errlen, DW_ERR_PARSE,
                    "%s:%zu: expected %zu fields as in the header, found %zu", c->name, c->rec_line,
                    c->ncols, n);
    }
    return 1;
}

size_t dw_csv_ncols(const dw_csv *c)
{
    return c->ncols;
}

const char *dw_csv_colname(const dw_csv *c, size_t i)
{
    return i < c->ncols ? c->cols[i] : NULL;
}

const char *dw_csv_field(const dw_csv *c, size_t i, size_t *len)
{
    if (i >= c->nfields) {
        if (len)
            *len = 0;
        return "";
    }
    size_t end = i + 1 < c->nfields ? c->offs[i + 1] - 1 : c->reclen - 1;
    if (len)
        *len = end - c->offs[i];
    return c->rec + c->offs[i];
}

int dw_csv_field_quoted(const dw_csv *c, size_t i)
{
    return i < c->nfields ? c->quoted[i] : 0;
}

size_t dw_csv_line(const dw_csv *c)
{
    return c->rec_line;
}

const char *dw_csv_name(const dw_csv *c)
{
    return c->name;
}

void dw_csv_free(dw_csv *c)
{
    if (!c)
        return;
    if (c->own && c->f)
        fclose(c->f);
    for (size_t i = 0; i < c->ncols; i++)
        free(c->cols[i]);
    free(c->cols);
    free(c->rec);
    free(c->offs);
    free(c->quoted);
    free(c->name);
    free(c);
}

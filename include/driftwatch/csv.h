/* Streaming RFC 4180 CSV reader.
 *
 * The first record is the header (column names). Fields may be quoted with
 * '"'; inside quotes a doubled quote "" is one quote, and commas, CR and LF
 * are data. Records end with LF or CRLF (the CR of a CRLF outside quotes is
 * dropped; a lone CR is kept as data). A UTF-8 byte-order mark at the start
 * is skipped. Blank lines (no bytes at all between two line ends) are skipped,
 * as pandas and Python's csv module do. A '"' inside an unquoted field is kept
 * literally (Python's csv does the same); after a closing quote only a comma
 * or a line end may follow.
 *
 * Every data record must have as many fields as the header, otherwise
 * dw_csv_next() fails with "<file>:<line>: ...". Line numbers are physical
 * (1-based, counting every LF, including those inside quoted fields) and name
 * the line a record starts on.
 *
 * Bounds (untrusted input never grows memory past them): a field holds at
 * most DW_CSV_MAX_FIELD bytes, a record at most DW_CSV_MAX_RECORD bytes and
 * DW_CSV_MAX_FIELDS fields; reaching one is a DW_ERR_LIMIT error naming the
 * line. */
#ifndef DRIFTWATCH_CSV_H
#define DRIFTWATCH_CSV_H

#include <stddef.h>
#include <stdio.h>

#define DW_CSV_MAX_FIELD (1u << 20)  /* 1 MiB */
#define DW_CSV_MAX_RECORD (8u << 20) /* 8 MiB */
#define DW_CSV_MAX_FIELDS 4096

typedef struct dw_csv dw_csv;

/* Opens path ("-" is stdin) and reads the header record. An input without a
 * header (empty file) is DW_ERR_EMPTY; an unreadable file DW_ERR_IO.
 * The caller owns *out and frees it with dw_csv_free(). */
int dw_csv_open(const char *path, dw_csv **out, char *errbuf, size_t errlen);

/* The same over an open stream; `name` is used in messages (copied). If
 * own_stream is non-zero, dw_csv_free() closes f (and also on failure). */
int dw_csv_open_stream(FILE *f, const char *name, int own_stream, dw_csv **out, char *errbuf,
                       size_t errlen);

/* Reads the next data record. Returns 1 when a record was read, 0 at the end
 * of input, or a negative dw_err (DW_ERR_PARSE, DW_ERR_LIMIT, DW_ERR_IO) with
 * "<file>:<line>: <reason>" in errbuf. After an error the reader stays in
 * the error state (further calls return the same error). */
int dw_csv_next(dw_csv *c, char *errbuf, size_t errlen);

/* Header: number of columns and the name of column i (owned by the reader,
 * valid until dw_csv_free()). */
size_t dw_csv_ncols(const dw_csv *c);
const char *dw_csv_colname(const dw_csv *c, size_t i);

/* Field i of the current record: NUL-terminated, *len (if non-NULL) gets its
 * length (fields may contain NUL bytes only if the input did). Owned by the
 * reader, valid until the next dw_csv_next(). i must be < dw_csv_ncols(). */
const char *dw_csv_field(const dw_csv *c, size_t i, size_t *len);

/* Non-zero if field i of the current record was quoted (so "" is an empty
 * string that was written on purpose; callers may still treat it as missing). */
int dw_csv_field_quoted(const dw_csv *c, size_t i);

/* Physical line on which the current record started (1-based). */
size_t dw_csv_line(const dw_csv *c);

/* The name given at open ("-" reads as "<stdin>"). */
const char *dw_csv_name(const dw_csv *c);

/* Closes the stream if owned and frees everything; NULL is a no-op. */
void dw_csv_free(dw_csv *c);

#endif

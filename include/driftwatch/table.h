/* One row reader over training or serving data in CSV or JSONL.
 *
 * A row is a list of cells (column index, value); a value is missing, a
 * number, a string or a boolean. Column names are collected as they are
 * seen: for CSV they are the header; for JSONL a column appears when a row
 * first has it, and a row that lacks a column simply yields no cell for it
 * (callers count that as missing).
 *
 * JSONL (one JSON value per line; blank lines are skipped; a line holding an
 * array of objects yields one row per element). Each object is flattened:
 *   - "features" and "prediction", when they are objects, contribute their
 *     scalar members as columns "features.<name>" and "prediction.<name>";
 *   - the top-level members "ts", "model", "model_version" and "request_id"
 *     are metadata, not columns (see dw_table_meta());
 *   - every other top-level scalar member is a column under its own name;
 *   - arrays and nested objects anywhere else are ignored.
 * JSON numbers are numbers (cells carry no text: dw_cell_text() formats them
 * in the shortest form that reads back to the same double, e.g. 3 -> "3",
 * 0.1 -> "0.1"), JSON strings are strings even if they look like numbers,
 * true/false are booleans.
 *
 * CSV (see csv.h): a cell is missing if its text is in the missing list, a
 * number if it is a finite decimal number (digits, sign, '.', exponent; no
 * spaces, no hex, no inf), else a string. The text as written is kept.
 *
 * Missing values, in both formats: an empty cell, JSON null, and the strings
 * "NA", "NaN", "nan" and "null" (exact, case-sensitive).
 *
 * Bounds: at most DW_TABLE_MAX_COLUMNS distinct columns, column names of at
 * most DW_MAX_NAME bytes, JSONL lines of at most DW_TABLE_MAX_LINE bytes;
 * each is a DW_ERR_LIMIT error naming file and line. */
#ifndef DRIFTWATCH_TABLE_H
#define DRIFTWATCH_TABLE_H

#include <stddef.h>
#include <stdio.h>

#define DW_TABLE_MAX_COLUMNS 4096
#define DW_TABLE_MAX_LINE (16u << 20) /* 16 MiB */
/* Buffer size for dw_cell_text() of a number (17 significant digits,
 * sign, point, exponent). */
#define DW_NUM_TEXT_MAX 32

typedef enum dw_table_format {
    DW_TABLE_AUTO = 0, /* from the file extension */
    DW_TABLE_CSV = 1,
    DW_TABLE_JSONL = 2,
} dw_table_format;

typedef enum dw_cell_kind {
    DW_CELL_MISSING = 0,
    DW_CELL_NUMBER = 1,
    DW_CELL_STRING = 2,
    DW_CELL_BOOL = 3,
} dw_cell_kind;

typedef struct dw_cell {
    size_t col; /* index for dw_table_column() */
    dw_cell_kind kind;
    double num;      /* DW_CELL_NUMBER: the (finite) value */
    int boolean;     /* DW_CELL_BOOL: 0 or 1 */
    const char *str; /* text of the cell (CSV: as written; JSON string: its value;
                        bool: "true"/"false"); NULL for JSON numbers and null */
    size_t len;      /* length of str */
} dw_cell;

typedef struct dw_table dw_table;

/* "csv" or "jsonl" (also "json", "ndjson") -> format; else DW_ERR_INVALID. */
int dw_table_format_parse(const char *s, dw_table_format *out);

/* Format from the file name: .csv -> CSV; .jsonl, .json, .ndjson -> JSONL
 * (case-insensitive); anything else (and "-") -> DW_TABLE_AUTO. */
dw_table_format dw_table_format_from_name(const char *path);

/* Opens path ("-" is stdin). fmt DW_TABLE_AUTO picks the format from the
 * extension and fails with DW_ERR_INVALID when it cannot. A CSV input without
 * a header is DW_ERR_EMPTY. The caller owns *out (dw_table_free()). */
int dw_table_open(const char *path, dw_table_format fmt, dw_table **out, char *errbuf,
                  size_t errlen);

/* The same over an open stream; name is used in messages and for
 * DW_TABLE_AUTO. If own_stream, the table closes f when freed (and on
 * failure). */
int dw_table_open_stream(FILE *f, const char *name, dw_table_format fmt, int own_stream,
                         dw_table **out, char *errbuf, size_t errlen);

/* Reads the next row. Returns 1 with *cells and *ncells set (owned by the table,
 * valid until the next call), 0 at the end of input, or a negative dw_err
 * with "<file>:<line>: <reason>" in errbuf. Each column appears at most once
 * per row. */
int dw_table_next(dw_table *t, const dw_cell **cells, size_t *ncells, char *errbuf, size_t errlen);

/* Columns seen so far (all of them for CSV), in order of first appearance.
 * Names are owned by the table. */
size_t dw_table_ncolumns(const dw_table *t);
const char *dw_table_column(const dw_table *t, size_t i);
/* Index of a column seen so far, or -1. */
long dw_table_find_column(const dw_table *t, const char *name);

/* Physical line of the current row (1-based; for CSV the line it starts on). */
size_t dw_table_line(const dw_table *t);
/* File name as used in messages ("<stdin>" for "-"). */
const char *dw_table_name(const dw_table *t);
dw_table_format dw_table_get_format(const dw_table *t);

/* JSONL: the string value of a top-level metadata member ("model",
 * "model_version", "request_id", "ts" when it is a string) of the current
 * row, or NULL (absent, not a string, or CSV). Valid until the next row. */
const char *dw_table_meta(const dw_table *t, const char *key);

/* Text of a cell for use as a category: the cell's own text, or for a JSON
 * number its shortest round-trip form written into buf (DW_NUM_TEXT_MAX
 * bytes). Returns NULL for a missing cell. *len gets the length. */
const char *dw_cell_text(const dw_cell *c, char *buf, size_t *len);

/* Non-zero if text (len bytes) is one of the missing-value spellings. */
int dw_text_is_missing(const char *s, size_t len);

/* Parses a finite decimal number that spans all len bytes; 0 or
 * DW_ERR_PARSE. */
int dw_parse_number(const char *s, size_t len, double *out);

/* Shortest "%.<p>g" form of x (p <= 17) that reads back as x; buf holds
 * DW_NUM_TEXT_MAX bytes. Returns the length. */
size_t dw_format_number(double x, char *buf);

void dw_table_free(dw_table *t);

#endif

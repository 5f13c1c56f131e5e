/* A non-allocating, validating JSON record scanner for the per-message hot path.
 *
 * One Kafka message is a JSON object (one record) or a JSON array whose
 * elements are records. dw_scan_next() yields the records one by one and, for
 * each, fills a caller-provided fixed-capacity array with the record's leaf
 * fields. Nothing is allocated and nothing is copied: every path component and
 * every string value is a slice into the caller's message buffer, which must
 * stay alive and unchanged while the scanner, records and fields are used.
 * The buffer is (ptr, len) and need not be NUL-terminated; the scanner never
 * reads buf[len] or beyond.
 *
 * What is reported for a record:
 *   - every scalar (null, bool, number, string) at path depth 1..DW_SCAN_MAX_DEPTH,
 *     e.g. "ts", "features.amount", "a.b.c";
 *   - an object at depth DW_SCAN_MAX_DEPTH and any array as one field of kind
 *     DW_SCAN_OBJECT / DW_SCAN_ARRAY whose raw slice is the whole value; its
 *     contents are fully validated but not reported;
 *   - fields appear in document order; a duplicate key yields a second field
 *     (jansson, the DOM parser, keeps the last one);
 *   - fields beyond the caller's capacity are counted in ndropped and dropped.
 *     That is not an error here; the caller decides (the engine rejects such
 *     a record as too_many_fields rather than read it in part).
 *
 * Validation is complete (RFC 8259 plus strict UTF-8, as jansson does it): any
 * syntax error makes the rest of the message invalid (DW_ERR_PARSE) with a
 * byte position and a static reason. Bounds: nesting deeper than
 * DW_SCAN_MAX_NESTING brackets is an error. The differences to jansson
 * (json_loadb with JSON_ALLOW_NUL), all intentional:
 *   - integers outside int64 are accepted as doubles (jansson: "too big integer");
 *   - nesting is limited to 64 (jansson: 2048);
 *   - object keys containing \u0000 are accepted (jansson rejects them);
 *   - a NUL byte right after a number or literal is an error (jansson 2.14
 *     silently drops it: a lookahead bug);
 *   - in a top-level array, records before a syntax error have already been
 *     yielded (each of them was a complete, valid object).
 * Numbers that overflow a double (1e400) are an error, as in jansson, so that
 * no infinity reaches a histogram.
 *
 * Thread-safety: a dw_scanner is used by one thread; the functions keep no
 * global state. */
#ifndef DRIFTWATCH_SCANNER_H
#define DRIFTWATCH_SCANNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Path components stored per field ("features.amount" is 2). */
#define DW_SCAN_MAX_DEPTH 3
/* Open brackets allowed around any value, top-level array included. */
#define DW_SCAN_MAX_NESTING 64
/* The dw_scan_error() reason when DW_SCAN_MAX_NESTING is exceeded, so a
 * caller can count that limit apart from syntax errors. */
#define DW_SCAN_ERR_NESTING "nesting too deep"
/* A reasonable field capacity for callers (the benchmark record has 26
 * leaves); the engine uses records.max_fields instead. */
#define DW_SCAN_DEFAULT_FIELDS 256

typedef enum dw_scan_kind {
    DW_SCAN_NULL = 0,
    DW_SCAN_BOOL = 1,
    DW_SCAN_NUMBER = 2,
    DW_SCAN_STRING = 3,
    DW_SCAN_OBJECT = 4, /* an object at depth DW_SCAN_MAX_DEPTH: validated, skipped */
    DW_SCAN_ARRAY = 5,  /* any array inside a record: validated, skipped */
} dw_scan_kind;

/* Bytes inside the message buffer (not NUL-terminated, not owned). */
typedef struct dw_scan_slice {
    const char *ptr;
    size_t len;
} dw_scan_slice;

typedef struct dw_scan_field {
    /* key[0..depth-1]: raw key bytes between the quotes, escapes not decoded. */
    dw_scan_slice key[DW_SCAN_MAX_DEPTH];
    uint8_t depth;       /* 1..DW_SCAN_MAX_DEPTH */
    uint8_t kind;        /* dw_scan_kind */
    uint8_t key_escaped; /* bit i set: key[i] contains a backslash escape */
    bool str_escaped;    /* DW_SCAN_STRING: raw contains a backslash escape */
    bool boolean;        /* DW_SCAN_BOOL: the value */
    double num;          /* DW_SCAN_NUMBER: the value (within 1 ulp of strtod) */
    /* The value's text: string contents without the quotes (escapes not
     * decoded, see dw_scan_unescape()), the number or literal as written, or
     * the whole skipped object/array. */
    dw_scan_slice raw;
} dw_scan_field;

/* One record. The caller sets fields/cap (fields may be NULL when cap is 0:
 * validation only); dw_scan_next() sets the rest. */
typedef struct dw_scan_record {
    dw_scan_field *fields; /* caller-owned array of cap entries */
    size_t cap;
    size_t nfields;    /* fields stored (<= cap) */
    size_t ndropped;   /* leaves beyond cap: counted, not stored */
    size_t index;      /* element index in a top-level array, 0 for an object */
    dw_scan_slice raw; /* the record's object text (for a dead-letter copy) */
} dw_scan_record;

/* Scanner state over one message. The struct is public only so that it can
 * live on the stack; treat its members as private and use the functions. */
typedef struct dw_scanner {
    const char *buf;
    size_t len;
    size_t pos;
    int state;
    size_t next_index;
    size_t err_pos;
    const char *err_reason;
} dw_scanner;

/* Starts scanning buf[0..len). Keeps pointers into buf, copies nothing. */
void dw_scan_init(dw_scanner *s, const char *buf, size_t len);

/* Yields the next record into rec (fields/cap set by the caller).
 * Returns 1 with a record, 0 at the end of a valid message,
 * DW_ERR_INVALID when a top-level array element is valid JSON but not an
 * object (that element only: call again for the next one), or DW_ERR_PARSE on
 * a syntax error (the rest of the message is invalid and every later call
 * returns DW_ERR_PARSE again). On an error, dw_scan_error() says where and why. */
int dw_scan_next(dw_scanner *s, dw_scan_record *rec);

/* The last error: byte offset into the message and a static reason such as
 * "unexpected end of input". Returns the reason, or NULL if there was none. */
const char *dw_scan_error(const dw_scanner *s, size_t *pos);

/* Writes "<source>: line L, column C (byte B): <reason>" into errbuf (source
 * names the message, e.g. "topic/3@1234"; may be NULL). Returns the last error
 * code (DW_ERR_PARSE/DW_ERR_INVALID) or 0 if there was no error. */
int dw_scan_format_error(const dw_scanner *s, const char *source, char *errbuf, size_t errlen);

/* Decodes a raw string slice (as reported by the scanner: no quotes) into out,
 * turning escapes into bytes and \uXXXX (surrogate pairs included) into UTF-8.
 * out is NUL-terminated; *outlen (may be NULL) gets the decoded length, which
 * can include NUL bytes from \u0000. Returns 0, DW_ERR_LIMIT if the decoded
 * text plus the NUL does not fit in cap (out then holds a truncated prefix), or
 * DW_ERR_PARSE for a malformed escape (not possible for scanner slices). */
int dw_scan_unescape(const char *raw, size_t len, char *out, size_t cap, size_t *outlen);

/* Parses s[0..len), which must be exactly one JSON number, with the
 * scanner's number reader (exact fast path, strtod-equivalent otherwise).
 * Returns 0, or DW_ERR_PARSE for anything else (including overflow). */
int dw_scan_number(const char *s, size_t len, double *out);

/* True when the raw key (escaped: it contains escapes) decodes to exactly
 * name[0..name_len). No allocation. */
bool dw_scan_key_eq(dw_scan_slice key, bool escaped, const char *name, size_t name_len);

/* True when the field's path equals a dotted name such as "features.amount"
 * (NUL-terminated). Keys that themselves contain '.' cannot be named this way;
 * use dw_scan_key_eq() per component for those. */
bool dw_scan_path_eq(const dw_scan_field *f, const char *dotted);

/* The same for the field's first `depth` names: true when they equal the
 * dotted name (the path of an object the field is inside of). */
bool dw_scan_prefix_eq(const dw_scan_field *f, int depth, const char *dotted);

#endif

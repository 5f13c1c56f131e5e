/* The reference file's JSON document (internal to src/reference*.c): a
 * read-only tree in one arena, read by a parser of our own, and the
 * canonical serialisation the checksum is computed over.
 *
 * Why not jansson's tree: loading the benchmark reference (549 KB, 35,000
 * numbers) through json_loadb() + json_dumps() + json_delete() cost 200 M
 * instructions, 25 times the bytes' worth; this costs a fraction (see
 * bench/results.md, issue 15).
 *
 * Same documents, same values. The parser accepts a subset of what
 * json_loadb(flags 0) accepts and builds the tree jansson would (a duplicate
 * key keeps its last value); whatever it does not take on (a syntax error,
 * a NUL byte, an integer outside int64, nesting deeper than
 * DW_JDOC_MAX_NESTING) is handed to jansson, whose error is reported or
 * whose tree is copied. Numbers are converted as strtod() does (exactly;
 * strtod itself where the fast conversion cannot prove its rounding).
 *
 * The canonical form is the bytes of json_dumps(doc, JSON_COMPACT |
 * JSON_SORT_KEYS | JSON_REAL_PRECISION(17)) with jansson 2.14: no
 * whitespace, keys in byte order, strings with only '"', '\\' and control
 * characters escaped (\b \f \n \r \t, else \u00XX in capitals), integers
 * in decimal, reals as printf "%.17g" with ".0" appended when neither '.'
 * nor 'e' appears and the exponent without '+' and leading zeros.
 * tests/unit/test_reference.c holds jansson to it as an oracle. */
#ifndef DRIFTWATCH_REFERENCE_DOC_INT_H
#define DRIFTWATCH_REFERENCE_DOC_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deeper documents go to jansson (which allows 2048). */
#define DW_JDOC_MAX_NESTING 64
/* dw_jdoc_format_real() writes at most this many bytes plus a NUL. */
#define DW_JDOC_REAL_MAX 32

typedef enum dw_jtype {
    DW_J_NULL,
    DW_J_FALSE,
    DW_J_TRUE,
    DW_J_INT,
    DW_J_REAL,
    DW_J_STRING,
    DW_J_ARRAY,
    DW_J_OBJECT,
} dw_jtype;

typedef struct dw_jnode dw_jnode;
struct dw_jnode {
    uint8_t type;    /* dw_jtype */
    uint32_t keylen; /* a member of an object: its key (not NUL-terminated) */
    const char *key;
    size_t n; /* DW_J_STRING: bytes (no NUL inside); array/object: children */
    union {
        int64_t i;         /* DW_J_INT */
        double d;          /* DW_J_REAL: finite */
        const char *s;     /* DW_J_STRING: NUL-terminated */
        const dw_jnode *k; /* DW_J_ARRAY, DW_J_OBJECT: n children in order */
    } u;
};

typedef struct dw_jdoc dw_jdoc;

/* Parses buf[0..len) (need not be NUL-terminated) into *out, which the
 * caller frees with dw_jdoc_free(); the tree does not point into buf.
 * Returns 0, or DW_ERR_PARSE with jansson's error in *jerr (line, column,
 * text) and *out NULL. */
int dw_jdoc_parse(const char *buf, size_t len, dw_jdoc **out, json_error_t *jerr);
void dw_jdoc_free(dw_jdoc *doc);
const dw_jnode *dw_jdoc_root(const dw_jdoc *doc);

/* obj[key] (the last member of that name), or NULL when absent or when obj
 * is NULL or not an object: json_object_get()'s contract. */
const dw_jnode *dw_jnode_get(const dw_jnode *obj, const char *key);

static inline bool dw_jnode_is(const dw_jnode *v, dw_jtype t)
{
    return v && v->type == t;
}
static inline bool dw_jnode_is_number(const dw_jnode *v)
{
    return v && (v->type == DW_J_INT || v->type == DW_J_REAL);
}
/* json_number_value(): the integer as a double, 0 for a non-number. */
static inline double dw_jnode_number(const dw_jnode *v)
{
    return !v ? 0 : v->type == DW_J_INT ? (double)v->u.i : v->type == DW_J_REAL ? v->u.d : 0;
}
/* json_string_value(): NULL for a non-string. */
static inline const char *dw_jnode_string(const dw_jnode *v)
{
    return dw_jnode_is(v, DW_J_STRING) ? v->u.s : NULL;
}

/* SHA-256 of the canonical form of root, leaving out the top-level member
 * named skip_key (NULL: none), as "sha256:<64 lowercase hex>". Hashes as it
 * writes (no copy of the document). Returns 0 or DW_ERR_INVALID (OpenSSL
 * failed). */
int dw_jdoc_checksum(const dw_jnode *root, const char *skip_key, char out[72]);

/* The canonical form itself, for tests: a malloc'd NUL-terminated string. */
char *dw_jdoc_canonical(const dw_jnode *root, const char *skip_key, size_t *len);

/* A finite double as jansson's JSON_REAL_PRECISION(17) writes it, into
 * buf[0..DW_JDOC_REAL_MAX]; returns the length. */
size_t dw_jdoc_format_real(double v, char *buf);

/* Reads s[0..len), which must be a JSON number with a fraction or an
 * exponent, as strtod() does. Returns 0, or DW_ERR_PARSE for bad text or
 * an overflow (jansson's "real number overflow"). */
int dw_jdoc_parse_real(const char *s, size_t len, double *out);

#endif

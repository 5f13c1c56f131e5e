/* Differential check of the record scanner against jansson, shared by
 * tests/unit/test_scanner.c (generated messages and the seed corpus) and the
 * libFuzzer target tests/fuzz/fuzz_scanner.c. Header-only so that both can
 * include it without a library of test helpers.
 *
 * jansson is loaded with JSON_ALLOW_NUL (\u0000 in string values is valid
 * JSON) and JSON_DECODE_INT_AS_REAL (every number through strtod, so the
 * oracle has no int64 limit and gives the correctly rounded double). What
 * remains different, by design (see include/driftwatch/scanner.h), is
 * reported as "skipped" rather than as a mismatch:
 *   - the scanner limits nesting to DW_SCAN_MAX_NESTING, jansson to 2048;
 *   - jansson rejects object keys containing \u0000, the scanner accepts them.
 *   - jansson 2.14 drops a NUL byte that directly follows a number or a
 *     literal (its one-character lookahead loses it on unget), so it accepts
 *     {"a":1<NUL>}; the scanner rejects the NUL as RFC 8259 requires.
 * Messages with duplicate keys are compared for acceptance only: jansson keeps
 * the last duplicate, the scanner reports all of them.
 *
 * Returns 0 when scanner and jansson agree, 1 when the input was skipped for a
 * documented difference, -1 on a mismatch (why says what). Only jansson
 * allocates here; the scanner gets an exact-size copy of the input so that
 * AddressSanitizer catches any read past the end. */
#ifndef DW_TEST_SCAN_ORACLE_H
#define DW_TEST_SCAN_ORACLE_H

#include "driftwatch/error.h"
#include "driftwatch/scanner.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORACLE_FIELDS 256

/* Distance in units in the last place; +0 and -0 are the same number. */
static inline uint64_t oracle_ulps(double a, double b)
{
    if (a == b)
        return 0;
    if (isnan(a) || isnan(b) || signbit(a) != signbit(b))
        return UINT64_MAX;
    int64_t ia, ib;
    memcpy(&ia, &a, sizeof a);
    memcpy(&ib, &b, sizeof b);
    return ia > ib ? (uint64_t)(ia - ib) : (uint64_t)(ib - ia);
}

/* Leaves the scanner must report for a jansson object whose members have
 * 0-based path component index depth. */
static inline size_t oracle_count_leaves(json_t *obj, int depth)
{
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach (obj, k, v) {
        if (json_is_object(v) && depth + 1 < DW_SCAN_MAX_DEPTH)
            n += oracle_count_leaves(v, depth + 1);
        else
            n++;
    }
    return n;
}

static inline int oracle_fail(char *why, size_t whylen, const char *msg, size_t a, size_t b)
{
    /* Truncating the reason is fine; using the result tells gcc so. */
    if (snprintf(why, whylen, "%s (%zu, %zu)", msg, a, b) < 0)
        why[0] = '\0';
    return -1;
}

/* One scanned field against the jansson record object. */
static inline int oracle_check_field(const dw_scan_field *f, json_t *robj, char *why, size_t whylen)
{
    static char key[4096];
    json_t *v = robj;
    for (int i = 0; i < f->depth; i++) {
        size_t klen;
        if (f->key[i].len >= sizeof key)
            return oracle_fail(why, whylen, "key too long for the oracle", f->key[i].len, 0);
        if (dw_scan_unescape(f->key[i].ptr, f->key[i].len, key, sizeof key, &klen) != 0)
            return oracle_fail(why, whylen, "key does not unescape", (size_t)i, 0);
        if (((f->key_escaped >> i) & 1) != (memchr(f->key[i].ptr, '\\', f->key[i].len) != NULL))
            return oracle_fail(why, whylen, "key escape flag wrong", (size_t)i, 0);
        if (!dw_scan_key_eq(f->key[i], (f->key_escaped >> i) & 1, key, klen))
            return oracle_fail(why, whylen, "dw_scan_key_eq disagrees with unescape", (size_t)i,
                               klen);
        if (!json_is_object(v))
            return oracle_fail(why, whylen, "path goes through a non-object", (size_t)i, 0);
        v = json_object_getn(v, key, klen);
        if (!v)
            return oracle_fail(why, whylen, "path not in jansson's object", (size_t)i, klen);
    }
    switch (f->kind) {
    case DW_SCAN_NULL:
        if (!json_is_null(v))
            return oracle_fail(why, whylen, "null mismatch", 0, 0);
        break;
    case DW_SCAN_BOOL:
        if (!json_is_boolean(v) || json_is_true(v) != f->boolean)
            return oracle_fail(why, whylen, "bool mismatch", f->boolean, 0);
        break;
    case DW_SCAN_NUMBER:
        /* 1 ulp: the scanner's slow path keeps 40 significant digits and a
         * sticky digit, which can round differently from strtod only when
         * the text sits within 1e-40 (relative) of a rounding boundary. */
        if (!json_is_real(v) || oracle_ulps(f->num, json_real_value(v)) > 1) {
            char m[128];
            snprintf(m, sizeof m, "number mismatch %.17g vs %.17g", f->num,
                     json_is_real(v) ? json_real_value(v) : NAN);
            return oracle_fail(why, whylen, m, f->raw.len, 0);
        }
        break;
    case DW_SCAN_STRING: {
        if (!json_is_string(v))
            return oracle_fail(why, whylen, "string kind mismatch", 0, 0);
        if (f->str_escaped != (memchr(f->raw.ptr, '\\', f->raw.len) != NULL))
            return oracle_fail(why, whylen, "string escape flag wrong", 0, 0);
        static char sbuf[1 << 16];
        size_t n;
        if (f->raw.len >= sizeof sbuf)
            return 0; /* longer than the oracle's buffer: kind checked only */
        if (dw_scan_unescape(f->raw.ptr, f->raw.len, sbuf, sizeof sbuf, &n) != 0)
            return oracle_fail(why, whylen, "string does not unescape", f->raw.len, 0);
        if (n != json_string_length(v) || memcmp(sbuf, json_string_value(v), n) != 0)
            return oracle_fail(why, whylen, "string mismatch", n, json_string_length(v));
        break;
    }
    case DW_SCAN_OBJECT:
        if (!json_is_object(v) || f->depth != DW_SCAN_MAX_DEPTH)
            return oracle_fail(why, whylen, "skipped object mismatch", f->depth, 0);
        break;
    case DW_SCAN_ARRAY:
        if (!json_is_array(v))
            return oracle_fail(why, whylen, "skipped array mismatch", 0, 0);
        break;
    default: return oracle_fail(why, whylen, "bad kind", f->kind, 0);
    }
    /* The raw slice of a skipped container is itself valid JSON of that kind. */
    if (f->kind == DW_SCAN_OBJECT || f->kind == DW_SCAN_ARRAY) {
        json_error_t e;
        json_t *sub = json_loadb(f->raw.ptr, f->raw.len,
                                 JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL | JSON_DECODE_ANY, &e);
        int ok = sub && json_equal(sub, v);
        json_decref(sub);
        if (!ok)
            return oracle_fail(why, whylen, "raw slice of skipped value differs", f->raw.len, 0);
    }
    return 0;
}

static inline int dw_scan_oracle_check(const uint8_t *data, size_t size, char *why, size_t whylen)
{
    static dw_scan_field fields[ORACLE_FIELDS];
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    why[0] = '\0';

    json_error_t jerr;
    const size_t jflags = JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL;
    json_t *root = json_loadb(buf, size, jflags, &jerr);

    /* First pass: acceptance, record count, per-record checks. */
    dw_scanner s;
    dw_scan_init(&s, buf, size);
    dw_scan_record rec = {.fields = fields, .cap = ORACLE_FIELDS};
    int rc, result = 0;
    size_t nrec = 0, nbad = 0;
    json_t *dup_root = NULL;
    int dups = -1; /* unknown until needed */
    while ((rc = dw_scan_next(&s, &rec)) != 0) {
        if (rc == DW_ERR_PARSE)
            break;
        if (!root) /* jansson rejected: only acceptance matters, keep scanning */
            continue;
        json_t *jrec = json_is_array(root) ? json_array_get(root, rec.index) : root;
        if (!jrec) {
            result = oracle_fail(why, whylen, "record index not in jansson's array", rec.index, 0);
            goto out;
        }
        if (rc == DW_ERR_INVALID) {
            nbad++;
            if (json_is_object(jrec)) {
                result = oracle_fail(why, whylen, "object element reported as not an object",
                                     rec.index, 0);
                goto out;
            }
            continue;
        }
        nrec++;
        if (!json_is_object(jrec)) {
            result = oracle_fail(why, whylen, "non-object yielded as a record", rec.index, 0);
            goto out;
        }
        if (rec.raw.ptr < buf || rec.raw.ptr + rec.raw.len > buf + size || rec.raw.len < 2 ||
            rec.raw.ptr[0] != '{' || rec.raw.ptr[rec.raw.len - 1] != '}') {
            result = oracle_fail(why, whylen, "record raw slice wrong", rec.index, rec.raw.len);
            goto out;
        }
        if (dups < 0) {
            json_error_t e2;
            dup_root = json_loadb(buf, size, jflags | JSON_REJECT_DUPLICATES, &e2);
            dups = dup_root == NULL;
        }
        if (dups)
            continue;
        size_t want = oracle_count_leaves(jrec, 0);
        if (rec.nfields + rec.ndropped != want) {
            result =
                oracle_fail(why, whylen, "leaf count differs", rec.nfields + rec.ndropped, want);
            goto out;
        }
        for (size_t i = 0; i < rec.nfields; i++) {
            const dw_scan_field *f = &rec.fields[i];
            if (f->raw.ptr < buf || f->raw.ptr + f->raw.len > buf + size) {
                result = oracle_fail(why, whylen, "value slice outside the message", i, 0);
                goto out;
            }
            if ((result = oracle_check_field(f, jrec, why, whylen)) != 0)
                goto out;
        }
    }
    int accepted = rc == 0;
    if (!accepted) {
        size_t pos;
        const char *reason = dw_scan_error(&s, &pos);
        if (!reason || pos > size) {
            result = oracle_fail(why, whylen, "error without reason or position", pos, size);
            goto out;
        }
        if (strcmp(reason, "nesting too deep") == 0 && root) {
            result = 1;
            goto out;
        }
        if (root && pos > 0 && pos < size && buf[pos] == '\0' &&
            ((buf[pos - 1] >= '0' && buf[pos - 1] <= '9') ||
             (buf[pos - 1] >= 'a' && buf[pos - 1] <= 'z'))) {
            result = 1;
            goto out;
        }
        /* Once failed, the scanner stays failed. */
        if (dw_scan_next(&s, &rec) != DW_ERR_PARSE) {
            result = oracle_fail(why, whylen, "scanner recovered after a parse error", 0, 0);
            goto out;
        }
    }
    if (!root && strstr(jerr.text, "NUL byte in object key")) {
        result = 1;
        goto out;
    }
    if (accepted != (root != NULL)) {
        size_t pos = 0;
        const char *reason = dw_scan_error(&s, &pos);
        char m[256];
        snprintf(m, sizeof m, "acceptance differs: scanner %s (%s), jansson %s (%s)",
                 accepted ? "accepts" : "rejects", accepted ? "-" : reason,
                 root ? "accepts" : "rejects", root ? "-" : jerr.text);
        result = oracle_fail(why, whylen, m, pos, (size_t)jerr.position);
        goto out;
    }
    if (accepted) {
        size_t want = json_is_array(root) ? json_array_size(root) : 1;
        if (nrec + nbad != want) {
            result = oracle_fail(why, whylen, "record count differs", nrec + nbad, want);
            goto out;
        }
    }
out:
    json_decref(root);
    json_decref(dup_root);
    free(buf);
    return result;
}

#endif

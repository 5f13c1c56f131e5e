/* State deltas (delta.h): the writer and the strict reader. A delta read
 * back from the state topic may be truncated, foreign or corrupt: every
 * such message must be refused whole with DW_ERR_PARSE, and a corrupt
 * count must never make the reader allocate what the message cannot
 * hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "driftwatch/delta.h"
#include "driftwatch/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool str_is(dw_delta_str s, const char *want)
{
    return s.len == strlen(want) && (s.len == 0 || memcmp(s.ptr, want, s.len) == 0);
}

#define assert_str(s, want)                                                                        \
    do {                                                                                           \
        if (!str_is((s), (want)))                                                                  \
            fail_msg("%s is \"%.*s\", want \"%s\"", #s, (int)(s).len, (s).ptr ? (s).ptr : "",      \
                     (want));                                                                      \
    } while (0)

/* g holds n pairs, slots[i] and counts[i]. */
static void assert_pairs(const dw_delta_grp *g, const uint32_t *slots, const uint32_t *counts,
                         size_t n)
{
    assert_int_equal(g->npairs, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(g->slots[i], slots[i]);
        assert_int_equal(g->counts[i], counts[i]);
    }
}

/* A message with three sections: two groups with and without versions,
 * extreme offsets and times, zero pairs, names. */
static const uint32_t slots_a[] = {0, 1, 7, 300, 70000, UINT32_MAX};
static const uint32_t counts_a[] = {1, 0, UINT32_MAX, 5, 2, 9};

static void write_sample(dw_delta_writer *w, char *long_name)
{
    dw_delta_begin(w, UINT64_MAX - 1, UINT64_MAX, 3);

    dw_delta_section(w, "inputs", 0, 0, 1, 1795500000000LL, 2);
    dw_delta_group(w, "m", "v1", "abc123", 1795500000000LL, 42);
    dw_delta_pairs(w, slots_a, counts_a, 6);
    dw_delta_names_begin(w, 2);
    dw_delta_name(w, 3, "zz", 7);
    dw_delta_name(w, 0, "", 0);
    dw_delta_group(w, "m", NULL, "abc123", -60000, 0);
    dw_delta_pairs(w, NULL, NULL, 0);
    dw_delta_names_begin(w, 0);

    /* Offsets unknown (-1), the oldest possible time, the largest partition. */
    dw_delta_section(w, "", INT32_MAX, -1, INT64_MAX, INT64_MIN, 0);

    dw_delta_section(w, long_name, 5, INT64_MIN, -1, 0, 1);
    dw_delta_group(w, long_name, "", long_name, INT64_MAX, UINT32_MAX);
    dw_delta_pairs(w, slots_a + 5, counts_a + 5, 1);
    dw_delta_names_begin(w, 1);
    dw_delta_name(w, SIZE_MAX >> 1, long_name, UINT32_MAX);
}

static char *name_of(size_t n)
{
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)('a' + i % 26);
    s[n] = '\0';
    return s;
}

static void test_round_trip(void **state)
{
    (void)state;
    char *long_name = name_of(DW_DELTA_MAX_STR); /* the longest a reader takes */
    dw_delta_writer w = {0};
    write_sample(&w, long_name);
    assert_true(dw_delta_is_delta(w.buf, w.len));

    dw_delta d;
    assert_int_equal(dw_delta_decode(w.buf, w.len, &d), 0);
    assert_true(d.writer == UINT64_MAX - 1);
    assert_true(d.seq == UINT64_MAX);
    assert_int_equal(d.nsections, 3);

    const dw_delta_sect *s = &d.sections[0];
    assert_str(s->topic, "inputs");
    assert_int_equal(s->partition, 0);
    assert_true(s->from == 0 && s->to == 1 && s->max_t == 1795500000000LL);
    assert_int_equal(s->ngroups, 2);
    const dw_delta_grp *g = &s->groups[0];
    assert_str(g->model, "m");
    assert_true(g->has_version);
    assert_str(g->version, "v1");
    assert_str(g->checksum, "abc123");
    assert_true(g->pane_ms == 1795500000000LL);
    assert_int_equal(g->records, 42);
    assert_pairs(g, slots_a, counts_a, 6);
    assert_int_equal(g->nnames, 2);
    assert_int_equal(g->names[0].col, 3);
    assert_str(g->names[0].name, "zz");
    assert_int_equal(g->names[0].count, 7);
    assert_int_equal(g->names[1].col, 0);
    assert_str(g->names[1].name, "");
    assert_int_equal(g->names[1].count, 0);

    g = &s->groups[1];
    assert_str(g->model, "m");
    assert_false(g->has_version);
    assert_int_equal(g->version.len, 0);
    assert_true(g->pane_ms == -60000);
    assert_int_equal(g->records, 0);
    assert_int_equal(g->npairs, 0);
    assert_int_equal(g->nnames, 0);

    s = &d.sections[1];
    assert_str(s->topic, "");
    assert_int_equal(s->partition, INT32_MAX);
    assert_true(s->from == -1 && s->to == INT64_MAX && s->max_t == INT64_MIN);
    assert_int_equal(s->ngroups, 0);

    s = &d.sections[2];
    assert_str(s->topic, long_name);
    assert_int_equal(s->partition, 5);
    assert_true(s->from == INT64_MIN && s->to == -1 && s->max_t == 0);
    g = &s->groups[0];
    assert_str(g->model, long_name);
    assert_true(g->has_version);
    assert_str(g->version, ""); /* an empty version is not a missing one */
    assert_str(g->checksum, long_name);
    assert_true(g->pane_ms == INT64_MAX);
    assert_int_equal(g->records, UINT32_MAX);
    assert_int_equal(g->npairs, 1);
    assert_int_equal(g->slots[0], UINT32_MAX);
    assert_int_equal(g->counts[0], 9);
    assert_int_equal(g->nnames, 1);
    assert_true(g->names[0].col == SIZE_MAX >> 1);
    assert_str(g->names[0].name, long_name);
    assert_int_equal(g->names[0].count, UINT32_MAX);

    dw_delta_free(&d);
    assert_null(d.sections);
    assert_int_equal(d.nsections, 0);
    dw_delta_free(&d); /* twice: the first left it empty */
    dw_delta_free(NULL);

    /* The writer keeps its memory across messages: a second, empty one. */
    uint8_t *buf = w.buf;
    dw_delta_begin(&w, 0, 1, 0);
    assert_ptr_equal(w.buf, buf);
    assert_int_equal(w.len, 4 + 8 + 1 + 1);
    assert_int_equal(dw_delta_decode(w.buf, w.len, &d), 0);
    assert_int_equal(d.writer, 0);
    assert_int_equal(d.seq, 1);
    assert_int_equal(d.nsections, 0);
    dw_delta_free(&d);

    dw_delta_writer_free(&w);
    assert_null(w.buf);
    assert_int_equal(w.len, 0);
    dw_delta_writer_free(&w);
    dw_delta_writer_free(NULL);
    free(long_name);
}

/* Every proper prefix of a valid message is refused, and so is the message
 * with anything after it. */
static void test_truncations_and_trailing_bytes(void **state)
{
    (void)state;
    char *long_name = name_of(40);
    dw_delta_writer w = {0};
    write_sample(&w, long_name);
    dw_delta d;
    for (size_t n = 0; n < w.len; n++) {
        /* A copy of exactly n bytes, so ASan sees any read past it. */
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, w.buf, n);
        int rc = dw_delta_decode(cut, n, &d);
        if (rc != DW_ERR_PARSE)
            fail_msg("a prefix of %zu of %zu bytes decoded (rc %d)", n, w.len, rc);
        assert_int_equal(d.nsections, 0);
        assert_null(d.sections);
        dw_delta_free(&d); /* nothing to free, still safe */
        free(cut);
    }
    uint8_t *longer = malloc(w.len + 1);
    memcpy(longer, w.buf, w.len);
    longer[w.len] = 0;
    assert_int_equal(dw_delta_decode(longer, w.len + 1, &d), DW_ERR_PARSE);
    assert_int_equal(dw_delta_decode(longer, w.len, &d), 0);
    dw_delta_free(&d);
    free(longer);
    dw_delta_writer_free(&w);
    free(long_name);
}

static void test_magic_and_version(void **state)
{
    (void)state;
    dw_delta_writer w = {0};
    dw_delta_begin(&w, 7, 1, 0);
    dw_delta d;
    assert_int_equal(dw_delta_decode(w.buf, w.len, &d), 0);
    dw_delta_free(&d);
    for (size_t i = 0; i < 4; i++) {
        uint8_t saved = w.buf[i];
        w.buf[i] ^= (i == 3) ? 0x07 : 0x20; /* version 5, or "dWD", ... */
        assert_false(dw_delta_is_delta(w.buf, w.len));
        assert_int_equal(dw_delta_decode(w.buf, w.len, &d), DW_ERR_PARSE);
        w.buf[i] = saved;
    }
    assert_false(dw_delta_is_delta(NULL, 0));
    assert_false(dw_delta_is_delta("DWD", 3));
    assert_int_equal(dw_delta_decode("DWD\x01", 4, &d), DW_ERR_PARSE);
    assert_int_equal(dw_delta_decode(NULL, 0, &d), DW_ERR_PARSE);
    const char *json = "{\"ts\": 1, \"model\": \"m\"}";
    assert_false(dw_delta_is_delta(json, strlen(json)));
    assert_int_equal(dw_delta_decode(json, strlen(json), &d), DW_ERR_PARSE);
    dw_delta_writer_free(&w);
}

/* Version 1 (two varints a pair) is still read, as the same delta that
 * version 2 writes in fewer bytes (a count of one folded into the gap). */
static void test_version_1_is_read(void **state)
{
    (void)state;
    static const uint8_t v1[] = {
        'D', 'W', 'D', 1, 7, 0, 0, 0, 0, 0, 0, 0, /* magic, writer 7 */
        1, 1,                                     /* seq, sections */
        1, 't', 0, 0, 6, 0, 1,                    /* "t" [0], from 0, to 3, max_t 0, 1 group */
        1, 'm', 0, 1, 'c', 0, 3,                  /* "m", no version, "c", pane 0, 3 records */
        3, 2, 1, 5, 2, 200, 1, 1,                 /* pairs (2, 1) (7, 2) (207, 1) */
        0,                                        /* no names */
    };
    static const uint32_t slots[] = {2, 7, 207}, counts[] = {1, 2, 1};
    dw_delta_writer w = {0};
    dw_delta_begin(&w, 7, 1, 1);
    dw_delta_section(&w, "t", 0, 0, 3, 0, 1);
    dw_delta_group(&w, "m", NULL, "c", 0, 3);
    dw_delta_pairs(&w, slots, counts, 3);
    dw_delta_names_begin(&w, 0);
    assert_true(dw_delta_is_delta(v1, sizeof v1));
    assert_true(w.len == sizeof v1 - 2); /* one byte less for each pair of count 1 */
    assert_memory_equal(w.buf, DW_DELTA_MAGIC, 4);
    for (int k = 0; k < 2; k++) {
        dw_delta d;
        assert_int_equal(k ? dw_delta_decode(w.buf, w.len, &d) : dw_delta_decode(v1, sizeof v1, &d),
                         0);
        assert_true(d.writer == 7 && d.seq == 1 && d.nsections == 1);
        const dw_delta_sect *sec = &d.sections[0];
        assert_str(sec->topic, "t");
        assert_true(sec->from == 0 && sec->to == 3 && sec->max_t == 0 && sec->ngroups == 1);
        const dw_delta_grp *g = &sec->groups[0];
        assert_str(g->model, "m");
        assert_str(g->checksum, "c");
        assert_false(g->has_version);
        assert_int_equal(g->records, 3);
        assert_pairs(g, slots, counts, 3);
        assert_int_equal(g->nnames, 0);
        dw_delta_free(&d);
    }
    /* A version-1 message cut inside a pair is refused as before. */
    dw_delta d;
    assert_int_equal(dw_delta_decode(v1, sizeof v1 - 2, &d), DW_ERR_PARSE);
    dw_delta_writer_free(&w);
}

/* Counts that would ask for more items than the rest of the message can
 * hold are refused before anything is allocated for them: the counts here
 * ask for 2^40 .. 2^63 items, which dw_calloc() could not give (it aborts
 * the test; under ASan the request itself is a reported error). */
static void test_corrupt_counts_are_refused(void **state)
{
    (void)state;
    static const uint64_t huge[] = {1ULL << 40, 1ULL << 62, UINT64_MAX};
    dw_delta_writer w = {0};
    dw_delta d;
    for (size_t h = 0; h < sizeof huge / sizeof huge[0]; h++) {
        /* Sections. dw_delta_names_begin() writes a bare varint: used here
         * to put a count where the format expects one. */
        dw_delta_begin(&w, 1, 1, 0);
        w.len -= 1; /* drop nsections = 0 */
        dw_delta_names_begin(&w, (size_t)huge[h]);
        dw_delta_section(&w, "t", 0, 0, 1, 0, 0);
        assert_int_equal(dw_delta_decode(w.buf, w.len, &d), DW_ERR_PARSE);

        /* Groups of a section. */
        dw_delta_begin(&w, 1, 1, 1);
        dw_delta_section(&w, "t", 0, 0, 1, 0, 0);
        w.len -= 1;
        dw_delta_names_begin(&w, (size_t)huge[h]);
        dw_delta_group(&w, "m", NULL, "c", 0, 1);
        assert_int_equal(dw_delta_decode(w.buf, w.len, &d), DW_ERR_PARSE);

        /* Pairs of a group. */
        dw_delta_begin(&w, 1, 1, 1);
        dw_delta_section(&w, "t", 0, 0, 1, 0, 1);
        dw_delta_group(&w, "m", NULL, "c", 0, 1);
        dw_delta_names_begin(&w, (size_t)huge[h]);
        for (int i = 0; i < 8; i++)
            dw_delta_names_begin(&w, 1);
        assert_int_equal(dw_delta_decode(w.buf, w.len, &d), DW_ERR_PARSE);

        /* Names of a group. */
        dw_delta_begin(&w, 1, 1, 1);
        dw_delta_section(&w, "t", 0, 0, 1, 0, 1);
        dw_delta_group(&w, "m", NULL, "c", 0, 1);
        dw_delta_pairs(&w, NULL, NULL, 0);
        dw_delta_names_begin(&w, (size_t)huge[h]);
        dw_delta_name(&w, 0, "zz", 1);
        assert_int_equal(dw_delta_decode(w.buf, w.len, &d), DW_ERR_PARSE);
    }

    /* The bound is exact: in version 1, 2 pairs in 4 bytes decode, a
     * count of 3 with the same 4 bytes does not. */
    for (size_t n = 2; n <= 3; n++) {
        dw_delta_begin(&w, 1, 1, 1);
        w.buf[3] = 1;
        dw_delta_section(&w, "t", 0, 0, 1, 0, 1);
        dw_delta_group(&w, "m", NULL, "c", 0, 1);
        dw_delta_names_begin(&w, n);
        for (int i = 0; i < 4; i++)
            dw_delta_names_begin(&w, 1);
        dw_delta_names_begin(&w, 0); /* nnames */
        if (n == 2) {
            assert_int_equal(dw_delta_decode(w.buf, w.len, &d), 0);
            assert_int_equal(d.sections[0].groups[0].npairs, 2);
            assert_int_equal(d.sections[0].groups[0].slots[1], 2); /* gaps add up */
            dw_delta_free(&d);
        } else {
            assert_int_equal(dw_delta_decode(w.buf, w.len, &d), DW_ERR_PARSE);
        }
    }

    /* In version 2 a pair takes at least one byte: 4 pairs of count 1 in
     * 4 bytes decode, a count of 5 does not. */
    for (size_t n = 4; n <= 5; n++) {
        dw_delta_begin(&w, 1, 1, 1);
        dw_delta_section(&w, "t", 0, 0, 1, 0, 1);
        dw_delta_group(&w, "m", NULL, "c", 0, 1);
        dw_delta_names_begin(&w, n);
        for (int i = 0; i < 4; i++)
            dw_delta_names_begin(&w, 2); /* gap 1, count 1 */
        dw_delta_names_begin(&w, 0);     /* nnames */
        if (n == 4) {
            assert_int_equal(dw_delta_decode(w.buf, w.len, &d), 0);
            assert_int_equal(d.sections[0].groups[0].npairs, 4);
            assert_int_equal(d.sections[0].groups[0].slots[3], 4);
            assert_int_equal(d.sections[0].groups[0].counts[3], 1);
            dw_delta_free(&d);
        } else {
            assert_int_equal(dw_delta_decode(w.buf, w.len, &d), DW_ERR_PARSE);
        }
    }

    /* A string longer than the rest of the message, or than the bound. */
    dw_delta_begin(&w, 1, 1, 1);
    dw_delta_names_begin(&w, 1ULL << 33); /* topic length */
    assert_int_equal(dw_delta_decode(w.buf, w.len, &d), DW_ERR_PARSE);
    char *too_long = name_of(DW_DELTA_MAX_STR + 1);
    dw_delta_begin(&w, 1, 1, 1);
    dw_delta_section(&w, too_long, 0, 0, 1, 0, 0);
    assert_int_equal(dw_delta_decode(w.buf, w.len, &d), DW_ERR_PARSE);
    free(too_long);

    dw_delta_writer_free(&w);
}

/* DW_DELTA_MAX_SECTIONS empty sections decode; one more does not, though
 * the bytes are there. */
static void test_section_bound(void **state)
{
    (void)state;
    dw_delta_writer w = {0};
    dw_delta d;
    for (size_t n = DW_DELTA_MAX_SECTIONS; n <= DW_DELTA_MAX_SECTIONS + 1; n++) {
        dw_delta_begin(&w, 1, 1, n);
        for (size_t i = 0; i < n; i++)
            dw_delta_section(&w, "t", (int32_t)i, (int64_t)i, (int64_t)i + 1, 0, 0);
        int rc = dw_delta_decode(w.buf, w.len, &d);
        if (n == DW_DELTA_MAX_SECTIONS) {
            assert_int_equal(rc, 0);
            assert_int_equal(d.nsections, n);
            assert_int_equal(d.sections[n - 1].partition, (int32_t)(n - 1));
            assert_true(d.sections[n - 1].to == (int64_t)n);
            dw_delta_free(&d);
        } else {
            assert_int_equal(rc, DW_ERR_PARSE);
        }
    }
    dw_delta_writer_free(&w);
}

/* Values a field cannot hold are refused, not truncated: a count above
 * 2^32, a partition above INT32_MAX, a varint running past 64 bits, a
 * slot whose gaps add up beyond 2^32. */
static void test_out_of_range_values(void **state)
{
    (void)state;
    dw_delta_writer w = {0};
    dw_delta d;

    /* records > UINT32_MAX: written by hand after the group's head. */
    dw_delta_begin(&w, 1, 1, 1);
    dw_delta_section(&w, "t", 0, 0, 1, 0, 1);
    dw_delta_group(&w, "m", NULL, "c", 0, 0);
    w.len -= 1; /* records = 0 */
    dw_delta_names_begin(&w, (size_t)UINT32_MAX + 1);
    dw_delta_pairs(&w, NULL, NULL, 0);
    dw_delta_names_begin(&w, 0);
    assert_int_equal(dw_delta_decode(w.buf, w.len, &d), DW_ERR_PARSE);

    /* A pair count > UINT32_MAX (version 1, then 2). */
    dw_delta_begin(&w, 1, 1, 1);
    w.buf[3] = 1;
    dw_delta_section(&w, "t", 0, 0, 1, 0, 1);
    dw_delta_group(&w, "m", NULL, "c", 0, 1);
    dw_delta_names_begin(&w, 1);          /* npairs */
    dw_delta_names_begin(&w, 4);          /* slot */
    dw_delta_names_begin(&w, 1ULL << 32); /* count */
    dw_delta_names_begin(&w, 0);          /* nnames */
    assert_int_equal(dw_delta_decode(w.buf, w.len, &d), DW_ERR_PARSE);
    w.buf[3] = 2;
    w.buf[w.len - 7] = 4 << 1 | 1; /* the slot, with "a count follows" */
    assert_int_equal(dw_delta_decode(w.buf, w.len, &d), DW_ERR_PARSE);

    /* Slot gaps adding up past UINT32_MAX (version 1, then 2). */
    dw_delta_begin(&w, 1, 1, 1);
    w.buf[3] = 1;
    dw_delta_section(&w, "t", 0, 0, 1, 0, 1);
    dw_delta_group(&w, "m", NULL, "c", 0, 1);
    dw_delta_names_begin(&w, 2);
    dw_delta_names_begin(&w, UINT32_MAX);
    dw_delta_names_begin(&w, 1);
    dw_delta_names_begin(&w, 1);
    dw_delta_names_begin(&w, 1);
    dw_delta_names_begin(&w, 0);
    assert_int_equal(dw_delta_decode(w.buf, w.len, &d), DW_ERR_PARSE);
    dw_delta_begin(&w, 1, 1, 1);
    dw_delta_section(&w, "t", 0, 0, 1, 0, 1);
    dw_delta_group(&w, "m", NULL, "c", 0, 1);
    dw_delta_names_begin(&w, 2);
    dw_delta_names_begin(&w, (uint64_t)UINT32_MAX << 1);
    dw_delta_names_begin(&w, 1 << 1);
    dw_delta_names_begin(&w, 0);
    assert_int_equal(dw_delta_decode(w.buf, w.len, &d), DW_ERR_PARSE);
    w.buf[w.len - 2] = 0; /* a gap of 0: slot UINT32_MAX twice, in range */
    assert_int_equal(dw_delta_decode(w.buf, w.len, &d), 0);
    assert_true(d.sections[0].groups[0].slots[1] == UINT32_MAX);
    dw_delta_free(&d);

    /* A name count > UINT32_MAX. */
    dw_delta_begin(&w, 1, 1, 1);
    dw_delta_section(&w, "t", 0, 0, 1, 0, 1);
    dw_delta_group(&w, "m", NULL, "c", 0, 1);
    dw_delta_pairs(&w, NULL, NULL, 0);
    dw_delta_names_begin(&w, 1);
    dw_delta_name(&w, 0, "zz", 0);
    w.len -= 1; /* count = 0 */
    dw_delta_names_begin(&w, 1ULL << 32);
    assert_int_equal(dw_delta_decode(w.buf, w.len, &d), DW_ERR_PARSE);

    /* A partition > INT32_MAX. */
    dw_delta_begin(&w, 1, 1, 1);
    dw_delta_names_begin(&w, 1);
    dw_delta_names_begin(&w, 't');
    dw_delta_names_begin(&w, (size_t)INT32_MAX + 1);
    for (int i = 0; i < 4; i++)
        dw_delta_names_begin(&w, 0);
    assert_int_equal(dw_delta_decode(w.buf, w.len, &d), DW_ERR_PARSE);

    /* Varints: ten bytes holding 2^64 - 1 decode (seq); an eleventh byte,
     * or a tenth byte with more than the 64th bit, does not. */
    static const uint8_t head[] = {'D', 'W', 'D', 1, 0, 0, 0, 0, 0, 0, 0, 0};
    uint8_t msg[32];
    memcpy(msg, head, sizeof head);
    size_t n = sizeof head;
    for (int i = 0; i < 9; i++)
        msg[n++] = 0xff;
    msg[n++] = 0x01;
    msg[n++] = 0x00; /* nsections */
    assert_int_equal(dw_delta_decode(msg, n, &d), 0);
    assert_true(d.seq == UINT64_MAX);
    dw_delta_free(&d);
    msg[sizeof head + 9] = 0x02; /* bit 64: does not fit */
    assert_int_equal(dw_delta_decode(msg, n, &d), DW_ERR_PARSE);
    msg[sizeof head + 9] = 0x80; /* an eleventh byte follows */
    msg[n - 1] = 0x00;
    msg[n++] = 0x00;
    assert_int_equal(dw_delta_decode(msg, n, &d), DW_ERR_PARSE);

    dw_delta_writer_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncations_and_trailing_bytes),
        cmocka_unit_test(test_magic_and_version),
        cmocka_unit_test(test_version_1_is_read),
        cmocka_unit_test(test_corrupt_counts_are_refused),
        cmocka_unit_test(test_section_bound),
        cmocka_unit_test(test_out_of_range_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* State on Kafka, the engine's side (engine.h, "State on Kafka"): engine A
 * counts records from several input partitions and hands out deltas; every
 * delta is applied to engine B, built from the same configuration and
 * reference, which never sees a record. B's status must equal A's after
 * the same evaluations, and the offsets the deltas cover must be exactly
 * the messages A counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "config_fixture.h"

#include "driftwatch/config.h"
#include "driftwatch/delta.h"
#include "driftwatch/engine.h"
#include "driftwatch/error.h"
#include "engine_fixture.h"

/* Engine internals, only to look at which counter slot an unseen category
 * got on each side. */
#include "../../src/engine_int.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DELTAS 4096
#define NSRC 3

/* Built once for all tests: two references of the same shape (different
 * training samples, so different checksums) in one directory. */
static char g_dir[64], g_ref[128], g_ref2[128];

typedef struct captured {
    uint8_t *buf;
    size_t len;
    size_t ncover;
    char topic[NSRC + 1][16];
    dw_delta_cover cover[NSRC + 1];
} captured;

typedef struct pair {
    dw_config *cfg;
    dw_engine *a, *b;
    int src_a[NSRC];   /* A's source ids of partitions 0..NSRC-1 of "in" */
    int64_t off[NSRC]; /* next input offset per partition */
    captured *deltas;
    size_t ndeltas, napplied; /* captured; applied to B */
    json_t *docs_a, *docs_b;
} pair;

static void capture_delta(void *ctx, const void *buf, size_t len, const dw_delta_cover *cover,
                          size_t ncover)
{
    pair *p = ctx;
    assert_true(p->ndeltas < MAX_DELTAS);
    assert_true(ncover <= NSRC + 1);
    captured *c = &p->deltas[p->ndeltas++];
    c->buf = malloc(len);
    memcpy(c->buf, buf, len);
    c->len = len;
    c->ncover = ncover;
    for (size_t i = 0; i < ncover; i++) {
        snprintf(c->topic[i], sizeof c->topic[i], "%s", cover[i].topic);
        c->cover[i] = cover[i];
        c->cover[i].topic = c->topic[i];
    }
}

static void keep_a(void *ctx, json_t *doc)
{
    json_array_append_new(((pair *)ctx)->docs_a, doc);
}

static void keep_b(void *ctx, json_t *doc)
{
    json_array_append_new(((pair *)ctx)->docs_b, doc);
}

/* evaluation.max_new_categories of the next setup() (0: the default). */
static int g_max_new;

static dw_config *make_config(const char *ref)
{
    return dwt_parse_fmt("kafka: {brokers: \"127.0.0.1:1\", topics: [in]}\n"
                         "models:\n  - name: m\n    reference: \"%s\"\n"
                         "windows:\n  - {name: 10m, length: 10m, slide: 1m}\n"
                         "  - {name: 30m, length: 30m, slide: 5m}\n"
                         "alerts: {for: 2}\n"
                         "time: {allowed_lateness: 30s, idle_timeout: 0s}\n"
                         "evaluation: {max_new_categories: %d}\n"
                         "sinks: []\n",
                         ref, g_max_new ? g_max_new : 32);
}

static dw_engine *make_engine(const dw_config *cfg)
{
    dw_engine *e = NULL;
    char err[512];
    assert_int_equal(dw_engine_new(cfg, &e, err, sizeof err), 0);
    return e;
}

static int group_setup(void **state)
{
    (void)state;
    strcpy(g_dir, "/tmp/dw-test-engine-state-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    snprintf(g_ref, sizeof g_ref, "%s/m.json", g_dir);
    snprintf(g_ref2, sizeof g_ref2, "%s/m2.json", g_dir);
    dwt_build_reference(g_dir, g_ref, 1, 20000);
    dwt_build_reference(g_dir, g_ref2, 3, 20000);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    unlink(g_ref);
    unlink(g_ref2);
    rmdir(g_dir);
    return 0;
}

static int setup(void **state)
{
    pair *p = calloc(1, sizeof *p);
    p->cfg = make_config(g_ref);
    p->a = make_engine(p->cfg);
    p->b = make_engine(p->cfg);
    p->deltas = calloc(MAX_DELTAS, sizeof *p->deltas);
    p->docs_a = json_array();
    p->docs_b = json_array();
    dw_engine_on_emit(p->a, keep_a, p);
    dw_engine_on_emit(p->b, keep_b, p);
    dw_engine_state_enable(p->a, 0xA11CE, capture_delta, p);
    for (int s = 0; s < NSRC; s++) {
        p->src_a[s] = dw_engine_source(p->a, "in", s);
        assert_true(p->src_a[s] > 0);
    }
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    pair *p = *state;
    dw_engine_free(p->a);
    dw_engine_free(p->b);
    dw_config_free(p->cfg);
    for (size_t i = 0; i < p->ndeltas; i++)
        free(p->deltas[i].buf);
    free(p->deltas);
    json_decref(p->docs_a);
    json_decref(p->docs_b);
    free(p);
    return 0;
}

/* Applies every delta A handed out since the last call to B, as B's state
 * consumer would, in log order. */
static void sync_b(pair *p)
{
    for (; p->napplied < p->ndeltas; p->napplied++) {
        const captured *c = &p->deltas[p->napplied];
        dw_delta_result res;
        assert_int_equal(dw_engine_delta_apply(p->b, c->buf, c->len, &res), 0);
        assert_false(res.own);
        assert_int_equal(res.duplicates, 0);
        assert_int_equal(res.sections, c->ncover);
    }
}

/* One message at the next offset of partition s of A. */
static void send(pair *p, int s, const char *msg, size_t len, dw_process_result *res)
{
    dw_engine_source_offset(p->a, p->src_a[s], p->off[s] + 1);
    dw_engine_process_from(p->a, p->src_a[s], msg, len, INT64_MIN, res);
    if (!res->ahead)
        p->off[s]++;
}

/* n single-record messages on partition s, one a second from `first`,
 * each counted (nc: unseen category, as dwt_record()). */
static void feed(pair *p, int s, gsl_rng *r, int64_t first, int n, const char *nc)
{
    char msg[1024];
    dw_process_result res;
    for (int i = 0; i < n; i++) {
        int len = dwt_record(msg, sizeof msg, r, first + i * 1000, 0, nc, NULL);
        send(p, s, msg, (size_t)len, &res);
        assert_int_equal(res.applied, 1);
    }
}

/* ---- comparing status documents ---- */

/* Walks two JSON values and fails at the first difference, naming its
 * path. Numbers must be equal exactly: B evaluates the same counts. */
static void same_json(const json_t *x, const json_t *y, const char *path)
{
    if (json_typeof(x) != json_typeof(y)) {
        char *sx = json_dumps(x, JSON_ENCODE_ANY), *sy = json_dumps(y, JSON_ENCODE_ANY);
        fail_msg("%s: A has %s, B has %s", path, sx, sy);
    }
    char sub[512];
    switch (json_typeof(x)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *v;
        if (json_object_size(x) != json_object_size(y))
            fail_msg("%s: A has %zu keys, B %zu", path, json_object_size(x), json_object_size(y));
        json_object_foreach ((json_t *)x, k, v) {
            json_t *w = json_object_get(y, k);
            snprintf(sub, sizeof sub, "%s.%s", path, k);
            if (!w)
                fail_msg("%s: missing in B", sub);
            same_json(v, w, sub);
        }
        break;
    }
    case JSON_ARRAY:
        if (json_array_size(x) != json_array_size(y))
            fail_msg("%s: A has %zu items, B %zu", path, json_array_size(x), json_array_size(y));
        for (size_t i = 0; i < json_array_size(x); i++) {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            same_json(json_array_get(x, i), json_array_get(y, i), sub);
        }
        break;
    default:
        if (!json_equal((json_t *)x, (json_t *)y)) {
            char *sx = json_dumps(x, JSON_ENCODE_ANY), *sy = json_dumps(y, JSON_ENCODE_ANY);
            fail_msg("%s: A has %s, B has %s", path, sx, sy);
        }
    }
}

/* The status with its models keyed by "model/version": each engine lists
 * its (model, version) states in the order it first saw them, which for B
 * is the order of the deltas, not of the records. */
static json_t *keyed_status(dw_engine *e)
{
    dw_engine_publish(e);
    json_t *snap = dw_engine_snapshot(e);
    json_t *models = json_object(), *m;
    size_t i;
    json_array_foreach (json_object_get(snap, "models"), i, m) {
        char key[128];
        const char *v = json_string_value(json_object_get(m, "model_version"));
        snprintf(key, sizeof key, "%s/%s", json_string_value(json_object_get(m, "model")),
                 v ? v : "(none)");
        assert_null(json_object_get(models, key));
        json_object_set(models, key, m);
    }
    json_object_set_new(snap, "models", models);
    return snap;
}

/* Asserts that B shows what A shows; returns how many column windows hold
 * an evaluation (so callers can tell the comparison was not empty). */
static size_t assert_same_status(pair *p)
{
    json_t *sa = keyed_status(p->a), *sb = keyed_status(p->b);
    same_json(sa, sb, "status");
    size_t evaluated = 0, i;
    const char *k;
    json_t *m, *c, *w;
    json_object_foreach (json_object_get(sa, "models"), k, m)
        json_array_foreach (json_object_get(m, "columns"), i, c) {
            const char *wk;
            json_object_foreach (json_object_get(c, "windows"), wk, w)
                if (json_integer_value(json_object_get(w, "samples")) > 0)
                    evaluated++;
        }
    json_decref(sa);
    json_decref(sb);
    return evaluated;
}

/* The emitted documents of both engines, as sorted compact strings (B
 * emits each boundary's documents in its own state order). */
static void assert_same_documents(pair *p)
{
    assert_int_equal(json_array_size(p->docs_a), json_array_size(p->docs_b));
    size_t n = json_array_size(p->docs_a);
    char **da = calloc(n + 1, sizeof *da), **db = calloc(n + 1, sizeof *db);
    for (size_t i = 0; i < n; i++) {
        da[i] = json_dumps(json_array_get(p->docs_a, i), JSON_SORT_KEYS | JSON_COMPACT);
        db[i] = json_dumps(json_array_get(p->docs_b, i), JSON_SORT_KEYS | JSON_COMPACT);
    }
    for (size_t i = 0; i < n; i++) {
        /* Same multiset: find each of A's in B (n is small). */
        size_t j;
        for (j = 0; j < n; j++)
            if (db[j] && !strcmp(da[i], db[j]))
                break;
        if (j == n)
            fail_msg("A emitted a document B did not: %s", da[i]);
        free(db[j]);
        db[j] = NULL;
    }
    for (size_t i = 0; i < n; i++)
        free(da[i]);
    free(da);
    free(db);
}

/* Slot of an unseen category of features.c in one engine's state of
 * (m, version); SIZE_MAX when the name has none there. */
static size_t category_slot_of(dw_engine *e, const char *version, const char *name)
{
    model_entry *me = &e->models[0];
    for (size_t v = 0; v < me->nstates; v++) {
        const char *sv = dw_model_version(me->states[v]);
        if ((sv == NULL) != (version == NULL) || (sv && strcmp(sv, version)))
            continue;
        for (size_t j = 0; j < me->ref->ncols; j++) {
            if (strcmp(me->ref->cols[j].name, "features.c"))
                continue;
            dw_sample smp;
            dw_model_sample(me->states[v], 0, j, &smp);
            for (size_t k = 0; k < smp.nnew; k++)
                if (!strcmp(smp.new_names[k], name))
                    return dw_model_category_slot(me->states[v], j, name, strlen(name));
        }
    }
    return SIZE_MAX;
}

/* ---- tests ---- */

/* Three partitions read a little out of step, messages of 1 to 4 records
 * (so many span a pane boundary and close panes in the middle), three
 * model versions (none, v1, v2), a drift of features.x and unseen
 * categories that differ per partition. B, fed only A's deltas, shows the
 * same windows, samples and statistics at every checkpoint and emits the
 * same documents. */
static void replica_equals_writer(pair *p, bool lagging)
{
    gsl_rng *r = dwt_rng(11);
    static const char *versions[] = {NULL, "v1", "v2"};
    static const char *newcats[] = {"p0new", "p1new", "p2new"};
    const int per_min = 40, minutes = 70;
    const int64_t step = 60000 / per_min;
    int64_t next_ts[NSRC];
    for (int s = 0; s < NSRC; s++)
        next_ts[s] = T0 + s * 700;
    const int64_t end = T0 + (int64_t)minutes * 60000;
    int checkpoint = 10;
    size_t compared = 0;
    bool slots_checked = false;
    char msg[4096];
    dw_process_result res;
    for (;;) {
        bool any = false;
        for (int s = 0; s < NSRC; s++) {
            if (next_ts[s] >= end)
                continue;
            any = true;
            int k = 1 + (int)gsl_rng_uniform_int(r, 4);
            size_t len = 0;
            if (k > 1)
                msg[len++] = '[';
            for (int j = 0; j < k; j++) {
                int64_t ts = next_ts[s];
                next_ts[s] += step;
                int64_t min = (ts - T0) / 60000;
                double shift = min >= 30 && min < 45 ? 1.5 : 0;
                const char *nc = min >= 21 && min < 40 ? newcats[s] : NULL;
                const char *ver = versions[gsl_rng_uniform_int(r, 3)];
                if (j)
                    msg[len++] = ',';
                len += (size_t)dwt_record(msg + len, sizeof msg - len, r, ts, shift, nc, ver);
            }
            if (k > 1)
                msg[len++] = ']';
            send(p, s, msg, len, &res);
            assert_false(res.ahead);
            assert_int_equal(res.applied, (size_t)k);
            if (!lagging)
                sync_b(p);
        }
        if (!any)
            break;
        int64_t slowest = next_ts[0];
        for (int s = 1; s < NSRC; s++)
            if (next_ts[s] < slowest)
                slowest = next_ts[s];
        if (slowest < T0 + (int64_t)checkpoint * 60000)
            continue;
        /* A checkpoint: whatever A holds goes out, then both must agree. */
        dw_engine_delta_flush(p->a);
        sync_b(p);
        compared += assert_same_status(p);
        if (checkpoint == 20) {
            /* Partition 2 brings an unseen category first, then partition
             * 1 another, both into one delta: A gives p2's name the lower
             * slot; B, reading the delta's sections in partition order,
             * p1's. Names travel, slots differ. */
            for (int s = 2; s >= 1; s--) {
                int n = snprintf(msg, sizeof msg,
                                 "{\"ts\":%lld,\"model\":\"m\",\"model_version\":\"v1\","
                                 "\"features\":{\"x\":0.1,\"y\":0.2,\"c\":\"first%d\"}}",
                                 (long long)next_ts[s], s);
                next_ts[s] += step;
                send(p, s, msg, (size_t)n, &res);
                assert_int_equal(res.applied, 1);
            }
            dw_engine_delta_flush(p->a);
            sync_b(p);
            size_t a1 = category_slot_of(p->a, "v1", "first1"),
                   a2 = category_slot_of(p->a, "v1", "first2"),
                   b1 = category_slot_of(p->b, "v1", "first1"),
                   b2 = category_slot_of(p->b, "v1", "first2");
            if (g_max_new == 1) {
                /* One slot: first2 has it on both sides, first1's count
                 * went to the overflow counter and travelled as such. */
                assert_true(a2 != SIZE_MAX && b2 != SIZE_MAX);
                assert_true(a1 == SIZE_MAX && b1 == SIZE_MAX);
            } else {
                assert_true(a1 != SIZE_MAX && a2 != SIZE_MAX && b1 != SIZE_MAX && b2 != SIZE_MAX);
                assert_true(a2 < a1);
                assert_true(b1 < b2);
            }
            slots_checked = true;
        }
        checkpoint += 10;
    }
    assert_true(slots_checked);
    dw_engine_flush(p->a);
    sync_b(p);
    dw_engine_flush(p->b);
    compared += assert_same_status(p);
    assert_true(compared > 0);

    /* Both engines alerted on the drift and resolved it, identically. */
    size_t i, k, firing = 0;
    json_t *d, *al;
    json_array_foreach (p->docs_a, i, d)
        json_array_foreach (json_object_get(d, "alerts"), k, al)
            if (!strcmp(json_string_value(json_object_get(al, "status")), "firing"))
                firing++;
    assert_true(firing > 0);
    assert_same_documents(p);

    /* The final status shows every version and the unseen categories. */
    json_t *sb = keyed_status(p->b);
    json_t *models = json_object_get(sb, "models");
    assert_non_null(json_object_get(models, "m/(none)"));
    assert_non_null(json_object_get(models, "m/v1"));
    assert_non_null(json_object_get(models, "m/v2"));
    json_decref(sb);

    /* Counters: every delta A handed out was applied once by B, and B
     * counted exactly the records A counted. */
    dw_engine_stats sa, stb;
    dw_engine_stats_get(p->a, &sa);
    dw_engine_stats_get(p->b, &stb);
    assert_int_equal(sa.deltas_out, p->ndeltas);
    uint64_t bytes = 0;
    for (size_t j = 0; j < p->ndeltas; j++)
        bytes += p->deltas[j].len;
    assert_int_equal(sa.delta_bytes_out, bytes);
    assert_true(p->ndeltas >= (size_t)minutes - 10); /* one per closing pane at least */
    assert_int_equal(sa.deltas_in, 0);
    assert_int_equal(stb.deltas_out, 0);
    assert_int_equal(stb.deltas_in, p->ndeltas);
    assert_int_equal(stb.delta_records_in, sa.applied);
    assert_int_equal(stb.applied, sa.applied);
    assert_int_equal(stb.evaluations, sa.evaluations);
    assert_int_equal(stb.delta_duplicates, 0);
    assert_int_equal(stb.delta_foreign, 0);
    assert_int_equal(stb.delta_invalid, 0);
    assert_int_equal(stb.delta_late, 0);
    assert_int_equal(stb.delta_ahead, 0);
    assert_int_equal(stb.watermark_ms, sa.watermark_ms);
    assert_int_equal(stb.max_event_ms, sa.max_event_ms);

    /* B resumes each partition where A's deltas end: after every message. */
    for (int s = 0; s < NSRC; s++) {
        int id = dw_engine_source(p->b, "in", s);
        assert_int_equal(dw_engine_source_resume(p->b, id), p->off[s]);
    }
    gsl_rng_free(r);
}

static void test_replica_equals_writer(void **state)
{
    replica_equals_writer(*state, false);
}

/* The same with B reading the state topic in bursts (every 10 minutes of
 * event time): many deltas applied back to back. */
static void test_lagging_replica_equals_writer(void **state)
{
    replica_equals_writer(*state, true);
}

static int setup_one_new_category(void **state)
{
    g_max_new = 1;
    int rc = setup(state);
    g_max_new = 0;
    return rc;
}

/* With one slot for unseen categories per column, the partitions' names
 * compete for it and the rest is pooled: both sides pool the same. */
static void test_replica_equals_writer_one_slot(void **state)
{
    g_max_new = 1;
    replica_equals_writer(*state, false);
    g_max_new = 0;
}

/* One message whose records span a pane boundary and move the watermark
 * past it: A closes the pane in the middle of the message, but its counts
 * go out in one delta after the message, covering its offset; B, given
 * that delta, closes the same pane with the same counts. */
static void test_message_across_pane_boundary(void **state)
{
    pair *p = *state;
    gsl_rng *r = dwt_rng(12);
    char msg[4096];
    dw_process_result res;
    feed(p, 0, r, T0, 5 * 60, NULL); /* 5 minutes */
    sync_b(p);
    dw_engine_stats st;
    dw_engine_stats_get(p->a, &st);
    uint64_t evals = st.evaluations;
    size_t ndeltas = p->ndeltas;
    /* 5:00 .. 6:50 every 10 s: the watermark (newest - 30 s) passes 5:00
     * and 6:00 inside the message. */
    size_t len = 0;
    msg[len++] = '[';
    for (int i = 0; i < 12; i++) {
        if (i)
            msg[len++] = ',';
        len += (size_t)dwt_record(msg + len, sizeof msg - len, r, T0 + 300000 + i * 10000, 0, "zz",
                                  "v1");
    }
    msg[len++] = ']';
    send(p, 0, msg, len, &res);
    assert_int_equal(res.applied, 12);
    dw_engine_stats_get(p->a, &st);
    assert_true(st.evaluations > evals);       /* panes closed inside the message */
    assert_int_equal(p->ndeltas, ndeltas + 1); /* one delta, after it */
    const captured *c = &p->deltas[p->ndeltas - 1];
    assert_int_equal(c->ncover, 1);
    assert_string_equal(c->cover[0].topic, "in");
    assert_int_equal(c->cover[0].partition, 0);
    assert_int_equal(c->cover[0].to, 301); /* offsets 0..300 */

    /* It starts where the previous delta ended (records of minute 4 were
     * still pending) and holds the message's 12 records of v1 in the panes
     * of minutes 5 and 6. */
    dw_delta d, prev;
    assert_int_equal(dw_delta_decode(c->buf, c->len, &d), 0);
    assert_int_equal(dw_delta_decode(c[-1].buf, c[-1].len, &prev), 0);
    assert_int_equal(d.nsections, 1);
    assert_int_equal(d.sections[0].from, prev.sections[0].to);
    assert_int_equal(d.sections[0].to, 301);
    assert_int_equal(d.sections[0].max_t, T0 + 300000 + 11 * 10000);
    dw_delta_free(&prev);
    uint32_t recs = 0;
    bool pane5 = false, pane6 = false;
    for (size_t g = 0; g < d.sections[0].ngroups; g++) {
        const dw_delta_grp *grp = &d.sections[0].groups[g];
        if (!grp->has_version) {
            assert_int_equal(grp->pane_ms, T0 + 240000);
            continue;
        }
        assert_true(grp->version.len == 2 && !memcmp(grp->version.ptr, "v1", 2));
        recs += grp->records;
        pane5 |= grp->pane_ms == T0 + 300000;
        pane6 |= grp->pane_ms == T0 + 360000;
        if (grp->pane_ms == T0 + 300000)
            assert_true(grp->nnames == 1); /* "zz" travels by name */
    }
    assert_int_equal(recs, 12);
    assert_true(pane5 && pane6);
    dw_delta_free(&d);

    sync_b(p);
    assert_true(assert_same_status(p) > 0);
    dw_engine_stats sb;
    dw_engine_stats_get(p->b, &sb);
    dw_engine_stats_get(p->a, &st);
    assert_int_equal(sb.evaluations, st.evaluations);
    assert_int_equal(sb.applied, st.applied);
    gsl_rng_free(r);
}

/* One message holding more than the longest window of records: an unseen
 * category counted at its start has left every window (its slot is freed
 * at an evaluation inside the message) before another unseen category,
 * near its end, takes the same slot. Each pane's counts must travel under
 * the name that was counted there. */
static void test_slot_reused_inside_a_message(void **state)
{
    pair *p = *state;
    gsl_rng *r = dwt_rng(18);
    char *msg = malloc(65536);
    dw_process_result res;
    int n = dwt_record(msg, 65536, r, T0, 0, NULL, NULL);
    send(p, 0, msg, (size_t)n, &res);
    sync_b(p);
    /* 0:30 .. 40:00 every 30 s: "old" in the first record, "new" in the
     * last. */
    size_t len = 0;
    msg[len++] = '[';
    for (int i = 1; i <= 80; i++) {
        if (i > 1)
            msg[len++] = ',';
        len += (size_t)snprintf(msg + len, 65536 - len,
                                "{\"ts\":%lld,\"model\":\"m\",\"features\":{\"x\":0.5,"
                                "\"y\":0.5,\"c\":\"%s\"},\"prediction\":{\"score\":0.5}}",
                                (long long)(T0 + i * 30000),
                                i == 1    ? "old"
                                : i == 80 ? "new"
                                          : "a");
    }
    msg[len++] = ']';
    size_t before = p->ndeltas;
    send(p, 0, msg, len, &res);
    assert_int_equal(res.applied, 80);
    assert_int_equal(p->ndeltas, before + 1);
    dw_delta d;
    const captured *c = &p->deltas[p->ndeltas - 1];
    assert_int_equal(dw_delta_decode(c->buf, c->len, &d), 0);
    size_t seen = 0;
    for (size_t g = 0; g < d.sections[0].ngroups; g++) {
        const dw_delta_grp *grp = &d.sections[0].groups[g];
        for (size_t k = 0; k < grp->nnames; k++) {
            const char *want = grp->pane_ms == T0 ? "old" : "new";
            if (grp->names[k].name.len != strlen(want) ||
                memcmp(grp->names[k].name.ptr, want, strlen(want)))
                fail_msg("pane %lld carries \"%.*s\", counted \"%s\"",
                         (long long)(grp->pane_ms - T0), (int)grp->names[k].name.len,
                         grp->names[k].name.ptr, want);
            seen++;
        }
    }
    assert_int_equal(seen, 2);
    dw_delta_free(&d);
    sync_b(p);
    dw_engine_flush(p->a);
    sync_b(p);
    dw_engine_flush(p->b);
    assert_true(assert_same_status(p) > 0);
    assert_same_documents(p);
    free(msg);
    gsl_rng_free(r);
}

/* A late record of a version not seen before is rejected; it must not
 * leave an empty state behind that only the writer shows. */
static void test_late_record_of_new_version(void **state)
{
    pair *p = *state;
    gsl_rng *r = dwt_rng(19);
    char msg[1024];
    dw_process_result res;
    feed(p, 0, r, T0, 3 * 60, NULL);
    int n = dwt_record(msg, sizeof msg, r, T0, 0, NULL, "late");
    send(p, 0, msg, (size_t)n, &res);
    assert_int_equal(res.applied, 0);
    dw_engine_stats st;
    dw_engine_stats_get(p->a, &st);
    assert_int_equal(st.rejected[DW_REJECT_LATE], 1);
    dw_engine_delta_flush(p->a);
    sync_b(p);
    assert_true(assert_same_status(p) > 0);
    gsl_rng_free(r);
}

/* One hand-written delta of writer 0xD: partition 0 of "in", offsets
 * [from, to), newest event time max_t, and (records > 0) one group of
 * model m without a version counting `records` in counter 0 of pane. */
static void apply_one(pair *p, int64_t from, int64_t max_t, int64_t pane, uint32_t records)
{
    dw_delta_writer w = {0};
    uint32_t slot = 0;
    dw_delta_begin(&w, 0xD, (uint64_t)from + 1, 1);
    dw_delta_section(&w, "in", 0, from, from + 1, max_t, records ? 1 : 0);
    if (records) {
        dw_delta_group(&w, "m", NULL, p->b->models[0].ref->checksum, pane, records);
        dw_delta_pairs(&w, &slot, &records, 1);
        dw_delta_names_begin(&w, 0);
    }
    dw_delta_result dr;
    assert_int_equal(dw_engine_delta_apply(p->b, w.buf, w.len, &dr), 0);
    assert_int_equal(dr.sections, 1);
    assert_int_equal(dr.records, records);
    dw_delta_writer_free(&w);
}

/* Counts for a pane beyond what the windows hold open wait (delta_ahead)
 * until the event time reaches them; counts for a pane that has closed are
 * counted late and dropped (delta_late). */
static void test_ahead_and_late_counts(void **state)
{
    pair *p = *state;
    dw_engine_stats st;
    apply_one(p, 0, T0 + 5 * 60000, T0, 10);
    dw_engine_stats_get(p->b, &st);
    assert_int_equal(st.applied, 10);
    assert_int_equal(st.watermark_ms, T0 + 5 * 60000 - 30000);

    apply_one(p, 1, T0 + 5 * 60000, T0 + 60 * 60000, 3); /* an hour ahead */
    dw_engine_stats_get(p->b, &st);
    assert_int_equal(st.delta_ahead, 1);
    assert_int_equal(st.applied, 10);
    assert_int_equal(st.delta_late, 0);

    apply_one(p, 2, T0 + 61 * 60000, 0, 0); /* time moves: it fits now */
    dw_engine_stats_get(p->b, &st);
    assert_int_equal(st.delta_ahead, 0);
    assert_int_equal(st.applied, 13);
    assert_int_equal(st.delta_records_in, 13);

    apply_one(p, 3, T0 + 61 * 60000, T0, 4); /* its pane closed long ago */
    dw_engine_stats_get(p->b, &st);
    assert_int_equal(st.delta_late, 4);
    assert_int_equal(st.applied, 13);
    assert_int_equal(st.delta_records_in, 13);
    assert_int_equal(st.deltas_in, 4);
    assert_int_equal(st.delta_duplicates, 0);
    assert_int_equal(dw_engine_source_resume(p->b, dw_engine_source(p->b, "in", 0)), 4);
}

/* A delta read twice (a producer retry) counts once; the second time each
 * of its sections is a duplicate and nothing changes. */
static void test_duplicate_delta_is_ignored(void **state)
{
    pair *p = *state;
    gsl_rng *r = dwt_rng(13);
    char msg[1024];
    dw_process_result res;
    for (int i = 0; i < 4 * 60; i++) {
        int n = dwt_record(msg, sizeof msg, r, T0 + i * 1000, 0, "zz", NULL);
        send(p, i % NSRC, msg, (size_t)n, &res);
        assert_int_equal(res.applied, 1);
    }
    dw_engine_delta_flush(p->a);
    sync_b(p);
    assert_true(assert_same_status(p) > 0);
    dw_engine_stats before;
    dw_engine_stats_get(p->b, &before);
    json_t *st_before = keyed_status(p->b);

    size_t dup_sections = 0;
    for (size_t i = 0; i < p->ndeltas; i++) {
        dw_delta_result dr;
        assert_int_equal(dw_engine_delta_apply(p->b, p->deltas[i].buf, p->deltas[i].len, &dr), 0);
        assert_false(dr.own);
        assert_int_equal(dr.sections, 0);
        assert_int_equal(dr.duplicates, p->deltas[i].ncover);
        assert_int_equal(dr.records, 0);
        dup_sections += dr.duplicates;
    }
    assert_true(dup_sections >= NSRC);
    dw_engine_stats after;
    dw_engine_stats_get(p->b, &after);
    assert_int_equal(after.delta_duplicates, before.delta_duplicates + dup_sections);
    assert_int_equal(after.deltas_in, before.deltas_in);
    assert_int_equal(after.applied, before.applied);
    assert_int_equal(after.delta_records_in, before.delta_records_in);
    json_t *st_after = keyed_status(p->b);
    same_json(st_before, st_after, "status");
    json_decref(st_before);
    json_decref(st_after);
    gsl_rng_free(r);
}

/* Its own delta, read back from the state topic, moves only A's offsets:
 * the counts are in its windows already. */
static void test_own_delta_moves_only_offsets(void **state)
{
    pair *p = *state;
    gsl_rng *r = dwt_rng(14);
    char msg[1024];
    dw_process_result res;
    /* Nothing read back yet. (Called on assignment, before the source has
     * pending counts: the sidecar flushes them when it loses a partition.) */
    assert_int_equal(dw_engine_source_resume(p->a, p->src_a[1]), -1);
    feed(p, 1, r, T0, 10, NULL);
    dw_engine_delta_flush(p->a);
    assert_int_equal(p->ndeltas, 1);
    assert_int_equal(p->deltas[0].ncover, 1);
    assert_int_equal(p->deltas[0].cover[0].partition, 1);
    assert_int_equal(p->deltas[0].cover[0].to, 10);

    dw_engine_stats before, after;
    dw_engine_stats_get(p->a, &before);
    json_t *st_before = keyed_status(p->a);
    dw_delta_result dr;
    assert_int_equal(dw_engine_delta_apply(p->a, p->deltas[0].buf, p->deltas[0].len, &dr), 0);
    assert_true(dr.own);
    assert_int_equal(dr.sections, 1);
    assert_int_equal(dr.duplicates, 0);
    assert_int_equal(dr.records, 0);
    dw_engine_stats_get(p->a, &after);
    assert_int_equal(after.applied, before.applied);
    assert_int_equal(after.deltas_in, 0);
    assert_int_equal(after.delta_records_in, 0);
    json_t *st_after = keyed_status(p->a);
    same_json(st_before, st_after, "status");
    json_decref(st_before);
    json_decref(st_after);
    assert_int_equal(dw_engine_source_resume(p->a, p->src_a[1]), 10);
    assert_int_equal(dw_engine_source_resume(p->a, p->src_a[0]), -1);
    assert_int_equal(dw_engine_source_resume(p->a, 0), -1);    /* source 0: files */
    assert_int_equal(dw_engine_source_resume(p->a, 9999), -1); /* no such source */

    /* Read back twice: a duplicate, even for its writer. */
    assert_int_equal(dw_engine_delta_apply(p->a, p->deltas[0].buf, p->deltas[0].len, &dr), 0);
    assert_int_equal(dr.sections, 0);
    assert_int_equal(dr.duplicates, 1);

    /* After the resume the next delta starts at the covered end. */
    int n = dwt_record(msg, sizeof msg, r, T0 + 10000, 0, NULL, NULL);
    send(p, 1, msg, (size_t)n, &res);
    dw_engine_delta_flush(p->a);
    assert_int_equal(p->ndeltas, 2);
    dw_delta d;
    assert_int_equal(dw_delta_decode(p->deltas[1].buf, p->deltas[1].len, &d), 0);
    assert_int_equal(d.nsections, 1);
    assert_int_equal(d.sections[0].from, 10);
    assert_int_equal(d.sections[0].to, 11);
    assert_true(d.writer == 0xA11CE);
    assert_true(d.seq == 2);
    dw_delta_free(&d);

    /* Nothing pending: a flush hands out nothing. */
    dw_engine_delta_flush(p->a);
    assert_int_equal(p->ndeltas, 2);
    gsl_rng_free(r);
}

/* A message put back because its partition ran ahead is not covered: a
 * restart must read it again. Once delivered again and counted, it is. */
/* Large counts in one group, summed from the log of counter indices: 1500
 * records in one pane of one partition, three categories and an unseen
 * one, each over 255 times. */
static void test_large_counts_in_one_group(void **state)
{
    pair *p = *state;
    gsl_rng *r = dwt_rng(16);
    char msg[1024];
    dw_process_result res;
    for (int i = 0; i < 1500; i++) {
        int n = dwt_record(msg, sizeof msg, r, T0 + i * 40, 0, "zz", NULL);
        send(p, 1, msg, (size_t)n, &res);
        assert_int_equal(res.applied, 1);
    }
    dw_engine_delta_flush(p->a);
    assert_int_equal(p->ndeltas, 1);
    dw_delta d;
    assert_int_equal(dw_delta_decode(p->deltas[0].buf, p->deltas[0].len, &d), 0);
    assert_int_equal(d.nsections, 1);
    assert_int_equal(d.sections[0].ngroups, 1);
    const dw_delta_grp *g = &d.sections[0].groups[0];
    assert_int_equal(g->records, 1500);
    uint64_t sum = 0;
    uint32_t big = 0;
    for (size_t i = 0; i < g->npairs; i++) {
        sum += g->counts[i];
        if (g->counts[i] > 255)
            big++;
    }
    assert_int_equal(g->nnames, 1);
    assert_true(g->names[0].count > 255 && g->names[0].count < 1500);
    sum += g->names[0].count;
    /* Four columns a record (features.x, y, c, prediction.score), and
     * features.c's three categories each well over 255. */
    assert_int_equal(sum, 6000);
    assert_true(big >= 3);
    dw_delta_free(&d);
    /* B merges the same windows. */
    sync_b(p);
    json_t *sa = keyed_status(p->a), *sb = keyed_status(p->b);
    same_json(sa, sb, "status");
    json_decref(sa);
    json_decref(sb);
    gsl_rng_free(r);
}

/* Own deltas read back advance the offsets from what the writer remembers
 * (not decoded): the same resume points and duplicate verdicts as decoding
 * them, also out of order, twice, or once forgotten. */
static void test_own_deltas_read_back_as_decoded(void **state)
{
    pair *p = *state;
    gsl_rng *r = dwt_rng(15);
    for (int k = 0; k < 4; k++) {
        feed(p, 1, r, T0 + k * 10000, 5, NULL);
        if (k % 2)
            feed(p, 2, r, T0 + k * 10000, 3, NULL);
        dw_engine_delta_flush(p->a);
    }
    assert_int_equal(p->ndeltas, 4);
    /* B, a fresh engine with A's writer id and no memory of the deltas,
     * decodes every one; A reads them back from memory. Order on the log:
     * 2, 1 (out of order: 1 is a duplicate of nothing, but 2 covered its
     * partition past it), 2 again, 3, 4, 4. */
    dw_engine_state_enable(p->b, 0xA11CE, NULL, NULL);
    int src_b[NSRC];
    for (int s = 0; s < NSRC; s++)
        src_b[s] = dw_engine_source(p->b, "in", s);
    static const int order[] = {1, 0, 1, 2, 3, 3};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const captured *c = &p->deltas[order[i]];
        dw_delta_result ra, rb;
        assert_int_equal(dw_engine_delta_apply(p->a, c->buf, c->len, &ra), 0);
        assert_int_equal(dw_engine_delta_apply(p->b, c->buf, c->len, &rb), 0);
        assert_true(ra.own && rb.own);
        assert_int_equal(ra.sections, rb.sections);
        assert_int_equal(ra.duplicates, rb.duplicates);
        assert_int_equal(ra.records, 0);
        assert_int_equal(rb.records, 0);
        for (int s = 0; s < NSRC; s++)
            assert_int_equal(dw_engine_source_resume(p->a, p->src_a[s]),
                             dw_engine_source_resume(p->b, src_b[s]));
    }
    assert_int_equal(dw_engine_source_resume(p->a, p->src_a[1]), 20);
    assert_int_equal(dw_engine_source_resume(p->a, p->src_a[2]), 6);
    dw_engine_stats sa, sb;
    dw_engine_stats_get(p->a, &sa);
    dw_engine_stats_get(p->b, &sb);
    assert_int_equal(sa.delta_duplicates, sb.delta_duplicates);
    assert_true(sa.delta_duplicates >= 3);
    assert_int_equal(sa.delta_records_in, 0);
    assert_int_equal(sb.delta_records_in, 0);
    gsl_rng_free(r);
}

static void test_ahead_message_is_not_covered(void **state)
{
    pair *p = *state;
    dw_engine_source_assigned(p->a, p->src_a[0], true);
    dw_engine_source_assigned(p->a, p->src_a[1], true);
    gsl_rng *r = dwt_rng(17);
    char msg[1024];
    dw_process_result res;
    int64_t t;
    int n = 0;
    /* Partition 0 runs ahead while partition 1 has said nothing. */
    for (t = 0; t < 60; t++) {
        n = dwt_record(msg, sizeof msg, r, T0 + t * 60000, 0, NULL, NULL);
        send(p, 0, msg, (size_t)n, &res);
        if (res.ahead)
            break;
    }
    char again[1024];
    memcpy(again, msg, (size_t)n); /* the consumer keeps it to deliver again */
    assert_true(res.ahead);
    int64_t ahead_off = p->off[0]; /* send() did not move past it */
    assert_int_equal(ahead_off, t);
    dw_engine_delta_flush(p->a);
    assert_int_equal(p->ndeltas, 1);
    assert_int_equal(p->deltas[0].ncover, 1);
    assert_int_equal(p->deltas[0].cover[0].to, ahead_off);
    sync_b(p);
    int bid = dw_engine_source(p->b, "in", 0);
    assert_int_equal(dw_engine_source_resume(p->b, bid), ahead_off);

    /* Partition 1 catches up; the message comes again and now counts. */
    for (int64_t u = 0; u <= t; u++) {
        int m = dwt_record(msg, sizeof msg, r, T0 + u * 60000 + 1000, 0, NULL, NULL);
        send(p, 1, msg, (size_t)m, &res);
        assert_false(res.ahead);
    }
    send(p, 0, again, (size_t)n, &res);
    assert_false(res.ahead);
    assert_int_equal(res.applied, 1);
    dw_engine_delta_flush(p->a);
    sync_b(p);
    assert_int_equal(dw_engine_source_resume(p->b, bid), ahead_off + 1);
    assert_int_equal(dw_engine_source_resume(p->b, dw_engine_source(p->b, "in", 1)), t + 1);
    dw_engine_flush(p->a);
    sync_b(p);
    dw_engine_flush(p->b);
    assert_true(assert_same_status(p) > 0);
    gsl_rng_free(r);
}

/* Deltas of another reference (a rollout in progress) or of a model this
 * configuration does not have are counted as foreign and not merged. */
static void test_foreign_deltas_are_not_merged(void **state)
{
    pair *p = *state;
    /* A third engine with the other reference writes a real delta. */
    dw_config *cfg2 = make_config(g_ref2);
    dw_engine *c = make_engine(cfg2);
    dw_engine_state_enable(c, 0xC, capture_delta, p);
    int src = dw_engine_source(c, "in", 0);
    gsl_rng *r = dwt_rng(15);
    char msg[1024];
    dw_process_result res;
    for (int i = 0; i < 20; i++) {
        int n = dwt_record(msg, sizeof msg, r, T0 + i * 1000, 0, NULL, i % 2 ? "v1" : NULL);
        dw_engine_source_offset(c, src, i + 1);
        dw_engine_process_from(c, src, msg, (size_t)n, INT64_MIN, &res);
        assert_int_equal(res.applied, 1);
    }
    dw_engine_delta_flush(c);
    assert_int_equal(p->ndeltas, 1);
    dw_delta d;
    assert_int_equal(dw_delta_decode(p->deltas[0].buf, p->deltas[0].len, &d), 0);
    size_t ngroups = d.sections[0].ngroups;
    assert_int_equal(ngroups, 2); /* (none) and v1 */
    dw_delta_free(&d);

    dw_delta_result dr;
    assert_int_equal(dw_engine_delta_apply(p->b, p->deltas[0].buf, p->deltas[0].len, &dr), 0);
    dw_engine_stats st;
    dw_engine_stats_get(p->b, &st);
    assert_int_equal(st.delta_foreign, ngroups);
    assert_int_equal(st.applied, 0);
    assert_int_equal(st.delta_records_in, 0);
    assert_int_equal(dr.records, 0);

    /* Hand-written: the right model with a checksum nobody has, and a
     * model the configuration does not know. */
    dw_delta_writer w = {0};
    static const uint32_t slots[] = {0, 3}, counts[] = {5, 5};
    dw_delta_begin(&w, 0xD, 1, 1);
    dw_delta_section(&w, "in", 2, 0, 5, T0, 2);
    dw_delta_group(&w, "m", NULL, "0000000000000000", T0, 5);
    dw_delta_pairs(&w, slots, counts, 2);
    dw_delta_names_begin(&w, 0);
    dw_delta_group(&w, "nope", "v1", "0000000000000000", T0, 5);
    dw_delta_pairs(&w, slots, counts, 2);
    dw_delta_names_begin(&w, 0);
    assert_int_equal(dw_engine_delta_apply(p->b, w.buf, w.len, &dr), 0);
    assert_int_equal(dr.sections, 1);
    dw_engine_stats_get(p->b, &st);
    assert_int_equal(st.delta_foreign, ngroups + 2);
    assert_int_equal(st.applied, 0);
    assert_int_equal(st.delta_invalid, 0);
    /* No state was made for them. */
    json_t *sb = keyed_status(p->b);
    assert_int_equal(json_object_size(json_object_get(sb, "models")), 0);
    json_decref(sb);

    dw_delta_writer_free(&w);
    gsl_rng_free(r);
    dw_engine_free(c);
    dw_config_free(cfg2);
}

/* Messages on the state topic that are not deltas are counted invalid and
 * change nothing. */
static void test_garbage_is_invalid(void **state)
{
    pair *p = *state;
    char msg[1024];
    gsl_rng *r = dwt_rng(16);
    dw_process_result res;
    int n = dwt_record(msg, sizeof msg, r, T0, 0, NULL, NULL);
    send(p, 0, msg, (size_t)n, &res);
    dw_engine_delta_flush(p->a);
    assert_int_equal(p->ndeltas, 1);
    const captured *c = &p->deltas[0];

    const char *json = "{\"ts\": 1795500000000, \"model\": \"m\"}";
    dw_delta_result dr;
    memset(&dr, 0xff, sizeof dr);
    assert_int_equal(dw_engine_delta_apply(p->b, json, strlen(json), &dr), DW_ERR_PARSE);
    assert_false(dr.own);
    assert_int_equal(dr.sections, 0);
    assert_int_equal(dw_engine_delta_apply(p->b, "", 0, &dr), DW_ERR_PARSE);
    assert_int_equal(dw_engine_delta_apply(p->b, c->buf, c->len - 1, &dr), DW_ERR_PARSE);
    uint8_t *longer = malloc(c->len + 1);
    memcpy(longer, c->buf, c->len);
    longer[c->len] = 'x';
    assert_int_equal(dw_engine_delta_apply(p->b, longer, c->len + 1, &dr), DW_ERR_PARSE);
    free(longer);
    dw_engine_stats st;
    dw_engine_stats_get(p->b, &st);
    assert_int_equal(st.delta_invalid, 4);
    assert_int_equal(st.deltas_in, 0);
    assert_int_equal(st.applied, 0);
    assert_int_equal(st.delta_duplicates, 0);
    /* The real one still applies afterwards (nothing was marked covered). */
    sync_b(p);
    dw_engine_stats_get(p->b, &st);
    assert_int_equal(st.deltas_in, 1);
    assert_int_equal(st.applied, 1);
    gsl_rng_free(r);
}

int main(void)
{
#define TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        TEST(test_replica_equals_writer),
        TEST(test_lagging_replica_equals_writer),
        cmocka_unit_test_setup_teardown(test_replica_equals_writer_one_slot, setup_one_new_category,
                                        teardown),
        TEST(test_message_across_pane_boundary),
        TEST(test_slot_reused_inside_a_message),
        TEST(test_late_record_of_new_version),
        TEST(test_ahead_and_late_counts),
        TEST(test_duplicate_delta_is_ignored),
        TEST(test_own_delta_moves_only_offsets),
        TEST(test_own_deltas_read_back_as_decoded),
        TEST(test_large_counts_in_one_group),
        TEST(test_ahead_message_is_not_covered),
        TEST(test_foreign_deltas_are_not_merged),
        TEST(test_garbage_is_invalid),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

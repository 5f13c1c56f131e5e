#!/usr/bin/python3
"""End-to-end tests of the streaming sidecar (issue 3, "Acceptance").

usage: test_sidecar.py DRIFTWATCH_BINARY

Real processes: `driftwatch mock-kafka` (one broker, one topic per case),
`driftwatch run -c CONFIG` (config written to a temporary directory), and
tests/integration/receiver.py as the webhook receiver (imported, on a thread
of this process). Records are produced with python3-confluent-kafka, with
explicit Kafka timestamps and an explicit partition per record so that every
partition is in event-time order. The reference statistics are built from
numpy training data with `driftwatch reference build`.

Cases (each a function; main() reports "N passed, N failed", exit 1 on any
failure):
  1. 2 h of event time without drift: no firing notification.
  2. continuing: 1 h with a 1-standard-deviation shift of one numeric column
     and a new category at 20 % in one categorical column, then 1 h normal:
     firing, then resolved, for exactly those two columns.
  3. malformed messages interleaved: exact counters per reason.
  4. SIGKILL mid-stream and restart: at-least-once from the committed offsets.
  5. `replay` of the same records gives the same notifications as `run`.
  6. webhook answering 500, 500, 200: one accepted delivery, consumption not
     blocked while the retries are pending.

"Wait until the sidecar has applied everything" is observed without timing
assumptions: the sidecar stores an offset only after its record is applied
to window state and commits stored offsets every kafka.commit_interval, so
the group's committed offsets reaching the partitions' end offsets means
every record was applied. Every wait polls a condition with a deadline.
"""
import json
import os
import re
import signal
import sys
import threading
import time
from datetime import datetime

import numpy as np

import harness as h
from harness import Receiver, check, remaining, run_cases, stderr_tail, stop, wait_for

DW = None
WORKDIR = None
BOOTSTRAP = None
BUDGET_S = 270  # whole run; meson's timeout is 300 s

MODEL = "itest"
VERSION = "v1"
NUMERIC = ["f%d" % i for i in range(10)]
MEANS = np.array([i * 1.5 - 3.0 for i in range(10)])
STDS = np.array([0.5 + 0.25 * i for i in range(10)])
C0 = (["DE", "FR", "US", "GB", "IT"], [0.35, 0.25, 0.2, 0.12, 0.08])
C1 = (["web", "ios", "android", "pos"], [0.4, 0.25, 0.25, 0.1])
SHIFT_COL = 3          # features.f3 moves by one standard deviation
NEW_CATEGORY = "kiosk"  # appears in features.c1 at 20 %
T0 = 1767225600000     # 2026-01-01T00:00:00Z, event time of case 1's first minute
MINUTE = 60000

# Topics: one per case so the cases do not see each other's records.
# Cases 1-4 use 3 partitions (the watermark is the minimum over partitions,
# and restarts resume per partition); cases 5 and 6 use 1 partition: replay
# reads one file in one order, which equals the Kafka order only when the
# topic has one partition, and in case 6 one partition makes "records after
# the notification" a well-defined part of the stream.
TOPICS = {"main": ("model-logs", 3), "malformed": ("malformed-logs", 3),
          "restart": ("restart-logs", 3), "replay": ("replay-logs", 1),
          "retry": ("retry-logs", 1)}


# ---------------------------------------------------------------- helpers

iso, spawn = h.iso, h.spawn


RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def parse_time(s):
    check(isinstance(s, str) and RFC3339.match(s), "not an RFC 3339 time: %r" % (s,))
    return int(round(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000))


# ---------------------------------------------------------------- data

def draw(rng, n, shifted=False):
    """n rows: numeric matrix, two categorical arrays and scores."""
    num = rng.normal(MEANS, STDS, size=(n, len(NUMERIC)))
    if shifted:
        num[:, SHIFT_COL] += STDS[SHIFT_COL]
    c0 = rng.choice(C0[0], n, p=C0[1])
    c1 = rng.choice(C1[0], n, p=C1[1]).astype(object)
    if shifted:
        c1[rng.random(n) < 0.2] = NEW_CATEGORY
    score = rng.beta(2.0, 5.0, n)
    return num, c0, c1, score


def record(ts, i, num, c0, c1, score, model=MODEL):
    feats = {name: round(float(num[k]), 4) for k, name in enumerate(NUMERIC)}
    feats["c0"] = str(c0)
    feats["c1"] = str(c1)
    return {"ts": int(ts), "model": model, "model_version": VERSION,
            "request_id": "r%d" % i, "features": feats,
            "prediction": {"score": round(float(score), 4)}}


def stream(rng, start_min, minutes, shifted=lambda minute: False, per_min=(100, 151),
           first_id=0):
    """Records for `minutes` event minutes from T0 + start_min, 100-150 a
    minute (drawn), timestamps sorted within the minute. Returns a list of
    (ts_ms, record dict)."""
    out = []
    rid = first_id
    for m in range(start_min, start_min + minutes):
        n = int(rng.integers(per_min[0], per_min[1]))
        num, c0, c1, score = draw(rng, n, shifted(m))
        offs = np.sort(rng.integers(0, MINUTE, n))
        for k in range(n):
            ts = T0 + m * MINUTE + int(offs[k])
            out.append((ts, record(ts, rid, num[k], c0[k], c1[k], score[k])))
            rid += 1
    return out


def build_reference(path):
    rng = np.random.default_rng(20260101)
    n = 20000
    num, c0, c1, score = draw(rng, n)
    ref = h.build_reference(DW, path, (record(i, i, num[i], c0[i], c1[i], score[i])
                                       for i in range(n)), model=MODEL)
    names = sorted(c["name"] for c in ref["columns"])
    want = sorted(["features." + c for c in NUMERIC] + ["features.c0", "features.c1",
                                                       "prediction.score"])
    check(names == want, "reference columns %s, expected %s" % (names, want))


# ---------------------------------------------------------------- kafka

def produce(topic, nparts, items):
    """items: (ts_ms, value bytes/str/dict) in event-time order; item i goes
    to partition i % nparts, so each partition stays in time order. Returns
    the number of messages per partition."""
    return h.produce(BOOTSTRAP, topic, items, nparts)


def Group(topic, nparts, group):
    """Committed offsets of a group and the topic's end offsets, read
    without joining the group."""
    return h.KafkaTopic(BOOTSTRAP, topic, nparts, group)


def write_config(name, topic, group, url, extra_sink="", idle="0"):
    path = os.path.join(WORKDIR, name + ".yaml")
    state = os.path.join(WORKDIR, name + "-state")
    os.makedirs(state, exist_ok=True)
    with open(path, "w") as f:
        f.write(h.config_head([(MODEL, os.path.join(WORKDIR, "ref.json"))], brokers=BOOTSTRAP,
                              topic=topic, group=group, fast=True))
        f.write("""time:
  idle_timeout: %s
sinks:
  - name: hook
    type: webhook
    url: "%s"
%shttp:
  enabled: false
state_dir: %s
log:
  level: %s
""" % (idle, url, extra_sink, state, os.environ.get("DW_ITEST_LOG_LEVEL", "info")))
    h.validate(DW, path)
    return path


def start_sidecar(config, name):
    return spawn([DW, "run", "-c", config], name)


def counters(proc):
    """The key=value pairs of the sidecar's final "counters:" log line."""
    out = h.counters(proc)
    for k in ("messages", "applied", "rejected.invalid_json", "rejected.unknown_model",
              "wrong_type_fields"):
        check(k in out, "counters line lacks %s: %s" % (k, out))
    return out


def docs_of(rx):
    """(document, request) pairs of the receiver's accepted (2xx) requests."""
    out = []
    for r in rx.requests():
        if r["answer"] == "200":
            out.append((json.loads(r["body"]), r))
    return out


def alerts_of(docs, status=None):
    return [a for d in docs for a in d["alerts"] if status is None or a["status"] == status]


def check_document(doc, req):
    """Fields docs/alerts.md documents for the native webhook document."""
    check(doc.get("version") == "1", "version %r" % doc.get("version"))
    check(doc.get("kind") == "drift", "kind %r" % doc.get("kind"))
    check(doc.get("model") == MODEL, "model %r" % doc.get("model"))
    check(doc.get("model_version") == VERSION, "model_version %r" % doc.get("model_version"))
    check(isinstance(doc.get("id"), str) and doc["id"], "id %r" % doc.get("id"))
    hdr = {k.lower(): v for k, v in req["headers"].items()}
    check(hdr.get("idempotency-key") == doc["id"],
          "Idempotency-Key %r != id %r" % (hdr.get("idempotency-key"), doc["id"]))
    check(hdr.get("content-type", "").startswith("application/json"),
          "Content-Type %r" % hdr.get("content-type"))
    parse_time(doc.get("evaluated_at"))
    parse_time(doc.get("sent_at"))
    check(isinstance(doc.get("alerts"), list) and doc["alerts"], "alerts empty or missing")
    for a in doc["alerts"]:
        check(a.get("status") in ("firing", "resolved"), "status %r" % a.get("status"))
        check(isinstance(a.get("column"), str), "column %r" % a.get("column"))
        check(a.get("window") == "15m", "window %r" % a.get("window"))
        ws, we = parse_time(a.get("window_start")), parse_time(a.get("window_end"))
        check(we - ws == 15 * MINUTE, "window [%s, %s) is not 15 minutes"
              % (a["window_start"], a["window_end"]))
        check(isinstance(a.get("samples"), int) and a["samples"] > 0,
              "samples %r" % a.get("samples"))
        check(isinstance(a.get("dedup_key"), str) and re.match(r"^[0-9a-f]{16}$",
                                                               a["dedup_key"]),
              "dedup_key %r" % a.get("dedup_key"))
        t = a.get("tests")
        check(isinstance(t, dict), "tests %r" % t)
        if a.get("kind") == "distribution":
            check(isinstance(t.get("psi"), (int, float)), "tests.psi %r" % t.get("psi"))
            test = "chi2" if a["column"] in ("features.c0", "features.c1") else "ks"
            sub = t.get(test)
            check(isinstance(sub, dict) and all(isinstance(sub.get(k), (int, float)) for k in
                                                ("statistic", "p_value", "p_adjusted")),
                  "%s: tests.%s %r" % (a["column"], test, sub))


# ---------------------------------------------------------------- cases

class Main:
    """State shared by cases 1 and 2 (one sidecar, one continuing stream)."""
    rx = None
    proc = None
    group = None
    produced = 0
    rng = np.random.default_rng(7)


def case1_no_drift():
    topic, nparts = TOPICS["main"]
    Main.rx = Receiver(["200"]).start()
    cfg = write_config("main", topic, "dw-main", Main.rx.url)
    Main.proc = start_sidecar(cfg, "sidecar-main")
    Main.group = Group(topic, nparts, "dw-main")
    recs = stream(Main.rng, 0, 120)
    produce(topic, nparts, recs)
    Main.produced += len(recs)
    Main.group.wait_caught_up(Main.proc, 90)
    firing = alerts_of([d for d, _ in docs_of(Main.rx)], "firing")
    check(not firing, "%d firing alerts without drift, e.g. %s"
          % (len(firing), json.dumps(firing[:2])[:800]))


def case2_drift_fires_and_resolves():
    check(Main.proc is not None, "case 1 did not start the sidecar")
    topic, nparts = TOPICS["main"]
    shift_start = T0 + 120 * MINUTE
    shift_end = T0 + 180 * MINUTE
    recs = stream(Main.rng, 120, 120, shifted=lambda m: m < 180,
                  first_id=Main.produced)
    produce(topic, nparts, recs)
    Main.produced += len(recs)
    Main.group.wait_caught_up(Main.proc, 90)
    want = {"features.f%d" % SHIFT_COL, "features.c1"}

    def resolved_both():
        cols = {a["column"] for a in alerts_of([d for d, _ in docs_of(Main.rx)], "resolved")}
        return want <= cols
    try:
        wait_for(resolved_both, 30, "resolved notifications for %s" % sorted(want))
    finally:
        pairs = docs_of(Main.rx)
    for doc, req in pairs:
        check_document(doc, req)
    docs = [d for d, _ in pairs]
    firing = alerts_of(docs, "firing")
    resolved = alerts_of(docs, "resolved")
    check({a["column"] for a in firing} == want,
          "firing columns %s, expected exactly %s" % (sorted({a["column"] for a in firing}),
                                                      sorted(want)))
    for col in sorted(want):
        f = [a for a in firing if a["column"] == col]
        r = [a for a in resolved if a["column"] == col]
        check(len(f) == 1, "%s: %d firing alerts, expected 1" % (col, len(f)))
        check(len(r) == 1, "%s: %d resolved alerts, expected 1" % (col, len(r)))
        f, r = f[0], r[0]
        check(f["kind"] == "distribution", "%s fired as %s" % (col, f["kind"]))
        we = parse_time(f["window_end"])
        check(shift_start < we <= shift_start + 10 * MINUTE,
              "%s fired at window_end %s, not within 10 minutes after the shift at %s"
              % (col, f["window_end"], iso(shift_start)))
        rwe = parse_time(r["window_end"])
        check(shift_end < rwe <= shift_end + 60 * MINUTE,
              "%s resolved at window_end %s, not in the hour after the shift ended at %s"
              % (col, r["window_end"], iso(shift_end)))
        check(r["dedup_key"] == f["dedup_key"], "%s: dedup_key changed from %s to %s"
              % (col, f["dedup_key"], r["dedup_key"]))
    c1 = [a for a in firing if a["column"] == "features.c1"][0]
    check(NEW_CATEGORY in c1.get("new_categories", []),
          "features.c1 alert does not name the new category: %r" % c1.get("new_categories"))
    rc = stop(Main.proc)
    check(rc == 0, "sidecar exited %d on SIGTERM" % rc)
    cnt = counters(Main.proc)
    check(cnt["applied"] == Main.produced, "applied=%d, produced %d valid records"
          % (cnt["applied"], Main.produced))
    bad = {k: v for k, v in cnt.items() if k.startswith("rejected.") and v}
    check(not bad, "rejections of valid records: %s" % bad)


def case3_malformed():
    topic, nparts = TOPICS["malformed"]
    rx = Receiver(["200"]).start()
    try:
        cfg = write_config("malformed", topic, "dw-malformed", rx.url)
        proc = start_sidecar(cfg, "sidecar-malformed")
        rng = np.random.default_rng(33)
        valid = stream(rng, 0, 20)
        # Each is not JSON as a whole, so each counts once, under
        # invalid_json, and nothing of it is applied ('[{"ts": 1}' is a
        # truncated array whose first element alone would parse).
        bad_json = ['not json at all', '{"ts": 1767225600000, "model": "itest", "features": {',
                    '{"ts": 1767225600000, model: "itest"}', '{"ts": ,}', '[{"ts": 1}',
                    '{"ts": 1767225600000 "model": "itest"}']
        items = []
        n_bad = n_wrong = n_unknown = 0
        for i, (ts, rec) in enumerate(valid):
            items.append((ts, rec))
            if i % 50 == 7:
                items.append((ts, bad_json[n_bad % len(bad_json)]))
                n_bad += 1
            if i % 50 == 21:
                w = json.loads(json.dumps(rec))
                w["request_id"] = "wrong-%d" % i
                w["features"]["f%d" % (i % 10)] = ["abc", True, "high", False][n_wrong % 4]
                items.append((ts, w))
                n_wrong += 1
            if i % 50 == 36:
                u = json.loads(json.dumps(rec))
                u["model"] = "no-such-model"
                items.append((ts, u))
                n_unknown += 1
        produce(topic, nparts, items)
        group = Group(topic, nparts, "dw-malformed")
        try:
            group.wait_caught_up(proc, 90)
        finally:
            group.close()
        check(proc.poll() is None, "sidecar stopped after malformed input:\n%s"
              % stderr_tail(proc))
        rc = stop(proc)
        check(rc == 0, "sidecar exited %d on SIGTERM" % rc)
        cnt = counters(proc)
        want = {"messages": len(items), "applied": len(valid) + n_wrong,
                "rejected.invalid_json": n_bad, "rejected.unknown_model": n_unknown,
                "wrong_type_fields": n_wrong}
        got = {k: cnt.get(k) for k in want}
        check(got == want, "counters %s, expected %s (differing: %s)"
              % (got, want, sorted(k for k in want if got[k] != want[k])))
        other = {k: v for k, v in cnt.items() if k.startswith("rejected.") and v and
                 k not in want}
        check(not other, "unexpected rejections: %s" % other)
    finally:
        rx.stop()


def case4_sigkill_restart():
    topic, nparts = TOPICS["restart"]
    rx = Receiver(["200"]).start()
    group = Group(topic, nparts, "dw-restart")
    try:
        cfg = write_config("restart", topic, "dw-restart", rx.url)
        proc = start_sidecar(cfg, "sidecar-restart-1")
        rng = np.random.default_rng(44)
        recs = stream(rng, 0, 120)
        total = len(recs)
        done = threading.Event()
        failure = []
        CHUNK = 500

        def producer():
            # A steady stream, so the kill lands while records are arriving.
            try:
                for k in range(CHUNK, total, CHUNK):
                    # Each chunk is in time order and follows the
                    # previous one, so every partition stays in order.
                    produce(topic, nparts, recs[k:k + CHUNK])
                    time.sleep(0.05)
            except Exception as e:  # reported by the main thread
                failure.append(e)
            finally:
                done.set()
        # The first chunk, then the rest only once the sidecar has joined
        # and commits: the group join (~3 s) must not outlast the stream.
        produce(topic, nparts, recs[:CHUNK])
        wait_for(lambda: sum(group.committed()) > 0, 60, "the first sidecar to commit", 0.05)
        t = threading.Thread(target=producer, daemon=True)
        t.start()
        wait_for(lambda: sum(group.committed()) >= 4 * CHUNK or done.is_set(), 60,
                 "the first sidecar to commit %d offsets" % (4 * CHUNK), 0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=remaining(10))
        check(not done.is_set() or failure,
              "the producer finished before the kill: not mid-stream")
        t.join(remaining(60))
        check(not failure, "producer failed: %s" % (failure[:1],))
        ends = group.ends()
        check(sum(ends) == total, "end offsets %s, produced %d" % (ends, total))
        committed = group.committed()
        after = sum(e - c for e, c in zip(ends, committed))
        check(0 < after < total, "committed %s of %s after SIGKILL: the kill was not "
              "mid-stream" % (committed, ends))
        proc2 = start_sidecar(cfg, "sidecar-restart-2")
        try:
            # ~10 s: the dead member's session times out (6 s), the group
            # rebalances, then a few thousand records take well under 1 s
            group.wait_caught_up(proc2, 45)
        except AssertionError as e:
            stop(proc2)
            cnt = counters(proc2)
            raise AssertionError("restarted sidecar made no full progress: %s; at SIGTERM it "
                                 "had applied %d of the %d records after the committed "
                                 "offsets %s (counters %s)"
                                 % (e, cnt["applied"], after, committed, cnt))
        rc = stop(proc2)
        check(rc == 0, "restarted sidecar exited %d on SIGTERM" % rc)
        cnt = counters(proc2)
        check(cnt["applied"] == after,
              "restarted sidecar applied %d records; %d were after the committed offsets "
              "%s (ends %s)" % (cnt["applied"], after, committed, ends))
    finally:
        group.close()
        rx.stop()


def case5_replay_equals_run():
    topic, nparts = TOPICS["replay"]
    rx_run = Receiver(["200"]).start()
    rx_replay = Receiver(["200"]).start()
    try:
        rng = np.random.default_rng(55)
        recs = stream(rng, 0, 100, shifted=lambda m: 30 <= m < 60)
        values = [json.dumps(r, separators=(",", ":")) for _, r in recs]
        cfg = write_config("replay-run", topic, "dw-replay", rx_run.url)
        proc = start_sidecar(cfg, "sidecar-replay-run")
        produce(topic, nparts, [(ts, v) for (ts, _), v in zip(recs, values)])
        group = Group(topic, nparts, "dw-replay")
        try:
            group.wait_caught_up(proc, 90)
        finally:
            group.close()
        rc = stop(proc)
        check(rc == 0, "sidecar exited %d on SIGTERM" % rc)
        run_cnt = counters(proc)
        check(run_cnt["notifications"] > 0, "run emitted no notifications (no drift seen)")
        # the run's notifications were drained before exit; replay's too
        logs = os.path.join(WORKDIR, "replay.jsonl")
        with open(logs, "w") as f:
            f.write("\n".join(values) + "\n")
        cfg2 = write_config("replay-file", topic, "dw-replay-unused", rx_replay.url)
        r = h.run([DW, "replay", "-c", cfg2, logs], timeout=120)
        check(r.returncode == 0, "replay exited %d: %s" % (r.returncode, r.stderr[-2000:]))

        def bodies(rx):
            out = []
            for doc, _ in docs_of(rx):
                doc.pop("sent_at", None)
                out.append(doc)
            return out
        a, b = bodies(rx_run), bodies(rx_replay)
        check(len(a) == run_cnt["notifications"],
              "receiver got %d documents, run emitted %d" % (len(a), run_cnt["notifications"]))
        check(len(a) > 0, "no notifications to compare")
        check([d["id"] for d in a] == [d["id"] for d in b],
              "ids differ: run %s, replay %s" % ([d["id"] for d in a], [d["id"] for d in b]))
        for x, y in zip(a, b):
            kx = [al["dedup_key"] for al in x["alerts"]]
            ky = [al["dedup_key"] for al in y["alerts"]]
            check(kx == ky, "dedup keys differ in %s: %s vs %s" % (x["id"], kx, ky))
            check(x == y, "document %s differs:\nrun    %s\nreplay %s"
                  % (x["id"], json.dumps(x, sort_keys=True)[:1500],
                     json.dumps(y, sort_keys=True)[:1500]))
        check(len(a) == len(b), "run delivered %d documents, replay %d" % (len(a), len(b)))
    finally:
        rx_run.stop()
        rx_replay.stop()


class GatedReceiver(Receiver):
    """Holds the first 200 answer until gate is set (at most 60 s), so the
    test can look at the consumer while that delivery is still pending."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.gate = threading.Event()
        self.held = threading.Event()

    def _record(self, handler, body):
        answer = super()._record(handler, body)
        if answer == "200" and not self.held.is_set():
            self.held.set()
            self.gate.wait(60)
        return answer


def case6_retry_does_not_block():
    topic, nparts = TOPICS["retry"]
    rx = GatedReceiver(["500", "500", "200"])
    rx.start()
    try:
        # sink timeout 90 s: the held request must not time out and be retried
        cfg = write_config("retry", topic, "dw-retry", rx.url)
        with open(cfg) as f:
            text = f.read()
        text = text.replace('    url: "%s"\n' % rx.url,
                            '    url: "%s"\n    timeout: 90s\n    max_retries: 5\n' % rx.url)
        with open(cfg, "w") as f:
            f.write(text)
        proc = start_sidecar(cfg, "sidecar-retry")
        rng = np.random.default_rng(66)
        # drift from minute 5: the first notification comes about 10 event
        # minutes in, and 80 more minutes of records follow it
        recs = stream(rng, 0, 90, shifted=lambda m: m >= 5)
        produce(topic, nparts, recs)
        group = Group(topic, nparts, "dw-retry")
        try:
            wait_for(lambda: rx.held.is_set(), 60,
                     "the third delivery attempt (the one answered 200)")
            # the delivery is pending (500, 500, and the 200 held back):
            # the consumer must still apply and commit every record
            group.wait_caught_up(proc, 60)
        finally:
            group.close()
            rx.gate.set()
        reqs = rx.requests()
        first = json.loads(reqs[0]["body"])["id"]
        check([r["answer"] for r in reqs[:3]] == ["500", "500", "200"],
              "answers %s" % [r["answer"] for r in reqs[:3]])
        check(all(json.loads(r["body"])["id"] == first for r in reqs[:3]),
              "the three first attempts are not one notification")
        rc = stop(proc)
        check(rc == 0, "sidecar exited %d on SIGTERM" % rc)
        cnt = counters(proc)
        check(cnt["applied"] == len(recs), "applied=%d, produced %d" % (cnt["applied"],
                                                                        len(recs)))
        reqs = rx.requests()
        same = [r for r in reqs if json.loads(r["body"])["id"] == first]
        accepted = [r for r in same if r["answer"] == "200"]
        check(len(accepted) == 1, "notification %s accepted %d times (attempts: %s)"
              % (first, len(accepted), [r["answer"] for r in same]))
        check(len(same) == 3, "notification %s attempted %d times, expected 3"
              % (first, len(same)))
        for r in reqs:
            check_document(json.loads(r["body"]), r)
        check(cnt.get("delivery_failed", 0) == 0, "delivery_failed=%s"
              % cnt.get("delivery_failed"))
    finally:
        rx.gate.set()
        rx.stop()


CASES = [case1_no_drift, case2_drift_fires_and_resolves, case3_malformed,
         case4_sigkill_restart, case5_replay_equals_run, case6_retry_does_not_block]


def main(argv):
    global DW, WORKDIR, BOOTSTRAP
    DW, only = h.args(argv, __doc__, BUDGET_S)
    WORKDIR = h.workdir("dw-itest-")
    build_reference(os.path.join(WORKDIR, "ref.json"))
    mock, BOOTSTRAP = h.mock_kafka(DW, dict(TOPICS.values()))
    try:
        passed, failed = run_cases(CASES, only)
    finally:
        if Main.group:
            Main.group.close()
            Main.group = None
    check(stop(mock) == 0, "mock-kafka did not exit 0 on SIGTERM")
    return h.report(passed, failed)


if __name__ == "__main__":
    h.main(main, sys.argv)

#!/usr/bin/python3
"""Acceptance tests of the sidecar's process behaviour (issue 5, "Signals"):
`driftwatch run` against `driftwatch mock-kafka`, records produced with
python3-confluent-kafka, notifications to local receivers
(tests/integration/receiver.py, on threads of this process).

usage: test_operations.py DRIFTWATCH_BINARY [CASE...]

  1. SIGTERM during traffic, receiver answering 200: exit 0 within
     shutdown_budget + a few seconds while a producer is still writing; the
     group's committed offsets equal the records applied (the `counters:`
     log line); every notification was delivered before exit and the outbox
     is empty.
  2. SIGTERM during traffic, receiver answering 503: exit 0 within the
     budget; committed offsets equal what was applied; every notification
     is left in <state_dir>/outbox/<sink>/ (one file each, among them every
     one the receiver refused), and the next start delivers each of them
     once to a receiver that now answers 200.
  3. SIGHUP: started with thresholds no drift can clear (psi 50, ks 1), a
     drifted column does not fire; a SIGHUP with a broken file is refused
     with `<file>:<line>` in the log, the sidecar keeps consuming on the old
     configuration (still no alert) and /readyz stays 200; a SIGHUP with
     normal thresholds (and the sink moved to another receiver) makes the
     very next evaluation fire, at the new receiver, over a window
     that still holds the records applied before the reload (its sample
     count equals what this test produced in its bounds), and applied keeps
     counting across both reloads.

"Everything produced has been applied" is observed as the group's
committed offsets reaching the end offsets (the sidecar stores an offset
only after applying its record). Every wait polls a condition with a
deadline. Prints "N passed, N failed"; exit 1 on any failure.
"""
import glob
import json
import os
import signal
import sys
import threading
import time

import numpy as np

import harness as h
from harness import (Receiver, check, counters, log_msgs, remaining, run_cases, stderr_tail,
                     wait_for)

DW = None
WORKDIR = None
BOOTSTRAP = None
BUDGET_S = 210  # whole run; meson's timeout is 240 s

MODEL = "ops"
NAMES = ["f%d" % i for i in range(6)]
MINUTE = 60000
T0 = 1767225600000  # 2026-01-01T00:00:00Z
SHUTDOWN_BUDGET_S = 4
EXIT_SLACK_S = 5  # process start-up of the final commit, consumer close, frees
TOPICS = {"flush": 2, "outbox": 2, "reload": 1}
SEEDS = {"flush": 4001, "outbox": 4002}


# ---------------------------------------------------------------- helpers

iso, ms_of, spawn = h.iso, h.ms_of, h.spawn


def terminate(proc, cap):
    """SIGTERM; returns (exit status, seconds until exit)."""
    t = time.monotonic()
    rc = h.stop(proc, cap)
    return rc, time.monotonic() - t


# ---------------------------------------------------------------- data

def record(ts, i, row):
    return {"ts": int(ts), "model": MODEL, "model_version": "v1", "request_id": "r%d" % i,
            "features": {n: round(float(v), 4) for n, v in zip(NAMES, row)}}


def build_reference(path):
    rng = np.random.default_rng(5001)
    x = rng.normal(0.0, 1.0, size=(20000, len(NAMES)))
    h.build_reference(DW, path, (record(i, i, x[i]) for i in range(len(x))), model=MODEL)


def minutes(rng, start, count, per_min, drifted, first_id):
    """Records of event minutes [start, start + count); drifted(minute)
    shifts f0 by one standard deviation. Returns [(ts, json text)]."""
    out = []
    rid = first_id
    for m in range(start, start + count):
        x = rng.normal(0.0, 1.0, size=(per_min, len(NAMES)))
        if drifted(m):
            x[:, 0] += 1.0
        offs = np.sort(rng.integers(0, MINUTE, per_min))
        for k in range(per_min):
            ts = T0 + m * MINUTE + int(offs[k])
            out.append((ts, json.dumps(record(ts, rid, x[k]), separators=(",", ":"))))
            rid += 1
    return out


# ---------------------------------------------------------------- kafka

def Kafka(topic, nparts, group):
    """A producer and an offsets reader (outside the sidecar's group) for
    one topic."""
    return h.KafkaTopic(BOOTSTRAP, topic, nparts, group)


def write_config(name, topic, group, url, thresholds="", extra="", sink_extra=""):
    path = os.path.join(WORKDIR, name + ".yaml")
    state = os.path.join(WORKDIR, name + "-state")
    os.makedirs(state, exist_ok=True)
    text = h.config_head([(MODEL, os.path.join(WORKDIR, "ref.json"))], brokers=BOOTSTRAP,
                         topic=topic, group=group, fast=True)
    text += """time:
  idle_timeout: 0
%ssinks:
  - name: hook
    type: webhook
    url: "%s"
%s%sstate_dir: %s
shutdown_budget: %ds
""" % (thresholds, url, sink_extra, extra, state, SHUTDOWN_BUDGET_S)
    with open(path, "w") as f:
        f.write(text)
    return path, state


def validate(path):
    r = h.run([DW, "validate", "-c", path], timeout=30)
    return r.returncode, r.stdout + r.stderr


class Paced:
    """Produces minutes of records in small chunks on a thread until
    stopped, so a signal lands while records are arriving."""

    def __init__(self, kafka, rng, drifted, start_minute=0, per_min=200):
        self.kafka, self.rng, self.drifted = kafka, rng, drifted
        self.minute, self.per_min = start_minute, per_min
        self.stop = threading.Event()
        self.failure = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            while not self.stop.is_set():
                items = minutes(self.rng, self.minute, 1, self.per_min, self.drifted,
                                self.kafka.sent)
                self.kafka.produce(items)
                self.minute += 1
                self.stop.wait(0.05)  # ~20 event minutes a second
        except Exception as e:  # reported by the main thread
            self.failure.append(e)

    def start(self):
        self.thread.start()
        return self

    def finish(self):
        self.stop.set()
        self.thread.join(remaining(30))
        check(not self.failure, "producer failed: %s" % self.failure[:1])


def episodes(m):
    """f0 drifts in alternating 20-minute stretches from minute 5."""
    return m >= 5 and ((m - 5) // 20) % 2 == 0


def outbox_docs(state):
    files = sorted(glob.glob(os.path.join(state, "outbox", "hook", "*.json")))
    docs = []
    for f in files:
        with open(f) as fh:
            docs.append(json.load(fh))
    return files, docs


# ---------------------------------------------------------------- cases

def sigterm_during_traffic(name, rx, group_name):
    """Starts run + a paced producer, waits for the first delivery attempt,
    sends SIGTERM mid-stream. Returns (proc, kafka, state, counters)."""
    kafka = Kafka(name, TOPICS[name], group_name)
    cfg, state = write_config(name, name, group_name, rx.url,
                              sink_extra="    max_retries: 100\n",
                              extra="http:\n  enabled: false\n")
    rc, out = validate(cfg)
    check(rc == 0, "validate: %s" % out)
    proc = spawn([DW, "run", "-c", cfg], "sidecar-" + name)
    prod = Paced(kafka, np.random.default_rng(SEEDS[name]), episodes).start()
    try:
        wait_for(lambda: len(rx.requests()) >= 1 and sum(kafka.committed()) > 0, 90,
                 "a notification attempt and a commit while traffic flows", 0.1)
        check(proc.poll() is None, "sidecar exited early:\n%s" % stderr_tail(proc))
        check(prod.thread.is_alive(), "the producer stopped before SIGTERM")
        rc, took = terminate(proc, SHUTDOWN_BUDGET_S + 30)
    finally:
        prod.finish()
    check(rc == 0, "exit status %d after SIGTERM:\n%s" % (rc, stderr_tail(proc)))
    check(took <= SHUTDOWN_BUDGET_S + EXIT_SLACK_S, "exit took %.1f s after SIGTERM, budget %d s"
          % (took, SHUTDOWN_BUDGET_S))
    cnt = counters(proc)
    committed = kafka.committed()
    ends = kafka.ends()
    check(cnt["applied"] > 0, "nothing applied: %s" % cnt)
    bad = {k: v for k, v in cnt.items() if k.startswith("rejected.") and v}
    check(not bad, "rejections: %s" % bad)
    check(sum(committed) == cnt["applied"], "committed offsets %s (sum %d) but %d records "
          "applied: the final commit %s" % (committed, sum(committed), cnt["applied"],
                                           "is missing" if sum(committed) < cnt["applied"]
                                           else "covers unapplied records"))
    print("  %s: exit 0 %.1f s after SIGTERM; applied=%d committed=%s ends=%s "
          "notifications=%d delivered=%d" % (name, took, cnt["applied"], committed, ends,
                                             cnt["notifications"], cnt["delivered"]), flush=True)
    check(sum(ends) > sum(committed), "the producer wrote nothing after the commit (ends %s): "
          "SIGTERM did not land during traffic" % ends)
    return proc, kafka, cfg, state, cnt


def case1_sigterm_flushes_notifications():
    rx = Receiver(["200"]).start()
    kafka = None
    try:
        proc, kafka, cfg, state, cnt = sigterm_during_traffic("flush", rx, "dw-ops-flush")
        ok = [q for q in rx.requests() if q["answer"] == "200"]
        check(cnt["notifications"] >= 1, "no notification was made: %s" % cnt)
        check(cnt["delivered"] == cnt["notifications"] == len(ok),
              "notifications=%d delivered=%d, receiver accepted %d: pending notifications "
              "were not flushed" % (cnt["notifications"], cnt["delivered"], len(ok)))
        ids = [json.loads(q["body"])["id"] for q in ok]
        check(len(set(ids)) == len(ids), "a notification was delivered twice: %s" % ids)
        files, _ = outbox_docs(state)
        check(not files, "delivered notifications left in the outbox: %s" % files)
    finally:
        if kafka:
            kafka.close()
        rx.stop()


def case2_sigterm_keeps_undelivered_in_outbox():
    down = Receiver(["503"]).start()
    kafka = None
    try:
        proc, kafka, cfg, state, cnt = sigterm_during_traffic("outbox", down, "dw-ops-outbox")
        check(cnt["delivered"] == 0, "delivered=%d to a receiver answering 503"
              % cnt["delivered"])
        files, docs = outbox_docs(state)
        check(len(files) == cnt["notifications"] >= 1,
              "%d outbox files for %d undelivered notifications:\n%s"
              % (len(files), cnt["notifications"], "\n".join(files)))
        kept = {d["id"] for d in docs}
        check(len(kept) == len(docs), "duplicate ids in the outbox: %s" % sorted(kept))
        tried = {json.loads(q["body"])["id"] for q in down.requests()}
        print("  outbox: %d files kept, %d of them attempted" % (len(files), len(tried)),
              flush=True)
        check(tried <= kept, "refused notifications missing from the outbox: %s"
              % sorted(tried - kept))
    finally:
        down.stop()
    # The next start (same sink name and state_dir, the receiver back with
    # 200) delivers each kept notification once.
    up = Receiver(["200"]).start()
    try:
        with open(cfg) as f:
            text = f.read()
        with open(cfg, "w") as f:
            f.write(text.replace(down.url, up.url))
        proc2 = spawn([DW, "run", "-c", cfg], "sidecar-outbox-2")

        def delivered_ids():
            return [json.loads(q["body"])["id"] for q in up.requests() if q["answer"] == "200"]
        wait_for(lambda: kept <= set(delivered_ids()), 60,
                 "the %d kept notifications to be delivered after the restart" % len(kept))
        kafka.wait_caught_up(proc2, 60)
        rc, _ = terminate(proc2, SHUTDOWN_BUDGET_S + 30)
        check(rc == 0, "restarted sidecar exit status %d" % rc)
        got = delivered_ids()
        twice = sorted(i for i in kept if got.count(i) != 1)
        check(not twice, "kept notifications delivered %s times: %s"
              % ([got.count(i) for i in twice], twice))
        files, _ = outbox_docs(state)
        check(not files, "outbox not emptied after delivery: %s" % files)
    finally:
        up.stop()
        kafka.close()


HIGH = "thresholds:\n  psi: 50\n  ks: 1.0\nalerts:\n  for: 1\n"
NORMAL = "thresholds:\n  psi: 0.2\n  ks: 0.1\nalerts:\n  for: 1\n"


def http_get(base, path):
    code, _, body = h.http("GET", base + path)
    return code, body


def case3_sighup_reload():
    rx = Receiver(["200"]).start()
    rx2 = Receiver(["200"]).start()
    kafka = Kafka("reload", 1, "dw-ops-reload")
    proc = None
    try:
        cfg, state = write_config("reload", "reload", "dw-ops-reload", rx.url, HIGH,
                                  extra="http:\n  listen: 127.0.0.1:0\n")
        rc, out = validate(cfg)
        check(rc == 0, "validate: %s" % out)
        port_file = os.path.join(WORKDIR, "reload.port")
        proc = spawn([DW, "run", "-c", cfg], "sidecar-reload",
                     env=dict(os.environ, DW_HTTP_PORT_FILE=port_file))
        wait_for(lambda: os.path.exists(port_file), 30, "the HTTP port file")
        base = "http://127.0.0.1:%d" % int(open(port_file).read().strip())
        rng = np.random.default_rng(6001)
        produced = []

        def produce(start, count):
            items = minutes(rng, start, count, 200, lambda m: m >= 3, len(produced))
            produced.extend(ts for ts, _ in items)
            kafka.produce(items)
            kafka.wait_caught_up(proc, 60)

        def status():
            code, body = http_get(base, "/api/v1/status")
            check(code == 200, "/api/v1/status answered %d" % code)
            return json.loads(body)

        def f0(st):
            col = [c for c in st["models"][0]["columns"] if c["name"] == "features.f0"][0]
            return col["windows"]["15m"]

        def settled():
            """The published snapshot once it shows every evaluation the
            live counters report (it is throttled to one a second)."""
            st = status()
            if not st["models"] or not st["models"][0]["windows"][0]["evaluated"]:
                return None
            end = ms_of(st["models"][0]["windows"][0]["end"])
            return st if end == T0 + st["counters"]["evaluations"] * MINUTE else None

        # phase 1: f0 drifts from minute 3, but nothing can clear psi 50 / ks 1
        produce(0, 25)
        st = wait_for(settled, 30, "the status snapshot to catch up")
        w = f0(st)
        check(w["tests"]["ks"]["statistic"] > 0.2 and not w["drift"] and w["state"] == "inactive",
              "phase 1: f0 should be visibly shifted but not drifting under psi 50 / ks 1: %s"
              % {k: w.get(k) for k in ("tests", "drift", "state")})
        check(not rx.requests(), "notified under thresholds nothing can clear")

        # a broken file: refused with file:line, old configuration kept
        with open(cfg) as f:
            good_high = f.read()
        broken = good_high.replace(HIGH, NORMAL.replace("  ks: 0.1\n", "  ks: lots\n"))
        check(broken != good_high, "could not write the broken file")
        line = broken.splitlines().index("  ks: lots") + 1
        with open(cfg, "w") as f:
            f.write(broken)
        rc, out = validate(cfg)
        check(rc != 0, "validate accepted the broken file")
        os.kill(proc.pid, signal.SIGHUP)
        want = "%s:%d" % (cfg, line)
        msg = wait_for(lambda: [m for m in log_msgs(proc) if "reload refused" in m], 30,
                       "the refused reload in the log")[0]
        check(want in msg and "ks" in msg, "refusal %r does not name %s and the key" % (msg,
                                                                                       want))
        print("  reload refused: %s" % msg, flush=True)
        check(proc.poll() is None, "sidecar exited after a broken reload:\n%s"
              % stderr_tail(proc))
        code, body = http_get(base, "/readyz")
        check(code == 200, "/readyz answered %d %r after a refused reload" % (code, body))

        # phase 2: still consuming, still on psi 50 / ks 1
        produce(25, 15)
        code, body = http_get(base, "/readyz")
        check(code == 200, "/readyz answered %d %r" % (code, body))
        check(not rx.requests(), "notified after a refused reload: the broken file's "
              "thresholds were applied")
        st = wait_for(settled, 30, "the status snapshot to catch up")
        last_eval = ms_of(st["models"][0]["windows"][0]["end"])
        check(not f0(st)["drift"], "f0 drifting before the good reload")

        # a good file with normal thresholds, and the sink moved to another
        # receiver (sinks too apply from the next evaluation)
        with open(cfg, "w") as f:
            f.write(good_high.replace(HIGH, NORMAL).replace(rx.url, rx2.url))
        rc, out = validate(cfg)
        check(rc == 0, "validate: %s" % out)
        os.kill(proc.pid, signal.SIGHUP)
        wait_for(lambda: any(m.startswith("configuration reloaded") for m in log_msgs(proc)),
                 30, "the reload in the log")

        # phase 3: the next evaluation fires
        produce(40, 10)
        docs = wait_for(lambda: [json.loads(q["body"]) for q in rx2.requests()], 30,
                        "a notification at the new sink URL after the reload")
        check(not rx.requests(), "the old sink URL got %d requests after the reload"
              % len(rx.requests()))
        first = docs[0]
        fired = [a for a in first["alerts"] if a["status"] == "firing"]
        check([a["column"] for a in fired] == ["features.f0"],
              "first notification after the reload fires %s" % [a["column"] for a in fired])
        check(ms_of(first["evaluated_at"]) == last_eval + MINUTE,
              "fired at %s, the next evaluation after the reload was %s"
              % (first["evaluated_at"], iso(last_eval + MINUTE)))
        a = fired[0]
        print("  reload: fired at %s (last evaluation before the reload %s), samples=%d"
              % (first["evaluated_at"], iso(last_eval), a["samples"]), flush=True)
        ws, we = ms_of(a["window_start"]), ms_of(a["window_end"])
        in_window = sum(1 for ts in produced if ws <= ts < we)
        check(ws < T0 + 40 * MINUTE, "the firing window [%s, %s) holds no record from before "
              "the reload" % (a["window_start"], a["window_end"]))
        check(a["samples"] == in_window, "the firing window [%s, %s) has %d samples; %d records "
              "were produced in it: window state was %s across the reload"
              % (a["window_start"], a["window_end"], a["samples"], in_window,
                 "lost" if a["samples"] < in_window else "double-counted"))

        rc, _ = terminate(proc, SHUTDOWN_BUDGET_S + 30)
        check(rc == 0, "exit status %d after SIGTERM" % rc)
        cnt = counters(proc)
        check(cnt["applied"] == len(produced) == sum(kafka.committed()),
              "applied=%d, produced %d, committed %d: applied did not keep counting across "
              "the reloads" % (cnt["applied"], len(produced), sum(kafka.committed())))
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait(5)
        kafka.close()
        rx.stop()
        rx2.stop()


CASES = [case1_sigterm_flushes_notifications, case2_sigterm_keeps_undelivered_in_outbox,
         case3_sighup_reload]


def main(argv):
    global DW, WORKDIR, BOOTSTRAP
    DW, only = h.args(argv, __doc__, BUDGET_S)
    WORKDIR = h.workdir("dw-ops-")
    build_reference(os.path.join(WORKDIR, "ref.json"))
    mock, BOOTSTRAP = h.mock_kafka(DW, TOPICS)
    passed, failed = run_cases(CASES, only)
    rc, _ = terminate(mock, 20)
    check(rc == 0, "mock-kafka exited %d on SIGTERM" % rc)
    return h.report(passed, failed)


if __name__ == "__main__":
    h.main(main, sys.argv)

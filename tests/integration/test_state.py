#!/usr/bin/python3
"""Window state on Kafka (issue 8, "Done when"), end to end.

usage: test_state.py DRIFTWATCH_BINARY [CASE...]

Real processes: `driftwatch mock-kafka`, `driftwatch run` (several at once,
with `state.topic`), webhook receivers, python3-confluent-kafka producers.
Records carry explicit timestamps and go to partition i % nparts, so every
partition is in event-time order and no record is late: then every window
count is determined by the records alone, and runs that saw the same records
must agree exactly.

Cases:
  kill_and_replicas:
            one replica SIGKILLed 3 times while 2 h of event time arrive over
            6 partitions, restarted each time; at the end its windows
            (samples and statistics of every column and window) equal an
            uninterrupted run's over the same records, and so do the alerts
            (and those of `driftwatch replay` of the same records).
            At the same time, on the same stream,
            3 replicas in one group over the same 6 partitions: each one's
            windows equal the single run's; every alert transition reaches
            the receiver once; the leader is SIGKILLed after an alert fired
            and the new leader sends the resolve with the same dedup key.
  restart   stop after 50 event minutes of a 1 h window, start again: the
            first status after the restart holds all 50 minutes.
  fresh_alert
            SIGKILL 5 s after an alert fired: after the restart the resolve
            arrives once, with the same dedup key.
  outage    the broker is down for 60 s (mock-kafka's SIGUSR1/SIGUSR2) while
            the sidecar runs: every record is counted once, every window
            holds exactly the records it spans.

DW_STATE_TEST_OFF=1 runs the killed replica without state.topic, to see the
kill case fail the way driftwatch did before (windows lost at restart).
"""
import json
import os
import random
import signal
import sys
import time

import numpy as np

import harness as h

DW = None
MOCK = None
BOOTSTRAP = None
WORK = None

MODEL = "statetest"
NUMERIC = ["f%d" % i for i in range(6)]
MEANS = np.array([i * 1.5 - 3.0 for i in range(6)])
STDS = np.array([0.5 + 0.25 * i for i in range(6)])
C0 = (["DE", "FR", "US", "GB", "IT"], [0.35, 0.25, 0.2, 0.12, 0.08])
SHIFT_COL = 3
NEW_CATEGORY = "BR"
T0 = 1767225600000  # 2026-01-01T00:00:00Z
MINUTE = 60000


def draw(rng, n, shifted=False):
    num = rng.normal(MEANS, STDS, size=(n, len(NUMERIC)))
    c0 = rng.choice(C0[0], n, p=C0[1]).astype(object)
    if shifted:
        num[:, SHIFT_COL] += 1.5 * STDS[SHIFT_COL]
        c0[rng.random(n) < 0.25] = NEW_CATEGORY
    score = rng.beta(2.0, 5.0, n)
    return num, c0, score


def record(ts, i, num, c0, score):
    feats = {name: round(float(num[k]), 4) for k, name in enumerate(NUMERIC)}
    feats["c0"] = str(c0)
    return {"ts": int(ts), "model": MODEL, "model_version": "v1", "request_id": "r%d" % i,
            "features": feats, "prediction": {"score": round(float(score), 4)}}


def stream(seed, start_min, minutes, shifted=lambda m: False, per_min=40):
    """(ts, record) for `minutes` event minutes from T0 + start_min, sorted."""
    rng = np.random.default_rng(seed)
    out = []
    for m in range(start_min, start_min + minutes):
        num, c0, score = draw(rng, per_min, shifted(m))
        offs = np.sort(rng.integers(0, MINUTE, per_min))
        for k in range(per_min):
            ts = T0 + m * MINUTE + int(offs[k])
            out.append((ts, record(ts, len(out) + start_min * 1000, num[k], c0[k], score[k])))
    return out


def write_config(name, topic, group, url, port, state=True, extra=""):
    path = os.path.join(WORK, name + ".yaml")
    sdir = os.path.join(WORK, name + "-state")
    os.makedirs(sdir, exist_ok=True)
    state_block = ("state:\n  topic: %s-state\n  flush_interval: 200ms\n" % group) if state else ""
    with open(path, "w") as f:
        f.write(h.config_head([(MODEL, os.path.join(WORK, "ref.json"))], ("15m", ("1h", "5m")),
                              BOOTSTRAP, topic, group, fast=True))
        f.write("""time:
  idle_timeout: 0
sinks:
  - name: hook
    type: webhook
    url: "%s"
http:
  listen: "127.0.0.1:%d"
state_dir: %s
%s%slog:
  level: info
""" % (url, port, sdir, state_block, extra))
    h.validate(DW, path)
    return path


class Sidecar:
    """One `driftwatch run` with its own receiver and HTTP port."""

    def __init__(self, name, topic, group, nparts, rx=None, state=True):
        self.name = name
        self.rx = rx or h.Receiver().start()
        self.port = h.free_port()
        self.config = write_config(name, topic, group, self.rx.url, self.port, state)
        self.topic = h.KafkaTopic(BOOTSTRAP, topic, nparts, group)
        self.proc = None
        self.starts = 0

    def start(self):
        self.starts += 1
        self.proc = h.spawn([DW, "run", "-c", self.config], "%s-%d" % (self.name, self.starts))
        h.wait_for(lambda: h.http("GET", self.base() + "/healthz")[0] == 200, 30,
                   "%s to serve /healthz" % self.name)
        return self

    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        rc = h.stop(self.proc)
        h.check(rc == 0, "%s exited %d on SIGTERM" % (self.name, rc))

    def caught_up(self, timeout=90):
        return self.topic.wait_caught_up(self.proc, timeout)

    def status(self):
        return h.status(self.base())


def windows_of(status):
    """What must agree between runs: per (model, version): every window's
    span and, per column and window, the samples, missing rate, statistics
    and alert states."""
    out = {}
    for m in status["models"]:
        key = (m["model"], m["model_version"])
        wins = {w["name"]: (w["start"], w["end"]) for w in m["windows"]}
        cols = {}
        for c in m["columns"]:
            for wn, cw in c["windows"].items():
                tests = cw.get("tests") or {}
                ks = (tests.get("ks") or {}).get("statistic")
                cols[(c["name"], wn)] = (cw.get("samples"), (cw.get("quality") or {}).get(
                    "missing_rate"), ks, tests.get("psi"), cw.get("state"),
                    cw.get("quality_state"))
        out[key] = (wins, cols)
    return out


def same_windows(a, b, timeout=60):
    """Waits until sidecars a and b publish the same windows (the status is
    republished at most once a second); returns them."""
    last = [None]

    def agree():
        wa, wb = windows_of(a.status()), windows_of(b.status())
        last[0] = (wa, wb)
        return wa if wa and wa == wb else None
    try:
        return h.wait_for(agree, timeout, "%s and %s to show the same windows" % (a.name, b.name),
                          0.5)
    except AssertionError:
        wa, wb = last[0] or ({}, {})
        diff = []
        for k in sorted(set(wa) | set(wb)):
            if wa.get(k) is None or wb.get(k) is None:
                diff.append("%s only in one" % (k,))
                continue
            if wa[k][0] != wb[k][0]:
                diff.append("windows %s: %s vs %s" % (k, wa[k][0], wb[k][0]))
            for ck in sorted(set(wa[k][1]) | set(wb[k][1])):
                if wa[k][1].get(ck) != wb[k][1].get(ck):
                    diff.append("%s %s: %s vs %s" % (k, ck, wa[k][1].get(ck), wb[k][1].get(ck)))
        raise AssertionError("%s and %s differ:\n  %s" % (a.name, b.name, "\n  ".join(diff[:20])))


def transitions(rx):
    """Every alert transition a receiver got: (dedup_key, status,
    window_end) per delivery, in arrival order."""
    out = []
    for req in rx.requests():
        try:
            doc = json.loads(req["body"])
        except (ValueError, KeyError, TypeError):
            continue
        if doc.get("kind") != "drift" or doc.get("reminder"):
            continue
        for a in doc.get("alerts", []):
            out.append((a["dedup_key"], a["status"], a["window_end"], a["column"], a["window"]))
    return out


def applied_records(proc_list):
    """Sum of the final counters' applied= of stopped processes."""
    return sum(h.counters(p).get("applied", 0) for p in proc_list)


# ------------------------------------------------------------------ cases

TOPIC = "state-logs"
NPARTS = 6


def drift_minutes(m):
    return 40 <= m < 60


def leader_of(replicas):
    """The replica whose log last says it sends notifications."""
    who = None
    for r in replicas:
        if r.proc.poll() is not None:
            continue
        msgs = [m for m in h.log_msgs(r.proc) if "sends notifications" in m]
        if msgs and "now sends" in msgs[-1]:
            who = r
    return who


def case_kill_and_replicas():
    """kill and replicas (see the module doc): one stream, five sidecars."""
    records = stream(1, 0, 120, drift_minutes)
    solo = Sidecar("solo", TOPIC, "dw-solo", NPARTS).start()
    killed = Sidecar("killed", TOPIC, "dw-killed", NPARTS,
                     state=not os.environ.get("DW_STATE_TEST_OFF")).start()
    shared_rx = h.Receiver().start()
    reps = [Sidecar("rep%d" % i, TOPIC, "dw-rep", NPARTS, rx=shared_rx).start()
            for i in range(3)]
    rnd = random.Random(8)
    chunks = [records[i:i + 400] for i in range(0, len(records), 400)]
    kills = {2, 5, 8}
    sent = 0
    killed_leader = None
    for i, chunk in enumerate(chunks):
        solo.topic.produce(chunk)
        if i in kills:
            # Somewhere while it consumes this chunk: once its group has
            # committed a random part of it (commits trail what it applied).
            target = sent + int(rnd.uniform(0.1, 0.9) * len(chunk))
            h.wait_for(lambda: sum(killed.topic.committed()) >= target, 60,
                       "%s to commit %d offsets" % (killed.name, target), 0.02)
            killed.kill()
            killed.start()
        if killed_leader is None and any(t[1] == "firing" for t in transitions(shared_rx)):
            # An alert fired: the notifying replica dies mid-episode.
            killed_leader = h.wait_for(lambda: leader_of(reps), 30, "a leader among the replicas")
            killed_leader.kill()
        sent += len(chunk)
    h.check(killed_leader is not None, "the replicas sent no firing alert before the end")
    solo.caught_up()
    killed.caught_up()
    # The group (the replicas left) committed everything; then the killed
    # one comes back and rebuilds from the state topic.
    next(r for r in reps if r is not killed_leader).caught_up(120)
    killed_leader.start()
    final = same_windows(solo, killed)
    h.check(final, "no windows evaluated")

    ts, tk = transitions(solo.rx), transitions(killed.rx)
    h.check(ts, "the uninterrupted run sent no alert (the drift should fire)")
    h.check(sorted(set(ts)) == sorted(set(tk)),
            "kill: alerts differ:\n uninterrupted %s\n killed %s" % (sorted(set(ts)), sorted(set(tk))))
    h.check(len(tk) == len(set(tk)), "kill: a transition was delivered twice: %s" % tk)

    # replay of the same records, in event-time order
    path = os.path.join(WORK, "kill.jsonl")
    with open(path, "w") as f:
        for _, r in records:
            f.write(json.dumps(r, separators=(",", ":")) + "\n")
    rep = h.run([DW, "replay", "--stdout", "-c", solo.config, path], timeout=120)
    h.check(rep.returncode == 0, "replay failed: %s" % rep.stderr[-2000:])
    last_end = max(e for (_, e) in final[(MODEL, "v1")][0].values())
    tr = set()
    for line in rep.stdout.splitlines():
        doc = json.loads(line)
        for a in doc.get("alerts", []):
            if doc.get("kind") == "drift" and not doc.get("reminder") and a["window_end"] <= last_end:
                tr.add((a["dedup_key"], a["status"], a["window_end"], a["column"], a["window"]))
    h.check(sorted(tr) == sorted(set(ts)),
            "replay's alerts differ from run's:\n replay %s\n run %s" % (sorted(tr), sorted(set(ts))))
    print("kill: %d records, %d alert transitions, 3 SIGKILLs: windows and alerts equal "
          "the uninterrupted run and replay" % (len(records), len(set(ts))))

    for r in reps:
        same_windows(solo, r)
    # /metrics: exactly one leader, nothing left behind on the state topic,
    # every replica merged the others' deltas; /api/v1/status says the same.
    leaders = 0
    for r in reps:
        samples, _, _ = h.metrics(r.base())
        leaders += h.metric(samples, "driftwatch_state_leader")
        h.check(h.metric(samples, "driftwatch_state_deltas_merged_total") > 0,
                "%s merged no delta" % r.name)
        info = {k: h.metric(samples, k) for k in (
            "driftwatch_state_records_late_total", "driftwatch_state_groups_waiting",
            "driftwatch_state_deltas_merged_total", "driftwatch_state_records_merged_total")}
        print("  %s: %s" % (r.name, info))
        h.check(info["driftwatch_state_records_late_total"] == 0,
                "%s counted merged records late" % r.name)
        st = r.status()["state"]
        h.check(st is not None and st["lag"] >= 0, "%s: status without state: %s" % (r.name, st))
    h.check(leaders == 1, "%d replicas say they are the leader" % leaders)
    tr = transitions(shared_rx)
    h.check(sorted(set(tr)) == sorted(set(ts)),
            "replicas: alerts differ:\n single %s\n replicas %s" % (sorted(set(ts)), sorted(set(tr))))
    dup = sorted(t for t in set(tr) if tr.count(t) > 1)
    h.check(not dup, "replicas: transitions delivered more than once: %s" % dup)
    resolves_after = [t for t in tr if t[1] == "resolved"]
    h.check(resolves_after, "replicas: no resolve was sent after the leader died")
    print("replicas: 3 replicas (leader %s SIGKILLed after the first firing) show the single "
          "run's windows; %d transitions, each delivered once" % (killed_leader.name, len(tr)))
    for sc in [solo, killed] + reps:
        sc.stop()


def case_restart():
    """Stop after 50 event minutes of a 1 h window; the first status after the
    restart holds all 50 minutes, and so does the first new evaluation."""
    records = stream(2, 0, 50)
    sc = Sidecar("restart", "restart-logs", "dw-restart", 3).start()
    sc.topic.produce(records)
    sc.caught_up()
    # The watermark: the oldest partition's newest record less the allowed
    # lateness (1 min); the 15m window ends at the last minute before it.
    newest = [max(ts for i, (ts, _) in enumerate(records) if i % 3 == p) for p in range(3)]
    end15 = h.iso((min(newest) - MINUTE) // MINUTE * MINUTE)

    def settled():
        w = windows_of(sc.status()).get((MODEL, "v1"))
        return w if w and w[0]["15m"][1] == end15 else None
    before = h.wait_for(settled, 30, "the evaluation of the 15m window ending %s" % end15, 0.3)
    sc.stop()
    sc.start()
    after = h.wait_for(lambda: windows_of(sc.status()).get((MODEL, "v1")), 30,
                       "the first status after the restart")
    h.check(after == before, "after the restart the windows differ:\n before %s\n after %s"
            % (before, after))
    more = stream(3, 50, 10)
    sc.topic.produce(more)
    sc.caught_up()
    everything = records + more

    def evaluated_1h():
        w = sc.status()
        for m in w["models"]:
            for win in m["windows"]:
                if win["name"] == "1h" and win["end"] and h.ms_of(win["end"]) > T0 + 50 * MINUTE:
                    return m, win
        return None
    m, win = h.wait_for(evaluated_1h, 30, "an evaluation of the 1h window after the restart")
    lo, hi = h.ms_of(win["start"]), h.ms_of(win["end"])
    want = sum(1 for ts, _ in everything if lo <= ts < hi)
    got = {c["name"]: c["windows"]["1h"]["samples"] for c in m["columns"]}
    h.check(all(v == want for v in got.values()),
            "1h window [%s, %s) after the restart: samples %s, records in it %d"
            % (win["start"], win["end"], got, want))
    print("restart: 1h window %s..%s holds %d samples, as many records as it spans"
          % (win["start"], win["end"], want))
    sc.stop()


def case_fresh_alert():
    """SIGKILL 5 s after an alert fired: the resolve comes after the restart,
    once, with the same dedup key."""
    sc = Sidecar("fresh", "fresh-logs", "dw-fresh", 3).start()
    sc.topic.produce(stream(4, 0, 50, lambda m: m >= 30))
    fired = h.wait_for(lambda: [t for t in transitions(sc.rx) if t[1] == "firing"], 60,
                       "a firing alert")
    time.sleep(5)
    sc.kill()
    sc.start()
    sc.topic.produce(stream(5, 50, 70))  # the 1h window forgets the drift too
    keys = sorted({t[0] for t in transitions(sc.rx) if t[1] == "firing"})

    def all_resolved():
        tr = transitions(sc.rx)
        return all(any(t[0] == k and t[1] == "resolved" for t in tr) for k in keys)
    h.wait_for(all_resolved, 90, "a resolve for each of %s" % keys)
    sc.caught_up()
    tr = transitions(sc.rx)
    for k in keys:
        n_f = sum(1 for t in tr if t[0] == k and t[1] == "firing")
        n_r = sum(1 for t in tr if t[0] == k and t[1] == "resolved")
        h.check(n_f == 1 and n_r == 1, "alert %s: %d firing and %d resolved deliveries, "
                "expected one each: %s" % (k, n_f, n_r, tr))
    print("fresh: %d alert(s) fired, SIGKILL 5 s later, each resolved once after the restart "
          "(first: %s)" % (len(keys), fired[0][3]))
    sc.stop()


def case_outage():
    records = stream(6, 0, 30)
    sc = Sidecar("outage", "outage-logs", "dw-outage", 3).start()
    sc.topic.produce(records)
    sc.caught_up()
    MOCK.send_signal(signal.SIGUSR1)  # every broker down, data kept
    time.sleep(60)
    MOCK.send_signal(signal.SIGUSR2)
    more = stream(7, 30, 30)
    everything = records + more
    sc.topic.produce(more)
    sc.caught_up(120)
    newest = [max(ts for i, (ts, _) in enumerate(everything) if i % 3 == p) for p in range(3)]
    end15 = h.iso((min(newest) - MINUTE) // MINUTE * MINUTE)

    def settled():
        st = sc.status()
        for m in st["models"]:
            if {w["name"]: w["end"] for w in m["windows"]}.get("15m") == end15:
                return st, m
        return None
    st, m = h.wait_for(settled, 30, "the 15m window ending %s" % end15, 0.3)
    for win in m["windows"]:
        lo, hi = h.ms_of(win["start"]), h.ms_of(win["end"])
        want = sum(1 for ts, _ in everything if lo <= ts < hi)
        got = {c["windows"][win["name"]]["samples"] for c in m["columns"]}
        h.check(got == {want}, "window %s [%s, %s) after the outage: samples %s, records %d"
                % (win["name"], win["start"], win["end"], got, want))
    applied = st["counters"]["applied"]
    h.check(applied == len(everything), "applied %d records of %d: some counted twice or lost"
            % (applied, len(everything)))
    print("outage: 60 s without a broker; %d records applied once, windows exact" % applied)
    sc.stop()


def main(argv):
    global DW, MOCK, BOOTSTRAP, WORK
    DW = argv[1]
    only = argv[2:]
    h.budget(450)
    WORK = h.workdir("dw-state-")
    MOCK, BOOTSTRAP = h.mock_kafka(DW, {TOPIC: NPARTS, "restart-logs": 3, "fresh-logs": 3,
                                        "outage-logs": 3})
    rng = np.random.default_rng(20260101)
    num, c0, score = draw(rng, 20000)
    h.build_reference(DW, os.path.join(WORK, "ref.json"),
                      (record(i, i, num[i], c0[i], score[i]) for i in range(20000)), model=MODEL)
    # outage last: it takes the shared broker down.
    cases = [case_kill_and_replicas, case_restart, case_fresh_alert, case_outage]
    passed, failed = h.run_cases(cases, only)
    return 1 if failed else 0


if __name__ == "__main__":
    h.main(main, sys.argv)

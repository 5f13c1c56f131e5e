#!/usr/bin/env python3
"""Divergence, latency and performance alerts survive a restart of
`driftwatch run` as drift alerts do (test_restart_alerts.py): the first run
fires them and stops (SIGTERM) while they fire; the second run restores
them from <state_dir>/alerts.json, sends no second "firing" while the
episode goes on, and sends each resolve, with the same dedup_key, once the
data is back to normal. Before, these kinds were not in alerts.json and
every open episode fired again after a restart.

Two model versions behind one model: v1 the baseline, v2 the candidate.
From minute 10 to 45, v2's prediction.score moves up (divergence from v1),
its latency is ten times v1's (the SLO p99 <= 100 ms breaks) and its labels
are flipped (its accuracy from delayed labels drops far below the rule's
reference). The restart is at about minute 30.

usage: test_restart_alert_kinds.py DRIFTWATCH"""
import json
import os
import random
import sys

import harness as h

T0 = 1795500000000
PER_MIN = 200  # records per minute and version
KINDS = ("divergence", "latency", "performance")


def alerts(rcv):
    """(kind, status, dedup_key, model_version) of every alert received."""
    out = []
    for r in rcv.requests():
        doc = json.loads(r["body"])
        out += [(a["kind"], a["status"], a["dedup_key"], doc.get("model_version"))
                for a in doc.get("alerts", []) if a["kind"] in KINDS]
    return out


def produce(topics, first_minute, minutes, bad, rng):
    preds, labels = [], []
    for m in range(first_minute, first_minute + minutes):
        for i in range(2 * PER_MIN):
            v = "v1" if i % 2 == 0 else "v2"
            ts = T0 + m * 60000 + i * 60000 // (2 * PER_MIN)
            score = rng.random()
            lat = rng.lognormvariate(3.0, 0.3)  # about 20 ms
            label = 1 if rng.random() < score else 0
            if bad and v == "v2":
                score = 0.5 + score / 2
                lat *= 10
                label = 1 - label
            rid = "%s-%d-%d" % (v, m, i)
            preds.append({"ts": ts, "model": "m", "model_version": v, "request_id": rid,
                          "features": {"x": rng.gauss(0, 1)},
                          "prediction": {"score": round(score, 5)},
                          "latency_ms": round(lat, 3)})
            labels.append({"ts": ts + 20000, "request_id": rid, "label": label})
    topics[0].produce(preds)
    topics[1].produce(labels)


def main(exe):
    failures = []
    topics = []
    tmp = h.workdir("dw-restart-kinds-")
    rng = random.Random(5)
    h.build_reference(exe, os.path.join(tmp, "ref.json"),
                      [{"features": {"x": rng.gauss(0, 1)},
                        "prediction": {"score": rng.random()}} for _ in range(20000)],
                      model="m")
    rcv = h.Receiver(responses=[200]).start()
    mk, boot = h.mock_kafka(exe, {"logs": 1, "labels": 1})
    try:
        cfg = os.path.join(tmp, "c.yaml")
        with open(cfg, "w") as f:
            f.write(f"""kafka:
  brokers: "{boot}"
  topics: [logs]
  group_id: restart-kinds
  poll_timeout: 50ms
  commit_interval: 200ms
  properties: {{session.timeout.ms: "6000", heartbeat.interval.ms: "500"}}
models:
  - name: m
    reference: {tmp}/ref.json
    compare: {{baseline: v1, candidates: all, thresholds: {{psi: 0.1, ks: 0.05}}}}
    latency:
      field: latency_ms
      slos:
        - {{name: p99-100ms, quantile: 0.99, max: 100ms, window: 10m}}
    performance:
      task: classification
      positive: "1"
      score: prediction.score
      rules:
        - {{metric: accuracy, reference: 0.75, margin: 0.1}}
labels: {{topics: [labels], max_delay: 2m}}
windows:
  - {{name: 10m, length: 10m, slide: 1m}}
""" + h.webhook_tail(rcv.url, tmp))
        h.validate(exe, cfg)
        runs = []

        def start():
            runs.append(h.spawn([exe, "run", "-c", cfg], "run%d" % len(runs)))
            return runs[-1]

        def firing():
            return {(k, key) for k, st, key, _ in alerts(rcv) if st == "firing"}

        topics = [h.KafkaTopic(boot, t, 1, "restart-kinds") for t in ("logs", "labels")]
        run = start()
        produce(topics, 0, 10, False, rng)
        produce(topics, 10, 20, True, rng)
        fired = h.wait_for(lambda: (lambda f: f if {k for k, _ in f} == set(KINDS) else None)(
            firing()), 90, "divergence, latency and performance alerts firing")
        # Stopped with both topics read: the evaluation at shutdown closes
        # the panes up to the newest event time, and windows a lagging topic
        # had not filled yet would resolve the episodes before the restart.
        for t in topics:
            t.wait_caught_up(run)
        rc = h.stop(run)
        if rc != 0:
            failures.append("first run exited %d" % rc)
        bad_versions = {v for k, st, _, v in alerts(rcv) if st == "firing"}
        if bad_versions != {"v2"}:
            failures.append("alerts fired for versions %s, want v2 only" % bad_versions)
        path = os.path.join(tmp, "alerts.json")
        saved = json.load(open(path)) if os.path.exists(path) else {}
        saved_keys = {(a["kind"], a["dedup_key"]) for a in saved.get("extra_alerts", [])}
        still = {(k, key) for k, key in fired
                 if not any(st == "resolved" and kk == key for kk2, st, kk, _ in alerts(rcv)
                            if kk2 == k)}
        if not still <= saved_keys or not still:
            failures.append("alerts.json lacks firing alerts: saved %s, firing %s"
                            % (sorted(saved_keys), sorted(still)))
        before = alerts(rcv)

        run = start()
        produce(topics, 30, 15, True, rng)   # the episode goes on after the restart
        produce(topics, 45, 25, False, rng)  # then back to normal
        h.wait_for(lambda: all(any(k == kk and st == "resolved" and key == kkey
                                   for kk, st, kkey, _ in alerts(rcv)) for k, key in still),
                   90, "the resolves of %s" % sorted(still))
        if h.stop(run) != 0:
            failures.append("second run did not exit 0")
        nsaved = len(saved.get("alerts", [])) + len(saved.get("extra_alerts", []))
        if not any(m.startswith("restored %d firing alert(s)" % nsaved) for m in h.log_msgs(run)):
            failures.append("the second run does not log restoring %d alerts: %s"
                            % (nsaved, [m for m in h.log_msgs(run) if "restored" in m]))
        after = alerts(rcv)[len(before):]
        refired = [(k, key) for k, st, key, _ in after if st == "firing"]
        if refired:
            failures.append("the restarted run fired again: %s (before %s, after %s, saved %s, "
                            "counters %s)" % (refired, before, after, saved,
                                              [h.counters(r) for r in runs]))
        for k, key in still:
            n = sum(1 for kk, st, kkey, _ in alerts(rcv) if (kk, st, kkey) == (k, "firing", key))
            if n != 1:
                failures.append("%s %s: %d firing notifications, want 1" % (k, key, n))
    except AssertionError as e:
        failures.append(str(e))
    for t in topics:
        t.close()
    h.stop(mk, 10)
    rcv.stop()
    print("restart_alert_kinds: %d passed, %d failed"
          % (0 if failures else 1, 1 if failures else 0))
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    h.main(main, sys.argv[1])

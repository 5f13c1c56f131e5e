#!/usr/bin/python3
"""Failures that used to vanish are visible (issue 11, item 6).

usage: test_visibility.py DRIFTWATCH_BINARY [CASE...]

`driftwatch run` against `driftwatch mock-kafka`, records produced with
confluent_kafka:

* dead_letter_failures_counted: every dead-letter delivery fails
  (message.timeout.ms of 1 ms); /metrics counts each one in
  driftwatch_dead_letter_records_total{result="failed"}, as many as records
  were rejected, and none delivered.
* too_large_copy_is_256_bytes: a message above kafka.max_message_bytes is
  dead-lettered as its first 256 bytes (as docs/configuration.md says),
  with reason too_large, and counted as delivered.
* state_dir_reported_at_start: with `sinks: []` and a state_dir that is not
  a directory, the error is logged while run is running, before any
  shutdown; run still exits 0 on SIGTERM.
"""
import json
import os
import sys
import urllib.request

import harness as h

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = h.ROOT
Producer = h.need_module("confluent_kafka").Producer  # skips (77) without it

DW = None
TMP = None
REF = os.path.join(ROOT, "reference_stats", "fraud.json")
T = 1795500000000
metric = h.scraped


class Run:
    """mock-kafka plus `driftwatch run` with the given kafka/state lines."""

    def __init__(self, name, kafka_extra="", state_dir=None, http=True):
        self.dir = os.path.join(TMP, name)
        os.makedirs(self.dir)
        self.mk, self.boot = h.mock_kafka(DW, {"logs": 1, "dead": 1}, name="mock-" + name,
                                          args=["--log-level", "warn"])
        self.portfile = os.path.join(self.dir, "port")
        cfg = os.path.join(self.dir, "c.yaml")
        with open(cfg, "w") as f:
            f.write("""kafka:
  brokers: "%s"
  topics: [logs]
  group_id: vis
  poll_timeout: 50ms
  properties: {session.timeout.ms: "6000", heartbeat.interval.ms: "500"%s}
%s
models:
  - name: fraud
    reference: %s
windows:
  - {name: 15m, length: 15m, slide: 1m}
sinks: []
http: {enabled: %s, listen: "127.0.0.1:0"}
state_dir: %s
""" % (self.boot, kafka_extra[0], kafka_extra[1], REF, "true" if http else "false",
                state_dir or self.dir))
        self.run = h.spawn([DW, "run", "-c", cfg], "run-" + name,
                           env=dict(os.environ, DW_HTTP_PORT_FILE=self.portfile))
        self.log = self.run.stderr_path

    def produce(self, msgs):
        p = Producer({"bootstrap.servers": self.boot, "message.max.bytes": 100000})
        for m in msgs:
            p.produce("logs", m)
        assert p.flush(10) == 0

    def metrics(self):
        with open(self.portfile) as f:
            port = int(f.read())
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
            return r.read().decode()

    def stop(self):
        rc = h.stop(self.run, 30)
        h.stop(self.mk, 10)
        return rc

    def kill(self):
        for p in (self.run, self.mk):
            if p.poll() is None:
                p.kill()
                p.wait()


def case_dead_letter_failures_counted():
    r = Run("dlfail", (', message.timeout.ms: "1"', "  dead_letter_topic: dead"))
    try:
        bad = [b'{"ts": %d, "model": "nope%d"}' % (T, i) for i in range(4)]
        good = [b'{"ts": %d, "model": "fraud", "features": {"amount": 5}}' % T]
        r.produce(bad + good)

        def counted():
            t = r.metrics()
            failed = metric(t, "driftwatch_dead_letter_records_total", result="failed")
            return t if failed == 4 else None
        t = h.wait_for(counted, 60, "4 failed dead letters in /metrics")
        assert metric(t, "driftwatch_dead_letter_records_total", result="queued") == 4, t
        assert metric(t, "driftwatch_dead_letter_records_total", result="delivered") == 0
        assert metric(t, "driftwatch_dead_letter_records_total",
                      result="dropped_queue_full") == 0
        assert metric(t, "driftwatch_records_rejected_total", reason="unknown_model") == 4
        assert r.stop() == 0
    finally:
        r.kill()


def case_too_large_copy_is_256_bytes():
    r = Run("dlcut", ("", "  dead_letter_topic: dead\n  max_message_bytes: 2048"))
    try:
        big = b'{"ts": %d, "model": "fraud", "pad": "%s"}' % (T, b"x" * 5000)
        r.produce([big])
        m = h.consume(r.boot, "dead", 1, 60, group="reader")[0]
        assert m.value() == big[:256], (len(m.value()), m.value()[:40])
        reason = dict(m.headers())["driftwatch-reason"].decode()
        assert reason.startswith("too_large:"), reason

        def delivered():
            t = r.metrics()
            return metric(t, "driftwatch_dead_letter_records_total", result="delivered") == 1
        h.wait_for(delivered, 30, "1 delivered dead letter in /metrics")
        assert r.stop() == 0
    finally:
        r.kill()


def case_state_dir_reported_at_start():
    notdir = os.path.join(TMP, "a-file")
    with open(notdir, "w") as f:
        f.write("not a directory\n")
    r = Run("statedir", ("", ""), state_dir=notdir, http=False)
    try:
        def reported():
            with open(r.log) as f:
                for line in f:
                    try:
                        d = json.loads(line)
                    except ValueError:
                        continue
                    if d.get("level") == "error" and notdir in d.get("msg", "") and \
                            "not a directory" in d["msg"]:
                        return d
            return None
        d = h.wait_for(reported, 20, "the state_dir error while running")
        assert r.run.poll() is None, "run exited"
        assert "survive a restart" in d["msg"], d
        assert r.stop() == 0
    finally:
        r.kill()


def main(argv):
    global DW, TMP
    DW, only = h.args(argv, __doc__)
    TMP = h.workdir("dw-visibility-")
    return h.report(*h.run_cases([case_dead_letter_failures_counted,
                                  case_too_large_copy_is_256_bytes,
                                  case_state_dir_reported_at_start], only))


if __name__ == "__main__":
    h.main(main, sys.argv)

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
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from harness import run_cases  # noqa: E402

try:
    from confluent_kafka import Consumer, Producer
except ImportError:
    print("python3-confluent-kafka is not installed")
    sys.exit(77)

DW = None
TMP = None
REF = os.path.join(ROOT, "reference_stats", "fraud.json")
T = 1795500000000


def wait_for(what, cond, timeout):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = cond()
        except (OSError, ValueError, KeyError) as e:
            last = e
        else:
            if last:
                return last
        time.sleep(0.2)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


class Run:
    """mock-kafka plus `driftwatch run` with the given kafka/state lines."""

    def __init__(self, name, kafka_extra="", state_dir=None, http=True):
        self.dir = os.path.join(TMP, name)
        os.makedirs(self.dir)
        self.mk = subprocess.Popen([DW, "mock-kafka", "--topic", "logs:1", "--topic", "dead:1",
                                    "--log-level", "warn"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.boot = self.mk.stdout.readline().strip()
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
        self.log = os.path.join(self.dir, "run.err")
        self.run = subprocess.Popen([DW, "run", "-c", cfg], stdout=subprocess.DEVNULL,
                                    stderr=open(self.log, "w"),
                                    env=dict(os.environ, DW_HTTP_PORT_FILE=self.portfile))

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
        self.run.send_signal(signal.SIGTERM)
        rc = self.run.wait(30)
        self.mk.send_signal(signal.SIGTERM)
        self.mk.wait(10)
        return rc

    def kill(self):
        for p in (self.run, self.mk):
            if p.poll() is None:
                p.kill()
                p.wait()


def metric(text, name, **labels):
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    key = "%s{%s}" % (name, want) if labels else name
    for line in text.splitlines():
        if line.split(" ")[0] == key:
            return float(line.split(" ")[1])
    return None


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
        t = wait_for("4 failed dead letters in /metrics", counted, 60)
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
        c = Consumer({"bootstrap.servers": r.boot, "group.id": "reader",
                      "auto.offset.reset": "earliest"})
        c.subscribe(["dead"])
        got = []

        def poll():
            m = c.poll(0.2)
            if m is not None and not m.error():
                got.append(m)
            return got
        wait_for("the dead letter", poll, 60)
        c.close()
        m = got[0]
        assert m.value() == big[:256], (len(m.value()), m.value()[:40])
        reason = dict(m.headers())["driftwatch-reason"].decode()
        assert reason.startswith("too_large:"), reason

        def delivered():
            t = r.metrics()
            return metric(t, "driftwatch_dead_letter_records_total", result="delivered") == 1
        wait_for("1 delivered dead letter in /metrics", delivered, 30)
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
        d = wait_for("the state_dir error while running", reported, 20)
        assert r.run.poll() is None, "run exited"
        assert "survive a restart" in d["msg"], d
        assert r.stop() == 0
    finally:
        r.kill()


def main():
    global DW, TMP
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    DW = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="dw-visibility-") as TMP:
        passed, failed = run_cases([case_dead_letter_failures_counted,
                                    case_too_large_copy_is_256_bytes,
                                    case_state_dir_reported_at_start], sys.argv[2:])
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

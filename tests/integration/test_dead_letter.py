#!/usr/bin/env python3
"""Dead letters end to end: `driftwatch run` with kafka.dead_letter_topic
copies every rejected record to that topic with the reason and its source in
headers, keeps running, and applies the valid records.

usage: test_dead_letter.py DRIFTWATCH REFERENCE_JSON"""
import os
import signal
import subprocess
import sys
import tempfile
import time

from confluent_kafka import Consumer, Producer


def wait_for(cond, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def main():
    exe, ref = sys.argv[1], os.path.abspath(sys.argv[2])
    failures = []
    tmp = tempfile.mkdtemp(prefix="dw-dlq-")
    mk = subprocess.Popen([exe, "mock-kafka", "--topic", "logs:1", "--topic", "dead:1"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    run = None
    try:
        boot = mk.stdout.readline().strip()
        cfg = os.path.join(tmp, "c.yaml")
        with open(cfg, "w") as f:
            f.write(f"""kafka:
  brokers: "{boot}"
  topics: [logs]
  group_id: dlq-test
  dead_letter_topic: dead
  poll_timeout: 50ms
  properties: {{session.timeout.ms: "6000", heartbeat.interval.ms: "500"}}
models:
  - name: fraud
    reference: {ref}
windows:
  - {{name: 15m, length: 15m, slide: 1m}}
sinks: []
http: {{enabled: false}}
state_dir: {tmp}
""")
        err = open(os.path.join(tmp, "run.err"), "w")
        run = subprocess.Popen([exe, "run", "-c", cfg], stdout=subprocess.DEVNULL, stderr=err)
        bad = [b"{not json", b'{"ts": 1795500000000, "model": "nope"}',
               b'[{"ts": 1795500000000, "model": "fraud"}, 7]']
        good = [b'{"ts": 1795500000000, "model": "fraud", "features": {"amount": %d}}' % i
                for i in range(5)]
        p = Producer({"bootstrap.servers": boot})
        for m in bad + good:
            p.produce("logs", m)
        p.flush(10)

        c = Consumer({"bootstrap.servers": boot, "group.id": "dlq-reader",
                      "auto.offset.reset": "earliest"})
        c.subscribe(["dead"])
        got = []

        def poll():
            m = c.poll(0.2)
            if m is not None and not m.error():
                got.append(m)
            return len(got) >= 3
        wait_for(poll, 60, "3 dead letters")
        c.close()
        reasons = sorted(dict(m.headers())["driftwatch-reason"].decode().split(":")[0]
                         for m in got)
        if reasons != ["invalid_json", "not_object", "unknown_model"]:
            failures.append("dead-letter reasons %s" % reasons)
        for m in got:
            h = dict(m.headers())
            if h.get("driftwatch-source-topic") != b"logs" or "driftwatch-source-offset" not in h:
                failures.append("missing source headers: %s" % h)
        if not any(m.value() == b"{not json" for m in got):
            failures.append("the invalid message is not copied as is")

        run.send_signal(signal.SIGTERM)
        rc = run.wait(30)
        run = None
        if rc != 0:
            failures.append("run exited %d after SIGTERM" % rc)
        err.close()
        counters = [l for l in open(os.path.join(tmp, "run.err")) if "counters:" in l]
        line = counters[-1] if counters else ""
        for want in ("applied=6", "rejected.invalid_json=1", "rejected.unknown_model=1",
                     "rejected.not_object=1"):
            if want not in line:
                failures.append("counters line lacks %s: %s" % (want, line.strip()[:300]))
    finally:
        if run:
            run.kill()
        mk.send_signal(signal.SIGTERM)
        mk.wait(10)
    print("dead_letter: %d passed, %d failed" % (1 if not failures else 0, 1 if failures else 0))
    for f in failures:
        print("FAIL:", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

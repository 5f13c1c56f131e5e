#!/usr/bin/env python3
"""A firing alert survives a restart of `driftwatch run`: the first run fires
it and stops (SIGTERM) while it is firing; the second run restores it from
<state_dir>/alerts.json and, once the data is back to normal, sends the
resolve with the same dedup_key (and no second firing).

usage: test_restart_alerts.py DRIFTWATCH"""
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

from confluent_kafka import Producer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from receiver import Receiver  # noqa: E402

T0 = 1795500000000


def wait_for(cond, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def alerts(rcv, status):
    out = []
    for r in rcv.requests():
        doc = json.loads(r["body"])
        out += [a for a in doc.get("alerts", []) if a["status"] == status]
    return out


def produce(boot, first_minute, minutes, shift, rng):
    p = Producer({"bootstrap.servers": boot})
    for m in range(first_minute, first_minute + minutes):
        for i in range(200):
            ts = T0 + m * 60000 + i * 300
            rec = {"ts": ts, "model": "m", "features": {"x": rng.gauss(shift, 1), "y": rng.gauss(0, 1)}}
            p.produce("logs", json.dumps(rec).encode())
    p.flush(10)


def main():
    exe = sys.argv[1]
    failures = []
    tmp = tempfile.mkdtemp(prefix="dw-restart-")
    rng = random.Random(3)
    with open(os.path.join(tmp, "train.jsonl"), "w") as f:
        for _ in range(20000):
            f.write(json.dumps({"features": {"x": rng.gauss(0, 1), "y": rng.gauss(0, 1)}}) + "\n")
    subprocess.run([exe, "reference", "build", "--input", os.path.join(tmp, "train.jsonl"),
                    "--model", "m", "--output", os.path.join(tmp, "ref.json")],
                   check=True, stdout=subprocess.DEVNULL)
    rcv = Receiver(responses=[200]).start()
    mk = subprocess.Popen([exe, "mock-kafka", "--topic", "logs:1"], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True)
    run = None
    try:
        boot = mk.stdout.readline().strip()
        cfg = os.path.join(tmp, "c.yaml")
        with open(cfg, "w") as f:
            f.write(f"""kafka:
  brokers: "{boot}"
  topics: [logs]
  group_id: restart
  poll_timeout: 50ms
  commit_interval: 200ms
  properties: {{session.timeout.ms: "6000", heartbeat.interval.ms: "500"}}
models:
  - name: m
    reference: {tmp}/ref.json
windows:
  - {{name: 10m, length: 10m, slide: 1m}}
time: {{idle_timeout: 0s}}
sinks:
  - name: hook
    type: webhook
    url: "{rcv.url}"
http: {{enabled: false}}
state_dir: {tmp}
""")

        def start():
            return subprocess.Popen([exe, "run", "-c", cfg], stdout=subprocess.DEVNULL,
                                    stderr=open(os.path.join(tmp, "run.err"), "a"))

        run = start()
        produce(boot, 0, 10, 0.0, rng)
        produce(boot, 10, 20, 1.5, rng)  # x drifts
        fired = wait_for(lambda: [a for a in alerts(rcv, "firing")
                                  if a["column"] == "features.x"], 60, "the firing alert")
        run.send_signal(signal.SIGTERM)
        rc = run.wait(30)
        run = None
        if rc != 0:
            failures.append("first run exited %d" % rc)
        path = os.path.join(tmp, "alerts.json")
        saved = json.load(open(path)) if os.path.exists(path) else {"alerts": []}
        if not any(a["column"] == "features.x" for a in saved["alerts"]):
            failures.append("alerts.json lacks the firing alert: %s" % saved)
        nfiring = len(alerts(rcv, "firing"))

        run = start()
        produce(boot, 30, 20, 0.0, rng)  # back to normal after the restart
        resolved = wait_for(lambda: [a for a in alerts(rcv, "resolved")
                                     if a["column"] == "features.x"], 60, "the resolve")
        if resolved[0]["dedup_key"] != fired[0]["dedup_key"]:
            failures.append("resolve dedup_key %s != firing %s"
                            % (resolved[0]["dedup_key"], fired[0]["dedup_key"]))
        if len(alerts(rcv, "firing")) != nfiring:
            failures.append("the restarted run fired again")
        run.send_signal(signal.SIGTERM)
        if run.wait(30) != 0:
            failures.append("second run did not exit 0")
        run = None
    except AssertionError as e:
        failures.append(str(e))
    finally:
        if run:
            run.kill()
        mk.send_signal(signal.SIGTERM)
        mk.wait(10)
        rcv.stop()
    print("restart_alerts: %d passed, %d failed" % (0 if failures else 1, 1 if failures else 0))
    for f in failures:
        print("FAIL:", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A firing alert survives a restart of `driftwatch run`: the first run fires
it and stops (SIGTERM) while it is firing; the second run restores it from
<state_dir>/alerts.json and, once the data is back to normal, sends the
resolve with the same dedup_key (and no second firing).

usage: test_restart_alerts.py DRIFTWATCH"""
import json
import os
import random
import sys

import harness as h

T0 = 1795500000000


def alerts(rcv, status):
    out = []
    for r in rcv.requests():
        doc = json.loads(r["body"])
        out += [a for a in doc.get("alerts", []) if a["status"] == status]
    return out


def produce(boot, first_minute, minutes, shift, rng):
    h.produce(boot, "logs", [{"ts": T0 + m * 60000 + i * 300, "model": "m",
                              "features": {"x": rng.gauss(shift, 1), "y": rng.gauss(0, 1)}}
                             for m in range(first_minute, first_minute + minutes)
                             for i in range(200)])


def main(exe):
    failures = []
    tmp = h.workdir("dw-restart-")
    rng = random.Random(3)
    h.build_reference(exe, os.path.join(tmp, "ref.json"),
                      [{"features": {"x": rng.gauss(0, 1), "y": rng.gauss(0, 1)}}
                       for _ in range(20000)], model="m")
    rcv = h.Receiver(responses=[200]).start()
    mk, boot = h.mock_kafka(exe, {"logs": 1})
    try:
        cfg = os.path.join(tmp, "c.yaml")
        with open(cfg, "w") as f:
            f.write(h.config_head([("m", tmp + "/ref.json")], ["10m"], boot, "logs", "restart",
                                  fast=True))
            f.write(h.webhook_tail(rcv.url, tmp))

        runs = []

        def start():
            runs.append(h.spawn([exe, "run", "-c", cfg], "run%d" % len(runs)))
            return runs[-1]

        run = start()
        produce(boot, 0, 10, 0.0, rng)
        produce(boot, 10, 20, 1.5, rng)  # x drifts
        fired = h.wait_for(lambda: [a for a in alerts(rcv, "firing")
                                    if a["column"] == "features.x"], 60, "the firing alert")
        rc = h.stop(run)
        if rc != 0:
            failures.append("first run exited %d" % rc)
        path = os.path.join(tmp, "alerts.json")
        saved = json.load(open(path)) if os.path.exists(path) else {"alerts": []}
        if not any(a["column"] == "features.x" for a in saved["alerts"]):
            failures.append("alerts.json lacks the firing alert: %s" % saved)
        nfiring = len(alerts(rcv, "firing"))

        run = start()
        produce(boot, 30, 20, 0.0, rng)  # back to normal after the restart
        resolved = h.wait_for(lambda: [a for a in alerts(rcv, "resolved")
                                       if a["column"] == "features.x"], 60, "the resolve")
        if resolved[0]["dedup_key"] != fired[0]["dedup_key"]:
            failures.append("resolve dedup_key %s != firing %s"
                            % (resolved[0]["dedup_key"], fired[0]["dedup_key"]))
        if len(alerts(rcv, "firing")) != nfiring:
            failures.append("the restarted run fired again")
        if h.stop(run) != 0:
            failures.append("second run did not exit 0")
    except AssertionError as e:
        failures.append(str(e))
    h.stop(mk, 10)
    print("restart_alerts: %d passed, %d failed" % (0 if failures else 1, 1 if failures else 0))
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    h.main(main, sys.argv[1])

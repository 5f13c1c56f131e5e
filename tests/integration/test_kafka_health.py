#!/usr/bin/python3
"""Kafka health in /metrics and /api/v1/status (issue 12, item 5).

usage: test_kafka_health.py DRIFTWATCH_BINARY

`driftwatch run` against `driftwatch mock-kafka`; the brokers are taken down
(mock-kafka's SIGUSR1) and brought back (SIGUSR2). While they are down
driftwatch_kafka_brokers_up is 0 and the status says so, the last-message
time stays where it was, and readiness stays 200 (it is deliberately not tied
to Kafka, docs/operations.md); when they are back the gauge counts them
again.
"""
import os
import signal
import sys
import time

import harness as h

T0 = 1767225600000


def main(argv):
    dw = argv[1]
    h.budget(150)
    work = h.workdir("dw-kafka-health-")
    mock, bootstrap = h.mock_kafka(dw, {"health-logs": 2})
    rows = [{"ts": T0 + i * 1000, "model": "m", "features": {"x": float(i % 50)}}
            for i in range(500)]
    ref = os.path.join(work, "ref.json")
    h.build_reference(dw, ref, rows, model="m")
    port = h.free_port()
    cfg = os.path.join(work, "c.yaml")
    with open(cfg, "w") as f:
        f.write(h.config_head([("m", ref)], ["5m"], bootstrap, "health-logs", "dw-health",
                              kafka_extra="  poll_timeout: 50ms\n"))
        f.write("""sinks: []
http:
  listen: "127.0.0.1:%d"
state_dir: %s
""" % (port, work))
    h.validate(dw, cfg)
    sc = h.spawn([dw, "run", "-c", cfg], "run")
    base = "http://127.0.0.1:%d" % port
    h.wait_for(lambda: h.http("GET", base + "/healthz")[0] == 200, 30, "/healthz")
    h.produce(bootstrap, "health-logs", [(r["ts"], r) for r in rows[:100]], nparts=2)

    def gauge(name):
        samples, _, _ = h.metrics(base)
        return h.metric(samples, name)

    h.wait_for(lambda: (gauge("driftwatch_kafka_brokers_up") or 0) >= 1, 30,
               "driftwatch_kafka_brokers_up >= 1")
    up = gauge("driftwatch_kafka_brokers_up")
    last = h.wait_for(lambda: gauge("driftwatch_kafka_last_message_timestamp_seconds"), 30,
                      "a last-message time")
    h.check(abs(last - time.time()) < 120, "last message time %s is not now" % last)
    st = h.status(base)["kafka"]
    h.check(st["brokers_up"] >= 1 and st["last_message"], "status kafka: %s" % st)

    mock.send_signal(signal.SIGUSR1)  # the brokers go down, data kept
    h.wait_for(lambda: gauge("driftwatch_kafka_brokers_up") == 0, 40,
               "driftwatch_kafka_brokers_up == 0 with the brokers down")
    st = h.status(base)
    h.check(st["kafka"]["brokers_up"] == 0, "status kafka while down: %s" % st["kafka"])
    h.check(h.http("GET", base + "/readyz")[0] == 200,
            "/readyz must not depend on Kafka (the model Pod would leave its Service)")
    h.check(gauge("driftwatch_kafka_last_message_timestamp_seconds") >= last,
            "last message time went backwards")

    mock.send_signal(signal.SIGUSR2)
    h.wait_for(lambda: (gauge("driftwatch_kafka_brokers_up") or 0) >= 1, 60,
               "driftwatch_kafka_brokers_up back to >= 1")
    h.produce(bootstrap, "health-logs", [(r["ts"], r) for r in rows[100:200]], nparts=2)
    h.wait_for(lambda: gauge("driftwatch_kafka_last_message_timestamp_seconds") > last, 30,
               "a newer last-message time after the outage")
    rc = h.stop(sc)
    h.check(rc == 0, "run exited %d" % rc)
    print("kafka health: brokers_up %d -> 0 while down -> back; readiness 200 throughout" % up)


if __name__ == "__main__":
    h.main(main, sys.argv)

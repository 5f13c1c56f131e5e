#!/usr/bin/env python3
"""Dead letters end to end: `driftwatch run` with kafka.dead_letter_topic
copies every rejected record to that topic with the reason and its source in
headers, keeps running, and applies the valid records.

usage: test_dead_letter.py DRIFTWATCH REFERENCE_JSON"""
import os
import sys

import harness as h

h.need_module("confluent_kafka")  # skips (77) without it


def main(exe, ref):
    ref = os.path.abspath(ref)
    failures = []
    tmp = h.workdir("dw-dlq-")
    mk, boot = h.mock_kafka(exe, {"logs": 1, "dead": 1})
    try:
        cfg = os.path.join(tmp, "c.yaml")
        with open(cfg, "w") as f:
            f.write(h.config_head([("fraud", ref)], brokers=boot, topic="logs", group="dlq-test",
                                  fast=True, kafka_extra="  dead_letter_topic: dead\n"))
            f.write(f"""sinks: []
http: {{enabled: false}}
state_dir: {tmp}
""")
        run = h.spawn([exe, "run", "-c", cfg], "run")
        bad = [b"{not json", b'{"ts": 1795500000000, "model": "nope"}',
               b'[{"ts": 1795500000000, "model": "fraud"}, 7]']
        good = [b'{"ts": 1795500000000, "model": "fraud", "features": {"amount": %d}}' % i
                for i in range(5)]
        h.produce(boot, "logs", bad + good)

        got = h.consume(boot, "dead", 3, 60, group="dlq-reader")
        reasons = sorted(dict(m.headers())["driftwatch-reason"].decode().split(":")[0]
                         for m in got)
        if reasons != ["invalid_json", "not_object", "unknown_model"]:
            failures.append("dead-letter reasons %s" % reasons)
        for m in got:
            hdr = dict(m.headers())
            if (hdr.get("driftwatch-source-topic") != b"logs"
                    or "driftwatch-source-offset" not in hdr):
                failures.append("missing source headers: %s" % hdr)
        if not any(m.value() == b"{not json" for m in got):
            failures.append("the invalid message is not copied as is")

        rc = h.stop(run)
        if rc != 0:
            failures.append("run exited %d after SIGTERM" % rc)
        counters = [m for m in h.log_msgs(run) if m.startswith("counters:")]
        line = counters[-1] if counters else ""
        for want in ("applied=6", "rejected.invalid_json=1", "rejected.unknown_model=1",
                     "rejected.not_object=1"):
            if want not in line.split():
                failures.append("counters line lacks %s: %s" % (want, line.strip()[:300]))
    except AssertionError as e:
        failures.append(str(e))
    h.stop(mk, 10)
    print("dead_letter: %d passed, %d failed" % (1 if not failures else 0, 1 if failures else 0))
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    h.main(main, sys.argv[1], sys.argv[2])

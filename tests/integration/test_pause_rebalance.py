#!/usr/bin/python3
"""Partitions paused for event-time alignment survive a rebalance.

usage: test_pause_rebalance.py DRIFTWATCH_BINARY

Regression test for a stall seen once in CI (test_sidecar case 4 under
TSan: the restarted sidecar applied 532 records, then nothing for 40 s).
When a partition runs ahead in event time, `driftwatch run` pauses it and
seeks it back to the message it could not place yet. librdkafka keeps an
application's pause across a revoke and a later assignment of the same
partition, and the sidecar kept its own "waiting for offset N" state, so
a paused partition that went to another group member and came back was
never fetched again: the watermark waited for it, every other partition
paused in turn, and nothing was applied any more.

The case: `driftwatch mock-kafka` with a topic of 4 partitions. Partitions
0-2 get 30 minutes of records, partition 3 none, so before the watermark
is known (partition 3 has not delivered) partitions 0-2 each pause after
their first minute. A second member (python3-confluent-kafka, same group,
cooperative-sticky, no commits) joins, which moves partitions away from
the sidecar, paused ones among them, and leaves, which gives them back.
(time.idle_timeout is 0: a quiet partition holds time back
however long it is quiet.) While they wait and nothing is applied, the sidecar's safety net
resumes them after 15 s and they pause again. Then partition 3 gets its
records: the sidecar must apply every record
exactly once (committed offsets reach the end offsets; the counters line
says applied == produced) and count what happened to the rewinds in
driftwatch_consumer_rewinds_total.
"""
import os
import sys

import harness as h
from harness import check

T0 = 1767225600000  # 2026-01-01T00:00:00Z
TOPIC = "pause-rebalance-logs"
NPARTS = 4
GROUP = "dw-pause-rebalance"
MINUTES = 30
EVERY_MS = 10000  # a record every 10 s of event time per partition


def rows(partition):
    return [(T0 + k * EVERY_MS + partition, {"ts": T0 + k * EVERY_MS + partition,
                                             "model": "m",
                                             "features": {"x": float((k * 7 + partition) % 50)}})
            for k in range(MINUTES * 60000 // EVERY_MS)]


def produce_to(bootstrap, partition, items):
    """items (ts, dict) to one partition, in order."""
    Producer = h.need_module("confluent_kafka").Producer
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    errors = []
    for ts, rec in items:
        p.produce(TOPIC, value=h._value(rec), partition=partition, timestamp=int(ts),
                  on_delivery=lambda err, msg: err and errors.append(err))
    check(p.flush(h.remaining(30)) == 0, "producer: messages not delivered")
    check(not errors, "producer errors: %s" % errors[:3])
    return len(items)


def assigned(base):
    """Partitions the sidecar has now (not lost), from /api/v1/status."""
    cons = h.status(base).get("consumer") or {}
    return sorted(p["partition"] for p in cons.get("partitions", []) if not p["lost"])


def main(argv):
    dw = argv[1]
    h.budget(240)
    ck = h.need_module("confluent_kafka")
    work = h.workdir("dw-pause-rebalance-")
    mock, bootstrap = h.mock_kafka(dw, {TOPIC: NPARTS})
    ref = os.path.join(work, "ref.json")
    h.build_reference(dw, ref, [{"ts": T0 + i, "model": "m", "features": {"x": float(i % 50)}}
                                for i in range(2000)], model="m")
    port = h.free_port()
    cfg = os.path.join(work, "c.yaml")
    with open(cfg, "w") as f:
        f.write("""kafka:
  brokers: "%s"
  topics: ["%s"]
  group_id: "%s"
  poll_timeout: 50ms
  commit_interval: 200ms
  properties:
    session.timeout.ms: "6000"
    heartbeat.interval.ms: "500"
models:
  - name: m
    reference: %s
windows:
  - {name: 5m, length: 5m, slide: 1m}
time:
  idle_timeout: 0
sinks: []
http:
  listen: "127.0.0.1:%d"
state_dir: %s
log:
  level: debug
""" % (bootstrap, TOPIC, GROUP, ref, port, work))
    h.validate(dw, cfg)
    sc = h.spawn([dw, "run", "-c", cfg], "run")
    base = "http://127.0.0.1:%d" % port
    h.wait_for(lambda: h.http("GET", base + "/healthz")[0] == 200, 30, "/healthz")
    h.wait_for(lambda: assigned(base) == list(range(NPARTS)), 60,
               "the sidecar to be assigned all %d partitions" % NPARTS, 0.2)
    produced = sum(produce_to(bootstrap, p, rows(p)) for p in range(3))

    def paused():
        return (h.status(base).get("consumer") or {}).get("paused_partitions", 0)
    # Partition 3 has not delivered, so the watermark is unknown and
    # partitions 0-2 each wait after their first minute.
    h.wait_for(lambda: paused() == 3, 60, "partitions 0-2 to pause", 0.2)
    # Nothing is applied now: after 15 s the sidecar reads the paused
    # partitions again (its safety net against a resume rule that can no
    # longer be met), and they pause again at the same messages; the final
    # counts show that nothing was lost or counted twice by it.
    h.wait_for(lambda: any("reading them again" in m for m in h.log_msgs(sc)), 60,
               "the stalled-resume warning", 0.5)
    h.wait_for(lambda: paused() == 3, 60, "partitions 0-2 to pause again", 0.2)

    other = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP,
                         "partition.assignment.strategy": "cooperative-sticky",
                         "enable.auto.commit": False, "session.timeout.ms": 6000,
                         "heartbeat.interval.ms": 500})
    try:
        other.subscribe([TOPIC])

        def other_has():
            other.poll(0.1)  # serves the rebalance; records are not committed
            return len(other.assignment()) > 0
        h.wait_for(other_has, 60, "the second member to get partitions", 0)
        moved = sorted(tp.partition for tp in other.assignment())
        check(any(p < 3 for p in moved),
              "no paused partition moved to the second member (it has %s)" % moved)
    finally:
        other.close()
    h.wait_for(lambda: assigned(base) == list(range(NPARTS)), 60,
               "the sidecar to be assigned all partitions again", 0.2)

    produced += produce_to(bootstrap, 3, rows(3))
    group = h.KafkaTopic(bootstrap, TOPIC, NPARTS, GROUP)
    try:
        group.wait_caught_up(sc, 60)
    finally:
        group.close()
    samples, _, _ = h.metrics(base)
    rewinds = {k[1][0][1]: v for k, v in samples.items()
               if k[0] == "driftwatch_consumer_rewinds_total"}
    check(rewinds.get("revoked", 0) >= 1,
          "driftwatch_consumer_rewinds_total %s: no rewind counted as revoked" % rewinds)
    check(rewinds.get("reread", 0) >= 3,
          "driftwatch_consumer_rewinds_total %s: fewer than 3 rewinds re-read" % rewinds)
    check(h.stop(sc) == 0, "driftwatch run did not exit 0 on SIGTERM")
    cnt = h.counters(sc)
    check(cnt["applied"] == produced, "applied=%d, produced %d (counters %s)"
          % (cnt["applied"], produced, cnt))
    check(h.stop(mock) == 0, "mock-kafka did not exit 0 on SIGTERM")
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    h.main(main, sys.argv)

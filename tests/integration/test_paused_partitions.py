#!/usr/bin/python3
"""Partitions paused for event-time alignment come back.

usage: test_paused_partitions.py DRIFTWATCH_BINARY [CASE...]

Regression tests for a stall seen once in CI (test_sidecar case 4 under
TSan: the restarted sidecar applied 532 records, then nothing for 40 s).
When a partition runs ahead in event time, `driftwatch run` pauses it and
seeks it back to the message it could not place yet, and resumes it once
the earliest paused message fits into the open windows. Two ways that
never happened:

  older_partition_last: two partitions deliver first (from minute 21) and
      pause a minute later, as the watermark is not known yet; the third
      then delivers from minute 11. Its older records moved the windows'
      clock back, but the engine kept the later pane end it had cached, so
      no pane closed, the third partition paused at minute 22 as well and
      the resume rule could never be met (this was case 4's stall).
  rebalance: librdkafka keeps an application's pause across a revoke and
      a later assignment of the same partition, and the sidecar kept its
      "waiting for offset N" state: a paused partition that went to
      another group member and came back was never fetched again. Here
      partitions 0-2 have records and partition 3 none, so 0-2 pause after
      their first minute (time.idle_timeout is 0: a quiet partition holds
      time back however long it is quiet). While nothing is applied the
      sidecar's safety net reads them again after 15 s and they pause
      again. A second member (python3-confluent-kafka, same group,
      cooperative-sticky, no commits) joins, which moves partitions away,
      paused ones among them, and leaves, which gives them back; then
      partition 3 gets its records.

Each case: `driftwatch mock-kafka`, `driftwatch run` with its own topic and
group; every record must be applied exactly once (the committed offsets
reach the end offsets; the counters line says applied == produced, nothing
rejected), and driftwatch_consumer_rewinds_total counts the rewinds.
"""
import os
import sys

import harness as h
from harness import check

T0 = 1767225600000  # 2026-01-01T00:00:00Z
EVERY_MS = 10000  # a record every 10 s of event time per partition
TOPICS = {"paused-older-logs": 3, "paused-rebalance-logs": 4}
DW = WORK = BOOTSTRAP = REF = None


def rows(partition, from_min, to_min):
    out = []
    for k in range(from_min * 60000 // EVERY_MS, to_min * 60000 // EVERY_MS):
        ts = T0 + k * EVERY_MS + partition
        out.append((ts, {"ts": ts, "model": "m",
                         "features": {"x": float((k * 7 + partition) % 50)}}))
    return out


def produce_to(topic, partition, items):
    """items (ts, dict) to one partition, in order; returns how many."""
    Producer = h.need_module("confluent_kafka").Producer
    p = Producer({"bootstrap.servers": BOOTSTRAP, "linger.ms": 5})
    errors = []
    for ts, rec in items:
        p.produce(topic, value=h._value(rec), partition=partition, timestamp=int(ts),
                  on_delivery=lambda err, msg: err and errors.append(err))
    check(p.flush(h.remaining(30)) == 0, "producer: messages not delivered")
    check(not errors, "producer errors: %s" % errors[:3])
    return len(items)


class Sidecar:
    """`driftwatch run` on one topic, with its HTTP server."""

    def __init__(self, topic, group):
        self.topic, self.group, self.nparts = topic, group, TOPICS[topic]
        self.port = h.free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        cfg = os.path.join(WORK, group + ".yaml")
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
  - {name: m, reference: "%s"}
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
""" % (BOOTSTRAP, topic, group, REF, self.port, WORK))
        h.validate(DW, cfg)
        self.proc = h.spawn([DW, "run", "-c", cfg], group)
        h.wait_for(lambda: h.http("GET", self.base + "/healthz")[0] == 200, 30, "/healthz")
        h.wait_for(lambda: self.assigned() == list(range(self.nparts)), 60,
                   "the sidecar to be assigned all %d partitions" % self.nparts, 0.2)

    def consumer(self):
        return h.status(self.base).get("consumer") or {}

    def assigned(self):
        """Partitions the sidecar has now (not lost)."""
        return sorted(p["partition"] for p in self.consumer().get("partitions", [])
                      if not p["lost"])

    def paused(self):
        return self.consumer().get("paused_partitions", 0)

    def rewinds(self):
        samples, _, _ = h.metrics(self.base)
        return {dict(k[1])["outcome"]: v for k, v in samples.items()
                if k[0] == "driftwatch_consumer_rewinds_total"}

    def finish(self, produced):
        """Every record applied once, then SIGTERM; returns the rewinds."""
        group = h.KafkaTopic(BOOTSTRAP, self.topic, self.nparts, self.group)
        try:
            group.wait_caught_up(self.proc, 60)
        finally:
            group.close()
        rewinds = self.rewinds()
        check(h.stop(self.proc) == 0, "driftwatch run did not exit 0 on SIGTERM")
        cnt = h.counters(self.proc)
        check(cnt["applied"] == produced, "applied=%d, produced %d (counters %s)"
              % (cnt["applied"], produced, cnt))
        bad = {k: v for k, v in cnt.items() if k.startswith("rejected.") and v}
        check(not bad, "records rejected: %s" % bad)
        return rewinds


def case_older_partition_last():
    sc = Sidecar("paused-older-logs", "dw-paused-older")
    produced = sum(produce_to(sc.topic, p, rows(p, 21, 40)) for p in (0, 2))
    h.wait_for(lambda: sc.paused() == 2, 60, "partitions 0 and 2 to pause", 0.2)
    produced += produce_to(sc.topic, 1, rows(1, 11, 40))
    rewinds = sc.finish(produced)
    check(rewinds.get("reread", 0) >= 2,
          "driftwatch_consumer_rewinds_total %s: fewer than 2 rewinds read again" % rewinds)


def case_rebalance():
    ck = h.need_module("confluent_kafka")
    sc = Sidecar("paused-rebalance-logs", "dw-paused-rebalance")
    produced = sum(produce_to(sc.topic, p, rows(p, 0, 30)) for p in range(3))
    # Partition 3 has not delivered, so the watermark is unknown and
    # partitions 0-2 each wait after their first minute.
    h.wait_for(lambda: sc.paused() == 3, 60, "partitions 0-2 to pause", 0.2)
    # Nothing is applied now: after 15 s the sidecar reads the paused
    # partitions again (its safety net against a resume rule that can no
    # longer be met), and they pause again at the same messages; the final
    # counts show that nothing was lost or counted twice by it.
    h.wait_for(lambda: any("reading them again" in m for m in h.log_msgs(sc.proc)), 60,
               "the stalled-resume warning", 0.5)
    h.wait_for(lambda: sc.paused() == 3, 60, "partitions 0-2 to pause again", 0.2)

    other = ck.Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": sc.group,
                         "partition.assignment.strategy": "cooperative-sticky",
                         "enable.auto.commit": False, "session.timeout.ms": 6000,
                         "heartbeat.interval.ms": 500})
    try:
        other.subscribe([sc.topic])

        def other_has():
            other.poll(0.1)  # serves the rebalance; records are not committed
            return len(other.assignment()) > 0
        h.wait_for(other_has, 60, "the second member to get partitions", 0)
        moved = sorted(tp.partition for tp in other.assignment())
        check(any(p < 3 for p in moved),
              "no paused partition moved to the second member (it has %s)" % moved)
    finally:
        other.close()
    h.wait_for(lambda: sc.assigned() == list(range(sc.nparts)), 60,
               "the sidecar to be assigned all partitions again", 0.2)
    produced += produce_to(sc.topic, 3, rows(3, 0, 30))
    rewinds = sc.finish(produced)
    check(rewinds.get("revoked", 0) >= 1,
          "driftwatch_consumer_rewinds_total %s: no rewind counted as revoked" % rewinds)
    check(rewinds.get("reread", 0) >= 3,
          "driftwatch_consumer_rewinds_total %s: fewer than 3 rewinds read again" % rewinds)


CASES = [case_older_partition_last, case_rebalance]


def main(argv):
    global DW, WORK, BOOTSTRAP, REF
    if len(argv) < 2:
        print(__doc__)
        return 2
    DW = argv[1]
    h.budget(280)
    h.need_module("confluent_kafka")
    WORK = h.workdir("dw-paused-")
    mock, BOOTSTRAP = h.mock_kafka(DW, TOPICS)
    REF = os.path.join(WORK, "ref.json")
    h.build_reference(DW, REF, [{"ts": T0 + i, "model": "m", "features": {"x": float(i % 50)}}
                                for i in range(2000)], model="m")
    passed, failed = h.run_cases(CASES, argv[2:])
    if not failed:
        check(h.stop(mock) == 0, "mock-kafka did not exit 0 on SIGTERM")
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    h.main(main, sys.argv)

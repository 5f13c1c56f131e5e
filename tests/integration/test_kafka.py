#!/usr/bin/python3
"""Integration test: `driftwatch mock-kafka`, real clients, at-least-once.

usage: test_kafka.py DRIFTWATCH_BINARY CONSUME_DRIVER_BINARY

Starts the mock broker, produces 1000 records with kcat and with
confluent_kafka, consumes them with consume_driver (dw_consumer), SIGKILLs
the driver mid-stream and checks that the restarted driver re-reads every
record after the last committed offset and skips none; then checks that
SIGTERM commits the final offsets (no duplicates after a restart) and that
mock-kafka exits 0 on SIGTERM. Every wait has a timeout; the whole test is
bounded by BUDGET_S.
"""
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import harness as h

_ck = h.need_module("confluent_kafka")  # skips (77) without it
Consumer, Producer, TopicPartition = _ck.Consumer, _ck.Producer, _ck.TopicPartition

BUDGET_S = 60  # hard bound: the test fails rather than hang
TOPIC = "model-logs"
PARTITIONS = 3
GROUP = "it-driver"
# Short session so the group notices the SIGKILLed driver within seconds
# (the 45 s default would dominate the run time); passed through -X.
DRIVER_PROPS = ["-X", "session.timeout.ms=3000", "-X", "heartbeat.interval.ms=300"]

START = time.monotonic()
remaining = h.remaining


class Reader:
    """Drains a process's stdout on a thread so it never blocks on a full
    pipe; lines arrive in a queue, None marks EOF."""

    def __init__(self, proc):
        self.q = queue.Queue()
        self.t = threading.Thread(target=self._run, args=(proc.stdout,), daemon=True)
        self.t.start()

    def _run(self, f):
        for line in f:
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def get(self, timeout):
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            return ""  # nothing within timeout (distinct from EOF = None)


def spawn(args, name):
    return h.spawn(args, name, stdout=subprocess.PIPE, text=True)


def wait_exit(p, cap):
    return p.wait(timeout=remaining(cap))


class Driver:
    def __init__(self, bootstrap, name, extra):
        self.p = spawn([DRIVER, "-b", bootstrap, "-t", TOPIC, "-g", GROUP, "-c", "200"]
                       + DRIVER_PROPS + extra, name)
        self.r = Reader(self.p)
        self.records = []  # (partition, offset, payload) in output order
        self.eof = False

    def pump(self, timeout):
        """Reads what is available (waits up to timeout for the first line)."""
        line = self.r.get(timeout)
        while line:
            t, p, o, payload = line.split(" ", 3)
            assert t == TOPIC, line
            self.records.append((int(p), int(o), payload))
            line = self.r.get(0)
        if line is None:
            self.eof = True

    def drain(self, cap):
        while not self.eof:
            self.pump(remaining(cap))


def committed(bootstrap):
    """The group's committed offsets per partition (-1001 = none), fetched
    with a confluent_kafka consumer that does not join the group."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP})
    try:
        tps = c.committed([TopicPartition(TOPIC, p) for p in range(PARTITIONS)],
                          timeout=remaining(10))
        return {tp.partition: tp.offset for tp in tps}
    finally:
        c.close()


def end_offsets(bootstrap):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "it-watermarks"})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=remaining(10))[1]
                for p in range(PARTITIONS)}
    finally:
        c.close()


def produce_kcat(bootstrap, payloads):
    data = "".join("k%s:%s\n" % (v, v) for v in payloads)
    r = h.run(["kcat", "-b", bootstrap, "-P", "-t", TOPIC, "-K", ":"], 20, stdin=data)
    assert r.returncode == 0, r.stderr


def produce_ck(bootstrap, payloads):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    failed = []
    for v in payloads:
        p.produce(TOPIC, v.encode(), key=("k" + v).encode(),
                  on_delivery=lambda err, msg: failed.append(err) if err else None)
        p.poll(0)
    assert p.flush(remaining(20)) == 0, "confluent_kafka producer did not flush"
    assert not failed, failed


def check_confluent_group(bootstrap, total):
    """A confluent_kafka consumer group can consume, commit and read back."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "it-python",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "session.timeout.ms": 6000})
    try:
        c.subscribe([TOPIC])
        got = None
        deadline = time.monotonic() + remaining(20)
        while got is None and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and not m.error():
                got = m
        assert got is not None, "confluent_kafka consumer got nothing"
        c.commit(message=got, asynchronous=False)
        tp = c.committed([TopicPartition(TOPIC, got.partition())], timeout=remaining(10))[0]
        assert tp.offset == got.offset() + 1, (tp.offset, got.offset())
    finally:
        c.close()
    # kcat reads the whole topic too.
    r = h.run(["kcat", "-b", bootstrap, "-C", "-t", TOPIC, "-e", "-q", "-f", "%s\n"], 20)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == total, len(r.stdout.splitlines())


def by_partition(records):
    out = {p: [] for p in range(PARTITIONS)}
    for p, o, _ in records:
        out[p].append(o)
    return out


def main():
    h.budget(BUDGET_S)
    h.need_tool("kcat")
    bsfile = os.path.join(h.workdir("dw-kafka-it-"), "bootstrap")
    # Not h.mock_kafka: this test also checks the address printed on stdout.
    mock = spawn([DRIFTWATCH, "mock-kafka", "--topic", "%s:%d" % (TOPIC, PARTITIONS),
                  "--bootstrap-file", bsfile], "mock")
    mr = Reader(mock)
    bootstrap = mr.get(remaining(10))
    assert bootstrap and bootstrap.startswith("127.0.0.1:"), repr(bootstrap)
    with open(bsfile) as f:
        assert f.read().strip() == bootstrap

    produced = ["kcat-%d" % i for i in range(500)] + ["ck-%d" % i for i in range(500)]
    produce_kcat(bootstrap, produced[:500])
    produce_ck(bootstrap, produced[500:])
    check_confluent_group(bootstrap, len(produced))
    end = end_offsets(bootstrap)
    assert sum(end.values()) == len(produced), end

    # Run 1: slow driver (5 ms per record), SIGKILLed mid-stream once at
    # least one auto-commit happened.
    d1 = Driver(bootstrap, "driver1", ["-d", "5"])
    while len(d1.records) < 200:
        d1.pump(remaining(20))
        assert not d1.eof, "driver 1 exited early"
    while sum(max(o, 0) for o in committed(bootstrap).values()) == 0:
        d1.pump(remaining(0.2))
    d1.p.send_signal(signal.SIGKILL)
    wait_exit(d1.p, 10)
    d1.drain(10)
    c1 = committed(bootstrap)
    seen1 = by_partition(d1.records)
    assert len(d1.records) < len(produced), "driver 1 finished before it was killed"
    for p in range(PARTITIONS):
        # Offsets are committed only for applied (printed) records.
        applied_end = max(seen1[p]) + 1 if seen1[p] else -1001
        assert c1[p] <= applied_end, (p, c1[p], applied_end)

    # Run 2: restart in the same group; it must resume at the committed
    # offsets and re-read everything after them.
    d2 = Driver(bootstrap, "driver2", [])
    want = set(produced)
    while not want <= {r[2] for r in d1.records + d2.records}:
        d2.pump(remaining(30))
        assert not d2.eof, "driver 2 exited early"
    seen2 = by_partition(d2.records)
    for p in range(PARTITIONS):
        start = c1[p] if c1[p] >= 0 else 0
        expected = set(range(start, end[p]))
        assert expected <= set(seen2[p]), (p, sorted(expected - set(seen2[p]))[:10])
        assert min(seen2[p], default=end[p]) >= start, (p, min(seen2[p]), start)
    # SIGTERM: final commit of everything printed, exit 0.
    d2.p.send_signal(signal.SIGTERM)
    assert wait_exit(d2.p, 20) == 0, "driver 2 did not exit 0 on SIGTERM"
    d2.drain(10)
    c2 = committed(bootstrap)
    last2 = by_partition(d2.records)
    for p in range(PARTITIONS):
        assert c2[p] == max(last2[p]) + 1 == end[p], (p, c2[p], end[p])

    # Run 3: after a clean stop, a restart sees only new records.
    late = ["late-%d" % i for i in range(30)]
    produce_ck(bootstrap, late)
    d3 = Driver(bootstrap, "driver3", ["-n", str(len(late))])
    assert wait_exit(d3.p, 30) == 0, "driver 3 failed"
    d3.drain(10)
    assert sorted(r[2] for r in d3.records) == sorted(late), d3.records[:5]
    for p, o, _ in d3.records:
        assert o >= c2[p], (p, o, c2[p])

    mock.send_signal(signal.SIGTERM)
    assert wait_exit(mock, 15) == 0, "mock-kafka did not exit 0 on SIGTERM"
    print("ok: %d produced, run1 %d (killed), run2 %d, run3 %d, %.1f s"
          % (len(produced), len(d1.records), len(d2.records), len(d3.records),
             time.monotonic() - START))


if __name__ == "__main__":
    DRIFTWATCH, DRIVER = sys.argv[1], sys.argv[2]
    h.main(main)

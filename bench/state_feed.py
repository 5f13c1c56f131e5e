#!/usr/bin/python3
"""Kafka side of bench_state.sh (Debian's python3-confluent-kafka, run with
/usr/bin/python3). Records go to partition i % P with the record's "ts" as
the message timestamp, so every partition is in event-time order.

    state_feed.py pace --bootstrap BS --topic T --partitions P --file F
                       --rate R --speedup S --group G --state-topic ST [--pid PID]
        Produces the records of F (one JSON record a line, R records per
        second of event time) at R x S records per wall second, while reading
        the state topic ST (partition 0, from its start) as driftwatch writes
        it. When every record is produced it waits until group G has committed
        the end offsets, then reads ST to its end, and prints one JSON object:
        records, event_minutes, wall seconds, state messages, deltas, marks,
        payload bytes, and the lz4 frame bytes every message would take.

    state_feed.py fill --bootstrap BS --topic T --partitions P --file F
        Produces every record of F as fast as it can and checks that the
        broker kept all of them (mock-kafka keeps ~5 MB per partition).

    state_feed.py wait --bootstrap BS --topic T --partitions P --group G [--pid PID]
        Waits until group G has committed the end offsets of T; prints one
        JSON object: done (epoch seconds) and, with --pid, the process's CPU
        seconds (user + system, all threads) at that moment.

Stored size: the broker stores what librdkafka's producer sends. driftwatch
sends deltas uncompressed (src/state_topic.c: version-2 deltas are varints
that lz4 shrank by only 3-10 %), so a message takes its payload plus the
Kafka record batch header (61 bytes) and a record header (about 8 bytes):
deltas are at least tens of milliseconds apart and the producer's linger.ms
is 5, so each one is a batch of its own. What lz4 would store is reported
too: each payload compressed the way librdkafka does (one LZ4 frame of
independent 64 KB blocks, through liblz4 with ctypes). Checked once against
librdkafka when driftwatch still compressed: 24 deltas (7.3 MB) sent by an
lz4 producer one per request came to 5,047,537 bytes of produce requests (its txbytes statistic), the estimate to 5,045,949."""

import argparse
import ctypes
import json
import os
import sys
import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition

BATCH_OVERHEAD = 61 + 8
DELTA_MAGICS = (b"DWD\x01", b"DWD\x02")  # format versions 1 and 2 (delta.h)


class _FrameInfo(ctypes.Structure):
    _fields_ = [("blockSizeID", ctypes.c_int), ("blockMode", ctypes.c_int),
                ("contentChecksumFlag", ctypes.c_int), ("frameType", ctypes.c_int),
                ("contentSize", ctypes.c_ulonglong), ("dictID", ctypes.c_uint),
                ("blockChecksumFlag", ctypes.c_int)]


class _Prefs(ctypes.Structure):
    """LZ4F_preferences_t of lz4frame.h (liblz4 1.9)."""
    _fields_ = [("frameInfo", _FrameInfo), ("compressionLevel", ctypes.c_int),
                ("autoFlush", ctypes.c_uint), ("favorDecSpeed", ctypes.c_uint),
                ("reserved", ctypes.c_uint * 3)]


class Lz4:
    """LZ4 frames as librdkafka's producer makes them: default level, 64 KB
    blocks compressed independently (LZ4F_blockIndependent)."""

    def __init__(self):
        self.lib = ctypes.CDLL("liblz4.so.1")
        self.lib.LZ4F_compressFrameBound.restype = ctypes.c_size_t
        self.lib.LZ4F_compressFrameBound.argtypes = [ctypes.c_size_t, ctypes.c_void_p]
        self.lib.LZ4F_compressFrame.restype = ctypes.c_size_t
        self.lib.LZ4F_compressFrame.argtypes = [ctypes.c_void_p, ctypes.c_size_t,
                                                ctypes.c_char_p, ctypes.c_size_t,
                                                ctypes.c_void_p]
        self.lib.LZ4F_isError.restype = ctypes.c_uint
        self.lib.LZ4F_isError.argtypes = [ctypes.c_size_t]
        self.prefs = _Prefs()
        self.prefs.frameInfo.blockMode = 1  # LZ4F_blockIndependent

    def frame_size(self, data):
        bound = self.lib.LZ4F_compressFrameBound(len(data), ctypes.byref(self.prefs))
        dst = ctypes.create_string_buffer(bound)
        n = self.lib.LZ4F_compressFrame(dst, bound, data, len(data), ctypes.byref(self.prefs))
        if self.lib.LZ4F_isError(n):
            raise RuntimeError("LZ4F_compressFrame failed")
        return n


def cpu_seconds(pid):
    """User + system CPU seconds of a process (all its threads)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ts_of(line):
    # gen_data.py writes '{"ts": 1795500000000, ...'
    return int(line[line.index(b":") + 1:line.index(b",")])


def producer(bootstrap):
    return Producer({"bootstrap.servers": bootstrap, "linger.ms": 10,
                     "queue.buffering.max.messages": 500000})


def produce(p, topic, partition, line, errors):
    def cb(err, msg):
        if err is not None:
            errors.append(str(err))
    while True:
        try:
            p.produce(topic, value=line, partition=partition, timestamp=ts_of(line),
                      on_delivery=cb)
            return
        except BufferError:
            p.poll(0.05)


def tps(topic, nparts):
    return [TopicPartition(topic, p) for p in range(nparts)]


def ends(c, topic, nparts):
    return [c.get_watermark_offsets(tp, timeout=10)[1] for tp in tps(topic, nparts)]


def wait_committed(bootstrap, topic, nparts, group, timeout, pid=None):
    """Polls group's committed offsets until they equal the end offsets.
    Returns (done epoch seconds, CPU seconds of pid then or None)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    try:
        want = ends(c, topic, nparts)
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            if pid is not None and not os.path.exists("/proc/%d" % pid):
                raise SystemExit("driftwatch (pid %d) exited while consuming" % pid)
            got = [max(tp.offset, 0) for tp in
                   sorted(c.committed(tps(topic, nparts), timeout=10), key=lambda t: t.partition)]
            if got == want:
                done = time.time()
                return done, (cpu_seconds(pid) if pid is not None else None)
            time.sleep(0.05)
        raise SystemExit("group %s did not commit %s within %d s (committed: %s)"
                         % (group, want, timeout, got))
    finally:
        c.close()


class StateReader(threading.Thread):
    """Reads the state topic from its start and counts what is on it."""

    def __init__(self, bootstrap, topic):
        super().__init__(daemon=True)
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": "statebench-reader",
                           "enable.auto.commit": False, "auto.offset.reset": "earliest",
                           "fetch.wait.max.ms": 50})
        self.c.assign([TopicPartition(topic, 0, 0)])
        self.topic = topic
        self.lz4 = Lz4()
        self.msgs = self.deltas = self.marks = 0
        self.payload = self.delta_payload = self.lz4_bytes = 0
        self.max_delta = 0
        self.next_offset = 0
        self.first_offset = None
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def run(self):
        while not self.stop.is_set():
            m = self.c.poll(0.1)
            if m is None or m.error():
                continue
            v = m.value() or b""
            n = self.lz4.frame_size(v)
            with self.lock:
                if self.first_offset is None:
                    self.first_offset = m.offset()
                self.msgs += 1
                if v[:4] in DELTA_MAGICS:
                    self.deltas += 1
                    self.delta_payload += len(v)
                    self.max_delta = max(self.max_delta, len(v))
                else:
                    self.marks += 1
                self.payload += len(v)
                self.lz4_bytes += n
                self.next_offset = m.offset() + 1

    def drain(self, timeout=60):
        """Waits until everything up to the topic's current end is read."""
        end = self.c.get_watermark_offsets(TopicPartition(self.topic, 0), timeout=10)[1]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.next_offset >= end:
                    break
            time.sleep(0.05)
        self.stop.set()
        self.join(5)
        self.c.close()
        return end


def cmd_pace(a):
    with open(a.file, "rb") as f:
        lines = [l.rstrip(b"\n") for l in f if l.strip()]
    reader = StateReader(a.bootstrap, a.state_topic)
    reader.start()
    p = producer(a.bootstrap)
    errors = []
    per_s = a.rate * a.speedup
    t0 = time.monotonic()
    for i, line in enumerate(lines):
        if i % 64 == 0:
            d = t0 + i / per_s - time.monotonic()
            if d > 0:
                time.sleep(d)
        produce(p, a.topic, i % a.partitions, line, errors)
        p.poll(0)
    left = p.flush(60)
    wall = time.monotonic() - t0
    if left or errors:
        raise SystemExit("producer: %d not delivered, errors %s" % (left, errors[:3]))
    _, cpu = wait_committed(a.bootstrap, a.topic, a.partitions, a.group, a.timeout, a.pid)
    end = reader.drain()
    if reader.first_offset not in (None, 0) or reader.next_offset < end:
        raise SystemExit("state topic: read offsets %s..%d of 0..%d: the broker dropped some "
                         "(mock-kafka keeps ~5 MB per partition)" %
                         (reader.first_offset, reader.next_offset, end))
    first, last = ts_of(lines[0]), ts_of(lines[-1])
    json.dump({"records": len(lines), "event_minutes": (last - first + 1000.0 / a.rate) / 60000.0,
               "wall_s": wall, "produced_per_s": len(lines) / wall, "cpu_s": cpu,
               "state_messages": reader.msgs, "deltas": reader.deltas, "marks": reader.marks,
               "payload_bytes": reader.payload, "delta_payload_bytes": reader.delta_payload,
               "lz4_bytes": reader.lz4_bytes,
               "stored_bytes_est": reader.payload + BATCH_OVERHEAD * reader.msgs,
               "max_delta_bytes": reader.max_delta}, sys.stdout)
    print()


def cmd_fill(a):
    p = producer(a.bootstrap)
    errors = []
    n = 0
    with open(a.file, "rb") as f:
        for line in f:
            line = line.rstrip(b"\n")
            if not line:
                continue
            produce(p, a.topic, n % a.partitions, line, errors)
            n += 1
            if n % 1000 == 0:
                p.poll(0)
    left = p.flush(120)
    if left or errors:
        raise SystemExit("producer: %d not delivered, errors %s" % (left, errors[:3]))
    c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": "statebench-fill"})
    marks = [c.get_watermark_offsets(tp, timeout=10) for tp in tps(a.topic, a.partitions)]
    c.close()
    if any(lo != 0 for lo, _ in marks) or sum(hi for _, hi in marks) != n:
        raise SystemExit("topic %s kept offsets %s of %d records: the broker dropped some "
                         "(mock-kafka keeps ~5 MB per partition; use more partitions)"
                         % (a.topic, marks, n))
    print(n)


def cmd_wait(a):
    done, cpu = wait_committed(a.bootstrap, a.topic, a.partitions, a.group, a.timeout, a.pid)
    json.dump({"done": done, "cpu_s": cpu}, sys.stdout)
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("pace", "fill", "wait"):
        s = sub.add_parser(name)
        s.add_argument("--bootstrap", required=True)
        s.add_argument("--topic", required=True)
        s.add_argument("--partitions", type=int, required=True)
        s.add_argument("--timeout", type=float, default=600)
        if name != "wait":
            s.add_argument("--file", required=True)
        if name != "fill":
            s.add_argument("--group", required=True)
            s.add_argument("--pid", type=int)
        if name == "pace":
            s.add_argument("--rate", type=float, required=True)
            s.add_argument("--speedup", type=float, default=10)
            s.add_argument("--state-topic", required=True)
    a = ap.parse_args()
    {"pace": cmd_pace, "fill": cmd_fill, "wait": cmd_wait}[a.cmd](a)
    return 0


if __name__ == "__main__":
    sys.exit(main())

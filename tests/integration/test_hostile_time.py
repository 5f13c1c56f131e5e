#!/usr/bin/python3
"""What a producer or the network does to event time and to the lag series,
end to end with `driftwatch run` against `driftwatch mock-kafka` (issue 11,
items 1 and 6).

usage: test_hostile_time.py DRIFTWATCH REFERENCE_JSON [CASE...]

* A record an hour ahead of the wall clock among three partitions is
  rejected as `future` (time.max_future): every later valid record is
  applied (none late), and the panes keep closing slide after slide.
* With the bound off, the same record pauses its partition (it ran ahead
  of the others): /metrics says so (driftwatch_consumer_paused_partitions),
  /api/v1/status marks the partition paused, and its lag series stays and
  grows while records keep arriving on it.
* `replay` has no such bound: a file's records an hour ahead are applied.
* Brokers down (mock-kafka's SIGUSR1) for 60 s, as the issue says: the lag series of every
  partition stays in /metrics for the whole outage.

Everything listens on loopback only.
"""
import json
import os
import signal
import sys
import time

import harness as h

h.need_module("confluent_kafka")
h.need_module("prometheus_client")

EXE = REF = None
T_END = 0  # event time of the newest regular record (ms): a minute ago


def config(tmp, boot, topic, group, port, time_extra=""):
    path = os.path.join(tmp, group + ".yaml")
    with open(path, "w") as f:
        f.write(h.config_head([("fraud", REF)], ["5m"], boot, topic, group, fast=True))
        f.write(f"""time: {{allowed_lateness: 30s {time_extra}}}
sinks: []
http: {{listen: "127.0.0.1:{port}"}}
state_dir: {tmp}
""")
    return path


def rec(ts, i):
    return {"ts": ts, "model": "fraud", "model_version": "v3",
            "features": {"amount": 10.0 + i % 50, "age": 30 + i % 40, "country": "DE"},
            "prediction": {"score": (i % 100) / 100.0}}


def regular(n, minutes=20):
    """n records spread over the `minutes` before T_END, in time order."""
    start = T_END - minutes * 60000
    return [rec(start + i * minutes * 60000 // n, i) for i in range(n)]


def start_run(tmp, boot, topic, group, time_extra=""):
    port = h.free_port()
    run = h.spawn([EXE, "run", "-c", config(tmp, boot, topic, group, port, time_extra)], group)
    base = "http://127.0.0.1:%d" % port
    h.wait_for(lambda: h.http("GET", base + "/healthz")[0] == 200, 30, group + " /healthz")
    return run, base


def counters(base):
    return h.status(base)["counters"]


def case_future_record_among_three_partitions():
    tmp = h.workdir("dw-future-")
    mk, boot = h.mock_kafka(EXE, {"logs": 3}, name="mk-future")
    run, base = start_run(tmp, boot, "logs", "future")
    recs = regular(600)
    # The hostile record goes to partition 0 a third of the way in (the
    # producer sends message i to partition i % 3: 201 -> partition 0).
    items = recs[:201] + [rec(int(time.time() * 1000) + 3600 * 1000, 9999)] + recs[201:]
    h.produce(boot, "logs", items, nparts=3)

    def all_counted():
        c = counters(base)
        return c if c["records"] >= len(items) else None
    c = h.wait_for(all_counted, 60, "every record read")
    rej = c["rejected"]
    h.check(rej["late"] == 0, "valid records rejected as late: %s" % rej)
    h.check(c["applied"] == len(recs), "applied %d of %d" % (c["applied"], len(recs)))
    h.check(rej.get("future") == 1, "future rejections %s" % rej)
    # 20 minutes of event time, 1-minute slides: the watermark (newest of
    # the slowest partition - 30 s) passed ~19 pane ends, each evaluated.
    h.check(c["evaluations"] >= 18, "evaluations %d" % c["evaluations"])
    m, _, _ = h.metrics(base)
    h.check(h.metric(m, "driftwatch_records_rejected_total", reason="future") == 1,
            "driftwatch_records_rejected_total{reason=future}")
    # Partitions read out of step pause for a moment (event-time alignment);
    # the gauge is published once a second: none stays paused.
    h.wait_for(lambda: h.metric(h.metrics(base)[0], "driftwatch_consumer_paused_partitions") == 0,
               15, "no partition paused")
    h.check(h.metric(m, "driftwatch_watermark_seconds") * 1000 >= T_END - 60000,
            "watermark %s behind %d" % (h.metric(m, "driftwatch_watermark_seconds"), T_END))
    h.stop(run)
    h.stop(mk, 10)


def case_paused_partition_visible_and_lag_grows():
    tmp = h.workdir("dw-paused-")
    mk, boot = h.mock_kafka(EXE, {"logs": 3}, name="mk-paused")
    # Bound off and no idle advance: the record an hour ahead holds its
    # partition paused for as long as the test wants.
    run, base = start_run(tmp, boot, "logs", "paused", ", max_future: 0s, idle_timeout: 0s")
    recs = regular(300)
    # Message i goes to partition i % 3: the future record (150) is the
    # 51st message of partition 0, at offset 50.
    items = recs[:150] + [rec(int(time.time() * 1000) + 3600 * 1000, 9999)] + recs[150:]
    p0_total = len(range(0, len(items), 3))
    h.produce(boot, "logs", items, nparts=3)

    def paused():
        m, _, _ = h.metrics(base)
        return m if h.metric(m, "driftwatch_consumer_paused_partitions") == 1 else None
    m = h.wait_for(paused, 60, "driftwatch_consumer_paused_partitions 1")
    st = h.status(base)["consumer"]
    h.check(st["paused_partitions"] == 1, "status paused_partitions %s" % st)
    p0 = [p for p in st["partitions"] if p["paused"]]
    h.check(len(p0) == 1 and p0[0]["partition"] == 0, "paused partitions %s" % st["partitions"])
    # Partition 0 is paused at the future record: it and what follows it
    # on the partition are not read.
    h.check(p0[0]["position"] == 50, "paused at %s" % p0[0])

    def lag0():
        m, _, _ = h.metrics(base)
        return h.metric(m, "driftwatch_consumer_lag", topic="logs", partition="0")
    first = p0_total - 50
    h.wait_for(lambda: lag0() == first, 30, "lag of partition 0 = %d" % first)
    # More records for partition 0 while it is paused: the lag grows.
    h.produce(boot, "logs", [rec(T_END, i) for i in range(30)], nparts=1)
    h.wait_for(lambda: (lag0() or 0) >= first + 30, 30, "lag of paused partition 0 to grow")
    # The two other partitions are read to the end meanwhile.
    def others_read():
        m, _, _ = h.metrics(base)
        return [h.metric(m, "driftwatch_consumer_lag", topic="logs", partition=p)
                for p in ("1", "2")] == [0, 0]
    h.wait_for(others_read, 60, "partitions 1 and 2 read to the end")
    h.check(h.status(base)["consumer"]["paused_partitions"] == 1, "partition 0 still paused")
    h.stop(run)
    h.stop(mk, 10)


def case_broker_down_lag_series_stays():
    tmp = h.workdir("dw-outage-")
    mk, boot = h.mock_kafka(EXE, {"logs": 2}, name="mk-outage")
    run, base = start_run(tmp, boot, "logs", "outage")
    h.produce(boot, "logs", regular(100), nparts=2)

    def series():
        m, _, _ = h.metrics(base)
        return [h.metric(m, "driftwatch_consumer_lag", topic="logs", partition=p)
                for p in ("0", "1")]
    h.wait_for(lambda: series() == [0, 0], 60, "lag series of both partitions at 0")
    mk.send_signal(signal.SIGUSR1)
    # Longer than session.timeout.ms (6 s): the group session expires and
    # librdkafka drops the assignment as lost.
    gaps = []
    end = time.time() + 60
    while time.time() < end:
        s = series()
        if None in s:
            gaps.append(round(60 - (end - time.time()), 1))
        time.sleep(0.5)
    mk.send_signal(signal.SIGUSR2)
    h.check(not gaps, "lag series missing during the outage at %s s" % gaps[:10])
    # After the outage the group assigns again and the series are current.
    h.produce(boot, "logs", [rec(T_END, i) for i in range(10)], nparts=2)
    h.wait_for(lambda: series() == [0, 0], 60, "lag series at 0 after the outage")
    h.check(h.http("GET", base + "/healthz")[0] == 200, "/healthz after the outage")
    h.stop(run)
    h.stop(mk, 10)


def case_replay_has_no_future_bound():
    # A file is not a live producer: replay applies records ahead of the
    # wall clock (a fixture, a log from a machine with a fast clock) and
    # gives the same results whenever it runs.
    tmp = h.workdir("dw-replay-")
    now = int(time.time() * 1000)
    path = os.path.join(tmp, "ahead.jsonl")
    with open(path, "w") as f:
        for i in range(50):
            f.write(json.dumps(rec(now + 3600 * 1000 + i * 1000, i)) + "\n")
    r = h.run([EXE, "replay", "-c", config(tmp, "127.0.0.1:1", "logs", "replay", 0),
               "--stdout", path])
    h.check(r.returncode == 0, "replay rc %d: %s" % (r.returncode, r.stderr[-1000:]))
    c = h.counters(r.stderr)
    h.check(c["applied"] == 50 and c["rejected.future"] == 0, "replay counters %s" % c)


CASES = [
    case_future_record_among_three_partitions,
    case_replay_has_no_future_bound,
    case_paused_partition_visible_and_lag_grows,
    case_broker_down_lag_series_stays,
]


def main(exe, ref, *only):
    global EXE, REF, T_END
    EXE, REF = exe, os.path.abspath(ref)
    T_END = int(time.time() * 1000) - 60000
    passed, failed = h.run_cases(CASES, only)
    return 1 if failed else 0


if __name__ == "__main__":
    h.main(main, sys.argv[1], sys.argv[2], *sys.argv[3:])

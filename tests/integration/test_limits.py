#!/usr/bin/python3
"""Limits a producer or a configuration can reach, end to end (issue 11,
items 2 and 4).

usage: test_limits.py DRIFTWATCH_BINARY [CASE...]

* Field limit (records.max_fields): 300-column records against a 300-column
  reference are read whole (no column reads as missing, no quality alert);
  a record with more leaves than the limit is rejected as
  `too_many_fields` (its own reason, with the limit in the detail) while
  the records within it are applied; `validate` refuses a reference wider
  than the limit. A message nested deeper than the reader's 64 brackets is
  rejected as `too_deep`, not as invalid JSON.
* Memory budget (evaluation.max_memory_mb): a 100 000-bin reference with a
  1d window sliding by 1m is refused by `validate` with its memory figure
  (checked against the window layout computed here), and by `run` and
  `replay` at start with exit status 2, never a signal; a budget raised
  above the figure accepts the same configuration.

Every process is bounded by a timeout; nothing listens on the network.
"""
import json
import math
import os
import random
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness as h  # noqa: E402

DW = None
TMP = None
T0 = 1767225600  # 2026-01-01T00:00:00Z


def sh(*args, timeout=120):
    return subprocess.run([DW, *args], capture_output=True, text=True, timeout=timeout)


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def config(name, reference, extra="", windows="[{name: 5m, length: 5m, slide: 1m}]"):
    return write(name, """
kafka: {brokers: "127.0.0.1:1", topics: [t], group_id: g}
models:
  - name: m
    reference: %s
windows: %s
sinks:
  - {name: out, type: stdout}
state_dir: %s
http: {enabled: false}
%s""" % (reference, windows, os.path.join(TMP, "state"), extra))


def counters(stderr):
    """The key=value pairs of replay's final "counters:" log line."""
    for line in reversed(stderr.splitlines()):
        try:
            msg = json.loads(line).get("msg", "")
        except ValueError:
            continue
        if msg.startswith("counters:"):
            return dict((k, int(v)) for k, v in
                        (kv.split("=") for kv in msg[len("counters:"):].split()))
    raise AssertionError("no counters line in: %s" % stderr[-2000:])


def wide_reference(ncols):
    """A reference of ncols standard-normal columns features.f000..."""
    path = os.path.join(TMP, "ref%d.json" % ncols)
    if os.path.exists(path):
        return path
    rng = random.Random(ncols)
    train = write("train%d.jsonl" % ncols, "".join(
        json.dumps({"features": {"f%03d" % k: rng.gauss(0, 1) for k in range(ncols)}}) + "\n"
        for _ in range(3000)))
    r = sh("reference", "build", "-i", train, "-o", path, "--bins", "20")
    assert r.returncode == 0, r.stderr
    return path


def records(n, ncols, seed, junk=0):
    """n records over 20 minutes of event time, features like the
    reference's; junk leaves (unrelated keys) come before ts and model."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        rec = {"x%03d" % k: k for k in range(junk)}
        rec["ts"] = T0 + i * 1200.0 / n
        rec["model"] = "m"
        rec["features"] = {"f%03d" % k: rng.gauss(0, 1) for k in range(ncols)}
        out.append(json.dumps(rec))
    return "\n".join(out) + "\n"


# ------------------------------------------------------------- fields


def case_300_columns_no_false_missing():
    ref = wide_reference(300)
    cfg = config("c300.yaml", ref)
    r = sh("validate", "-c", cfg)
    assert r.returncode == 0, r.stderr
    data = write("serve300.jsonl", records(3000, 300, seed=11))
    r = sh("replay", "-c", cfg, "--stdout", data)
    assert r.returncode == 0, r.stderr[-2000:]
    c = counters(r.stderr)
    assert c["applied"] == 3000, c
    assert c["evaluations"] > 0, c
    # Before the fix, columns after the 256th leaf read as missing: one
    # critical quality alert each (f253..f299).
    missing = []
    for line in r.stdout.splitlines():
        for a in json.loads(line).get("alerts", []):
            q = a.get("quality") or {}
            if a.get("kind") == "quality" or q.get("missing_rate", 0) > 0:
                missing.append((a["column"], q.get("missing_rate")))
    assert not missing, "false missing/quality alerts: %s" % missing[:10]


def case_leaves_beyond_limit_rejected_with_own_reason():
    ref = wide_reference(5)
    cfg = config("c5.yaml", ref, "records: {max_fields: 32}\n")
    r = sh("validate", "-c", cfg)
    assert r.returncode == 0, r.stderr
    # 5 columns + ts + model = 7 leaves; 30 unrelated keys before ts make 37.
    ok = records(250, 5, seed=3).splitlines()
    bad = records(250, 5, seed=3, junk=30).splitlines()
    # Every fifth record (in time order) carries the unrelated keys.
    data = write("junk.jsonl", "".join((bad if i % 5 == 4 else ok)[i] + "\n" for i in range(250)))
    r = sh("replay", "-c", cfg, "--stdout", data)
    assert r.returncode == 0, r.stderr[-2000:]
    c = counters(r.stderr)
    assert c["rejected.too_many_fields"] == 50, c
    assert c["applied"] == 200, c
    others = {k: v for k, v in c.items() if k.startswith("rejected.") and
              k != "rejected.too_many_fields" and v}
    assert not others, "rejected under another reason: %s" % others
    # Raising the limit reads the same records whole.
    cfg2 = config("c5b.yaml", ref, "records: {max_fields: 64}\n")
    r = sh("replay", "-c", cfg2, "--stdout", data)
    c = counters(r.stderr)
    assert c["applied"] == 250 and c["rejected.too_many_fields"] == 0, ("max_fields 64", c)


def case_nesting_beyond_limit_rejected_as_too_deep():
    ref = wide_reference(5)
    cfg = config("c5deep.yaml", ref)
    ok = records(3, 5, seed=5).splitlines()

    def nested(depth):
        # depth brackets in all: the record object, then depth - 1 arrays
        rec = json.loads(ok[1])
        return json.dumps(rec)[:-1] + ', "x": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"
    data = write("deep.jsonl", "\n".join([ok[0], nested(64), nested(65), ok[2]]) + "\n")
    r = sh("replay", "-c", cfg, "--stdout", data)
    assert r.returncode == 0, r.stderr[-2000:]
    c = counters(r.stderr)
    # 64 brackets are within DW_SCAN_MAX_NESTING (and applied); 65 are not.
    assert c["applied"] == 3 and c["rejected.too_deep"] == 1, c
    assert c["rejected.invalid_json"] == 0, c


def case_validate_refuses_reference_wider_than_limit():
    ref = wide_reference(300)
    cfg = config("c300small.yaml", ref, "records: {max_fields: 256}\n")
    r = sh("validate", "-c", cfg)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "records.max_fields (256)" in r.stderr and "300 columns" in r.stderr, r.stderr
    assert "at least 303" in r.stderr, r.stderr
    # run refuses it the same way, before contacting anything.
    r = sh("run", "-c", cfg, timeout=30)
    assert r.returncode == 2 and "records.max_fields" in r.stderr, (r.returncode, r.stderr)


# ------------------------------------------------------------- memory


def big_reference():
    path = os.path.join(TMP, "big.json")
    if not os.path.exists(path):
        rng = random.Random(1)
        train = write("big.csv", "amount\n" + "".join(
            "%.6f\n" % rng.gauss(0, 1) for _ in range(200000)))
        r = sh("reference", "build", "-i", train, "-o", path, "--bins", "100000")
        assert r.returncode == 0, r.stderr
    with open(path) as f:
        nbins = json.load(f)["columns"][0]["nbins"]
    assert nbins > 90000, nbins
    return path, nbins


def big_config(name, extra=""):
    ref, nbins = big_reference()
    return config(name, ref, "records: {fields: [amount]}\n" + extra,
                  windows="[{name: 1d, length: 1d, slide: 1m}]"), nbins


def expected_counter_bytes(nbins):
    """The window layout of docs/operations.md ("Size"): 1440 closed panes,
    the open panes of max(lateness 1m, 10m) = ceil(10m/1m) + 1 = 11, and
    the running sum, each (bins + 4) uint64 counters for a numeric column;
    16 versions for a models[] entry without `version:`."""
    slots = 1440 + math.ceil(600000 / 60000) + 1 + 1
    return slots * (nbins + 4) * 8 * 16


def case_budget_validate_refuses_with_figure():
    cfg, nbins = big_config("big.yaml")
    r = sh("validate", "-c", cfg)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    m = re.search(r"window memory would reach ([0-9.]+) GiB \((\d+) bytes\)", r.stderr)
    assert m, r.stderr
    want = expected_counter_bytes(nbins)
    got = int(m.group(2))
    # The counters dominate; per-column bookkeeping adds a few KiB.
    assert want <= got <= want * 1.001, (got, want)
    assert abs(float(m.group(1)) - got / 2**30) < 0.05, (m.group(1), got)
    assert "evaluation.max_memory_mb (1024 MiB)" in r.stderr, r.stderr


def case_budget_run_and_replay_refuse_at_start():
    cfg, _ = big_config("big.yaml")
    for args in (["run", "-c", cfg], ["replay", "-c", cfg, "--stdout", write("one.jsonl", "")]):
        r = sh(*args, timeout=60)
        assert r.returncode == 2, (args[0], r.returncode, r.stderr[-2000:])
        assert "window memory would reach" in r.stderr, r.stderr


def case_budget_raised_accepts():
    cfg, nbins = big_config("big_raised.yaml", "evaluation: {max_memory_mb: 32768}\n")
    r = sh("validate", "-c", cfg)
    assert r.returncode == 0, r.stderr
    m = re.search(r"window memory: up to ([0-9.]+) GiB of evaluation.max_memory_mb 32768 MiB",
                  r.stdout)
    assert m, r.stdout
    assert abs(float(m.group(1)) - expected_counter_bytes(nbins) / 2**30) < 0.05, m.group(1)


CASES = [
    case_300_columns_no_false_missing,
    case_leaves_beyond_limit_rejected_with_own_reason,
    case_nesting_beyond_limit_rejected_as_too_deep,
    case_validate_refuses_reference_wider_than_limit,
    case_budget_validate_refuses_with_figure,
    case_budget_run_and_replay_refuse_at_start,
    case_budget_raised_accepts,
]


def main(argv):
    global DW, TMP
    DW, only = h.args(argv, __doc__)
    TMP = h.workdir("dw-limits-")
    return h.report(*h.run_cases(CASES, only))

if __name__ == "__main__":
    h.main(main, sys.argv)

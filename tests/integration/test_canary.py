#!/usr/bin/python3
"""Model versions side by side (issue 13): canary comparison, the rollout
gate /api/v1/compare, latency quantiles and SLO rules, end to end through
`driftwatch replay` (the same engine as `run`, on event time).

usage: test_canary.py DRIFTWATCH_BINARY [CASE...]

  1. identical: 6 h of v1 and v2 interleaved 50/50 from one distribution:
     no divergence alert (and no latency alert: latency within the SLO).
  2. shift: the same with v2's prediction.score shifted by 0.5 sigma from
     03:00 to 04:00, and v2's latency tripled from 01:00 to 01:30; replay
     --http reads stdin, so the test feeds the hours in stages and asks
     /api/v1/compare between them: pass at 02:00, fail at 03:35, pass at
     05:59; POSTed as Flagger's webhook, 200 on pass and 412 on fail with
     the same document (413 for an oversized body, 400 for a bad one). The notifications (replay --stdout) hold exactly one firing and
     one resolved divergence alert, for v2's prediction.score on the 15m
     window, fired within 10 event-minutes of 03:00 and resolved after
     04:00, none for v1; and one firing and one resolved latency alert for
     v2's SLO. /metrics carries the verdict and latency families.
  3. quantiles: latency p50/p90/p99 of a 15m window in /api/v1/status
     within 1 % relative of numpy.quantile over the same records, for
     lognormal (v1) and bimodal (v2) latencies.
  4. versions: 50 versions of one model: at most DW_ENGINE_MAX_VERSIONS
     (16) tracked, the records of the others counted as rejected, and the
     peak memory no higher than with 16 versions (plus slack).
  5. config: broken compare:/latency: blocks are refused by `validate`
     with file:line: reason.
  6. most_traffic: when a rollout completes and the candidate takes most
     of the traffic, it becomes the baseline: its episode resolves and the
     old version, now the candidate, is compared against it.
  7. check: the same comparison offline, two files or two versions of one
     file, KS D against scipy.

Prints "N passed, N failed"; exit 1 on any failure.
"""
import json
import os
import subprocess
import sys
import time

import numpy as np

import harness as h
from harness import check, run_cases

DW = None
WORKDIR = None
MINUTE = 60000
T0 = 1767225600000  # 2026-01-01T00:00:00Z
PER_MIN = 300       # records per minute and version
SIGMA = 0.1         # prediction.score's standard deviation
COUNTRIES = ["DE", "FR", "US", "IT"]


def minute_of(s):
    return (h.ms_of(s) - T0) / MINUTE


def training(n=20000, seed=7):
    rng = np.random.default_rng(seed)
    for i in range(n):
        yield {"ts": T0 + i, "model": "fraud",
               "features": {"f0": round(float(rng.normal()), 4),
                            "c0": COUNTRIES[int(rng.integers(4))]},
               "prediction": {"score": round(float(rng.normal(0.5, SIGMA)), 5)}}


def stream(minutes, seed, versions=("v1", "v2"), score_shift=None, slow=None,
           latency=None, per_min=PER_MIN):
    """JSON lines, minute by minute, versions interleaved. score_shift:
    (from_min, to_min) in which v2's score moves by +0.5 sigma; slow: the
    same for v2's latency times 3; latency(rng, version, n): the values."""
    rng = np.random.default_rng(seed)
    nv = len(versions)
    for m in range(minutes):
        n = per_min * nv
        f0 = np.round(rng.normal(size=n), 4)
        c0 = rng.integers(4, size=n)
        score = rng.normal(0.5, SIGMA, size=n)
        lat = rng.lognormal(3.0, 0.5, size=n)
        for k in range(n):
            v = versions[k % nv]
            s, l = score[k], lat[k]
            if v == "v2" and score_shift and score_shift[0] <= m < score_shift[1]:
                s += 0.5 * SIGMA
            if v == "v2" and slow and slow[0] <= m < slow[1]:
                l *= 3
            if latency:
                l = latency(rng, v)
            yield json.dumps({"ts": T0 + m * MINUTE + k * MINUTE // n, "model": "fraud",
                              "model_version": v, "request_id": "r%d-%d" % (m, k),
                              "features": {"f0": float(f0[k]), "c0": COUNTRIES[c0[k]]},
                              "prediction": {"score": round(float(s), 5)},
                              "latency_ms": round(float(l), 3)}, separators=(",", ":"))


REF = None


def reference():
    global REF
    if REF is None:
        REF = os.path.join(WORKDIR, "fraud.json")
        h.build_reference(DW, REF, training(), "fraud")
    return REF


def config(name, compare="", latency="", windows=None, validate=True):
    path = os.path.join(WORKDIR, name + ".yaml")
    state = os.path.join(WORKDIR, name + "-state")
    os.makedirs(state, exist_ok=True)
    text = ("kafka: {brokers: \"127.0.0.1:9\", topics: [unused]}\n"
            "models:\n  - name: fraud\n    reference: %s\n" % reference())
    text += compare + latency
    text += "windows:\n" + (windows or "  - {name: 15m, length: 15m, slide: 1m}\n")
    text += ("time: {idle_timeout: 0}\nsinks: []\nhttp: {listen: \"127.0.0.1:0\"}\n"
             "state_dir: %s\n" % state)
    with open(path, "w") as f:
        f.write(text)
    if validate:
        h.validate(DW, path)
    return path


COMPARE = """    compare:
      baseline: v1
      candidates: all
      thresholds: {psi: 0.1, ks: 0.05}
      latency: {quantile: 0.99, max_ratio: 1.5}
"""
LATENCY = """    latency:
      field: latency_ms
      slos:
        - {name: p99-100ms, quantile: 0.99, max: 100ms, window: 15m}
"""


def docs_of(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                out.append(json.loads(line))
    return out


def alerts_of(docs, kind):
    return [(d["model_version"], a) for d in docs for a in d["alerts"] if a["kind"] == kind]


class Replay:
    """replay --http --stdout over stdin, fed in stages."""

    def __init__(self, name, cfg):
        self.port_file = os.path.join(WORKDIR, name + ".port")
        self.out = os.path.join(WORKDIR, name + ".docs")
        self.outf = open(self.out, "w")
        self.proc = h.spawn([DW, "replay", "-c", cfg, "--http", "--stdout", "-"], name,
                            env=dict(os.environ, DW_HTTP_PORT_FILE=self.port_file),
                            stdin=subprocess.PIPE, stdout=self.outf, text=True)
        self.base = None

    def feed(self, lines, upto_min, tail=2 * PER_MIN):
        """Writes lines, then waits until the status shows the 15m windows
        evaluated up to event minute upto_min. The status is republished at
        most once a second of wall time, after an evaluation: the last
        `tail` lines (a minute, crossing a boundary) go in after a pause."""
        head, rest = lines[:len(lines) - tail], lines[len(lines) - tail:]
        for part in (head, rest):
            if part:
                self.proc.stdin.write("\n".join(part) + "\n")
                self.proc.stdin.flush()
            if part is head:
                time.sleep(1.1)
        if self.base is None:
            def port():
                try:
                    with open(self.port_file) as f:
                        return f.read().strip()
                except OSError:
                    return None
            self.base = "http://127.0.0.1:%s" % h.wait_for(port, 30, "the HTTP port file")

        def evaluated():
            st = h.status(self.base)
            ends = [w["end"] for m in st["models"] for w in m["windows"] if w.get("end")]
            return ends and min(minute_of(e) for e in ends) >= upto_min and st
        return h.wait_for(evaluated, 60, "evaluation up to minute %d" % upto_min, 0.1)

    def compare(self, query):
        code, _, body = h.http("GET", self.base + "/api/v1/compare?" + query)
        return code, json.loads(body)

    def flagger(self, metadata, name="fraud-api", raw=None):
        """POST /api/v1/compare as Flagger's webhook does (JSON body with
        name, namespace, phase, metadata; 2xx passes the check)."""
        body = raw if raw is not None else json.dumps(
            {"name": name, "namespace": "ml", "phase": "Progressing", "metadata": metadata})
        code, _, text = h.http("POST", self.base + "/api/v1/compare", body,
                               {"Content-Type": "application/json"})
        try:
            return code, json.loads(text)
        except ValueError:
            return code, text

    def finish(self):
        self.proc.stdin.close()
        rc = self.proc.wait(h.remaining(60))
        self.outf.close()
        check(rc == 0, "replay exited %d: %s" % (rc, h.stderr_tail(self.proc)))
        return docs_of(self.out), h.counters(self.proc)


def case1_identical_no_divergence():
    cfg = config("identical", COMPARE, LATENCY)
    logs = os.path.join(WORKDIR, "identical.jsonl")
    with open(logs, "w") as f:
        for line in stream(6 * 60, seed=11):
            f.write(line + "\n")
    r = h.run([DW, "replay", "-c", cfg, "--stdout", logs], timeout=60)
    check(r.returncode == 0, "replay exited %d: %s" % (r.returncode, r.stderr[-2000:]))
    docs = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    cnt = h.counters(r.stderr)
    check(cnt["applied"] == 6 * 60 * 2 * PER_MIN, "applied %s" % cnt)
    div = alerts_of(docs, "divergence")
    check(not div, "divergence alerts on identical versions: %s" % div[:2])
    lat = alerts_of(docs, "latency")
    check(not lat, "latency alerts within the SLO: %s" % lat[:2])


def case2_shift_alert_gate_slo():
    cfg = config("shift", COMPARE, LATENCY)
    rp = Replay("shift", cfg)
    lines = list(stream(6 * 60, seed=12, score_shift=(180, 240), slow=(60, 90)))
    at = lambda m: m * 2 * PER_MIN  # noqa: E731  (first line of minute m)
    # 1. before the shift (the latency episode has ended too)
    rp.feed(lines[:at(121)], 119)
    code, doc = rp.compare("model=fraud&candidate=v2&window=15m")
    check(code == 200, "compare answered %d: %s" % (code, doc))
    check(doc["verdict"] == "pass", "verdict at 02:00 %s: %s" % (doc["verdict"], doc["reason"]))
    check(doc["baseline"] == "v1" and doc["candidate"] == "v2", doc)
    check(doc["summary"]["compared"] == 3, "compared columns %s" % doc["summary"])
    check(doc["latency"]["verdict"] == "pass", "latency gate %s" % doc["latency"])
    code, hook = rp.flagger({"model": "fraud", "candidate": "v2", "window": "15m"})
    check(code == 200 and hook == doc, "Flagger webhook at 02:00: %d %s" % (code, hook))
    # 2. during the shift
    rp.feed(lines[at(121):at(216)], 214)
    code, doc = rp.compare("model=fraud&candidate=v2")
    check(code == 200 and doc["verdict"] == "fail", "verdict at 03:35: %s" % doc)
    failing = [c["name"] for c in doc["columns"] if c["verdict"] == "fail"]
    check(failing == ["prediction.score"], "failing columns %s" % failing)
    check(all(c["verdict"] != "pass" for c in doc["columns"]),
          "passing columns listed without columns=all")
    # Flagger's webhook: not 2xx (the check fails), with the same evidence
    code, hook = rp.flagger({"model": "fraud", "candidate": "v2"})
    check(code == 412 and hook == doc, "Flagger webhook at 03:35: %d %s" % (code, hook))
    code, hook = rp.flagger({"candidate": "v2"}, name="fraud")  # the canary's name as model
    check(code == 412 and hook["verdict"] == "fail", "webhook by name: %d %s" % (code, hook))
    code, hook = rp.flagger(None, raw="x" * 20000)
    check(code == 413, "oversized webhook body answered %d" % code)
    samples, _, _ = h.metrics(rp.base)
    check(h.metric(samples, "driftwatch_http_request_bodies_too_large_total") == 1.0,
          "the 413 is not counted")
    code, hook = rp.flagger(None, raw="{not json")
    check(code == 400 and "Flagger" in hook["error"], "bad webhook body: %d %s" % (code, hook))
    code, hook = rp.flagger({"model": "fraud", "candidate": "v9"})
    check(code == 404, "webhook for an unknown candidate: %d %s" % (code, hook))
    code, _, _ = h.http("POST", rp.base + "/api/v1/status", "{}")
    check(code == 405, "POST /api/v1/status answered %d" % code)
    code, full = rp.compare("model=fraud&candidate=v2&columns=all")
    check(len(full["columns"]) == 3, "columns=all lists %d" % len(full["columns"]))
    ks = doc["columns"][0]["tests"]["ks"]
    check(ks["statistic"] > 0.1 and ks["p_adjusted"] < 1e-6, "evidence %s" % ks)
    samples, _, _ = h.metrics(rp.base)
    lab = dict(model="fraud", baseline="v1", candidate="v2", window="15m")
    check(h.metric(samples, "driftwatch_compare_verdict", verdict="fail", **lab) == 1.0,
          "driftwatch_compare_verdict{verdict=fail}")
    check(h.metric(samples, "driftwatch_compare_column_divergent", column="prediction.score",
                   **lab) == 1.0, "driftwatch_compare_column_divergent")
    p99 = h.metric(samples, "driftwatch_latency_seconds", model="fraud", model_version="v2",
                   window="15m", quantile="0.99")
    check(p99 is not None and 0.03 < p99 < 0.1, "driftwatch_latency_seconds p99 %s" % p99)
    code, _, page = h.http("GET", rp.base + "/ui")
    check(code == 200 and "Versions side by side" in page and "1 of 3 columns diverge" in page
          and "SLO p99-100ms" in page, "/ui lacks the comparison or latency section")
    # errors of the gate
    code, err = rp.compare("candidate=v2")
    check(code == 400 and "model" in err["error"], "without model: %d %s" % (code, err))
    code, err = rp.compare("model=fraud&candidate=v9")
    check(code == 404, "unknown candidate: %d %s" % (code, err))
    code, err = rp.compare("model=fraud&candidate=v2&baseline=v2")
    check(code == 404 and "v1" in err["error"], "other baseline: %d %s" % (code, err))
    # 3. after the shift
    rp.feed(lines[at(216):at(359)], 357)
    code, doc = rp.compare("model=fraud&candidate=v2&window=15m")
    check(code == 200 and doc["verdict"] == "pass", "verdict at 05:57: %s" % doc)
    code, hook = rp.flagger({"model": "fraud", "candidate": "v2", "window": "15m"})
    check(code == 200 and hook == doc, "Flagger webhook at 05:57: %d %s" % (code, hook))
    rp.proc.stdin.write("\n".join(lines[at(359):]) + "\n")
    docs, cnt = rp.finish()
    check(cnt["applied"] == len(lines), "applied %s" % cnt)

    div = alerts_of(docs, "divergence")
    check(all(v == "v2" for v, _ in div), "divergence alerts for v1: %s" % div)
    check([(a["status"], a["column"], a["window"]) for _, a in div] ==
          [("firing", "prediction.score", "15m"), ("resolved", "prediction.score", "15m")],
          "divergence alerts %s" % [(a["status"], a["column"]) for _, a in div])
    fired, resolved = div[0][1], div[1][1]
    check(180 < minute_of(fired["starts_at"]) <= 190,
          "fired at minute %g (shift from 180)" % minute_of(fired["starts_at"]))
    check(minute_of(resolved["ends_at"]) > 240, "resolved at %s" % resolved["ends_at"])
    check(fired["dedup_key"] == resolved["dedup_key"] and fired["baseline"] == "v1", fired)

    lat = alerts_of(docs, "latency")
    check([(v, a["status"]) for v, a in lat] == [("v2", "firing"), ("v2", "resolved")],
          "latency alerts %s" % [(v, a["status"]) for v, a in lat])
    check(60 < minute_of(lat[0][1]["starts_at"]) <= 75 and
          90 < minute_of(lat[1][1]["ends_at"]) <= 110,
          "latency episode %s .. %s" % (lat[0][1]["starts_at"], lat[1][1]["ends_at"]))
    check(lat[0][1]["latency"]["value"] > 100 and lat[0][1]["latency"]["slo"] == "p99-100ms",
          lat[0][1])


def bimodal(rng, v):
    if v == "v1":
        return rng.lognormal(2.5, 0.8)
    return rng.normal(8.0, 1.0) if rng.random() < 0.7 else rng.normal(180.0, 20.0)


def case3_latency_quantiles_match_numpy():
    cfg = config("quantiles", "", "    latency: {}\n")
    rp = Replay("quantiles", cfg)
    lines = list(stream(15, seed=13, latency=bimodal, per_min=400))
    # A record at 00:16 moves the watermark to 00:15 (lateness 1m): the
    # window [00:00, 00:15) closes.
    closer = json.dumps({"ts": T0 + 16 * MINUTE, "model": "fraud", "model_version": "v3",
                         "latency_ms": 1.0})
    st = rp.feed(lines + [closer], 15, tail=1)
    want = {"v1": [], "v2": []}
    for line in lines:
        r = json.loads(line)
        want[r["model_version"]].append(r["latency_ms"])
    for m in st["models"]:
        if m["model_version"] not in want:
            continue
        w = m["windows"][0]
        check(minute_of(w["start"]) == 0 and minute_of(w["end"]) == 15, "window %s" % w)
        lat = w["latency"]
        x = np.array(want[m["model_version"]])
        check(lat["samples"] == len(x), "samples %d vs %d (window %s)"
              % (lat["samples"], len(x), m["windows"][0]))
        check(lat["relative_error"] == 0.01, lat)
        for key, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
            exact = float(np.quantile(x, q))
            # the sketch's bound (sketch.h): alpha = 1 % relative
            check(abs(lat[key] - exact) <= 0.01 * exact,
                  "%s %s: %g vs numpy %g" % (m["model_version"], key, lat[key], exact))
    rp.finish()


def peak_rss_kb(cfg, logs):
    p = subprocess.Popen([DW, "replay", "-c", cfg, logs], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    check(p.returncode == 0, "replay exited %d: %s" % (p.returncode, err[-2000:]))
    return ru.ru_maxrss, h.counters(err)


def case4_fifty_versions_bounded():
    cfg = config("versions", "    compare: {baseline: v1}\n", "    latency: {}\n")
    res = {}
    for nv in (16, 50):
        logs = os.path.join(WORKDIR, "versions%d.jsonl" % nv)
        versions = ["v%d" % (i + 1) for i in range(nv)]
        with open(logs, "w") as f:
            for line in stream(30, seed=14, versions=versions, per_min=800 // nv + 1):
                f.write(line + "\n")
        res[nv] = peak_rss_kb(cfg, logs)
    rss16, c16 = res[16]
    rss50, c50 = res[50]
    print("peak RSS: %d KiB with 16 versions, %d KiB with 50" % (rss16, rss50))
    check(c16["rejected.too_many_versions"] == 0, "16 versions: %s" % c16)
    per_version = (800 // 50 + 1) * 30
    check(c50["rejected.too_many_versions"] == 34 * per_version,
          "50 versions: %d rejected, want %d" % (c50["rejected.too_many_versions"],
                                                 34 * per_version))
    check(c50["applied"] == 16 * per_version, "50 versions applied %s" % c50)
    # The state of 16 versions is the bound: 34 more versions cost nothing
    # but their counters (slack for allocator noise).
    check(rss50 <= rss16 * 1.1 + 4096, "peak RSS %d KiB with 50 versions, %d KiB with 16"
          % (rss50, rss16))


def case5_config_errors():
    bad = [
        ("slo-window", "    latency:\n      slos:\n        - {max: 100, window: 5m}\n",
         ".latency.slos[0].window: \"5m\" is not one of the windows"),
        ("cand-base", "    compare: {baseline: v1, candidates: [v2, v1]}\n",
         "compare.candidates[1]: \"v1\" is the baseline itself"),
        ("alpha", "    latency: {relative_error: 0.9}\n", "latency.relative_error"),
        ("gate-no-latency", "    compare: {latency: {max_ratio: 1.2}}\n",
         "needs a latency: block"),
        ("psi", "    compare: {thresholds: {psi: high}}\n", "compare.thresholds.psi"),
        ("slo-max", "    latency:\n      slos:\n        - {quantile: 0.99}\n", "max"),
        ("quantile", "    latency: {quantiles: [0.5, 1.5]}\n", "quantiles[1]"),
    ]
    for name, block, want in bad:
        path = config("bad-" + name, block, validate=False)
        r = h.run([DW, "validate", "-c", path], timeout=30)
        out = r.stdout + r.stderr
        check(r.returncode != 0, "%s accepted" % name)
        check((path + ":") in out and want in out, "%s: %s" % (name, out.strip()[-400:]))
        # file:line: the line of the offending node (line 4 opens the block)
        line = int(out.split(path + ":")[1].split(":")[0])
        check(4 <= line <= 7, "%s: line %d" % (name, line))


def case6_most_traffic_baseline_follows_the_rollout():
    """Baseline most_traffic: v1 takes 70 % of the records for an hour,
    v2 (score shifted by 0.5 sigma from minute 20) the rest; then the
    rollout completes and v2 takes 70 %. v2 diverges against v1 first; once
    v2 carries most of the 15m window it becomes the baseline: v2's
    episode resolves (resolved_by baseline_changed) and v1, now the
    candidate, diverges from it."""
    cfg = config("traffic", "    compare: {baseline: most_traffic, thresholds: {psi: 0.1, ks: 0.05}}\n")
    rng = np.random.default_rng(16)
    logs = os.path.join(WORKDIR, "traffic.jsonl")
    n = 600
    with open(logs, "w") as f:
        for m in range(120):
            share_v1 = 0.7 if m < 60 else 0.3
            ver = np.where(rng.random(n) < share_v1, "v1", "v2")
            score = rng.normal(0.5, SIGMA, size=n)
            for k in range(n):
                s = score[k] + (0.5 * SIGMA if ver[k] == "v2" and m >= 20 else 0)
                f.write(json.dumps({"ts": T0 + m * MINUTE + k * MINUTE // n, "model": "fraud",
                                    "model_version": str(ver[k]),
                                    "features": {"f0": 0.0, "c0": "DE"},
                                    "prediction": {"score": round(float(s), 5)}}) + "\n")
    r = h.run([DW, "replay", "-c", cfg, "--stdout", logs], timeout=60)
    check(r.returncode == 0, "replay exited %d: %s" % (r.returncode, r.stderr[-2000:]))
    docs = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    div = [(v, a["status"], a["column"], a.get("resolved_by"), a["starts_at"])
           for v, a in alerts_of(docs, "divergence")]
    check([d[:4] for d in div] == [("v2", "firing", "prediction.score", None),
                                    ("v2", "resolved", "prediction.score", "baseline_changed"),
                                    ("v1", "firing", "prediction.score", None)],
          "divergence alerts %s" % div)
    check(20 < minute_of(div[0][4]) <= 30 and 60 < minute_of(div[2][4]) <= 80,
          "episodes at %s" % [d[4] for d in div])


def case7_check_compares_two_samples_offline():
    """`check --baseline A --candidate B` and `check --versions v1,v2 FILE`:
    the same comparison offline. Identical distributions pass (exit 0), a
    0.5 sigma shift of the score fails (exit 1) on that column only, with
    the KS D within the largest reference bin mass (+ rounding) of
    scipy.stats.ks_2samp on the raw values."""
    stats = h.need_module("scipy.stats")
    ref = reference()
    lines = list(stream(40, seed=17, score_shift=(0, 40)))
    a = os.path.join(WORKDIR, "check-a.jsonl")
    b = os.path.join(WORKDIR, "check-b.jsonl")
    both = os.path.join(WORKDIR, "check-both.jsonl")
    with open(a, "w") as fa, open(b, "w") as fb, open(both, "w") as f:
        for line in lines:
            f.write(line + "\n")
            (fa if '"v1"' in line else fb).write(line + "\n")
    score = {"v1": [], "v2": []}
    for line in lines:
        r = json.loads(line)
        score[r["model_version"]].append(r["prediction"]["score"])
    want_d = stats.ks_2samp(score["v1"], score["v2"]).statistic
    with open(ref) as f:
        col = next(c for c in json.load(f)["columns"] if c["name"] == "prediction.score")
    max_mass = max(col["bin_counts"]) / col["count"]
    for args in (["--baseline", a, "--candidate", b], ["--versions", "v1,v2", both]):
        r = h.run([DW, "check", "--reference", ref, "--json", "--psi", "0.1", "--ks", "0.05"]
                  + args, timeout=60)
        check(r.returncode == 1, "%s: exit %d (want 1, fail): %s" % (args, r.returncode,
                                                                     r.stderr[-500:]))
        doc = json.loads(r.stdout)
        fails = [c["name"] for c in doc["columns"] if c["verdict"] == "fail"]
        check(doc["verdict"] == "fail" and fails == ["prediction.score"], "%s: %s" % (args, doc))
        got = doc["columns"][0]["tests"]["ks"]["statistic"]
        check(abs(got - want_d) <= max_mass + 1e-3,
              "KS D %g vs scipy %g (largest bin mass %g)" % (got, want_d, max_mass))
        check(doc["summary"]["compared"] == 3 and
              doc["columns"][0]["baseline_samples"] == len(score["v1"]), doc["summary"])
    # v1 against itself (two halves of its records): pass
    r = h.run([DW, "check", "--reference", ref, "--baseline", a, "--candidate", a], timeout=60)
    check(r.returncode == 0 and "pass" in r.stdout.splitlines()[0], r.stdout[:300])
    # errors: exit 2 with a sentence
    for args, want in ((["--versions", "v1,v9", both], 'no row with model_version "v9"'),
                       (["--versions", "v1", both], "--versions takes A,B"),
                       (["--baseline", a], "--baseline and --candidate")):
        r = h.run([DW, "check", "--reference", ref] + args, timeout=30)
        check(r.returncode == 2 and want in r.stderr, "%s: %d %s" % (args, r.returncode,
                                                                     r.stderr))


def main(argv):
    global DW, WORKDIR
    DW = os.path.abspath(argv[1])
    WORKDIR = h.workdir("dw-canary-")
    passed, failed = run_cases([case1_identical_no_divergence, case2_shift_alert_gate_slo,
                                case3_latency_quantiles_match_numpy, case4_fifty_versions_bounded,
                                case5_config_errors,
                                case6_most_traffic_baseline_follows_the_rollout,
                                case7_check_compares_two_samples_offline],
                               set(argv[2:]))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    h.main(main, sys.argv)

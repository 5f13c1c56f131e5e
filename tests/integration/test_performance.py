#!/usr/bin/python3
"""Model performance from delayed labels (issue 14), end to end with the
real binary: `replay` of one merged file (a record is a label when it has
the label field and no prediction field), `replay --labels` of two files,
and `run` against `driftwatch mock-kafka` with a predictions topic and a
labels topic.

usage: test_performance.py DRIFTWATCH [CASE...]

A synthetic calibrated binary classifier (score p ~ Beta(0.4, 0.4), label
~ Bernoulli(p), predicted class p >= 0.5), one prediction a second, 95 %
labelled 1-120 minutes later, windows of 1 h sliding by 30 min, labels
max_delay 2 h. Checked:

* every final window's accuracy, F1, Brier (to 1e-9) and ROC AUC (within
  0.005) equal scikit-learn's on the joined records of the window, and the
  labelled count equals the number of joined records; regression MAE, RMSE
  and bias equal numpy's;
* 24 h without degradation: no performance alert; the estimated accuracy
  (CBPE) of every final window is within 0.02 of the realised one;
* 20 % of labels flipped from hour 3 to 6: one accuracy episode, firing on
  a window ending within one window of the start (the notification goes
  out when that window is final, i.e. max_delay later), resolved on a
  window after the recovery;
* the retraining rule starts once on the firing performance rule;
* orphan labels and duplicate labels counted; in a merged stream a record
  with the label field and a prediction field is a prediction, records
  without a key or label value are counted, a label with a bad time is
  rejected; a join of 1 MiB evicts and
  counts, never exceeds its cap (the 1,000,000-prediction bound is the
  unit test label_join);
* the same alerts through replay of one merged file, of two files and
  through run with two Kafka topics, and the same per-window history
  through replay and run;
* broken performance/labels configuration refused with file:line: reason.

Windows are evaluated when final; the status document keeps the last 64
final windows per model version and window ("history"), which is what the
oracle reads. A label stamped 4 h after the last record (a request id no
prediction has: an orphan) moves the watermark past every window's
max_delay while the replay still serves HTTP.
"""
import json
import os
import subprocess
import sys
import time

import harness as h

np = h.need_module("numpy")
metrics_mod = h.need_module("sklearn.metrics")

DW = None
HOUR = 3600 * 1000
T0 = 1795500000000 - 1795500000000 % HOUR  # an hour boundary
MAX_DELAY = 2 * HOUR


def stream(hours, seed, flip=None, regression=False, orphans=0, duplicates=0, rate=1):
    """(predictions, labels, truth) with truth[i] = (ts, score, label) of
    every labelled prediction (label after any flip)."""
    rng = np.random.default_rng(seed)
    n = int(hours * 3600 * rate)
    p = rng.beta(0.4, 0.4, n)
    y = (rng.random(n) < p).astype(int)
    flipr = rng.random(n)
    has = rng.random(n) < 0.95
    delay = rng.integers(60_000, 120 * 60_000 + 1, n)
    x = rng.normal(0, 1, n)
    noise = rng.normal(0, 1, n)
    preds, labs, truth = [], [], []
    for i in range(n):
        t = T0 + i * 1000 // rate
        rid = "r%d" % i
        if regression:
            pv, yv = float(2 * x[i]), float(2 * x[i] + noise[i])
            preds.append({"ts": t, "model": "reg", "request_id": rid,
                          "features": {"x": float(x[i])}, "prediction": {"value": pv}})
        else:
            pv = float(p[i])
            yv = int(y[i])
            if flip and flip[0] * HOUR <= t - T0 < flip[1] * HOUR and flipr[i] < 0.2:
                yv = 1 - yv
            preds.append({"ts": t, "model": "clf", "request_id": rid,
                          "features": {"x": float(x[i])}, "prediction": {"score": pv}})
        if has[i]:
            labs.append({"ts": t + int(delay[i]), "request_id": rid, "label": yv})
            truth.append((t, pv, yv))
    for k in range(orphans):
        labs.append({"ts": T0 + k * 60_000, "request_id": "nobody-%d" % k, "label": 1})
    for k in range(duplicates):
        first = labs[k * 97]
        labs.append(dict(first, ts=first["ts"] + 1000))
    labs.sort(key=lambda r: r["ts"])
    return preds, labs, truth


write_jsonl = h.write_jsonl


def merged(preds, labs):
    return sorted(preds + labs, key=lambda r: r["ts"])


def sentinel(recs):
    last = max(r["ts"] for r in recs if isinstance(r["ts"], int))
    return {"ts": last + 4 * HOUR, "request_id": "sentinel", "label": 0}


class Setup:
    def __init__(self):
        self.dir = h.workdir("dw-perf-")
        vp, vl, _ = stream(6, seed=99)
        lab = {r["request_id"]: r["label"] for r in vl}
        self.valid = os.path.join(self.dir, "valid.jsonl")
        write_jsonl(self.valid, [{"prediction": r["prediction"], "label": lab[r["request_id"]]}
                                 for r in vp if r["request_id"] in lab])
        self.ref = os.path.join(self.dir, "ref.json")
        h.build_reference(DW, self.ref, [{"features": r["features"],
                                          "prediction": r["prediction"]} for r in vp],
                          model="clf")
        rp, _, _ = stream(2, seed=98, regression=True)
        self.rref = os.path.join(self.dir, "rref.json")
        h.build_reference(DW, self.rref, [{"features": r["features"],
                                           "prediction": r["prediction"]} for r in rp],
                          model="reg")

    def config(self, name, extra_model="", labels="{topics: [labels], max_delay: 2h}",
               kafka='{brokers: "127.0.0.1:1", topics: [preds], group_id: perf}', port=0,
               extra=""):
        path = os.path.join(self.dir, name + ".yaml")
        with open(path, "w") as f:
            f.write(f"""kafka: {kafka}
models:
  - name: clf
    reference: {self.ref}
    performance:
      task: classification
      positive: "1"
      score: prediction.score
      reference_data: {self.valid}
      rules:
        - {{metric: accuracy, margin: 0.03}}
        - {{metric: auc, margin: 0.03}}
  - name: reg
    reference: {self.rref}
    performance:
      task: regression
      predicted: prediction.value
      rules:
        - {{metric: mae, margin: 0.1, reference: 0.8}}
{extra_model}labels: {labels}
windows: [{{name: 1h, length: 1h, slide: 30m}}]
alerts: {{for: 1}}
sinks: []
http: {{listen: "127.0.0.1:{port}"}}
state_dir: {self.dir}
{extra}""")
        return path


S = None


def replay_status(cfg, recs, tag):
    """Replays recs (+ the sentinel) from stdin with --http --stdout; returns
    (status document, notifications) once every window is final."""
    pf = os.path.join(S.dir, tag + ".port")
    out = os.path.join(S.dir, tag + ".out")
    proc = h.spawn([DW, "replay", "-c", cfg, "--http", "--stdout", "-"], tag,
                   env=dict(os.environ, DW_HTTP_PORT_FILE=pf), stdin=subprocess.PIPE,
                   text=True, stdout=open(out, "w"))
    proc.stdin.write("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in recs))
    proc.stdin.flush()
    base = "http://127.0.0.1:%d" % int(h.wait_for(
        lambda: os.path.exists(pf) and open(pf).read().strip(), 30, "the HTTP port file"))
    # The status is republished at most once a second after an evaluation:
    # the sentinel comes after a pause so its evaluations are published.
    time.sleep(1.2)
    proc.stdin.write(json.dumps(sentinel(recs)) + "\n")
    proc.stdin.flush()
    last_end = max(r["ts"] for r in recs if "model" in r and isinstance(r["ts"], int))

    def done():
        st = h.status(base)
        perf = st.get("performance") or {}
        for m in perf.get("models", []):
            hist = m["windows"][0]["history"]
            if not hist or h.ms_of(hist[-1]["end"]) < last_end - 30 * 60_000:
                return None
        return st if perf.get("models") else None
    st = h.wait_for(done, 30, "every window final in the status history", 0.3)
    samples, _, body = h.metrics(base)
    proc.stdin.close()
    h.check(proc.wait(h.remaining(30)) == 0, "replay failed: " + h.stderr_tail(proc))
    return st, notifications(out), samples


def notifications(path):
    docs = []
    with open(path) as f:
        for line in f:
            if line.strip():
                docs.append(json.loads(line))
    return docs


def perf_alerts(docs):
    return [(a["status"], a["column"], a["window_end"], round(a["performance"]["value"], 12),
             round(a["performance"]["upper"], 12))
            for d in docs for a in d.get("alerts", []) if a["kind"] == "performance"]


def model_perf(st, name):
    for m in st["performance"]["models"]:
        if m["model"] == name:
            return m["windows"][0]
    raise AssertionError("no performance entry for model %s" % name)


def joined(truth, end):
    """(scores, labels) of the labelled predictions in [end - 1h, end)."""
    sel = [(s, y) for t, s, y in truth if end - HOUR <= t < end]
    return np.array([s for s, _ in sel]), np.array([y for _, y in sel])


# ---------------------------------------------------------------- cases

def oracle_24h_no_degradation():
    preds, labs, truth = stream(24, seed=1, orphans=100, duplicates=50)
    cfg = S.config("nodeg")
    st, docs, samples = replay_status(cfg, merged(preds, labs), "nodeg")
    h.check(not perf_alerts(docs), "performance alerts without degradation: %s"
            % perf_alerts(docs)[:3])
    w = model_perf(st, "clf")
    hist = w["history"]
    h.check(len(hist) >= 46, "only %d final windows in 24 h" % len(hist))
    worst = {"auc": 0, "cbpe": 0}
    for e in hist:
        end = h.ms_of(e["end"])
        s, y = joined(truth, end)
        h.check(e["labelled"] == len(y), "window %s: labelled %d, joined %d"
                % (e["end"], e["labelled"], len(y)))
        if len(y) == 0:
            continue
        pred = (s >= 0.5).astype(int)
        for k, want in (("accuracy", metrics_mod.accuracy_score(y, pred)),
                        ("f1", metrics_mod.f1_score(y, pred)),
                        ("brier", metrics_mod.brier_score_loss(y, s))):
            h.check(abs(e[k] - want) < 1e-9, "window %s: %s %r, sklearn %r"
                    % (e["end"], k, e[k], want))
        d = abs(e["auc"] - metrics_mod.roc_auc_score(y, s))
        worst["auc"] = max(worst["auc"], d)
        h.check(d <= 0.005, "window %s: AUC off by %g" % (e["end"], d))
        # The estimate covers every prediction of the window, the
        # realised value the labelled ones: a calibrated model, no shift.
        d = abs(e["estimated_accuracy"] - e["accuracy"])
        worst["cbpe"] = max(worst["cbpe"], d)
        h.check(d <= 0.02, "window %s: estimated accuracy %.4f, realised %.4f"
                % (e["end"], e["estimated_accuracy"], e["accuracy"]))
    print("  %d windows; worst |AUC - sklearn| %.2g, worst |estimated - realised "
          "accuracy| %.4f" % (len(hist), worst["auc"], worst["cbpe"]))
    lab = st["performance"]["labels"]
    # The sentinel waits for its prediction (max_early) beyond the input.
    h.check(lab["orphan_labels"] == 100 and lab["waiting_labels"] == 1,
            "orphan labels %d, waiting %d" % (lab["orphan_labels"], lab["waiting_labels"]))
    h.check(lab["duplicate_labels"] == 50, "duplicate labels %d" % lab["duplicate_labels"])
    h.check(lab["matched"] == len(truth), "matched %d of %d" % (lab["matched"], len(truth)))
    h.check(abs(lab["coverage"] - len(truth) / len(preds)) < 1e-12, "coverage %r" % lab["coverage"])
    q50 = lab["delay_seconds"]["0.5"]
    first = {}
    for r in labs:
        if r["request_id"].startswith("r"):
            first.setdefault(r["request_id"], r["ts"])
    want = np.median([(ts - T0) / 1000 - int(rid[1:]) for rid, ts in first.items()])
    h.check(abs(q50 - want) / want < 0.02, "delay median %g, numpy %g" % (q50, want))
    v = h.metric(samples, "driftwatch_label_join_events_total", event="orphan_labels")
    h.check(v == 100, "driftwatch_label_join_events_total{orphan_labels} %r" % v)
    v = h.metric(samples, "driftwatch_performance", model="clf", model_version="", window="1h",
                 metric="accuracy", status="final")
    h.check(v is not None and abs(v - w["final"]["metrics"]["accuracy"]["value"]) < 1e-12,
            "driftwatch_performance accuracy %r" % v)
    v = h.metric(samples, "driftwatch_performance_estimated", model="clf", model_version="",
                 window="1h", metric="accuracy", status="final")
    h.check(v is not None and 0.7 < v < 0.95, "driftwatch_performance_estimated %r" % v)


def degradation_alert_and_recovery():
    preds, labs, truth = stream(10, seed=2, flip=(3, 6))
    # A retraining rule no drifting column could satisfy (min_columns 3 of
    # 2): only the performance rule can start it.
    cfg = S.config("deg", extra='retrain:\n  - {name: rt, type: webhook, '
                   'url: "http://127.0.0.1:9/x", window: 1h, min_columns: 3, for: 0s}\n')
    st, docs, _ = replay_status(cfg, merged(preds, labs), "deg")
    trig = [d for d in docs if d.get("kind") == "retrain"]
    h.check(len(trig) == 1 and trig[0]["performance_firing"] is True
            and T0 + 3 * HOUR < h.ms_of(trig[0]["triggered_at"]) <= T0 + 7 * HOUR,
            "retraining triggers %s" % [(d["triggered_at"], d.get("performance_firing"))
                                        for d in trig])
    acc = [a for a in perf_alerts(docs) if a[1] == "performance.accuracy"]
    h.check([a[0] for a in acc] == ["firing", "resolved"],
            "accuracy alerts %s: want one firing then one resolved" % acc)
    fire_end = h.ms_of(acc[0][2])
    h.check(T0 + 3 * HOUR < fire_end <= T0 + 4 * HOUR,
            "fired on the window ending %s: want within one window of the degradation"
            % acc[0][2])
    h.check(acc[0][4] < 0.95, "upper end %r" % acc[0][4])
    res_end = h.ms_of(acc[1][2])
    h.check(T0 + 6 * HOUR < res_end <= T0 + 8 * HOUR, "resolved on the window ending %s"
            % acc[1][2])
    # The same numbers through replay of two files.
    pf = os.path.join(S.dir, "deg.preds.jsonl")
    lf = os.path.join(S.dir, "deg.labels.jsonl")
    write_jsonl(pf, preds)
    write_jsonl(lf, labs)
    r = h.run([DW, "replay", "-c", cfg, "--stdout", "--labels", lf, pf], timeout=60)
    h.check(r.returncode == 0, r.stderr[-2000:])
    two = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    h.check(perf_alerts(two) == perf_alerts(docs), "two files: %s\nmerged: %s"
            % (perf_alerts(two), perf_alerts(docs)))
    # The merged file read at once (the end of input finalises every window).
    mf = os.path.join(S.dir, "deg.merged.jsonl")
    write_jsonl(mf, merged(preds, labs))
    r = h.run([DW, "replay", "-c", cfg, "--stdout", mf], timeout=60)
    h.check(r.returncode == 0, r.stderr[-2000:])
    one = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    h.check(perf_alerts(one) == perf_alerts(docs), "merged file: %s" % perf_alerts(one))
    S.deg = (preds, labs, st, docs)


def regression_against_numpy():
    preds, labs, truth = stream(4, seed=3, regression=True)
    cfg = S.config("reg")
    st, _, _ = replay_status(cfg, merged(preds, labs), "reg")
    hist = model_perf(st, "reg")["history"]
    h.check(len(hist) >= 6, "only %d final regression windows" % len(hist))
    for e in hist:
        end = h.ms_of(e["end"])
        s, y = joined(truth, end)
        if len(y) == 0:
            continue
        err = s - y
        for k, want in (("mae", np.mean(np.abs(err))), ("rmse", np.sqrt(np.mean(err ** 2))),
                        ("bias", np.mean(err))):
            h.check(abs(e[k] - want) < 1e-9, "window %s: %s %r, numpy %r"
                    % (e["end"], k, e[k], want))


def small_join_evicts_and_counts():
    # 4 predictions a second waiting up to 2 h: 28,800 entries, more than
    # 1 MiB holds (about 20,000).
    preds, labs, _ = stream(3, seed=4, rate=4)
    cfg = S.config("small", labels="{topics: [labels], max_delay: 2h, memory_mb: 1}")
    st, _, samples = replay_status(cfg, merged(preds, labs), "small")
    lab = st["performance"]["labels"]
    h.check(lab["evicted_predictions"] > 0, "nothing evicted with 1 MiB: %s" % lab)
    h.check(lab["memory_bytes"] <= lab["memory_limit_bytes"] == 1 << 20,
            "join memory %d above its limit" % lab["memory_bytes"])
    h.check(lab["matched"] + lab["expired"] + lab["evicted_predictions"] == len(preds),
            "every prediction leaves the join once: %s" % lab)
    v = h.metric(samples, "driftwatch_label_join_events_total", event="evicted_predictions")
    h.check(v == lab["evicted_predictions"], "metric %r vs status %d"
            % (v, lab["evicted_predictions"]))


def run_two_topics_same_as_replay():
    """`run` with a predictions topic and a labels topic gives the alerts
    and the per-window history of the replay (degradation case)."""
    if getattr(S, "deg", None) is None:
        degradation_alert_and_recovery()
    preds, labs, st_replay, docs_replay = S.deg
    _, boot = h.mock_kafka(DW, {"preds": 1, "labels": 1})
    h.produce(boot, "preds", preds)
    h.produce(boot, "labels", labs + [sentinel(preds + labs)])
    port = h.free_port()
    out = os.path.join(S.dir, "run.out")
    cfg = S.config("kafka", port=port,
                   kafka='{brokers: "%s", topics: [preds], group_id: perfk, poll_timeout: 50ms}'
                   % boot, extra="time: {idle_timeout: 3s}\n")
    with open(cfg) as f:
        text = f.read().replace("sinks: []", "sinks: [{name: out, type: stdout}]")
    with open(cfg, "w") as f:
        f.write(text)
    proc = h.spawn([DW, "run", "-c", cfg], "run-perf", stdout=open(out, "w"))
    base = "http://127.0.0.1:%d" % port
    want = {m["model"]: m["windows"][0]["history"] for m in st_replay["performance"]["models"]}

    def caught_up():
        h.check(proc.poll() is None, "run exited: " + h.stderr_tail(proc))
        try:
            st = h.status(base)
        except Exception:
            return None
        perf = st.get("performance") or {}
        got = {m["model"]: m["windows"][0]["history"] for m in perf.get("models", [])}
        return st if got.get("clf") and len(got["clf"]) >= len(want["clf"]) else None
    st = h.wait_for(caught_up, 45, "run to finalise every window", 0.3)
    got = {m["model"]: m["windows"][0]["history"] for m in st["performance"]["models"]}
    h.check(got["clf"] == want["clf"], "run and replay differ:\n%s\n%s"
            % (got["clf"][:2], want["clf"][:2]))
    h.stop(proc)
    docs = notifications(out)
    h.check(perf_alerts(docs) == perf_alerts(docs_replay), "run: %s\nreplay: %s"
            % (perf_alerts(docs), perf_alerts(docs_replay)))


def routing_rules():
    """Which record is a label in a merged stream, and what is counted."""
    preds, labs, truth = stream(3, seed=6)
    odd = [
        # No request id: monitored, not joined.
        {"ts": T0 + 5, "model": "clf", "features": {"x": 0.1}, "prediction": {"score": 0.9}},
        # A label without a key, and one without a value.
        {"ts": T0 + 6, "label": 1},
        {"ts": T0 + 7, "request_id": "r1", "label": None},
        # Label field and a prediction field: a prediction (its label is ignored).
        {"ts": T0 + 8, "model": "clf", "request_id": "both", "label": 1,
         "features": {"x": 0.2}, "prediction": {"score": 0.2}},
        # A label whose time is not a time.
        {"ts": "yesterday", "request_id": "r2", "label": 0},
    ]
    recs = merged(preds + odd[:1] + odd[3:4], labs + odd[1:3] + [dict(odd[4], ts=T0 + 9)])
    recs.insert(10, odd[4])
    st, _, samples = replay_status(S.config("routing"), recs, "routing")
    lab = st["performance"]["labels"]
    h.check(lab["predictions"] == len(preds) + 1, "predictions %d" % lab["predictions"])
    h.check(lab["predictions_without_key"] == 1, "without key %d"
            % lab["predictions_without_key"])
    h.check(lab["labels_without_key"] == 1 and lab["labels_without_value"] == 1, str(lab))
    h.check(st["counters"]["rejected"]["bad_timestamp"] == 1, str(st["counters"]["rejected"]))
    # r2's label came once with a good time: matched; the "both" record
    # waited for a label that never came.
    h.check(lab["matched"] == len(truth) + ("r2" not in {r["request_id"] for r in labs}),
            "matched %d of %d" % (lab["matched"], len(truth)))


def validate_performance(name, performance):
    """`driftwatch validate` of a configuration whose model clf has this
    performance: section (the text after the key)."""
    path = os.path.join(S.dir, name)
    with open(path, "w") as f:
        f.write(f"""kafka: {{brokers: "127.0.0.1:1", topics: [preds]}}
models:
  - name: clf
    reference: {S.ref}
    performance:{performance}
windows: [{{name: 1h, length: 1h, slide: 30m}}]
""")
    return h.run([DW, "validate", "-c", path], timeout=30)


def broken_config_refused():
    cases = [
        ("rules:\n        - {metric: accuracy, margin: 0.03}\n",
         "performance.rules[0]: needs a reference value"),
        ("rules:\n        - {metric: nope, reference: 1}\n", "is not a metric"),
        ("rules:\n        - {metric: mae, reference: 1}\n", "mae is not a classification"),
    ]
    for rule, want in cases:
        r = validate_performance("bad.yaml", f"""
      task: classification
      positive: "1"
      score: prediction.score
      {rule}labels: {{}}""")
        h.check(r.returncode != 0 and want in r.stderr and "bad.yaml:" in r.stderr,
                "want %r with file:line, got rc %d: %s" % (want, r.returncode, r.stderr))
        line = r.stderr.split("bad.yaml:")[1].split(":")[0]
        h.check(line.isdigit() and int(line) >= 5, "no line number: %s" % r.stderr)
    r = validate_performance("nolabels.yaml",
                             ' {task: classification, positive: "1", score: prediction.score}')
    h.check(r.returncode != 0 and "needs a labels section" in r.stderr, r.stderr)
    # A reference_data file that does not open: validate and run refuse it.
    cfg = S.config("missing")
    with open(cfg) as f:
        text = f.read().replace(S.valid, os.path.join(S.dir, "nope.jsonl"))
    with open(cfg, "w") as f:
        f.write(text)
    for cmd in (["validate", "-c", cfg], ["replay", "-c", cfg, os.devnull]):
        r = h.run([DW] + cmd, timeout=30)
        h.check(r.returncode == 2 and "missing.yaml:6:" in r.stderr and "nope.jsonl" in r.stderr
                and "reference_data" in r.stderr, "%s: rc %d: %s" % (cmd[0], r.returncode,
                                                                      r.stderr))


CASES = [broken_config_refused, oracle_24h_no_degradation, degradation_alert_and_recovery,
         regression_against_numpy, small_join_evicts_and_counts, routing_rules,
         run_two_topics_same_as_replay]


def main(exe, *only):
    global DW, S
    DW = exe
    h.budget(170)
    S = Setup()
    passed, failed = h.run_cases(CASES, only)
    return 1 if failed else 0


if __name__ == "__main__":
    h.main(main, sys.argv[1], *sys.argv[2:])

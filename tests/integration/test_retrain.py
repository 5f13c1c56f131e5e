#!/usr/bin/python3
"""End-to-end test of the retraining triggers (issue 4, item 2 and the
acceptance line "a retraining rule fires once per episode for a 1-hour drift
in 4 columns, not once per window, and again only after the cooldown").

usage: test_retrain.py DRIFTWATCH_BINARY

`driftwatch replay` runs over 7 hours of generated records (100 a minute)
in which four numeric columns shift by one standard deviation three times
for one hour each:

    episode 1  01:00-02:00   triggers (first episode)
    episode 2  02:40-03:40   inside the 4 h cooldown of episode 1: nothing
    episode 3  05:30-06:30   after the cooldown: triggers again

The configuration has one alert sink (a webhook) and one retraining rule
per target type (airflow, argo, kubeflow, github, webhook), each pointing at
its own local receiver (tests/integration/receiver.py, on threads of this
process). Each retraining receiver must get exactly one request per
triggering episode (two in all) with the documented path, headers, body and
idempotency key; the alert sink gets the drift notifications and no
retraining document. The Airflow receiver answers 409 Conflict (the run
exists): that counts as delivered, so it is not retried. The idempotency
key is recomputed here (FNV-1a, as in docs/alerts.md) from the document's
own fields. Prints "N passed, N failed"; exit 1 on any failure.
"""
import http.server
import json
import os
import re
import sys

import numpy as np

import harness as h
from harness import Receiver, check, run_cases

DW = None
WORKDIR = None
BUDGET_S = 100

MODEL = "churn"
VERSION = "v7"
NUMERIC = ["f%d" % i for i in range(6)]
DRIFTING = ["features.f%d" % i for i in range(4)]
MINUTE = 60000
T0 = 1767225600000  # 2026-01-01T00:00:00Z
PER_MIN = 100
EPISODES = [(60, 120), (160, 220), (330, 390)]  # minutes from T0, [start, end)
TOTAL_MIN = 420
FOR_MIN = 10
COOLDOWN_MIN = 240
RULES = {  # rule name -> (type, receiver path prefix)
    "rt-airflow": ("airflow", "/af"),
    "rt-argo": ("argo", "/argo"),
    "rt-kubeflow": ("kubeflow", "/kfp"),
    "rt-github": ("github", "/gh"),
    "rt-webhook": ("webhook", "/hooks/retrain"),
}
EVIDENCE_KEYS = {"idempotency_key", "rule", "model", "model_version", "reference", "window",
                 "drift_since", "triggered_at", "columns"}


ms_of = h.ms_of


def minute_of(s):
    return (ms_of(s) - T0) / MINUTE


def fnv1a_key(*fields):
    """The idempotency key as docs/alerts.md defines it: FNV-1a 64 over the
    fields, each followed by the separator byte 0x1f, as 16 hex digits."""
    h = 14695981039346656037
    mask = (1 << 64) - 1
    for f in fields:
        for b in f.encode():
            h = ((h ^ b) * 1099511628211) & mask
        h = ((h ^ 0x1f) * 1099511628211) & mask
    return "%016x" % h


class NoContentReceiver(Receiver):
    """Answers 204 No Content without a body, as GitHub's dispatch endpoint
    does (receiver.py always writes a small JSON body)."""

    def __init__(self):
        super().__init__(["204"])
        rx = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                rx._record(self, body)
                self.send_response(204)
                self.end_headers()

        self._server.RequestHandlerClass = Handler


# ---------------------------------------------------------------- data

def rows(rng, n, shifted):
    num = rng.normal(0.0, 1.0, size=(n, len(NUMERIC)))
    if shifted:
        num[:, :len(DRIFTING)] += 1.0
    score = rng.beta(2.0, 5.0, n)
    return num, score


def record(ts, i, num, score):
    return {"ts": int(ts), "model": MODEL, "model_version": VERSION, "request_id": "r%d" % i,
            "features": {name: round(float(num[k]), 4) for k, name in enumerate(NUMERIC)},
            "prediction": {"score": round(float(score), 4)}}


write_jsonl = h.write_jsonl


def build_reference(path):
    rng = np.random.default_rng(7001)
    n = 20000
    num, score = rows(rng, n, False)
    h.build_reference(DW, path, (record(i, i, num[i], score[i]) for i in range(n)), MODEL)


def in_episode(minute):
    return any(a <= minute < b for a, b in EPISODES)


def build_stream(path):
    rng = np.random.default_rng(7002)
    recs = []
    rid = 0
    for m in range(TOTAL_MIN):
        num, score = rows(rng, PER_MIN, in_episode(m))
        offs = np.sort(rng.integers(0, MINUTE, PER_MIN))
        for k in range(PER_MIN):
            recs.append(record(T0 + m * MINUTE + int(offs[k]), rid, num[k], score[k]))
            rid += 1
    write_jsonl(path, recs)


def write_config(urls, sink_url):
    path = os.path.join(WORKDIR, "retrain.yaml")
    state = os.path.join(WORKDIR, "state")
    os.makedirs(state, exist_ok=True)
    common = """    model: %s
    window: 15m
    min_columns: 3
    for: %dm
    cooldown: %dm
""" % (MODEL, FOR_MIN, COOLDOWN_MIN)
    with open(path, "w") as f:
        f.write(h.config_head([(MODEL, os.path.join(WORKDIR, "ref.json"))]))
        f.write("""sinks:
  - name: alerts
    type: webhook
    url: "%s"
retrain:
  - name: rt-airflow
    type: airflow
    url: "%s"
%s    dag_id: retrain_churn
    username: admin
    password: s3cret
  - name: rt-argo
    type: argo
    url: "%s"
%s    workflow_template: retrain-churn
    namespace: ml
    token: argo-token
  - name: rt-kubeflow
    type: kubeflow
    url: "%s"
%s    pipeline_id: p-123
    experiment_id: e-9
    token: kfp-token
  - name: rt-github
    type: github
    url: "%s"
%s    repository: acme/models
    workflow: retrain.yml
    ref: main
    token: ghp_test
  - name: rt-webhook
    type: webhook
    url: "%s"
%shttp:
  enabled: false
state_dir: %s
""" % (sink_url, urls["rt-airflow"], common, urls["rt-argo"], common, urls["rt-kubeflow"], common,
            urls["rt-github"], common, urls["rt-webhook"], common, state))
    h.validate(DW, path)
    return path


# ---------------------------------------------------------------- checks

def check_evidence(ev, rule):
    check(isinstance(ev, dict), "evidence is not an object: %r" % (ev,))
    check(set(ev) == EVIDENCE_KEYS, "evidence keys %s, expected %s" % (sorted(ev),
                                                                      sorted(EVIDENCE_KEYS)))
    check(ev["rule"] == rule and ev["model"] == MODEL and ev["model_version"] == VERSION,
          "rule/model/version: %r %r %r" % (ev["rule"], ev["model"], ev["model_version"]))
    ref = ev["reference"]
    check(ref["path"].endswith("ref.json") and isinstance(ref["checksum"], str)
          and ref["rows"] == 20000, "reference: %r" % (ref,))
    w = ev["window"]
    check(set(w) == {"name", "start", "end"} and w["name"] == "15m", "window: %r" % (w,))
    check(ms_of(w["end"]) - ms_of(w["start"]) == 15 * MINUTE, "window bounds: %r" % (w,))
    since, at = ms_of(ev["drift_since"]), ms_of(ev["triggered_at"])
    check(ms_of(w["end"]) == at, "window end %s != triggered_at %s" % (w["end"],
                                                                      ev["triggered_at"]))
    check(at - since >= FOR_MIN * MINUTE, "triggered %d ms after the condition started, "
          "before the rule's for: %d min" % (at - since, FOR_MIN))
    # The key names the episode: recomputed independently from its fields.
    want = fnv1a_key(MODEL, VERSION, rule, ev["drift_since"], "retrain")
    check(ev["idempotency_key"] == want, "idempotency_key %s, expected %s"
          % (ev["idempotency_key"], want))
    cols = ev["columns"]
    names = [c["column"] for c in cols]
    check(len(names) >= 3 and set(names) <= set(DRIFTING),
          "columns %s: expected at least 3 of %s and nothing else" % (names, DRIFTING))
    for c in cols:
        check(isinstance(c["samples"], int) and c["samples"] > 1000, "samples: %r" % (c,))
        ks = c["tests"]["ks"]
        check(0 < ks["statistic"] <= 1 and 0 <= ks["p_adjusted"] < 1e-6, "ks: %r" % (c,))
        check(ms_of(c["firing_since"]) <= at, "firing_since after the trigger: %r" % (c,))


def episode_of(ev):
    """Which episode (0-based) the trigger belongs to, from its event times."""
    since = minute_of(ev["drift_since"])
    for i, (a, b) in enumerate(EPISODES):
        if a <= since < b:
            return i
    raise AssertionError("drift_since %s lies in no episode" % ev["drift_since"])


def case_once_per_episode_and_cooldown():
    ref = os.path.join(WORKDIR, "ref.json")
    build_reference(ref)
    logs = os.path.join(WORKDIR, "logs.jsonl")
    build_stream(logs)

    sink = Receiver(["200"]).start()
    rxs = {"rt-airflow": Receiver(["409"]).start(),  # the run exists: delivered
           "rt-argo": Receiver(["200"]).start(),
           "rt-kubeflow": Receiver(["200"]).start(),
           "rt-github": NoContentReceiver().start(),
           "rt-webhook": Receiver(["200"]).start()}
    try:
        urls = {r: "http://127.0.0.1:%d%s" % (rxs[r].port, RULES[r][1]) for r in RULES}
        cfg = write_config(urls, sink.url)
        r = h.run([DW, "replay", "-c", cfg, logs], timeout=60)
        check(r.returncode == 0, "replay exited %d: %s" % (r.returncode, r.stderr[-2000:]))
        m = re.search(r"delivered=(\d+) delivery_failed=(\d+) dropped=(\d+)", r.stderr)
        check(m, "no counters line in replay's log:\n%s" % r.stderr[-2000:])
        check(m.group(2) == "0" and m.group(3) == "0",
              "deliveries failed or dropped (%s): a 409 from Airflow must count as delivered"
              % m.group(0))

        keys = {}
        for rule, rx in rxs.items():
            reqs = rx.requests()
            check(len(reqs) == 2, "%s: %d requests, expected 2 (episodes 1 and 3):\n%s"
                  % (rule, len(reqs), "\n".join(q["path"] + " " + q["body"][:300]
                                                for q in reqs)))
            evs = []
            for q in reqs:
                check(q["method"] == "POST", "%s: method %s" % (rule, q["method"]))
                check(q["headers"].get("Content-Type") == "application/json",
                      "%s: content type %r" % (rule, q["headers"].get("Content-Type")))
                body = json.loads(q["body"])
                evs.append(check_target(rule, q, body))
            eps = [episode_of(ev) for ev in evs]
            check(eps == [0, 2], "%s: triggers in episodes %s, expected [0, 2] (episode 2 is "
                  "inside the cooldown)" % (rule, [e + 1 for e in eps]))
            check(evs[0]["idempotency_key"] != evs[1]["idempotency_key"],
                  "%s: both episodes have the same key" % rule)
            gap = ms_of(evs[1]["triggered_at"]) - ms_of(evs[0]["triggered_at"])
            check(gap >= COOLDOWN_MIN * MINUTE, "%s: triggers %d min apart, inside the cooldown"
                  % (rule, gap // MINUTE))
            keys[rule] = [ev["idempotency_key"] for ev in evs]
        flat = [k for ks in keys.values() for k in ks]
        check(len(set(flat)) == len(flat), "keys shared between rules: %s" % keys)

        # The alert sink: drift notifications only, and drift was detected in
        # every episode, so episode 2 was real and only the cooldown held it.
        docs = [json.loads(q["body"]) for q in sink.requests()]
        check(docs, "the alert sink received nothing")
        kinds = {d["kind"] for d in docs}
        check(kinds == {"drift"}, "the alert sink received kinds %s" % sorted(kinds))
        for i, (a, b) in enumerate(EPISODES):
            firing = {al["column"] for d in docs for al in d["alerts"]
                      if al["status"] == "firing" and a <= minute_of(d["evaluated_at"]) < b + 15}
            check(set(DRIFTING) <= firing, "episode %d: firing alerts for %s, expected %s"
                  % (i + 1, sorted(firing), DRIFTING))
    finally:
        sink.stop()
        for rx in rxs.values():
            rx.stop()


def check_target(rule, q, body):
    """Checks one request against its target's documented format; returns
    the evidence it carries."""
    kind, prefix = RULES[rule]
    h = q["headers"]
    if kind == "airflow":
        check(q["path"] == prefix + "/api/v1/dags/retrain_churn/dagRuns", "airflow path %s"
              % q["path"])
        check(set(body) == {"dag_run_id", "conf"}, "airflow body keys %s" % sorted(body))
        ev = body["conf"]
        check(body["dag_run_id"] == "driftwatch-" + ev["idempotency_key"],
              "dag_run_id %s" % body["dag_run_id"])
        check(h.get("Authorization") == "Basic YWRtaW46czNjcmV0",  # admin:s3cret
              "airflow Authorization %r" % h.get("Authorization"))
    elif kind == "argo":
        check(q["path"] == prefix + "/api/v1/events/ml/retrain-churn", "argo path %s"
              % q["path"])
        ev = body
        check(h.get("Authorization") == "Bearer argo-token", "argo Authorization %r"
              % h.get("Authorization"))
    elif kind == "kubeflow":
        check(q["path"] == prefix + "/apis/v2beta1/runs", "kubeflow path %s" % q["path"])
        check(set(body) == {"display_name", "description", "pipeline_version_reference",
                            "runtime_config", "experiment_id"}, "kubeflow keys %s"
              % sorted(body))
        check(body["pipeline_version_reference"] == {"pipeline_id": "p-123"},
              "pipeline_version_reference %r" % body["pipeline_version_reference"])
        check(body["experiment_id"] == "e-9", "experiment_id %r" % body["experiment_id"])
        check(isinstance(body["description"], str) and rule in body["description"],
              "description %r" % body["description"])
        check(list(body["runtime_config"]) == ["parameters"], "runtime_config %r"
              % list(body["runtime_config"]))
        ev = body["runtime_config"]["parameters"]
        check(body["display_name"] == "driftwatch-" + ev["idempotency_key"],
              "display_name %r" % body["display_name"])
        check(h.get("Authorization") == "Bearer kfp-token", "kubeflow Authorization %r"
              % h.get("Authorization"))
    elif kind == "github":
        check(q["path"] == prefix + "/repos/acme/models/dispatches", "github path %s"
              % q["path"])
        check(set(body) == {"event_type", "client_payload"}, "github keys %s" % sorted(body))
        check(body["event_type"] == "driftwatch-retrain", "event_type %r" % body["event_type"])
        cp = dict(body["client_payload"])
        check(len(cp) <= 10, "client_payload has %d top-level keys, GitHub allows 10" % len(cp))
        check(cp.pop("dispatch") == {"workflow": "retrain.yml", "ref": "main"},
              "client_payload.dispatch %r" % body["client_payload"].get("dispatch"))
        ev = cp
        check(h.get("Authorization") == "Bearer ghp_test", "github Authorization %r"
              % h.get("Authorization"))
        check(h.get("Accept") == "application/vnd.github+json", "github Accept %r"
              % h.get("Accept"))
        check(h.get("X-GitHub-Api-Version") == "2022-11-28", "github API version header %r"
              % h.get("X-GitHub-Api-Version"))
    else:  # webhook: the native document as is
        check(q["path"] == prefix, "webhook path %s" % q["path"])
        check(body["version"] == "1" and body["kind"] == "retrain" and body["target"] == "webhook"
              and body["id"] == body["idempotency_key"], "webhook document head: %r"
              % {k: body.get(k) for k in ("version", "kind", "target", "id")})
        check(h.get("Idempotency-Key") == body["id"], "webhook Idempotency-Key %r"
              % h.get("Idempotency-Key"))
        ms_of(body["sent_at"])
        ev = {k: body[k] for k in EVIDENCE_KEYS - {"window"}}
        ev["window"] = {"name": body["window"], "start": body["window_start"],
                        "end": body["window_end"]}
    check_evidence(ev, rule)
    check(h.get("Idempotency-Key") == ev["idempotency_key"], "%s: Idempotency-Key %r, key %r"
          % (rule, h.get("Idempotency-Key"), ev["idempotency_key"]))
    return ev


CASES = [case_once_per_episode_and_cooldown]


def main(argv):
    global DW, WORKDIR
    DW, _ = h.args(argv, __doc__, BUDGET_S, exact=True)
    WORKDIR = h.workdir("dw-retrain-")
    return h.report(*run_cases(CASES))


if __name__ == "__main__":
    h.main(main, sys.argv)

#!/usr/bin/python3
"""Acceptance tests of alerting end to end (issue 4): `driftwatch replay`
over generated JSONL logs, with the sinks configured in YAML and local HTTP
receivers (tests/integration/receiver.py, on threads of this process).

usage: test_alerting.py DRIFTWATCH_BINARY [CASE...]

replay runs the same engine as `run` on event time, so every decision below
is deterministic (fixed seeds) and fast. What test_sinks.py already checks
through notify_driver (each payload's schema, retries, Retry-After, filters
applied by the notifier) is not repeated; these cases check what only the
whole pipeline decides:

  1. PagerDuty (receiver answering 202), routing_key from an environment
     variable: exactly one trigger and one resolve per drift episode and
     alert, with the same dedup_key, over 3 h of event time with a 1 h drift
     in two columns and two windows.
  2. 50 columns drifting at once: one grouped notification per sink per
     evaluation (webhook and slack sinks; requests counted per evaluated_at),
     and Slack's "+N more" section when the alerts exceed its 45 sections.
  3. A missing-value flood in one column (whose remaining values also move)
     gives one data-quality alert and no distribution alert for that column,
     while a control column with the same shift and no nulls gets its
     distribution alert.
  4. Sink filters from the configuration (filter.columns, filter.models,
     filter.severity): each filtered sink gets exactly the alerts of an
     unfiltered sink that match its filter, and no document without one.

Prints "N passed, N failed"; exit 1 on any failure.
"""
import json
import os
import re
import sys
from collections import Counter, defaultdict

import numpy as np

import harness as h
from harness import Receiver, check, run_cases

DW = None
WORKDIR = None
BUDGET_S = 200  # whole run; meson's timeout is 240 s

MINUTE = 60000
T0 = 1767225600000  # 2026-01-01T00:00:00Z
ms_of = h.ms_of


def minute_of(s):
    return (ms_of(s) - T0) / MINUTE


# ---------------------------------------------------------------- data

write_jsonl = h.write_jsonl


def record(ts, i, model, names, values, version="v1"):
    feats = {}
    for name, v in zip(names, values):
        feats[name] = None if v is None or (isinstance(v, float) and np.isnan(v)) \
            else round(float(v), 4)
    return {"ts": int(ts), "model": model, "model_version": version, "request_id": "r%d" % i,
            "features": feats}


def build_reference(path, model, names, seed, n=20000):
    """Reference statistics from standard-normal training data (no nulls)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, size=(n, len(names)))
    h.build_reference(DW, path, (record(i, i, model, names, x[i]) for i in range(n)), model)


def episode(rng, first, last, shifted, shift, null_col=None, null_rate=0.0):
    """A stream() transform: in event minutes [first, last) the columns
    shifted move by shift standard deviations, then null_rate of null_col's
    values become null (drawn from rng)."""
    def transform(m, x):
        if first <= m < last:
            x[:, shifted] += shift
            if null_col is not None:
                x[rng.random(x.shape[0]) < null_rate, null_col] = np.nan
    return transform


def stream(rng, model, names, minutes, per_min, transform, first_id=0):
    """per_min records for each event minute in [0, minutes), timestamps
    sorted within the minute; transform(minute, matrix) may change the
    drawn standard-normal matrix in place (NaN = null)."""
    out = []
    rid = first_id
    for m in range(minutes):
        x = rng.normal(0.0, 1.0, size=(per_min, len(names)))
        transform(m, x)
        offs = np.sort(rng.integers(0, MINUTE, per_min))
        for k in range(per_min):
            out.append(record(T0 + m * MINUTE + int(offs[k]), rid, model, names, x[k]))
            rid += 1
    return out


def config(name, models, sinks, windows=("15m",), extra=""):
    """Writes and validates a replay configuration; models: [(name, ref)],
    sinks: YAML text of the sinks list."""
    path = os.path.join(WORKDIR, name + ".yaml")
    state = os.path.join(WORKDIR, name + "-state")
    os.makedirs(state, exist_ok=True)
    text = h.config_head(models, windows, group=None)
    text += "time:\n  idle_timeout: 0\n"
    text += "sinks:\n" + sinks
    text += "http:\n  enabled: false\nstate_dir: %s\nshutdown_budget: 60s\n" % state
    text += extra
    with open(path, "w") as f:
        f.write(text)
    h.validate(DW, path)
    return path


def replay(cfg, logs, env=None):
    """Runs replay; returns the counters of its "counters:" log line."""
    r = h.run([DW, "replay", "-c", cfg, logs], timeout=120, env=env)
    check(r.returncode == 0, "replay exited %d: %s" % (r.returncode, r.stderr[-2000:]))
    out = h.counters(r.stderr)
    check(out.get("delivery_failed") == 0 and out.get("dropped") == 0,
          "deliveries failed or dropped: %s" % out)
    return out


def bodies(rx):
    return [json.loads(q["body"]) for q in rx.requests()]


def alerts(docs):
    return [a for d in docs for a in d["alerts"]]


# ---------------------------------------------------------------- case 1

def case1_pagerduty_one_trigger_one_resolve_per_episode():
    """3 h at 100 records a minute; features.a and features.b shift by one
    standard deviation from 01:00 to 02:00. Two windows (15m and 1h), so
    four alerts: each must reach PagerDuty as exactly one trigger followed
    by one resolve with the same dedup_key, and nothing else is paged."""
    names = ["a", "b", "c", "d", "e"]
    drifting = {"features.a", "features.b"}
    ref = os.path.join(WORKDIR, "pd-ref.json")
    build_reference(ref, "pdm", names, 101)
    rng = np.random.default_rng(102)

    def shift(m, x):
        if 60 <= m < 120:
            x[:, 0:2] += 1.0
    logs = os.path.join(WORKDIR, "pd.jsonl")
    write_jsonl(logs, stream(rng, "pdm", names, 180, 100, shift))

    key = "R0UTINGKEYtest0123456789abcdef01"
    env = dict(os.environ, DW_TEST_PD_ROUTING_KEY=key)
    pd = Receiver(["202"]).start()
    try:
        sinks = """  - name: pd
    type: pagerduty
    url: "http://127.0.0.1:%d/v2/enqueue"
    routing_key: "${DW_TEST_PD_ROUTING_KEY}"
""" % pd.port
        windows = ("15m", ("1h", "5m"))
        os.environ["DW_TEST_PD_ROUTING_KEY"] = key  # for validate
        try:
            cfg = config("pd", [("pdm", ref)], sinks, windows)
        finally:
            del os.environ["DW_TEST_PD_ROUTING_KEY"]
        cnt = replay(cfg, logs, env)
        reqs = pd.requests()
        check(reqs, "PagerDuty received nothing")
        events = []
        for q in reqs:
            check(q["path"] == "/v2/enqueue" and q["method"] == "POST",
                  "request %s %s" % (q["method"], q["path"]))
            ev = json.loads(q["body"])
            check(ev.get("routing_key") == key, "routing_key %r, expected the value of "
                  "$DW_TEST_PD_ROUTING_KEY" % ev.get("routing_key"))
            check(ev.get("event_action") in ("trigger", "resolve"),
                  "event_action %r" % ev.get("event_action"))
            check(isinstance(ev.get("dedup_key"), str) and ev["dedup_key"],
                  "dedup_key %r" % ev.get("dedup_key"))
            events.append(ev)
        check(cnt["delivered"] == len(reqs), "delivered=%d, PagerDuty got %d events"
              % (cnt["delivered"], len(reqs)))
        by_key = defaultdict(list)
        for ev in events:
            by_key[ev["dedup_key"]].append(ev)
        seen = set()
        for k, evs in by_key.items():
            actions = [e["event_action"] for e in evs]
            check(actions == ["trigger", "resolve"], "dedup_key %s: events %s, expected exactly "
                  "one trigger then one resolve" % (k, actions))
            det = evs[0]["payload"]["custom_details"]
            col, win = det["column"], det["window"]
            check(col in drifting, "%s (%s) was paged but does not drift" % (col, win))
            check(det["model"] == "pdm" and det["kind"] == "distribution",
                  "custom_details %r" % det)
            # the trigger lies in the episode, the resolve after it ended
            start = minute_of(det["starts_at"])
            check(60 <= start < 120, "%s %s triggered at minute %.0f, outside the drift "
                  "(minutes 60 to 120)" % (col, win, start))
            seen.add((col, win))
        want = {(c, w) for c in drifting for w in ("15m", "1h")}
        check(seen == want, "alerts paged %s, expected %s" % (sorted(seen), sorted(want)))
        check(len(by_key) == 4, "%d dedup keys for 4 alerts" % len(by_key))
    finally:
        pd.stop()


# ---------------------------------------------------------------- case 2

def slack_evaluated_at(msg):
    """The evaluation time from a Slack message's context block."""
    for b in msg["blocks"]:
        if b["type"] == "context":
            for el in b["elements"]:
                m = re.search(r"evaluated at (\S+)", el.get("text", ""))
                if m:
                    return m.group(1)
    raise AssertionError("no 'evaluated at' in the Slack context: %r" % msg["blocks"][-1:])


def case2_fifty_columns_one_notification_per_sink_per_evaluation():
    """55 numeric columns; f0..f49 shift by two standard deviations from
    minute 30 to minute 60 (100 minutes in all, 200 records a minute). A
    tumbling 10-minute window aligned with the shift, so every drifting
    column breaches in the same evaluations and all 50 fire together."""
    names = ["f%d" % i for i in range(55)]
    drifting = {"features.f%d" % i for i in range(50)}
    ref = os.path.join(WORKDIR, "wide-ref.json")
    build_reference(ref, "wide", names, 201)
    rng = np.random.default_rng(202)

    def shift(m, x):
        if 30 <= m < 60:
            x[:, :50] += 2.0
    logs = os.path.join(WORKDIR, "wide.jsonl")
    write_jsonl(logs, stream(rng, "wide", names, 100, 200, shift))
    hook = Receiver(["200"]).start()
    slack = Receiver(["200"]).start()
    try:
        # Slack keeps its default spacing of one message a second.
        sinks = """  - name: hook
    type: webhook
    url: "%s"
  - name: slack
    type: slack
    url: "http://127.0.0.1:%d/services/T0/B0/x"
""" % (hook.url, slack.port)
        cfg = config("wide", [("wide", ref)], sinks, [("10m", "10m")])
        cnt = replay(cfg, logs)

        docs = bodies(hook)
        check(docs, "the webhook received nothing")
        per_eval = Counter(d["evaluated_at"] for d in docs)
        multi = {k: v for k, v in per_eval.items() if v != 1}
        check(not multi, "webhook: several documents for one evaluation: %s" % multi)
        check(cnt["notifications"] == len(docs), "notifications=%d, webhook got %d"
              % (cnt["notifications"], len(docs)))
        fired = Counter(a["column"] for a in alerts(docs) if a["status"] == "firing")
        resolved = Counter(a["column"] for a in alerts(docs) if a["status"] == "resolved")
        check(set(fired) == drifting and set(fired.values()) == {1},
              "firing alerts per column: %s" % dict(fired))
        check(set(resolved) == drifting and set(resolved.values()) == {1},
              "resolved alerts per column: %s" % dict(resolved))
        # "at once": far fewer documents than alerts, and some evaluation
        # carries more alerts than Slack has sections for.
        check(len(docs) < 25, "%d webhook documents for 100 alerts: not grouped" % len(docs))
        biggest = max(docs, key=lambda d: len(d["alerts"]))
        check(len(biggest["alerts"]) > 45, "at most %d alerts in one evaluation; the case needs "
              "more than 45 (Slack's section limit)" % len(biggest["alerts"]))

        msgs = [json.loads(q["body"]) for q in slack.requests()]
        s_eval = Counter(slack_evaluated_at(m) for m in msgs)
        multi = {k: v for k, v in s_eval.items() if v != 1}
        check(not multi, "slack: several messages for one evaluation: %s" % multi)
        check(set(s_eval) == set(per_eval), "slack evaluations %s, webhook evaluations %s"
              % (sorted(s_eval), sorted(per_eval)))
        by_eval = {slack_evaluated_at(m): m for m in msgs}
        for d in docs:
            m = by_eval[d["evaluated_at"]]
            n = len(d["alerts"])
            check(len(m["blocks"]) <= 50, "%d blocks, Slack allows 50" % len(m["blocks"]))
            sections = [b for b in m["blocks"] if b["type"] == "section"]
            texts = [b["text"]["text"] for b in sections]
            more = [t for t in texts if re.search(r"\+\d+ more", t)]
            if n > 45:
                check(len(more) == 1, "%s: %d alerts but %d '+N more' sections"
                      % (d["evaluated_at"], n, len(more)))
                num = int(re.search(r"\+(\d+) more", more[0]).group(1))
                check(num == n - 45 and len(sections) == 46,
                      "%s: %d alerts gave %d sections and '%s' (expected 45 and +%d more)"
                      % (d["evaluated_at"], n, len(sections), more[0], n - 45))
            else:
                check(not more and len(sections) == n, "%s: %d alerts gave %d sections%s"
                      % (d["evaluated_at"], n, len(sections), " and a +N more" if more else ""))
            shown = set(re.findall(r"`(features\.f\d+)`", " ".join(texts)))
            check(shown <= {a["column"] for a in d["alerts"]},
                  "slack names columns not in the evaluation: %s"
                  % (shown - {a["column"] for a in d["alerts"]}))
    finally:
        hook.stop()
        slack.stop()


# ---------------------------------------------------------------- case 3

def case3_missing_flood_one_quality_alert_no_distribution_alert():
    """From minute 40 to 80, 60 % of features.a is null and the values that
    remain are shifted by 1.5 standard deviations (what an upstream outage
    that only some clients survive looks like). features.b gets the same
    shift without nulls: the control that the shift alone is drift."""
    names = ["a", "b", "c", "d"]
    ref = os.path.join(WORKDIR, "flood-ref.json")
    build_reference(ref, "flood", names, 301)
    rng = np.random.default_rng(302)
    outage = episode(rng, 40, 80, [0, 1], 1.5, null_col=0, null_rate=0.6)
    logs = os.path.join(WORKDIR, "flood.jsonl")
    write_jsonl(logs, stream(rng, "flood", names, 140, 200, outage))
    hook = Receiver(["200"]).start()
    try:
        cfg = config("flood", [("flood", ref)], "  - name: hook\n    type: webhook\n"
                     "    url: \"%s\"\n" % hook.url)
        replay(cfg, logs)
        al = alerts(bodies(hook))
        a_alerts = [(x["kind"], x["status"]) for x in al if x["column"] == "features.a"]
        check(a_alerts == [("quality", "firing"), ("quality", "resolved")],
              "features.a alerts %s, expected one quality alert (firing, resolved) and no "
              "distribution alert" % a_alerts)
        q = [x for x in al if x["column"] == "features.a"][0]
        check(q["severity"] == "critical" and q["quality"]["missing_rate"] > 0.1,
              "quality alert %r" % {k: q.get(k) for k in ("severity", "quality")})
        check(40 <= minute_of(q["starts_at"]) <= 55, "quality alert fired at minute %.0f"
              % minute_of(q["starts_at"]))
        b_alerts = [(x["kind"], x["status"]) for x in al if x["column"] == "features.b"]
        check(b_alerts == [("distribution", "firing"), ("distribution", "resolved")],
              "control features.b alerts %s: the shift alone should be one distribution "
              "alert" % b_alerts)
        others = {x["column"] for x in al} - {"features.a", "features.b"}
        check(not others, "alerts for columns that did not change: %s" % others)
    finally:
        hook.stop()


# ---------------------------------------------------------------- case 4

def case4_sink_filters_from_the_configuration():
    """Two models; in m1 features.a and features.b drift and features.c
    floods with nulls (a critical quality alert), in m2 features.a drifts.
    An unfiltered sink sees everything; each filtered sink must get exactly
    the matching subset (computed here from the unfiltered sink's alerts)."""
    names = ["a", "b", "c", "d"]
    ref1 = os.path.join(WORKDIR, "f-ref1.json")
    ref2 = os.path.join(WORKDIR, "f-ref2.json")
    build_reference(ref1, "m1", names, 401)
    build_reference(ref2, "m2", names, 402)
    rng = np.random.default_rng(403)
    m1 = episode(rng, 20, 50, [0, 1], 1.0, null_col=2, null_rate=0.5)
    m2 = episode(rng, 20, 50, [0], 1.0)
    r1 = stream(rng, "m1", names, 80, 150, m1)
    r2 = stream(rng, "m2", names, 80, 150, m2, first_id=10 ** 6)
    merged = sorted(r1 + r2, key=lambda r: r["ts"])
    logs = os.path.join(WORKDIR, "filters.jsonl")
    write_jsonl(logs, merged)
    rx = {n: Receiver(["200"]).start() for n in ("all", "cols", "models", "crit", "combo")}
    try:
        sinks = ""
        filters = {
            "all": "",
            "cols": "    filter:\n      columns: [features.b, features.c]\n",
            "models": "    filter:\n      models: [m2]\n",
            "crit": "    filter:\n      severity: critical\n",
            "combo": "    filter:\n      models: [m1]\n      columns: [features.a]\n"
                     "      severity: warning\n",
        }
        for n, f in filters.items():
            sinks += "  - name: %s\n    type: webhook\n    url: \"%s\"\n%s" % (n, rx[n].url, f)
        cfg = config("filters", [("m1", ref1), ("m2", ref2)], sinks)
        replay(cfg, logs)

        def keyed(docs):
            return sorted((d["model"], d["evaluated_at"], a["column"], a["window"], a["kind"],
                           a["status"]) for d in docs for a in d["alerts"])
        every = keyed(bodies(rx["all"]))
        have = {(a[0], a[2], a[4]) for a in every}
        for want in [("m1", "features.a", "distribution"), ("m1", "features.b", "distribution"),
                     ("m1", "features.c", "quality"), ("m2", "features.a", "distribution")]:
            check(want in have, "the unfiltered sink never got %s: the case needs it" % (want,))
        sev = {"distribution": "warning", "quality": "critical"}
        match = {
            "cols": lambda a: a[2] in ("features.b", "features.c"),
            "models": lambda a: a[0] == "m2",
            "crit": lambda a: sev[a[4]] == "critical",
            "combo": lambda a: a[0] == "m1" and a[2] == "features.a",
        }
        for n, pred in match.items():
            docs = bodies(rx[n])
            want = [a for a in every if pred(a)]
            got = keyed(docs)
            check(want, "%s: nothing would match its filter" % n)
            check(got == want, "sink %s got %d alerts, its filter matches %d of the unfiltered "
                  "sink's; extra %s, missing %s" % (n, len(got), len(want),
                                                    sorted(set(got) - set(want))[:5],
                                                    sorted(set(want) - set(got))[:5]))
            check(all(d["alerts"] for d in docs), "%s got a document without alerts" % n)
    finally:
        for r in rx.values():
            r.stop()


CASES = [case1_pagerduty_one_trigger_one_resolve_per_episode,
         case2_fifty_columns_one_notification_per_sink_per_evaluation,
         case3_missing_flood_one_quality_alert_no_distribution_alert,
         case4_sink_filters_from_the_configuration]


def main(argv):
    global DW, WORKDIR
    DW, only = h.args(argv, __doc__, BUDGET_S)
    WORKDIR = h.workdir("dw-alerting-")
    return h.report(*run_cases(CASES, only))


if __name__ == "__main__":
    h.main(main, sys.argv)

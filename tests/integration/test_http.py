#!/usr/bin/python3
"""Integration test of the HTTP server while `driftwatch run` consumes.

usage: test_http.py DRIFTWATCH_BINARY ARTIFACT_DIR

Starts `driftwatch mock-kafka`, a local webhook receiver and `driftwatch run`
with http.listen 127.0.0.1:0 (the bound port comes back through
$DW_HTTP_PORT_FILE), produces the example drift data (1000 records) plus a
few bad messages with confluent_kafka, polls until everything is applied,
then checks every endpoint as docs/api.md describes it:

* /healthz, /readyz answer 200; other methods 405, unknown paths 404;
* /metrics parses with prometheus_client's parser and its counters equal
  exactly what this test produced (records, rejects by reason, consumer lag,
  notifications the receiver got), one column series per reference column;
* /api/v1/status holds the same counters, the models, columns, assignment;
* /ui renders in headless Chromium with one chart (svg[data-column]) per
  monitored column; a screenshot is saved as ARTIFACT_DIR/ui.png;
* SIGTERM: exit 0.

Every wait polls a condition with a deadline; the whole test is bounded by
BUDGET_S.
"""
import html.parser
import json
import os
import sys

import harness as h

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = h.ROOT

BUDGET_S = 100  # hard bound: the test fails rather than hang
TOPIC = "model-logs"
CHROMIUM = "/usr/bin/chromium"
http, metrics, get, status_doc, wait_for = h.http, h.metrics, h.metric, h.status, h.wait_for


class Charts(html.parser.HTMLParser):
    """Collects the data-column attribute of every <svg> in a DOM dump."""

    def __init__(self):
        super().__init__()
        self.columns = []
        self.refresh = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg" and "data-column" in a:
            self.columns.append(a["data-column"])
        if tag == "meta" and a.get("http-equiv", "").lower() == "refresh":
            self.refresh = True


def chromium(args, profile):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--hide-scrollbars", "--user-data-dir=" + profile] + args
    return h.run(cmd, timeout=60)


def main(dw, artifacts):
    h.budget(BUDGET_S)
    # Without Chromium everything else is still checked; the test then
    # ends as skipped (77) instead of passing without the browser part.
    have_chromium = os.access(CHROMIUM, os.X_OK)
    os.makedirs(artifacts, exist_ok=True)
    work = h.workdir("dw-http-")
    ref_path = os.path.join(ROOT, "reference_stats", "fraud.json")
    with open(ref_path) as f:
        ref_columns = [c["name"] for c in json.load(f)["columns"]]

    # broker
    mk, bootstrap = h.mock_kafka(dw, {TOPIC: 1}, args=["--log-level", "warn"])

    receiver = h.Receiver(responses=["200"]).start()

    cfg = os.path.join(work, "config.yaml")
    with open(cfg, "w") as f:
        f.write(h.config_head([("fraud", ref_path)], ["5m"], bootstrap, TOPIC, "http-test"))
        f.write("""time:
  idle_timeout: 2s
sinks:
  - name: hook
    type: webhook
    url: "%s"
http:
  listen: "127.0.0.1:0"
state_dir: "%s"
""" % (receiver.url, work))

    port_file = os.path.join(work, "http.port")
    env = dict(os.environ, DW_HTTP_PORT_FILE=port_file)
    run = h.spawn([dw, "run", "-c", cfg, "--log-format", "text"], "run", env=env)
    port = int(wait_for(lambda: open(port_file).read().strip(), 15, "the HTTP port file"))
    base = "http://127.0.0.1:%d" % port

    # probes and the server's bounds, before any traffic
    st, _, body = http("GET", base + "/healthz")
    assert (st, body) == (200, "ok\n"), (st, body)
    st, _, body = http("GET", base + "/readyz")
    assert (st, body) == (200, "ready\n"), (st, body)
    st, hdr, _ = http("POST", base + "/metrics", body="x")
    assert st == 405 and "GET" in hdr["Allow"], (st, dict(hdr))
    st, _, _ = http("DELETE", base + "/healthz")
    assert st == 405, st
    st, _, _ = http("GET", base + "/no/such/path")
    assert st == 404, st
    st, _, body = http("GET", base + "/api/v1/status")
    assert st == 200 and json.loads(body)["models"] == [], body[:200]

    # traffic: the example data (a feature shift part-way) plus bad messages
    with open(os.path.join(ROOT, "examples", "fraud", "serving-drift.jsonl")) as f:
        records = [line.strip() for line in f if line.strip()]
    first_ts = json.loads(records[0])["ts"]
    bad = {
        "invalid_json": ["not json", "{\"ts\": 1,", "{]"],
        "unknown_model": [json.dumps({"ts": first_ts + 400000, "model": "nope"}),
                          json.dumps({"ts": first_ts + 400000, "model": "other"})],
        "bad_timestamp": [json.dumps({"ts": "yesterday", "model": "fraud"})],
        "not_object": ["[1]"],
    }
    messages = records[:500] + [m for ms in bad.values() for m in ms] + records[500:]
    # last: a record whose pane closed long ago
    late = json.dumps({"ts": first_ts, "model": "fraud", "model_version": "v3",
                       "features": {"amount": 1.0}})
    messages.append(late)
    h.produce(bootstrap, TOPIC, messages, nparts=1)

    want_rejected = {r: len(ms) for r, ms in bad.items()}
    want_rejected["late"] = 1
    n_records = len(records) + sum(v for k, v in want_rejected.items() if k != "invalid_json")

    def settled():
        m, _, _ = metrics(base)
        return (get(m, "driftwatch_records_applied_total") == len(records) and
                get(m, "driftwatch_records_rejected_total", reason="late") == 1 and
                get(m, "driftwatch_consumer_lag", topic=TOPIC, partition="0") == 0 and
                all(get(m, "driftwatch_column_samples", model="fraud", model_version="v3",
                        column=c, window="5m") is not None for c in ref_columns))
    wait_for(settled, 60, "all records applied, lag 0, every column evaluated")

    m, types, text = metrics(base)
    with open(os.path.join(artifacts, "metrics.txt"), "w") as f:
        f.write(text)
    assert get(m, "driftwatch_build_info", version="0.1.0") == 1
    assert get(m, "driftwatch_up") == 1
    assert get(m, "driftwatch_messages_total") == len(messages), get(m, "driftwatch_messages_total")
    assert get(m, "driftwatch_records_total") == n_records, get(m, "driftwatch_records_total")
    assert get(m, "driftwatch_records_applied_total") == len(records)
    for reason in ["invalid_json", "not_object", "no_model", "unknown_model", "bad_timestamp",
                   "late", "too_many_versions", "too_large", "too_many_fields",
                   "too_deep", "future"]:
        got = get(m, "driftwatch_records_rejected_total", reason=reason)
        assert got == want_rejected.get(reason, 0), (reason, got)
    assert get(m, "driftwatch_field_type_errors_total") == 0
    assert types["driftwatch_records"] == "counter", types.get("driftwatch_records")
    # histogram: cumulative buckets, +Inf equals the count
    assert types["driftwatch_evaluation_duration_seconds"] == "histogram"
    buckets = sorted((float(dict(k[1])["le"]), v) for k, v in m.items()
                     if k[0] == "driftwatch_evaluation_duration_seconds_bucket")
    assert len(buckets) >= 2 and buckets[-1][0] == float("inf"), buckets
    assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), buckets
    assert buckets[-1][1] == get(m, "driftwatch_evaluation_duration_seconds_count") >= 1
    assert get(m, "driftwatch_evaluations_total") >= 1
    wm = get(m, "driftwatch_watermark_seconds")
    assert wm is not None and wm >= json.loads(records[-1])["ts"] / 1000.0 - 120, wm
    # column series: one label set per reference column; statistics in range
    for c in ref_columns:
        lab = dict(model="fraud", model_version="v3", column=c, window="5m")
        samples = get(m, "driftwatch_column_samples", **lab)
        assert 0 < samples <= 300, (c, samples)  # 5 minutes of one record a second
        assert get(m, "driftwatch_column_psi", **lab) >= 0, c
        assert get(m, "driftwatch_column_drift", **lab) in (0, 1), c
        assert 0 <= get(m, "driftwatch_column_missing_rate", **lab) <= 1, c
        ks, chi = (get(m, "driftwatch_column_ks_p_value", **lab),
                   get(m, "driftwatch_column_chi2_p_value", **lab))
        assert (ks is None) != (chi is None), (c, ks, chi)  # numeric xor categorical
    for kind in ("distribution", "quality"):
        assert get(m, "driftwatch_alerts_firing", model="fraud", model_version="v3",
                   kind=kind) is not None, kind
    assert get(m, "driftwatch_outbox_depth", sink="hook") == 0
    assert get(m, "driftwatch_metrics_series_dropped_total") == 0

    # notifications: the counter equals what the receiver got (the drift
    # in the example data fires at least one alert)
    def delivered():
        mm, _, _ = metrics(base)
        n = len(receiver.requests())
        sent = get(mm, "driftwatch_notifications_sent_total", sink="hook")
        return n >= 1 and sent == n and (n, mm)
    n_sent, m = wait_for(delivered, 30, "notifications delivered and counted")
    assert get(m, "driftwatch_notifications_failed_total", sink="hook") == 0
    assert get(m, "driftwatch_notifications_dropped_total", sink="hook") == 0
    assert get(m, "driftwatch_notifications_retried_total", sink="hook") == 0

    # status API: the same counters, models, columns, assignment
    doc = status_doc(base)
    with open(os.path.join(artifacts, "status.json"), "w") as f:
        json.dump(doc, f, indent=1)
    assert doc["counters"]["applied"] == len(records)
    assert doc["counters"]["records"] == n_records
    assert doc["counters"]["messages"] == len(messages)
    for reason, n in want_rejected.items():
        assert doc["counters"]["rejected"][reason] == n, (reason, doc["counters"])
    assert doc["health"]["live"] is True and doc["health"]["ready"] is True
    assert doc["driftwatch"]["version"] == "0.1.0"
    parts = doc["consumer"]["partitions"]
    assert [(p["topic"], p["partition"]) for p in parts] == [(TOPIC, 0)], parts
    assert parts[0]["lag"] == 0 and parts[0]["high_watermark"] == len(messages), parts
    assert doc["consumer"]["lag_total"] == 0
    assert [s["name"] for s in doc["sinks"]] == ["hook"]
    assert doc["sinks"][0]["sent"] >= n_sent
    assert [(x["model"], x["model_version"]) for x in doc["models"]] == [("fraud", "v3")]
    model = doc["models"][0]
    assert [c["name"] for c in model["columns"]] == ref_columns
    assert [w["name"] for w in model["windows"]] == ["5m"]
    for c in model["columns"]:
        w = c["windows"]["5m"]
        assert w["state"] in ("inactive", "pending", "firing"), w["state"]
        hist = w["histogram"]
        assert len(hist["labels"]) == len(hist["reference"]) == len(hist["current"]) > 0, \
            c["name"]

    # the status page: in a real browser, one chart per monitored column
    shot = os.path.join(artifacts, "ui.png")
    ncharts = None
    if have_chromium:
        profile = os.path.join(work, "chromium")
        dump = chromium(["--dump-dom", base + "/ui"], profile)
        assert dump.returncode == 0, dump.stderr[-2000:]
        charts = Charts()
        charts.feed(dump.stdout)
        assert charts.refresh, "no <meta http-equiv=refresh>"
        assert sorted(charts.columns) == sorted(ref_columns), charts.columns
        assert len(charts.columns) == len(ref_columns)
        ncharts = len(charts.columns)
        if os.path.exists(shot):
            os.unlink(shot)
        r = chromium(["--window-size=1400,1500", "--screenshot=" + shot, base + "/ui"], profile)
        assert r.returncode == 0, r.stderr[-2000:]
        with open(shot, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", "screenshot is not a PNG"
    st, hdr, page = http("GET", base + "/ui")
    assert st == 200 and hdr["Content-Type"].startswith("text/html"), st
    assert "default-src 'none'" in hdr["Content-Security-Policy"]

    # shutdown: SIGTERM, exit 0
    rc = h.stop(run)
    assert rc == 0, "driftwatch run exited %d" % rc
    h.stop(mk, 10)
    receiver.stop()
    print("http: all endpoints OK; %d messages, %d records applied, %d notifications, "
          "%s charts; screenshot %s" % (len(messages), len(records), n_sent, ncharts,
                                        shot if have_chromium else "none"))
    if not have_chromium:
        h.skip("%s not found: /ui was not rendered in a browser (install Debian's "
               "chromium, scripts/install-deps.sh)" % CHROMIUM)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: test_http.py DRIFTWATCH_BINARY ARTIFACT_DIR")
    h.main(main, sys.argv[1], sys.argv[2])

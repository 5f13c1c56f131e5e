#!/usr/bin/python3
"""Integration tests of the Slack, PagerDuty and Alertmanager sinks, webhook
signing and sink filters: notify_driver (a real dw_notifier with libcurl)
against the local HTTP receiver (receiver.py) on 127.0.0.1. Payloads are
checked field by field against the targets' documented schemas; webhook
signatures are verified here with Python's hmac/hashlib/base64.

Run: /usr/bin/python3 tests/integration/test_sinks.py \
         build-x/tests/integration/notify_driver
(or set NOTIFY_DRIVER instead of the argument).
"""

import base64
import calendar
import hashlib
import hmac
import json
import os
import re
import subprocess
import time

import harness as h

DRIVER = os.environ.get("NOTIFY_DRIVER", "")
RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
# Receiver timestamps are taken on request arrival and the notifier schedules
# on a millisecond monotonic clock: allow 5 ms of rounding.
SLACK_MS = 0.005


def ks_alert(column, status="firing", dedup=None, window="15m", severity="warning"):
    return {
        "status": status, "column": column, "window": window,
        "window_start": "2026-11-25T13:30:00.000Z",
        "window_end": "2026-11-25T13:45:00.000Z",
        "samples": 4980, "severity": severity, "kind": "distribution",
        "tests": {"ks": {"statistic": 0.31, "p_value": 1e-40, "p_adjusted": 1e-39},
                  "psi": 0.52},
        "reference_samples": 100000, "new_categories": [],
        "dedup_key": dedup or ("key-" + column), "starts_at": "2026-11-25T13:00:00.000Z",
        "ends_at": "2026-11-25T14:45:00.000Z" if status == "resolved" else None,
    }


def quality_alert(column, status="firing"):
    return {
        "status": status, "column": column, "window": "15m",
        "window_start": "2026-11-25T13:30:00.000Z",
        "window_end": "2026-11-25T13:45:00.000Z",
        "samples": 4980, "severity": "critical", "kind": "quality", "tests": {},
        "quality": {"missing_rate": 0.31, "ref_missing_rate": 0.02, "out_of_range_rate": 0.0,
                    "unseen_rate": 0.0, "type_error_rate": 0.0},
        "reference_samples": 100000, "new_categories": [],
        "dedup_key": "q-" + column, "starts_at": "2026-11-25T13:45:00.000Z",
        "ends_at": None,
    }


def epoch(rfc3339_ms):
    """Seconds since the epoch of "YYYY-MM-DDTHH:MM:SS.mmmZ"."""
    secs = calendar.timegm(time.strptime(rfc3339_ms[:19], "%Y-%m-%dT%H:%M:%S"))
    return secs + int(rfc3339_ms[20:23]) / 1000.0


def doc(i, alerts, model="fraud", version="v3"):
    return {"version": "1", "kind": "drift", "id": "fraud-v3-%d" % i, "model": model,
            "model_version": version, "evaluated_at": "2026-11-25T13:45:00.000Z",
            "alerts": alerts}


class SinksTest(h.DriverTest):
    def bodies(self, rx):
        return [json.loads(r["body"]) for r in rx.requests()]

    # ---- Slack --------------------------------------------------------------

    def assert_slack_message(self, m):
        self.assertIsInstance(m["text"], str)
        self.assertTrue(m["text"])
        blocks = m["blocks"]
        self.assertIsInstance(blocks, list)
        self.assertLessEqual(len(blocks), 50)
        self.assertEqual(blocks[0]["type"], "header")
        self.assertEqual(blocks[0]["text"]["type"], "plain_text")
        self.assertLessEqual(len(blocks[0]["text"]["text"]), 150)
        for b in blocks[1:-1]:
            self.assertEqual(b["type"], "section")
            self.assertEqual(b["text"]["type"], "mrkdwn")
            self.assertLessEqual(len(b["text"]["text"]), 3000)
        self.assertEqual(blocks[-1]["type"], "context")
        for e in blocks[-1]["elements"]:
            self.assertEqual(e["type"], "mrkdwn")
            self.assertIsInstance(e["text"], str)

    def test_slack_payload_and_one_message_a_second(self):
        rx = self.receiver(["200"])
        docs = [doc(1, [ks_alert("features.amount"), quality_alert("features.age")]),
                doc(2, [ks_alert("features.amount", "resolved")]),
                doc(3, [ks_alert("features.score")])]
        out, _ = self.run_driver(docs, "--sink", "slack=" + rx.url, "--option",
                                 "channel=#ml-alerts", "--option", "username=driftwatch")
        st = out["sinks"][0]
        self.assertEqual(st["name"], "slack-1")
        self.assertEqual((st["sent"], st["failed"]), (3, 0))
        reqs = rx.requests()
        self.assertEqual(len(reqs), 3)
        msgs = [json.loads(r["body"]) for r in reqs]
        for r, m in zip(reqs, msgs):
            self.assertEqual(r["method"], "POST")
            self.assertEqual(r["path"], "/hook")
            self.assertEqual(r["headers"]["Content-Type"], "application/json")
            self.assert_slack_message(m)
            self.assertEqual(m["channel"], "#ml-alerts")
            self.assertEqual(m["username"], "driftwatch")
        # First: two firing alerts, one section each, with statistics.
        self.assertEqual(msgs[0]["blocks"][0]["text"]["text"], "Drift: fraud v3 (15m)")
        sections = [b["text"]["text"] for b in msgs[0]["blocks"][1:-1]]
        self.assertEqual(len(sections), 2)
        self.assertIn("*FIRING* `features.amount`", sections[0])
        self.assertIn("KS D=0.31 p_adj=1e-39, PSI=0.52", sections[0])
        self.assertIn("*FIRING* `features.age`", sections[1])
        self.assertIn("missing 31.0% (reference 2.0%)", sections[1])
        self.assertIn("2 firing", msgs[0]["text"])
        # Second: the resolve message, marked as such.
        self.assertEqual(msgs[1]["blocks"][0]["text"]["text"], "Resolved: fraud v3 (15m)")
        self.assertIn("*RESOLVED* `features.amount`", msgs[1]["blocks"][1]["text"]["text"])
        self.assertIn("1 resolved", msgs[1]["text"])
        # Slack's rate limit: the default min interval is one message a second.
        for a, b in zip(reqs, reqs[1:]):
            self.assertGreaterEqual(b["mono"] - a["mono"], 1.0 - SLACK_MS)

    def test_slack_429_retry_after_is_honoured(self):
        rx = self.receiver(["429", "200"], retry_after=2)
        out, _ = self.run_driver([doc(4, [ks_alert("features.amount")])], "--sink",
                                 "slack=" + rx.url, "--max-retries", "3",
                                 "--backoff-base-ms", "50")
        reqs = rx.requests()
        self.assertEqual([r["answer"] for r in reqs], ["429", "200"])
        self.assertGreaterEqual(reqs[1]["mono"] - reqs[0]["mono"], 2.0 - SLACK_MS)
        st = out["sinks"][0]
        self.assertEqual((st["sent"], st["retried"], st["failed"]), (1, 1, 0))
        self.assertEqual(json.loads(reqs[0]["body"]), json.loads(reqs[1]["body"]))

    # ---- PagerDuty ----------------------------------------------------------

    def assert_pd_trigger(self, ev, routing_key, dedup):
        self.assertEqual(set(ev), {"routing_key", "event_action", "dedup_key", "payload",
                                   "client"})
        self.assertEqual(ev["routing_key"], routing_key)
        self.assertEqual(ev["event_action"], "trigger")
        self.assertEqual(ev["dedup_key"], dedup)
        p = ev["payload"]
        for k in ("summary", "source", "severity", "timestamp", "component", "group", "class"):
            self.assertIsInstance(p[k], str, k)
        self.assertTrue(0 < len(p["summary"]) <= 1024)
        self.assertIn(p["severity"], ("critical", "error", "warning", "info"))
        self.assertRegex(p["timestamp"], RFC3339_MS)
        self.assertIsInstance(p["custom_details"], dict)

    def test_pagerduty_one_event_per_alert_trigger_then_resolve(self):
        rx = self.receiver(["202"])
        rk = "R0UTINGKEY0123456789abcdef012345"
        docs = [doc(1, [ks_alert("features.amount"), quality_alert("features.age")]),
                doc(2, [ks_alert("features.amount", "resolved")])]
        out, _ = self.run_driver(docs, "--sink", "pagerduty=" + rx.url + "/v2/enqueue",
                                 "--option", "routing_key=" + rk)
        st = out["sinks"][0]
        # Three events: the first document is split into one per alert.
        self.assertEqual((st["submitted"], st["sent"], st["failed"]), (3, 3, 0))
        reqs = rx.requests()
        self.assertEqual([r["path"] for r in reqs], ["/hook/v2/enqueue"] * 3)
        evs = [json.loads(r["body"]) for r in reqs]
        self.assert_pd_trigger(evs[0], rk, "key-features.amount")
        self.assert_pd_trigger(evs[1], rk, "q-features.age")
        p0 = evs[0]["payload"]
        self.assertEqual(p0["summary"], "Drift in fraud v3: features.amount (15m window): "
                                        "KS D=0.31 p_adj=1e-39, PSI=0.52; 4980 samples")
        self.assertEqual(p0["source"], "driftwatch")
        self.assertEqual(p0["severity"], "warning")
        self.assertEqual(p0["custom_details"]["tests"]["ks"]["statistic"], 0.31)
        self.assertEqual(p0["custom_details"]["column"], "features.amount")
        self.assertEqual(evs[1]["payload"]["severity"], "critical")
        self.assertEqual(evs[1]["payload"]["custom_details"]["quality"]["missing_rate"], 0.31)
        # The resolve carries the trigger's dedup_key.
        self.assertEqual(evs[2], {"routing_key": rk, "event_action": "resolve",
                                  "dedup_key": "key-features.amount"})

    def test_pagerduty_500_500_429_202_one_delivery_after_retry_after(self):
        rx = self.receiver(["500", "500", "429", "202"], retry_after=2)
        out, _ = self.run_driver([doc(5, [ks_alert("features.amount")])], "--sink",
                                 "pagerduty=" + rx.url, "--option", "routing_key=rk",
                                 "--max-retries", "5", "--backoff-base-ms", "50")
        reqs = rx.requests()
        self.assertEqual([r["answer"] for r in reqs], ["500", "500", "429", "202"])
        st = out["sinks"][0]
        self.assertEqual((st["sent"], st["retried"], st["failed"]), (1, 3, 0))
        self.assertGreaterEqual(reqs[3]["mono"] - reqs[2]["mono"], 2.0 - SLACK_MS)
        bodies = [json.loads(r["body"]) for r in reqs]
        self.assertTrue(all(b == bodies[0] for b in bodies))

    def test_pagerduty_400_is_not_retried(self):
        rx = self.receiver(["400"])
        out, p = self.run_driver([doc(6, [ks_alert("features.amount")])], "--sink",
                                 "pagerduty=" + rx.url, "--option", "routing_key=rk",
                                 "--max-retries", "5", "--backoff-base-ms", "50")
        self.assertEqual(len(rx.requests()), 1)
        st = out["sinks"][0]
        self.assertEqual((st["sent"], st["retried"], st["failed"]), (0, 0, 1))
        self.assertIn("not retried", p.stderr)

    def test_pagerduty_requires_a_routing_key(self):
        path = os.path.join(self.tmp.name, "docs.jsonl")
        with open(path, "w") as f:
            f.write(json.dumps(doc(7, [ks_alert("a")])) + "\n")
        p = subprocess.run([DRIVER, "--input", path, "--sink", "pagerduty=http://127.0.0.1:9/"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn("routing_key", p.stderr)

    # ---- Alertmanager -------------------------------------------------------

    def test_alertmanager_postable_alerts_firing_and_resolved(self):
        rx = self.receiver(["200"])
        base = "http://127.0.0.1:%d" % rx.port
        docs = [doc(1, [ks_alert("features.amount"), quality_alert("features.age")]),
                doc(2, [ks_alert("features.amount", "resolved")])]
        t0 = time.time()
        out, _ = self.run_driver(docs, "--sink", "alertmanager=" + base, "--option",
                                 "generator_url=http://driftwatch:8080/ui")
        t1 = time.time()
        st = out["sinks"][0]
        self.assertEqual((st["sent"], st["failed"]), (2, 0))
        reqs = rx.requests()
        self.assertEqual([r["path"] for r in reqs], ["/api/v2/alerts"] * 2)
        first, second = (json.loads(r["body"]) for r in reqs)
        self.assertIsInstance(first, list)
        self.assertEqual(len(first), 2)
        for a in first + second:
            self.assertEqual(set(a), {"labels", "annotations", "startsAt", "endsAt",
                                      "generatorURL"})
            self.assertEqual(set(a["labels"]), {"alertname", "model", "model_version",
                                                "column", "window", "severity"})
            for v in list(a["labels"].values()) + list(a["annotations"].values()):
                self.assertIsInstance(v, str)
                self.assertTrue(v)
            self.assertRegex(a["startsAt"], RFC3339_MS)
            self.assertRegex(a["endsAt"], RFC3339_MS)
            self.assertEqual(a["generatorURL"], "http://driftwatch:8080/ui")
        drift, qual = first
        self.assertEqual(drift["labels"], {"alertname": "DriftDetected", "model": "fraud",
                                           "model_version": "v3", "column": "features.amount",
                                           "window": "15m", "severity": "warning"})
        self.assertEqual(qual["labels"]["alertname"], "DataQuality")
        self.assertEqual(drift["annotations"]["summary"],
                         "Drift in fraud v3: features.amount (15m window)")
        self.assertIn("KS D=0.31", drift["annotations"]["description"])
        self.assertEqual(drift["startsAt"], "2026-11-25T13:00:00.000Z")
        # Firing: endsAt is 4 x resend_interval (default 5m) after the later
        # of the start and now (Prometheus' practice); reminders re-post it.
        ends, start = epoch(drift["endsAt"]), epoch(drift["startsAt"])
        self.assertGreaterEqual(ends, max(start, t0) + 1200 - 0.001)
        self.assertLessEqual(ends, max(start, t1) + 1200 + 0.001)
        # Resolved: same labels (the same Alertmanager alert), endsAt = resolve time.
        self.assertEqual(len(second), 1)
        self.assertEqual(second[0]["labels"], drift["labels"])
        self.assertEqual(second[0]["endsAt"], "2026-11-25T14:45:00.000Z")

    # ---- webhook signing ----------------------------------------------------

    def test_webhook_signature_verifies_in_python_across_retries(self):
        key = os.urandom(32)
        secret = "whsec_" + base64.b64encode(key).decode()
        rx = self.receiver(["500", "200"])
        d = doc(8, [ks_alert("features.amount")])
        t0 = int(time.time())
        out, _ = self.run_driver([d], "--webhook", rx.url, "--option", "secret=" + secret,
                                 "--max-retries", "2", "--backoff-base-ms", "50")
        t1 = int(time.time()) + 1
        reqs = rx.requests()
        self.assertEqual(len(reqs), 2)
        self.assertEqual(out["sinks"][0]["sent"], 1)
        for r in reqs:
            h = r["headers"]
            self.assertEqual(h["webhook-id"], d["id"])
            ts = int(h["webhook-timestamp"])
            self.assertTrue(t0 <= ts <= t1, (t0, ts, t1))
            signed = ("%s.%s.%s" % (h["webhook-id"], h["webhook-timestamp"], r["body"])).encode()
            want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
            version, sig = h["webhook-signature"].split(",", 1)
            self.assertEqual(version, "v1")
            self.assertTrue(hmac.compare_digest(sig, want))
            # A tampered body does not verify.
            bad = signed.replace(b"0.31", b"0.32")
            self.assertNotEqual(base64.b64encode(hmac.new(key, bad, hashlib.sha256).digest())
                                .decode(), sig)

    def test_webhook_bad_secret_is_refused_at_startup(self):
        path = os.path.join(self.tmp.name, "docs.jsonl")
        with open(path, "w") as f:
            f.write(json.dumps(doc(9, [ks_alert("a")])) + "\n")
        p = subprocess.run([DRIVER, "--input", path, "--webhook", "http://127.0.0.1:9/",
                            "--option", "secret=whsec_not*base64"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn("secret", p.stderr)

    # ---- filters ------------------------------------------------------------

    def test_filters_apply_to_every_sink_type(self):
        hook = self.receiver(["200"])
        pd = self.receiver(["202"])
        am = self.receiver(["200"])
        docs = [doc(1, [ks_alert("features.amount"), quality_alert("features.age"),
                        ks_alert("features.score")]),
                doc(2, [ks_alert("features.amount")], model="churn")]
        out, _ = self.run_driver(
            docs, "--webhook", hook.url, "--sink", "pagerduty=" + pd.url, "--option",
            "routing_key=rk", "--sink", "alertmanager=http://127.0.0.1:%d" % am.port,
            "--filter-model", "fraud", "--filter-column", "features.amount",
            "--filter-column", "features.age", "--filter-severity", "critical")
        # Only features.age is critical, in model fraud, among the listed columns.
        hb = self.bodies(hook)
        self.assertEqual(len(hb), 1)
        self.assertEqual([a["column"] for a in hb[0]["alerts"]], ["features.age"])
        pb = self.bodies(pd)
        self.assertEqual([e["dedup_key"] for e in pb], ["q-features.age"])
        ab = self.bodies(am)
        self.assertEqual(len(ab), 1)
        self.assertEqual([a["labels"]["column"] for a in ab[0]], ["features.age"])
        by_name = {s["name"]: s for s in out["sinks"]}
        # The churn document (model filtered out) is skipped, not failed.
        self.assertEqual(by_name["webhook-1"]["skipped"], 1)
        self.assertEqual(by_name["alertmanager-3"]["skipped"], 1)
        # PagerDuty counts per alert: 3 + 1 submitted, 1 sent, the rest skipped.
        self.assertEqual((by_name["pagerduty-2"]["submitted"], by_name["pagerduty-2"]["sent"],
                          by_name["pagerduty-2"]["skipped"]), (4, 1, 3))


if __name__ == "__main__":
    h.unittest_main(globals(), ["DRIVER"])

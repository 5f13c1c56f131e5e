#!/usr/bin/python3
"""What an SRE meets (issue 12, items 3, 6, 7 and 8), with the real binary:

* docs the code used to contradict: the stdout sink's `format: text`, the
  fixed alert severity (distribution: warning, quality: critical);
* Alertmanager: a firing alert's endsAt is 4 x resend_interval after its
  delivery (not a day), firing alerts are re-posted every resend_interval,
  static labels and annotations per sink (driftwatch's own win), replay
  leaves Alertmanager sinks out unless --alertmanager;
* /metrics: process_* metrics and driftwatch_config_last_reload_* through a
  refused and an accepted SIGHUP;
* deployment: the plain overlay's default container, the prometheus.io
  annotations, the kube-prometheus-stack release label documented.

usage: test_first_hour_ops.py DRIFTWATCH"""

import json
import os
import re
import shutil
import signal
import time
import unittest
from datetime import datetime

import harness as h

yaml = h.need_module("yaml")
h.need_module("prometheus_client.parser")  # h.metrics()

DW = None
ROOT = h.ROOT
EX = os.path.join(ROOT, "examples", "fraud")
REF = os.path.join(ROOT, "reference_stats", "fraud.json")


read = h.read


def run(*args, timeout=120):
    return h.run([DW] + list(args), timeout=timeout)


def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


class Tmp(unittest.TestCase):
    def setUp(self):
        self.dir = h.workdir("dw-first-hour-ops-")

    def config(self, sinks, name="c.yaml", extra=""):
        p = os.path.join(self.dir, name)
        with open(p, "w") as f:
            f.write("""kafka: {brokers: "127.0.0.1:1", topics: [logs], group_id: ops}
models: [{name: fraud, reference: %s}]
windows: [{name: 5m, length: 5m, slide: 1m}]
http: {enabled: false}
state_dir: %s
sinks:
%s
%s""" % (REF, self.dir, sinks, extra))
        return p


class DocsAgree(Tmp):
    def test_stdout_format_text_as_documented(self):
        alerts = read(os.path.join(ROOT, "docs", "alerts.md"))
        sec = alerts[alerts.index("### `stdout`"):alerts.index("## Retraining triggers")]
        self.assertIn("`format: text`", sec)
        self.assertNotIn("options:", sec)
        cfg = self.config("  - {name: console, type: stdout, format: text}")
        r = run("replay", "-c", cfg, os.path.join(EX, "serving-drift.jsonl"))
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [l for l in r.stdout.splitlines() if " FIRING " in l]
        self.assertTrue(lines, r.stdout[:1000])
        self.assertTrue(any("column=features.amount" in l and "severity=warning" in l
                            for l in lines), lines)
        self.assertFalse(r.stdout.lstrip().startswith("{"))
        bad = self.config("  - {name: console, type: stdout, format: yaml}", "bad.yaml")
        v = run("validate", "-c", bad)
        self.assertEqual(v.returncode, 2)
        self.assertIn("format", v.stderr)

    def test_severity_is_fixed_by_kind_as_documented(self):
        alerts = read(os.path.join(ROOT, "docs", "alerts.md"))
        row = [l for l in alerts.splitlines() if l.startswith("| `severity` | string |")][0]
        self.assertNotIn("configured", row)
        self.assertIn('`"warning"` for distribution', row)
        self.assertIn('`"critical"` for data-quality', row)
        # A distribution shift and a null flood in one file.
        recs = []
        for line in read(os.path.join(EX, "serving-drift.jsonl")).splitlines():
            d = json.loads(line)
            d["features"]["age"] = None
            recs.append(json.dumps(d))
        inp = os.path.join(self.dir, "in.jsonl")
        with open(inp, "w") as f:
            f.write("\n".join(recs) + "\n")
        r = run("replay", "-c", self.config("  - {name: out, type: stdout}"), "--stdout", inp)
        self.assertEqual(r.returncode, 0, r.stderr)
        seen = {}
        for line in r.stdout.splitlines():
            for a in json.loads(line).get("alerts", []):
                seen.setdefault(a["kind"], set()).add(a["severity"])
        self.assertEqual(seen, {"distribution": {"warning"}, "quality": {"critical"}})


class Alertmanager(Tmp):
    AM = """  - name: am
    type: alertmanager
    url: "%s"
    resend_interval: 2m
    labels: {team: ml-platform, severity: ignored}
    annotations: {runbook_url: "https://runbooks.example.com/drift"}"""

    def test_short_ends_at_reminders_and_static_labels(self):
        rcv = h.Receiver().start()
        try:
            cfg = self.config(self.AM % rcv.url)
            r = run("replay", "-c", cfg, "--alertmanager",
                    os.path.join(EX, "serving-drift.jsonl"))
            self.assertEqual(r.returncode, 0, r.stderr)
            reqs = rcv.requests()
        finally:
            rcv.stop()
        self.assertTrue(reqs)
        posts = {}
        for q in reqs:
            self.assertTrue(q["path"].endswith("/api/v2/alerts"), q["path"])
            for a in json.loads(q["body"]):
                self.assertEqual(a["labels"]["team"], "ml-platform")
                # driftwatch's own labels win over the sink's static ones.
                self.assertIn(a["labels"]["severity"], ("warning", "critical"))
                self.assertEqual(a["annotations"]["runbook_url"],
                                 "https://runbooks.example.com/drift")
                self.assertIn("summary", a["annotations"])
                key = a["annotations"]["dedup_key"]
                if ts(a["endsAt"]) > q["time"]:  # still firing when posted
                    posts.setdefault(key, []).append((q["time"], a))
        self.assertTrue(posts, "no firing alert posted")
        for key, items in posts.items():
            for sent, a in items:
                # 4 x resend_interval (2m) after delivery; the receiver's
                # clock reads the request a moment after driftwatch stamped it.
                hold = ts(a["endsAt"]) - sent
                self.assertGreater(hold, 8 * 60 - 30, a)
                self.assertLessEqual(hold, 8 * 60 + 1, a)
        # Firing alerts are posted again while they fire (reminders).
        self.assertTrue(any(len(v) > 1 for v in posts.values()),
                        {k: len(v) for k, v in posts.items()})

    def test_replay_leaves_alertmanager_out_by_default(self):
        am, hook = h.Receiver().start(), h.Receiver().start()
        try:
            cfg = self.config((self.AM % am.url) + '\n  - {name: hook, type: webhook, url: "%s"}'
                              % hook.url)
            r = run("replay", "-c", cfg, os.path.join(EX, "serving-drift.jsonl"))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(am.requests(), [])
            self.assertTrue(hook.requests())
            self.assertIn("sink am (alertmanager) left out", r.stderr)
        finally:
            am.stop()
            hook.stop()

    def test_static_labels_are_checked(self):
        cases = [
            ('  - {name: w, type: webhook, url: "http://127.0.0.1:9/", labels: {team: ml}}',
             "only alertmanager sinks take static labels"),
            ('  - {name: a, type: alertmanager, url: "http://127.0.0.1:9/", '
             'labels: {"1team": ml}}', "is not a label name"),
            ('  - {name: a, type: alertmanager, url: "http://127.0.0.1:9/", '
             'annotations: {__x: y}}', "is not a label name"),
        ]
        for i, (sink, msg) in enumerate(cases):
            v = run("validate", "-c", self.config(sink, "v%d.yaml" % i))
            self.assertEqual(v.returncode, 2, sink)
            self.assertIn(msg, v.stderr)


class Metrics(Tmp):
    def scrape(self, port):
        samples, _, _ = h.metrics("http://127.0.0.1:%d" % port)
        return {name: v for (name, labels), v in samples.items() if not labels}

    def wait(self, pred, what):
        return h.wait_for(pred, 30, what)

    def test_process_and_reload_metrics(self):
        cfg = self.config('  - {name: hook, type: webhook, url: "http://127.0.0.1:9/x"}',
                          extra='')
        text = read(cfg).replace("http: {enabled: false}", 'http: {listen: "127.0.0.1:0"}')
        with open(cfg, "w") as f:
            f.write(text)
        pf = os.path.join(self.dir, "port")
        p = h.spawn([DW, "run", "-c", cfg], "metrics-run",
                    env=dict(os.environ, DW_HTTP_PORT_FILE=pf))
        try:
            port = int(self.wait(lambda: read(pf).strip(), "the port"))
            m = self.scrape(port)
            for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                         "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                         "process_start_time_seconds"):
                self.assertIn(name, m)
            self.assertGreater(m["process_resident_memory_bytes"], 1 << 20)
            self.assertGreater(m["process_open_fds"], 2)
            # Counted a moment apart while librdkafka retries its broker
            # socket and the scrape holds one: a few descriptors of slack.
            self.assertAlmostEqual(m["process_open_fds"], len(os.listdir("/proc/%d/fd" % p.pid)),
                                   delta=4)
            self.assertLess(m["process_open_fds"], m["process_max_fds"])
            # /proc/PID/stat field 22 (start time in clock ticks after boot).
            stat = read("/proc/%d/stat" % p.pid)
            ticks = int(stat[stat.rindex(")") + 2:].split()[19])
            btime = int(re.search(r"^btime (\d+)", read("/proc/stat"), re.M).group(1))
            self.assertAlmostEqual(m["process_start_time_seconds"],
                                   btime + ticks / os.sysconf("SC_CLK_TCK"), delta=0.011)
            self.assertEqual(m["driftwatch_config_last_reload_successful"], 1)
            t0 = m["driftwatch_config_last_reload_success_timestamp_seconds"]
            self.assertGreater(t0, 1.7e9)
            # A broken file is refused: 0, the success time stays.
            with open(cfg, "w") as f:
                f.write(text + "windows: [\n")
            p.send_signal(signal.SIGHUP)
            m = self.wait(lambda: (lambda x: x if x["driftwatch_config_last_reload_successful"]
                                   == 0 else None)(self.scrape(port)), "the refused reload")
            self.assertEqual(m["driftwatch_config_last_reload_success_timestamp_seconds"], t0)
            # Fixed: 1 again, with a later success time.
            with open(cfg, "w") as f:
                f.write(text)
            time.sleep(0.01)
            p.send_signal(signal.SIGHUP)
            m = self.wait(lambda: (lambda x: x if x["driftwatch_config_last_reload_successful"]
                                   == 1 else None)(self.scrape(port)), "the accepted reload")
            self.assertGreater(m["driftwatch_config_last_reload_success_timestamp_seconds"], t0)
        finally:
            self.assertEqual(h.stop(p), 0)
        api = read(os.path.join(ROOT, "docs", "api.md"))
        for name in ("process_cpu_seconds_total", "process_open_fds",
                     "driftwatch_config_last_reload_successful",
                     "driftwatch_config_last_reload_success_timestamp_seconds"):
            self.assertIn("`%s`" % name, api)


class Deployment(unittest.TestCase):
    def kustomize(self, d):
        kubectl = shutil.which("kubectl")
        if not kubectl:
            return None
        r = h.run([kubectl, "kustomize", os.path.join(ROOT, "deploy", "k8s", d)])
        self.assertEqual(r.returncode, 0, r.stderr)
        return [o for o in yaml.safe_load_all(r.stdout) if o]

    def pod_annotations(self, objs):
        dep = [o for o in objs if o["kind"] == "Deployment"][0]
        return dep["spec"]["template"]["metadata"].get("annotations", {})

    def test_plain_overlay_defaults_to_driftwatch_and_pods_are_annotated(self):
        patch = yaml.safe_load(read(os.path.join(ROOT, "deploy", "k8s", "overlays",
                                                 "plain-sidecar", "plain-sidecar.patch.yaml")))
        self.assertIn({"op": "add", "path": "/spec/template/metadata/annotations/"
                                             "kubectl.kubernetes.io~1default-container",
                       "value": "driftwatch"}, patch)
        base = yaml.safe_load(read(os.path.join(ROOT, "deploy", "k8s", "base",
                                                "deployment.yaml")))
        ann = base["spec"]["template"]["metadata"]["annotations"]
        self.assertEqual((ann["prometheus.io/scrape"], ann["prometheus.io/port"],
                          ann["prometheus.io/path"]), ("true", "9187", "/metrics"))
        port = [p for c in base["spec"]["template"]["spec"]["initContainers"]
                for p in c.get("ports", []) if p["name"] == "metrics"][0]
        self.assertEqual(str(port["containerPort"]), ann["prometheus.io/port"])
        objs = self.kustomize("overlays/plain-sidecar")
        if objs is not None:
            a = self.pod_annotations(objs)
            self.assertEqual(a["kubectl.kubernetes.io/default-container"], "driftwatch")
            dep = [o for o in objs if o["kind"] == "Deployment"][0]
            names = [c["name"] for c in dep["spec"]["template"]["spec"]["containers"]]
            self.assertIn("driftwatch", names)
            self.assertNotIn("kubectl.kubernetes.io/default-container",
                             self.pod_annotations(self.kustomize("base")))

    def test_operations_doc_covers_kube_prometheus_stack_and_annotations(self):
        ops = read(os.path.join(ROOT, "docs", "operations.md"))
        self.assertIn("release: kube-prometheus-stack", ops)
        self.assertIn("ruleSelectorNilUsesHelmValues", ops)
        self.assertIn("prometheus.io/scrape", ops)
        self.assertIn("kubectl.kubernetes.io/default-container: driftwatch", ops)
        self.assertIn("docker run --rm IMAGE --version", ops)


if __name__ == "__main__":
    h.unittest_main(globals(), ["DW"])

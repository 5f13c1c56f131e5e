#!/usr/bin/python3
"""driftwatch's Prometheus side checked with promtool (issue 12, items 3 and 7):

* deploy/prometheus/driftwatch-rules.yaml passes `promtool check rules`, and
  its unit test driftwatch-rules.test.yaml passes `promtool test rules`
  (every alert fires on its symptom, none on a healthy driftwatch);
* the PrometheusRule in deploy/k8s/base holds the same groups and passes too;
* the alerts cover what the issue lists (drift firing, Kafka stalled, lag
  growing, notifications failing, outbox growing, reload failed), and every
  metric their expressions use is one a running driftwatch exposes;
* every PromQL query in docs/*.md parses, and docs/api.md's "share of
  records rejected" returns the right ratio on series that carry the
  instance/job labels a real Prometheus adds.

Exits 77 (skipped) when promtool is not installed (Debian: prometheus).

usage: test_prometheus_rules.py DRIFTWATCH"""

import glob
import os
import re
import tempfile
import unittest

import harness as h

yaml = h.need_module("yaml")

DW = None
PROMTOOL = None
ROOT = h.ROOT
RULES = os.path.join(ROOT, "deploy", "prometheus", "driftwatch-rules.yaml")
RULES_TEST = os.path.join(ROOT, "deploy", "prometheus", "driftwatch-rules.test.yaml")
OPERATOR_RULE = os.path.join(ROOT, "deploy", "k8s", "base", "prometheusrule.yaml")


read = h.read


def promtool(*args, cwd=None):
    return h.run([PROMTOOL] + list(args), timeout=60, cwd=cwd)


def metric_names(expr):
    """Metric names in a PromQL expression (identifiers that are not
    functions, keywords or label names inside by/without/on/ignoring)."""
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r'"[^"]*"', "", expr)
    return {m for m in re.findall(r"\b([a-z_][a-z0-9_]*)\b(?!\s*\()", expr)
            if m.startswith(("driftwatch_", "process_"))}


class Rules(unittest.TestCase):
    def test_plain_rules_file_checks_and_its_unit_test_passes(self):
        r = promtool("check", "rules", RULES)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS: 9 rules found", r.stdout)
        r = promtool("test", "rules", os.path.basename(RULES_TEST), cwd=os.path.dirname(RULES_TEST))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_prometheusrule_holds_the_same_groups_and_checks(self):
        plain = yaml.safe_load(read(RULES))
        op = yaml.safe_load(read(OPERATOR_RULE))
        self.assertEqual((op["apiVersion"], op["kind"]),
                         ("monitoring.coreos.com/v1", "PrometheusRule"))
        self.assertEqual(op["spec"], plain)
        kust = yaml.safe_load(read(os.path.join(ROOT, "deploy", "k8s", "base",
                                                "kustomization.yaml")))
        self.assertIn("prometheusrule.yaml", kust["resources"])
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            yaml.safe_dump(op["spec"], f)
            f.flush()
            r = promtool("check", "rules", f.name)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_alerts_cover_the_issue_and_use_exposed_metrics(self):
        rules = [r for g in yaml.safe_load(read(RULES))["groups"] for r in g["rules"]]
        names = {r["alert"] for r in rules}
        for want in ("DriftwatchDriftFiring", "DriftwatchModelAlertFiring", "DriftwatchKafkaStalled", "DriftwatchLagGrowing",
                     "DriftwatchNotificationsFailing", "DriftwatchOutboxGrowing",
                     "DriftwatchReloadFailed"):
            self.assertIn(want, names)
        for r in rules:
            self.assertIn(r["labels"]["severity"], ("warning", "critical"), r["alert"])
            self.assertTrue(r["annotations"].get("summary"), r["alert"])
        used = set()
        for r in rules:
            used |= metric_names(r["expr"])
        exposed = live_metric_families()
        self.assertEqual(sorted(used - exposed), [], "rules use metrics driftwatch lacks")
        # Every alert is documented in docs/operations.md.
        ops = read(os.path.join(ROOT, "docs", "operations.md"))
        for n in names:
            self.assertIn("`%s`" % n, ops)


def live_metric_families():
    """The families (# TYPE lines) of a running driftwatch's /metrics, with
    a sink configured and no broker reachable."""
    tmp = h.workdir("dw-rules-")
    ref = os.path.join(ROOT, "reference_stats", "fraud.json")
    cfg = os.path.join(tmp, "c.yaml")
    with open(cfg, "w") as f:
        f.write("""kafka: {brokers: "127.0.0.1:1", topics: [logs], group_id: rules}
models: [{name: fraud, reference: %s}]
sinks: [{name: hook, type: webhook, url: "http://127.0.0.1:9/x"}]
http: {listen: "127.0.0.1:0"}
state_dir: %s
""" % (ref, tmp))
    pf = os.path.join(tmp, "port")
    env = dict(os.environ, DW_HTTP_PORT_FILE=pf)
    p = h.spawn([DW, "run", "-c", cfg], "rules-run", env=env)
    try:
        port = int(h.wait_for(lambda: read(pf).strip(), 30, "the HTTP port file"))
        # The consumer's families come with the loop's first second.
        text = h.wait_for(
            lambda: (lambda t: t if "driftwatch_kafka_brokers_up" in t else None)(
                h.metrics("http://127.0.0.1:%d" % port)[2]), 15,
            "the consumer's metrics")
    finally:
        h.stop(p)
    fams = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    # Histograms are used through their _bucket/_sum/_count series.
    for f in list(fams):
        fams |= {f + "_bucket", f + "_sum", f + "_count"}
    return fams


class DocQueries(unittest.TestCase):
    def queries(self):
        out = []
        for p in sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))):
            for block in re.findall(r"```promql\n(.*?)```", read(p), re.S):
                cur = []
                for line in block.splitlines() + ["# end"]:
                    if line.startswith("#"):
                        if cur:
                            out.append((os.path.basename(p), "\n".join(cur)))
                        cur = []
                    elif line.strip():
                        cur.append(line)
        return out

    def test_every_documented_query_parses(self):
        qs = self.queries()
        self.assertGreaterEqual(len(qs), 3)
        groups = {"groups": [{"name": "docs", "rules": [
            {"record": "docs:query:%d" % i, "expr": q} for i, (_, q) in enumerate(qs)]}]}
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            yaml.safe_dump(groups, f)
            f.flush()
            r = promtool("check", "rules", f.name)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_share_rejected_matches_on_real_target_labels(self):
        api = read(os.path.join(ROOT, "docs", "api.md"))
        m = re.search(r"# share of records rejected[^\n]*\n(?:#[^\n]*\n)*((?:[^#`][^\n]*\n)+)",
                      api)
        query = m.group(1).strip()
        tests = {"evaluation_interval": "1m", "tests": [{
            "interval": "1m",
            "input_series": [
                {"series": 'driftwatch_records_total{instance="10.0.0.7:9187",job="driftwatch"}',
                 "values": "0+600x20"},
                {"series": 'driftwatch_records_rejected_total{instance="10.0.0.7:9187",'
                           'job="driftwatch",reason="late"}', "values": "0+30x20"},
                {"series": 'driftwatch_records_rejected_total{instance="10.0.0.7:9187",'
                           'job="driftwatch",reason="invalid_json"}', "values": "0+6x20"},
            ],
            "promql_expr_test": [{"expr": query, "eval_time": "15m", "exp_samples": [
                {"labels": '{reason="late"}', "value": 0.05},
                {"labels": '{reason="invalid_json"}', "value": 0.01},
            ]}],
        }]}
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            yaml.safe_dump(tests, f)
            f.flush()
            r = promtool("test", "rules", f.name)
        self.assertEqual(r.returncode, 0, query + "\n" + r.stdout + r.stderr)


if __name__ == "__main__":
    PROMTOOL = h.need_tool("promtool")  # Debian package prometheus
    h.need_module("prometheus_client.parser")  # h.metrics()
    h.unittest_main(globals(), ["DW"])

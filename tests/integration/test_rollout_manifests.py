#!/usr/bin/python3
"""Checks the rollout-gate examples in deploy/k8s/rollouts (issue 13)
against the fields their CRDs document, and against what driftwatch
serves.

usage: test_rollout_manifests.py DRIFTWATCH_BINARY

No CRD schema package is available offline, so the documented fields are
written down here (Argo Rollouts: docs/features/analysis.md and
docs/analysis/web.md, prometheus.md; Flagger: usage/metrics.md) as small
schemas: every key must be documented, required keys present, types
right. On top of the schemas:

* Argo: every {{args.X}} is a declared arg; exactly one provider per
  metric; the web provider's URL is GET /api/v1/compare with only the
  parameters the endpoint takes (model required), jsonPath {$.verdict},
  and the conditions compare with the verdicts driftwatch answers;
* Flagger: the query uses only the documented template variables; the
  Canary snippet in the file's comment (templateRef, thresholdRange,
  templateVariables) names existing templates and sets every
  {{ variables.X }} their queries use; its webhook posts to
  /api/v1/compare with metadata driftwatch reads, and that POST answers
  200 exactly when the verdict is pass (412 otherwise);
* both: every metric and label a PromQL query selects exists in the
  /metrics of a driftwatch (replay --http) that compares two versions.
"""
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse

import yaml

import harness as h
from harness import check

ROOT = h.ROOT
DIR = os.path.join(ROOT, "deploy", "k8s", "rollouts")
DW = None
T0 = 1767225600000

STR, INT, BOOL = "string", "integer", "boolean"
DURATION = re.compile(r"^([0-9]+(ms|s|m|h))+$")


def obj(fields, required=()):
    return {"type": "object", "fields": fields, "required": set(required)}


def lst(item):
    return {"type": "list", "item": item}


MAP = {"type": "map"}  # string keys, string values
INT_OR_STR = {"type": "int-or-string"}
DUR = {"type": "duration"}

# Argo Rollouts AnalysisTemplate (argoproj.io/v1alpha1).
ARG_VALUE_FROM = obj({"secretKeyRef": obj({"name": STR, "key": STR}, ["name", "key"]),
                      "fieldRef": obj({"fieldPath": STR}, ["fieldPath"]),
                      "podTemplateHashValue": STR})
ARG = obj({"name": STR, "value": STR, "valueFrom": ARG_VALUE_FROM}, ["name"])
HEADER = obj({"key": STR, "value": STR}, ["key", "value"])
WEB = obj({"url": STR, "method": STR, "headers": lst(HEADER), "body": STR, "jsonBody": MAP,
           "timeoutSeconds": INT, "jsonPath": STR, "insecure": BOOL}, ["url"])
PROMETHEUS = obj({"address": STR, "query": STR, "timeout": INT, "insecure": BOOL,
                  "headers": lst(HEADER), "authentication": MAP}, ["query"])
ARGO_PROVIDERS = {"web": WEB, "prometheus": PROMETHEUS}
ARGO_OTHER_PROVIDERS = {"job", "kayenta", "wavefront", "newRelic", "datadog", "cloudWatch",
                        "graphite", "influxdb", "skywalking", "plugin"}
METRIC = obj({"name": STR, "interval": DUR, "initialDelay": DUR, "count": INT_OR_STR,
              "successCondition": STR, "failureCondition": STR, "failureLimit": INT_OR_STR,
              "inconclusiveLimit": INT_OR_STR, "consecutiveErrorLimit": INT_OR_STR,
              "consecutiveSuccessLimit": INT_OR_STR,
              "provider": obj({k: v for k, v in ARGO_PROVIDERS.items()})},
             ["name", "provider"])
METADATA = obj({"name": STR, "namespace": STR, "labels": MAP, "annotations": MAP}, ["name"])
ANALYSIS_TEMPLATE = obj({
    "apiVersion": STR, "kind": STR, "metadata": METADATA,
    "spec": obj({"args": lst(ARG), "metrics": lst(METRIC),
                 "dryRun": lst(obj({"metricName": STR}, ["metricName"])),
                 "measurementRetention": lst(obj({"metricName": STR, "limit": INT},
                                                 ["metricName", "limit"]))},
                ["metrics"])},
    ["apiVersion", "kind", "metadata", "spec"])

# Flagger MetricTemplate (flagger.app/v1beta1) and a Canary's analysis
# metric that refers to one.
FLAGGER_PROVIDER_TYPES = {"prometheus", "datadog", "cloudwatch", "newrelic", "graphite",
                          "influxdb", "stackdriver", "dynatrace", "keptn", "splunk"}
METRIC_TEMPLATE = obj({
    "apiVersion": STR, "kind": STR, "metadata": METADATA,
    "spec": obj({"provider": obj({"type": STR, "address": STR, "insecureSkipVerify": BOOL,
                                  "secretRef": obj({"name": STR}, ["name"])}, ["type"]),
                 "query": STR}, ["provider", "query"])},
    ["apiVersion", "kind", "metadata", "spec"])
CANARY_METRIC = obj({"name": STR, "templateRef": obj({"name": STR, "namespace": STR}, ["name"]),
                     "thresholdRange": obj({"min": "number", "max": "number"}),
                     "interval": DUR, "templateVariables": MAP, "query": STR},
                    ["name"])
FLAGGER_VARIABLES = {"name", "namespace", "target", "service", "ingress", "interval"}
# A Canary's analysis webhook (Flagger usage/webhooks.md).
FLAGGER_WEBHOOK_TYPES = {"confirm-rollout", "pre-rollout", "rollout", "confirm-traffic-increase",
                         "confirm-promotion", "post-rollout", "rollback", "event"}
CANARY_WEBHOOK = obj({"name": STR, "type": STR, "url": STR, "timeout": DUR, "muteAlert": BOOL,
                      "metadata": MAP}, ["name", "url"])
# What POST /api/v1/compare reads from the metadata.
COMPARE_METADATA = {"model", "candidate", "baseline", "window", "columns"}


def validate(doc, schema, path):
    t = schema if isinstance(schema, str) else schema["type"]
    if t == STR:
        check(isinstance(doc, str), "%s: a string expected, not %r" % (path, doc))
    elif t == INT:
        check(isinstance(doc, int) and not isinstance(doc, bool), "%s: an integer" % path)
    elif t == BOOL:
        check(isinstance(doc, bool), "%s: a boolean" % path)
    elif t == "number":
        check(isinstance(doc, (int, float)) and not isinstance(doc, bool), "%s: a number" % path)
    elif t == "int-or-string":
        check(isinstance(doc, (int, str)) and not isinstance(doc, bool),
              "%s: an integer or a string" % path)
    elif t == "duration":
        check(isinstance(doc, str) and DURATION.match(doc), "%s: a duration, not %r" % (path, doc))
    elif t == "map":
        check(isinstance(doc, dict) and all(isinstance(k, str) and isinstance(v, str)
                                            for k, v in doc.items()),
              "%s: a map of strings" % path)
    elif t == "list":
        check(isinstance(doc, list) and doc, "%s: a non-empty list" % path)
        for i, d in enumerate(doc):
            validate(d, schema["item"], "%s[%d]" % (path, i))
    else:
        check(isinstance(doc, dict), "%s: an object" % path)
        for k in doc:
            check(k in schema["fields"], "%s: %r is not a documented field (%s)"
                  % (path, k, ", ".join(sorted(schema["fields"]))))
            validate(doc[k], schema["fields"][k], "%s.%s" % (path, k))
        for k in schema["required"]:
            check(k in doc, "%s: required field %r missing" % (path, k))


def load(name):
    with open(os.path.join(DIR, name)) as f:
        text = f.read()
    return text, [d for d in yaml.safe_load_all(text) if d is not None]


def commented_yaml(text, start):
    """The YAML in the comment lines from the one reading `start`."""
    lines = [l[2:] if l.startswith("# ") else l[1:] for l in text.splitlines()
             if l.startswith("#")]
    i = next(k for k, l in enumerate(lines) if l.strip() == start)
    block = []
    for l in lines[i:]:
        if block and l and not l.startswith(" ") and l.strip() != start:
            break
        block.append(l)
    return yaml.safe_load("\n".join(block))


SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}")


def query_selectors(q):
    """(metric, {label: value}) of every selector in a PromQL query."""
    out = []
    for m in SELECTOR.finditer(q):
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*=~?\s*"([^"]*)"', m.group(2)))
        out.append((m.group(1), labels))
    check(out, "no selector in query %r" % q)
    return out


def served_metrics():
    """Metric families and their label names from a driftwatch that
    compares v1 (baseline) with v2 and keeps latency."""
    import numpy as np
    work = h.workdir("dw-rollouts-")
    ref = os.path.join(work, "ref.json")
    rng = np.random.default_rng(5)
    h.build_reference(DW, ref, ({"ts": T0 + i, "model": "fraud",
                                 "prediction": {"score": float(rng.normal())}}
                                for i in range(2000)), "fraud")
    cfg = os.path.join(work, "c.yaml")
    with open(cfg, "w") as f:
        f.write("kafka: {brokers: \"127.0.0.1:9\", topics: [unused]}\n"
                "models:\n  - name: fraud\n    reference: %s\n"
                "    latency: {}\n"
                "    compare: {baseline: v1, latency: {max_ratio: 1.2}}\n"
                "windows:\n  - {name: 15m, length: 15m, slide: 1m}\n"
                "time: {idle_timeout: 0}\nsinks: []\nhttp: {listen: \"127.0.0.1:0\"}\n"
                "state_dir: %s\n" % (ref, work))
    lines = []
    for m in range(20):
        for k in range(40):
            lines.append(json.dumps({"ts": T0 + m * 60000 + k * 1500, "model": "fraud",
                                     "model_version": "v%d" % (k % 2 + 1),
                                     "prediction": {"score": float(rng.normal())},
                                     "latency_ms": float(rng.lognormal(3, 0.5))}))
    pf = os.path.join(work, "port")
    p = h.spawn([DW, "replay", "-c", cfg, "--http", "-"], "rollouts-replay",
                env=dict(os.environ, DW_HTTP_PORT_FILE=pf), stdin=subprocess.PIPE, text=True)
    p.stdin.write("\n".join(lines[:-40]) + "\n")
    p.stdin.flush()
    base = "http://127.0.0.1:%s" % h.wait_for(
        lambda: os.path.exists(pf) and open(pf).read().strip(), 30, "the port file")
    time.sleep(1.1)  # the status is republished at most once a second
    p.stdin.write("\n".join(lines[-40:]) + "\n")
    p.stdin.flush()
    h.wait_for(lambda: h.status(base).get("comparisons"), 30, "a comparison")
    samples, _, _ = h.metrics(base)
    code, _, body = h.http("GET", base + "/api/v1/compare?model=fraud&candidate=v2")
    check(code == 200, "compare answered %d: %s" % (code, body))
    verdict = json.loads(body)["verdict"]
    # The same as Flagger's webhook asks it: 200 only on pass.
    code, _, hook = h.http("POST", base + "/api/v1/compare", json.dumps(
        {"name": "fraud-api", "namespace": "ml", "phase": "Progressing",
         "metadata": {"model": "fraud", "candidate": "v2"}}))
    check(code == (200 if verdict == "pass" else 412) and json.loads(hook)["verdict"] == verdict,
          "webhook answered %d to verdict %s: %s" % (code, verdict, hook))
    p.stdin.close()
    p.wait(h.remaining(30))
    fams = {}
    for (name, labels) in samples:
        fams.setdefault(name, set()).update(k for k, _ in labels)
    return fams, verdict


def check_selectors(query, fams, where):
    for metric, labels in query_selectors(query):
        check(metric in fams, "%s: driftwatch serves no metric %s" % (where, metric))
        extra = set(labels) - fams[metric]
        check(not extra, "%s: %s has no label %s" % (where, metric, sorted(extra)))


def check_argo(fams):
    text, docs = load("argo-analysistemplate.yaml")
    check(len(docs) == 1, "one AnalysisTemplate expected")
    at = docs[0]
    validate(at, ANALYSIS_TEMPLATE, "AnalysisTemplate")
    check(at["apiVersion"] == "argoproj.io/v1alpha1" and at["kind"] == "AnalysisTemplate", at)
    args = {a["name"] for a in at["spec"].get("args", [])}
    used = set(re.findall(r"\{\{\s*args\.([A-Za-z0-9_.-]+)\s*\}\}", text.split("\napiVersion")[1]))
    check(used <= args, "undeclared args %s" % sorted(used - args))
    names = [m["name"] for m in at["spec"]["metrics"]]
    check(len(set(names)) == len(names), "duplicate metric names %s" % names)
    kinds = set()
    for m in at["spec"]["metrics"]:
        prov = m["provider"]
        check(len(prov) == 1, "%s: exactly one provider, not %s" % (m["name"], list(prov)))
        kind = next(iter(prov))
        kinds.add(kind)
        check(kind in ARGO_PROVIDERS or kind in ARGO_OTHER_PROVIDERS, kind)
        check("successCondition" in m or "failureCondition" in m,
              "%s: no condition" % m["name"])
        for cond in ("successCondition", "failureCondition"):
            check(cond not in m or "result" in m[cond],
                  "%s: %s does not look at result" % (m["name"], cond))
        if kind == "web":
            w = prov["web"]
            check(w.get("method", "GET") == "GET",
                  "driftwatch answers GET, not %s" % w.get("method"))
            # placeholders take their arg's default value (or "x")
            defaults = {a["name"]: a.get("value", "x") for a in at["spec"].get("args", [])}
            url = re.sub(r"\{\{\s*args\.([A-Za-z0-9_.-]+)\s*\}\}",
                         lambda mo: defaults.get(mo.group(1), "x"), w["url"])
            u = urllib.parse.urlsplit(url)
            check(u.scheme in ("http", "https") and u.netloc, "web url %s" % url)
            check(u.path == "/api/v1/compare", "web url path %s" % u.path)
            params = urllib.parse.parse_qs(u.query)
            check("model" in params, "the web url lacks model=")
            check(set(params) <= {"model", "candidate", "baseline", "window", "columns"},
                  "parameters /api/v1/compare does not take: %s" % sorted(params))
            check(w.get("jsonPath") == "{$.verdict}", "jsonPath %s" % w.get("jsonPath"))
            verdicts = set(re.findall(r'"([a-z]+)"', m["successCondition"] +
                                      m.get("failureCondition", "")))
            check(verdicts and verdicts <= {"pass", "fail", "inconclusive"},
                  "conditions compare with %s" % verdicts)
        if kind == "prometheus":
            q = re.sub(r"\{\{\s*args\.[^}]*\}\}", "x", prov["prometheus"]["query"])
            check_selectors(q, fams, "AnalysisTemplate %s" % m["name"])
    check({"web", "prometheus"} <= kinds, "web and prometheus providers expected: %s" % kinds)


def check_flagger(fams):
    text, docs = load("flagger-metrictemplate.yaml")
    templates = {}
    for d in docs:
        validate(d, METRIC_TEMPLATE, "MetricTemplate")
        check(d["apiVersion"] == "flagger.app/v1beta1" and d["kind"] == "MetricTemplate", d)
        check(d["spec"]["provider"]["type"] in FLAGGER_PROVIDER_TYPES, d["spec"]["provider"])
        q = d["spec"]["query"]
        refs = re.findall(r"\{\{\s*([A-Za-z0-9_.]+)\s*\}\}", q)
        for r in refs:
            check(r in FLAGGER_VARIABLES or r.startswith("variables."),
                  "%s: {{ %s }} is not a Flagger template variable" % (d["metadata"]["name"], r))
        templates[d["metadata"]["name"]] = {r[len("variables."):] for r in refs
                                            if r.startswith("variables.")}
        check_selectors(re.sub(r"\{\{[^}]*\}\}", "x", q), fams,
                        "MetricTemplate %s" % d["metadata"]["name"])
    analysis = commented_yaml(text, "analysis:")["analysis"]
    metrics = analysis["metrics"]
    validate(metrics, lst(CANARY_METRIC), "Canary.analysis.metrics")
    check(isinstance(analysis.get("interval"), str) and DURATION.match(analysis["interval"]),
          "analysis.interval")
    check(isinstance(analysis.get("threshold"), int), "analysis.threshold")
    check({m["templateRef"]["name"] for m in metrics} == set(templates),
          "the Canary snippet uses %s, the file defines %s"
          % (sorted(m["templateRef"]["name"] for m in metrics), sorted(templates)))
    hooks = analysis.get("webhooks", [])
    validate(hooks, lst(CANARY_WEBHOOK), "Canary.analysis.webhooks")
    check(hooks, "the Canary snippet has no driftwatch webhook")
    for wh in hooks:
        check(wh.get("type", "rollout") in FLAGGER_WEBHOOK_TYPES, "%s: type" % wh["name"])
        url = urllib.parse.urlparse(wh["url"])
        check(url.path == "/api/v1/compare" and not url.query,
              "%s: the webhook posts to /api/v1/compare: %s" % (wh["name"], wh["url"]))
        meta = set(wh.get("metadata", {}))
        check(meta <= COMPARE_METADATA and "candidate" in meta,
              "%s: metadata %s (driftwatch reads %s)" % (wh["name"], sorted(meta),
                                                         sorted(COMPARE_METADATA)))
    for m in metrics:
        need = templates[m["templateRef"]["name"]]
        have = set(m.get("templateVariables", {}))
        check(need <= have, "%s: templateVariables lack %s" % (m["name"], sorted(need - have)))
        check("thresholdRange" in m, "%s: no thresholdRange" % m["name"])


def main(argv):
    global DW
    DW = os.path.abspath(argv[1])
    fams, verdict = served_metrics()
    check(verdict in ("pass", "fail", "inconclusive"), verdict)
    for fam in ("driftwatch_compare_column_divergent", "driftwatch_latency_ratio",
                "driftwatch_compare_verdict", "driftwatch_latency_seconds"):
        check(fam in fams, "driftwatch serves no %s: %s" % (fam, sorted(fams)[:40]))
    passed = failed = 0
    for fn in (check_argo, check_flagger):
        try:
            fn(fams)
            passed += 1
            print("PASS %s" % fn.__name__)
        except AssertionError as e:
            failed += 1
            print("FAIL %s: %s" % (fn.__name__, e))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    h.main(main, sys.argv)

#!/usr/bin/python3
"""Checks the deployment files: Kubernetes manifests, Dockerfile, Grafana
dashboard, against what docs/operations.md documents.

usage: test_manifests.py DRIFTWATCH_BINARY

* every YAML file under deploy/k8s parses (all documents);
* every kustomization's resources, generator files and patches exist; the
  base and the plain-sidecar overlay are assembled here (resources,
  configMapGenerator, the overlay's RFC 6902 patch), so kubectl is not
  required; when `kubectl` is on PATH, `kubectl kustomize` must build both
  directories and every check below runs on its output as well;
* in both variants the driftwatch container has the probes of the table in
  docs/operations.md, the full "restricted" Pod Security Standard, a
  read-only root filesystem with an emptyDir at the config's state_dir, and
  the resources of the documented table; the base runs it as a native
  sidecar (init container, restartPolicy Always), the overlay as a plain
  container;
* every ConfigMap, Secret and key the Pod refers to exists (generated
  ConfigMaps, secret.example.yaml), and the configuration, materialised as
  the Pod sees it with the example Secret's values, passes
  `driftwatch validate`; the reference copy equals reference_stats/;
* the PodMonitor selects the Pod and scrapes its metrics port;
* the Dockerfile is multi-stage debian:12 -> debian:12-slim, runs as the
  manifests' non-root UID, its ENTRYPOINT is the binary and its CMD reads
  the mounted config, and it carries OCI labels;
* the Grafana dashboard parses and its queries use only the metric names
  (and labels) the HTTP server exposes, each of them at least once.
"""
import copy
import json
import os
import re
import shutil
import sys
import tempfile

import yaml

import harness as h

ROOT = h.ROOT
K8S = os.path.join(ROOT, "deploy", "k8s")
BASE = os.path.join(K8S, "base")
OVERLAY = os.path.join(K8S, "overlays", "plain-sidecar")
SIDECAR = "driftwatch"
STATE_DIR = "/var/lib/driftwatch"
CONFIG_PATH = "/etc/driftwatch/config.yaml"

# The metrics the HTTP server exposes (issue 5, docs/api.md) with their own
# labels. Prometheus adds the target labels of the PodMonitor.
METRICS = {
    "driftwatch_build_info": {"version"},
    "driftwatch_up": set(),
    "driftwatch_messages_total": set(),
    "driftwatch_records_total": set(),
    "driftwatch_records_applied_total": set(),
    "driftwatch_records_rejected_total": {"reason"},
    "driftwatch_field_type_errors_total": set(),
    "driftwatch_consumer_lag": {"topic", "partition"},
    "driftwatch_watermark_seconds": set(),
    "driftwatch_evaluations_total": set(),
    "driftwatch_evaluation_duration_seconds_bucket": {"le"},
    "driftwatch_evaluation_duration_seconds_sum": set(),
    "driftwatch_evaluation_duration_seconds_count": set(),
    "driftwatch_alerts_firing": {"model", "model_version", "kind"},
}
for _m in ("samples", "ks_statistic", "ks_p_value", "psi", "chi2_p_value", "missing_rate", "drift"):
    METRICS["driftwatch_column_" + _m] = {"model", "model_version", "column", "window"}
for _m in ("sent_total", "retried_total", "failed_total", "dropped_total"):
    METRICS["driftwatch_notifications_" + _m] = {"sink"}
METRICS["driftwatch_outbox_depth"] = {"sink"}
TARGET_LABELS = {"namespace", "pod", "container", "endpoint", "job", "instance", "service"}

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
    return cond


def rel(path):
    return os.path.relpath(path, ROOT)


# ----------------------------------------------------------------- YAML --

def load_all_yaml():
    """Every YAML file under deploy/k8s -> list of documents (parse errors fail)."""
    docs = {}
    for dirpath, _, files in os.walk(K8S):
        for f in sorted(files):
            if not f.endswith((".yaml", ".yml")):
                continue
            p = os.path.join(dirpath, f)
            try:
                with open(p) as fh:
                    docs[p] = [d for d in yaml.safe_load_all(fh) if d is not None]
            except yaml.YAMLError as e:
                check(False, "%s: does not parse: %s" % (rel(p), e))
    return docs


# ------------------------------------------------- a minimal kustomize --

def ptr_parts(ptr):
    assert ptr.startswith("/"), ptr
    return [p.replace("~1", "/").replace("~0", "~") for p in ptr[1:].split("/")]


def ptr_parent(doc, ptr):
    parts = ptr_parts(ptr)
    cur = doc
    for p in parts[:-1]:
        cur = cur[int(p)] if isinstance(cur, list) else cur[p]
    return cur, parts[-1]


def ptr_get(doc, ptr):
    parent, last = ptr_parent(doc, ptr)
    return parent[int(last)] if isinstance(parent, list) else parent[last]


def ptr_remove(doc, ptr):
    parent, last = ptr_parent(doc, ptr)
    if isinstance(parent, list):
        return parent.pop(int(last))
    return parent.pop(last)


def ptr_add(doc, ptr, value):
    parent, last = ptr_parent(doc, ptr)
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            parent.insert(int(last), value)
    else:
        parent[last] = value


def json_patch(doc, ops, where):
    """RFC 6902 add/remove/replace/move/copy/test, as kustomize applies them;
    a failed test or a missing path raises, as `kustomize build` fails."""
    doc = copy.deepcopy(doc)
    for op in ops:
        kind, path = op["op"], op["path"]
        try:
            if kind == "test":
                if ptr_get(doc, path) != op["value"]:
                    raise ValueError("test failed at %s" % path)
            elif kind == "remove":
                ptr_remove(doc, path)
            elif kind == "add":
                ptr_add(doc, path, copy.deepcopy(op["value"]))
            elif kind == "replace":
                ptr_remove(doc, path)
                ptr_add(doc, path, copy.deepcopy(op["value"]))
            elif kind == "move":
                ptr_add(doc, path, ptr_remove(doc, op["from"]))
            elif kind == "copy":
                ptr_add(doc, path, copy.deepcopy(ptr_get(doc, op["from"])))
            else:
                raise ValueError("unsupported op %r" % kind)
        except (KeyError, IndexError, ValueError) as e:
            raise AssertionError("%s: patch op %s %s: %s" % (where, kind, path, e))
    return doc


def matches_target(obj, target):
    gv = obj.get("apiVersion", "")
    group, _, version = gv.rpartition("/")
    return all([
        target.get("kind") in (None, obj.get("kind")),
        target.get("name") in (None, obj["metadata"].get("name")),
        target.get("group") in (None, group),
        target.get("version") in (None, version),
    ])


def build(kdir):
    """Objects of one kustomization directory; checks that what it names exists."""
    kfile = os.path.join(kdir, "kustomization.yaml")
    if not check(os.path.isfile(kfile), "%s: no kustomization.yaml" % rel(kdir)):
        return []
    with open(kfile) as fh:
        k = yaml.safe_load(fh)
    check(k.get("kind") == "Kustomization", "%s: kind is not Kustomization" % rel(kfile))
    objs = []
    for r in k.get("resources", []):
        p = os.path.normpath(os.path.join(kdir, r))
        if os.path.isdir(p):
            objs.extend(build(p))
        elif check(os.path.isfile(p), "%s: resource %s does not exist" % (rel(kfile), r)):
            with open(p) as fh:
                objs.extend(copy.deepcopy(d) for d in yaml.safe_load_all(fh) if d)
    for gen in k.get("configMapGenerator", []):
        data = {}
        for f in gen.get("files", []):
            key, _, path = f.partition("=") if "=" in f else (os.path.basename(f), "", f)
            p = os.path.join(kdir, path)
            # kustomize refuses files outside the kustomization root.
            check(os.path.realpath(p).startswith(os.path.realpath(kdir) + os.sep),
                  "%s: generator file %s is outside the kustomization root" % (rel(kfile), path))
            if check(os.path.isfile(p), "%s: generator file %s does not exist" % (rel(kfile), path)):
                with open(p) as fh:
                    data[key] = fh.read()
        for lit in gen.get("literals", []):
            key, _, val = lit.partition("=")
            data[key] = val
        objs.append({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": gen["name"]}, "data": data})
    for pt in k.get("patches", []):
        if "path" in pt:
            p = os.path.join(kdir, pt["path"])
            if not check(os.path.isfile(p), "%s: patch %s does not exist" % (rel(kfile), pt["path"])):
                continue
            with open(p) as fh:
                ops = yaml.safe_load(fh)
        else:
            ops = yaml.safe_load(pt["patch"])
        check(isinstance(ops, list), "%s: only RFC 6902 patches are assembled here" % rel(kfile))
        hit = False
        for i, o in enumerate(objs):
            if matches_target(o, pt.get("target", {})):
                objs[i] = json_patch(o, ops, rel(kfile))
                hit = True
        check(hit, "%s: patch target %s matches nothing" % (rel(kfile), pt.get("target")))
    return objs


def find(objs, kind, name=None):
    return [o for o in objs if o.get("kind") == kind and name in (None, o["metadata"]["name"])]


# ------------------------------------------------------------ the docs --

def doc_table(prefixes):
    """Rows of docs/operations.md tables whose first cell is in prefixes."""
    rows = {}
    with open(os.path.join(ROOT, "docs", "operations.md")) as fh:
        for line in fh:
            cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
            if line.startswith("|") and cells[0] in prefixes:
                rows[cells[0]] = cells[1:]
    return rows


def quantity(q):
    """Kubernetes quantity -> float (cores or bytes)."""
    q = str(q)
    units = {"m": 1e-3, "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "k": 1e3, "M": 1e6, "G": 1e9}
    for u in sorted(units, key=len, reverse=True):
        if q.endswith(u):
            return float(q[: -len(u)]) * units[u]
    return float(q)


# -------------------------------------------------------- the Pod spec --

RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                      "persistentVolumeClaim", "projected", "secret"}


def check_restricted(where, pod):
    """The "restricted" Pod Security Standard (v1.29), every control."""
    psc = pod.get("securityContext", {})
    for f in ("hostNetwork", "hostPID", "hostIPC"):
        check(not pod.get(f), "%s: %s is set" % (where, f))
    for v in pod.get("volumes", []):
        kinds = set(v) - {"name"}
        check(kinds <= RESTRICTED_VOLUMES, "%s: volume %s of type %s is not allowed" % (where, v["name"], kinds))
    check(psc.get("seccompProfile", {}).get("type") in ("RuntimeDefault", "Localhost"),
          "%s: pod seccompProfile is not RuntimeDefault" % where)
    for c in pod.get("initContainers", []) + pod.get("containers", []):
        cw = "%s: container %s" % (where, c["name"])
        sc = c.get("securityContext", {})
        check(sc.get("allowPrivilegeEscalation") is False, "%s: allowPrivilegeEscalation is not false" % cw)
        check(not sc.get("privileged"), "%s: privileged" % cw)
        caps = sc.get("capabilities", {})
        check("ALL" in caps.get("drop", []), "%s: capabilities do not drop ALL" % cw)
        check(set(caps.get("add", [])) <= {"NET_BIND_SERVICE"}, "%s: adds capabilities" % cw)
        non_root = sc.get("runAsNonRoot", psc.get("runAsNonRoot"))
        check(non_root is True, "%s: runAsNonRoot is not true" % cw)
        uid = sc.get("runAsUser", psc.get("runAsUser"))
        check(isinstance(uid, int) and uid > 0, "%s: runAsUser %r is not a non-zero UID" % (cw, uid))
        seccomp = sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type")
        check(seccomp in ("RuntimeDefault", "Localhost"), "%s: seccompProfile %r" % (cw, seccomp))
        check(not sc.get("procMount") or sc["procMount"] == "Default", "%s: procMount" % cw)
        for p in c.get("ports", []):
            check(not p.get("hostPort"), "%s: hostPort" % cw)


def port_number(container, port):
    if isinstance(port, int):
        return port
    for p in container.get("ports", []):
        if p.get("name") == port:
            return p["containerPort"]
    check(False, "container %s: named port %r is not declared" % (container["name"], port))
    return None


def check_sidecar(where, pod, objs, native, secrets):
    inits = [c for c in pod.get("initContainers", []) if c["name"] == SIDECAR]
    plain = [c for c in pod.get("containers", []) if c["name"] == SIDECAR]
    if native:
        if not check(len(inits) == 1 and not plain, "%s: driftwatch is not one init container" % where):
            return
        c = inits[0]
        check(c.get("restartPolicy") == "Always", "%s: native sidecar without restartPolicy: Always" % where)
        check(pod["initContainers"].index(c) == 0,
              "%s: driftwatch is not the first init container (it would start late)" % where)
    else:
        if not check(len(plain) == 1 and not inits, "%s: driftwatch is not one plain container" % where):
            return
        c = plain[0]
        check("restartPolicy" not in c, "%s: a plain container carries restartPolicy" % where)
    w = "%s: driftwatch" % where

    # Probes, as the table in docs/operations.md says.
    rows = doc_table({"startup", "liveness", "readiness"})
    check(len(rows) == 3, "docs/operations.md: the probe table (startup, liveness, readiness) is missing")
    for kind, cells in rows.items():
        probe = c.get(kind + "Probe")
        if not check(probe is not None, "%s: no %sProbe" % (w, kind)):
            continue
        path, port, period, timeout, failures_ = cells[:5]
        get = probe.get("httpGet", {})
        check(get.get("path") == path, "%s: %sProbe path %r, documented %r" % (w, kind, get.get("path"), path))
        check(port_number(c, get.get("port")) == int(port),
              "%s: %sProbe port %r, documented %s" % (w, kind, get.get("port"), port))
        for key, want in (("periodSeconds", period), ("timeoutSeconds", timeout),
                          ("failureThreshold", failures_)):
            check(probe.get(key) == int(want), "%s: %sProbe %s %r, documented %s" % (w, kind, key, probe.get(key), want))

    # Resources, as documented, requests <= limits.
    res = c.get("resources", {})
    rrows = doc_table({"cpu", "memory"})
    check(len(rrows) == 2, "docs/operations.md: the resources table (cpu, memory) is missing")
    for r, cells in rrows.items():
        req, lim = res.get("requests", {}).get(r), res.get("limits", {}).get(r)
        check(str(req) == cells[0], "%s: %s request %r, documented %s" % (w, r, req, cells[0]))
        check(str(lim) == cells[1], "%s: %s limit %r, documented %s" % (w, r, lim, cells[1]))
        if req is not None and lim is not None:
            check(quantity(req) <= quantity(lim), "%s: %s request above limit" % (w, r))

    # Read-only root with an emptyDir at the state_dir.
    sc = c.get("securityContext", {})
    check(sc.get("readOnlyRootFilesystem") is True, "%s: readOnlyRootFilesystem is not true" % w)
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    sm = mounts.get(STATE_DIR)
    if check(sm is not None, "%s: nothing mounted at the state_dir %s" % (w, STATE_DIR)):
        check("emptyDir" in vols.get(sm["name"], {}), "%s: %s is not an emptyDir" % (w, STATE_DIR))
        check(not sm.get("readOnly"), "%s: the state_dir is mounted read-only" % w)

    # ConfigMaps and Secrets referred to exist, with their keys.
    cms = {o["metadata"]["name"]: o for o in find(objs, "ConfigMap")}

    def cm_keys(name, what):
        if check(name in cms, "%s: %s refers to ConfigMap %s, which does not exist" % (w, what, name)):
            return set(cms[name].get("data", {})) | set(cms[name].get("binaryData", {}))
        return set()

    def secret_keys(name, what):
        if check(name in secrets, "%s: %s refers to Secret %s, which no example defines" % (w, what, name)):
            return secrets[name]
        return {}

    files = {}  # path in the container -> content, for validate
    for m in c.get("volumeMounts", []):
        v = vols.get(m["name"])
        if not check(v is not None, "%s: mount of undefined volume %s" % (w, m["name"])):
            continue
        sources = v["projected"].get("sources", []) if "projected" in v else [v]
        for s in sources:
            for kind in ("configMap", "secret"):
                if kind not in s:
                    continue
                ref = s[kind]
                name = ref.get("name") or ref.get("secretName")
                if kind == "configMap":
                    keys, data = cm_keys(name, "volume " + v["name"]), cms.get(name, {}).get("data", {})
                else:
                    data = secret_keys(name, "volume " + v["name"])
                    keys = set(data)
                items = ref.get("items") or [{"key": k, "path": k} for k in sorted(keys)]
                for it in items:
                    if check(it["key"] in keys, "%s: %s %s has no key %s" % (w, kind, name, it["key"])):
                        files[os.path.join(m["mountPath"], it["path"])] = data[it["key"]]
    env = {}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        elif "secretKeyRef" in e.get("valueFrom", {}):
            ref = e["valueFrom"]["secretKeyRef"]
            keys = secret_keys(ref["name"], "env " + e["name"])
            if check(ref["key"] in keys, "%s: env %s: Secret %s has no key %s" % (w, e["name"], ref["name"], ref["key"])):
                env[e["name"]] = keys[ref["key"]]
        elif "configMapKeyRef" in e.get("valueFrom", {}):
            ref = e["valueFrom"]["configMapKeyRef"]
            if check(ref["key"] in cm_keys(ref["name"], "env " + e["name"]), "%s: env %s: no key" % (w, e["name"])):
                env[e["name"]] = cms[ref["name"]]["data"][ref["key"]]
    for ef in c.get("envFrom", []):
        if "secretRef" in ef:
            env.update(secret_keys(ef["secretRef"]["name"], "envFrom"))
        if "configMapRef" in ef:
            cm_keys(ef["configMapRef"]["name"], "envFrom")
    if check(CONFIG_PATH in files, "%s: %s is not mounted (the image's ENTRYPOINT reads it)" % (w, CONFIG_PATH)):
        cfg = yaml.safe_load(files[CONFIG_PATH]) or {}
        check(cfg.get("state_dir") == STATE_DIR,
              "%s: config state_dir %r is not the emptyDir %s" % (w, cfg.get("state_dir"), STATE_DIR))
        # The HTTP port of the config is the declared container port.
        listen_port = int(str(cfg.get("http", {}).get("listen", "0.0.0.0:9187")).rsplit(":", 1)[1])
        check(port_number(c, "metrics") == listen_port == 9187,
              "%s: port \"metrics\" is not the config's http.listen port 9187" % w)
    return c, files, env


def validate_config(where, files, env, exe):
    """driftwatch validate on the files as the Pod sees them, with the Pod's env."""
    if CONFIG_PATH not in files:
        return
    with tempfile.TemporaryDirectory(prefix="dw-manifests-") as tmp:
        for path, content in files.items():
            p = os.path.join(tmp, path.lstrip("/"))
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as fh:
                fh.write(content)
        # Only the Pod's env: an unset ${VAR} must fail here as in the Pod.
        run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        run_env.update(env)
        r = h.run([exe, "validate", "-c", os.path.join(tmp, CONFIG_PATH.lstrip("/"))], 60,
                  env=run_env)
        check(r.returncode == 0 and "configuration OK" in r.stdout,
              "%s: driftwatch validate failed (exit %d): %s" % (where, r.returncode, r.stderr.strip()))


def check_podmonitor(objs, pod_labels, container):
    pms = find(objs, "PodMonitor")
    if not check(len(pms) == 1, "base: expected one PodMonitor, found %d" % len(pms)):
        return
    spec = pms[0]["spec"]
    sel = spec.get("selector", {}).get("matchLabels", {})
    check(sel and all(pod_labels.get(k) == v for k, v in sel.items()),
          "PodMonitor: selector %s does not match the Pod's labels" % sel)
    eps = spec.get("podMetricsEndpoints", [])
    check(any(e.get("path", "/metrics") == "/metrics" and port_number(container, e.get("port")) == 9187
              for e in eps), "PodMonitor: no endpoint scrapes /metrics on port 9187")


# ---------------------------------------------------------- Dockerfile --

def check_dockerfile(uid):
    p = os.path.join(ROOT, "deploy", "docker", "Dockerfile")
    if not check(os.path.isfile(p), "deploy/docker/Dockerfile does not exist"):
        return
    text = open(p).read()
    # Join continuation lines, drop comments.
    lines = re.sub(r"\\\n", " ", "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#")))
    instr = [(l.split(None, 1)[0].upper(), l.split(None, 1)[1] if " " in l.strip() else "")
             for l in lines.splitlines() if l.strip()]
    args = {m.group(1): m.group(2) for m in re.finditer(r"^ARG (\w+)=(\S+)$", lines, re.M)}
    froms = [re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), v).split()
             for k, v in instr if k == "FROM"]
    check(len(froms) >= 2, "Dockerfile: not multi-stage")
    if froms:
        check(froms[0][0] == "debian:12", "Dockerfile: build stage is %s, not debian:12" % froms[0][0])
        check(froms[-1][0] == "debian:12-slim", "Dockerfile: runtime stage is %s, not debian:12-slim" % froms[-1][0])
    runtime = instr[max(i for i, (k, _) in enumerate(instr) if k == "FROM"):]
    users = [v.strip() for k, v in runtime if k == "USER"]
    check(users and users[-1].split(":")[0] == str(uid),
          "Dockerfile: runtime USER %r is not the manifests' runAsUser %d" % (users, uid))
    check(any(k == "COPY" and "--from=" in v for k, v in runtime), "Dockerfile: runtime copies nothing from the build")
    runtime_run = " ".join(v for k, v in runtime if k == "RUN")
    check(not re.search(r"\b(build-essential|meson|gcc|[a-z0-9.+-]+-dev)\b", runtime_run),
          "Dockerfile: the runtime stage installs build tools or -dev packages")
    # The binary is the entrypoint, so `docker run IMAGE --version` or
    # `validate` need no --entrypoint; the default command reads the config.
    ep = [v for k, v in instr if k == "ENTRYPOINT"]
    cmd = [v for k, v in instr if k == "CMD"]
    if check(ep and cmd, "Dockerfile: no ENTRYPOINT or no CMD"):
        e, c = json.loads(ep[-1]), json.loads(cmd[-1])
        check(len(e) == 1 and os.path.basename(e[0]) == "driftwatch",
              "Dockerfile: ENTRYPOINT %s is not the driftwatch binary alone" % e)
        check(c == ["run", "-c", CONFIG_PATH],
              "Dockerfile: CMD %s is not run -c %s" % (c, CONFIG_PATH))
    labels = " ".join(v for k, v in runtime if k == "LABEL")
    for key in ("title", "description", "version", "licenses", "source"):
        check("org.opencontainers.image.%s=" % key in labels,
              "Dockerfile: runtime stage lacks the OCI label org.opencontainers.image.%s" % key)


# ------------------------------------------------------------- Grafana --

def check_dashboard():
    p = os.path.join(ROOT, "deploy", "grafana", "driftwatch-dashboard.json")
    try:
        dash = json.load(open(p))
    except (OSError, ValueError) as e:
        check(False, "%s: %s" % (rel(p), e))
        return
    exprs = []
    panels = list(dash.get("panels", []))
    for pnl in list(panels):
        panels.extend(pnl.get("panels", []))  # collapsed rows
    ids = [pnl.get("id") for pnl in panels]
    check(len(ids) == len(set(ids)), "dashboard: panel ids are not unique")
    for pnl in panels:
        if pnl.get("type") == "row":
            continue
        targets = pnl.get("targets", [])
        check(targets, "dashboard: panel %r has no query" % pnl.get("title"))
        refs = [t.get("refId") for t in targets]
        check(len(refs) == len(set(refs)), "dashboard: panel %r repeats a refId" % pnl.get("title"))
        exprs += [(pnl.get("title"), t.get("expr", "")) for t in targets]
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else q
        if v.get("type") == "query":
            exprs.append(("variable " + v["name"], q or ""))
    used = set()
    for title, expr in exprs:
        check(expr.strip(), "dashboard: %s: empty query" % title)
        check(expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"),
              "dashboard: %s: unbalanced brackets in %r" % (title, expr))
        names = re.findall(r"\bdriftwatch_[a-z0-9_]+", expr)
        for n in names:
            check(n in METRICS, "dashboard: %s: %s is not a metric driftwatch exposes" % (title, n))
            used.add(n)
        # Label matchers right after a metric name: labels it has, or target labels.
        for m in re.finditer(r"\b(driftwatch_[a-z0-9_]+)\s*\{([^}]*)\}", expr):
            for lab in re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", m.group(2)):
                check(lab in METRICS.get(m.group(1), set()) | TARGET_LABELS,
                      "dashboard: %s: %s has no label %s" % (title, m.group(1), lab))
        # Grouping labels must exist on some metric of the expression.
        have = set().union(*(METRICS.get(n, set()) for n in names)) | TARGET_LABELS if names else TARGET_LABELS
        for g in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
            for lab in filter(None, (x.strip() for x in g.split(","))):
                check(lab in have, "dashboard: %s: groups by %s, which its metrics lack" % (title, lab))
    base_names = {n for n in METRICS if not n.startswith("driftwatch_evaluation_duration_seconds_")}
    base_names.add("driftwatch_evaluation_duration_seconds_bucket")
    missing = sorted(base_names - used)
    check(not missing, "dashboard: no panel shows %s" % ", ".join(missing))
    return len(exprs), len(used)


# ---------------------------------------------------------------- main --

def main():
    if len(sys.argv) != 2:
        sys.exit("usage: test_manifests.py DRIFTWATCH_BINARY")
    exe = os.path.abspath(sys.argv[1])

    docs = load_all_yaml()
    check(len(docs) >= 6, "deploy/k8s: only %d YAML files" % len(docs))
    for p, ds in docs.items():
        for d in ds:
            if isinstance(d, dict) and "apiVersion" in d and d.get("kind") != "Kustomization":
                check(d.get("kind") and d.get("metadata", {}).get("name"),
                      "%s: a Kubernetes object without kind or metadata.name" % rel(p))

    # Secrets that examples define: name -> {key: value}.
    secrets = {}
    for ds in docs.values():
        for d in ds:
            if isinstance(d, dict) and d.get("kind") == "Secret":
                vals = dict(d.get("stringData", {}))
                vals.update({k: "(base64)" for k in d.get("data", {})})
                secrets[d["metadata"]["name"]] = vals
    check(secrets, "deploy/k8s: no example Secret")

    # The reference copy kustomize can read equals the real one.
    for f in os.listdir(os.path.join(BASE, "reference_stats")):
        orig = os.path.join(ROOT, "reference_stats", f)
        check(os.path.isfile(orig) and open(orig, "rb").read() ==
              open(os.path.join(BASE, "reference_stats", f), "rb").read(),
              "deploy/k8s/base/reference_stats/%s differs from reference_stats/%s: "
              "cp reference_stats/%s deploy/k8s/base/reference_stats/" % (f, f, f))

    kubectl = shutil.which("kubectl")
    variants = []
    for name, kdir, native in (("base", BASE, True), ("overlays/plain-sidecar", OVERLAY, False)):
        try:
            variants.append((name, build(kdir), native))
        except AssertionError as e:
            check(False, str(e))
        if kubectl:
            # The real thing, when available: the same checks on its output.
            r = h.run([kubectl, "kustomize", kdir], 60)
            if check(r.returncode == 0, "kubectl kustomize %s: %s" % (rel(kdir), r.stderr.strip())):
                variants.append(("kubectl kustomize " + name, [d for d in yaml.safe_load_all(r.stdout) if d],
                                 native))
    if not kubectl:
        print("kubectl not found: the kustomize layout is assembled by this test only")

    uid = None
    for name, objs, native in variants:
        nfail = len(failures)
        deps = find(objs, "Deployment")
        if not check(len(deps) == 1, "%s: expected one Deployment, found %d" % (name, len(deps))):
            continue
        dep = deps[0]
        tmpl = dep["spec"]["template"]
        pod = tmpl["spec"]
        check(all(dep["spec"]["selector"]["matchLabels"].get(k) == tmpl["metadata"]["labels"].get(k)
                  for k in dep["spec"]["selector"]["matchLabels"]), "%s: selector does not match the template" % name)
        check_restricted(name, pod)
        got = check_sidecar(name, pod, objs, native, secrets)
        if not got:
            continue
        c, files, env = got
        validate_config(name, files, env, exe)
        sc = c.get("securityContext", {})
        uid = sc.get("runAsUser", pod.get("securityContext", {}).get("runAsUser"))
        if native:
            check_podmonitor(objs, tmpl["metadata"]["labels"], c)
            # The sidecar stops after the model server and then needs its budget.
            check(pod.get("terminationGracePeriodSeconds", 30) > 10,
                  "%s: terminationGracePeriodSeconds leaves no room for the 10 s shutdown budget" % name)
        print("%s: %d objects, driftwatch as a %s: %s" % (
            name, len(objs), "native sidecar" if native else "plain container",
            "probes, securityContext, resources, references, validate OK" if len(failures) == nfail
            else "%d problem(s)" % (len(failures) - nfail)))
    check(len(variants) >= 2, "no variant could be assembled")

    check_dockerfile(uid)
    res = check_dashboard()
    if res:
        print("dashboard: %d queries, %d metric names, all exposed by driftwatch" % res)

    if failures:
        for f in failures:
            print("FAIL: " + f)
        print("%d check(s) failed" % len(failures))
        return 1
    print("all manifest checks passed")
    return 0


if __name__ == "__main__":
    h.main(main)

#!/usr/bin/python3
"""The first hour of a new user (issue 12, items 1, 2 and 4), with the real
binary on the shipped examples:

* the README's "quick start with your own data", run verbatim on
  examples/fraud (flat training CSV, nested serving JSONL), gives a sensible
  table: amount and country drift, nothing is 100 % missing;
* flat reference columns follow nested fields in check and replay, the first
  field wins, and check/validate/run warn loudly when most columns find no
  field;
* docs/record-format.md's example record is read as it says;
* `reference build --output` into a missing directory, the default state_dir
  (no error on a laptop run, in demo or replay), a reference built for
  another model or version flagged by validate and run.

usage: test_first_hour.py DRIFTWATCH"""

import json
import os
import re
import shutil
import subprocess
import unittest

import harness as h

DW = None
ROOT = h.ROOT
EX = os.path.join(ROOT, "examples", "fraud")
NESTED_REF = os.path.join(ROOT, "reference_stats", "fraud.json")


read = h.read


def run(*args, env=None, timeout=120):
    return h.run([DW] + list(args), timeout=timeout, env=env)


def table_rows(out):
    """COLUMN -> (missing %, verdict) from check's table."""
    rows = {}
    for line in out.splitlines()[1:]:
        if not line.strip():
            break
        parts = line[2:].split()
        rows[parts[0]] = (float(parts[3].rstrip("%")), parts[9] if len(parts) > 9 else "")
    return rows


class Tmp(unittest.TestCase):
    def setUp(self):
        self.dir = h.workdir("dw-first-hour-")

    def write(self, name, text):
        p = os.path.join(self.dir, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def flat_ref(self, model="fraud", version=None):
        out = os.path.join(self.dir, "flat-%s-%s.json" % (model, version))
        args = ["reference", "build", "--input", os.path.join(EX, "training.csv"),
                "--model", model, "--output", out]
        if version:
            args += ["--model-version", version]
        r = run(*args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return out

    def config(self, ref, extra="", name="c.yaml", model="fraud", version=None):
        ver = "\n    version: %s" % version if version else ""
        return self.write(name, """kafka: {brokers: "127.0.0.1:1", topics: [logs], group_id: fh}
models:
  - name: %s%s
    reference: %s
windows:
  - {name: 5m, length: 5m, slide: 1m}
sinks:
  - {name: out, type: stdout}
http: {enabled: false}
%s""" % (model, ver, ref, extra))


class QuickStart(Tmp):
    def test_readme_quick_start_verbatim_on_the_shipped_examples(self):
        readme = read(os.path.join(ROOT, "README.md"))
        sec = readme[readme.index("## Quick start with your own data"):]
        block = sec[sec.index("```sh\n") + 6:sec.index("```\n", sec.index("```sh\n") + 6)]
        cmds = [l for l in block.splitlines() if l.startswith("driftwatch ")]
        build = [c for c in cmds if c.startswith("driftwatch reference build")]
        check = [c for c in cmds if c.startswith("driftwatch check")]
        self.assertEqual((len(build), len(check)), (1, 1), block)
        # The file names the README uses, holding the shipped examples.
        shutil.copy(os.path.join(EX, "training.csv"), os.path.join(self.dir, "training.csv"))
        shutil.copy(os.path.join(EX, "serving-drift.jsonl"),
                    os.path.join(self.dir, "serving-sample.jsonl"))
        env = dict(os.environ, PATH=os.path.dirname(os.path.abspath(DW)) + ":"
                   + os.environ["PATH"])
        b = subprocess.run(build[0], shell=True, cwd=self.dir, env=env, capture_output=True,
                           text=True, timeout=h.remaining(60))
        self.assertEqual(b.returncode, 0, b.stderr)
        c = subprocess.run(check[0], shell=True, cwd=self.dir, env=env, capture_output=True,
                           text=True, timeout=h.remaining(60))
        self.assertEqual(c.returncode, 1, c.stdout + c.stderr)  # drift: exit 1
        self.assertNotIn("WARNING", c.stderr)
        rows = table_rows(c.stdout)
        self.assertEqual(len(rows), 8, c.stdout)
        for col, (miss, verdict) in rows.items():
            self.assertLess(miss, 5.0, "%s is %.1f%% missing" % (col, miss))
            want = "DRIFT" if col in ("amount", "country") else "ok"
            self.assertEqual(verdict, want, "%s: %s\n%s" % (col, verdict, c.stdout))
        self.assertIn("BR", [l for l in c.stdout.splitlines() if l[2:].startswith("country")][0])
        self.assertIn("amount <- features.amount", c.stdout)
        self.assertIn("score <- prediction.score", c.stdout)


class Matching(Tmp):
    def assert_amount_and_country_drift(self, r):
        """replay's run r fired exactly amount's and country's distribution alerts."""
        self.assertEqual(r.returncode, 0, r.stderr)
        fired = set()
        for line in r.stdout.splitlines():
            for a in json.loads(line).get("alerts", []):
                if a.get("status") == "firing":
                    fired.add((a["column"], a["kind"]))
        self.assertEqual(fired, {("amount", "distribution"), ("country", "distribution")},
                         r.stdout[:2000])
        self.assertNotIn("occur in no record", r.stderr)

    def test_check_json_names_the_followed_field(self):
        ref = self.flat_ref()
        r = run("check", "--json", "--reference", ref, os.path.join(EX, "serving.jsonl"))
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        got = {c["name"]: c["input_column"] for c in doc["columns"]}
        self.assertEqual(got["amount"], "features.amount")
        self.assertEqual(got["label"], "prediction.label")
        self.assertTrue(all(c["count"] > 900 for c in doc["columns"]), doc["columns"])

    def test_first_field_with_the_same_last_name_wins(self):
        lines = ["score"] + ["%.3f" % (i / 300) for i in range(300)]
        ref_in = self.write("t.csv", "\n".join(lines) + "\n")
        ref = os.path.join(self.dir, "s.json")
        self.assertEqual(run("reference", "build", "--input", ref_in, "--output", ref).returncode, 0)
        recs = [json.dumps({"features": {"score": 5.0 + i}, "prediction": {"score": i / 300}})
                for i in range(300)]
        inp = self.write("in.jsonl", "\n".join(recs) + "\n")
        r = run("check", "--json", "--reference", ref, inp)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["columns"][0]["input_column"], "features.score")
        r = run("check", "--reference", ref, inp)
        self.assertIn("1 input column(s) were left out", r.stdout)
        # features.score is far outside the training range: every value overflows.
        self.assertEqual(json.loads(run("check", "--json", "--reference", ref, inp).stdout)
                         ["columns"][0]["out_of_range_rate"], 1.0)

    def test_nested_reference_keeps_exact_names(self):
        r = run("check", "--json", "--reference", NESTED_REF, os.path.join(EX, "serving.jsonl"))
        doc = json.loads(r.stdout)
        got = {c["name"]: c["input_column"] for c in doc["columns"]}
        self.assertEqual(got["features.amount"], "features.amount")
        self.assertEqual(got["latency_ms"], "latency_ms")

    def test_check_warns_when_most_columns_are_missing(self):
        # A reference with nested names against a flat CSV: nothing matches.
        r = run("check", "--reference", NESTED_REF, os.path.join(EX, "training.csv"))
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"WARNING: 9 of 9 reference columns never occur in")
        self.assertIn("whose own columns are amount", r.stderr)
        self.assertIn("docs/record-format.md", r.stderr)

    def test_replay_with_a_flat_reference_alerts_on_the_nested_fields(self):
        cfg = self.config(self.flat_ref())
        r = run("replay", "-c", cfg, "--stdout", os.path.join(EX, "serving-drift.jsonl"))
        self.assert_amount_and_country_drift(r)

    def test_columns_object_one_level_deeper(self):
        # records.columns may name an object inside another ("payload.features").
        recs = []
        for line in read(os.path.join(EX, "serving-drift.jsonl")).splitlines():
            d = json.loads(line)
            d["payload"] = {"features": d.pop("features")}
            recs.append(json.dumps(d))
        inp = self.write("deeper.jsonl", "\n".join(recs) + "\n")
        cfg = self.config(self.flat_ref(), "records: {columns: [payload.features, prediction]}\n")
        r = run("replay", "-c", cfg, "--stdout", inp)
        self.assert_amount_and_country_drift(r)

    def test_replay_and_validate_warn_when_names_do_not_match(self):
        # The records keep their features under "inputs": the nested
        # reference's features.* columns can never be filled.
        cfg = self.config(NESTED_REF, "records: {columns: [inputs, prediction]}\n")
        v = run("validate", "-c", cfg)
        self.assertEqual(v.returncode, 0, v.stderr)
        self.assertRegex(v.stderr, r"WARNING: .*c\.yaml:\d+: models\[0\]\.reference: 6 of 9 "
                                   r"columns .* \(first: features\.amount\)")
        self.assertIn("configuration OK (with warnings", v.stdout)
        recs = []
        for line in read(os.path.join(EX, "serving.jsonl")).splitlines():
            d = json.loads(line)
            d["inputs"] = d.pop("features")
            d.pop("prediction")
            d.pop("latency_ms")
            recs.append(json.dumps(d))
        inp = self.write("renamed.jsonl", "\n".join(recs) + "\n")
        r = run("replay", "-c", cfg, "--stdout", inp)
        self.assertEqual(r.returncode, 0, r.stderr)
        warns = [l for l in r.stderr.splitlines() if "occur in no record" in l]
        self.assertEqual(len(warns), 1, r.stderr)  # once per model, not per evaluation
        self.assertIn('"level":"warn"', warns[0])
        self.assertIn("9 reference columns (first: features.amount)", warns[0])

    def test_validate_is_quiet_when_names_match(self):
        v = run("validate", "-c", self.config(self.flat_ref()))
        self.assertEqual(v.returncode, 0, v.stderr)
        self.assertNotIn("WARNING", v.stderr)
        self.assertIn("configuration OK\n", v.stdout)


class RecordFormatDoc(Tmp):
    def test_the_documented_record_is_read_as_documented(self):
        doc = read(os.path.join(ROOT, "docs", "record-format.md"))
        m = re.search(r"## A record\n\n```json\n(.*?)```", doc, re.S)
        rec = json.loads(m.group(1))
        self.assertEqual(set(rec), {"ts", "model", "model_version", "request_id", "features",
                                    "prediction", "latency_ms"})
        # A reference from records shaped like it, then the record itself.
        train = []
        for i in range(200):
            r = json.loads(m.group(1))
            r["features"]["amount"] = 10.0 + i
            r["features"]["age"] = 20 + i % 50
            r["prediction"]["score"] = i / 200
            r["latency_ms"] = 5 + i % 20
            train.append(json.dumps(r))
        tr = self.write("train.jsonl", "\n".join(train) + "\n")
        ref = os.path.join(self.dir, "ref.json")
        b = run("reference", "build", "--input", tr, "--model", "fraud", "--output", ref)
        self.assertEqual(b.returncode, 0, b.stderr)
        names = [c["name"] for c in json.loads(read(ref))["columns"]]
        # request_id and ts are metadata; members of features/prediction are
        # <object>.<member>; other scalars keep their name.
        self.assertEqual(sorted(names), sorted(["features.amount", "features.country",
                                                "features.age", "prediction.score",
                                                "prediction.label", "latency_ms"]))
        one = self.write("one.jsonl", m.group(1).replace("\n", "") + "\n")
        r = run("check", "--json", "--min-samples", "1", "--reference", ref, one)
        cols = {c["name"]: c for c in json.loads(r.stdout)["columns"]}
        self.assertEqual(cols["features.amount"]["count"], 1)
        self.assertEqual(cols["features.age"]["missing"], 1)  # null is missing
        self.assertEqual(cols["features.country"]["count"], 1)
        # The same record as one Kafka message in a JSON array, through replay.
        cfg = self.config(ref, "records: {fields: [latency_ms]}\n")
        arr = self.write("arr.jsonl", "[%s,%s]\n" % (m.group(1).replace("\n", ""),
                                                     m.group(1).replace("\n", "")))
        r = run("replay", "-c", cfg, "--stdout", "--log-format", "text", arr)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"records=2 applied=2 ")

    def test_readme_links_the_record_format(self):
        self.assertIn("(docs/record-format.md)", read(os.path.join(ROOT, "README.md")))


class Setup(Tmp):
    def test_reference_build_creates_the_output_directory(self):
        out = os.path.join(self.dir, "a", "b", "fraud.json")
        r = run("reference", "build", "--input", os.path.join(EX, "training.csv"),
                "--output", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(json.loads(read(out))["columns"]), 8)

    def test_reference_for_another_model_or_version_is_flagged(self):
        ref = self.flat_ref(model="churn", version="v1")
        v = run("validate", "-c", self.config(ref))
        self.assertEqual(v.returncode, 0)
        self.assertRegex(v.stderr, r"WARNING: .*models\[0\]\.reference: model fraud: its "
                                   r"reference was built for model churn")
        v = run("validate", "-c", self.config(self.flat_ref(model="fraud", version="v1"),
                                              version="v3"))
        self.assertIn("model fraud version v3: its reference was built for version v1", v.stderr)
        v = run("validate", "-c", self.config(self.flat_ref(model="fraud", version="v3"),
                                              version="v3"))
        self.assertNotIn("WARNING", v.stderr)
        r = run("replay", "-c", self.config(ref), "--stdout", os.path.join(EX, "serving.jsonl"))
        self.assertIn("its reference was built for model churn", r.stderr)

    def home_env(self):
        home = os.path.join(self.dir, "home")
        os.mkdir(home)
        env = dict(os.environ, HOME=home)
        env.pop("XDG_STATE_HOME", None)
        return env, os.path.join(home, ".local", "state", "driftwatch")

    def test_default_state_dir_on_a_laptop_run(self):
        env, laptop = self.home_env()
        system = "/var/lib/driftwatch"
        want = system if os.path.isdir(system) and os.access(system, os.W_OK) else laptop
        cfg = self.config(self.flat_ref())
        p = h.spawn([DW, "run", "-c", cfg], "laptop-run", env=env)
        h.wait_for(lambda: "consuming" in read(p.stderr_path), 30, "run to start consuming")
        self.assertEqual(h.stop(p), 0)
        text = read(p.stderr_path)
        self.assertIn("state_dir not configured: using %s" % want, text)
        # (rdkafka logs errors: nothing listens at the broker address.)
        self.assertEqual([l for l in text.splitlines() if '"level":"error"' in l
                          and ("state_dir" in l or "outbox" in l)], [])
        self.assertNotIn("alert states will not survive", text)
        self.assertTrue(os.path.exists(os.path.join(want, "alerts.json")), text)

    def test_replay_without_state_dir_logs_no_error(self):
        env, laptop = self.home_env()
        cfg = self.write("w.yaml", read(self.config(self.flat_ref())).replace(
            "{name: out, type: stdout}", '{name: hook, type: webhook, url: "http://127.0.0.1:9/x",'
            ' max_retries: 0}'))
        r = run("replay", "-c", cfg, os.path.join(EX, "serving.jsonl"), env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("state_dir", r.stderr)
        self.assertFalse(os.path.exists(laptop))

    def test_demo_logs_no_state_dir_error(self):
        env, laptop = self.home_env()
        r = run("demo", env=env, timeout=170)
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr[-2000:])
        self.assertNotIn("state_dir", r.stderr)
        self.assertNotIn("/var/lib/driftwatch", r.stderr)
        self.assertNotIn("alert states will not survive", r.stderr)


if __name__ == "__main__":
    h.unittest_main(globals(), ["DW"])

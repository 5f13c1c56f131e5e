#!/usr/bin/python3
"""Runs the real driftwatch binary: `reference build` on generated data,
checked against numpy, and bad input of every kind, which must give a
one-line error naming file, line or column and exit status 2.

usage: test_reference_cli.py DRIFTWATCH [all|bad-input]
(bad-input runs only the bad-input tests; the 'asan' suite uses it against
the sanitizer build)."""

import json
import os
import sys
import tempfile
import unittest

import numpy as np

import harness as h

DW = None
ROOT = h.ROOT


def run(*args, stdin=None, env=None):
    return h.run([DW] + list(args), timeout=120, stdin=stdin, env=env)


class Tmp(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name, content=None):
        p = os.path.join(self.dir, name)
        if content is not None:
            with open(p, "w", encoding="utf-8", newline="") as f:
                f.write(content)
        return p


class BuildTest(Tmp):
    def make_training(self, n=20000):
        rng = np.random.default_rng(12345)
        amount = np.round(rng.lognormal(3.5, 0.8, n), 2)
        items = 1 + rng.poisson(2.0, n)
        country = rng.choice(["DE", "FR", "US"], n, p=[0.5, 0.3, 0.2])
        age = rng.integers(18, 91, n).astype(float)
        age[rng.random(n) < 0.05] = np.nan
        lines = []
        for i in range(n):
            rec = {"ts": i, "model": "m", "request_id": "r%d" % i,
                   "features": {"amount": float(amount[i]), "n_items": int(items[i]),
                                "country": str(country[i]),
                                "age": None if np.isnan(age[i]) else int(age[i])},
                   "prediction": {"ok": bool(i % 3 == 0)}}
            lines.append(json.dumps(rec))
        return self.path("train.jsonl", "\n".join(lines) + "\n"), amount, items, country, age

    def test_build_jsonl_matches_numpy(self):
        src, amount, items, country, age = self.make_training()
        out = self.path("ref.json")
        r = run("reference", "build", "--input", src, "--output", out, "--model", "m",
                "--model-version", "v1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("20000 rows, 5 columns", r.stdout)
        self.assertIn("features.amount", r.stdout)
        with open(out, encoding="utf-8") as f:
            ref = json.load(f)
        self.assertEqual(ref["format"], "driftwatch-reference")
        self.assertEqual(ref["format_version"], 1)
        self.assertEqual(ref["model"], "m")
        self.assertEqual(ref["model_version"], "v1")
        self.assertEqual(ref["rows"], 20000)
        self.assertRegex(ref["checksum"], r"^sha256:[0-9a-f]{64}$")
        cols = {c["name"]: c for c in ref["columns"]}
        self.assertEqual(sorted(cols), ["features.age", "features.amount", "features.country",
                                        "features.n_items", "prediction.ok"])

        a = cols["features.amount"]
        self.assertEqual(a["type"], "numeric")
        self.assertEqual(a["count"], 20000)
        self.assertEqual(a["min"], amount.min())
        self.assertEqual(a["max"], amount.max())
        # Different summation order from numpy: agree to 1e-12 relative.
        self.assertAlmostEqual(a["mean"], amount.mean(), delta=1e-12 * abs(amount.mean()))
        self.assertAlmostEqual(a["std"], amount.std(ddof=1), delta=1e-12 * amount.std())
        self.assertEqual(a["nbins"], 1000)
        edges = np.array(a["edges"])
        self.assertEqual(len(edges), 1001)
        self.assertTrue(np.all(np.diff(edges[1:]) > 0))
        self.assertLessEqual(edges[0], edges[1])
        # Right-closed bins: cumulative count at edge k+1 is #(x <= edge).
        s = np.sort(amount)
        cum = np.cumsum(a["bin_counts"])
        self.assertTrue(np.array_equal(cum, np.searchsorted(s, edges[1:], side="right")))
        # Upper edges are reference quantiles: ranks ceil(i*n/bins), deduplicated.
        want = sorted(set(s[int(np.ceil(i * 20000 / 1000)) - 1] for i in range(1, 1001)))
        self.assertEqual(list(edges[1:]), want)

        it = cols["features.n_items"]
        vals, counts = np.unique(items, return_counts=True)
        # A point bin per distinct value, a gap bin between neighbours.
        self.assertEqual(it["nbins"], 2 * len(vals) - 1)
        want_edges = [float(vals[0]), float(vals[0])]
        want_counts = [int(counts[0])]
        for v, k in zip(vals[1:], counts[1:]):
            want_edges += [float(np.nextafter(float(v), -np.inf)), float(v)]
            want_counts += [0, int(k)]
        self.assertEqual(it["edges"], want_edges)
        self.assertEqual(it["bin_counts"], want_counts)

        ag = cols["features.age"]
        self.assertEqual(ag["missing"], int(np.isnan(age).sum()))
        self.assertEqual(ag["count"] + ag["missing"], 20000)

        c = cols["features.country"]
        self.assertEqual(c["type"], "categorical")
        u, k = np.unique(country, return_counts=True)
        got = {e["value"]: e["count"] for e in c["categories"]}
        self.assertEqual(got, dict(zip(u.tolist(), k.tolist())))
        self.assertEqual([e["value"] for e in c["categories"]], ["DE", "FR", "US"])
        ok = cols["prediction.ok"]
        self.assertEqual(ok["type"], "categorical")  # booleans are categorical
        self.assertEqual({e["value"] for e in ok["categories"]}, {"true", "false"})

    def test_build_csv_options_and_stdin(self):
        src = self.path("t.csv", 'zip,amount,label\n"01234",1.5,a\n"00999",2.5,"b, c"\n'
                                 '01234,NA,a\n')
        out = self.path("ref.json")
        r = run("reference", "build", "--input", "-", "--format", "csv", "--output", out,
                "--categorical", "zip", "--columns", "zip,amount", "--bins", "5",
                stdin=open(src, encoding="utf-8").read())
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, encoding="utf-8") as f:
            ref = json.load(f)
        self.assertEqual([c["name"] for c in ref["columns"]], ["zip", "amount"])
        z = ref["columns"][0]
        self.assertEqual({e["value"]: e["count"] for e in z["categories"]},
                         {"01234": 2, "00999": 1})
        self.assertEqual(ref["columns"][1]["missing"], 1)
        self.assertEqual(ref["source"], "<stdin>")

    def test_reproducible_with_source_date_epoch(self):
        src = self.path("t.csv", "x,y\n1,a\n2,b\n3,a\n")
        env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
        texts = []
        for name in ("a.json", "b.json"):
            r = run("reference", "build", "-i", src, "-o", self.path(name), env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            texts.append(open(self.path(name), "rb").read())
        self.assertEqual(texts[0], texts[1])
        self.assertEqual(json.loads(texts[0])["created_at"], "2023-11-14T22:13:20Z")

    def test_help(self):
        r = run("reference", "build", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--max-categories", r.stdout)

    def test_committed_example_reference_is_current(self):
        # reference_stats/fraud.json must load and match the shipped data.
        ref = os.path.join(ROOT, "reference_stats", "fraud.json")
        data = os.path.join(ROOT, "examples", "fraud", "training.jsonl")
        out = self.path("fraud.json")
        r = run("reference", "build", "--input", data, "--model", "fraud", "--model-version",
                "v3", "--output", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        a, b = json.load(open(ref)), json.load(open(out))
        for d in (a, b):
            for k in ("created_at", "checksum", "source"):
                d.pop(k)
        self.assertEqual(a, b)


class BadInputTest(Tmp):
    def assert_one_line_error(self, r, *needles):
        self.assertEqual(r.returncode, 2, "stdout=%r stderr=%r" % (r.stdout, r.stderr))
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertTrue(lines[0].startswith("driftwatch: "), lines[0])
        for n in needles:
            self.assertIn(n, lines[0])

    def build(self, src, *extra):
        out = self.path("out.json")
        r = run("reference", "build", "--input", src, "--output", out, *extra)
        if r.returncode != 0:
            self.assertFalse(os.path.exists(out), "no output on error")
            self.assertEqual([f for f in os.listdir(self.dir) if ".tmp." in f], [])
        return r

    def test_missing_file(self):
        p = self.path("nope.csv")
        self.assert_one_line_error(self.build(p), p, "cannot open")

    def test_malformed_csv_row(self):
        p = self.path("bad.csv", 'a,b\n1,2\n"x\ny",3\n4\n')
        self.assert_one_line_error(self.build(p), p + ":5:", "expected 2 fields", "found 1")

    def test_unterminated_quote(self):
        p = self.path("q.csv", 'a,b\n1,"open\n2,3\n')
        self.assert_one_line_error(self.build(p), p + ":", "not closed")

    def test_text_in_forced_numeric_column(self):
        p = self.path("t.csv", "a,b\n1,x\n2,y\nabc,z\n")
        self.assert_one_line_error(self.build(p, "--numeric", "a"), p + ":4:", 'column "a"',
                                   "not a number")

    def test_malformed_jsonl(self):
        p = self.path("t.jsonl", '{"a": 1}\n{"a": 2\n')
        self.assert_one_line_error(self.build(p), p + ":2:", "malformed JSON")

    def test_empty_inputs(self):
        for name, content, msg in (("e.csv", "", "empty input"),
                                   ("h.csv", "a,b\n", "no data rows"),
                                   ("e.jsonl", "", "no data rows")):
            p = self.path(name, content)
            self.assert_one_line_error(self.build(p), p, msg)
        r = run("reference", "build", "--input", "-", "--format", "csv", "--output",
                self.path("o.json"), stdin="")
        self.assert_one_line_error(r, "<stdin>", "empty input")

    def test_unknown_column_and_usage(self):
        p = self.path("t.csv", "a\n1\n")
        self.assert_one_line_error(self.build(p, "--columns", "zz"), p, '"zz"', "not in the input")
        self.assert_one_line_error(run("reference", "build", "--input", p), "--output")
        self.assert_one_line_error(self.build(p, "--bins", "0"), "--bins")
        self.assert_one_line_error(self.build(p, "--format", "xml"), "--format")
        self.assert_one_line_error(self.build(self.path("t.txt", "a\n1\n")), "--format")
        self.assert_one_line_error(run("reference", "frobnicate"), "frobnicate")

    def good_reference(self):
        src = self.path("t.csv", "x,c\n1,a\n2,b\n3,a\n4,a\n")
        ref = self.path("ref.json")
        r = run("reference", "build", "-i", src, "-o", ref)
        self.assertEqual(r.returncode, 0, r.stderr)
        return src, ref, open(ref, encoding="utf-8").read()

    def test_truncated_reference(self):
        src, ref, text = self.good_reference()
        with open(ref, "w", encoding="utf-8") as f:
            f.write(text[: len(text) // 2])
        r = run("check", "--reference", ref, src)
        self.assert_one_line_error(r, ref, "not valid JSON")

    def test_tampered_reference(self):
        src, ref, text = self.good_reference()
        doc = json.loads(text)
        doc["columns"][1]["categories"][0]["count"] += 1  # counts no longer add up
        with open(ref, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        self.assert_one_line_error(run("check", "--reference", ref, src), ref, 'column "c"',
                                   "sum to 5 but count is 4")
        # A change that keeps the structure valid is caught by the checksum.
        doc = json.loads(text)
        doc["model"] = "someone-else"
        with open(ref, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        self.assert_one_line_error(run("check", "--reference", ref, src), ref,
                                   "checksum mismatch")


if __name__ == "__main__":
    DW = os.path.abspath(sys.argv[1])
    mode = sys.argv[2] if len(sys.argv) > 2 else "all"
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    if mode == "all":
        suite.addTests(loader.loadTestsFromTestCase(BuildTest))
    suite.addTests(loader.loadTestsFromTestCase(BadInputTest))
    h.main(lambda: 0 if unittest.TextTestRunner(verbosity=2).run(suite).wasSuccessful() else 1)

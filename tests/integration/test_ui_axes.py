#!/usr/bin/python3
"""/ui in headless Chromium (issue 12, item 9): `driftwatch replay --http`
reads records from a pipe (so it keeps serving) whose serving data moved so
far that the p-values underflow to 0, then the page rendered by Chromium is
checked:

* every histogram has a y axis (0 %, half, top, as shares) and x labels
  that are the status document's bin labels whole (no ellipsis), rotated
  so that each fits inside the chart (estimated at 0.6 em per character);
* the PSI sparkline has a time axis: the first and last evaluation times
  (HH:MM UTC) of psi_history;
* p-values that underflowed (0 in /api/v1/status) read "< 1e-300", not 0;
* the page stays self-contained (no script, nothing loaded from elsewhere).
A screenshot goes to ARTIFACT_DIR/ui-axes.png.

usage: test_ui_axes.py DRIFTWATCH ARTIFACT_DIR"""

import html.parser
import json
import math
import os
import random
import re
import subprocess
import time
import unittest

import harness as h

DW = ARTIFACTS = None
CHROMIUM = "/usr/bin/chromium"
ROOT = h.ROOT
REF = os.path.join(ROOT, "reference_stats", "fraud.json")


class Page(html.parser.HTMLParser):
    """Charts (svg[data-column]) with their x/y tick texts, sparkline time
    ticks and the statistics table cells, from a DOM dump."""

    def __init__(self):
        super().__init__()
        self.charts = {}      # column -> {"viewbox", "xticks": [(attrs, text)], "yticks": [...]}
        self.sparks = []      # [[tick text, ...], ...] in page order
        self.cells = []       # (column, row name, value text)
        self.scripts = 0
        self._chart = self._text = self._spark = self._card_col = self._td = None
        self._row = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "svg" and "data-column" in a:
            self._card_col = a["data-column"]
            self._chart = self.charts.setdefault(a["data-column"], {
                "viewbox": [float(v) for v in a["viewbox"].split()], "xticks": [], "yticks": []})
        elif tag == "svg" and a.get("class") == "spark":
            self._spark = []
            self.sparks.append(self._spark)
        elif tag == "text" and a.get("class") in ("xtick", "ytick", "ttick"):
            self._text = (a, [])
        elif tag == "td":
            self._td = []
        elif tag == "tr":
            self._row = []

    def handle_data(self, data):
        if self._text is not None:
            self._text[1].append(data)
        if self._td is not None:
            self._td.append(data)

    def handle_endtag(self, tag):
        if tag == "text" and self._text is not None:
            a, parts = self._text
            t = "".join(parts)
            if a["class"] == "ttick" and self._spark is not None:
                self._spark.append(t)
            elif self._chart is not None:
                self._chart[a["class"] + "s"].append((a, t))
            self._text = None
        elif tag == "svg":
            self._chart = None
            if self._spark is not None:
                self._spark = None
        elif tag == "td" and self._td is not None:
            self._row.append("".join(self._td))
            self._td = None
        elif tag == "tr" and len(self._row) == 2:
            self.cells.append((self._card_col, self._row[0], self._row[1]))


read = h.read


def chromium(args, profile):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--hide-scrollbars", "--user-data-dir=" + profile] + args
    return h.run(cmd, timeout=90)


def records(n, t0=1795500000000):
    """Serving records 1/s: amount 100x the training scale, every country
    'BR': KS and chi-squared p-values underflow to 0."""
    rng = random.Random(7)
    for i in range(n):
        yield json.dumps({
            "ts": t0 + 1000 * i, "model": "fraud", "model_version": "v3",
            "features": {"amount": round(rng.lognormvariate(3.5, 0.8) * 100, 2),
                         "age": rng.randint(18, 90), "tenure_days": round(rng.uniform(1, 900), 1),
                         "n_items": rng.randint(1, 6), "country": "BR",
                         "device": rng.choice(["ios", "android", "web"])},
            "prediction": {"score": round(rng.random() * 0.5, 4), "label": "ok"},
            "latency_ms": round(rng.uniform(5, 20), 1)})


class UiAxes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = h.workdir("dw-ui-")
        cfg = os.path.join(cls.work, "c.yaml")
        with open(cfg, "w") as f:
            f.write("""kafka: {brokers: "127.0.0.1:1", topics: [logs], group_id: ui}
models: [{name: fraud, reference: %s}]
windows: [{name: 30m, length: 30m, slide: 1m}]
records: {fields: [latency_ms]}
sinks: []
http: {listen: "127.0.0.1:0"}
state_dir: %s
""" % (REF, cls.work))
        pf = os.path.join(cls.work, "port")
        cls.proc = h.spawn([DW, "replay", "-c", cfg, "--http", "-"], "ui-replay",
                           env=dict(os.environ, DW_HTTP_PORT_FILE=pf), stdin=subprocess.PIPE,
                           text=True)
        # 45 minutes of event time: the 30m window fills and is evaluated
        # every minute, so psi_history spans 15 evaluations. The status
        # snapshot is republished at most once a second, after an
        # evaluation: the last minute goes in after a pause, so the page
        # shows all of them.
        recs = list(records(46 * 60))
        cls.proc.stdin.write("\n".join(recs[:45 * 60]) + "\n")
        cls.proc.stdin.flush()
        cls.base = "http://127.0.0.1:%d" % int(h.wait_for(lambda: read(pf).strip(), 60,
                                                          "the HTTP port file"))
        time.sleep(1.5)
        cls.proc.stdin.write("\n".join(recs[45 * 60:]) + "\n")
        cls.proc.stdin.flush()

        def filled():
            st = h.status(cls.base)
            cols = st["models"][0]["columns"] if st.get("models") else []
            return cols and all(len(c["windows"]["30m"].get("psi_history", [])) >= 10
                                for c in cols)
        h.wait_for(filled, 60, "psi_history of 10 evaluations in every column", 0.2)
        cls.status = h.status(cls.base)
        profile = os.path.join(cls.work, "chromium")
        r = chromium(["--dump-dom", cls.base + "/ui"], profile)
        h.check(r.returncode == 0, r.stderr[-2000:])
        cls.page = Page()
        cls.page.feed(r.stdout)
        os.makedirs(ARTIFACTS, exist_ok=True)
        shot = os.path.join(ARTIFACTS, "ui-axes.png")
        r = chromium(["--window-size=1400,1600", "--screenshot=" + shot, cls.base + "/ui"],
                     profile)
        h.check(r.returncode == 0, r.stderr[-2000:])

    @classmethod
    def tearDownClass(cls):
        # At the end of its input replay exits by itself.
        cls.proc.stdin.close()
        cls.proc.wait(h.remaining(60))

    def columns(self):
        return {c["name"]: c["windows"]["30m"] for c in self.status["models"][0]["columns"]}

    def test_one_chart_per_column_and_nothing_external(self):
        self.assertEqual(sorted(self.page.charts), sorted(self.columns()))
        self.assertEqual(self.page.scripts, 0)

    def test_y_axis_shows_shares_from_zero_to_the_top(self):
        for col, w in self.columns().items():
            h = w["histogram"]
            top = max(h["reference"] + h["current"])
            ticks = [t for _, t in self.page.charts[col]["yticks"]]
            self.assertEqual(len(ticks), 3, col)
            self.assertEqual(ticks[0], "0%")
            want = ("%.0f%%" if top >= 0.1 else "%.1f%%") % (100 * top)
            self.assertEqual(ticks[2], want, col)

    def test_x_labels_are_whole_and_fit_the_chart(self):
        for col, w in self.columns().items():
            labels = w["histogram"]["labels"]
            chart = self.page.charts[col]
            _, _, vw, vh = chart["viewbox"]
            shown = chart["xticks"]
            self.assertGreaterEqual(len(shown), min(len(labels), 6), col)
            self.assertEqual(shown[0][1], labels[0])
            self.assertEqual(shown[-1][1], labels[-1])
            for a, text in shown:
                self.assertIn(text, labels, col)
                self.assertNotIn("\u2026", text)
                x, y, size = float(a["x"]), float(a["y"]), float(a["font-size"])
                ang = math.radians(float(re.match(r"rotate\(-([\d.]+)", a["transform"]).group(1)))
                width = 0.6 * size * len(text)
                # anchored at its end and rotated counter-clockwise: the text
                # runs left and down from (x, y)
                self.assertGreaterEqual(x - width * math.cos(ang) - size * math.sin(ang), 0,
                                        (col, text))
                self.assertLessEqual(y + width * math.sin(ang) + size, vh, (col, text))
                self.assertLessEqual(x, vw)

    def test_sparkline_has_a_time_axis(self):
        cols = list(self.columns().values())
        self.assertEqual(len(self.page.sparks), len(cols))
        for w, ticks in zip(cols, self.page.sparks):
            hist = w["psi_history"]
            self.assertGreaterEqual(len(hist), 10)
            self.assertEqual(ticks, [hist[0]["at"][11:16], hist[-1]["at"][11:16] + " UTC"])

    def test_underflowing_p_values_read_below_1e_300(self):
        cols = self.columns()
        zero = [n for n, w in cols.items()
                for t in ("ks", "chi2") if w["tests"].get(t, {}).get("p_value") == 0]
        self.assertIn("features.amount", zero)
        self.assertIn("features.country", zero)
        for col in zero:
            cells = {r: v for c, r, v in self.page.cells if c == col}
            p = cells.get("KS p", cells.get("\u03c7\u00b2 p"))
            self.assertEqual(p, "< 1e-300", (col, cells))
        # A p-value that did not underflow is still a number.
        calm = [(n, w["tests"]["ks"]["p_value"]) for n, w in cols.items()
                if w["tests"].get("ks", {}).get("p_value", 0) > 1e-3]
        self.assertTrue(calm)
        for col, p in calm:
            cells = {r: v for c, r, v in self.page.cells if c == col}
            self.assertAlmostEqual(float(cells["KS p"]), p, delta=abs(p) * 0.01)


if __name__ == "__main__":
    if not os.access(CHROMIUM, os.X_OK):
        h.skip("%s not found (Debian package chromium)" % CHROMIUM)
    h.unittest_main(globals(), ["DW", "ARTIFACTS"])

#!/usr/bin/env python3
"""Regression (issue 10): out-of-range values and new categories are
quality signals in `driftwatch check`.

Before, 8 % of a column set to the sentinel -999 was not flagged at all
(docs/alerts.md promised out-of-range as a quality signal), and a new
category at 2 % was never flagged. The real binary builds the reference
and runs check --json on fixed seeds; the thresholds come from the
command line and from --column.

Usage: test_check_quality.py DRIFTWATCH
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("numpy not available: skipped")
    sys.exit(77)

DW = None
failures = 0


def check(ok, msg):
    global failures
    print("%s %s" % ("ok  " if ok else "FAIL", msg))
    failures += not ok


def write_csv(path, x, c):
    with open(path, "w", encoding="utf-8") as f:
        f.write("x,c\n")
        f.write("\n".join("%r,%s" % (float(a), b) for a, b in zip(x, c)))
        f.write("\n")


def run_check(ref, cur, *opts):
    out = subprocess.run([DW, "check", "--json", "--reference", ref] + list(opts) + [cur],
                         capture_output=True, text=True, timeout=120)
    if out.returncode not in (0, 1):
        print("check failed (%d): %s" % (out.returncode, out.stderr))
        sys.exit(1)
    cols = {c["name"]: c for c in json.loads(out.stdout)["columns"]}
    return out.returncode, cols


def main():
    global DW
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    DW = sys.argv[1]
    rng = np.random.default_rng(10)
    levels = np.array(["a", "b", "c", "d"])
    with tempfile.TemporaryDirectory(prefix="dw-quality-") as tmp:
        ref_csv, ref = os.path.join(tmp, "ref.csv"), os.path.join(tmp, "ref.json")
        write_csv(ref_csv, rng.normal(0, 1, 5000), rng.choice(levels, 5000))
        out = subprocess.run([DW, "reference", "build", "--input", ref_csv, "--output", ref],
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            print("reference build failed: %s" % out.stderr)
            return 1
        n = 10000
        x = rng.normal(0, 1, n)
        c = rng.choice(levels, n).astype(object)
        cur = os.path.join(tmp, "cur.csv")

        write_csv(cur, x, c)
        rc, cols = run_check(ref, cur)
        check(rc == 0 and not cols["x"]["quality_issue"] and not cols["c"]["quality_issue"],
              "no change: exit %d, no quality issue" % rc)

        sentinel = x.copy()
        sentinel[rng.permutation(n)[: n * 8 // 100]] = -999.0
        write_csv(cur, sentinel, c)
        rc, cols = run_check(ref, cur)
        check(rc == 1 and cols["x"]["quality_reasons"] == ["out_of_range"],
              "8%% sentinel -999: exit %d, reasons %s" % (rc, cols["x"]["quality_reasons"]))
        rc, cols = run_check(ref, cur, "--out-of-range-rate", "0.2")
        check(not cols["x"]["quality_issue"],
              "8%% sentinel with --out-of-range-rate 0.2: reasons %s"
              % cols["x"]["quality_reasons"])

        newcat = c.copy()
        newcat[rng.permutation(n)[: n * 2 // 100]] = "zz"
        write_csv(cur, x, newcat)
        rc, cols = run_check(ref, cur)
        check(rc == 1 and cols["c"]["quality_reasons"] == ["unseen"],
              "new category at 2%%: exit %d, reasons %s" % (rc, cols["c"]["quality_reasons"]))
        rc, cols = run_check(ref, cur, "--column", "c:unseen_rate=0.05")
        check(not cols["c"]["quality_issue"],
              "new category at 2%% with c:unseen_rate=0.05: reasons %s"
              % cols["c"]["quality_reasons"])
    if failures:
        print("FAILED: %d checks" % failures)
        return 1
    print("all quality checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

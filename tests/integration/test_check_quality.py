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
import os
import sys

import harness as h

np = h.need_module("numpy")

DW = None
check = h.Checks()


def write_csv(path, x, c):
    with open(path, "w", encoding="utf-8") as f:
        f.write("x,c\n")
        f.write("\n".join("%r,%s" % (float(a), b) for a, b in zip(x, c)))
        f.write("\n")


def run_check(ref, cur, *opts):
    rc, doc, _ = h.check_json(DW, ref, cur, *opts)
    return rc, {c["name"]: c for c in doc["columns"]}


def main():
    global DW
    DW, _ = h.args(sys.argv, __doc__, exact=True)
    rng = np.random.default_rng(10)
    levels = np.array(["a", "b", "c", "d"])
    tmp = h.workdir("dw-quality-")
    ref_csv, ref = os.path.join(tmp, "ref.csv"), os.path.join(tmp, "ref.json")
    write_csv(ref_csv, rng.normal(0, 1, 5000), rng.choice(levels, 5000))
    h.build_reference(DW, ref, ref_csv)
    n = 10000
    x = rng.normal(0, 1, n)
    c = rng.choice(levels, n).astype(object)
    cur = os.path.join(tmp, "cur.csv")

    write_csv(cur, x, c)
    rc, cols = run_check(ref, cur)
    check(rc == 0 and not cols["x"]["quality_issue"] and not cols["c"]["quality_issue"],
          "no change: exit %d, no quality issue" % rc)

    # A share of values of one column replaced: flagged with its reason at
    # the default threshold (exit 1), not flagged with a looser threshold
    # given on the command line or with --column.
    for label, col, percent, value, reason, looser in (
            ("8% sentinel -999", "x", 8, -999.0, "out_of_range", ["--out-of-range-rate", "0.2"]),
            ("new category at 2%", "c", 2, "zz", "unseen", ["--column", "c:unseen_rate=0.05"])):
        data = {"x": x.copy(), "c": c.copy()}
        data[col][rng.permutation(n)[: n * percent // 100]] = value
        write_csv(cur, data["x"], data["c"])
        rc, cols = run_check(ref, cur)
        check(rc == 1 and cols[col]["quality_reasons"] == [reason],
              "%s: exit %d, reasons %s" % (label, rc, cols[col]["quality_reasons"]))
        rc, cols = run_check(ref, cur, *looser)
        check(not cols[col]["quality_issue"], "%s with %s: reasons %s"
              % (label, " ".join(looser), cols[col]["quality_reasons"]))
    return check.status()

if __name__ == "__main__":
    h.main(main)

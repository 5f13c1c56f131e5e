#!/usr/bin/env python3
"""Regression (issue 10): `driftwatch check` on discrete columns whose
serving values move into the gaps between the training values.

Before gap bins, a value between two reference values was counted with the
next value up, so a Poisson column with half its values moved down by 0.5
showed KS D 0.01 where scipy's ks_2samp gives 0.1-0.2, and the drift was
missed. The real binary builds the reference and runs check; D must be
within 0.01 of scipy's (in fact equal) for moves down and up, on fixed
seeds, and the big downward move must be flagged.

Usage: test_check_discrete.py DRIFTWATCH
"""
import os
import sys

import harness as h

np = h.need_module("numpy")
stats = h.need_module("scipy.stats")

DW = None
D_ATOL = 0.01  # the bound; the gap bins make D exact


def write_csv(path, name, values):
    with open(path, "w", encoding="utf-8") as f:
        f.write(name + "\n")
        f.write("\n".join(repr(float(v)) for v in values))
        f.write("\n")


def main():
    global DW
    DW, _ = h.args(sys.argv, __doc__, exact=True)
    failures = 0
    tmp = h.workdir("dw-discrete-")
    for seed, lam in ((1, 4.0), (2, 1.0), (3, 12.0)):
        rng = np.random.default_rng(seed)
        ref = rng.poisson(lam, 20000).astype(float)
        ref_csv, ref_json = os.path.join(tmp, "ref.csv"), os.path.join(tmp, "ref.json")
        write_csv(ref_csv, "x", ref)
        h.build_reference(DW, ref_json, ref_csv)
        base = rng.poisson(lam, 3000).astype(float)
        half = rng.uniform(size=len(base)) < 0.5
        for label, cur in (
                ("same", base),
                ("half down 0.5", np.where(half, base - 0.5, base)),
                ("half up 0.5", np.where(half, base + 0.5, base)),
                ("all down 0.25", base - 0.25),
                ("half down 0.5, 150 values", np.where(half, base - 0.5, base)[:150])):
            cur_csv = os.path.join(tmp, "cur.csv")
            write_csv(cur_csv, "x", cur)
            col = h.check_json(DW, ref_json, cur_csv)[1]["columns"][0]
            d = col["ks"]["statistic"]
            want = float(stats.ks_2samp(ref, cur).statistic)
            ok = abs(d - want) <= D_ATOL
            # 3,000 values: a move scipy measures at D >= 0.15 is well
            # above the 0.1 threshold and the critical value (0.04), so
            # it must be flagged; no move must not be.
            if label == "same" and col["drift"]:
                ok = False
            if len(cur) == 3000 and want >= 0.15 and not col["drift"]:
                ok = False
            print("%s poisson(%g) %-26s D %.5f scipy %.5f drift %s"
                  % ("ok  " if ok else "FAIL", lam, label, d, want, col["drift"]))
            failures += not ok
    if failures:
        print("FAILED: %d cases" % failures)
        return 1
    print("all discrete cases within %.2g of scipy" % D_ATOL)
    return 0


if __name__ == "__main__":
    h.main(main)

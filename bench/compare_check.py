#!/usr/bin/python3
"""Checks that the Python peer did the same work as driftwatch, so the timing
comparison in bench_check.sh is fair:

    compare_check.py refs DW_REF.json PEER_REF.json
        edges and bin counts of every numeric column, category counts of
        every categorical column must be identical.
    compare_check.py check DW_CHECK.json PEER_CHECK.json
        per column: KS D equal to 1e-6 absolute (driftwatch prints 6
        decimals), p-values, PSI and chi-squared equal to 1e-6 relative,
        the same drift verdicts and new categories.

Prints one summary line; exit 0 when they agree, 1 otherwise."""

import json
import math
import sys


def close(a, b, rel=1e-6, absol=1e-12):
    return math.isclose(a, b, rel_tol=rel, abs_tol=absol)


def refs(a, b):
    bad = []
    cb = {c["name"]: c for c in b["columns"]}
    for c in a["columns"]:
        d = cb.get(c["name"])
        if d is None or d["type"] != c["type"]:
            bad.append(c["name"] + ": missing or other type")
        elif c["type"] == "numeric":
            if c["edges"] != d["edges"] or c["bin_counts"] != d["bin_counts"]:
                bad.append(c["name"] + ": edges or bin counts differ")
        elif {x["value"]: x["count"] for x in c["categories"]} != \
                {x["value"]: x["count"] for x in d["categories"]}:
            bad.append(c["name"] + ": category counts differ")
    return bad, len(a["columns"])


def checks(a, b):
    bad = []
    cb = {c["name"]: c for c in b["columns"]}
    for c in a["columns"]:
        d = cb.get(c["name"])
        n = c["name"]
        if d is None:
            bad.append(n + ": missing")
            continue
        if c["drift"] != d["drift"]:
            bad.append(n + ": verdict differs")
        if not close(c["psi"], d["psi"], absol=1e-9):
            bad.append("%s: PSI %r vs %r" % (n, c["psi"], d["psi"]))
        if not close(c["p_adjusted"], d["p_adjusted"], rel=1e-5, absol=1e-9):
            bad.append("%s: p_adjusted %r vs %r" % (n, c["p_adjusted"], d["p_adjusted"]))
        if "ks" in c:
            if abs(c["ks"]["statistic"] - d["ks"]["statistic"]) > 1e-6:
                bad.append("%s: KS D %r vs %r" % (n, c["ks"]["statistic"], d["ks"]["statistic"]))
            if not close(c["ks"]["p_value"], d["ks"]["p_value"], rel=1e-5, absol=1e-9):
                bad.append("%s: KS p %r vs %r" % (n, c["ks"]["p_value"], d["ks"]["p_value"]))
        if "chi2" in c:
            for k in ("statistic", "p_value"):
                if not close(c["chi2"][k], d["chi2"][k], absol=1e-9):
                    bad.append("%s: chi2 %s %r vs %r" % (n, k, c["chi2"][k], d["chi2"][k]))
            if c["chi2"]["df"] != d["chi2"]["df"]:
                bad.append(n + ": chi2 df differs")
            if sorted(c.get("new_categories", [])) != sorted(d.get("new_categories", [])):
                bad.append(n + ": new categories differ")
    if a["drift"] != b["drift"]:
        bad.append("overall verdict differs")
    return bad, len(a["columns"])


def main(argv):
    if len(argv) != 3 or argv[0] not in ("refs", "check"):
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1]) as f:
        a = json.load(f)
    with open(argv[2]) as f:
        b = json.load(f)
    bad, n = (refs if argv[0] == "refs" else checks)(a, b)
    if bad:
        print("peer and driftwatch DIFFER (%s, %d columns): %s" % (argv[0], n, "; ".join(bad[:10])))
        return 1
    print("peer and driftwatch agree (%s, %d columns)" % (argv[0], n))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

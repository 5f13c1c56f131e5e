#!/usr/bin/python3
"""Python peer of `driftwatch reference build` and `driftwatch check` for
bench_check.sh: the same work written the way a competent data engineer would
with numpy and scipy only (Debian's python3-numpy / python3-scipy, run with
/usr/bin/python3).

    peer_check.py build TRAIN.csv OUT.json
    peer_check.py check REF.json CUR.csv [--json]

build: reads the CSV (np.loadtxt, the C reader), and per column computes what
docs/reference-format.md describes: numeric min/max/mean/std and a 1000-bin
histogram whose upper edges are the training values at ranks ceil(i*n/1000)
(one bin per distinct value when there are at most 1000), right-closed bins;
categorical value counts. Written as JSON (the same member names as a
driftwatch reference, no checksum).

check: reads the reference and the CSV, bins the current values with the
reference edges, and computes per column what docs/statistics.md describes:
KS D over the bin edges with the Stephens-corrected Kolmogorov p-value
(scipy.special.kolmogorov), PSI over 10 equal-frequency reference buckets or
the categories (half-count smoothing), scipy.stats.chi2_contingency
(correction=False) for categorical columns, Benjamini-Hochberg across
columns, and the drift decision with the default thresholds. Exit 1 on
drift, as driftwatch.

Simplifications (documented so the comparison stays honest): column types
are inferred from the first 1000 data rows, not every cell; no missing-value
handling (the benchmark data has none); no data-quality verdicts."""

import csv
import json
import math
import sys

import numpy as np
from scipy import special, stats

BINS = 1000
PSI_BUCKETS = 10
ALPHA, PSI_T, KS_T, MIN_SAMPLES = 0.01, 0.2, 0.1, 100


def read_csv(path):
    """Returns (names, {name: float64 array or str array}, numeric names)."""
    with open(path, newline="") as f:
        r = csv.reader(f)
        names = next(r)
        head = [row for _, row in zip(range(1000), r)]
    numeric = []
    for i in range(len(names)):
        try:
            for row in head:
                float(row[i])
            numeric.append(i)
        except ValueError:
            pass
    cat = [i for i in range(len(names)) if i not in numeric]
    data = {}
    if numeric:
        a = np.loadtxt(path, delimiter=",", skiprows=1, usecols=numeric, ndmin=2)
        for k, i in enumerate(numeric):
            data[names[i]] = a[:, k]
    if cat:
        a = np.loadtxt(path, delimiter=",", skiprows=1, usecols=cat, dtype=str, ndmin=2,
                       comments=None)
        for k, i in enumerate(cat):
            data[names[i]] = a[:, k]
    return names, data, {names[i] for i in numeric}


def bin_index(edges, x):
    """Right-closed bins: -1 underflow, nbins overflow, else the bin."""
    idx = np.searchsorted(edges[1:], x, side="left")
    return np.where(x < edges[0], -1, idx)


def build(train, out):
    names, data, numeric = read_csv(train)
    cols = []
    for name in names:
        x = data[name]
        if name in numeric:
            s = np.sort(x)
            n = len(s)
            uniq = np.unique(s)
            if len(uniq) <= BINS:
                edges = np.concatenate([[s[0]], uniq])
            else:
                ranks = -(-np.arange(1, BINS + 1) * n // BINS)  # ceil(i*n/B), 1-based
                edges = np.concatenate([[s[0]], np.unique(s[ranks - 1])])
            nb = len(edges) - 1
            counts = np.bincount(bin_index(edges, x), minlength=nb)
            cols.append({"name": name, "type": "numeric", "count": n, "missing": 0,
                         "min": float(s[0]), "max": float(s[-1]), "mean": float(x.mean()),
                         "std": float(x.std(ddof=1)) if n > 1 else 0.0, "nbins": nb,
                         "edges": edges.tolist(), "bin_counts": counts.tolist()})
        else:
            vals, counts = np.unique(x, return_counts=True)
            order = np.lexsort((vals, -counts))
            cols.append({"name": name, "type": "categorical", "count": len(x), "missing": 0,
                         "categories": [{"value": str(vals[i]), "count": int(counts[i])}
                                        for i in order[:100]],
                         "other_count": int(counts[order[100:]].sum())})
    with open(out, "w") as f:
        json.dump({"format": "peer-reference", "rows": len(data[names[0]]), "columns": cols}, f)


def psi(r, c):
    r = np.asarray(r, dtype=float)
    c = np.asarray(c, dtype=float)
    k = len(r)
    p = (r + 0.5) / (r.sum() + 0.5 * k)
    q = (c + 0.5) / (c.sum() + 0.5 * k)
    return float(np.sum((q - p) * np.log(q / p)))


def numeric_stats(col, x):
    edges = np.array(col["edges"])
    ref = np.array(col["bin_counts"], dtype=np.int64)
    nb = len(ref)
    idx = bin_index(edges, x)
    cnt = np.bincount(idx + 1, minlength=nb + 2)  # [under, bins..., over]
    under, cur, over = cnt[0], cnt[1:nb + 1], cnt[nb + 1]
    n, m = int(ref.sum()), len(x)
    f_ref = np.concatenate([[0.0], np.cumsum(ref) / n])
    f_cur = np.concatenate([[under], under + np.cumsum(cur)]) / m
    d = float(np.max(np.abs(f_ref - f_cur)))
    ne = n * m / (n + m)
    lam = (math.sqrt(ne) + 0.12 + 0.11 / math.sqrt(ne)) * d
    p = float(special.kolmogorov(lam))
    # 10 equal-frequency buckets from whole fine bins (docs/statistics.md).
    before = np.concatenate([[0], np.cumsum(ref)[:-1]])
    g = np.minimum(PSI_BUCKETS - 1, PSI_BUCKETS * before // n)
    last = np.nonzero(ref)[0][-1]
    g[last + 1:] = g[last]
    _, bucket = np.unique(g, return_inverse=True)
    k = bucket.max() + 1
    rb = np.bincount(bucket, weights=ref, minlength=k)
    cb = np.bincount(bucket, weights=cur, minlength=k)
    cb[0] += under
    cb[-1] += over
    return {"ks": {"statistic": d, "p_value": p}, "psi": psi(rb, cb)}, p


def categorical_stats(col, x):
    listed = [c["value"] for c in col["categories"]]
    rc = [c["count"] for c in col["categories"]]
    vals, counts = np.unique(x, return_counts=True)
    cur = dict(zip(vals.tolist(), counts.tolist()))
    cc = [cur.pop(v, 0) for v in listed]
    unseen = cur  # what is left
    new = sorted(unseen)
    if col["other_count"] > 0:
        rp, cp = rc + [col["other_count"]], cc + [sum(unseen.values())]
        rt, ct = rp, cp
    else:
        u = sum(unseen.values())
        rp, cp = (rc + [0], cc + [u]) if u else (rc, cc)
        rt, ct = rc + [0] * len(new), cc + [unseen[v] for v in new]
    table = np.array([rt, ct])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        chi = {"statistic": 0.0, "df": 0, "p_value": 1.0}
    else:
        s, p, df, _ = stats.chi2_contingency(table, correction=False)
        chi = {"statistic": float(s), "df": int(df), "p_value": float(p)}
    return {"psi": psi(rp, cp), "chi2": chi, "new_categories": new}, chi["p_value"]


def bh(pvals):
    p = np.asarray(pvals, dtype=float)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p)
    adj = p[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(adj[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def check(ref_path, cur_path, as_json):
    with open(ref_path) as f:
        ref = json.load(f)
    names, data, numeric = read_csv(cur_path)
    results, praw = [], []
    for col in ref["columns"]:
        x = data[col["name"]]
        if col["type"] == "numeric":
            r, p = numeric_stats(col, x.astype(float))
        else:
            r, p = categorical_stats(col, x.astype(str))
        r.update({"name": col["name"], "type": col["type"], "count": len(x), "missing": 0})
        results.append(r)
        praw.append(p)
    fam = [i for i, r in enumerate(results) if r["count"] >= MIN_SAMPLES]
    padj = np.ones(len(results))
    padj[fam] = bh([praw[i] for i in fam])
    for r, pa in zip(results, padj):
        effect = r["psi"] >= PSI_T or (r["type"] == "numeric" and r["ks"]["statistic"] >= KS_T)
        r["p_adjusted"] = float(pa)
        r["drift"] = bool(r["count"] >= MIN_SAMPLES and pa < ALPHA and effect)
    drift = any(r["drift"] for r in results)
    if as_json:
        json.dump({"drift": drift, "columns": results}, sys.stdout, indent=1)
        print()
    else:
        for r in results:
            ks = r.get("ks", {"statistic": float("nan"), "p_value": float("nan")})
            print("%s %-8s %-12s %8d  D=%.4f p=%.3g  PSI=%.4f  %s" %
                  ("*" if r["drift"] else " ", r["name"], r["type"], r["count"],
                   ks["statistic"], ks["p_value"], r["psi"], "DRIFT" if r["drift"] else "ok"))
    return 1 if drift else 0


def main(argv):
    if len(argv) >= 3 and argv[0] == "build":
        build(argv[1], argv[2])
        return 0
    if len(argv) >= 3 and argv[0] == "check":
        return check(argv[1], argv[2], "--json" in argv[3:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

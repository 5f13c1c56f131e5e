#!/usr/bin/python3
"""End-to-end oracle test of `driftwatch check` against scipy/numpy.

usage: test_check_oracle.py DRIFTWATCH

tests/oracle/ checks the statistics modules one by one through a C driver;
this test checks what a user gets: raw training data and raw serving samples
are written to CSV, the real binary runs `reference build` and
`check --json`, and every reported number is compared with an independent
computation on the raw values (fixed seeds):

* KS D against scipy.stats.ks_2samp(raw_ref, raw_cur).statistic;
* the KS p-value against ks_2samp's p-value (decisions at 0.01 and 0.05, and
  the size of the difference, see the tolerances below);
* chi2 statistic, df and p against scipy.stats.chi2_contingency(table,
  correction=False), table = reference vs current counts over the union of
  categories (one category only in the reference, two only in the current
  data);
* PSI against a numpy implementation of docs/statistics.md, with the fine
  bins recomputed from the raw training values by the documented bin rule;
* p_adjusted against Benjamini-Hochberg over the columns with enough samples,
  and every drift flag against the documented decision rule.

Edge cases: identical samples (the training file itself), a constant column,
heavy ties, small integers, a discrete column with 4 values, a zero-inflated
column, empty bins, current samples of size 1 and 10, and size 0 (a column
whose cells are all empty, and a column absent from the file). Exits 1 after
printing every mismatch.
"""
import math
import os
import sys

import numpy as np
from scipy import special, stats

import harness as h

# Tolerances, with their reasons:
# KS D from 1000 fine reference bins against the raw-sample statistic: the
#   binning error is at most the largest reference bin mass (docs/statistics.md
#   "Binning error bound"), about 1/1000 here; the task allows 0.002.
KS_D_ATOL = 0.002
# KS p-value: driftwatch uses the asymptotic Kolmogorov distribution with
#   Stephens' correction, ks_2samp (reference > 10000 rows: its 'asymp' mode)
#   kstwo.sf(D, round(n_eff)). docs/statistics.md measures at most 3.5%
#   between the two at the same D for n_eff >= 100 where p > 1e-6; 5% allowed.
KS_P_RTOL = 0.05
KS_P_FLOOR = 1e-6
KS_P_MIN_NEFF = 100
# Against ks_2samp's p on the raw samples the binned D differs from the raw D
#   by up to the bin mass, and near the tail a small change of D moves p by a
#   large factor (d ln p / dD ~ -4 n_eff D). So the raw comparison allows, in
#   addition, the p-value range that D_raw - KS_D_ATOL .. D_raw spans.
# chi2 statistic and p-value: the task requires 1e-9 relative. The JSON
#   document prints reals with 10 significant digits (a rounding of at most
#   5e-10 relative), so this checks the printed value end to end.
CHI2_RTOL = 1e-9
# PSI: the same sum in another order, then printed to 10 significant digits.
PSI_RTOL = 1e-9
PSI_ATOL = 1e-12
# p_adjusted: one multiply and divide per value, printed to 10 digits.
BH_RTOL = 1e-9

# Defaults of `driftwatch check` (docs/statistics.md "Defaults and why").
ALPHA, PSI_T, KS_T, MIN_SAMPLES = 0.01, 0.2, 0.1, 100
BINS = 1000
PSI_BUCKETS = 10
N_REF = 20000

NUMERIC = ["normal", "lognormal", "ties", "smallint", "constant", "discrete", "zeroinfl"]
CATEGORICAL = ["cat"]
COLUMNS = NUMERIC + CATEGORICAL
REF_CATS = ["a", "b", "c", "d", "e", "gone"]
REF_CAT_P = [0.3, 0.25, 0.2, 0.15, 0.08, 0.02]

DW = None
failures = []
checks = 0


def check(ok, msg):
    global checks
    checks += 1
    if not ok:
        failures.append(msg)
        print("MISMATCH: " + msg)


def rel_close(got, want, rtol, atol=0.0):
    return abs(got - want) <= max(atol, rtol * abs(want))


# ------------------------------------------------------------- data ----

def draw(rng, n, shifted):
    """One sample of every column; NaN marks a missing value, None in 'cat'."""
    s = 1.0 if shifted else 0.0
    d = {}
    d["normal"] = rng.normal(10.0 + 0.6 * s, 2.0, n)
    d["lognormal"] = rng.lognormal(3.0 + 0.2 * s, 0.8, n)
    # Rounded to 0.1: more than BINS distinct values, so quantile bins, with
    # heavy ties (many training values share each edge).
    d["ties"] = np.round(rng.lognormal(2.0 + 0.3 * s, 1.0, n), 1)
    d["smallint"] = rng.poisson(3.0 + 0.5 * s, n).astype(float)
    if shifted:
        # Values on both sides of the training constant: under- and overflow.
        d["constant"] = rng.choice([6.0, 7.0, 8.0], n, p=[0.1, 0.8, 0.1])
    else:
        d["constant"] = np.full(n, 7.0)
    d["discrete"] = rng.choice([0.0, 1.0, 2.5, 10.0], n,
                               p=[0.3, 0.3, 0.25, 0.15] if shifted else [0.4, 0.3, 0.2, 0.1])
    zero_share = 0.45 if shifted else 0.6
    d["zeroinfl"] = np.where(rng.random(n) < zero_share, 0.0, rng.lognormal(1.0, 1.0, n))
    if shifted:
        # "gone" only in the reference, "new1"/"new2" only in the current data.
        d["cat"] = rng.choice(["a", "b", "c", "d", "e", "new1", "new2"], n,
                              p=[0.25, 0.25, 0.2, 0.15, 0.05, 0.07, 0.03]).astype(object)
    else:
        d["cat"] = rng.choice(REF_CATS, n, p=REF_CAT_P).astype(object)
    # A few missing values in one numeric and the categorical column.
    d["normal"][rng.random(n) < 0.01] = np.nan
    d["cat"][rng.random(n) < 0.01] = None
    return d


def write_csv(path, data, columns):
    n = len(data[columns[0]]) if columns else 0
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(",".join(columns) + "\n")
        for i in range(n):
            cells = []
            for c in columns:
                v = data[c][i]
                if v is None or (isinstance(v, float) and math.isnan(v)):
                    cells.append("")
                elif isinstance(v, str):
                    cells.append(v)
                else:
                    cells.append(repr(float(v)))  # round-trips exactly
            f.write(",".join(cells) + "\n")


def raw_numeric(x):
    x = np.asarray(x, dtype=float)
    return x[~np.isnan(x)]


def raw_categorical(x):
    return [v for v in x if v is not None]


# ------------------------------------------------------- independent ----

def documented_edges(values):
    """The reference-build bin rule of docs/statistics.md, from raw values."""
    v = np.sort(values)
    n = len(v)
    distinct = np.unique(v)
    if len(distinct) <= BINS:
        # A point bin per value and a gap bin (upper edge: the largest
        # double below the next value) between neighbours.
        below = np.nextafter(distinct[1:], -np.inf)
        gaps = [[b, x] if b > p else [x] for p, b, x in zip(distinct[:-1], below, distinct[1:])]
        return np.array([v[0], v[0]] + [e for g in gaps for e in g])
    ranks = [(i * n + BINS - 1) // BINS for i in range(1, BINS + 1)]  # ceil(i n / B)
    upper = []
    for r in ranks:
        x = v[r - 1]
        if not upper or x > upper[-1]:
            upper.append(x)
    return np.concatenate([[v[0]], upper])


def fine_counts(edges, x):
    """Right-closed fine bins: (underflow, counts[nbins], overflow)."""
    x = np.asarray(x, dtype=float)
    under = int(np.sum(x < edges[0]))
    over = int(np.sum(x > edges[-1]))
    inside = x[(x >= edges[0]) & (x <= edges[-1])]
    idx = np.searchsorted(edges[1:], inside, side="left")
    return under, np.bincount(idx, minlength=len(edges) - 1), over


def psi_formula(r, c):
    """PSI with the documented half-count smoothing; 0 when current is empty."""
    r = np.asarray(r, dtype=float)
    c = np.asarray(c, dtype=float)
    if c.sum() == 0:
        return 0.0
    k = len(r)
    p = (r + 0.5) / (r.sum() + 0.5 * k)
    q = (c + 0.5) / (c.sum() + 0.5 * k)
    return float(np.sum((q - p) * np.log(q / p)))


def numeric_psi(ref_counts, under, cur_counts, over):
    ref_counts = np.asarray(ref_counts, dtype=np.int64)
    total = int(ref_counts.sum())
    before = np.concatenate([[0], np.cumsum(ref_counts)[:-1]])
    gid = np.minimum(PSI_BUCKETS - 1, (PSI_BUCKETS * before) // total)
    last = int(np.nonzero(ref_counts)[0][-1])
    gid[last + 1:] = gid[last]  # empty trailing fine bins join the last bucket
    rb, cb = [], []
    for i in range(len(ref_counts)):
        if i == 0 or gid[i] != gid[i - 1]:
            rb.append(0)
            cb.append(0)
        rb[-1] += int(ref_counts[i])
        cb[-1] += int(cur_counts[i])
    cb[0] += under
    cb[-1] += over
    return psi_formula(rb, cb), len(rb)


def categorical_stats(ref_vals, cur_vals):
    """chi2 (statistic, df, p) and PSI over the union of categories, as in
    docs/statistics.md for a reference without an "other" count."""
    ref_cats, ref_n = np.unique(ref_vals, return_counts=True)
    rc = dict(zip(ref_cats.tolist(), ref_n.tolist()))
    cc = {}
    for v in cur_vals:
        cc[v] = cc.get(v, 0) + 1
    union = sorted(set(rc) | set(cc))
    table = np.array([[rc.get(k, 0) for k in union], [cc.get(k, 0) for k in union]])
    table = pool_sparse(table[:, table.sum(axis=0) > 0])
    if len(cur_vals) == 0 or table.shape[1] < 2:
        chi = (0.0, 0, 1.0)
    else:
        res = stats.chi2_contingency(table, correction=False)
        chi = (float(res[0]), int(res[2]), float(res[1]))
    # PSI buckets: the listed categories, then one bucket for all unseen.
    listed = sorted(rc)
    r = [rc[k] for k in listed]
    c = [cc.get(k, 0) for k in listed]
    unseen = sum(n for k, n in cc.items() if k not in rc)
    if unseen:
        r.append(0)
        c.append(unseen)
    new = sorted((k for k in cc if k not in rc), key=lambda k: (-cc[k], k))
    return chi, psi_formula(r, c), new, len(r)


def pool_sparse(table, min_expected=5):
    """chi2.h: columns whose smaller expected count min(A, B)(a + b)/(A + B)
    is below 5 form one pooled column, which, if still below 5, also takes
    the kept column with the smallest expected count."""
    A, B = table.sum(axis=1)
    if A == 0 or B == 0:
        return table
    e = min(A, B) * table.sum(axis=0) / (A + B)
    small = e < min_expected
    kept, pool = table[:, ~small], table[:, small].sum(axis=1)
    if pool.sum() == 0:
        return kept
    if min(A, B) * pool.sum() / (A + B) < min_expected and kept.shape[1]:
        j = int(np.argmin(kept.sum(axis=0)))
        pool = pool + kept[:, j]
        kept = np.delete(kept, j, axis=1)
    return np.column_stack([kept, pool])


def critical_values(n, m, k, alpha=ALPHA):
    """docs/statistics.md: the D and PSI that sampling noise of the window
    (m values) plus the fixed reference (n) reach with probability alpha."""
    if n == 0 or m == 0:
        return 0.0, 0.0
    ks = special.kolmogi(alpha) * (1 / math.sqrt(m) + 1 / math.sqrt(n))
    psi = 0.0
    if k >= 2:
        q = stats.chi2.isf(alpha, k - 1)
        psi = (math.sqrt(q / m) + math.sqrt(q / n)) ** 2
    return ks, psi


def bh(pvals):
    """Benjamini-Hochberg adjusted p-values from the definition: p's is the
    smallest min(1, p_j * m / rank_j) over the p_j >= p (rank_j: p_j's
    1-based place in ascending order; tied values get the same result)."""
    ranked = sorted(float(v) for v in pvals)
    m = len(ranked)
    step = [min(1.0, ranked[j] * m / (j + 1)) for j in range(m)]
    return [min(step[ranked.index(float(v)):]) for v in pvals]


# ------------------------------------------------------------ runner ----

def check_json(ref_path, cur_path):
    rc, doc, err = h.check_json(DW, ref_path, cur_path)
    # Nothing on stderr on success (this also catches sanitizer reports,
    # which exit 1 like a drift verdict).
    check(err == "", "%s: stderr: %s" % (cur_path, err.strip()[:2000]))
    want_status = 1 if doc["drifted_columns"] or doc["quality_issues"] else 0
    check(rc == want_status, "%s: exit status %d, document says drift=%d quality=%d"
          % (cur_path, rc, doc["drifted_columns"], doc["quality_issues"]))
    return doc


def ks_p_consistent(label, p, d, d_raw, n, m, p_scipy):
    """The KS p-value checks (see the tolerances at the top)."""
    n_eff = n * m / (n + m)
    ne = max(1, round(n_eff))
    # 1. The decision at 0.01 and 0.05 agrees with ks_2samp, unless the raw p
    #    lies within the band the documented binning error of D allows.
    lo = float(stats.kstwo.sf(d_raw, ne))
    hi = float(stats.kstwo.sf(max(0.0, d_raw - KS_D_ATOL), ne))
    for a in (0.01, 0.05):
        agree = (p < a) == (p_scipy < a)
        near = lo / (1 + KS_P_RTOL) <= a <= hi * (1 + KS_P_RTOL)
        check(agree or near, "%s: KS decision at %g differs: p %.6g, ks_2samp %.6g"
              % (label, a, p, p_scipy))
    if n_eff < KS_P_MIN_NEFF:
        return "n_eff %.1f: decision only" % n_eff
    # 2. At driftwatch's own D: the documented approximation error.
    p_same_d = float(stats.kstwo.sf(d, ne))
    if p_same_d > KS_P_FLOOR:
        check(rel_close(p, p_same_d, KS_P_RTOL),
              "%s: KS p %.6g vs kstwo.sf(D=%.6g, %d) %.6g (rel %.3g)"
              % (label, p, d, ne, p_same_d, abs(p - p_same_d) / p_same_d))
    # 3. Against ks_2samp on the raw samples, with the binning band added.
    if p_scipy > KS_P_FLOOR:
        ok = lo / (1 + KS_P_RTOL) <= p <= hi * (1 + KS_P_RTOL)
        check(ok, "%s: KS p %.6g outside [%.6g, %.6g] (ks_2samp %.6g at D_raw %.6g)"
              % (label, p, lo, hi, p_scipy, d_raw))
        return "p %.4g vs ks_2samp %.4g (rel %.2g%%)" % (
            p, p_scipy, 100 * abs(p - p_scipy) / p_scipy)
    return "p %.3g vs ks_2samp %.3g (tail)" % (p, p_scipy)


def compare(label, ref_doc, ref_data, cur_data, doc, present):
    cols = {c["name"]: c for c in doc["columns"]}
    refcols = {c["name"]: c for c in ref_doc["columns"]}
    fam = []
    crit = {}
    for name in COLUMNS:
        c = cols[name]
        tag = "%s/%s" % (label, name)
        if name in present:
            cur = (raw_categorical(cur_data[name]) if name in CATEGORICAL
                   else raw_numeric(cur_data[name]))
            nrows = len(cur_data[name])
        else:
            cur, nrows = [], doc["rows"]
        check(c["count"] == len(cur), "%s: count %d, want %d" % (tag, c["count"], len(cur)))
        check(c["missing"] == nrows - len(cur),
              "%s: missing %d, want %d" % (tag, c["missing"], nrows - len(cur)))
        if name in NUMERIC:
            ref = raw_numeric(ref_data[name])
            edges = np.asarray(refcols[name]["edges"], dtype=float)
            _, ref_counts, _ = fine_counts(edges, ref)
            under, cur_counts, over = fine_counts(edges, cur)
            psi, nb = numeric_psi(ref_counts, under, cur_counts, over)
            crit[name] = critical_values(len(ref), len(cur), nb)
            check(rel_close(c["psi"], psi, PSI_RTOL, PSI_ATOL),
                  "%s: PSI %.10g, numpy %.10g" % (tag, c["psi"], psi))
            d, p = c["ks"]["statistic"], c["ks"]["p_value"]
            if len(cur) == 0:
                check(d == 0 and p == 1, "%s: empty sample: KS %g %g" % (tag, d, p))
                note = "empty"
            else:
                res = stats.ks_2samp(ref, cur)
                d_raw, p_scipy = float(res.statistic), float(res.pvalue)
                check(abs(d - d_raw) <= KS_D_ATOL,
                      "%s: KS D %.6g, ks_2samp %.6g" % (tag, d, d_raw))
                # Documented: the binned D never exceeds the raw one.
                check(d <= d_raw + 1e-9, "%s: KS D %.9g > raw %.9g" % (tag, d, d_raw))
                note = ks_p_consistent(tag, p, d, d_raw, len(ref), len(cur), p_scipy)
                note = "D %.4f raw %.4f, %s" % (d, d_raw, note)
            print("  %-28s n=%-6d PSI %.4f (%d buckets)  %s" % (tag, len(cur), psi, nb, note))
            raw_p = p
        else:
            ref = raw_categorical(ref_data[name])
            (x2, df, p), psi, new, nb = categorical_stats(ref, cur)
            crit[name] = critical_values(len(ref), len(cur), nb)
            got = c["chi2"]
            check(rel_close(got["statistic"], x2, CHI2_RTOL, 1e-300),
                  "%s: chi2 %.12g, scipy %.12g" % (tag, got["statistic"], x2))
            check(got["df"] == df, "%s: df %d, scipy %d" % (tag, got["df"], df))
            check(rel_close(got["p_value"], p, CHI2_RTOL, 1e-300),
                  "%s: chi2 p %.12g, scipy %.12g" % (tag, got["p_value"], p))
            check(rel_close(c["psi"], psi, PSI_RTOL, PSI_ATOL),
                  "%s: PSI %.10g, numpy %.10g" % (tag, c["psi"], psi))
            check(c["new_categories"] == new,
                  "%s: new_categories %s, want %s" % (tag, c["new_categories"], new))
            print("  %-28s n=%-6d PSI %.4f  chi2 %.6g df %d p %.4g  new %s"
                  % (tag, len(cur), psi, x2, df, p, new))
            raw_p = p
        if len(cur) >= MIN_SAMPLES:
            fam.append((name, raw_p))
    # Benjamini-Hochberg over the columns with enough samples, then the rule.
    adj = dict(zip([f[0] for f in fam], bh([f[1] for f in fam])))
    ndrift = 0
    for name in COLUMNS:
        c = cols[name]
        want_adj = adj.get(name, 1.0)
        check(rel_close(c["p_adjusted"], want_adj, BH_RTOL, 1e-300),
              "%s/%s: p_adjusted %.10g, BH %.10g" % (label, name, c["p_adjusted"], want_adj))
        ks_crit, psi_crit = crit[name]
        # The critical values the decision used, against scipy's kolmogi
        # and chi2.isf (1e-8: GSL's and the bisection's precision).
        if "ks" in c:
            check(rel_close(c["ks"]["critical"], ks_crit, 1e-8, 1e-15),
                  "%s/%s: ks critical %.12g, scipy %.12g"
                  % (label, name, c["ks"]["critical"], ks_crit))
        check(rel_close(c["psi_critical"], psi_crit, 1e-8, 1e-15),
              "%s/%s: psi critical %.12g, scipy %.12g" % (label, name, c["psi_critical"], psi_crit))
        effect = (c["psi"] >= max(PSI_T, psi_crit) or
                  ("ks" in c and c["ks"]["statistic"] >= max(KS_T, ks_crit)))
        want = c["count"] >= MIN_SAMPLES and want_adj < ALPHA and effect
        check(c["drift"] == want, "%s/%s: drift %s, rule says %s"
              % (label, name, c["drift"], want))
        ndrift += want
    check(doc["drift"] == (ndrift > 0) and doc["drifted_columns"] == ndrift,
          "%s: document drift %s/%d, want %d" % (label, doc["drift"],
                                                  doc["drifted_columns"], ndrift))
    return ndrift


def main():
    global DW
    DW, _ = h.args(sys.argv, __doc__, exact=True)
    d = h.workdir("dw-check-oracle-")

    rng = np.random.default_rng(20260101)
    ref_data = draw(rng, N_REF, False)
    ref_csv = os.path.join(d, "ref.csv")
    ref_json = os.path.join(d, "ref.json")
    write_csv(ref_csv, ref_data, COLUMNS)
    ref_doc = h.build_reference(DW, ref_json, ref_csv)

    # The reference itself, against the documented bin rule.
    for col in ref_doc["columns"]:
        name = col["name"]
        if name in NUMERIC:
            raw = raw_numeric(ref_data[name])
            edges = documented_edges(raw)
            check(col["type"] == "numeric", "ref %s: type %s" % (name, col["type"]))
            check(np.array_equal(np.asarray(col["edges"]), edges),
                  "ref %s: %d edges differ from the documented rule (%d)"
                  % (name, len(col["edges"]), len(edges)))
            _, counts, _ = fine_counts(edges, raw)
            check(col["bin_counts"] == counts.tolist(), "ref %s: bin_counts differ" % name)
            print("  reference %-10s %5d bins, largest bin mass %.5f"
                  % (name, col["nbins"], max(col["bin_counts"]) / col["count"]))
        else:
            raw = raw_categorical(ref_data[name])
            cats, n = np.unique(raw, return_counts=True)
            got = {c["value"]: c["count"] for c in col["categories"]}
            check(got == dict(zip(cats.tolist(), n.tolist())) and col["other_count"] == 0,
                  "ref %s: categories %s" % (name, got))
    # Bins holding training values (gap bins of a discrete column hold none).
    check(sum(1 for k in ref_doc["columns"][COLUMNS.index("ties")]["bin_counts"] if k) < BINS,
          "ref ties: expected fewer than %d bins from heavy ties" % BINS)

    scenarios = []
    # Identical samples: the training file itself.
    scenarios.append(("identical", ref_csv, ref_data, COLUMNS))
    seed = 7000
    for shifted in (False, True):
        for m in (1, 10, 1000, 5000):
            seed += 1
            data = draw(np.random.default_rng(seed), m, shifted)
            p = os.path.join(d, "cur-%s-%d.csv" % ("shift" if shifted else "same", m))
            write_csv(p, data, COLUMNS)
            scenarios.append(("%s-%d" % ("shift" if shifted else "same", m), p, data, COLUMNS))
    # Size 0: all cells of two columns empty; and a column absent from the file.
    data = draw(np.random.default_rng(8001), 1000, True)
    data["normal"][:] = np.nan
    data["cat"][:] = None
    p = os.path.join(d, "cur-empty-cols.csv")
    write_csv(p, data, COLUMNS)
    scenarios.append(("all-missing", p, data, COLUMNS))
    data = draw(np.random.default_rng(8002), 1000, False)
    present = [c for c in COLUMNS if c != "lognormal"]
    p = os.path.join(d, "cur-absent-col.csv")
    write_csv(p, data, present)
    scenarios.append(("absent-column", p, data, present))

    for label, path, data, present in scenarios:
        print("%s:" % label)
        doc = check_json(ref_json, path)
        ndrift = compare(label, ref_doc, ref_data, data, doc, present)
        if label == "identical":
            for c in doc["columns"]:
                check(c["psi"] == 0 and not c["drift"],
                      "identical/%s: PSI %g drift %s" % (c["name"], c["psi"], c["drift"]))
                if "ks" in c:
                    check(c["ks"]["statistic"] == 0 and c["ks"]["p_value"] == 1,
                          "identical/%s: KS %s" % (c["name"], c["ks"]))
                if "chi2" in c:
                    check(c["chi2"]["statistic"] == 0 and c["chi2"]["p_value"] == 1,
                          "identical/%s: chi2 %s" % (c["name"], c["chi2"]))
        if label in ("shift-1000", "shift-5000"):
            check(ndrift >= 5, "%s: only %d columns drifted" % (label, ndrift))
        if label.startswith("same-") and not label.endswith("-1"):
            check(ndrift == 0, "%s: %d columns drifted without a shift" % (label, ndrift))
    print("%d checks, %d mismatches" % (checks, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    h.main(main)

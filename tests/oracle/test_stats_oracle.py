#!/usr/bin/python3
"""Oracle tests of the statistics modules against scipy/numpy.

Usage: /usr/bin/python3 test_stats_oracle.py PATH/TO/stats_driver

Each check feeds the C driver (tests/oracle/stats_driver.c) a command on
stdin and compares its %.17g output with an independent computation:
scipy.stats.chi2_contingency, scipy.stats.ks_2samp, scipy.special.kolmogorov,
scipy.stats.kstwo and numpy versions of the documented PSI and BH formulas.
All random data comes from fixed seeds. Exits 1 on any mismatch, after
printing every mismatch with its inputs' description.
"""
import math
import sys

import numpy as np
from scipy import special, stats

from oracle_common import fail, rel_ok, run, run_checks

# Tolerances, with their reasons:
# chi2: the task requires agreement with scipy to 1e-9 relative; both sides
#   evaluate the same closed-form statistic and the regularised incomplete
#   gamma in double precision, so they agree far closer than that.
CHI2_RTOL = 1e-9
# PSI: the same sum of logs in a different order; 1e-12 relative is many
#   orders above double rounding for these sizes.
PSI_RTOL = 1e-12
# Kolmogorov series: both converged in double precision (few ulps apart).
KSF_RTOL = 1e-12
# KS D from 1000 fine bins against the raw-sample statistic: the binning
#   error is at most the largest reference bin mass (about 1/1000 here).
KS_D_ATOL = 0.002
# Stephens' approximation against scipy's kstwo.sf(D, round(n_eff)) (the
#   asymptotic branch of ks_2samp): a few percent for n_eff >= 100 where
#   p > 1e-6 (measured worst about 3.5%).
KS_P_RTOL = 0.05
# BH: one multiply and divide per value.
BH_ATOL = 1e-15

BINS = 1000

def fmt(xs):
    return " ".join(repr(float(x)) if isinstance(x, (float, np.floating)) else str(int(x))
                    for x in xs)


# ---------------------------------------------------------------- chi2 ----

def chi2_tables(rng):
    tables = []
    for k in range(2, 13):
        for scale in (5, 100, 100000):
            a = rng.poisson(scale, size=k)
            b = rng.poisson(scale * rng.uniform(0.5, 2.0), size=k)
            tables.append((a, b))
    # Zero columns: on both sides (dropped), on one side (a category only in
    # the reference / only in the current data).
    a = np.array([10, 0, 30, 0, 5, 0]); b = np.array([20, 0, 20, 7, 0, 0])
    tables.append((a, b))
    a = rng.poisson(50, size=8); b = rng.poisson(60, size=8)
    a[[1, 4]] = 0; b[[1, 6]] = 0
    tables.append((a, b))
    # Tiny samples, one value.
    tables.append((np.array([1, 0]), np.array([0, 1])))
    tables.append((np.array([3, 1, 0]), np.array([1, 0, 0])))
    # Big, nearly equal proportions (tiny statistic, p near 1) and a strong
    # shift (p far in the tail).
    tables.append((np.array([10**9, 2 * 10**9, 3 * 10**9]),
                   np.array([10**9 + 1000, 2 * 10**9, 3 * 10**9 - 3000])))
    tables.append((np.array([1000, 1000, 1000]), np.array([1500, 1000, 500])))
    return tables


def scipy_chi2(a, b):
    keep = (a + b) > 0
    t = np.vstack([a[keep], b[keep]]).astype(float)
    if t.shape[1] < 2:
        return 0.0, 1.0, 0
    stat, p, dof, _ = stats.chi2_contingency(t, correction=False)
    return float(stat), float(p), int(dof)


def check_chi2(driver, rng):
    tables = chi2_tables(rng)
    text = "".join("chi2 %d %s %s\n" % (len(a), fmt(a), fmt(b)) for a, b in tables)
    for (a, b), out in zip(tables, run(driver, text)):
        stat, p, df = float(out[0]), float(out[1]), int(out[2])
        wstat, wp, wdf = scipy_chi2(a, b)
        if df != wdf or not rel_ok(stat, wstat, CHI2_RTOL) or not rel_ok(p, wp, CHI2_RTOL):
            fail("chi2 %s vs %s: got (%r, %r, %d), scipy (%r, %r, %d)"
                 % (list(a), list(b), stat, p, df, wstat, wp, wdf))
    print("chi2: %d tables checked" % len(tables))


# ------------------------------------------------------------- PSI -------

def psi_formula(r, c):
    r = np.asarray(r, float); c = np.asarray(c, float); k = len(r)
    if k == 0 or (r.sum() == 0 and c.sum() == 0):
        return 0.0
    p = (r + 0.5) / (r.sum() + 0.5 * k)
    q = (c + 0.5) / (c.sum() + 0.5 * k)
    return float(np.sum((q - p) * np.log(q / p)))


def check_psi_counts(driver, rng):
    cases = []
    for k in (1, 2, 5, 10, 40):
        for _ in range(4):
            r = rng.poisson(rng.uniform(0, 50), size=k)
            c = rng.poisson(rng.uniform(0, 50), size=k)
            cases.append((r, c))
    cases.append((np.zeros(4, int), np.array([0, 3, 0, 1])))
    cases.append((np.array([10**12, 0]), np.array([0, 10**12])))
    text = "".join("psi %d %s %s\n" % (len(r), fmt(r), fmt(c)) for r, c in cases)
    for (r, c), out in zip(cases, run(driver, text)):
        got, want = float(out[0]), psi_formula(r, c)
        if not math.isfinite(got) or not rel_ok(got, want, PSI_RTOL):
            fail("psi %s vs %s: got %r, numpy %r" % (list(r), list(c), got, want))
    print("psi counts: %d cases checked" % len(cases))


# -------------------------------------------- reference edges (docs) -----

def discrete_edges(distinct):
    """A point bin per distinct value and, between neighbours, a gap bin
    whose upper edge is the largest double below the next value (omitted
    when no double lies between them)."""
    edges = [distinct[0], distinct[0]]
    for prev, x in zip(distinct[:-1], distinct[1:]):
        below = np.nextafter(x, -np.inf)
        if below > prev:
            edges.append(below)
        edges.append(x)
    return np.array(edges)


def reference_edges(x, bins=BINS):
    """The documented fine-bin rule (docs/statistics.md): one bin per
    distinct value when there are at most `bins` of them (edges[0] is the
    minimum, repeated); otherwise the upper edges are the order statistics at
    1-based ranks ceil(i * n / bins), i = 1..bins, without repeats."""
    v = np.sort(np.asarray(x, float))
    n = len(v)
    distinct = np.unique(v)
    if len(distinct) <= bins:
        return discrete_edges(distinct)
    idx = [-(-i * n // bins) - 1 for i in range(1, bins + 1)]
    upper = []
    for j in idx:
        if not upper or v[j] > upper[-1]:
            upper.append(v[j])
    return np.concatenate([[v[0]], upper])


def bin_counts(edges, x):
    """Right-closed binning of reference.h, computed with searchsorted:
    the bin of x is the smallest i with x <= edges[i + 1]; -1 below the
    minimum, nbins above the maximum. Returns under, counts[nbins], over."""
    x = np.asarray(x, float)
    x = x[~np.isnan(x)]
    nb = len(edges) - 1
    under = int(np.sum(x < edges[0]))
    over = int(np.sum(x > edges[-1]))
    inside = x[(x >= edges[0]) & (x <= edges[-1])]
    idx = np.searchsorted(edges[1:], inside, side="left")
    counts = np.bincount(idx, minlength=nb)
    return under, counts, over


def numeric_cmd(name, edges, counts, cur):
    return "%s %d %s %s %d %s\n" % (name, len(edges) - 1, fmt(edges), fmt(counts), len(cur),
                                    " ".join(repr(float(v)) for v in cur))


def psi_numeric_oracle(counts, under, cur_counts, over):
    """Equal-frequency grouping as documented: group id of fine bin i is
    min(B-1, floor(B * before_i / total)); bins after all the reference mass
    join the last group; underflow to the first, overflow to the last."""
    B = 10
    counts = np.asarray(counts, np.int64)
    total = int(counts.sum())
    before = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ids = np.minimum(B - 1, (before * B) // max(total, 1))
    last_mass = int(np.nonzero(counts)[0].max()) if total else 0
    ids[last_mass + 1:] = ids[last_mass]
    _, group = np.unique(ids, return_inverse=True)
    ng = group.max() + 1
    r = np.bincount(group, weights=counts, minlength=ng)
    c = np.bincount(group, weights=cur_counts, minlength=ng)
    c[0] += under
    c[-1] += over
    return psi_formula(r, c)


# ---------------------------------------------------------------- KS -----

def ks_scenarios(rng):
    ref = rng.normal(0.0, 1.0, 20000)
    yield "normal, same", ref, rng.normal(0.0, 1.0, 5000)
    yield "normal, shift .05", ref, rng.normal(0.05, 1.0, 5000)
    yield "normal, shift .1", ref, rng.normal(0.1, 1.0, 3000)
    yield "normal, shift .5", ref, rng.normal(0.5, 1.0, 2000)
    yield "normal, scale 1.3", ref, rng.normal(0.0, 1.3, 4000)
    yield "normal, 100 values", ref, rng.normal(0.2, 1.0, 100)
    yield "normal, 20000 same", ref, rng.normal(0.0, 1.0, 20000)
    yield "normal vs out of range", ref, rng.normal(3.0, 2.0, 2000)
    r2 = rng.exponential(1.0, 20000)
    yield "exponential, shift", r2, rng.exponential(1.15, 5000)
    # Heavy ties: rounded to one decimal (about 80 distinct values -> one bin
    # per value, so D is exact).
    r3 = np.round(rng.normal(0, 1, 20000), 1)
    yield "ties, same", r3, np.round(rng.normal(0, 1, 5000), 1)
    yield "ties, shifted", r3, np.round(rng.normal(0.1, 1, 5000), 1)
    # Discrete data.
    r4 = rng.poisson(3.0, 20000).astype(float)
    yield "poisson, same", r4, rng.poisson(3.0, 4000).astype(float)
    yield "poisson, 3 vs 3.3", r4, rng.poisson(3.3, 4000).astype(float)
    # Discrete columns whose serving values move into the gaps between the
    # reference values, down (the regression: counted with the next value
    # up, D was 0.01 instead of 0.1-0.2) and up, and a tiny sample.
    r6 = rng.poisson(4.0, 20000).astype(float)
    c6 = rng.poisson(4.0, 3000).astype(float)
    half = rng.uniform(size=3000) < 0.5
    yield "poisson, half down into gaps", r6, np.where(half, c6 - 0.5, c6)
    yield "poisson, half up into gaps", r6, np.where(half, c6 + 0.5, c6)
    yield "poisson, 30 values down", r6, rng.poisson(4.0, 30).astype(float) - 0.25
    # Mixed: a point mass plus a continuous part (zero-inflated).
    r5 = np.where(rng.uniform(size=20000) < 0.4, 0.0, rng.gamma(2.0, 1.0, 20000))
    yield "zero-inflated", r5, np.where(rng.uniform(size=3000) < 0.5, 0.0,
                                        rng.gamma(2.0, 1.0, 3000))


def check_ks(driver, rng):
    n_checked = 0
    scen = list(ks_scenarios(rng))
    text = ""
    prepared = []
    for name, ref, cur in scen:
        edges = reference_edges(ref)
        under, counts, over = bin_counts(edges, ref)
        assert under == 0 and over == 0 and counts.sum() == len(ref)
        text += numeric_cmd("ks", edges, counts, cur)
        text += numeric_cmd("psinum", edges, counts, cur)
        res = stats.ks_2samp(ref, cur, method="asymp")
        ne = len(ref) * len(cur) / (len(ref) + len(cur))
        text += "kspvalue %r %r\n" % (float(res.statistic), ne)
        prepared.append((name, ref, cur, edges, counts, res, ne))
    out = run(driver, text)
    for i, (name, ref, cur, edges, counts, res, ne) in enumerate(prepared):
        d, p, n_eff = (float(v) for v in out[3 * i])
        psi = float(out[3 * i + 1][0])
        p_at_scipy_d = float(out[3 * i + 2][0])
        max_mass = counts.max() / counts.sum()
        # D over the edges is a max over a subset of the points: never above
        # the raw statistic, and below it by at most the largest bin mass.
        if not (d <= res.statistic + 1e-12 and res.statistic - d <= max_mass + 1e-12):
            fail("ks %s: D %r vs scipy %r (largest bin mass %r)"
                 % (name, d, res.statistic, max_mass))
        # Discrete references (a point bin per value, gap bins between):
        # D is exact wherever the current values fall.
        if len(np.unique(ref)) <= BINS and abs(d - res.statistic) > 1e-9:
            fail("ks %s (discrete): D %r vs scipy %r, must be exact" % (name, d, res.statistic))
        if abs(d - res.statistic) > KS_D_ATOL:
            fail("ks %s: |D - scipy D| = %r > %r" % (name, abs(d - res.statistic), KS_D_ATOL))
        if not rel_ok(n_eff, ne, 1e-15):
            fail("ks %s: n_eff %r vs %r" % (name, n_eff, ne))
        if not (0.0 <= p <= 1.0):
            fail("ks %s: p %r outside [0, 1]" % (name, p))
        # The p-value of the same D: Stephens vs scipy's kstwo.
        if res.pvalue > 1e-6 and not rel_ok(p_at_scipy_d, res.pvalue, KS_P_RTOL):
            fail("ks %s: p(D=%r) %r vs scipy %r" % (name, res.statistic, p_at_scipy_d,
                                                     res.pvalue))
        # End to end (binned D): same order of magnitude where p > 1e-6,
        # and still small when scipy's is tiny.
        if res.pvalue > 1e-6:
            if abs(math.log10(max(p, 1e-300)) - math.log10(res.pvalue)) > 1.0:
                fail("ks %s: p %r vs scipy %r differ by > 10x" % (name, p, res.pvalue))
        elif p > 1e-4:
            fail("ks %s: p %r but scipy %r" % (name, p, res.pvalue))
        under, cc, over = bin_counts(edges, cur)
        want_psi = psi_numeric_oracle(counts, under, cc, over)
        if not rel_ok(psi, want_psi, PSI_RTOL) and abs(psi - want_psi) > 1e-15:
            fail("psi numeric %s: got %r, numpy %r" % (name, psi, want_psi))
        print("ks %-24s D %.5f scipy %.5f  p %.3g scipy %.3g  psi %.4f"
              % (name, d, res.statistic, p, res.pvalue, psi))
        n_checked += 1
    print("ks: %d scenarios checked" % n_checked)


def check_psi_numeric_edge_cases(driver):
    edges = np.array([0.0, 1.0, 2.0, 3.0])
    counts = np.array([50, 0, 50])
    cases = [
        ("nan and out of range", [float("nan"), -1.0, 0.5, 2.5, 2.5, 7.0]),
        ("constant-like", [0.0] * 10),
        ("size one", [1.5]),
    ]
    text = "".join(numeric_cmd("psinum", edges, counts, cur) for _, cur in cases)
    for (name, cur), out in zip(cases, run(driver, text)):
        under, cc, over = bin_counts(edges, cur)
        want = psi_numeric_oracle(counts, under, cc, over)
        got = float(out[0])
        if not math.isfinite(got) or not rel_ok(got, want, PSI_RTOL):
            fail("psi numeric %s: got %r, numpy %r" % (name, got, want))
    print("psi numeric edge cases: %d checked" % len(cases))


def check_kolmogorov(driver):
    xs = [0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 0.9, 0.99, 1.0, 1.01, 1.2, 1.5, 2.0, 3.0,
          4.0, 6.0, 10.0, 19.0, 27.0]
    out = run(driver, "".join("ksf %r\n" % x for x in xs))
    for x, o in zip(xs, out):
        got, want = float(o[0]), float(special.kolmogorov(x))
        if want > 1e-300 and not rel_ok(got, want, KSF_RTOL):
            fail("kolmogorov_sf(%r): got %r, scipy %r" % (x, got, want))
    # Stephens-corrected p against kstwo.sf(D, round(n_eff)).
    cases = []
    for ne in (100.0, 400.0, 1000.0, 4000.0, 16000.0):
        for pw in np.logspace(-6, -0.05, 25):
            d = float(stats.kstwo.isf(pw, round(ne)))
            cases.append((d, ne))
    out = run(driver, "".join("kspvalue %r %r\n" % c for c in cases))
    for (d, ne), o in zip(cases, out):
        got, want = float(o[0]), float(stats.kstwo.sf(d, round(ne)))
        if not rel_ok(got, want, KS_P_RTOL):
            fail("ks p(D=%r, n_eff=%r): got %r, kstwo %r" % (d, ne, got, want))
    print("kolmogorov: %d sf values, %d p-values checked" % (len(xs), len(cases)))


# -------------------------------------------------------------- BH -------

def bh_oracle(p):
    p = np.array([1.0 if math.isnan(v) else min(max(v, 0.0), 1.0) for v in p])
    n = len(p)
    order = np.argsort(p, kind="mergesort")
    ranked = p[order] * n / np.arange(1, n + 1)
    adj_sorted = np.minimum.accumulate(ranked[::-1])[::-1]
    adj = np.empty(n)
    adj[order] = np.minimum(adj_sorted, 1.0)
    return adj


def check_bh(driver, rng):
    cases = [
        [0.01, 0.04, 0.03, 0.005],
        [0.01, 0.02, 0.03, 0.04, 0.05],
        [float("nan"), 0.2, 0.2, 0.9],
        [0.5],
    ]
    for n in (3, 10, 50, 200):
        p = rng.uniform(size=n) ** 3
        p[: n // 5] = np.round(p[: n // 5], 2)  # ties
        cases.append(list(p))
    out = run(driver, "".join("bh %d %s\n" % (len(p), " ".join(repr(float(v)) for v in p))
                              for p in cases))
    for p, o in zip(cases, out):
        got = np.array([float(v) for v in o])
        want = bh_oracle(p)
        if len(got) != len(want) or np.max(np.abs(got - want)) > BH_ATOL:
            fail("bh %r: got %r, numpy %r" % (p, list(got), list(want)))
    # Known values worked by hand: sorted .005 .01 .03 .04 -> .02 .02 .04 .04.
    known = np.array([float(v) for v in out[0]])
    if np.max(np.abs(known - [0.02, 0.04, 0.04, 0.02])) > BH_ATOL:
        fail("bh known values: got %r" % list(known))
    print("bh: %d vectors checked" % len(cases))


# ------------------------------------------------------ categorical ------

def pool_sparse(a, b, min_expected=5):
    """The documented pooling of dw_chi2() (chi2.h): columns whose smaller
    expected count min(A, B) (a + b) / (A + B) is below 5 go into one pooled
    column; a pooled column still below 5 also takes the kept column with
    the smallest expected count (first in order on ties)."""
    a = np.asarray(a, np.int64); b = np.asarray(b, np.int64)
    keep = (a + b) > 0
    a, b = a[keep], b[keep]
    A, B = int(a.sum()), int(b.sum())
    if A == 0 or B == 0:
        return a, b
    e = min(A, B) * (a + b) / (A + B)
    small = e < min_expected
    ka, kb = list(a[~small]), list(b[~small])
    pa, pb = int(a[small].sum()), int(b[small].sum())
    if pa + pb > 0:
        if min(A, B) * (pa + pb) / (A + B) < min_expected and ka:
            ke = [min(A, B) * (x + y) / (A + B) for x, y in zip(ka, kb)]
            j = int(np.argmin(ke))
            pa += ka.pop(j); pb += kb.pop(j)
        ka.append(pa); kb.append(pb)
    return np.array(ka), np.array(kb)


def check_categorical(driver, rng):
    cases = []
    for _ in range(6):
        k = int(rng.integers(2, 9))
        rc = rng.poisson(200, size=k)
        cc = rng.poisson(rng.uniform(50, 400), size=k)
        cc[rng.integers(0, k)] = 0  # a category only in the reference
        other = int(rng.choice([0, 0, 35]))
        nnew = int(rng.integers(0, 4))
        newc = rng.poisson(20, size=nnew)
        overflow = int(rng.choice([0, 9]))
        cases.append((rc, other, cc, newc, overflow))
    # Sparse: 30 Zipf-like categories, a window of 100 (many expected
    # counts below 5, so pooling decides), and a new category in it.
    zipf = 1.0 / np.arange(1, 31); zipf /= zipf.sum()
    for n_cur, newc in ((100, []), (100, [7]), (300, [2, 1]), (40, [])):
        cases.append((rng.multinomial(50000, zipf), 0, rng.multinomial(n_cur, zipf),
                      np.array(newc, int), 0))
    text = "".join("cat %d %s %d %s %d %s %d\n" % (len(rc), fmt(rc), other, fmt(cc), len(newc),
                                                    fmt(newc), overflow)
                   for rc, other, cc, newc, overflow in cases)
    for (rc, other, cc, newc, overflow), o in zip(cases, run(driver, text)):
        unseen = int(newc.sum()) + overflow
        # Documented columns (chi2.h): listed categories, then "other" with
        # the unseen values folded in when it is non-empty, else each unseen
        # name and the overflow as further columns.
        if other > 0:
            a = np.concatenate([rc, [other]]); b = np.concatenate([cc, [unseen]])
        else:
            a = np.concatenate([rc, np.zeros(len(newc) + 1, int)])
            b = np.concatenate([cc, newc, [overflow]])
        wstat, wp, wdf = scipy_chi2(a, b)
        # PSI buckets (psi.h): categories, then "other" (absorbing unseen) or
        # one unseen bucket when there are unseen values.
        if other > 0:
            pr, pc = np.concatenate([rc, [other]]), np.concatenate([cc, [unseen]])
        elif unseen > 0:
            pr, pc = np.concatenate([rc, [0]]), np.concatenate([cc, [unseen]])
        else:
            pr, pc = rc, cc
        wpsi = psi_formula(pr, pc)
        wstat, wp, wdf = scipy_chi2(*pool_sparse(a, b))
        stat, p, df, psi = float(o[0]), float(o[1]), int(o[2]), float(o[3])
        if (df != wdf or not rel_ok(stat, wstat, CHI2_RTOL) or not rel_ok(p, wp, CHI2_RTOL)
                or not rel_ok(psi, wpsi, PSI_RTOL)):
            fail("categorical ref %s other %d cur %s new %s overflow %d: got %r, want %r"
                 % (list(rc), other, list(cc), list(newc), overflow, (stat, p, df, psi),
                    (wstat, wp, wdf, wpsi)))
    print("categorical: %d samples checked" % len(cases))


def main():
    return run_checks("usage: test_stats_oracle.py STATS_DRIVER", "stats", [
        (check_chi2, 20240601), (check_psi_counts, 7), (check_psi_numeric_edge_cases, None),
        (check_kolmogorov, None), (check_ks, 12345), (check_bh, 99), (check_categorical, 2024)])


if __name__ == "__main__":
    sys.exit(main())

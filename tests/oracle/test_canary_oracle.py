#!/usr/bin/python3
"""Oracle tests of the canary building blocks against numpy/scipy.

Usage: /usr/bin/python3 test_canary_oracle.py PATH/TO/canary_driver

* sketch.c: quantiles within the relative accuracy alpha of
  numpy.quantile (default "linear" method) on lognormal, exponential,
  uniform, bimodal and heavy-tailed data, with zeros, tiny samples and a
  sliding window of panes kept by merge/subtract.
* compare.c: two-sample KS D and p-value against scipy.stats.ks_2samp on the
  bin-expanded samples (and D against ks_2samp on the raw values within the
  binning error), chi-squared against scipy.stats.chi2_contingency(...,
  correction=False) on the union table of categories after the documented
  pooling of sparse columns (test_stats_oracle.pool_sparse), and PSI
  against a numpy version of the documented formula.

All random data comes from fixed seeds. Exits 1 on any mismatch, after
printing every mismatch; 77 (skip) without numpy/scipy.
"""
import math
import sys
import warnings

from oracle_common import fail, need, rel_ok, run, run_checks

np, stats = need("numpy", "scipy.stats")
# The documented pooling of sparse chi-squared columns (chi2.h), which
# comparisons share with reference drift.
from test_stats_oracle import pool_sparse

# Tolerances, with their reasons:
# Sketch: the documented bound is a relative alpha; 1e-12 on top covers the
#   rounding of log() at a bucket boundary (a value put in the neighbouring
#   bucket is still within alpha to a few ulps).
SKETCH_SLACK = 1e-12
# KS D on the bin-expanded samples: the same maximum of the same fractions.
KS_D_RTOL = 1e-12
# Stephens' approximation against scipy's kstwo.sf(D, round(n_eff)) (the
#   asymptotic branch of ks_2samp): a few percent for n_eff >= 100 where
#   p > 1e-6 (the tolerance tests/oracle/test_stats_oracle.py uses too).
KS_P_RTOL = 0.05
# chi2: closed form vs scipy's expected-table form, both in double.
CHI2_RTOL = 1e-9
# PSI: the same sum of logs in a different order.
PSI_RTOL = 1e-12
PSI_BUCKETS = 10
PSI_SMOOTHING = 0.5

QS = [0.0, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0]

def nums(xs):
    return " ".join(repr(float(x)) for x in xs)


def ints(xs):
    return " ".join(str(int(x)) for x in xs)


# -------------------------------------------------------------- sketch ----

def datasets(rng):
    yield "lognormal", rng.lognormal(3.0, 0.8, 50000)
    yield "exponential", rng.exponential(25.0, 20000)
    yield "uniform", rng.uniform(5.0, 100.0, 20000)
    mix = np.where(rng.uniform(size=30000) < 0.7, rng.lognormal(math.log(2.0), 0.3, 30000),
                   rng.lognormal(math.log(120.0), 0.2, 30000))
    yield "bimodal", mix
    yield "pareto", (rng.pareto(1.2, 20000) + 1.0) * 3.0
    z = rng.lognormal(1.0, 1.0, 5000)
    z[rng.uniform(size=5000) < 0.3] = 0.0
    yield "with_zeros", z
    yield "one", np.array([42.5])
    yield "two", np.array([3.0, 3000.0])
    yield "ties", np.repeat([1.0, 10.0, 100.0], [10, 5, 1])
    yield "wide", 10.0 ** rng.uniform(-6, 9, 10000)


def sketch_bound_ok(got, want, alpha):
    return abs(got - want) <= alpha * abs(want) * (1 + SKETCH_SLACK)


def check_sketch(driver, rng):
    cases, text = [], []
    for name, x in datasets(rng):
        for alpha, buckets in ((0.01, 2048), (0.005, 4096), (0.05, 2048)):
            cases.append((name, alpha, x))
            text.append("sketch %r %d %d %s %d %s\n" % (alpha, buckets, len(x), nums(x), len(QS),
                                                        nums(QS)))
    out = run(driver, "".join(text))
    for (name, alpha, x), o in zip(cases, out):
        want = np.quantile(x, QS)
        for q, g, w in zip(QS, o, want):
            if not sketch_bound_ok(float(g), w, alpha):
                fail("sketch %s alpha %g q %g: got %r, numpy %r (rel %.3g)"
                     % (name, alpha, q, float(g), w, abs(float(g) - w) / w if w else math.inf))
    print("sketch: %d data sets x %d quantiles checked" % (len(cases), len(QS)))


def check_layout(driver, rng):
    # The fixed layout the engine's panes will hold: default latency range
    # in ms; data sets whose values lie inside it (or are 0).
    lo, hi = 0.001, 1e7
    cases, text = [], []
    for name, x in datasets(rng):
        x = x[(x == 0) | ((x >= lo) & (x <= hi))]
        cases.append((name, x))
        text.append("layout 0.01 %r %r %d %s %d %s\n" % (lo, hi, len(x), nums(x), len(QS),
                                                          nums(QS)))
    out = run(driver, "".join(text))
    for (name, x), o in zip(cases, out):
        want = np.quantile(x, QS)
        for q, g, w in zip(QS, o, want):
            if not sketch_bound_ok(float(g), w, 0.01):
                fail("layout %s q %g: got %r, numpy %r" % (name, q, float(g), w))
    print("layout: %d data sets x %d quantiles checked" % (len(cases), len(QS)))


def check_sketch_panes(driver, rng):
    # 24 panes of a latency that wanders over two orders of magnitude,
    # with a bimodal episode, a window of 6 panes.
    panes = []
    for p in range(24):
        level = 10.0 ** (1.0 + math.sin(p / 4.0))
        n = int(rng.integers(0, 400))
        x = rng.lognormal(math.log(level), 0.5, n)
        if 10 <= p < 14:
            x = np.concatenate([x, rng.lognormal(math.log(level * 50), 0.1, n // 3)])
        if p == 5:
            x = np.array([])  # an empty pane
        panes.append(x)
    win = 6
    text = "sketchpanes 0.01 2048 %d %s %d %d %s\n" % (
        len(panes), " ".join("%d %s" % (len(x), nums(x)) for x in panes), win, len(QS), nums(QS))
    out = run(driver, text)
    for p, o in enumerate(out):
        x = np.concatenate(panes[max(0, p - win + 1):p + 1])
        if len(x) == 0:
            if o != ["empty"]:
                fail("panes: window %d is empty, got %s" % (p, o))
            continue
        want = np.quantile(x, QS)
        for q, g, w in zip(QS, o, want):
            if not sketch_bound_ok(float(g), w, 0.01):
                fail("panes: window %d q %g: got %r, numpy %r" % (p, q, float(g), w))
    print("sketch panes: %d windows checked" % len(out))


# ------------------------------------------------------------- compare ----

def psi_formula(r, c):
    r = np.asarray(r, dtype=float)
    c = np.asarray(c, dtype=float)
    k = len(r)
    if k == 0 or (r.sum() == 0 and c.sum() == 0):
        return 0.0
    pr = (r + PSI_SMOOTHING) / (r.sum() + PSI_SMOOTHING * k)
    pc = (c + PSI_SMOOTHING) / (c.sum() + PSI_SMOOTHING * k)
    return float(np.sum((pc - pr) * np.log(pc / pr)))


def psi_groups(base, cand):
    """Equal-frequency buckets of the baseline (psi.h's numeric rule)."""
    total = int(base.sum())
    r, c = [0], [0]
    gid, before = 0, 0
    for bi, ci in zip(base, cand):
        if before < total:
            g = min(PSI_BUCKETS - 1, (before * PSI_BUCKETS) // total)
            if g > gid:
                gid = g
                r.append(0)
                c.append(0)
        r[-1] += int(bi)
        c[-1] += int(ci)
        before += int(bi)
    return r, c


def counters(x, edges):
    """Counts over the numeric layout: under, right-closed bins, over."""
    idx = np.searchsorted(edges, x, side="left")
    idx[x == edges[0]] = 1
    return np.bincount(idx, minlength=len(edges) + 1)


def numeric_cases(rng):
    train = rng.normal(0, 1, 100000)
    edges = np.unique(np.quantile(train, np.linspace(0, 1, 1001)))
    for n, m, shift, scale in ((5000, 5000, 0.0, 1.0), (5000, 5000, 0.5, 1.0),
                               (20000, 3000, 0.1, 1.0), (3000, 20000, 0.0, 1.5),
                               (100000, 100000, 0.03, 1.0), (200, 150, 0.3, 1.0),
                               (500, 700, 2.0, 1.0), (12, 9, 0.5, 1.0), (1, 1, 0.0, 1.0)):
        a = rng.normal(0, 1, n)
        b = rng.normal(shift, scale, m)
        yield "normal n=%d m=%d shift=%g scale=%g" % (n, m, shift, scale), a, b, edges
    # Out of the training range on both sides (under/overflow), disjoint.
    yield "disjoint", rng.normal(-8, 1, 500), rng.normal(8, 1, 400), edges
    # Ties: a discrete score on a few values.
    small = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    yield "discrete", rng.choice(small, 3000), rng.choice(small, 2000, p=[.1, .2, .3, .2, .2]), \
        np.array([0.0, 0.0, 0.25, 0.5, 0.75, 1.0])
    same = rng.lognormal(0, 1, 1000)
    yield "identical", same, same, edges


def check_numeric(driver, rng):
    cases, text = [], []
    for name, a, b, edges in numeric_cases(rng):
        ca, cb = counters(a, edges), counters(b, edges)
        cases.append((name, a, b, ca, cb))
        text.append("cmpnum %d %s %s\n" % (len(ca), ints(ca), ints(cb)))
    out = run(driver, "".join(text))
    for (name, a, b, ca, cb), o in zip(cases, out):
        d, p, neff, psi = (float(v) for v in o)
        # scipy on the bin-expanded samples (each value replaced by its
        # counter index): the statistic the binned layout defines.
        ea = np.repeat(np.arange(len(ca)), ca)
        eb = np.repeat(np.arange(len(cb)), cb)
        with warnings.catch_warnings():
            # kstwo divides by round(n_eff), 0 for the 1-vs-1 case (whose
            # p-value is not compared).
            warnings.simplefilter("ignore", RuntimeWarning)
            res = stats.ks_2samp(ea, eb, method="asymp")
            raw = stats.ks_2samp(a, b, method="asymp").statistic
        n, m = len(a), len(b)
        if not rel_ok(d, res.statistic, KS_D_RTOL):
            fail("ks %s: D %r, scipy (binned) %r" % (name, d, res.statistic))
        if not rel_ok(neff, n * m / (n + m), 1e-15):
            fail("ks %s: n_eff %r" % (name, neff))
        if n * m / (n + m) >= 100 and res.pvalue > 1e-6:
            if not rel_ok(p, res.pvalue, KS_P_RTOL):
                fail("ks %s: p %r, scipy (binned) %r" % (name, p, res.pvalue))
        elif res.pvalue <= 1e-6 and not p <= 1e-5:
            fail("ks %s: p %r, scipy (binned) %r" % (name, p, res.pvalue))
        # Against the raw values: off by at most the largest bin mass.
        tol = max(np.max(ca / n), np.max(cb / m)) + 1e-12
        if not (raw - tol <= d <= raw + 1e-12):
            fail("ks %s: D %r, scipy (raw) %r, binning tolerance %g" % (name, d, raw, tol))
        r, c = psi_groups(ca, cb)
        want = psi_formula(r, c)
        if not rel_ok(psi, want, PSI_RTOL):
            fail("psi %s: got %r, want %r" % (name, psi, want))
    print("numeric comparisons: %d checked" % len(cases))


def categorical_cases(rng):
    names = ["u%d" % i for i in range(40)]
    for ncat, na, nb, scale, tilt in ((3, 0, 0, 1000, 0.0), (8, 5, 7, 500, 0.0),
                                      (8, 5, 7, 500, 0.4), (20, 30, 25, 50, 0.2),
                                      (1, 0, 0, 100, 0.0), (5, 2, 2, 3, 0.0),
                                      (50, 0, 0, 100000, 0.01)):
        p = rng.dirichlet(np.ones(ncat))
        q = p * np.exp(tilt * rng.normal(0, 1, ncat))
        q /= q.sum()
        a = rng.poisson(scale * p * ncat)
        b = rng.poisson(scale * q * ncat)
        ua = {nm: int(rng.poisson(scale / 10)) for nm in rng.choice(names, na, replace=False)}
        ub = {nm: int(rng.poisson(scale / 10)) for nm in rng.choice(names, nb, replace=False)}
        ova = int(rng.poisson(3)) if na else 0
        ovb = int(rng.poisson(3)) if nb else 0
        yield a, b, ua, ova, ub, ovb
    # Zero columns on both sides, and one side empty.
    yield np.array([10, 0, 30]), np.array([20, 0, 25]), {"x": 0}, 0, {"y": 4}, 0
    yield np.array([10, 5]), np.array([0, 0]), {}, 0, {}, 0


def check_categorical(driver, rng):
    cases, text = [], []
    for a, b, ua, ova, ub, ovb in categorical_cases(rng):
        cases.append((a, b, ua, ova, ub, ovb))
        text.append("cmpcat %d %s %s %d %s %d %d %s %d\n" % (
            len(a), ints(a), ints(b),
            len(ua), " ".join("%s %d" % kv for kv in ua.items()), ova,
            len(ub), " ".join("%s %d" % kv for kv in ub.items()), ovb))
    out = run(driver, "".join(text))
    pooled = 0
    for (a, b, ua, ova, ub, ovb), o in zip(cases, out):
        stat, p, df, psi = float(o[0]), float(o[1]), int(o[2]), float(o[3])
        nbase, ncand = int(o[4]), int(o[5])
        # The union table: listed categories, unseen names, the overflow.
        union = sorted(set(ua) | set(ub))
        ra = list(a) + [ua.get(k, 0) for k in union] + [ova]
        rb = list(b) + [ub.get(k, 0) for k in union] + [ovb]
        keep = [(x, y) for x, y in zip(ra, rb) if x or y]
        ta = np.array([x for x, _ in keep], dtype=float)
        tb = np.array([y for _, y in keep], dtype=float)
        desc = "a %s b %s ua %s ub %s ov %d/%d" % (list(a), list(b), ua, ub, ova, ovb)
        if nbase != int(ta.sum()) or ncand != int(tb.sum()):
            fail("cat %s: sizes %d/%d" % (desc, nbase, ncand))
        pa, pb = pool_sparse(ta, tb)
        pooled += len(pa) < len(ta)
        if ta.sum() == 0 or tb.sum() == 0 or len(pa) < 2:
            wstat, wp, wdf = 0.0, 1.0, 0
        else:
            wstat, wp, wdf, _ = stats.chi2_contingency(np.array([pa, pb], dtype=float),
                                                       correction=False)
        if df != wdf or not rel_ok(stat, wstat, CHI2_RTOL) or not rel_ok(p, wp, CHI2_RTOL):
            fail("chi2 %s: got %r, scipy %r" % (desc, (stat, p, df), (wstat, wp, wdf)))
        want = psi_formula(ta, tb) if ta.sum() and tb.sum() else 0.0
        if not rel_ok(psi, want, PSI_RTOL):
            fail("psi %s: got %r, want %r" % (desc, psi, want))
    print("categorical comparisons: %d checked (%d with pooled columns)" % (len(cases), pooled))


def main():
    return run_checks("usage: test_canary_oracle.py CANARY_DRIVER", "canary", [
        (check_sketch, 20261130), (check_layout, 31), (check_sketch_panes, 13),
        (check_numeric, 4242), (check_categorical, 77)])


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Python peer of `driftwatch replay` for bench_replay.sh: the same engine
work written the way a competent data engineer would with json + numpy +
scipy (Debian packages, run with /usr/bin/python3).

    peer_replay.py REFERENCE.json LOGS.jsonl [--model NAME]

Reads one JSON record per line (json.loads), routes by "model", takes the
event time from "ts" (epoch milliseconds), and collects the 22 monitored
values (every member of "features" and "prediction" that the reference
lists, plus "latency_ms"). Values are buffered per one-minute pane and binned
with numpy when the pane closes (watermark = newest event time - 1m allowed
lateness, as driftwatch's default), so the per-record Python work is only the
parse and the field lookups. Two sliding windows, 15m/1m and 1h/5m, are kept
as running sums of pane counts (add the new pane, subtract the expired one).
At every slide each window is evaluated as docs/statistics.md describes: KS
D over the reference bin edges with the Stephens-corrected Kolmogorov
p-value, PSI over 10 equal-frequency reference buckets or the categories
(half-count smoothing), scipy.stats.chi2_contingency(correction=False) for
categorical columns, Benjamini-Hochberg across the columns with at least 100
values, and the drift decision with the default thresholds (alpha 0.01, PSI
0.2, KS 0.1), for the window and for its newest 1, 2, 4, ... panes (the
recent segments, each length its own BH family). Alerts fire after 2
consecutive drifting evaluations and resolve when no segment drifts and PSI
< 0.1 and KS D < 0.05 (or no longer significant), as driftwatch's defaults.
The critical values driftwatch adds for small samples are left out: at this
traffic (12,000 values a minute, a 200,000-row reference) they are below
the thresholds, so the thresholds decide. Each firing/resolved alert is printed as one JSON
line; counters go to stderr at the end.

Simplifications (so the comparison stays honest): timestamps are epoch
milliseconds only (driftwatch also takes s, us and RFC 3339); the reference
is driftwatch's reference file (its build is benchmarked by bench_check.sh);
no data-quality verdicts, no dead-lettering, no per-version state; a record
whose numeric value is not a number is skipped whole."""

import json
import math
import sys

import numpy as np
from scipy import special, stats

PANE_MS = 60_000
LATENESS_MS = 60_000
WINDOWS = [("15m", 15 * 60_000, 60_000), ("1h", 60 * 60_000, 5 * 60_000)]
ALPHA, PSI_T, KS_T, MIN_SAMPLES = 0.01, 0.2, 0.1, 100
CLEAR_PSI, CLEAR_KS, FOR = 0.1, 0.05, 2
SCAN_MAX_PANES = 32


def psi(r, c):
    k = len(r)
    p = (r + 0.5) / (r.sum() + 0.5 * k)
    q = (c + 0.5) / (c.sum() + 0.5 * k)
    return float(np.sum((q - p) * np.log(q / p)))


class Column:
    def __init__(self, col):
        self.name = col["name"]
        parts = self.name.split(".", 1)
        self.obj, self.key = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])
        self.numeric = col["type"] == "numeric"
        if self.numeric:
            self.edges = np.array(col["edges"])
            self.ref = np.array(col["bin_counts"], dtype=float)
            n = int(self.ref.sum())
            self.n = n
            self.f_ref = np.concatenate([[0.0], np.cumsum(self.ref) / n])
            before = np.concatenate([[0], np.cumsum(col["bin_counts"])[:-1]])
            g = np.minimum(9, 10 * before // n)
            last = np.nonzero(self.ref)[0][-1]
            g[last + 1:] = g[last]
            _, self.bucket = np.unique(g, return_inverse=True)
            self.k = int(self.bucket.max()) + 1
            self.ref_b = np.bincount(self.bucket, weights=self.ref, minlength=self.k)
            self.size = len(self.ref) + 2  # [underflow, bins..., overflow]
        else:
            self.cats = {c["value"]: i for i, c in enumerate(col["categories"])}
            self.ref = np.array([c["count"] for c in col["categories"]], dtype=float)
            self.other = col["other_count"]
            self.n = int(self.ref.sum()) + self.other
            self.size = len(self.cats)  # unseen values are kept by name

    def pane_counts(self, values):
        """values: list of raw values for one pane -> (counts, unseen dict)."""
        if self.numeric:
            x = np.array(values, dtype=float)
            x = x[~np.isnan(x)]
            idx = np.searchsorted(self.edges[1:], x, side="left") + 1
            idx[x < self.edges[0]] = 0
            return np.bincount(idx, minlength=self.size), {}
        vals, counts = np.unique(np.array([v for v in values if v is not None], dtype=str),
                                 return_counts=True)
        out = np.zeros(self.size, dtype=np.int64)
        unseen = {}
        for v, c in zip(vals.tolist(), counts.tolist()):
            i = self.cats.get(v)
            if i is None:
                unseen[v] = c
            else:
                out[i] = c
        return out, unseen

    def evaluate(self, counts, unseen):
        """-> dict of statistics, raw p-value, sample count."""
        if self.numeric:
            m = int(counts.sum())
            if m == 0:
                return {"psi": 0.0, "ks": 0.0}, 1.0, 0
            under, cur, over = counts[0], counts[1:-1], counts[-1]
            f_cur = np.concatenate([[under], under + np.cumsum(cur)]) / m
            d = float(np.max(np.abs(self.f_ref - f_cur)))
            ne = self.n * m / (self.n + m)
            lam = (math.sqrt(ne) + 0.12 + 0.11 / math.sqrt(ne)) * d
            p = float(special.kolmogorov(lam))
            cb = np.bincount(self.bucket, weights=cur, minlength=self.k)
            cb[0] += under
            cb[-1] += over
            return {"psi": psi(self.ref_b, cb), "ks": d}, p, m
        u = sum(unseen.values())
        m = int(counts.sum()) + u
        if m == 0:
            return {"psi": 0.0}, 1.0, 0
        if self.other > 0:
            rp = np.append(self.ref, self.other)
            cp = np.append(counts, u).astype(float)
            rt, ct = rp, cp
        else:
            rp, cp = (np.append(self.ref, 0), np.append(counts, u).astype(float)) if u else \
                (self.ref, counts.astype(float))
            names = sorted(unseen)
            rt = np.append(self.ref, np.zeros(len(names)))
            ct = np.append(counts, [unseen[v] for v in names])
        table = np.array([rt, ct])
        table = table[:, table.sum(axis=0) > 0]
        if table.shape[1] < 2:
            chi, p = 0.0, 1.0
        else:
            chi, p, _, _ = stats.chi2_contingency(table, correction=False)
        return {"psi": psi(rp, cp), "chi2": float(chi), "new": sorted(unseen)}, float(p), m


def bh(p):
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p)
    adj = p[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(adj[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def iso(ms):
    import datetime
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Window:
    def __init__(self, name, length, slide, cols):
        self.name, self.length, self.slide = name, length, slide
        self.cols = cols
        self.npanes = length // slide
        self.panes = []  # newest last: (counts list, unseen list)
        self.sum = [np.zeros(c.size, dtype=np.int64) for c in cols]
        self.unseen = [dict() for _ in cols]
        self.cur = [np.zeros(c.size, dtype=np.int64) for c in cols]
        self.cur_unseen = [dict() for _ in cols]
        self.state = {}  # column -> [breaches, firing, clears]

    def add_minute(self, counts, unseen):
        for i in range(len(self.cols)):
            self.cur[i] += counts[i]
            for v, c in unseen[i].items():
                self.cur_unseen[i][v] = self.cur_unseen[i].get(v, 0) + c

    def close(self, end_ms, out):
        """Closes the window's current pane (end_ms on a slide boundary)."""
        for i in range(len(self.cols)):
            self.sum[i] += self.cur[i]
            for v, c in self.cur_unseen[i].items():
                self.unseen[i][v] = self.unseen[i].get(v, 0) + c
        self.panes.append((self.cur, self.cur_unseen))
        if len(self.panes) > self.npanes:
            old, old_unseen = self.panes.pop(0)
            for i in range(len(self.cols)):
                self.sum[i] -= old[i]
                for v, c in old_unseen[i].items():
                    left = self.unseen[i][v] - c
                    if left:
                        self.unseen[i][v] = left
                    else:
                        del self.unseen[i][v]
        self.cur = [np.zeros(c.size, dtype=np.int64) for c in self.cols]
        self.cur_unseen = [dict() for _ in self.cols]
        self.evaluate(end_ms, out)

    def decide(self, sums, unseen):
        """-> per column (statistics, significant, drift, samples) of one family."""
        res = [c.evaluate(sums[i], unseen[i]) for i, c in enumerate(self.cols)]
        fam = [i for i, r in enumerate(res) if r[2] >= MIN_SAMPLES]
        padj = np.ones(len(res))
        padj[fam] = bh(np.array([res[i][1] for i in fam]))
        out = []
        for i, (st, _, m) in enumerate(res):
            c = self.cols[i]
            sig = m >= MIN_SAMPLES and padj[i] < ALPHA
            effect = st["psi"] >= PSI_T or (c.numeric and st["ks"] >= KS_T)
            out.append((st, sig, sig and effect, m))
        return out

    def segments(self):
        """Drift flags of the newest 1, 2, 4, ... panes (shorter than the
        window, at most SCAN_MAX_PANES), each length its own BH family."""
        flags = [False] * len(self.cols)
        k = 1
        while k < len(self.panes) and k <= SCAN_MAX_PANES:
            newest = self.panes[-k:]
            sums = [sum(p[0][i] for p in newest) for i in range(len(self.cols))]
            unseen = [{} for _ in self.cols]
            for p in newest:
                for i, u in enumerate(p[1]):
                    for v, c in u.items():
                        unseen[i][v] = unseen[i].get(v, 0) + c
            for i, r in enumerate(self.decide(sums, unseen)):
                flags[i] = flags[i] or r[2]
            k *= 2
        return flags

    def evaluate(self, end_ms, out):
        recent = self.segments()
        for i, (st, sig, drift, m) in enumerate(self.decide(self.sum, self.unseen)):
            c = self.cols[i]
            drift = drift or recent[i]
            s = self.state.setdefault(c.name, [0, False])
            if s[1]:
                cleared = not drift and (not sig or (st["psi"] < CLEAR_PSI and
                                                     (not c.numeric or st["ks"] < CLEAR_KS)))
                if cleared:
                    s[0], s[1] = 0, False
                    out.append(self.alert("resolved", c, st, m, end_ms))
            else:
                s[0] = s[0] + 1 if drift else 0
                if s[0] >= FOR:
                    s[1] = True
                    out.append(self.alert("firing", c, st, m, end_ms))

    def alert(self, status, c, st, m, end_ms):
        return json.dumps({"status": status, "column": c.name, "window": self.name,
                           "window_start": iso(end_ms - self.length),
                           "window_end": iso(end_ms), "samples": m, "tests": st},
                          sort_keys=True)


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    ref_path, logs = argv[0], argv[1]
    with open(ref_path) as f:
        ref = json.load(f)
    model = argv[argv.index("--model") + 1] if "--model" in argv else ref.get("model")
    cols = [Column(c) for c in ref["columns"]]
    ncol = len(cols)
    # Where each column's value is: (object member or None, key).
    paths = [(c.obj, c.key) for c in cols]
    top = [(i, k) for i, (o, k) in enumerate(paths) if o is None]
    objs = sorted({o for o, _ in paths if o is not None})
    per_obj = [(o, [(i, k) for i, (oo, k) in enumerate(paths) if oo == o]) for o in objs]
    windows = [Window(n, length, slide, cols) for n, length, slide in WINDOWS]

    panes = {}  # pane start -> list per column of raw values
    max_ts = None
    next_close = None  # end of the oldest open pane
    counters = {"records": 0, "applied": 0, "late": 0, "unknown_model": 0, "invalid": 0,
                "evaluations": 0}
    out = []

    def close_until(limit, final=False):
        nonlocal next_close
        while next_close is not None and next_close <= limit:
            start = next_close - PANE_MS
            vals = panes.pop(start, None)
            if vals is not None:
                res = [c.pane_counts(vals[i]) for i, c in enumerate(cols)]
                counts = [r[0] for r in res]
                unseen = [r[1] for r in res]
            else:
                counts = [np.zeros(c.size, dtype=np.int64) for c in cols]
                unseen = [{} for _ in cols]
            for w in windows:
                if final and next_close > max_ts - max_ts % w.slide + w.slide:
                    continue  # the flush closes each window's newest pane only
                w.add_minute(counts, unseen)
                if next_close % w.slide == 0:
                    w.close(next_close, out)
                    counters["evaluations"] += 1
            next_close += PANE_MS
            for line in out:
                sys.stdout.write(line + "\n")
            out.clear()

    loads = json.loads
    with open(logs, "rb") as f:
        for line in f:
            counters["records"] += 1
            try:
                r = loads(line)
                ts = r["ts"]
                if r.get("model") != model:
                    counters["unknown_model"] += 1
                    continue
                row = [None] * ncol
                for o, keys in per_obj:
                    d = r.get(o)
                    if d:
                        for i, k in keys:
                            row[i] = d.get(k)
                for i, k in top:
                    row[i] = r.get(k)
            except (ValueError, KeyError, TypeError, AttributeError):
                counters["invalid"] += 1
                continue
            if max_ts is not None and ts < max_ts - LATENESS_MS:
                counters["late"] += 1
                continue
            start = ts - ts % PANE_MS
            if next_close is None:
                next_close = start + PANE_MS
            elif start + PANE_MS < next_close:
                counters["late"] += 1  # its pane already closed
                continue
            vals = panes.get(start)
            if vals is None:
                vals = panes[start] = [[] for _ in range(ncol)]
            for i in range(ncol):
                vals[i].append(row[i])
            counters["applied"] += 1
            if max_ts is None or ts > max_ts:
                max_ts = ts
                if max_ts - LATENESS_MS >= next_close:
                    close_until(max_ts - LATENESS_MS)
    if max_ts is not None:
        # Flush: every window closes the pane holding the newest record.
        close_until(max(max_ts - max_ts % w.slide + w.slide for w in windows), True)
    sys.stderr.write("peer counters: " + " ".join("%s=%d" % kv for kv in counters.items()) +
                     "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/python3
"""Benchmark data for bench_check.sh and bench_replay.sh (fixed seeds, so the
same arguments give the same bytes with the same numpy).

    gen_data.py csv   --rows N --seed S [--drift] OUT.csv
        N rows x 20 columns: f0..f15 standard normal (4 decimals) and c0..c3
        drawn from 8 country codes. --drift shifts f0 by 0.5 sd and puts a new
        category "BR2" in 10 % of c0, so `check` has something to find.

    gen_data.py jsonl --records N --seed S [--t0-ms T] [--rate R] [--drift]
                      [--numeric K --categorical C] OUT.jsonl
        N records of the benchmark shape of DESIGN.md "Performance" (about
        440 bytes each: ts, model, model_version, request_id, features f0..f15
        and c0..c3, prediction.score in [0,1), latency_ms), R records per
        second of event time starting at T (epoch ms). --drift shifts f0 by
        1 sd and puts "BR2" in 20 % of c0 for the middle third of the records,
        so alerts fire and resolve. --numeric/--categorical change the number
        of features (default 16 and 4; 78 and 20 give bench_state.sh's
        100-column variant); the defaults give the same bytes as before.

Needs Debian's python3-numpy (/usr/bin/python3). Writes in chunks, so memory
stays bounded for 10M records."""

import argparse
import sys

import numpy as np

COUNTRIES = np.array(["DE", "FR", "US", "JP", "BR", "IN", "GB", "ES"])
CHUNK = 100_000


def csv_rows(args, out):
    rng = np.random.default_rng(args.seed)
    out.write(",".join(["f%d" % i for i in range(16)] + ["c%d" % i for i in range(4)]) + "\n")
    fmt = ",".join(["%.4f"] * 16 + ["%s"] * 4) + "\n"
    done = 0
    while done < args.rows:
        n = min(CHUNK, args.rows - done)
        num = rng.standard_normal((n, 16))
        cat = COUNTRIES[rng.integers(0, 8, (n, 4))].astype(object)
        if args.drift:
            num[:, 0] += 0.5
            cat[rng.random(n) < 0.1, 0] = "BR2"
        rows = np.concatenate([num.astype(object), cat], axis=1)
        out.write("".join(fmt % tuple(r) for r in rows.tolist()))
        done += n


def jsonl_records(args, out):
    rng = np.random.default_rng(args.seed)
    fmt = ('{"ts": %d, "model": "bench", "model_version": "v1", "request_id": "r-%d", '
           '"features": {' +
           ", ".join('"f%d": %%.4f' % i for i in range(args.numeric)) + ", " +
           ", ".join('"c%d": "%%s"' % i for i in range(args.categorical)) +
           '}, "prediction": {"score": %.4f}, "latency_ms": %.1f}\n')
    step_ms = 1000.0 / args.rate
    done = 0
    while done < args.records:
        n = min(CHUNK, args.records - done)
        idx = np.arange(done, done + n)
        ts = args.t0_ms + np.floor(idx * step_ms).astype(np.int64)
        num = rng.standard_normal((n, args.numeric))
        cat = COUNTRIES[rng.integers(0, 8, (n, args.categorical))].astype(object)
        score = rng.random(n)
        lat = 5.0 + 20.0 * rng.random(n)
        if args.drift:
            mid = (idx >= args.records // 3) & (idx < 2 * args.records // 3)
            num[mid, 0] += 1.0
            cat[mid & (rng.random(n) < 0.2), 0] = "BR2"
        cols = [ts.astype(object)[:, None], idx.astype(object)[:, None], num.astype(object),
                cat, score.astype(object)[:, None], lat.astype(object)[:, None]]
        rows = np.concatenate(cols, axis=1)
        out.write("".join(fmt % tuple(r) for r in rows.tolist()))
        done += n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="kind", required=True)
    c = sub.add_parser("csv")
    c.add_argument("--rows", type=int, default=1_000_000)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--drift", action="store_true")
    c.add_argument("out")
    j = sub.add_parser("jsonl")
    j.add_argument("--records", type=int, default=1_000_000)
    j.add_argument("--seed", type=int, default=1)
    j.add_argument("--t0-ms", type=int, default=1795500000000)
    j.add_argument("--rate", type=float, default=200.0)
    j.add_argument("--drift", action="store_true")
    j.add_argument("--numeric", type=int, default=16)
    j.add_argument("--categorical", type=int, default=4)
    j.add_argument("out")
    args = ap.parse_args()
    with open(args.out, "w", buffering=1 << 20) as out:
        if args.kind == "csv":
            csv_rows(args, out)
        else:
            jsonl_records(args, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

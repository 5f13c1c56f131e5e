#!/usr/bin/python3
"""Generates the example data of the demo "fraud" model (fixed seed, so the
output is the same on every run with the same numpy) and, given the
driftwatch binary, rebuilds reference_stats/fraud.json from it.

    /usr/bin/python3 scripts/gen_example_data.py \
        --driftwatch build/cmd/driftwatch/driftwatch

writes, relative to the top of the checkout:

    examples/fraud/training.jsonl       training data, records as in DESIGN.md
    examples/fraud/serving.jsonl        serving sample drawn like the training data
    examples/fraud/serving-drift.jsonl  serving sample with drift: amount shifted
                                        (log-mean + 0.8) and a new country "BR"
                                        taking 20 % of the traffic
    examples/fraud/training.csv         a small flat CSV version of training data
    reference_stats/fraud.json          (with --driftwatch) the reference, built by
                                        `driftwatch reference build` with
                                        SOURCE_DATE_EPOCH fixed, so it is reproducible

The distributions match the streaming demo (cmd/driftwatch/demo.c). Needs Debian's
python3-numpy (/usr/bin/python3)."""

import argparse
import json
import os
import subprocess
import sys

import numpy as np

SEED = 20261123
T0_MS = 1795500000000  # 2026-11-23T04:40:00Z, as the demo
COUNTRIES = ["DE", "FR", "US", "GB", "NL", "ES", "IT", "PL"]
COUNTRY_W = [0.25, 0.15, 0.2, 0.1, 0.08, 0.08, 0.08, 0.06]
DEVICES = ["ios", "android", "web"]
# created_at of the committed reference (2026-11-23T00:00:00Z).
SOURCE_DATE_EPOCH = "1795392000"


def records(rng, n, drift, t0_ms, prefix):
    amount = rng.lognormal(3.5 + (0.8 if drift else 0.0), 0.8, n)
    age = rng.integers(18, 91, n)  # 18..90 inclusive
    tenure = rng.exponential(400.0, n)
    n_items = 1 + rng.poisson(2.0, n)
    country = rng.choice(COUNTRIES, n, p=COUNTRY_W)
    if drift:
        country = np.where(rng.random(n) < 0.2, "BR", country)
    device = rng.choice(DEVICES, n)
    score = rng.beta(1.2, 6.0, n)  # in [0, 1)
    latency = 5.0 + rng.gamma(2.0, 3.0, n)
    # A little missing data, as real logs have: age unknown for ~1 %.
    age_missing = rng.random(n) < 0.01
    out = []
    for i in range(n):
        out.append({
            "ts": t0_ms + i * 1000,
            "model": "fraud",
            "model_version": "v3",
            "request_id": "%s-%d" % (prefix, i),
            "features": {
                "amount": round(float(amount[i]), 2),
                "age": None if age_missing[i] else int(age[i]),
                "tenure_days": round(float(tenure[i]), 1),
                "n_items": int(n_items[i]),
                "country": str(country[i]),
                "device": str(device[i]),
            },
            "prediction": {
                "score": round(float(score[i]), 4),
                "label": "fraud" if score[i] > 0.5 else "ok",
            },
            "latency_ms": round(float(latency[i]), 1),
        })
    return out


def write_jsonl(path, recs):
    with open(path, "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r, separators=(",", ":")) + "\n")


def write_csv(path, recs):
    cols = ["amount", "age", "tenure_days", "n_items", "country", "device"]
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(cols + ["score", "label"]) + "\n")
        for r in recs:
            feats = r["features"]
            cells = ["" if feats[c] is None else str(feats[c]) for c in cols]
            cells += [str(r["prediction"]["score"]), r["prediction"]["label"]]
            f.write(",".join(cells) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(__file__), ".."),
                    help="top of the checkout (default: the script's parent directory)")
    ap.add_argument("--out-dir", default="examples/fraud",
                    help="where the data goes, relative to --root")
    ap.add_argument("--training-rows", type=int, default=4000)
    ap.add_argument("--serving-rows", type=int, default=1000)
    ap.add_argument("--csv-rows", type=int, default=500)
    ap.add_argument("--driftwatch", help="driftwatch binary: also rebuild reference_stats/fraud.json")
    args = ap.parse_args()

    root = os.path.abspath(args.root)
    out = os.path.join(root, args.out_dir)
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(SEED)
    train = records(rng, args.training_rows, False, T0_MS - 86400000, "t")
    serving = records(rng, args.serving_rows, False, T0_MS, "s")
    drifted = records(rng, args.serving_rows, True, T0_MS, "d")
    write_jsonl(os.path.join(out, "training.jsonl"), train)
    write_jsonl(os.path.join(out, "serving.jsonl"), serving)
    write_jsonl(os.path.join(out, "serving-drift.jsonl"), drifted)
    write_csv(os.path.join(out, "training.csv"), train[:args.csv_rows])
    print("wrote %s/{training,serving,serving-drift}.jsonl and training.csv" % args.out_dir)

    if args.driftwatch:
        os.makedirs(os.path.join(root, "reference_stats"), exist_ok=True)
        env = dict(os.environ, SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH)
        # Relative paths, so the "source" field does not depend on the machine.
        cmd = [os.path.abspath(args.driftwatch), "reference", "build",
               "--input", os.path.join(args.out_dir, "training.jsonl"),
               "--model", "fraud", "--model-version", "v3",
               "--output", "reference_stats/fraud.json"]
        r = subprocess.run(cmd, cwd=root, env=env)
        if r.returncode != 0:
            sys.exit(r.returncode)


if __name__ == "__main__":
    main()

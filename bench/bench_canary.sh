#!/bin/bash
# Cost of versions side by side (issue 13): `driftwatch replay` of RECORDS
# benchmark records (DESIGN.md "Performance"), v1 and v2 interleaved, with
# the default two windows, once without and once with models[].compare
# (every column, both windows) and models[].latency (the default sketch, one
# SLO rule), RUNS times each, interleaved. Reports the median CPU seconds
# (user + system: less disturbed by the other work on a shared machine than
# wall time) and the median peak RSS.
#
#   bench/bench_canary.sh [BUILD_DIR]     (default: build)
#   environment: RUNS (default 3), RECORDS (default 1000000),
#                WORK (scratch directory, default /tmp/driftwatch-bench)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_setup "${1:-build}"
RECORDS="${RECORDS:-1000000}"

train="$WORK/canary-train.jsonl"
logs="$WORK/canary-$RECORDS.jsonl"
echo "generating 200000 training records (seed 11) and $RECORDS serving records (seed 12) in $WORK ..."
$PY "$HERE/gen_data.py" jsonl --records 200000 --seed 11 "$train"
$PY "$HERE/gen_data.py" jsonl --records "$RECORDS" --seed 12 "$logs.v1"
# every other record becomes version v2
awk 'NR % 2 == 0 { sub(/"model_version": "v1"/, "\"model_version\": \"v2\"") } { print }' \
    "$logs.v1" >"$logs"
rm -f "$logs.v1"
"$DW" reference build --input "$train" --output "$WORK/canary-ref.json" --model bench >/dev/null
common='kafka: {brokers: "127.0.0.1:9092", topics: [model-logs]}
windows:
  - {name: 15m, length: 15m, slide: 1m}
  - {name: 1h, length: 1h, slide: 5m}
time: {idle_timeout: 0}
sinks: []
http: {enabled: false}'
printf '%s\nmodels:\n  - name: bench\n    reference: canary-ref.json\n' "$common" \
    >"$WORK/canary-plain.yaml"
printf '%s\nmodels:\n  - name: bench\n    reference: canary-ref.json\n%s\n' "$common" \
'    latency:
      slos: [{quantile: 0.99, max: 250ms, window: 15m}]
    compare: {baseline: v1, latency: {max_ratio: 1.2}}' >"$WORK/canary-compare.yaml"
for label in plain compare; do
    "$DW" validate -c "$WORK/canary-$label.yaml" >/dev/null
    rm -f "$WORK/canary-$label.times"
done
for i in $(seq "$RUNS"); do
    for label in plain compare; do
        timed "canary-$label" "$DW" replay -c "$WORK/canary-$label.yaml" "$logs"
    done
done
echo
echo "replay of $RECORDS records (v1/v2 interleaved), median of $RUNS runs:"
for label in plain compare; do
    printf '  %-8s CPU %6s s   peak RSS %8s KB   (wall: %s)\n' "$label" \
        "$(median "canary-$label" 3)" "$(median "canary-$label" 2)" "$(all "canary-$label")"
done
machine

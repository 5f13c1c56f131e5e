#!/bin/bash
# `driftwatch replay` of 1,000,000 records of the 22-column benchmark shape
# (DESIGN.md "Performance") with two windows (15m/1m, 1h/5m) and no sinks,
# next to a json+numpy+scipy peer doing the same work (bench/peer_replay.py)
# on the same records, timed in the same run, RUNS times each, interleaved:
# driftwatch unpinned, driftwatch under `taskset -c 0` (one core), the peer
# under `taskset -c 0`. Then peak RSS of driftwatch at 1M and 10M records
# (memory must stay flat). See bench/README.md.
#
#   bench/bench_replay.sh [BUILD_DIR]     (default: build)
#   environment: RUNS (default 3), RECORDS (default 1000000),
#                BIG (records of the memory run, default 10000000; 0 skips it),
#                WORK (scratch directory, default /tmp/driftwatch-bench)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_setup "${1:-build}"
RECORDS="${RECORDS:-1000000}"
BIG="${BIG:-10000000}"
command -v taskset >/dev/null || { echo "taskset (util-linux) is missing" >&2; exit 2; }

train="$WORK/replay-train.jsonl"
logs="$WORK/replay-$RECORDS.jsonl"
echo "generating 200000 training records (seed 11) and $RECORDS serving records (seed 12) in $WORK ..."
$PY "$HERE/gen_data.py" jsonl --records 200000 --seed 11 "$train"
$PY "$HERE/gen_data.py" jsonl --records "$RECORDS" --seed 12 --drift "$logs"
"$DW" reference build --input "$train" --output "$WORK/replay-ref.json" --model bench >/dev/null
replay_config "$WORK/replay.yaml"
"$DW" validate -c "$WORK/replay.yaml" >/dev/null
rm -f "$WORK"/replay-*.times

for i in $(seq "$RUNS"); do
    echo "run $i of $RUNS"
    timed replay-dw "$DW" replay -c "$WORK/replay.yaml" --stdout "$logs"
    timed replay-dw-1core taskset -c 0 "$DW" replay -c "$WORK/replay.yaml" --stdout "$logs"
    timed replay-peer taskset -c 0 $PY "$HERE/peer_replay.py" "$WORK/replay-ref.json" "$logs"
done
$PY "$HERE/compare_replay.py" "$WORK/replay-dw.out" "$WORK/replay-peer.out"

if [ "$BIG" -gt 0 ]; then
    big="$WORK/replay-big-$BIG.jsonl"
    echo "generating $BIG records (seed 13) for the memory run ..."
    $PY "$HERE/gen_data.py" jsonl --records "$BIG" --seed 13 --drift "$big"
    timed replay-dw-big taskset -c 0 "$DW" replay -c "$WORK/replay.yaml" --stdout "$big"
    rm -f "$big"
fi

rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
echo
machine
echo "records: $RECORDS ($(du -m "$logs" | cut -f1) MB, $(awk '{ n += length($0) + 1 } END { printf "%.0f", n / NR }' "$logs") bytes/record), runs: $RUNS"
echo "records/s = records / median wall seconds; best = the fastest run; cpu = records / median user+system seconds"
printf '%-20s %9s %11s %11s %11s %8s  %s\n' "run" "median s" "records/s" "best rec/s" "cpu rec/s" "RSS MB" "all runs (s)"
for l in replay-dw replay-dw-1core replay-peer; do
    s=$(median "$l" 1)
    printf '%-20s %9s %11s %11s %11s %8s  %s\n' "${l#replay-}" "$s" "$(rate "$RECORDS" "$s")" \
        "$(rate "$RECORDS" "$(best "$l")")" "$(rate "$RECORDS" "$(median "$l" 3)")" \
        "$(mb "$(median "$l" 2)")" "$(all "$l")"
done
if [ "$BIG" -gt 0 ]; then
    s=$(median replay-dw-big 1)
    printf '%-20s %9s %11s %11s %11s %8s\n' "dw-1core $BIG" "$s" "$(rate "$BIG" "$s")" "-" \
        "$(rate "$BIG" "$(median replay-dw-big 3)")" "$(mb "$(median replay-dw-big 2)")"
fi
awk -v a="$(median replay-peer 1)" -v b="$(median replay-dw-1core 1)" \
    -v c="$(median replay-peer 3)" -v d="$(median replay-dw-1core 3)" \
    'BEGIN { printf "driftwatch (one core) / peer = %.1fx by median wall time, %.1fx by CPU time\n", a / b, c / d }'

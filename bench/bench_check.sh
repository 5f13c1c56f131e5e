#!/bin/bash
# `driftwatch reference build` and `driftwatch check` on 1,000,000 rows x 20
# columns (16 numeric, 4 categorical) next to a numpy/scipy peer doing the
# same work (bench/peer_check.py), timed in the same run, RUNS times each,
# interleaved; prints the medians. See bench/README.md.
#
#   bench/bench_check.sh [BUILD_DIR]      (default: build)
#   environment: RUNS (default 3), ROWS (default 1000000),
#                WORK (scratch directory, default /tmp/driftwatch-bench)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_setup "${1:-build}"
ROWS="${ROWS:-1000000}"

train="$WORK/check-train.csv"
cur="$WORK/check-current.csv"
echo "generating $ROWS rows x 20 columns (seeds 1 and 2) in $WORK ..."
$PY "$HERE/gen_data.py" csv --rows "$ROWS" --seed 1 "$train"
$PY "$HERE/gen_data.py" csv --rows "$ROWS" --seed 2 --drift "$cur"
rm -f "$WORK"/check-*.times

for i in $(seq "$RUNS"); do
    echo "run $i of $RUNS"
    timed check-dw-build "$DW" reference build --input "$train" --output "$WORK/check-dw-ref.json" --model bench
    timed check-peer-build $PY "$HERE/peer_check.py" build "$train" "$WORK/check-peer-ref.json"
    timed check-dw-check "$DW" check --reference "$WORK/check-dw-ref.json" --json "$cur"
    timed check-peer-check $PY "$HERE/peer_check.py" check "$WORK/check-peer-ref.json" "$cur" --json
done

# Same work? The references must be identical and the comparisons agree.
$PY "$HERE/compare_check.py" refs "$WORK/check-dw-ref.json" "$WORK/check-peer-ref.json"
$PY "$HERE/compare_check.py" check "$WORK/check-dw-check.out" "$WORK/check-peer-check.out"

echo
machine
echo "rows: $ROWS x 20 columns ($(du -m "$train" | cut -f1) MB CSV), runs: $RUNS"
printf '%-16s %9s %9s %9s %8s  %s\n' "step" "median s" "best s" "cpu s" "RSS MB" "all runs (s)"
for l in check-dw-build check-peer-build check-dw-check check-peer-check; do
    printf '%-16s %9s %9s %9s %8s  %s\n' "${l#check-}" "$(median "$l" 1)" "$(best "$l")" \
        "$(median "$l" 3)" "$(awk -v k="$(median "$l" 2)" 'BEGIN { printf "%.0f", k / 1024 }')" \
        "$(all "$l")"
done
echo "(median s: median wall time; best s: fastest run; cpu s: median user+system time)"
awk -v a="$(median check-peer-build 1)" -v b="$(median check-dw-build 1)" \
    'BEGIN { printf "reference build: peer / driftwatch = %.2fx\n", a / b }'
awk -v a="$(median check-peer-check 1)" -v b="$(median check-dw-check 1)" \
    'BEGIN { printf "check:           peer / driftwatch = %.2fx\n", a / b }'

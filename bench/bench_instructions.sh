#!/bin/bash
# Instructions per record of `driftwatch replay` under callgrind, next to
# simdjson On-Demand reading every field of the same records (the parse
# limit, bench/simdjson_allfields.cpp). Instruction counts do not depend on
# the machine's load, unlike wall time. The per-record figure is marginal:
# (instructions for LARGE records - instructions for SMALL records) /
# (LARGE - SMALL), so start-up (reference loading) cancels out; start-up is
# measured on its own as a replay of an empty file. See bench/README.md.
#
#   bench/bench_instructions.sh [BUILD_DIR]    (default: build)
#   environment: SMALL (default 3000), LARGE (default 30000),
#                WORK (scratch directory, default /tmp/driftwatch-bench)
# Needs valgrind; the simdjson baseline also needs g++ and Debian's
# libsimdjson-dev (scripts/install-deps.sh --with-bench), else it is skipped.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_setup "${1:-build}"
SMALL="${SMALL:-3000}"
LARGE="${LARGE:-30000}"
command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)" >&2; exit 2; }

# The records of bench_replay.sh (same generator, same seeds), without the
# drift so that the first SMALL records are like the rest.
train="$WORK/replay-train.jsonl"
large="$WORK/instr-$LARGE.jsonl"
small="$WORK/instr-$SMALL.jsonl"
echo "generating 200000 training records (seed 11) and $LARGE serving records (seed 12) in $WORK ..."
$PY "$HERE/gen_data.py" jsonl --records 200000 --seed 11 "$train"
$PY "$HERE/gen_data.py" jsonl --records "$LARGE" --seed 12 "$large"
head -n "$SMALL" "$large" >"$small"
: >"$WORK/instr-empty.jsonl"
"$DW" reference build --input "$train" --output "$WORK/replay-ref.json" --model bench >/dev/null
replay_config "$WORK/replay.yaml"

# callgrind_total LABEL CMD...: total instructions (Ir) of CMD.
callgrind_total() {
    local label="$1"
    shift
    valgrind --tool=callgrind --callgrind-out-file="$WORK/$label.callgrind" "$@" \
        >"$WORK/$label.out" 2>"$WORK/$label.err" || {
        echo "$label failed:" >&2
        tail -5 "$WORK/$label.err" >&2
        exit 1
    }
    sed -n 's/^==[0-9]*== Collected : \([0-9]*\)$/\1/p' "$WORK/$label.err"
}
per_record() { awk -v a="$1" -v b="$2" -v n=$((LARGE - SMALL)) 'BEGIN { printf "%.0f", (b - a) / n }'; }

echo "driftwatch replay under callgrind ..."
dw_empty=$(callgrind_total instr-dw-empty "$DW" replay -c "$WORK/replay.yaml" --stdout "$WORK/instr-empty.jsonl")
dw_small=$(callgrind_total instr-dw-small "$DW" replay -c "$WORK/replay.yaml" --stdout "$small")
dw_large=$(callgrind_total instr-dw-large "$DW" replay -c "$WORK/replay.yaml" --stdout "$large")
dw=$(per_record "$dw_small" "$dw_large")

sj=""
if command -v g++ >/dev/null && [ -f /usr/include/simdjson.h ]; then
    # -march=haswell: simdjson's On-Demand code is chosen at compile time
    # (without -march it is the scalar fallback; -march=native may pick
    # AVX-512, which valgrind cannot run). NDEBUG turns off simdjson's
    # development checks, as a release build would.
    g++ -O2 -DNDEBUG -std=c++17 -march=haswell -o "$WORK/simdjson_allfields" \
        "$HERE/simdjson_allfields.cpp" -lsimdjson
    echo "simdjson_allfields under callgrind ..."
    sj_small=$(callgrind_total instr-sj-small "$WORK/simdjson_allfields" "$small")
    sj_large=$(callgrind_total instr-sj-large "$WORK/simdjson_allfields" "$large")
    sj=$(per_record "$sj_small" "$sj_large")
    grep -q "^records $LARGE invalid 0 " "$WORK/instr-sj-large.out" ||
        { echo "simdjson_allfields did not read every record:" >&2; cat "$WORK/instr-sj-large.out" >&2; exit 1; }
else
    echo "no g++ or libsimdjson-dev: the simdjson baseline is skipped (scripts/install-deps.sh --with-bench)"
fi

echo
machine
echo "records: $SMALL and $LARGE of the benchmark shape ($(awk '{ n += length($0) + 1 } END { printf "%.0f", n / NR }' "$large") bytes/record); instructions = callgrind Ir"
printf '%-34s %14s %14s %14s\n' "program" "$SMALL rec" "$LARGE rec" "per record"
printf '%-34s %14s %14s %14s\n' "driftwatch replay" "$dw_small" "$dw_large" "$dw"
if [ -n "$sj" ]; then
    printf '%-34s %14s %14s %14s\n' "simdjson On-Demand, all fields" "$sj_small" "$sj_large" "$sj"
    awk -v a="$dw" -v b="$sj" 'BEGIN { printf "driftwatch / simdjson = %.2fx instructions per record\n", a / b }'
fi
echo "driftwatch start-up and shutdown (replay of an empty file, reference loading included): $dw_empty instructions"
echo "profiles: $WORK/instr-*.callgrind (callgrind_annotate FILE)"

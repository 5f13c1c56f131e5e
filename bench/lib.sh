# Shared helpers of bench_check.sh and bench_replay.sh (sourced, not run).

PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)

# bench_setup BUILD_DIR: sets DW (the binary), WORK (scratch directory) and
# RUNS, and checks the tools the benchmarks need.
bench_setup() {
    local build="${1:-build}"
    case "$build" in /*) ;; *) build="$TOP/$build" ;; esac
    DW="$build/cmd/driftwatch/driftwatch"
    WORK="${WORK:-/tmp/driftwatch-bench}"
    RUNS="${RUNS:-3}"
    [ -x "$DW" ] || { echo "no driftwatch binary at $DW (build it: meson setup $build && ninja -C $build)" >&2; exit 2; }
    [ -x /usr/bin/time ] || { echo "/usr/bin/time is missing: install the Debian package 'time' (apt-get install time)" >&2; exit 2; }
    $PY -c 'import numpy, scipy' 2>/dev/null || { echo "$PY lacks numpy/scipy (python3-numpy, python3-scipy)" >&2; exit 2; }
    mkdir -p "$WORK"
}

# timed LABEL CMD...: runs CMD with stdout to $WORK/LABEL.out, appends
# "seconds maxrss_kb" to $WORK/LABEL.times. Exit status 0 and 1 (drift) are
# both success; anything else aborts the benchmark.
timed() {
    local label="$1"
    shift
    local rc=0
    /usr/bin/time -f "%e %M %U %S" -o "$WORK/$label.last" "$@" >"$WORK/$label.out" 2>"$WORK/$label.err" || rc=$?
    if [ "$rc" -gt 1 ]; then
        echo "$label failed (exit $rc):" >&2
        tail -5 "$WORK/$label.err" >&2
        exit 1
    fi
    # seconds, peak RSS KB, CPU seconds (user + system)
    tail -1 "$WORK/$label.last" | awk '{ printf "%s %s %.2f\n", $1, $2, $3 + $4 }' >>"$WORK/$label.times"
}

# median LABEL COLUMN: the median of column 1 (wall seconds), 2 (peak RSS KB)
# or 3 (CPU seconds) of LABEL.times.
median() {
    sort -g -k"$2","$2" "$WORK/$1.times" | awk -v c="$2" '{ v[NR] = $c }
        END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# best LABEL: the fastest run's wall seconds (the least disturbed by other
# work on the machine).
best() {
    sort -g -k1,1 "$WORK/$1.times" | head -1 | cut -d' ' -f1
}

# all LABEL: every run's wall seconds, space separated.
all() {
    awk '{ printf "%s%s", sep, $1; sep = " " } END { print "" }' "$WORK/$1.times"
}

# replay_config FILE: the configuration of the replay benchmarks (the two
# default windows, no sinks: replay --stdout prints), reading the reference
# replay-ref.json beside FILE.
replay_config() {
    cat >"$1" <<'EOF'
# bench_replay.sh / bench_instructions.sh: the two default windows, no sinks.
kafka:
  brokers: "127.0.0.1:9092"
  topics: ["model-logs"]
models:
  - name: bench
    reference: replay-ref.json
records:
  fields: [latency_ms]
windows:
  - name: 15m
    length: 15m
    slide: 1m
  - name: 1h
    length: 1h
    slide: 5m
sinks: []
log:
  level: warn
EOF
}

machine() {
    echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(uname -sr)"
    echo "load average (1/5/15 min) at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine adds noise)"
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    local bt
    bt=$($PY -c 'import json, sys
print([o["value"] for o in json.load(open(sys.argv[1])) if o["name"] == "buildtype"][0])' \
        "$(dirname "$DW")/../../meson-info/intro-buildoptions.json" 2>/dev/null || echo unknown)
    echo "build: $DW (buildtype $bt, binary modified $(date -u -r "$DW" +%Y-%m-%dT%H:%M:%SZ))"
}

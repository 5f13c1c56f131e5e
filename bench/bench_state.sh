#!/bin/bash
# State on Kafka (issue 8): what `driftwatch run` writes to the state topic,
# and what the state topic costs in throughput. Everything runs against
# `driftwatch mock-kafka` on loopback. See bench/README.md.
#
# 1. Write rate. For the 22-column benchmark shape and a 100-column variant,
#    at 100 and 1000 records/s of event time: records are produced at
#    SPEEDUP x that rate with flush_interval scaled by 1/SPEEDUP (1 s / 10 =
#    100 ms), so each delta covers as many records as at real-time traffic
#    with the default flush_interval of 1 s, while a bench_state.sh reader
#    counts every message on the state topic (payload bytes as the broker
#    stores them, uncompressed, and what lz4 would make of them). Bytes per minute of event time = bytes per
#    minute of wall time at that traffic (real-time traffic: one event
#    minute per wall minute).
# 2. Throughput. RECORDS records of the benchmark shape in a topic of
#    PARTITIONS partitions (produced once); RUNS times each, interleaved,
#    `driftwatch run` with and without `state:`, from the log line
#    "assigned N partition(s)" until the group has committed every end offset
#    (commit_interval 200 ms in both), and the process's CPU seconds then.
#
#   bench/bench_state.sh [BUILD_DIR]     (default: build)
#   environment: RUNS (default 5), RECORDS (default 480000), PARTITIONS
#                (default 48; the mock keeps ~10,000 such records per
#                partition), MINUTES (event minutes per write-rate run,
#                default 5), SPEEDUP (default 10), STATE_PARTS (input
#                partitions of the write-rate runs, default 6),
#                FLUSH_INTERVAL_MS (the real-time flush_interval the
#                write-rate runs stand for, default 1000), VARIANTS (default
#                "22c-100 22c-1000 100c-100 100c-1000"), TPUT_FLUSH_MS
#                (state.flush_interval of the throughput runs; default:
#                unset, 1 s), SKIP_RATE=1
#                or SKIP_TPUT=1 to skip a part, WORK (scratch directory,
#                default /tmp/driftwatch-bench)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS="${RUNS:-5}"
bench_setup "${1:-build}"
# Enough records that the fixed costs of a run (start, assignment, the
# last delta's flush_interval) do not dominate its CPU time.
RECORDS="${RECORDS:-480000}"
PARTITIONS="${PARTITIONS:-48}"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
MINUTES="${MINUTES:-5}"
SPEEDUP="${SPEEDUP:-10}"
STATE_PARTS="${STATE_PARTS:-6}"
# The mock broker holds a fetch for fetch.wait.max.ms (default 500) even when
# records arrive, so the input would come in half-second bursts; a real
# broker answers once fetch.min.bytes (1) is there. 10 ms makes the mock
# deliver as a real broker would (used in both parts, state on and off).
FETCH_WAIT_MS="${FETCH_WAIT_MS:-10}"
# The real-time state.flush_interval the write-rate runs stand for.
FLUSH_INTERVAL_MS="${FLUSH_INTERVAL_MS:-1000}"
$PY -c 'import confluent_kafka' 2>/dev/null || { echo "$PY lacks confluent_kafka (python3-confluent-kafka)" >&2; exit 2; }
FEED="$HERE/state_feed.py"
W="$WORK/state"
rm -rf "$W"
mkdir -p "$W/state_dir"

# One broker for everything; the topics of every run exist up front (the
# mock serves no CreateTopics).
topics=(--topic "tput:$PARTITIONS")
VARIANTS="${VARIANTS:-22c-100 22c-1000 100c-100 100c-1000}"
for v in $VARIANTS; do
    topics+=(--topic "rate-$v:$STATE_PARTS" --topic "rate-$v-state:1")
done
for i in $(seq "$RUNS"); do
    topics+=(--topic "tput-on-$i-state:1")
done
"$DW" mock-kafka "${topics[@]}" --bootstrap-file "$W/bs" --log-level warn >/dev/null 2>"$W/mock.err" &
MOCK=$!
DWPID=
cleanup() {
    [ -n "$DWPID" ] && kill "$DWPID" 2>/dev/null || true
    kill "$MOCK" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do [ -s "$W/bs" ] && break; sleep 0.1; done
BS=$(cat "$W/bs")

# config NAME TOPIC GROUP REFERENCE EXTRA: writes $W/NAME.yaml
config() {
    cat >"$W/$1.yaml" <<EOF
kafka:
  brokers: "$BS"
  topics: ["$2"]
  group_id: "$3"
  commit_interval: 200ms
  properties:
    fetch.wait.max.ms: "$FETCH_WAIT_MS"
models:
  - name: bench
    reference: $4
records:
  fields: [latency_ms]
windows:
  - {name: 15m, length: 15m, slide: 1m}
  - {name: 1h, length: 1h, slide: 5m}
sinks: []
http:
  enabled: false
state_dir: $W/state_dir
$5
log:
  level: info
  format: text
EOF
    "$DW" validate -c "$W/$1.yaml" >/dev/null
}

# start_dw NAME: `driftwatch run` in the background (DWPID), log in NAME.log;
# returns once the group assigned its partitions.
start_dw() {
    "$DW" run -c "$W/$1.yaml" 2>"$W/$1.log" &
    DWPID=$!
    for _ in $(seq 600); do
        grep -q 'assigned [0-9]* partition' "$W/$1.log" && return 0
        kill -0 "$DWPID" 2>/dev/null || { tail -5 "$W/$1.log" >&2; exit 1; }
        sleep 0.05
    done
    echo "$1: no partition assignment within 30 s" >&2
    exit 1
}

stop_dw() {
    kill -TERM "$DWPID"
    wait "$DWPID" || { echo "driftwatch exited $? ($1)" >&2; exit 1; }
    DWPID=
}

# counter NAME KEY: a value from the final "counters:" log line
counter() {
    grep 'counters:' "$W/$1.log" | tail -1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

echo "generating data in $W ..."
$PY "$HERE/gen_data.py" jsonl --records 200000 --seed 11 "$W/train-22.jsonl"
$PY "$HERE/gen_data.py" jsonl --records 50000 --seed 11 --numeric 78 --categorical 20 "$W/train-100.jsonl"
"$DW" reference build --input "$W/train-22.jsonl" --output "$W/ref-22.json" --model bench >/dev/null
"$DW" reference build --input "$W/train-100.jsonl" --output "$W/ref-100.json" --model bench >/dev/null

flush_ms=$(awk -v s="$SPEEDUP" -v f="$FLUSH_INTERVAL_MS" 'BEGIN { f = f / s; if (f < 10) f = 10; printf "%d", f }')
if [ "${SKIP_RATE:-0}" != 1 ]; then
    printf '%s\n' "variant records/s(event) records event_min wall_s deltas marks payload_B lz4_B stored_B_est max_delta_B applied cpu_s" >"$W/rate.txt"
    for v in $VARIANTS; do
        cols=${v%%c-*}
        rate=${v#*c-}
        n=$((rate * 60 * MINUTES))
        if [ "$cols" = 22 ]; then shape=(); else shape=(--numeric 78 --categorical 20); fi
        $PY "$HERE/gen_data.py" jsonl --records "$n" --seed 12 --rate "$rate" "${shape[@]}" "$W/rate-$v.jsonl"
        config "rate-$v" "rate-$v" "rate-$v" "$W/ref-$cols.json" \
            "state: {topic: rate-$v-state, flush_interval: ${flush_ms}ms}"
        echo "write rate: $v ($cols columns, $rate records/s of event time, $n records at ${SPEEDUP}x, flush_interval ${flush_ms}ms)"
        start_dw "rate-$v"
        $PY "$FEED" pace --bootstrap "$BS" --topic "rate-$v" --partitions "$STATE_PARTS" \
            --file "$W/rate-$v.jsonl" --rate "$rate" --speedup "$SPEEDUP" --group "rate-$v" \
            --state-topic "rate-$v-state" --pid "$DWPID" >"$W/rate-$v.json"
        stop_dw "rate-$v"
        applied=$(counter "rate-$v" applied)
        [ "$applied" = "$n" ] || { echo "rate-$v: applied $applied of $n records" >&2; exit 1; }
        # What the engine counted out must be what the reader found.
        $PY - "$W/rate-$v.json" "$(counter "rate-$v" state.deltas_out)" \
            "$(counter "rate-$v" state.delta_bytes_out)" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
if (r["deltas"], r["delta_payload_bytes"]) != (int(sys.argv[2]), int(sys.argv[3])):
    sys.exit("state topic holds %d deltas, %d bytes; the engine wrote %s, %s bytes"
             % (r["deltas"], r["delta_payload_bytes"], sys.argv[2], sys.argv[3]))
EOF
        $PY - "$W/rate-$v.json" "$v" "$rate" "$applied" >>"$W/rate.txt" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print(sys.argv[2], sys.argv[3], r["records"], "%.2f" % r["event_minutes"], "%.1f" % r["wall_s"],
      r["deltas"], r["marks"], r["payload_bytes"], r["lz4_bytes"], r["stored_bytes_est"],
      r["max_delta_bytes"], sys.argv[4], "%.2f" % r["cpu_s"])
EOF
        rm -f "$W/rate-$v.jsonl"
    done
fi

if [ "${SKIP_TPUT:-0}" != 1 ]; then
    echo "throughput: $RECORDS records of the benchmark shape into $PARTITIONS partitions ..."
    $PY "$HERE/gen_data.py" jsonl --records "$RECORDS" --seed 12 --drift "$W/tput.jsonl"
    $PY "$FEED" fill --bootstrap "$BS" --topic tput --partitions "$PARTITIONS" --file "$W/tput.jsonl" >/dev/null
    rm -f "$WORK"/state-tput-*.times
    for i in $(seq "$RUNS"); do
        for mode in off on; do
            name="tput-$mode-$i"
            if [ "$mode" = on ]; then st="state: {topic: $name-state${TPUT_FLUSH_MS:+, flush_interval: ${TPUT_FLUSH_MS}ms}}"; else st=""; fi
            config "$name" tput "$name" "$W/ref-22.json" "$st"
            echo "run $i of $RUNS: state $mode"
            start_dw "$name"
            $PY "$FEED" wait --bootstrap "$BS" --topic tput --partitions "$PARTITIONS" \
                --group "$name" --pid "$DWPID" >"$W/$name.json"
            stop_dw "$name"
            applied=$(counter "$name" applied)
            [ "$applied" = "$RECORDS" ] || { echo "$name: applied $applied of $RECORDS records" >&2; exit 1; }
            # With state on, the assignment ends with "this replica now
            # sends notifications" (it owns partition 0); the time between
            # is the state topic catch-up of every assigned partition.
            assigned=$(grep -m1 'assigned [0-9]* partition' "$W/$name.log" | grep -o '20[0-9-]*T[0-9:.]*Z')
            leader=$(grep -m1 'now sends notifications' "$W/$name.log" | grep -o '20[0-9-]*T[0-9:.]*Z' || echo "$assigned")
            $PY - "$W/$name.json" "$assigned" "$leader" >>"$WORK/state-tput-$mode.times" <<'EOF'
import datetime, json, sys
r = json.load(open(sys.argv[1]))
a, l = (datetime.datetime.strptime(x, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
    tzinfo=datetime.timezone.utc).timestamp() for x in sys.argv[2:4])
print("%.3f %.2f %.3f %.3f" % (r["done"] - a, r["cpu_s"], l - a, r["done"] - l))
EOF
        done
    done
fi

echo
echo "load average (1/5/15 min) at the start: $LOAD_START"
machine
if [ "${SKIP_RATE:-0}" != 1 ]; then
    echo
    echo "State topic write rate per replica ($STATE_PARTS input partitions, windows 15m/1m and 1h/5m;"
    echo "${SPEEDUP}x playback with flush_interval ${flush_ms}ms = real-time traffic with flush_interval ${FLUSH_INTERVAL_MS}ms;"
    echo "per event minute = per wall minute at that traffic; stored = payload + batch headers (uncompressed); lz4 = what lz4 would make of it)"
    printf '%-10s %6s %9s %7s %9s %11s %11s %11s %10s\n' "variant" "rec/s" "event min" "deltas" \
        "deltas/min" "payload/min" "lz4/min" "stored/min" "max delta"
    tail -n +2 "$W/rate.txt" | while read -r v rate recs emin wall deltas marks pay lz4 stored maxd applied cpu; do
        awk -v v="$v" -v r="$rate" -v m="$emin" -v d="$deltas" -v p="$pay" -v l="$lz4" -v s="$stored" -v x="$maxd" \
            'function kb(b) { return sprintf("%.1f KB", b / 1000) }
             BEGIN { printf "%-10s %6s %9.2f %7d %9.1f %11s %11s %11s %10s\n", v, r, m, d, d / m,
                     kb(p / m), kb(l / m), kb(s / m), kb(x) }'
    done
fi
if [ "${SKIP_TPUT:-0}" != 1 ]; then
    echo
    echo "run throughput: $RECORDS records (bench shape, 200 records/s of event time, drift in the middle third),"
    echo "$PARTITIONS partitions; wall = partition assignment -> group committed the end offsets; RUNS=$RUNS"
    echo "catch-up = the state topic catch-up inside the assignment (none with state off); after = the rest"
    printf '%-6s %9s %10s %9s %10s %9s %11s  %s\n' "state" "median s" "records/s" "catch-up" "after s" \
        "CPU s" "rec/CPU s" "all runs (s)"
    for mode in off on; do
        s=$(median "state-tput-$mode" 1)
        c=$(median "state-tput-$mode" 2)
        printf '%-6s %9s %10s %9s %10s %9s %11s  %s\n' "$mode" "$s" \
            "$(awk -v n="$RECORDS" -v s="$s" 'BEGIN { printf "%.0f", n / s }')" \
            "$(median "state-tput-$mode" 3)" "$(median "state-tput-$mode" 4)" "$c" \
            "$(awk -v n="$RECORDS" -v s="$c" 'BEGIN { printf "%.0f", n / s }')" "$(all "state-tput-$mode")"
    done
    awk -v a="$(median state-tput-off 1)" -v b="$(median state-tput-on 1)" -v c="$(median state-tput-off 2)" \
        -v d="$(median state-tput-on 2)" -v e="$(median state-tput-off 4)" -v f="$(median state-tput-on 4)" \
        'BEGIN { printf "state on costs %+.1f %% wall time (%+.1f %% after the catch-up) and %+.1f %% CPU time (medians)\n",
                 100 * (b - a) / a, 100 * (f - e) / e, 100 * (d - c) / c;
                 printf "records per CPU second: %.1f %% fewer with state on (goal: under 10 %%)\n", 100 * (1 - c / d) }'
    echo "CPU s of every run, off: $(cut -d' ' -f2 "$WORK/state-tput-off.times" | tr '\n' ' ')"
    echo "CPU s of every run, on:  $(cut -d' ' -f2 "$WORK/state-tput-on.times" | tr '\n' ' ')"
fi

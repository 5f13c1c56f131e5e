#!/usr/bin/python3
"""Checks that peer_replay.py and `driftwatch replay --stdout` raised the same
alerts on the same records, so the timing comparison in bench_replay.sh is
fair:

    compare_replay.py DW_STDOUT PEER_STDOUT

Compares the sets of (status, column, window, window_end) and the sample
counts; prints one summary line; exit 0 when they agree, 1 otherwise."""

import json
import sys


def dw_alerts(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            doc = json.loads(line)
            for a in doc.get("alerts", []):
                out[(a["status"], a["column"], a["window"], a["window_end"])] = a["samples"]
    return out


def peer_alerts(path):
    out = {}
    with open(path) as f:
        for line in f:
            a = json.loads(line)
            out[(a["status"], a["column"], a["window"], a["window_end"])] = a["samples"]
    return out


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    a, b = dw_alerts(argv[0]), peer_alerts(argv[1])
    if a != b:
        only_a = sorted(set(a) - set(b))[:5]
        only_b = sorted(set(b) - set(a))[:5]
        diff = [k for k in set(a) & set(b) if a[k] != b[k]][:5]
        print("peer and driftwatch alerts DIFFER: only driftwatch %s; only peer %s; "
              "samples differ %s" % (only_a, only_b, diff))
        return 1
    print("peer and driftwatch agree on all %d alerts (%s)" %
          (len(a), ", ".join("%s %s %s" % (k[0], k[1], k[2]) for k in sorted(a))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""`driftwatch demo` end to end: embedded broker, producer, sidecar engine.

The demo checks its own story (exit 0 only when the injected drifts fired
and resolved); this test also checks what a person reads: the alert lines
and the summary, and that no other column alerted."""
import re
import sys

import harness as h


def main(exe):
    p = h.run([exe, "demo"], timeout=120)
    out = p.stdout
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)

    check(p.returncode == 0, "exit status %d (stderr: %s)" % (p.returncode, p.stderr[-500:]))
    alerts = re.findall(r"\] (FIRING|RESOLVED)\s+(\S+)\s+(\S+)", out)
    fired = {(c, k) for s, c, k in alerts if s == "FIRING"}
    resolved = {(c, k) for s, c, k in alerts if s == "RESOLVED"}
    check(("features.amount", "distribution") in fired, "amount did not fire")
    check(("features.country", "distribution") in fired, "country did not fire")
    check(fired == resolved, "fired %s but resolved %s" % (fired, resolved))
    check(fired == {("features.amount", "distribution"), ("features.country", "distribution")},
          "unexpected alerts: %s" % fired)
    check("new categories: BR" in out, "the new category is not named")
    m = re.search(r"(\d+) records produced, (\d+) consumed and applied", out)
    check(m and m.group(1) == m.group(2), "not every produced record was applied: %s"
          % (m.group(0) if m else "no summary line"))
    print("demo: %d passed, %d failed" % (6 - len(failures), len(failures)))
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    h.main(main, sys.argv[1])

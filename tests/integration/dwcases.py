"""The case runner shared by the multi-case integration tests
(test_sidecar.py, test_operations.py, test_alerting.py)."""
import time
import traceback


def run_cases(cases, only=()):
    """Runs each case (a function; failing = raising) whose name is in
    `only` (all when empty), prints PASS/FAIL lines with timings, and
    returns (passed, failed)."""
    passed = failed = 0
    for case in cases:
        if only and case.__name__ not in only:
            continue
        t = time.monotonic()
        try:
            case()
            passed += 1
            print("PASS %s (%.1f s)" % (case.__name__, time.monotonic() - t), flush=True)
        except Exception as e:
            failed += 1
            print("FAIL %s (%.1f s): %s" % (case.__name__, time.monotonic() - t, e), flush=True)
            if not isinstance(e, AssertionError):
                traceback.print_exc()
    return passed, failed

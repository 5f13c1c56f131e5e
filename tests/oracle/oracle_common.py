"""Helpers shared by the oracle tests (test_*_oracle.py): mismatch
collection, running a C driver on a block of commands, tolerance checks."""
import os
import subprocess
import sys

failures = []


def need(*modules):
    """The modules imported, in order; exits 77 (meson's SKIP) when one is
    not installed."""
    import importlib
    try:
        return [importlib.import_module(m) for m in modules]
    except ImportError as e:
        print("SKIP: %s (Debian's python3-numpy, -scipy, -sklearn)" % e)
        sys.exit(77)


def driver_arg(doc):
    """The driver named on the command line; prints doc and exits 2
    unless there is exactly one argument."""
    if len(sys.argv) != 2:
        print(doc)
        sys.exit(2)
    return sys.argv[1]


def fail(msg):
    failures.append(msg)
    print("MISMATCH: " + msg)


def run(driver, text):
    """Runs the driver on text; its output lines split into words. Exits 1
    when the driver fails (a malformed command is a bug of the test)."""
    out = subprocess.run([driver], input=text, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        print("%s failed (%d): %s" % (os.path.basename(driver), out.returncode,
                                      out.stderr.strip()))
        sys.exit(1)
    return [line.split() for line in out.stdout.splitlines()]


def rel_ok(got, want, rtol):
    if want == 0:
        return got == 0
    return abs(got - want) <= rtol * abs(want)


def run_checks(usage, what, checks):
    """The main of an oracle test: each (check, seed) of checks runs as
    check(driver, numpy.random.default_rng(seed)), or check(driver) when
    seed is None, driver named on the command line; returns finish(what)."""
    import numpy as np
    driver = driver_arg(usage)
    for check, seed in checks:
        if seed is None:
            check(driver)
        else:
            check(driver, np.random.default_rng(seed))
    return finish(what)


def finish(what):
    """The exit status of an oracle test: 1 after any mismatch."""
    if failures:
        print("FAILED: %d mismatches" % len(failures))
        return 1
    print("all %s oracle checks passed" % what)
    return 0

"""The one helper module of driftwatch's integration tests.

Every tests/integration/test_*.py imports it (`import harness as h`, with
this directory on sys.path, which Python does for the script's own
directory). The API is small and meant to stay stable:

Running a test
    main(fn, *args, **kwargs)   calls fn(*args, **kwargs) and exits with its
                                return value (None = 0): on the way out every
                                spawned process is killed, every receiver
                                stopped, and the work directories removed
                                when the test passed (kept, and the tail of
                                every spawned process's stderr printed,
                                when it failed). An exception = exit 1; so
                                is a sanitizer report (TSan, ASan, UBSan) in
                                any spawned process's stderr.
    skip(reason)                prints "SKIP: reason" and exits 77 (meson's
                                SKIP). Never a failure.
    need_tool(name)             shutil.which(name), or skip(); returns path.
    need_module(name)           imports a Python module or skip()s (the
                                harness does so for confluent_kafka and
                                prometheus_client).
    budget(seconds)             sets the whole test's time budget;
    remaining(cap)              min(cap, time left), AssertionError when
                                the budget is spent (no budget: cap).
    check(cond, msg)            raise AssertionError(msg) unless cond.
    run_cases(cases, only=())   runs case functions (failing = raising),
                                prints PASS/FAIL lines, returns
                                (passed, failed).
    workdir(prefix)             a fresh temporary directory (see main()).
    ROOT                        the source tree (examples/, docs/, ...).
    read(path) -> text; write_jsonl(path, records): dicts as compact JSON
                                lines.
    args(argv, doc, budget_s=None, exact=False) -> (binary, case names)
                                the command line BINARY [CASE...] of a
                                test (exact: BINARY alone): the binary's
                                absolute path and the names after it;
                                prints doc and exits 2 without a binary.
                                Sets budget(budget_s) when given.
    report(passed, failed)      prints "N passed, N failed"; returns the
                                exit status (1 when any failed).
    Checks()                    soft checks for scripts that report every
                                check: checks(cond, msg) prints "ok"/"FAIL"
                                and counts; checks.status() -> exit status.

Waiting
    wait_for(predicate, timeout, what, step=0.1)
        Polls predicate() until it returns a true value, which is returned.
        OSError, ValueError and KeyError raised by the predicate mean "not
        yet" (a file not written, a port not open, a partial document);
        other exceptions (AssertionError from check()) propagate. After
        remaining(timeout) seconds: AssertionError("timed out after T s
        waiting for WHAT (last: ...)").

Processes
    spawn(args, name, cwd=None, env=None, stdout=None, text=False, stdin=None) -> Popen
        Starts a process with stdin from /dev/null (stdin=subprocess.PIPE
        to write to it), stdout and stderr in <logdir>/<name>.stdout /
        .stderr (stdout=subprocess.PIPE to read it instead). The Popen gets
        .name, .stdout_path, .stderr_path. It is killed when the test exits
        however it exits, and, when spawned from the main thread, also when
        this process is killed (PR_SET_PDEATHSIG).
    stop(proc, timeout=30, sig=SIGTERM) -> exit status
        Signals a running process and waits; kills it and raises when it
        does not exit in time.
    stderr_tail(proc, n=15), log_msgs(proc), counters(proc)
        The last lines of its stderr; the "msg" of each JSON log line; the
        key=int pairs of driftwatch's one final "counters:" line. log_msgs
        and counters also take captured stderr text (run(...).stderr).
    free_port() -> int          a loopback TCP port nobody listens on now.
    run(args, timeout=60, stdin=None, env=None, cwd=None) -> CompletedProcess
        subprocess.run with captured text output, bounded by remaining().

Kafka (driftwatch mock-kafka, python3-confluent-kafka)
    mock_kafka(dw, topics, name="mock-kafka", args=()) -> (proc, bootstrap)
        topics: {"name": partitions}; args: more options (--log-level warn).
        Waits for its bootstrap file.
    produce(bootstrap, topic, items, nparts=None) -> [count per partition]
        items: values (str, bytes or dict = compact JSON) or (ts_ms, value)
        pairs. With nparts, item i goes to partition i % nparts (every
        partition stays in event-time order); without, the partitioner
        chooses and the counts list has one entry. Flushes; raises on any
        delivery error.
    consume(bootstrap, topic, count, timeout=60, group="dw-itest-reader")
        -> the first count messages (confluent_kafka Message objects) of
        topic from the earliest offset; fails after timeout seconds.
    KafkaTopic(bootstrap, topic, nparts, group)
        .produce(items) (partitions continue across calls), .committed(),
        .ends(), .wait_caught_up(proc, timeout=60), .close(): a group's
        committed offsets read without joining the group.

driftwatch
    build_reference(dw, path, records, model=None, args=()) -> reference dict
        records: an iterable of dicts (written as JSONL beside path) or the
        path of an existing input file. Runs `driftwatch reference build`
        and fails with its stderr when it fails.
    validate(dw, config_path)   `driftwatch validate -c`; fails on rc != 0.
    check_json(dw, ref, cur, *opts) -> (exit status, document, stderr)
        `driftwatch check --json --reference REF [OPTS] CUR`; fails unless
        it exits 0 (no drift) or 1 (drift or quality issue).
    config_head(models, windows=("15m",), brokers="127.0.0.1:9",
                topic="unused", group="unused", fast=False, kafka_extra="")
        -> YAML text: the kafka:, models: and windows: sections of a
        configuration. models: [(name, reference path)]; windows: "15m"
        (length 15m, slide 1m) or (length, slide) pairs; group None: no
        group_id; fast: the short poll, commit and group session settings
        a test against mock-kafka wants; kafka_extra: more lines of the
        kafka: section ("  dead_letter_topic: dead\n").
    webhook_tail(url, state_dir) -> YAML text: time: (idle_timeout 0s),
        sinks: (one webhook "hook" posting to url), http: (off) and
        state_dir: sections, the end of a configuration a test receives
        the alerts of.
    scraped(text, name, **labels) -> float or None
        One sample of /metrics text, found by its exact series name (no
        parser needed).

Time
    iso(ms) -> "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC), the form driftwatch writes.
    ms_of(text) -> milliseconds since the epoch of that form; fails on any
        other form.

HTTP
    Receiver                    the scripted receiver of receiver.py
                                (Receiver(responses=[...]).start(): .url,
                                .requests(), .stop()); started receivers
                                are stopped by main().
    http(method, url, body=None, headers=None, timeout=10)
        -> (status, headers, text); HTTP error statuses are answers.
    metrics(base) -> (samples, types, text)
        /metrics parsed by prometheus_client: samples maps (name,
        ((label, value), ...)) to the value; types maps family -> type.
    metric(samples, name, **labels) -> value or None
    status(base) -> the /api/v1/status document (200 + JSON checked).

notify_driver (a real dw_notifier driven from a JSONL file of documents)
    native_doc(i, status="firing", doc_id=None) -> a native drift document
        with one KS alert on features.amount (id "fraud-v3-<i>" unless
        doc_id is given; dedup_key "k<i>").
    DriverTest                  unittest.TestCase base: DriverTest.DRIVER is
                                the binary; self.tmp (a TemporaryDirectory),
                                self.receiver(responses, **kw) (stopped in
                                tearDown), self.driver(docs, *args,
                                timeout=120) -> (stats dict, completed
                                process), failing unless it exits 0;
                                self.run_driver(...) the same, also
                                failing unless no document remained.
    unittest_main(globals(), names)
                                main(unittest.main) after taking the leading
                                non-option arguments into the module's
                                globals named in names ("DRIVER", ...).
"""

import atexit
import ctypes
import json
import re
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import unittest
import urllib.error
import urllib.request
from datetime import datetime, timezone

from receiver import Receiver as _Receiver

__all__ = [
    "ROOT", "read", "write_jsonl", "main", "skip", "need_tool", "need_module", "budget",
    "remaining", "check", "run_cases", "workdir", "args", "report", "Checks", "wait_for",
    "spawn", "stop", "stderr_tail", "log_msgs", "counters", "free_port", "run", "mock_kafka",
    "produce", "consume", "KafkaTopic", "build_reference", "validate", "check_json",
    "config_head", "webhook_tail", "scraped", "iso", "ms_of", "Receiver", "http", "metrics",
    "metric", "status",
    "native_doc", "DriverTest", "unittest_main",
]

# The source tree (tests/integration/../..): examples/, reference_stats/, docs/.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_procs = []
_receivers = []
_workdirs = []
_logs = []  # stderr files of spawned processes, their tails shown on failure
_deadline = None
_budget_s = None
_logdir = None


# ---------------------------------------------------------------- running

def skip(reason):
    """Ends the test as skipped (exit 77, which meson reports as SKIP)."""
    print("SKIP: " + reason, flush=True)
    sys.exit(77)


def need_tool(name):
    path = shutil.which(name)
    if not path:
        skip("%s is not installed" % name)
    return path


def need_module(name):
    import importlib
    try:
        return importlib.import_module(name)
    except ImportError as e:
        skip("Python module %s is not available (%s)" % (name, e))


def budget(seconds):
    """The whole test's time budget, counted from now."""
    global _deadline, _budget_s
    _budget_s = seconds
    _deadline = time.monotonic() + seconds


def remaining(cap):
    """Seconds for one wait: at most cap, never beyond the budget."""
    if _deadline is None:
        return cap
    left = _deadline - time.monotonic()
    if left <= 0:
        raise AssertionError("test budget of %g s exhausted" % _budget_s)
    return min(cap, left)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def run_cases(cases, only=()):
    """Runs each case (a function; failing = raising) whose name is in
    `only` (all when empty), prints PASS/FAIL lines with timings, and
    returns (passed, failed)."""
    passed = failed = 0
    # A case is named by its function name or without the "case_" prefix
    # (test_state.py restart == case_restart); a name that matches no case
    # fails rather than run nothing and pass.
    def names(case):
        n = case.__name__
        return {n, n[5:]} if n.startswith("case_") else {n}
    unknown = [o for o in only if not any(o in names(c) for c in cases)]
    if unknown:
        print("FAIL: no such case: %s (cases: %s)" % (", ".join(unknown), ", ".join(
            c.__name__ for c in cases)), flush=True)
        return 0, len(unknown)
    for case in cases:
        if only and not (names(case) & set(only)):
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


def args(argv, doc, budget_s=None, exact=False):
    """(absolute path of argv[1], the case names after it); prints doc and
    exits 2 when argv has no binary (exact: when it has more)."""
    if len(argv) < 2 or (exact and len(argv) != 2):
        print(doc)
        sys.exit(2)
    if budget_s is not None:
        budget(budget_s)
    return os.path.abspath(argv[1]), argv[2:]


def report(passed, failed):
    """The "N passed, N failed" line of a case test; its exit status."""
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


class Checks:
    """Soft checks: each prints "ok" or "FAIL" with its message and the
    script goes on, so one run shows every failing check."""

    def __init__(self):
        self.failures = 0

    def __call__(self, ok, msg):
        print("%s %s" % ("ok  " if ok else "FAIL", msg), flush=True)
        self.failures += not ok
        return ok

    def status(self):
        if self.failures:
            print("FAILED: %d checks" % self.failures)
        return 1 if self.failures else 0


def workdir(prefix="dw-itest-"):
    """A fresh temporary directory; the first one also holds spawn()'s logs.
    Removed by main() when the test passes, kept when it fails."""
    global _logdir
    d = tempfile.mkdtemp(prefix=prefix)
    _workdirs.append(d)
    if _logdir is None:
        _logdir = d
    return d


def _cleanup(passed):
    for rx in list(_receivers):
        try:
            rx.stop()
        except Exception:
            pass
    _receivers.clear()
    for p in list(_procs):
        if p.poll() is None:
            p.kill()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
    _procs.clear()
    if not passed:
        for path in _logs:
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    tail = f.readlines()[-20:]
            except OSError:
                continue
            if tail:
                sys.stderr.write("--- %s (tail)\n%s\n" % (path, "".join(tail)))
    _logs.clear()
    for d in list(_workdirs):
        if passed:
            shutil.rmtree(d, ignore_errors=True)
        else:
            print("logs kept in %s" % d, file=sys.stderr, flush=True)
    _workdirs.clear()


def _on_term(signum, frame):
    # meson sends SIGTERM on timeout: leave no process behind.
    _cleanup(passed=False)
    os._exit(128 + signum)


def main(fn, *args, **kwargs):
    """Runs fn(*args, **kwargs) and exits with its status (None = 0)."""
    signal.signal(signal.SIGTERM, _on_term)
    rc = 1
    try:
        rc = fn(*args, **kwargs)
        rc = 0 if rc is None else int(rc)
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        traceback.print_exc()
        rc = 1
    finally:
        if rc in (0, 77) and _sanitizer_reports():
            rc = 1
        _cleanup(passed=rc in (0, 77))
    sys.exit(rc)


_SANITIZER_MARKS = ("WARNING: ThreadSanitizer", "ERROR: AddressSanitizer",
                    "ERROR: LeakSanitizer", "runtime error: ")


def _sanitizer_reports():
    """Prints and counts sanitizer reports in spawned processes' stderr, so
    a report fails the test even where it does not change an exit status."""
    found = 0
    for path in _logs:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        if any(m in text for m in _SANITIZER_MARKS):
            found += 1
            print("FAIL: sanitizer report in %s" % path, flush=True)
    return found


atexit.register(lambda: _cleanup(passed=False) if (_procs or _receivers) else None)


# ---------------------------------------------------------------- waiting

def wait_for(predicate, timeout, what, step=0.1):
    """Polls predicate() until it returns a true value (returned)."""
    cap = remaining(timeout)
    deadline = time.monotonic() + cap
    last = None
    while True:
        try:
            last = predicate()
        except (OSError, ValueError, KeyError) as e:  # not there yet
            last = e
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %g s waiting for %s (last: %r)"
                                 % (round(cap, 1), what, last))
        time.sleep(step)


# ---------------------------------------------------------------- processes

_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:
        pass


def spawn(args, name, cwd=None, env=None, stdout=None, text=False, stdin=None):
    """Starts args with its output in <logdir>/<name>.stdout/.stderr."""
    d = _logdir or workdir()
    out_path = os.path.join(d, name + ".stdout")
    err_path = os.path.join(d, name + ".stderr")
    out = stdout if stdout is not None else open(out_path, "w")
    err = open(err_path, "w")
    # The death signal follows the spawning thread: only from the main one.
    pre = _die_with_parent if threading.current_thread() is threading.main_thread() else None
    p = subprocess.Popen([str(a) for a in args],
                         stdin=subprocess.DEVNULL if stdin is None else stdin, stdout=out,
                         stderr=err, cwd=cwd, env=env, text=text, preexec_fn=pre)
    if stdout is None:
        out.close()
    err.close()
    p.name = name
    p.stdout_path = out_path if stdout is None else None
    p.stderr_path = err_path
    _procs.append(p)
    _logs.append(err_path)
    return p


def stop(proc, timeout=30, sig=signal.SIGTERM):
    """Signals proc (when still running) and returns its exit status."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=remaining(timeout))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        raise AssertionError("%s did not exit within %g s of signal %d:\n%s"
                             % (proc.name, timeout, sig, stderr_tail(proc)))


def stderr_tail(proc, n=15):
    try:
        with open(proc.stderr_path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def log_msgs(proc):
    """The "msg" of every JSON log line in proc's stderr (a spawned
    process, or the captured stderr text of run())."""
    if isinstance(proc, str):
        lines = proc.splitlines()
    else:
        try:
            with open(proc.stderr_path, encoding="utf-8", errors="replace") as f:
                lines = f.readlines()
        except OSError:
            return []
    out = []
    for line in lines:
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line).get("msg", ""))
            except ValueError:
                pass
    return out


def counters(proc):
    """The key=value pairs of driftwatch's one final "counters:" log line
    (proc as for log_msgs)."""
    found = [m for m in log_msgs(proc) if m.startswith("counters:")]
    if isinstance(proc, str):
        name, tail = "output", proc[-2000:]
    else:
        name, tail = proc.name, stderr_tail(proc)
    check(len(found) == 1, "%s: expected one counters line, found %d:\n%s"
          % (name, len(found), tail))
    out = {}
    for kv in found[0][len("counters:"):].split():
        k, _, v = kv.partition("=")
        out[k] = int(v)
    return out


def free_port():
    """A loopback port with no listener (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(args, timeout=60, stdin=None, env=None, cwd=None):
    return subprocess.run([str(a) for a in args], input=stdin, capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=remaining(timeout))


# ---------------------------------------------------------------- kafka

def mock_kafka(dw, topics, name="mock-kafka", args=()):
    """Starts `driftwatch mock-kafka` with topics {"name": partitions};
    returns (proc, bootstrap address)."""
    d = _logdir or workdir()
    bs_file = os.path.join(d, name + ".bootstrap")
    cmd = [dw, "mock-kafka", "--bootstrap-file", bs_file] + list(args)
    for topic, n in topics.items():
        cmd += ["--topic", "%s:%d" % (topic, n)]
    proc = spawn(cmd, name)

    def ready():
        check(proc.poll() is None, "mock-kafka exited (rc %s):\n%s"
              % (proc.returncode, stderr_tail(proc)))
        with open(bs_file) as f:
            return f.read().strip()
    return proc, wait_for(ready, 20, "mock-kafka's bootstrap file")


def _value(v):
    if isinstance(v, dict):
        return json.dumps(v, separators=(",", ":"))
    return v


def _produce(producer, topic, items, nparts, first):
    errors = []

    def cb(err, msg):
        if err is not None:
            errors.append(err)

    counts = [0] * (nparts or 1)
    i = first
    for item in items:
        ts, value = item if isinstance(item, tuple) else (None, item)
        kw = {"on_delivery": cb}
        if ts is not None:
            kw["timestamp"] = int(ts)
        if nparts:
            kw["partition"] = i % nparts
        while True:
            try:
                producer.produce(topic, value=_value(value), **kw)
                break
            except BufferError:
                producer.poll(0.05)
        counts[i % nparts if nparts else 0] += 1
        i += 1
    left = producer.flush(remaining(30))
    check(left == 0, "producer: %d messages not delivered" % left)
    check(not errors, "producer delivery errors: %s" % errors[:3])
    return counts


def produce(bootstrap, topic, items, nparts=None):
    Producer = need_module("confluent_kafka").Producer
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 10,
                  "queue.buffering.max.messages": 200000})
    return _produce(p, topic, items, nparts, 0)


def consume(bootstrap, topic, count, timeout=60, group="dw-itest-reader"):
    """The first count messages of topic, read from the earliest offset
    by a consumer of its own group; fails after timeout seconds."""
    Consumer = need_module("confluent_kafka").Consumer
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got = []

    def poll():
        m = c.poll(0.2)
        if m is not None and not m.error():
            got.append(m)
        return len(got) >= count
    try:
        wait_for(poll, timeout, "%d messages on %s" % (count, topic))
    finally:
        c.close()
    return got


class KafkaTopic:
    """A producer and a reader of one group's committed offsets (outside
    the group) for one topic."""

    def __init__(self, bootstrap, topic, nparts, group):
        Consumer = need_module("confluent_kafka").Consumer
        self.bootstrap, self.topic, self.nparts, self.group = bootstrap, topic, nparts, group
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                           "enable.auto.commit": False})
        self.p = None
        self.sent = 0

    def produce(self, items):
        Producer = need_module("confluent_kafka").Producer
        if self.p is None:
            self.p = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 10,
                               "queue.buffering.max.messages": 200000})
        items = list(items)
        counts = _produce(self.p, self.topic, items, self.nparts, self.sent)
        self.sent += len(items)
        return counts

    def tps(self):
        TopicPartition = need_module("confluent_kafka").TopicPartition
        return [TopicPartition(self.topic, p) for p in range(self.nparts)]

    def committed(self):
        """Committed offset per partition (0 when none is committed)."""
        res = self.c.committed(self.tps(), timeout=remaining(10))
        return [max(tp.offset, 0) for tp in sorted(res, key=lambda t: t.partition)]

    def ends(self):
        return [self.c.get_watermark_offsets(tp, timeout=remaining(10))[1] for tp in self.tps()]

    def wait_caught_up(self, proc, timeout=60):
        """Waits until the group committed the end offsets (every record
        applied); fails early when proc exits."""
        ends = self.ends()
        last = [None]

        def done():
            check(proc.poll() is None, "%s exited (rc %s) while consuming:\n%s"
                  % (proc.name, proc.returncode, stderr_tail(proc)))
            last[0] = self.committed()
            return last[0] == ends
        try:
            wait_for(done, timeout, "group %s to commit end offsets %s" % (self.group, ends),
                     0.2)
        except AssertionError as e:
            raise AssertionError("%s (committed: %s)" % (e, last[0]))
        return ends

    def close(self):
        self.c.close()


# ---------------------------------------------------------------- driftwatch

def read(path):
    """The text of a file."""
    with open(path) as f:
        return f.read()


def write_jsonl(path, records):
    """records (dicts) as compact JSON, one a line."""
    with open(path, "w") as f:
        for r in records:
            f.write(json.dumps(r, separators=(",", ":")) + "\n")


def build_reference(dw, path, records, model=None, args=()):
    """`driftwatch reference build` over records; returns the reference."""
    if isinstance(records, (str, os.PathLike)):
        src = records
    else:
        src = os.path.splitext(path)[0] + ".train.jsonl"
        write_jsonl(src, records)
    cmd = [dw, "reference", "build", "--input", src, "--output", path]
    if model is not None:
        cmd += ["--model", model]
    r = run(cmd + list(args), timeout=120)
    check(r.returncode == 0, "reference build failed (rc %d): %s" % (r.returncode, r.stderr))
    with open(path) as f:
        return json.load(f)


def check_json(dw, ref, cur, *opts):
    """`driftwatch check --json`: (exit status, document, stderr)."""
    r = run([dw, "check", "--json", "--reference", ref] + [str(o) for o in opts] + [cur],
            timeout=120)
    check(r.returncode in (0, 1), "check %s failed (%d): %s"
          % (cur, r.returncode, r.stderr.strip()))
    return r.returncode, json.loads(r.stdout), r.stderr


def validate(dw, config_path):
    r = run([dw, "validate", "-c", config_path], timeout=30)
    check(r.returncode == 0, "validate %s: %s%s" % (config_path, r.stdout, r.stderr))


def config_head(models, windows=("15m",), brokers="127.0.0.1:9", topic="unused",
                group="unused", fast=False, kafka_extra=""):
    """The kafka:, models: and windows: sections of a configuration."""
    text = 'kafka:\n  brokers: "%s"\n  topics: ["%s"]\n' % (brokers, topic)
    if group is not None:
        text += '  group_id: "%s"\n' % group
    if fast:
        text += ("  poll_timeout: 50ms\n  commit_interval: 200ms\n  properties:\n"
                 '    session.timeout.ms: "6000"\n    heartbeat.interval.ms: "500"\n')
    text += kafka_extra
    text += "models:\n" + "".join("  - name: %s\n    reference: %s\n" % m for m in models)
    text += "windows:\n"
    for w in windows:
        length, slide = (w, "1m") if isinstance(w, str) else w
        text += "  - {name: %s, length: %s, slide: %s}\n" % (length, length, slide)
    return text


def webhook_tail(url, state_dir):
    """time:, sinks: (one webhook "hook" to url), http: (off) and state_dir:
    sections: the end of a configuration whose alerts a test receives."""
    return ("time: {idle_timeout: 0s}\nsinks:\n  - name: hook\n    type: webhook\n"
            '    url: "%s"\nhttp: {enabled: false}\nstate_dir: %s\n' % (url, state_dir))


def scraped(text, name, **labels):
    """The value of one series in /metrics text, or None."""
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    key = "%s{%s}" % (name, want) if labels else name
    for line in text.splitlines():
        if line.split(" ")[0] == key:
            return float(line.split(" ")[1])
    return None


# ---------------------------------------------------------------- time

_RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def iso(ms):
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def ms_of(s):
    check(isinstance(s, str) and _RFC3339_MS.match(s), "not an RFC 3339 UTC time: %r" % (s,))
    return int(round(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000))


# ---------------------------------------------------------------- http

class Receiver(_Receiver):
    """receiver.py's Receiver, stopped by main() if the test does not."""

    def start(self):
        _receivers.append(self)
        return super().start()

    def stop(self):
        if self in _receivers:
            _receivers.remove(self)
        super().stop()


def http(method, url, body=None, headers=None, timeout=10):
    """(status, headers, text) of one request; HTTP errors are answers."""
    if isinstance(body, str):
        body = body.encode()
    req = urllib.request.Request(url, method=method, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=remaining(timeout)) as r:
            return r.status, r.headers, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode("utf-8")


def metrics(base):
    """/metrics parsed by prometheus_client (which rejects malformed
    exposition text): (samples, types, text)."""
    parser = need_module("prometheus_client.parser")
    code, headers, body = http("GET", base + "/metrics")
    check(code == 200, "/metrics answered %d" % code)
    check(headers["Content-Type"].startswith("text/plain; version=0.0.4"),
          "/metrics Content-Type %s" % headers["Content-Type"])
    out = {}
    types = {}
    for fam in parser.text_string_to_metric_families(body):
        types[fam.name] = fam.type
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out, types, body


def metric(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def status(base):
    code, headers, body = http("GET", base + "/api/v1/status")
    check(code == 200, "/api/v1/status answered %d" % code)
    check(headers["Content-Type"].startswith("application/json"),
          "/api/v1/status Content-Type %s" % headers["Content-Type"])
    return json.loads(body)


# ---------------------------------------------------------------- notify_driver

def native_doc(i, status="firing", doc_id=None):
    """A native drift document with one KS alert (docs/alerts.md)."""
    return {
        "version": "1", "kind": "drift", "id": doc_id or "fraud-v3-%d" % i,
        "model": "fraud", "model_version": "v3",
        "evaluated_at": "2026-11-25T13:45:00.000Z",
        "alerts": [{
            "status": status, "column": "features.amount", "window": "15m",
            "window_start": "2026-11-25T13:30:00.000Z",
            "window_end": "2026-11-25T13:45:00.000Z",
            "samples": 4980, "severity": "warning", "kind": "distribution",
            "tests": {"ks": {"statistic": 0.31, "p_value": 1e-40, "p_adjusted": 1e-39},
                      "psi": 0.52},
            "reference_samples": 100000, "new_categories": [],
            "dedup_key": "k%d" % i, "starts_at": "2026-11-25T13:45:00.000Z",
            "ends_at": None}],
    }


class DriverTest(unittest.TestCase):
    """Tests that run notify_driver against local receivers."""
    DRIVER = os.environ.get("NOTIFY_DRIVER", "")

    def setUp(self):
        if not self.DRIVER or not os.access(self.DRIVER, os.X_OK):
            self.fail("NOTIFY_DRIVER must name the notify_driver binary")
        self.tmp = tempfile.TemporaryDirectory(prefix="dw_driver_")
        self.receivers = []
        self.runs = 0

    def tearDown(self):
        for r in self.receivers:
            r.stop()
        self.tmp.cleanup()

    def receiver(self, responses, **kw):
        r = Receiver(responses, **kw).start()
        self.receivers.append(r)
        return r

    def driver(self, docs, *args, timeout=120):
        """Runs notify_driver once over docs; returns (stats, process)."""
        self.runs += 1
        inp = os.path.join(self.tmp.name, "docs-%d.jsonl" % self.runs)
        with open(inp, "w") as f:
            for d in docs:
                f.write(json.dumps(d) + "\n")
        stats = os.path.join(self.tmp.name, "stats-%d.json" % self.runs)
        cmd = [self.DRIVER, "--input", inp, "--stats", stats] + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(stats) as f:
            return json.load(f), p

    def run_driver(self, docs, *args, timeout=120):
        """driver(), and every document left the queue (none remaining)."""
        out, p = self.driver(docs, *args, timeout=timeout)
        self.assertEqual(out["remaining"], 0, out)
        return out, p


def unittest_main(module_globals, names):
    """meson passes binaries as leading arguments: they fill the globals
    named in names (in order; DRIVER also sets DriverTest.DRIVER), the
    remaining options go to unittest."""
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    for name, value in zip(names, args):
        module_globals[name] = value
        if name == "DRIVER":
            DriverTest.DRIVER = value
    argv = [sys.argv[0]] + [a for a in sys.argv[1:] if a.startswith("-")]
    main(unittest.main, module=module_globals["__name__"], argv=argv, verbosity=2)

#!/usr/bin/python3
"""Slow clients cannot take the liveness probe down (issue 11, item 3).

usage: test_slowloris.py DRIFTWATCH_BINARY [CASE...]

Runs `driftwatch replay --http -` (its HTTP server is the one `run` serves;
stdin stays open so it keeps serving) on 127.0.0.1:0, then holds 150
slow-loris sockets against it: each sends the start of a request and then
one byte every 0.3 s, and is opened again as soon as the server closes it,
as an attacker would. While the flood lasts, /healthz is asked every 0.1 s
from 127.0.0.1 with a 1 s timeout, and every answer must be `200 ok`.

* one_address: the 150 sockets come from 127.0.0.2 (one client address);
  the server holds at most DW_HTTP_MAX_PER_IP (16) of them at once.
* many_addresses: 15 sockets from each of 127.0.0.2..127.0.0.11, under the
  per-address limit but above the server's DW_HTTP_MAX_CONNECTIONS (128).
* request_timeout: 3 sockets that keep trickling for 6 s are closed for
  taking longer than 5 s to send their request, and counted so.

After each flood, /metrics must count at least as many connections closed
by the server (driftwatch_http_connections_closed_total) as the flood saw
closed, and /api/v1/status and /metrics must still answer.

The 1 s is a timeout of the probe (as a kubelet's timeoutSeconds), not a
measurement: no latency is asserted.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness as h  # noqa: E402
from harness import run_cases  # noqa: E402

ROOT = h.ROOT

DW = None
PORT = None
PROC = None
SOCKETS = 150
FLOOD_S = 8.0
MAX_PER_IP = 16  # DW_HTTP_MAX_PER_IP
MAX_CONNECTIONS = 128  # DW_HTTP_MAX_CONNECTIONS


class Loris(threading.Thread):
    """Holds `n` slow connections from the given source addresses,
    reopening each one the server closes, and counts those closes."""

    def __init__(self, sources, n):
        super().__init__(daemon=True)
        self.sources = sources
        self.n = n
        self.stop = threading.Event()
        self.closed = 0
        self.opened = 0
        self.reopen = True
        self.socks = []

    def open_one(self, i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((self.sources[i % len(self.sources)], 0))
        s.settimeout(2)
        s.connect(("127.0.0.1", PORT))
        s.setblocking(False)
        s.send(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        self.opened += 1
        return s

    def gone(self, s):
        """True when the server has closed (or reset) s."""
        try:
            return s.recv(4096) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def run(self):
        self.socks = [self.open_one(i) for i in range(self.n)]
        while not self.stop.is_set():
            for i, s in enumerate(self.socks):
                dead = self.gone(s)
                if not dead:
                    try:
                        s.send(b"X")  # one byte of an endless header line
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        dead = True
                if dead and s.fileno() >= 0:
                    self.closed += 1
                    s.close()
                    if self.reopen:
                        self.socks[i] = self.open_one(i)
            self.stop.wait(0.3)
        for s in self.socks:
            s.close()


def get(path, timeout):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (PORT, path),
                                    timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def metric(text, name, **labels):
    v = h.scraped(text, name, **labels)
    if v is None:
        raise AssertionError("no %s%s in /metrics" % (name, labels or ""))
    return v


def closed_total(text):
    return sum(metric(text, "driftwatch_http_connections_closed_total", reason=r)
               for r in ("request_timeout", "capacity", "refused"))


def flood(sources, limit_held):
    # replay counts as progress every 1024 lines read (empty ones too):
    # keep /healthz's liveness window (30 s) from running out over the cases.
    PROC.stdin.write(b"\n" * 1024)
    PROC.stdin.flush()
    status, before = get("/metrics", 5)
    assert status == 200, status
    loris = Loris(sources, SOCKETS)
    loris.start()
    time.sleep(0.5)  # the sockets are open and trickling
    answers, failures = 0, []
    end = time.monotonic() + FLOOD_S
    held_max = 0
    while time.monotonic() < end:
        try:
            status, body = get("/healthz", 1.0)
            if status == 200 and body == "ok\n":
                answers += 1
            else:
                failures.append((status, body))
        except (OSError, urllib.error.URLError) as e:
            failures.append(repr(e))
        if answers % 10 == 0:
            status, text = get("/metrics", 1.0)
            assert status == 200, status
            held_max = max(held_max, metric(text, "driftwatch_http_connections"))
        time.sleep(0.1)
    status, after = get("/metrics", 5)
    loris.stop.set()
    loris.join(10)
    assert not failures, "/healthz did not answer ok under the flood: %s" % failures[:5]
    assert answers >= 20, answers
    assert loris.opened >= SOCKETS and loris.closed > 0, (loris.opened, loris.closed)
    # Every close the flood saw was the server's, and is counted.
    server_closed = closed_total(after) - closed_total(before)
    assert server_closed >= loris.closed, (server_closed, loris.closed)
    # The connections held never exceed the limit (+1: the scrape itself).
    assert 0 < held_max <= limit_held + 1, held_max
    status, doc = get("/api/v1/status", 5)
    assert status == 200 and "counters" in json.loads(doc)
    print("  %d sockets opened, %d closed by the server (counted %d); %d probes answered; "
          "at most %d connections held" % (loris.opened, loris.closed, server_closed, answers,
                                            held_max))
    return loris


def case_request_timeout():
    """A connection that trickles its request for longer than
    DW_HTTP_REQUEST_TIMEOUT_MS (5 s) is closed at the next admission, though
    it was never idle long enough for the idle timeout."""
    PROC.stdin.write(b"\n" * 1024)
    PROC.stdin.flush()
    status, before = get("/metrics", 5)
    loris = Loris(["127.0.0.3"], 3)
    loris.reopen = False
    loris.start()
    time.sleep(6.0)
    status, body = get("/healthz", 1.0)  # an admission: the sweep runs
    assert (status, body) == (200, "ok\n"), (status, body)

    def all_closed():
        return loris.closed == 3
    deadline = time.monotonic() + 5
    while not all_closed() and time.monotonic() < deadline:
        time.sleep(0.1)
    loris.stop.set()
    loris.join(10)
    assert loris.closed == 3, loris.closed
    status, after = get("/metrics", 5)
    n = (metric(after, "driftwatch_http_connections_closed_total", reason="request_timeout") -
         metric(before, "driftwatch_http_connections_closed_total", reason="request_timeout"))
    assert n == 3, n


def case_one_address():
    flood(["127.0.0.2"], MAX_PER_IP)


def case_many_addresses():
    flood(["127.0.0.%d" % i for i in range(2, 12)], MAX_CONNECTIONS)


def main():
    global DW, PORT, PROC
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    DW = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="dw-slowloris-") as tmp:
        cfg = os.path.join(tmp, "config.yaml")
        with open(cfg, "w") as f:
            f.write("""
kafka: {brokers: "127.0.0.1:1", topics: [t], group_id: g}
models:
  - name: fraud
    reference: %s/reference_stats/fraud.json
windows: [{name: 5m, length: 5m, slide: 1m}]
sinks: []
state_dir: %s/state
http: {listen: "127.0.0.1:0"}
""" % (ROOT, tmp))
        portfile = os.path.join(tmp, "port")
        env = dict(os.environ, DW_HTTP_PORT_FILE=portfile)
        proc = subprocess.Popen([DW, "replay", "-c", cfg, "--http", "--log-level", "warn", "-"],
                                stdin=subprocess.PIPE, stderr=open(os.path.join(tmp, "log"), "w"),
                                env=env)
        PROC = proc
        try:
            deadline = time.monotonic() + 20
            while not os.path.exists(portfile):
                assert proc.poll() is None, "driftwatch exited: %s" % proc.returncode
                assert time.monotonic() < deadline, "no port file"
                time.sleep(0.05)
            with open(portfile) as f:
                PORT = int(f.read())
            passed, failed = run_cases([case_request_timeout, case_one_address,
                                        case_many_addresses], sys.argv[2:])
            assert proc.poll() is None, "driftwatch exited during the floods"
        finally:
            proc.stdin.close()
            try:
                rc = proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
        if rc != 0:
            with open(os.path.join(tmp, "log")) as f:
                print(f.read()[-3000:])
            print("driftwatch replay exited %d" % rc)
            failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""A scriptable local HTTP receiver for driftwatch's integration tests.

Command line:
    /usr/bin/python3 receiver.py --port 0 --port-file F --log FILE \
        --responses "500,500,200" [--retry-after 2] [--delay-ms N] [--hang-s S]

Listens on 127.0.0.1 only. Every request (any method, any path) is appended
to --log as one JSON line {"time", "mono", "method", "path", "headers",
"body"} as soon as its body has been read, then answered with the next
scripted response; after the script runs out the last entry repeats (the
default script is "200"). A script entry is an HTTP status code, or "hang"
(hold the request for --hang-s seconds, then close without answering).
429 responses carry "Retry-After: <--retry-after>" when that is given.
--delay-ms delays every answer (a slow receiver). The port is written to
--port-file once listening. SIGTERM and SIGINT stop it cleanly.

Importable: Receiver(responses=[...]).start() runs it on a thread;
.url, .requests() and .stop() are what tests need.
"""

import argparse
import http.server
import json
import os
import signal
import socketserver
import sys
import threading
import time


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Receiver:
    """A scripted HTTP receiver on 127.0.0.1 (port 0 = any free port)."""

    def __init__(self, responses=None, port=0, log_path=None, retry_after=None,
                 delay_ms=0, hang_s=30.0):
        self.responses = list(responses or ["200"])
        self.retry_after = retry_after
        self.delay_ms = delay_ms
        self.hang_s = hang_s
        self.log_path = log_path
        self._lock = threading.Lock()
        self._requests = []
        self._next = 0
        self._stop = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # keep test output quiet
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                answer = receiver._record(self, body)
                if receiver.delay_ms:
                    time.sleep(receiver.delay_ms / 1000.0)
                if answer == "hang":
                    receiver._stop.wait(receiver.hang_s)
                    self.close_connection = True
                    return
                status = int(answer)
                payload = json.dumps({"status": status}).encode()
                self.send_response(status)
                if status == 429 and receiver.retry_after is not None:
                    self.send_header("Retry-After", str(receiver.retry_after))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_PUT = do_GET = do_PATCH = do_DELETE = _handle

        self._server = _Server(("127.0.0.1", port), Handler)
        self.port = self._server.server_address[1]
        self.url = "http://127.0.0.1:%d/hook" % self.port
        self._thread = None

    def _record(self, handler, body):
        with self._lock:
            if self._next < len(self.responses):
                answer = self.responses[self._next]
            else:
                answer = self.responses[-1]
            self._next += 1
            entry = {
                "time": time.time(),
                "mono": time.monotonic(),
                "method": handler.command,
                "path": handler.path,
                "headers": {k: v for k, v in handler.headers.items()},
                "body": body.decode("utf-8", "replace"),
                "answer": answer,
            }
            self._requests.append(entry)
            if self.log_path:
                with open(self.log_path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry) + "\n")
        return answer

    def requests(self):
        """A copy of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve(self):
        self._server.serve_forever()

    def stop(self):
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(5)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--log")
    ap.add_argument("--responses", default="200")
    ap.add_argument("--retry-after")
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--hang-s", type=float, default=30.0)
    a = ap.parse_args(argv)
    responses = [r.strip() for r in a.responses.split(",") if r.strip()]
    for r in responses:
        if r != "hang" and not r.isdigit():
            ap.error("--responses: %r is neither a status code nor 'hang'" % r)
    rx = Receiver(responses, port=a.port, log_path=a.log, retry_after=a.retry_after,
                  delay_ms=a.delay_ms, hang_s=a.hang_s)

    def on_signal(signum, frame):
        # shutdown() blocks until serve_forever returns: call it off-thread.
        threading.Thread(target=rx.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % rx.port)
        os.replace(tmp, a.port_file)  # readers never see a half-written file
    rx.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Integration tests of alert delivery: notify_driver (a real dw_notifier with
libcurl) against the local HTTP receiver (receiver.py) on 127.0.0.1.

Run: /usr/bin/python3 tests/integration/test_notifier.py \
         build-x/tests/integration/notify_driver
(or set NOTIFY_DRIVER instead of the argument).
"""

import json
import os
import re
import sys

import harness as h
from harness import native_doc

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = None
RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class NotifierTest(h.DriverTest):
    # ---- retries ----------------------------------------------------------

    def test_500_500_200_three_requests_one_delivery_same_body(self):
        rx = self.receiver(["500", "500", "200"])
        doc = native_doc(1)
        out, _ = self.run_driver([doc], "--webhook", rx.url, "--max-retries", "3",
                                 "--backoff-base-ms", "100", "--seed", "7")
        reqs = rx.requests()
        self.assertEqual(len(reqs), 3)
        st = out["sinks"][0]
        self.assertEqual((st["sent"], st["retried"], st["failed"]), (1, 2, 0))
        bodies = [json.loads(r["body"]) for r in reqs]
        for b, r in zip(bodies, reqs):
            self.assertRegex(b.pop("sent_at"), RFC3339_MS)
            self.assertEqual(r["method"], "POST")
            self.assertEqual(r["headers"]["Content-Type"], "application/json")
            self.assertEqual(r["headers"]["Idempotency-Key"], doc["id"])
        # Identical apart from sent_at, and equal to what was submitted.
        self.assertEqual(bodies[0], doc)
        self.assertEqual(bodies[1], doc)
        self.assertEqual(bodies[2], doc)

    def test_retry_after_is_honoured(self):
        # The command-line form of the receiver, as other suites use it.
        port_file = os.path.join(self.tmp.name, "port")
        log = os.path.join(self.tmp.name, "requests.jsonl")
        proc = h.spawn(
            ["/usr/bin/python3", os.path.join(HERE, "receiver.py"), "--port", "0",
             "--port-file", port_file, "--log", log, "--responses", "500,500,429,202",
             "--retry-after", "2"], "receiver")
        try:
            port = int(h.wait_for(lambda: open(port_file).read(), 30, "the receiver's port file",
                                  0.05))
            url = "http://127.0.0.1:%d/alerts" % port
            out, _ = self.run_driver([native_doc(2)], "--webhook", url, "--max-retries", "5",
                                     "--backoff-base-ms", "100")
        finally:
            proc.terminate()
            self.assertEqual(proc.wait(30), 0)
        with open(log) as f:
            reqs = [json.loads(line) for line in f]
        self.assertEqual([r["answer"] for r in reqs], ["500", "500", "429", "202"])
        self.assertEqual(reqs[3]["path"], "/alerts")
        st = out["sinks"][0]
        self.assertEqual((st["sent"], st["retried"], st["failed"]), (1, 3, 0))
        # Retry-After: 2 must hold the 4th request back at least 2 s after the
        # 3rd arrived. 5 ms of slack: the notifier schedules on a millisecond
        # monotonic clock and the two timestamps are taken on request arrival.
        gap = reqs[3]["mono"] - reqs[2]["mono"]
        self.assertGreaterEqual(gap, 2.0 - 0.005)

    def test_400_is_not_retried(self):
        rx = self.receiver(["400"])
        out, p = self.run_driver([native_doc(3)], "--webhook", rx.url, "--max-retries", "3",
                                 "--backoff-base-ms", "50")
        self.assertEqual(len(rx.requests()), 1)
        st = out["sinks"][0]
        self.assertEqual((st["sent"], st["retried"], st["failed"]), (0, 0, 1))
        # The refusal is logged with the receiver's answer.
        self.assertIn("not retried", p.stderr)
        self.assertIn("status", p.stderr)

    def test_hanging_receiver_times_out_then_retry_succeeds(self):
        rx = self.receiver(["hang", "200"], hang_s=20)
        out, p = self.run_driver([native_doc(4)], "--webhook", rx.url, "--max-retries", "2",
                                 "--timeout-ms", "500", "--backoff-base-ms", "50")
        self.assertEqual(len(rx.requests()), 2)
        st = out["sinks"][0]
        self.assertEqual((st["sent"], st["retried"], st["failed"]), (1, 1, 0))
        self.assertIn("timed out", p.stderr)  # curl: "Operation timed out after ..."

    def test_receiver_down_is_retried_then_failed(self):
        port = h.free_port()  # nothing listens there: connection refused
        out, _ = self.run_driver([native_doc(5)], "--webhook",
                                 "http://127.0.0.1:%d/hook" % port, "--max-retries", "2",
                                 "--backoff-base-ms", "50")
        st = out["sinks"][0]
        self.assertEqual((st["sent"], st["retried"], st["failed"]), (0, 2, 1))

    # ---- queues and ordering -----------------------------------------------

    def test_submit_does_not_wait_for_a_stuck_receiver(self):
        # The first request hangs until its 1 s timeout. With a queue of 2, five
        # submits can only all return if submit never waits for delivery: the
        # overflow must show up as dropped (oldest first), not as a stall.
        rx = self.receiver(["hang", "200"], hang_s=20)
        docs = [native_doc(10 + i) for i in range(5)]
        out, _ = self.run_driver(docs, "--webhook", rx.url, "--max-retries", "0",
                                 "--timeout-ms", "1000", "--queue-size", "2")
        st = out["sinks"][0]
        print("max submit latency: %d us" % out["max_submit_us"], file=sys.stderr)
        self.assertEqual(st["submitted"], 5)
        self.assertGreaterEqual(st["dropped"], 2)
        self.assertEqual(st["failed"], 1)
        self.assertEqual(st["sent"] + st["failed"] + st["dropped"], 5)
        # The newest document always survives; delivery is in submit order.
        ids = [json.loads(r["body"])["id"] for r in rx.requests()]
        self.assertEqual(ids[-1], docs[-1]["id"])
        self.assertEqual(ids, sorted(ids))

    def test_sinks_are_independent_and_ordered(self):
        slow = self.receiver(["200"], delay_ms=300)
        fast = self.receiver(["200"])
        docs = [native_doc(20 + i) for i in range(4)]
        out, _ = self.run_driver(docs, "--webhook", slow.url, "--webhook", fast.url)
        for st in out["sinks"]:
            self.assertEqual((st["sent"], st["failed"], st["dropped"]), (4, 0, 0))
        for rx in (slow, fast):
            ids = [json.loads(r["body"])["id"] for r in rx.requests()]
            self.assertEqual(ids, [d["id"] for d in docs])

    def test_resolved_only_is_skipped_when_send_resolved_is_off(self):
        rx = self.receiver(["200"])
        out, _ = self.run_driver([native_doc(30, "resolved"), native_doc(31)], "--webhook",
                                 rx.url, "--no-send-resolved")
        st = out["sinks"][0]
        self.assertEqual((st["sent"], st["skipped"]), (1, 1))
        self.assertEqual([json.loads(r["body"])["id"] for r in rx.requests()], ["fraud-v3-31"])

    def test_min_interval_spaces_requests(self):
        rx = self.receiver(["200"])
        self.run_driver([native_doc(70), native_doc(71)], "--webhook", rx.url,
                        "--min-interval-ms", "500")
        reqs = rx.requests()
        self.assertEqual(len(reqs), 2)
        # A lower bound the notifier guarantees (5 ms slack for the millisecond
        # clock it schedules on), not a performance measurement.
        self.assertGreaterEqual(reqs[1]["mono"] - reqs[0]["mono"], 0.5 - 0.005)

    def test_user_headers_are_sent(self):
        rx = self.receiver(["200"])
        self.run_driver([native_doc(40)], "--webhook", rx.url, "--header",
                        "Authorization=Bearer t0ken")
        self.assertEqual(rx.requests()[0]["headers"]["Authorization"], "Bearer t0ken")

    # ---- stdout sink ---------------------------------------------------------

    def test_stdout_sink_prints_the_document(self):
        docs = [native_doc(50), native_doc(51, "resolved")]
        out, p = self.run_driver(docs, "--stdout")
        lines = [line for line in p.stdout.splitlines() if line.strip()]
        self.assertEqual(len(lines), 2)
        for line, doc in zip(lines, docs):
            got = json.loads(line)
            self.assertRegex(got.pop("sent_at"), RFC3339_MS)
            self.assertEqual(got, doc)
        self.assertEqual(out["sinks"][0]["sent"], 2)

    def test_stdout_sink_text_summary(self):
        out, p = self.run_driver([native_doc(60)], "--stdout", "--stdout-format", "text")
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 1)
        self.assertIn("FIRING model=fraud version=v3 column=features.amount window=15m",
                      lines[0])
        self.assertIn("psi=0.52", lines[0])


if __name__ == "__main__":
    # meson passes the driver as the first argument; NOTIFY_DRIVER also works.
    h.unittest_main(globals(), ["DRIVER"])

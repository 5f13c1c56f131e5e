#!/usr/bin/python3
"""Integration tests of the durable outbox and the circuit breaker (issue 4,
"Delivery that does not lose or flood"): notify_driver (a real dw_notifier
with libcurl) and `driftwatch replay` against the local HTTP receiver
(receiver.py) on 127.0.0.1.

Run: /usr/bin/python3 tests/integration/test_outbox.py \
         build-x/tests/integration/notify_driver build-x/cmd/driftwatch/driftwatch
(or set NOTIFY_DRIVER and DRIFTWATCH instead of the arguments).
"""

import json
import os
import re
import subprocess

import harness as h

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = h.ROOT

DRIVER = os.environ.get("NOTIFY_DRIVER", "")
DRIFTWATCH = os.environ.get("DRIFTWATCH", "")
OUTBOX_NAME = re.compile(r"^\d{20}-[A-Za-z0-9._-]+\.json$")


def native_doc(i, status="firing"):
    return h.native_doc(i, status, "fraud/v3/2026-11-25T13:45:00.000Z/%04d" % i)


dead_port = h.free_port  # nothing listens there; a receiver can take it later


class OutboxTest(h.DriverTest):
    def setUp(self):
        super().setUp()
        self.state = os.path.join(self.tmp.name, "state")
        os.mkdir(self.state)

    def outbox_files(self, sink="webhook-1"):
        d = os.path.join(self.state, "outbox", sink)
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def pending(self, sink="webhook-1"):
        return [f for f in self.outbox_files(sink) if OUTBOX_NAME.match(f)]

    def run_driver(self, docs, *args, timeout=120):
        """Runs notify_driver once; returns (stats of sink 0, whole stats,
        completed process)."""
        out, p = self.driver(docs, *args, timeout=timeout)
        return out["sinks"][0], out, p

    # ---- (a) the acceptance case with notify_driver --------------------------

    def test_pending_at_shutdown_is_delivered_once_after_restart(self):
        port = dead_port()
        url = "http://127.0.0.1:%d/hook" % port
        doc = native_doc(1)
        # Receiver down while the alert fires; the run ends (its drain budget
        # spent) with the notification still pending.
        st, out, p = self.run_driver([doc], "--webhook", url, "--state-dir", self.state,
                                     "--max-retries", "50", "--backoff-base-ms", "100",
                                     "--drain-ms", "1000")
        self.assertEqual(out["remaining"], 1)
        self.assertEqual((st["sent"], st["failed"], st["outbox_depth"]), (0, 0, 1))
        files = self.pending()
        self.assertEqual(len(files), 1, self.outbox_files())
        self.assertTrue(files[0].endswith("-fraud_v3_2026-11-25T13_45_00.000Z_0001.json"),
                        files[0])
        with open(os.path.join(self.state, "outbox", "webhook-1", files[0])) as f:
            self.assertEqual(json.load(f), doc)
        self.assertIn("sent after the restart", p.stderr)

        # The receiver comes up; the next run has nothing new to send.
        rx = self.receiver(["200"], port=port)
        st, out, p = self.run_driver([], "--webhook", url, "--state-dir", self.state)
        self.assertEqual(out["remaining"], 0)
        self.assertEqual((st["recovered"], st["sent"], st["outbox_depth"]), (1, 1, 0))
        reqs = rx.requests()
        self.assertEqual(len(reqs), 1)
        body = json.loads(reqs[0]["body"])
        body.pop("sent_at")
        self.assertEqual(body, doc)
        self.assertEqual(reqs[0]["headers"]["Idempotency-Key"], doc["id"])
        self.assertEqual(self.pending(), [])

        # Delivered means gone: a third run sends nothing.
        st, out, _ = self.run_driver([], "--webhook", url, "--state-dir", self.state)
        self.assertEqual((st["recovered"], st["sent"]), (0, 0))
        self.assertEqual(len(rx.requests()), 1)

    def test_resubmitted_document_is_not_queued_twice(self):
        port = dead_port()
        url = "http://127.0.0.1:%d/hook" % port
        docs = [native_doc(10), native_doc(11)]
        st, out, _ = self.run_driver(docs, "--webhook", url, "--state-dir", self.state,
                                     "--max-retries", "50", "--backoff-base-ms", "100",
                                     "--drain-ms", "500")
        self.assertEqual(len(self.pending()), 2)
        # After the restart the engine makes the same notification again (same
        # id, as after re-reading uncommitted Kafka offsets), plus a new one.
        rx = self.receiver(["200"], port=port)
        st, out, _ = self.run_driver([native_doc(11), native_doc(12)], "--webhook", url,
                                     "--state-dir", self.state)
        self.assertEqual((st["recovered"], st["deduplicated"], st["sent"]), (2, 1, 3))
        ids = [json.loads(r["body"])["id"] for r in rx.requests()]
        # Leftovers first, in their order, then the new one; each id once.
        self.assertEqual(ids, [native_doc(i)["id"] for i in (10, 11, 12)])
        self.assertEqual(self.pending(), [])

    def test_corrupt_outbox_file_is_set_aside_not_fatal(self):
        port = dead_port()
        url = "http://127.0.0.1:%d/hook" % port
        self.run_driver([native_doc(20)], "--webhook", url, "--state-dir", self.state,
                        "--max-retries", "50", "--drain-ms", "300")
        d = os.path.join(self.state, "outbox", "webhook-1")
        bad = "00000000000000000001-torn.json"
        with open(os.path.join(d, bad), "w") as f:
            f.write('{"id": "torn", "alerts": [')
        rx = self.receiver(["200"], port=port)
        st, out, p = self.run_driver([], "--webhook", url, "--state-dir", self.state)
        self.assertEqual((st["recovered"], st["sent"], st["outbox_errors"]), (1, 1, 1))
        self.assertEqual([json.loads(r["body"])["id"] for r in rx.requests()],
                         [native_doc(20)["id"]])
        self.assertIn(bad + ".bad", self.outbox_files())
        self.assertEqual(self.pending(), [])
        self.assertIn("renamed to *.bad", p.stderr)

    def test_outbox_is_bounded_by_the_queue_size(self):
        port = dead_port()
        url = "http://127.0.0.1:%d/hook" % port
        # Queue of 3: the first document is in flight (retrying), so of the 6
        # the two oldest that wait are dropped, with their files.
        st, out, _ = self.run_driver([native_doc(30 + i) for i in range(6)], "--webhook", url,
                                     "--state-dir", self.state, "--queue-size", "3",
                                     "--max-retries", "50", "--backoff-base-ms", "200",
                                     "--drain-ms", "300")
        self.assertEqual(st["submitted"], 6)
        self.assertEqual(st["dropped"] + st["queued"] + st["sent"] + st["failed"], 6)
        self.assertEqual(st["outbox_depth"], st["queued"])
        self.assertLessEqual(len(self.pending()), 4)  # queue + the one in flight
        self.assertEqual(len(self.pending()), st["queued"])
        # A run with a smaller queue keeps only the newest files.
        rx = self.receiver(["200"], port=port)
        st, out, _ = self.run_driver([], "--webhook", url, "--state-dir", self.state,
                                     "--queue-size", "2")
        self.assertEqual(st["recovered"], 2)
        ids = [json.loads(r["body"])["id"] for r in rx.requests()]
        self.assertEqual(ids, [native_doc(34)["id"], native_doc(35)["id"]])
        self.assertEqual(self.pending(), [])

    def test_unusable_state_dir_logs_one_error_and_still_delivers(self):
        rx = self.receiver(["200"])
        missing = os.path.join(self.tmp.name, "not-mounted")
        st, out, p = self.run_driver([native_doc(40), native_doc(41)], "--webhook", rx.url,
                                     "--state-dir", missing)
        self.assertEqual((st["sent"], st["outbox_errors"], st["outbox_depth"]), (2, 1, 0))
        errors = [line for line in p.stderr.splitlines() if "running without the outbox" in line]
        self.assertEqual(len(errors), 1, p.stderr)
        self.assertIn(missing, errors[0])
        self.assertFalse(os.path.exists(missing))

    # ---- (a) end to end with the real binary ---------------------------------

    def test_replay_leaves_the_outbox_and_the_next_run_delivers_once(self):
        if not DRIFTWATCH or not os.access(DRIFTWATCH, os.X_OK):
            self.fail("DRIFTWATCH must name the driftwatch binary")
        port = dead_port()

        def config(name):
            path = os.path.join(self.tmp.name, name)
            with open(path, "w") as f:
                f.write(h.config_head([("fraud", os.path.join(ROOT, "reference_stats",
                                                              "fraud.json"))], ["5m"]))
                f.write("""sinks:
  - name: hook
    type: webhook
    url: "http://127.0.0.1:%d/alerts"
    max_retries: 50
http:
  enabled: false
state_dir: %s
shutdown_budget: 2s
""" % (port, self.state))
            return path

        cfg = config("replay.yaml")
        data = os.path.join(ROOT, "examples", "fraud", "serving-drift.jsonl")
        r = subprocess.run([DRIFTWATCH, "replay", "-c", cfg, "--log-format", "text", data],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.search(r"notifications=(\d+)", r.stderr)
        self.assertIsNotNone(m, r.stderr)
        emitted = int(m.group(1))
        self.assertGreater(emitted, 0, "the drifted sample raised no notification")
        files = self.pending("hook")
        self.assertEqual(len(files), emitted, r.stderr)
        with open(os.path.join(self.state, "outbox", "hook", files[0])) as f:
            first = json.load(f)

        rx = self.receiver(["200"], port=port)
        empty = os.path.join(self.tmp.name, "empty.jsonl")
        open(empty, "w").close()
        for _ in range(2):  # the second run must find nothing left to send
            r = subprocess.run([DRIFTWATCH, "replay", "-c", cfg, "--log-format", "text", empty],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
        reqs = rx.requests()
        self.assertEqual(len(reqs), emitted)
        got = json.loads(reqs[0]["body"])
        got.pop("sent_at")
        self.assertEqual(got, first)
        self.assertEqual(reqs[0]["path"], "/alerts")
        self.assertEqual(len({json.loads(q["body"])["id"] for q in reqs}), emitted)
        self.assertEqual(self.pending("hook"), [])

    # ---- (b) circuit breaker --------------------------------------------------

    def test_500_forever_gets_five_attempts_not_a_storm(self):
        rx = self.receiver(["500"])
        # Backoff 10-20 ms and 50 retries per document: without the breaker
        # the receiver would see hundreds of requests within the 4 s budget.
        st, out, p = self.run_driver([native_doc(50 + i) for i in range(3)], "--webhook", rx.url,
                                     "--max-retries", "50", "--backoff-base-ms", "10",
                                     "--backoff-cap-ms", "20", "--drain-ms", "4000")
        self.assertEqual(len(rx.requests()), 5)
        self.assertEqual(st["circuit_open"], 1)
        # Waiting in the queue while the circuit is open is not failing.
        self.assertEqual((st["sent"], st["failed"], st["queued"]), (0, 0, 3))
        self.assertEqual(out["remaining"], 3)
        opened = [line for line in p.stderr.splitlines() if "circuit open" in line]
        self.assertEqual(len(opened), 1, p.stderr)
        self.assertIn("5 consecutive failed attempts", opened[0])

    def test_half_open_success_closes_the_circuit(self):
        rx = self.receiver(["500"] * 5 + ["200"])
        st, out, p = self.run_driver([native_doc(60 + i) for i in range(3)], "--webhook", rx.url,
                                     "--max-retries", "50", "--backoff-base-ms", "10",
                                     "--breaker-open-ms", "1000")
        self.assertEqual(out["remaining"], 0)
        reqs = rx.requests()
        self.assertEqual([r["answer"] for r in reqs], ["500"] * 5 + ["200"] * 3)
        self.assertEqual((st["sent"], st["failed"], st["circuit_open"]), (3, 0, 0))
        # The probe waited for the open time (a lower bound the notifier
        # guarantees; 5 ms slack for its millisecond clock).
        self.assertGreaterEqual(reqs[5]["mono"] - reqs[4]["mono"], 1.0 - 0.005)
        ids = [json.loads(r["body"])["id"] for r in reqs]
        self.assertEqual(ids[5:], [native_doc(60 + i)["id"] for i in range(3)])
        self.assertEqual(sum("circuit open" in x for x in p.stderr.splitlines()), 1, p.stderr)
        self.assertEqual(sum("circuit closed" in x for x in p.stderr.splitlines()), 1, p.stderr)

    def test_failed_probe_doubles_the_open_time(self):
        rx = self.receiver(["500"] * 6 + ["200"])
        st, out, p = self.run_driver([native_doc(70)], "--webhook", rx.url,
                                     "--max-retries", "50", "--backoff-base-ms", "10",
                                     "--breaker-open-ms", "500")
        self.assertEqual(out["remaining"], 0)
        reqs = rx.requests()
        self.assertEqual(len(reqs), 7)
        self.assertEqual(st["sent"], 1)
        self.assertGreaterEqual(reqs[5]["mono"] - reqs[4]["mono"], 0.5 - 0.005)
        self.assertGreaterEqual(reqs[6]["mono"] - reqs[5]["mono"], 1.0 - 0.005)
        self.assertIn("circuit open again for 1 s", p.stderr)


if __name__ == "__main__":
    # meson passes the driver and the driftwatch binary as arguments.
    h.unittest_main(globals(), ["DRIVER", "DRIFTWATCH"])

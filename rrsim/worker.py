"""A worker process: receive, simulate work, report every receipt.

Run by the supervisor as ``python -m rrsim.worker SPEC_JSON``.  One loop: wait for messages,
keep the 18 header bytes and a receive time of each (anything without the rrsim header is
counted as foreign), sleep ``work_ms`` per message, and send the receipts in batches: at once
at once when the last report is 10 ms old (so at low rates every receipt goes out at once),
else as soon as it is: a kill loses at most 10 ms of reports.

SIGTERM stops it gracefully: it finishes what is already queued, reports it, and exits 0.
"""

from __future__ import annotations

import signal
import time
from array import array

import zmq

from rrsim import wire
from rrsim.child import Child, spec_from_argv

REPORT_NS = 10_000_000
MAX_BATCH = 4096
MAGIC, MAGIC_SIZE, HEADER_SIZE = wire.MAGIC, len(wire.MAGIC), wire.HEADER_SIZE


class Receipts:
    """Receipts not yet reported."""

    def __init__(self, child: Child) -> None:
        self.child = child
        self.heads: list[bytes] = []
        self.stamps = array("q")
        self.foreign = 0
        self.last_flush_ns = 0

    def add(self, message: bytes, now_ns: int) -> None:
        if message[:MAGIC_SIZE] == MAGIC and len(message) >= HEADER_SIZE:
            self.heads.append(message[MAGIC_SIZE:HEADER_SIZE])
            self.stamps.append(now_ns)
        else:
            self.foreign += 1

    def pending(self) -> bool:
        return bool(self.heads) or self.foreign > 0

    def due(self, now_ns: int) -> bool:
        return self.pending() and (now_ns >= self.deadline_ns() or len(self.heads) >= MAX_BATCH)

    def deadline_ns(self) -> int:
        return self.last_flush_ns + REPORT_NS

    def flush(self) -> None:
        if self.pending():
            self.child.report(
                wire.RECEIPTS, b"".join(self.heads), self.stamps.tobytes(), n=len(self.heads), foreign=self.foreign
            )
            self.heads, self.stamps, self.foreign = [], array("q"), 0
            self.last_flush_ns = time.monotonic_ns()


def main() -> None:
    spec = spec_from_argv()
    stopping = False

    def on_sigterm(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_sigterm)
    child = Child("worker", spec)
    sock = child.sock
    work_s = spec["work_ms"] / 1000
    receipts = Receipts(child)
    poller = zmq.Poller()
    for s in (sock, child.control, child.monitor):
        poller.register(s, zmq.POLLIN)

    while not stopping:
        now = time.monotonic_ns()
        timeout_ms = max(0.0, (receipts.deadline_ns() - now) / 1e6) if receipts.pending() else 100.0
        ready = dict(poller.poll(timeout_ms))
        if sock in ready:
            # With simulated work, one message a round keeps control changes and reports prompt.
            for _ in range(1 if work_s else MAX_BATCH):
                try:
                    message = sock.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                receipts.add(message, time.monotonic_ns())
                if work_s:
                    if work_s * 1e9 >= REPORT_NS or receipts.due(time.monotonic_ns()):
                        receipts.flush()  # report before working, so a kill mid-work loses nothing
                    time.sleep(work_s)
                if stopping:
                    break
        now = time.monotonic_ns()
        if receipts.due(now):
            receipts.flush()
        state = child.housekeeping(now)
        if state is not None:
            work_s = state["work_ms"] / 1000

    # Graceful stop: finish what is already queued here (bounded: new messages keep
    # arriving while we drain), report it, and leave.
    for _ in range(max(spec["rcvhwm"], 1000) + 1000):
        try:
            message = sock.recv(zmq.NOBLOCK)
        except zmq.Again:
            break
        receipts.add(message, time.monotonic_ns())
        if work_s:
            time.sleep(work_s)
    receipts.flush()
    child.close()


if __name__ == "__main__":
    main()

"""A worker process: receive, simulate work, report every receipt.

Run by the supervisor as ``python -m rrsim.worker SPEC_JSON``.  One loop: receive a message,
keep its 18 header bytes and a receive time (anything without the rrsim header is counted as
foreign), sleep ``work_ms``, and send the receipts in batches: at once when the last report is
20 ms old (so at low rates every receipt goes out at once), else as soon as it is: a kill
loses at most 20 ms of reports.

While messages flow, the loop only receives, and looks at control, the socket monitor and
the report deadline once a millisecond; after a millisecond without a message it sleeps in a
poll that any of them ends.  Waiting inside ``recv`` rather than in a poll per message keeps
the per-message cost close to a bare PULL's.

SIGTERM stops it gracefully: it finishes what is already queued, reports it, and exits 0.
"""

from __future__ import annotations

import math
import signal
import time
from array import array

import zmq

from rrsim import wire
from rrsim.child import PARENT_CHECK_NS, Child, spec_from_argv

# 20 ms: what a kill may leave unreported.  Shorter would mean more, smaller batches, and with
# 64 workers at full speed the engine's cost per batch, not per message, is what limits it.
REPORT_NS = 20_000_000
CHECK_NS = 1_000_000  # while busy, look at control, monitor and the report deadline this often
IDLE_MS = 1  # no message for this long: wait in a poll instead
MAX_BATCH = 4096
MAX_BATCH_BYTES = 1 << 20  # whole messages are kept until reported: at most this much of them
MAGIC, MAGIC_SIZE, HEADER_SIZE, RECEIPT_SIZE = wire.MAGIC, len(wire.MAGIC), wire.HEADER_SIZE, wire.RECEIPT_SIZE


class Receipts:
    """Receipts not yet reported.  A message of the size our pushers send is kept whole (one list
    append) and its header is cut out at report time, column by column over the whole batch;
    anything else is looked at on arrival."""

    def __init__(self, child: Child, size: int) -> None:
        self.child = child
        self.size = size
        self.max_batch = max(1, min(MAX_BATCH, MAX_BATCH_BYTES // size))
        self.messages: list[bytes] = []  # of ``size`` bytes, in order of arrival
        self.stamps: list[int] = []  # their receive times
        self.other_heads = bytearray()  # rrsim headers of messages looked at one by one
        self.other_stamps: list[int] = []
        self.foreign = 0
        self.last_flush_ns = 0

    def add(self, message: bytes, now_ns: int) -> None:
        if len(message) == self.size:
            self.messages.append(message)
            self.stamps.append(now_ns)
        else:
            self._look_at(message, now_ns)

    def _look_at(self, message: bytes, now_ns: int) -> None:
        """One message on its own: its rrsim header is kept, anything else is foreign."""
        if message[:MAGIC_SIZE] == MAGIC and len(message) >= HEADER_SIZE:
            self.other_heads += message[MAGIC_SIZE:HEADER_SIZE]
            self.other_stamps.append(now_ns)
        else:
            self.foreign += 1

    def pending(self) -> bool:
        return bool(self.stamps) or bool(self.other_stamps) or self.foreign > 0

    def due(self, now_ns: int) -> bool:
        return self.pending() and (now_ns >= self.deadline_ns() or len(self.stamps) >= self.max_batch)

    def deadline_ns(self) -> int:
        return self.last_flush_ns + REPORT_NS

    def flush(self) -> None:
        if not self.pending():
            return
        heads, stamps = self._cut_headers()
        heads += self.other_heads
        stamps += self.other_stamps
        self.child.report(wire.RECEIPTS, heads, array("q", stamps).tobytes(), n=len(stamps), foreign=self.foreign)
        # Cleared in place: the receive loop holds these lists' append methods.
        self.messages.clear()
        self.stamps.clear()
        self.other_heads, self.other_stamps, self.foreign = bytearray(), [], 0
        self.last_flush_ns = time.monotonic_ns()

    def _cut_headers(self) -> tuple[bytearray, list[int]]:
        """The header bytes after the magic of each kept message, and their receive times."""
        count, size = len(self.messages), self.size
        batch = b"".join(self.messages)
        if all(batch[i::size] == MAGIC[i : i + 1] * count for i in range(MAGIC_SIZE)):
            heads = bytearray(RECEIPT_SIZE * count)
            for i in range(RECEIPT_SIZE):  # 18 strided copies for the batch, not a slice per message
                heads[i::RECEIPT_SIZE] = batch[MAGIC_SIZE + i :: size]
            return heads, list(self.stamps)
        for message, stamp in zip(self.messages, self.stamps):  # someone else's bytes of our size among ours
            self._look_at(message, stamp)
        return bytearray(), []


def main() -> None:
    spec = spec_from_argv()
    stopping = False

    def on_sigterm(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_sigterm)
    child = Child("worker", spec)
    sock = child.sock
    sock.rcvtimeo = IDLE_MS
    work_s = spec["work_ms"] / 1000
    size = spec["size"]
    receipts = Receipts(child, size)
    poller = zmq.Poller()
    for s in (sock, child.control, child.monitor):
        poller.register(s, zmq.POLLIN)
    recv, add, clock = sock.recv, receipts.add, time.monotonic_ns
    keep, stamp = receipts.messages.append, receipts.stamps.append
    next_check_ns = next_parent_check_ns = 0

    while not stopping:
        try:
            message: bytes | None = recv()
        except zmq.Again:
            message = None
        now = clock()
        if message is not None:
            if len(message) == size:  # the usual message: Receipts.add, inlined
                keep(message)
                stamp(now)
            else:
                add(message, now)
            if work_s:
                if work_s * 1e9 >= REPORT_NS or receipts.due(now):
                    receipts.flush()  # report before working, so a kill mid-work loses nothing
                time.sleep(work_s)
                now = clock()
            if now < next_check_ns:
                continue

        if receipts.due(now):
            receipts.flush()
        ready = dict(poller.poll(0 if message is not None else _idle_timeout_ms(receipts, now)))
        # Control and monitor only when they have something (or the parent check is due):
        # reading an empty socket costs more than receiving a hundred messages.
        if child.control in ready or child.monitor in ready or now >= next_parent_check_ns:
            state = child.housekeeping(now)
            if state is not None:
                work_s = state["work_ms"] / 1000
            next_parent_check_ns = now + PARENT_CHECK_NS
        now = clock()
        # After an idle spell the next message is checked at once: at low rates it is reported at once.
        next_check_ns = now + CHECK_NS if message is not None else 0
        if receipts.pending():
            next_check_ns = min(next_check_ns, receipts.deadline_ns())

    # Graceful stop: finish what is already queued here (bounded: new messages keep
    # arriving while we drain), report it, and leave.
    for _ in range(max(spec["rcvhwm"], 1000) + 1000):
        try:
            message = sock.recv(zmq.NOBLOCK)
        except zmq.Again:
            break
        now = clock()
        add(message, now)
        if receipts.due(now):
            receipts.flush()  # as in the loop: a slow drain reports as it goes, and holds little
        if work_s:
            time.sleep(work_s)
    receipts.flush()
    child.close()


def _idle_timeout_ms(receipts: Receipts, now_ns: int) -> int:
    """How long an idle worker may sleep: until its receipts are due, else 100 ms.

    Whole milliseconds, rounded up: pyzmq would truncate, and a poll of 0 ms spins."""
    return max(0, math.ceil((receipts.deadline_ns() - now_ns) / 1e6)) if receipts.pending() else 100


if __name__ == "__main__":
    main()

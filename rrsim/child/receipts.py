"""A worker's receipts: what it received and when it started and finished each message,
reported to the engine in batches.  Shared by every pattern's worker loop.

A message of the size our pushers send is kept whole (one list append) and its header is cut
out at report time, column by column over the whole batch; anything else is looked at on
arrival (and so is every message the compiled loop receives: it cuts each header as it comes,
which costs it nothing).  A batch goes out when its oldest unreported receipt is 20 ms old, so at low rates
each receipt goes out as soon as its work is done, and a kill loses at most 20 ms of reports
(and the message being worked on, whose work was never done).
"""

from __future__ import annotations

from array import array

from rrsim import wire
from rrsim.child.runtime import ChildRuntime

# 20 ms: what a kill may leave unreported.  Shorter would mean more, smaller batches, and with
# 64 workers at full speed the engine's cost per batch, not per message, is what limits it.
REPORT_NS = 20_000_000
CHECK_NS = 1_000_000  # while busy, a worker looks at control, monitor and its report deadline this often
IDLE_MS = 1  # no message for this long: a worker waits in a poll instead
MAX_BATCH = 16384  # a compiled worker fills 4096 in about 12 ms: larger batches, less of the engine per message
MAX_BATCH_BYTES = 1 << 20  # whole messages are kept until reported: at most this much of them
MAGIC, MAGIC_SIZE, HEADER_SIZE, RECEIPT_SIZE = wire.MAGIC, len(wire.MAGIC), wire.HEADER_SIZE, wire.RECEIPT_SIZE


class Receipts:
    """Receipts not yet reported.  ``stamps`` are when each kept message was received, which is
    when its work started; ``dones`` when its work ended, kept only while there is work (with
    none, a message is done when it is received)."""

    def __init__(self, runtime: ChildRuntime, size: int) -> None:
        self.runtime = runtime
        self.size = size
        self.max_batch = max(1, min(MAX_BATCH, MAX_BATCH_BYTES // size))
        self.messages: list[bytes] = []  # of ``size`` bytes, in order of arrival
        self.stamps: list[int] = []  # their receive times
        self.dones: list[int] = []  # when their work ended, for the first len(dones) of them
        self.other_heads = bytearray()  # rrsim headers cut on arrival: messages looked at one by one
        self.other_stamps = array("q")
        self.foreign = 0
        self.last_flush_ns = 0

    def add(self, message: bytes, now_ns: int) -> bool:
        """Keep the receipt of ``message``; True if it is one of ours to work on and finish."""
        if len(message) == self.size:
            self.messages.append(message)
            self.stamps.append(now_ns)
            return True
        self._look_at(message, now_ns)
        return False

    def finish(self, done_ns: int) -> None:
        """The newest kept message's work ended now (those before it with no work ended on arrival)."""
        missing = len(self.stamps) - 1 - len(self.dones)
        if missing > 0:
            self.dones.extend(self.stamps[len(self.dones) : len(self.stamps) - 1])
        self.dones.append(done_ns)

    def _look_at(self, message: bytes, now_ns: int) -> None:
        """One message on its own: its rrsim header is kept, anything else is foreign."""
        if message[:MAGIC_SIZE] == MAGIC and len(message) >= HEADER_SIZE:
            self.other_heads += message[MAGIC_SIZE:HEADER_SIZE]
            self.other_stamps.append(now_ns)
        else:
            self.foreign += 1

    def add_cut(self, heads: bytes, stamps: bytes) -> None:
        """Receipts whose headers were cut on arrival (the compiled loop's), done on arrival."""
        self.other_heads += heads
        self.other_stamps.frombytes(stamps)

    def room(self) -> int:
        """How many more receipts the batch takes before it is due."""
        return max(0, self.max_batch - len(self.stamps) - len(self.other_stamps))

    def pending(self) -> bool:
        return bool(self.stamps) or bool(self.other_stamps) or self.foreign > 0

    def due(self, now_ns: int) -> bool:
        return self.pending() and (now_ns >= self.deadline_ns() or not self.room())

    def deadline_ns(self) -> int:
        return self.last_flush_ns + REPORT_NS

    def flush(self) -> None:
        if not self.pending():
            return
        dones = self.dones + self.stamps[len(self.dones) :] if self.dones else []
        heads, stamps, dones = self._cut_headers(dones)
        heads += self.other_heads
        received = array("q", stamps) + self.other_stamps
        frames: list[bytes | bytearray] = [heads, received.tobytes()]
        if dones:  # without, each message was done when it arrived
            frames.append((array("q", dones) + self.other_stamps).tobytes())
        self.runtime.report(wire.RECEIPTS, *frames, n=len(received), foreign=self.foreign)
        # Cleared in place: the receive loops hold these lists' append methods.
        self.messages.clear()
        self.stamps.clear()
        self.dones.clear()
        self.other_heads, self.other_stamps, self.foreign = bytearray(), array("q"), 0
        self.last_flush_ns = self.runtime.clock()

    def _cut_headers(self, dones: list[int]) -> tuple[bytearray, list[int], list[int]]:
        """The header bytes after the magic of each kept message, their receive and done times."""
        count, size = len(self.messages), self.size
        batch = b"".join(self.messages)
        if all(batch[i::size] == MAGIC[i : i + 1] * count for i in range(MAGIC_SIZE)):
            heads = bytearray(RECEIPT_SIZE * count)
            for i in range(RECEIPT_SIZE):  # 22 strided copies for the batch, not a slice per message
                heads[i::RECEIPT_SIZE] = batch[MAGIC_SIZE + i :: size]
            return heads, list(self.stamps), dones
        # Someone else's bytes of our size among ours: each looked at on its own, done on arrival.
        for message, stamp in zip(self.messages, self.stamps, strict=True):
            self._look_at(message, stamp)
        return bytearray(), [], []

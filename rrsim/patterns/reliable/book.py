"""The reliable broker's record of every message taken and not yet acknowledged: pure, no sockets."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass

from rrsim.patterns.reliable.protocol import ID_AT, Key


@dataclass
class Entry:
    sender: bytes
    message: bytes
    attempts: int = 0  # hand-overs to a worker, by this broker life and the ones before
    worker: bytes | None = None  # who has it now; None: queued
    last: bytes | None = None  # who had it before it was taken back: its next hand-over avoids it


@dataclass(frozen=True)
class GivenUp:
    key: Key
    entry: Entry
    why: str  # "no-ack" (retry_ms passed), "silent" (missed heartbeats) or "gone" (disconnected)
    worker: bytes


class Book:
    """The broker's record of every message taken and not yet acknowledged: pure, no sockets.

    ``held`` is the queue (re-queued messages go to its front); ``holds`` what each worker has
    been handed; ``timers`` when each hand-over's acknowledgement is due, in order (``retry_ms``
    is one for all)."""

    def __init__(self, retry_ms: float, retries: int) -> None:
        self.retry_ns, self.retries = int(retry_ms * 1_000_000), retries
        self.entries: dict[Key, Entry] = {}
        self.held: deque[Key] = deque()
        self.queued = 0
        self.holds: dict[bytes, set[Key]] = {}
        self.timers: deque[tuple[int, Key, int]] = deque()
        self.retried = self.given_up = 0
        self.attempts: Counter[int] = Counter()  # of each message acknowledged: hand-overs it took
        # hand-overs again of messages each worker had been handed and did not acknowledge in time
        self.retried_from: Counter[bytes] = Counter()

    def take(self, sender: bytes, message: bytes, handed_before: int = 0) -> bool:
        """Queue a message from ``sender``; False if it is here already (a pusher's copy).
        ``handed_before``: hand-overs an earlier broker life made of it, as its pusher was told."""
        key = (sender, message[ID_AT])
        if key in self.entries:
            return False
        self.entries[key] = Entry(sender, message, attempts=handed_before)
        self.held.append(key)
        self.queued += 1
        return True

    def first(self) -> Key | None:
        """The message to hand over next, if any is queued."""
        while self.held:
            entry = self.entries.get(self.held[0])
            if entry is not None and entry.worker is None:
                return self.held[0]
            self.held.popleft()  # acknowledged while queued, or queued twice
        return None

    def handed(self, key: Key, worker: bytes, now_ns: int) -> None:
        self.held.popleft()
        self.queued -= 1
        entry = self.entries[key]
        entry.attempts += 1
        entry.worker = worker
        self.holds.setdefault(worker, set()).add(key)
        self.timers.append((now_ns + self.retry_ns, key, entry.attempts))
        if entry.last is not None:  # taken back from a worker of this life: a retry
            self.retried += 1
            self.retried_from[entry.last] += 1

    def acked(self, key: Key) -> Entry | None:
        entry = self.entries.pop(key, None)
        if entry is None:
            return None  # done before (a duplicate), or handed out by an earlier broker life
        if entry.worker is None:
            self.queued -= 1
        else:
            self.holds.get(entry.worker, set()).discard(key)
        self.attempts[entry.attempts] += 1
        return entry

    def overdue(self, now_ns: int) -> list[GivenUp]:
        """Take back every hand-over not acknowledged within retry_ms: re-queued, or given up."""
        late: list[Key] = []
        while self.timers and self.timers[0][0] <= now_ns:
            _due, key, attempt = self.timers.popleft()
            entry = self.entries.get(key)
            if entry is not None and entry.worker is not None and entry.attempts == attempt:
                late.append(key)
        return self._take_back(late, "no-ack")

    def lost_worker(self, worker: bytes, why: str) -> tuple[list[Key], list[GivenUp]]:
        """``worker`` is dead: what it held goes back to the front of the queue at once."""
        keys = sorted(self.holds.pop(worker, set()), key=lambda k: k[1])
        given_up = self._take_back(keys, why)
        return [k for k in keys if k in self.entries], given_up

    def _take_back(self, keys: list[Key], why: str) -> list[GivenUp]:
        given_up: list[GivenUp] = []
        for key in reversed(keys):  # to the front, oldest first
            entry = self.entries[key]
            worker = entry.worker or b""
            self.holds.get(worker, set()).discard(key)
            entry.worker, entry.last = None, worker
            if entry.attempts >= 1 + self.retries:
                del self.entries[key]
                self.given_up += 1
                given_up.append(GivenUp(key, entry, why, worker))
            else:
                self.held.appendleft(key)
                self.queued += 1
        return given_up[::-1]

    def counters(self) -> dict[str, int]:
        out = {"retried": self.retried, "given_up": self.given_up}
        out.update({f"attempts_{n}": count for n, count in sorted(self.attempts.items())})
        return out

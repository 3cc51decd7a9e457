"""The message ledger: every message by identity (pusher, seq), one byte each, no I/O.

For each pusher it keeps an array of delivery counts indexed by sequence number (0 means not
delivered yet, 255 saturates) and a scan pointer below which undelivered messages count as lost.
Invariant at every moment, per pusher and in total:

    sent == delivered_unique + in_flight + lost
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_INITIAL = 1 << 16


@dataclass(frozen=True)
class DeliveryFlags:
    """Per message of a batch: first delivery of that id, and whether it had been counted lost."""

    first: np.ndarray
    was_lost: np.ndarray


class PusherLedger:
    def __init__(self) -> None:
        self.counts = np.zeros(_INITIAL, dtype=np.uint8)
        self.sent = 0
        self.delivered_unique = 0
        self.duplicates = 0
        self.lost = 0
        self.lost_scan = 0  # messages below this seq that are undelivered are lost

    @property
    def in_flight(self) -> int:
        return self.sent - self.delivered_unique - self.lost

    def _reserve(self, size: int) -> None:
        if size > len(self.counts):
            grown = np.zeros(max(size, 2 * len(self.counts)), dtype=np.uint8)
            grown[: len(self.counts)] = self.counts
            self.counts = grown

    def record_sent(self, sent: int) -> None:
        if sent > self.sent:
            self._reserve(sent)
            self.sent = sent

    def record_deliveries(self, seqs: np.ndarray) -> DeliveryFlags:
        # A delivery proves the send: receipts can overtake the pusher's own progress report.
        self.record_sent(int(seqs.max()) + 1)
        before = self.counts[seqs]
        first = before == 0
        # A worker receives each pusher's messages in order: then no id repeats in the batch,
        # and plain fancy indexing does what np.unique and np.add.at would, at a third of the cost.
        increasing = len(seqs) < 2 or bool((seqs[1:] > seqs[:-1]).all())
        if not increasing and first.any():
            # The same id twice in one batch: only its first occurrence is the first delivery.
            _, first_index = np.unique(seqs, return_index=True)
            if len(first_index) != len(seqs):
                unique_first = np.zeros(len(seqs), dtype=bool)
                unique_first[first_index] = True
                first &= unique_first
        was_lost = first & (seqs < self.lost_scan)
        if increasing:
            self.counts[seqs] = before + (before < 255)
        else:
            np.add.at(self.counts, seqs[before < 255], 1)
        new = int(first.sum())
        self.delivered_unique += new
        self.duplicates += len(seqs) - new
        self.lost -= int(was_lost.sum())
        return DeliveryFlags(first=first, was_lost=was_lost)

    def declare_lost_below(self, boundary: int) -> np.ndarray:
        """Count every undelivered message below ``boundary`` as lost; return the newly lost seqs."""
        boundary = min(boundary, self.sent)
        if boundary <= self.lost_scan:
            return np.empty(0, dtype=np.int64)
        newly = np.flatnonzero(self.counts[self.lost_scan : boundary] == 0) + self.lost_scan
        self.lost += len(newly)
        self.lost_scan = boundary
        return newly

    def lost_seqs(self, cap: int) -> np.ndarray:
        return np.flatnonzero(self.counts[: self.lost_scan] == 0)[:cap]

    def memory_bytes(self) -> int:
        return self.counts.nbytes


class Ledger:
    """All pushers' ledgers; pushers are numbered from 1 (p1)."""

    def __init__(self) -> None:
        self.pushers: dict[int, PusherLedger] = {}

    def pusher(self, index: int) -> PusherLedger:
        if index not in self.pushers:
            self.pushers[index] = PusherLedger()
        return self.pushers[index]

    def total(self, attribute: str) -> int:
        return sum(getattr(p, attribute) for p in self.pushers.values())

    @property
    def sent(self) -> int:
        return self.total("sent")

    @property
    def delivered_unique(self) -> int:
        return self.total("delivered_unique")

    @property
    def lost(self) -> int:
        return self.total("lost")

    @property
    def duplicates(self) -> int:
        return self.total("duplicates")

    @property
    def in_flight(self) -> int:
        return self.total("in_flight")

    def drain(self) -> dict[int, np.ndarray]:
        """The run is over: everything undelivered is lost.  Returns the newly lost seqs per pusher."""
        return {index: p.declare_lost_below(p.sent) for index, p in self.pushers.items()}

    def lost_ids(self, cap: int = 1000) -> list[str]:
        ids: list[str] = []
        for index in sorted(self.pushers):
            ids += [f"p{index}:{seq}" for seq in self.pushers[index].lost_seqs(cap - len(ids))]
        return ids

    def memory_bytes(self) -> int:
        return sum(p.memory_bytes() for p in self.pushers.values())

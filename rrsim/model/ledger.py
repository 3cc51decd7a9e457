"""The message ledger: every message by identity (pusher, seq), one bit each, no I/O.

For each pusher it keeps a bit per sequence number (set once the message has been delivered)
and a scan pointer below which undelivered messages count as lost (and the few above it counted
lost already, given up by a router); deliveries of a message
already delivered are counted as duplicates.  A lost message may be reclassified as strayed
(taken by a peer that is not one of ours), with a second bit.  Invariant at every moment, per
pusher and in total:

    sent == delivered_unique + in_flight + lost + strayed
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

_INITIAL = 1 << 16  # messages
_SCAN_CHUNK = 1 << 24  # messages unpacked at a time when looking for undelivered ones (16 MB)
_BIT = np.array([1 << i for i in range(8)], dtype=np.uint8)


@dataclass(frozen=True)
class DeliveryFlags:
    """Per message of a batch: first delivery of that id, and whether it had been counted lost."""

    first: np.ndarray
    was_lost: np.ndarray  # counted lost or strayed before it came


class PusherLedger:
    def __init__(self) -> None:
        self.delivered = np.zeros(_INITIAL // 8, dtype=np.uint8)  # bit i % 8 of byte i // 8: seq i arrived
        self.sent = 0
        self.delivered_unique = 0
        self.duplicates = 0
        self.lost = 0
        self.lost_scan = 0  # messages below this seq that are undelivered are lost (or strayed)
        self.strayed = 0
        self.strayed_bits: np.ndarray | None = None  # made at the first stray: most runs have none
        # Seqs at or above lost_scan counted lost already: a router gave them up (their last attempt
        # failed), which is known at once, where the scan must wait until nothing can still come.
        self.lost_ahead = np.empty(0, dtype=np.int64)

    @property
    def in_flight(self) -> int:
        return self.sent - self.delivered_unique - self.lost - self.strayed

    def _reserve(self, messages: int) -> None:
        size = (messages + 7) // 8
        if size > len(self.delivered):
            grown = np.zeros(max(size, 2 * len(self.delivered)), dtype=np.uint8)
            grown[: len(self.delivered)] = self.delivered
            self.delivered = grown

    def record_sent(self, sent: int) -> None:
        if sent > self.sent:
            self._reserve(sent)
            self.sent = sent

    def record_deliveries(self, seqs: np.ndarray) -> DeliveryFlags:
        # A delivery proves the send: receipts can overtake the pusher's own progress report.
        self.record_sent(int(seqs.max()) + 1)
        # A worker receives each pusher's messages in order: then the batch is sorted with no
        # id twice, and np.unique (the costliest step) is not needed.
        increasing = len(seqs) < 2 or bool((seqs[1:] > seqs[:-1]).all())
        unique, first_index = (seqs, None) if increasing else np.unique(seqs, return_index=True)
        byte = unique >> 3
        bit = _BIT[unique & 7]
        fresh = (self.delivered[byte] & bit) == 0
        next_byte = byte[1:] != byte[:-1]
        if next_byte.all():
            self.delivered[byte] |= bit
        else:  # one OR per byte: ``unique`` is sorted, so the ids sharing a byte are neighbours
            starts = np.flatnonzero(np.concatenate(([True], next_byte)))
            self.delivered[byte[starts]] |= np.bitwise_or.reduceat(bit, starts)
        if first_index is None:
            first = fresh
        else:  # the same id twice in one batch: only its first occurrence is the first delivery
            first = np.zeros(len(seqs), dtype=bool)
            first[first_index[fresh]] = True
        was_lost = first & (seqs < self.lost_scan)
        if len(self.lost_ahead):
            was_lost |= first & np.isin(seqs, self.lost_ahead)
        new = int(np.count_nonzero(first))
        self.delivered_unique += new
        self.duplicates += len(seqs) - new
        came = int(np.count_nonzero(was_lost))
        if came and self.strayed_bits is not None:
            strayed = int(np.count_nonzero(self._is_strayed(seqs[was_lost])))
            self.strayed -= strayed
            came -= strayed
        self.lost -= came
        return DeliveryFlags(first=first, was_lost=was_lost)

    def mark_strayed(self, seqs: np.ndarray) -> None:
        """These lost messages went to a stranger: count them as strayed, not lost."""
        if len(seqs) == 0:
            return
        if self.strayed_bits is None or len(self.strayed_bits) < len(self.delivered):
            grown = np.zeros(len(self.delivered), dtype=np.uint8)
            if self.strayed_bits is not None:
                grown[: len(self.strayed_bits)] = self.strayed_bits
            self.strayed_bits = grown
        np.bitwise_or.at(self.strayed_bits, seqs >> 3, _BIT[seqs & 7])
        self.lost -= len(seqs)
        self.strayed += len(seqs)

    def _undelivered(self, low: int, high: int, cap: int | None = None) -> np.ndarray:
        """Seqs in [low, high) not delivered (the first ``cap`` of them), a chunk at a time."""
        found: list[np.ndarray] = []
        count = 0
        for start in range(low, high, _SCAN_CHUNK):
            end = min(high, start + _SCAN_CHUNK)
            first_byte = start >> 3
            bits = np.unpackbits(self.delivered[first_byte : (end + 7) >> 3], bitorder="little")
            seqs = np.flatnonzero(bits[start - first_byte * 8 : end - first_byte * 8] == 0) + start
            found.append(seqs)
            count += len(seqs)
            if cap is not None and count >= cap:
                break
        result = np.concatenate(found) if found else np.empty(0, dtype=np.int64)
        return result if cap is None else result[:cap]

    def undelivered_between(self, low: int, high: int) -> int:
        """How many messages in [low, high) have not been delivered (lost ones included)."""
        high = min(high, self.sent)
        if high <= low:
            return 0
        first_byte, last_byte = low >> 3, (high + 7) >> 3
        window = self.delivered[first_byte:last_byte].copy()
        window[0] &= np.uint8((0xFF << (low & 7)) & 0xFF)  # bits below low are not counted
        if high & 7:
            window[-1] &= np.uint8((1 << (high & 7)) - 1)  # nor bits from high on
        return (high - low) - int(np.bitwise_count(window).sum())

    def declare_lost_below(self, boundary: int) -> np.ndarray:
        """Count every undelivered message below ``boundary`` as lost; return the newly lost seqs."""
        boundary = min(boundary, self.sent)
        if boundary <= self.lost_scan:
            return np.empty(0, dtype=np.int64)
        newly = self._undelivered(self.lost_scan, boundary)
        if len(self.lost_ahead):
            newly = newly[~np.isin(newly, self.lost_ahead)]  # counted when given up
            self.lost_ahead = self.lost_ahead[self.lost_ahead >= boundary]
        self.lost += len(newly)
        self.lost_scan = boundary
        return newly

    def declare_lost(self, seqs: np.ndarray) -> np.ndarray:
        """Count these messages lost now, wherever the scan is (a router gave them up); return
        those newly counted: not delivered, not counted before."""
        seqs = np.unique(np.asarray(seqs, dtype=np.int64))
        seqs = seqs[(seqs >= self.lost_scan) & (seqs < self.sent)]
        seqs = seqs[~self.arrived(seqs) & ~np.isin(seqs, self.lost_ahead)]
        if len(seqs):
            self.lost_ahead = np.union1d(self.lost_ahead, seqs)
            self.lost += len(seqs)
        return seqs

    def _is_strayed(self, seqs: np.ndarray) -> np.ndarray:
        if self.strayed_bits is None:
            return np.zeros(len(seqs), dtype=bool)
        return _bits_set(self.strayed_bits, seqs)

    def arrived(self, seqs: np.ndarray) -> np.ndarray:
        """Per seq: whether it has been delivered."""
        return _bits_set(self.delivered, seqs)

    def lost_seqs(self, cap: int) -> np.ndarray:
        ahead = self.lost_ahead[~self.arrived(self.lost_ahead)]
        if self.strayed_bits is None:
            below = self._undelivered(0, self.lost_scan, cap)
        else:
            undelivered = self._undelivered(0, self.lost_scan)
            below = undelivered[~self._is_strayed(undelivered)][:cap]
        kept: np.ndarray = np.concatenate((below, ahead))[:cap]
        return kept

    def memory_bytes(self) -> int:
        return self.delivered.nbytes

    # A replay keeps a pickled ledger every second or so of a run (rrsim.recording.player): its bits, runs of
    # set bytes broken by the few messages in flight or lost, are kept as runs, not byte by byte.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["delivered"] = (len(self.delivered), _runs(self.delivered[: (self.sent + 7) >> 3]))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        capacity, runs = state["delivered"]
        state["delivered"] = np.zeros(capacity, dtype=np.uint8)
        state["delivered"][: runs[1].sum()] = np.repeat(*runs)
        self.__dict__.update(state)


def _bits_set(bits: np.ndarray, seqs: np.ndarray) -> np.ndarray:
    """Per seq: whether its bit is set in ``bits`` (one bit per seq; beyond the end: not set)."""
    byte = seqs >> 3
    inside = byte < len(bits)
    out = np.zeros(len(seqs), dtype=bool)
    out[inside] = (bits[byte[inside]] & _BIT[seqs[inside] & 7]) != 0
    return out


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``values`` as (value, length) of each run of equal values: ``np.repeat`` undoes it."""
    if not len(values):
        return values, np.zeros(0, dtype=np.int64)
    starts = np.concatenate(([0], np.flatnonzero(values[1:] != values[:-1]) + 1))
    return values[starts], np.diff(np.append(starts, len(values)))


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

    @property
    def strayed(self) -> int:
        return self.total("strayed")

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

"""The message map: how many messages each worker life got per tenth of a second, by pusher,
with the lost and the late: the data behind the live view's map, pure and cheap.

Counts are kept per life in 100 ms slots (one small array row per slot), so a run at 100,000
messages a second costs a few bincounts per batch, and drawing the map aggregates slots into as
many columns as the screen has.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SLOT_NS = 100_000_000
PUSHER_SLOTS = 8  # pushers counted apart (the ninth shares the first's colour, as in the tiles)
_GROW = 64


@dataclass
class LifeRow:
    """One worker life's messages per slot: received by pusher, late, and lost (dealt, never received)."""

    name: str
    life: int
    first_slot: int
    received: np.ndarray = field(default_factory=lambda: np.zeros((_GROW, PUSHER_SLOTS), dtype=np.int64))
    late: np.ndarray = field(default_factory=lambda: np.zeros(_GROW, dtype=np.int64))
    lost: np.ndarray = field(default_factory=lambda: np.zeros(_GROW, dtype=np.int64))

    def _reserve(self, slot: int) -> int:
        offset = max(slot - self.first_slot, 0)
        if offset >= len(self.late):
            size = max(offset + 1, 2 * len(self.late))
            self.received = np.concatenate([self.received, np.zeros((size - len(self.late), PUSHER_SLOTS), np.int64)])
            self.late = np.concatenate([self.late, np.zeros(size - len(self.late), np.int64)])
            self.lost = np.concatenate([self.lost, np.zeros(size - len(self.lost), np.int64)])
        return offset


@dataclass(frozen=True)
class MapRow:
    """One life's columns, as parallel tuples (thousands of cells: no object per cell)."""

    name: str
    life: int
    counts: tuple[int, ...]  # messages received in each column
    pushers: tuple[int, ...]  # the pusher most of them came from (1 = p1), 0 if none
    late: tuple[int, ...]
    lost: tuple[int, ...]


@dataclass(frozen=True)
class MapFrame:
    """The map as drawn: ``columns`` cells per life, each ``column_ns`` of time wide."""

    rows: tuple[MapRow, ...]
    column_ns: int
    peak: int  # the most messages in any cell: one scale for every row
    aggregated: bool  # a cell holds more than one message's worth of time (slots)


class MessageMap:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], LifeRow] = {}

    def row(self, name: str, life: int, t_ns: int) -> LifeRow:
        key = (name, life)
        if key not in self.rows:
            self.rows[key] = LifeRow(name, life, t_ns // SLOT_NS)
        return self.rows[key]

    def record_deliveries(self, name: str, life: int, pushers: np.ndarray, recv_ns: np.ndarray,
                          late: np.ndarray) -> None:
        slots = recv_ns // SLOT_NS
        low, high = int(slots.min()), int(slots.max())
        row = self.row(name, life, low * SLOT_NS)
        row._reserve(high)
        colour = (pushers - 1) % PUSHER_SLOTS
        first = max(low - row.first_slot, 0)
        if low == high:  # the usual batch: a few ms of receipts, all in one slot
            row.received[first] += np.bincount(colour, minlength=PUSHER_SLOTS)
            row.late[first] += int(np.count_nonzero(late))
            return
        offsets = np.maximum(slots - row.first_slot, 0) - first
        span = high - low + 1
        cells = np.bincount(offsets * PUSHER_SLOTS + colour, minlength=span * PUSHER_SLOTS)
        row.received[first : first + span] += cells.reshape(span, PUSHER_SLOTS)
        if late.any():
            row.late[first : first + span] += np.bincount(offsets[late], minlength=span)

    def record_lost(self, name: str, life: int, t_ns: int, count: int) -> None:
        """``count`` messages dealt to this life were lost; shown where the life ended."""
        row = self.row(name, life, t_ns)
        offset = row._reserve(t_ns // SLOT_NS)  # first: it may grow the arrays
        row.lost[offset] += count

    def frame(self, start_ns: int, now_ns: int, columns: int) -> MapFrame:
        """The whole run so far in ``columns`` columns (each a whole number of slots)."""
        first = start_ns // SLOT_NS
        columns = max(columns, 1)
        slots = max(now_ns // SLOT_NS - first + 1, 1)
        per_column = max(1, -(-slots // columns))
        rows = []
        peak = 0
        for row in sorted(self.rows.values(), key=lambda r: (_number(r.name), r.name, r.life)):
            # Only the slots this life used: each goes to column (its slot - first) // per_column.
            # Slots map to columns in order, so each column's slots are one run: reduceat sums them.
            used = len(row.late)
            where = (row.first_slot - first + np.arange(used)) // per_column
            keep = np.flatnonzero((where >= 0) & (where < columns))
            received = np.zeros((columns, PUSHER_SLOTS), np.int64)
            late, lost = np.zeros(columns, np.int64), np.zeros(columns, np.int64)
            if len(keep):
                lo, hi = keep[0], keep[-1] + 1
                starts = np.flatnonzero(np.diff(where[lo:hi], prepend=-1))
                at = where[lo:hi][starts]
                received[at] = np.add.reduceat(row.received[lo:hi], starts, axis=0)
                late[at] = np.add.reduceat(row.late[lo:hi], starts)
                lost[at] = np.add.reduceat(row.lost[lo:hi], starts)
            counts = received.sum(axis=1)
            peak = max(peak, int(counts.max(initial=0)))
            dominant = np.where(counts > 0, received.argmax(axis=1) + 1, 0)
            rows.append(MapRow(row.name, row.life, tuple(counts.tolist()), tuple(dominant.tolist()),
                               tuple(late.tolist()), tuple(lost.tolist())))
        return MapFrame(tuple(rows), per_column * SLOT_NS, peak, per_column > 1)


def _number(name: str) -> int:
    digits = name.lstrip("abcdefghijklmnopqrstuvwxyz")
    return int(digits) if digits.isdigit() else 0

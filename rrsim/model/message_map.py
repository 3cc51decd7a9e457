"""The message map: how many messages each worker life got per tenth of a second, by pusher,
with the lost and the late: the data behind the live view's map, pure and cheap.

Counts are kept per life in 100 ms slots (one small array row per slot), so a run at 100,000
messages a second costs a few bincounts per batch, and drawing the map aggregates slots into as
many columns as the screen has.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rrsim.names import name_number as _number

SLOT_NS = 100_000_000
TIED = -3  # a cell's pusher when two or more gave it the most: no one pusher's colour
PUSHER_SLOTS = 8  # pushers counted apart (the ninth shares the first's colour, as in the tiles)
_GROW = 64


@dataclass
class LifeRow:
    """One worker life's messages per slot: received by pusher, late, and lost (dealt, never received)."""

    name: str
    life: int
    first_slot: int
    used: int = 0  # slots from first_slot with anything recorded (the arrays hold more: room to grow)
    changed_from: int = 0  # the first slot written since its columns were last summed
    # (how, its columns' sums, its MapRow): see _columns
    drawn: tuple[tuple[int, int, int], list[list[int]], MapRow] | None = field(default=None, repr=False)
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
        self.used = max(self.used, offset + 1)
        return offset

    def written(self, offset: int) -> None:
        self.changed_from = min(self.changed_from, offset)


@dataclass(frozen=True)
class MapRow:
    """One life's columns, as parallel tuples (thousands of cells: no object per cell)."""

    name: str
    life: int
    counts: tuple[int, ...]  # messages received in each column
    pushers: tuple[int, ...]  # the pusher most of them came from (1 = p1), 0 if none, TIED if two or more
    late: tuple[int, ...]
    lost: tuple[int, ...]


@dataclass(frozen=True)
class MapFrame:
    """The map as drawn: ``columns`` cells per life, each ``column_ns`` of time wide; of the
    ``lives`` rows in all, the ones shown, from ``first_row`` (0 = the first life)."""

    rows: tuple[MapRow, ...]
    column_ns: int
    peak: int  # the most messages in any cell shown: one scale for every row
    aggregated: bool  # a cell holds more than one message's worth of time (slots)
    first_row: int = 0
    lives: int = 0


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
        # Called for every batch of receipts (thousands a second at full speed): few numpy calls.
        low, high = int(recv_ns.min()) // SLOT_NS, int(recv_ns.max()) // SLOT_NS
        row = self.row(name, life, low * SLOT_NS)
        row._reserve(high)
        first = max(low - row.first_slot, 0)
        row.written(first)
        if low == high:  # the usual batch: a few ms of receipts, all in one slot
            by_pusher = np.bincount(pushers)[1:]  # pusher 1 first
            if len(by_pusher) > PUSHER_SLOTS:  # the ninth pusher shares the first's colour
                by_pusher = np.pad(by_pusher, (0, -len(by_pusher) % PUSHER_SLOTS)).reshape(-1, PUSHER_SLOTS).sum(axis=0)
            row.received[first, : len(by_pusher)] += by_pusher
            if late.any():
                row.late[first] += int(np.count_nonzero(late))
            return
        colour = (pushers - 1) % PUSHER_SLOTS
        offsets = np.maximum(recv_ns // SLOT_NS - row.first_slot, 0) - first
        span = high - low + 1
        cells = np.bincount(offsets * PUSHER_SLOTS + colour, minlength=span * PUSHER_SLOTS)
        row.received[first : first + span] += cells.reshape(span, PUSHER_SLOTS)
        if late.any():
            row.late[first : first + span] += np.bincount(offsets[late], minlength=span)

    def record_lost(self, name: str, life: int, t_ns: int, count: int) -> None:
        """``count`` messages dealt to this life were lost; shown where the life ended."""
        row = self.row(name, life, t_ns)
        offset = row._reserve(t_ns // SLOT_NS)  # first: it may grow the arrays
        row.written(offset)
        row.lost[offset] += count

    def lives(self) -> list[tuple[str, int]]:
        """Every life with a row, in the map's order: by worker number, then life."""
        return sorted(self.rows, key=lambda key: (_number(key[0]), key[0], key[1]))

    def frame(self, start_ns: int, now_ns: int, columns: int, first_row: int = 0,
              max_rows: int | None = None) -> MapFrame:
        """The whole run so far in ``columns`` columns (each a whole number of slots), for at most
        ``max_rows`` lives from the ``first_row``-th: only the rows shown cost anything."""
        first = start_ns // SLOT_NS
        columns = max(columns, 1)
        slots = max(now_ns // SLOT_NS - first + 1, 1)
        per_column = max(1, -(-slots // columns))
        lives = self.lives()
        first_row = min(max(first_row, 0), max(len(lives) - 1, 0))
        shown = lives[first_row:] if max_rows is None else lives[first_row : first_row + max(max_rows, 1)]
        rows = [_columns(self.rows[key], first, per_column, columns) for key in shown]
        peak = max((max(row.counts) for row in rows), default=0)
        return MapFrame(tuple(rows), per_column * SLOT_NS, peak, per_column > 1, first_row, len(lives))


def _columns(row: LifeRow, first: int, per_column: int, columns: int) -> MapRow:
    """One life's slots summed into columns of ``per_column`` slots, the first column starting at
    slot ``first``.

    Columns are kept between frames: a frame sums again only those from the first slot written
    since (a dead life's: none; a live one's: the last one or two), unless the layout changed.
    A column's slots are padded to whole columns and summed in place (a reshape), which numpy
    does far faster than a reduceat over rows of pushers.
    """
    how = (first, per_column, columns)
    offset = row.first_slot - first  # the life's first slot, counted from the map's first
    lo = max(-offset, 0)  # a life's slots before the map's first are not drawn
    hi = min(row.used, columns * per_column - offset)  # nor those past the last column
    if row.drawn is not None and row.drawn[0] == how:
        if row.changed_from >= row.used:
            return row.drawn[2]  # nothing new
        cells = row.drawn[1]
        start = max(lo, (offset + row.changed_from) // per_column * per_column - offset)  # a whole column
    else:
        cells = [[0] * columns for _ in range(4)]  # counts, dominant pushers, late, lost: as MapRow has them
        start = lo
    if hi > start:
        lead = (offset + start) % per_column  # empty slots before it in its first column
        column = (offset + start) // per_column
        spanned = -(-(lead + hi - start) // per_column)
        received, late, lost = (_sum_columns(part[start:hi], lead, spanned, per_column)
                                for part in (row.received, row.late, row.lost))
        counts = received.sum(axis=1)
        most = received.max(axis=1)
        tied = (received == most[:, None]).sum(axis=1) > 1
        dominant = np.where(counts > 0, np.where(tied, TIED, received.argmax(axis=1) + 1), 0)
        for whole, part in zip(cells, (counts, dominant, late, lost), strict=True):
            whole[column : column + spanned] = part.tolist()
    drawn = MapRow(row.name, row.life, *(tuple(column_values) for column_values in cells))
    row.drawn, row.changed_from = (how, cells, drawn), row.used
    return drawn


def _sum_columns(slots: np.ndarray, lead: int, spanned: int, per_column: int) -> np.ndarray:
    """``slots`` summed ``per_column`` at a time into ``spanned`` columns, after ``lead`` empty slots."""
    padded = np.zeros((spanned * per_column, *slots.shape[1:]), np.int64)
    padded[lead : lead + len(slots)] = slots
    summed: np.ndarray = padded.reshape(spanned, per_column, *slots.shape[1:]).sum(axis=1)
    return summed

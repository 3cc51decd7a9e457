"""What an HTML report's charts show, read off the model and the report: each worker's messages,
share and queue per interval, its wait and sojourn as percentile curves, the message map, and
the timeline.  Everything is aggregated (at most ``MAX_COLUMNS`` intervals, ``CURVE_POINTS``
percentiles), so a report of a long, fast run stays small; no drawing here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rrsim.model.distribution import Durations
from rrsim.model.message_map import SLOT_NS
from rrsim.model.model import Model
from rrsim.model.views import NS, WorkerView
from rrsim.report.timeline_summary import notable_entries

MAX_COLUMNS = 240  # intervals on a time axis: a laptop screen's chart has no room for more
MAX_MAP_ROWS = 120  # worker lives drawn in the message map; the rest are counted
# The percentiles a curve is read at, 0.01% to 99.99%, evenly spread on a logit axis (both tails).
_TAIL = np.geomspace(0.5, 1e-4, 25)
CURVE_QUANTILES = tuple(float(q) for q in np.unique(np.round(np.concatenate((_TAIL, 1 - _TAIL)), 6)))
CURVE_POINTS = len(CURVE_QUANTILES)


@dataclass(frozen=True)
class Curve:
    """A distribution as percentile points: ``ms[i]`` at quantile ``quantiles[i]``, only those the
    count can tell (p99.9 needs a thousand messages)."""

    label: str
    quantiles: tuple[float, ...]
    ms: tuple[float, ...]
    count: int


def curve(label: str, durations: Durations) -> Curve | None:
    """``durations`` as a curve; None when it holds nothing."""
    if durations.count == 0:
        return None
    told = [q for q in CURVE_QUANTILES if min(q, 1 - q) * durations.count >= 1] or [0.5]
    values = [durations.quantile_ms(q) for q in told]
    return Curve(label, tuple(told), tuple(max(v or 0.0, 0.001) for v in values), durations.count)


@dataclass(frozen=True)
class WorkerSeries:
    """One worker (or a broker, for its queue) per interval: messages received, its share of what
    every worker received then (None when none received any), and its queue's peak (None where
    not known: no message started then, or its queue cannot be seen from the messages' times)."""

    name: str
    received: tuple[int, ...]
    share: tuple[float | None, ...]
    queue: tuple[int | None, ...] | None


@dataclass(frozen=True)
class MapPicture:
    """The message map: a row per worker life, a column per interval, and in each cell the
    messages received, the late among them, and the lost (marked where the life ended)."""

    labels: tuple[str, ...]
    received: tuple[tuple[int, ...], ...]
    late: tuple[tuple[int, ...], ...]
    lost: tuple[tuple[int, ...], ...]
    hidden: int  # lives beyond MAX_MAP_ROWS, not drawn


@dataclass(frozen=True)
class Happening:
    """A notable entry of the log (an action, a kill, a pause, a loss, a warning), in words."""

    t_s: float | None
    kind: str
    text: str


@dataclass(frozen=True)
class RunFigures:
    """Everything a run's charts draw, on one time axis: interval ``i`` starts ``starts_s[i]``
    seconds after the run started and lasts ``interval_s``."""

    interval_s: float
    starts_s: tuple[float, ...]
    workers: tuple[WorkerSeries, ...]
    brokers: tuple[WorkerSeries, ...]  # their queue only
    wait: tuple[Curve, ...]  # all workers first, then each worker
    sojourn: tuple[Curve, ...]
    message_map: MapPicture
    timeline: tuple[Happening, ...]
    losses: tuple[str, ...]  # the causes of loss, as the log says them

    @property
    def delivered(self) -> tuple[int, ...]:
        """Messages received by every worker together, per interval."""
        return tuple(int(sum(column)) for column in zip(*(w.received for w in self.workers), strict=True)) or (0,) * len(self.starts_s)


def run_figures(model: Model, report: dict[str, Any]) -> RunFigures:
    """The figures of the run folded into ``model``, whose report is ``report``."""
    start_ns = model.started_ns if model.started_ns is not None else 0
    end_ns = max(model.now_ns, start_ns)
    frame = model.message_map.frame(start_ns, end_ns, MAX_COLUMNS)
    first_slot = start_ns // SLOT_NS
    per_column = frame.column_ns // SLOT_NS
    columns = max(1, -(-(end_ns // SLOT_NS - first_slot + 1) // per_column))
    offset_s = (first_slot * SLOT_NS - start_ns) / NS  # the first column starts at a whole slot
    starts_s = tuple(round(offset_s + i * frame.column_ns / NS, 6) for i in range(columns))
    by_worker: dict[str, np.ndarray] = {}
    for row in frame.rows:
        counts = np.asarray(row.counts[:columns], dtype=np.int64)
        by_worker[row.name] = by_worker.get(row.name, np.zeros(columns, np.int64)) + counts
    total = sum(by_worker.values(), np.zeros(columns, np.int64))

    def peaks(slots: dict[int, int]) -> tuple[int | None, ...]:
        return columns_peak(slots, first_slot, per_column, columns)

    workers = tuple(
        WorkerSeries(w.name, tuple(int(c) for c in by_worker.get(w.name, np.zeros(columns, np.int64))),
                     tuple(None if all_ == 0 else round(int(c) / int(all_), 6)
                           for c, all_ in zip(by_worker.get(w.name, np.zeros(columns, np.int64)), total, strict=True)),
                     None if w.queue is None else peaks(w.queue.peaks()))
        for w in model.workers.values())
    brokers = tuple(WorkerSeries(b.name, (), (), peaks(b.queued_peaks)) for b in model.brokers.values())
    shown = [w for w in model.workers.values() if w.latency_trusted()]
    return RunFigures(
        interval_s=frame.column_ns / NS, starts_s=starts_s, workers=workers, brokers=brokers,
        wait=_curves(model.wait, shown, lambda w: w.latency),
        sojourn=_curves(model.sojourn, shown, lambda w: w.sojourn),
        message_map=map_picture(model, columns),
        timeline=timeline(report), losses=loss_causes(report),
    )


def _curves(everyone: Durations, workers: list[WorkerView], of: Any) -> tuple[Curve, ...]:
    found = [curve("all workers", everyone), *(curve(w.name, of(w)) for w in workers)]
    return tuple(c for c in found if c is not None)


def columns_peak(slots: dict[int, int], first_slot: int, per_column: int, columns: int) -> tuple[int | None, ...]:
    """Peaks kept per slot, as the most in each column of ``per_column`` slots from ``first_slot``."""
    peak: list[int | None] = [None] * columns
    for slot, most in slots.items():
        column = (slot - first_slot) // per_column
        if 0 <= column < columns:
            held = peak[column]
            peak[column] = most if held is None else max(held, most)
    return tuple(peak)


def map_picture(model: Model, columns: int) -> MapPicture:
    """The message map on the figures' time axis (its first ``columns`` intervals), a row per life."""
    start_ns = model.started_ns if model.started_ns is not None else 0
    frame = model.message_map.frame(start_ns, max(model.now_ns, start_ns), MAX_COLUMNS, max_rows=MAX_MAP_ROWS)
    rows = frame.rows
    return MapPicture(
        labels=tuple(f"{row.name} life {row.life}" if row.life > 1 else row.name for row in rows),
        received=tuple(row.counts[:columns] for row in rows),
        late=tuple(row.late[:columns] for row in rows),
        lost=tuple(row.lost[:columns] for row in rows),
        hidden=max(frame.lives - len(rows), 0),
    )


def timeline(report: dict[str, Any]) -> tuple[Happening, ...]:
    """The report's notable log entries: what a scenario did, and what went wrong."""
    return tuple(Happening(entry["t_s"], entry["kind"], entry["text"].strip())
                 for entry in notable_entries(report.get("log", [])))


def loss_causes(report: dict[str, Any]) -> tuple[str, ...]:
    """Each cause of loss (or of lateness) in the log, in its words."""
    return tuple(entry["text"].strip() for entry in report.get("log", []) if entry["kind"] == "lost")

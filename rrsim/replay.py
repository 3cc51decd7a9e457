"""Replaying a recording: its events folded into a model up to any moment, forwards or back.

A ``Timeline`` folds the whole recording once, noting the notable moments (kills, losses,
revives, slow joiners, strangers) and keeping a snapshot of the model every few seconds of run
time; a ``Player`` is a position on it, moved by a clock (at a speed), by steps or by seeks.
Seeking restores the nearest snapshot before the target and folds the few seconds after it, so
a seek costs the same on a long recording as on a short one.  Pure: no clocks, no I/O.
"""

from __future__ import annotations

import bisect
import pickle
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from rrsim import events as ev
from rrsim.errors import UserError
from rrsim.model import NS, LogEntry, Model

MAX_SPEED = float("inf")  # as fast as the model folds
# A seek folds at most this much of the recording: a few seconds of run time, and fewer on a busy
# run (at 10,000 msgs/s a second is ~250 events, mostly batches of deliveries).
SNAPSHOT_EVERY_NS = 5 * NS
SNAPSHOT_EVERY_EVENTS = 250
MAX_SPEED_EVENTS = 500  # what one advance at max speed folds: the view gets its turn between
QUIET = (ev.Tick,)  # events a step passes over: they change nothing one can see


def notable(entry: LogEntry) -> bool:
    """A moment worth jumping to: a process ended, messages lost, a revive, a slow joiner, a stranger."""
    return (entry.kind in ("end", "lost") or entry.what in ("slow-joiner", "stranger")
            or (entry.what == "started" and int(entry.facts.get("life", 1)) > 1))


def fold(model: Model, events: Sequence[ev.Event], start: int, stop: int) -> None:
    """Apply ``events[start:stop]`` to ``model``."""
    for index in range(start, stop):
        apply(model, events[index], index)


def apply(model: Model, event: ev.Event, index: int) -> None:
    """``model.apply(event)``; an event it cannot take makes the recording a bad one."""
    try:
        model.apply(event)
    except Exception as error:  # noqa: BLE001 - a recording is input: say which event, not a traceback
        raise UserError(f"event {index + 1} of the recording does not fit the run before it "
                        f"({type(error).__name__}: {error})") from None


def freeze(model: Model) -> bytes:
    """The model as bytes: the ledger's bits are mostly runs of ones and zeros, so it packs small."""
    return zlib.compress(pickle.dumps(model, pickle.HIGHEST_PROTOCOL), 1)


def thaw(state: bytes) -> Model:
    return pickle.loads(zlib.decompress(state))


@dataclass(frozen=True)
class Snapshot:
    position: int  # events folded into it
    state: bytes


class Timeline:
    """A recording's events, folded once: the final model, the notable moments, the snapshots."""

    def __init__(self, events: Sequence[ev.Event], snapshot_every_ns: int = SNAPSHOT_EVERY_NS) -> None:
        if not events or not isinstance(events[0], ev.RunStarted):
            raise UserError("the recording does not begin with the run's start (RunStarted)")
        self.events = events
        self.started_ns = events[0].t_ns
        # Positions are found by time; the model's "now" never goes back, and neither does this.
        self.times: list[int] = []
        self.notable: list[int] = []  # positions just after a notable event
        self.snapshots: list[Snapshot] = []
        model = Model()
        due_ns = self.started_ns
        for index, event in enumerate(events):
            if event.t_ns >= due_ns or index - self.snapshots[-1].position >= SNAPSHOT_EVERY_EVENTS:
                self.snapshots.append(Snapshot(index, freeze(model)))
                due_ns = event.t_ns + snapshot_every_ns
            newest = model.log[-1].serial if model.log else 0
            apply(model, event, index)
            self.times.append(model.now_ns)
            # New causes only: a loss whose count grows in place was notable when it was first told.
            fresh = [entry for entry in model.log if entry.serial > newest]
            if any(notable(entry) for entry in fresh):
                self.notable.append(index + 1)
        self.final = model

    @property
    def end(self) -> int:
        return len(self.events)

    @property
    def end_ns(self) -> int:
        return self.times[-1]

    def position_at(self, t_ns: int) -> int:
        """How many events happened at or before ``t_ns``."""
        return bisect.bisect_right(self.times, t_ns)

    def snapshot_before(self, position: int) -> Snapshot:
        keys = [snapshot.position for snapshot in self.snapshots]
        return self.snapshots[bisect.bisect_right(keys, position) - 1]


class Player:
    """A position on a timeline and the model folded to it; plays at ``speed`` times real time."""

    def __init__(self, timeline: Timeline, speed: float = 1.0) -> None:
        self.timeline = timeline
        self.speed = speed
        self.playing = False
        self.model = Model()
        self.position = 0  # events folded into ``model``
        self.clock_ns = timeline.started_ns  # the run's time shown: between events while playing
        self.go_to(1)

    # ------------------------------------------------------------------ where
    @property
    def at_end(self) -> bool:
        return self.position == self.timeline.end

    def elapsed_s(self) -> float:
        return (self.clock_ns - self.timeline.started_ns) / NS

    def go_to(self, position: int) -> None:
        """Fold to ``position`` (clamped to the first event and the end); the clock moves to its event."""
        position = max(1, min(position, self.timeline.end))
        self._fold_to(position)
        self.clock_ns = self.timeline.times[position - 1]

    def _fold_to(self, position: int) -> None:
        snapshot = self.timeline.snapshot_before(position)
        if position < self.position or snapshot.position > self.position:
            self.model = thaw(snapshot.state)
            self.position = snapshot.position
        fold(self.model, self.timeline.events, self.position, position)
        self.position = position

    def seek_s(self, seconds: float) -> None:
        """To ``seconds`` after the run started: every event up to then folded, the clock there."""
        length_s = (self.timeline.end_ns - self.timeline.started_ns) / NS
        t_ns = self.timeline.started_ns + int(max(0.0, min(seconds, length_s)) * NS)
        self._fold_to(max(1, self.timeline.position_at(t_ns)))
        self.clock_ns = t_ns

    # ------------------------------------------------------------------ moves
    def step(self, direction: int) -> None:
        """One event forward or back (a batch of deliveries is one event), over quiet ones."""
        events, position = self.timeline.events, self.position + direction
        while 1 < position < self.timeline.end and isinstance(events[position - 1], QUIET):
            position += direction
        self.playing = False
        self.go_to(position)

    def next_notable(self) -> bool:
        """To just after the next notable event; False if there is none ahead."""
        later = bisect.bisect_right(self.timeline.notable, self.position)
        if later == len(self.timeline.notable):
            return False
        self.go_to(self.timeline.notable[later])
        return True

    def toggle(self) -> None:
        if not self.playing and self.at_end:
            self.go_to(1)  # like a video player: play at the end starts again
        self.playing = not self.playing

    def advance(self, wall_ns: int) -> None:
        """``wall_ns`` of real time went by: play that much of the run (at max speed, a slice)."""
        if not self.playing:
            return
        if self.speed == MAX_SPEED:
            self.go_to(self.position + MAX_SPEED_EVENTS)
        else:
            self.clock_ns = min(self.clock_ns + int(wall_ns * self.speed), self.timeline.end_ns)
            self._fold_to(self.timeline.position_at(self.clock_ns))
        if self.at_end:
            self.playing = False


def play_all(events: Sequence[ev.Event]) -> Model:
    """A model of the whole recording, without snapshots (a report needs only the end)."""
    model = Model()
    fold(model, events, 0, len(events))
    return model

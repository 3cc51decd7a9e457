"""Replaying a recording: its events folded into a model up to any moment, forwards or back.

A ``Timeline`` folds a recording a slice at a time (``load``: a replay calls it in the
background while the player already shows the start), noting the notable moments (kills,
losses, revives, slow joiners, strangers) and keeping a snapshot of the model every few seconds
of run time, with where in the recording its next event begins; it holds no events.  A
``Player`` is a position on it, moved by a clock (at a speed), by steps or by seeks: it reads
the events it folds from the recording itself.  Seeking thaws the nearest snapshot before the
target and folds the few seconds after it, so a seek costs the same on a long recording as on a
short one.  A move past what is loaded (the end, the next notable moment, a late time) waits
for the fold.  Pure: no clocks, no threads.
"""

from __future__ import annotations

import bisect
import math
import pickle
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rrsim import events as ev
from rrsim.errors import UserError
from rrsim.model.model import NS, LogEntry, Model

MAX_SPEED = float("inf")  # as fast as the model folds
# A seek folds at most this much of the recording: a few seconds of run time, and fewer on a busy
# run (at 10,000 msgs/s a second is ~250 events, mostly batches of deliveries).
SNAPSHOT_EVERY_NS = 5 * NS
SNAPSHOT_EVERY_EVENTS = 250
MAX_SPEED_EVENTS = 500  # what one advance at max speed folds: the view gets its turn between
LOAD_SLICE = 200  # events one call of ``load`` folds by default: a few milliseconds
QUIET = (ev.Tick,)  # events a step passes over: they change nothing one can see


SLOWEST, FASTEST = 0.1, 100.0  # speeds one can ask for; past the fastest, only max
TIME = re.compile(r"\s*(?:(\d+):)?(\d+(?:\.\d*)?|\.\d+)\s*s?\s*")
TIME_FORMS = "seconds since the run started (12.5 or 12.5s) or m:ss (1:05)"


def parse_time(text: str) -> float | None:
    """Seconds from ``12.5``, ``12.5s`` or ``1:30``; None if it is none of those."""
    match = TIME.fullmatch(text)
    if match is None:
        return None
    minutes, seconds = match.groups()
    value = float(seconds)
    if minutes is not None:
        if value >= 60:
            return None  # 1:75 is no time on a clock
        try:
            value += float(int(minutes)) * 60
        except OverflowError:  # more minutes than a float holds (found by review: a traceback)
            return None
    return value if math.isfinite(value) else None


def parse_speed(text: str) -> float | None:
    """Times real time from ``2``, ``0.5x`` or ``max``; None if it is none of those or out of range."""
    text = text.strip().lower()
    if text == "max":
        return MAX_SPEED
    text = text.removesuffix("x")
    try:
        speed = float(text)
    except ValueError:
        return None
    return speed if math.isfinite(speed) and SLOWEST <= speed <= FASTEST else None


class EventSource(Protocol):
    """Where a timeline's events come from: a recording on disk (``RecordingFile``) or a list."""

    def read(self, place: Any = None, position: int = 0) -> Iterator[tuple[Any, ev.Event]]:
        """Each event from ``place`` (None: the first), with the place where it begins;
        ``position`` is how many events come before it."""
        ...

    def progress(self) -> float:
        """How much of the source has been read, 0 to 1."""
        ...


class EventList:
    """A list of events as a source: a place is an index."""

    def __init__(self, events: Sequence[ev.Event]) -> None:
        self.events = events
        self.furthest = 0

    def read(self, place: int | None = None, position: int = 0) -> Iterator[tuple[int, ev.Event]]:
        for index in range(place or 0, len(self.events)):
            self.furthest = max(self.furthest, index + 1)
            yield index, self.events[index]

    def progress(self) -> float:
        return self.furthest / len(self.events) if self.events else 1.0


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
    model: Model = pickle.loads(zlib.decompress(state))  # what freeze pickled
    return model


@dataclass(frozen=True)
class Snapshot:
    position: int  # events folded into it
    now_ns: int  # the model's time then
    place: Any  # where in the source the next event begins
    state: bytes


class Timeline:
    """A recording folded a slice at a time: how far, the notable moments, the snapshots, and at
    the end the final model.  Only ``load`` changes it; readers on other threads see lists that
    only grow and counts that only rise."""

    def __init__(self, source: EventSource | Sequence[ev.Event], snapshot_every_ns: int = SNAPSHOT_EVERY_NS) -> None:
        self.source: EventSource = EventList(source) if isinstance(source, Sequence) else source
        self.snapshot_every_ns = snapshot_every_ns
        self.snapshots: list[Snapshot] = []
        self._snapshot_positions: list[int] = []  # the snapshots' positions and times, to bisect
        self._snapshot_times: list[int] = []
        self.notable: list[int] = []  # positions just after a notable event
        self.loaded = 0  # events folded so far
        self.loaded_ns = 0  # the run's time after them
        self.complete = False  # every event is folded: ``final`` is the run's end
        self._model = Model()
        self._reader = self.source.read()
        self._due_ns: int | None = None  # the next snapshot is due at the first event at or after this
        self.load(1)
        if self.loaded == 0 or self._model.started_ns is None:
            raise UserError("the recording does not begin with the run's start (RunStarted)")
        self.started_ns = self._model.started_ns

    @property
    def final(self) -> Model:
        if not self.complete:
            raise RuntimeError("the timeline is not loaded to its end yet")
        return self._model

    def load(self, events: int = LOAD_SLICE) -> bool:
        """Fold up to ``events`` more; True once every event is folded."""
        model = self._model
        for _ in range(events):
            item = next(self._reader, None)
            if item is None:
                self.complete = True
                break
            place, event = item
            index = self.loaded
            if (self._due_ns is None or event.t_ns >= self._due_ns
                    or index - self.snapshots[-1].position >= SNAPSHOT_EVERY_EVENTS):
                self._snapshot_positions.append(index)
                self._snapshot_times.append(model.now_ns)
                self.snapshots.append(Snapshot(index, model.now_ns, place, freeze(model)))  # last: readers bisect up to it
                self._due_ns = event.t_ns + self.snapshot_every_ns
            newest = model.log[-1].serial if model.log else 0
            apply(model, event, index)
            self.loaded_ns = model.now_ns
            # New causes only: a loss whose count grows in place was notable when it was first told.
            if any(notable(entry) for entry in model.log if entry.serial > newest):
                self.notable.append(index + 1)
            self.loaded = index + 1
        return self.complete

    def load_all(self) -> Timeline:
        while not self.load():
            pass
        return self

    def progress(self) -> float:
        return 1.0 if self.complete else self.source.progress()

    @property
    def end(self) -> int:
        """The last position one can go to now: the end once loaded."""
        return self.loaded

    @property
    def end_ns(self) -> int:
        return self.loaded_ns

    def snapshot_before(self, position: int) -> Snapshot:
        """The last snapshot at or before ``position``."""
        count = len(self.snapshots)
        return self.snapshots[bisect.bisect_right(self._snapshot_positions, position, 0, count) - 1]

    def snapshot_at_or_before_time(self, t_ns: int) -> Snapshot:
        count = len(self.snapshots)
        return self.snapshots[max(0, bisect.bisect_right(self._snapshot_times, t_ns, 0, count) - 1)]

    def snapshot_bytes(self) -> int:
        return sum(len(snapshot.state) for snapshot in self.snapshots[:len(self.snapshots)])


@dataclass(frozen=True)
class Waiting:
    """A move that goes past what is loaded: tried again as the fold goes on."""

    what: str  # for people: "the end", "the next notable moment", "12.5 s"
    move: Callable[[], bool]  # True once done


class Player:
    """A position on a timeline and the model folded to it; plays at ``speed`` times real time."""

    def __init__(self, timeline: Timeline, speed: float = 1.0) -> None:
        self.timeline = timeline
        self.speed = speed
        self.playing = False
        self.waiting: Waiting | None = None
        self.model = Model()
        self.position = 0  # events folded into ``model``
        self.last: ev.Event | None = None  # the event at position - 1
        self._reader: Iterator[tuple[Any, ev.Event]] = timeline.source.read(timeline.snapshots[0].place)
        self._next: ev.Event | None = None  # read from the source, not folded yet
        self.clock_ns = timeline.started_ns  # the run's time shown: between events while playing
        self.go_to(1)

    # ------------------------------------------------------------------ where
    @property
    def at_end(self) -> bool:
        return self.timeline.complete and self.position == self.timeline.end

    def elapsed_s(self) -> float:
        return (self.clock_ns - self.timeline.started_ns) / NS

    def go_to(self, position: int) -> None:
        """Fold to ``position`` (clamped to the first event and what is loaded); the clock moves to its event."""
        self._fold_to(max(1, min(position, self.timeline.end)))
        self.clock_ns = self.model.now_ns

    def _fold_to(self, position: int) -> None:
        # A snapshot before the target, not at it, so that at least one event is folded: ``last`` is known.
        snapshot = self.timeline.snapshot_before(position - 1)
        if position < self.position or snapshot.position > self.position:
            self._thaw(snapshot)
        while self.position < position:
            self._fold_next()

    def _thaw(self, snapshot: Snapshot) -> None:
        self.model = thaw(snapshot.state)
        self.position = snapshot.position
        self._reader = self.timeline.source.read(snapshot.place, snapshot.position)
        self._next = None

    def _peek(self) -> ev.Event:
        if self._next is None:
            self._next = next(self._reader)[1]
        return self._next

    def _fold_next(self) -> None:
        event = self._peek()
        apply(self.model, event, self.position)
        self.position += 1
        self.last, self._next = event, None

    def _fold_until(self, t_ns: int) -> None:
        """Every loaded event up to ``t_ns`` folded, and none after it."""
        snapshot = self.timeline.snapshot_at_or_before_time(t_ns)
        if self.model.now_ns > t_ns or snapshot.position > self.position:
            self._thaw(snapshot)
        if self.position == 0:
            self._fold_next()  # the run's start, which every moment comes after
        while self.position < self.timeline.end and max(self.model.now_ns, self._peek().t_ns) <= t_ns:
            self._fold_next()

    def seek_s(self, seconds: float) -> None:
        """To ``seconds`` after the run started: every event up to then folded, the clock there.
        Past what is loaded, it waits for the fold to get there."""
        t_ns = self.timeline.started_ns + int(max(0.0, seconds) * NS)

        def seek() -> bool:
            if t_ns > self.timeline.end_ns and not self.timeline.complete:
                return False
            self._fold_until(t_ns)
            self.clock_ns = min(t_ns, self.timeline.end_ns)
            return True

        self._when_loaded(f"{seconds:g} s", seek)

    def _when_loaded(self, what: str, move: Callable[[], bool]) -> None:
        """Make ``move`` now, or (it returned False) each time ``advance`` is called until it can."""
        self.waiting = None if move() else Waiting(what, move)

    # ------------------------------------------------------------------ moves
    def step(self, direction: int) -> None:
        """One event forward or back (a batch of deliveries is one event), over quiet ones."""
        self.playing, self.waiting = False, None
        if direction > 0:
            while self.position < self.timeline.end:
                self._fold_next()
                if not isinstance(self.last, QUIET):
                    break
        else:
            self.go_to(self.position - 1)
            while self.position > 1 and isinstance(self.last, QUIET):
                self.go_to(self.position - 1)
        self.clock_ns = self.model.now_ns

    def start(self) -> None:
        self.waiting = None
        self.go_to(1)

    def end(self) -> None:
        """To the end of the run, once the fold has got there."""
        def end() -> bool:
            if not self.timeline.complete:
                return False  # following the fold would fold everything twice
            self.go_to(self.timeline.end)
            return True

        self._when_loaded("the end", end)

    def next_notable(self) -> bool:
        """To just after the next notable event; False if there is none ahead (once loaded: until
        then it waits for one)."""
        def to_next() -> bool:
            later = bisect.bisect_right(self.timeline.notable, self.position)
            if later < len(self.timeline.notable):
                self.go_to(self.timeline.notable[later])
                return True
            return self.timeline.complete

        position = self.position
        self._when_loaded("the next notable moment", to_next)
        return self.waiting is not None or self.position != position

    def toggle(self) -> None:
        if not self.playing and self.at_end:
            self.go_to(1)  # like a video player: play at the end starts again
        self.playing = not self.playing

    def advance(self, wall_ns: int) -> None:
        """``wall_ns`` of real time went by: play that much of the run (at max speed, a slice), or
        make the move that waits for the fold, if it can be made now."""
        if self.waiting is not None:
            if not self.waiting.move():
                return
            self.waiting = None
        if not self.playing:
            return
        if self.speed == MAX_SPEED:
            self.go_to(self.position + MAX_SPEED_EVENTS)
        else:
            self.clock_ns = min(self.clock_ns + int(wall_ns * self.speed), self.timeline.end_ns)
            self._fold_until(self.clock_ns)
        if self.at_end:
            self.playing = False


def play_all(events: Iterator[ev.Event] | Sequence[ev.Event]) -> Model:
    """A model of the whole recording, without snapshots (a report needs only the end)."""
    model = Model()
    for index, event in enumerate(events):
        apply(model, event, index)
    return model

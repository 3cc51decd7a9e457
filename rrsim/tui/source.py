"""Where the TUI's model comes from: a live engine on its own thread, a recording played back,
or a fixed model.

The app only reads ``model`` (holding ``lock``; a replay may swap it for another when it seeks
back), ``finished``, ``failure`` and ``replay``, and sends commands with ``request``; it never
sees a socket, a process or a file.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any, Protocol

from rrsim.engine.engine import Engine
from rrsim.errors import UserError
from rrsim.events import QUIT
from rrsim.model.model import Model
from rrsim.recording.file import Recording, RecordingFile, truncation_note
from rrsim.recording.player import Player, Timeline
from rrsim.tui.frames import ReplayFrame

STEP_MS = 10.0
IDLE_S = 0.05  # once a run has drained, step() has nothing left to do
JOIN_S = 15.0  # a step takes milliseconds (seconds when overloaded); past this, close regardless
# A replay folds the rest of its recording between the player's moves, this long at a time: the
# player is moved on at least this often, and the keys' lock is free meanwhile.
LOAD_S = 0.02
LOAD_EVENTS = 20


class RunSource(Protocol):
    """What the app reads and asks of a run."""

    @property
    def model(self) -> Model: ...

    @property
    def lock(self) -> AbstractContextManager[Any]: ...

    @property
    def finished(self) -> bool: ...

    @property
    def failure(self) -> BaseException | None: ...

    def request(self, command: str, *args: Any) -> Future[Any]: ...

    def replay(self) -> ReplayFrame | None:
        """Where a replay is; None for a run that is not one."""
        ...


class LiveRun:
    """An engine stepped on a thread of its own, the only thread that touches its sockets."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        engine.supervisor.idle = True  # its frames and keys come before the children's work (give_way)
        self.model = engine.model
        self.lock = engine.lock
        self.failure: BaseException | None = None
        self._stop = threading.Event()
        self._closing = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="rrsim-engine", daemon=True)

    @property
    def finished(self) -> bool:
        return self.engine.finished

    def begin(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        engine = self.engine
        try:
            engine.start()
            while not self._stop.is_set():
                if engine.finished:
                    self._stop.wait(IDLE_S)
                else:
                    engine.step(STEP_MS)
        except BaseException as error:  # the app shows it and exits; run_tui raises it again
            self.failure = error
        finally:
            engine.expect_run_end()  # the children die with this thread: at the run's end, not crashed

    def request(self, command: str, *args: Any) -> Future[Any]:
        return self.engine.request(command, *args)

    def replay(self) -> None:
        return None

    def close(self) -> None:
        """Stop stepping, then end every child and remove the run directory.

        Safe to call twice, and from two threads at once (a hangup closes the run on a thread of
        its own): the second call returns once the first has finished cleaning up.
        """
        with self._closing:
            self._stop.set()
            if self._thread.is_alive():
                self._thread.join(JOIN_S)
            # The stepping thread is done with the sockets (join is the hand-over); closing from the
            # main thread lets the engine hold off a second ctrl+c while it cleans up.
            self.engine.close(stopped_by=QUIT)


class StaticRun:
    """A model fed fixed events and no engine: commands are recorded, not run."""

    def __init__(self, model: Model, finished: bool = False) -> None:
        self.model = model
        self.lock = threading.RLock()
        self.finished = finished
        self.failure: BaseException | None = None
        self.requests: list[tuple[str, tuple[Any, ...]]] = []

    def request(self, command: str, *args: Any) -> Future[Any]:
        self.requests.append((command, args))
        future: Future[Any] = Future()
        future.set_result(None)
        return future

    def replay(self) -> None:
        return None


class ReplayRun:
    """A recording played back by a ``Player``, moved on by a clock on a thread of its own
    (``begin``), which also folds the rest of the recording between moves; keys move the player
    too, holding ``lock``.  Commands are refused: a recorded run cannot change."""

    def __init__(self, recording: RecordingFile | Recording, timeline: Timeline | None = None, speed: float = 1.0,
                 at_s: float | None = None, paused: bool = False) -> None:
        """At the start (``at_s``: at that time, once loaded that far), still until ``begin``
        plays it (or leaves it ``paused``)."""
        self.recording = recording
        if timeline is None:
            timeline = Timeline(recording if isinstance(recording, RecordingFile) else recording.events)
        self.timeline = timeline
        self.player = Player(timeline, speed)
        if at_s is not None:
            self.player.seek_s(at_s)
        self.paused = paused
        self.lock = threading.RLock()
        self.failure: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rrsim-replay", daemon=True)

    @property
    def model(self) -> Model:
        return self.player.model

    @property
    def finished(self) -> bool:
        return self.player.model.drained

    @property
    def truncated(self) -> bool:
        """The recording was cut off (known once it is loaded to its end)."""
        return self.timeline.complete and self.recording.truncated

    def truncation_note(self) -> str:
        return truncation_note(self.recording.path, self.timeline.loaded)

    def request(self, command: str, *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_exception(UserError(f"This is a replay of {self.recording.path}: {command.replace('_', ' ')} "
                                       "cannot change a recorded run."))
        return future

    def replay(self) -> ReplayFrame:
        player = self.player
        timeline = player.timeline
        return ReplayFrame(player.playing, player.speed, round(player.elapsed_s(), 1),
                           round((timeline.end_ns - timeline.started_ns) / 1e9, 1), self.truncated,
                           None if timeline.complete else int(timeline.progress() * 100),
                           None if player.waiting is None else player.waiting.what)

    def load(self, seconds: float) -> bool:
        """Fold the recording for up to ``seconds``; True once it is all folded.  Before the view
        opens, so that a short recording is whole (and its faults told) before anything shows."""
        until = time.monotonic() + seconds
        while not self.timeline.load(LOAD_EVENTS):
            if time.monotonic() >= until:
                return False
        return True

    def begin(self) -> None:
        """Play (unless made paused), and fold the rest of the recording."""
        self.player.playing = not self.paused
        self._thread.start()

    def _run(self) -> None:
        last_ns = time.monotonic_ns()
        try:
            while not self._stop.wait(STEP_MS / 1000 if self.timeline.complete else 0):
                now_ns = time.monotonic_ns()
                with self.lock:
                    self.player.advance(now_ns - last_ns)
                last_ns = now_ns
                if not self.timeline.complete:
                    self.load(LOAD_S)  # outside the lock: the keys move the player meanwhile
        except BaseException as error:  # the app shows it and exits, as for an engine
            self.failure = error

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(JOIN_S)

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

from rrsim.engine import Engine
from rrsim.errors import UserError
from rrsim.model import Model
from rrsim.recording import Recording
from rrsim.replay import Player, Timeline
from rrsim.tui.frames import ReplayFrame

STEP_MS = 10.0
IDLE_S = 0.05  # once a run has drained, step() has nothing left to do
JOIN_S = 15.0  # a step takes milliseconds (seconds when overloaded); past this, close regardless


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

    def request(self, command: str, *args: Any) -> Future: ...

    def replay(self) -> ReplayFrame | None:
        """Where a replay is; None for a run that is not one."""
        ...


class LiveRun:
    """An engine stepped on a thread of its own, the only thread that touches its sockets."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
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

    def request(self, command: str, *args: Any) -> Future:
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
            self.engine.close()


class StaticRun:
    """A model fed fixed events and no engine: commands are recorded, not run."""

    def __init__(self, model: Model, finished: bool = False) -> None:
        self.model = model
        self.lock = threading.RLock()
        self.finished = finished
        self.failure: BaseException | None = None
        self.requests: list[tuple[str, tuple[Any, ...]]] = []

    def request(self, command: str, *args: Any) -> Future:
        self.requests.append((command, args))
        future: Future = Future()
        future.set_result(None)
        return future

    def replay(self) -> None:
        return None


class ReplayRun:
    """A recording played back by a ``Player``, moved on by a clock on a thread of its own
    (``begin``); keys move it too, holding ``lock``.  Commands are refused: a recorded run
    cannot change."""

    def __init__(self, recording: Recording, timeline: Timeline | None = None) -> None:
        self.recording = recording
        self.player = Player(timeline or Timeline(recording.events))
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

    def request(self, command: str, *args: Any) -> Future:
        future: Future = Future()
        future.set_exception(UserError(f"This is a replay of {self.recording.path}: {command.replace('_', ' ')} "
                                       "cannot change a recorded run."))
        return future

    def replay(self) -> ReplayFrame:
        player = self.player
        timeline = player.timeline
        return ReplayFrame(player.playing, player.speed, round(player.elapsed_s(), 1),
                           round((timeline.end_ns - timeline.started_ns) / 1e9, 1), self.recording.truncated)

    def begin(self) -> None:
        """Play from the start, in real time."""
        self.player.playing = True
        self._thread.start()

    def _run(self) -> None:
        last_ns = time.monotonic_ns()
        while not self._stop.wait(STEP_MS / 1000):
            now_ns = time.monotonic_ns()
            try:
                with self.lock:
                    self.player.advance(now_ns - last_ns)
            except BaseException as error:  # the app shows it and exits, as for an engine
                self.failure = error
                return
            last_ns = now_ns

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(JOIN_S)

"""The rrsim Textual app, and ``run_tui``: an engine on its own thread behind a live screen."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import signal
import sys
import traceback
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from rrsim.engine.engine import Engine
from rrsim.errors import UserError
from rrsim.model.model import NS
from rrsim.recording.file import EventRecorder, RecordingFile
from rrsim.recording.outputs import open_output
from rrsim.scenario.scenario import Scenario
from rrsim.tui.browser import BrowserDriver
from rrsim.tui.hangup import Hangup, TerminalDriver
from rrsim.tui.help_screen import HelpScreen
from rrsim.tui.replay_screen import ReplayScreen
from rrsim.tui.run_screen import RunScreen
from rrsim.tui.source import LiveRun, ReplayRun, RunSource

# Young objects collected this often (Python's default is 700): a frame makes thousands of
# short-lived ones, and each collection pauses the event loop and the engine's thread alike.
GC_YOUNG_THRESHOLD = 20_000
# A replay folds this long before its view opens: a short recording is then whole (its faults told
# on the command line, exit 2) and a long one shows its start at once, the rest folding behind it.
PRELOAD_S = 0.2


class RrsimApp(App[None]):
    """Shows one run from ``source``: a live engine or a fixed model (tests, screenshots)."""

    CSS_PATH = "app.tcss"
    TITLE = "rrsim"
    # help and quit live in RUN_BINDINGS, first in the footer; ctrl+c is the reflex: quit cleanly, not a hint
    BINDINGS = [Binding("ctrl+c", "quit", show=False, system=True)]

    def __init__(self, source: RunSource, scenario: str = "interactive", quit_on_signals: bool = False,
                 browser: bool = False) -> None:
        # quit_on_signals: the app owns the process and its terminal, which may vanish (run_tui);
        # browser: it draws in a browser tab (rrsim --web), its input and output textual-serve's pipes
        driver = BrowserDriver if browser else TerminalDriver if quit_on_signals else None
        super().__init__(driver_class=driver)
        self.source = source
        self.scenario = scenario
        self.quit_on_signals = quit_on_signals

    def on_mount(self) -> None:
        # Everything alive now (modules, Textual, the widgets) lives as long as the app: frozen,
        # the collector stops walking it.  Unfrozen, with 16 busy workers a full collection held
        # the event loop for up to 230 ms and the 50 ms timer's p99 lag was 77 ms; frozen, 9 ms.
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        if self.quit_on_signals:
            # SIGTERM quits like q: the event loop leaves app.run() and run_tui cleans up, rather
            # than an exception unwinding through Textual's insides.  SIGHUP is run_tui's (Hangup).
            asyncio.get_running_loop().add_signal_handler(
                signal.SIGTERM, partial(self.exit, return_code=128 + signal.SIGTERM))

    def get_default_screen(self) -> Screen[Any]:
        if isinstance(self.source, ReplayRun):
            return ReplayScreen(self.source, self.scenario)
        return RunScreen(self.source, self.scenario)

    def action_help(self) -> None:
        if isinstance(self.screen, RunScreen):
            with self.source.lock:
                lost_after_s = self.source.model.losses.lost_after_ns / NS
            self.push_screen(HelpScreen(self.screen.KEYS, lost_after_s, self.screen.help_intro()))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not isinstance(screen, RunScreen):
            return
        for binding in screen.KEYS:
            # The alternatives (arrows, 1-9) have no description; Textual lists Quit already.
            if not binding.description or binding.action == "app.quit":
                continue
            keys = " or ".join(self.get_key_display(one) for one in Binding.make_bindings([binding]))
            title = f"{binding.group.description}: " if binding.group else ""
            title = f"{title}{binding.description} ({keys})"
            yield SystemCommand(title[0].upper() + title[1:], binding.tooltip, partial(screen.run_action, binding.action))


def run_tui(scenario: Scenario, keep_logs: Path | None, record: Path | None = None, browser: bool = False) -> int:
    """Run the TUI until q; every child ends and the run directory goes, however the app ends.

    ``record``: write every event there, as ``rrsim run --events`` does, for ``rrsim replay``;
    ``browser``: draw for a browser tab of ``rrsim --web`` rather than on the terminal."""
    recording = open_output(record, "--record") if record is not None else None  # first: it may be refused
    try:
        engine = Engine(scenario.setup, scenario.timeline, keep_logs=keep_logs)
    except BaseException:
        if recording is not None:
            recording.discard()
        raise
    recorder = None
    if recording is not None:
        recorder = EventRecorder(recording.stream, dataclasses.replace(scenario, setup=engine.setup))
        engine.subscribe(recorder)
    run = LiveRun(engine)

    def close() -> None:
        run.close()  # the engine's last events (every process ended) are written before the file is kept
        if recording is not None and recorder is not None and not recording.stream.closed:
            recorder.close()
            recording.keep()

    return _show(run, scenario.name, close, browser)


def run_replay(recording: RecordingFile, speed: float = 1.0, at_s: float | None = None, paused: bool = False) -> int:
    """Play a recording in the live view until q; the start shows at once, the rest loads meanwhile."""
    run = ReplayRun(recording, speed=speed, at_s=at_s, paused=paused)
    run.load(PRELOAD_S)
    return _show(run, str(recording.header.get("scenario", "replay")), run.close)


def _show(run: LiveRun | ReplayRun, scenario: str, close: Callable[[], None], browser: bool = False) -> int:
    try:
        app = RrsimApp(run, scenario, quit_on_signals=True, browser=browser)
        with Hangup(app, close):
            run.begin()
            app.run()
    finally:
        close()
    if run.failure is not None:
        return _engine_failed(run.failure)
    return app.return_code or 0


def _engine_failed(failure: BaseException) -> int:
    """The engine's thread stopped on ``failure``: one line on stderr and exit code 1, not a traceback.

    A UserError (the engine could not start, say) goes to the command line like any other.
    """
    if isinstance(failure, UserError):
        raise failure
    frames = traceback.extract_tb(failure.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    message = f"{type(failure).__name__}: {failure}{where}".replace("\r", "\\r").replace("\n", "\\n")
    print(f"rrsim: error: the engine stopped: {message}", file=sys.stderr)
    return 1

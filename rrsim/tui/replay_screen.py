"""The main screen over a recording: the live view's tiles, log and totals, with a player's keys.

Space, ``+`` and ``-`` play, pause and change the speed instead of holding and pacing the
pushers; the keys that would change the run (kill, revive, add...) are still there and say
that a recorded run cannot change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from rrsim.recording.player import TIME_FORMS, Player, parse_time
from rrsim.tui import controls
from rrsim.tui.messages import CommandDone, Setting
from rrsim.tui.run_screen import JOIN_BINDING, OUTPUT_BINDING, RUN_BINDINGS, SELECT, RunScreen
from rrsim.tui.source import ReplayRun

PLAY = Binding.Group("play")
STEP = Binding.Group("step", compact=True)
SPEED = Binding.Group("speed", compact=True)
ENDS = Binding.Group("go to", compact=True)
RECORDED = Binding.Group("recorded")
# First in the footer, as in the live view; a replay's q has no processes to end.
HELP_AND_QUIT = [RUN_BINDINGS[0], dataclasses.replace(
    RUN_BINDINGS[1], tooltip="Quit the replay.  Nothing runs in a replay (no child processes, no run directory): "
                             "the recording is only read.")]

PLAYER_BINDINGS: list[Binding] = [
    Binding("space", "play", "play/pause", group=PLAY,
            tooltip="Play or pause the replay; at the end, play starts it again."),
    Binding("full_stop", "step(1)", "step", group=STEP,
            tooltip="One event forward (a worker's batch of deliveries is one event), paused."),
    Binding("comma", "step(-1)", "back", group=STEP, tooltip="One event back."),
    Binding("plus", "speed(1)", "faster", group=SPEED,
            tooltip="Play faster: 0.1x, 0.2x, 0.5x, 1x, 2x ... 100x real time, then max (as fast as it can)."),
    Binding("minus", "speed(-1)", "slower", group=SPEED, tooltip="Play slower."),
    Binding("g", "start", "start", group=ENDS, tooltip="Go to the start of the run."),
    Binding("G", "end", "end", group=ENDS, tooltip="Go to the end of the run."),
    Binding("n", "next_notable", "next", tooltip="Jump to just after the next kill, stop, crash, loss, revive, "
                                                   "slow joiner or stranger."),
    Binding("j", "jump", "jump", tooltip="Type a time (seconds since the run started, or m:ss) and go there."),
]
TAKEN = {binding.key for binding in PLAYER_BINDINGS}
# The live view's keys that would change the run: hidden from the footer, one row in the help.
RECORDED_BINDINGS = [
    dataclasses.replace(binding, show=False, group=RECORDED,
                        tooltip="The live view's keys that change a run: in a replay they say that a recorded "
                                "run cannot change.")
    for binding in RUN_BINDINGS[2:]
    if binding.key not in TAKEN and binding.group is not SELECT and binding not in (JOIN_BINDING, OUTPUT_BINDING)
]
SELECT_BINDINGS = [binding for binding in RUN_BINDINGS if binding.group is SELECT]
REPLAY_BINDINGS: list[Binding] = [*HELP_AND_QUIT, *PLAYER_BINDINGS, JOIN_BINDING, *RECORDED_BINDINGS, *SELECT_BINDINGS]


class ReplayScreen(RunScreen, inherit_bindings=False):
    """A RunScreen whose source is a recording played back."""

    KEYS: ClassVar[list[Binding]] = REPLAY_BINDINGS
    BINDINGS: ClassVar[list[BindingType]] = [*REPLAY_BINDINGS]
    STAYS = "the recording ends here; g goes back to the start."

    def help_intro(self) -> Content:
        head = self.source.recording.header
        when = f" on {head['started_at'][:19].replace('T', ' ')} UTC" if head.get("started_at") else ""
        return Content.assemble(
            ("A replay", "bold"), f" of {Path(self.source.recording.path).name}, recorded by rrsim {head.get('rrsim', '?')}{when}: "
            "no processes run and nothing can change; the keys move through the recorded run, which the view shows "
            "as the live view showed it.")

    source: ReplayRun

    _told_cut_off = False

    def read_model(self, at_once: bool = False) -> None:
        super().read_model(at_once)
        if self.source.truncated and not self._told_cut_off:  # known once the recording is loaded
            self._told_cut_off = True
            self.notify(self.source.truncation_note(), severity="warning", timeout=10, markup=False)

    def _move(self, move: Callable[[Player], Any]) -> Any:
        """Move the player (holding the lock the playing thread takes) and show where it is now."""
        with self.source.lock:
            done = move(self.source.player)
        self.read_model(at_once=True)  # every widget at the replay's new time, tiles included
        return done

    def action_play(self) -> None:
        self._move(Player.toggle)

    def action_step(self, direction: int) -> None:
        self._move(lambda player: player.step(direction))

    def action_speed(self, direction: int) -> None:
        change = controls.faster_speed if direction > 0 else controls.slower_speed
        with self.source.lock:
            speed = change(self.source.player.speed)
            if speed is not None:
                self.source.player.speed = speed
        if speed is None:
            self.notify("That is the " + ("fastest" if direction > 0 else "slowest") + " a replay plays.",
                        severity="warning")
        self.read_model()

    def action_start(self) -> None:
        self._move(Player.start)

    def action_end(self) -> None:
        self._move(Player.end)

    def action_next_notable(self) -> None:
        if not self._move(Player.next_notable):
            self.notify("Nothing notable happens after this: no more kills, losses, revives or slow joiners.",
                        severity="warning")

    def action_jump(self) -> None:
        def seek(seconds: float | None) -> None:
            if seconds is not None:
                self._move(lambda player: player.seek_s(seconds))

        self.app.push_screen(JumpScreen(), seek)

    def send(self, command: str, *args: Any, setting: Setting | None = None) -> None:
        # The source refuses every command and says why; on_command_done shows it.
        self.post_message(CommandDone(command, args, self.source.request(command, *args)))


class JumpScreen(ModalScreen[float | None]):
    """Asks for a time to go to; escape leaves things as they are."""

    BINDINGS = [Binding("escape", "dismiss", "cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="jump"):
            yield Label("Go to (seconds since the run started, or m:ss):")
            yield Input(placeholder="12.5", id="jump-to")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        seconds = parse_time(event.value)
        if seconds is None:
            self.notify(f"{event.value!r} is not a time: write {TIME_FORMS}.", severity="warning", markup=False)
            return
        self.dismiss(seconds)

"""The main screen: reads a frame from the model at a bounded rate and turns keys into engine commands."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.events import Resize
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import Footer

from rrsim import patterns
from rrsim.errors import UserError
from rrsim.model.message_map import MapFrame
from rrsim.model.model import Model
from rrsim.patterns.dispatch import STRATEGIES
from rrsim.tui import controls
from rrsim.tui.footer_fit import footer_items, left_out
from rrsim.tui.frames import Frame, ReplayFrame, WorkerFrame, log_changes, read_frame
from rrsim.tui.messages import CommandDone, Setting, WorkerClicked
from rrsim.tui.pacing import Pacer
from rrsim.tui.source import RunSource
from rrsim.tui.widgets.event_log import EventLog
from rrsim.tui.widgets.header import JoinLine, JoinScreen, RunStatus, TopologyBar
from rrsim.tui.widgets.message_map import MessageMapView, first_row_shown
from rrsim.tui.widgets.output_screen import OutputScreen
from rrsim.tui.widgets.pushers_panel import PushersPanel
from rrsim.tui.widgets.too_small import TooSmall
from rrsim.tui.widgets.totals_bar import TotalsBar
from rrsim.tui.widgets.worker_grid import WorkerGrid

REFRESH_HZ = 20  # a kill must show within 100 ms of the key: one frame is 50 ms
UI_CPU_SHARE = 0.3  # under load, fewer frames rather than a starved engine thread
MIN_WIDTH = 60
MIN_HEIGHT = 20  # header, totals, one row of tiles, a little log and the footer
TALL_FROM = 50  # rows from which tiles grow taller (more ids)
LIFECYCLE_LOG_KINDS = ("start", "end", "pause")  # log lines that say a process changed state

JOIN_BINDING = Binding("c", "join_line", "join", tooltip="When the run listens (--listen): show in full the line a "
                        "remote worker types to join, and copy it to the clipboard (if the terminal lets us).")
OUTPUT_BINDING = Binding("o", "output", "output", show=False,
                         tooltip="Show the selected worker's last lines of output (its program's stdout and stderr, "
                                 "from its file in the run directory) when it runs your program (--worker-cmd).")
WORK = Binding.Group("work", compact=True)
SPEED = Binding.Group("rate", compact=True)
SELECT = Binding.Group("select")
LOG_SCROLL = Binding.Group("scroll the log")
RATE, HELD, STRATEGY = ("rate", ""), ("held", ""), ("strategy", "")  # keys of run-wide settings in RunScreen._asked

# Every key of the main screen; the footer, the help screen and the command palette read this.
RUN_BINDINGS: list[Binding] = [
    # help and quit first: the footer shows keys in this order and cuts off the last on a narrow terminal
    Binding("question_mark,f1", "app.help", "help", tooltip="Show this help: every key, every state, every count."),
    Binding("q", "app.quit", "quit", tooltip="Quit: end every child process and remove the run directory."),
    Binding("a", "add_worker", "add", tooltip="Start a new worker process; it connects and joins the round robin."),
    Binding("k", "kill", "kill", tooltip="Kill the selected worker with SIGKILL: what was queued to it is lost.  A remote "
            "worker is not our child: its rrsim worker process is asked to exit at once."),
    Binding("t", "stop", "stop", tooltip="Stop the selected worker gracefully with SIGTERM."),
    Binding("r", "revive", "revive", tooltip="Start a dead worker again: same name, new pid, next life number."),
    Binding("p", "pause", "pause", tooltip="Pause the selected worker (SIGSTOP), or resume a paused one (SIGCONT)."),
    Binding("left_square_bracket", "slower", "slower", group=WORK,
            tooltip="Make the selected worker slower: twice the work per message, whatever size each "
                    "message carries (from none: 1 ms)."),
    Binding("right_square_bracket", "faster", "faster", group=WORK,
            tooltip="Make it faster: half the work per message, whatever size each message carries "
                    "(under 0.5 ms: none)."),
    Binding("plus", "rate_up", "faster", group=SPEED,
            tooltip="Send faster: the next step of 1, 2, 5, 10, 20, 50... per second per pusher, then unlimited."),
    Binding("minus", "rate_down", "slower", group=SPEED, tooltip="Send slower: the previous step."),
    Binding("space", "hold", "hold", tooltip="Pause or resume sending in every pusher."),
    Binding("P", "add_pusher", "pusher", tooltip="Start another pusher; every worker connects to it too."),
    Binding("s", "strategy", "strategy",
            tooltip=f"{', '.join(patterns.with_router())}: the broker's next way of choosing a worker "
                    f"({', '.join(STRATEGIES)}); shown in the footer when there is a broker."),
    Binding("tab", "select_step(1, True)", "next worker", show=False, group=SELECT,
            tooltip="Select another worker: arrows move in the grid (in the map, up and down a worker), tab and "
                    "shift+tab cycle, 1-9 pick wN; a click selects too."),
    Binding("shift+tab", "select_step(-1, True)", "previous worker", show=False, group=SELECT),
    Binding("left", "select_step(-1)", show=False, group=SELECT),
    Binding("right", "select_step(1)", show=False, group=SELECT),
    Binding("up", "select_row(-1)", show=False, group=SELECT),
    Binding("down", "select_row(1)", show=False, group=SELECT),
    *(Binding(str(n), f"select_number({n})", show=False, group=SELECT, key_display="1-9") for n in range(1, 10)),
    Binding("m", "toggle_map", "map",
            tooltip="Show the message map instead of the tiles (again: the tiles): time left to right, one row "
                    "per worker life, a cell shaded by messages and coloured by pusher, lost a red cross, late orange. "
                    "With more lives than fit, it shows those around the selected worker's (down selects the next)."),
    Binding("f", "filter_log", "filter",
            tooltip="Show only the log lines about the selected worker (again: every line)."),
    JOIN_BINDING,
    OUTPUT_BINDING,
    Binding("pageup", "log_page(1)", "log back", show=False, group=LOG_SCROLL,
            tooltip="Scroll the event log: PgUp and PgDn a page, Home the oldest line, End the newest (and follow)."),
    Binding("pagedown", "log_page(-1)", show=False, group=LOG_SCROLL),
    Binding("home", "log_oldest", show=False, group=LOG_SCROLL),
    Binding("end", "log_newest", show=False, group=LOG_SCROLL),
]
# On a narrow terminal the footer leaves these out, first to last, until the rest fit: keys the
# issue's walk-through needs (k, +-, space, P, m, f) and help stay. Help lists every key.
FOOTER_LEAVES_OUT_FIRST = ("stop", "slower", "faster", "pause", "strategy", "add_worker", "revive", "app.quit")


class RunScreen(Screen[None]):
    """Topology, totals, worker tiles, pushers and the event log of one run."""

    KEYS: ClassVar[list[Binding]] = RUN_BINDINGS  # what the help screen and the command palette list
    STAYS = "the result stays until you quit (q)."

    def help_intro(self) -> Content:
        """The help's first line: what this screen is."""
        return Content.assemble(("rrsim", "bold"), " runs real pusher and worker processes wired with ZeroMQ and "
                                "shows where every message goes.")
    BINDINGS: ClassVar[list[BindingType]] = [*RUN_BINDINGS]
    HORIZONTAL_BREAKPOINTS = [(0, "-too-narrow"), (MIN_WIDTH, "-wide-enough")]
    VERTICAL_BREAKPOINTS = [(0, "-too-short"), (MIN_HEIGHT, "-tall-enough"), (TALL_FROM, "-tall")]

    frame: var[Frame | None] = var(None)
    selected: var[str | None] = var(None)

    def __init__(self, source: RunSource, scenario: str) -> None:
        super().__init__()
        self.source = source
        self.scenario = scenario
        self._shown: tuple[int, bool, ReplayFrame | None] | None = None  # (model version, finished, replay) on screen
        self._model: Model | None = None  # the model on screen: a replay swaps it when it goes back
        self._log_revision = 0  # of the model's log, as last shown
        self._asked: dict[tuple[str, str], Any] = {}  # settings asked for and not yet shown
        self._pacer = Pacer(UI_CPU_SHARE)
        self._footer_width = 0  # the width the footer's keys were chosen for
        self._map_first_row = 0  # the first life the map shows, when not every life fits
        self._at_once = False  # the frame being shown is to be drawn in every tile now

    def compose(self) -> ComposeResult:
        with Vertical(id="body"):
            with Horizontal(id="header"):
                yield TopologyBar()
                yield RunStatus()
            yield JoinLine()
            yield TotalsBar()
            yield WorkerGrid().data_bind(RunScreen.selected)
            yield MessageMapView(id="map").data_bind(RunScreen.selected)
            with Horizontal(id="bottom"):
                yield PushersPanel()
                yield EventLog(id="event-log")
        yield TooSmall(MIN_WIDTH, MIN_HEIGHT, id="too-small")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.read_model()
        self.set_interval(1 / REFRESH_HZ, self._tick)

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """Textual's, with the keys the footer has no room for marked not to be shown there
        (they still work: keys are dispatched from the bindings, not from this)."""
        active = self._applying_bindings()
        hidden = self._left_out_of_footer(active, self.app.size.width)
        return {key: one._replace(binding=replace(one.binding, show=False)) if one.binding.action in hidden else one
                for key, one in active.items()}

    def _not_applying(self) -> set[str]:
        """The actions of keys that do nothing in this run: not shown in the footer (they still
        answer, saying why)."""
        topology = self.frame.topology if self.frame is not None else None
        return {action for action, applies in (("strategy", topology is not None and bool(topology.strategy)),
                                               ("join_line", topology is not None and bool(topology.join_line)))
                if not applies}

    def _applying_bindings(self) -> dict[str, ActiveBinding]:
        hidden = self._not_applying()
        return {key: one._replace(binding=replace(one.binding, show=False)) if one.binding.action in hidden else one
                for key, one in super().active_bindings.items()}

    def _left_out_of_footer(self, active: dict[str, ActiveBinding], width: int) -> set[str]:
        shown = [(one.binding, self.app.get_key_display(one.binding)) for one in active.values() if one.binding.show]
        return left_out(footer_items(shown), width, FOOTER_LEAVES_OUT_FIRST)

    def on_resize(self, event: Resize) -> None:
        active = self._applying_bindings()
        if self._left_out_of_footer(active, event.size.width) != self._left_out_of_footer(active, self._footer_width):
            self.refresh_bindings()  # the footer composes its keys again
        self._footer_width = event.size.width

    def _tick(self) -> None:
        # A worker or pusher started, ended, paused or resumed is shown at once; counts,
        # sparklines and other log lines wait for the pacer.
        if self._lifecycle_changed() or self._pacer.ready():
            self.read_model()

    def _lifecycle_changed(self) -> bool:
        with self.source.lock:
            log = self.source.model.log
            if self.source.model.log_revision == self._log_revision:
                return False
            fresh = log_changes(log, self._log_revision)
        return any(entry.kind in LIFECYCLE_LOG_KINDS for entry in fresh)

    # ------------------------------------------------------------------ model -> widgets
    def read_model(self, at_once: bool = False) -> None:
        """Take a frame of the model if anything happened since the last one; ``at_once``: every
        tile shows it now (a replay moved), not a few a frame."""
        source = self.source
        if source.failure is not None:
            self.app.exit(return_code=1)
            return
        with source.lock:
            model = source.model
            replay = source.replay()
            shown = (model.version, source.finished, replay)
            swapped = model is not self._model
            if shown == self._shown and not swapped:
                self.query_one(WorkerGrid).catch_up()  # tiles still waiting for their turn
                return
            if swapped:
                self._log_revision = 0  # every entry of the new model's log is to be shown
                at_once = True  # the tiles of the model before must not stay
            frame = read_frame(model, self.scenario, source.finished, replay)
            message_map = self._read_map(model) if self.has_class("-map") else None
            entries = log_changes(model.log, self._log_revision) if model.log_revision != self._log_revision else []
            self._log_revision = model.log_revision
            started_ns = model.started_ns or 0
            join_line = model.join_line
        if swapped and self._model is not None:
            self.query_one(EventLog).clear()
        self._shown, self._model = shown, model
        if entries:
            self.query_one(EventLog).add(entries, started_ns, join_line)
        if message_map is not None:
            self.query_one(MessageMapView).map = message_map
        self._at_once = at_once
        self.frame = frame

    def _read_map(self, model: Model) -> MapFrame:
        """The map's lives that fit, around the selected worker's; call it holding the engine lock."""
        view = self.query_one(MessageMapView)
        rows = view.rows()
        lives = [name for name, _ in model.message_map.lives()]
        self._map_first_row = first_row_shown(lives, self.selected, self._map_first_row, rows)
        return model.message_map.frame(model.started_ns or 0, model.now_ns, view.columns(), self._map_first_row, rows)

    def watch_frame(self, old: Frame | None, frame: Frame | None) -> None:
        if frame is None:
            return
        with self.app.batch_update():
            self.query_one(TopologyBar).topology = frame.topology
            self.query_one(JoinLine).topology = frame.topology
            self.query_one(RunStatus).status = frame.status
            self.query_one(TotalsBar).totals = frame.totals
            self.query_one(WorkerGrid).show(frame.workers, self._at_once)
            panel = self.query_one(PushersPanel)
            panel.pushers, panel.rate, panel.held = frame.pushers, frame.status.rate, frame.status.held
        if frame.workers and (self.selected is None or (
                self._at_once and self.selected not in {worker.name for worker in frame.workers})):
            self.selected = frame.workers[0].name  # the first, or a replay went back to before the selected one
        if old is None or (bool(old.topology.strategy), bool(old.topology.join_line)) != (
                bool(frame.topology.strategy), bool(frame.topology.join_line)):
            self.refresh_bindings()  # the footer shows the keys that apply
        if frame.status.finished and (old is None or not old.status.finished):
            self.notify(self.finished_note(frame), title="Run finished")

    def finished_note(self, frame: Frame) -> str:
        """What the end of the run came to: lost messages are never put as "accounted for" alone."""
        totals = frame.totals.totals
        if totals.lost:
            return (f"Drained: {totals.delivered} delivered, {totals.lost} lost (the log says why); "
                    f"{self.STAYS}")
        return f"Drained: every message sent was delivered; {self.STAYS}"

    def watch_selected(self, name: str | None) -> None:
        logs = self.query(EventLog)
        if name is not None and logs and logs.first().only is not None:
            logs.first().only = name  # a filtered log follows the selection
        if self.has_class("-map"):
            self._shown = None  # the map follows the selection too
            self.read_model()

    def on_worker_clicked(self, message: WorkerClicked) -> None:
        self.selected = message.name

    # ------------------------------------------------------------------ keys -> engine
    def send(self, command: str, *args: Any, setting: Setting | None = None) -> None:
        """Ask the engine to run a command; how it went comes back as a ``CommandDone``.

        ``setting`` is the value the command will give (say, w1's work per message): until it is
        done, the next key steps from it rather than from a frame that cannot show it yet, so
        that ``[ [`` pressed quickly doubles twice and ``p p`` pauses and resumes.
        """
        if self.source.finished:
            self.notify("The run has finished: nothing more can change. q quits.", severity="warning")
            return
        if setting is not None:
            self._asked[setting.key] = setting.value
        future = self.source.request(command, *args)
        # The engine's thread completes the future; post_message is safe from there.
        future.add_done_callback(lambda done: self.post_message(CommandDone(command, args, done, setting)))

    def on_command_done(self, message: CommandDone) -> None:
        self.read_model()  # show what the command did without waiting for the next tick
        if (setting := message.setting) is not None and self._asked.get(setting.key) == setting.value:
            del self._asked[setting.key]  # the frame just read shows it (or it was refused)
        error = message.future.exception()
        if isinstance(error, UserError):
            self.notify(str(error), severity="warning", markup=False)  # the engine's words, verbatim
        elif error is not None:
            raise error
        elif message.command == "output":
            self.app.push_screen(OutputScreen(str(message.args[0]), message.future.result() or ()))
        elif message.command in ("add_worker", "add_pusher") and message.future.result():
            self.notify(f"{message.future.result()} started")
            if message.command == "add_worker":
                self.selected = message.future.result()  # its tile comes into view, whole

    def _current(self, key: tuple[str, str], shown: Any) -> Any:
        """A setting as it will be once the commands already sent are done."""
        return self._asked.get(key, shown)

    def _selected_worker(self) -> WorkerFrame | None:
        frame = self.frame
        worker = next((w for w in frame.workers if w.name == self.selected), None) if frame else None
        if worker is None:
            self.notify("No worker selected yet.", severity="warning")
        return worker

    def _on_selected(self, command: str) -> None:
        if (worker := self._selected_worker()) is not None:
            self.send(command, worker.name)

    def action_add_worker(self) -> None:
        self.send("add_worker")

    def action_add_pusher(self) -> None:
        self.send("add_pusher")

    def action_kill(self) -> None:
        self._on_selected("kill")

    def action_stop(self) -> None:
        self._on_selected("stop")

    def action_revive(self) -> None:
        self._on_selected("revive")

    def action_pause(self) -> None:
        if (worker := self._selected_worker()) is None:
            return
        key = ("paused", worker.name)
        paused = self._current(key, worker.state == "paused")
        self.send("resume" if paused else "pause", worker.name, setting=Setting(key, not paused))

    def action_slower(self) -> None:
        self._change_work(controls.slower_work, "as slow as it can be")

    def action_faster(self) -> None:
        self._change_work(controls.faster_work, "already doing no work")

    def _change_work(self, step: Callable[[float], float | None], at_limit: str) -> None:
        if (worker := self._selected_worker()) is None:
            return
        key = ("work_ms", worker.name)
        work_ms = step(self._current(key, worker.work_ms))
        if work_ms is None:
            self.notify(f"{worker.name} is {at_limit}.", severity="warning")
        else:
            self.send("set_work", worker.name, work_ms, setting=Setting(key, work_ms))

    def action_rate_up(self) -> None:
        self._change_rate(controls.faster_rate, "Pushers already send as fast as they can.")

    def action_rate_down(self) -> None:
        self._change_rate(controls.slower_rate, f"{controls.rate_text(controls.RATE_STEPS[0])} is the lowest rate.")

    def _change_rate(self, step: Callable[[float], float | None], at_limit: str) -> None:
        if self.frame is None:
            return
        rate = step(self._current(RATE, self.frame.status.rate))
        if rate is None:
            self.notify(at_limit, severity="warning")
        else:
            self.send("set_rate", rate, setting=Setting(RATE, rate))

    def action_hold(self) -> None:
        if self.frame is not None:
            held = not self._current(HELD, self.frame.status.held)
            self.send("hold_sending", held, setting=Setting(HELD, held))

    def action_strategy(self) -> None:
        if self.frame is None:
            return
        if not self.frame.topology.strategy:
            self.notify(f"No broker in this run: strategies are a broker's (rrsim --pattern "
                        f"{' or '.join(patterns.with_router())}).", severity="warning")
            return
        current = self._current(STRATEGY, self.frame.topology.strategy)
        names = list(STRATEGIES)
        chosen = names[(names.index(current) + 1) % len(names)]
        self.send("set_strategy", chosen, setting=Setting(STRATEGY, chosen))

    # ------------------------------------------------------------------ the map and the log
    def action_toggle_map(self) -> None:
        self.toggle_class("-map")
        self._shown = None  # read the model now, map included
        self.read_model()

    def action_filter_log(self) -> None:
        log = self.query_one(EventLog)
        if log.only is not None:
            log.only = None
        elif self.selected is not None:
            log.only = self.selected
        else:
            self.notify("No worker selected yet.", severity="warning")

    def action_log_page(self, pages: int) -> None:
        self.query_one(EventLog).page(pages)

    def action_log_oldest(self) -> None:
        self.query_one(EventLog).to_oldest()

    def action_log_newest(self) -> None:
        self.query_one(EventLog).to_newest()

    # ------------------------------------------------------------------ selection
    def _names(self) -> list[str]:
        return [w.name for w in self.frame.workers] if self.frame else []

    def action_select_step(self, step: int, wrap: bool = False) -> None:
        names = self._names()
        if not names:
            return
        index = names.index(self.selected) + step if self.selected in names else 0
        if wrap:
            index %= len(names)
        if 0 <= index < len(names):
            self.selected = names[index]

    def action_select_row(self, rows: int) -> None:
        # In the map a worker is a row: up and down move one worker, as in any list.
        self.action_select_step(rows if self.has_class("-map") else rows * self.query_one(WorkerGrid).columns)

    def action_select_number(self, number: int) -> None:
        """The worker of that number (w3 for 3), whatever tiles come before it (a broker's)."""
        prefix = self.frame.topology.worker_prefix if self.frame else ""
        wanted = f"{prefix}{number}"
        if wanted in self._names():
            self.selected = wanted
        else:
            workers = sum(1 for worker in self.frame.workers if not worker.router) if self.frame else 0
            self.notify(f"There is no worker {wanted}: {workers} so far.", severity="warning")

    def action_output(self) -> None:
        self._on_selected("output")

    def action_join_line(self) -> None:
        topology = self.frame.topology if self.frame else None
        if topology is None or not topology.join_line:
            self.notify("This run does not listen for remote workers (rrsim --listen tcp://ADDRESS:PORT).",
                        severity="warning")
            return
        self.app.copy_to_clipboard(topology.join_line)
        self.app.push_screen(JoinScreen(topology))

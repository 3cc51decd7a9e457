"""The top of the screen: the topology (who binds what, HWMs) and whether the run goes on."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Static

from rrsim.endpoints import join_label as here_only_label
from rrsim.tui.controls import speed_text
from rrsim.tui.frames import ReplayFrame, StatusFrame, TopologyFrame
from rrsim.tui.palette import MUTED, WARNING


class TopologyBar(Widget):
    """Pattern, transport, who binds, high-water marks, ZMQ_IMMEDIATE and the bound endpoints.

    Two lines, each of whole items: an item that does not fit is left out, never cut in the
    middle of a word or a number (the log's first entry names every endpoint)."""

    topology: reactive[TopologyFrame | None] = reactive(None)

    def render(self) -> Content:
        t = self.topology
        if t is None:
            return Content("")
        setup = [Content.styled(t.scenario, "bold"), Content(f"{t.pattern} over {t.transport}"),
                 Content.styled(f"{t.bind}s bind", "bold"), Content(f"immediate {'on' if t.immediate else 'off'}")]
        if t.strategy:
            setup.append(Content.assemble("strategy ", (t.strategy, "bold")))
        if t.loops:
            setup.append(Content(f"{t.loops} loops"))
        sockets = [Content(f"sndhwm {t.sndhwm}  rcvhwm {t.rcvhwm}")]
        sockets += [Content.assemble((name, "bold"), f" {endpoint}") for name, endpoint in t.binders]
        sockets += [Content.styled(f"stranger {peer} on {name}", f"bold {WARNING}") for name, peer in t.strangers]
        width = self.content_size.width
        return Content("\n").join(whole_items(items, width) for items in (setup, sockets))


SEPARATOR = Content.styled(" · ", MUTED)
MORE = Content.styled(" · …", MUTED)


def whole_items(items: list[Content], width: int) -> Content:
    """``items`` joined by `` · ``, as many as fit ``width`` whole (0: all), and `` · …`` where
    some are left out."""
    line = items[0]
    for index, item in enumerate(items[1:], 1):
        longer = Content.assemble(line, SEPARATOR, item)
        last = index == len(items) - 1
        if width and longer.cell_length + (0 if last else MORE.cell_length) > width:
            return Content.assemble(line, MORE) if line.cell_length + MORE.cell_length <= width else line
        line = longer
    return line


class JoinLine(Widget):
    """The line a remote worker types to join, on lines of its own that wrap: whole at any width."""

    topology: reactive[TopologyFrame | None] = reactive(None, layout=True)

    def watch_topology(self, topology: TopologyFrame | None) -> None:
        self.display = topology is not None and bool(topology.join_line)

    def render(self) -> Content:
        t = self.topology
        if t is None or not t.join_line:
            return Content("")
        return Content.assemble((join_label(t), "bold"), t.join_line)


def join_label(topology: TopologyFrame) -> str:
    return here_only_label(topology.join_here_only)


class JoinScreen(ModalScreen[None]):
    """The join line alone, wrapped to the screen's width with nothing around it, to copy whole."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,c,q", "dismiss", "close")]

    def __init__(self, topology: TopologyFrame) -> None:
        super().__init__()
        self.topology = topology

    def compose(self) -> ComposeResult:
        with Vertical(id="join"):
            yield Static(Content.styled(join_label(self.topology).rstrip(" :"), "bold"))
            yield Static(Content(self.topology.join_line), id="join-line")
            yield Static(Content.styled("Copied to the clipboard, if the terminal lets us (OSC 52).  "
                                        "escape closes.", MUTED))


class RunStatus(Widget):
    """Running, sending paused, or finished, and for how long."""

    status: reactive[StatusFrame | None] = reactive(None)

    def watch_status(self, status: StatusFrame | None) -> None:
        self.set_class(status is not None and status.finished, "-finished")
        self.set_class(status is not None and status.held and not status.finished, "-held")
        self.set_class(status is not None and status.replay is not None, "-replay")

    def render(self) -> Content:
        s = self.status
        if s is None:
            return Content("")
        if (replay := s.replay) is not None:
            return self._replay(replay, s.finished)
        what = "run finished" if s.finished else "sending paused" if s.held else "running"
        return Content.assemble((what, "bold"), f"\n{s.elapsed_s:.1f} s")

    def _replay(self, replay: ReplayFrame, finished: bool) -> Content:
        """``replay ▶ 2x`` (or paused, or the end, or going to a moment not loaded yet), and
        where: ``12.3 / 45.6 s``, and how much of the recording is loaded while it loads."""
        if replay.waiting is not None:
            state = f"going to {replay.waiting}"
        elif replay.playing:
            state = f"▶ {speed_text(replay.speed)}"
        else:
            state = "finished" if finished and replay.elapsed_s >= replay.length_s else "paused"
        cut = (" (cut off)", WARNING) if replay.truncated else ""
        loading = (f" loading {replay.loading}%", MUTED) if replay.loading is not None else ""
        return Content.assemble(("replay ", "bold"), state, "\n", f"{replay.elapsed_s:.1f} / {replay.length_s:.1f} s",
                                cut, loading)

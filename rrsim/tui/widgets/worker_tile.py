"""One worker's tile: state, process, counts, a rate sparkline, latency and its latest ids."""

from __future__ import annotations

from math import ceil

from textual.content import Content
from textual.events import Click
from textual.reactive import reactive
from textual.widget import Widget

from rrsim.tui.frames import WorkerFrame
from rrsim.tui.messages import WorkerClicked
from rrsim.tui.palette import MUTED, SPARK, pusher_colour, state_colour

BARS = "▁▂▃▄▅▆▇█"
DEAD_STATES = ("stopped", "killed", "crashed")
FIXED_LINES = 5  # process, counts, sparkline, latency, work; the rest of the tile holds ids


class WorkerTile(Widget):
    """Renders one ``WorkerFrame``; a click selects the worker."""

    frame: reactive[WorkerFrame | None] = reactive(None)

    def __init__(self, name: str) -> None:
        super().__init__(id=f"tile-{name}")
        self.worker = name

    def watch_frame(self, frame: WorkerFrame | None) -> None:
        if frame is None:
            return
        self.border_title = Content.assemble((frame.name, "bold"), "  ", (frame.state, f"bold {state_colour(frame.state)}"))
        for state in ("paused", *DEAD_STATES):
            self.set_class(frame.state == state, f"-{state}")
        self.set_class(frame.state in DEAD_STATES, "-dead")

    def on_click(self, event: Click) -> None:
        self.post_message(WorkerClicked(self.worker))

    def render(self) -> Content:
        frame = self.frame
        if frame is None:
            return Content("")
        width = self.size.width
        rate = f" {frame.rate:g}/s"
        lines = [
            Content(f"pid {frame.pid}  life {frame.life}" if frame.pid else "not started"),
            Content.assemble(f"recv {frame.received}  ", (f"{frame.share:.1%}", "bold")),
            sparkline(frame.rates, frame.peak, max(width - len(rate), 0)).append(rate),
            Content(f"p50 {_ms(frame.p50_ms)}  p99 {_ms(frame.p99_ms)} ms"),
            _work_line(frame),
        ]
        lines += recent_id_lines(frame.recent, width, max(self.size.height - FIXED_LINES, 0))
        return Content("\n").join(lines)


def sparkline(rates: tuple[float, ...], peak: float, width: int) -> Content:
    """The newest ``width`` rates as bars, all tiles on one scale; an empty bucket is a dim floor."""
    if width <= 0:
        return Content("")
    shown = rates[-width:]
    parts: list[tuple[str, str]] = [(" " * (width - len(shown)), "")]
    for rate in shown:
        if rate <= 0 or peak <= 0:
            parts.append((BARS[0], MUTED))
        else:
            parts.append((BARS[min(len(BARS) - 1, ceil(rate / peak * (len(BARS) - 1)))], SPARK))
    return Content.assemble(*parts)


def recent_id_lines(recent: tuple[tuple[int, int], ...], width: int, rows: int) -> list[Content]:
    """The latest ids laid out like a terminal's tail: oldest at top left, newest last."""
    if rows <= 0 or width <= 0:
        return []
    lines: list[list[tuple[str, str]]] = [[]]
    used = 0
    for index, seq in recent:
        token = f"p{index}:{seq}"
        if used and used + 1 + len(token) > width:
            lines.append([])
            used = 0
        if used:
            lines[-1].append((" ", ""))
            used += 1
        lines[-1].append((token, pusher_colour(index)))
        used += len(token)
    return [Content.assemble(*line) for line in lines[-rows:] if line]


def _work_line(frame: WorkerFrame) -> Content:
    parts: list[str | tuple[str, str]] = [f"work {frame.work_ms:g} ms"]
    if frame.late:
        parts.append((f"  late {frame.late}", "#ffaf5f"))
    if frame.duplicates:
        parts.append((f"  dup {frame.duplicates}", "#ffaf5f"))
    return Content.assemble(*parts)


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 1 else f"{value:.1f}" if value < 10 else f"{value:.0f}"

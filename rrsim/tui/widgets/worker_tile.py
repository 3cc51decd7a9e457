"""One worker's tile: state, process, counts, a rate sparkline, latency and its latest ids."""

from __future__ import annotations

from collections.abc import Callable
from math import ceil
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.events import Click
from textual.geometry import Size
from textual.reactive import reactive
from textual.widget import Widget

from rrsim.tui.frames import WorkerFrame
from rrsim.tui.messages import WorkerClicked
from rrsim.tui.palette import LATE, MUTED, SPARK, pusher_colour, state_colour

BARS = "▁▂▃▄▅▆▇█"
DEAD_STATES = ("stopped", "killed", "crashed")

Draw = Callable[[Any, Size], Content]


class TilePart(Widget):
    """A few lines of a tile that repaint only when their own slice of the frame changes.

    A busy worker changes its counts and ids many times a second while its pid and latency
    stay put: repainting the parts that changed keeps the terminal traffic small.
    """

    value: reactive[Any] = reactive(None)

    def __init__(self, draw: Draw, classes: str) -> None:
        super().__init__(classes=classes)
        self.draw = draw

    def render(self) -> Content:
        return Content("") if self.value is None else self.draw(self.value, self.size)


class WorkerTile(Vertical):
    """Renders one ``WorkerFrame``; a click selects the worker."""

    frame: reactive[WorkerFrame | None] = reactive(None, repaint=False)

    def __init__(self, name: str) -> None:
        super().__init__(id=f"tile-{name}")
        self.worker = name
        self.parts = {
            "process": TilePart(_draw_process, "process"),
            "counts": TilePart(_draw_counts, "counts"),
            "rates": TilePart(_draw_rates, "rates"),
            "latency": TilePart(_draw_latency, "latency"),
            "work": TilePart(_draw_work, "work"),
            "recent": TilePart(_draw_recent, "recent"),
        }

    def compose(self) -> ComposeResult:
        yield from self.parts.values()

    def watch_frame(self, old: WorkerFrame | None, frame: WorkerFrame | None) -> None:
        if frame is None:
            return
        parts = self.parts
        parts["process"].value = (frame.pid, frame.life)
        parts["counts"].value = (frame.received, round(frame.share, 3))
        parts["rates"].value = (frame.rates, frame.peak, frame.rate)
        parts["latency"].value = (frame.p50_ms, frame.p99_ms)
        parts["work"].value = (frame.work_ms, frame.late, frame.duplicates)
        parts["recent"].value = frame.recent
        if old is None or old.state != frame.state:
            self.border_title = Content.assemble((frame.name, "bold"), "  ", (frame.state, f"bold {state_colour(frame.state)}"))
            for state in ("paused", *DEAD_STATES):
                self.set_class(frame.state == state, f"-{state}")
            self.set_class(frame.state in DEAD_STATES, "-dead")

    def on_click(self, event: Click) -> None:
        self.post_message(WorkerClicked(self.worker))


def _draw_process(value: tuple[int | None, int], size: Size) -> Content:
    pid, life = value
    return Content(f"pid {pid}  life {life}" if pid else "not started")


def _draw_counts(value: tuple[int, float], size: Size) -> Content:
    received, share = value
    return Content.assemble(f"recv {received}  ", (f"{share:.1%}", "bold"))


def _draw_rates(value: tuple[tuple[float, ...], float, float], size: Size) -> Content:
    rates, peak, rate = value
    label = f" {rate:g}/s"
    return sparkline(rates, peak, max(size.width - len(label), 0)).append(label)


def _draw_latency(value: tuple[float | None, float | None], size: Size) -> Content:
    p50, p99 = value
    return Content(f"p50 {_ms(p50)}  p99 {_ms(p99)} ms")


def _draw_work(value: tuple[float, int, int], size: Size) -> Content:
    work_ms, late, duplicates = value
    parts: list[str | tuple[str, str]] = [f"work {work_ms:g} ms"]
    if late:
        parts.append((f"  late {late}", LATE))
    if duplicates:
        parts.append((f"  dup {duplicates}", LATE))
    return Content.assemble(*parts)


def _draw_recent(value: tuple[tuple[int, int], ...], size: Size) -> Content:
    return Content("\n").join(recent_id_lines(value, size.width, size.height))


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


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 1 else f"{value:.1f}" if value < 10 else f"{value:.0f}"

"""One worker's tile: state, process, counts, a rate sparkline, latency and its latest ids."""

from __future__ import annotations

from collections.abc import Sequence
from math import ceil

from textual.content import Content
from textual.events import Click
from textual.reactive import reactive
from textual.widget import Widget

from rrsim.tui.frames import WorkerFrame
from rrsim.tui.messages import WorkerClicked
from rrsim.tui.palette import LATE, MUTED, SPARK, pusher_colour, state_colour

BARS = "▁▂▃▄▅▆▇█"
DEAD_STATES = ("stopped", "killed", "crashed", "left", "lost contact")


class WorkerTile(Widget):
    """Renders one ``WorkerFrame``; a click selects the worker.

    One widget, not one per line: with many busy workers every tile changes every frame, and
    Textual's cost is per widget composed, so fewer widgets is what keeps a frame cheap.
    A frame that changes nothing visible (same figures after rounding) repaints nothing.
    """

    frame: reactive[WorkerFrame | None] = reactive(None, repaint=False)

    def __init__(self, name: str) -> None:
        super().__init__(id=f"tile-{name}")
        self.worker = name
        self._drawn: tuple[object, ...] | None = None  # what the lines on screen show

    def watch_frame(self, old: WorkerFrame | None, frame: WorkerFrame | None) -> None:
        if frame is None:
            return
        drawn = _visible(frame)
        if drawn != self._drawn:
            self._drawn = drawn
            self.refresh()
        if old is None or old.state != frame.state:
            self.border_title = Content.assemble((frame.name, "bold"), "  ", (frame.state, f"bold {state_colour(frame.state)}"))
            for state in ("paused", *DEAD_STATES):
                self.set_class(frame.state == state, f"-{state.replace(' ', '-')}")  # a class name has no spaces
            self.set_class(frame.state in DEAD_STATES, "-dead")

    def render(self) -> Content:
        frame = self.frame
        if frame is None:
            return Content("")
        width, height = self.size
        if height == 1:  # the densest grid: a line per worker, no border
            return _draw_line(frame, width)
        if frame.router:
            lines = [*_draw_routed(frame, width), _draw_rates(frame, width), *_draw_queue(frame, width)]
            if height > 2:  # not compact: its process first
                lines[:0] = _draw_process(frame, width)
        elif height <= 2:  # a compact tile: what it received and how fast
            lines = [*_draw_counts(frame, width), _draw_rates(frame, width)]
        else:
            lines = _draw_process(frame, width)
            if frame.waiting:  # a line of its own: it says why the tile has gone quiet
                lines.append(Content.styled("waiting for broker", LATE))
            lines += [*_draw_counts(frame, width), _draw_rates(frame, width), *_draw_latency(frame, width),
                      *_draw_work(frame, width)]
            if frame.retried or frame.duplicates:
                lines += _draw_retries(frame, width)
            if len(lines) > height:  # a tile without room for its ids: the figures before the process
                lines = lines[1:]
            lines += recent_id_lines(frame.recent, width, height - len(lines))
        return Content("\n").join(lines[:height])

    def on_click(self, event: Click) -> None:
        self.post_message(WorkerClicked(self.worker))


def _visible(frame: WorkerFrame) -> tuple[object, ...]:
    """The parts of a frame the tile shows: a change elsewhere needs no repaint."""
    return (frame.state, frame.pid, frame.life, frame.received, frame.life_received, round(frame.share, 3), frame.rates, frame.peak,
            frame.rate, frame.p50_ms, frame.p99_ms, frame.work_ms, frame.speed, frame.late, frame.duplicates,
            frame.recent, frame.queued, frame.ready, frame.waiting, frame.remote_host, frame.latency_trusted,
            frame.foreign, frame.estimated, frame.retried, frame.program, frame.handover_ms)


def fitted(width: int, *forms: Sequence[Content | str]) -> list[Content]:
    """The first of ``forms`` (each a list of parts) that fits ``width`` on one line, its parts two
    spaces apart or else one; if none fits, the last broken between parts over as many lines as
    it takes: a word or a number is never cut."""
    for form in forms:
        parts = [Content(part) if isinstance(part, str) else part for part in form]
        for gap in ("  ", " "):
            line = Content(gap).join(parts)
            if line.cell_length <= width:
                return [line]
    lines: list[Content] = []
    for part in parts:
        if lines and lines[-1].cell_length + 1 + part.cell_length <= width:
            lines[-1] = Content.assemble(lines[-1], " ", part)
        else:
            lines.append(part)
    return lines


def _draw_line(frame: WorkerFrame, width: int) -> Content:
    """A worker on one line: name, state, what it received and its share."""
    name = Content.styled(frame.name, "bold")
    state = Content.styled(frame.state, state_colour(frame.state))
    share = Content.styled(f"{frame.share:.1%}", "bold")
    count = f"routed {frame.received}" if frame.router else f"recv {frame.received}"
    return fitted(width, [name, state, count, share], [name, state, str(frame.received), share],
                  [name, str(frame.received), share], [name, share])[0]


def _draw_process(frame: WorkerFrame, width: int) -> list[Content]:
    if frame.estimated:
        return fitted(width, [Content.styled("external", "bold"), frame.remote_host, "no telemetry"])
    if frame.remote_host:
        return fitted(width, [Content.styled("remote", "bold"), frame.remote_host, f"pid {frame.pid}"])
    if not frame.pid:
        return [Content("not started")]
    return fitted(width, [f"pid {frame.pid}", f"life {frame.life}"])


def _draw_counts(frame: WorkerFrame, width: int) -> list[Content]:
    share = Content.styled(f"{frame.share:.1%}", "bold")
    if frame.estimated:
        return fitted(width, [f"recv ~{frame.received}", Content.styled(f"~{frame.share:.1%}", "bold"), "estimated"])
    if frame.life > 1:  # this life's count first: the total adds up every life
        return fitted(width, [f"recv {frame.life_received} of {frame.received}", share],
                      [f"recv {frame.life_received}/{frame.received}", share], [f"{frame.life_received}/{frame.received}", share])
    return fitted(width, [f"recv {frame.received}", share], [str(frame.received), share])


def _draw_routed(frame: WorkerFrame, width: int) -> list[Content]:
    return fitted(width, ["broker", Content.assemble(("routed", "bold"), f" {frame.received}")],
                  [Content.assemble(("routed", "bold"), f" {frame.received}")])


def _draw_queue(frame: WorkerFrame, width: int) -> list[Content]:
    lines = fitted(width, [Content.assemble(("queue ", "bold"), str(frame.queued)),
                           Content.assemble(("ready ", "bold"), str(frame.ready))])
    if frame.handover_ms is not None:  # the workers' hand-over: their done to the next message it handed them
        lines += fitted(width, [Content.assemble(("hand-over ", "bold"), f"{_ms(frame.handover_ms)} ms")],
                        [Content.assemble(("handover ", "bold"), _ms(frame.handover_ms))])
    return lines


def _draw_rates(frame: WorkerFrame, width: int) -> Content:
    label = f" {frame.rate:g}/s"
    return sparkline(frame.rates, frame.peak, max(width - len(label), 0)).append(label)


def _draw_latency(frame: WorkerFrame, width: int) -> list[Content]:
    if not frame.latency_trusted:
        return fitted(width, ["latency n/a (clock offset unsure)"], ["latency n/a (clock unsure)"], ["latency n/a"])
    if max(frame.p50_ms or 0, frame.p99_ms or 0) >= 1000:  # a backlog: seconds fit a narrow tile
        if (frame.p50_ms or 0) < 1000:  # in seconds a fast median would read 0.00: each in its own unit
            figures = [f"p50 {_ms(frame.p50_ms)} ms", f"p99 {_s(frame.p99_ms)} s"]
        else:
            figures = [f"p50 {_s(frame.p50_ms)}", f"p99 {_s(frame.p99_ms)} s"]
    else:
        figures = [f"p50 {_ms(frame.p50_ms)}", f"p99 {_ms(frame.p99_ms)} ms"]
    if frame.program:  # only when a message came back is seen: the figures are its sojourn
        return fitted(width, ["sojourn", *figures], ["soj", *figures])
    return fitted(width, figures)


def _draw_work(frame: WorkerFrame, width: int) -> list[Content]:
    # A user's program does its own work, unseen: no work time, and its wait and service not measured.
    parts: list[Content | str] = ["wait, service", "not measured"] if frame.program else [f"work {frame.work_ms:g} ms"]
    if frame.speed != 1:
        parts.append(f"speed {frame.speed:g}")
    if frame.late:
        parts.append(Content.styled(f"late {frame.late}", LATE))
    if frame.foreign:
        parts.append(Content.styled(f"foreign {frame.foreign}", LATE))
    return fitted(width, parts)


def _draw_retries(frame: WorkerFrame, width: int) -> list[Content]:
    """What reliability cost at this worker: its messages handed to another after it failed to
    acknowledge them, and the messages it did that had been done already."""
    counts = [Content.styled(f"{label} {count}", LATE) for label, count in
              (("retried", frame.retried), ("dup", frame.duplicates)) if count]
    return fitted(width, counts)


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
    return assemble_runs(parts)


def recent_id_lines(recent: tuple[tuple[int, int], ...], width: int, rows: int) -> list[Content]:
    """The latest ids laid out like a terminal's tail: oldest at top left, newest last."""
    if rows <= 0 or width <= 0:
        return []
    lines: list[list[tuple[str, str]]] = [[]]
    used = 0
    for index, seq in recent:
        token = f"p{index}:{seq}" if index else f"│life {seq}"  # pusher 0 marks where a new life begins
        if used and used + 1 + len(token) > width:
            lines.append([])
            used = 0
        colour = pusher_colour(index) if index else MUTED
        if used:
            lines[-1].append((" ", colour))  # a space looks the same in any colour, and joins the run
            used += 1
        lines[-1].append((token, colour))
        used += len(token)
    return [assemble_runs(line) for line in lines[-rows:] if line]


def assemble_runs(parts: list[tuple[str, str]]) -> Content:
    """Content from (text, style) parts, neighbours of one style joined: every span costs Textual
    time on every frame, and a busy tile is a sparkline and a line of ids in one or two styles."""
    runs: list[tuple[str, str]] = []
    for text, style in parts:
        if runs and runs[-1][1] == style:
            runs[-1] = (runs[-1][0] + text, style)
        else:
            runs.append((text, style))
    return Content.assemble(*runs)


def _s(ms: float | None) -> str:
    return _ms(None if ms is None else ms / 1000)


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 1 else f"{value:.1f}" if value < 10 else f"{value:.0f}"

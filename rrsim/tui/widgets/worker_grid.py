"""The grid of worker tiles: as many columns as the width allows; when the workers outnumber the
screen, smaller tiles (down to a line per worker), scrolling, and a title saying which are shown."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from textual.containers import VerticalScroll
from textual.events import Resize
from textual.reactive import reactive
from textual.widget import Widget

from rrsim.tui.frames import WorkerFrame
from rrsim.tui.widgets.worker_tile import WorkerTile

TILE_MIN_WIDTH = 24  # room for "p50 0.36  p99 0.94 ms" and three ids a line
TILE_WIDE_MIN_WIDTH = 32  # on a wide terminal: a longer sparkline and four or five ids a line
LINE_MIN_WIDTH = 30  # a worker on one line: "w256 alive  recv 1234  12.3%"
WIDE_SCREEN = 160  # columns
GUTTER = 1  # the grid-gutter between columns in app.tcss
MAX_HEIGHT = 0.55  # of the body, as app.tcss gives the grid
# Rows of a tile, border included (app.tcss): full (the latest ids), medium (latency and work, no
# ids), compact (what it received and how fast), and a line.
TALL_TILE, TILE, MEDIUM_TILE, COMPACT_TILE, LINE = 13, 10, 7, 4, 1
# A busy tile costs Textual 1-2 ms a frame to draw; with many busy workers, drawing all of
# them in one frame holds the event loop (and every key) for tens of milliseconds.  So a
# frame redraws at most this many tiles whose figures changed, the longest-waiting first;
# a tile whose state changed (killed, paused, a new life) is always drawn at once.
TILES_PER_FRAME = 6


@dataclass(frozen=True)
class Density:
    """How the tiles are drawn: ``css_class`` on the grid, each tile ``rows`` high, at least ``width`` wide."""

    css_class: str
    rows: int
    width: int


def density(workers: int, width: int, rows: int, tall: bool, wide: bool) -> tuple[Density, int]:
    """The roomiest way to draw ``workers`` tiles that shows them all in ``width`` x ``rows`` cells,
    else the densest (a line each); and how many columns it makes."""
    least = TILE_WIDE_MIN_WIDTH if wide else TILE_MIN_WIDTH
    choices = (Density("", TALL_TILE if tall else TILE, least), Density("-medium", MEDIUM_TILE, least),
               Density("-compact", COMPACT_TILE, least), Density("-lines", LINE, LINE_MIN_WIDTH))
    for choice in choices:
        columns = max(1, (width + GUTTER) // (choice.width + GUTTER))
        if columns * max(rows // choice.rows, 1) >= workers or choice is choices[-1]:
            return choice, max(1, min(workers, columns))
    raise AssertionError("unreachable")


def shown_range(names: list[str], columns: int, pitch: int, scroll_y: float, height: int) -> tuple[int, int]:
    """The tiles (first, end) wholly in view when the grid is scrolled to ``scroll_y``."""
    first_row = ceil(scroll_y / pitch)
    end_row = max(int((scroll_y + height) // pitch), first_row + 1)
    return min(first_row * columns, len(names)), min(end_row * columns, len(names))


class WorkerGrid(VerticalScroll, can_focus=False):
    """Holds one ``WorkerTile`` per worker, in order of creation (a replay that goes back in time
    removes the tiles of workers not started yet)."""

    columns: reactive[int] = reactive(1)
    selected: reactive[str | None] = reactive(None)

    def __init__(self) -> None:
        super().__init__()
        self.tiles: dict[str, WorkerTile] = {}
        self.waiting: dict[str, WorkerFrame] = {}  # newer frames not drawn yet, longest-waiting first
        self.density = Density("", TILE, TILE_MIN_WIDTH)

    def show(self, workers: tuple[WorkerFrame, ...], at_once: bool = False) -> None:
        """Give tiles their frames (see ``TILES_PER_FRAME``; ``at_once``: every one now, and no
        tile for a worker not in ``workers``), mounting tiles for new workers."""
        if at_once:
            wanted = {frame.name for frame in workers}
            for name in [name for name in self.tiles if name not in wanted]:
                self.tiles.pop(name).remove()
                self.waiting.pop(name, None)
        fresh = [WorkerTile(frame.name) for frame in workers if frame.name not in self.tiles]
        if fresh:
            self.tiles.update((tile.worker, tile) for tile in fresh)
            self.mount_all(fresh)
            self._mark_selected()
        if fresh or at_once:
            self._reflow()
        for frame in workers:
            tile = self.tiles[frame.name]
            shown = tile.frame
            if at_once or shown is None or (shown.state, shown.life) != (frame.state, frame.life):
                tile.frame = frame
                self.waiting.pop(frame.name, None)
            elif shown != frame:
                self.waiting[frame.name] = frame  # a waiting tile keeps its place in the queue
            else:
                self.waiting.pop(frame.name, None)  # back to what it shows: an older frame must not follow
        if any(tile.worker == self.selected for tile in fresh):
            self.call_after_refresh(self._show_selected)  # a worker just added and selected: in view, whole
        self.catch_up()

    def catch_up(self) -> None:
        """Draw the next few waiting tiles."""
        for name in list(self.waiting)[:TILES_PER_FRAME]:
            self.tiles[name].frame = self.waiting.pop(name)

    def on_resize(self, event: Resize) -> None:
        self._reflow()

    def _reflow(self) -> None:
        rows = int(self.parent.size.height * MAX_HEIGHT) if isinstance(self.parent, Widget) else 0
        chosen, columns = density(len(self.tiles), self.scrollable_content_region.width, rows,
                                  self.screen.has_class("-tall"), self.screen.size.width >= WIDE_SCREEN)
        if chosen != self.density:
            for choice in ("-medium", "-compact", "-lines"):
                self.set_class(chosen.css_class == choice, choice)
            self.density = chosen
            self.call_after_refresh(self._show_selected)
        self.columns = columns
        self.call_after_refresh(self._say_shown)

    def watch_columns(self, columns: int) -> None:
        self.styles.grid_size_columns = columns

    def watch_selected(self, selected: str | None) -> None:
        self._mark_selected()
        self._show_selected()

    def _show_selected(self) -> None:
        if self.selected in self.tiles:
            self.scroll_to_widget(self.tiles[self.selected], animate=False)
        self._say_shown()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._say_shown()

    def _say_shown(self) -> None:
        """The title says which tiles are in view when not all of them are: ``w1-w64 of 256``."""
        names = list(self.tiles)
        if not self.scrollable_content_region.height:
            return  # not laid out yet
        first, end = shown_range(names, self.columns, self.density.rows, self.scroll_y,
                                 self.scrollable_content_region.height)
        crowded = bool(names) and (first, end) != (0, len(names))
        self.set_class(crowded, "-crowded")
        self.border_title = f"{names[first]}-{names[end - 1]} of {len(names)} shown" if crowded and end > first else ""

    def _mark_selected(self) -> None:
        for name, tile in self.tiles.items():
            tile.set_class(name == self.selected, "-selected")

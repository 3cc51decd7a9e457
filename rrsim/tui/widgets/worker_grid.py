"""The grid of worker tiles: as many columns as the width allows, scrolling when they do not fit."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.events import Resize
from textual.reactive import reactive

from rrsim.tui.frames import WorkerFrame
from rrsim.tui.widgets.worker_tile import WorkerTile

TILE_MIN_WIDTH = 24  # room for "p50 0.36  p99 0.94 ms" and three ids a line
TILE_WIDE_MIN_WIDTH = 32  # on a wide terminal: a longer sparkline and four or five ids a line
WIDE_SCREEN = 160  # columns
GUTTER = 1  # the grid-gutter between columns in app.tcss
# A busy tile costs Textual 1-2 ms a frame to draw; with many busy workers, drawing all of
# them in one frame holds the event loop (and every key) for tens of milliseconds.  So a
# frame redraws at most this many tiles whose figures changed, the longest-waiting first;
# a tile whose state changed (killed, paused, a new life) is always drawn at once.
TILES_PER_FRAME = 6


class WorkerGrid(VerticalScroll, can_focus=False):
    """Holds one ``WorkerTile`` per worker, in order of creation; workers are never removed."""

    columns: reactive[int] = reactive(1)
    selected: reactive[str | None] = reactive(None)

    def __init__(self) -> None:
        super().__init__()
        self.tiles: dict[str, WorkerTile] = {}
        self.waiting: dict[str, WorkerFrame] = {}  # newer frames not drawn yet, longest-waiting first

    def show(self, workers: tuple[WorkerFrame, ...]) -> None:
        """Give tiles their frames (see ``TILES_PER_FRAME``), mounting tiles for new workers."""
        fresh = [WorkerTile(frame.name) for frame in workers if frame.name not in self.tiles]
        if fresh:
            self.tiles.update((tile.worker, tile) for tile in fresh)
            self.mount_all(fresh)
            self._reflow()
            self._mark_selected()
        for frame in workers:
            tile = self.tiles[frame.name]
            shown = tile.frame
            if shown is None or (shown.state, shown.life) != (frame.state, frame.life):
                tile.frame = frame
                self.waiting.pop(frame.name, None)
            elif shown != frame:
                self.waiting[frame.name] = frame  # a waiting tile keeps its place in the queue
            else:
                self.waiting.pop(frame.name, None)  # back to what it shows: an older frame must not follow
        self.catch_up()

    def catch_up(self) -> None:
        """Draw the next few waiting tiles."""
        for name in list(self.waiting)[:TILES_PER_FRAME]:
            self.tiles[name].frame = self.waiting.pop(name)

    def on_resize(self, event: Resize) -> None:
        self._reflow()

    def _reflow(self) -> None:
        least = TILE_WIDE_MIN_WIDTH if self.screen.size.width >= WIDE_SCREEN else TILE_MIN_WIDTH
        fits = (self.scrollable_content_region.width + GUTTER) // (least + GUTTER)
        self.columns = max(1, min(len(self.tiles), fits))

    def watch_columns(self, columns: int) -> None:
        self.styles.grid_size_columns = columns

    def watch_selected(self, selected: str | None) -> None:
        self._mark_selected()
        if selected in self.tiles:
            self.scroll_to_widget(self.tiles[selected], animate=False)

    def _mark_selected(self) -> None:
        for name, tile in self.tiles.items():
            tile.set_class(name == self.selected, "-selected")

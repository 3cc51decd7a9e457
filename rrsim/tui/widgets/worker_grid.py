"""The grid of worker tiles: as many columns as the width allows, scrolling when they do not fit."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.events import Resize
from textual.reactive import reactive

from rrsim.tui.frames import WorkerFrame
from rrsim.tui.widgets.worker_tile import WorkerTile

TILE_MIN_WIDTH = 24  # room for "p50 0.36  p99 0.94 ms" and three ids a line
GUTTER = 1  # the grid-gutter between columns in app.tcss


class WorkerGrid(VerticalScroll, can_focus=False):
    """Holds one ``WorkerTile`` per worker, in order of creation; workers are never removed."""

    columns: reactive[int] = reactive(1)
    selected: reactive[str | None] = reactive(None)

    def __init__(self) -> None:
        super().__init__()
        self.tiles: dict[str, WorkerTile] = {}

    def show(self, workers: tuple[WorkerFrame, ...]) -> None:
        """Give each tile its frame, mounting tiles for workers seen for the first time."""
        fresh = [WorkerTile(frame.name) for frame in workers if frame.name not in self.tiles]
        if fresh:
            self.tiles.update((tile.worker, tile) for tile in fresh)
            self.mount_all(fresh)
            self._reflow()
            self._mark_selected()
        for frame in workers:
            self.tiles[frame.name].frame = frame

    def on_resize(self, event: Resize) -> None:
        self._reflow()

    def _reflow(self) -> None:
        fits = (self.scrollable_content_region.width + GUTTER) // (TILE_MIN_WIDTH + GUTTER)
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

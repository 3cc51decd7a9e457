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

    def show(self, workers: tuple[WorkerFrame, ...]) -> None:
        """Give each tile its frame, mounting tiles for workers seen for the first time."""
        tiles = {tile.worker: tile for tile in self.query_children(WorkerTile)}
        fresh = [WorkerTile(frame.name) for frame in workers if frame.name not in tiles]
        if fresh:
            self.mount_all(fresh)
            tiles.update((tile.worker, tile) for tile in fresh)
            self._reflow()
            self._mark_selected()
        for frame in workers:
            tiles[frame.name].frame = frame

    @property
    def names(self) -> list[str]:
        return [tile.worker for tile in self.query_children(WorkerTile)]

    def on_resize(self, event: Resize) -> None:
        self._reflow()

    def _reflow(self) -> None:
        count = len(self.query_children(WorkerTile))
        fits = (self.scrollable_content_region.width + GUTTER) // (TILE_MIN_WIDTH + GUTTER)
        self.columns = max(1, min(count, fits))

    def watch_columns(self, columns: int) -> None:
        self.styles.grid_size_columns = columns

    def watch_selected(self, selected: str | None) -> None:
        self._mark_selected()
        for tile in self.query_children(WorkerTile):
            if tile.worker == selected:
                self.scroll_to_widget(tile, animate=False)

    def _mark_selected(self) -> None:
        for tile in self.query_children(WorkerTile):
            tile.set_class(tile.worker == self.selected, "-selected")

"""The message map: time runs left to right, one row per worker life, each cell shaded by how
many messages that life received then and coloured by the pusher most came from; lost messages
are a red cross where the life they were dealt to ended, late ones an orange cell."""

from __future__ import annotations

from math import ceil

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from rrsim.message_map import MapFrame, MapRow
from rrsim.tui.palette import LATE, WARNING, pusher_colour
from rrsim.tui.widgets.worker_tile import assemble_runs

SHADES = "▁▂▃▄▅▆▇█"
LABEL_WIDTH = 7  # "w12·3 " and a space
FRAME_WIDTH = 3  # its border and the scrollbar


class MessageMapView(VerticalScroll, can_focus=False):
    """One line per worker life; the border says how much time a column holds."""

    map: reactive[MapFrame | None] = reactive(None, repaint=False)

    def compose(self) -> ComposeResult:
        yield Static(id="map-lines")

    def columns(self) -> int:
        """How many cells fit a row: from the screen's width, so that it is right before the
        map is first shown (while hidden, it has no size of its own)."""
        return max(self.screen.size.width - FRAME_WIDTH - LABEL_WIDTH, 1)

    def watch_map(self, old: MapFrame | None, frame: MapFrame | None) -> None:
        if frame is None:
            return
        per = frame.column_ns / 1e9
        self.border_title = f"message map · time → · 1 column = {per:g} s" + (" (aggregated)" if frame.aggregated else "")
        self.border_subtitle = f"shade: messages in a cell (peak {frame.peak}) · ✕ lost · orange: late · m: tiles"
        lines = Content("\n").join(map_line(row, frame.peak) for row in frame.rows)
        self.query_one("#map-lines", Static).update(lines, layout=old is None or len(old.rows) != len(frame.rows))


def map_line(row: MapRow, peak: int) -> Content:
    label = row.name if row.life == 1 else f"{row.name}·{row.life}"
    parts: list[tuple[str, str]] = [(f"{label:<{LABEL_WIDTH - 1}} ", "bold")]
    for count, pusher, late, lost in zip(row.counts, row.pushers, row.late, row.lost):
        if lost:
            parts.append(("✕", WARNING))
        elif count == 0:
            parts.append((" ", ""))
        else:
            shade = SHADES[min(len(SHADES) - 1, ceil(count / max(peak, 1) * len(SHADES)) - 1)]
            parts.append((shade, LATE if late else pusher_colour(pusher)))
    return assemble_runs(parts).rstrip()

"""The message map: time runs left to right, one row per worker life, each cell shaded by how
many messages that life received then and coloured by the pusher most came from (white where
pushers gave as many); lost messages
are a red cross where the life they were dealt to ended, late ones an orange cell.

With more lives than rows fit (128 workers, say), it shows the rows that fit around the selected
worker's and says which: only the rows shown are summed and drawn, so a frame stays cheap."""

from __future__ import annotations

import numpy as np
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from rrsim.model.message_map import TIED, MapFrame, MapRow
from rrsim.tui.palette import LATE, TIE, WARNING, pusher_colour

SHADES = "▁▂▃▄▅▆▇█"
# A cell's character by number, 0 blank, 1-8 the shades, 9 lost: numbers become digits, and
# the digits these characters, in one str.translate (a numpy array of str is slow to make).
CELL_CHARACTERS = str.maketrans("0123456789", f" {SHADES}✕")
LOST_CELL = len(SHADES) + 1
LABEL_WIDTH = 7  # "w12·3 " and a space
FRAME_WIDTH = 2  # its border
BORDER_HEIGHT = 2
MAX_HEIGHT = 0.55  # of the body, as the tiles' grid (app.tcss)
LOST, BLANK, LATE_CELL = -1, 0, -2  # a cell's colour code; a pusher's is its index (1 = p1)
CODE_STYLES = {LOST: WARNING, BLANK: "", LATE_CELL: LATE, TIED: TIE}  # TIED: pushers gave as many


class MessageMapView(Vertical, can_focus=False):
    """One line per worker life shown; the border says how much time a column holds, and which
    lives of how many are shown."""

    map: reactive[MapFrame | None] = reactive(None, repaint=False)
    selected: reactive[str | None] = reactive(None, repaint=False)  # its lives' labels stand out

    def compose(self) -> ComposeResult:
        yield Static(id="map-lines")

    def columns(self) -> int:
        """How many cells fit a row: from the screen's width, so that it is right before the
        map is first shown (while hidden, it has no size of its own)."""
        return max(self.screen.size.width - FRAME_WIDTH - LABEL_WIDTH, 1)

    def rows(self) -> int:
        """How many lives fit: the map may take MAX_HEIGHT of the body's height, border included
        (from the body, which has its size while the map is hidden)."""
        body = self.parent
        assert isinstance(body, Widget)  # mounted in the run screen's body
        return max(int(body.size.height * MAX_HEIGHT) - BORDER_HEIGHT, 1)

    def watch_selected(self) -> None:
        self._draw(self.map, self.map)

    def watch_map(self, old: MapFrame | None, frame: MapFrame | None) -> None:
        self._draw(old, frame)

    def _draw(self, old: MapFrame | None, frame: MapFrame | None) -> None:
        if frame is None:
            return
        per = frame.column_ns / 1e9
        self.border_title = f"message map · time → · 1 column = {per:g} s" + (" (aggregated)" if frame.aggregated else "")
        if len(frame.rows) < frame.lives:  # some lives are not shown: say which are
            last = frame.first_row + len(frame.rows)
            self.border_title += f" · lives {frame.first_row + 1}-{last} of {frame.lives}"  # the selected worker's
        self.border_subtitle = f"shade: messages in a cell (peak {frame.peak}) · ✕ lost · orange: late · m: tiles"
        lines = Content("\n").join(map_line(row, frame.peak, row.name == self.selected) for row in frame.rows)
        self.query_one("#map-lines", Static).update(lines, layout=old is None or len(old.rows) != len(frame.rows))


def first_row_shown(lives: list[str], selected: str | None, first_row: int, rows: int) -> int:
    """The first of ``rows`` consecutive lives to show, from ``first_row`` before: moved as little
    as it takes to show the first life of the ``selected`` worker (``lives``: each life's worker)."""
    if selected not in lives:
        return min(first_row, max(len(lives) - rows, 0))
    wanted = lives.index(selected)
    if wanted < first_row:
        return wanted
    if wanted >= first_row + rows:
        return wanted - rows + 1
    return min(first_row, max(len(lives) - rows, 0))


def map_line(row: MapRow, peak: int, selected: bool = False) -> Content:
    """A life's label and its cells, as runs of one colour (a span per cell would cost Textual
    time on every frame): the shading and colouring are done on all cells at once."""
    counts, lost = np.asarray(row.counts), np.asarray(row.lost) > 0
    shade = np.clip(np.ceil(counts / max(peak, 1) * len(SHADES)).astype(np.int64), 1, len(SHADES))
    cells = np.where(lost, LOST_CELL, np.where(counts == 0, 0, shade))
    codes = np.where(lost, LOST, np.where(counts == 0, BLANK, np.where(np.asarray(row.late) > 0, LATE_CELL,
                                                                       np.asarray(row.pushers))))
    text = (cells + ord("0")).astype(np.uint8).tobytes().decode("ascii").translate(CELL_CHARACTERS).rstrip()
    starts = [0, *(np.flatnonzero(np.diff(codes[: len(text)])) + 1).tolist()]
    ends = [*starts[1:], len(text)]
    label = row.name if row.life == 1 else f"{row.name}·{row.life}"
    runs = [(f"{label:<{LABEL_WIDTH - 1}}", "bold reverse" if selected else "bold"), (" ", "")]
    runs += [(text[start:end], _style(int(codes[start]))) for start, end in zip(starts, ends, strict=True) if end > start]
    return Content.assemble(*runs)


def _style(code: int) -> str:
    return CODE_STYLES[code] if code in CODE_STYLES else pusher_colour(code)

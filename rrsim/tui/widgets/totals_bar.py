"""The totals line: where every message went, and how fair the split was."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from rrsim.tui.frames import TotalsFrame
from rrsim.tui.palette import LATE, MUTED, WARNING

GAP = "  "  # between two items, and after the last of a line


class TotalsBar(Widget):
    """sent, delivered, in flight, lost, late, duplicates, fairness; bad news in red.

    One line where they fit: two spaces apart, else one, else with counts of millions rounded
    (1.23M); else as many lines as it takes, broken between items so that a label stays with its
    count (fairness is never cut off, nor split from its value). The height
    changes only when the number of lines does: a height set on every frame would lay out the
    whole screen every frame.
    """

    totals: reactive[TotalsFrame | None] = reactive(None)

    def __init__(self) -> None:
        super().__init__()
        self._lines = 1

    def watch_totals(self) -> None:
        self._fit(self.content_size.width)

    def on_resize(self) -> None:
        self._fit(self.content_size.width)

    def _fit(self, width: int) -> None:
        if width <= 0:
            return
        lines = len(self._laid_out(width))
        if lines != self._lines:
            self._lines = lines
            self.styles.height = lines

    def render(self) -> Content:
        return Content("\n").join(Content.assemble(*line) for line in self._laid_out(self.content_size.width))

    def _laid_out(self, width: int) -> list[list[Content | str]]:
        """The items, on one line if they fit ``width`` (0: any) in one of the tighter forms, else as
        many a line as fit, each followed by GAP."""
        for gap, rounded in ((GAP, False), (" ", False), (" ", True)):
            items = self._items(rounded)
            if not width or sum(item.cell_length for item in items) + len(gap) * (len(items) - 1) <= width:
                return [[part for item in items for part in (item, gap)]]
        lines: list[list[Content | str]] = [[]]
        used = 0
        for item in self._items():
            if used and width and used + item.cell_length > width:
                lines.append([])
                used = 0
            lines[-1].extend([item, GAP])
            used += item.cell_length + len(GAP)
        return lines

    def _items(self, rounded: bool = False) -> list[Content]:
        """The items; ``rounded``: counts of a million or more to three figures (1.23M)."""
        if self.totals is None:
            return []
        t, fairness = self.totals.totals, self.totals.fairness
        items: list[Content] = []

        def item(label: str, value: str, bad: bool = False) -> None:
            items.append(Content.assemble((f"{label} ", MUTED), (value, WARNING if bad else "bold")))

        def count(value: int) -> str:
            return f"{value / 1e6:.3g}M" if rounded and value >= 1_000_000 else str(value)

        item("sent", count(t.sent))
        item("delivered", count(t.delivered))
        item("in flight", count(t.in_flight))
        for names, queued in self.totals.queued_for_dead:  # not lost: waiting for a next life
            items.append(Content.styled(f"{queued} queued for {names} (dead)", LATE))
        item("lost", str(t.lost), bad=t.lost > 0)
        item("late", str(t.late), bad=t.late > 0)
        item("dup", str(t.duplicates), bad=t.duplicates > 0)
        if t.retried or t.given_up:  # a pattern that retries: what reliability cost
            item("retried", str(t.retried))
        if t.given_up:
            item("given up", str(t.given_up), bad=True)
        if t.strayed:
            item("strayed", str(t.strayed), bad=True)
        if t.foreign:
            item("foreign", str(t.foreign), bad=True)
        item("fairness", "-" if fairness is None else f"{fairness:.3f}")
        return items

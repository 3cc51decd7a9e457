"""The event log: starts, kills, revivals, links, slow joiners and lost ids, newest at the bottom."""

from __future__ import annotations

from collections import deque
from itertools import islice

from textual.content import Content
from textual.events import MouseScrollDown, MouseScrollUp
from textual.reactive import reactive
from textual.widget import Widget

from rrsim.model import LOG_LENGTH, NS, LogEntry
from rrsim.tui.palette import LOG_COLOURS, MUTED
from rrsim.wording import describe

TIME_WIDTH = 6  # "  12.3 " less the space
WHEEL_LINES = 3


class EventLog(Widget):
    """The newest entries that fit, like ``tail -f``; the mouse wheel scrolls back.

    It draws only the lines it shows and never changes its own size: a scrolling log whose
    height grows with every entry would make Textual lay out (and repaint) the whole screen
    for each new line, and under load the model logs many lines a second.
    """

    back: reactive[int] = reactive(0)  # lines scrolled back from the newest

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: deque[tuple[str, Content]] = deque(maxlen=LOG_LENGTH)  # (time, text)
        self.border_title = "events"

    def add(self, entries: list[LogEntry], started_ns: int) -> None:
        for entry in entries:
            when = f"{(entry.t_ns - started_ns) / NS:{TIME_WIDTH}.1f} "
            self.entries.append((when, Content.styled(describe(entry), LOG_COLOURS.get(entry.kind, ""))))
        if self.back:
            # Someone is reading back: keep their lines where they are.
            added = sum(len(self._wrap(text)) for _, text in islice(reversed(self.entries), len(entries)))
            self.back = min(self.back + added, self._max_back())
        self.refresh()

    def clear(self) -> None:
        """Forget every entry: the run's log starts again (a replay went back in time)."""
        self.entries.clear()
        self.back = 0
        self.refresh()

    def watch_back(self, back: int) -> None:
        self.border_subtitle = f"{back} lines back · wheel down to follow" if back else ""

    def on_mouse_scroll_up(self, event: MouseScrollUp) -> None:
        self.back = min(self.back + WHEEL_LINES, self._max_back())
        event.stop()

    def on_mouse_scroll_down(self, event: MouseScrollDown) -> None:
        self.back = max(self.back - WHEEL_LINES, 0)
        event.stop()

    def _wrap(self, text: Content) -> list[Content]:
        return text.wrap(max(self.size.width - TIME_WIDTH - 1, 10))

    def _lines(self, wanted: int) -> list[Content]:
        """The last ``wanted`` screen lines, wrapping entries from the newest back."""
        lines: list[Content] = []
        for when, text in reversed(self.entries):
            wrapped = self._wrap(text)
            indent = " " * len(when)
            lines[:0] = [Content.assemble((when if i == 0 else indent, MUTED), part) for i, part in enumerate(wrapped)]
            if len(lines) >= wanted:
                break
        return lines[-wanted:] if wanted else []

    def _max_back(self) -> int:
        return max(0, len(self._lines(LOG_LENGTH * 2)) - self.size.height)

    def render(self) -> Content:
        height = self.size.height
        lines = self._lines(height + self.back)
        return Content("\n").join(lines[: max(len(lines) - self.back, 0)][-height:])

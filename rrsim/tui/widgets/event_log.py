"""The event log: starts, kills, revivals, links, slow joiners and why messages were lost, newest
at the bottom.  An entry the model updates in place (a count that grows) is redrawn where it is."""

from __future__ import annotations

from textual.content import Content
from textual.events import MouseScrollDown, MouseScrollUp
from textual.reactive import reactive
from textual.widget import Widget

from rrsim.model.model import LOG_LENGTH, NS, LogEntry
from rrsim.report.wording import describe, subjects
from rrsim.tui.palette import LOG_COLOURS, MUTED

TIME_WIDTH = 6  # "  12.3 " less the space
WHEEL_LINES = 3


class EventLog(Widget):
    """The newest entries that fit, like ``tail -f``; the mouse wheel scrolls back.

    It draws only the lines it shows and never changes its own size: a scrolling log whose
    height grows with every entry would make Textual lay out (and repaint) the whole screen
    for each new line, and under load the model logs many lines a second.
    """

    back: reactive[int] = reactive(0)  # lines scrolled back from the newest
    only: reactive[str | None] = reactive(None)  # show only the entries about this process

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        # serial -> (time, text, who it is about); an update keeps its entry's place
        self.entries: dict[int, tuple[str, Content, frozenset[str]]] = {}
        self.border_title = "events"

    def add(self, entries: list[LogEntry], started_ns: int, join_line: str = "") -> None:
        """New entries, and entries updated in place (same serial); ``join_line``: what a remote
        worker types to join, told whole after the entry that says the run listens."""
        before = len(self._lines(LOG_LENGTH * 2)) if self.back else 0
        for entry in entries:
            when = f"{(entry.t_ns - started_ns) / NS:{TIME_WIDTH}.1f} "
            said = describe(entry) + (f"; to join: {join_line}" if entry.what == "listening" and join_line else "")
            text = Content.styled(said, LOG_COLOURS.get(entry.kind, ""))
            self.entries[entry.serial] = (when, text, frozenset(subjects(entry)))
        while len(self.entries) > LOG_LENGTH:
            del self.entries[next(iter(self.entries))]
        if self.back:
            # Someone is reading back: keep their lines where they are.
            self.back = min(self.back + len(self._lines(LOG_LENGTH * 2)) - before, self._max_back())
        self.refresh()

    def clear(self) -> None:
        """Forget every entry: the run's log starts again (a replay went back in time)."""
        self.entries.clear()
        self.back = 0
        self.refresh()

    def watch_back(self, back: int) -> None:
        self._subtitle()

    def watch_only(self, only: str | None) -> None:
        self.back = 0
        self._subtitle()
        self.border_title = f"events about {only}" if only else "events"
        self.refresh()

    def _subtitle(self) -> None:
        self.border_subtitle = f"{self.back} lines back · End follows" if self.back else ""

    def scroll_by(self, lines: int) -> None:
        """Back (positive) or forward (negative) by ``lines``; a page is the log's height."""
        self.back = max(0, min(self.back + lines, self._max_back()))

    def page(self, pages: int) -> None:
        self.scroll_by(pages * max(self.size.height - 1, 1))

    def to_oldest(self) -> None:
        self.back = self._max_back()

    def to_newest(self) -> None:
        self.back = 0

    def on_mouse_scroll_up(self, event: MouseScrollUp) -> None:
        self.scroll_by(WHEEL_LINES)
        event.stop()

    def on_mouse_scroll_down(self, event: MouseScrollDown) -> None:
        self.scroll_by(-WHEEL_LINES)
        event.stop()

    def _wrap(self, text: Content) -> list[Content]:
        return text.wrap(max(self.size.width - TIME_WIDTH - 1, 10))

    def _lines(self, wanted: int) -> list[Content]:
        """The last ``wanted`` screen lines, wrapping entries from the newest back."""
        return [line for line, _ in self._numbered_lines(wanted)][-wanted:] if wanted else []

    def _numbered_lines(self, wanted: int) -> list[tuple[Content, int]]:
        """The last ``wanted`` screen lines (and a few more: whole entries), each with its line number
        within its entry (0: the entry's first)."""
        lines: list[tuple[Content, int]] = []
        for when, text, about in reversed(self.entries.values()):
            if self.only is not None and self.only not in about:
                continue
            wrapped = self._wrap(text)
            indent = " " * len(when)
            lines[:0] = [(Content.assemble((when if i == 0 else indent, MUTED), part), i) for i, part in enumerate(wrapped)]
            if len(lines) >= wanted:
                break
        return lines if wanted else []

    def _max_back(self) -> int:
        return max(0, len(self._lines(LOG_LENGTH * 2)) - self.size.height)

    def render(self) -> Content:
        return Content("\n").join(shown_lines(self._numbered_lines(self.size.height + self.back), self.size.height,
                                              self.back))


def shown_lines(lines: list[tuple[Content, int]], height: int, back: int) -> list[Content]:
    """The ``height`` lines that end ``back`` lines before the newest, starting where an entry
    starts: the top entry shows from its beginning, never only its tail (one entry taller
    than the log shows its first ``height`` lines)."""
    end = max(len(lines) - back, 0)
    start = max(end - height, 0)
    first = start
    while first < end and lines[first][1] != 0:
        first += 1
    if first == end and end > 0:  # the whole window is inside one entry: show that entry from its start
        first = start
        while first > 0 and lines[first][1] != 0:
            first -= 1
        return [line for line, _ in lines[first:first + height]]
    return [line for line, _ in lines[first:end]]

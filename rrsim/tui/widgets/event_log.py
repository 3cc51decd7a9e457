"""The event log: starts, kills, revivals, links, slow joiners and lost ids, newest at the bottom."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

from rrsim.model import LOG_LENGTH, NS, LogEntry
from rrsim.tui.palette import LOG_COLOURS, MUTED


class EventLog(RichLog, can_focus=False):
    """Appends model log entries as they come; time is seconds since the run started."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id, max_lines=LOG_LENGTH, min_width=20, wrap=True, markup=False, highlight=False)
        self.border_title = "events"

    def add(self, entries: list[LogEntry], started_ns: int) -> None:
        for entry in entries:
            seconds = (entry.t_ns - started_ns) / NS
            self.write(Text.assemble((f"{seconds:5.1f} ", MUTED), (entry.text, LOG_COLOURS.get(entry.kind, ""))))

"""What happened when, for the end-of-run summary: the notable entries of the report's log
(kills, revives, pauses, actions fired, losses, warnings), one compact line each."""

from __future__ import annotations

from typing import Any

# Starts and connections are many and routine; what a scenario did and what went wrong is not.
NOTABLE_KINDS = ("action", "end", "pause", "lost", "warn", "info")
MOST_LINES = 30


def notable_entries(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries worth a line: every notable kind but the opening one (the endpoints, shown before)."""
    return [entry for index, entry in enumerate(log)
            if entry["kind"] in NOTABLE_KINDS and not (index == 0 and entry["kind"] == "info")]


def timeline_lines(report: dict[str, Any], most: int = MOST_LINES) -> list[str]:
    entries = notable_entries(report.get("log", []))
    lines = [f"{_seconds(entry['t_s'])}  {entry['kind']:<6}  {entry['text'].strip()}" for entry in entries[:most]]
    if len(entries) > most:
        lines.append(f"... and {len(entries) - most} more in the report's log")
    return lines


def _seconds(t_s: float | None) -> str:
    return "      -" if t_s is None else f"{t_s:7.2f}s"

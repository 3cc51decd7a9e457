"""Colours with a meaning, in one place: worker states, pushers and event-log kinds.

Plain colour strings work both in Textual content and in Rich text (the event log).
"""

from __future__ import annotations

from rrsim.model.model import WORKER_STATES

STATE_COLOURS: dict[str, str] = {
    "starting": "#d7af5f",
    "alive": "#5fd75f",
    "paused": "#5fafff",
    "stopped": "#a8a8a8",
    "killed": "#ff5f5f",
    "crashed": "#ff5fd7",
    "silent": "#ffaf5f",  # a router declared it dead; its process state is not known yet
    "done": "#5fafaf",
    "left": "#a8a8a8",
    "lost contact": "#ff875f",
}
assert set(STATE_COLOURS) == {*WORKER_STATES, "done"}  # done: what the live view says once a run drained

# Distinct hues so that ids from different pushers stand apart in a tile.
PUSHER_COLOURS = ("#5fd7ff", "#ffaf5f", "#d787ff", "#afd75f", "#ff87af", "#5fafaf", "#ffd75f", "#8787ff")

LOG_COLOURS: dict[str, str] = {
    "start": "#5fd75f",
    "end": "#ff5f5f",
    "pause": "#5fafff",
    "link": "#8a8a8a",
    "lost": "bold #ff5f5f",
    "action": "#ffd75f",
    "warn": "#ffaf5f",
    "info": "",
}

SPARK = "#5fd7af"
LATE = "#ffaf5f"
WARNING = "bold #ff5f5f"
MUTED = "#8a8a8a"
TIE = "#eeeeee"  # a map cell where pushers gave as many: none of their colours


def state_colour(state: str) -> str:
    return STATE_COLOURS.get(state, "")


def pusher_colour(index: int) -> str:
    return PUSHER_COLOURS[(index - 1) % len(PUSHER_COLOURS)]

"""Messages the TUI posts to itself: small dataclasses."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from textual.message import Message


@dataclass
class WorkerClicked(Message):
    """A worker tile was clicked: select that worker."""

    name: str


@dataclass(frozen=True)
class Setting:
    """What a command will set: ``key`` names it, such as ("work_ms", "w1") or ("rate", "")."""

    key: tuple[str, str]
    value: Any


@dataclass
class CommandDone(Message):
    """An engine command finished (posted from the engine's thread); ``future`` holds how."""

    command: str
    args: tuple[object, ...]
    future: Future[Any]
    setting: Setting | None = None

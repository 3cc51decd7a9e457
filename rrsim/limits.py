"""How a setup key is checked and explained: its type, its range or choices, and its help text.

Vocabulary: the scenario's setup table and a pattern's own keys (``SETUP_KEYS``) are made of these.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """How one setup key is checked: its type and its allowed range."""

    kind: type
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""
    why_high: str = ""  # why ``high`` is the limit, for the error that refuses more
    needs_router: bool = False  # it shapes a router (the broker): a pattern without one ignores it
    # kind tuple: a list of numbers (float), each within low..high

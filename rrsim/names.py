"""Process names: a role's prefix and a number (``p1``, ``b1``, ``w3``), made and read in one place."""

from __future__ import annotations


def process_name(prefix: str, number: int) -> str:
    return f"{prefix}{number}"


def split_name(name: str) -> tuple[str, int]:
    """(prefix, number) of a process name: ("w", 3) for ``w3``; number 0 if it has none."""
    prefix = name.rstrip("0123456789")
    digits = name[len(prefix):]
    return prefix, int(digits) if digits else 0


def name_number(name: str) -> int:
    """The number in a process name: 3 for p3 (a pusher's number is in every message it sends)."""
    return split_name(name)[1]

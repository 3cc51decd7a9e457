"""``rrsim scenarios``: the built-in scenarios, each with the first sentence of its comment."""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import resources

from rrsim.errors import UserError
from rrsim.scenario.scenario import builtin_scenarios


def scenarios_command(argv: Sequence[str]) -> int:
    if argv:
        raise UserError(f"rrsim scenarios takes no arguments, got {' '.join(argv)!r}")
    for name in builtin_scenarios():
        text = (resources.files("rrsim") / "scenarios" / f"{name}.toml").read_text(encoding="utf-8")
        print(f"{name:14} {comment_summary(text)}")
    return 0


def comment_summary(text: str) -> str:
    """The first sentence of the comment a scenario file opens with: what the scenario shows."""
    comment = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        comment.append(line.lstrip("#").strip())
    words = " ".join(comment)
    sentence = re.match(r"(.+?[.!?])(\s|$)", words)
    return sentence.group(1) if sentence else words

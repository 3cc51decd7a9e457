"""The one exception type for mistakes a user can make; the CLI prints it as one line."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """Bad input from the user: an option, a scenario file, a command that does not apply."""


def did_you_mean(word: object, known: Iterable[str]) -> str:
    """'; did you mean 'X'?' for the known name closest to a mistyped ``word``, or ''."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""

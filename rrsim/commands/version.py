"""``rrsim --version``: rrsim's version, and which per-message loops its processes run."""

from __future__ import annotations

from rrsim import __version__
from rrsim.child import loops


def version_line() -> str:
    why = loops.why_python()
    return f"rrsim {__version__}, {loops.implementation()} loops" + (f" ({why})" if why else "")


def version_command() -> int:
    print(version_line())
    return 0

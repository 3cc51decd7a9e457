"""Scenario files: a setup, a timeline and checks read from TOML; the built-in scenarios."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from rrsim.errors import UserError, did_you_mean
from rrsim.scenario.actions import Action, check_action, check_timeline
from rrsim.scenario.checks import Check, checks_from_table
from rrsim.scenario.setup import Setup, build_setup, line_of, table_start

# What `rrsim` with no arguments shows: round robin at human speed.
TUI_DEFAULTS = Setup(pushers=1, workers=3, rate=10.0, messages=0, work_ms=5.0)


@dataclass(frozen=True)
class Scenario:
    name: str
    setup: Setup
    timeline: tuple[Action, ...] = field(default_factory=tuple)
    source: str = ""  # the file it came from, for messages
    checks: tuple[Check, ...] = ()  # what `rrsim run` asserts of the report


def builtin_scenarios() -> list[str]:
    folder = resources.files("rrsim") / "scenarios"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_scenario(name_or_path: str) -> Scenario:
    """Read a scenario from a file path or a built-in name such as ``seed``."""
    path = Path(name_or_path)
    try:
        exists = path.exists()
    except OSError as error:  # a name too long for the file system, say
        raise UserError(f"{name_or_path[:60]}{'...' if len(name_or_path) > 60 else ''}: cannot be a scenario file: "
                        f"{error.strerror}") from None
    if not exists and "/" not in name_or_path and name_or_path in builtin_scenarios():
        text = (resources.files("rrsim") / "scenarios" / f"{name_or_path}.toml").read_text()
        return parse_scenario(text, f"{name_or_path}.toml", name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        known = ", ".join(builtin_scenarios())
        raise UserError(f"{name_or_path}: no such scenario file or built-in scenario (built-ins: {known})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{name_or_path}: cannot read scenario: {getattr(error, 'strerror', None) or error}") from None
    return parse_scenario(text, name_or_path, path.stem)


def parse_scenario(text: str, where: str, name: str) -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{where}: not valid TOML: {error}") from None
    except ValueError as error:  # e.g. an integer of more digits than Python converts
        raise UserError(f"{where}: cannot read a value: {error}") from None
    for key in data:
        if key not in ("setup", "at", "checks"):
            raise UserError(f"{where}: unknown table {key!r}{line_of(text, key)}; "
                            f"a scenario has [setup], [[at]] and [checks]{did_you_mean(key, ('setup', 'at', 'checks'))}")
    raw_setup = data.get("setup", {})
    if not isinstance(raw_setup, dict):
        raise UserError(f"{where}: 'setup' must be a table [setup]")
    # An endless scenario is fine in the TUI; `rrsim run` asks for a duration itself.
    setup = build_setup(raw_setup, f"{where} [setup]", text=text, need_end=False, text_start=table_start(text, "setup"))
    raw_timeline = data.get("at", [])
    if not isinstance(raw_timeline, list):
        raise UserError(f"{where}: 'at' must be an array of tables [[at]]")
    starts = [m.start() for m in re.finditer(r"^\s*\[\[at\]\]", text, re.MULTILINE)]
    timeline = [
        check_action(raw, i, where, text, starts[i] if i < len(starts) else 0) for i, raw in enumerate(raw_timeline)
    ]
    check_timeline(setup, timeline, where)
    checks_start = table_start(text, "checks")
    checks = checks_from_table(data.get("checks", {}), where, lambda key: line_of(text, key, checks_start))
    return Scenario(name=name, setup=setup, timeline=tuple(timeline), source=where, checks=checks)

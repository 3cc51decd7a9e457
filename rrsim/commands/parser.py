"""What every subcommand's parser shares: one-line errors, the setup options read off the setup
table, the options' values as paths, and the scenario with the options applied."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any, NoReturn

from rrsim.errors import UserError
from rrsim.scenario.checks import known_names, parse_check
from rrsim.scenario.scenario import Scenario
from rrsim.scenario.setup import (
    SETUP_KEYS,
    Setup,
    build_setup,
    check_speeds,
    check_worker_cmd,
    value_from_text,
)


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UserError(message)


def describe_defaults(setup: Setup) -> str:
    """The defaults that tell the live view and ``rrsim run`` apart, in words."""
    messages = f"{setup.messages} messages" if setup.messages else "unlimited messages"
    return (f"{setup.pushers} pusher, {setup.workers} workers, {setup.rate:g} msgs/s, {messages}, "
            f"{setup.work_ms:g} ms of work per message")


def add_setup_options(parser: argparse.ArgumentParser, defaults: Setup, title: str) -> None:
    group = parser.add_argument_group(title)
    for key, limit in SETUP_KEYS.items():
        option = flag(key)
        default = getattr(defaults, key)
        shown = "" if default is None or default == () else f" (default: {str(default).lower() if isinstance(default, bool) else default})"
        if limit.kind is bool:
            group.add_argument(option, dest=key, action=argparse.BooleanOptionalAction, default=None,
                               help=limit.help + shown)
        else:
            metavar = "|".join(limit.choices) if limit.choices else "S1,S2,..." if limit.kind is tuple else key.upper()
            group.add_argument(option, dest=key, default=None, metavar=metavar, help=limit.help + shown)


def setup_overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for key in SETUP_KEYS:
        value = getattr(args, key)
        if value is None:
            continue
        overrides[key] = value_from_text(key, value, f"option {flag(key)}") if isinstance(value, str) else value
    return overrides


def flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def apply_overrides(scenario: Scenario, overrides: dict[str, Any], need_end: bool) -> Scenario:
    setup = build_setup({}, "", base=scenario.setup, need_end=False)
    for key, value in overrides.items():
        setup = build_setup({key: value}, f"option {flag(key)}", base=setup, need_end=False, partial=True)
    if "speeds" in overrides or "workers" in overrides:
        check_speeds(setup, "options --speeds and --workers" if "speeds" in overrides else "option --workers")
    if setup.worker_cmd:  # after every option: --pattern or --transport may be what does not fit
        check_worker_cmd(setup, "option --worker-cmd" if "worker_cmd" in overrides else f"{scenario.source} key 'worker_cmd'")
    if need_end and setup.messages == 0 and setup.duration is None:
        raise UserError(f"{scenario.source}: messages = 0 (unlimited) needs a duration: "
                        "set duration in [setup] or pass --duration SECONDS")
    return dataclasses.replace(scenario, setup=setup)


def path_or_none(value: str | None) -> Path | None:
    return Path(value) if value else None


def output_path(value: str | None) -> Path | str | None:
    """An output option's path; ``-`` (standard output) is kept as it is."""
    return value if value == "-" else path_or_none(value)


def with_checks(scenario: Scenario, texts: list[str]) -> Scenario:
    """The scenario's [checks] and then those given with --check: all of them must pass."""
    if not texts:
        return scenario
    known = known_names()
    added = tuple(parse_check(text, "option --check", known) for text in texts)
    return dataclasses.replace(scenario, checks=scenario.checks + added)


def log_dir(value: str | None) -> Path | None:
    """The --keep-logs directory, made now so that a bad one fails before anything starts."""
    if not value:
        return None
    try:
        Path(value).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"--keep-logs {value}: cannot make the directory: {error.strerror}") from None
    return Path(value)


class KeepEpilogFormatter(argparse.HelpFormatter):
    """Wraps the description and option help as usual, but prints the epilog as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return text
        return super()._fill_text(text, width, indent)

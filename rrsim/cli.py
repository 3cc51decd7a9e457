"""The command line: ``rrsim`` opens the TUI, ``rrsim run SCENARIO`` runs one headless.

Every mistake a user can make ends here as one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import signal
import sys
import textwrap
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn, Sequence

from rrsim import patterns
from rrsim.config import ACTIONS, SETUP_KEYS, Scenario, Setup, build_setup, builtin_scenarios, load_scenario
from rrsim.errors import UserError

# What `rrsim` with no arguments shows: round robin at human speed.
TUI_DEFAULTS = Setup(pushers=1, workers=3, rate=10.0, messages=0, work_ms=5.0)

EPILOG = f"""\
patterns (--pattern):
{chr(10).join(f"  {name:<11}{patterns.load(name).SUMMARY}" for name in patterns.names())}

headless runs:
  rrsim run SCENARIO [--json REPORT] [--csv FILE] [--events EVENTS.jsonl] [--check CHECK]...
                    [setup options]          (rrsim run --help says more)
      SCENARIO is a TOML file or a built-in name: {', '.join(builtin_scenarios())}
  rrsim scenarios      list the built-in scenarios

scenario files:
  [setup] takes the keys of the setup options above (with _ for -), e.g.
      [setup]
      bind = "worker"
      workers = 3
      messages = 20
  each [[at]] entry has one trigger, time = SECONDS after the first send or
  after_sent = N messages in total, and an action:
      {', '.join(ACTIONS)}
  kill/stop/pause/resume/revive/set_work name a worker (worker = "w1"; the first five
  also take the broker, target = "b1"); add_worker
  takes work_ms; set_rate takes rate; set_work takes work_ms.  Entries fire in order.
  [checks] (for rrsim run) holds conditions on the report, e.g. lost = "== 0".

keys in the TUI: a add worker, k kill, t stop, r revive, p pause/resume, [ ] slower/faster,
  P add pusher, + - send rate, space hold sending, 1-9 select, ? help, q quit
"""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UserError(message)


def describe_defaults(setup: Setup) -> str:
    """The defaults that tell the live view and ``rrsim run`` apart, in words."""
    messages = f"{setup.messages} messages" if setup.messages else "unlimited messages"
    return (f"{setup.pushers} pusher, {setup.workers} workers, {setup.rate:g} msgs/s, {messages}, "
            f"{setup.work_ms:g} ms of work per message")


def _add_setup_options(parser: argparse.ArgumentParser, defaults: Setup, title: str) -> None:
    group = parser.add_argument_group(title)
    for key, limit in SETUP_KEYS.items():
        flag = "--" + key.replace("_", "-")
        default = getattr(defaults, key)
        shown = "" if default is None else f" (default: {str(default).lower() if isinstance(default, bool) else default})"
        if limit.kind is bool:
            group.add_argument(flag, dest=key, action=argparse.BooleanOptionalAction, default=None,
                               help=limit.help + shown)
        else:
            metavar = "|".join(limit.choices) if limit.choices else key.upper()
            group.add_argument(flag, dest=key, default=None, metavar=metavar, help=limit.help + shown)


def _setup_overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for key, limit in SETUP_KEYS.items():
        value = getattr(args, key)
        if value is None:
            continue
        flag = "--" + key.replace("_", "-")
        if limit.kind in (int, float) and isinstance(value, str):
            try:
                value = int(value) if limit.kind is int else float(value)
            except ValueError:
                kind = "a whole number" if limit.kind is int else "a number"
                raise UserError(f"option {flag}: must be {kind}, got {value!r}") from None
        overrides[key] = value
    return overrides


def _apply(scenario: Scenario, overrides: dict[str, Any], need_end: bool) -> Scenario:
    setup = build_setup({}, "", base=scenario.setup, need_end=False)
    for key, value in overrides.items():
        setup = build_setup({key: value}, f"option --{key.replace('_', '-')}", base=setup, need_end=False)
    if need_end and setup.messages == 0 and setup.duration is None:
        raise UserError(f"{scenario.source}: messages = 0 (unlimited) needs a duration: "
                        "set duration in [setup] or pass --duration SECONDS")
    return dataclasses.replace(scenario, setup=setup)


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _output(value: str | None) -> Path | str | None:
    """An output option's path; ``-`` (standard output) is kept as it is."""
    return value if value == "-" else _path(value)


def _with_checks(scenario: Scenario, texts: list[str]) -> Scenario:
    """The scenario's [checks] and then those given with --check: all of them must pass."""
    if not texts:
        return scenario
    from rrsim.checks import known_names, parse_check

    known = known_names()
    added = tuple(parse_check(text, "option --check", known) for text in texts)
    return dataclasses.replace(scenario, checks=scenario.checks + added)


def _log_dir(value: str | None) -> Path | None:
    """The --keep-logs directory, made now so that a bad one fails before anything starts."""
    if not value:
        return None
    try:
        Path(value).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"--keep-logs {value}: cannot make the directory: {error.strerror}") from None
    return Path(value)


RUN_EPILOG = """\
checks:
  NAME OP NUMBER, OP one of < <= > >= == !=.  NAME is a key of the report's totals (sent,
  delivered, lost, late, duplicates, in_flight, ...), throughput (msgs/s), fairness, p50_ms,
  p95_ms, p99_ms (latency over all workers), or X_mean_ms, X_p50_ms, X_p95_ms, X_p99_ms, X_max_ms
  for a statistics block X_ms of the report (latency_ms, ...).  A scenario can hold checks too:
      [checks]
      lost = "== 0"
      fairness = [">= 0.9", "<= 1"]
  --check adds to the scenario's checks; every one must pass.

exit status: 0 done (every check passed), 1 a check failed, 2 bad input (nothing ran),
  130 / 143 / 129 ended by SIGINT (ctrl+c) / SIGTERM / SIGHUP: the report says "interrupted": true
"""


def run_command(argv: Sequence[str]) -> int:
    parser = Parser(
        prog="rrsim run",
        description="Run a scenario headless and report where every message went.  A setup option overrides "
                    f"the scenario's [setup]; a key that neither sets takes the default shown ({describe_defaults(Setup())}), "
                    f"not the live view's ({describe_defaults(TUI_DEFAULTS)}).",
        epilog=RUN_EPILOG,
        formatter_class=_KeepEpilogFormatter,
    )
    parser.add_argument("scenario", help="a scenario TOML file or a built-in name")
    parser.add_argument("--json", metavar="REPORT", help="write the JSON report here (- for standard output)")
    parser.add_argument("--csv", metavar="FILE", help="write one row per worker life here (- for standard output)")
    parser.add_argument("--events", metavar="EVENTS",
                        help="write every engine event here, one JSON line each (- for standard output)")
    parser.add_argument("--check", metavar="CHECK", action="append", default=[],
                        help="a condition the report must meet, e.g. 'lost == 0' or 'p99_ms < 50'; repeatable")
    parser.add_argument("--keep-logs", metavar="DIR", help="copy the children's log files here at the end")
    _add_setup_options(parser, Setup(), "setup options (override the scenario's [setup])")
    args = parser.parse_args(argv)
    scenario = _apply(load_scenario(args.scenario), _setup_overrides(args), need_end=True)
    scenario = _with_checks(scenario, args.check)
    to_stdout = [option for option in ("--json", "--csv", "--events") if getattr(args, option[2:]) == "-"]
    if len(to_stdout) > 1:
        raise UserError(f"{' and '.join(to_stdout)} both ask for standard output (-): give one of them a file")
    from rrsim.headless import run_headless

    return run_headless(scenario, _output(args.json), _output(args.events), None, _log_dir(args.keep_logs),
                        _output(args.csv))


class _KeepEpilogFormatter(argparse.HelpFormatter):
    """Wraps the description and option help as usual, but prints the epilog as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return text
        return super()._fill_text(text, width, indent)


def tui_command(argv: Sequence[str]) -> int:
    parser = Parser(
        prog="rrsim",
        description=textwrap.fill(
            "Watch ZeroMQ distribute work over real processes; kill, pause and revive workers live.  "
            f"Without --scenario it starts {describe_defaults(TUI_DEFAULTS)}; `rrsim run` starts from "
            f"other defaults ({describe_defaults(Setup())}).", 79),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scenario", metavar="FILE|NAME", help="play a scenario's setup and timeline in the TUI")
    parser.add_argument("--keep-logs", metavar="DIR", help="copy the children's log files here at the end")
    _add_setup_options(parser, TUI_DEFAULTS, "setup options (the [setup] keys of a scenario; they override --scenario's)")
    args = parser.parse_args(argv)
    base = load_scenario(args.scenario) if args.scenario else Scenario("interactive", TUI_DEFAULTS)
    scenario = _apply(base, _setup_overrides(args), need_end=False)
    from rrsim.tui.app import run_tui

    return run_tui(scenario, _log_dir(args.keep_logs))


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


def _exit_on_signal(signum: int, _frame: object) -> None:
    # Unwind through every finally, so the engine ends its children and removes its run directory.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _exit_on_signal)
    try:
        if argv and argv[0] == "run":
            return run_command(argv[1:])
        if argv and argv[0] == "scenarios":
            return scenarios_command(argv[1:])
        if argv and argv[0] == "keys":
            from rrsim.keys import keys_command

            return keys_command(argv[1:])
        if argv and argv[0] == "worker":
            from rrsim.remote_worker import worker_command

            return worker_command(argv[1:])
        return tui_command(argv)
    except UserError as error:
        # One line, whatever the user typed into the names it quotes.
        message = str(error).replace("\r", "\\r").replace("\n", "\\n")
        print(f"rrsim: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Whoever read our standard output has gone (`| head`): end quietly, as SIGPIPE would, and
        # point stdout at /dev/null so that the interpreter's last flush does not complain.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE

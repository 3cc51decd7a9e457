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
from rrsim.scenario.actions import ACTIONS
from rrsim.scenario.scenario import TUI_DEFAULTS, Scenario, builtin_scenarios, load_scenario
from rrsim.scenario.setup import SETUP_KEYS, Setup, build_setup, check_speeds, value_from_text
from rrsim.errors import UserError

EPILOG = f"""\
patterns (--pattern):
{chr(10).join(f"  {name:<11}{patterns.load(name).SUMMARY}" for name in patterns.names())}

headless runs:
  rrsim run SCENARIO [--json REPORT] [--csv FILE] [--events EVENTS.jsonl] [--check CHECK]...
                    [setup options]          (rrsim run --help says more)
      SCENARIO is a TOML file or a built-in name: {', '.join(builtin_scenarios())}
  rrsim compare SCENARIO --vary KEY=V1,V2,... [--vary ...] [--json FILE] [--csv FILE]
                    [setup options]          (rrsim compare --help says more)
      runs the scenario once per combination of the varied setup keys, one after the other,
      and prints a table and a chart of their wait side by side
  rrsim scenarios      list the built-in scenarios

recordings:
  rrsim --record FILE or rrsim run ... --events FILE records a run (FILE.gz: compressed)
  rrsim replay FILE    watch it again: space play/pause, . , step, + - speed, g G start/end,
                       n next kill/loss/revive, j jump to a time (rrsim replay --help)

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
  takes work_ms and speed; set_rate takes rate; set_work takes work_ms.  Entries fire in order.

workloads:
  each message carries a work size drawn around work_ms (work_dist) and is sent at rate, evenly
  or as a Poisson process (arrivals), from the run's seed: the same seed, the same jobs.  A worker
  takes size x (its work_ms / the run's work_ms) / its speed: `[` / `]` and set_work change its
  work_ms, so they scale every message it gets; speeds and add_worker's speed set its speed.
  [checks] (for rrsim run) holds conditions on the report, e.g. lost = "== 0".

keys in the TUI: a add worker, k kill, t stop, r revive, p pause/resume, [ ] work x2 / x0.5,
  P add pusher, + - send rate, space hold sending, s broker strategy, m message map,
  f log of the selected worker, PgUp PgDn Home End scroll the log, 1-9 tab arrows select,
  ? help, q quit
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
        flag = _flag(key)
        default = getattr(defaults, key)
        shown = "" if default is None or default == () else f" (default: {str(default).lower() if isinstance(default, bool) else default})"
        if limit.kind is bool:
            group.add_argument(flag, dest=key, action=argparse.BooleanOptionalAction, default=None,
                               help=limit.help + shown)
        else:
            metavar = "|".join(limit.choices) if limit.choices else "S1,S2,..." if limit.kind is tuple else key.upper()
            group.add_argument(flag, dest=key, default=None, metavar=metavar, help=limit.help + shown)


def _setup_overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for key in SETUP_KEYS:
        value = getattr(args, key)
        if value is None:
            continue
        overrides[key] = value_from_text(key, value, f"option {_flag(key)}") if isinstance(value, str) else value
    return overrides


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def _apply(scenario: Scenario, overrides: dict[str, Any], need_end: bool) -> Scenario:
    setup = build_setup({}, "", base=scenario.setup, need_end=False)
    for key, value in overrides.items():
        setup = build_setup({key: value}, f"option {_flag(key)}", base=setup, need_end=False, partial=True)
    if "speeds" in overrides or "workers" in overrides:
        check_speeds(setup, "options --speeds and --workers" if "speeds" in overrides else "option --workers")
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
    from rrsim.scenario.checks import known_names, parse_check

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
    from rrsim.commands.run import run_headless

    return run_headless(scenario, _output(args.json), _output(args.events), None, _log_dir(args.keep_logs),
                        _output(args.csv))


COMPARE_EPILOG = """\
examples:
  rrsim compare busy-worker --vary pattern=push-pull,lb-broker
  rrsim compare busy-worker --pattern lb-broker --vary strategy=lru,random,p2c,round-robin --json cmp.json
  rrsim compare seed --vary workers=2,4 --vary transport=ipc,tcp --csv cmp.csv

Each --vary names a setup key (any of the setup options below, with _ or -) and the values
to try, checked as the option would be; several --vary run every combination.  A variant
that cannot run (a combination the setup refuses, such as bind = "broker" with push-pull, or
a broker's key with a pattern that has no broker) or that fails is reported in its row, and
the others still run.

The table: throughput (msgs/s), completed, lost, wait p50/p95/p99 and sojourn mean/p99 (ms),
fairness (Jain's index), and max queue: the most messages seen waiting at one worker (one
dealt messages as they are sent, as push-pull's are) or at the broker (as it reports, every
10 ms).  The chart: each variant's wait on one log-scale axis (p1 to p99.9, p25 to p75, p50, p99).

--json FILE holds every variant's full report (as rrsim run --json writes it) under
"variants", each with its varied keys under "vary"; --csv FILE one row per variant.  Either
takes - for standard output (the table then goes to stderr).  Progress goes to stderr.

exit status: 0 every variant ran, 1 a variant failed, 2 bad input (nothing ran),
  130 / 143 / 129 ended by SIGINT (ctrl+c) / SIGTERM / SIGHUP: the run in progress is ended
  and what was done so far is printed and written
"""


def compare_command(argv: Sequence[str]) -> int:
    parser = Parser(
        prog="rrsim compare",
        description="Run a scenario once per combination of varied setup keys, one after the other, each as "
                    "rrsim run plays it, and compare them: one table, and a chart of each variant's wait.  A setup "
                    f"option overrides the scenario's [setup] for every variant (defaults: {describe_defaults(Setup())}).",
        epilog=COMPARE_EPILOG,
        formatter_class=_KeepEpilogFormatter,
    )
    parser.add_argument("scenario", help="a scenario TOML file or a built-in name")
    parser.add_argument("--vary", metavar="KEY=V1,V2,...", action="append", default=[],
                        help="a setup key and the values to try; repeat for more keys (every combination runs)")
    parser.add_argument("--json", metavar="FILE", help="write every variant's report here (- for standard output)")
    parser.add_argument("--csv", metavar="FILE", help="write one row per variant here (- for standard output)")
    _add_setup_options(parser, Setup(), "setup options (override the scenario's [setup] in every variant)")
    args = parser.parse_args(argv)
    overrides = _setup_overrides(args)
    from rrsim.commands.compare import parse_vary, run_compare

    varies = parse_vary(args.vary, set(overrides))
    # Whether the run has an end is each variant's to say when what ends it is varied.
    ends_varied = any(vary.key in ("messages", "duration") for vary in varies)
    scenario = _apply(load_scenario(args.scenario), overrides, need_end=not ends_varied)
    if args.json == "-" and args.csv == "-":
        raise UserError("--json and --csv both ask for standard output (-): give one of them a file")
    return run_compare(scenario, varies, _output(args.json), _output(args.csv))


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
    parser.add_argument("--record", metavar="FILE", help="write every event to FILE (gzip if it ends in .gz) "
                                                         "for rrsim replay FILE")
    _add_setup_options(parser, TUI_DEFAULTS, "setup options (the [setup] keys of a scenario; they override --scenario's)")
    args = parser.parse_args(argv)
    base = load_scenario(args.scenario) if args.scenario else Scenario("interactive", TUI_DEFAULTS)
    scenario = _apply(base, _setup_overrides(args), need_end=False)
    from rrsim.tui.app import run_tui

    return run_tui(scenario, _log_dir(args.keep_logs), _path(args.record))


def replay_command(argv: Sequence[str]) -> int:
    parser = Parser(
        prog="rrsim replay",
        description="Watch a recorded run again in the live view, without processes: space plays and pauses, "
                    ". and , step, + and - change the speed, g and G go to the start and the end, n jumps to the "
                    "next kill, loss, revive or slow joiner, j to a time.  With --json, no view: write the "
                    "report the run wrote.",
    )
    parser.add_argument("file", metavar="FILE", help="a recording: rrsim run --events FILE, or rrsim --record FILE")
    parser.add_argument("--json", metavar="REPORT", help="write the run's report here (- for standard output) "
                                                         "instead of opening the live view")
    view = parser.add_argument_group("the live view")
    view.add_argument("--speed", metavar="X", help="play at X times real time, 0.1 to 100, or max (default: 1)")
    view.add_argument("--at", metavar="TIME", help="begin at this time of the run: seconds (12.5 or 12.5s) or m:ss "
                                                    "(1:05); past the end, at the end")
    view.add_argument("--paused", action="store_true", help="begin paused (space plays)")
    args = parser.parse_args(argv)
    from rrsim.recording.player import TIME_FORMS, parse_speed, parse_time

    speed = 1.0 if args.speed is None else parse_speed(args.speed)
    if speed is None:
        raise UserError(f"--speed {args.speed}: not a speed: a number from 0.1 to 100 (times real time), or max")
    at_s = None if args.at is None else parse_time(args.at)
    if args.at is not None and at_s is None:
        raise UserError(f"--at {args.at}: not a time: {TIME_FORMS}")
    if args.json is not None and (args.speed, args.at, args.paused) != (None, None, False):
        raise UserError("--speed, --at and --paused are for the live view: --json writes the whole run's report")
    from rrsim.recording.file import RecordingFile

    recording = RecordingFile(args.file)
    if args.json is not None:
        from rrsim.commands.run import report_recording

        return report_recording(recording, _output(args.json))
    from rrsim.tui.app import run_replay

    return run_replay(recording, speed, at_s, paused=args.paused)


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
        if argv and argv[0] == "replay":
            return replay_command(argv[1:])
        if argv and argv[0] == "compare":
            return compare_command(argv[1:])
        if argv and argv[0] == "scenarios":
            return scenarios_command(argv[1:])
        if argv and argv[0] == "keys":
            from rrsim.remote.keys import keys_command

            return keys_command(argv[1:])
        if argv and argv[0] == "worker":
            from rrsim.remote.worker import worker_command

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

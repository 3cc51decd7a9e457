"""``rrsim run``: play a scenario without the TUI, show progress, print and save the report.

Progress goes to stdout only on a terminal that nothing else writes to, else to stderr; the
summary goes to stdout unless the report, the CSV or the events were sent there (``-``)."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from rrsim.commands.interrupt import Interruption
from rrsim.commands.parser import (
    KeepEpilogFormatter,
    Parser,
    add_setup_options,
    apply_overrides,
    describe_defaults,
    log_dir,
    output_path,
    setup_overrides,
    with_checks,
)
from rrsim.endpoints import is_loopback, join_label
from rrsim.engine.engine import Engine
from rrsim.errors import UserError
from rrsim.events import QUIT
from rrsim.model.model import Model
from rrsim.recording.file import (
    EventRecorder,
    RecordingFile,
    scenario_of,
    truncation_note,
)
from rrsim.recording.outputs import (
    STDOUT,
    Output,
    open_output,
)
from rrsim.recording.player import play_all
from rrsim.report.checking import Outcome, evaluate
from rrsim.report.csv_report import write_csv
from rrsim.report.figures import run_figures
from rrsim.report.report import (
    build_report,
    handover_line,
    summary_table,
    theory_block,
    theory_line,
    totals_line,
)
from rrsim.report.timeline_summary import timeline_lines
from rrsim.scenario.scenario import TUI_DEFAULTS, Scenario, load_scenario
from rrsim.scenario.setup import Setup

PROGRESS_EVERY_S = 1.0


def consoles(stdout_taken: bool) -> tuple[Console, Console]:
    """(progress, summary): see the module's docstring."""
    out, err = Console(), Console(stderr=True)
    progress = out if out.is_terminal and not stdout_taken else err
    return progress, err if stdout_taken else out


def _progress(engine: Engine) -> str:
    with engine.lock:
        model = engine.model
        totals = model.totals()
        per_worker = "  ".join(f"{w.name}:{w.received}({w.state})" for w in model.workers.values())
        return (
            f"{model.elapsed_s():6.1f}s  sent {totals.sent}  delivered {totals.delivered}  "
            f"in flight {totals.in_flight}  lost {totals.lost}  |  {per_worker}"
        )


def _live_view(engine: Engine) -> RenderableType:
    """What a terminal shows during the run: a bar of messages sent and a line per worker."""
    with engine.lock:
        model = engine.model
        totals = model.totals()
        target = engine.setup.messages * len(model.pushers)
        view = Table.grid(padding=(0, 1))
        sent = f"{totals.sent}/{target} sent" if target else f"{totals.sent} sent"
        view.add_row(ProgressBar(total=target or None, completed=totals.sent, width=40),
                     Text(f"{sent}  {model.elapsed_s():.1f} s"))
        line = (f"delivered {totals.delivered}  in flight {totals.in_flight}  lost {totals.lost}  "
                f"late {totals.late}")
        workers = Table.grid(padding=(0, 2))
        for worker in model.workers.values():
            workers.add_row(worker.name, worker.state, str(worker.received), f"{worker.rate(model.now_ns):.0f}/s")
        return Group(view, Text(line), workers)


def endpoint_lines(endpoints: dict[str, str], width: int | None) -> list[str]:
    """The endpoints on one line if it fits a terminal ``width`` wide (None: not a terminal), else
    one a line: a terminal that wraps the line itself would cut a path in two."""
    pairs = [f"{name} {endpoint}" for name, endpoint in endpoints.items()]
    line = f"endpoints: {'  '.join(pairs)}"
    if width is None or len(line) <= width or len(pairs) < 2:
        return [line]
    return ["endpoints:", *(f"  {pair}" for pair in pairs)]


def _play(engine: Engine, console: Console, stop: Callable[[], bool] = lambda: False,
          status: Callable[[], str] | None = None) -> None:
    """Step the engine to the end (or until ``stop()``), showing progress: live on a terminal, a
    line a second otherwise; each after ``status()``, if given."""
    def view() -> RenderableType:
        return _live_view(engine) if status is None else Group(Text(status()), _live_view(engine))

    def line() -> str:
        return _progress(engine) if status is None else f"{status()}  {_progress(engine)}"

    for text in endpoint_lines(engine.endpoints, console.width if console.is_terminal else None):
        console.print(text, highlight=False, markup=False, soft_wrap=True)
    if engine.listener is not None:
        label = join_label(is_loopback(engine.listener.host))
        console.print(f"{label}{engine.listener.join_line()}", highlight=False,
                      markup=False, soft_wrap=True)
    if console.is_terminal:
        with Live(view(), console=console, refresh_per_second=8, transient=True) as live:
            next_view = time.monotonic()
            while not engine.finished and not stop():
                engine.step(10)
                if time.monotonic() >= next_view:
                    live.update(view())
                    next_view += 1 / 8
    else:
        next_line = time.monotonic()
        while not engine.finished and not stop():
            engine.step(10)
            if time.monotonic() >= next_line:
                console.print(line(), highlight=False, soft_wrap=True)
                next_line += PROGRESS_EVERY_S


def play(engine: Engine, scenario: Scenario, progress: Console, interruption: Interruption,
         status: Callable[[], str] | None = None) -> dict[str, Any]:
    """Start ``engine``, play it to its end or to a signal, close it, and return its report.
    ``status`` says where the caller is (shown before each progress line)."""
    try:
        if not interruption.interrupted:
            engine.start()
            _play(engine, progress, lambda: interruption.interrupted, status)
        if interruption.interrupted:
            progress.print(f"{interruption.signal_name}: ending the run and reporting what happened so far",
                           highlight=False)
    finally:
        engine.close(stopped_by=interruption.signal_name)
    return scenario_report(engine.model, scenario, interruption.interrupted)


def run_headless(scenario: Scenario, json_path: Path | str | None, events_path: Path | str | None,
                 console: Console | None = None, keep_logs: Path | None = None,
                 csv_path: Path | str | None = None, html_path: Path | str | None = None) -> int:
    """Play ``scenario`` to its end or to a signal; an output path of ``-`` is standard output.

    Returns the exit code: 0, 1 if a check failed, 128 + the signal's number if one ended the run."""
    paths = {"--json": json_path, "--csv": csv_path, "--events": events_path, "--html": html_path}
    progress, summary = consoles(STDOUT in paths.values()) if console is None else (console, console)
    outputs: dict[str, Output] = {}
    engine: Engine | None = None
    recorder: EventRecorder | None = None
    with Interruption() as interruption:
        try:
            for option, path in paths.items():
                if path is not None:
                    outputs[option] = open_output(path, option)
            engine = Engine(scenario.setup, scenario.timeline, keep_logs=keep_logs)
            if "--events" in outputs:
                recorder = EventRecorder(outputs["--events"].stream, dataclasses.replace(scenario, setup=engine.setup))
                engine.subscribe(recorder)
            report = play(engine, scenario, progress, interruption)
            outcomes = check(report, scenario)
            if "--json" in outputs:
                write_report(report, outputs["--json"])
            if "--csv" in outputs:
                write_csv(report, outputs["--csv"].stream)
                outputs["--csv"].keep()
            if "--html" in outputs:
                write_html(engine.model, report, outputs["--html"], "run")
        finally:
            # The events of a run that started are worth keeping, even after a crash.
            try:
                if recorder is not None:
                    recorder.close()  # every event written before the file is kept (or discarded)
                if "--events" in outputs and engine is not None and engine.model.started_ns is not None:
                    outputs["--events"].keep()
            finally:
                for output in outputs.values():
                    output.discard()  # a no-op for one already kept
        _print_summary(summary, scenario, report, outcomes)
    if interruption.interrupted:
        return interruption.exit_code
    return 1 if any(not outcome.passed for outcome in outcomes) else 0


def scenario_report(model: Model, scenario: Scenario, interrupted: bool) -> dict[str, Any]:
    """The report of a run of ``scenario`` folded into ``model``, its checks not yet evaluated."""
    report = build_report(model)
    report["scenario"] = scenario.name
    report["interrupted"] = interrupted
    report["ended_with_q"] = model.stopped_by == QUIT  # the live view's end: neither drained nor interrupted
    # A timeline changes the run as it goes: theory's answer is for one that stays as it started.
    report["theory"] = None if scenario.timeline or interrupted else theory_block(model)
    return report


def check(report: dict[str, Any], scenario: Scenario) -> list[Outcome]:
    """Evaluate the scenario's checks on ``report`` and write how they came out into it."""
    # An interrupted run has not drained: checks on it would judge half a run.
    outcomes = [] if report["interrupted"] or report["ended_with_q"] else evaluate(scenario.checks, report)
    report["checks"] = [outcome.to_json() for outcome in outcomes]
    return outcomes


def run_report(model: Model, scenario: Scenario, interrupted: bool) -> tuple[dict[str, Any], list[Outcome]]:
    """The whole report of a run folded into ``model``, and how its scenario's checks came out."""
    report = scenario_report(model, scenario, interrupted)
    return report, check(report, scenario)


def report_recording(recording: RecordingFile, json_path: Path | str | None,
                     html_path: Path | str | None = None) -> int:
    """``rrsim replay FILE --json REPORT --html PAGE``: the report the recorded run wrote, from its
    events alone, as JSON, as an HTML page, or both.

    Returns the exit code the run had: 1 if a check of its scenario failed, else 0."""
    paths = {"--json": json_path, "--html": html_path}
    outputs: dict[str, Output] = {}
    try:
        for option, path in paths.items():
            if path is not None:
                outputs[option] = open_output(path, option)
        return _report_recording(recording, outputs, STDOUT in paths.values())
    finally:
        for output in outputs.values():
            output.discard()  # a no-op for one already kept


def _report_recording(recording: RecordingFile, outputs: dict[str, Output], stdout_taken: bool) -> int:
    scenario = scenario_of(recording)
    model = play_all(event for _, event in recording.read())  # one at a time: a long recording is never all in memory
    if recording.truncated:
        print(f"rrsim: {truncation_note(recording.path, model.version)}", file=sys.stderr)
    # A run that was interrupted never drained; neither did one whose recording was cut off.  One
    # ended with q in the live view did not drain either, and was not interrupted: it ended as asked.
    report, outcomes = run_report(model, scenario, interrupted=not model.drained and model.stopped_by != QUIT)
    if "--json" in outputs:
        write_report(report, outputs["--json"])
    if "--html" in outputs:
        write_html(model, report, outputs["--html"], f"replay of {Path(recording.path).name}")
    _print_summary(consoles(stdout_taken)[1], scenario, report, outcomes)
    return 1 if any(not outcome.passed for outcome in outcomes) else 0


def write_report(report: dict[str, Any], output: Output) -> None:
    json.dump(report, output.stream, indent=2)
    output.stream.write("\n")
    output.keep()


def write_html(model: Model, report: dict[str, Any], output: Output, what: str) -> None:
    """The run's HTML report (``what`` it was: a run, a replay of FILE) to ``output``."""
    # Deferred for start-up speed: the page's charts need matplotlib, slow to import, and only --html does.
    from rrsim.report.html_report import run_page

    output.stream.write(run_page(report, run_figures(model, report), what))
    output.keep()


def _print_summary(console: Console, scenario: Scenario, report: dict[str, Any], outcomes: list[Outcome]) -> None:
    setup = scenario.setup
    transport = report["setup"].get("transport", setup.transport)  # as run: listening makes it tcp
    console.print(f"scenario {scenario.name}: {setup.pattern}, {transport}, bind={setup.bind}, "
                  f"seed {report['seed']}", highlight=False)
    lines = timeline_lines(report)
    if lines:
        console.print("timeline", highlight=False)
        for line in lines:
            console.print(line, highlight=False, markup=False, soft_wrap=True)
    console.print(summary_table(report))
    console.print(totals_line(report), highlight=False)
    if (handover := handover_line(report)) is not None:
        console.print(handover, highlight=False, soft_wrap=True)
    if report.get("theory"):
        console.print(theory_line(report), highlight=False, soft_wrap=True)
    if report["lost_ids"]:
        shown = ", ".join(report["lost_ids"][:20])
        more = f" and {report['totals']['lost'] - 20} more" if report["totals"]["lost"] > 20 else ""
        console.print(f"lost: {shown}{more}", highlight=False)
    if report["interrupted"] or report.get("ended_with_q"):
        how = "ended with q" if report.get("ended_with_q") else "interrupted"
        console.print(f"{how} after {report['elapsed_s']:.2f} s: these are the figures until then "
                      "(what was in flight was not waited for)", highlight=False, soft_wrap=True)
        if scenario.checks:
            console.print(f"checks not evaluated: the run did not drain ({how}; {len(scenario.checks)} given)",
                          highlight=False)
        return
    passed = [str(outcome.check) for outcome in outcomes if outcome.passed]
    if passed:
        console.print(f"checks passed: {', '.join(passed)}", highlight=False, markup=False, soft_wrap=True)
    for outcome in outcomes:
        if not outcome.passed:
            console.print(f"check failed: {outcome.describe()}", highlight=False, markup=False, soft_wrap=True)


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
        formatter_class=KeepEpilogFormatter,
    )
    parser.add_argument("scenario", help="a scenario TOML file or a built-in name")
    parser.add_argument("--json", metavar="REPORT", help="write the JSON report here (- for standard output)")
    parser.add_argument("--csv", metavar="FILE", help="write one row per worker life here (- for standard output)")
    parser.add_argument("--html", metavar="PAGE",
                        help="write the report as one HTML page with charts here (opens offline; - for standard output)")
    parser.add_argument("--events", metavar="EVENTS",
                        help="write every engine event here, one JSON line each (- for standard output)")
    parser.add_argument("--check", metavar="CHECK", action="append", default=[],
                        help="a condition the report must meet, e.g. 'lost == 0' or 'p99_ms < 50'; repeatable")
    parser.add_argument("--keep-logs", metavar="DIR", help="copy the children's log files here at the end")
    add_setup_options(parser, Setup(), "setup options (override the scenario's [setup])")
    args = parser.parse_args(argv)
    scenario = apply_overrides(load_scenario(args.scenario), setup_overrides(args), need_end=True)
    scenario = with_checks(scenario, args.check)
    to_stdout = [option for option in ("--json", "--csv", "--events", "--html") if getattr(args, option[2:]) == "-"]
    if len(to_stdout) > 1:
        raise UserError(f"{' and '.join(to_stdout)} both ask for standard output (-): give one of them a file")
    return run_headless(scenario, output_path(args.json), output_path(args.events), None, log_dir(args.keep_logs),
                        output_path(args.csv), output_path(args.html))

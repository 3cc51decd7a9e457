"""``rrsim run``: play a scenario without the TUI, show progress, print and save the report.

Progress goes to stdout only on a terminal that nothing else writes to, else to stderr; the
summary goes to stdout unless the report, the CSV or the events were sent there (``-``)."""

from __future__ import annotations

import dataclasses

import io
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Callable

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from rrsim.report.checking import Outcome, evaluate
from rrsim.scenario.scenario import Scenario
from rrsim.report.csv_report import write_csv
from rrsim.engine.engine import Engine
from rrsim.errors import UserError
from rrsim.commands.interrupt import Interruption
from rrsim.model.model import Model
from rrsim.recording.file import EventRecorder, RecordingFile, compressed, gzip_text, scenario_of, truncation_note
from rrsim.recording.player import play_all
from rrsim.report.report import build_report, summary_table, theory_block, theory_line, totals_line
from rrsim.report.timeline_summary import timeline_lines

PROGRESS_EVERY_S = 1.0
STDOUT = "-"  # as an output path: standard output


class OutputFile:
    """A file written beside its final path and moved there by ``keep()``, so that a run that
    fails to start never clobbers the report or events of an earlier one."""

    def __init__(self, path: Path, option: str) -> None:
        self.path = path
        if path.is_dir():
            raise UserError(f"{option} {path}: is a directory")
        try:
            fd, self.part = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        except OSError as error:
            raise UserError(f"{option} {path}: cannot write there: {error.strerror}") from None
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(fd, 0o666 & ~umask)  # as open() would make it, not mkstemp's 0600
        self.stream: IO[str] = gzip_text(os.fdopen(fd, "wb")) if compressed(path) else os.fdopen(fd, "w", encoding="utf-8")

    def keep(self) -> None:
        self.stream.close()
        os.replace(self.part, self.path)

    def discard(self) -> None:
        if not self.stream.closed:  # kept already: nothing to discard
            self.stream.close()
            Path(self.part).unlink(missing_ok=True)


class StandardOutput:
    """Standard output as an output file: written as it comes, nothing to move or remove."""

    def __init__(self) -> None:
        self.stream: IO[str] = sys.stdout

    def keep(self) -> None:
        self.stream.flush()

    def discard(self) -> None:
        pass


class StreamOutput:
    """A device or a pipe (``/dev/null``, ``/dev/stderr``, a FIFO): written as it comes.  Moving a
    finished file onto it would replace the device itself with a plain file."""

    def __init__(self, path: Path, option: str) -> None:
        try:
            raw = open(path, "wb")  # noqa: SIM115 - closed by keep() or discard()
        except OSError as error:
            raise UserError(f"{option} {path}: cannot write there: {error.strerror}") from None
        self.stream: IO[str] = gzip_text(raw) if compressed(path) else io.TextIOWrapper(raw, encoding="utf-8")

    def keep(self) -> None:
        self.stream.close()

    def discard(self) -> None:
        self.stream.close()


Output = OutputFile | StandardOutput | StreamOutput


def open_output(path: Path | str, option: str) -> Output:
    if path == STDOUT:
        return StandardOutput()
    path = Path(path)
    if path.exists() and not path.is_file() and not path.is_dir():
        return StreamOutput(path, option)
    # A link to a report is followed: the report is replaced where it lives, the link kept.
    return OutputFile(path.resolve() if path.is_symlink() else path, option)


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


def _play(engine: Engine, console: Console, stop: Callable[[], bool] = lambda: False,
          status: Callable[[], str] | None = None) -> None:
    """Step the engine to the end (or until ``stop()``), showing progress: live on a terminal, a
    line a second otherwise; each after ``status()``, if given."""
    def view() -> RenderableType:
        return _live_view(engine) if status is None else Group(Text(status()), _live_view(engine))

    def line() -> str:
        return _progress(engine) if status is None else f"{status()}  {_progress(engine)}"

    shown = "  ".join(f"{name} {endpoint}" for name, endpoint in engine.endpoints.items())
    console.print(f"endpoints: {shown}", highlight=False, soft_wrap=True)
    if engine.listener is not None:
        console.print(f"to join from another machine: {engine.listener.join_line()}", highlight=False,
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
         status: Callable[[], str] | None = None) -> dict:
    """Start ``engine``, play it to its end or to a signal, close it, and return its report.
    ``status`` says where the caller is (shown before each progress line)."""
    try:
        if not interruption.interrupted:
            engine.start()
            _play(engine, progress, lambda: interruption.interrupted, status)
        if interruption.interrupted:
            name = signal.Signals(interruption.signum).name
            progress.print(f"{name}: ending the run and reporting what happened so far", highlight=False)
    finally:
        engine.close()
    return scenario_report(engine.model, scenario, interruption.interrupted)


def run_headless(scenario: Scenario, json_path: Path | str | None, events_path: Path | str | None,
                 console: Console | None = None, keep_logs: Path | None = None,
                 csv_path: Path | str | None = None) -> int:
    """Play ``scenario`` to its end or to a signal; an output path of ``-`` is standard output.

    Returns the exit code: 0, 1 if a check failed, 128 + the signal's number if one ended the run."""
    paths = {"--json": json_path, "--csv": csv_path, "--events": events_path}
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


def scenario_report(model: Model, scenario: Scenario, interrupted: bool) -> dict:
    """The report of a run of ``scenario`` folded into ``model``, its checks not yet evaluated."""
    report = build_report(model)
    report["scenario"] = scenario.name
    report["interrupted"] = interrupted
    # A timeline changes the run as it goes: theory's answer is for one that stays as it started.
    report["theory"] = None if scenario.timeline or interrupted else theory_block(model)
    return report


def check(report: dict, scenario: Scenario) -> list[Outcome]:
    """Evaluate the scenario's checks on ``report`` and write how they came out into it."""
    # An interrupted run has not drained: checks on it would judge half a run.
    outcomes = [] if report["interrupted"] else evaluate(scenario.checks, report)
    report["checks"] = [outcome.to_json() for outcome in outcomes]
    return outcomes


def run_report(model: Model, scenario: Scenario, interrupted: bool) -> tuple[dict, list[Outcome]]:
    """The whole report of a run folded into ``model``, and how its scenario's checks came out."""
    report = scenario_report(model, scenario, interrupted)
    return report, check(report, scenario)


def report_recording(recording: RecordingFile, json_path: Path | str) -> int:
    """``rrsim replay FILE --json REPORT``: the report the recorded run wrote, from its events alone.

    Returns the exit code the run had: 1 if a check of its scenario failed, else 0."""
    scenario = scenario_of(recording)
    model = play_all(event for _, event in recording.read())  # one at a time: a long recording is never all in memory
    if recording.truncated:
        print(f"rrsim: {truncation_note(recording.path, model.version)}", file=sys.stderr)
    # A run that was interrupted never drained; neither did one whose recording was cut off.
    report, outcomes = run_report(model, scenario, interrupted=not model.drained)
    output = open_output(json_path, "--json")
    try:
        write_report(report, output)
    finally:
        output.discard()
    _print_summary(consoles(json_path == STDOUT)[1], scenario, report, outcomes)
    return 1 if any(not outcome.passed for outcome in outcomes) else 0


def write_report(report: dict, output: OutputFile | StandardOutput) -> None:
    json.dump(report, output.stream, indent=2)
    output.stream.write("\n")
    output.keep()


def _print_summary(console: Console, scenario: Scenario, report: dict, outcomes: list[Outcome]) -> None:
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
    if report.get("theory"):
        console.print(theory_line(report), highlight=False, soft_wrap=True)
    if report["lost_ids"]:
        shown = ", ".join(report["lost_ids"][:20])
        more = f" and {report['totals']['lost'] - 20} more" if report["totals"]["lost"] > 20 else ""
        console.print(f"lost: {shown}{more}", highlight=False)
    if report["interrupted"]:
        console.print(f"interrupted after {report['elapsed_s']:.2f} s: these are the figures until then "
                      "(what was in flight was not waited for)", highlight=False, soft_wrap=True)
        if scenario.checks:
            console.print(f"checks not evaluated: the run was interrupted ({len(scenario.checks)} given)",
                          highlight=False)
        return
    passed = [str(outcome.check) for outcome in outcomes if outcome.passed]
    if passed:
        console.print(f"checks passed: {', '.join(passed)}", highlight=False, markup=False, soft_wrap=True)
    for outcome in outcomes:
        if not outcome.passed:
            console.print(f"check failed: {outcome.describe()}", highlight=False, markup=False, soft_wrap=True)

"""``rrsim run``: play a scenario without the TUI, show progress, print and save the report.

Progress goes to stdout only on a terminal that nothing else writes to, else to stderr; the
summary goes to stdout unless the report, the CSV or the events were sent there (``-``)."""

from __future__ import annotations

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

from rrsim import events as ev
from rrsim.checks import Outcome, evaluate
from rrsim.config import Scenario
from rrsim.csv_report import write_csv
from rrsim.engine import Engine
from rrsim.errors import UserError
from rrsim.interrupt import Interruption
from rrsim.report import build_report, summary_table, totals_line
from rrsim.timeline_summary import timeline_lines

PROGRESS_EVERY_S = 1.0
STDOUT = "-"  # as an output path: standard output


class EventRecorder:
    """Writes every engine event as one JSON line, with ``t_s``: seconds since the run started."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.started_ns: int | None = None

    def __call__(self, event: ev.Event) -> None:
        if self.started_ns is None and isinstance(event, ev.RunStarted):
            self.started_ns = event.t_ns
        fields = event.to_json()
        t_s = None if self.started_ns is None else round((event.t_ns - self.started_ns) / 1e9, 6)
        line = {"event": fields.pop("event"), "t_s": t_s, **fields}
        self.stream.write(json.dumps(line, separators=(",", ":")) + "\n")


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
        self.stream: IO[str] = os.fdopen(fd, "w", encoding="utf-8")

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


def open_output(path: Path | str, option: str) -> OutputFile | StandardOutput:
    return StandardOutput() if path == STDOUT else OutputFile(Path(path), option)


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


def _play(engine: Engine, console: Console, stop: Callable[[], bool] = lambda: False) -> None:
    """Step the engine to the end (or until ``stop()``), showing progress: live on a terminal, a
    line a second otherwise."""
    shown = "  ".join(f"{name} {endpoint}" for name, endpoint in engine.endpoints.items())
    console.print(f"endpoints: {shown}", highlight=False, soft_wrap=True)
    if engine.listener is not None:
        console.print(f"to join from another machine: {engine.listener.join_line()}", highlight=False,
                      markup=False, soft_wrap=True)
    if console.is_terminal:
        with Live(_live_view(engine), console=console, refresh_per_second=8, transient=True) as live:
            next_view = time.monotonic()
            while not engine.finished and not stop():
                engine.step(10)
                if time.monotonic() >= next_view:
                    live.update(_live_view(engine))
                    next_view += 1 / 8
    else:
        next_line = time.monotonic()
        while not engine.finished and not stop():
            engine.step(10)
            if time.monotonic() >= next_line:
                console.print(_progress(engine), highlight=False, soft_wrap=True)
                next_line += PROGRESS_EVERY_S


def run_headless(scenario: Scenario, json_path: Path | str | None, events_path: Path | str | None,
                 console: Console | None = None, keep_logs: Path | None = None,
                 csv_path: Path | str | None = None) -> int:
    """Play ``scenario`` to its end or to a signal; an output path of ``-`` is standard output.

    Returns the exit code: 0, 1 if a check failed, 128 + the signal's number if one ended the run."""
    paths = {"--json": json_path, "--csv": csv_path, "--events": events_path}
    progress, summary = consoles(STDOUT in paths.values()) if console is None else (console, console)
    outputs: dict[str, OutputFile | StandardOutput] = {}
    started = False
    with Interruption() as interruption:
        try:
            for option, path in paths.items():
                if path is not None:
                    outputs[option] = open_output(path, option)
            engine = Engine(scenario.setup, scenario.timeline, keep_logs=keep_logs)
            if "--events" in outputs:
                engine.subscribe(EventRecorder(outputs["--events"].stream))
            try:
                if not interruption.interrupted:
                    engine.start()
                    started = True
                    _play(engine, progress, lambda: interruption.interrupted)
                if interruption.interrupted:
                    name = signal.Signals(interruption.signum).name
                    progress.print(f"{name}: ending the run and reporting what happened so far", highlight=False)
            finally:
                engine.close()
            report = build_report(engine.model)
            report["scenario"] = scenario.name
            report["interrupted"] = interruption.interrupted
            # An interrupted run has not drained: checks on it would judge half a run.
            outcomes = [] if interruption.interrupted else evaluate(scenario.checks, report)
            report["checks"] = [outcome.to_json() for outcome in outcomes]
            if "--json" in outputs:
                json.dump(report, outputs["--json"].stream, indent=2)
                outputs["--json"].stream.write("\n")
                outputs["--json"].keep()
            if "--csv" in outputs:
                write_csv(report, outputs["--csv"].stream)
                outputs["--csv"].keep()
        finally:
            # The events of a run that started are worth keeping, even after a crash.
            if "--events" in outputs and started:
                outputs["--events"].keep()
            for output in outputs.values():
                output.discard()  # a no-op for one already kept
        _print_summary(summary, scenario, report, outcomes)
    if interruption.interrupted:
        return interruption.exit_code
    return 1 if any(not outcome.passed for outcome in outcomes) else 0


def _print_summary(console: Console, scenario: Scenario, report: dict, outcomes: list[Outcome]) -> None:
    setup = scenario.setup
    transport = report["setup"].get("transport", setup.transport)  # as run: listening makes it tcp
    console.print(f"scenario {scenario.name}: {setup.pattern}, {transport}, bind={setup.bind}", highlight=False)
    lines = timeline_lines(report)
    if lines:
        console.print("timeline", highlight=False)
        for line in lines:
            console.print(line, highlight=False, markup=False, soft_wrap=True)
    console.print(summary_table(report))
    console.print(totals_line(report), highlight=False)
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

"""``rrsim run``: play a scenario without the TUI, show progress, print and save the report."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from rrsim import events as ev
from rrsim.config import Scenario
from rrsim.engine import Engine
from rrsim.errors import UserError
from rrsim.report import build_report, summary_table, totals_line

PROGRESS_EVERY_S = 1.0


class EventRecorder:
    """Writes every engine event as one JSON line."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def __call__(self, event: ev.Event) -> None:
        self.stream.write(json.dumps(event.to_json(), separators=(",", ":")) + "\n")


def _open_for_writing(path: Path, what: str) -> IO[str]:
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as error:
        raise UserError(f"{what} {path}: cannot write: {error.strerror}") from None


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


def run_headless(scenario: Scenario, json_path: Path | None, events_path: Path | None,
                 console: Console, keep_logs: Path | None = None) -> int:
    report_stream = _open_for_writing(json_path, "--json") if json_path else None
    events_stream = _open_for_writing(events_path, "--events") if events_path else None
    try:
        engine = Engine(scenario.setup, scenario.timeline, keep_logs=keep_logs)
        if events_stream:
            engine.subscribe(EventRecorder(events_stream))
        try:
            engine.start()
            shown = "  ".join(f"{name} {endpoint}" for name, endpoint in engine.endpoints.items())
            console.print(f"endpoints: {shown}", highlight=False, soft_wrap=True)
            if console.is_terminal:
                with Live(_live_view(engine), console=console, refresh_per_second=8, transient=True) as live:
                    next_view = time.monotonic()
                    while not engine.finished:
                        engine.step(10)
                        if time.monotonic() >= next_view:
                            live.update(_live_view(engine))
                            next_view += 1 / 8
            else:
                next_line = time.monotonic()
                while not engine.finished:
                    engine.step(10)
                    if time.monotonic() >= next_line:
                        console.print(_progress(engine), highlight=False, soft_wrap=True)
                        next_line += PROGRESS_EVERY_S
        finally:
            engine.close()
        report = build_report(engine.model)
        report["scenario"] = scenario.name
        if report_stream:
            json.dump(report, report_stream, indent=2)
            report_stream.write("\n")
    finally:
        for stream in (report_stream, events_stream):
            if stream:
                stream.close()
    console.print(f"scenario {scenario.name}: {scenario.setup.pattern}, {scenario.setup.transport}, "
                  f"bind={scenario.setup.bind}", highlight=False)
    console.print(summary_table(report))
    console.print(totals_line(report), highlight=False)
    if report["lost_ids"]:
        shown = ", ".join(report["lost_ids"][:20])
        more = f" and {report['totals']['lost'] - 20} more" if report["totals"]["lost"] > 20 else ""
        console.print(f"lost: {shown}{more}", highlight=False)
    return 0

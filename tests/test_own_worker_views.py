"""What the report and the tiles say of a user's program (worker_cmd), on a pretend run: only when a
message came back is seen, so its figures are sojourn, and wait and service are said not measured."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

from rich.console import Console
from textual.widgets import Static

from rrsim import events as ev
from rrsim.errors import UserError
from rrsim.model.model import Model
from rrsim.report.report import build_report, summary_table
from rrsim.report.wording import describe
from rrsim.scenario.scenario import TUI_DEFAULTS
from rrsim.tui.app import RrsimApp
from rrsim.tui.source import StaticRun
from rrsim.tui.widgets.worker_tile import WorkerTile
from tests.scenes import Script

PROGRAM = "python3 worker.py"


def own_run() -> Script:
    return Script(replace(TUI_DEFAULTS, worker_cmd=PROGRAM, workers=2)).start().run(3.0)


def test_the_report_leaves_a_programs_wait_and_service_null_with_the_reason_and_gives_its_sojourn() -> None:
    report = build_report(own_run().model)
    for worker in report["workers"]:
        assert worker["program"] == PROGRAM
        assert worker["latency_ms"] == {"p50": None, "p95": None, "p99": None}  # a wait, which is not seen
        assert worker["service_ms"] is None and worker["busy_fraction"] is None
        assert set(worker["not_measured"]) == {"latency_ms", "service_ms", "busy_fraction"}
        assert "only sojourn (sent to done)" in worker["not_measured_why"]
        assert worker["sojourn_ms"]["p50"] > 0
    assert report["wait_ms"]["p50"] is None and report["wait_left_out"]["workers"] == ["w1", "w2"]
    console = Console(width=200, record=True)
    console.print(summary_table(report))
    assert "w1 w2: p50-p99 are sojourn (sent to done)" in console.export_text()


def test_rrsims_own_workers_keep_their_wait_and_service() -> None:
    report = build_report(Script().start().run(3.0).model)
    assert report["workers"][0]["latency_ms"]["p50"] > 0 and report["workers"][0]["service_ms"] is not None
    assert "not_measured" not in report["workers"][0] and "wait_left_out" not in report


def test_a_programs_tile_says_its_latency_is_sojourn_and_its_wait_and_service_are_not_measured() -> None:
    model = own_run().model

    async def tile_text() -> str:
        app = RrsimApp(StaticRun(model, False))
        async with app.run_test(size=(80, 30)) as pilot:
            await pilot.pause()
            return app.screen.query_one("#tile-w1", WorkerTile).render().plain

    text = asyncio.run(tile_text())
    assert "sojourn" in text and "not measured" in text, text
    assert "work " not in text, text


class OutputRun(StaticRun):
    """Answers o as the engine would for a worker running the user's program."""

    def request(self, command: str, *args: Any) -> Future[Any]:
        super().request(command, *args)
        future: Future[Any] = Future()
        if command == "output" and args == ("w2",):
            future.set_result(("reading config", "connected to the pusher"))
        else:
            future.set_exception(UserError(f"{args[0]} is rrsim's own worker: o shows the output of your program"))
        return future


def _screen_after(keys: list[str]) -> tuple[OutputRun, str]:
    source = OutputRun(own_run().model)

    async def press() -> str:
        app = RrsimApp(source)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await pilot.press(*keys)
            await pilot.pause()
            screen = app.screen
            shown = [str(static.render()) for static in screen.query(Static)]
            notes = [str(note.message) for note in app._notifications]
            return "\n".join(shown + notes)

    return source, asyncio.run(press())


def test_o_shows_the_selected_workers_program_output_and_escape_closes_it() -> None:
    source, shown = _screen_after(["2", "o"])
    assert source.requests == [("output", ("w2",))]
    assert "w2: the last 2 lines of its program's stdout and stderr" in shown and "connected to the pusher" in shown


def test_o_on_a_worker_without_a_program_says_why_in_one_line() -> None:
    _, shown = _screen_after(["1", "o"])
    assert "w1 is rrsim's own worker: o shows the output of your program" in shown
    assert "last" not in shown  # no output screen


def test_a_revived_broker_names_only_the_programs_that_spoke_to_the_broker_before_it():
    model = Model()
    model.apply(ev.RunStarted(0, {"pattern": "lb-broker", "worker_cmd": "python3 lbworker.py"}, {}))
    model.apply(ev.ProcessStarted(1, "b1", "broker", 1, 10, kind="router"))
    for name, pid in (("w1", 11), ("w2", 12), ("w3", 13)):
        model.apply(ev.ProcessStarted(2, name, "worker", 1, pid, links_to=("broker",), program="python3 lbworker.py"))
    model.apply(ev.ProcessEnded(3, "w3", 1, "killed", -9))  # dead: nothing of it waits
    model.apply(ev.ProcessEnded(4, "b1", 1, "killed", -9))
    model.apply(ev.ProcessStarted(5, "w2", "worker", 2, 14, links_to=("broker",), program="python3 lbworker.py"))
    assert not [entry for entry in model.log if entry.what == "reqs-stuck"]
    model.apply(ev.ProcessStarted(6, "b1", "broker", 2, 15, kind="router"))
    # w2's second life started while no broker ran: its READY waits for the new one.
    [line] = [describe(entry) for entry in model.log if entry.what == "reqs-stuck"]
    assert line.startswith("b1 is back, but w1's program said READY on a REQ to the b1 before"), line
    assert line.endswith("kill (k) and revive (r) w1 to get it going"), line

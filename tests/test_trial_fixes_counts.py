"""Counts that disagreed (issue 24 item 10), on fixed events: every number said about one life
or one run, in the log, the report, the CSV and a replay's summary, is the same number."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import pytest

from rrsim import events as ev
from rrsim.commands.run import endpoint_lines, report_recording
from rrsim.model.model import Model
from rrsim.recording.file import EventRecorder, RecordingFile
from rrsim.report.csv_report import write_csv
from rrsim.report.report import build_report
from rrsim.report.timeline_summary import timeline_lines
from rrsim.report.wording import describe
from rrsim.scenario.scenario import TUI_DEFAULTS, Scenario
from tests.scenes import Script


def ended_line(model: Model, name: str) -> str:
    return describe(next(entry for entry in model.log if entry.what == "ended" and entry.facts["name"] == name))


def test_a_killed_lifes_end_line_counts_what_was_still_in_telemetrys_flight() -> None:
    script = Script(replace(TUI_DEFAULTS, workers=2, rate=20.0)).start().run(1.0)
    apply, late = script.model.apply, []
    script.emit = lambda e: late.append(e) if isinstance(e, ev.Deliveries) and e.worker == "w1" else apply(e)  # type: ignore[method-assign]
    script.run(0.3)  # w1's receipts of these are still on their way when it is killed
    script.emit = apply  # type: ignore[method-assign]
    script.kill("w1")
    for event in late:
        apply(event)
    received = script.model.workers["w1"].lives[0].received
    assert late and sum(len(e.seqs) for e in late) > 0
    report = build_report(script.model)
    assert report["workers"][0]["lives"][0]["received"] == received
    assert f"received {received})" in ended_line(script.model, "w1")
    assert any("w1 killed (life 1, pid" in line and f"received {received})" in line for line in timeline_lines(report))


def test_a_life_that_ended_with_the_run_has_no_exit_code_in_the_report_or_the_csv() -> None:
    script = Script(replace(TUI_DEFAULTS, workers=1)).start().run(0.5)
    script.emit(ev.ProcessEnded(script.t_ns, "w1", 1, "run-end", -9))  # SIGKILLed by the run's end
    report = build_report(script.model)
    assert report["workers"][0]["lives"][0]["exit_code"] is None
    csv = io.StringIO()
    write_csv(report, csv)
    header, row = csv.getvalue().splitlines()[:2]
    assert row.split(",")[header.split(",").index("exit_code")] == ""


def test_a_killed_remote_worker_is_said_to_be_remote_not_to_have_exit_code_none() -> None:
    script = Script(replace(TUI_DEFAULTS, workers=1)).start().run(0.5)
    script.emit(ev.RemoteJoined(script.t_ns, "w1", "laptop", "127.0.0.1", "laptop", 0, 0))
    script.emit(ev.ProcessEnded(script.t_ns, "w1", 1, "killed", None))
    line = ended_line(script.model, "w1")
    assert "None" not in line and "remote on laptop" in line, line


@pytest.mark.parametrize("by", [ev.QUIT, "SIGINT"])
def test_a_replay_of_a_run_ended_with_q_does_not_say_interrupted(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                 by: str) -> None:
    path, report = tmp_path / "run.jsonl", tmp_path / "report.json"
    script = Script(replace(TUI_DEFAULTS, workers=2))
    with path.open("w") as stream:
        recorder = EventRecorder(stream, Scenario("interactive", script.setup))
        script.emit = lambda e: (script.model.apply(e), recorder(e)) and None  # type: ignore[method-assign]
        script.start().run(1.0)
        script.emit(ev.RunStopped(script.t_ns, by))  # q in the live view, or ctrl+c in rrsim run
        recorder.close()
    report_recording(RecordingFile(path), report)
    said = json.loads(report.read_text())
    out = capsys.readouterr().out
    if by == ev.QUIT:
        assert said["interrupted"] is False and said["ended_with_q"] is True
        assert "ended with q after" in out and "interrupted" not in out
    else:
        assert said["interrupted"] is True and "interrupted after" in out
    assert "run ended " in " ".join(entry["text"] for entry in said["log"])


# ---------------------------------------------------------------------- item 6
def test_behind_a_broker_the_queue_at_each_worker_is_what_the_broker_handed_it_and_it_had_not_done() -> None:
    script = Script(replace(TUI_DEFAULTS, pattern="lb-broker", workers=2)).start().run(0.5)
    script.emit(ev.RouterState(script.t_ns, "b1", 1, 0, 0, script.routed, held_by={"w1": 40, "w2": 2}))
    script.emit(ev.RouterState(script.t_ns, "b1", 1, 0, 0, script.routed, held_by={"w1": 12, "w9": 99}))
    report = build_report(script.model)
    by_worker = {worker["name"]: worker["max_queue"] for worker in report["workers"]}
    assert by_worker == {"w1": 39, "w2": 1}  # waiting behind the one it worked on; w9 is no worker of ours
    assert report["max_queue"] == {"messages": 39, "at": "w1"}


# ---------------------------------------------------------------------- item 12
def test_endpoints_are_printed_whole_at_80_columns() -> None:
    endpoints = {"b1.backend": "ipc:///tmp/rrsim-o3ngpmkh/b1.backend", "p1": "ipc:///tmp/rrsim-o3ngpmkh/p1"}
    lines = endpoint_lines(endpoints, 80)
    assert all(len(line) <= 80 for line in lines), lines
    for name, endpoint in endpoints.items():
        assert any(f"{name} {endpoint}" in line for line in lines), lines
    assert endpoint_lines({"p1": "ipc:///tmp/rrsim-x/p1"}, 80) == ["endpoints: p1 ipc:///tmp/rrsim-x/p1"]
    assert len(endpoint_lines(endpoints, None)) == 1  # a file or a pipe: no terminal to wrap it

"""Record and replay: real runs replayed give the report they wrote; a recording can be watched
at any moment, forwards and back; bad and cut-off files are told in one line.

The TUI tests feed a fixed recording (rrsim/tui/recordings/broker-kill.jsonl.gz) to the replay
screen with no playing thread: no clocks, so every picture is the same on every machine.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import gzip
import io
import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_strangers import _pull, _run_with

from helpers import main_in_process, one_error_line, start_rrsim, wait_until
from rrsim import events as ev
from rrsim.commands.replay import replay_command
from rrsim.commands.run import report_recording, run_report
from rrsim.errors import UserError
from rrsim.model.model import NS, Model
from rrsim.recording import file as file_module
from rrsim.recording.file import EventRecorder, RecordingFile, gzip_text, read_recording, scenario_of
from rrsim.recording.player import MAX_SPEED, Player, Timeline, parse_speed, parse_time, play_all
from rrsim.report.report import build_report
from rrsim.scenario.scenario import Scenario
from rrsim.scenario.setup import Setup
from rrsim.tui.app import RrsimApp
from rrsim.tui.replay_screen import REPLAY_BINDINGS, ReplayScreen
from rrsim.tui.source import ReplayRun
from rrsim.tui.widgets.header import RunStatus
from tests.scenes import recording

NARROW = (80, 24)
RECORDED = "broker-kill"  # the broker is killed at 3.7 s and revived at 4.5 s; 7.5 s in all
RECORDED_PATH = Path(__file__).parent.parent / "rrsim" / "tui" / "recordings" / f"{RECORDED}.jsonl.gz"


def broker_kill() -> Timeline:
    return Timeline(recording(RECORDED).events, snapshot_every_ns=NS // 2).load_all()


def folded_to(events: list, t_ns: int) -> Model:
    """The events up to ``t_ns`` folded from the start, as the run's model was then."""
    model = Model()
    for event in events:
        if model.version and max(model.now_ns, event.t_ns) > t_ns:
            break
        model.apply(event)
    return model


# ---------------------------------------------------------------------- the player, pure
def test_any_moment_reached_by_seeking_back_is_the_moment_folded_from_the_start():
    timeline, events = broker_kill(), recording(RECORDED).events
    assert len(timeline.snapshots) >= 8  # every half second of a 7.5 s run
    moments = (4.0, 0.7, 3.3, 2.31, 0.0, 4.6)
    player = Player(timeline)
    for seconds in moments:
        player.seek_s(seconds)
        expected = folded_to(events, timeline.started_ns + int(seconds * NS))
        assert player.position == expected.version and build_report(player.model) == build_report(expected), seconds
        assert player.elapsed_s() == pytest.approx(seconds)
    player.go_to(timeline.end)
    assert build_report(player.model) == build_report(timeline.final)


def test_steps_move_one_event_and_pass_over_ticks():
    player, events = Player(broker_kill()), recording(RECORDED).events
    player.seek_s(1.0)
    at = player.position
    player.step(1)
    assert player.position > at and type(events[player.position - 1]).__name__ != "Tick"
    assert all(type(e).__name__ == "Tick" for e in events[at:player.position - 1])
    player.step(-1)
    assert player.position <= at


def test_next_notable_stops_just_after_each_kill_loss_and_revive_then_says_there_are_no_more():
    player = Player(broker_kill())
    seen = []
    while player.next_notable():
        seen.extend(entry.what for entry in list(player.model.log)[-3:])
    assert "ended" in seen and "started" in seen  # the broker's kill and its second life
    assert not player.next_notable()


def test_playing_follows_the_clock_at_its_speed_and_stops_at_the_end():
    timeline = broker_kill()
    player = Player(timeline, speed=2.0)
    player.toggle()
    player.advance(NS // 2)
    assert player.elapsed_s() == pytest.approx(1.0)
    assert player.model.now_ns <= timeline.started_ns + NS < recording(RECORDED).events[player.position].t_ns
    player.speed = MAX_SPEED
    while player.playing:
        player.advance(0)
    assert player.at_end and build_report(player.model) == build_report(timeline.final)


def test_deliveries_are_written_as_narrow_as_their_deltas_fit(tmp_path: Path):
    close = ev.Deliveries(7 * NS, "w1", 1, np.array([0, 0, 0]), np.array([10, 14, 18]),
                          np.array([5 * NS, 5 * NS + 900, 5 * NS + 1_700]), np.array([6 * NS, 6 * NS + 5, 6 * NS + 9]),
                          done_ns=np.array([6 * NS + 1, 6 * NS + 6, 6 * NS + 10]), work_us=np.array([0, 0, 0]))
    # A pause of 40 us (past an int16's 32,767) before the last was received and done: two in full.
    paused = dataclasses.replace(close, recv_ns=close.recv_ns + [0, 0, 40_000], done_ns=close.done_ns + [0, 0, 40_000])
    # Every time 40 us apart, one way or the other: in full they would be longer than 4 bytes each.
    spread = dataclasses.replace(close, sent_ns=np.array([5 * NS, 5 * NS + 40_000, 5 * NS - 1]),
                                 recv_ns=close.recv_ns + [0, 40_000, 80_000], done_ns=close.done_ns + [0, 40_000, 80_000])
    # A message queued for a dead worker's next life, sent 5 s before the one received before it.
    apart = dataclasses.replace(close, sent_ns=np.array([5 * NS, 0, 1]))
    # Nearly every number 5 s from the one before: past 4 bytes, and in full anyway.
    far = np.array([0, 5 * NS, 10 * NS])
    distant = dataclasses.replace(close, seqs=far, sent_ns=far, recv_ns=far + 1, done_ns=far + 2, work_us=far)
    events = [close, paused, spread, apart, distant]
    stream = io.StringIO()
    record = EventRecorder(stream, Scenario("widths", Setup()))
    for event in (ev.RunStarted(0, {}, {}), *events):
        record(event)
    record.close()
    _, _, *lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["width"], line.get("wide")) for line in lines] == [(2, 0), (2, 2), (4, None), (2, 1), (8, None)]
    # Each row: its first number, then two as wide as the line says, then those in full.
    assert [len(base64.b64decode(line["deltas"])) for line in lines[:3]] == [6 * 8 + 6 * 2 * 2, 6 * 8 + 6 * 2 * 2 + 2 * 8,
                                                                           6 * 8 + 6 * 2 * 4]
    # Read by hand as docs/events.md says: 2 bytes wide, the low bytes first, then the high ones.
    raw = base64.b64decode(lines[1]["deltas"])
    low, high = np.frombuffer(raw[6 * 8:6 * 8 + 12], np.uint8), np.frombuffer(raw[6 * 8 + 12:6 * 8 + 24], np.uint8)
    rest = (low.astype(np.int64) | high.astype(np.int64) << 8).astype(np.uint16).view(np.int16).reshape(6, 2).astype(np.int64)
    rest[rest == -32768] = np.frombuffer(raw[6 * 8 + 24:], "<i8")
    rows = np.stack([paused.pushers, paused.seqs, paused.sent_ns, paused.recv_ns, paused.done_ns, paused.work_us])
    assert (rest == np.diff(rows, axis=1)).all()
    (tmp_path / "w.jsonl").write_text(stream.getvalue())
    _, *read = read_recording(tmp_path / "w.jsonl").events
    assert [event.to_json() for event in read] == [event.to_json() for event in events]
    # A version 1 recording (no width: eight bytes) still reads: the TUI's recorded scenes are such.
    assert read_recording(RECORDED_PATH).header["version"] == 1


@pytest.mark.parametrize("writer", [file_module.GzipWriter, gzip.GzipFile], ids=["isal", "zlib"])
def test_a_gzip_recording_reads_back_whichever_library_compressed_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      writer: type[gzip.GzipFile]):
    monkeypatch.setattr(file_module, "GzipWriter", writer)  # zlib's where isal has no wheel
    events = recording(RECORDED).events
    with gzip_text((tmp_path / "r.jsonl.gz").open("wb")) as stream:
        record = EventRecorder(stream, Scenario("either", Setup()))
        for event in events:
            record(event)
        record.close()
    read = read_recording(tmp_path / "r.jsonl.gz")
    assert not read.truncated and [e.to_json() for e in read.events] == [e.to_json() for e in events]


# ---------------------------------------------------------------------- a long recording, opened at once
def test_the_player_shows_the_start_at_once_and_moves_past_what_is_loaded_once_the_fold_gets_there():
    events = recording(RECORDED).events
    timeline = Timeline(RecordingFile(RECORDED_PATH), snapshot_every_ns=NS // 2)
    assert timeline.loaded == 1 and not timeline.complete  # opened: nothing folded but the run's start
    player = Player(timeline)
    assert player.position == 1 and player.model.started_ns == events[0].t_ns
    for move, what, arrived in [
        (lambda: player.seek_s(1.0), "1 s", lambda: player.position == folded_to(events, timeline.started_ns + NS).version),
        (player.next_notable, "the next notable moment", lambda: player.position == timeline.notable[0]),
        (player.end, "the end", lambda: player.at_end),
    ]:
        move()
        assert player.waiting is not None and player.waiting.what == what, what  # not there yet: waiting
        before = player.position
        while player.waiting is not None:
            assert player.position == before
            timeline.load(40)
            player.advance(0)
        assert arrived(), what
    assert timeline.complete and build_report(player.model) == build_report(timeline.final)
    assert timeline.loaded == len(events) and build_report(timeline.final) == build_report(play_all(events))


@pytest.mark.parametrize("gzipped", [True, False], ids=["gzip", "plain"])
def test_any_line_of_a_recording_is_read_again_from_where_it_begins(tmp_path: Path, monkeypatch, gzipped: bool):
    # Small chunks and restart points: a 100 KB recording reads like a long one.
    monkeypatch.setattr("rrsim.recording.file.CHUNK_BYTES", 1024)
    monkeypatch.setattr("rrsim.recording.file.RESTART_EVERY_BYTES", 4096)
    path = tmp_path / ("r.jsonl.gz" if gzipped else "r.jsonl")
    path.write_bytes(RECORDED_PATH.read_bytes() if gzipped else b"".join(lines_of(RECORDED)))
    file = RecordingFile(path)
    places = [place for place, _ in file.read()]
    events = recording(RECORDED).events
    assert len(places) == len(events) and file.progress() == 1.0 and not file.truncated
    if gzipped:
        assert len(file._restarts) > 5
    for position in (*range(0, len(events), 37), len(events) - 1):
        again = list(itertools.islice(file.read(places[position], position), 2))
        assert [e.to_json() for _, e in again] == [e.to_json() for e in events[position:position + 2]], position


def test_a_replay_folds_the_rest_behind_the_view_and_tells_a_bad_line_deep_in_it(tmp_path: Path):
    lines = lines_of(RECORDED)[:330]  # the first 1.8 s: enough to fold in slices
    (tmp_path / "good.jsonl").write_bytes(b"".join(lines))
    run = ReplayRun(RecordingFile(tmp_path / "good.jsonl"))
    assert not run.timeline.complete and run.replay().loading is not None
    run.begin()
    try:
        wait_until(lambda: run.timeline.complete, 30, "the recording to be folded")
    finally:
        run.close()
    assert run.failure is None and run.replay().loading is None and run.timeline.loaded == 329
    (tmp_path / "bad.jsonl").write_bytes(b"".join(lines[:300]) + b"{not json\n" + b"".join(lines[300:]))
    bad = ReplayRun(RecordingFile(tmp_path / "bad.jsonl"))
    bad.begin()
    try:
        wait_until(lambda: bad.failure is not None, 30, "the bad line to be found")
    finally:
        bad.close()
    assert isinstance(bad.failure, UserError) and "line 301 is not an event" in str(bad.failure)


def test_the_header_says_how_much_is_loaded_and_where_the_player_is_going():
    run = ReplayRun(RecordingFile(RECORDED_PATH))  # no thread: the test folds
    app = RrsimApp(run, RECORDED)

    def status() -> str:
        app.screen.read_model()
        return app.screen.query_one(RunStatus).render().plain

    async def press() -> None:
        async with app.run_test(size=NARROW) as pilot:
            await pilot.pause()
            assert "loading" in status() and "paused" in status()
            await pilot.press("G")
            assert "going to the end" in status()
            run.load(30)
            with run.lock:
                run.player.advance(0)
            assert "loading" not in status() and "finished" in status()

    asyncio.run(press())


# ---------------------------------------------------------------------- real runs, replayed
KILL_AND_REVIVE = """\
[setup]
pattern = "{pattern}"
workers = 3
rate = 400
messages = 240
drain_s = 0.3
lost_after_s = 0.5

[[at]]
after_sent = 60
action = "kill"
worker = "w1"

[[at]]
after_sent = 120
action = "revive"
worker = "w1"

[checks]
sent = "== 240"
"""


@pytest.mark.system
def test_replaying_a_recorded_run_writes_the_report_it_wrote(tmp_path: Path):
    runs = {}
    for pattern in ("push-pull", "lb-broker"):  # at once: most of a run is waiting
        (tmp_path / f"{pattern}.toml").write_text(KILL_AND_REVIVE.format(pattern=pattern))
        runs[pattern] = start_rrsim("run", f"{pattern}.toml", "--events", f"{pattern}.jsonl.gz", "--json",
                                    f"{pattern}.json", tmp=None, cwd=tmp_path, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, text=True)
    for pattern, process in runs.items():
        assert process.wait(timeout=60) == 0, process.stderr.read()
        # What rrsim replay FILE --json REPORT runs, in this process: a second interpreter costs a second.
        assert report_recording(RecordingFile(tmp_path / f"{pattern}.jsonl.gz"), tmp_path / "replayed.json") == 0
        original = json.loads((tmp_path / f"{pattern}.json").read_text())
        assert json.loads((tmp_path / "replayed.json").read_text()) == original
        # It was worth replaying: a kill, a second life, the checks, and every message told.
        lives = [life["how_ended"] for life in original["workers"][0]["lives"]]
        assert lives[0] == "killed" and len(lives) == 2, lives
        assert original["checks"] == [{"check": "sent == 240", "value": 240, "passed": True}]
        assert original["totals"]["sent"] == 240 and original["drained"]


@pytest.mark.system
def test_a_stranger_replays_as_it_happened(tmp_path: Path):
    setup = Setup(transport="ipc", bind="pusher", workers=2, rate=300, messages=300, wait_ready=True, drain_s=0.3)
    scenario = Scenario("stranger", setup)
    engine, events, taken = _run_with(setup, "p1", _pull)
    stream = io.StringIO()
    record = EventRecorder(stream, scenario)
    for event in events:
        record(event)
    record.close()
    (tmp_path / "s.jsonl").write_text(stream.getvalue())
    replayed = play_all(read_recording(tmp_path / "s.jsonl").events)
    original, _ = run_report(engine.model, scenario, interrupted=False)
    assert run_report(replayed, scenario, interrupted=False)[0] == original
    assert taken > 0 and len(original["unknown_peers"]) == 1


@pytest.mark.system
def test_the_live_view_records_what_a_replay_shows(tmp_path: Path, tmp_path_factory, terminal):
    path = tmp_path_factory.mktemp("recorded") / "live.jsonl.gz"  # outside TMPDIR: not a run's file
    term = terminal([sys.executable, "-m", "rrsim", "--record", str(path)])
    term.type(b"k")
    wait_until(lambda: b"killed" in term.output, 20, "w1 to show killed")
    term.type(b"q")
    assert term.wait_exit() == 0
    recorded = read_recording(path)
    assert recorded.header["scenario"] == "interactive" and not recorded.truncated
    replayed = play_all(recorded.events)
    assert replayed.stopped_by == "quit"  # a replay says it ended with q, not that it was interrupted
    report, _ = run_report(replayed, scenario_of(recorded), interrupted=True)
    assert report["workers"][0]["lives"][0]["how_ended"] == "killed"
    assert {life["how_ended"] for w in report["workers"][1:] for life in w["lives"]} == {"run-end"}


# ---------------------------------------------------------------------- bad and cut-off files
def lines_of(name: str) -> list[bytes]:
    with gzip.open(RECORDED_PATH.with_name(f"{name}.jsonl.gz")) as file:
        return file.read().splitlines(keepends=True)


def garbage_after_two_lines() -> bytes:
    lines = lines_of(RECORDED)
    return b"".join(lines[:2]) + b"\x00garbage{\n" + b"".join(lines[2:])


@pytest.mark.parametrize(("content", "name", "needle"), [
    (b"", "empty.jsonl", "empty"),
    (b'{"format": "rrsim-events", "version": 99, "setup": {}}\n', "v99.jsonl", "format version 99"),
    (b'{"event": "RunStarted", "t_ns": 1}\n', "old.jsonl", "not an rrsim recording"),
    (b'{"format": "rrsim-events", "version": 1, "setup": {}}\n{"event": "RunStarted", "t_ns": 1, "setup": {}, '
     b'"endpoints": {}}\n{"event": "WorkerPaused", "t_ns": 2, "name": "w9"}\n', "bad.jsonl",
     "event 2 of the recording does not fit"),
    (b'{"format": "rrsim-events", "version": 1, "setup": {}}\n{"event": "RunStarted", "t_ns": "x", "setup": {}, '
     b'"endpoints": {}}\n', "time.jsonl",
     "line 2 is not an event (RunStarted.t_ns = 'x' is not of type int"),
    (b"plain text, not gzip\n", "plain.jsonl.gz", "not gzip-compressed"),
    (gzip.compress(b"x" * 100, mtime=0)[:20] + b"\xff" * 20, "corrupt.jsonl.gz", "corrupt gzip"),
    (b'{"format": "rrsim-events", "version": 1, "setup": {}}\n', "header-only.jsonl", "no run in it"),
    # A field of the wrong type once passed the fold and failed later, in the wording of the log.
    (b'{"format": "rrsim-events", "version": 1, "setup": {}}\n{"event": "RunStarted", "t_ns": 1, "setup": {}, '
     b'"endpoints": {}}\n{"event": "ProcessStarted", "t_ns": 2, "name": "w1", "role": "worker", "life": "x", '
     b'"pid": 1}\n', "life.jsonl", "ProcessStarted.life = 'x' is not of type int"),
    (b'{"format": "rrsim-events", "version": 1, "setup": {}}\n{"event": "RunStarted", "t_ns": 1, "setup": {}, '
     b'"endpoints": {}}\n{"event": "Deliveries", "t_ns": 2, "worker": "w1", "life": 1, "pushers": [1], '
     b'"seqs": ["a"], "sent_ns": [1], "recv_ns": [2]}\n', "unpacked.jsonl", "its deliveries are not packed (no deltas)"),
    (b'{"format": "rrsim-events", "version": 3, "setup": {}}\n{"event": "RunStarted", "t_ns": 1, "setup": {}, '
     b'"endpoints": {}}\n{"event": "Deliveries", "t_ns": 2, "worker": "w1", "life": 1, "done": false, "width": 2, '
     b'"wide": 3, "deltas": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="}\n', "wide.jsonl",
     "40 bytes are not 4 rows of an 8-byte number and 2-byte ones, 3 of them in full"),
], ids=["empty", "version", "no-header", "misfit", "time", "not-gzip", "corrupt-gzip", "header-only", "wrong-type",
        "unpacked", "wide"])
def test_a_bad_recording_is_named_in_one_line(tmp_path: Path, content: bytes, name: str, needle: str):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(UserError) as error:
        Timeline(RecordingFile(tmp_path / name)).load_all()
    assert needle in str(error.value) and "\n" not in str(error.value)


def test_an_event_whose_arrays_are_not_integers_is_refused():
    with pytest.raises(ValueError, match="Deliveries.seqs is not a list of integers"):
        ev.from_json({"event": "Deliveries", "t_ns": 2, "worker": "w1", "life": 1, "pushers": [1], "seqs": ["a"],
                      "sent_ns": [1], "recv_ns": [2]})
    with pytest.raises(ValueError, match="over 64 bits"):
        ev.from_json({"event": "Deliveries", "t_ns": 2, "worker": "w1", "life": 1, "pushers": [1], "seqs": [2**70],
                      "sent_ns": [1], "recv_ns": [2]})


@pytest.mark.system
def test_a_gzip_recording_of_a_run_killed_by_sigkill_keeps_all_but_its_last_second(tmp_path: Path):
    # Found by review: gzip kept a short run's whole recording to itself, and SIGKILL left a
    # hidden .part of nothing at all.  The recorder flushes once a second.
    # Slow: unflushed, gzip would hold minutes of this run.
    (tmp_path / "s.toml").write_text("[setup]\nworkers = 2\nrate = 20.0\nmessages = 0\nduration = 30.0\n")
    run_ = start_rrsim("run", "s.toml", "--events", "rec.jsonl.gz", tmp=None, cwd=tmp_path, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    try:
        def recorded_a_delivery() -> bool:
            # Judged by what the file holds, not its size: a starved machine flushes the start-up's
            # events before any delivery.  Read from a copy: the recorder is still writing it.
            parts = list(tmp_path.glob(".rec.jsonl.gz.*.part"))
            if not parts or not parts[0].stat().st_size:
                return False
            (tmp_path / "peek.jsonl.gz").write_bytes(parts[0].read_bytes())
            return any(isinstance(event, ev.Deliveries) for event in read_recording(tmp_path / "peek.jsonl.gz").events)
        wait_until(recorded_a_delivery, 15, "a delivery to reach the recording's file")
    finally:
        run_.kill()
        run_.communicate(timeout=30)
    [part] = tmp_path.glob(".rec.jsonl.gz.*.part")
    cut_off = read_recording(part.rename(tmp_path / "cut.jsonl.gz"))
    assert cut_off.truncated and isinstance(cut_off.events[0], ev.RunStarted)
    assert any(isinstance(event, ev.Deliveries) for event in cut_off.events)


def test_rrsim_replay_of_a_bad_recording_says_so_in_one_line_and_exits_2(tmp_path: Path):
    (tmp_path / "garbage.jsonl").write_bytes(garbage_after_two_lines())
    one_error_line(main_in_process(["replay", "garbage.jsonl"], cwd=tmp_path, stand_ins=False),
                   "garbage.jsonl", "line 3 is not an event")


def test_a_cut_off_recording_replays_up_to_its_last_whole_line_and_says_so(tmp_path: Path):
    lines = lines_of(RECORDED)
    cut = b"".join(lines[:400]) + lines[400][: len(lines[400]) // 2]
    (tmp_path / "cut.jsonl").write_bytes(cut)
    (tmp_path / "cut.jsonl.gz").write_bytes(gzip.compress(cut, mtime=0)[:-30])  # no gzip trailer either
    replayed = main_in_process(["replay", "cut.jsonl.gz", "--json", "report.json"], cwd=tmp_path, stand_ins=False)
    assert replayed.returncode == 0, replayed.stderr
    assert "cut.jsonl.gz was cut off" in replayed.stderr and "Traceback" not in replayed.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["interrupted"] and not report["drained"]
    for name in ("cut.jsonl", "cut.jsonl.gz"):
        cut_off = read_recording(tmp_path / name)
        # Every whole line but the header (the gzip one may stop a little earlier), never the half one.
        assert cut_off.truncated and 350 < len(cut_off.events) <= 399, name
    assert len(read_recording(tmp_path / "cut.jsonl").events) == 399


def test_a_recording_that_cannot_be_written_is_refused_before_anything_starts(tmp_path: Path):
    one_error_line(main_in_process(["--record", str(tmp_path)], tmp=tmp_path, stand_ins=False), "--record", "is a directory")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("rrsim-")]  # no run directory made


# ---------------------------------------------------------------------- the replay screen
def replay_app(seconds: float | None = None) -> tuple[RrsimApp, ReplayRun]:
    """The replay, paused (no playing thread) at ``seconds``."""
    run = ReplayRun(recording(RECORDED), broker_kill())
    if seconds is not None:
        run.player.seek_s(seconds)
    app = RrsimApp(run, RECORDED)
    app.NOTIFICATION_TIMEOUT = 600  # a slow machine must not see a toast gone before the picture
    return app, run


def test_the_replay_paused_just_after_the_brokers_kill(snap_compare):
    app, run = replay_app(1.0)
    assert snap_compare(app, press=["n"], terminal_size=(120, 34))


def test_the_replay_at_its_end_at_80x24(snap_compare):
    app, _ = replay_app()
    assert snap_compare(app, press=["G"], terminal_size=NARROW)


def test_the_replays_help_lists_its_keys(snap_compare):
    app, _ = replay_app()
    assert snap_compare(app, press=["question_mark"], terminal_size=(100, 40))


def test_every_replay_key_moves_the_player():
    app, run = replay_app(1.0)
    player = run.player

    async def press() -> None:
        async with app.run_test(size=NARROW) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, ReplayScreen)
            await pilot.press("space")
            assert player.playing
            await pilot.press("space")
            assert not player.playing
            at = player.position
            await pilot.press("full_stop")
            assert player.position > at
            await pilot.press("comma")
            assert player.position <= at
            await pilot.press("plus", "plus")
            assert player.speed == 5.0
            await pilot.press(*["plus"] * 6)
            assert player.speed == MAX_SPEED
            await pilot.press("minus")
            assert player.speed == 100.0
            await pilot.press("G")
            assert player.at_end
            await pilot.press("g")
            assert player.position == 1
            await pilot.press("n")
            assert player.position == player.timeline.notable[0]
            await pilot.press("j", *"1:02", "enter")  # past the end: the end
            assert player.at_end
            await pilot.press("j", *"2.5", "enter")
            assert player.elapsed_s() == pytest.approx(2.5) and not player.at_end
            await pilot.press("k")
            await pilot.pause()
            shown = [notification.message for notification in app._notifications]
            assert any("This is a replay" in message and "kill" in message for message in shown), shown

    asyncio.run(press())


def test_every_replay_key_is_in_the_command_palette():
    app, _ = replay_app()

    async def titles() -> list[str]:
        async with app.run_test(size=NARROW) as pilot:
            await pilot.pause()
            return [command.title.lower() for command in app.get_system_commands(app.screen)]

    shown = asyncio.run(titles())
    for binding in REPLAY_BINDINGS:
        if binding.description and binding.action != "app.quit":
            assert any(binding.description in title for title in shown), binding


def test_a_replay_begins_where_and_how_fast_the_command_line_says():
    paused = ReplayRun(recording(RECORDED), broker_kill(), speed=5.0, at_s=2.5, paused=True)
    slow = ReplayRun(recording(RECORDED), broker_kill(), speed=0.1, at_s=1.0)  # 0.1x: it barely moves meanwhile

    async def show(run: ReplayRun) -> str:
        app = RrsimApp(run, RECORDED)
        async with app.run_test(size=NARROW) as pilot:
            run.begin()
            try:
                await pilot.pause()
                app.screen.read_model()
                return app.screen.query_one(RunStatus).render().plain
            finally:
                run.close()

    shown = asyncio.run(show(paused))
    assert "replay paused" in shown and "2.5 / 7.5 s" in shown, shown
    assert paused.player.speed == 5.0 and not paused.player.playing
    assert paused.model.now_ns <= paused.timeline.started_ns + 2.5 * NS
    shown = asyncio.run(show(slow))
    assert "replay ▶ 0.1x" in shown and re.search(r"\n1\.\d / 7\.5 s", shown), shown  # 1.0 s, and 0.1 s a second on
    assert slow.player.playing and slow.failure is None


@pytest.mark.parametrize(("args", "needle"), [
    (["--speed", "fast"], "--speed fast: not a speed"),
    (["--speed", "0"], "from 0.1 to 100"),
    (["--speed", "1000"], "from 0.1 to 100"),
    (["--speed", "nan"], "not a speed"),
    (["--at", "soon"], "--at soon: not a time"),
    (["--at", "-3"], "not a time"),
    (["--at", "1:05", "--json", "-"], "for the live view"),
    (["--json", ""], "--json: an empty file name"),  # was a TypeError traceback from the report's writing
])
def test_a_bad_speed_or_time_to_begin_at_is_one_line(args: list[str], needle: str):
    with pytest.raises(UserError) as error:
        replay_command([str(RECORDED_PATH), *args])
    assert needle in str(error.value) and "\n" not in str(error.value)


def test_rrsim_replay_with_a_bad_speed_exits_2_before_reading_the_file(tmp_path: Path):
    one_error_line(main_in_process(["replay", "missing.jsonl", "--speed", "2y"], cwd=tmp_path, stand_ins=False), "--speed 2y")


def test_speeds_are_numbers_from_a_tenth_to_a_hundred_or_max():
    assert parse_speed("2") == 2.0 and parse_speed(" 0.5x ") == 0.5 and parse_speed("MAX") == MAX_SPEED
    assert parse_speed("100") == 100.0 and parse_speed("0.1") == 0.1
    assert parse_speed("101") is None and parse_speed("inf") is None and parse_speed("") is None


def test_a_time_to_jump_to_is_seconds_or_minutes_and_seconds():
    assert parse_time("12.5") == 12.5 and parse_time(" 3s ") == 3.0 and parse_time("1:30") == 90.0
    assert parse_time("soon") is None and parse_time("-1") is None
    # Found by review: a clock with 75 seconds, and more minutes than a float holds (a traceback).
    assert parse_time("1:75") is None and parse_time("9" * 400 + ":1") is None and parse_time("9" * 400) is None

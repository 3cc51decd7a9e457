"""Headless runs fit for CI and for people: checks, CSV, interruption, clean stdout, timeline,
help text and hints.  Behaviour is tested on real processes, in short runs."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from helpers import Outcome, Stderr, assert_nothing_left, main_in_process, one_error_line, run_rrsim, start_rrsim
from rrsim import events as ev
from rrsim.commands.interrupt import Interruption
from rrsim.errors import UserError
from rrsim.model.model import Model
from rrsim.recording.file import EventRecorder
from rrsim.report.checking import evaluate, report_values
from rrsim.report.report import build_report
from rrsim.report.timeline_summary import timeline_lines
from rrsim.scenario.checks import known_names, parse_check
from rrsim.scenario.scenario import Scenario, builtin_scenarios, parse_scenario
from rrsim.scenario.setup import MAX_WORKERS, Setup

# A short run: 2 workers, 300 messages at 1000/s once both are connected (0.3 s of sending).
QUICK = """\
[setup]
workers = 2
messages = 300
rate = 1000.0
wait_ready = true
drain_s = 0.3
duration = 20.0
"""


def in_process(*args: str, tmp: Path) -> Outcome:
    """``rrsim ARGS`` in this process, in ``tmp`` (its cwd and TMPDIR): for what must end before anything runs."""
    return main_in_process(list(args), cwd=tmp, tmp=tmp, stand_ins=False)


# ---------------------------------------------------------------------------------- help and hints
def test_help_shows_each_default_once_and_says_how_the_two_commands_differ(tmp_path):
    tui, run = in_process("--help", tmp=tmp_path), in_process("run", "--help", tmp=tmp_path)
    assert tui.exited == run.exited == 0
    tui, run = tui.stdout, run.stdout
    for text in (tui, run):
        assert "127.0.0.1) (default" not in text and text.count("(default: 127.0.0.1)") == 1
        assert "seed post" not in text
        assert "3 workers" in " ".join(text.split()) and "2 workers" in " ".join(text.split())


def test_scenarios_says_what_each_one_shows(tmp_path):
    result = in_process("scenarios", tmp=tmp_path)
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == builtin_scenarios()
    assert all(len(line.split()) > 5 for line in lines)
    assert any("slow joiner" in line for line in lines)


@pytest.mark.parametrize(
    "body, hint",
    [
        ("[setup]\nworkerz = 2\n", "did you mean 'workers'?"),
        ("[sertup]\nworkers = 2\n", "did you mean 'setup'?"),
        ('[setup]\nworkers = 2\n[[at]]\ntime = 1\naction = "kil"\nworker = "w1"\n', "did you mean 'kill'?"),
        ('[setup]\nworkers = 2\n[[at]]\ntime = 1\naction = "kill"\nwroker = "w1"\n', "did you mean 'worker'?"),
    ],
)
def test_a_mistyped_name_in_a_scenario_suggests_the_nearest(tmp_path, body, hint):
    (tmp_path / "s.toml").write_text(body)
    assert hint in one_error_line(in_process("run", "s.toml", tmp=tmp_path))


def test_too_many_workers_is_refused_with_the_reason(tmp_path):
    line = one_error_line(in_process("run", "seed", "--workers", str(MAX_WORKERS + 1), tmp=tmp_path))
    assert f"at most {MAX_WORKERS}" in line and "open files" in line
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------- the report, the events and the timeline
def test_latency_over_all_workers_is_one_histogram_not_the_worst_worker():
    # w1: 99 messages at ~1 ms; w2: one at ~100 ms.  The 99th percentile of all 100 is ~1 ms,
    # although w2's own p99 is ~100 ms.
    model = Model()
    model.apply(ev.RunStarted(0, {}, {}))
    seq = 0
    for name, latency_ms, count in (("w1", 1.0, 99), ("w2", 100.0, 1)):
        model.apply(ev.ProcessStarted(1, name, "worker", 1, 100 + seq, links_to=("pusher",)))
        seqs = np.arange(seq, seq + count, dtype=np.int64)
        sent = np.full(count, 10**9, dtype=np.int64)
        model.apply(ev.Deliveries(2 * 10**9, name, 1, np.ones(count, dtype=np.int64), seqs, sent,
                                  sent + int(latency_ms * 1e6)))
        seq += count
    latency = build_report(model)["latency_ms"]
    assert latency["p50"] == latency["p99"] == pytest.approx(1.0, rel=0.0065)  # bins 1.16% wide, to the us
    assert latency["max"] == 100.0
    assert latency["mean"] == pytest.approx(1.99)  # (99 x 1 + 100) / 100, exactly


def test_a_recording_that_cannot_be_written_is_one_line_when_closed():
    class Full(io.StringIO):
        def write(self, text: str) -> int:
            if "WorkerPaused" in text:
                raise OSError(28, "No space left on device")
            return super().write(text)

    record = EventRecorder(Full(), Scenario("s", Setup()))
    record(ev.RunStarted(5_000_000_000, {}, {}))
    record(ev.WorkerPaused(6_250_000_000, "w1"))
    with pytest.raises(UserError, match="cannot write the recording: No space left on device"):
        record.close()


def test_each_recorded_event_says_when_since_the_run_started():
    stream = io.StringIO()
    record = EventRecorder(stream, Scenario("s", Setup()))
    record(ev.RunStarted(5_000_000_000, {}, {}))
    record(ev.WorkerPaused(6_250_000_000, "w1"))
    record.close()  # written by a thread of its own: every line is there once it is closed
    header, *lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert header["format"] == "rrsim-events" and header["scenario"] == "s"
    assert [(line["event"], line["t_s"], line["t_ns"]) for line in lines] == [
        ("RunStarted", 0.0, 5_000_000_000), ("WorkerPaused", 1.25, 6_250_000_000)]


def test_the_timeline_keeps_what_a_person_wants_to_know():
    log = [{"t_s": 0.0, "kind": "info", "text": "run started: push-pull over ipc, ..."},
           {"t_s": 0.01, "kind": "start", "text": "w1 started: life 1, pid 10"},
           {"t_s": 0.3, "kind": "link", "text": "w1 connected to p1"},
           {"t_s": 0.31, "kind": "warn", "text": "slow joiner: 3 sent before every worker was connected"},
           {"t_s": 1.5, "kind": "end", "text": "w1 killed (life 1, pid 10, exit code -9, received 4)"},
           {"t_s": 1.5, "kind": "action", "text": "scenario: after 7 sent: kill w1"},
           {"t_s": 2.0, "kind": "pause", "text": "w2 paused (SIGSTOP)"},
           {"t_s": 9.0, "kind": "lost", "text": "lost 2 undelivered at the end of the run: p1:7, p1:8"}]
    lines = timeline_lines({"log": log})
    assert [line.split()[1] for line in lines] == ["warn", "end", "action", "pause", "lost"]
    assert lines[1] == "   1.50s  end     w1 killed (life 1, pid 10, exit code -9, received 4)"
    many = timeline_lines({"log": log[:1] + log[3:] * 20}, most=10)
    assert len(many) == 11 and many[-1] == "... and 90 more in the report's log"


# ---------------------------------------------------------------------------------- checks, without a run
def test_check_expressions_parse_with_every_operator_and_number_form():
    known = known_names()
    for text, expected in [("lost == 0", ("lost", "==", 0)), ("p99_ms<50", ("p99_ms", "<", 50)),
                           ("  fairness >= 0.9 ", ("fairness", ">=", 0.9)), ("throughput > 1e3", ("throughput", ">", 1000.0)),
                           ("late != -1", ("late", "!=", -1)), ("sent <= .5", ("sent", "<=", 0.5))]:
        check = parse_check(text, "here", known)
        assert (check.name, check.op, check.bound) == expected


@pytest.mark.parametrize("text, needle", [
    ("lost = 0", "not a check"), ("lost == zero", "not a number"), ("lost == nan", "not a number"),
    ("lost == 1e999", "too large"), ("lost ==", "not a check"), ("== 0", "not a check"), ("lost == 0 and", "not a check"),
    ("lost == ３", "not a number"), ("lost == 1_000", "not a number"), ("lots == 0", "did you mean 'lost'?"),
])
def test_a_bad_check_is_one_user_error(text, needle):
    with pytest.raises(UserError) as raised:
        parse_check(text, "option --check", known_names())
    assert needle in str(raised.value) and str(raised.value).startswith("option --check: ")


def test_names_of_a_statistics_block_follow_the_report_generically():
    stats = {"mean": 2.5, "p50": 2.0, "p95": 9.0, "p99": 12.0, "max": 40.0}
    report = {"totals": {"sent": 10, "lost": 1, "completed": 9}, "throughput_msgs_per_s": 99.5, "fairness": None,
              "latency_ms": {**stats, "p99": 3.0}, "wait_ms": {**stats, "count": 7}, "sojourn_ms": {**stats, "max": None},
              "elapsed_s": 1.0, "workers": []}
    values = report_values(report)
    assert values["completed"] == 9 and values["throughput"] == 99.5 and values["fairness"] is None
    assert values["wait_p99_ms"] == 12.0 and values["wait_mean_ms"] == 2.5 and values["sojourn_max_ms"] is None
    assert values["p99_ms"] == 3.0 == values["latency_p99_ms"] and "wait_count_ms" not in values
    known = known_names()
    outcomes = evaluate([parse_check(t, "x", known) for t in
                         ("wait_p99_ms < 50", "sojourn_mean_ms > 5", "sojourn_max_ms < 1", "fairness > 0.5")], report)
    assert [o.passed for o in outcomes] == [True, False, False, False]
    assert outcomes[0].describe() == "wait_p99_ms < 50 (wait_p99_ms = 12)"
    assert outcomes[2].describe() == "sojourn_max_ms < 1 (sojourn_max_ms has no value in this run)"
    missing = evaluate([parse_check("wait_p99_ms < 50", "x", known)], {"totals": {}})[0]
    assert not missing.passed and "not in this report" in missing.describe()


def test_a_scenario_holds_checks_in_a_table(tmp_path):
    text = QUICK + '\n[checks]\nlost = "== 0"\nfairness = [">= 0.5", "<= 1"]\n'
    scenario = parse_scenario(text, "s.toml", "s")
    assert [str(c) for c in scenario.checks] == ["lost == 0", "fairness >= 0.5", "fairness <= 1"]


@pytest.mark.parametrize("table, needles", [
    ('lots = "== 0"', ["[checks] key 'lots' (line 10)", "did you mean 'lost'?"]),
    ("lost = 0", ["[checks] key 'lost' (line 10)", "in a string"]),
    ('lost = "lost == 0"', ["[checks] key 'lost' (line 10)", "not a comparison"]),
    ('lost = "== none"', ["[checks] key 'lost' (line 10)", "not a number"]),
    ("lost = []", ["[checks] key 'lost' (line 10)", "in a string"]),
])
def test_bad_checks_in_a_scenario_name_file_and_line_before_anything_runs(tmp_path, table, needles):
    (tmp_path / "s.toml").write_text(QUICK + "\n[checks]\n" + table + "\n")
    line = one_error_line(in_process("run", "s.toml", tmp=tmp_path))
    for needle in ["s.toml", *needles]:
        assert needle in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]  # no run directory was made


@pytest.mark.parametrize("args, needle", [
    (["--check", "lots == 0"], "did you mean 'lost'?"),
    (["--check", "lost = 0"], "not a check"),
    (["--check", "lost == 0", "--check", "p99 < 5"], "did you mean 'p99_ms'?"),
    (["--json", "-", "--csv", "-"], "--json and --csv both ask for standard output"),
])
def test_bad_check_options_are_refused_before_anything_runs(tmp_path, args, needle):
    line = one_error_line(in_process("run", "seed", *args, tmp=tmp_path))
    assert needle in line and line.count("\n") == 0
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------- real runs
# w1 is killed after 100 sends and revived: the timeline has something to say.
KILL_AND_REVIVE = QUICK + """
[[at]]
after_sent = 100
action = "kill"
worker = "w1"

[[at]]
after_sent = 150
action = "revive"
worker = "w1"

[checks]
lost = ">= 0"
"""


@pytest.mark.system
def test_checks_decide_the_exit_status_and_the_report_goes_alone_to_stdout(tmp_path):
    (tmp_path / "s.toml").write_text(KILL_AND_REVIVE)
    result = run_rrsim("run", "s.toml", "--json", "-", "--csv", "lives.csv", "--events", "events.jsonl",
                   "--check", "sent == 300", "--check", "delivered < 10", tmp=tmp_path)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)  # nothing but the report
    assert report["interrupted"] is False and report["totals"]["sent"] == 300
    assert [(c["check"], c["passed"]) for c in report["checks"]] == [
        ("lost >= 0", True), ("sent == 300", True), ("delivered < 10", False)]
    delivered = report["totals"]["delivered"]
    # The summary, with its timeline, the passing checks in brief and the failing one with its value.
    assert "checks passed: lost >= 0, sent == 300" in result.stderr
    assert f"check failed: delivered < 10 (delivered = {delivered})" in result.stderr
    timeline = result.stderr.split("timeline\n", 1)[1].split("workers", 1)[0]
    assert "kill w1" in timeline and "revive w1" in timeline and "w1 killed" in timeline
    assert timeline.index("kill w1") < timeline.index("w1 killed")  # the cause before its effect

    with open(tmp_path / "lives.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["worker"], r["life"]) for r in rows] == [("w1", "1"), ("w1", "2"), ("w2", "1")]
    assert rows[0]["how_ended"] == "killed" and rows[2]["how_ended"] == "run-end"
    assert sum(int(r["received"]) for r in rows) == sum(w["received"] for w in report["workers"])
    for row, (worker, life) in zip(rows, [(w, one) for w in report["workers"] for one in w["lives"]], strict=True):
        assert int(row["pid"]) == life["pid"] and row["state"] == worker["state"]
        assert (float(row["latency_p99_ms"]) if row["latency_p99_ms"] else None) == worker["latency_ms"]["p99"]
        assert row["remote"] == "false"  # as a spreadsheet reads a truth value, not Python's False

    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()[1:]]
    assert events[0]["event"] == "RunStarted" and events[0]["t_s"] == 0.0
    for event in events:
        assert event["t_s"] == pytest.approx((event["t_ns"] - events[0]["t_ns"]) / 1e9, abs=1e-6)


@pytest.mark.system
def test_the_summary_goes_to_stdout_and_progress_to_stderr_when_stdout_is_a_file(tmp_path):
    (tmp_path / "s.toml").write_text(QUICK)
    result = run_rrsim("run", "s.toml", "--check", "lost == 0", "--check", "p99_ms < 60000", tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("scenario s:") and "checks passed: lost == 0, p99_ms < 60000" in result.stdout
    assert "  sent " not in result.stdout.split("workers", 1)[0]  # no progress line before the table
    assert result.stderr.startswith("endpoints: ") and "  sent 0  delivered 0" in result.stderr
    assert "check failed" not in result.stdout


@pytest.mark.system
def test_the_csv_can_go_to_stdout(tmp_path):
    (tmp_path / "s.toml").write_text(QUICK)
    result = run_rrsim("run", "s.toml", "--csv", "-", tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["worker"] for r in rows] == ["w1", "w2"] and sum(int(r["received"]) for r in rows) == 300
    assert "scenario s:" in result.stderr


@pytest.mark.system
def test_a_run_that_ends_normally_says_it_was_not_interrupted(tmp_path):
    (tmp_path / "s.toml").write_text(QUICK)
    result = run_rrsim("run", "s.toml", "--json", "r.json", tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["interrupted"] is False and report["drained"] and report["totals"]["delivered"] == 300
    assert report["latency_ms"]["p50"] is not None


# ---------------------------------------------------------------------------------- interrupted runs
ENDLESS = """\
[setup]
workers = 2
rate = 500.0
messages = 0
duration = 120.0
"""


@pytest.mark.system
@pytest.mark.parametrize("signum, group", [(signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGINT, True)])
def test_a_signal_ends_the_run_and_still_writes_what_happened(tmp_path, signum, group):
    # group: a terminal's ctrl+c, which goes to the whole process group, the children included.
    (tmp_path / "endless.toml").write_text(ENDLESS)
    process = start_rrsim("run", "endless.toml", "--json", "report.json", "--csv", "lives.csv",
                          "--events", "events.jsonl", "--keep-logs", "logs", tmp=tmp_path,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stderr = Stderr(process)
        stderr.wait_for(r"sent [1-9]\d*  delivered [1-9]", timeout_s=30)  # running for real
        send = (lambda s: os.killpg(process.pid, s)) if group else process.send_signal
        send(signum)
        stderr.wait_for(r"ending the run", timeout_s=20)
        send(signum)  # a second one during clean-up changes nothing
        stdout, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signum
    assert "Traceback" not in "".join(stderr.seen)
    report = json.loads((tmp_path / "report.json").read_text())
    totals = report["totals"]
    assert report["interrupted"] is True and report["checks"] == []
    assert totals["sent"] > 0 and totals["sent"] == totals["delivered"] + totals["in_flight"] + totals["lost"]
    # The engine ended the children; the key did nothing to them.
    assert [life["how_ended"] for w in report["workers"] for life in w["lives"]] == ["run-end", "run-end"]
    logs = {log.name: log.read_text() for log in (tmp_path / "logs").iterdir()}
    assert sorted(logs) == ["p1.1.log", "w1.1.log", "w2.1.log"]
    assert not [name for name, text in logs.items() if "KeyboardInterrupt" in text or "Traceback" in text], logs
    assert len(list(csv.DictReader(io.StringIO((tmp_path / "lives.csv").read_text())))) == 2
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "ProcessEnded"
    assert "interrupted after" in stdout and "sent " in stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["endless.toml", "events.jsonl", "lives.csv", "logs", "report.json"]
    assert_nothing_left(tmp_path)


@pytest.mark.system
def test_while_interruptible_a_signal_is_noted_not_raised_and_children_ignore_the_terminals_keys():
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    with Interruption() as interruption:
        # A child started now has SIGINT and SIGHUP blocked: a terminal's ctrl+c does not reach it.
        shown = subprocess.run([sys.executable, "-c", "import signal; print(sorted(signal.pthread_sigmask("
                                "signal.SIG_BLOCK, set())))"], capture_output=True, text=True, timeout=30).stdout
        assert "SIGINT" in shown and "SIGHUP" in shown and "SIGTERM" not in shown
        os.kill(os.getpid(), signal.SIGINT)
        deadline = time.monotonic() + 10
        while not interruption.interrupted:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)  # noted too, but the first one is what ended the run
        assert interruption.signum == signal.SIGINT and interruption.exit_code == 130
    assert {s: signal.getsignal(s) for s in handlers} == handlers
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == mask


# ---------------------------------------------------------------------------------- where outputs go
@pytest.mark.system
def test_a_pipe_or_a_link_given_as_an_output_is_written_through_not_replaced(tmp_path):
    # A report is written beside its path and moved there at the end; done to a device or a pipe
    # (`--events /dev/null`, run as root) that move replaced the device with a plain file.
    fifo, target, link = tmp_path / "events.pipe", tmp_path / "report.json", tmp_path / "latest.json"
    os.mkfifo(fifo)
    target.write_text("{}")
    link.symlink_to(target)
    read: list[bytes] = []
    reader = threading.Thread(target=lambda: read.append(fifo.read_bytes()), daemon=True)
    reader.start()
    scenario = tmp_path / "s.toml"
    scenario.write_text(QUICK)
    result = run_rrsim("run", str(scenario), "--events", str(fifo), "--json", str(link), "--messages", "50",
                   tmp=tmp_path)
    reader.join(timeout=10)
    assert result.returncode == 0, result.stderr
    assert fifo.is_fifo() and link.is_symlink() and link.resolve() == target
    assert json.loads(target.read_text())["totals"]["sent"] == 50
    lines = read[0].decode().splitlines()
    assert json.loads(lines[0])["format"] == "rrsim-events" and len(lines) > 3
    assert not list(tmp_path.glob(".*.part"))


def test_rrsim_help_names_every_key_of_the_live_view():
    from rrsim.commands.tui import EPILOG
    from rrsim.tui.run_screen import RUN_BINDINGS

    keys = EPILOG.split("keys in the TUI:", 1)[1]
    shown = {"question_mark,f1": "?", "left_square_bracket": "[", "right_square_bracket": "]", "plus": "+",
             "minus": "-", "space": "space", "pageup": "PgUp", "pagedown": "PgDn", "home": "Home", "end": "End",
             "shift+tab": "tab", "left": "arrows", "right": "arrows", "up": "arrows", "down": "arrows"}
    for binding in RUN_BINDINGS:
        key = "1-9" if binding.key.isdigit() else shown.get(binding.key, binding.key)
        assert re.search(rf"(^|\s){re.escape(key)}\s", keys), binding.key


@pytest.mark.system
def test_children_run_the_engines_rrsim_whatever_directory_holds(tmp_path):
    # Found while measuring: `python -m rrsim.patterns` put the working directory first on each
    # child's path, so an rrsim/ there (another checkout) was what the children ran.
    decoy = tmp_path / "rrsim"
    decoy.mkdir()
    (decoy / "__init__.py").write_text('raise SystemExit("a child imported the rrsim/ of its working directory")\n')
    (tmp_path / "plain.toml").write_text("[setup]\nworkers = 2\nmessages = 20\nrate = 100.0\n")
    script = Path(sys.executable).with_name("rrsim")  # the installed command: its own path has no working directory
    done = subprocess.run([str(script), "run", "plain.toml", "--json", "-"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-800:]
    report = json.loads(done.stdout)
    assert report["totals"]["delivered"] == report["totals"]["sent"] == 20, report["totals"]

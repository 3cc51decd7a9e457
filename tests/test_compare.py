"""``rrsim compare``: real runs of a short scenario side by side, bad --vary input refused before
anything starts, a failing variant that does not stop the others, ctrl+c, and the wait chart
drawn from fixed numbers."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import socket
import subprocess

import pytest
from rich.console import Console

from helpers import Stderr, assert_nothing_left, run_rrsim, start_rrsim
from rrsim import cli
from rrsim.commands import compare
from rrsim.commands.compare import Variant
from rrsim.report.wait_chart import wait_chart
from rrsim.scenario.scenario import Scenario, load_scenario
from rrsim.scenario.setup import Setup

# 2 workers, 150 messages at 500/s once both are connected (0.3 s of sending), 1 ms of work each.
TINY = """\
# A tiny comparison: a few hundred milliseconds of sending.
[setup]
workers = 2
messages = 150
rate = 500.0
work_ms = 1.0
wait_ready = true
drain_s = 5.0  # a cap on silence only: the run ends as soon as every message is in
duration = 20.0
"""
# Long enough to be interrupted while it runs.
LONG = """\
[setup]
workers = 2
rate = 50.0
messages = 0
duration = 60.0
"""


@pytest.mark.system
def test_two_patterns_give_two_rows_and_two_reports_that_differ_as_they_should(tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY)
    result = run_rrsim("compare", "tiny.toml", "--vary", "pattern=push-pull,lb-broker", "--json", "cmp.json",
                   "--csv", "cmp.csv", tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads((tmp_path / "cmp.json").read_text())
    variants = document["variants"]
    assert document["vary"] == {"pattern": ["push-pull", "lb-broker"]}
    assert [v["vary"] for v in variants] == [{"pattern": "push-pull"}, {"pattern": "lb-broker"}]
    assert [v["status"] for v in variants] == ["ok", "ok"]
    push_pull, broker = (v["report"] for v in variants)
    # One seed for both, when rrsim has one (None == None until then).
    assert push_pull["setup"].get("seed") == broker["setup"].get("seed") == document["seed"]
    assert push_pull["setup"]["pattern"] == "push-pull" and broker["setup"]["pattern"] == "lb-broker"
    # Only the broker pattern has a broker; every message of both was done, none lost.
    assert push_pull["brokers"] == [] and [b["name"] for b in broker["brokers"]] == ["b1"]
    for report in (push_pull, broker):
        assert report["totals"]["sent"] == report["totals"]["completed"] == 150 and report["totals"]["lost"] == 0
        assert report["wait_percentiles"]["p1"] <= report["wait_percentiles"]["p50"] <= report["wait_percentiles"]["p99.9"]
    # A push-pull worker's queue is worked out from its receipts; a broker's worker's is what the
    # broker handed it and it had not done: under lru one at a time, so nothing waits at it.
    assert all(w["max_queue"] is not None for w in push_pull["workers"])
    assert all(w["max_queue"] == 0 for w in broker["workers"])
    assert broker["max_queue"]["at"] == "b1" and broker["max_queue"]["messages"] == broker["brokers"][0]["max_queued"]
    assert push_pull["max_queue"]["at"] in {"w1", "w2"}

    rows = list(csv.DictReader(io.StringIO((tmp_path / "cmp.csv").read_text())))
    assert [(row["variant"], row["pattern"], row["status"], row["completed"]) for row in rows] == [
        ("1", "push-pull", "ok", "150"), ("2", "lb-broker", "ok", "150")]
    assert rows[1]["max_queue_at"] == "b1" and float(rows[0]["wait_p99_ms"]) == push_pull["wait_ms"]["p99"]

    table = result.stdout
    assert "push-pull" in table and "lb-broker" in table and "2 of 2 variants ran" in table
    assert "\x1b[" not in table  # no colour in a pipe
    assert max(len(line) for line in table.splitlines()) <= 80
    # The chart: one row per variant, drawn on one axis.
    chart_rows = [line for line in table.splitlines() if "┃" in line and line.split()[0] in ("push-pull", "lb-broker")]
    assert len(chart_rows) == 2
    # Progress on stderr: which variant, of how many, and how long is left.
    assert "[1/2] pattern=push-pull, about" in result.stderr and "[2/2] pattern=lb-broker, about" in result.stderr
    assert_nothing_left(tmp_path)


@pytest.mark.system
def test_a_failing_variant_is_reported_and_the_others_still_run(tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY)
    with socket.socket() as taken:  # a port in use: the engine cannot bind it
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_rrsim("compare", "tiny.toml", "--transport", "tcp", "--vary", f"port={port},0",
                       "--vary", "bind=pusher,broker", "--json", "-", tmp=tmp_path)
    assert result.returncode == 1, result.stderr
    variants = json.loads(result.stdout)["variants"]
    assert [(v["vary"], v["status"]) for v in variants] == [
        ({"port": port, "bind": "pusher"}, "failed"), ({"port": port, "bind": "broker"}, "failed"),
        ({"port": 0, "bind": "pusher"}, "ok"), ({"port": 0, "bind": "broker"}, "failed")]
    assert "Address already in use" in variants[0]["problem"] and variants[0]["report"] is None
    assert "does not fit pattern 'push-pull'" in variants[1]["problem"] == variants[3]["problem"]
    assert variants[2]["report"]["totals"]["completed"] == 150
    # The table went to stderr (stdout holds the JSON); its last line names what failed.
    last = result.stderr.strip().splitlines()[-1]
    assert last == (f"1 of 4 variants ran; 3 failed: port={port} bind=pusher; port={port} bind=broker; "
                    "port=0 bind=broker")
    assert "Traceback" not in result.stderr
    assert_nothing_left(tmp_path)


def test_a_key_the_pattern_ignores_is_a_failing_variant_not_a_silent_duplicate(tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY)
    variants = compare.make_variants(load_scenario(str(tmp_path / "tiny.toml")),
                                     compare.parse_vary(["strategy=lru,p2c"], set()))
    assert [v.setup for v in variants] == [None, None]
    assert "strategy shapes a broker (or a pusher that picks each worker), and pattern 'push-pull' has none" in variants[0].problem


@pytest.mark.parametrize("args, says", [
    (["--vary", "patern=push-pull"], "unknown setup key 'patern'; known keys: pattern, transport,"),
    (["--vary", "pattern=push-pull,bogus"], "--vary pattern value 'bogus': must be one of push-pull, lb-broker"),
    (["--vary", "pattern="], "--vary 'pattern=': no values"),
    (["--vary", "workers=2,,3"], "an empty value"),
    (["--vary", "workers"], "--vary 'workers': no ="),
    (["--vary", "=2,3"], "--vary '=2,3': no key before ="),
    (["--vary", "workers=2,x"], "--vary workers value 'x': must be a whole number"),
    (["--vary", "workers=0,1"], "--vary workers value '0': must be at least 1"),
    (["--vary", "wait_ready=yes,no"], "--vary wait_ready value 'yes': must be true or false"),
    (["--vary", "workers=2,2"], "'2' is listed twice"),
    (["--vary", "workers=1", "--vary", "workers=2"], "--vary workers: given twice"),
    (["--workers", "3", "--vary", "workers=1,2"], "--vary workers and option --workers: give one of them"),
    ([], "rrsim compare needs at least one --vary"),
])
def test_bad_vary_input_is_one_line_and_exit_2_before_anything_starts(tmp_path, monkeypatch, capsys, args, says):
    (tmp_path / "tiny.toml").write_text(TINY)
    started = []
    monkeypatch.setattr(compare, "Engine", lambda *args, **kwargs: started.append(args))
    code = cli.main(["compare", str(tmp_path / "tiny.toml"), *args])
    err = capsys.readouterr().err
    assert code == 2 and started == []
    assert len(err.splitlines()) == 1 and err.startswith("rrsim: error: ") and says in err, err
    if "patern" in err:
        assert "did you mean 'pattern'?" in err


@pytest.mark.system
def test_ctrl_c_ends_the_run_in_progress_and_writes_what_was_done(tmp_path):
    (tmp_path / "long.toml").write_text(LONG)
    process = start_rrsim("compare", "long.toml", "--vary", "pattern=push-pull,lb-broker", "--json", "cmp.json",
                          tmp=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True)
    try:
        stderr = Stderr(process)
        stderr.wait_for(r"\[1/2\] .* sent [1-9]\d*  delivered [1-9]", timeout_s=30)  # running for real
        os.killpg(process.pid, signal.SIGINT)  # as a terminal's ctrl+c: the whole group
        stdout, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert "Traceback" not in "".join(stderr.seen)
    document = json.loads((tmp_path / "cmp.json").read_text())
    first, second = document["variants"]
    assert document["interrupted"] is True
    assert first["status"] == "interrupted" and first["report"]["totals"]["sent"] > 0
    assert second["status"] == "not run" and second["report"] is None
    assert "interrupted before pattern=lb-broker" in stdout.strip().splitlines()[-1]
    assert_nothing_left(tmp_path)


# ------------------------------------------------------------------------------- fixed numbers
def test_the_wait_chart_puts_every_variant_on_one_log_axis():
    fast = {"p1": 0.1, "p5": 0.2, "p25": 0.5, "p50": 1.0, "p75": 2.0, "p95": 5.0, "p99": 10.0, "p99.9": 20.0}
    slow = {"p1": 1.0, "p5": 2.0, "p25": 5.0, "p50": 10.0, "p75": 20.0, "p95": 50.0, "p99": 60.0, "p99.9": 100.0}
    lines = wait_chart([("fast", fast, "ok"), ("slow", slow, "ok"), ("broken", None, "failed")], width=80)
    assert all(len(line) <= 80 for line in lines)
    legend, fast_row, slow_row, broken_row, axis, ticks = lines
    assert "p1 to p99.9" in legend and "p50" in legend
    assert broken_row.split() == ["broken", "(failed)"]
    # The axis runs from 0.1 to 100 ms, three decades; a percentile on a decade sits on its tick.
    assert ticks.split() == ["0.1", "1", "10", "100"]
    tick_columns = [i for i, char in enumerate(axis) if char == "┬"]
    assert len(tick_columns) == 4
    assert fast_row.index("├") == tick_columns[0]  # fast p1 = 0.1
    assert fast_row.index("┃") == slow_row.index("├") == tick_columns[1]  # fast p50 = slow p1 = 1
    assert fast_row.index("◆") == slow_row.index("┃") == tick_columns[2]  # fast p99 = slow p50 = 10
    assert slow_row.index("┤") == tick_columns[3]  # slow p99.9 = 100
    # Between p25 and p75 the box, between p1 and p99.9 the line.
    start = fast_row.index("├")
    assert set(fast_row[fast_row.index("┃") + 1: fast_row.index("◆")]) == {"▒", "─"}
    assert fast_row[start + 1] == "─"


def printed(variants: list[Variant]) -> str:
    console = Console(width=80, file=io.StringIO(), color_system=None)
    compare.print_comparison(console, Scenario("fixed", Setup()), variants, "fixed numbers")
    return console.file.getvalue()


def test_the_table_fits_80_columns_and_never_cuts_a_figure():
    report = {
        "throughput_msgs_per_s": 9876.5, "totals": {"completed": 98765, "lost": 123},
        "wait_ms": {"p50": 0.123, "p95": 1234.5, "p99": 2345.6},
        "sojourn_ms": {"mean": 345.6, "p99": 2345.6}, "fairness": 0.987654,
        "max_queue": {"messages": 1234, "at": "w12"}, "wait_percentiles": None,
    }
    variants = [Variant(1, {"pattern": "lb-broker", "strategy": "least-loaded"}, None, status="ok", report=report),
                Variant(2, {"pattern": "lb-broker", "strategy": "p2c"}, None, status="failed")]
    figures = ["9876", "98765", "123", "0.123", "1,234", "2,346", "346", "0.988", "1234 w12", "failed",
               "least-loaded", "p2c"]
    text = printed(variants)
    assert max(len(line) for line in text.splitlines()) <= 80, text
    assert [figure for figure in figures if figure not in text] == [], text
    # Figures too wide for 80 columns make a wider table, never a cut one.
    report["totals"] = {"completed": 987654321, "lost": 123456789}
    wide = printed(variants)
    assert [figure for figure in [*figures, "987654321", "123456789"] if figure not in wide] == [], wide

    # With an objective, a column of the share within it, no figure cut for it.
    report["totals"] = {"completed": 98765, "lost": 123}
    variants[0].report = {**report, "objective_ms": 200.0, "within_objective": 0.99512}
    text = printed(variants)
    assert [figure for figure in [*figures, "within", "200", "99.51%"] if figure not in text] == [], text


def test_time_left_starts_from_the_setups_and_learns_from_the_runs_done():
    setups = [Setup(messages=100, rate=50.0), Setup(messages=300, rate=50.0), Setup(messages=100, rate=0.0)]
    variants = [Variant(n, {"rate": s.rate}, s) for n, s in enumerate(setups, start=1)]
    time_left = compare.TimeLeft(variants[:2])
    # 2 s and 6 s of sending, each with a second to start and drain.
    assert time_left.left_s(variants[0], running_s=1.0) == pytest.approx(2.0 + 7.0)
    variants[0].wall_s = 6.0  # twice as long as the 3 s expected: the next one should be too
    time_left.done(variants[0])
    assert time_left.left_s(variants[1], running_s=4.0) == pytest.approx(14.0 - 4.0)
    # As fast as possible with no duration: unknown until a run has been timed, then like it.
    assert compare.TimeLeft(variants[2:]).left_s(variants[2], 0.0) is None
    time_left.variants.append(variants[2])
    assert time_left.left_s(variants[1], running_s=0.0) == pytest.approx(14.0 + 6.0)


def test_help_explains_compare(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["compare", "--help"])
    text = capsys.readouterr().out
    assert done.value.code == 0
    for words in ("--vary KEY=V1,V2,...", "every combination", '"variants"', "max queue", "exit status: 0 every variant ran"):
        assert words in text, words
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "rrsim compare SCENARIO --vary KEY=V1,V2,..." in capsys.readouterr().out


def test_a_list_value_keeps_its_commas():
    # For keys whose values are lists (one factor per worker, say), written as in TOML.
    assert compare._split_values("[1.0, 0.25],[1, 1],2") == ["[1.0, 0.25]", "[1, 1]", "2"]

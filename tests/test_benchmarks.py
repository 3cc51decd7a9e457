"""The benchmark suite runs and writes well-formed results; its figures are not checked here.

One tiny run of ``python -m benchmarks`` (every part, a few seconds of each) with a TMPDIR of
its own: afterwards the results file has every key with a sensible type, every rate and ratio
is a positive finite number, and no process or run directory is left behind.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import assert_nothing_left

# Judged by accounting, not time: it may share the machine.  One process runs the file: its
# tests share one smoke run.
pytestmark = [pytest.mark.system, pytest.mark.xdist_group("benchmarks")]

REPO = Path(__file__).resolve().parent.parent


def positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def non_negative(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def assert_summary(summary: dict[str, Any], check=non_negative) -> None:
    assert summary["n"] >= 1 and len(summary["values"]) == summary["n"]
    for key in ("median", "p95", "p99", "min", "max"):
        assert check(summary[key]), (key, summary)
    assert summary["min"] <= summary["median"] <= summary["max"]


def assert_target(figure: dict[str, Any]) -> None:
    assert isinstance(figure["target"], str) and figure["target"]
    assert isinstance(figure["met"], bool)


@pytest.fixture(scope="session")  # once per test process: xdist may not keep a module fixture between two tests
def tiny_results(tmp_path_factory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--tiny", "--out", str(out)],
        cwd=REPO, env={**os.environ, "TMPDIR": str(tmp)}, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rrsim benchmarks (tiny" in done.stdout  # the table was printed
    assert_nothing_left(tmp)
    return json.loads(out.read_text())


def test_results_say_where_they_came_from(tiny_results):
    machine = tiny_results["machine"]
    assert isinstance(machine["cores"], int) and machine["cores"] >= 1
    for key in ("python", "pyzmq", "libzmq", "date", "cpu"):
        assert isinstance(machine[key], str) and machine[key]
    assert tiny_results["settings"]["name"] == "tiny"
    assert all(non_negative(x) for x in tiny_results["load_average"]["before"] + tiny_results["load_average"]["after"])


def test_throughput_is_a_same_run_ratio(tiny_results):
    part = tiny_results["throughput"]
    assert "error" not in part, part.get("traceback")
    assert isinstance(part["window"], str) and part["cases"]
    for case in part["cases"]:
        assert case["reps"] == tiny_results["settings"]["reps"]
        for key in ("ratio", "bare_msgs_per_s", "rrsim_msgs_per_s", "rrsim_stamped_msgs_per_s", "rrsim_model_throughput"):
            assert_summary(case[key], positive)
        assert case["ratio"]["n"] == case["reps"]
        assert_target(case)


def test_reaction_times_are_measured(tiny_results):
    part = tiny_results["reaction"]
    assert "error" not in part, part.get("traceback")
    for key in ("kill_to_killed_ms", "revive_to_first_delivery_ms"):
        assert_summary(part[key])
        assert part[key]["n"] == tiny_results["settings"]["kill_cycles"]
        assert_target(part[key])
    assert sorted(part["start_to_all_connected_s"]) == sorted(str(w) for w in tiny_results["settings"]["start_workers"])
    for start in part["start_to_all_connected_s"].values():
        assert_summary(start, positive)


def test_scale_reports_rates_cpu_and_memory(tiny_results):
    part = tiny_results["scale"]
    assert "error" not in part, part.get("traceback")
    for key in ("delivered_msgs_per_s", "accounted_msgs_per_s", "engine_cpu_share_of_one_core",
                "ledger_bytes_per_message", "children_cpu_cores"):
        assert positive(part[key]), key
    assert all(positive(mb) for mb in part["engine_rss_mb"].values())
    assert part["lost"] == 0 and (part["sent"] == part["delivered"] or not part["caught_up"])
    assert isinstance(part["ledger_met"], bool)


def test_ui_lag_and_kill_latency_are_measured(tiny_results):
    part = tiny_results["ui"]
    assert "error" not in part, part.get("traceback")
    assert_summary(part["timer_lag_ms"])
    assert_summary(part["kill_key_to_tile_ms"], positive)
    assert part["kill_key_to_tile_ms"]["n"] == tiny_results["settings"]["ui_kills"]
    assert_target(part["timer_lag_ms"])
    assert_target(part["kill_key_to_tile_ms"])


def test_headline_rows_and_findings_are_there(tiny_results):
    rows = tiny_results["headline"]
    assert rows and all(set(row) == {"figure", "value", "target", "met"} for row in rows)
    assert not [row for row in rows if "did not run" in row["figure"]]
    assert isinstance(tiny_results["findings"], list)
    assert all(isinstance(f, dict) and all(isinstance(v, str) for v in f.values()) for f in tiny_results["findings"])


def test_the_broker_is_measured_against_a_bare_lbbroker(tiny_results):
    part = tiny_results["broker"]
    assert "error" not in part, part.get("traceback")
    for key in ("ratio", "bare_msgs_per_s", "rrsim_msgs_per_s"):
        assert_summary(part[key], positive)
    assert part["ratio"]["n"] == tiny_results["settings"]["reps"]
    assert_target(part)
    latency = part["latency"]
    for side in ("lb_broker_wait_ms", "push_pull_wait_ms"):
        assert all(positive(latency[side][q]) for q in ("p50", "p99"))


def test_recording_cost_and_seeks_are_measured(tiny_results):
    part = tiny_results["recording"]
    assert "error" not in part, part.get("traceback")
    cost = part["cost"]
    for kind in ("jsonl", "jsonl.gz"):
        assert_summary(cost["ratio"][kind], positive)
        assert_summary(cost["recorder_cpu_share"][kind], positive)
        assert_summary(cost["bytes_per_message"][kind], positive)
    # Compressed is smaller than what it holds, which is what the plain file holds.
    assert cost["bytes_per_message"]["jsonl.gz"]["median"] < cost["bytes_per_message"]["jsonl"]["median"]
    assert_target(cost)
    seek = part["seek"]
    assert_summary(seek["seek_ms"], positive)
    assert_summary(seek["seek_cpu_ms"])
    assert seek["messages"] == seek["recording_s"] * seek["msgs_per_s"] and seek["snapshots"] >= 2
    assert_target(seek)

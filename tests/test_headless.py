"""Headless runs fit for CI and for people: checks, CSV, interruption, clean stdout, timeline,
help text and hints.  Behaviour is tested on real processes, in short runs."""

from __future__ import annotations

import csv
import io
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rrsim import events as ev
from rrsim.config import MAX_WORKERS, builtin_scenarios, parse_scenario
from rrsim.errors import UserError
from rrsim.headless import EventRecorder
from rrsim.model import _LATENCY_EDGES_NS, Model, WorkerView
from rrsim.report import build_report
from rrsim.timeline import timeline_lines
from test_no_orphans import assert_nothing_left

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


def rrsim(*args: str, tmp: Path, timeout_s: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rrsim", *args], capture_output=True, text=True, timeout=timeout_s,
                          cwd=tmp, env={**os.environ, "TMPDIR": str(tmp)}, stdin=subprocess.DEVNULL)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rrsim: error: "), result.stderr
    return lines[0]


# ---------------------------------------------------------------------------------- help and hints
def test_help_shows_each_default_once_and_says_how_the_two_commands_differ(tmp_path):
    tui = rrsim("--help", tmp=tmp_path).stdout
    run = rrsim("run", "--help", tmp=tmp_path).stdout
    for text in (tui, run):
        assert "127.0.0.1) (default" not in text and text.count("(default: 127.0.0.1)") == 1
        assert "seed post" not in text
        assert "3 workers" in " ".join(text.split()) and "2 workers" in " ".join(text.split())


def test_scenarios_says_what_each_one_shows(tmp_path):
    result = rrsim("scenarios", tmp=tmp_path)
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
    assert hint in one_error_line(rrsim("run", "s.toml", tmp=tmp_path))


def test_too_many_workers_is_refused_with_the_reason(tmp_path):
    line = one_error_line(rrsim("run", "seed", "--workers", str(MAX_WORKERS + 1), tmp=tmp_path))
    assert f"at most {MAX_WORKERS}" in line and "open files" in line
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------- the report, the events and the timeline
def test_latency_over_all_workers_is_one_histogram_not_the_worst_worker():
    # w1: 99 messages at ~1 ms; w2: one at ~100 ms.  The 99th percentile of all 100 is ~1 ms,
    # although w2's own p99 is ~100 ms.
    model = Model()
    for name, latency_ms, count in (("w1", 1.0, 99), ("w2", 100.0, 1)):
        worker = model.workers[name] = WorkerView(name, work_ms=0.0)
        worker.latency_hist[np.searchsorted(_LATENCY_EDGES_NS, latency_ms * 1e6)] += count
    latency = build_report(model)["latency_ms"]
    assert 1.0 <= latency["p50"] == latency["p99"] < 1.1
    assert 100.0 <= latency["max"] < 110.0
    assert 1.9 < latency["mean"] < 2.1  # (99 x 1 + 100) / 100, from bin centres


def test_each_recorded_event_says_when_since_the_run_started():
    stream = io.StringIO()
    record = EventRecorder(stream)
    record(ev.RunStarted(5_000_000_000, {}, {}))
    record(ev.WorkerPaused(6_250_000_000, "w1"))
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
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

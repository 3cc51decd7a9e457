"""Bad input on the command line and in scenario files: one clear line, exit code 2, nothing left."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rrsim.wire import HEADER_SIZE

pytestmark = pytest.mark.system  # every test here starts processes or opens sockets

SEED_SETUP = """
[setup]
workers = 2
messages = 20
rate = 50.0
"""


def rrsim(*args: str, cwd: Path | None = None, tmp: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if tmp is not None:
        env["TMPDIR"] = str(tmp)
    return subprocess.run([sys.executable, "-m", "rrsim", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd, env=env, stdin=subprocess.DEVNULL)


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.mark.parametrize(
    "body, needles",
    [
        ("[setup]\nworkers = -1\n", ["workers", "at least 1", "line 2"]),
        ("[setup]\nworkers = 0\n", ["workers", "at least 1"]),
        ("[setup]\nworkers = 100000\n", ["workers", "at most"]),
        ("[setup]\nrate = \"fast\"\n", ["rate", "must be a number"]),
        ("[setup]\nrate = nan\n", ["rate", "finite"]),
        ("[setup]\nmessages = 1.5\n", ["messages", "whole number"]),
        ("[setup]\nimmediate = 1\n", ["immediate", "true or false"]),
        ("[setup]\ntransport = \"udp\"\n", ["transport", "ipc, tcp"]),
        ("[setup]\nbind = \"both\"\n", ["bind", "pusher, worker"]),
        ("[setup]\nsize = 4\n", ["size", f"at least {HEADER_SIZE}"]),
        ("[setup]\nworkerz = 2\n", ["unknown key 'workerz'", "line 2"]),
        ("[setup]\nmessages = 0\n", ["messages = 0", "duration"]),
        ("[sertup]\nworkers = 2\n", ["unknown table 'sertup'"]),
        ("[setup\nworkers = 2\n", ["not valid TOML", "line 1"]),
        ("setup = 3\n", ["'setup' must be a table"]),
        (SEED_SETUP + "[[at]]\ntime = 1.0\naction = \"kill\"\nworker = \"w9\"\n", ["unknown worker 'w9'", "w1, w2"]),
        (SEED_SETUP + "[[at]]\ntime = 1.0\naction = \"revive\"\nworker = \"w1\"\n", ["w1 is still running"]),
        (SEED_SETUP + "[[at]]\ntime = 2.0\naction = \"kill\"\nworker = \"w1\"\n"
                      "[[at]]\ntime = 1.0\naction = \"revive\"\nworker = \"w1\"\n", ["#2", "goes back in time"]),
        (SEED_SETUP + "[[at]]\naction = \"kill\"\nworker = \"w1\"\n", ["exactly one trigger"]),
        (SEED_SETUP + "[[at]]\ntime = 1\naction = \"explode\"\n", ["action must be one of", "line 8"]),
        (SEED_SETUP + "[[at]]\ntime = -1\naction = \"add_pusher\"\n", ["'time'", "between 0"]),
        (SEED_SETUP + "[[at]]\ntime = 1\naction = \"kill\"\nworker = \"w1\"\ncolour = 3\n", ["unknown key 'colour'"]),
        (SEED_SETUP + "[[at]]\ntime = 1\naction = \"set_rate\"\n", ["set_rate", "needs rate"]),
        # An int no float can hold (the fuzzer found it: a traceback before).
        (SEED_SETUP + "[[at]]\ntime = 1\naction = \"set_rate\"\nrate = " + "9" * 400 + "\n", ["rate", "400 digits"]),
    ],
)
def test_bad_scenario_files(tmp_path, body, needles):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    result = rrsim("run", str(path), tmp=tmp_path)
    assert_one_line_error(result, str(path), *needles)
    assert [p.name for p in tmp_path.iterdir()] == ["bad.toml"]  # no run directory was made or left


@pytest.mark.parametrize(
    "args, needles",
    [
        (["run", "seed", "--rate", "abc"], ["--rate", "must be a number"]),
        (["run", "9" * 5000], ["cannot be a scenario file", "File name too long"]),  # found by the fuzzer
        (["run", "seed", "--strategy", "random"], ["strategy shapes a broker", "push-pull"]),
        (["run", "seed", "--rate", "-3"], ["--rate", "at least 0"]),
        (["run", "seed", "--workers", "2.5"], ["--workers", "whole number"]),
        (["run", "seed", "--transport", "carrier-pigeon"], ["--transport", "ipc, tcp"]),
        (["run", "seed", "--bogus"], ["unrecognized arguments: --bogus"]),
        (["run"], ["scenario"]),
        (["run", "no-such-scenario"], ["no-such-scenario", "built-ins", "seed"]),
        (["run", "seed", "--duration", "0"], ["--duration", "at least"]),
        (["run", "seed", "--json", "/nonexistent-dir/report.json"], ["--json", "/nonexistent-dir/report.json"]),
        (["run", "seed", "--transport", "tcp", "--interface", "203.0.113.7"], ["interface", "203.0.113.7"]),
        (["--workers", "abc"], ["--workers", "whole number"]),
        (["--scenario", "nope.toml"], ["nope.toml"]),
        (["scenarios", "extra"], ["no arguments"]),
    ],
)
def test_bad_command_lines(tmp_path, args, needles):
    result = rrsim(*args, tmp=tmp_path)
    assert_one_line_error(result, *needles)
    assert list(tmp_path.iterdir()) == []


def test_unreadable_scenario_file(tmp_path):
    path = tmp_path / "secret.toml"
    path.write_text(SEED_SETUP)
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: use a directory, which no one can read as a file
        path = tmp_path / "adir.toml"
        path.mkdir()
    result = rrsim("run", str(path), tmp=tmp_path)
    assert_one_line_error(result, str(path), "cannot read")


def test_ipc_path_over_the_limit(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    result = rrsim("run", "seed", tmp=deep)
    assert_one_line_error(result, "107-byte limit", "TMPDIR")
    assert list(deep.iterdir()) == []


def test_help_documents_every_setup_key_and_action():
    from rrsim.scenario.config import ACTIONS, SETUP_KEYS

    result = rrsim("--help")
    assert result.returncode == 0
    for key in SETUP_KEYS:
        assert "--" + key.replace("_", "-") in result.stdout
    for action in ACTIONS:
        assert action in result.stdout


def test_a_good_run_writes_the_report(tmp_path):
    path = tmp_path / "ok.toml"
    path.write_text(SEED_SETUP)
    report = tmp_path / "report.json"
    events = tmp_path / "events.jsonl"
    result = rrsim("run", str(path), "--json", str(report), "--events", str(events), tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    import json

    data = json.loads(report.read_text())
    assert data["totals"]["sent"] == 20 and data["totals"]["delivered"] == 20
    for key in ("setup", "elapsed_s", "throughput_msgs_per_s", "pushers", "workers", "fairness", "lost_ids"):
        assert key in data
    for worker in data["workers"]:
        assert set(worker["latency_ms"]) == {"p50", "p95", "p99"} and worker["lives"][0]["pid"] > 0
    header, *lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert header["format"] == "rrsim-events" and lines[0]["event"] == "RunStarted"
    from rrsim import events as ev
    from rrsim.recording.file import read_recording

    assert sum(len(e.seqs) for e in read_recording(events).events if isinstance(e, ev.Deliveries)) == 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.jsonl", "ok.toml", "report.json"]

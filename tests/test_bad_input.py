"""Bad input on the command line and in scenario files: one clear line, exit code 2, nothing left.

Each mistake is checked in-process (``cli.main``, which must refuse it before anything starts);
one real ``python -m rrsim`` per way of refusing shows the exit code and that no traceback leaks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from helpers import Outcome, assert_nothing_left, main_in_process, one_error_line, run_rrsim
from rrsim import events as ev
from rrsim.recording.file import read_recording
from rrsim.scenario.actions import ACTIONS
from rrsim.scenario.setup import SETUP_KEYS
from rrsim.wire import HEADER_SIZE

SEED_SETUP = """
[setup]
workers = 2
messages = 20
rate = 50.0
"""


def refused(tmp: Path, *args: str) -> Outcome:
    """``rrsim ARGS`` in-process with ``tmp`` as its TMPDIR and cwd, which must refuse it."""
    return main_in_process(list(args), cwd=tmp, tmp=tmp, stand_ins=False)


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
    one_error_line(refused(tmp_path, "run", str(path)), str(path), *needles)
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
        (["--workers", "abc"], ["--workers", "whole number"]),
        (["--scenario", "nope.toml"], ["nope.toml"]),
        (["scenarios", "extra"], ["no arguments"]),
    ],
)
def test_bad_command_lines(tmp_path, args, needles):
    one_error_line(refused(tmp_path, *args), *needles)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.system
def test_an_interface_no_socket_can_bind_is_refused_once_the_run_tries(tmp_path):
    # Only binding finds it out: the run directory and its janitor exist by then, and must go.
    result = run_rrsim("run", "seed", "--transport", "tcp", "--interface", "203.0.113.7", tmp=tmp_path)
    one_error_line(result, "interface", "203.0.113.7")
    assert_nothing_left(tmp_path, empty=True)


def test_unreadable_scenario_file(tmp_path):
    path = tmp_path / "secret.toml"
    path.write_text(SEED_SETUP)
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: use a directory, which no one can read as a file
        path = tmp_path / "adir.toml"
        path.mkdir()
    one_error_line(refused(tmp_path, "run", str(path)), str(path), "cannot read")


@pytest.mark.system
@pytest.mark.skipif(os.geteuid() != 0, reason="as another user test_unreadable_scenario_file reads a file it may not")
def test_a_file_its_user_may_not_read_is_refused_in_one_line_as_root_too(tmp_path):
    # Root reads any file, so the case above tests a directory there; here rrsim runs as nobody
    # on a file of mode 0.  Privileges are dropped inside the child once it has imported what it
    # needs: the interpreter may live where nobody may look (under /root with pyenv).
    shared = Path(tempfile.mkdtemp(prefix="rrsim-unreadable-"))
    try:
        shared.chmod(0o755)
        path = shared / "secret.toml"
        path.write_text(SEED_SETUP)
        path.chmod(0)
        as_nobody = ("import os, sys; from rrsim import cli; import rrsim.commands.run; "
                     "os.setgroups([]); os.setgid(65534); os.setuid(65534); sys.exit(cli.main(sys.argv[1:]))")
        result = subprocess.run([sys.executable, "-c", as_nobody, "run", str(path)], cwd=shared,
                                capture_output=True, text=True, timeout=60, env={**os.environ, "TMPDIR": str(shared)})
        one_error_line(result, str(path), "cannot read", "Permission denied")
    finally:
        shutil.rmtree(shared)


@pytest.mark.system
def test_ipc_path_over_the_limit(tmp_path):
    # Found once the run directory is made (and its janitor started): a real run.
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    one_error_line(run_rrsim("run", "seed", tmp=deep), "107-byte limit", "TMPDIR")
    assert list(deep.iterdir()) == []


def test_help_documents_every_setup_key_and_action():

    result = main_in_process(["--help"])
    assert result.exited == 0
    for key in SETUP_KEYS:
        assert "--" + key.replace("_", "-") in result.stdout
    for action in ACTIONS:
        assert action in result.stdout


@pytest.mark.system
def test_a_refused_scenario_exits_2_with_one_line_and_no_traceback(tmp_path):
    # What the in-process checks cannot see: the exit code and stderr of the real command.
    path = tmp_path / "bad.toml"
    path.write_text("[setup]\nworkers = 0\n")
    result = run_rrsim("run", str(path), tmp=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert one_error_line(result) == f"rrsim: error: {path} [setup] key 'workers' (line 2): must be at least 1, got 0"
    assert [p.name for p in tmp_path.iterdir()] == ["bad.toml"]


@pytest.mark.system
def test_a_good_run_writes_the_report(tmp_path):
    path = tmp_path / "ok.toml"
    path.write_text(SEED_SETUP)
    report = tmp_path / "report.json"
    events = tmp_path / "events.jsonl"
    result = run_rrsim("run", str(path), "--json", str(report), "--events", str(events), tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(report.read_text())
    assert data["totals"]["sent"] == 20 and data["totals"]["delivered"] == 20
    for key in ("setup", "elapsed_s", "throughput_msgs_per_s", "pushers", "workers", "fairness", "lost_ids"):
        assert key in data
    for worker in data["workers"]:
        assert set(worker["latency_ms"]) == {"p50", "p95", "p99"} and worker["lives"][0]["pid"] > 0
    header, *lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert header["format"] == "rrsim-events" and lines[0]["event"] == "RunStarted"
    assert sum(len(e.seqs) for e in read_recording(events).events if isinstance(e, ev.Deliveries)) == 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.jsonl", "ok.toml", "report.json"]

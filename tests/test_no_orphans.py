"""Every way a headless run can end leaves no child process and no run directory behind.

Each test gives rrsim its own TMPDIR: the run directory is made there and every child's
command line names it, so "what is left" is the processes whose command line mentions that
TMPDIR, and the files inside it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import assert_nothing_left, processes_mentioning, run_rrsim, start_rrsim, wait_until

pytestmark = pytest.mark.system  # every test here starts processes or opens sockets

# w1 is paused (SIGSTOP) early on: a stopped child must not survive its parent either.
LONG_RUN = """
[setup]
workers = 3
rate = 100.0
messages = 100000
duration = 60.0

[[at]]
after_sent = 20
action = "pause"
worker = "w1"
"""


def start_run(tmp: Path, *args: str) -> subprocess.Popen:
    scenario = tmp / "long.toml"
    scenario.write_text(LONG_RUN)
    process = start_rrsim("run", str(scenario), *args, tmp=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # Running for real: all three workers and the pusher are up, and w1 has been paused.
    wait_until(lambda: len(processes_mentioning(str(tmp))) >= 5, 20, "the children to start")
    wait_until(lambda: any(_stopped(pid) for pid in processes_mentioning(str(tmp))), 20, "w1 to be paused")
    return process


def _stopped(pid: int) -> bool:
    try:
        return "State:\tT" in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


@pytest.mark.parametrize(
    "signum, exit_code",
    [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGHUP, 128 + signal.SIGHUP), (signal.SIGINT, 130)],
)
def test_a_signal_to_a_headless_run_ends_everything(tmp_path, signum, exit_code):
    process = start_run(tmp_path)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == exit_code
    assert b"Traceback" not in stderr
    assert_nothing_left(tmp_path)


def test_sigkill_of_rrsim_children_and_run_directory_go_within_two_seconds(tmp_path):
    process = start_run(tmp_path)
    process.kill()
    process.wait(timeout=10)
    assert_nothing_left(tmp_path, within_s=2.0)


def test_the_end_of_a_headless_run_leaves_nothing(tmp_path):
    result = run_rrsim("run", "seed", tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    assert_nothing_left(tmp_path, within_s=0.5)


def test_an_exception_inside_the_engine_still_ends_everything(tmp_path):
    # A programming error in the middle of a run: it may crash loudly, but it must clean up.
    script = (
        "import sys, rrsim.engine.telemetry as t\n"
        "calls = []\n"
        "real = t.decode_batch\n"
        "def broken(*a, **k):\n"
        "    calls.append(1)\n"
        "    if len(calls) > 20: raise RuntimeError('injected engine bug')\n"
        "    return real(*a, **k)\n"
        "t.decode_batch = broken\n"
        "import rrsim.engine.engine\n"
        "rrsim.engine.engine.telemetry.decode_batch = broken\n"
        "from rrsim.cli import main\n"
        "sys.exit(main(['run', 'seed']))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], env={**os.environ, "TMPDIR": str(tmp_path)},
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert result.returncode == 1 and b"injected engine bug" in result.stderr
    assert_nothing_left(tmp_path)


def test_keep_logs_keeps_the_childrens_logs_where_asked(tmp_path):
    logs = tmp_path / "kept"
    result = run_rrsim("run", "seed", "--keep-logs", str(logs), tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in logs.iterdir()) == ["p1.1.log", "w1.1.log", "w1.2.log", "w2.1.log"]
    assert_nothing_left(tmp_path)


PARENT = """
import os, subprocess, sys, time
run_dir = sys.argv[1]
subprocess.Popen([sys.executable, "-m", "rrsim.engine.janitor", run_dir, str(os.getpid())])
# A child that never asked to die with us (as one that had not got that far when its engine died)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", run_dir + "/w1.spec"])
print(child.pid, flush=True)
time.sleep(600)
"""


def test_the_janitor_ends_a_stopped_child_that_outlives_its_engine(tmp_path: Path) -> None:
    run_dir = tmp_path / "rrsim-run"
    run_dir.mkdir()
    engine = subprocess.Popen([sys.executable, "-c", PARENT, str(run_dir)], stdout=subprocess.PIPE, text=True)
    child = int(engine.stdout.readline())
    try:
        os.kill(child, signal.SIGSTOP)  # paused: it runs no check of its own
        wait_until(lambda: len(processes_mentioning(str(run_dir))) >= 3, 30, "the janitor and the child to start")
        engine.kill()
        engine.wait()
        wait_until(lambda: not processes_mentioning(str(run_dir)), 10,
                   lambda: f"the stopped child to be ended: {processes_mentioning(str(run_dir))}")
        wait_until(lambda: not run_dir.exists(), 10, "the run directory to be removed")
    finally:
        for pid in processes_mentioning(str(run_dir)):
            os.kill(pid, signal.SIGKILL)

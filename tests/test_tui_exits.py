"""Every way the TUI can end leaves no child process, no run directory, and a usable terminal.

The app runs for real in a pseudo-terminal with its own TMPDIR, as a user would run it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_tui_live import alive

from helpers import assert_nothing_left, processes_mentioning, wait_until

pytestmark = pytest.mark.system  # every test here starts processes or opens sockets

LEAVE_ALT_SCREEN = b"\x1b[?1049l"
ESCAPE_SEQUENCE = re.compile(rb"\x1b\[[0-9;?<>=$]*[A-Za-z~]")
GONE_WITHIN_S = 2.0  # a closed terminal window: from the close to no process and no run directory

# A bug in the UI: the screen's model read raises once the run is going.
UI_BUG = """
import sys
from rrsim.tui import run_screen
real = run_screen.RunScreen.read_model
calls = []
def broken(self, *args, **kwargs):
    calls.append(1)
    if len(calls) > 30:
        raise RuntimeError("injected UI bug")
    return real(self, *args, **kwargs)
run_screen.RunScreen.read_model = broken
from rrsim.cli import main
sys.exit(main(sys.argv[1:]))
"""

# A bug in the engine: decoding telemetry raises once the test creates the file named BREAK_ENGINE in TMPDIR.
BREAK_ENGINE = "break-the-engine"
ENGINE_BUG = f"""
import os, sys, tempfile
import rrsim.engine.engine
real = rrsim.engine.engine.telemetry.decode_batch
def broken(*args, **kwargs):
    if os.path.exists(os.path.join(tempfile.gettempdir(), {BREAK_ENGINE!r})):
        raise RuntimeError("injected engine bug")
    return real(*args, **kwargs)
rrsim.engine.engine.telemetry.decode_batch = broken
from rrsim.cli import main
sys.exit(main(sys.argv[1:]))
"""

# Textual's shutdown blocks for ever where it did when a closed terminal hung the app: stopping its writer.
STUCK_WRITER = """
import sys, threading
from textual.drivers._writer_thread import WriterThread
WriterThread.stop = lambda self: threading.Event().wait()
from rrsim.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("keys", [b"q", b"\x03"], ids=["q", "ctrl+c"])
def test_quitting_by_key_leaves_nothing(tmp_path, terminal, keys):
    term = terminal()
    term.type(keys)
    assert term.wait_exit() == 0
    assert LEAVE_ALT_SCREEN in term.output
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_ends_the_tui_cleanly(tmp_path, terminal, signum):
    term = terminal()
    term.process.send_signal(signum)
    assert term.wait_exit() == 128 + signum
    assert LEAVE_ALT_SCREEN in term.output
    assert b"Traceback" not in term.output
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize("program", [None, [sys.executable, "-c", STUCK_WRITER]], ids=["rrsim", "textual-stuck"])
def test_a_terminal_gone_without_sighup_ends_everything_within_two_seconds(tmp_path, terminal, program):
    term = terminal(program)
    closed = time.monotonic()
    term.hang_up()
    assert term.wait_exit(GONE_WITHIN_S) == 128 + signal.SIGHUP
    assert_nothing_left(tmp_path, within_s=max(0.0, closed + GONE_WITHIN_S - time.monotonic()))


def test_sigkill_of_the_tui_leaves_nothing_within_two_seconds(tmp_path, terminal):
    term = terminal()
    term.process.kill()
    term.wait_exit()
    assert_nothing_left(tmp_path, within_s=2.0)


def test_an_exception_in_the_ui_still_ends_everything(tmp_path, terminal):
    term = terminal([sys.executable, "-c", UI_BUG])
    assert term.wait_exit() != 0
    assert b"injected UI bug" in term.output
    assert LEAVE_ALT_SCREEN in term.output
    assert_nothing_left(tmp_path)


def test_an_exception_in_the_engine_ends_in_one_line_and_leaves_nothing(tmp_path, terminal):
    term = terminal([sys.executable, "-c", ENGINE_BUG])
    (tmp_path / BREAK_ENGINE).touch()
    assert term.wait_exit() == 1
    assert b"Traceback" not in term.output
    after_the_screen = ESCAPE_SEQUENCE.sub(b"", bytes(term.output).split(LEAVE_ALT_SCREEN)[-1]).decode()
    lines = [line for line in after_the_screen.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("rrsim: error: ") and "injected engine bug" in lines[0], lines
    assert_nothing_left(tmp_path)


class TmuxServer:
    """A private tmux server: each session is a terminal window, and kill-session closes it."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket
        # An idle first session keeps the server up between windows, and keeps every window's
        # TMPDIR out of the server's command line (it is the command line of the first client).
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "idle")

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", str(self.socket), *args],
                              check=True, capture_output=True, text=True, timeout=20).stdout

    def open(self, name: str, command: str, from_shell: bool) -> None:
        if from_shell:
            # Typed into an interactive shell, as most people start it: the shell passes the
            # SIGHUP of a closed window on to the whole job, children and janitor included.
            self.tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "35", "bash --norc --noprofile -i")
            self.tmux("send-keys", "-t", name, "-l", command)
            self.tmux("send-keys", "-t", name, "Enter")
        else:
            # Run by the terminal itself (xterm -e rrsim): rrsim leads the terminal's session.
            self.tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "35", f"exec {command}")

    def screen(self, name: str) -> str:
        return self.tmux("capture-pane", "-p", "-t", name)

    def close(self, name: str) -> None:
        self.tmux("kill-session", "-t", name)

    def stop(self) -> None:
        subprocess.run(["tmux", "-S", str(self.socket), "kill-server"], capture_output=True, timeout=20)


# On a busy machine the hang came in 1 close of 4 (1 of 2 from a shell): 6 in a row of each miss it
# together about 1 time in 300 (0.75**6 * 0.5**6), in a suite that must stay under 5 minutes.
CLOSED_WINDOWS = 3
RRSIM_WORKERS = 4


@pytest.mark.skipif(shutil.which("tmux") is None,
                    reason="tmux is not installed: it plays the terminal window that the test closes")
@pytest.mark.parametrize("from_shell", [False, True], ids=["run-by-the-terminal", "typed-into-a-shell"])
def test_closing_the_terminal_window_ends_everything_within_two_seconds(tmp_path, from_shell):
    server = TmuxServer(tmp_path / "tmux.sock")
    apps: list[int] = []
    try:
        for window in range(CLOSED_WINDOWS):
            where = tmp_path / f"window{window:02d}"
            where.mkdir()
            name = f"w{window:02d}"
            command = shlex.join(["env", f"TMPDIR={where}", sys.executable, "-m", "rrsim",
                                  "--workers", str(RRSIM_WORKERS), "--rate", "50"])
            server.open(name, command, from_shell)
            # Up and running: every worker, the pusher and the janitor, and a live worker on screen.
            wait_until(lambda where=where: len(processes_mentioning(str(where))) >= RRSIM_WORKERS + 2, 30,
                     f"window {window}: the children to start")
            wait_until(lambda name=name: "alive" in server.screen(name), 30, f"window {window}: a live worker on screen")
            app = parent_of(processes_mentioning(str(where))[0])
            apps.append(app)

            closed = time.monotonic()
            server.close(name)
            try:
                wait_until(lambda app=app: not alive(app), GONE_WITHIN_S, f"window {window}: rrsim (pid {app}) to end")
            except AssertionError as error:
                raise AssertionError(f"{error}; where it is:\n{stack_of(app)}") from None
            assert_nothing_left(where, within_s=max(0.0, closed + GONE_WITHIN_S - time.monotonic()))
    finally:
        server.stop()
        for app in apps:
            if alive(app):
                os.kill(app, signal.SIGKILL)  # its children die with it, and its janitor removes the run directory


def stack_of(pid: int) -> str:
    """Where a stuck rrsim is, for a failure message: its threads' stacks if py-spy is installed."""
    spy = shutil.which("py-spy", path=os.path.dirname(sys.executable)) or shutil.which("py-spy")
    if spy is None:
        return "(pip install py-spy to see its stack)"
    return subprocess.run([spy, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=60).stdout


def parent_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))

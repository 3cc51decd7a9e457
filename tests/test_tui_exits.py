"""Every way the TUI can end leaves no child process, no run directory, and a usable terminal.

The app runs for real in a pseudo-terminal with its own TMPDIR, as a user would run it.
"""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest

from test_no_orphans import assert_nothing_left, processes_mentioning, wait_for

LEAVE_ALT_SCREEN = b"\x1b[?1049l"

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


class Terminal:
    """rrsim on a pseudo-terminal of 120x35; collects everything it draws."""

    def __init__(self, tmp: Path, program: list[str]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 35, 120, 0, 0))
        env = {**os.environ, "TMPDIR": str(tmp), "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "35"}
        self.process = subprocess.Popen(program + ["--workers", "2"], stdin=slave, stdout=slave, stderr=slave,
                                        env=env, start_new_session=True, close_fds=True)
        os.close(slave)
        self.master = master
        self.output = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.output += chunk

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def wait_exit(self, timeout_s: float = 20.0) -> int:
        code = self.process.wait(timeout_s)
        self._reader.join(5)
        return code

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)


@pytest.fixture
def terminal(tmp_path):
    terminals: list[Terminal] = []

    def open_terminal(program: list[str] | None = None) -> Terminal:
        term = Terminal(tmp_path, program or [sys.executable, "-m", "rrsim"])
        terminals.append(term)
        # Up and running: both workers and the pusher exist, and the screen shows a live worker.
        wait_for(lambda: len(processes_mentioning(str(tmp_path))) >= 3, 30, "the children to start")
        wait_for(lambda: b"alive" in term.output, 30, "the screen to show a live worker")
        return term

    yield open_terminal
    for term in terminals:
        term.close()


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

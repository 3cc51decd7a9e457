"""rrsim on a real pseudo-terminal: the ``Terminal`` and the ``terminal`` fixture that opens them.

A plugin module, loaded by tests/conftest.py: test_tui_exits and test_replay both use the fixture
without importing it from each other.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers import processes_mentioning, wait_until


class Terminal:
    """rrsim on a pseudo-terminal of 120x35; collects everything it draws."""

    def __init__(self, tmp: Path, program: list[str]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 35, 120, 0, 0))
        env = {**os.environ, "TMPDIR": str(tmp), "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "35"}
        self.process = subprocess.Popen(program + ["--workers", "2"], stdin=slave, stdout=slave, stderr=slave,
                                        env=env, start_new_session=True, close_fds=True)
        os.close(slave)
        self.master: int | None = master
        self.output = bytearray()
        self._hanging_up = threading.Event()
        self._reader = threading.Thread(target=self._read, args=(master,), daemon=True)
        self._reader.start()

    def _read(self, master: int) -> None:
        while not self._hanging_up.is_set():
            if not select.select([master], [], [], 0.05)[0]:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.output += chunk

    def hang_up(self) -> None:
        """Close the terminal, as closing its window does.  It is not rrsim's controlling terminal
        (rrsim leads a session of its own), so rrsim gets no SIGHUP: only its writes fail."""
        self._hanging_up.set()
        self._reader.join(5)  # a read in progress would keep the terminal open
        assert self.master is not None
        os.close(self.master)
        self.master = None

    def type(self, keys: bytes) -> None:
        assert self.master is not None
        os.write(self.master, keys)

    def wait_exit(self, timeout_s: float = 20.0) -> int:
        code = self.process.wait(timeout_s)
        self._reader.join(5)
        return code

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.master is not None:
            os.close(self.master)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Callable[..., Terminal]]:
    """Opens rrsim (or ``program``) on a pseudo-terminal once it shows a live worker; closes them all at the end."""
    terminals: list[Terminal] = []

    def open_terminal(program: list[str] | None = None) -> Terminal:
        term = Terminal(tmp_path, program or [sys.executable, "-m", "rrsim"])
        terminals.append(term)
        # Up and running: both workers and the pusher exist, and the screen shows a live worker.
        wait_until(lambda: len(processes_mentioning(str(tmp_path))) >= 3, 30, "the children to start")
        wait_until(lambda: b"alive" in term.output, 30, "the screen to show a live worker")
        return term

    yield open_terminal
    for term in terminals:
        term.close()

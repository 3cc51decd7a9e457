"""The engine's side of the fork server (``rrsim/patterns/forkserver.py``): start it, ask it for a
child, and learn how each child ended.  A forked child is the fork server's, not ours, so
``ForkedChild`` stands where a ``subprocess.Popen`` stood: its ``poll``, ``wait`` and
``send_signal`` read the ends the fork server reports."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from rrsim.errors import UserError

START_WAIT_S = 30.0  # importing every pattern on a loaded machine: seconds, not minutes
GONE = -signal.SIGKILL  # a child of a fork server that is gone: PR_SET_PDEATHSIG killed it with its parent


class ForkServer:
    def __init__(self, run_dir: Path, log_path: Path, python_path: str) -> None:
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-P", "-m", "rrsim.patterns.forkserver", str(run_dir), str(os.getpid())],
                env={**os.environ, "PYTHONPATH": python_path},
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, close_fds=True,
            )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.requests = self.process.stdin
        self.answers = self.process.stdout.fileno()
        self.log_path = log_path
        self.pending = b""
        self.ended: dict[int, int] = {}  # pid -> how it ended, as subprocess gives it
        self.forgotten: set[int] = set()  # reported ended already (SIGKILLed): their ends are not kept
        self.gone = False  # the fork server ended: so did every child it had

    @property
    def pid(self) -> int:
        return self.process.pid

    def fork(self, spec_json: str, log_path: Path, group: bool, idle: bool) -> ForkedChild:
        request = json.dumps({"spec": spec_json, "log": str(log_path), "group": group, "idle": idle})
        try:
            self.requests.write(request.encode() + b"\n")
            self.requests.flush()
        except OSError:
            self.gone = True
        deadline = time.monotonic() + START_WAIT_S
        while not self.gone:
            for line in self.news(max(0.0, deadline - time.monotonic())):
                if line.startswith("pid "):
                    return ForkedChild(int(line.split()[1]), self)
            if time.monotonic() > deadline:
                break
        tail = self.log_path.read_text(errors="replace").strip().splitlines()[-1:] if self.log_path.exists() else []
        raise UserError(f"cannot start a child: rrsim's fork server {'ended' if self.gone else 'does not answer'}"
                        f"{': ' + tail[0] if tail else ''}")

    def news(self, timeout_s: float) -> list[str]:
        """What the fork server said, waiting at most ``timeout_s`` for something: the ends are
        noted in ``ended``, the rest (answers to ``fork``) returned."""
        if self.gone:
            return []
        answers: list[str] = []
        while True:
            readable, _, _ = select.select([self.answers], [], [], timeout_s)
            if not readable:
                return answers
            chunk = os.read(self.answers, 65536)
            if not chunk:
                self.gone = True
                return answers
            self.pending += chunk
            *lines, self.pending = self.pending.split(b"\n")
            for line in lines:
                words = line.decode().split()
                if words[0] != "end":
                    answers.append(line.decode())
                elif (pid := int(words[1])) in self.forgotten:
                    self.forgotten.discard(pid)  # said before any later child can have its pid
                else:
                    self.ended[pid] = int(words[2])
            timeout_s = 0.0  # take what else is there, then return

    def forget(self, pid: int) -> None:
        """Nobody will ask how ``pid`` ended: its end, whenever it comes, is not kept."""
        if self.ended.pop(pid, None) is None:
            self.forgotten.add(pid)

    def close(self) -> None:
        """It kills the children it still has, says how they ended, and ends."""
        try:
            self.requests.close()
        except OSError:
            pass
        deadline = time.monotonic() + 5.0
        while not self.gone and time.monotonic() < deadline:
            self.news(deadline - time.monotonic())
        try:
            self.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.gone = True
        self.process.stdout.close()  # type: ignore[union-attr]


class ForkedChild:
    """One child of the fork server, as the supervisor sees it."""

    def __init__(self, pid: int, server: ForkServer) -> None:
        self.pid = pid
        self.server = server
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.server.news(0.0)
        return self.heard()

    def heard(self) -> int | None:
        """How it ended, if the fork server has said so in what was read already (``poll`` reads first)."""
        if self.returncode is None:
            self._settle()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            left = 0.1 if deadline is None else deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0.0)
            self.server.news(min(left, 0.1))  # wakes with the fork server's next word
        return code

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:  # never a pid the fork server has reaped: it may be someone else's by now
            os.kill(self.pid, signum)

    def _settle(self) -> None:
        if self.pid in self.server.ended:
            self.returncode = self.server.ended.pop(self.pid)
        elif self.server.gone:
            self.returncode = GONE

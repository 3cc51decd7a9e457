"""The supervisor: starts child processes, sends them signals, notices how each one ended.

Children are forked by the run's fork server (``forking.py``), get stdin from /dev/null (the TUI
owns the terminal) and write stdout and stderr to one log file per incarnation in the run directory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

import rrsim
from rrsim.child.spec import ChildSpec
from rrsim.engine.forking import ForkedChild, ForkServer
from rrsim.errors import UserError

# A child runs the engine's own rrsim, wherever the engine was started: with -P (Python 3.11) the
# working directory is not put first on its path, where an rrsim/ there (a checkout of another
# version, say) would have been imported instead; the directory the engine's rrsim came from is.
RRSIM_FROM = str(Path(rrsim.__file__).resolve().parent.parent)
PYTHON_PATH = os.pathsep.join(p for p in (RRSIM_FROM, os.environ.get("PYTHONPATH")) if p)
STOP_GRACE_S = 5.0  # a stopped worker that has not finished by then is killed
LOG_TAIL_LINES = 5


@dataclass
class ChildProcess:
    name: str
    life: int
    process: ForkedChild
    log_path: Path
    ending: str | None = None  # "killed" | "stopped" | "run-end" once we asked it to go
    stop_deadline: float | None = None
    group: bool = False  # it leads a process group of its own (with the user's program): signal the group
    sigkilled: bool = False  # sent SIGKILL while it ran: ended, whether or not it has finished dying

    def signal(self, signum: int) -> None:
        if self.group:
            os.killpg(self.process.pid, signum)
        else:
            self.process.send_signal(signum)


@dataclass(frozen=True)
class Ended:
    name: str
    life: int
    how: str
    exit_code: int | None
    log_tail: tuple[str, ...]


class Supervisor:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: dict[str, ChildProcess] = {}  # the current incarnation of each name
        self.retiring: list[ChildProcess] = []  # earlier incarnations told to go but not yet reaped
        self.forks: ForkServer | None = None  # started with the first child
        self.idle = False  # children run SCHED_IDLE: the live view watches (child/runtime.py give_way)

    def start(self, name: str, life: int, spec: ChildSpec) -> int:
        log_path = self.log_dir / f"{name}.{life}.log"
        try:
            log_path.write_bytes(b"")  # the child writes it; here, what stops it is said as the user's error
        except OSError as error:
            # The run directory was removed (by a /tmp cleaner, say) and its sockets with it: a
            # child started anyway could never report.  The command fails; the run goes on.
            if not self.log_dir.is_dir():
                raise UserError(f"cannot start {name}: {self.log_dir} is gone (removed while rrsim ran?)") from None
            raise UserError(f"cannot start {name}: cannot write {log_path}: {error.strerror}") from None
        if self.forks is None:
            # Started here, on the thread that starts every child: PR_SET_PDEATHSIG follows the
            # thread, and the fork server and its children must end with the engine's run.
            self.forks = ForkServer(self.log_dir.parent, self.log_dir.parent / "forkserver.log", PYTHON_PATH)
        spec_json = json.dumps(replace(spec, parent_pid=self.forks.pid).to_dict())
        process = self.forks.fork(spec_json, log_path, group=bool(spec.worker_cmd), idle=self.idle)
        if name in self.children:
            self.retiring.append(self.children[name])  # killed, not reaped yet: reap() will say how it ended
        self.children[name] = ChildProcess(name, life, process, log_path, group=bool(spec.worker_cmd))
        return process.pid

    def running(self, name: str) -> bool:
        child = self.children.get(name)
        # As of the fork server's news that reap() read last: asked for every child each time
        # control goes out, a read each (a syscall that lets the UI's thread take the GIL) was 20 ms at 256.
        return child is not None and child.process.heard() is None and child.ending is None

    def kill(self, name: str) -> None:
        """SIGKILL; the next ``reap()`` reports the end at once.  A SIGKILLed process never runs
        its own code again, but its exit runs at its own priority: at niceness 19 on a busy
        machine, finishing dying took a worker up to 1.4 s, and the tile waited for it."""
        self._signal(name, signal.SIGKILL, "killed")
        child = self.children[name]
        child.sigkilled = child.process.poll() is None  # else it had ended by itself: that end is reported

    def stop(self, name: str) -> None:
        self._signal(name, signal.SIGTERM, "stopped")
        self._signal(name, signal.SIGCONT, "stopped")  # a paused worker must run to stop
        self.children[name].stop_deadline = time.monotonic() + STOP_GRACE_S

    def pause(self, name: str) -> None:
        self._signal(name, signal.SIGSTOP, None)

    def resume(self, name: str) -> None:
        self._signal(name, signal.SIGCONT, None)

    def _signal(self, name: str, signum: int, ending: str | None) -> None:
        child = self.children[name]
        if ending is not None:
            child.ending = ending
        try:
            child.signal(signum)
        except ProcessLookupError:
            pass  # it ended on its own just now; reap() will say how

    def reap(self) -> list[Ended]:
        """Every child that has ended since the last call, with how it ended."""
        ended = []
        now = time.monotonic()
        if self.forks is not None:
            self.forks.news(0.0)  # once for every child: 256 of them are reaped at each step
        for child in [*self.retiring, *self.children.values()]:
            code = child.process.heard()
            if code is None and child.sigkilled:
                code = -signal.SIGKILL  # the fork server reaps it when it has finished dying
                if self.forks is not None:
                    self.forks.forget(child.process.pid)
            if code is None:
                if child.stop_deadline is not None and now > child.stop_deadline:
                    _kill(child)
                    child.stop_deadline = None
                continue
            if child.group:
                _kill(child)  # the group's leader ended: whatever it started goes with it
            how = child.ending or "crashed"
            tail = self.log_tail(child) if how == "crashed" else ()
            ended.append(Ended(child.name, child.life, how, code, tail))
            if child in self.retiring:
                self.retiring.remove(child)
            else:
                del self.children[child.name]
        return ended

    def log_tail(self, child: ChildProcess) -> tuple[str, ...]:
        try:
            lines = child.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ()
        return tuple(line for line in lines if line.strip())[-LOG_TAIL_LINES:]

    def expect_run_end(self) -> None:
        """The run is ending: a child that ends from now on ended with it, not by itself.  Said by
        the thread that started the children before it stops: Linux kills them as it ends
        (PR_SET_PDEATHSIG follows the thread), and they must not be taken for crashed."""
        for child in [*self.retiring, *self.children.values()]:
            child.ending = child.ending or "run-end"

    def shutdown(self, timeout_s: float = 5.0) -> list[Ended]:
        """End every child (SIGKILL: nothing they do now matters) and wait for them."""
        everyone = [*self.retiring, *self.children.values()]
        for child in everyone:
            if child.process.poll() is None:
                child.ending = child.ending or "run-end"
                _kill(child)
        deadline = time.monotonic() + timeout_s
        for child in everyone:
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        ended = self.reap()
        if self.forks is not None:
            self.forks.close()
        return ended


def _kill(child: ChildProcess) -> None:
    try:
        child.signal(signal.SIGKILL)
    except ProcessLookupError:
        pass  # already gone

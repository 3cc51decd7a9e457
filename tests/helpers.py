"""What many test files share: rrsim run as a process or in this one, waiting with a deadline, nothing left."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import rrsim.commands.run
from rrsim import cli
from rrsim.scenario.scenario import Scenario

ERROR_PREFIX = "rrsim: error: "


# ---------------------------------------------------------------------------------- waiting
def wait_until(condition: Callable[[], Any], timeout_s: float, what: str | Callable[[], str],
               between: Callable[[], Any] = lambda: time.sleep(0.02)) -> None:
    """Call ``between`` until ``condition()`` holds; fail naming ``what`` after ``timeout_s``.

    A deadline only a failure reaches: on a loaded 2-core machine a Python process can take
    seconds to start, so give one that holds there, and judge the run by what it did."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what() if callable(what) else what}")
        between()


# ---------------------------------------------------------------------------------- processes
def processes_mentioning(text: str) -> list[int]:
    """Live processes (not this one, not zombies) whose command line holds ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            status = (entry / "status").read_text()
        except OSError:
            continue
        if text.encode() in cmdline and "State:\tZ" not in status:
            found.append(int(entry.name))
    return found


def assert_nothing_left(tmp: Path, within_s: float = 5.0, empty: bool = False) -> None:
    """No process of a run whose TMPDIR was ``tmp`` still runs, and its run directory is gone
    (with ``empty``: nothing at all is left in ``tmp``)."""
    wait_until(lambda: not processes_mentioning(str(tmp)), within_s,
               lambda: f"children to end: {processes_mentioning(str(tmp))}")
    left = (lambda: list(tmp.iterdir())) if empty else (lambda: [p for p in tmp.iterdir() if p.name.startswith("rrsim-")])
    wait_until(lambda: not left(), within_s, lambda: f"the run directory to be removed: {list(tmp.iterdir())}")


def start_rrsim(*args: str, tmp: Path | None, cwd: Path | None = None, **popen: Any) -> subprocess.Popen:
    """``python -m rrsim ARGS`` started with ``tmp`` as its TMPDIR (None: ours) and its cwd, unless ``cwd``."""
    popen.setdefault("stdin", subprocess.DEVNULL)
    env = os.environ if tmp is None else {**os.environ, "TMPDIR": str(tmp)}
    return subprocess.Popen([sys.executable, "-m", "rrsim", *args], env=env, cwd=tmp if cwd is None else cwd, **popen)


def run_rrsim(*args: str, tmp: Path | None, cwd: Path | None = None, timeout_s: float = 60.0) -> subprocess.CompletedProcess:
    """``python -m rrsim ARGS`` to its end, its output as text; a run that outlives ``timeout_s``
    is ended with SIGTERM (rrsim then ends its children and removes its run directory) and fails."""
    process = start_rrsim(*args, tmp=tmp, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          errors="replace")
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.terminate()
        stdout, stderr = process.communicate(timeout=30)
        raise AssertionError(f"rrsim {list(args)!r} still running after {timeout_s} s; "
                             f"stdout tail: {stdout[-800:]}\nstderr tail: {stderr[-800:]}") from None
    return subprocess.CompletedProcess(list(args), process.returncode, stdout, stderr)


class Stderr:
    """A child's stderr read line by line in a thread, so a test can wait for a line with a deadline."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(process.stderr,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout_s: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} in {timeout_s} s: {self.seen}") from None
            self.seen.append(line)
            if match := re.search(pattern, line):
                return match


def one_error_line(result: subprocess.CompletedProcess | Outcome, *needles: str) -> str:
    """The one ``rrsim: error:`` line of a refused command (exit code 2, no traceback), holding each of ``needles``."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(ERROR_PREFIX), result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# ---------------------------------------------------------------------------------- in this process
@dataclasses.dataclass
class Outcome:
    code: int | None
    stdout: str
    stderr: str
    started: list[tuple[str, Scenario]]  # what would have run: ("run" | "tui", scenario)
    exited: int | str | None = None  # SystemExit code, if main() raised it

    @property
    def returncode(self) -> int | None:
        return self.code


@contextlib.contextmanager
def nothing_starts(started: list[tuple[str, Scenario]]) -> Iterator[None]:
    """Replace the headless run and the TUI by recorders, so that cli.main only parses and checks."""
    real_headless = rrsim.commands.run.run_headless
    fake_tui = types.ModuleType("rrsim.tui.app")
    fake_tui.run_tui = lambda scenario, keep_logs=None, record=None, browser=False: started.append(("tui", scenario)) or 0  # type: ignore[attr-defined]
    saved_tui = sys.modules.get("rrsim.tui.app")
    rrsim.commands.run.run_headless = lambda scenario, *args, **kwargs: started.append(("run", scenario)) or 0
    sys.modules["rrsim.tui.app"] = fake_tui
    try:
        yield
    finally:
        rrsim.commands.run.run_headless = real_headless
        if saved_tui is None:
            del sys.modules["rrsim.tui.app"]
        else:
            sys.modules["rrsim.tui.app"] = saved_tui


@contextlib.contextmanager
def _in(cwd: Path | None, tmp: Path | None) -> Iterator[None]:
    """cwd and TMPDIR for one in-process run, and main()'s signal handlers taken back afterwards."""
    old_cwd, old_env, old_tempdir = os.getcwd(), os.environ.get("TMPDIR"), tempfile.tempdir
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}  # main() installs its own
    try:
        if cwd is not None:
            os.chdir(cwd)
        if tmp is not None:
            os.environ["TMPDIR"] = str(tmp)
            tempfile.tempdir = str(tmp)
        yield
    finally:
        os.chdir(old_cwd)
        if tmp is not None:
            tempfile.tempdir = old_tempdir
            if old_env is None:
                del os.environ["TMPDIR"]
            else:
                os.environ["TMPDIR"] = old_env
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def main_in_process(argv: list[str], cwd: Path | None = None, tmp: Path | None = None,
                    stand_ins: bool = True) -> Outcome:
    """``rrsim ARGV`` as ``cli.main`` in this process, in ``cwd`` and with ``tmp`` as TMPDIR.

    With ``stand_ins`` a headless run or the TUI is only recorded in ``started``; without, what
    would start one really does (outside a ``system`` test, tests/conftest.py then fails it)."""
    started: list[tuple[str, Scenario]] = []
    out, err = io.StringIO(), io.StringIO()
    code = exited = None
    with _in(cwd, tmp), contextlib.ExitStack() as stack:
        if stand_ins:
            stack.enter_context(nothing_starts(started))
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        try:
            code = cli.main(argv)
        except SystemExit as stop:
            exited = stop.code
    return Outcome(code, out.getvalue(), err.getvalue(), started, exited)

"""The suite's two tiers and how it may be shared between test processes (pytest-xdist).

Tiers: a test that starts a process or opens a ZeroMQ socket is marked ``system``;
``pytest -m "not system"`` runs the rest, the pure and in-process tests, in well under a minute.
The mark is kept honest by the hook below: outside a ``system`` test,
starting a process or creating a socket fails at once, saying so.

Sharing: the suite runs in three test processes (``-n 3`` in pyproject.toml), a test at a time in
each, wherever one is free (``--dist loadgroup``); a file whose tests share a fixture it makes once
marks itself ``xdist_group``, and runs whole in one process.  Most real-process runs are judged by
the order of events the model saw and pass beside another test (the chaos soak and the benchmarks' smoke run too: they are
judged by accounting).  A few measure time itself (theory's queueing waits, herding, who waits
behind a busy worker) and are marked ``alone``: the processes share a
lock, which such a test takes for itself, waiting for the others' current tests to end,
and which every other test takes shared, so that none starts while it runs.  A turnstile in front
of it makes that wait fair: flock lets a shared lock be taken while an exclusive one waits, so
without it the other processes' tests, overlapping, kept an ``alone`` test waiting until they ran
out of tests, and the ``alone`` tests then ran one after another at the end, with nothing beside.
"""

from __future__ import annotations

import _posixsubprocess
import contextlib
import fcntl
import multiprocessing.util
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
import zmq.sugar.socket

# The `terminal` fixture (rrsim on a pseudo-terminal), for every file that needs it.
pytest_plugins = ["pty_terminal"]


LOCK_VARIABLE = "RRSIM_TESTS_MACHINE_LOCK"


def pytest_configure(config: pytest.Config) -> None:
    # The controller of a run in several processes makes the lock file before it starts them;
    # they inherit its environment, and so its path.
    if os.environ.get("PYTEST_XDIST_WORKER") is None and (config.getoption("numprocesses", None) or 0) > 0:
        handle, path = tempfile.mkstemp(prefix="pytest-rrsim-machine-", suffix=".lock")
        os.close(handle)
        os.environ[LOCK_VARIABLE] = path


def pytest_unconfigure(config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER") is None and LOCK_VARIABLE in os.environ:
        path = os.environ.pop(LOCK_VARIABLE)
        Path(path).unlink(missing_ok=True)
        Path(path + ".turnstile").unlink(missing_ok=True)


@contextlib.contextmanager
def _machine(alone: bool) -> Iterator[None]:
    """The machine to this test alone (``alone``), or shared with the other test process's tests
    that do not need it alone; nothing to share when the suite runs in one process."""
    path = os.environ.get(LOCK_VARIABLE) if os.environ.get("PYTEST_XDIST_WORKER") else None
    if path is None:
        yield
        return
    with open(path + ".turnstile", "a") as turnstile, open(path, "a") as lock:
        # Whoever waits for the machine holds the turnstile: a test asking for it shared passes
        # through at once, unless an ``alone`` test is waiting or running, which holds it.
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            if not alone:
                fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            fcntl.flock(turnstile, fcntl.LOCK_UN)  # an alone test's; a no-op for the others


def _refuse(what: str, test: str) -> Any:
    def refused(*args: Any, **kwargs: Any) -> NoReturn:
        raise AssertionError(f"{test} {what}, but is not marked `system`: mark it "
                             f"@pytest.mark.system (or pytestmark = pytest.mark.system for a whole file), "
                             f"so that `pytest -m \"not system\"` stays a fast tier of pure tests")
    return refused


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """Outside a ``system`` test, starting a process or creating a ZeroMQ socket fails loudly.

    A hook rather than an autouse fixture: a fixture is set up after the session and module
    fixtures the test uses, and one of those starting a process would slip past it."""
    if item.get_closest_marker("system") is not None:
        with _machine(alone=item.get_closest_marker("alone") is not None):
            return (yield)
    starts = _refuse("starts a process", item.nodeid)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "_execute_child", starts)
        patch.setattr(_posixsubprocess, "fork_exec", starts)  # multiprocessing's spawn and forkserver
        patch.setattr(multiprocessing.util, "spawnv_passfds", starts)
        for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system"):
            patch.setattr(os, name, starts)
        patch.setattr(zmq.sugar.socket.Socket, "__init__", _refuse("opens a ZeroMQ socket", item.nodeid))
        with _machine(alone=False):
            return (yield)

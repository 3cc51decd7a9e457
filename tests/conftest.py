"""The suite's two tiers and how it may be shared between test processes (pytest-xdist).

Tiers: a test that starts a process or opens a ZeroMQ socket is marked ``system``;
``pytest -m "not system"`` runs the rest, the pure and in-process tests, in well under a minute.
The mark is kept honest by the hook below: outside a ``system`` test,
starting a process or creating a socket fails at once, saying so.

Sharing: it runs one test at a time (``-n 0`` in pyproject.toml): with two test processes on these 2
cores, real-process runs judged by their timing (the LRU order, theory's waits, a broker's kill,
a stranger's window, a refusal's socket) still failed at random, 5 of 419 in a run at a load of 9
(on the quiet machine the same run passed whole in 5:27, against 9:05 one at a time).
With ``-n 2 --dist loadgroup`` each file runs whole in one process, and the files below take
turns in one process: those judged by timing and those flat out (the chaos soak, the benchmarks'
smoke run).  The hook runs before xdist's own, which reads the groups into the test ids: after
it, as it first was, the groups were silently ignored.
"""

from __future__ import annotations

import _posixsubprocess
import multiprocessing.util
import os
import subprocess
from pathlib import Path
from typing import Any, NoReturn

import pytest
import zmq.sugar.socket

# The `terminal` fixture (rrsim on a pseudo-terminal), for every file that needs it.
pytest_plugins = ["pty_terminal"]

ONE_AT_A_TIME = {"test_theory.py", "test_broker.py", "test_strangers.py", "test_benchmarks.py", "test_soak.py"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        name = Path(str(item.fspath)).name
        item.add_marker(pytest.mark.xdist_group("one-at-a-time" if name in ONE_AT_A_TIME else name))


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
        return (yield)
    starts = _refuse("starts a process", item.nodeid)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "_execute_child", starts)
        patch.setattr(_posixsubprocess, "fork_exec", starts)  # multiprocessing's spawn and forkserver
        patch.setattr(multiprocessing.util, "spawnv_passfds", starts)
        for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system"):
            patch.setattr(os, name, starts)
        patch.setattr(zmq.sugar.socket.Socket, "__init__", _refuse("opens a ZeroMQ socket", item.nodeid))
        return (yield)

"""How the suite may be shared between test processes (pytest-xdist).

It runs one test at a time (``-n 0`` in pyproject.toml): on these 2 cores, two test processes
starved each other's real-process runs, and tests judged by their timing (the LRU order, theory's
waits, a stranger's window) failed at random.  With ``-n 2`` (``--dist loadgroup``) each file runs
in one process, except the files below, which then take turns in one process: those judged by
timing, and those flat out (rate 0, many workers, random setups).
"""

from __future__ import annotations

from pathlib import Path

import pytest

# Timed against queueing theory or one another (waits, orders), or flat out (rate 0, many workers,
# random setups): beside one another on two cores, the first fail for want of a core.
ONE_AT_A_TIME = {"test_theory.py", "test_broker.py", "test_strangers.py", "test_benchmarks.py", "test_tui_live.py",
                 "test_soak.py", "test_fuzz_input.py", "test_engine.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        name = Path(str(item.fspath)).name
        item.add_marker(pytest.mark.xdist_group("one-at-a-time" if name in ONE_AT_A_TIME else name))

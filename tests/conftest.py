"""How the suite is shared between its test processes (pytest-xdist, ``--dist loadgroup``).

Each test file runs in one process, as with ``--dist loadfile``, except the files whose runs are
either timed against theory or CPU-bound at rate 0: those run one after another in one process,
so that a run judged by its timing never shares the two cores with another that wants them whole.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# Timed against queueing theory or one another (waits, orders), or flat out at rate 0.
ONE_AT_A_TIME = {"test_theory.py", "test_broker.py", "test_benchmarks.py", "test_tui_live.py", "test_soak.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        name = Path(str(item.fspath)).name
        item.add_marker(pytest.mark.xdist_group("one-at-a-time" if name in ONE_AT_A_TIME else name))

"""How the suite may be shared between test processes (pytest-xdist).

It runs one test at a time (``-n 0`` in pyproject.toml): with two test processes on these 2
cores, real-process runs judged by their timing (the LRU order, theory's waits, a broker's kill,
a stranger's window, a refusal's socket) still failed at random, 5 of 419 in a run at a load of 9
(on the quiet machine the same run passed whole in 5:27, against 9:05 one at a time).
With ``-n 2 --dist loadgroup`` each file runs whole in one process, and the files below take
turns in one process: those judged by timing and those flat out (the chaos soak, the benchmarks'
smoke run).  The hook runs before xdist's own, which reads the groups into the test ids: after
it, as it first was, the groups were silently ignored.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ONE_AT_A_TIME = {"test_theory.py", "test_broker.py", "test_strangers.py", "test_benchmarks.py", "test_soak.py"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        name = Path(str(item.fspath)).name
        item.add_marker(pytest.mark.xdist_group("one-at-a-time" if name in ONE_AT_A_TIME else name))

"""How the suite is shared between its two test processes (pytest-xdist, ``-n 2 --dist loadgroup``).

Each file runs whole in one process.  The files below take turns in one process: those judged by
their timing (the LRU order, theory's waits, a stranger's window) and those flat out (the chaos
soak, the benchmarks' smoke run), so that a timing-judged run never has a flat-out one beside it,
and two flat-out ones never share the two cores.  The hook runs before xdist's own, which reads
the groups into the test ids: after it, the groups were silently ignored.
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

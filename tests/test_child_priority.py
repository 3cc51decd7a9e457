"""The children take the cores only when the engine does not want them: SCHED_IDLE at niceness 19,
set by the engine as it starts each one (before the child's own imports)."""

from __future__ import annotations

import os

import pytest

from helpers import wait_until
from rrsim.engine.engine import Engine
from rrsim.scenario.setup import Setup


@pytest.mark.system
def test_every_child_runs_idle_at_niceness_19():
    engine = Engine(Setup(workers=2, pushers=1, rate=10.0, messages=0))
    try:
        engine.start()
        wait_until(lambda: all(w.state == "alive" for w in engine.model.workers.values()), 30, "the workers alive",
                   between=lambda: engine.step(10))
        pids = [child.process.pid for child in engine.supervisor.children.values()]
        assert len(pids) == 3
        assert [os.sched_getscheduler(pid) for pid in pids] == [os.SCHED_IDLE] * 3
        assert [os.getpriority(os.PRIO_PROCESS, pid) for pid in pids] == [19] * 3
    finally:
        engine.close()

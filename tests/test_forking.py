"""The run's children are forked from its fork server: named for top and ps, ended with it, and
each end reported as subprocess would (real processes)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from helpers import wait_until
from rrsim.child.runtime import CHILD_NICENESS
from rrsim.engine.engine import Engine
from rrsim.scenario.setup import Setup
from rrsim.tui.source import LiveRun

pytestmark = pytest.mark.system


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@pytest.mark.parametrize("watched", [False, True], ids=["headless", "live-view"])
def test_children_are_forked_from_the_fork_server_named_giving_way_and_ended_with_it(watched: bool):
    engine = Engine(Setup(workers=2, rate=50, duration=30.0))
    if watched:
        LiveRun(engine)  # the live view's: its frames and keys come first (stepped here, not on its thread)
    try:
        engine.start()
        wait_until(lambda: all(w.life.pid for w in engine.model.workers.values()), 20, "the workers to start",
                   between=lambda: engine.step(10))
        forks = engine.supervisor.forks
        assert forks is not None
        children = {name: child.process.pid for name, child in engine.supervisor.children.items()}
        assert sorted(children) == ["p1", "w1", "w2"]
        for name, pid in children.items():
            assert _parent(pid) == forks.pid
            wait_until(lambda pid=pid, name=name: Path(f"/proc/{pid}/comm").read_text().strip() == f"rrsim {name}",
                       10, f"{name} to take its name")
            assert str(engine.run_dir) in Path(f"/proc/{pid}/cmdline").read_text()  # what the janitor looks for
            for task in Path(f"/proc/{pid}/task").iterdir():  # its ZeroMQ threads give way too
                assert os.sched_getscheduler(int(task.name)) == (os.SCHED_IDLE if watched else os.SCHED_OTHER), name
                assert os.getpriority(os.PRIO_PROCESS, int(task.name)) == CHILD_NICENESS, name
        w1 = engine.supervisor.children["w1"].process
        os.kill(w1.pid, signal.SIGSEGV)  # an end nobody on our side asked for
        assert w1.wait(10) == -signal.SIGSEGV
        forks.close()  # the engine gone: the fork server ends what it still has
        for name in ("p1", "w2"):
            assert engine.supervisor.children[name].process.wait(10) == -signal.SIGKILL
            wait_until(lambda pid=children[name]: not Path(f"/proc/{pid}").exists()
                       or "State:\tZ" in Path(f"/proc/{pid}/status").read_text(), 10, f"{name} to be gone")
    finally:
        engine.close()


def test_a_kill_is_shown_at_once_even_before_the_killed_process_has_finished_dying():
    """A SIGKILLed worker at niceness 19 on a busy machine can take a second to finish its exit and
    be reaped; the model says killed as soon as the signal is sent.  Here the fork server, which
    reaps, is held stopped, so that no end can be reported by it."""
    engine = Engine(Setup(workers=2, rate=50, duration=30.0))
    try:
        engine.start()
        wait_until(lambda: all(w.state == "alive" for w in engine.model.workers.values()), 20, "the workers to run",
                   between=lambda: engine.step(10))
        forks = engine.supervisor.forks
        assert forks is not None
        os.kill(forks.pid, signal.SIGSTOP)
        try:
            engine.kill("w1")
            w1 = engine.model.workers["w1"]
            assert (w1.state, w1.lives[0].how_ended, w1.lives[0].exit_code) == ("killed", "killed", -signal.SIGKILL)
        finally:
            os.kill(forks.pid, signal.SIGCONT)
        # When the fork server has reaped it, its end is not kept: nobody will ask for it again.
        wait_until(lambda: not forks.forgotten, 20, "the fork server to report w1's end", between=lambda: engine.step(10))
        assert forks.ended == {}
    finally:
        engine.close()

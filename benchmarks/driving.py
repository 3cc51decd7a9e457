"""Driving a real engine from a benchmark: step it until a condition holds, bounded in time."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rrsim.engine.engine import Engine
from rrsim.scenario.setup import Setup

STEP_MS = 10.0


class BenchmarkTimeout(RuntimeError):
    pass


@contextmanager
def running(setup: Setup) -> Iterator[Engine]:
    """A started engine; closed (every child ended, run directory removed) however the block ends."""
    engine = Engine(setup)
    try:
        engine.start()
        yield engine
    finally:
        engine.close()


def step_until(engine: Engine, done: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Step ``engine`` until ``done()`` (checked after every step) or raise after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise BenchmarkTimeout(f"{what}: not within {timeout_s:g} s")
        engine.step(STEP_MS)


def step_for(engine: Engine, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        engine.step(STEP_MS)


def all_connected(engine: Engine) -> bool:
    """Every running worker linked to every pusher (the model's view)."""
    model = engine.model
    workers = [w for w in model.workers.values() if w.running]
    return bool(workers) and bool(model.pushers) and all(
        frozenset((p, w.name)) in model.links for p in model.pushers for w in workers
    )

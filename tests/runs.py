"""Running real engines in tests: drive one to the end with a deadline, and record its events."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from rrsim import events as ev
from rrsim.engine.engine import Engine
from rrsim.scenario.actions import Action
from rrsim.scenario.setup import Setup


@dataclasses.dataclass
class Run:
    engine: Engine
    events: list[ev.Event]

    @property
    def model(self):
        return self.engine.model

    def deliveries(self, worker: str | None = None) -> list[ev.Deliveries]:
        return [e for e in self.events if isinstance(e, ev.Deliveries) and (worker is None or e.worker == worker)]

    def delivered_seqs(self, worker: str | None = None, life: int | None = None, pusher: int = 1) -> np.ndarray:
        parts = [e.seqs[e.pushers == pusher] for e in self.deliveries(worker) if life is None or e.life == life]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def first(self, kind: type, **match: Any) -> Any:
        return next(e for e in self.events if isinstance(e, kind) and all(getattr(e, k) == v for k, v in match.items()))

    def sent_by(self, t_ns: int, pusher: str = "p1") -> int:
        """What the pusher had reported sent at time t_ns."""
        sent = 0
        for e in self.events:
            if isinstance(e, ev.SentProgress) and e.pusher == pusher and e.t_ns <= t_ns:
                sent = max(sent, e.sent)
        return sent


Step = tuple[Callable[[Any], bool], Callable[[Engine], None]]  # (condition on the model, command)


def run(setup: Setup, timeline: list[Action] | tuple[Action, ...] = (), timeout_s: float = 60.0,
        steps: list[Step] | tuple[Step, ...] = ()) -> Run:
    """Run to the end (drained) or fail after ``timeout_s``; the engine is closed afterwards.

    Each of ``steps`` runs its command once its condition on the model holds, in order: a trigger
    on what happened, where a scenario's only know time and messages sent."""
    engine = Engine(setup, tuple(timeline))
    events: list[ev.Event] = []
    engine.subscribe(events.append)
    steps = list(steps)
    try:
        engine.start()
        deadline = time.monotonic() + timeout_s
        while not engine.finished:
            assert time.monotonic() < deadline, f"run did not drain in {timeout_s} s: {engine.model.totals()}"
            engine.step(10)
            while steps and steps[0][0](engine.model):
                steps.pop(0)[1](engine)
        assert not steps, "the run drained before every step ran"
    finally:
        engine.close()
    return Run(engine, events)


def assert_ledger_consistent(run: Run) -> None:
    model = run.model
    totals = model.totals()
    assert totals.sent == totals.delivered + totals.in_flight + totals.lost + totals.strayed
    assert model.drained and totals.in_flight == 0
    assert totals.sent == sum(p.sent for p in model.pushers.values())
    assert totals.delivered == sum(len(np.unique(run.delivered_seqs(pusher=i))) for i in range(1, len(model.pushers) + 1))
    assert sum(w.received for w in model.workers.values()) == totals.delivered + totals.duplicates

"""2. Reaction times on the engine's own clock (CLOCK_MONOTONIC, the clock of ``event.t_ns``).

- kill: from the moment ``Engine.kill`` is called to the ``ProcessEnded`` event that makes the
  worker ``killed`` in the model;
- revive: from the moment ``Engine.revive`` is called to the first ``Deliveries`` event of the
  new incarnation;
- start: from ``RunStarted`` to the ``LinkChanged`` after which every worker is linked to the
  pusher, for each worker count.

Kill and revive cycle through the workers of one run with a steady load of ``RATE`` msgs/s.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.driving import all_connected, running, step_for, step_until
from benchmarks.settings import Settings
from benchmarks.stats import summary
from rrsim import events as ev
from rrsim.engine.engine import Engine, now_ns
from rrsim.scenario.setup import Setup

RATE = 1000.0  # msgs/s through the run while workers are killed and revived
WORKERS = 4
SETTLE_S = 0.2  # between a revive and the next kill: the rotation settles
TIMEOUT_S = 30.0
TARGETS_MS = {"kill": 100.0, "revive": 300.0}
START_TARGETS_S = {4: 1.0, 64: 5.0}


class Watch:
    """Engine subscriber that remembers the first event matching what it is told to look for."""

    def __init__(self) -> None:
        self.kind: type | None = None
        self.match: dict[str, Any] = {}
        self.seen: ev.Event | None = None

    def expect(self, kind: type, **match: Any) -> None:
        self.kind, self.match, self.seen = kind, match, None

    def __call__(self, event: ev.Event) -> None:
        if self.seen is None and self.kind is not None and isinstance(event, self.kind):
            if all(getattr(event, k) == v for k, v in self.match.items()):
                self.seen = event


def kill_and_revive(settings: Settings) -> dict[str, Any]:
    setup = Setup(workers=WORKERS, rate=RATE, messages=0, wait_ready=True, duration=600.0)
    kills_ms: list[float] = []
    revives_ms: list[float] = []
    with running(setup) as engine:
        watch = Watch()
        engine.subscribe(watch)
        step_until(engine, lambda: all_connected(engine) and engine.model.ledger.delivered_unique > 0,
                   TIMEOUT_S, "kill/revive run: first deliveries")
        step_for(engine, SETTLE_S)
        for cycle in range(settings.kill_cycles):
            name = f"w{cycle % WORKERS + 1}"
            kills_ms.append(_time_command(engine, watch, "kill", name, ev.ProcessEnded, name=name, how="killed"))
            assert engine.model.workers[name].state == "killed"
            life = engine.model.workers[name].life.number + 1
            revives_ms.append(_time_command(engine, watch, "revive", name, ev.Deliveries, worker=name, life=life))
            step_for(engine, SETTLE_S)
    return {
        "setup": f"ipc, {WORKERS} workers, 1 pusher at {RATE:g} msgs/s, bind=pusher; workers killed and revived in turn",
        "kill_to_killed_ms": _with_target(summary(kills_ms, 2), "p95", TARGETS_MS["kill"]),
        "revive_to_first_delivery_ms": _with_target(summary(revives_ms, 2), "p95", TARGETS_MS["revive"]),
    }


def _time_command(engine: Engine, watch: Watch, command: str, worker: str, kind: type, /, **match: Any) -> float:
    """Milliseconds from issuing ``command`` to the engine event it should cause."""
    watch.expect(kind, **match)
    issued_ns = now_ns()
    getattr(engine, command)(worker)
    step_until(engine, lambda: watch.seen is not None, TIMEOUT_S, f"{command} {worker}")
    assert watch.seen is not None
    return (watch.seen.t_ns - issued_ns) / 1e6


def _one_start(workers: int) -> float:
    """Seconds from a run's start until all its workers are connected."""
    # wait_ready: nothing is sent, so the start is not slowed by traffic.
    setup = Setup(workers=workers, rate=0.0, messages=1, wait_ready=True, duration=120.0)
    with running(setup) as engine:
        started_ns = engine.model.started_ns
        connected_ns: list[int] = []

        def note(event: ev.Event) -> None:
            if isinstance(event, ev.LinkChanged) and not connected_ns and all_connected(engine):
                connected_ns.append(event.t_ns)

        engine.subscribe(note)
        step_until(engine, lambda: bool(connected_ns), TIMEOUT_S * 4, f"{workers} workers connecting")
        assert started_ns is not None
        return (connected_ns[0] - started_ns) / 1e9


def start_to_connected(workers: int, reps: int) -> dict[str, Any]:
    seconds: list[float] = []
    for _ in range(reps):
        seconds.append(_one_start(workers))
        time.sleep(0.2)  # let the ended processes' CPU go before the next start
    target = START_TARGETS_S.get(workers)
    result = summary(seconds, 3)
    return _with_target(result, "median", target) if target is not None else result


def _with_target(result: dict[str, Any], figure: str, target: float) -> dict[str, Any]:
    return {**result, "target": f"{figure} <= {target:g}", "met": result[figure] <= target}


def run(settings: Settings) -> dict[str, Any]:
    results = kill_and_revive(settings)
    results["start_to_all_connected_s"] = {
        str(workers): start_to_connected(workers, settings.reps) for workers in settings.start_workers
    }
    results["start_setup"] = "ipc, 1 pusher, bind=pusher; RunStarted to the link that completes the set"
    return results

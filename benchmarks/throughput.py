"""1. Throughput with full accounting: rrsim headless against bare pyzmq, alternating, same run.

Four sides, their order rotating from one repetition to the next: bare pyzmq, the compiled bare
baseline (the same sockets with C loops: the limit of this machine), and rrsim on its compiled
and on its Python loops.  Beside each rate, the CPU per message of the pusher, of the workers
together, and (rrsim) of the engine: from the moment every child said hello (bare: its first
send or receipt) to the end of its window.

rrsim: one pusher at rate 0, N workers, 64-byte messages, no work, ``wait_ready``; its figure
is messages / (first send, stamped by the pusher, to the moment the engine's ledger holds every
message, on the engine's clock).  Bare: the same counts, sizes and transport through
``benchmarks.bare``; messages / (first send to last receipt).  Each pair runs back to back,
the order alternating, and the figure is the median of the per-pair ratios.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from benchmarks.bare import process_cpu_s, run_bare
from benchmarks.driving import all_connected, running, step_until
from benchmarks.settings import Settings
from benchmarks.stats import summary
from rrsim import events as ev
from rrsim.child import loops
from rrsim.engine.engine import Engine
from rrsim.scenario.setup import Setup

TARGET_RATIO = 0.9
SIZE = 64
RUN_TIMEOUT_S = 120.0

WINDOW = ("first send (the pusher's stamp on message 0) to the moment the engine's ledger holds "
          "every message (engine clock, CLOCK_MONOTONIC); bare: first send to last receipt")


class AccountingWindow:
    """Engine subscriber: when the first message was sent, when the last arrived, when all were
    accounted; and the CPU each child and the engine spent from every child's hello to then."""

    def __init__(self, engine: Engine, messages: int) -> None:
        self.engine = engine
        self.messages = messages
        self.first_send_ns: int | None = None
        self.last_recv_ns = 0
        self.accounted_ns: int | None = None
        self.ready: set[str] = set()  # children that said hello
        self.cpu_from: dict[str, float] | None = None
        self.cpu_s: dict[str, float] = {}  # sender, receivers, engine

    def all_ready(self) -> bool:
        return self.ready >= {*self.engine.model.pushers, *self.engine.model.workers} and all_connected(self.engine)

    def cpu(self) -> dict[str, float]:
        model = self.engine.model
        return {"sender": sum(process_cpu_s(p.pid) for p in model.pushers.values()),
                "receivers": sum(process_cpu_s(w.lives[-1].pid) for w in model.workers.values() if w.lives),
                "engine": time.process_time()}

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.ProcessReady):
            self.ready.add(event.name)
        if not isinstance(event, ev.Deliveries):
            return
        first = int(event.sent_ns.min())
        if self.first_send_ns is None or first < self.first_send_ns:
            self.first_send_ns = first
        self.last_recv_ns = max(self.last_recv_ns, int(event.recv_ns.max()))
        if self.accounted_ns is None and self.engine.model.ledger.delivered_unique >= self.messages:
            self.accounted_ns = time.monotonic_ns()
            if self.cpu_from is not None:
                self.cpu_s = {k: v - self.cpu_from[k] for k, v in self.cpu().items()}


def us_per_message(cpu_s: dict[str, float], messages: int) -> dict[str, float]:
    per = {k: v / messages * 1e6 for k, v in cpu_s.items()}
    return {**per, "total": sum(per.values())}


@contextmanager
def loops_forced(kind: str | None) -> Iterator[None]:
    """The engine and its children run ``kind``'s loops (None: whichever they choose)."""
    before = os.environ.get(loops.ENV)
    if kind is not None:
        os.environ[loops.ENV] = kind
    loops.choose_again()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(loops.ENV, None)
        else:
            os.environ[loops.ENV] = before
        loops.choose_again()


def run_rrsim(transport: str, workers: int, messages: int,
              subscriber: Callable[[ev.Event], None] | None = None) -> dict[str, Any]:
    """One run; ``subscriber`` (a recorder, say) is handed every event as well, after the window."""
    setup = Setup(transport=transport, workers=workers, pushers=1, rate=0.0, messages=messages, size=SIZE,
                  work_ms=0.0, wait_ready=True, duration=RUN_TIMEOUT_S)
    with running(setup) as engine:
        # Held until every child is up and connected: their CPU is counted from then, start-up left out.
        engine.hold_sending(True)
        window = AccountingWindow(engine, messages)
        engine.subscribe(window)
        if subscriber is not None:
            engine.subscribe(subscriber)
        step_until(engine, window.all_ready, RUN_TIMEOUT_S, f"rrsim {transport} x{workers}: every child up")
        window.cpu_from = window.cpu()
        engine.hold_sending(False)
        step_until(engine, lambda: engine.finished, RUN_TIMEOUT_S, f"rrsim {transport} x{workers}")
    totals = engine.model.totals()
    if totals.delivered != messages or totals.lost or totals.duplicates or window.accounted_ns is None:
        raise RuntimeError(f"rrsim {transport} x{workers}: not every message accounted once: {totals}")
    assert window.first_send_ns is not None
    return {
        "msgs_per_s": messages / ((window.accounted_ns - window.first_send_ns) / 1e9),
        "stamped_msgs_per_s": messages / ((window.last_recv_ns - window.first_send_ns) / 1e9),
        "model_throughput": engine.model.throughput(),
        "loops": engine.model.loops,
        "cpu_us_per_message": us_per_message(window.cpu_s, messages) if window.cpu_s else None,
    }


SIDES = ("bare", "bare compiled", "rrsim compiled", "rrsim python")


def run_side(side: str, transport: str, workers: int, messages: int) -> dict[str, Any]:
    if side.startswith("bare"):
        result = run_bare(transport, workers, messages, SIZE, compiled=side == "bare compiled")
        if result.received != messages:
            raise RuntimeError(f"{side} {transport} x{workers}: {result.received} of {messages} received")
        cpu = us_per_message({"sender": result.sender_cpu_s, "receivers": result.receivers_cpu_s}, messages)
        return {"msgs_per_s": result.msgs_per_s, "cpu_us_per_message": cpu}
    with loops_forced(side.split()[1]):
        return run_rrsim(transport, workers, messages)


def run_case(transport: str, workers: int, settings: Settings) -> dict[str, Any]:
    sides = SIDES if loops.implementation() == loops.COMPILED else ("bare", "rrsim python")
    results: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    for rep in range(settings.reps):
        for side in sides[rep % len(sides):] + sides[:rep % len(sides)]:  # each side goes first in turn
            results[side].append(run_side(side, transport, workers, settings.messages))
    rrsim = results["rrsim compiled" if "rrsim compiled" in results else "rrsim python"]  # what rrsim runs here

    def ratios(side: str, to: str) -> dict[str, Any]:
        return summary([a["msgs_per_s"] / b["msgs_per_s"] for a, b in zip(results[side], results[to], strict=True)])

    ratio = summary([r["msgs_per_s"] / b["msgs_per_s"] for r, b in zip(rrsim, results["bare"], strict=True)])
    return {
        "case": f"{transport}, {workers} workers",
        "transport": transport, "workers": workers, "pushers": 1, "messages": settings.messages, "size": SIZE,
        "reps": settings.reps,
        "ratio": ratio,
        "bare_msgs_per_s": summary([b["msgs_per_s"] for b in results["bare"]], 0),
        "rrsim_msgs_per_s": summary([r["msgs_per_s"] for r in rrsim], 0),
        "rrsim_stamped_msgs_per_s": summary([r["stamped_msgs_per_s"] for r in rrsim], 0),
        "rrsim_model_throughput": summary([r["model_throughput"] for r in rrsim], 0),
        "loops": rrsim[0]["loops"],
        # Every side side by side: its rate, its ratios to both baselines, its CPU per message
        "sides": {side: {
            "msgs_per_s": summary([r["msgs_per_s"] for r in runs], 0),
            # rrsim's to the last receive stamp, without the last report's wait and the fold
            **({"stamped_msgs_per_s": summary([r["stamped_msgs_per_s"] for r in runs], 0)} if side.startswith("rrsim") else {}),
            "to_bare": ratios(side, "bare"),
            **({"to_bare_compiled": ratios(side, "bare compiled")} if "bare compiled" in results else {}),
            "cpu_us_per_message": {part: summary([r["cpu_us_per_message"][part] for r in runs if r["cpu_us_per_message"]], 2)
                                   for part in runs[0]["cpu_us_per_message"] or {}},
        } for side, runs in results.items()},
        "target": f"ratio >= {TARGET_RATIO}",
        "met": ratio["median"] >= TARGET_RATIO,
    }


def run(settings: Settings) -> dict[str, Any]:
    return {
        "window": WINDOW,
        "order": "each repetition runs bare and rrsim back to back, alternating which goes first",
        "cases": [run_case(transport, workers, settings) for transport, workers in settings.throughput_cases],
    }


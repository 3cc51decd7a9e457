"""1. Throughput with full accounting: rrsim headless against bare pyzmq, alternating, same run.

rrsim: one pusher at rate 0, N workers, 64-byte messages, no work, ``wait_ready``; its figure
is messages / (first send, stamped by the pusher, to the moment the engine's ledger holds every
message, on the engine's clock).  Bare: the same counts, sizes and transport through
``benchmarks.bare``; messages / (first send to last receipt).  Each pair runs back to back,
the order alternating, and the figure is the median of the per-pair ratios.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from benchmarks.bare import run_bare
from benchmarks.driving import running, step_until
from benchmarks.settings import Settings
from benchmarks.stats import summary
from rrsim import events as ev
from rrsim.engine.engine import Engine
from rrsim.scenario.setup import Setup

TARGET_RATIO = 0.9
SIZE = 64
RUN_TIMEOUT_S = 120.0

WINDOW = ("first send (the pusher's stamp on message 0) to the moment the engine's ledger holds "
          "every message (engine clock, CLOCK_MONOTONIC); bare: first send to last receipt")


class AccountingWindow:
    """Engine subscriber: when the first message was sent, when the last arrived, when all were accounted."""

    def __init__(self, engine: Engine, messages: int) -> None:
        self.engine = engine
        self.messages = messages
        self.first_send_ns: int | None = None
        self.last_recv_ns = 0
        self.accounted_ns: int | None = None

    def __call__(self, event: ev.Event) -> None:
        if not isinstance(event, ev.Deliveries):
            return
        first = int(event.sent_ns.min())
        if self.first_send_ns is None or first < self.first_send_ns:
            self.first_send_ns = first
        self.last_recv_ns = max(self.last_recv_ns, int(event.recv_ns.max()))
        if self.accounted_ns is None and self.engine.model.ledger.delivered_unique >= self.messages:
            self.accounted_ns = time.monotonic_ns()


def run_rrsim(transport: str, workers: int, messages: int,
              subscriber: Callable[[ev.Event], None] | None = None) -> dict[str, Any]:
    """One run; ``subscriber`` (a recorder, say) is handed every event as well, after the window."""
    setup = Setup(transport=transport, workers=workers, pushers=1, rate=0.0, messages=messages, size=SIZE,
                  work_ms=0.0, wait_ready=True, duration=RUN_TIMEOUT_S)
    with running(setup) as engine:
        window = AccountingWindow(engine, messages)
        engine.subscribe(window)
        if subscriber is not None:
            engine.subscribe(subscriber)
        step_until(engine, lambda: engine.finished, RUN_TIMEOUT_S, f"rrsim {transport} x{workers}")
    totals = engine.model.totals()
    if totals.delivered != messages or totals.lost or totals.duplicates or window.accounted_ns is None:
        raise RuntimeError(f"rrsim {transport} x{workers}: not every message accounted once: {totals}")
    assert window.first_send_ns is not None
    return {
        "msgs_per_s": messages / ((window.accounted_ns - window.first_send_ns) / 1e9),
        "stamped_msgs_per_s": messages / ((window.last_recv_ns - window.first_send_ns) / 1e9),
        "model_throughput": engine.model.throughput(),
    }


def run_case(transport: str, workers: int, settings: Settings) -> dict[str, Any]:
    bare: list[float] = []
    rrsim: list[dict[str, Any]] = []
    ratios: list[float] = []
    for rep in range(settings.reps):
        pair: dict[str, float] = {}
        for side in (("bare", "rrsim") if rep % 2 == 0 else ("rrsim", "bare")):
            if side == "bare":
                result = run_bare(transport, workers, settings.messages, SIZE)
                if result.received != settings.messages:
                    raise RuntimeError(f"bare {transport} x{workers}: {result.received} of {settings.messages} received")
                pair["bare"] = result.msgs_per_s
            else:
                rrsim.append(run_rrsim(transport, workers, settings.messages))
                pair["rrsim"] = rrsim[-1]["msgs_per_s"]
        bare.append(pair["bare"])
        ratios.append(pair["rrsim"] / pair["bare"])
    ratio = summary(ratios)
    return {
        "case": f"{transport}, {workers} workers",
        "transport": transport, "workers": workers, "pushers": 1, "messages": settings.messages, "size": SIZE,
        "reps": settings.reps,
        "ratio": ratio,
        "bare_msgs_per_s": summary(bare, 0),
        "rrsim_msgs_per_s": summary([r["msgs_per_s"] for r in rrsim], 0),
        "rrsim_stamped_msgs_per_s": summary([r["stamped_msgs_per_s"] for r in rrsim], 0),
        "rrsim_model_throughput": summary([r["model_throughput"] for r in rrsim], 0),
        "target": f"ratio >= {TARGET_RATIO}",
        "met": ratio["median"] >= TARGET_RATIO,
    }


def run(settings: Settings) -> dict[str, Any]:
    return {
        "window": WINDOW,
        "order": "each repetition runs bare and rrsim back to back, alternating which goes first",
        "cases": [run_case(transport, workers, settings) for transport, workers in settings.throughput_cases],
    }


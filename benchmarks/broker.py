"""5. The load-balancing broker: rrsim's lb-broker at rate 0 with every message accounted, against a
bare LRU broker in the style of the guide's ``lbbroker`` (same sockets: PUSH -> PULL | ROUTER ->
DEALER workers, same message size, nothing recorded), alternating in one run; and the latency
the broker adds per message at a moderate rate, against push-pull at the same rate.
"""

from __future__ import annotations

from typing import Any

from benchmarks.bare import run_bare
from benchmarks.driving import running, step_until
from benchmarks.settings import Settings
from benchmarks.stats import summary
from benchmarks.throughput import SIZE, AccountingWindow
from rrsim.scenario.setup import Setup

TARGET_RATIO = 0.9
WORKERS = 4
RUN_TIMEOUT_S = 120.0
LATENCY_RATE = 1000.0  # messages a second: the broker and the workers mostly idle


def _rrsim_throughput(messages: int) -> float:
    setup = Setup(pattern="lb-broker", workers=WORKERS, rate=0.0, messages=messages, size=SIZE,
                  wait_ready=True, duration=RUN_TIMEOUT_S)
    with running(setup) as engine:
        window = AccountingWindow(engine, messages)
        engine.subscribe(window)
        step_until(engine, lambda: engine.finished, RUN_TIMEOUT_S, "rrsim lb-broker")
    totals = engine.model.totals()
    if totals.delivered != messages or totals.lost or window.accounted_ns is None or window.first_send_ns is None:
        raise RuntimeError(f"rrsim lb-broker: not every message accounted once: {totals}")
    return messages / ((window.accounted_ns - window.first_send_ns) / 1e9)


def _wait_ms(pattern: str, messages: int) -> dict[str, float | None]:
    """Send to receipt, p50 and p99, at LATENCY_RATE with no work."""
    setup = Setup(pattern=pattern, workers=WORKERS, rate=LATENCY_RATE, messages=messages, size=SIZE,
                  wait_ready=True, duration=RUN_TIMEOUT_S)
    with running(setup) as engine:
        step_until(engine, lambda: engine.finished, RUN_TIMEOUT_S, f"rrsim {pattern} at {LATENCY_RATE:g}/s")
    wait = engine.model.wait
    return {"p50": wait.quantile_ms(0.5), "p99": wait.quantile_ms(0.99)}


def run(settings: Settings) -> dict[str, Any]:
    messages = max(2_000, settings.messages // 5)  # a round trip per message: far slower than push-pull
    bare: list[float] = []
    rrsim: list[float] = []
    ratios: list[float] = []
    for rep in range(settings.reps):
        pair: dict[str, float] = {}
        for side in (("bare", "rrsim") if rep % 2 == 0 else ("rrsim", "bare")):
            if side == "bare":
                result = run_bare("ipc", WORKERS, messages, SIZE, broker=True)
                if result.received != messages:
                    raise RuntimeError(f"bare lbbroker: {result.received} of {messages} received")
                pair[side] = result.msgs_per_s
            else:
                pair[side] = _rrsim_throughput(messages)
        bare.append(pair["bare"])
        rrsim.append(pair["rrsim"])
        ratios.append(pair["rrsim"] / pair["bare"])
    latency_messages = max(500, int(LATENCY_RATE * min(3.0, settings.messages / 100_000)))
    broker_wait = _wait_ms("lb-broker", latency_messages)
    push_pull_wait = _wait_ms("push-pull", latency_messages)
    ratio = summary(ratios)
    return {
        "case": f"ipc, {WORKERS} workers, rate 0",
        "messages": messages, "size": SIZE, "reps": settings.reps,
        "ratio": ratio,
        "bare_msgs_per_s": summary(bare, 0),
        "rrsim_msgs_per_s": summary(rrsim, 0),
        "target": f"ratio >= {TARGET_RATIO}",
        "met": ratio["median"] >= TARGET_RATIO,
        "latency": {
            "rate": LATENCY_RATE, "messages": latency_messages,
            "lb_broker_wait_ms": broker_wait, "push_pull_wait_ms": push_pull_wait,
            "added_ms": {q: (None if broker_wait[q] is None or push_pull_wait[q] is None
                             else round(broker_wait[q] - push_pull_wait[q], 3)) for q in ("p50", "p99")},
        },
    }

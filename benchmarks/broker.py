"""5. The load-balancing broker: rrsim's lb-broker at rate 0 with every message accounted, against a
bare LRU broker in the style of the guide's ``lbbroker`` (same sockets: PUSH -> PULL | ROUTER ->
DEALER workers, same message size, nothing recorded), alternating in one run; and the latency
the broker adds per message at a moderate rate, against push-pull at the same rate.  Reliable
(lb-broker with the Pirates' acknowledgements and heartbeats) runs the same stream beside them:
what its guarantees cost, not a target.

Beside each rate, the CPU per message of each process: rrsim's from the moment every child said
hello and is connected (sending is held until then) to the moment the ledger holds every
message, the engine's included; the bare side's from its first message to its last.
"""

from __future__ import annotations

from typing import Any

from benchmarks.bare import process_cpu_s, run_bare
from benchmarks.driving import running, step_until
from benchmarks.settings import Settings
from benchmarks.stats import summary
from benchmarks.throughput import SIZE, AccountingWindow, us_per_message
from rrsim.engine.engine import Engine
from rrsim.scenario.setup import Setup

TARGET_RATIO = 1.0
WORKERS = 4
RUN_TIMEOUT_S = 120.0
LATENCY_RATE = 1000.0  # messages a second: the broker and the workers mostly idle


class BrokerWindow(AccountingWindow):
    """The accounting window with the broker's CPU beside the pushers', the workers' and the engine's."""

    def __init__(self, engine: Engine, messages: int) -> None:
        super().__init__(engine, messages)
        self.brokers = engine.model.brokers

    def all_ready(self) -> bool:
        model = self.engine.model
        names = {*model.pushers, *self.brokers, *model.workers}
        linked = all(frozenset((b, n)) in model.links for b in self.brokers for n in names - set(self.brokers))
        return bool(self.brokers) and self.ready >= names and linked

    def cpu(self) -> dict[str, float]:
        return {**super().cpu(), "broker": sum(process_cpu_s(b.lives[-1].pid) for b in self.brokers.values() if b.lives)}


def _rrsim_side(messages: int, pattern: str = "lb-broker") -> tuple[float, dict[str, float]]:
    """msgs/s, and CPU per message of each part (us)."""
    setup = Setup(pattern=pattern, workers=WORKERS, rate=0.0, messages=messages, size=SIZE,
                  wait_ready=True, duration=RUN_TIMEOUT_S)
    with running(setup) as engine:
        engine.hold_sending(True)  # every child up and connected first: their CPU is counted from then
        window = BrokerWindow(engine, messages)
        engine.subscribe(window)
        step_until(engine, window.all_ready, RUN_TIMEOUT_S, f"rrsim {pattern}: every child up")
        window.cpu_from = window.cpu()
        engine.hold_sending(False)
        step_until(engine, lambda: engine.finished, RUN_TIMEOUT_S, f"rrsim {pattern}")
    totals = engine.model.totals()
    if totals.delivered != messages or totals.lost or window.accounted_ns is None or window.first_send_ns is None:
        raise RuntimeError(f"rrsim {pattern}: not every message accounted once: {totals}")
    return messages / ((window.accounted_ns - window.first_send_ns) / 1e9), us_per_message(window.cpu_s, messages)


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
    reliable: list[float] = []  # its acknowledgements and heartbeats, on the same stream: beside, not a target
    cpu: dict[str, list[dict[str, float]]] = {"bare": [], "rrsim": [], "reliable": []}
    for rep in range(settings.reps):
        pair: dict[str, float] = {}
        for side in (("bare", "rrsim") if rep % 2 == 0 else ("rrsim", "bare")):
            if side == "bare":
                result = run_bare("ipc", WORKERS, messages, SIZE, broker=True)
                if result.received != messages:
                    raise RuntimeError(f"bare lbbroker: {result.received} of {messages} received")
                pair[side] = result.msgs_per_s
                cpu[side].append(us_per_message({"sender": result.sender_cpu_s, "broker": result.broker_cpu_s,
                                                 "receivers": result.receivers_cpu_s}, messages))
            else:
                pair[side], used = _rrsim_side(messages)
                cpu[side].append(used)
        rate, used = _rrsim_side(messages, "reliable")
        reliable.append(rate)
        cpu["reliable"].append(used)
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
        "reliable_msgs_per_s": summary(reliable, 0),
        "cpu_us_per_message": {side: {part: summary([c[part] for c in runs if part in c], 1) for part in runs[0]}
                               for side, runs in cpu.items() if runs and runs[0]},
        "target": f"ratio >= {TARGET_RATIO}",
        "met": ratio["median"] >= TARGET_RATIO,
        "latency": {
            "rate": LATENCY_RATE, "messages": latency_messages,
            "lb_broker_wait_ms": broker_wait, "push_pull_wait_ms": push_pull_wait,
            "added_ms": {q: (None if broker_wait[q] is None or push_pull_wait[q] is None
                             else round(broker_wait[q] - push_pull_wait[q], 3)) for q in ("p50", "p99")},
        },
    }

"""Commands given during a real run, judged by their effect on the processes rather than the
engine's bookkeeping: a strategy switched live changes whom the broker deals to, a rate changed
live changes what the pushers send, and a held pusher sends nothing."""

from __future__ import annotations

import time

import numpy as np
import pytest

from rrsim import events as ev
from rrsim.scenario.setup import Setup
from runs import Run, assert_ledger_consistent, run

pytestmark = pytest.mark.system


def _owners(result: Run, messages: int) -> np.ndarray:
    """Which worker (1, 2) received each seq."""
    owner = np.zeros(messages, dtype=int)
    for index in (1, 2):
        owner[result.delivered_seqs(f"w{index}")] = index
    assert (owner > 0).all(), "every message was delivered once"
    return owner


def _alternating_tail(owner: np.ndarray) -> int:
    """How many of the last messages went to the two workers strictly in turn."""
    breaks = np.flatnonzero(owner[1:] == owner[:-1])
    return len(owner) if not len(breaks) else len(owner) - 1 - int(breaks[-1])


def test_a_strategy_switched_live_changes_whom_the_broker_deals_to():
    # w1 takes 30 ms a message, w2 1.5 ms; one every 10 ms.  Under lru w1 is busy when most messages
    # come and gets about one in four; switched to round-robin, the broker deals strictly in turns,
    # busy or not.  The switch is given once 80 messages are delivered.
    messages = 200
    setup = Setup(pattern="lb-broker", strategy="lru", workers=2, speeds=(0.05, 1.0), work_ms=1.5, rate=100.0,
                  messages=messages, wait_ready=True, drain_s=10.0)
    switched: list[int] = []

    def switch(engine) -> None:
        switched.append(engine.model.pushers["p1"].sent)
        engine.set_strategy("round-robin")

    result = run(setup, timeout_s=60, steps=[(lambda m: m.totals().delivered >= 80, switch)])
    assert_ledger_consistent(result)
    owner = _owners(result, messages)
    # Before: lru kept the slow worker to what it could take, far from turns.  Judged up to 30
    # messages before the switch: the pusher's count reaches the engine a report late, and what
    # waited in the broker then was dealt by the new strategy (15 of them once, at a load of 8).
    before = owner[: switched[0] - 30]
    assert np.mean(before == 1) < 0.35 and _alternating_tail(before) < 10, before
    # After: strict turns, from soon after the switch (the broker hears of it with its next control
    # state) to the end.
    tail = _alternating_tail(owner)
    assert tail >= messages - switched[0] - 40, (switched, tail, owner[switched[0]:].tolist())


def test_a_rate_changed_live_is_what_the_pusher_sends_and_a_held_pusher_sends_nothing():
    # 100/s until 50 are sent, then 400/s until 350, held for a second, released for the last 50.
    messages, slow, fast = 450, 100.0, 400.0
    setup = Setup(workers=2, rate=slow, messages=messages, wait_ready=True, drain_s=10.0)
    marks: dict[str, int] = {}  # when (ns, engine clock) each command was given
    given: dict[str, float] = {}  # and when by the wall clock: a hold lasts a second of it

    def command(name: str, act) -> object:
        def give(engine) -> None:
            marks[name], given[name] = engine.model.now_ns, time.monotonic()
            act(engine)
        return give

    sent = lambda m: m.pushers["p1"].sent  # noqa: E731
    result = run(setup, timeout_s=60, steps=[
        (lambda m: sent(m) >= 50, command("fast", lambda e: e.set_rate(fast))),
        (lambda m: sent(m) >= 350, command("held", lambda e: e.hold_sending(True))),
        (lambda m: time.monotonic() >= given["held"] + 1.0, command("released", lambda e: e.hold_sending(False))),
    ])
    assert_ledger_consistent(result)
    progress = [(e.t_ns, e.sent) for e in result.events if isinstance(e, ev.SentProgress) and e.pusher == "p1"]

    def measured_rate(start_ns: int, end_ns: int) -> float:
        inside = [(t, n) for t, n in progress if start_ns <= t <= end_ns]
        assert len(inside) >= 2, (start_ns, end_ns, progress)
        (t0, n0), (t1, n1) = inside[0], inside[-1]
        return (n1 - n0) / ((t1 - t0) / 1e9)

    first = next(t for t, n in progress if n >= 5)
    settle = 100_000_000  # 100 ms for the pusher to hear of a change
    assert measured_rate(first, marks["fast"]) == pytest.approx(slow, rel=0.25), progress
    assert measured_rate(marks["fast"] + settle, marks["held"]) == pytest.approx(fast, rel=0.25), progress
    # Held: once it has heard, its count stands still for the rest of the hold.
    at_heard = result.sent_by(marks["held"] + settle)
    assert result.sent_by(marks["released"]) == at_heard, progress
    assert at_heard < messages and result.sent_by(marks["released"] + 10 * settle) > at_heard

"""When a run is over (engine/drain.py), from fixed events: no processes."""

from __future__ import annotations

from test_causes import push_pull

from rrsim import events as ev
from rrsim.engine.drain import Drain
from rrsim.model.model import NS


def test_a_run_whose_worker_backs_off_past_the_retry_budget_waits_for_it_to_connect_again():
    """Reliable's workers back off up to 32 s after losing their broker, and the pushers keep
    copies to send again: the run is not over while such a worker has yet to connect again."""
    model = push_pull(2)
    model.apply(ev.SentProgress(NS, "p1", 10, False, 2, True, counters={"kept": 4}))  # 4 not acknowledged
    model.apply(ev.Waiting(2 * NS, "w1", 1, True, retry_s=16.0))  # back at 18 s
    drain = Drain(drain_s=0.5, retry_budget_s=3.0)
    last_activity = 2 * NS
    assert not drain.over(model, 2 * NS, False, False, last_activity)  # the end of sending is noted
    assert not drain.over(model, 10 * NS, False, False, last_activity)  # past the retry budget, still backing off
    assert not drain.over(model, 20 * NS, False, False, last_activity)  # connected again: the budget starts then
    assert drain.over(model, 21 * NS + 1, False, False, last_activity)
    model.apply(ev.Waiting(30 * NS, "w2", 1, True, retry_s=16.0))
    model.apply(ev.ProcessEnded(30 * NS, "w2", 1, "killed", -9))  # a dead worker connects nowhere
    assert drain.over(model, 31 * NS, False, False, last_activity)


def test_a_run_with_copies_kept_and_no_worker_backing_off_waits_the_retry_budget():
    model = push_pull(2)
    model.apply(ev.SentProgress(NS, "p1", 10, False, 2, True, counters={"kept": 4}))
    drain = Drain(drain_s=0.5, retry_budget_s=3.0)
    assert not drain.over(model, 2 * NS, False, False, 2 * NS)
    assert not drain.over(model, 4 * NS, False, False, 2 * NS)
    assert drain.over(model, 5 * NS, False, False, 2 * NS)

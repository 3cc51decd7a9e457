"""The ledger and the model without processes: fixed events in, facts out."""

from __future__ import annotations

import numpy as np
import pytest

from rrsim import events as ev
from rrsim.model.ledger import Ledger, PusherLedger
from rrsim.model.model import NS, Model
from rrsim.report.wording import describe


def arr(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def test_ledger_invariant_through_deliveries_duplicates_and_loss():
    ledger = PusherLedger()
    ledger.record_sent(10)
    flags = ledger.record_deliveries(arr(0, 1, 2, 2, 5))
    assert flags.first.tolist() == [True, True, True, False, True]
    assert (ledger.delivered_unique, ledger.duplicates) == (4, 1)
    assert ledger.sent == ledger.delivered_unique + ledger.in_flight + ledger.lost
    lost = ledger.declare_lost_below(7)
    assert lost.tolist() == [3, 4, 6]
    assert ledger.lost == 3 and ledger.in_flight == 3
    # A message counted lost that turns up after all moves back to delivered.
    flags = ledger.record_deliveries(arr(4))
    assert flags.was_lost.tolist() == [True]
    assert ledger.lost == 2 and ledger.delivered_unique == 5
    assert ledger.sent == ledger.delivered_unique + ledger.in_flight + ledger.lost


def test_delivery_before_the_send_report_counts_as_sent():
    ledger = PusherLedger()
    ledger.record_deliveries(arr(41))
    assert ledger.sent == 42 and ledger.in_flight == 41


def test_ledger_grows_and_costs_about_one_byte_per_message():
    ledger = Ledger()
    ledger.pusher(1).record_sent(3_000_000)
    ledger.pusher(1).record_deliveries(np.arange(0, 3_000_000, 2))
    assert ledger.memory_bytes() <= 2 * 3_000_000 / 8  # growth doubles; one bit a message
    assert ledger.pusher(1).delivered_unique == 1_500_000
    newly = ledger.drain()
    assert len(newly[1]) == 1_500_000 and ledger.in_flight == 0
    assert ledger.lost_ids(3) == ["p1:1", "p1:3", "p1:5"]


def test_any_number_of_duplicates_leaves_a_message_delivered_once():
    ledger = PusherLedger()
    for _ in range(300):
        ledger.record_deliveries(arr(0))
    ledger.record_deliveries(arr(9, 9, 8, 0, 9))  # out of order, repeats inside one batch
    assert (ledger.delivered_unique, ledger.duplicates) == (3, 299 + 3)
    assert ledger.declare_lost_below(10).tolist() == [1, 2, 3, 4, 5, 6, 7]


def test_the_bit_ledger_agrees_with_a_plain_count_of_every_id():
    # Random batches, sorted or not, with repeats, across byte boundaries, with loss scans in between.
    rng = np.random.default_rng(7)
    ledger, counts, lost = PusherLedger(), np.zeros(5000, dtype=np.int64), set()
    for round_ in range(200):
        seqs = rng.integers(0, 5000, size=rng.integers(1, 60))
        if round_ % 2:
            seqs = np.unique(seqs)  # the fast path: increasing, no repeats
        flags = ledger.record_deliveries(seqs)
        for i, seq in enumerate(seqs.tolist()):
            assert flags.first[i] == (counts[seq] == 0)
            assert flags.was_lost[i] == (counts[seq] == 0 and seq in lost)
            counts[seq] += 1
            lost.discard(seq)
        if round_ % 7 == 3:  # a router gives some up: lost at once, wherever the scan is
            given_up = rng.integers(0, ledger.sent, size=5)
            expected = sorted({s for s in given_up.tolist() if counts[s] == 0 and s not in lost and s >= ledger.lost_scan})
            assert ledger.declare_lost(given_up).tolist() == expected
            lost.update(expected)
        if round_ % 20 == 19:
            boundary = min(round_ * 25, ledger.sent)
            expected = [s for s in range(ledger.lost_scan, boundary) if counts[s] == 0 and s not in lost]
            newly = ledger.declare_lost_below(round_ * 25)
            assert newly.tolist() == expected
            lost.update(expected)
        assert ledger.lost == len(lost)
    assert ledger.delivered_unique == np.count_nonzero(counts)
    assert ledger.duplicates == int(counts.sum()) - np.count_nonzero(counts)
    assert sorted(ledger.lost_seqs(10**6).tolist()) == sorted(lost)
    assert ledger.sent == ledger.delivered_unique + ledger.in_flight + ledger.lost


def worker_started(t: int, name: str, life: int, pid: int, bind: str = "pusher") -> ev.ProcessStarted:
    """As the engine says it under push-pull."""
    return ev.ProcessStarted(t, name, "worker", life, pid, kind="receiver", links_to=("pusher",),
                             inherits_backlog=life > 1 and bind == "worker", queue_outlives=bind == "worker")


def pusher_started(t: int, name: str, pid: int) -> ev.ProcessStarted:
    return ev.ProcessStarted(t, name, "pusher", 1, pid, kind="sender", links_to=("worker",))


def _model_with_two_workers(bind: str = "pusher") -> Model:
    model = Model(lost_after_s=2.0)
    model.apply(ev.RunStarted(0, {"rate": 10.0, "lost_after_s": 2.0, "pattern": "push-pull", "bind": bind}, {}))
    model.apply(worker_started(1, "w1", 1, 101))
    model.apply(worker_started(2, "w2", 1, 102))
    model.apply(pusher_started(3, "p1", 103))
    model.apply(ev.LinkChanged(10, "p1", "w1", True))
    model.apply(ev.LinkChanged(11, "p1", "w2", True))
    return model


def deliver(model: Model, t: int, worker: str, life: int, seqs: list[int], sent_ns: int) -> None:
    n = len(seqs)
    model.apply(ev.Deliveries(t, worker, life, np.ones(n, dtype=np.int64), arr(*seqs),
                              np.full(n, sent_ns, dtype=np.int64), np.full(n, t, dtype=np.int64)))


def test_model_follows_a_kill_and_a_revive_with_late_messages():
    model = _model_with_two_workers()
    assert model.workers["w1"].state == "alive"
    model.apply(ev.SentProgress(NS, "p1", 4, False, 2, False))
    deliver(model, NS, "w1", 1, [0, 2], sent_ns=NS - 1000)
    deliver(model, NS, "w2", 1, [1, 3], sent_ns=NS - 1000)
    model.apply(ev.ProcessEnded(NS + 1, "w1", 1, "killed", -9))
    assert model.workers["w1"].state == "killed"
    model.apply(ev.SentProgress(2 * NS, "p1", 8, False, 1, False))
    model.apply(worker_started(3 * NS, "w1", 2, 201))
    assert model.workers["w1"].state == "starting" and model.workers["w1"].life.pid == 201
    deliver(model, 3 * NS + 5, "w1", 2, [4], sent_ns=2 * NS)  # queued while dead: late
    deliver(model, 3 * NS + 6, "w1", 2, [6], sent_ns=3 * NS + 2)
    deliver(model, 3 * NS + 7, "w2", 1, [7], sent_ns=3 * NS + 3)
    totals = model.totals()
    assert (totals.sent, totals.delivered, totals.late) == (8, 7, 1)
    assert [life.received for life in model.workers["w1"].lives] == [2, 2]
    # Message 5 is over 2 s overdue and both workers have had later ones: lost in the live view.
    model.apply(ev.Tick(4 * NS + 1))
    assert model.totals().lost == 1
    assert any(e.kind == "lost" and "p1:5" in describe(e) for e in model.log)
    model.apply(ev.Drained(5 * NS))
    totals = model.totals()
    assert totals.sent == totals.delivered + totals.lost and totals.in_flight == 0


def test_an_old_message_behind_a_slow_worker_is_in_flight_until_that_worker_dies():
    model = _model_with_two_workers()
    model.apply(ev.SentProgress(NS, "p1", 10, False, 2, False))
    deliver(model, NS, "w1", 1, [0, 2, 4, 6, 8], sent_ns=NS - 1000)
    deliver(model, NS, "w2", 1, [1, 3], sent_ns=NS - 1000)  # 5, 7, 9 still queued at w2
    model.apply(ev.Tick(10 * NS))
    assert (model.totals().lost, model.totals().in_flight) == (0, 3)
    model.apply(ev.ProcessEnded(10 * NS + 1, "w2", 1, "killed", -9))
    model.apply(ev.Tick(11 * NS))
    assert (model.totals().lost, model.totals().in_flight) == (0, 3)  # its last receipts may be on their way
    model.apply(ev.Tick(12 * NS + 2))
    # 5 and 7 are older than anything w1 has had since: lost.  9 is newer than all w1 has had,
    # so for all the model knows it is on its way to w1.
    assert (model.totals().lost, model.totals().in_flight) == (2, 1)
    model.apply(ev.Drained(10 * NS + 2))
    assert (model.totals().lost, model.totals().in_flight) == (3, 0)


@pytest.mark.parametrize("bind", ["pusher", "worker"])
def test_a_revived_worker_that_has_received_nothing_yet_hides_no_loss(bind):
    model = _model_with_two_workers(bind)
    model.apply(ev.SentProgress(NS, "p1", 10, False, 2, True))  # p1 is done: nothing later will come
    deliver(model, NS, "w1", 1, [0, 2, 4, 6, 8], sent_ns=NS - 1000)
    deliver(model, NS, "w2", 1, [1, 3], sent_ns=NS - 1000)  # 5, 7, 9 queued at w2
    model.apply(ev.ProcessEnded(NS + 1, "w2", 1, "killed", -9))
    model.apply(worker_started(NS + 2, "w2", 2, 202, bind))
    model.apply(ev.LinkChanged(NS + 3, "p1", "w2", True))
    model.apply(ev.Tick(10 * NS))
    totals = model.totals()
    if bind == "pusher":
        # The new life's pipe is new: it can only carry messages sent after it started.
        assert (totals.lost, totals.in_flight) == (2, 1)
    else:
        # It inherits the dead life's pipe, backlog and all: 5, 7 and 9 may come late.
        assert (totals.lost, totals.in_flight) == (0, 3)


def test_receipts_that_arrive_after_a_workers_end_were_never_counted_lost():
    model = _model_with_two_workers()
    model.apply(ev.SentProgress(NS, "p1", 10, False, 2, False))
    deliver(model, NS, "w1", 1, [0, 2, 4, 6, 8], sent_ns=NS - 1000)
    deliver(model, NS, "w2", 1, [1, 3], sent_ns=NS - 1000)
    model.apply(ev.Tick(4 * NS))  # 5, 7, 9 are old, but w2 has not got past them: in flight
    model.apply(ev.ProcessEnded(4 * NS + 1, "w2", 1, "stopped", 0))  # reaped before its last report was read
    model.apply(ev.Tick(4 * NS + NS // 10))
    deliver(model, 4 * NS + NS // 5, "w2", 1, [5, 7, 9], sent_ns=NS - 1000)
    assert model.totals().lost == 0 and not any(e.kind == "lost" or "after all" in describe(e) for e in model.log)


def _model_with_workers(count: int) -> Model:
    model = Model(lost_after_s=2.0)
    model.apply(ev.RunStarted(0, {"rate": 0.0, "lost_after_s": 2.0, "pattern": "push-pull"}, {}))
    for i in range(1, count + 1):
        model.apply(worker_started(i, f"w{i}", 1, 100 + i))
    model.apply(pusher_started(count + 1, "p1", 99))
    return model


def test_sends_before_every_worker_connected_are_called_a_slow_joiner():
    model = _model_with_workers(2)
    model.apply(ev.LinkChanged(10, "w1", "p1", True))
    model.apply(ev.SentProgress(20, "p1", 50, False, 1, False, joined=False, early=50))
    deliver(model, 30, "w1", 1, list(range(50)), sent_ns=20)
    assert not any("slow joiner" in describe(e) for e in model.log)
    model.apply(ev.LinkChanged(40, "w2", "p1", True))
    model.apply(ev.SentProgress(45, "p1", 60, False, 2, False, joined=True, early=50))
    assert [describe(e) for e in model.log if "slow joiner" in describe(e)] == [
        "slow joiner: p1 sent 50 messages before all 2 workers were connected, dealt among those connected "
        "then (w1 got 50): the first to connect gets a whole load while the others are still connecting (zguide ch. 1 "
        "\"Divide and Conquer\"; wait_ready holds the pushers until all are)"]


def test_no_slow_joiner_when_the_pusher_had_every_peer_before_its_first_send():
    # 128 workers whose link reports arrive after the first sends: the pusher's own count of its
    # peers says the split was even, and that is what the log goes by.
    model = _model_with_workers(128)
    model.apply(ev.SentProgress(20, "p1", 5032, False, 128, False, joined=True, early=0))
    for i in range(1, 129):
        model.apply(ev.LinkChanged(30 + i, f"w{i}", "p1", True))
    assert not any("slow joiner" in describe(e) for e in model.log)
    assert all(w.state == "alive" for w in model.workers.values())


def test_fairness_and_share():
    model = _model_with_two_workers()
    deliver(model, NS, "w1", 1, list(range(0, 100, 2)), sent_ns=NS - 10)
    deliver(model, NS, "w2", 1, list(range(1, 100, 2)), sent_ns=NS - 10)
    assert abs(model.fairness() - 1.0) < 0.01
    assert model.share(model.workers["w1"]) == 0.5
    deliver(model, NS, "w1", 1, list(range(100, 400)), sent_ns=NS - 10)
    assert model.fairness() < 0.8


def test_latency_percentiles_come_from_send_to_receipt():
    model = _model_with_two_workers()
    deliver(model, 10_000_000, "w1", 1, [0], sent_ns=0)  # 10 ms
    p50 = model.workers["w1"].latency_ms(0.5)
    assert abs(p50 - 10.0) <= 10.0 * 0.006


def test_paused_time_does_not_count_as_alive():
    model = _model_with_two_workers()
    model.apply(ev.WorkerPaused(NS, "w1"))
    model.apply(ev.WorkerResumed(3 * NS, "w1"))
    model.apply(ev.Tick(4 * NS))
    w1, w2 = model.workers["w1"], model.workers["w2"]
    assert abs(w1.alive_seconds(model.now_ns) - 2.0) < 0.01
    assert abs(w2.alive_seconds(model.now_ns) - 4.0) < 0.01


def test_every_log_entry_of_the_scenes_has_words():
    from tests.scenes import SCENES

    for make in SCENES.values():
        for entry in make().model.log:
            text = describe(entry)
            assert text and "{" not in text, entry


def test_a_kill_reaped_after_the_revive_is_told_like_any_kill():
    model = _model_with_two_workers()
    model.apply(worker_started(NS, "w1", 2, 201))  # revived before the first life was reaped
    model.apply(ev.ProcessEnded(NS + 1, "w1", 1, "killed", -9))
    assert describe(model.log[-1]).startswith("w1 killed (life 1, pid 101")
    assert model.workers["w1"].state != "killed"  # the end of the old life is not the new one's


def test_the_help_explains_every_state_a_worker_can_be_in():
    from rrsim.model.model import WORKER_STATES
    from rrsim.tui.help_screen import STATE_MEANINGS

    assert set(WORKER_STATES) <= set(STATE_MEANINGS)


def _brokered_model(retry_budget_s: float) -> Model:
    """Two workers fed by a broker (their lives may get anything still queued), one pusher: 6 sent
    at 0.1 s; w1 did 1 and 3, w2 did 2, 4 and 5 by 0.2 s: message 0 has been passed by both."""
    model = Model(lost_after_s=2.0)
    model.apply(ev.RunStarted(0, {"rate": 10.0, "lost_after_s": 2.0}, {}, retry_budget_s))
    for t, name in ((1, "w1"), (2, "w2")):
        model.apply(ev.ProcessStarted(t, name, "worker", 1, 100 + t, links_to=("broker",), inherits_backlog=True))
    model.apply(ev.ProcessStarted(3, "p1", "pusher", 1, 103, kind="sender", links_to=("broker",)))
    model.apply(ev.SentProgress(NS // 10, "p1", 6, False, 1, False))
    deliver(model, 15 * NS // 100, "w1", 1, [1, 3], sent_ns=NS // 10)
    deliver(model, 2 * NS // 10, "w2", 1, [2, 4, 5], sent_ns=NS // 10)
    return model


def _lost_at(model: Model, t_ns: int) -> int:
    model.apply(ev.Tick(t_ns))
    return model.totals().lost


@pytest.mark.parametrize("retry_budget_s", [0.0, 3.0])
def test_a_message_waiting_for_its_retry_is_lost_only_when_it_can_no_longer_arrive(retry_budget_s):
    # Message 0 was held by a worker that fell silent; the broker sends it again and w2 does it at
    # 2.8 s, past the live view's 2 s.  Within the pattern's retry budget it was never lost.
    model = _brokered_model(retry_budget_s)
    assert _lost_at(model, 25 * NS // 10) == (1 if retry_budget_s == 0 else 0)
    deliver(model, 28 * NS // 10, "w2", 1, [0], sent_ns=NS // 10)
    assert _lost_at(model, 4 * NS) == 0
    arrived_after_all = [e for e in model.log if e.what == "arrived-after-all"]
    assert len(arrived_after_all) == (1 if retry_budget_s == 0 else 0)


def test_a_message_is_lost_once_its_retry_budget_is_spent():
    # Passed by both workers at 0.2 s: with a budget of 3 s it may arrive until 3.2 s, then it is lost.
    model = _brokered_model(3.0)
    assert _lost_at(model, 31 * NS // 10) == 0
    assert _lost_at(model, 33 * NS // 10) == 1
    assert model.ledger.lost_ids() == ["p1:0"]


def test_a_message_given_up_is_lost_at_once_and_once():
    # The totals said "given up 1" at once while "lost" waited out the retry budget (3 s here).
    model = _brokered_model(3.0)
    model.apply(ev.GaveUp(NS // 2, "b1", 1, (0,), 4, "no-ack", "w1"))
    assert model.totals().lost == 1
    assert model.ledger.lost_ids() == ["p1:0"]
    assert _lost_at(model, 4 * NS) == 1  # the budget spent: the scan passes it without counting it again
    deliver(model, 5 * NS, "w2", 1, [0], sent_ns=NS // 10)  # a worker finished it after all
    assert model.totals().lost == 0 and model.totals().delivered == 6

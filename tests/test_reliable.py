"""The reliable pattern: the broker's book of unacknowledged messages (pure), and on real
processes what it promises: a kill, a pause or the broker's own death loses nothing; what fails
every attempt is given up with its reason; heartbeats declare a silent worker dead in time."""

from __future__ import annotations

import time
from collections import Counter
from types import SimpleNamespace

import pytest
import zmq

from rrsim import events as ev
from rrsim import wire
from rrsim.child.sending import wait
from rrsim.engine.engine import Engine
from rrsim.errors import UserError
from rrsim.model.model import Model
from rrsim.patterns.dispatch import STRATEGIES, Dispatcher
from rrsim.patterns.reliable import ACK, HANDED, Book, Copies, per_worker
from rrsim.report.report import build_report
from rrsim.report.wording import describe
from rrsim.scenario.actions import Action, check_timeline
from rrsim.scenario.scenario import load_scenario
from rrsim.scenario.setup import Setup, build_setup
from runs import Run, assert_ledger_consistent, run

MS = 1_000_000
# Quick heartbeats, and enough of them missed in a row that a worker starved of the CPU on a loaded
# 2-core machine (a load average of 20 stalls a niceness-19 process for a few hundred ms) is not dead.
HEARTBEAT_MS, LIVENESS = 100.0, 5


def message(seq: int) -> bytes:
    return wire.MAGIC + (1).to_bytes(2, "little") + seq.to_bytes(8, "little") + bytes(12)  # time, work size


def key(seq: int) -> tuple[bytes, bytes]:
    return (b"p1", message(seq)[4:14])


# ------------------------------------------------------------------------------ the book, pure
def test_a_message_is_queued_once_and_handed_out_in_order():
    book = Book(retry_ms=100, retries=1)
    assert book.take(b"p1", message(0)) and book.take(b"p1", message(1))
    assert not book.take(b"p1", message(0))  # a pusher's copy of what is here already
    assert book.queued == 2 and book.first() == key(0)
    book.handed(key(0), b"w1.1", 0)
    assert book.first() == key(1) and book.queued == 1


def test_an_unacknowledged_message_goes_back_to_the_front_then_is_given_up():
    book = Book(retry_ms=100, retries=1)
    book.take(b"p1", message(0))
    book.take(b"p1", message(1))
    book.handed(key(0), b"w1.1", 0)
    assert book.overdue(99 * MS) == []
    assert book.overdue(100 * MS) == [] and book.first() == key(0)  # back at the front, before seq 1
    book.handed(key(0), b"w2.1", 100 * MS)
    assert book.retried == 1
    given_up = book.overdue(200 * MS)
    assert [(g.key, g.why, g.worker, g.entry.attempts) for g in given_up] == [(key(0), "no-ack", b"w2.1", 2)]
    assert book.given_up == 1 and book.first() == key(1) and key(0) not in book.entries


def test_a_dead_workers_messages_are_requeued_at_once_and_an_old_timer_does_not_fire():
    book = Book(retry_ms=100, retries=3)
    book.take(b"p1", message(0))
    book.handed(key(0), b"w1.1", 0)
    requeued, given_up = book.lost_worker(b"w1.1", "silent")
    assert requeued == [key(0)] and given_up == [] and book.first() == key(0)
    book.handed(key(0), b"w2.1", 50 * MS)
    assert book.overdue(100 * MS) == []  # the first hand-over's timer: stale
    assert book.acked(key(0)).attempts == 2
    assert book.counters() == {"retried": 1, "given_up": 0, "attempts_2": 1}
    assert book.acked(key(0)) is None  # a second completion: a duplicate, nothing to forget


def test_a_message_acknowledged_while_queued_is_not_handed_out():
    book = Book(retry_ms=100, retries=3)
    book.take(b"p1", message(0))
    book.acked(key(0))  # done by a worker of the broker's earlier life
    assert book.first() is None and book.queued == 0


# ------------------------------------------------------------------------------ setup
def test_reliable_keys_belong_to_the_reliable_pattern():
    assert build_setup({"pattern": "reliable", "retries": 1, "heartbeat_ms": 50}, "x").retries == 1
    with pytest.raises(UserError, match="retry_ms applies to pattern reliable only, not 'lb-broker'"):
        build_setup({"pattern": "lb-broker", "retry_ms": 100}, "x")
    with pytest.raises(UserError, match="liveness.*must be at least 1"):
        build_setup({"pattern": "reliable", "liveness": 0}, "x")


@pytest.mark.parametrize("pattern", ["push-pull", "lb-broker", "reliable"])
def test_the_churn_timeline_applies_under_every_pattern(pattern):
    scenario = load_scenario("churn")
    setup = build_setup({"pattern": pattern}, "test", base=scenario.setup)
    check_timeline(setup, list(scenario.timeline), "churn")  # every action applies, in order, whatever the pattern
    times = [action.time for action in scenario.timeline]
    assert times == [float(t) for t in range(1, 21)]  # one a second for 20 s
    assert {a.action for a in scenario.timeline} == {"kill", "stop", "pause", "resume", "revive"}


# ------------------------------------------------------------------------------ the words, pure
def test_a_silent_worker_is_told_with_where_its_messages_went():
    model = Model()
    model.apply(ev.ProcessStarted(1, "w2", "worker", 1, 100))
    model.apply(ev.PeerSilent(2, "b1", "w2", 1, 3, "silent", 1, ("w4",)))
    assert model.workers["w2"].state == "silent" and model.workers["w2"].heartbeats_missed == 3
    assert describe(model.log[-1]) == "w2 missed 3 heartbeats: 1 message re-queued to w4"


# ------------------------------------------------------------------------------ real processes
def reliable(**values) -> Setup:
    base = {"pattern": "reliable", "heartbeat_ms": HEARTBEAT_MS, "liveness": LIVENESS, "pushers": 1}
    return build_setup({**base, **values}, "test")


def verdict_after(result: Run, worker: str, kind: type) -> ev.PeerSilent:
    """The broker's first verdict on ``worker`` after it was killed or paused (a starved machine may
    have declared it dead once before, wrongly but harmlessly: what it held was done twice)."""
    since = next(e.t_ns for e in result.events if isinstance(e, kind) and e.name == worker)
    return next(e for e in result.events if isinstance(e, ev.PeerSilent) and e.peer == worker and e.t_ns >= since)


def both_hold_one(model: Model) -> bool:
    """The broker has handed out two messages not yet done: with lru, one at each worker."""
    done = sum(worker.received for worker in model.workers.values())
    return model.workers["w1"].received >= 1 and model.brokers["b1"].routed - done >= 2


@pytest.mark.system
def test_a_message_killed_mid_work_is_retried_and_done_elsewhere():
    # Two workers busy (200 ms a message, one every 50 ms): w1 is killed working on its second.
    setup = reliable(workers=2, rate=20.0, messages=10, work_ms=200.0, drain_s=2.0, wait_ready=True)
    mid_work = (both_hold_one, lambda engine: engine.kill("w1"))
    result = run(setup, steps=[mid_work], timeout_s=40)
    assert_ledger_consistent(result)
    totals = result.model.totals()
    assert totals.sent == 10 and totals.delivered == 10 and totals.lost == 0
    # Declared dead (once it was gone, or wrongly before, if the machine starved it): its message went on.
    assert sum(e.requeued for e in result.events if isinstance(e, ev.PeerSilent) and e.peer == "w1") >= 1
    assert totals.retried >= 1


@pytest.mark.system
def test_a_paused_worker_is_declared_dead_in_time_and_its_late_completion_is_one_duplicate():
    # Both workers busy (300 ms a message, more than they can do): w1 is paused holding its second;
    # it is resumed once that message has been handed to w2, and finishes it too (with time to
    # spare before the last message is done, on a starved machine).
    setup = reliable(workers=2, rate=10.0, messages=20, work_ms=300.0, retry_ms=60_000, drain_s=2.0, wait_ready=True)
    steps = [(both_hold_one, lambda engine: engine.pause("w1")),
             # its message handed to w2 (the total could be w2's, taken for dead on a starved machine)
             (lambda model: bool(model.workers["w1"].verdict_ms) and model.workers["w1"].retried >= 1,
              lambda engine: engine.resume("w1"))]
    result = run(setup, steps=steps)
    assert_ledger_consistent(result)
    totals = result.model.totals()
    assert totals.delivered == 20 and totals.lost == 0 and totals.given_up == 0
    verdict = verdict_after(result, "w1", ev.WorkerPaused)
    assert verdict.why == "silent" and verdict.missed == LIVENESS and verdict.requeued == 1
    texts = [describe(entry) for entry in result.model.log]
    assert any(text.startswith(f"w1 missed {LIVENESS} heartbeats: 1 message re-queued") for text in texts), texts
    # The message w1 held was done twice, by w2 after the re-queue and by w1 once resumed: one
    # duplicate, counted once (as every other message done twice, if a starved machine made any).
    resumed_ns = result.first(ev.WorkerResumed, name="w1").t_ns
    late = {int(seq) for e in result.deliveries("w1") if e.t_ns >= resumed_ns for seq in e.seqs}
    twice = late & set(result.delivered_seqs("w2").tolist())
    assert len(twice) >= 1
    counts = Counter(result.delivered_seqs().tolist())
    assert all(counts[seq] == 2 for seq in twice)
    assert totals.duplicates == sum(n - 1 for n in counts.values()) >= 1
    # Heartbeat timing: the broker counts a miss at each of its heartbeats, so the verdict comes
    # liveness - 1 to liveness + 1 heartbeats after the pause; never sooner, later on a starved machine.
    after_ms = (verdict.t_ns - result.first(ev.WorkerPaused, name="w1").t_ns) / MS
    assert (LIVENESS - 1) * HEARTBEAT_MS <= after_ms <= (LIVENESS + 1) * HEARTBEAT_MS + 1500
    assert any(abs(ms - after_ms) < 0.001 for ms in result.model.workers["w1"].verdict_ms)  # as the report says
    assert result.model.workers["w1"].heartbeats_missed >= LIVENESS


@pytest.mark.system
@pytest.mark.parametrize("bind", ["pusher", "broker"])
def test_killing_and_reviving_the_broker_loses_nothing(bind):
    # drain_s: a worker that lost its broker waits 1 s, 2 s, 4 s ... before it connects again; on a
    # starved machine the new broker life may take seconds to start, and nothing is done meanwhile.
    setup = reliable(workers=2, rate=200.0, messages=300, work_ms=2.0, bind=bind, drain_s=15.0)
    timeline = [Action("kill", after_sent=100, worker="b1"), Action("revive", time=0.3, worker="b1")]
    result = run(setup, timeline, timeout_s=40)
    assert_ledger_consistent(result)
    totals = result.model.totals()
    assert totals.sent == 300 and totals.delivered == 300 and totals.lost == 0
    assert len(result.model.brokers["b1"].lives) == 2


@pytest.mark.system
def test_a_message_that_fails_every_attempt_is_given_up_with_its_reason():
    # One message, retries = 1, both workers paused (and slow: it is not done before the pause):
    # handed to one (attempt 1), not acknowledged within retry_ms, handed to the other (attempt 2),
    # not acknowledged again: given up.  Paused once the broker has heard both say ready (under lru
    # each holds one at most and none is done: ready + routed is the workers it knows), not when the
    # message is sent: wait_ready waits for connections, and a worker paused before its ready
    # reached the broker is never offered the message again, which then waits forever.
    setup = reliable(workers=2, rate=1.0, messages=1, work_ms=20_000.0, retries=1, retry_ms=300.0,
                     heartbeat_ms=10_000.0, wait_ready=True, drain_s=1.5, strategy="lru")

    def both_known(model: Model) -> bool:
        broker = model.brokers.get("b1")
        return broker is not None and model.totals().sent == 1 and broker.ready + broker.routed >= 2

    def pause_both(engine: Engine) -> None:
        engine.pause("w1")
        engine.pause("w2")

    result = run(setup, timeout_s=40, steps=[(both_known, pause_both)])
    totals = result.model.totals()
    assert totals.sent == 1 and totals.given_up == 1 and totals.lost == 1 and totals.retried == 1
    gave_up = result.first(ev.GaveUp)
    assert (gave_up.seqs, gave_up.attempts, gave_up.why) == ((0,), 2, "no-ack") and gave_up.peer in ("w1", "w2")
    assert result.model.given_up_why == {"no-ack": 1}
    assert (f"gave up 1 message (p1:0) after 2 attempts each: no acknowledgement within retry_ms (last at "
            f"{gave_up.peer}); lost unless a worker still finishes it") in [describe(entry) for entry in result.model.log]


# ------------------------------------------------------------------------------ per worker, pure
def test_the_book_counts_a_resend_against_the_worker_that_had_the_message():
    book = Book(retry_ms=100, retries=3)
    for seq in range(3):
        book.take(b"p1", message(seq))
    book.handed(key(0), b"w1.1", 0)
    book.handed(key(1), b"w1.1", 0)
    book.handed(key(2), b"w2.1", 0)
    book.lost_worker(b"w1.1", "silent")  # both back to the queue, not yet sent again: no resend yet
    assert book.retried_from == {} and book.entries[key(0)].last == b"w1.1"
    book.handed(key(0), b"w3.1", 10 * MS)
    book.handed(key(1), b"w3.1", 10 * MS)
    book.overdue(100 * MS)  # w2 did not acknowledge in time; w3's hand-overs are not due yet
    book.handed(key(2), b"w1.2", 100 * MS)  # w1's next life: a worker of its own
    assert book.retried_from == {b"w1.1": 2, b"w2.1": 1}
    assert per_worker(book.retried_from) == {"w1": 2, "w2": 1}
    assert sum(book.retried_from.values()) == book.retried == 3


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_sends_a_retry_to_another_worker_where_one_is_ready(strategy):
    for seed in range(20):  # random and p2c draw: whatever they draw, not the worker to avoid
        workers = Dispatcher(strategy, max_outstanding=1, seed=seed)
        for identity in (b"w1.1", b"w2.1", b"w3.1"):
            workers.ready(identity, 0)
        first = workers.next(avoid=b"w1.1")
        assert first in (b"w2.1", b"w3.1") and (first == b"w2.1" or strategy != "lru")  # lru: the longest ready
        assert workers.next(avoid=b"w1.1") == ({b"w2.1", b"w3.1"} - {first}).pop()  # w1 and one other have room
    # The one to avoid is the only one with room: it gets the message (rather than nobody)
    alone = Dispatcher(strategy, max_outstanding=1)
    alone.ready(b"w1.1", 0)
    assert alone.next(avoid=b"w1.1") == b"w1.1"


def test_without_a_worker_to_avoid_lru_keeps_the_guides_order():
    workers = Dispatcher("lru")
    for identity in (b"w1.1", b"w2.1", b"w3.1"):
        workers.ready(identity, 0)
    assert [workers.next(avoid=b"w9.1"), workers.next(), workers.next()] == [b"w1.1", b"w2.1", b"w3.1"]


def test_a_router_report_tells_each_workers_retries_and_the_report_keeps_them():
    model = Model()
    model.apply(ev.ProcessStarted(1, "b1", "broker", 1, 99, kind="router", links_to=("pusher", "worker")))
    for name in ("w1", "w2"):
        model.apply(ev.ProcessStarted(1, name, "worker", 1, 100, links_to=("broker",)))
    model.apply(ev.RouterState(2, "b1", 1, 0, 2, 5, {"retried": 2}, retried_from={"w1": 2}))
    model.apply(ev.RouterState(3, "b1", 1, 0, 2, 7, {"retried": 3}, retried_from={"w1": 2, "w2": 1}))
    assert (model.workers["w1"].retried, model.workers["w2"].retried) == (2, 1)
    # The broker's next life counts from nothing: its counts add to the first life's
    model.apply(ev.ProcessEnded(5, "b1", 1, "killed", -9))
    model.apply(ev.ProcessStarted(6, "b1", "broker", 2, 98, kind="router", links_to=("pusher", "worker")))
    model.apply(ev.RouterState(7, "b1", 2, 0, 2, 1, {"retried": 1}, retried_from={"w2": 1}))
    assert (model.workers["w1"].retried, model.workers["w2"].retried) == (2, 2)
    assert model.totals().retried == 3 + 1
    workers = {w["name"]: w for w in build_report(model)["workers"]}
    assert (workers["w1"]["retried"], workers["w2"]["retried"]) == (2, 2)


# ------------------------------------------------------------------------------ the retry budget
@pytest.mark.system
def test_a_run_waits_for_a_retry_past_its_drain_and_the_live_view_never_calls_it_lost():
    # w1 is paused holding a message; w2 does the rest by about 0.7 s; 1.5 s after w1 was handed
    # its message the broker hands it to w2.  drain_s and lost_after_s are far shorter than that
    # wait: only the pattern's retry budget keeps the run going and the message out of the lost.
    setup = reliable(workers=2, rate=10.0, messages=4, work_ms=200.0, retry_ms=1500.0, heartbeat_ms=1000.0,
                     liveness=3, drain_s=0.3, lost_after_s=0.3, wait_ready=True)
    both_busy = (lambda model: model.brokers["b1"].routed - sum(w.received for w in model.workers.values()) >= 2,
                 lambda engine: engine.pause("w1"))
    result = run(setup, steps=[both_busy], timeout_s=40)
    assert_ledger_consistent(result)
    model = result.model
    totals = model.totals()
    assert totals.delivered == 4 and totals.lost == 0 and totals.given_up == 0
    # Sent again, to the other worker, and counted against the one that held it
    assert totals.retried >= 1 and model.workers["w1"].retried == totals.retried
    assert set(result.delivered_seqs("w2").tolist()) == {0, 1, 2, 3}
    assert not [describe(e) for e in model.log if e.what in ("lost", "arrived-after-all")]


# ------------------------------------------------------------------------------ the pusher's copies
@pytest.fixture
def pusher_copies(request):
    """A pusher's ``Copies`` on a real DEALER, the broker's ROUTER at the other end; the counts a
    socket monitor keeps are given by hand (a starved machine shows them in any order)."""
    ctx = zmq.Context.instance()
    broker_side, pusher_side = ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER)
    pusher_side.routing_id = b"p1"
    try:
        address = f"inproc://{request.node.name}"  # its own: a closed socket lets go of its address later
        broker_side.bind(address)
        pusher_side.connect(address)
        runtime = SimpleNamespace(sockets={"dealer": pusher_side}, handshakes={"dealer": 1}, peers={"dealer": 1})
        copies = Copies(runtime, "dealer")
        for seq in range(3):
            copies.kept(seq, message(seq))
        copies.turn()
        yield copies, runtime, broker_side
    finally:
        broker_side.close(linger=0)
        pusher_side.close(linger=0)


@pytest.mark.system
def test_copies_are_sent_again_on_a_new_connection_and_again_when_one_of_two_drops(pusher_copies):
    copies, runtime, broker_side = pusher_copies
    assert copies.resent == 0  # the first connection: nothing was sent anywhere else
    runtime.handshakes["dealer"], runtime.peers["dealer"] = 2, 2  # a broker's new life connects
    copies.turn()
    assert copies.resent == 3
    runtime.peers["dealer"] = 1  # the old life's connection is seen gone: some copies went to it
    copies.turn()
    assert copies.resent == 6
    runtime.peers["dealer"] = 0  # every broker gone: nobody to send to until one connects
    copies.turn()
    assert copies.resent == 6
    received = [broker_side.recv_multipart()[1] for _ in range(6)]
    assert received == [message(seq) for seq in range(3)] * 2


@pytest.mark.system
def test_a_copy_sent_again_says_how_often_the_last_broker_handed_it_over(pusher_copies):
    copies, runtime, broker_side = pusher_copies
    for said in ([HANDED, key(0)[1]], [HANDED, key(0)[1]], [HANDED, key(1)[1]], [ACK, key(1)[1]]):
        broker_side.send_multipart([b"p1", *said])
    deadline = time.monotonic() + 5
    while copies.handed != {0: 2} and time.monotonic() < deadline:  # inproc: at once, but never a bare wait
        copies.turn()
    runtime.handshakes["dealer"] = 2  # the broker's next life
    copies.turn()
    assert [broker_side.recv_multipart()[1:] for _ in range(2)] == [[message(0), b"2"], [message(2), b"0"]]
    book = Book(retry_ms=100, retries=2)  # the next life goes on counting from there
    book.take(b"p1", message(0), handed_before=2)
    book.handed(key(0), b"w1.1", 0)
    assert book.retried == 0  # not a retry of this life: its pusher's resend is counted by the pusher
    assert book.overdue(100 * MS)[0].entry.attempts == 3  # 1 + retries across both lives: given up


def test_messages_given_up_are_one_growing_line_that_does_not_call_them_lost_before_the_ledger_does():
    # Found by review: twenty give-ups were twenty lines saying "counted lost", and then all were done.
    model = Model()
    model.apply(ev.RunStarted(0, {"pattern": "reliable"}, {}))
    for seq in range(20):
        model.apply(ev.GaveUp(seq + 1, "b1", 1, (seq,), 1, "no-ack", "w1"))
    [line] = [describe(entry) for entry in model.log if entry.what == "gave-up"]
    assert line == ("gave up 20 messages (p1:0..p1:19, one after another) after 1 attempt each: no acknowledgement "
                    "within retry_ms (last at w1); lost unless a worker still finishes it")


@pytest.mark.system
def test_a_pusher_that_waited_for_room_still_wakes_on_a_reply():
    # The sender's loop polls its DEALER for replies (the broker's ACKs); when every pipe is full it
    # waits for room on it too.  Afterwards it must still wake on a reply, or acks are read only
    # when a send is due or the 100 ms timeout passes.
    ctx = zmq.Context.instance()
    dealer, router = ctx.socket(zmq.DEALER), ctx.socket(zmq.ROUTER)
    try:
        router.bind("inproc://wakes-on-a-reply")
        dealer.connect("inproc://wakes-on-a-reply")
        poller = zmq.Poller()
        poller.register(dealer, zmq.POLLIN)
        wait(poller, dealer, 0, for_room=True)
        dealer.send(b"hello")
        identity, _ = router.recv_multipart()
        router.send_multipart([identity, b"ACK"])
        assert dict(poller.poll(5000)).get(dealer) == zmq.POLLIN
    finally:
        dealer.close(linger=0)
        router.close(linger=0)

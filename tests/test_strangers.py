"""Strangers on the socket: a plain ZeroMQ program that connects to one of rrsim's endpoints is
seen, named, and what it takes is counted as strayed, not lost (real processes, real sockets)."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import zmq

from rrsim import events as ev
from rrsim.engine.engine import Engine
from rrsim.model.ledger import PusherLedger
from rrsim.scenario.actions import Action
from rrsim.scenario.setup import Setup
from runs import assert_ledger_consistent, run

DEADLINE_S = 60.0


def _run_with(setup: Setup, stranger_at: str, make_stranger, leave_after: int | None = None,
              timeline: tuple[Action, ...] = ()):
    """Run ``setup`` while a plain pyzmq socket from ``make_stranger(ctx)`` is connected to the
    endpoint of ``stranger_at`` once 20 messages are out; it counts what it receives."""
    engine = Engine(setup, timeline)
    events: list[ev.Event] = []
    engine.subscribe(events.append)
    ctx = zmq.Context()
    stranger = make_stranger(ctx)
    stranger.linger = 0
    taken = 0
    try:
        engine.start()
        deadline = time.monotonic() + DEADLINE_S
        connected = left = False
        while not engine.finished:
            assert time.monotonic() < deadline, engine.model.totals()
            engine.step(5)
            if not connected and engine.model.ledger.sent >= 20:
                stranger.connect(engine.endpoints[stranger_at])
                connected = True
            while not stranger.closed and stranger.type == zmq.PULL and stranger.poll(0):
                stranger.recv()
                taken += 1
            if connected and not left and leave_after is not None and taken >= leave_after:
                stranger.close(linger=0)
                left = True
    finally:
        if not stranger.closed:
            stranger.close(linger=0)
        ctx.term()
        engine.close()
    return engine, events, taken


def _pull(ctx: zmq.Context) -> zmq.Socket:
    return ctx.socket(zmq.PULL)


@pytest.mark.system
def test_a_plain_pull_on_a_pushers_tcp_endpoint_is_a_stranger_and_what_it_takes_is_strayed():
    setup = Setup(transport="tcp", bind="pusher", workers=2, rate=200, messages=600, wait_ready=True, drain_s=0.5)
    engine, _events, taken = _run_with(setup, "p1", _pull)
    model = engine.model
    totals = model.totals()
    assert taken > 50  # PUSH dealt it its turn among the three peers
    assert totals.strayed == taken and totals.lost == 0
    [stranger] = model.strangers
    assert stranger.binder == "p1" and stranger.peer.startswith("127.0.0.1:") and stranger.took == taken
    assert_ledger_consistent_with(engine)


@pytest.mark.system
def test_over_ipc_the_stranger_is_named_by_its_process_and_leaving_ends_its_window():
    setup = Setup(transport="ipc", bind="pusher", workers=2, rate=200, messages=600, wait_ready=True, drain_s=0.5)
    engine, _events, taken = _run_with(setup, "p1", _pull, leave_after=40)
    model = engine.model
    [stranger] = model.strangers
    assert stranger.peer == f"pid {os.getpid()}"  # SO_PEERCRED: this test's process, not one of rrsim's
    assert stranger.disconnected_ns is not None
    # What it took before it left is strayed, and so is what was dealt to it and still unread
    # when it closed (41 and 44 for 40 taken, on a loaded machine); nothing is lost.
    assert model.totals().strayed >= taken and model.totals().lost == 0
    assert_ledger_consistent_with(engine)


@pytest.mark.system
def test_a_plain_push_connected_to_a_worker_is_a_stranger_whose_payloads_are_foreign():
    setup = Setup(bind="worker", workers=2, rate=100, messages=200, wait_ready=True, drain_s=0.5)

    def push(ctx: zmq.Context) -> zmq.Socket:
        sock = ctx.socket(zmq.PUSH)
        return sock

    engine = Engine(setup)
    ctx = zmq.Context()
    stranger = push(ctx)
    stranger.linger = 1000
    try:
        engine.start()
        stranger.connect(engine.endpoints["w1"])
        for _ in range(5):
            stranger.send(b"7 , 1344600000.12")  # the seed post's PUSH sends lines like this
        deadline = time.monotonic() + DEADLINE_S
        while not engine.finished:
            assert time.monotonic() < deadline
            engine.step(5)
    finally:
        stranger.close()
        ctx.term()
        engine.close()
    model = engine.model
    assert [(s.binder, s.peer) for s in model.strangers] == [("w1", f"pid {os.getpid()}")]
    assert model.foreign == 5 and model.totals().lost == 0 and model.totals().strayed == 0


@pytest.mark.system
def test_our_own_workers_are_never_strangers_through_kills_and_revives():
    for transport, bind in (("tcp", "pusher"), ("ipc", "worker")):
        result = run(Setup(transport=transport, bind=bind, workers=3, pushers=2, rate=300, messages=150,
                           wait_ready=True, drain_s=0.5),
                     [Action("kill", after_sent=100, worker="w2"), Action("revive", after_sent=200, worker="w2")])
        assert result.model.strangers == [], (transport, bind, result.model.strangers)
        assert result.model.totals().strayed == 0
        assert_ledger_consistent(result)


def test_the_ledger_moves_strayed_messages_back_if_they_arrive_after_all():
    ledger = PusherLedger()
    ledger.record_sent(10)
    ledger.record_deliveries(np.array([0, 1, 2], dtype=np.int64))
    lost = ledger.declare_lost_below(8)
    assert lost.tolist() == [3, 4, 5, 6, 7]
    ledger.mark_strayed(np.array([4, 6], dtype=np.int64))
    assert (ledger.lost, ledger.strayed, ledger.in_flight) == (3, 2, 2)
    assert ledger.lost_seqs(10).tolist() == [3, 5, 7]
    ledger.record_deliveries(np.array([4, 5], dtype=np.int64))  # came after all
    assert (ledger.lost, ledger.strayed) == (2, 1)
    assert ledger.sent == ledger.delivered_unique + ledger.in_flight + ledger.lost + ledger.strayed


def assert_ledger_consistent_with(engine: Engine) -> None:
    totals = engine.model.totals()
    assert engine.model.drained and totals.in_flight == 0
    assert totals.sent == totals.delivered + totals.lost + totals.strayed


def _model_with_a_stranger_at(t_connect: int):
    from rrsim.model.model import Model

    model = Model(lost_after_s=2.0)
    model.apply(ev.RunStarted(0, {"rate": 100.0, "lost_after_s": 2.0}, {"p1": "tcp://127.0.0.1:5599"}))
    for i, name in enumerate(("w1", "w2")):
        model.apply(ev.ProcessStarted(1 + i, name, "worker", 1, 100 + i, links_to=("pusher",)))
    model.apply(ev.ProcessStarted(3, "p1", "pusher", 1, 99, kind="sender", links_to=("worker",)))
    model.apply(ev.SentProgress(10, "p1", 0, False, 2, False))
    model.apply(ev.PeerChanged(t_connect, "p1", "127.0.0.1:40000", True, "tcp://127.0.0.1:5599"))
    return model


def test_a_worker_dying_just_after_a_stranger_came_keeps_its_losses_lost():
    NS = 1_000_000_000
    model = _model_with_a_stranger_at(NS)
    model.apply(ev.ProcessEnded(NS + NS // 10, "w1", 1, "killed", -9))  # inside the 0.5 s grace
    model.apply(ev.SentProgress(2 * NS, "p1", 100, False, 2, True))
    model.apply(ev.Tick(3 * NS))
    [stranger] = model.strangers
    assert stranger.endpoint == "p1"
    model.apply(ev.Drained(5 * NS))
    assert (model.totals().strayed, model.totals().lost) == (0, 100)


NS = 1_000_000_000


def test_what_a_stranger_took_after_a_worker_died_is_strayed_and_only_what_the_dead_may_have_had_is_lost():
    # Found by review: once w1 died, everything the stranger took was called lost, and blamed on w1.
    # w1 dies at 1.1 s (dealt up to 1 s later: 0..99, lost, either may have had them); then w2 and
    # the stranger take turns on 100..199: w2 the even ones, the stranger the odd ones (strayed).
    model = _model_with_a_stranger_at(NS)
    model.apply(ev.ProcessEnded(NS + NS // 10, "w1", 1, "killed", -9))
    model.apply(ev.SentProgress(2 * NS, "p1", 100, False, 2, True))
    model.apply(ev.Tick(2 * NS))  # the stranger is named once its grace is over
    model.apply(ev.SentProgress(22 * NS // 10, "p1", 101, False, 2, True))  # 1 s after the death: 0..100 may be w1's
    model.apply(ev.SentProgress(4 * NS, "p1", 200, False, 2, True))
    seqs = np.arange(100, 200, 2, dtype=np.int64)
    model.apply(ev.Deliveries(4 * NS, "w2", 1, np.ones(len(seqs), dtype=np.int64), seqs,
                              np.full(len(seqs), 3 * NS, dtype=np.int64), np.full(len(seqs), 4 * NS, dtype=np.int64)))
    model.apply(ev.Drained(5 * NS))
    totals = model.totals()
    assert (totals.delivered, totals.strayed, totals.lost) == (50, 50, 100)
    lost_to_w1 = [entry for entry in model.log if entry.what == "lost" and entry.facts.get("lives")]
    assert [entry.facts["lives"][0][:2] for entry in lost_to_w1] == [("w1", 1)]
    assert lost_to_w1[0].facts["count"] == 100


def test_a_peer_whose_word_comes_late_is_ours_after_all():
    NS = 1_000_000_000
    model = _model_with_a_stranger_at(NS)
    model.apply(ev.Tick(2 * NS))
    assert len(model.strangers) == 1
    model.apply(ev.LinkChanged(2 * NS + 1, "w2", "p1", True, via="127.0.0.1:40000"))
    assert model.strangers == []

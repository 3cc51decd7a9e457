"""The engine on real processes and real sockets: what ZeroMQ does, and that the ledger says so."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest
import zmq

from rrsim import events as ev
from rrsim.engine.engine import Engine
from rrsim.engine.wiring import free_port as _free_port
from rrsim.errors import UserError
from rrsim.report.wording import describe
from rrsim.scenario.actions import Action
from rrsim.scenario.scenario import builtin_scenarios, load_scenario
from rrsim.scenario.setup import Setup
from runs import assert_ledger_consistent, run

pytestmark = pytest.mark.system  # every test here starts processes or opens sockets

NS = 1_000_000_000


@pytest.mark.parametrize("workers", [2, 4])
def test_wait_ready_splits_exactly_evenly(workers):
    result = run(Setup(workers=workers, rate=0, messages=1000 * workers, wait_ready=True))
    assert [w.received for w in result.model.workers.values()] == [1000] * workers
    assert result.model.totals().lost == 0
    assert_ledger_consistent(result)


def test_survivors_receive_everything_sent_after_a_kill():
    result = run(
        Setup(workers=3, rate=300, messages=900, wait_ready=True),
        [Action("kill", after_sent=300, worker="w1")],
    )
    killed = result.first(ev.ProcessEnded, name="w1")
    assert killed.how == "killed" and result.model.workers["w1"].state == "killed"
    # Once the pusher has seen the connection drop, nothing more goes to w1.
    after = result.sent_by(killed.t_ns + NS // 5)
    assert after < 900
    survivors = np.concatenate([result.delivered_seqs("w2"), result.delivered_seqs("w3")])
    assert set(range(after, 900)) <= set(survivors.tolist())
    assert not (result.delivered_seqs("w1") >= after).any()
    assert_ledger_consistent(result)


def test_revived_worker_rejoins_the_rotation():
    result = run(
        Setup(workers=2, rate=200, messages=1000, wait_ready=True),
        [Action("kill", after_sent=200, worker="w1"), Action("revive", after_sent=400, worker="w1")],
    )
    w1 = result.model.workers["w1"]
    assert [life.number for life in w1.lives] == [1, 2]
    assert w1.lives[0].pid != w1.lives[1].pid and w1.lives[0].how_ended == "killed"
    linked = result.first(ev.LinkChanged, a="w1", up=True, t_ns=_after(result, "w1", 2))
    rejoined = result.sent_by(linked.t_ns + NS // 5)
    second_life = result.delivered_seqs("w1", life=2)
    # Back in the rotation: about every other message sent after it reconnected.
    share = np.count_nonzero(second_life >= rejoined) / (1000 - rejoined)
    assert 0.4 <= share <= 0.6, share
    assert_ledger_consistent(result)


def _after(result, worker: str, life: int) -> int:
    """The time of the first link-up of ``worker`` after ``life`` started (for first(t_ns=...))."""
    started = result.first(ev.ProcessStarted, name=worker, life=life).t_ns
    return next(e.t_ns for e in result.events if isinstance(e, ev.LinkChanged) and worker in (e.a, e.b)
                and e.up and e.t_ns >= started)


def _backlog_then_kill(bind: str, immediate: bool = False):
    """w1 is slow, so a backlog builds in its queues; kill it, revive it a second later."""
    return run(
        Setup(bind=bind, workers=2, rate=200, messages=600, wait_ready=True, immediate=immediate, drain_s=0.5),
        [
            Action("set_work", after_sent=0, worker="w1", work_ms=20.0),
            Action("kill", after_sent=200, worker="w1"),
            Action("revive", after_sent=350, worker="w1"),
        ],
    )


def test_pusher_binding_loses_a_killed_workers_backlog_and_never_reroutes_it():
    result = _backlog_then_kill("pusher")
    totals = result.model.totals()
    assert totals.lost > 0
    assert totals.late == 0 and totals.duplicates == 0
    lost = {int(i.split(":")[1]) for i in result.model.ledger.lost_ids()}
    delivered = set(result.delivered_seqs().tolist())
    assert not lost & delivered
    # One line tells it, traced to the life the messages were dealt to, with the rule behind it.
    told = [e for e in result.model.log if e.what == "lost"]
    assert len(told) == 1 and told[0].facts["count"] == totals.lost, [describe(e) for e in told]
    assert describe(told[0]).startswith(f"w1 (life 1) killed with its queue: {totals.lost} messages lost (p1:")
    assert "RFC 30" in describe(told[0])
    assert_ledger_consistent(result)


def test_worker_binding_delivers_messages_sent_during_the_death_late_to_the_revived_worker():
    result = _backlog_then_kill("worker")
    killed = result.first(ev.ProcessEnded, name="w1")
    revived = result.first(ev.ProcessStarted, name="w1", life=2)
    late = [e for e in result.deliveries("w1") if e.life == 2 and (e.sent_ns < revived.t_ns).any()]
    assert late, "the revived w1 got nothing queued for it while it was dead"
    sent_during_death = np.concatenate([e.sent_ns[(e.sent_ns > killed.t_ns) & (e.sent_ns < revived.t_ns)] for e in late])
    assert len(sent_during_death) > 10
    assert result.model.totals().late >= len(sent_during_death)
    assert result.model.workers["w1"].late == result.model.totals().late
    told = [describe(e) for e in result.model.log if e.what in ("late", "lost", "arrived-after-all")]
    assert told[0] == (f"{result.model.totals().late} messages sent while w1 was dead were delivered late to its "
                       "life 2: a connecting PUSH keeps a peer's queue while it is away (RFC 30)")
    # What life 1 had taken into its own receive queue died with it, and is told as such.
    assert all(line.startswith("w1 (life 1) killed: ") and "its own receive queue" in line for line in told[1:])
    assert len(told) <= 2 and result.model.totals().lost == sum(e.facts["count"] for e in result.model.log
                                                                if e.what == "lost")
    assert_ledger_consistent(result)


def test_immediate_keeps_messages_off_a_dead_workers_pipe():
    result = _backlog_then_kill("worker", immediate=True)
    killed = result.first(ev.ProcessEnded, name="w1")
    revived = result.first(ev.ProcessStarted, name="w1", life=2)
    during = result.sent_by(revived.t_ns) - result.sent_by(killed.t_ns + NS // 5)
    assert during > 10
    assert result.model.totals().late == 0
    assert_ledger_consistent(result)


def test_paused_worker_drops_out_once_its_pipe_is_full():
    result = run(
        Setup(workers=3, rate=4000, messages=12000, size=1000, sndhwm=50, rcvhwm=50, wait_ready=True, drain_s=0.5),
        [Action("pause", after_sent=1000, worker="w1")],
    )
    paused = result.first(ev.WorkerPaused, name="w1")
    before = result.sent_by(paused.t_ns)
    after_pause = 12000 - before
    others = np.concatenate([result.delivered_seqs("w2"), result.delivered_seqs("w3")])
    carried = np.count_nonzero(others >= before)
    # w1 takes only what fits in its queues (HWMs and socket buffers); the others take the rest.
    assert carried >= 0.9 * after_pause, (carried, after_pause)
    assert result.model.workers["w1"].state == "paused"
    # The log says why: its pipe filled and round robin skips it, with what it held.
    told = [e for e in result.model.log if e.what == "pipe-full"]
    # What it held when the line was last updated is no more than what it never delivered.
    assert [e.facts["name"] for e in told] == ["w1"] and 0 < told[0].facts["held"] <= result.model.totals().lost
    assert_ledger_consistent(result)


def test_two_pushers_are_fair_queued_at_a_worker():
    result = run(Setup(pushers=2, workers=1, rate=0, messages=600, work_ms=1.0, wait_ready=True))
    order = np.concatenate([e.pushers for e in result.deliveries("w1")])
    assert len(order) == 1200
    middle = order[200:1000]  # both pushers have a full queue here
    alternations = np.count_nonzero(middle[1:] != middle[:-1]) / (len(middle) - 1)
    assert alternations > 0.9, alternations
    assert_ledger_consistent(result)


def test_foreign_payloads_are_counted_not_fatal():
    setup = Setup(bind="worker", workers=1, rate=50, messages=100, wait_ready=True)
    engine = Engine(setup)
    ctx = zmq.Context()
    stranger = ctx.socket(zmq.PUSH)
    stranger.linger = 1000
    try:
        engine.start()
        stranger.connect(engine.endpoints["w1"])
        junk = [b"7 , 1344600000.12", b"", b"RRS1", b"RRS1" + os.urandom(30), b"\xff" * 100]
        for payload in junk:
            stranger.send(payload)
        deadline = time.monotonic() + 30
        while not engine.finished:
            assert time.monotonic() < deadline
            engine.step(10)
        model = engine.model
        assert model.foreign == len(junk)
        assert model.workers["w1"].state == "alive" and len(model.workers["w1"].lives) == 1
        assert model.totals().delivered == 100 and model.totals().lost == 0
    finally:
        stranger.close()
        ctx.term()
        engine.close()


def test_a_worker_that_crashes_by_itself_is_reported_and_can_be_revived():
    setup = Setup(workers=3, rate=100, messages=400, wait_ready=True)
    engine = Engine(setup)
    try:
        engine.start()
        deadline = time.monotonic() + 30
        crashed = revived = False
        while not engine.finished:
            assert time.monotonic() < deadline
            engine.step(10)
            model = engine.model
            if not crashed and model.ledger.sent > 50:
                # Two worker bugs: a signal nobody on our side sent, and an exception in its loop.
                os.kill(model.workers["w2"].life.pid, signal.SIGSEGV)
                crashed = True
            if crashed and not revived and model.workers["w3"].state not in ("crashed", "killed", "stopped"):
                # Sent until it lands: a worker keeps only the newest control state it reads, and the
                # engine's own (every 100 ms) may come in the same read and win.
                engine.control_sock.send_multipart([b"w3\0", b'{"connect": {}, "work_ms": "not a number", "speed": 1}'])
            if crashed and not revived and model.workers["w3"].state == "crashed":
                engine.revive("w3")
                revived = True
        w2, w3 = engine.model.workers["w2"], engine.model.workers["w3"]
        assert w2.state == "crashed" and w2.lives[0].exit_code == -signal.SIGSEGV
        assert w3.lives[0].how_ended == "crashed" and w3.lives[0].exit_code == 1
        assert any("TypeError" in line for line in w3.lives[0].log_tail)
        assert w3.state == "alive" and w3.lives[1].received > 0  # revived, and back at work
        assert engine.model.workers["w1"].received > 100  # the run went on
        assert any("w3 crashed" in describe(e) for e in engine.model.log)
    finally:
        engine.close()


def test_the_run_directory_is_private():
    engine = Engine(Setup())
    try:
        assert engine.run_dir.stat().st_mode & 0o777 == 0o700
        assert engine.telemetry_endpoint.startswith(f"ipc://{engine.run_dir}/")
    finally:
        engine.close()
    assert not engine.run_dir.exists()


def test_stop_finishes_queued_messages_and_exits_cleanly():
    result = run(
        Setup(workers=2, rate=200, messages=600, wait_ready=True),
        [Action("stop", after_sent=200, worker="w1")],
    )
    w1 = result.model.workers["w1"]
    assert w1.state == "stopped" and w1.life.exit_code == 0
    assert_ledger_consistent(result)


@pytest.mark.parametrize("bind", ["pusher", "worker"])
def test_add_worker_and_pusher_join_the_run(bind):
    result = run(
        Setup(bind=bind, workers=1, rate=200, messages=600, wait_ready=True),
        [Action("add_worker", after_sent=100), Action("add_pusher", after_sent=200)],
    )
    model = result.model
    assert list(model.workers) == ["w1", "w2"] and list(model.pushers) == ["p1", "p2"]
    # The endpoints of the added ones are known (the TUI header and the report show them), and
    # only what is bound is listed.
    assert sorted(model.endpoints) == (["p1", "p2", "telemetry"] if bind == "pusher" else ["telemetry", "w1", "w2"])
    assert model.workers["w2"].received > 100
    assert model.pushers["p2"].sent == 600
    assert len(result.delivered_seqs(pusher=2)) > 0
    assert_ledger_consistent(result)


def test_tcp_transport_works_and_shows_its_ports():
    result = run(Setup(transport="tcp", bind="worker", workers=2, rate=0, messages=2000, wait_ready=True))
    assert all(e.startswith("tcp://127.0.0.1:") for n, e in result.model.endpoints.items() if n != "telemetry")
    assert [w.received for w in result.model.workers.values()] == [1000, 1000]
    assert_ledger_consistent(result)


def test_a_worker_that_connects_late_misses_what_was_dealt_before_it():
    # The slow joiner, made certain: without wait_ready the pusher deals to whoever is connected,
    # and w3 starts only once 2000 messages have gone out.  (How far the workers started together
    # drift apart depends on the machine's load, so that is not what this test relies on.)
    result = run(Setup(workers=2, rate=20_000, messages=20_000, wait_ready=False),
                 [Action("add_worker", after_sent=2000)])
    late = result.delivered_seqs("w3")
    assert len(late) > 1000  # it joined the rotation...
    assert late.min() >= 2000  # ...but none of the messages dealt before it connected reached it
    early = np.concatenate([result.delivered_seqs("w1"), result.delivered_seqs("w2")])
    assert np.isin(np.arange(2000), early).all()  # those went to the workers already there
    assert_ledger_consistent(result)


# churn is 20 s of kills and pauses by design, too long for the suite: tests/test_churn.py runs it four
# times as fast under every pattern (the numbers of a full run are in docs/patterns.md).
@pytest.mark.parametrize("name", [name for name in builtin_scenarios() if name != "churn"])
def test_builtin_scenarios_keep_the_ledger_consistent(name):
    scenario = load_scenario(name)
    result = run(scenario.setup, scenario.timeline)
    assert result.model.totals().sent == scenario.setup.messages * len(result.model.pushers)
    assert_ledger_consistent(result)


def test_duration_caps_an_unlimited_run_and_lets_what_is_in_flight_land():
    result = run(Setup(workers=2, rate=300, messages=0, duration=1.5, wait_ready=True))
    model, totals = result.model, result.model.totals()
    # Sending starts once every worker is connected (later on a busy machine) and stops at the
    # cap: never more than the rate allows in the time between (give or take the 10 ms reports
    # and the engine's steps), and, unless the machine starves the pusher, about that.
    sending_s = (model.started_ns + 1.5 * NS - model.first_send_ns) / NS
    assert 0 < sending_s <= 1.5
    assert 300 * sending_s * 0.5 <= totals.sent <= 300 * sending_s + 20, (totals.sent, sending_s)
    assert totals.lost == 0 and totals.delivered == totals.sent
    assert_ledger_consistent(result)


def test_a_run_waits_for_a_slow_worker_even_past_the_live_lost_horizon():
    result = run(
        Setup(workers=2, rate=400, messages=200, wait_ready=True, lost_after_s=0.2, size=4096, rcvhwm=10, sndhwm=10),
        [Action("set_work", after_sent=0, worker="w1", work_ms=10.0)],
    )
    totals = result.model.totals()
    assert totals.lost == 0 and totals.delivered == 200
    # w1's backlog waited past the horizon, but w1 was alive and had not got past it: in flight
    # all along, never counted lost in the live view.
    assert result.model.workers["w1"].latency_ms(0.99) > 200
    assert not any(entry.kind == "lost" or "arrived after all" in describe(entry) for entry in result.model.log)
    assert_ledger_consistent(result)


def test_a_command_after_the_run_has_finished_is_answered_not_left_hanging():
    engine = Engine(Setup(workers=1, rate=0, messages=100, wait_ready=True))
    try:
        engine.start()
        deadline = time.monotonic() + 30
        while not engine.finished:
            assert time.monotonic() < deadline
            engine.step(10)
        future = engine.request("kill", "w1")
        engine.step(10)
        with pytest.raises(UserError, match="finished"):
            future.result(timeout=1)
    finally:
        engine.close()


def test_only_what_is_bound_is_listed_and_port_numbers_the_first_bound_endpoint():
    port = _free_port("127.0.0.1", 0, "test")
    result = run(Setup(transport="tcp", bind="pusher", port=port, workers=2, rate=200, messages=100, wait_ready=True))
    endpoints = {name: e for name, e in result.model.endpoints.items() if name != "telemetry"}
    assert endpoints == {"p1": f"tcp://127.0.0.1:{port}"}  # the workers connect: they listen nowhere
    assert_ledger_consistent(result)


def test_wait_ready_with_several_pushers_splits_evenly_and_warns_of_no_slow_joiner():
    result = run(Setup(pushers=4, workers=12, rate=500, messages=120, wait_ready=True))
    model = result.model
    assert not [describe(e) for e in model.log if e.what == "slow-joiner"]
    for index in range(1, 5):  # each pusher dealt its 120 in turn to all 12: exactly 10 each
        per_worker = [len(result.delivered_seqs(f"w{n}", pusher=index)) for n in range(1, 13)]
        assert per_worker == [10] * 12, (index, per_worker)
    assert_ledger_consistent(result)


def test_an_action_that_cannot_be_done_is_logged_once_as_skipped_and_one_that_can_before_its_effect():
    result = run(Setup(workers=2, rate=200, messages=40, wait_ready=True, drain_s=0.3),
                 [Action("revive", after_sent=10, worker="w1"), Action("kill", after_sent=20, worker="w2")])
    said = [(i, e.description) for i, e in enumerate(result.events) if isinstance(e, ev.ActionFired)]
    revive = [text for _, text in said if "revive w1" in text]
    assert len(revive) == 1 and "skipped: w1 is still running" in revive[0], said
    kill = [(i, text) for i, text in said if "kill w2" in text]
    ended = [i for i, e in enumerate(result.events) if isinstance(e, ev.ProcessEnded) and e.name == "w2"]
    assert len(kill) == 1 and "skipped" not in kill[0][1] and kill[0][0] < ended[0], said


def test_children_killed_with_the_live_views_stepping_thread_ended_with_the_run_not_by_crashing():
    # The live view steps the engine on a thread of its own, and Linux kills the children when the
    # thread that started them ends (PR_SET_PDEATHSIG) - before the main thread closes the run.
    # On a loaded machine they were dead by then, and reported crashed.
    from rrsim.tui.source import LiveRun

    run_ = LiveRun(Engine(Setup(workers=2, rate=50, messages=0, duration=30.0)))
    run_.begin()
    deadline = time.monotonic() + 20
    while not all(w.state == "alive" for w in run_.model.workers.values()) or len(run_.model.workers) < 2:
        assert time.monotonic() < deadline, "the workers to start"
        time.sleep(0.02)
    children = list(run_.engine.supervisor.children.values())
    run_._stop.set()
    run_._thread.join(10)
    while any(child.process.poll() is None for child in children):  # the thread's end killed them
        assert time.monotonic() < deadline + 10, "the children to die with the thread that started them"
        time.sleep(0.02)
    run_.close()
    assert {life.how_ended for w in run_.model.workers.values() for life in w.lives} == {"run-end"}

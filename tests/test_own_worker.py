"""A user's own worker program (worker_cmd) on real processes: the bundled examples under push-pull
with a kill and a revive, the ledger exact; a program that fails at start, or sends back garbage;
and the setups refused before anything starts."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import zmq

from rrsim import events as ev
from rrsim.errors import UserError
from rrsim.scenario.setup import Setup, build_setup
from runs import assert_ledger_consistent, run

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "workers"
TASKWORK = f"{sys.executable} {EXAMPLES / 'taskwork.py'}"


def own(worker_cmd: str, **values: object) -> Setup:
    return build_setup({"worker_cmd": worker_cmd, "workers": 2, "messages": 300, "rate": 300.0, "wait_ready": True,
                        **values}, "test")


def kill_then_revive_w1(setup: Setup):
    """Sends until w1's second life has done a few (however slowly a busy machine starts it), then drains."""
    return run(dataclasses.replace(setup, messages=0, duration=60.0), steps=[
        (lambda model: model.workers["w1"].received >= 20, lambda engine: engine.kill("w1")),
        (lambda model: model.workers["w1"].state == "killed", lambda engine: engine.revive("w1")),
        (lambda model: model.workers["w1"].lives[-1].number == 2 and model.workers["w1"].lives[-1].received >= 5
         and model.workers["w2"].received >= 5, lambda engine: engine.end_sending()),
    ])


@pytest.mark.system
@pytest.mark.parametrize("transport, bind", [("ipc", "pusher"), ("ipc", "worker"), ("tcp", "pusher"), ("tcp", "worker")])
def test_the_python_example_is_every_worker_and_its_ledger_is_exact_through_a_kill_and_a_revive(transport, bind):
    result = kill_then_revive_w1(own(TASKWORK, bind=bind, transport=transport))
    assert_ledger_consistent(result)
    model = result.model
    assert model.totals().foreign == 0 and model.totals().delivered > 0
    # Only when a message came back is seen: no wait or service is made up from it.
    assert model.workers["w1"].program == TASKWORK and model.workers["w1"].service_ms() is None
    assert model.wait.count == 0 and model.sojourn.count >= model.totals().delivered > 0
    # The second life sent back what it received: what comes back is told apart by its connection.
    assert len(result.delivered_seqs("w1", life=2)) > 0 and len(result.delivered_seqs("w2")) > 0
    ended = result.first(ev.ProcessEnded, name="w1", life=1)
    assert ended.how == "killed"
    # wait_ready opened: both programs' links to the pusher were seen (from the pusher's side, as
    # its peers' pids when they connect to it over ipc, their lives' own addresses over tcp), so
    # nothing was taken for a stranger.
    assert not model.peers.strangers
    assert any(isinstance(e, ev.LinkChanged) and {e.a, e.b} == {"w1", "p1"} and e.up for e in result.events)


@pytest.mark.system
def test_over_tcp_a_stranger_is_still_a_stranger_beside_the_programs_whatever_loopback_address_it_comes_from():
    ctx = zmq.Context()
    plain, posing = ctx.socket(zmq.PULL), ctx.socket(zmq.PULL)  # one from 127.0.0.1, one from a life no worker has

    def connect(engine) -> None:
        plain.connect(engine.endpoints["p1"])
        posing.connect(engine.endpoints["p1"].replace("tcp://", "tcp://127.128.9.1:0;"))

    try:
        result = run(dataclasses.replace(own(TASKWORK, transport="tcp"), messages=0, duration=60.0, drain_s=0.5), steps=[
            (lambda model: model.workers["w1"].received >= 10, connect),
            (lambda model: len(model.strangers) == 2, lambda engine: engine.end_sending()),
        ])
    finally:
        ctx.destroy(linger=0)
    peers = sorted(stranger.peer for stranger in result.model.strangers)
    assert peers[0].startswith("127.0.0.1:") and peers[1] == "127.128.9.1", peers
    assert {stranger.binder for stranger in result.model.strangers} == {"p1"}
    assert result.model.totals().strayed > 0 and result.model.totals().foreign == 0
    assert_ledger_consistent(result)


@pytest.mark.system
def test_a_program_that_exits_before_it_connects_is_said_to_exit_at_start_however_slowly_and_the_run_goes_on(tmp_path):
    failing = tmp_path / "failing.py"
    # w1 ends before it connects, later than a quiet machine would start it (a busy one is slower);
    # w2 ends after it has sent messages back: not at start; w3 goes on.
    failing.write_text("import os, sys, time, zmq\n"
                       "if os.environ['RRSIM_NAME'] == 'w1':\n"
                       "    time.sleep(2.2)\n"
                       "    sys.exit('cannot find my config')\n"
                       "c = zmq.Context(); pull = c.socket(zmq.PULL); push = c.socket(zmq.PUSH)\n"
                       "[pull.connect(e) for e in os.environ['RRSIM_PULL'].split()]\n"
                       "push.connect(os.environ['RRSIM_PUSH'])\n"
                       "for done in range(1, 1_000_000):\n"
                       "    push.send(pull.recv())\n"
                       "    if done == 5 and os.environ['RRSIM_NAME'] == 'w2':\n"
                       "        sys.exit('ran out')\n")
    _w1_at_start_w2_not_w3_goes_on(own(f"{sys.executable} {failing}", workers=3))


def _w1_at_start_w2_not_w3_goes_on(setup: Setup) -> None:
    """w1's program ends before it reaches us, w2's after sending 5 back: only w1's is at start."""
    at_crash: dict[str, int] = {}
    # Judged by order, not time: once w1 and w2 have crashed, w3 goes on receiving.
    result = run(dataclasses.replace(setup, wait_ready=False, messages=0, duration=30.0, rate=50.0, drain_s=0.2), steps=[
        (lambda model: model.workers["w1"].state == model.workers["w2"].state == "crashed",
         lambda engine: at_crash.setdefault("w3", engine.model.workers["w3"].received)),
        (lambda model: model.workers["w3"].received > at_crash["w3"], lambda engine: engine.end_sending()),
    ])
    ended = result.first(ev.ProcessEnded, name="w1")
    assert (ended.how, ended.exit_code) == ("crashed", 1)
    assert ended.log_tail[-1].endswith("exited with status 1 at start: cannot find my config"), ended.log_tail
    assert result.first(ev.ProcessEnded, name="w2").log_tail[-1].endswith("exited with status 1: ran out")
    assert result.model.workers["w3"].received > at_crash["w3"]  # the other went on
    assert_ledger_consistent(result)


@pytest.mark.system
def test_under_lb_broker_a_program_that_ends_before_it_says_ready_exits_at_start_and_one_after_does_not(tmp_path):
    failing = tmp_path / "failing_lbworker.py"
    failing.write_text("import os, sys, zmq\n"
                       "if os.environ['RRSIM_NAME'] == 'w1':\n"
                       "    sys.exit('cannot find my config')\n"
                       "req = zmq.Context().socket(zmq.REQ); req.connect(os.environ['RRSIM_BROKER']); req.send(b'READY')\n"
                       "for done in range(1, 1_000_000):\n"
                       "    address, empty, request = req.recv_multipart()\n"
                       "    req.send_multipart([address, b'', request])\n"
                       "    if done == 5 and os.environ['RRSIM_NAME'] == 'w2':\n"
                       "        sys.exit('ran out')\n")
    _w1_at_start_w2_not_w3_goes_on(own(f"{sys.executable} {failing}", workers=3, pattern="lb-broker"))


@pytest.mark.system
def test_garbage_and_more_than_was_received_are_counted_never_a_crash(tmp_path):
    noisy = tmp_path / "noisy.py"
    noisy.write_text("import os, zmq\n"
                     "c = zmq.Context(); pull = c.socket(zmq.PULL); push = c.socket(zmq.PUSH)\n"
                     "[pull.connect(e) for e in os.environ['RRSIM_PULL'].split()]\n"
                     "push.connect(os.environ['RRSIM_PUSH'])\n"
                     "while True:\n"
                     "    m = pull.recv(); push.send(m); push.send(m); push.send(b'garbage')\n")
    result = run(own(f"{sys.executable} {noisy}", messages=40, rate=200.0))
    totals = result.model.totals()
    assert totals.delivered == 40 and totals.duplicates == 40 and totals.foreign == 40
    assert_ledger_consistent(result)


def test_a_program_not_found_or_not_executable_is_refused_before_anything_starts(tmp_path):
    with pytest.raises(UserError, match="'no-such-worker' is not found on PATH"):
        own("no-such-worker --fast")
    script = tmp_path / "worker.sh"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(UserError, match="is not executable"):
        own(str(script))


@pytest.mark.parametrize("pattern, why", [("reliable", "ppworker cannot be its worker")])
def test_a_pattern_that_cannot_take_a_users_worker_refuses_it_in_one_line_saying_why(pattern, why):
    with pytest.raises(UserError, match=why) as refused:
        own(TASKWORK, pattern=pattern, bind="pusher")
    assert "\n" not in str(refused.value) and "push-pull" in str(refused.value)


def test_listen_and_a_tcp_interface_that_is_not_ipv4_are_refused_for_a_users_worker_saying_why():
    with pytest.raises(UserError, match="cannot run with listen: listen is for rrsim's own workers") as refused:
        own(TASKWORK, listen="tcp://127.0.0.1:5555")
    with pytest.raises(UserError, match="reaches this machine's IPv4 addresses only, not interface '::1'") as refused_v6:
        own(TASKWORK, transport="tcp", interface="::1")
    assert "\n" not in str(refused.value) + str(refused_v6.value)
    assert own(TASKWORK, transport="tcp").transport == "tcp"


def test_set_work_does_not_apply_to_a_users_worker_and_says_so():
    from rrsim.engine.engine import Engine  # noqa: PLC0415 (only this test needs the engine)
    engine = Engine.__new__(Engine)
    engine.setup = own(TASKWORK)
    engine.roster = type("R", (), {"kinds": {"w1": "receiver"}})()
    engine._check = lambda action, name: None
    with pytest.raises(UserError, match="runs your program"):
        engine.set_work("w1", 5.0)


def _c_toolchain() -> str:
    include = Path(sysconfig.get_config_var("INCLUDEDIR") or "/usr/include")
    if shutil.which("cc") is None:
        return "no C compiler (cc)"
    if not (include / "zmq.h").exists() and not Path("/usr/include/zmq.h").exists():
        return "no libzmq development files (zmq.h): apt-get install libzmq3-dev"
    return ""


@pytest.mark.system
@pytest.mark.skipif(bool(_c_toolchain()), reason=_c_toolchain() or "")
@pytest.mark.parametrize("transport, bind", [("tcp", "pusher"), ("ipc", "worker")])
def test_the_guides_c_taskwork_adapted_in_a_few_lines_is_a_worker_of_every_pusher(tmp_path, transport, bind):
    binary = tmp_path / "taskwork"
    subprocess.run(["cc", "-o", str(binary), str(EXAMPLES / "taskwork.c"), "-lzmq"], check=True)
    setup = dataclasses.replace(own(str(binary), pushers=2, transport=transport, bind=bind), messages=0, duration=60.0)
    life_2: dict[str, int] = {}

    def linked_to_both(model) -> bool:
        return {frozenset({"w1", "p1"}), frozenset({"w1", "p2"})} <= model.peers.links

    result = run(setup, steps=[
        (lambda model: model.workers["w1"].received >= 20 and linked_to_both(model), lambda engine: engine.kill("w1")),
        (lambda model: model.workers["w1"].state == "killed", lambda engine: engine.revive("w1")),
        (lambda model: model.workers["w1"].lives[-1].number == 2 and linked_to_both(model),
         lambda engine: life_2.setdefault("linked", engine.model.workers["w1"].lives[-1].received)),
        (lambda model: model.workers["w1"].lives[-1].received >= life_2["linked"] + 10, lambda engine: engine.end_sending()),
    ])
    assert_ledger_consistent(result)
    # Each life took messages from both pushers: it connected to (or was connected from) them all.
    for life in (1, 2):
        assert all(len(result.delivered_seqs("w1", life=life, pusher=pusher)) > 0 for pusher in (1, 2)), life


def _said(result, what: str) -> list[str]:
    from rrsim.report.wording import describe  # noqa: PLC0415 (the words of the run's log)
    return [describe(entry) for entry in result.model.log if entry.what == what]


def _nothing_back_line(setup: Setup) -> str:
    """The run's log line about w1's program sending nothing back: the run sends until it is said."""
    result = run(dataclasses.replace(setup, messages=0, duration=30.0, rate=50.0, drain_s=0.1),
                 steps=[(lambda model: any(e.what == "nothing-back" for e in model.log),
                         lambda engine: engine.end_sending())], timeout_s=30.0)
    [line] = _said(result, "nothing-back")
    return line


@pytest.mark.system
@pytest.mark.parametrize("sends_back", [False, True], ids=["no-push", "push-unused"])
def test_a_program_that_receives_but_sends_nothing_back_gets_one_line_in_the_runs_log(tmp_path, sends_back):
    mute = tmp_path / "mute.py"
    mute.write_text("import os, zmq\n"
                    "c = zmq.Context(); pull = c.socket(zmq.PULL)\n"
                    "[pull.connect(e) for e in os.environ['RRSIM_PULL'].split()]\n"
                    + ("push = c.socket(zmq.PUSH); push.connect(os.environ['RRSIM_PUSH'])\n" if sends_back else "")
                    + "while True:\n    pull.recv()\n")
    line = _nothing_back_line(own(f"{sys.executable} {mute}", workers=1))
    assert line.startswith(f"w1 (`{sys.executable} {mute}`) has sent nothing back 3 s after it started: "
                           "it is connected to p1 (which has sent "), line
    back = "it is connected to $RRSIM_PUSH but sent nothing on it" if sends_back else "it never connected to $RRSIM_PUSH"
    assert back in line and "on a PUSH socket connected to $RRSIM_PUSH" in line, line


@pytest.mark.system
def test_a_program_that_never_connects_is_told_it_received_nothing_and_where_to_connect(tmp_path):
    idle = tmp_path / "idle.py"
    idle.write_text("import time\nwhile True:\n    time.sleep(1)\n")
    line = _nothing_back_line(own(f"{sys.executable} {idle}", workers=1, wait_ready=False))
    assert "it is connected to none of ours, so it has received nothing" in line, line
    assert "it never connected to $RRSIM_PUSH" in line and "connect a PULL socket at $RRSIM_PULL (ipc://" in line, line


@pytest.mark.system
def test_when_every_program_has_exited_by_itself_the_run_stops_and_says_no_worker_is_left(tmp_path):
    quits = tmp_path / "quits.py"
    quits.write_text("import sys\nsys.exit('no config')\n")
    setup = dataclasses.replace(own(f"{sys.executable} {quits}"), wait_ready=False, messages=0, duration=3600.0,
                                rate=50.0, drain_s=0.1)
    result = run(setup, timeout_s=30.0)  # without the stop, a run of an hour: the deadline fails it
    assert [w.state for w in result.model.workers.values()] == ["crashed", "crashed"]
    [line] = _said(result, "sending-held")
    assert line.startswith("sending stopped for good (no worker is left: every worker program (w1, w2) exited by "
                           "itself)"), line


@pytest.mark.system
def test_output_gives_the_programs_last_lines_and_refuses_rrsims_own_workers(tmp_path):
    talker = tmp_path / "talker.py"
    talker.write_text("import os, sys\n"
                      "print('stdout of', os.environ['RRSIM_NAME'], flush=True)\n"
                      "print('stderr of', os.environ['RRSIM_NAME'], file=sys.stderr, flush=True)\n"
                      f"exec(open({str(EXAMPLES / 'taskwork.py')!r}).read())\n")
    seen: dict[str, tuple[str, ...]] = {}
    run(own(f"{sys.executable} {talker}", workers=1, messages=40, rate=200.0),
        steps=[(lambda model: model.workers["w1"].received > 0, lambda engine: seen.update(w1=engine.output("w1")))])
    assert seen["w1"][-2:] == ("stdout of w1", "stderr of w1")

    def refused(engine) -> None:
        with pytest.raises(UserError, match=r"^w1 is rrsim's own worker: o shows the output of your program") as error:
            engine.output("w1")
        seen["own"] = (str(error.value),)

    run(build_setup({"workers": 1, "messages": 20, "rate": 200.0}, "test"),
        steps=[(lambda model: model.workers["w1"].received > 0, refused)])
    assert "\n" not in seen["own"][0]


LBWORKER = f"{sys.executable} {EXAMPLES / 'lbworker.py'}"


@pytest.mark.system
@pytest.mark.parametrize("transport", ["ipc", "tcp"])
def test_the_guides_lbworker_unchanged_is_an_lb_broker_worker_and_its_ledger_is_exact_through_a_kill_and_a_revive(
        transport):
    result = kill_then_revive_w1(own(LBWORKER, pattern="lb-broker", bind="broker", wait_ready=False,
                                     transport=transport))
    assert_ledger_consistent(result)
    model = result.model
    assert model.totals().foreign == 0 and model.totals().delivered > 0
    # Each reply came back to the life whose program sent it: told apart by its process group (ipc)
    # or its life's own address (tcp).
    assert len(result.delivered_seqs("w1", life=1)) >= 20
    assert len(result.delivered_seqs("w1", life=2)) > 0 and len(result.delivered_seqs("w2")) > 0
    assert result.first(ev.ProcessEnded, name="w1", life=1).how == "killed"
    assert not model.peers.strangers


@pytest.mark.system
@pytest.mark.parametrize("says_ready", [False, True], ids=["silent", "ready-but-mute"])
def test_an_lb_broker_program_that_replies_nothing_is_told_whether_it_said_ready_and_what_to_do(tmp_path, says_ready):
    mute = tmp_path / "mute.py"
    mute.write_text("import os, time, zmq\n"
                    "req = zmq.Context().socket(zmq.REQ); req.connect(os.environ['RRSIM_BROKER'])\n"
                    + ("req.send(b'READY'); req.recv_multipart()\n" if says_ready else "")
                    + "time.sleep(3600)\n")
    line = _nothing_back_line(own(f"{sys.executable} {mute}", pattern="lb-broker", bind="broker", workers=1,
                                  wait_ready=False))
    received = ("it said READY, so the broker hands it requests, but it has replied to none" if says_ready else
                "it never said READY to the broker on a REQ socket, so it has received nothing")
    assert f"has sent nothing back 3 s after it started: {received}; it should connect a REQ socket to $RRSIM_BROKER" \
        in line, line


@pytest.mark.system
def test_a_revived_broker_says_the_programs_reqs_wait_on_the_one_before_and_a_revive_gets_them_going():
    setup = dataclasses.replace(own(LBWORKER, pattern="lb-broker", bind="broker", workers=1, wait_ready=False),
                                messages=0, duration=60.0, drain_s=0.2)
    result = run(setup, steps=[
        (lambda model: model.workers["w1"].received >= 5, lambda engine: engine.kill("b1")),
        (lambda model: model.brokers["b1"].state == "killed", lambda engine: engine.revive("b1")),
        (lambda model: any(entry.what == "reqs-stuck" for entry in model.log), lambda engine: engine.kill("w1")),
        (lambda model: model.workers["w1"].state == "killed", lambda engine: engine.revive("w1")),
        (lambda model: model.workers["w1"].lives[-1].number == 2 and model.workers["w1"].lives[-1].received >= 5,
         lambda engine: engine.end_sending()),
    ])
    assert _said(result, "reqs-stuck") == [
        "b1 is back, but w1's program said READY on a REQ to the b1 before and waits forever for its answer "
        "(the guide's lbworker says READY once): kill (k) and revive (r) w1 to get it going"]
    assert len(result.delivered_seqs("w1", life=2)) >= 5  # its new REQ said READY to the new broker
    assert_ledger_consistent(result)

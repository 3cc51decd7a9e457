"""Workers that join a run from elsewhere (rrsim worker --join), on loopback: separate processes
that are not the run's children, let in by key (CURVE, Ironhouse), strangers refused."""

from __future__ import annotations

import json
import math
import select
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import zmq

from helpers import processes_mentioning, start_rrsim, wait_until
from rrsim import events as ev
from rrsim.child.receipts import REPORT_NS
from rrsim.engine.engine import Engine
from rrsim.remote import keys
from rrsim.scenario.setup import Setup

pytestmark = pytest.mark.system  # every test here starts processes or opens sockets

# Deadlines only a failure reaches: on a loaded 2-core machine a Python process can take seconds to start.
PATIENCE_S = 60

RUN = """
[setup]
workers = 1
messages = 300
rate = 100.0
drain_s = 5.0  # all delivered ends it at once; on a loaded machine reports can be that slow
"""


def read_until(stream, needle: str, timeout_s: float) -> str:
    """Lines of ``stream`` until one holds ``needle``; that line."""
    deadline = time.monotonic() + timeout_s
    seen = []
    while time.monotonic() < deadline:
        if select.select([stream], [], [], 0.1)[0]:
            line = stream.readline()
            seen.append(line)
            if needle in line:
                return line
    raise AssertionError(f"no {needle!r} within {timeout_s} s: {seen}")


def worker(tmp: Path, join: str, *args: str) -> subprocess.Popen:
    return start_rrsim("worker", "--join", join, *args, tmp=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)


def test_a_keyed_worker_joins_strangers_are_refused(tmp_path):
    host = keys.create(tmp_path / "host")[0]
    ours = keys.create(tmp_path / "ours")[0]
    stranger = keys.create(tmp_path / "stranger")[0]
    keys.allow(tmp_path / "host", ours.public_file)
    (tmp_path / "run.toml").write_text(RUN)
    report = tmp_path / "report.json"
    run = start_rrsim("run", str(tmp_path / "run.toml"), "--listen", "tcp://127.0.0.1:0", "--keys", str(host.directory),
                      "--json", str(report), tmp=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        pusher = read_until(run.stderr, "endpoints:", PATIENCE_S).split("p1 ")[1].split()[0]
        line = read_until(run.stderr, "rrsim worker --join", PATIENCE_S)
        join = line.split("--join ")[1].split()[0]
        assert f"--server-key='{host.public.decode()}'" in line  # what the remote user types
        server_key = f"--server-key={host.public.decode()}"

        joined = worker(tmp_path, join, server_key, "--key", str(ours.secret_file), "--name", "far")
        refused = worker(tmp_path, join, server_key, "--key", str(stranger.secret_file))
        assert "joined" in read_until(joined.stdout, "joined", PATIENCE_S)
        assert refused.wait(PATIENCE_S) == 2
        assert "refused our key" in refused.stderr.read()
        # A plain-text (NULL) ZeroMQ peer is refused by libzmq itself, at the join endpoint and at
        # the pusher's (the seed's PULL, say): it gets no answer and no message.
        ctx = zmq.Context()
        plain, pull = ctx.socket(zmq.DEALER), ctx.socket(zmq.PULL)
        plain.connect(join)
        pull.connect(pusher)
        plain.send_multipart([b"", b'{"clock": 1}'])
        assert plain.poll(500) == 0 and pull.poll(0) == 0
        plain.close(linger=0)
        pull.close(linger=0)
        ctx.term()
        assert joined.wait(PATIENCE_S) == 0
        assert "the run has ended" in joined.stdout.read()
        assert run.wait(PATIENCE_S) == 0
    finally:
        run.kill()
        run.wait()
    result = json.loads(report.read_text())
    remote = next(w for w in result["workers"] if w["remote"])
    assert remote["host"] == socket.gethostname() and remote["label"] == "far"
    assert remote["received"] > 0 and remote["foreign"] == 0
    assert not next(w for w in result["workers"] if w["name"] == "w1")["remote"]
    totals = result["totals"]
    assert totals["sent"] == totals["delivered"] == 300 and totals["lost"] == 0
    whys = [r["why"] for r in result["refused"]]
    assert any(why.startswith("unknown key " + stranger.public.decode()) for why in whys), whys
    # The plain-text peers: libzmq's monitor says "protocol" or "no detail" as the failure comes.
    plain = [r for r in result["refused"] if not r["why"].startswith("unknown key")]
    assert {r["endpoint"] for r in plain} == {"join", "p1"}, result["refused"]
    assert totals["strayed"] == 0 and not result["unknown_peers"]
    # The authenticator's refusals name the address exactly (the ZAP request carries it); libzmq's
    # own (no CURVE at all) are known by the connection's fd, which may be closed before it is asked.
    assert all(r["address"] == "127.0.0.1" for r in result["refused"] if r["why"].startswith("unknown key"))
    others = [r for r in result["refused"] if not r["why"].startswith("unknown key")]
    assert others and all(r["address"].startswith("127.0.0.1:") or r["address"] == "unknown" for r in others), others
    assert any("refused 127.0.0.1" in entry["text"] for entry in result["log"])
    wait_until(lambda: not processes_mentioning(str(tmp_path)), 5, "nothing left running")


def _step_until(engine: Engine, condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        engine.step(10)


def _received(engine: Engine, name: str) -> int:
    worker = engine.model.workers.get(name)
    return 0 if worker is None else worker.received


def test_pause_resume_and_kill_reach_a_remote_worker(tmp_path):
    """Control messages, not signals: the remote worker is not the engine's child."""
    # A keys directory with no keys: loopback without keys works for local use (no CURVE).
    setup = Setup(workers=1, messages=0, rate=200.0, duration=30.0, listen="tcp://127.0.0.1:0",
                  keys=str(tmp_path / "no-keys"))
    with Engine(setup) as engine:
        engine.start()
        remote = worker(tmp_path, engine.listener.endpoint, "--work-ms", "1", "--speed", "2")
        try:
            _step_until(engine, lambda: _received(engine, "w2") > 20, PATIENCE_S, "w2 to join and receive")
            assert engine.model.workers["w2"].remote_host == socket.gethostname()
            w2 = engine.model.workers["w2"]
            assert (w2.work_ms, w2.speed) == (1.0, 2.0)  # --work-ms 1 at twice the speed: 0.5 ms a message
            assert w2.clock_uncertainty_ns == 0 and w2.latency_trusted()  # one machine, one clock: latency shown
            engine.pause("w2")
            engine.step(10)
            time.sleep(0.3)  # what was already in its hands is reported after this
            _step_until(engine, lambda: True, 1, "")
            paused_at, w1_at = _received(engine, "w2"), _received(engine, "w1")
            end = time.monotonic() + 0.5
            while time.monotonic() < end:
                engine.step(10)
            assert _received(engine, "w1") > w1_at + 20  # the run goes on
            assert _received(engine, "w2") == paused_at  # but w2 does nothing while paused
            assert remote.poll() is None  # and is still there
            engine.resume("w2")
            _step_until(engine, lambda: _received(engine, "w2") > paused_at + 10, 10, "w2 to work again")
            engine.kill("w2")
            assert engine.model.workers["w2"].state == "killed"
            assert remote.wait(5) == 1  # asked to exit at once
            assert "killed from the run" in remote.stdout.read()
        finally:
            remote.kill()
            remote.wait()


def test_a_vanished_remote_worker_is_lost_contact(tmp_path):
    """Under the broker: a remote worker of any pattern; with its process gone, its one message is lost."""
    setup = Setup(pattern="lb-broker", workers=1, messages=0, rate=100.0, duration=30.0, listen="tcp://127.0.0.1:0",
                  insecure=True, work_ms=5.0, lost_after_s=0.5, drain_s=3.0)
    with Engine(setup) as engine:
        engine.start()
        events: list = []
        engine.subscribe(events.append)
        remote = worker(tmp_path, engine.listener.endpoint)
        try:
            _step_until(engine, lambda: _received(engine, "w2") > 10, PATIENCE_S, "w2 to join and receive")
            # Its clock offset is estimated anew as it goes (0.5 s after joining, then every 2 s).
            _step_until(engine, lambda: any(isinstance(e, ev.ClockEstimated) for e in events), PATIENCE_S,
                        "a new clock estimate")
            fresh = [e for e in events if isinstance(e, ev.ClockEstimated)][-1]
            assert fresh.name == "w2" and engine.model.workers["w2"].clock_uncertainty_ns == fresh.uncertainty_ns
            remote.send_signal(signal.SIGKILL)  # as if its machine vanished: nothing says goodbye
            remote.wait()
            killed_ns = time.monotonic_ns()
            _step_until(engine, lambda: engine.model.workers["w2"].state == "lost contact", 6,
                        "w2 to be lost contact")
            noticed_s = (engine.model.workers["w2"].life.ended_ns - killed_ns) / 1e9
            assert noticed_s < 4.0, noticed_s  # LOST_CONTACT_NS is 3 s
            assert any(e.what == "ended" and e.facts.get("how") == "lost contact" for e in engine.model.log)
            # The run goes on with w1; of w2's messages, the one it was working on is lost (the
            # broker deals a worker one message at a time: lru), and those it finished in its last
            # report interval whose receipts had not gone out, as for any kill.
            before = _received(engine, "w1")
            _step_until(engine, lambda: _received(engine, "w1") > before + 20, 5, "w1 to go on")
            engine.end_sending()
            _step_until(engine, lambda: engine.finished, 30, "the run to drain")
            totals = engine.model.totals()
            at_most = 1 + math.ceil(setup.rate * REPORT_NS / 1e9)
            assert totals.lost <= at_most and totals.sent == totals.delivered + totals.lost, totals
        finally:
            remote.kill()
            remote.wait()


def test_bad_remote_command_lines_are_one_line(tmp_path, capsys, monkeypatch):
    """In this process (cli.main), as the CLI edge catches them: one line, exit 2."""
    from rrsim.cli import main

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)

    def one_line(args: list[str], *needles: str) -> None:
        handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGHUP)}
        try:
            assert main(args) == 2
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and all(needle in lines[0] for needle in needles), (needles, lines)

    # 192.0.2.1 is TEST-NET-1 (RFC 5737): refused before anything binds or sends.
    one_line(["run", "seed", "--listen", "tcp://192.0.2.1:5000", "--keys", str(tmp_path / "none")],
             "rrsim keys", "--insecure")
    one_line(["run", "seed", "--listen", "127.0.0.1:5000"], "tcp://ADDRESS:PORT")
    one_line(["run", "seed", "--listen", "tcp://127.0.0.1:0", "--bind", "worker"], "listen needs the workers to connect")
    one_line(["worker", "--join", "localhost:5000"], "--join", "tcp://HOST:PORT")
    one_line(["worker", "--join", "tcp://h:5000", "--key", "k"], "--key needs --server-key")
    one_line(["worker", "--join", "tcp://h:5000", "--server-key=short"], "40 characters")
    one_line(["worker", "--join", "tcp://h:5000", "--speed", "0"], "--speed", "above 0")
    one_line(["run", "seed", "--connect-pusher", "localhost:1234"], "connect_pusher", "tcp://HOST:PORT")
    one_line(["run", "seed", "--pattern", "lb-broker", "--connect-pusher", "tcp://h:1234"],
             "needs workers that connect to pushers")
    one_line(["run", "seed", "--external-worker", "far-away"], "external_worker", "IP address")
    one_line(["run", "seed", "--external-worker", "10.0.0.7"], "over tcp")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("rrsim-")]


@pytest.mark.parametrize("reply", [b"not json", b"[1]", b"3"])
def test_a_join_answer_that_is_not_a_json_object_ends_the_worker_in_words(reply: bytes):
    """Valid JSON that is not an object was an AttributeError (a traceback) where the answer was read."""
    from rrsim.remote.worker import Joiner, RunEnded

    ctx = zmq.Context()
    stranger = ctx.socket(zmq.ROUTER)
    stranger.linger = 0
    try:
        port = stranger.bind_to_random_port("tcp://127.0.0.1")
        joiner = Joiner(ctx, f"tcp://127.0.0.1:{port}", None)
        try:
            joiner.sock.send_multipart([b"", b"{}"])  # a request before ask's own: the reply to it is what ask reads
            identity, *_ = stranger.recv_multipart()
            stranger.send_multipart([identity, b"", reply])
            with pytest.raises(RunEnded, match="not rrsim's join protocol"):
                joiner.ask({"clock": 0})
        finally:
            joiner.close()
    finally:
        stranger.close()
        ctx.term()

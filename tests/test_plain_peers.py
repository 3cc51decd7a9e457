"""Plain ZeroMQ programs as peers: the 2012 post's two scripts, completed for Python 3 here.

zeroMQ_PUSH.py binds a PUSH and sends 20 numbered lines (the post: port 1234, a second apart;
here a free port, 20 ms apart); rrsim's workers join it with connect_pusher and count its
payloads as foreign.  zeroMQ_PULL.py connects a PULL and prints what it gets; let in with
external_worker it shows as a worker whose share is estimated from the pusher's side.
"""

from __future__ import annotations

import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import processes_mentioning, wait_until
from rrsim import wire
from rrsim.engine.engine import Engine
from rrsim.scenario.setup import Setup
from runs import run

pytestmark = pytest.mark.system  # every test here starts processes or opens sockets

SEED_PUSH = """\
import sys
import time

import zmq

ctx = zmq.Context()
push_socket = ctx.socket(zmq.PUSH)
push_socket.bind("tcp://127.0.0.1:%s" % sys.argv[1])
for x in range(20):
    msg = str(x) + " , " + str(time.time())
    push_socket.send_string(msg)
    print(x)
    time.sleep(0.02)  # the post paused a second
push_socket.close(linger=2000)
ctx.term()
"""

SEED_PULL = """\
import sys

import zmq

ctx = zmq.Context()
pull_socket = ctx.socket(zmq.PULL)
pull_socket.connect(sys.argv[1])
count = 0
while pull_socket.poll(int(sys.argv[2])):  # the post looped for ever; here it ends when nothing comes
    msg = pull_socket.recv()
    count += 1
    print(msg, flush=True)
print("total", count, flush=True)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port: int) -> bool:
    """Whether something listens on the port (/proc/net/tcp: state 0A is LISTEN), without connecting."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if int(local.split(":")[1], 16) == port and state == "0A":
            return True
    return False


def script(tmp_path: Path, name: str, text: str, *args: str) -> subprocess.Popen:
    path = tmp_path / name
    path.write_text(text)
    return subprocess.Popen([sys.executable, str(path), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)


def test_the_seeds_push_feeds_our_workers_as_foreign_payloads(tmp_path):
    port = free_port()
    push = script(tmp_path, "zeroMQ_PUSH.py", SEED_PUSH, str(port))
    try:
        wait_until(lambda: listening(port), 10, "the seed's PUSH to bind")
        # drain_s: a run ends after this long with nothing delivered; on a loaded machine the
        # workers (niceness 19) can be that slow to report.  Once all is delivered it ends at once.
        result = run(Setup(workers=2, messages=100, rate=100.0, connect_pusher=f"tcp://127.0.0.1:{port}",
                           drain_s=5.0), timeout_s=60)
        assert push.wait(60) == 0, push.stderr.read()
    finally:
        push.kill()
        push.wait()
    workers = result.model.workers.values()
    # Every one of its 20 lines reached one of our workers, counted as foreign (no rrsim header),
    # and none of ours went astray.
    assert sum(w.foreign for w in workers) == result.model.totals().foreign == 20
    totals = result.model.totals()
    assert totals.sent == totals.delivered == 100 and totals.lost == 0
    assert totals.malformed == 0  # our workers' links to it are not reported as links to our pushers
    # Asked for, its traffic is told once per worker, its count growing, and is no warning.
    told = [entry for entry in result.model.log if entry.what == "foreign"]
    assert len({entry.facts["name"] for entry in told}) == len(told) and {entry.kind for entry in told} == {"info"}
    assert sum(entry.facts["count"] for entry in told) == 20


def test_the_seeds_pull_let_in_by_address_is_an_estimated_worker(tmp_path):
    setup = Setup(workers=1, messages=0, rate=200.0, duration=20.0, transport="tcp", external_worker="127.0.0.1",
                  drain_s=2.0)  # what the plain PULL took is never delivered: the run ends after this quiet
    with Engine(setup) as engine:
        engine.start()
        pull = script(tmp_path, "zeroMQ_PULL.py", SEED_PULL, engine.endpoints["p1"], "3000")
        try:
            deadline = time.monotonic() + 15
            got = 0
            # Named once its grace is over (a peer of ours says who it is within it): let in, not a stranger.
            while got < 30 or not engine.model.external_workers():
                assert time.monotonic() < deadline, "the plain PULL got too little"
                engine.step(10)
                while select.select([pull.stdout], [], [], 0)[0] and got < 30:
                    line = pull.stdout.readline()
                    # The script ends after 3 s with nothing dealt to it (a starved pusher): its end
                    # is a failure to say, not a readable pipe to loop on for ever.
                    assert line, f"the plain PULL ended after {got} messages"
                    got += line.startswith(repr(wire.MAGIC)[:-1])  # b'RRS2... as the script prints it
            engine.end_sending()
            while not engine.finished:
                assert time.monotonic() < deadline + 10, "the run did not drain"
                engine.step(10)
            total = int(pull.communicate(timeout=10)[0].strip().splitlines()[-1].split()[1])
        finally:
            pull.kill()
            pull.wait()
        from rrsim.report.report import build_report

        report = build_report(engine.model)
    external = [w for w in report["workers"] if w.get("external")]
    assert len(external) == 1 and external[0]["estimated"] and external[0]["host"].startswith("127.0.0.1:")
    # The estimate: what p1 dealt while it was connected that our workers never received.  It
    # dates the connection by when p1's report of it arrived: what it was dealt before that
    # counts lost, not strayed (none on an idle machine; a few when the engine lags).
    totals = report["totals"]
    assert external[0]["received"] == totals["strayed"] > 0 and total >= 30
    # One denominator for every share (found by review: they added up to 110%).
    assert sum(w["share"] for w in report["workers"]) == pytest.approx(1.0, abs=1e-4)
    assert not any(entry["text"].startswith("stranger") for entry in report["log"]), report["log"]
    assert totals["strayed"] + totals["lost"] == total  # every message our workers missed, it got
    assert not report["unknown_peers"]  # let in: not a stranger
    assert any("external worker" in entry["text"] for entry in report["log"])
    wait_until(lambda: not processes_mentioning(str(tmp_path)), 5, "the seed's scripts to end")

"""lb-broker's compiled loops against their Python references (rrsim/patterns/lb_loops.py): the
broker's turns fed the same words and messages hand the same messages to the same workers and
leave the dispatcher's book the same; the worker's burst fed the same messages keeps the same
receipts and says the same readies.  And a run of lb-broker on either."""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

import pytest
import zmq

from rrsim.child import loops
from rrsim.child.receipts import RECEIPT_SIZE, Receipts
from rrsim.child.work import Work
from rrsim.patterns import lb_loops
from rrsim.patterns.brokered import BYE, READY
from rrsim.patterns.dispatch import Dispatcher
from rrsim.patterns.lbworker import ReqWorkers
from rrsim.scenario.setup import Setup
from tests.runs import run
from tests.test_loops import SIZE, Reports, compiled_or_skip, ours

pytestmark = pytest.mark.system
IMPLS = (loops.PYTHON, loops.COMPILED)


@pytest.fixture
def ctx() -> Iterator[zmq.Context[zmq.Socket[bytes]]]:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    yield context
    context.destroy(linger=0)


def broker_run(ctx: zmq.Context[zmq.Socket[bytes]], impl: str, name: str, strategy: str,
               max_outstanding: int = 0) -> dict[str, Any]:
    """Four DEALER workers (w4 never reads, its pipe holds 2; w3 says BYE half way; w9 said ready
    and is gone) and a pusher; rounds of: every worker that was handed something says ready with
    its count, then the broker turns.  What each worker got, what was routed each round, and the
    dispatcher's book at the end."""
    push, frontend, backend = ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL), ctx.socket(zmq.ROUTER)
    backend.router_mandatory = 1
    backend.sndhwm = 1
    backend.rcvtimeo = 5
    frontend.bind(f"inproc://{name}-front")
    push.connect(f"inproc://{name}-front")
    backend.bind(f"inproc://{name}-back")
    dealers = []
    for n in range(1, 5):
        dealer = ctx.socket(zmq.DEALER)
        dealer.routing_id = b"w%d.1" % n
        dealer.rcvhwm = 1
        dealer.connect(f"inproc://{name}-back")
        dealer.send_multipart([b"", READY, b"0"])
        dealers.append(dealer)
    dealers[0].send_multipart([b"", b"what?"])  # a word not ours: dropped (Python's heard)
    held: deque[list[bytes]] = deque()
    workers = Dispatcher(strategy, max_outstanding, seed="7/1")
    workers.ready(b"w9.1", 0, 0)  # ready longest, but not connected: a send to it says EHOSTUNREACH
    reqs = ReqWorkers()

    def heard(identity: bytes, said: list[bytes], peer: str | None) -> None:
        if said == [b"", BYE]:
            workers.gone(identity)
        elif said[:2] == [b"", READY]:
            workers.ready(identity, int(said[2]), time.monotonic_ns())
        else:
            reqs.heard(backend, identity, said, peer, workers)

    python = lb_loops.python_turns(frontend, backend, held, workers, reqs, heard, bound=8)
    turns = python if impl == loops.PYTHON else lb_loops.compiled_turns(frontend, backend, held, workers, reqs, heard, 8, python)
    for seq in range(30):
        push.send_multipart([ours(seq)] if seq % 7 else [b"two", ours(seq)])  # and a message of two frames
    got: dict[int, list[list[bytes]]] = {n: [] for n in range(1, 5)}
    routed = []
    for round_ in range(20):
        routed.append(turns(0))
        for n, dealer in enumerate(dealers[:3 if round_ < 4 else 2], 1):
            while dealer.poll(0):
                got[n].append(dealer.recv_multipart())
                dealer.send_multipart([b"", READY, b"%d" % len(got[n])])
        dealers[1].send_multipart([b"", READY, b"%d" % len(got[2])])  # a stale ready: room, no more
        if round_ == 3:
            dealers[2].send_multipart([b"", BYE])  # stopping: dealt nothing more
    while dealers[2].poll(0):  # what it was handed before the broker heard its BYE
        got[3].append(dealers[2].recv_multipart())
    book = {identity: (c.given, c.done, c.full) for identity, c in workers.workers.items()}
    return {"got": got, "routed": routed, "book": book, "held": list(held), "peaks": workers.take_peaks()}


@pytest.mark.parametrize("strategy", ["lru", "p2c", "round-robin"])
def test_the_compiled_broker_hands_out_what_the_python_one_does(ctx: zmq.Context[zmq.Socket[bytes]], strategy: str) -> None:
    compiled_or_skip()
    python, compiled = (broker_run(ctx, impl, f"{impl}-{strategy}", strategy) for impl in IMPLS)
    assert compiled == python
    assert sum(python["routed"]) == 30 == sum(map(len, python["got"].values())) + python["book"][b"w4.1"][0]
    assert b"w3.1" not in python["book"] and b"w9.1" not in python["book"]  # gone after its BYE; gone
    if strategy != "p2c":  # in the order they said ready
        assert python["got"][1][0] == [b"", b"two", ours(0)] and python["got"][2][0] == [b"", ours(1)]
    if strategy == "lru":  # one at a time: w4, which never says ready again, was handed one
        assert python["book"][b"w4.1"] == (1, 0, False)
    else:  # w4 never reads: its pipe took two, then it was full and skipped
        assert python["book"][b"w4.1"] == (2, 0, True)


def test_a_limit_on_what_a_worker_holds_is_kept_by_the_compiled_broker(ctx: zmq.Context[zmq.Socket[bytes]]) -> None:
    compiled_or_skip()
    python, compiled = (broker_run(ctx, impl, f"{impl}-limit", "random", max_outstanding=1) for impl in IMPLS)
    assert compiled == python
    assert max(python["peaks"].values()) == 1


class Runtime(Reports):
    """What the worker's loop needs of a runtime: a clock, reports, a stop flag, control, monitors."""

    def __init__(self, control: zmq.Socket[bytes]) -> None:
        super().__init__()
        self.stopping = False
        self.control = control
        self.monitors: list[tuple[str, zmq.Socket[bytes]]] = []


def worker_run(ctx: zmq.Context[zmq.Socket[bytes]], impl: str, sent: list[list[bytes]], until_ns: int = sys.maxsize,
               control: bytes | None = None) -> dict[str, Any]:
    """``sent`` handed to one worker by a ROUTER; its bursts (``take`` doing what they leave) until
    a receive times out; its receipts, the readies the ROUTER got, and how many bursts it took."""
    name = f"{impl}-{len(sent)}-{control is not None}"
    router, dealer = ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER)
    commands, control_socket = ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL)
    control_socket.bind(f"inproc://{name}-control")
    commands.connect(f"inproc://{name}-control")
    router.sndhwm = dealer.rcvhwm = router.rcvhwm = dealer.sndhwm = 0
    dealer.routing_id = b"w1.1"
    dealer.rcvtimeo = 50
    router.bind(f"inproc://{name}")
    dealer.connect(f"inproc://{name}")
    dealer.send(b"hello")
    assert router.recv_multipart() == [b"w1.1", b"hello"]
    if control is not None:
        commands.send(control)
        control_socket.poll(1000)
    runtime = Runtime(control_socket)
    receipts = Receipts(runtime, SIZE)  # type: ignore[arg-type]
    worker = lb_loops.WorkerLoop(runtime, dealer, receipts, Work(0.0, 0.0, 1.0))  # type: ignore[arg-type]
    if impl == loops.PYTHON:
        worker.burst = worker.python_burst
    for frames in sent:
        router.send_multipart([b"w1.1", *frames])
    bursts = 0
    while True:
        bursts += 1
        now, frames = worker.burst(until_ns)
        if frames is None:
            break
        worker.take(frames, now)
    receipts.flush()
    readies = []
    while router.poll(0):
        readies.append(router.recv_multipart())
    heads = b"".join(frames[0] for frames, _ in runtime.batches)
    return {"receipts": sorted(heads[i:i + RECEIPT_SIZE] for i in range(0, len(heads), RECEIPT_SIZE)),
            "n": sum(f["n"] for _, f in runtime.batches), "foreign": sum(f["foreign"] for _, f in runtime.batches),
            "done": worker.done, "readies": readies, "bursts": bursts}


def test_the_compiled_worker_keeps_the_receipts_and_says_the_readies_the_python_one_does(
        ctx: zmq.Context[zmq.Socket[bytes]]) -> None:
    compiled_or_skip()
    # Ours (more than a batch holds), ours of another size, foreign of our size and not, another shape.
    sent = [[b"", ours(seq)] for seq in range(20_000)]
    sent[5:5] = [[b"", ours(1, 200)], [b"", b"x" * SIZE], [b"", b"hello"], [b"x", ours(2)], [ours(3)], [b"", ours(4), b"more"]]
    python, compiled = (worker_run(ctx, impl, sent) for impl in IMPLS)
    for result in (python, compiled):
        result.pop("bursts")
    assert compiled == python
    assert python["n"] == 20_001 and python["foreign"] == 5 and python["done"] == len(sent)
    assert python["readies"][-1] == [b"w1.1", b"", READY, b"%d" % len(sent)]
    assert [int(r[3]) for r in python["readies"]] == list(range(1, len(sent) + 1))


def test_the_compiled_worker_looks_at_control_itself_and_leaves_its_bookkeeping_to_python_only_when_there_is_some(
        ctx: zmq.Context[zmq.Socket[bytes]]) -> None:
    compiled_or_skip()
    sent = [[b"", ours(seq)] for seq in range(100)]
    # Its bookkeeping long due (until 0): with nothing on control the compiled burst takes every
    # message itself (but the first, which the receipts' first flush is due on), in two bursts ...
    quiet = worker_run(ctx, loops.COMPILED, sent, until_ns=0)
    assert (quiet["n"], quiet["bursts"]) == (100, 2)
    # ... and with an order waiting on control it leaves the first message to the loop, as Python does.
    told = {impl: worker_run(ctx, impl, sent, until_ns=0, control=b"order") for impl in IMPLS}
    assert told[loops.COMPILED]["bursts"] == told[loops.PYTHON]["bursts"] == 101
    assert told[loops.COMPILED]["readies"] == told[loops.PYTHON]["readies"]


@pytest.mark.parametrize("impl", IMPLS)
def test_lb_broker_accounts_for_every_message_on_either_loops(impl: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if impl == loops.COMPILED:
        compiled_or_skip()
    monkeypatch.setenv(loops.ENV, impl)  # the children choose for themselves: they are told
    finished = run(Setup(pattern="lb-broker", workers=2, rate=0.0, messages=2000, work_ms=0.0, wait_ready=True,
                         duration=30.0))
    totals = finished.model.totals()
    assert (totals.delivered, totals.lost, totals.duplicates, totals.foreign) == (2000, 0, 0, 0)

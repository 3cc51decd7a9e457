"""The compiled per-message loops against the Python ones, their reference: the same messages in,
the same receipts out; the same messages stamped and sent; and a run on the Python loops alone."""

from __future__ import annotations

import struct
import sys
import time
from array import array
from collections.abc import Iterator
from typing import Any

import pytest
import zmq

from rrsim import wire
from rrsim.child import loops
from rrsim.child.receipts import RECEIPT_SIZE, Receipts
from rrsim.child.work import Work
from rrsim.report.report import build_report
from rrsim.scenario.setup import Setup
from tests.runs import run

pytestmark = pytest.mark.system
SIZE = 64


def compiled_or_skip() -> None:
    if loops.implementation() != loops.COMPILED:
        pytest.skip(f"the compiled loops do not run here: {loops.why_python()}")


class Reports:
    """What Receipts needs of a runtime: a clock, and somewhere to report."""

    clock_offset_ns = 0

    def __init__(self) -> None:
        self.batches: list[tuple[list[bytes], dict[str, Any]]] = []

    def clock(self) -> int:
        return time.monotonic_ns()

    def report(self, kind: str, *frames: bytes | bytearray, **fields: Any) -> None:
        assert kind == wire.RECEIPTS
        self.batches.append(([bytes(f) for f in frames], fields))


@pytest.fixture
def pair() -> Iterator[tuple[zmq.Socket[bytes], zmq.Socket[bytes]]]:
    ctx = zmq.Context()
    push, pull = ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL)
    pull.rcvtimeo = 50  # a burst ends once nothing more comes
    push.sndhwm = pull.rcvhwm = 0  # everything is sent before anything is received
    pull.bind("inproc://loops")
    push.connect("inproc://loops")
    yield push, pull
    ctx.destroy(linger=0)


def ours(seq: int, size: int = SIZE) -> bytes:
    return wire.HEADER.pack(wire.MAGIC, 3, seq, 1000 + seq, 7 * seq).ljust(size, b".")


def receive_all(impl: str, pull: zmq.Socket[bytes], sent: list[bytes], push: zmq.Socket[bytes]) -> list[tuple[list[bytes], dict[str, Any]]]:
    """Send ``sent``, then let ``impl``'s receive burst take them all and report them."""
    reports = Reports()
    receipts = Receipts(reports, SIZE)  # type: ignore[arg-type]
    work = Work(0.0, 0.0, 1.0)
    python = loops.python_receiver(pull, receipts, work, reports.clock)
    receive = python if impl == loops.PYTHON else loops.compiled_receiver(pull, receipts, work, lambda: 0, python)
    for message in sent:
        push.send(message)
    began = time.monotonic_ns()
    while receive(sys.maxsize)[1]:  # until a receive times out with nothing
        if receipts.due(time.monotonic_ns()):
            receipts.flush()
    receipts.flush()
    for frames, _fields in reports.batches:
        stamps = array("q", frames[1])
        assert all(began <= s <= time.monotonic_ns() for s in stamps)
    return reports.batches


def receipts_of(batches: list[tuple[list[bytes], dict[str, Any]]]) -> tuple[bytes, int, int, int]:
    """Every receipt's bytes in the order reported, how many, how many foreign, how many frames."""
    heads = b"".join(frames[0] for frames, _ in batches)
    frames_per_batch = {len(frames) for frames, _ in batches}
    assert len(frames_per_batch) == 1
    return heads, sum(f["n"] for _, f in batches), sum(f["foreign"] for _, f in batches), frames_per_batch.pop()


def test_the_compiled_worker_reports_what_the_python_one_does(pair: tuple[zmq.Socket[bytes], zmq.Socket[bytes]]) -> None:
    compiled_or_skip()
    push, pull = pair
    sent = [ours(seq) for seq in range(40_000)]  # more than a batch holds (MAX_BATCH)
    batches = {impl: receive_all(impl, pull, sent, push) for impl in (loops.PYTHON, loops.COMPILED)}
    python, compiled = (receipts_of(batches[impl]) for impl in (loops.PYTHON, loops.COMPILED))
    assert compiled == python
    for frames, _ in batches[loops.COMPILED]:  # received in order
        assert list(array("q", frames[1])) == sorted(array("q", frames[1]))
    assert python[:3] == (b"".join(m[4:26] for m in sent), 40_000, 0)


def test_the_compiled_worker_tells_ours_from_foreign_messages_as_the_python_one_does(
        pair: tuple[zmq.Socket[bytes], zmq.Socket[bytes]]) -> None:
    compiled_or_skip()
    push, pull = pair
    # Ours of another size (kept), foreign of our size and not (counted), a header cut short (foreign).
    sent = [ours(1), b"x" * SIZE, ours(2, 200), b"hello", wire.MAGIC + b"short", ours(3), ours(4, wire.HEADER_SIZE)]
    python, compiled = (receipts_of(receive_all(impl, pull, sent, push)) for impl in (loops.PYTHON, loops.COMPILED))

    def receipts(heads: bytes) -> list[bytes]:  # the Python loop reports ours of another size after the rest
        return sorted(heads[i:i + RECEIPT_SIZE] for i in range(0, len(heads), RECEIPT_SIZE))

    assert receipts(compiled[0]) == receipts(python[0]) == sorted(m[4:26] for m in (ours(1), ours(2), ours(3), ours(4)))
    assert compiled[1:] == python[1:] == (4, 3, 2)


def send_all(impl: str, push: zmq.Socket[bytes], pull: zmq.Socket[bytes] | None) -> tuple[int, bool, list[bytes]]:
    message = bytearray(ours(0))
    burst = loops.python_sender(push, message) if impl == loops.PYTHON else loops.compiled_sender(push, message)
    began = time.monotonic_ns()
    seq, blocked = burst(5, 300, 0, [11 * n for n in range(1024)])
    received = []
    while pull is not None and len(received) < seq - 5:
        received.append(pull.recv())
    for m in received:
        sent_ns = struct.unpack_from("<q", m, wire.SEQ_OFFSET + 8)[0]
        assert began <= sent_ns <= time.monotonic_ns()
    return seq, blocked, [m[: wire.SEQ_OFFSET + 8] + m[wire.SEQ_OFFSET + 16:] for m in received]  # the send time cut out


def test_the_compiled_pusher_stamps_and_sends_what_the_python_one_does(pair: tuple[zmq.Socket[bytes], zmq.Socket[bytes]]) -> None:
    compiled_or_skip()
    push, pull = pair
    python, compiled = (send_all(impl, push, pull) for impl in (loops.PYTHON, loops.COMPILED))
    assert compiled == python
    assert python[:2] == (300, False) and [wire.HEADER.unpack_from(m[:14] + bytes(8) + m[14:])[2::2] for m in python[2]][:2] == [
        (5, 55), (6, 66)]


def test_the_compiled_pusher_stops_where_the_python_one_does_when_nobody_takes_more() -> None:
    compiled_or_skip()
    ctx = zmq.Context()
    try:
        push = ctx.socket(zmq.PUSH)
        push.bind("inproc://nobody")
        assert send_all(loops.COMPILED, push, None) == send_all(loops.PYTHON, push, None) == (5, True, [])
    finally:
        ctx.destroy(linger=0)


def test_without_the_compiled_loops_rrsim_falls_back_and_a_run_accounts_for_every_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "_rrsim_loops", None)  # as where it was never built: importing it fails
    monkeypatch.delenv(loops.ENV, raising=False)  # chosen automatically (CI requires the compiled loops)
    monkeypatch.setattr(loops, "_chosen", None)  # chosen again, and chosen as before afterwards
    assert (loops.implementation(), loops.why_python()) == (loops.PYTHON, "not built (no C compiler or Python headers when rrsim was installed)")
    monkeypatch.setenv(loops.ENV, loops.PYTHON)  # the children choose for themselves: they are told
    finished = run(Setup(workers=2, rate=0.0, messages=3000, work_ms=0.0, wait_ready=True, duration=30.0))
    assert finished.model.loops == build_report(finished.model)["loops"] == loops.PYTHON
    totals = finished.model.totals()
    assert (totals.delivered, totals.lost, totals.duplicates, totals.foreign) == (3000, 0, 0, 0)

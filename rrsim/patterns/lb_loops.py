"""lb-broker's per-message loops: the broker's turns (wait for a word or a message, read each
worker's word and hand out at once, read the frontend while there is room, hand out) and the
worker's burst (receive, keep the receipt, say ready), in Python (the reference) or compiled
(``_rrsim_loops``), chosen once per process as ``rrsim.child.loops`` chooses.  See docs/compiled.md.

Both do the same libzmq calls on the same sockets; the dispatcher (the strategies,
``max_outstanding``, the book of workers) is Python's in both.  The compiled broker leaves the
turns to Python while a user's program is among the workers (its words are read with their peer);
the compiled worker leaves to Python each message that carries work.
"""

from __future__ import annotations

import errno
import time
from collections import deque
from collections.abc import Callable

import zmq

from rrsim import wire
from rrsim.child import loops
from rrsim.child.receipts import CHECK_NS, Receipts
from rrsim.child.receiving import work_on
from rrsim.child.runtime import ChildRuntime
from rrsim.child.sockets import has_input
from rrsim.child.work import Work
from rrsim.patterns.brokered import GONE, READY, SENT, hand_to
from rrsim.patterns.dispatch import Dispatcher
from rrsim.patterns.lbworker import ReqWorkers

BACKEND_BURST = 1024  # worker messages read in one turn
FRONTEND_BURST = 256  # messages read from the frontend in one go
POLL_MS = 10  # a turn's wait for a word or a message (and a backlog's for a worker) ends this often

Heard = Callable[[bytes, list[bytes], "str | None"], None]
Turns = Callable[[int], int]
"""Turns of the broker's loop until ``until_ns`` (time.monotonic_ns) has passed; returns how many
messages were handed out."""


def python_turns(frontend: zmq.Socket[bytes], backend: zmq.Socket[bytes], held: deque[list[bytes]],
                 workers: Dispatcher, reqs: ReqWorkers, heard: Heard, bound: int) -> Turns:
    # Only the work sockets: control and the monitors are read between turns, which keeps each
    # turn's poll to two sockets, as in the guide's loop.
    poll_both, poll_backend = zmq.Poller(), zmq.Poller()
    poll_both.register(frontend, zmq.POLLIN)
    for poller in (poll_both, poll_backend):
        poller.register(backend, zmq.POLLIN)

    def turn() -> int:
        routed = 0
        ready: dict[zmq.Socket[bytes], int] = {}
        if held and not len(workers) and not reqs.claimed:
            # A backlog and nobody ready: what matters next is a worker's ready, so the broker waits
            # on the backend alone, in a receive rather than a poll, and hands on at once.
            try:
                identity, *said = backend.recv_multipart()
            except zmq.Again:
                pass  # time for housekeeping
            else:
                heard(identity, said, None)
                routed += hand_out(backend, held, workers, reqs)
                ready[backend] = zmq.POLLIN  # there may be more
        else:
            ready = dict((poll_both if len(held) < bound else poll_backend).poll(POLL_MS))
        # Read what is waiting without raising zmq.Again at the end of it: ZMQ_EVENTS says.  Each
        # worker's word is acted on as it is read: a ready worker is handed the oldest message
        # before anything else is read.
        if backend in ready:
            for _ in range(BACKEND_BURST):  # bounded: a flood from a stranger must not starve the rest
                if not has_input(backend):
                    break
                if reqs.claimed:  # a user's program is among the workers: who sent it matters
                    heard(*reqs.read(backend))
                else:
                    identity, *said = backend.recv_multipart()
                    heard(identity, said, None)
                if held:
                    routed += hand_out(backend, held, workers, reqs)
        room = min(FRONTEND_BURST, bound - len(held))
        while room and has_input(frontend):
            held.append(frontend.recv_multipart())
            room -= 1
        return routed + hand_out(backend, held, workers, reqs)

    def turns(until_ns: int) -> int:
        routed = 0
        while True:
            routed += turn()
            if time.monotonic_ns() >= until_ns:
                return routed

    return turns


def hand_out(backend: zmq.Socket[bytes], held: deque[list[bytes]], workers: Dispatcher, reqs: ReqWorkers) -> int:
    """Hand the ``held`` messages, oldest first, to the workers the strategy picks while any has
    room; returns how many were handed."""
    handed_out = 0
    while held:
        identity = workers.next(time.monotonic_ns())
        if identity is None:
            break  # nobody has room: the messages wait here
        envelope = reqs.envelope(identity) if reqs.group_of else [identity, b""]
        handed = hand_to(backend, [*envelope, *held[0]], identity, workers)
        if handed == GONE:
            reqs.gone(identity)
        if handed != SENT:
            continue  # try the next one
        held.popleft()
        handed_out += 1
    return handed_out


def compiled_turns(frontend: zmq.Socket[bytes], backend: zmq.Socket[bytes], held: deque[list[bytes]],
                   workers: Dispatcher, reqs: ReqWorkers, heard: Heard, bound: int, python: Turns) -> Turns:
    """The compiled turns, Python's while a user's program is among the workers."""
    compiled = loops.compiled().BrokerTurns(frontend.underlying, backend.underlying, held, workers, reqs, heard, bound,
                                            READY, BACKEND_BURST, FRONTEND_BURST, POLL_MS)

    def turns(until_ns: int) -> int:
        if reqs.claimed or reqs.group_of:
            return python(until_ns)
        try:
            return int(compiled.turns(until_ns))
        except OSError as error:  # what pyzmq would have raised
            raise zmq.ZMQError(error.errno) from error

    return turns


def broker_turns(frontend: zmq.Socket[bytes], backend: zmq.Socket[bytes], held: deque[list[bytes]],
                 workers: Dispatcher, reqs: ReqWorkers, heard: Heard, bound: int) -> Turns:
    """The broker's turns on its sockets: compiled where they can be, else Python."""
    python = python_turns(frontend, backend, held, workers, reqs, heard, bound)
    if loops.implementation() == loops.COMPILED:
        return compiled_turns(frontend, backend, held, workers, reqs, heard, bound, python)
    return python


class WorkerLoop:
    """lb-broker's worker's messages: ``take`` one (its receipt, its work, ``[empty, READY, done]``);
    ``burst`` receives and takes them until a receive times out (RCVTIMEO) or one arrives at or
    after ``until_ns`` (or the runtime is stopping), which it returns untaken with its receive
    time: the loop's bookkeeping comes first, inside that message's work."""

    def __init__(self, runtime: ChildRuntime, dealer: zmq.Socket[bytes], receipts: Receipts, work: Work) -> None:
        self.runtime, self.dealer, self.receipts, self.work = runtime, dealer, receipts, work
        self.done = 0  # messages done: foreign bytes too, the broker counts every message it handed us
        self.recv, self.send, self.clock = dealer.recv_multipart, dealer.send_multipart, runtime.clock
        self.burst: Callable[[int], tuple[int, list[bytes] | None]] = self.python_burst
        if loops.implementation() == loops.COMPILED:
            watched = [runtime.control.underlying, *(monitor.underlying for _name, monitor in runtime.monitors)]
            self.compiled = loops.compiled().ReadyBurst(dealer.underlying, wire.MAGIC, READY, receipts.max_batch, runtime,
                                                        watched)
            self.burst = self.compiled_burst

    def ready(self) -> None:
        self.send([b"", READY, b"%d" % self.done])

    def take(self, frames: list[bytes], received_ns: int) -> None:
        receipts = self.receipts
        work_on(self.runtime, receipts, self.work, payload_of(frames), received_ns=received_ns)
        self.done += 1
        if receipts.due(self.clock()):
            # Before the ready, not inside the next message's work: killed with the next one in
            # hand, this worker must not take an unreported done with it (2 lost, not 1).  Due
            # only every 20 ms: at most every other message's hand-over pays for it.
            receipts.flush()
        self.send([b"", READY, b"%d" % self.done])

    def python_burst(self, until_ns: int) -> tuple[int, list[bytes] | None]:
        recv, clock, take, runtime = self.recv, self.clock, self.take, self.runtime
        while True:
            try:
                frames = recv()
            except zmq.Again:
                return clock(), None
            now = clock()
            if now >= until_ns or runtime.stopping:
                return now, frames
            take(frames, now)

    def compiled_burst(self, until_ns: int) -> tuple[int, list[bytes] | None]:
        """The compiled burst while messages carry no work.  It leaves to ``take`` the message
        after which the receipts are due (flushed before its ready); at ``until_ns`` it looks for
        input on control and the monitors itself, and returns only if there is some (the loop's
        poll would find nothing else to do)."""
        if self.work.any:
            return self.python_burst(until_ns)
        receipts = self.receipts
        try:
            kept, foreign, self.done, now, frames, error = self.compiled.burst(
                until_ns, CHECK_NS, receipts.deadline_ns(), receipts.room(), self.runtime.clock_offset_ns, self.done)
        except OSError as failure:
            raise zmq.ZMQError(failure.errno) from failure
        if kept:
            receipts.add_cut(self.compiled.heads_bytes(kept), self.compiled.stamps_bytes(kept))
        receipts.foreign += foreign
        if error not in (0, errno.EAGAIN, errno.EINTR):
            raise zmq.ZMQError(error)
        return int(now), frames


def payload_of(frames: list[bytes]) -> bytes:
    """The message in what the broker handed us, [empty, message]; anything else is foreign bytes."""
    return frames[1] if len(frames) == 2 and not frames[0] else b""

"""The sender's loop, shared by every pattern's pusher: numbered, timestamped messages at a rate,
each carrying its work size.

One loop: wait until it may send (enough peers when ``wait_ready``, not held), send what is due
without blocking, and report how far it got at least every 10 ms while anything changes.  It also
counts what it sent before it first had every peer it expects: the slow joiner's evidence.

When each message is due and what work it carries come from its jobs: ``EvenJobs`` (fixed
spacing, the same work for every message) or, when something is drawn at random, a
``workload.DrawnJobs`` fixed by the run's seed.  A Poisson process keeps the rest of the loop's
rules: a rate change rescales what is still to come, slots missed while held or waiting for
peers are skipped, and at rate 0 (as fast as possible) arrivals do not apply: messages go out as
fast as the socket takes them, with their drawn work sizes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Protocol

import zmq

from rrsim import wire
from rrsim.child import loops
from rrsim.child.runtime import ChildRuntime

REPORT_NS = 10_000_000
BURST = 1024  # messages sent between housekeeping rounds at full speed (about 1 ms)
MAX_BACKLOG_NS = 1_000_000_000  # after a stall, catch up at most one second of sends


class Jobs(Protocol):
    """When each message is due (in units of 1/rate since message 0) and the work it carries."""

    def at(self, seq: int) -> float: ...
    def due(self, units: float) -> int: ...
    def sizes_from(self, seq: int) -> tuple[int, list[int]]: ...
    def digest(self, sent: int) -> str: ...


class EvenJobs:
    """Fixed spacing and the same work for every message: nothing drawn, nothing to fingerprint."""

    def __init__(self, work_us: int) -> None:
        self.sizes = [work_us] * BURST

    def at(self, seq: int) -> float:
        return float(seq)

    def due(self, units: float) -> int:
        return int(units) + 1

    def sizes_from(self, seq: int) -> tuple[int, list[int]]:
        return seq, self.sizes

    def digest(self, sent: int) -> str:
        return ""


class JobOrders(Protocol):
    """What a pusher's jobs are drawn from (a ``ChildSpec`` has it all)."""

    @property
    def arrivals(self) -> str: ...
    @property
    def work_dist(self) -> str: ...
    @property
    def mean_work_ms(self) -> float: ...
    @property
    def work_cv(self) -> float: ...
    @property
    def seed(self) -> int: ...
    @property
    def index(self) -> int: ...


def jobs_for(spec: JobOrders) -> Jobs:
    work_us = min(wire.MAX_WORK_US, round(spec.mean_work_ms * 1000))
    if spec.arrivals == "fixed" and (spec.work_dist == "fixed" or work_us == 0):
        return EvenJobs(work_us)
    from rrsim.child.workload import DrawnJobs  # numpy: only in a pusher that draws

    return DrawnJobs(spec.seed, spec.index, spec.arrivals, spec.work_dist, spec.mean_work_ms, spec.work_cv)


def pusher(runtime: ChildRuntime) -> None:
    """The pusher of every pattern so far: a PUSH socket called "push" in the pattern's wires."""
    push = runtime.ctx.socket(zmq.PUSH)
    push.sndhwm = runtime.spec.sndhwm
    if runtime.spec.immediate:
        push.immediate = 1  # only affects a connecting socket: queue to completed connections only
    runtime.wire("push", push)
    send_at_rate(runtime, "push")


class Keeper(Protocol):
    """What a pattern whose pusher keeps copies until they are acknowledged plugs into the loop
    (reliable's Lazy Pirate pusher): it is told each message sent, gets a turn every round to
    read replies and resend, and its counters go out with the progress reports."""

    def kept(self, seq: int, message: bytes) -> None: ...

    def turn(self) -> None: ...

    def busy(self) -> bool: ...  # it has more to do at once (a resend backlog)

    def counters(self) -> dict[str, int]: ...


def send_at_rate(runtime: ChildRuntime, socket_name: str, keeper: Keeper | None = None,
                 outlet: Callable[[bytearray], object] | None = None,
                 loads: Callable[[], dict[str, tuple[int, int]]] | None = None) -> None:
    """Send on the wired socket ``socket_name`` (a PUSH, or a DEALER with a ``keeper``) until
    the engine ends us.

    ``outlet``, when given, takes each message in place of the socket's plain send: a sender that
    picks each message's receiver itself (a ROUTER) sends it, or holds it while nobody has room,
    and raises ``zmq.Again`` when it can hold no more.  Its ``keeper`` reads the replies that make
    room (the loop wakes on them) and sends what is held.  ``loads``, when given, says per receiver
    what such a sender believes of its load and what it has outstanding there: the progress reports
    carry them, so that the run can show each belief beside the truth."""
    spec = runtime.spec
    sock = runtime.sockets[socket_name]
    runtime.hello()
    # One message buffer, re-stamped in place for each send (zmq copies it): no allocation per
    # message, and only the sequence number, the send time and the work size are written each time.
    message = bytearray(spec.size)
    wire.HEADER.pack_into(message, 0, wire.MAGIC, spec.index, 0, 0, 0)
    burst = loops.sender(sock, message, outlet, keeper)  # stamp, send, count: compiled where it can be
    jobs = jobs_for(spec)
    limit: float = spec.messages or float("inf")
    rate, held, min_peers, expected = spec.rate, spec.held, spec.min_peers, spec.expected_peers
    seq = early = 0
    blocked = started = joined = was_sending = False
    epoch_ns, epoch_units = time.monotonic_ns(), 0.0  # the rate schedule restarts here, at this arrival offset
    reported: tuple[object, ...] = ()
    last_report_ns = 0
    poller = runtime.poller(sock) if keeper is not None else runtime.poller()  # a keeper's replies wake us

    while True:
        now = time.monotonic_ns()
        state = runtime.housekeeping(now)
        if state is not None:
            held, expected = state["held"], state["expected_peers"]
            if state["rate"] != rate:
                rate, epoch_ns, epoch_units = state["rate"], now, jobs.at(seq)
        if keeper is not None:
            keeper.turn()
        peers = runtime.peers[socket_name]
        started = started or peers >= min_peers
        if not joined and peers >= expected:
            joined, early = True, seq  # every message before this one went to fewer peers than expected

        # Send what is due.
        sending = started and not held and seq < limit
        due: float = seq
        if sending and not was_sending:
            # It was held, or waiting for peers: the slots it missed are skipped, not made up in a
            # burst now (that would show as a rate above the setting, and as queueing).
            epoch_ns, epoch_units = now, jobs.at(seq)
        was_sending = sending
        if sending:
            if rate > 0:
                if now - epoch_ns - (jobs.at(seq) - epoch_units) * 1e9 / rate > MAX_BACKLOG_NS:
                    epoch_ns, epoch_units = now - MAX_BACKLOG_NS, jobs.at(seq)
                due = min(limit, jobs.due(epoch_units + (now - epoch_ns) * rate / 1e9))
            else:
                due = min(limit, seq + BURST)
            blocked = False
            while seq < due and not blocked:
                first, sizes = jobs.sizes_from(seq)  # a block of work sizes: no call per message
                seq, blocked = burst(seq, min(due, first + len(sizes)), first, sizes)

        # Report progress: promptly at low rates, every REPORT_NS at high ones.
        now = time.monotonic_ns()
        counters = keeper.counters() if keeper is not None else {}
        per_receiver = loads() if loads is not None else {}
        current = (seq, blocked, peers, joined, *counters.values(), *per_receiver.items())
        if current != reported and now - last_report_ns >= REPORT_NS:
            runtime.report(wire.SENT, sent=seq, blocked=blocked, peers=peers, done=seq >= limit,
                           joined=joined, early=early if joined else seq, jobs=jobs.digest(seq),
                           **({"counters": counters} if counters else {}),
                           **({"believed": {r: b for r, (b, _o) in per_receiver.items()},
                               "outstanding": {r: o for r, (_b, o) in per_receiver.items()}} if per_receiver else {}))
            reported, last_report_ns = current, now

        # Sleep until the next send is due, the socket can take more, or something arrives.
        if (sending and rate == 0 and not blocked) or (keeper is not None and keeper.busy()):
            continue
        timeout_ms = 100.0
        if sending and rate > 0 and not blocked:
            timeout_ms = max(0.0, (epoch_ns + (jobs.at(seq) - epoch_units) * 1e9 / rate - now) / 1e6)
        if current != reported:
            timeout_ms = min(timeout_ms, max(0.0, (last_report_ns + REPORT_NS - now) / 1e6))
        # (An outlet's socket can always take more: what frees it is a reply, which wakes the poll.)
        wait(poller, sock, timeout_ms, for_room=blocked and outlet is None)


def wait(poller: zmq.Poller, sock: zmq.Socket[bytes], timeout_ms: float, for_room: bool) -> None:
    """Wait up to ``timeout_ms`` for what ``poller`` waits for, and for room on ``sock`` too when
    ``for_room``.  What it waited for on ``sock`` before (a keeper's replies) it waits for after:
    registering again replaces a socket's events, and unregistering drops them all."""
    before = dict(poller.sockets).get(sock, 0)
    if for_room:
        poller.register(sock, before | zmq.POLLOUT)
    # zmq_poll takes whole milliseconds and pyzmq truncates: round up, or a wait under 1 ms spins.
    poller.poll(math.ceil(timeout_ms))
    if for_room:
        poller.register(sock, before)  # 0: unregistered, as it was

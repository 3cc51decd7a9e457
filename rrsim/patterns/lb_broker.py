"""lb-broker: the ZeroMQ guide's load-balancing broker (chapter 3, ``lbbroker``).  Pushers PUSH
to a broker; workers tell the broker when they are ready; the broker hands each message to the
worker that has been ready longest, and never a second one before the first is done (the
``lru`` strategy; others, and ``max_outstanding``, are in ``dispatch.py``).

Pushers send open loop, at their rate, whether or not a worker is free (a closed loop would hide
the queueing).  While no worker is ready the broker holds up to ``broker_queue`` messages;
beyond that it stops reading its frontend, the pipes fill and the pushers block at their HWM,
as ZeroMQ would.  ``bind`` decides who binds the first hop: "pusher" (the broker connects to
every pusher, which drops the broker's queue when it dies) or "broker" (pushers connect, and
keep queueing for a dead broker's next life, RFC 30).  The broker always binds the backend.

rrsim's workers use DEALER, not the guide's REQ, as its Paranoid Pirate worker does: a worker
must be able to say "ready" again when a revived broker connects, and REQ allows one request at a
time.  The broker takes the guide's REQ lbworker too, unchanged, as a user's program (worker_cmd):
``lbworker.py``.
"""

from __future__ import annotations

import time
from collections import deque

import zmq

from rrsim import wire
from rrsim.child.receipts import CHECK_NS, IDLE_MS, Receipts
from rrsim.child.receiving import drain_and_close, work_on
from rrsim.child.runtime import ChildRuntime, idle_timeout_ms
from rrsim.child.sending import pusher
from rrsim.child.sockets import has_input
from rrsim.child.work import Work
from rrsim.limits import Limit
from rrsim.patterns.base import PatternSetup, Wire
from rrsim.patterns.brokered import BYE, GONE, READY, SENT, STOP_GRACE_MS, broker_roles, hand_to
from rrsim.patterns.dispatch import BROKER_KEYS, Dispatcher
from rrsim.patterns.lbworker import ReqWorkers, program_worker

SUMMARY = ("a broker hands each message to the worker that has been ready longest (the guide's lbbroker), "
           "or by another strategy")
BINDERS = ("pusher", "broker")
SETUP_KEYS: dict[str, Limit] = {**BROKER_KEYS}
OWN_WORKER_WHY_NOT = ""  # the guide's lbworker, its endpoint from the environment, can be the worker

BACKEND_BURST = 1024  # worker messages read in one turn
REPORT_NS = 10_000_000
FRONTEND_BURST = 256  # messages read from the frontend in one go


def wires(bind: str) -> list[Wire]:
    first = Wire("broker", "frontend", "pusher", "push") if bind == "broker" else Wire("pusher", "push", "broker", "frontend")
    return [first, Wire("broker", "backend", "worker", "dealer")]


def inherits_backlog(role: str, life: int, setup: PatternSetup) -> bool:
    return True  # the broker's queue serves whoever is ready: a new life may get old messages


def queue_outlives(role: str, setup: PatternSetup) -> bool:
    # The broker's ROUTER drops what it queued for a peer that left (RFC 28), and what a worker or
    # the broker itself held in its process dies with it.
    return False


def retry_budget_s(setup: PatternSetup) -> float:
    return 0.0  # nothing is sent again: what a dead worker held is gone


def broker(runtime: ChildRuntime) -> None:
    """Poll the backend always and the frontend only while there is room; hand out by the strategy,
    to each worker as soon as its ready is read."""
    spec = runtime.spec
    frontend = runtime.ctx.socket(zmq.PULL)
    frontend.rcvhwm = spec.rcvhwm
    backend = runtime.ctx.socket(zmq.ROUTER)
    backend.sndhwm = spec.sndhwm  # a worker's pipe: what it may be dealt beyond what it holds
    # A worker that is gone makes send raise EHOSTUNREACH instead of dropping the message silently.
    backend.router_mandatory = 1
    runtime.wire("frontend", frontend)
    runtime.wire("backend", backend)
    runtime.hello()
    # The run's seed makes random and p2c choose alike in two runs of the same jobs (as far as
    # the workers' timing allows); each life draws afresh.
    workers = Dispatcher(spec.strategy, spec.max_outstanding, seed=f"{spec.seed}/{spec.life}")
    reqs = ReqWorkers()  # the guide's lbworkers (users' programs), beside our DEALER workers
    held: deque[list[bytes]] = deque()
    bound = spec.broker_queue
    routed = 0
    reported: tuple[int, ...] = ()
    last_report_ns = next_housekeeping_ns = 0
    # Only the work sockets: control and the monitors are read every REPORT_NS (the poll times
    # out that often), which keeps each turn's poll to two sockets, as in the guide's loop.
    poll_both, poll_backend = zmq.Poller(), zmq.Poller()
    poll_both.register(frontend, zmq.POLLIN)
    for poller in (poll_both, poll_backend):
        poller.register(backend, zmq.POLLIN)

    backend.rcvtimeo = REPORT_NS // 1_000_000  # a backlog's wait for a worker (below) ends this often

    def heard(identity: bytes, said: list[bytes], peer: str | None) -> None:
        if said == [b"", BYE]:
            workers.gone(identity)  # stopping: deal it nothing more
        elif len(said) == 3 and said[1] == READY and said[2].isdigit() and len(said[2]) <= 18:
            workers.ready(identity, int(said[2]), time.monotonic_ns())  # [empty, READY, done]
        else:
            reqs.heard(backend, identity, said, peer, workers)

    while True:
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
            ready = dict((poll_both if len(held) < bound else poll_backend).poll(REPORT_NS // 1_000_000))
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
        routed += hand_out(backend, held, workers, reqs)
        now = time.monotonic_ns()
        if now >= next_housekeeping_ns:
            state = runtime.housekeeping(now)
            if state is not None and state["strategy"] != workers.strategy:
                workers.set_strategy(state["strategy"])
            next_housekeeping_ns = now + REPORT_NS
        current = (len(held), len(workers), routed)
        if current != reported and now - last_report_ns >= REPORT_NS:
            runtime.report(wire.QUEUE, queued=len(held), ready=len(workers), routed=routed, held_by=workers.take_peaks())
            reported, last_report_ns = current, now


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


def worker(runtime: ChildRuntime) -> None:
    """Say ready, receive one message, work, say ready again.  Every time the connection to the
    broker is made (again: a revived broker) it says ready, with how many messages it has done
    so far, so that the broker can tell a fresh "ready" from a stale one.

    SIGTERM stops it gracefully: it finishes the message it has, reports it, and exits 0."""
    spec = runtime.spec
    runtime.stop_on_sigterm()
    dealer = runtime.ctx.socket(zmq.DEALER)
    dealer.rcvhwm = spec.rcvhwm
    dealer.routing_id = f"{runtime.name}.{runtime.life}".encode()
    runtime.wire("dealer", dealer)
    runtime.hello()
    work = Work(spec.mean_work_ms, spec.work_ms, spec.speed)
    receipts = Receipts(runtime, spec.size)
    poller = runtime.poller(dealer)
    dealer.rcvtimeo = IDLE_MS
    recv, send, clock = dealer.recv_multipart, dealer.send_multipart, runtime.clock
    done = said_ready_at = 0  # messages done; connections made when we last said ready
    next_check_ns = 0

    while not runtime.stopping:
        try:
            frames: list[bytes] | None = recv()
        except zmq.Again:
            frames = None
        now = clock()
        if frames is None or now >= next_check_ns:
            # Control, monitor and reports: while busy once a millisecond, inside a message's work
            # (its work is counted from its receipt), so that nothing stands between a done, its
            # ready and the next message; while idle, in a poll that any of them ends.
            if receipts.due(now):
                receipts.flush()
            ready = dict(poller.poll(0 if frames is not None else idle_timeout_ms(receipts, now)))
            if runtime.wants_housekeeping(ready) or frames is None:
                state = runtime.housekeeping(now)
                if state is not None:
                    work.set(state["work_ms"], state["speed"])
            if frames is None and runtime.handshakes["dealer"] > said_ready_at:  # holding nothing
                said_ready_at = runtime.handshakes["dealer"]
                send([b"", READY, b"%d" % done])
            next_check_ns = now + CHECK_NS if frames is not None else 0
            if receipts.pending():
                next_check_ns = min(next_check_ns, receipts.deadline_ns())
        if frames is not None:
            work_on(runtime, receipts, work, payload_of(frames), received_ns=now)
            done += 1  # foreign bytes too: the broker counts every message it handed us
            if receipts.due(clock()):
                # Before the ready, not inside the next message's work: killed with the next one in
                # hand, this worker must not take an unreported done with it (2 lost, not 1).  Due
                # only every 20 ms: at most every other message's hand-over pays for it.
                receipts.flush()
            send([b"", READY, b"%d" % done])

    # Stopping: tell the broker, then finish what was handed to us before it heard (bounded, and
    # reported as it goes, as push-pull's worker drains its queue).
    send([b"", BYE])
    drain_and_close(runtime, receipts, lambda: recv() if dealer.poll(STOP_GRACE_MS, zmq.POLLIN) else None,
                    lambda frames: work_on(runtime, receipts, work, payload_of(frames)))


def payload_of(frames: list[bytes]) -> bytes:
    """The message in what the broker handed us, [empty, message]; anything else is foreign bytes."""
    return frames[1] if len(frames) == 2 and not frames[0] else b""


ROLES = broker_roles(pusher, broker, worker, program_worker)

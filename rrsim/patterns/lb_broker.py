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
from rrsim.child.work import Work
from rrsim.limits import Limit
from rrsim.patterns.base import PatternSetup, Wire
from rrsim.patterns.brokered import BYE, READY, STOP_GRACE_MS, broker_roles
from rrsim.patterns.dispatch import BROKER_KEYS, Dispatcher
from rrsim.patterns.lb_loops import POLL_MS, WorkerLoop, broker_turns, payload_of
from rrsim.patterns.lbworker import ReqWorkers, program_worker

SUMMARY = ("a broker hands each message to the worker that has been ready longest (the guide's lbbroker), "
           "or by another strategy")
BINDERS = ("pusher", "broker")
SETUP_KEYS: dict[str, Limit] = {**BROKER_KEYS}
OWN_WORKER_WHY_NOT = ""  # the guide's lbworker, its endpoint from the environment, can be the worker

REPORT_NS = 10_000_000  # the broker looks at control and reports its queue this often


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
    """Wait on the backend always and on the frontend only while there is room; hand out by the
    strategy, to each worker as soon as its ready is read (``lb_loops``' turns); look at control,
    the monitors and the strategy, and report the queue, between turns every REPORT_NS."""
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
    routed = 0
    reported: tuple[int, ...] = ()
    last_report_ns = next_housekeeping_ns = 0
    backend.rcvtimeo = POLL_MS  # a backlog's wait for a worker ends this often

    def heard(identity: bytes, said: list[bytes], peer: str | None) -> None:
        if said == [b"", BYE]:
            workers.gone(identity)  # stopping: deal it nothing more
        elif len(said) == 3 and said[1] == READY and said[2].isdigit() and len(said[2]) <= 18:
            workers.ready(identity, int(said[2]), time.monotonic_ns())  # [empty, READY, done]
        else:
            reqs.heard(backend, identity, said, peer, workers)

    turns = broker_turns(frontend, backend, held, workers, reqs, heard, spec.broker_queue)
    while True:
        routed += turns(min(next_housekeeping_ns, last_report_ns + REPORT_NS))
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
    messages = WorkerLoop(runtime, dealer, receipts, work)  # receive, receipt, ready: compiled where it can be
    said_ready_at = 0  # connections made when we last said ready
    next_check_ns = 0

    while not runtime.stopping:
        now, frames = messages.burst(next_check_ns)
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
                messages.ready()
            next_check_ns = now + CHECK_NS if frames is not None else 0
            if receipts.pending():
                next_check_ns = min(next_check_ns, receipts.deadline_ns())
        if frames is not None:
            messages.take(frames, now)

    # Stopping: tell the broker, then finish what was handed to us before it heard (bounded, and
    # reported as it goes, as push-pull's worker drains its queue).
    messages.send([b"", BYE])
    drain_and_close(runtime, receipts, lambda: messages.recv() if dealer.poll(STOP_GRACE_MS, zmq.POLLIN) else None,
                    lambda frames: work_on(runtime, receipts, work, payload_of(frames)))


ROLES = broker_roles(pusher, broker, worker, program_worker)

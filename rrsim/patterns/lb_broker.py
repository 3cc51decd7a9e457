"""lb-broker: the ZeroMQ guide's load-balancing broker (chapter 3, ``lbbroker``).  Pushers PUSH
to a broker; workers tell the broker when they are ready; the broker hands each message to the
worker that has been ready longest, and never a second one before the first is done.

Pushers send open loop, at their rate, whether or not a worker is free (a closed loop would hide
the queueing).  While no worker is ready the broker holds up to ``broker_queue`` messages;
beyond that it stops reading its frontend, the pipes fill and the pushers block at their HWM,
as ZeroMQ would.  ``bind`` decides who binds the first hop: "pusher" (the broker connects to
every pusher, which drops the broker's queue when it dies) or "broker" (pushers connect, and
keep queueing for a dead broker's next life, RFC 30).  The broker always binds the backend.

Workers use DEALER, not the guide's REQ, as its Paranoid Pirate worker does: a worker must be
able to say "ready" again when a revived broker connects, and REQ allows one request at a time.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import zmq

from rrsim import wire
from rrsim.patterns import RECEIVER, ROUTER, SENDER, Role, Wire
from rrsim.patterns.choice import LeastRecentlyUsed
from rrsim.receipts import Receipts
from rrsim.runtime import ChildRuntime
from rrsim.sending import pusher

SUMMARY = "a broker hands each message to the worker that has been ready longest (the guide's lbbroker)"
BINDERS = ("pusher", "broker")

READY = b"READY"  # worker -> broker: [empty, READY, messages done so far]
REPORT_NS = 10_000_000
FRONTEND_BURST = 256  # messages read from the frontend in one go


def wires(bind: str) -> list[Wire]:
    first = Wire("broker", "frontend", "pusher", "push") if bind == "broker" else Wire("pusher", "push", "broker", "frontend")
    return [first, Wire("broker", "backend", "worker", "dealer")]


def inherits_backlog(role: str, life: int, setup: Any) -> bool:
    return True  # the broker's queue serves whoever is ready: a new life may get old messages


def broker(runtime: ChildRuntime) -> None:
    """Poll the backend always and the frontend only while there is room; hand out in LRU order."""
    spec = runtime.spec
    frontend = runtime.ctx.socket(zmq.PULL)
    frontend.rcvhwm = spec["rcvhwm"]
    backend = runtime.ctx.socket(zmq.ROUTER)
    # A worker that is gone makes send raise EHOSTUNREACH instead of dropping the message silently.
    backend.router_mandatory = 1
    runtime.wire("frontend", frontend)
    runtime.wire("backend", backend)
    runtime.hello()
    workers = LeastRecentlyUsed()
    held: deque[list[bytes]] = deque()
    bound = spec["broker_queue"]
    routed = 0
    reported: tuple = ()
    last_report_ns = 0
    poll_both = runtime.poller(frontend, backend)
    poll_backend = runtime.poller(backend)

    while True:
        poller = poll_both if len(held) < bound else poll_backend
        ready = dict(poller.poll(REPORT_NS // 1_000_000))
        if backend in ready:
            while True:
                try:
                    identity, _empty, *said = backend.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                except ValueError:
                    continue  # fewer than two frames: not one of our workers
                if len(said) == 2 and said[0] == READY and said[1].isdigit():
                    workers.ready(identity, int(said[1]))
        if frontend in ready:
            for _ in range(min(FRONTEND_BURST, bound - len(held))):
                try:
                    held.append(frontend.recv_multipart(zmq.NOBLOCK))
                except zmq.Again:
                    break
        while held and workers:
            identity = workers.next()
            try:
                backend.send_multipart([identity, b"", *held[0]])
            except zmq.ZMQError as error:
                if error.errno != zmq.EHOSTUNREACH:
                    raise
                workers.gone(identity)  # disconnected since it said ready: try the next one
                continue
            held.popleft()
            routed += 1
        now = time.monotonic_ns()
        if runtime.wants_housekeeping(ready) or now >= last_report_ns + REPORT_NS:
            runtime.housekeeping(now)
        current = (len(held), len(workers), routed)
        if current != reported and now - last_report_ns >= REPORT_NS:
            runtime.report(wire.QUEUE, queued=len(held), ready=len(workers), routed=routed)
            reported, last_report_ns = current, now


def worker(runtime: ChildRuntime) -> None:
    """Say ready, receive one message, work, say ready again.  Every time the connection to the
    broker is made (again: a revived broker) it says ready, with how many messages it has done
    so far, so that the broker can tell a fresh "ready" from a stale one.

    SIGTERM stops it gracefully: it finishes the message it has, reports it, and exits 0."""
    spec = runtime.spec
    runtime.stop_on_sigterm()
    dealer = runtime.ctx.socket(zmq.DEALER)
    dealer.rcvhwm = spec["rcvhwm"]
    dealer.routing_id = f"{runtime.name}.{runtime.life}".encode()
    runtime.wire("dealer", dealer)
    runtime.hello()
    work_s = spec["work_ms"] / 1000
    receipts = Receipts(runtime, spec["size"])
    poller = runtime.poller(dealer)
    done = said_ready_at = 0  # messages done; connections made when we last said ready

    while not runtime.stopping or _message_waiting(dealer):
        timeout_ms = 100 if not receipts.pending() else max(1, (receipts.deadline_ns() - time.monotonic_ns()) // 1_000_000)
        ready = dict(poller.poll(timeout_ms if not runtime.stopping else 0))
        now = time.monotonic_ns()
        if dealer in ready:
            frames = dealer.recv_multipart()
            ours = receipts.add(frames[1] if len(frames) == 2 and frames[0] == b"" else b"", now)
            if work_s:
                time.sleep(work_s)
            if ours and work_s:
                receipts.finish(time.monotonic_ns())
            done += 1  # foreign bytes too: the broker counts every message it handed us
            if not runtime.stopping:
                dealer.send_multipart([b"", READY, str(done).encode()])
        if receipts.due(time.monotonic_ns()):
            receipts.flush()
        if runtime.wants_housekeeping(ready) or not ready:
            state = runtime.housekeeping(now)
            if state is not None:
                work_s = state["work_ms"] / 1000
            if runtime.handshakes["dealer"] > said_ready_at and not runtime.stopping:
                said_ready_at = runtime.handshakes["dealer"]
                dealer.send_multipart([b"", READY, str(done).encode()])
    receipts.flush()
    runtime.close()


def _message_waiting(sock: zmq.Socket) -> bool:
    return bool(sock.poll(20, zmq.POLLIN))


ROLES = {
    "pusher": Role("pusher", "p", SENDER, pusher),
    "broker": Role("broker", "b", ROUTER, broker),
    "worker": Role("worker", "w", RECEIVER, worker),
}

"""direct: client-side balancing, no broker.  Every pusher is connected to every worker and picks
the worker for each message itself, with the run's ``strategy`` and the broker's own ``Dispatcher``
(gRPC, Envoy, Finagle and Linkerd balance this way).  Each worker tells the pusher that sent a
message when it is done, so a pusher knows exactly what it has outstanding at each worker (its own
messages only: ``load_info = "own"``).  With ``load_info = "shared"`` every worker also sends every
pusher the length of its queue every ``load_report_ms``, and the load-aware strategies rank by the
latest report: one view that all pushers share, as old as the report (Mitzenmacher's "old
information", under which least-loaded herds).

Sockets.  Each pusher binds a ROUTER; each worker connects a ROUTER to every pusher, naming each
pusher by its endpoint (ZMQ_CONNECT_ROUTING_ID), so that it can say hello before a pusher has
spoken: a pusher knows no worker until it does.  A worker's routing id is its name and life
(``w1.2``), so a pusher tells a new life from the one that died.  The pusher's ROUTER is a little
``lbbroker`` backend: ``ROUTER_MANDATORY`` makes a send to a worker that has gone raise instead of
dropping the message.  A worker is a ROUTER and not the guide's DEALER because it answers several
pushers, each its own.

Open loop.  Pushers send at their rate whether or not replies are back.  A pusher with no worker
that has room (``max_outstanding`` per pusher and worker) holds the message, up to ``HOLD``,
and counts it (``held``); beyond that it stops sending, as a broker's full queue blocks its pushers.

The loss rule.  A message a pusher sent to a worker that died is lost: the pusher's ROUTER drops a
departed peer's queue (RFC 28), and what the worker had taken in died with it.  The pusher notices
the death when a send to it fails (or its goodbye, on a graceful stop), stops choosing it, and
chooses it again when its next life says hello.
"""

from __future__ import annotations

import math
import time
from collections import deque

import zmq

from rrsim.child.receipts import Receipts
from rrsim.child.receiving import drain_and_close, work_on
from rrsim.child.runtime import PARENT_CHECK_NS, ChildRuntime, idle_timeout_ms
from rrsim.child.sending import send_at_rate
from rrsim.child.sockets import has_input
from rrsim.child.work import Work
from rrsim.kinds import RECEIVER, SENDER
from rrsim.limits import Limit
from rrsim.patterns.base import PatternSetup, Role, Wire
from rrsim.patterns.brokered import BYE, READY, STOP_GRACE_MS
from rrsim.patterns.dispatch import BROKER_KEYS, Dispatcher

SUMMARY = "each pusher picks the worker for each message itself, by the strategy, with no broker (client-side balancing)"
BINDERS = ("pusher",)
LOAD_INFO = ("own", "shared")
SETUP_KEYS: dict[str, Limit] = {
    "strategy": BROKER_KEYS["strategy"],
    "max_outstanding": BROKER_KEYS["max_outstanding"],
    "load_info": Limit(str, choices=LOAD_INFO, help="direct: what a pusher knows of each worker's load: own (its own "
                       "messages not yet done there, exact and immediate) or shared (the queue each worker reports "
                       "every load_report_ms, the same for every pusher, as old as the report)"),
    "load_report_ms": Limit(float, 1, 60_000, help="direct, load_info = shared: how often each worker reports its "
                            "queue to every pusher"),
}

OWN_WORKER_WHY_NOT = ("its workers answer every pusher with rrsim's own READY and LOAD frames, which no guide "
                      "worker speaks")
# The log's cause line for a worker's death ends with this (rrsim.patterns.base: LOSS_RULE).
LOSS_RULE = ("a pusher's ROUTER drops a departed worker's queue and what the worker had taken in died with it "
             "(RFC 28); each pusher stops choosing it when a send to it fails, and chooses its next life when "
             "that says hello")
LOAD = b"LOAD"  # worker -> pusher: [empty, LOAD, messages waiting or in hand]
HOLD = 10_000  # messages a pusher holds while no worker has room; beyond that it stops sending
BURST = 1024  # replies read in one turn


def wires(bind: str) -> list[Wire]:
    return [Wire("pusher", "router", "worker", "router")]


def inherits_backlog(role: str, life: int, setup: PatternSetup) -> bool:
    # A new life has a new routing id: nothing sent to the old one reaches it.  But a pusher holds
    # messages while no worker has room, and a new life may be handed those.
    return True


def queue_outlives(role: str, setup: PatternSetup) -> bool:
    return False  # the pusher's ROUTER drops a departed peer's queue (RFC 28)


def retry_budget_s(setup: PatternSetup) -> float:
    return 0.0  # nothing is sent again


class Chooser:
    """A pusher's side: the messages it holds, its book of workers (``Dispatcher``) and the replies
    that fill it.  It is the send loop's outlet (each message is sent to the chosen worker, or held)
    and its keeper (it reads replies and sends what it holds)."""

    def __init__(self, runtime: ChildRuntime, socket_name: str) -> None:
        spec = runtime.spec
        self.sock = runtime.sockets[socket_name]
        # The run's seed makes random and p2c choose alike in two runs of the same jobs.
        self.workers = Dispatcher(spec.strategy, spec.max_outstanding, seed=f"{spec.seed}/{spec.name}/{spec.life}")
        self.shared = spec.pattern_setup.get("load_info", "own") == "shared"
        self.held: deque[bytes] = deque()
        self.routed = self.gone = 0
        self.peak = 0  # the most it ever had outstanding at one worker (max_outstanding bounds it)

    def __call__(self, message: bytearray) -> None:
        """Send ``message`` to the chosen worker, or hold it; ``zmq.Again`` when it can hold no more."""
        if len(self.held) >= HOLD:
            raise zmq.Again()
        if self.held or not self._send(bytes(message)):
            self.held.append(bytes(message))

    def _send(self, message: bytes) -> bool:
        while True:
            identity = self.workers.next(time.monotonic_ns())
            if identity is None:
                return False  # nobody has room
            try:
                self.sock.send_multipart([identity, b"", message], zmq.NOBLOCK)
            except zmq.Again:
                self.workers.full(identity)  # its pipe is full (paused): skipped until it says ready
                continue
            except zmq.ZMQError as error:
                if error.errno != zmq.EHOSTUNREACH:
                    raise
                self.workers.gone(identity)  # it died: what we had sent it is lost with it
                self.gone += 1
                continue
            self.routed += 1
            self.peak = max(self.peak, self.workers.workers[identity].outstanding)
            return True

    def kept(self, seq: int, message: bytes) -> None:
        pass  # nothing is kept once sent: the loss rule above

    def turn(self) -> None:
        now = time.monotonic_ns()
        for _ in range(BURST):
            if not has_input(self.sock):
                break
            identity, *said = self.sock.recv_multipart()
            if said == [b"", BYE]:
                self.workers.gone(identity)
            elif len(said) == 3 and said[2].isdigit() and len(said[2]) <= 18:
                if said[1] == READY:
                    self.workers.ready(identity, int(said[2]), now)  # [empty, READY, done for us]
                elif said[1] == LOAD and self.shared:
                    self.workers.reported(identity, int(said[2]))
        while self.held and self._send(self.held[0]):
            self.held.popleft()

    def busy(self) -> bool:
        return False

    def counters(self) -> dict[str, int]:
        return {"held": len(self.held), "routed": self.routed, "workers_gone": self.gone, "peak_outstanding": self.peak}

    def loads(self) -> dict[str, tuple[int, int]]:
        """Per worker (by name: ``w1.2`` is w1's second life): the load the strategy ranks it by,
        and the messages this pusher sent it and has not heard done."""
        return {identity.split(b".")[0].decode(errors="replace"): (worker.load, worker.outstanding)
                for identity, worker in self.workers.workers.items()}


def pusher(runtime: ChildRuntime) -> None:
    """The shared open-loop sender, with a ROUTER that picks each message's worker."""
    router = runtime.ctx.socket(zmq.ROUTER)
    router.sndhwm = runtime.spec.sndhwm  # per worker: what its pipe may take beyond what it holds
    router.rcvhwm = 0  # a reply must never be dropped: it is what makes room
    router.router_mandatory = 1
    runtime.wire("router", router)
    chooser = Chooser(runtime, "router")
    send_at_rate(runtime, "router", chooser, outlet=chooser, loads=chooser.loads)


def worker(runtime: ChildRuntime) -> None:
    """Say hello (READY) to every pusher, take messages into its own queue, work on them one by one
    and tell each message's pusher when it is done.  With shared load information it also reports
    its queue to every pusher every ``load_report_ms``.

    SIGTERM stops it gracefully: it says goodbye, finishes what it holds, reports it and exits 0."""
    spec = runtime.spec
    runtime.stop_on_sigterm()
    router = runtime.ctx.socket(zmq.ROUTER)
    router.rcvhwm = spec.rcvhwm
    router.routing_id = f"{runtime.name}.{runtime.life}".encode()
    runtime.wire("router", router, name_peers=True)
    runtime.hello()
    work = Work(spec.mean_work_ms, spec.work_ms, spec.speed)
    receipts = Receipts(runtime, spec.size)
    poller = runtime.poller(router)
    report_ns = int(float(spec.pattern_setup.get("load_report_ms", 100)) * 1e6)
    shared = spec.pattern_setup.get("load_info", "own") == "shared"
    room = max(1, spec.rcvhwm or HOLD)
    queue: deque[tuple[bytes, bytes]] = deque()  # (pusher, message) taken in, not yet worked on
    done: dict[bytes, int] = {}  # per pusher: its messages done
    greeted = -1  # handshakes when we last said hello to every pusher
    next_report_ns = next_housekeeping_ns = 0

    def tell_all(*frames: bytes) -> None:
        for endpoint in runtime.connected_by("router"):
            peer = endpoint.encode()
            router.send_multipart([peer, b"", *frames, b"%d" % done.get(peer, 0)] if frames[0] == READY
                                  else [peer, b"", *frames])

    def take_in() -> None:
        while len(queue) < room and has_input(router):
            peer, *frames = router.recv_multipart()
            queue.append((peer, frames[1] if len(frames) == 2 and not frames[0] else b""))

    while not runtime.stopping:
        take_in()
        if queue:
            peer, payload = queue.popleft()
            work_on(runtime, receipts, work, payload)
            done[peer] = done.get(peer, 0) + 1  # foreign bytes too: the pusher counts every message it sent
            # The run hears of it before its pusher does: a kill then loses only what the pusher
            # still counts outstanding here, never a message it was told is done.
            receipts.flush()
            router.send_multipart([peer, b"", READY, b"%d" % done[peer]])
        now = runtime.clock()
        if receipts.due(now):
            receipts.flush()
        if shared and now >= next_report_ns:
            take_in()  # what waits in the socket is waiting here too
            tell_all(LOAD, b"%d" % len(queue))
            next_report_ns = now + report_ns
        timeout = 0 if queue else idle_timeout_ms(receipts, now)
        if shared:
            timeout = min(timeout, max(0, math.ceil((next_report_ns - now) / 1e6)))
        ready = dict(poller.poll(timeout))
        if runtime.wants_housekeeping(ready) or not queue or now >= next_housekeeping_ns:
            state = runtime.housekeeping(now)
            if state is not None:
                work.set(state["work_ms"], state["speed"])
            if runtime.handshakes["router"] != greeted:  # a pusher (again): say hello, with what we did for it
                greeted = runtime.handshakes["router"]
                tell_all(READY)
            next_housekeeping_ns = now + PARENT_CHECK_NS

    # Stopping: tell every pusher, then finish what was sent to us before they heard (bounded).
    tell_all(BYE)
    for _peer, payload in queue:
        work_on(runtime, receipts, work, payload)
    drain_and_close(runtime, receipts, lambda: router.recv_multipart() if router.poll(STOP_GRACE_MS, zmq.POLLIN) else None,
                    lambda frames: work_on(runtime, receipts, work, frames[2] if len(frames) == 3 and not frames[1] else b""))


ROLES = {
    "pusher": Role("pusher", "p", SENDER, pusher),
    "worker": Role("worker", "w", RECEIVER, worker),
}

"""push-pull: pushers PUSH, workers PULL.  libzmq deals each pusher's messages in turn over its
connected peers (skipping a peer whose pipe is full, lb.cpp) and each worker fair-queues its
pushers (fq.cpp).  Nothing knows whether a worker is busy: the seed post's round robin.

``bind`` decides who binds: "pusher" (workers connect to every pusher, as the 2012 post's
scripts did) or "worker" (pushers connect to every worker).  It matters when a worker dies: the
binding side drops a disconnected peer's queue, the connecting side keeps queueing into it
(RFC 30), and a revived worker then receives that backlog late, unless ZMQ_IMMEDIATE is set.
"""

from __future__ import annotations

import zmq

from rrsim.child import loops
from rrsim.child.program import Returns, own_address, run_program
from rrsim.child.receipts import CHECK_NS, IDLE_MS, Receipts
from rrsim.child.receiving import drain_and_close, work_on
from rrsim.child.runtime import PARENT_CHECK_NS, ChildRuntime, idle_timeout_ms
from rrsim.child.sending import pusher
from rrsim.child.sockets import from_address
from rrsim.child.work import Work
from rrsim.limits import Limit
from rrsim.patterns.base import RECEIVER, SENDER, PatternSetup, Role, Wire

SUMMARY = "PUSH deals each message to the next connected worker in turn, busy or not"
BINDERS = ("pusher", "worker")
SETUP_KEYS: dict[str, Limit] = {}  # only the keys every pattern takes
OWN_WORKER_WHY_NOT = ""  # the guide's taskwork, its endpoints from the environment, can be the worker


def wires(bind: str) -> list[Wire]:
    if bind == "worker":
        return [Wire("worker", "pull", "pusher", "push")]
    return [Wire("pusher", "push", "worker", "pull")]


def inherits_backlog(role: str, life: int, setup: PatternSetup) -> bool:
    # A pipe made for this life carries only messages sent from now on.  With the workers binding
    # and ZMQ_IMMEDIATE off, the pushers kept queueing into the dead life's pipe, and the new
    # life inherits it, backlog and all.
    return life > 1 and queue_outlives(role, setup)


def queue_outlives(role: str, setup: PatternSetup) -> bool:
    # RFC 30: a PUSH that connects keeps its queue for a peer whether or not the connection is up;
    # one that was connected to drops a departed peer's queue (so does ZMQ_IMMEDIATE's pipe).
    return setup.bind == "worker" and not setup.immediate


def retry_budget_s(setup: PatternSetup) -> float:
    return 0.0  # nothing is sent again: a message passed by every worker has gone where it went


def worker(runtime: ChildRuntime) -> None:
    """Receive, work, report.  While messages flow the loop only receives (``loops.receiver``), and looks at control,
    the socket monitor and the report deadline once a millisecond; after a millisecond without
    a message it sleeps in a poll that any of them ends.  Waiting inside ``recv`` rather than in
    a poll per message keeps the per-message cost close to a bare PULL's.

    SIGTERM stops it gracefully: it finishes what is already queued, reports it, and exits 0."""
    spec = runtime.spec
    runtime.stop_on_sigterm()
    pull = runtime.ctx.socket(zmq.PULL)
    pull.rcvhwm = spec.rcvhwm
    if spec.immediate:
        pull.immediate = 1
    pull.rcvtimeo = IDLE_MS
    runtime.wire("pull", pull)
    runtime.hello()
    work = Work(spec.mean_work_ms, spec.work_ms, spec.speed)
    receipts = Receipts(runtime, spec.size)
    poller = runtime.poller(pull)
    # Receive (and work) until a receive times out or CHECK_NS has passed: compiled where it can be.
    receive = loops.receiver(pull, receipts, work, runtime.clock, lambda: runtime.clock_offset_ns)
    next_check_ns = next_parent_check_ns = 0

    while not runtime.stopping:
        now, got = receive(next_check_ns)
        if receipts.due(now):
            receipts.flush()
        ready = dict(poller.poll(0 if got else idle_timeout_ms(receipts, now)))
        # Control and monitor only when they have something (or the parent check is due):
        # reading an empty socket costs more than receiving a hundred messages.
        if runtime.wants_housekeeping(ready) or now >= next_parent_check_ns:
            state = runtime.housekeeping(now)
            if state is not None:
                work.set(state["work_ms"], state["speed"])
            next_parent_check_ns = now + PARENT_CHECK_NS
        now = runtime.clock()
        # After an idle spell the next message is checked at once: at low rates it is reported at once.
        next_check_ns = now + CHECK_NS if got else 0
        if receipts.pending():
            next_check_ns = min(next_check_ns, receipts.deadline_ns())

    # Graceful stop: finish what is already queued here, report it, and leave.
    drain_and_close(runtime, receipts, lambda: _recv_now(pull), lambda message: work_on(runtime, receipts, work, message))


def program_worker(runtime: ChildRuntime) -> None:
    """The user's program is the worker: it PULLs where our worker would (``RRSIM_PULL``: the
    pushers' endpoints to connect to, separated by spaces, or with bind = "worker" (``RRSIM_BIND``)
    the one to bind), and sends each message it finished, as received, on a PUSH connected to
    ``RRSIM_PUSH``: an endpoint of this life alone, so what comes back there is this life's.  Over
    tcp it connects to the pushers from its life's own address: they tell it from a stranger by it."""
    returns = runtime.ctx.socket(zmq.PULL)
    returns.linger = 0
    returns.rcvhwm = 0  # what it finished must never wait on us
    port = returns.bind_to_random_port("tcp://127.0.0.1")
    plan = runtime.spec.sockets["pull"]
    verb = "bind" if plan.bind_at else "connect"
    source = own_address(runtime.spec)
    env = {"RRSIM_PULL": plan.bind_at or " ".join(from_address(source, endpoint) for endpoint in plan.connect_to),
           "RRSIM_PUSH": f"tcp://127.0.0.1:{port}",
           "RRSIM_BIND": "worker" if plan.bind_at else "pusher"}
    def hint(connected: bool) -> str:
        back = ("it is connected to $RRSIM_PUSH but sent nothing on it" if connected else
                f"it never connected to $RRSIM_PUSH ({env['RRSIM_PUSH']})")
        return (f"{back}: it should {verb} a PULL socket at $RRSIM_PULL ({env['RRSIM_PULL']}) and send each message "
                "it received back, unchanged, on a PUSH socket connected to $RRSIM_PUSH")

    run_program(runtime, env, Returns(returns, hint))


def _recv_now(sock: zmq.Socket[bytes]) -> bytes | None:
    try:
        return sock.recv(zmq.NOBLOCK)
    except zmq.Again:
        return None


ROLES = {
    "pusher": Role("pusher", "p", SENDER, pusher),
    "worker": Role("worker", "w", RECEIVER, worker, program_worker),
}

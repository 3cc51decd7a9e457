"""What the brokered patterns (lb-broker, reliable) share: the worker's words to its broker and
the three roles, and the worker's payload out of the frames a broker hands it."""

from __future__ import annotations

from collections.abc import Callable

import zmq

from rrsim.child.runtime import ChildRuntime
from rrsim.kinds import RECEIVER, ROUTER, SENDER
from rrsim.patterns.base import Role
from rrsim.patterns.dispatch import Dispatcher

READY = b"READY"  # worker -> broker: [empty, READY, messages done so far, ...]
BYE = b"BYE"  # worker -> broker: [empty, BYE]: it is stopping, deal it nothing more
STOP_GRACE_MS = 20  # a stopping worker waits this long for a message handed to it as it stopped

Loop = Callable[[ChildRuntime], None]
SENT, FULL, GONE = "sent", "full", "gone"  # what became of a message handed to a worker


def broker_roles(pusher: Loop, broker: Loop, worker: Loop, program: Loop | None = None) -> dict[str, Role]:
    """``program``: the worker's loop when the user's program is the worker (worker_cmd)."""
    return {
        "pusher": Role("pusher", "p", SENDER, pusher),
        "broker": Role("broker", "b", ROUTER, broker),
        "worker": Role("worker", "w", RECEIVER, worker, program),
    }


def hand_to(backend: zmq.Socket[bytes], frames: list[bytes], identity: bytes, workers: Dispatcher) -> str:
    """Send a message's ``frames`` to worker ``identity`` without blocking: SENT, or why not, which
    ``workers`` is told.  FULL: its pipe is full (paused, or slow with no limit on what it holds);
    like PUSH, the broker skips it until it says ready again, and never blocks on it.  GONE: it
    disconnected since it said ready (ROUTER_MANDATORY makes the send say EHOSTUNREACH)."""
    try:
        backend.send_multipart(frames, zmq.NOBLOCK)
    except zmq.Again:
        workers.full(identity)
        return FULL
    except zmq.ZMQError as error:
        if error.errno != zmq.EHOSTUNREACH:
            raise
        workers.gone(identity)
        return GONE
    return SENT

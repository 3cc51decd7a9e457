"""What the brokered patterns (lb-broker, reliable) share: the worker's words to its broker and
the three roles, and the worker's payload out of the frames a broker hands it."""

from __future__ import annotations

from collections.abc import Callable

from rrsim.child.runtime import ChildRuntime
from rrsim.kinds import RECEIVER, ROUTER, SENDER
from rrsim.patterns.base import Role

READY = b"READY"  # worker -> broker: [empty, READY, messages done so far, ...]
BYE = b"BYE"  # worker -> broker: [empty, BYE]: it is stopping, deal it nothing more
STOP_GRACE_MS = 20  # a stopping worker waits this long for a message handed to it as it stopped

Loop = Callable[[ChildRuntime], None]


def broker_roles(pusher: Loop, broker: Loop, worker: Loop, program: Loop | None = None) -> dict[str, Role]:
    """``program``: the worker's loop when the user's program is the worker (worker_cmd)."""
    return {
        "pusher": Role("pusher", "p", SENDER, pusher),
        "broker": Role("broker", "b", ROUTER, broker),
        "worker": Role("worker", "w", RECEIVER, worker, program),
    }

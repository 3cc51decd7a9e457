"""How long a worker works on a message: the work size the message carries, scaled by the worker's
own ``work_ms`` against the run's and divided by its speed.

Each message carries the work size its pusher drew, around the run's ``work_ms`` (the mean).  A
worker's own ``work_ms`` is the run's unless ``add_worker``, ``set_work`` or the ``[`` / ``]`` keys
changed it: twice the run's makes every message take it twice as long.  Its speed (``speeds``,
``add_worker``'s ``speed``) divides: at 0.25 everything takes 4x as long.  When the run's
``work_ms`` is 0 the messages carry no work, and a worker given some does its ``work_ms`` / speed
per message.  Anything that does not look like one of our messages gets the worker's mean.
"""

from __future__ import annotations

import ctypes

from rrsim import wire

MAX_WORK_FACTOR = 1000  # a message claiming more than this many times the mean is cut to it (rrsim.child.workload draws no more)
PR_SET_TIMERSLACK, PR_GET_TIMERSLACK = 29, 30  # linux/prctl.h


def tighten_timer_slack() -> bool:
    """Let this thread's sleeps end as soon as they are due: Linux lets a timer fire up to its
    slack (50 us by default) late, to group wake-ups.  Measured on the shared 2-core machine at
    niceness 19, a 5 ms sleep overshot 0.10 ms on average with it and 0.05 ms with 1 ns, never
    early.  Under lru every message pays the overshoot (issue 27).  False where there is no prctl."""
    try:
        return bool(ctypes.CDLL(None, use_errno=True).prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0) == 0)
    except (AttributeError, OSError):
        return False


class Work:
    """A worker's work per message; ``seconds(message)`` is what to sleep for it, 0 for no work."""

    def __init__(self, mean_work_ms: float, work_ms: float, speed: float) -> None:
        self.mean_work_ms = mean_work_ms
        self.set(work_ms, speed)
        tighten_timer_slack()  # a worker's work is built and slept in its main thread

    def set(self, work_ms: float, speed: float) -> None:
        self.work_ms, self.speed = work_ms, speed
        self.mean_s = work_ms / speed / 1000  # the worker's mean work per message
        # Seconds per microsecond of a message's work size: 0 when messages carry none.
        self.per_us = work_ms / self.mean_work_ms / speed / 1e6 if self.mean_work_ms > 0 else 0.0
        self.cap_s = self.mean_s * MAX_WORK_FACTOR

    @property
    def any(self) -> bool:
        return self.mean_s > 0

    def seconds(self, message: bytes) -> float:
        if not self.per_us or len(message) < wire.HEADER_SIZE or message[:4] != wire.MAGIC:
            return self.mean_s
        return min(float(wire.WORK.unpack_from(message, wire.WORK_OFFSET)[0]) * self.per_us, self.cap_s)

"""The receiving side every pattern's worker shares, beside the sending loop: take a message and
do its work, and on a graceful stop drain what is already queued, reporting as it goes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from rrsim.child.receipts import Receipts
from rrsim.child.runtime import ChildRuntime
from rrsim.child.work import Work

Frames = TypeVar("Frames")
DRAIN_EXTRA = 1000  # a drain reads at most max(rcvhwm, this) + this messages: new ones keep arriving


def work_on(runtime: ChildRuntime, receipts: Receipts, work: Work, payload: bytes, received_ns: int | None = None) -> int:
    """Note ``payload`` received now (or at ``received_ns``: what was done since counts as its
    work) and do its work; returns the time when done."""
    now = runtime.clock() if received_ns is None else received_ns
    ours = receipts.add(payload, now)
    if work.any:
        time.sleep(max(0.0, work.seconds(payload) - (runtime.clock() - now) / 1e9))
        now = runtime.clock()
        if ours:
            receipts.finish(now)
    return now


def drain_and_close(runtime: ChildRuntime, receipts: Receipts, next_frames: Callable[[], Frames | None],
                    take: Callable[[Frames], object]) -> None:
    """Graceful stop: ``take`` what ``next_frames`` still gives (None: nothing more), bounded,
    reporting as it goes (a slow drain holds little), then report the rest and close."""
    for _ in range(max(runtime.spec.rcvhwm, DRAIN_EXTRA) + DRAIN_EXTRA):
        frames = next_frames()
        if frames is None:
            break
        take(frames)
        if receipts.due(runtime.clock()):
            receipts.flush()
    receipts.flush()
    runtime.close()

"""What a worker's messages spend besides queueing and work, read off its receipts alone: the
hand-over (its done to its next message's receipt, when that message was already waiting) and
the hops of a message that found it free.  Pure: arrays in, figures out."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from rrsim.model.distribution import Durations, RecentDurations

Times = npt.NDArray[np.int64]
HANDOVER_WINDOW_S = 10  # the live view's hand-over: the last 10 s (the report has the whole run)


def split_overheads(sent_ns: Times, recv_ns: Times, done_ns: Times, last_done_ns: int | None) -> tuple[Times, Times]:
    """(hand-overs, transits) of one life's receipts in order, ``last_done_ns`` the done of the
    one before them (None: they are its first).  A message sent before the one before it was done
    was waiting when the worker finished that one (in a broker's queue, or its own): from that
    done to its receipt is the hand-over.  One sent later found the worker free: from its send to
    its receipt is its transit, its hops alone."""
    before = np.concatenate(([last_done_ns if last_done_ns is not None else -1], done_ns[:-1]))
    waiting = sent_ns < before
    return (recv_ns - before)[waiting], (recv_ns - sent_ns)[~waiting]


@dataclass
class Overheads:
    """A worker's hand-overs and transits so far, for the report, the live view and theory."""

    last_done_ns: int | None = None  # of the current life's latest message
    handover: Durations = field(default_factory=Durations)
    recent_handover: RecentDurations = field(default_factory=lambda: RecentDurations(HANDOVER_WINDOW_S))
    transit_ns: int = 0
    transits: int = 0

    @property
    def handover_ns(self) -> int:
        return self.handover.total_ns

    @property
    def handovers(self) -> int:
        return self.handover.count

    def add(self, sent_ns: Times, recv_ns: Times, done_ns: Times, at_ns: int = 0) -> None:
        """A batch of the current life's receipts, reported at ``at_ns``."""
        handovers, transits = split_overheads(sent_ns, recv_ns, done_ns, self.last_done_ns)
        self.handover.add(handovers)
        if len(handovers):
            self.recent_handover.add(handovers, at_ns)
        self.transit_ns += int(transits.sum())
        self.transits += len(transits)
        self.last_done_ns = int(done_ns[-1])


def merge_overheads(parts: list[Overheads]) -> Overheads:
    """Several workers' overheads as one (their hand-overs' distribution, not their recent window)."""
    whole = Overheads(handover=Durations.merged([p.handover for p in parts]))
    whole.transit_ns = sum(p.transit_ns for p in parts)
    whole.transits = sum(p.transits for p in parts)
    return whole


def recent_handovers(parts: list[Overheads], now_ns: int) -> Durations:
    """Every worker's hand-overs of the last ``HANDOVER_WINDOW_S`` seconds, as one distribution."""
    return Durations.merged([p.recent_handover.window(now_ns) for p in parts])

"""Slow joiners: pushers that sent before every worker had connected, and which workers got
those early messages (ZeroMQ deals them among the peers connected at the time)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from rrsim.model.log import EventLog
from rrsim.model.views import PusherView, Roster

EARLY_KEPT = 100_000  # seqs a pusher's workers received before it joined, kept to tell which were early


class SlowJoiners:
    """Told once, when every pusher has had all its expected peers at once; the line's counts of
    early messages by worker grow as their receipts come."""

    def __init__(self, log: EventLog, roster: Roster) -> None:
        self.log = log
        self.roster = roster
        self.all_linked_once = False
        self._early_senders: list[str] = []  # the pushers the slow-joiner line is about

    def joined(self, t_ns: int, pusher: PusherView, early: int) -> None:
        """``pusher`` has had every peer it expects at once, having sent ``early`` messages before."""
        pusher.joined, pusher.early = True, early
        for worker_name, batches in pusher.received_unjoined.items():
            _count_early(pusher, worker_name, np.concatenate(batches))
        pusher.received_unjoined, pusher.kept_unjoined = {}, 0
        self._check(t_ns, pusher)

    def _check(self, t_ns: int, pusher: PusherView) -> None:
        """Once every pusher has had all its expected peers at once: did any send before that?
        After that, a pusher added later is asked the same on its own, when it joins."""
        pushers = self.roster.pushers.values()
        if self.all_linked_once:
            early = {pusher.name: pusher.early} if pusher.early else {}
        elif all(p.joined for p in pushers):
            self.all_linked_once = True
            early = {p.name: p.early for p in pushers if p.early}
        else:
            return
        running = [w for w in self.roster.workers.values() if w.running]
        if not early or len(running) < 2:
            return
        self.log.forget_cause(("slow-joiner",))  # a later pusher's is a line of its own
        self._early_senders = list(early)
        self.log.note_cause(("slow-joiner",), t_ns, "warn", "slow-joiner", senders=list(early),
                            count=sum(early.values()), workers=len(running), taken=self._early_taken())

    def take_early(self, t_ns: int, pusher: PusherView, worker: str, seqs: npt.NDArray[np.int64]) -> None:
        """Which worker got a pusher's early messages: its receipts of seqs below ``early``,
        kept until the pusher has joined (only then is ``early`` known), counted after."""
        if not pusher.joined:
            if pusher.kept_unjoined < EARLY_KEPT:
                pusher.received_unjoined.setdefault(worker, []).append(seqs)
                pusher.kept_unjoined += len(seqs)
        elif pusher.early and _count_early(pusher, worker, seqs) and pusher.name in self._early_senders:
            self.log.note_cause(("slow-joiner",), t_ns, "warn", "slow-joiner", taken=self._early_taken())

    def _early_taken(self) -> dict[str, int]:
        """The slow-joiner line's pushers' early messages received so far, by worker, most first."""
        taken: dict[str, int] = {}
        for pusher in (self.roster.pushers[name] for name in self._early_senders):
            for worker, count in pusher.early_taken.items():
                taken[worker] = taken.get(worker, 0) + count
        return dict(sorted(taken.items(), key=lambda item: -item[1]))


def _count_early(pusher: PusherView, worker: str, seqs: npt.NDArray[np.int64]) -> int:
    taken = int(np.count_nonzero(seqs < pusher.early))
    if taken:
        pusher.early_taken[worker] = pusher.early_taken.get(worker, 0) + taken
    return taken

"""Which messages are lost, late or waiting, and why: traced to the lives they were dealt to,
told as one log line per cause whose count grows."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import numpy.typing as npt

from rrsim import events as ev
from rrsim.kinds import ROUTER, SENDER
from rrsim.model.ledger import Ledger
from rrsim.model.log import CauseKey, EventLog
from rrsim.model.message_map import MessageMap
from rrsim.model.peers import Peers
from rrsim.model.views import (
    NS,
    Life,
    PusherView,
    Roster,
    WorkerView,
    pusher_index,
    pusher_name,
)

AGING_INTERVAL_NS = 20_000_000  # how often the live view looks for lost messages, in event time
HELD_COUNT_INTERVAL_NS = NS // 5  # how often the live view counts what waits for a dead life
# A sender keeps dealing to a peer that died until it sees the connection drop: a message sent up
# to this long after a life ended may still have been dealt to it.
DEALT_AFTER_END_NS = NS
CANDIDATES_MAX = 62  # lives a lost message may be traced to at once (bits of an int64)
UNTRACED_KEPT = 10_000  # per pusher, the ids of lost messages traced to no life that are kept to be named

Ids = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]
Lives = tuple[tuple[WorkerView, Life], ...]


class Losses:
    """Decides which undelivered messages are lost (live, once overdue; or when the run is over),
    which delivered ones were late, and what waits for a paused or dead worker."""

    def __init__(self, log: EventLog, roster: Roster, ledger: Ledger, peers: Peers, message_map: MessageMap,
                 lost_after_ns: int) -> None:
        self.log = log
        self.roster = roster
        self.ledger = ledger
        self.peers = peers
        self.message_map = message_map
        self.lost_after_ns = lost_after_ns
        self.retry_budget_ns = 0  # the pattern's: a message every worker passed may still arrive this long after
        self.loss_rule = ""  # the pattern's words for what a receiver's death loses, if it states them
        # dead life -> messages that wait for its next life (its queue outlives it), per pusher
        self.queued_for_dead: dict[str, int] = {}
        # Messages counted lost that arrived after all, not yet in the log: (pusher, worker) -> count.
        # Logged at most once a second, so a slow worker's backlog does not flood the log.
        self.recovered: dict[tuple[int, str], int] = {}
        self._recovered_noted_ns = 0
        # Per pusher, lost seqs no ended life can have been dealt (the first UNTRACED_KEPT): a loss
        # no death explains (a live worker that dropped it would make one).
        self._untraced: dict[int, list[Ids]] = {}
        self._next_aging_ns = 0
        self._next_held_count_ns = 0

    # ----------------------------------------------------------------- lost
    def age_undelivered(self, now_ns: int) -> None:
        """Live view: an undelivered message is lost once it is lost_after_s old and no worker
        life can still deliver it: each running one (and each that ended less than lost_after_s
        ago, whose last receipts may still be on their way) has received a later message from
        its pusher, or was started after it was sent.  A pipe is first in, first out, so it was
        dealt to none of them: it went to a worker that died (or was dropped).  A message waiting
        behind a slow or paused worker's queue is in flight, however old."""
        if now_ns < self._next_aging_ns:
            return
        self._next_aging_ns = now_ns + AGING_INTERVAL_NS
        horizon = now_ns - self.lost_after_ns
        newly: dict[int, Ids] = {}
        for pusher in self.roster.pushers.values():
            while pusher.checkpoints and pusher.checkpoints[0][0] <= horizon:
                pusher.overdue = pusher.checkpoints.popleft()[1]
            index = pusher_index(pusher.name)
            ledger = self.ledger.pusher(index)
            if self.retry_budget_ns:  # when every worker passed a message counts: noted whether or not it is overdue
                passed = self._caught_up_everywhere(index, horizon)
                passed = min(passed, self._passed_budget_ago(now_ns, pusher, passed))
            elif pusher.overdue <= ledger.lost_scan:
                continue
            else:
                passed = self._caught_up_everywhere(index, horizon)
            boundary = min(pusher.overdue, passed)
            if boundary > ledger.lost_scan:
                newly[index] = ledger.declare_lost_below(int(boundary))
        self.note_lost(now_ns, now_ns, newly, "overdue")

    def _passed_budget_ago(self, now_ns: int, pusher: PusherView, passed_now: float) -> float:
        """Under a pattern that sends messages again, a message every worker has passed may still
        come (its retry): the seq below which every worker had passed its messages a retry budget
        ago.  Counted from when they passed it, not from when it was sent: it may have waited in a
        broker's queue before its first hand-over."""
        if not pusher.passed or pusher.passed[-1][1] != passed_now:
            pusher.passed.append((now_ns, passed_now))
        while pusher.passed and pusher.passed[0][0] <= now_ns - self.retry_budget_ns:
            pusher.passed_budget_ago = pusher.passed.popleft()[1]
        return pusher.passed_budget_ago

    def _caught_up_everywhere(self, index: int, ended_after_ns: int) -> float:
        """The lowest seq of pusher ``index`` that some worker life may still deliver."""
        lives = [life for w in self.roster.workers.values() for life in w.lives
                 if (life is w.lives[-1] and (w.running or life.queue_outlives)) or (life.ended_ns or 0) > ended_after_ns]
        return min((life.caught_up.get(index, 0) for life in lives), default=float("inf"))

    def note_lost(self, t_ns: int, now_ns: int, newly: dict[int, Ids], why: str) -> None:
        """``why``: "overdue" (live view) or "undelivered" (the run is over).  Each lost message is
        traced to the ended lives it may have been dealt to, one log line per cause.  One that no
        ended life can have had, sent while a stranger was connected to its pusher, is counted as
        strayed instead (every running worker has had a later message: that is why it is lost);
        one a dead life may have had stays lost, since either may have taken it."""
        for index, seqs in newly.items():
            for lives, dealt in self._dealt_to(index, seqs):
                if not lives:
                    dealt = self.peers.stray(now_ns, index, dealt)
                    self._keep_untraced(index, dealt)
                if len(dealt):
                    self._count_lost(t_ns, index, lives, dealt, why)

    def _keep_untraced(self, index: int, seqs: Ids) -> None:
        parts = self._untraced.setdefault(index, [])
        room = UNTRACED_KEPT - sum(len(part) for part in parts)
        if len(seqs) and room > 0:
            parts.append(seqs[:room])

    def untraced(self) -> dict[int, Ids]:
        """Per pusher, the lost messages (still lost: not arrived after all) that were traced to no
        ended life: none was dealt them, so no death explains them (at most UNTRACED_KEPT each)."""
        found = {}
        for index, parts in self._untraced.items():
            seqs = np.concatenate(parts)
            still = seqs[~self.ledger.pusher(index).arrived(seqs)]
            if len(still):
                found[index] = still
        return found

    def _dealt_to(self, index: int, seqs: Ids) -> list[tuple[Lives, Ids]]:
        """Lost ``seqs`` of pusher ``index``, grouped by the ended lives each may have been dealt to.

        A life was dealt a message if it was sent after the life could first get it (for a life
        that inherits no backlog, from what was sent when it started), not before the life's last
        delivery from that pusher (a pipe is first in, first out: an earlier one it did not get
        went elsewhere), and not after its sender could have seen it die (or, if its queue outlives
        it, before its next life started).  One candidate is the answer; several are named."""
        if not len(seqs):
            return []
        pusher = self.roster.pushers.get(pusher_name(index))
        candidates: list[tuple[WorkerView, Life, int, float]] = []
        for station in self.roster.stations():
            for number, life in enumerate(station.lives):
                if life.ended_ns is None or life.how_ended == "run-end":
                    continue
                if life.queue_outlives:
                    following = station.lives[number + 1] if number + 1 < len(station.lives) else None
                    until = float("inf") if following is None else (
                        pusher.sent_after(following.started_ns) if pusher else float("inf"))
                else:
                    until = pusher.sent_after(life.ended_ns + DEALT_AFTER_END_NS) if pusher else float("inf")
                candidates.append((station, life, life.caught_up.get(index, 0), until))
        code = np.zeros(len(seqs), dtype=np.int64)
        kept = candidates[-CANDIDATES_MAX:]  # the latest lives: the older ones ended long before
        for bit, (_, _, low, until) in enumerate(kept):
            code |= ((seqs >= low) & (seqs < until)).astype(np.int64) << bit
        groups = []
        values: list[int] = np.unique(code).tolist()
        for value in values:
            lives = tuple((station, life) for bit, (station, life, _, _) in enumerate(kept) if value >> bit & 1)
            groups.append((lives, seqs[code == value]))
        return groups

    def _count_lost(self, t_ns: int, index: int, lives: Lives, seqs: Ids, why: str) -> None:
        """Add ``seqs`` to the one log line of their cause: the lives they were dealt to (none known:
        why they count as lost)."""
        key: CauseKey
        if lives:
            key = ("lost", tuple((station.name, life.number) for station, life in lives))
            station = lives[0][0]
            for dead, life in lives:  # several: it was dealt to one of them; each row shows it
                self.message_map.record_lost(dead.name, life.number, life.ended_ns or t_ns, len(seqs))
            facts: dict[str, Any] = {
                "lives": [(s.name, life.number, life.how_ended) for s, life in lives],
                "station_kind": station.kind,
                "fed_by": self.roster.fed_by(station),
                "queue_outlives": all(life.queue_outlives for _, life in lives),
                "revived": all(life is not s.lives[-1] for s, life in lives),
                **({"rule": self.loss_rule} if self.loss_rule else {}),
            }
        else:
            key, facts = ("lost", why), {"why": why}
        ranges = self.log.ranges_grown(key, index, seqs)
        self.log.note_cause(key, t_ns, "lost", "lost", **facts, count=sum(r[2] for r in ranges.values()),
                            ranges=ranges)

    def arrived_after_all(self, index: int, worker: str, count: int) -> None:
        """``count`` messages of pusher ``index`` counted lost came to ``worker`` after all."""
        key = (index, worker)
        self.recovered[key] = self.recovered.get(key, 0) + count

    def note_recovered(self, now_ns: int, run_over: bool) -> None:
        """Tell what arrived after all, at most once a second (and when the run is over)."""
        if not self.recovered or (now_ns - self._recovered_noted_ns < NS and not run_over):
            return
        for (index, worker), count in self.recovered.items():
            key = ("arrived-after-all", index, worker)
            self.log.note_cause(key, now_ns, "info", "arrived-after-all", pusher=pusher_name(index), name=worker,
                                count=self.log.count_of(key) + count)
        self.recovered.clear()
        self._recovered_noted_ns = now_ns

    # ----------------------------------------------------------------- late
    def late_in_batch(self, e: ev.Deliveries, life: Life) -> tuple[Mask, Mask, dict[str, Mask]]:
        """Which of a batch came late: it waited for a process on its way that was dead when it
        was sent: this worker life (a queue it inherited), or a broker between two lives (a queue
        kept for it).  (late, sent before this life, by broker: sent while it was dead)."""
        before_life: Mask = e.sent_ns < life.started_ns
        late = before_life.copy()
        router_down: dict[str, Mask] = {}
        for broker in self.roster.brokers.values():
            for before, after in itertools.pairwise(broker.lives):
                if before.ended_ns is not None:
                    down = (e.sent_ns >= before.ended_ns) & (e.sent_ns < after.started_ns) & ~late
                    if down.any():
                        router_down[broker.name] = router_down[broker.name] | down if broker.name in router_down else down
                        late |= down
        return late, before_life, router_down

    def count_late(self, t_ns: int, worker: WorkerView, life: Life, before_life: Mask,
                   router_down: dict[str, Mask], firsts: Mask) -> None:
        """One log line per cause of lateness, its count growing: a queue kept for this life while
        its worker was dead (or, from a router, sent before this life started), or a router that
        was dead when they were sent."""
        causes: list[tuple[CauseKey, int, dict[str, Any]]] = [
            (("late", worker.name, life.number), int(before_life.sum()),
             {"name": worker.name, "life": life.number, "fed_by": self.roster.fed_by(worker)})]
        causes += [(("late", worker.name, life.number, router), int((down & firsts).sum()),
                    {"name": worker.name, "life": life.number, "fed_by": ROUTER, "router": router})
                   for router, down in router_down.items()]
        for key, count, facts in causes:
            if count:
                self.log.note_cause(key, t_ns, "info", "late", **facts, count=self.log.count_of(key) + count)

    # ----------------------------------------------------------------- waiting
    def count_waiting(self, now_ns: int, setup: dict[str, Any]) -> None:
        if now_ns < self._next_held_count_ns:
            return
        self._next_held_count_ns = now_ns + HELD_COUNT_INTERVAL_NS
        self._count_queued_for_dead(now_ns)
        for worker in self.roster.workers.values():
            if worker.state == "paused" and worker.life is not None:
                self._count_held_while_paused(now_ns, worker, worker.life, setup)

    def _count_held_while_paused(self, now_ns: int, worker: WorkerView, life: Life, setup: dict[str, Any]) -> None:
        """A paused worker fed by a sender: its pipe is first in, first out, so what it was dealt
        is what it has not received and every other running worker has passed.  Once that stops
        growing for a second while the others still receive, its pipe is full and the sender's
        round robin skips it: say so once, the count growing in place."""
        if self.roster.fed_by(worker) != SENDER:
            return
        others = [w.life for w in self.roster.workers.values() if w.running and w.state != "paused" and w.life]
        if not others:
            return
        held = 0
        for index, ledger in self.ledger.pushers.items():
            passed = min(other.caught_up.get(index, 0) for other in others)
            held += ledger.undelivered_between(max(life.caught_up.get(index, 0), ledger.lost_scan), passed)
        if held > worker.held:
            worker.held, worker.held_grew_ns = held, now_ns
        key = ("pipe-full", worker.name, worker.paused_ns)
        if held and (self.log.cause(key) is not None or now_ns - worker.held_grew_ns >= NS):
            self.log.note_cause(key, worker.held_grew_ns, "pause", "pipe-full", name=worker.name, held=worker.held,
                                sndhwm=setup.get("sndhwm"), rcvhwm=setup.get("rcvhwm"))

    def _count_queued_for_dead(self, now_ns: int) -> None:
        """Live view: how many messages wait in a queue kept for a dead worker's next life.  A pipe
        is first in, first out: an undelivered message that every running life has passed, and
        that is not lost, waits for a dead life whose queue outlives it."""
        dead = [(w.name, w.life) for w in self.roster.workers.values()
                if not w.running and w.life is not None and w.life.queue_outlives]
        if not dead:
            self.queued_for_dead = {}
            return
        waiting = 0
        for index, ledger in self.ledger.pushers.items():
            passed = min((w.life.caught_up.get(index, 0) for w in self.roster.workers.values() if w.running and w.life),
                         default=ledger.sent)
            waiting += ledger.undelivered_between(ledger.lost_scan, passed)
        names = ", ".join(name for name, _ in dead)
        self.queued_for_dead = {names: waiting} if waiting else {}
        if waiting:
            key = ("kept", tuple((name, life.number) for name, life in dead))
            self.log.note_cause(key, now_ns, "info", "kept", names=names, count=waiting)

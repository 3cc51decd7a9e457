"""Who is connected to whom: links between our processes, peers of our endpoints we cannot name
(strangers, or plain PULLs let in by address), and handshakes refused."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from rrsim import events as ev
from rrsim.kinds import ROUTER
from rrsim.model.ledger import Ledger
from rrsim.model.log import FOLD_NS, EventLog
from rrsim.model.views import Refused, Roster, Stranger, WorkerView, pusher_name

# A peer we cannot name this long after it connected is a stranger: one of ours says who it is
# (its link report) within a few ms, or is known already by its process id.
STRANGER_GRACE_NS = 500_000_000
# A pusher hears of a new peer from its socket monitor between sends, after libzmq has attached
# the peer's pipe: what it sent (and reported) meanwhile may have gone to the stranger already.
# It reports at least every 10 ms and reads its monitor at least every ms while it sends.
MONITOR_LAG_NS = 20_000_000


class Peers:
    """The connections the run's sockets report, folded: ``links`` between our processes, the
    ``strangers`` among the peers of endpoints we bind, and the ``refused`` handshakes."""

    def __init__(self, log: EventLog, roster: Roster, ledger: Ledger) -> None:
        self.log = log
        self.roster = roster
        self.ledger = ledger
        self.links: set[frozenset[str]] = set()  # {a, b}: a connection is up between them
        self.ours: set[str] = set()  # who our processes are to a peer: "pid N", "host:port"
        self.unnamed: dict[tuple[str, str], tuple[int, str]] = {}  # (binder, peer) -> (when, endpoint): ours?
        self.strangers: list[Stranger] = []
        # Handshakes refused (unknown keys, plain-text peers), one entry per host, reason and socket:
        # a refused ZeroMQ peer reconnects every 100 ms.
        self.refused: dict[tuple[str, str, str], Refused] = {}

    def refuse(self, e: ev.PeerRefused) -> None:
        host = e.address.rpartition(":")[0] or e.address
        key = (host.strip("[]"), e.why, e.endpoint)
        if key in self.refused:
            self.refused[key].attempts += 1
            return
        self.refused[key] = Refused(e.address, e.t_ns, e.why, e.endpoint)
        self.log.note(e.t_ns, "warn", "refused", address=e.address, why=e.why, endpoint=e.endpoint)

    def nothing_back(self, e: ev.NothingBack) -> None:
        """A user's program has sent nothing back: one line with what it was connected to (and so
        could receive) and what it should do, in its pattern's words."""
        linked = sorted(peer for link in self.links if e.name in link for peer in link if peer != e.name)
        sent = {peer: self.roster.pushers[peer].sent for peer in linked if peer in self.roster.pushers}
        self.log.note(e.t_ns, "warn", "nothing-back", name=e.name, life=e.life, after_s=e.after_s, program=e.program,
                      hint=e.hint, linked=linked, sent=sent, received=e.received)

    def broker_back(self, t_ns: int, broker: WorkerView) -> None:
        """A broker started again (``broker``'s new life is its last): a user's program whose REQ
        said READY to its life before waits for that one's answer forever (the guide's lbworker
        says READY once, and has no heartbeat), so the new life never hears from it: say which,
        and what to do.  A program started while no broker ran queued its READY for this one."""
        if broker.kind != ROUTER or len(broker.lives) < 2:
            return
        before = broker.lives[-2]
        gone_ns = t_ns if before.ended_ns is None else before.ended_ns
        stuck = [worker.name for worker in self.roster.workers.values()
                 if worker.program and (life := worker.life) is not None and life.ended_ns is None
                 and life.started_ns < gone_ns]
        if stuck:
            self.log.note(t_ns, "warn", "reqs-stuck", name=broker.name, workers=stuck)

    def drop_links(self, name: str) -> None:
        for link in [link for link in self.links if name in link]:
            self.links.discard(link)

    def link_changed(self, e: ev.LinkChanged) -> bool:
        """Fold a link report; True if a link between two running processes came up or went down."""
        if e.via:
            self.ours.add(e.via)
            self.unnamed.pop((e.b, e.via), None)
            # Named a stranger because its word came late (a machine too busy for 0.5 s): it is ours.
            self.strangers = [s for s in self.strangers if (s.binder, s.peer) != (e.b, e.via)]
        link = frozenset((e.a, e.b))
        if e.up == (link in self.links):
            return False
        if e.up:
            if not (self.roster.running(e.a) and self.roster.running(e.b)):
                return False  # a late report about a process that is already gone
            self.links.add(link)
        else:
            self.links.discard(link)
        key = ("links", e.up)
        wave = self.log.cause(key)
        if wave is not None and (e.t_ns - (wave.until_ns or wave.t_ns) >= FOLD_NS
                                 or self.log.last_start_serial > wave.serial):
            # A new wave of connections, told on a line of its own; so are those after a process
            # started (P): its line comes first, not after links to it told on an earlier line.
            self.log.forget_cause(key)
            wave = None
        pairs = [] if wave is None else wave.facts["pairs"]
        self.log.note_cause(key, e.t_ns, "link", "links", pairs=[*pairs, (e.a, e.b)], up=e.up)
        return True

    def peer_changed(self, e: ev.PeerChanged) -> None:
        if e.up:
            if e.peer not in self.ours:
                self.unnamed[(e.name, e.peer)] = (e.t_ns, e.endpoint)
            return
        self.unnamed.pop((e.name, e.peer), None)
        for stranger in self.strangers:
            if (stranger.binder, stranger.peer) == (e.name, e.peer) and stranger.disconnected_ns is None:
                stranger.disconnected_ns = e.t_ns
                if stranger.admitted:  # let in by address: a worker of the run that left, no warning
                    self.log.note(e.t_ns, "info", "external-worker-left", name=e.name, peer=e.peer)
                else:
                    self.log.note(e.t_ns, "warn", "stranger-left", name=e.name, peer=e.peer)

    def name_strangers(self, now_ns: int, endpoints: dict[str, str], setup: dict[str, Any]) -> None:
        """Peers still unnamed after the grace time are strangers."""
        labels = {endpoint: label for label, endpoint in endpoints.items()}
        for (binder, peer), (since, endpoint) in list(self.unnamed.items()):
            if peer in self.ours:
                del self.unnamed[(binder, peer)]
            elif now_ns - since >= STRANGER_GRACE_NS:
                del self.unnamed[(binder, peer)]
                pusher = self.roster.pushers.get(binder)
                # Messages dealt from the moment it connected: what the pusher had sent before it
                # could have heard of it.
                from_seq = pusher.sent_at(since - MONITOR_LAG_NS) if pusher else 0
                label = labels.get(endpoint, binder)
                admitted = bool(setup.get("external_worker")) and peer.rpartition(":")[0].strip("[]") == setup["external_worker"]
                self.strangers.append(Stranger(binder, peer, since, label, from_seq=from_seq,
                                               admitted=admitted))
                if admitted:
                    self.log.note(since, "start", "external-worker", name=binder, peer=peer, endpoint=label)
                else:
                    self.log.note_cause(("stranger", binder, peer), since, "warn", "stranger", name=binder, peer=peer,
                                        endpoint=label, sender=pusher is not None, took=0)

    def stray(self, now_ns: int, index: int, seqs: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Count the lost ``seqs`` of pusher ``index`` a stranger took as strayed; return the rest."""
        name = pusher_name(index)
        for stranger in self.strangers:
            if stranger.binder != name or not len(seqs):
                continue
            end = float("inf")
            if stranger.disconnected_ns is not None:
                # It reported the stranger gone before its next progress report: that one bounds
                # what was sent while the stranger was there.
                end = self.roster.pushers[name].sent_after(stranger.disconnected_ns)
            taken = (seqs >= stranger.from_seq) & (seqs < end)
            if taken.any():
                self.ledger.pusher(index).mark_strayed(seqs[taken])
                stranger.took += int(np.count_nonzero(taken))
                if not stranger.admitted:  # an admitted plain PULL is a worker: what it takes is no warning
                    self.log.note_cause(("stranger", stranger.binder, stranger.peer), now_ns, "warn", "stranger",
                                        took=stranger.took)
                seqs = seqs[~taken]
        return seqs

    def external_workers(self) -> list[Stranger]:
        """Plain PULLs let in by address: what each took is estimated from its pusher's side."""
        return [s for s in self.strangers if s.admitted]

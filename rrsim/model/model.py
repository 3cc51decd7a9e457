"""The run model: a pure fold of engine events into the state front ends show.

No sockets, no clocks, no processes: ``Model.apply(event)`` is the only way in, and "now"
is the time of the latest event.  The TUI, the headless report and the tests all read this.
The handlers here keep each process's record; the parts they hand events to keep the log and its
causes (log), connections and strangers (peers), what is lost or late (losses), slow joiners (joiners)...
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
import numpy.typing as npt

from rrsim import events as ev
from rrsim.kinds import RECEIVER, ROUTER, SENDER
from rrsim.model import stats
from rrsim.model.distribution import Binned, Durations
from rrsim.model.joiners import SlowJoiners
from rrsim.model.ledger import Ledger
from rrsim.model.log import LOG_LENGTH, EventLog
from rrsim.model.losses import Losses
from rrsim.model.message_map import MessageMap
from rrsim.model.overheads import Overheads
from rrsim.model.peers import Peers
from rrsim.model.queue_depth import PEAK_SLOT_NS, QueueDepth
from rrsim.model.views import (
    NS,
    RATE_BUCKET_NS,
    WORKER_STATES,
    Life,
    LogEntry,
    PusherView,
    Refused,
    Roster,
    Stranger,
    Totals,
    WorkerView,
    count_in_buckets,
    pusher_index,
    pusher_name,
)

# Where callers have imported them from since the model was one module.
__all__ = ["LOG_LENGTH", "NS", "RECEIVER", "ROUTER", "SENDER", "WORKER_STATES", "Life", "LogEntry", "Model",
           "Overheads", "PusherView", "Refused", "Stranger", "Totals", "WorkerView", "pusher_index", "pusher_name"]


class Model:
    """Folds events; answers questions about workers, brokers, pushers, totals and the log."""

    def __init__(self, lost_after_s: float = 2.0) -> None:
        self.ledger = Ledger()
        self.setup: dict[str, Any] = {}
        self.endpoints: dict[str, str] = {}  # what is bound: label (p1, b1.backend) -> endpoint
        self.roster = Roster()
        self.workers = self.roster.workers  # receivers
        self.brokers = self.roster.brokers  # routers
        self.pushers = self.roster.pushers  # senders
        self.roles = self.roster.roles  # every process name -> its role
        self.kinds = self.roster.kinds  # role -> kind (sender, router, receiver)
        self.journal = EventLog()
        self.message_map = MessageMap()
        self.peers = Peers(self.journal, self.roster, self.ledger)
        self.losses = Losses(self.journal, self.roster, self.ledger, self.peers, self.message_map,
                             int(lost_after_s * NS))
        self.joiners = SlowJoiners(self.journal, self.roster)
        self.join_line = ""  # what a remote worker types to join, if the run listens
        self.now_ns = 0
        self.started_ns: int | None = None
        self.first_send_ns: int | None = None
        self.last_delivery_ns: int | None = None
        self.late = self.foreign = self.malformed = 0
        self.wait = Durations()  # sent to work started, over every message done
        self.sojourn = Durations()  # sent to work done
        self.work_sizes = Durations()  # the work sizes the messages done carried (before a worker's speed)
        self.rate = 0.0
        self.strategy, self.loops = "", ""  # a broker's strategy, when there is one; the children's loops (compiled, python)
        self.sending_held = False
        self.drained = False
        self.stopped_by: str | None = None  # "quit" or a signal's name: the run was ended before it drained
        self.version = 0  # bumped on every event, so a front end can skip unchanged frames
        self.counters: dict[tuple[str, int], dict[str, int]] = {}  # a pattern's own counts per (process, life)
        self.given_up_why: dict[str, int] = {}  # why messages were given up: "no-ack", "silent", "gone"

    # What front ends read, kept by the parts.
    @property
    def log(self) -> deque[LogEntry]:
        return self.journal.entries

    @property
    def log_revision(self) -> int:
        return self.journal.revision

    @property
    def links(self) -> set[frozenset[str]]:
        return self.peers.links

    @property
    def strangers(self) -> list[Stranger]:
        return self.peers.strangers

    @property
    def refused(self) -> dict[tuple[str, str, str], Refused]:
        return self.peers.refused

    @property
    def queued_for_dead(self) -> dict[str, int]:
        return self.losses.queued_for_dead

    # ----------------------------------------------------------------- folding
    def apply(self, event: ev.Event) -> None:
        self.now_ns = max(self.now_ns, event.t_ns)
        self.version += 1
        handler = getattr(self, "_on_" + type(event).__name__, None)
        if handler is not None:
            handler(event)
        if self.peers.unnamed:
            self.peers.name_strangers(self.now_ns, self.endpoints, self.setup)
        if not self.drained:
            self.losses.age_undelivered(self.now_ns)
            self.losses.count_waiting(self.now_ns, self.setup)
        self.losses.note_recovered(self.now_ns, isinstance(event, ev.Drained))

    def station(self, name: str) -> WorkerView | None:
        """The worker or broker called ``name``: what can be killed, paused and revived."""
        return self.roster.station(name)

    def stations(self) -> list[WorkerView]:
        return self.roster.stations()

    def _on_RunStarted(self, e: ev.RunStarted) -> None:
        self.setup = dict(e.setup)
        self.endpoints = dict(e.endpoints)
        self.started_ns = e.t_ns
        self.rate = float(e.setup.get("rate", 0.0))
        self.strategy, self.loops = str(e.setup.get("strategy", "")), e.loops
        self.losses.lost_after_ns = int(float(e.setup.get("lost_after_s", self.losses.lost_after_ns / NS)) * NS)
        self.losses.retry_budget_ns = int(e.retry_budget_s * NS)
        self.losses.loss_rule = e.loss_rule
        self.journal.note(e.t_ns, "info", "run-started", pattern=e.setup.get("pattern"), transport=e.setup.get("transport"),
                          endpoints=dict(e.endpoints))

    def _on_ProcessStarted(self, e: ev.ProcessStarted) -> None:
        self.endpoints.update(e.endpoints)
        self.peers.ours.add(f"pid {e.pid}")
        self.roles[e.name] = e.role
        self.kinds[e.role] = e.kind
        if e.kind == SENDER:
            pusher = self.pushers.setdefault(e.name, PusherView(e.name))
            pusher.pid, pusher.state, pusher.links_to = e.pid, "starting", e.links_to
            self.ledger.pusher(pusher_index(e.name))
            self.journal.note_start(e.t_ns, name=e.name, life=e.life, pid=e.pid, sender=True)
            return
        group = self.brokers if e.kind == ROUTER else self.workers
        worker = group.get(e.name)
        if worker is None:
            worker = group[e.name] = WorkerView(e.name, work_ms=e.work_ms, role=e.role, kind=e.kind)
        worker.work_ms, worker.speed, worker.links_to, worker.program = e.work_ms, e.speed, e.links_to, e.program
        worker.waiting = False
        worker.queued = worker.ready = worker.routed = 0
        life = Life(number=e.life, pid=e.pid, started_ns=e.t_ns, queue_outlives=e.queue_outlives)
        worker.overheads.last_done_ns = None  # a new process: nothing of the last one's is in its way
        # A life that may be handed messages sent before it started (a pipe it inherits, a
        # broker's queue): nothing is known about what it may still deliver.  Otherwise its pipes
        # carry only messages sent from now on.
        if not e.inherits_backlog:
            life.caught_up = {index: p.sent for index, p in self.ledger.pushers.items()}
        if worker.lives:
            worker.recent.append((0, e.life))  # pusher 0: where the ids of a new life begin
        worker.lives.append(life)
        if e.kind == RECEIVER:
            # Fed by a router, it is dealt a message some time after it was sent: when is not seen.
            fed_by_router = any(self.kinds.get(role) == ROUTER for role in e.links_to)
            worker.queue = None if fed_by_router else (worker.queue or QueueDepth())
            if worker.queue is not None:
                worker.queue.new_life()
            self.message_map.row(e.name, e.life, e.t_ns)  # a row on the map from its start, even if it dies with nothing
        worker.state, worker.alive_since = "starting", e.t_ns
        self.journal.note_start(e.t_ns, name=e.name, life=e.life, pid=e.pid)
        self._update_ready(worker)
        self.peers.broker_back(e.t_ns, worker)  # a revived broker: users' programs may wait on the one before

    def _on_ProcessReady(self, e: ev.ProcessReady) -> None:
        pusher = self.pushers.get(e.name)
        if pusher is not None and pusher.state == "starting":
            pusher.state = "running"

    def _on_ProcessEnded(self, e: ev.ProcessEnded) -> None:
        if e.name in self.pushers:
            self.pushers[e.name].state = "ended" if e.how == "run-end" else e.how
            if e.how != "run-end":
                self.journal.note(e.t_ns, "end", "ended", name=e.name, how=e.how, exit_code=e.exit_code)
            self.peers.drop_links(e.name)
            return
        worker = self.station(e.name)
        life = worker.life_numbered(e.life) if worker else None
        if worker is None or life is None:
            return
        exit_code = None if e.how == "run-end" else e.exit_code  # SIGKILLed with the run: says nothing of the life
        life.ended_ns, life.how_ended, life.exit_code, life.log_tail = e.t_ns, e.how, exit_code, e.log_tail
        if life is not worker.life:
            # An earlier incarnation reaped after its successor started (kill and revive at once).
            self.journal.note(e.t_ns, "end", "ended", name=e.name, how=e.how, exit_code=e.exit_code, life=life.number,
                              pid=life.pid, earlier_life=True)
            return
        worker.close_alive(e.t_ns)
        self.peers.drop_links(e.name)
        if e.how == "run-end":
            return  # the state a worker had when the run ended is what the report shows
        worker.state = e.how
        counted = {"routed": worker.routed, "held": worker.queued} if worker.kind == ROUTER else {"received": life.received}
        self.journal.note_cause(("ended", e.name, life.number), e.t_ns, "end", "ended", name=e.name, how=e.how,
                                exit_code=e.exit_code, life=life.number, pid=life.pid, host=worker.remote_host, **counted)
        worker.queued = worker.ready = 0  # a dead broker holds nothing and knows no one
        for line in e.log_tail:
            self.journal.note(e.t_ns, "warn", "log-line", name=e.name, line=line)

    def _on_Listening(self, e: ev.Listening) -> None:
        self.join_line = e.join_line
        self.journal.note(e.t_ns, "info", "listening", endpoint=e.endpoint, secure=e.secure)

    def _on_RemoteJoined(self, e: ev.RemoteJoined) -> None:
        worker = self.workers.get(e.name)
        if worker is None:
            return
        worker.remote_host, worker.remote_label = e.host, e.label
        worker.clock_uncertainty_ns = e.clock_uncertainty_ns
        self.journal.note(e.t_ns, "start", "remote-joined", name=e.name, host=e.host, address=e.address, label=e.label,
                          uncertainty_ms=e.clock_uncertainty_ns / 1e6)

    def _on_ClockEstimated(self, e: ev.ClockEstimated) -> None:
        worker = self.workers.get(e.name)
        if worker is not None:
            worker.clock_uncertainty_ns = e.uncertainty_ns

    def _on_PeerRefused(self, e: ev.PeerRefused) -> None:
        self.peers.refuse(e)

    def _on_WorkerPaused(self, e: ev.WorkerPaused) -> None:
        worker = self.workers.get(e.name) or self.brokers[e.name]
        worker.state = "paused"
        worker.paused_ns, worker.held, worker.held_grew_ns = e.t_ns, 0, e.t_ns
        worker.close_alive(e.t_ns)
        self.journal.note(e.t_ns, "pause", "paused", name=e.name, **({"remote": True} if worker.remote_host else {}))

    def _on_WorkerResumed(self, e: ev.WorkerResumed) -> None:
        worker = self.workers.get(e.name) or self.brokers[e.name]
        worker.state = "starting"
        worker.alive_since = e.t_ns
        worker.paused_ns = None
        self._update_ready(worker)
        self.journal.note(e.t_ns, "pause", "resumed", name=e.name, **({"remote": True} if worker.remote_host else {}))

    def _on_WorkSet(self, e: ev.WorkSet) -> None:
        worker = self.workers[e.name]
        self.journal.note_burst(e.t_ns, "info", "work-set", {"was_ms": worker.work_ms}, name=e.name, work_ms=e.work_ms)
        worker.work_ms = e.work_ms

    def _on_RateSet(self, e: ev.RateSet) -> None:
        self.journal.note_burst(e.t_ns, "info", "rate-set", {"was": self.rate}, rate=e.rate)
        self.rate = e.rate

    def _on_StrategySet(self, e: ev.StrategySet) -> None:
        self.strategy = e.strategy
        self.journal.note(e.t_ns, "info", "strategy-set", strategy=e.strategy)

    def _on_SendingHeld(self, e: ev.SendingHeld) -> None:
        self.sending_held = e.held
        self.journal.note(e.t_ns, "warn" if e.why else "info", "sending-held", held=e.held, for_good=e.for_good, why=e.why)

    def _on_NothingBack(self, e: ev.NothingBack) -> None:
        self.peers.nothing_back(e)

    def _on_LinkChanged(self, e: ev.LinkChanged) -> None:
        if self.peers.link_changed(e):
            for name in (e.a, e.b):
                if (station := self.station(name)) is not None:
                    self._update_ready(station)

    def _on_PeerChanged(self, e: ev.PeerChanged) -> None:
        self.peers.peer_changed(e)

    def _on_SentProgress(self, e: ev.SentProgress) -> None:
        pusher = self.pushers.setdefault(e.pusher, PusherView(e.pusher))
        if pusher.state == "starting":
            pusher.state = "running"
        fresh = e.sent - pusher.sent
        if fresh > 0:
            if self.first_send_ns is None:
                self.first_send_ns = e.t_ns
            count_in_buckets(pusher.rate_buckets, e.t_ns // RATE_BUCKET_NS, fresh)
            pusher.checkpoints.append((e.t_ns, e.sent))
            pusher.history.append((e.t_ns, e.sent))
        if e.sent >= pusher.sent:
            pusher.jobs = e.jobs
        pusher.sent = max(pusher.sent, e.sent)
        pusher.blocked, pusher.peers = e.blocked, e.peers
        pusher.believed, pusher.outstanding = e.believed, e.outstanding
        if e.counters:
            self.counters[(e.pusher, 1)] = dict(e.counters)
        if e.done and not pusher.done:
            self.journal.note(e.t_ns, "info", "sent-all", name=e.pusher, sent=e.sent)
        pusher.done = e.done
        self.ledger.pusher(pusher_index(e.pusher)).record_sent(e.sent)
        if e.joined and not pusher.joined:
            self.joiners.joined(e.t_ns, pusher, e.early)

    def _on_RouterState(self, e: ev.RouterState) -> None:
        broker = self.brokers.get(e.name)
        if broker is None or broker.life is None or broker.life.number != e.life or not broker.running:
            return  # a report that left before its sender died says nothing about now
        fresh = e.routed - broker.routed
        if fresh > 0:
            count_in_buckets(broker.rate_buckets, e.t_ns // RATE_BUCKET_NS, fresh)
            broker.received += fresh
            broker.life.received += fresh
            if broker.state == "starting":  # resumed, and routing while some workers are still away
                broker.state = "alive"
        broker.queued, broker.ready, broker.routed = e.queued, e.ready, max(broker.routed, e.routed)
        broker.max_queued = max(broker.max_queued, e.queued)
        slot = e.t_ns // PEAK_SLOT_NS
        broker.queued_peaks[slot] = max(broker.queued_peaks.get(slot, 0), e.queued)
        self.roster.note_held(e.held_by)
        if e.counters:
            self.counters[(e.name, e.life)] = dict(e.counters)
        self.roster.note_retried((e.name, e.life), e.retried_from)

    def _on_PeerSilent(self, e: ev.PeerSilent) -> None:
        worker = self.workers.get(e.peer)
        life = worker.life_numbered(e.peer_life) if worker else None
        if worker is None or life is None:
            return
        worker.heartbeats_missed += e.missed
        dead_ns = max(t for t in (life.ended_ns, worker.paused_ns if life is worker.life else None, 0) if t is not None)
        if life.started_ns <= dead_ns <= e.t_ns:
            worker.verdict_ms.append((e.t_ns - dead_ns) / 1e6)
        if life is worker.life and worker.state in ("starting", "alive"):
            worker.state = "silent"  # the router's word, until its process state is known
        self.journal.note(e.t_ns, "warn", "silent", name=e.peer, router=e.name, missed=e.missed, why=e.why,
                          requeued=e.requeued, to=list(e.to))

    def _on_GaveUp(self, e: ev.GaveUp) -> None:
        self.given_up_why[e.why] = self.given_up_why.get(e.why, 0) + len(e.seqs)
        if not e.seqs:
            return
        # Lost as of now, as the totals' "given up" says: no attempt is left to deliver them.
        self.ledger.pusher(e.pusher).declare_lost(np.asarray(e.seqs, dtype=np.int64))
        # One line per router, reason and number of attempts, its count growing (as for losses).
        key = ("gave-up", e.name, e.why, e.attempts)
        ranges = self.journal.ranges_grown(key, e.pusher, np.sort(np.asarray(e.seqs, dtype=np.int64)))
        self.journal.note_cause(key, e.t_ns, "lost", "gave-up", ranges=ranges, count=sum(r[2] for r in ranges.values()),
                                attempts=e.attempts, why=e.why, peer=e.peer)

    def _on_Waiting(self, e: ev.Waiting) -> None:
        worker = self.workers.get(e.name)
        if (worker is None or worker.life is None or worker.life.number != e.life
                or not worker.note_waiting(e.waiting, e.t_ns + int(e.retry_s * NS))):
            return
        self.journal.note(e.t_ns, "link", "waiting", name=e.name, waiting=e.waiting, retry_s=e.retry_s)

    def _on_Deliveries(self, e: ev.Deliveries) -> None:
        worker = self.workers.get(e.worker)
        if worker is None or len(e.seqs) == 0:
            return
        life = worker.life_numbered(e.life)
        if life is None:
            return
        n = len(e.seqs)
        late, before_life, router_down = self.losses.late_in_batch(e, life)
        single = e.pushers[0] == e.pushers[-1] and bool((e.pushers == e.pushers[0]).all())
        for index in [e.pushers[0]] if single else np.unique(e.pushers):
            mine: slice | npt.NDArray[np.bool_] = slice(None) if single else e.pushers == index
            seqs = e.seqs[mine]
            flags = self.ledger.pusher(int(index)).record_deliveries(seqs)
            if (pusher := self.pushers.get(pusher_name(int(index)))) is not None:
                self.joiners.take_early(e.t_ns, pusher, worker.name, seqs)
            life.caught_up[int(index)] = max(life.caught_up.get(int(index), 0), int(seqs.max()) + 1)
            worker.duplicates += int((~flags.first).sum())
            recovered = int(flags.was_lost.sum())
            if recovered:
                self.losses.arrived_after_all(int(index), e.worker, recovered)
            late_first = int((late[mine] & flags.first).sum())
            self.late += late_first
            worker.late += late_first
            if late_first:
                firsts = np.zeros(n, dtype=bool)
                firsts[mine] = flags.first
                self.losses.count_late(e.t_ns, worker, life, before_life & firsts, router_down, firsts)
        worker.received += n
        life.received += n
        if life.ended_ns is not None:  # its end's line counts what was still in telemetry's flight then
            self.journal.update_cause(("ended", worker.name, life.number), received=life.received)
        if worker.state == "silent" and life is worker.life:
            worker.state = "alive"  # declared dead, and heard from after all
        self.message_map.record_deliveries(worker.name, life.number, e.pushers, e.recv_ns, late)
        # A batch's send times are when the messages left; a progress report comes after them.
        first = int(e.sent_ns.min())
        self.first_send_ns = first if self.first_send_ns is None else min(self.first_send_ns, first)
        done_ns = e.recv_ns if e.done_ns is None else e.done_ns
        self.last_delivery_ns = max(self.last_delivery_ns or 0, int(done_ns.max()))
        waits, sojourns = Binned(e.recv_ns - e.sent_ns), Binned(done_ns - e.sent_ns)  # once for the run's and the worker's
        worker.add_receipts(e, waits, sojourns, current_life=life is worker.life)
        if not worker.program:  # a program's receive time is its return: no wait is seen
            self.wait.add_binned(waits)
        self.sojourn.add_binned(sojourns)
        if e.work_us is not None:
            self.work_sizes.add(e.work_us * 1000)

    def _on_ForeignPayloads(self, e: ev.ForeignPayloads) -> None:
        self.foreign += e.count
        if e.worker in self.workers:
            self.workers[e.worker].foreign += e.count
        # One line per worker, its count growing; expected traffic (--connect-pusher) is no warning.
        key = ("foreign", e.worker)
        kind = "info" if self.setup.get("connect_pusher") else "warn"
        self.journal.note_cause(key, e.t_ns, kind, "foreign", name=e.worker, count=self.journal.count_of(key) + e.count,
                                expected=bool(self.setup.get("connect_pusher")))

    def _on_MalformedTelemetry(self, e: ev.MalformedTelemetry) -> None:
        self.malformed += e.count
        self.journal.note(e.t_ns, "warn", "malformed", reason=e.reason)

    def _on_ActionFired(self, e: ev.ActionFired) -> None:
        self.journal.note(e.t_ns, "action", "action", description=e.description)

    def _on_Drained(self, e: ev.Drained) -> None:
        newly = self.ledger.drain()
        self.losses.note_lost(e.t_ns, self.now_ns, newly, "undelivered")
        self.drained = True
        self.losses.queued_for_dead = {}

    def _on_RunStopped(self, e: ev.RunStopped) -> None:
        self.stopped_by = e.by
        self.journal.note(e.t_ns, "info", "stopped", by=e.by)

    # ----------------------------------------------------------------- helpers
    def _update_ready(self, worker: WorkerView) -> None:
        if worker.state != "starting":
            return
        peers = self.roster.peers_expected(worker.name, worker.links_to)
        if peers and all(frozenset((worker.name, peer)) in self.peers.links for peer in peers):
            worker.state = "alive"

    # ----------------------------------------------------------------- questions
    def kept(self) -> int:
        """Messages the running senders keep copies of until they are acknowledged (a pattern whose
        senders send again): while there are any, something may still arrive."""
        return stats.kept(self.counters, self.pushers.values())

    def counter(self, key: str) -> int:
        """A pattern's own count, over every process and life: "retried", "given_up"..."""
        return stats.counter(self.counters, key)

    def attempts(self) -> dict[int, int]:
        """Messages acknowledged, by how many hand-overs each took (a pattern that counts them)."""
        return stats.attempts(self.counters)

    def totals(self) -> Totals:
        return stats.totals(self.ledger, self.counters, self.late, self.foreign, self.malformed)

    def external_workers(self) -> list[Stranger]:
        """Plain PULLs let in by address: what each took is estimated from its pusher's side."""
        return self.peers.external_workers()

    def taken_by_all(self) -> int:  # every share's denominator: read it once for a frame's or a report's shares
        return stats.taken_by_all(self.workers.values(), self.external_workers())

    def share(self, worker: WorkerView) -> float:
        return stats.worker_share(worker, self.taken_by_all())

    def fairness(self) -> float | None:
        """Jain's index over received per second alive (1.0 = perfectly even)."""
        return stats.fairness(self.workers.values(), self.now_ns)

    def longest_queue(self) -> tuple[int, str] | None:
        """(messages, where): the most messages seen waiting at one worker or router, or None
        when no station's queue is known."""
        return stats.longest_queue(self.workers.values(), self.brokers.values())

    def elapsed_s(self) -> float:
        return (self.now_ns - self.started_ns) / NS if self.started_ns is not None else 0.0

    def throughput_window_s(self) -> float:
        """From the first send to the last delivery: what the throughput is counted over."""
        return stats.window_s(self.first_send_ns, self.last_delivery_ns)

    def throughput(self) -> float:
        window = self.throughput_window_s()
        return self.ledger.delivered_unique / window if window > 0 else 0.0

    def service_ms(self) -> float | None:
        """How long a worker's work took per message, on average over every message done."""
        return stats.service_ms(self.workers.values())

    def overheads(self) -> Overheads:
        """Every worker's overheads together."""
        return stats.overheads(self.workers.values())

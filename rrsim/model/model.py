"""The run model: a pure fold of engine events into the state front ends show.

No sockets, no clocks, no processes: ``Model.apply(event)`` is the only way in, and "now"
is the time of the latest event.  The TUI, the headless report and the tests all read this.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from rrsim import events as ev
from rrsim.model.distribution import Durations, RecentDurations
from rrsim.model.ledger import Ledger
from rrsim.model.queue_depth import QueueDepth
from rrsim.model.message_map import MessageMap
from rrsim.kinds import RECEIVER, ROUTER, SENDER

NS = 1_000_000_000
HISTORY_REPORTS = 1000  # a pusher reports at most every 10 ms: 10 s of them
EARLY_KEPT = 100_000  # seqs a pusher's workers received before it joined, kept to tell which were early
# A remote worker (not our child) can also have left on its own, or fallen silent (lost contact).
WORKER_STATES = ("starting", "alive", "paused", "stopped", "killed", "crashed", "silent", "left", "lost contact")
LATENCY_WINDOW_S = 10  # the live view's latency: the last 10 s (the report has the whole run)
RECENT_IDS = 24
LATENCY_ERROR_SHARE = 0.1  # a remote worker's latency is shown if its clock's uncertainty is within this share of it
RATE_BUCKET_NS = NS // 2
RATE_BUCKETS = 120  # one minute of history
LOG_LENGTH = 1000
AGING_INTERVAL_NS = 20_000_000  # how often the live view looks for lost messages, in event time
# A peer we cannot name this long after it connected is a stranger: one of ours says who it is
# (its link report) within a few ms, or is known already by its process id.
STRANGER_GRACE_NS = 500_000_000
# A sender keeps dealing to a peer that died until it sees the connection drop: a message sent up
# to this long after a life ended may still have been dealt to it.
DEALT_AFTER_END_NS = NS
BURST_NS = 2 * NS  # the same setting changed again within this time is one log line (a key held down)
LINK_FOLD_NS = NS  # connections coming up (or going down) this close together are one log line
HELD_COUNT_INTERVAL_NS = NS // 5  # how often the live view counts what waits for a dead life
CANDIDATES_MAX = 62  # lives a lost message may be traced to at once (bits of an int64)


def pusher_name(index: int) -> str:
    return f"p{index}"


def pusher_index(name: str) -> int:
    return int(name[1:])


@dataclass
class Life:
    """One incarnation of a worker (or a pusher): one OS process."""

    number: int
    pid: int
    started_ns: int
    ended_ns: int | None = None
    how_ended: str | None = None
    exit_code: int | None = None
    received: int = 0
    log_tail: tuple[str, ...] = ()
    # pusher index -> no message of that pusher below this seq can still come to this life
    caught_up: dict[int, int] = field(default_factory=dict)
    queue_outlives: bool = False  # what was dealt to it and not received waits for its next life


@dataclass(frozen=True)
class LogEntry:
    """Something worth telling, as facts: ``rrsim.report.wording.describe`` says it in words."""

    t_ns: int
    kind: str  # "start" | "end" | "pause" | "link" | "lost" | "action" | "warn" | "info": how it looks
    what: str  # what happened: "started", "ended", "lost", ... (one wording each)
    facts: dict[str, Any] = field(default_factory=dict)
    serial: int = 0  # its place in the log; an entry updated in place keeps it
    revision: int = 0  # the log's revision when it was last written: front ends redraw what changed
    until_ns: int | None = None  # when it was last updated (a count that grew, a burst of keys)


@dataclass
class Overheads:
    """What a worker's messages spent besides queueing and work, for comparing a run with theory.

    A message sent before the worker finished the one before it waited for it: the gap from that
    done to its own start is the hand-over (under a broker, a round trip to it).  One sent while
    the worker was free waited only for its hops to the worker: its transit."""

    last_done_ns: int | None = None  # of the current life's latest message
    handover_ns: int = 0
    handovers: int = 0
    transit_ns: int = 0
    transits: int = 0

    def add(self, sent_ns: np.ndarray, recv_ns: np.ndarray, done_ns: np.ndarray) -> None:
        before = np.concatenate(([self.last_done_ns if self.last_done_ns is not None else -1], done_ns[:-1]))
        queued = sent_ns < before
        self.handover_ns += int((recv_ns - before)[queued].sum())
        self.handovers += int(np.count_nonzero(queued))
        self.transit_ns += int((recv_ns - sent_ns)[~queued].sum())
        self.transits += int(np.count_nonzero(~queued))
        self.last_done_ns = int(done_ns[-1])


@dataclass
class WorkerView:
    """A worker, or a broker (``kind`` router): a process with lives that can be killed,
    paused and revived."""

    name: str
    work_ms: float
    speed: float = 1.0  # its work per message is divided by it
    role: str = "worker"
    kind: str = RECEIVER
    links_to: tuple[str, ...] = ()  # roles it must be connected with to take part
    state: str = "starting"
    lives: list[Life] = field(default_factory=list)
    received: int = 0
    late: int = 0
    duplicates: int = 0
    foreign: int = 0
    recent: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=RECENT_IDS))
    latency: Durations = field(default_factory=Durations)  # sent to received (= work started)
    recent_latency: RecentDurations = field(default_factory=lambda: RecentDurations(LATENCY_WINDOW_S))
    busy_ns: int = 0  # time spent working on the messages it has done
    overheads: Overheads = field(default_factory=lambda: Overheads())
    # delivered (routed, for a broker) per half-second bucket: bucket index -> count
    rate_buckets: dict[int, int] = field(default_factory=dict)
    alive_ns: int = 0  # time spent running and not paused, closed intervals only
    alive_since: int | None = None
    # A broker's last word: messages it holds, workers ready, routed so far (this life)
    queued: int = 0
    ready: int = 0
    routed: int = 0
    # Declared dead by a router (heartbeats): how many it missed in all, and how long after it
    # was paused or ended each verdict came, in ms
    heartbeats_missed: int = 0
    verdict_ms: list[float] = field(default_factory=list)
    # Messages it had been handed and did not acknowledge in time (dead, silent or slow) that a
    # router handed over again: the retries it cost
    retried: int = 0
    waiting: bool = False  # its router fell silent: it waits to connect again
    # The most messages waiting for it, known only when a message is dealt to it as it is sent
    # (None: dealt to it later, by a router, whose own queue is ``max_queued``).
    queue: QueueDepth | None = None
    max_queued: int = 0  # a router: the most messages it said it held
    # Paused: since when, how many messages wait in its pipe (dealt to it, passed by every other
    # running worker), and when that last grew
    paused_ns: int | None = None
    held: int = 0
    held_grew_ns: int = 0
    # A worker on another machine (rrsim worker --join): its host, and how far its clock can be trusted
    remote_host: str = ""
    remote_label: str = ""
    clock_uncertainty_ns: int | None = None

    @property
    def life(self) -> Life | None:
        return self.lives[-1] if self.lives else None

    def life_numbered(self, number: int) -> Life | None:
        return next((life for life in reversed(self.lives) if life.number == number), None)

    @property
    def running(self) -> bool:
        return self.state in ("starting", "alive", "paused")

    def alive_seconds(self, now_ns: int) -> float:
        open_ns = now_ns - self.alive_since if self.alive_since is not None else 0
        return (self.alive_ns + open_ns) / NS

    def latency_ms(self, quantile: float) -> float | None:
        return self.latency.quantile_ms(quantile)

    def service_ms(self) -> float | None:
        """How long its work took per message, on average (hand-over to done)."""
        return self.busy_ns / self.received / 1e6 if self.received else None
    def latency_trusted(self) -> bool:
        """Whether its latency can be shown: a remote worker's receive times are its clock moved
        onto ours, right within the offset's uncertainty; a latency whose error could be over a
        tenth of it is not shown (n/a) rather than shown wrong."""
        if self.clock_uncertainty_ns is None:
            return True
        p50 = self.latency.quantile_ms(0.5)
        return p50 is not None and self.clock_uncertainty_ns / 1e6 <= LATENCY_ERROR_SHARE * p50

    def busy_fraction(self, now_ns: int) -> float | None:
        alive_s = self.alive_seconds(now_ns)
        return None if alive_s <= 0 else min(1.0, self.busy_ns / NS / alive_s)

    def rate(self, now_ns: int) -> float:
        """Messages per second over the last full second."""
        current = now_ns // RATE_BUCKET_NS
        return float(self.rate_buckets.get(current - 1, 0) + self.rate_buckets.get(current - 2, 0))

    def rate_history(self, now_ns: int, points: int) -> list[float]:
        """Messages per second for each of the last ``points`` half-second buckets, oldest first."""
        current = now_ns // RATE_BUCKET_NS
        per_s = NS / RATE_BUCKET_NS
        return [self.rate_buckets.get(b, 0) * per_s for b in range(current - points, current)]


@dataclass
class PusherView:
    name: str
    pid: int = 0
    sent: int = 0
    blocked: bool = False
    peers: int = 0
    done: bool = False
    state: str = "starting"
    # (time, sent) checkpoints, to know which messages are older than the lost horizon
    checkpoints: deque[tuple[int, int]] = field(default_factory=deque)
    overdue: int = 0  # the messages below this seq were sent at least lost_after_s ago
    rate_buckets: dict[int, int] = field(default_factory=dict)
    links_to: tuple[str, ...] = ()
    # (time, sent) of the last few seconds of progress reports: what it had sent at a moment
    history: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=HISTORY_REPORTS))
    joined: bool = False  # it has had every peer it expects at once
    early: int = 0  # what it sent before that
    early_taken: dict[str, int] = field(default_factory=dict)  # worker -> its early messages (seqs below early)
    # Until it has joined, which messages are early is not known yet: seqs received meanwhile, by worker
    received_unjoined: dict[str, list[np.ndarray]] = field(default_factory=dict)
    kept_unjoined: int = 0  # how many seqs received_unjoined holds (up to EARLY_KEPT)
    jobs: str = ""  # its fingerprint of the jobs it drew for what it sent ("" when nothing is drawn)
    # Under a pattern that sends messages again: (time, seq below which every worker life had passed
    # its messages then), and that seq as it was a retry budget ago
    passed: deque[tuple[int, float]] = field(default_factory=deque)
    passed_budget_ago: float = 0

    def rate(self, now_ns: int) -> float:
        current = now_ns // RATE_BUCKET_NS
        return float(self.rate_buckets.get(current - 1, 0) + self.rate_buckets.get(current - 2, 0))

    def sent_after(self, t_ns: int) -> float:
        """What it had sent by its first report at or after ``t_ns`` (infinity: none yet)."""
        return next((count for when, count in self.history if when >= t_ns), float("inf"))

    def sent_at(self, t_ns: int) -> int:
        """What it had reported sent at ``t_ns`` (the latest report at or before it)."""
        sent = 0
        for when, count in self.history:
            if when > t_ns:
                break
            sent = count
        return sent


@dataclass
class Stranger:
    """A peer that connected to an endpoint of ours and is not one of our processes."""

    binder: str  # whose endpoint
    peer: str  # "pid N" or "host:port"
    connected_ns: int
    endpoint: str = ""  # its label: p1, b1.frontend
    disconnected_ns: int | None = None
    # A pusher's: what it had sent when the stranger came (a loss a dead worker of ours may have
    # had stays lost: see Model._note_lost).
    from_seq: int = 0
    took: int = 0  # lost messages of the window counted as strayed to it
    # Let in by address (--external-worker): a plain PULL taking its turns, shown as a worker
    # whose share is estimated (what it took, from the pusher's side), not as a stranger.
    admitted: bool = False


@dataclass
class Refused:
    """A peer whose handshake was refused: the first time, and how often it tried."""

    address: str
    t_ns: int
    why: str
    endpoint: str  # which socket: join, telemetry, control, or the process that binds it
    attempts: int = 1


@dataclass(frozen=True)
class Totals:
    sent: int
    delivered: int
    in_flight: int
    lost: int
    late: int
    duplicates: int
    foreign: int
    malformed: int
    completed: int  # messages whose work a worker finished (each once)
    strayed: int  # dealt to a stranger connected to a pusher, not lost
    retried: int = 0  # messages sent again (to another worker, or to a new broker life)
    given_up: int = 0  # messages whose every attempt failed (counted lost, unless done after all)


class Model:
    """Folds events; answers questions about workers, brokers, pushers, totals and the log."""

    def __init__(self, lost_after_s: float = 2.0) -> None:
        self.lost_after_ns = int(lost_after_s * NS)
        self.retry_budget_ns = 0  # the pattern's: a message every worker passed may still arrive this long after
        self.ledger = Ledger()
        self.setup: dict = {}
        self.endpoints: dict[str, str] = {}  # what is bound: label (p1, b1.backend) -> endpoint
        self.workers: dict[str, WorkerView] = {}  # receivers
        self.brokers: dict[str, WorkerView] = {}  # routers
        self.pushers: dict[str, PusherView] = {}  # senders
        self.roles: dict[str, str] = {}  # every process name -> its role
        self.links: set[frozenset[str]] = set()  # {a, b}: a connection is up between them
        self.ours: set[str] = set()  # who our processes are to a peer: "pid N", "host:port"
        self._unnamed: dict[tuple[str, str], tuple[int, str]] = {}  # (binder, peer) -> (when, endpoint): ours?
        self.strangers: list[Stranger] = []
        self.join_line = ""  # what a remote worker types to join, if the run listens
        # Handshakes refused (unknown keys, plain-text peers), one entry per host, reason and socket:
        # a refused ZeroMQ peer reconnects every 100 ms.
        self.refused: dict[tuple[str, str, str], Refused] = {}
        self.log: deque[LogEntry] = deque(maxlen=LOG_LENGTH)
        self.log_revision = 0  # bumped whenever an entry is added or updated
        self._log_serial = 0
        self._causes: dict[tuple, LogEntry] = {}  # one entry per cause, its count growing in place
        self.kinds: dict[str, str] = {}  # role -> kind (sender, router, receiver)
        # dead life -> messages that wait for its next life (its queue outlives it), per pusher
        self.queued_for_dead: dict[str, int] = {}
        self._next_held_count_ns = 0
        self.now_ns = 0
        self.started_ns: int | None = None
        self.first_send_ns: int | None = None
        self.last_delivery_ns: int | None = None
        self.late = 0
        self.foreign = 0
        self.malformed = 0
        self.wait = Durations()  # sent to work started, over every message done
        self.sojourn = Durations()  # sent to work done
        self.work_sizes = Durations()  # the work sizes the messages done carried (before a worker's speed)
        self.rate = 0.0
        self.strategy = ""  # a broker's, when there is one
        self.sending_held = False
        self.drained = False
        # Messages counted lost that arrived after all, not yet in the log: (pusher, worker) -> count.
        # Logged at most once a second, so a slow worker's backlog does not flood the log.
        self._recovered: dict[tuple[int, str], int] = {}
        self._recovered_noted_ns = 0
        self.all_linked_once = False
        self._early_senders: list[str] = []  # the pushers the slow-joiner line is about
        self._last_start_serial = 0  # the log's latest line that a process started
        self.version = 0  # bumped on every event, so a front end can skip unchanged frames
        self.counters: dict[tuple[str, int], dict[str, int]] = {}  # a pattern's own counts per (process, life)
        self.given_up_why: dict[str, int] = {}  # why messages were given up: "no-ack", "silent", "gone"
        self._retried_from: dict[tuple[str, int], dict[str, int]] = {}  # (router, life) -> its last word, by worker
        self.message_map = MessageMap()
        self._next_aging_ns = 0

    # ----------------------------------------------------------------- folding
    def apply(self, event: ev.Event) -> None:
        self.now_ns = max(self.now_ns, event.t_ns)
        self.version += 1
        handler = getattr(self, "_on_" + type(event).__name__, None)
        if handler is not None:
            handler(event)
        if self._unnamed:
            self._name_strangers()
        if not self.drained:
            self._age_undelivered()
            self._count_waiting()
        if self._recovered and (self.now_ns - self._recovered_noted_ns >= NS or isinstance(event, ev.Drained)):
            self._note_recovered()

    def _note(self, t_ns: int, kind: str, what: str, **facts: Any) -> LogEntry:
        self._log_serial += 1
        self.log_revision += 1
        entry = LogEntry(t_ns, kind, what, facts, self._log_serial, self.log_revision, t_ns)
        self.log.append(entry)
        if kind == "start":
            self._last_start_serial = entry.serial
        return entry

    def _rewrite(self, old: LogEntry, t_ns: int, **facts: Any) -> LogEntry:
        """Update ``old`` in place (same place in the log, new facts); if it has left the log, add it anew."""
        self.log_revision += 1
        new = replace(old, facts={**old.facts, **facts}, revision=self.log_revision, until_ns=t_ns)
        for i in range(len(self.log) - 1, -1, -1):
            if self.log[i] is old:
                self.log[i] = new
                return new
        self.log.append(new)
        return new

    def _note_cause(self, key: tuple, t_ns: int, kind: str, what: str, **facts: Any) -> LogEntry:
        """One entry per cause: the first time it is added, afterwards it is updated in place."""
        old = self._causes.get(key)
        entry = self._note(t_ns, kind, what, **facts) if old is None else self._rewrite(old, t_ns, **facts)
        self._causes[key] = entry
        return entry

    def _note_burst(self, t_ns: int, kind: str, what: str, first: dict[str, Any], **facts: Any) -> None:
        """A change made again soon after (a key pressed twelve times) updates the last line,
        keeping ``first`` (what it was before the burst) from the line's first write."""
        last = self.log[-1] if self.log else None
        if (last is not None and last.what == what and last.until_ns is not None and t_ns - last.until_ns < BURST_NS
                and last.facts.get("name") == facts.get("name")):  # the same worker's work, or the rate
            self._rewrite(last, t_ns, **facts)
        else:
            self._note(t_ns, kind, what, **first, **facts)

    def station(self, name: str) -> WorkerView | None:
        """The worker or broker called ``name``: what can be killed, paused and revived."""
        return self.workers.get(name) or self.brokers.get(name)

    def stations(self) -> list[WorkerView]:
        return [*self.brokers.values(), *self.workers.values()]

    def _on_RunStarted(self, e: ev.RunStarted) -> None:
        self.setup = dict(e.setup)
        self.endpoints = dict(e.endpoints)
        self.started_ns = e.t_ns
        self.rate = float(e.setup.get("rate", 0.0))
        self.strategy = str(e.setup.get("strategy", ""))
        self.lost_after_ns = int(float(e.setup.get("lost_after_s", self.lost_after_ns / NS)) * NS)
        self.retry_budget_ns = int(e.retry_budget_s * NS)
        self._note(e.t_ns, "info", "run-started", pattern=e.setup.get("pattern"), transport=e.setup.get("transport"),
                   endpoints=dict(e.endpoints))

    def _on_ProcessStarted(self, e: ev.ProcessStarted) -> None:
        self.endpoints.update(e.endpoints)
        self.ours.add(f"pid {e.pid}")
        self.roles[e.name] = e.role
        self.kinds[e.role] = e.kind
        if e.kind == SENDER:
            pusher = self.pushers.setdefault(e.name, PusherView(e.name))
            pusher.pid, pusher.state, pusher.links_to = e.pid, "starting", e.links_to
            self.ledger.pusher(pusher_index(e.name))
            self._note(e.t_ns, "start", "started", name=e.name, life=e.life, pid=e.pid, sender=True)
            return
        group = self.brokers if e.kind == ROUTER else self.workers
        worker = group.get(e.name)
        if worker is None:
            worker = group[e.name] = WorkerView(e.name, work_ms=e.work_ms, role=e.role, kind=e.kind)
        worker.work_ms, worker.speed, worker.links_to = e.work_ms, e.speed, e.links_to
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
        worker.state = "starting"
        worker.alive_since = e.t_ns
        self._note(e.t_ns, "start", "started", name=e.name, life=e.life, pid=e.pid)
        self._update_ready(worker)

    def _on_ProcessReady(self, e: ev.ProcessReady) -> None:
        pusher = self.pushers.get(e.name)
        if pusher is not None and pusher.state == "starting":
            pusher.state = "running"

    def _on_ProcessEnded(self, e: ev.ProcessEnded) -> None:
        if e.name in self.pushers:
            self.pushers[e.name].state = "ended" if e.how == "run-end" else e.how
            if e.how != "run-end":
                self._note(e.t_ns, "end", "ended", name=e.name, how=e.how, exit_code=e.exit_code)
            self._drop_links(e.name)
            return
        worker = self.station(e.name)
        life = worker.life_numbered(e.life) if worker else None
        if worker is None or life is None:
            return
        life.ended_ns, life.how_ended, life.exit_code, life.log_tail = e.t_ns, e.how, e.exit_code, e.log_tail
        if life is not worker.life:
            # An earlier incarnation reaped after its successor started (kill and revive at once).
            self._note(e.t_ns, "end", "ended", name=e.name, how=e.how, exit_code=e.exit_code, life=life.number,
                       pid=life.pid, earlier_life=True)
            return
        self._close_alive(worker, e.t_ns)
        self._drop_links(e.name)
        if e.how == "run-end":
            return  # the state a worker had when the run ended is what the report shows
        worker.state = e.how
        counted = {"routed": worker.routed, "held": worker.queued} if worker.kind == ROUTER else {"received": life.received}
        self._note(e.t_ns, "end", "ended", name=e.name, how=e.how, exit_code=e.exit_code, life=life.number,
                   pid=life.pid, **counted)
        worker.queued = worker.ready = 0  # a dead broker holds nothing and knows no one
        for line in e.log_tail:
            self._note(e.t_ns, "warn", "log-line", name=e.name, line=line)

    def _on_Listening(self, e: ev.Listening) -> None:
        self.join_line = e.join_line
        self._note(e.t_ns, "info", "listening", endpoint=e.endpoint, secure=e.secure)

    def _on_RemoteJoined(self, e: ev.RemoteJoined) -> None:
        worker = self.workers.get(e.name)
        if worker is None:
            return
        worker.remote_host, worker.remote_label = e.host, e.label
        worker.clock_uncertainty_ns = e.clock_uncertainty_ns
        self._note(e.t_ns, "start", "remote-joined", name=e.name, host=e.host, address=e.address, label=e.label,
                   uncertainty_ms=e.clock_uncertainty_ns / 1e6)

    def _on_ClockEstimated(self, e: ev.ClockEstimated) -> None:
        worker = self.workers.get(e.name)
        if worker is not None:
            worker.clock_uncertainty_ns = e.uncertainty_ns

    def _on_PeerRefused(self, e: ev.PeerRefused) -> None:
        host = e.address.rpartition(":")[0] or e.address
        key = (host.strip("[]"), e.why, e.endpoint)
        if key in self.refused:
            self.refused[key].attempts += 1
            return
        self.refused[key] = Refused(e.address, e.t_ns, e.why, e.endpoint)
        self._note(e.t_ns, "warn", "refused", address=e.address, why=e.why, endpoint=e.endpoint)

    def _drop_links(self, name: str) -> None:
        for link in [link for link in self.links if name in link]:
            self.links.discard(link)

    def _on_WorkerPaused(self, e: ev.WorkerPaused) -> None:
        worker = self.station(e.name)
        worker.state = "paused"
        worker.paused_ns, worker.held, worker.held_grew_ns = e.t_ns, 0, e.t_ns
        self._close_alive(worker, e.t_ns)
        self._note(e.t_ns, "pause", "paused", name=e.name, **({"remote": True} if worker.remote_host else {}))

    def _on_WorkerResumed(self, e: ev.WorkerResumed) -> None:
        worker = self.station(e.name)
        worker.state = "starting"
        worker.alive_since = e.t_ns
        worker.paused_ns = None
        self._update_ready(worker)
        self._note(e.t_ns, "pause", "resumed", name=e.name, **({"remote": True} if worker.remote_host else {}))

    def _on_WorkSet(self, e: ev.WorkSet) -> None:
        worker = self.workers[e.name]
        self._note_burst(e.t_ns, "info", "work-set", {"was_ms": worker.work_ms}, name=e.name, work_ms=e.work_ms)
        worker.work_ms = e.work_ms

    def _on_RateSet(self, e: ev.RateSet) -> None:
        self._note_burst(e.t_ns, "info", "rate-set", {"was": self.rate}, rate=e.rate)
        self.rate = e.rate

    def _on_StrategySet(self, e: ev.StrategySet) -> None:
        self.strategy = e.strategy
        self._note(e.t_ns, "info", "strategy-set", strategy=e.strategy)

    def _on_SendingHeld(self, e: ev.SendingHeld) -> None:
        self.sending_held = e.held
        self._note(e.t_ns, "info", "sending-held", held=e.held, for_good=e.for_good)

    def _running(self, name: str) -> bool:
        station = self.station(name)
        if station is not None:
            return station.running
        pusher = self.pushers.get(name)
        return pusher is not None and pusher.state in ("starting", "running")

    def _on_LinkChanged(self, e: ev.LinkChanged) -> None:
        if e.via:
            self.ours.add(e.via)
            self._unnamed.pop((e.b, e.via), None)
            # Named a stranger because its word came late (a machine too busy for 0.5 s): it is ours.
            self.strangers = [s for s in self.strangers if (s.binder, s.peer) != (e.b, e.via)]
        link = frozenset((e.a, e.b))
        if e.up == (link in self.links):
            return
        if e.up:
            if not (self._running(e.a) and self._running(e.b)):
                return  # a late report about a process that is already gone
            self.links.add(link)
        else:
            self.links.discard(link)
        key = ("links", e.up)
        wave = self._causes.get(key)
        if wave is not None and (e.t_ns - (wave.until_ns or wave.t_ns) >= LINK_FOLD_NS
                                 or self._last_start_serial > wave.serial):
            # A new wave of connections, told on a line of its own; so are those after a process
            # started (P): its line comes first, not after links to it told on an earlier line.
            del self._causes[key]
            wave = None
        pairs = [] if wave is None else wave.facts["pairs"]
        self._note_cause(key, e.t_ns, "link", "links", pairs=[*pairs, (e.a, e.b)], up=e.up)
        for name in (e.a, e.b):
            if (station := self.station(name)) is not None:
                self._update_ready(station)

    def _on_PeerChanged(self, e: ev.PeerChanged) -> None:
        if e.up:
            if e.peer not in self.ours:
                self._unnamed[(e.name, e.peer)] = (e.t_ns, e.endpoint)
            return
        self._unnamed.pop((e.name, e.peer), None)
        for stranger in self.strangers:
            if (stranger.binder, stranger.peer) == (e.name, e.peer) and stranger.disconnected_ns is None:
                stranger.disconnected_ns = e.t_ns
                if stranger.admitted:  # let in by address: a worker of the run that left, no warning
                    self._note(e.t_ns, "info", "external-worker-left", name=e.name, peer=e.peer)
                else:
                    self._note(e.t_ns, "warn", "stranger-left", name=e.name, peer=e.peer)

    def _name_strangers(self) -> None:
        """Peers still unnamed after the grace time are strangers."""
        labels = {endpoint: label for label, endpoint in self.endpoints.items()}
        for (binder, peer), (since, endpoint) in list(self._unnamed.items()):
            if peer in self.ours:
                del self._unnamed[(binder, peer)]
            elif self.now_ns - since >= STRANGER_GRACE_NS:
                del self._unnamed[(binder, peer)]
                pusher = self.pushers.get(binder)
                # Messages dealt from the moment it connected: what the pusher had sent then.
                from_seq = pusher.sent_at(since) if pusher else 0
                label = labels.get(endpoint, binder)
                admitted = bool(self.setup.get("external_worker")) and peer.rpartition(":")[0].strip("[]") == self.setup["external_worker"]
                self.strangers.append(Stranger(binder, peer, since, label, from_seq=from_seq,
                                               admitted=admitted))
                if admitted:
                    self._note(since, "start", "external-worker", name=binder, peer=peer, endpoint=label)
                else:
                    self._note_cause(("stranger", binder, peer), since, "warn", "stranger", name=binder, peer=peer,
                                     endpoint=label, sender=pusher is not None, took=0)

    def _on_SentProgress(self, e: ev.SentProgress) -> None:
        pusher = self.pushers.setdefault(e.pusher, PusherView(e.pusher))
        if pusher.state == "starting":
            pusher.state = "running"
        fresh = e.sent - pusher.sent
        if fresh > 0:
            if self.first_send_ns is None:
                self.first_send_ns = e.t_ns
            bucket = e.t_ns // RATE_BUCKET_NS
            pusher.rate_buckets[bucket] = pusher.rate_buckets.get(bucket, 0) + fresh
            _trim(pusher.rate_buckets, bucket)
            pusher.checkpoints.append((e.t_ns, e.sent))
            pusher.history.append((e.t_ns, e.sent))
        if e.sent >= pusher.sent:
            pusher.jobs = e.jobs
        pusher.sent = max(pusher.sent, e.sent)
        pusher.blocked, pusher.peers = e.blocked, e.peers
        if e.counters:
            self.counters[(e.pusher, 1)] = dict(e.counters)
        if e.done and not pusher.done:
            self._note(e.t_ns, "info", "sent-all", name=e.pusher, sent=e.sent)
        pusher.done = e.done
        self.ledger.pusher(pusher_index(e.pusher)).record_sent(e.sent)
        if e.joined and not pusher.joined:
            pusher.joined, pusher.early = True, e.early
            for worker_name, batches in pusher.received_unjoined.items():
                self._count_early(pusher, worker_name, np.concatenate(batches))
            pusher.received_unjoined, pusher.kept_unjoined = {}, 0
            self._check_slow_joiners(e.t_ns)

    def _on_RouterState(self, e: ev.RouterState) -> None:
        broker = self.brokers.get(e.name)
        if broker is None or broker.life is None or broker.life.number != e.life or not broker.running:
            return  # a report that left before its sender died says nothing about now
        fresh = e.routed - broker.routed
        if fresh > 0:
            bucket = e.t_ns // RATE_BUCKET_NS
            broker.rate_buckets[bucket] = broker.rate_buckets.get(bucket, 0) + fresh
            _trim(broker.rate_buckets, bucket)
            broker.received += fresh
            broker.life.received += fresh
        broker.queued, broker.ready, broker.routed = e.queued, e.ready, max(broker.routed, e.routed)
        broker.max_queued = max(broker.max_queued, e.queued)
        if e.counters:
            self.counters[(e.name, e.life)] = dict(e.counters)
        if e.retried_from:
            said = self._retried_from.setdefault((e.name, e.life), {})
            for name, count in e.retried_from.items():
                worker = self.workers.get(name)
                if worker is not None and count > said.get(name, 0):  # counts only grow: a stale report adds nothing
                    worker.retried += count - said.get(name, 0)
                    said[name] = count

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
        self._note(e.t_ns, "warn", "silent", name=e.peer, router=e.name, missed=e.missed, why=e.why,
                   requeued=e.requeued, to=list(e.to))

    def _on_GaveUp(self, e: ev.GaveUp) -> None:
        self.given_up_why[e.why] = self.given_up_why.get(e.why, 0) + len(e.seqs)
        if not e.seqs:
            return
        # One line per router, reason and number of attempts, its count growing (as for losses).
        key = ("gave-up", e.name, e.why, e.attempts)
        ranges = self._ranges_grown(key, e.pusher, np.sort(np.asarray(e.seqs, dtype=np.int64)))
        self._note_cause(key, e.t_ns, "lost", "gave-up", ranges=ranges, count=sum(r[2] for r in ranges.values()),
                         attempts=e.attempts, why=e.why, peer=e.peer)

    def _on_Waiting(self, e: ev.Waiting) -> None:
        worker = self.workers.get(e.name)
        if worker is None or worker.life is None or worker.life.number != e.life or worker.waiting == e.waiting:
            return
        worker.waiting = e.waiting
        self._note(e.t_ns, "link", "waiting", name=e.name, waiting=e.waiting, retry_s=e.retry_s)

    def kept(self) -> int:
        """Messages the running senders keep copies of until they are acknowledged (a pattern whose
        senders send again): while there are any, something may still arrive."""
        return sum(self.counters.get((p.name, 1), {}).get("kept", 0) for p in self.pushers.values()
                   if p.state in ("starting", "running"))

    def counter(self, key: str) -> int:
        """A pattern's own count, over every process and life: "retried", "given_up"..."""
        return sum(counts.get(key, 0) for counts in self.counters.values())

    def attempts(self) -> dict[int, int]:
        """Messages acknowledged, by how many hand-overs each took (a pattern that counts them)."""
        out: dict[int, int] = {}
        for counts in self.counters.values():
            for key, count in counts.items():
                if key.startswith("attempts_") and key[9:].isdigit():
                    out[int(key[9:])] = out.get(int(key[9:]), 0) + count
        return dict(sorted(out.items()))

    def _on_Deliveries(self, e: ev.Deliveries) -> None:
        worker = self.workers.get(e.worker)
        if worker is None or len(e.seqs) == 0:
            return
        life = worker.life_numbered(e.life)
        if life is None:
            return
        n = len(e.seqs)
        # Late: it waited for a process on its way that was dead when it was sent: this worker
        # life (a queue it inherited), or a broker between two lives (a queue kept for it).
        before_life = e.sent_ns < life.started_ns
        late = before_life.copy()
        router_down: dict[str, np.ndarray] = {}  # broker -> its messages sent while it was dead
        for broker in self.brokers.values():
            for before, after in zip(broker.lives, broker.lives[1:]):
                if before.ended_ns is not None:
                    down = (e.sent_ns >= before.ended_ns) & (e.sent_ns < after.started_ns) & ~late
                    if down.any():
                        router_down[broker.name] = router_down.get(broker.name, False) | down
                        late |= down
        single = e.pushers[0] == e.pushers[-1] and bool((e.pushers == e.pushers[0]).all())
        for index in [e.pushers[0]] if single else np.unique(e.pushers):
            mine = slice(None) if single else e.pushers == index
            seqs = e.seqs[mine]
            flags = self.ledger.pusher(int(index)).record_deliveries(seqs)
            if (pusher := self.pushers.get(pusher_name(int(index)))) is not None:
                self._take_early(e.t_ns, pusher, worker.name, seqs)
            life.caught_up[int(index)] = max(life.caught_up.get(int(index), 0), int(seqs.max()) + 1)
            worker.duplicates += int((~flags.first).sum())
            recovered = int(flags.was_lost.sum())
            if recovered:
                key = (int(index), e.worker)
                self._recovered[key] = self._recovered.get(key, 0) + recovered
            late_first = int((late[mine] & flags.first).sum())
            self.late += late_first
            worker.late += late_first
            if late_first:
                firsts = np.zeros(n, dtype=bool)
                firsts[np.flatnonzero(mine) if not single else slice(None)] = flags.first
                self._count_late(e.t_ns, worker, life, before_life & firsts, router_down, firsts)
        worker.received += n
        life.received += n
        if worker.state == "silent" and life is worker.life:
            worker.state = "alive"  # declared dead, and heard from after all
        self.message_map.record_deliveries(worker.name, life.number, e.pushers, e.recv_ns, late)
        # A batch's send times are when the messages left; a progress report comes after them.
        first = int(e.sent_ns.min())
        self.first_send_ns = first if self.first_send_ns is None else min(self.first_send_ns, first)
        done_ns = e.recv_ns if e.done_ns is None else e.done_ns
        self.last_delivery_ns = max(self.last_delivery_ns or 0, int(done_ns.max()))
        waited = e.recv_ns - e.sent_ns
        worker.latency.add(waited)
        if worker.queue is not None:
            worker.queue.add(e.pushers, e.sent_ns, e.recv_ns)
        worker.recent_latency.add(waited, e.t_ns)
        self.wait.add(waited)
        self.sojourn.add(done_ns - e.sent_ns)
        if e.work_us is not None:
            self.work_sizes.add(e.work_us * 1000)
        if e.done_ns is not None:
            worker.busy_ns += int((e.done_ns - e.recv_ns).sum())
            if life is worker.life:  # receipts of a life before it are history
                worker.overheads.add(e.sent_ns, e.recv_ns, e.done_ns)
        buckets = e.recv_ns // RATE_BUCKET_NS
        low = int(buckets.min())
        for offset, count in enumerate(np.bincount(buckets - low)):
            if count:
                worker.rate_buckets[low + offset] = worker.rate_buckets.get(low + offset, 0) + int(count)
        _trim(worker.rate_buckets, int(buckets.max()))
        tail = min(n, RECENT_IDS)
        worker.recent.extend(zip(e.pushers[-tail:].tolist(), e.seqs[-tail:].tolist()))

    def _on_ForeignPayloads(self, e: ev.ForeignPayloads) -> None:
        self.foreign += e.count
        if e.worker in self.workers:
            self.workers[e.worker].foreign += e.count
        # One line per worker, its count growing; expected traffic (--connect-pusher) is no warning.
        key = ("foreign", e.worker)
        before = self._causes[key].facts["count"] if key in self._causes else 0
        kind = "info" if self.setup.get("connect_pusher") else "warn"
        self._note_cause(key, e.t_ns, kind, "foreign", name=e.worker, count=before + e.count,
                         expected=bool(self.setup.get("connect_pusher")))

    def _on_MalformedTelemetry(self, e: ev.MalformedTelemetry) -> None:
        self.malformed += e.count
        self._note(e.t_ns, "warn", "malformed", reason=e.reason)

    def _on_ActionFired(self, e: ev.ActionFired) -> None:
        self._note(e.t_ns, "action", "action", description=e.description)

    def _on_Drained(self, e: ev.Drained) -> None:
        newly = self.ledger.drain()
        self._note_lost(e.t_ns, newly, "undelivered")
        self.drained = True
        self.queued_for_dead = {}

    # ----------------------------------------------------------------- helpers
    def _close_alive(self, worker: WorkerView, t_ns: int) -> None:
        if worker.alive_since is not None:
            worker.alive_ns += t_ns - worker.alive_since
            worker.alive_since = None

    def _peers_expected(self, name: str, links_to: tuple[str, ...]) -> list[str]:
        """The running processes of the roles ``name`` must be connected with."""
        return [peer for peer, role in self.roles.items() if role in links_to and peer != name and self._running(peer)]

    def _update_ready(self, worker: WorkerView) -> None:
        if worker.state != "starting":
            return
        peers = self._peers_expected(worker.name, worker.links_to)
        if peers and all(frozenset((worker.name, peer)) in self.links for peer in peers):
            worker.state = "alive"

    def _check_slow_joiners(self, t_ns: int) -> None:
        """Once every pusher has had all its expected peers at once: did any send before that?"""
        if self.all_linked_once or not all(p.joined for p in self.pushers.values()):
            return
        self.all_linked_once = True
        early = {p.name: p.early for p in self.pushers.values() if p.early}
        running = [w for w in self.workers.values() if w.running]
        if not early or len(running) < 2:
            return
        self._early_senders = list(early)
        self._note_cause(("slow-joiner",), t_ns, "warn", "slow-joiner", senders=list(early), count=sum(early.values()),
                         workers=len(running), taken=self._early_taken())

    def _take_early(self, t_ns: int, pusher: PusherView, worker: str, seqs: np.ndarray) -> None:
        """Which worker got a pusher's early messages: its receipts of seqs below ``early``,
        kept until the pusher has joined (only then is ``early`` known), counted after."""
        if not pusher.joined:
            if pusher.kept_unjoined < EARLY_KEPT:
                pusher.received_unjoined.setdefault(worker, []).append(seqs)
                pusher.kept_unjoined += len(seqs)
        elif pusher.early and self._count_early(pusher, worker, seqs) and pusher.name in self._early_senders:
            self._note_cause(("slow-joiner",), t_ns, "warn", "slow-joiner", taken=self._early_taken())

    @staticmethod
    def _count_early(pusher: PusherView, worker: str, seqs: np.ndarray) -> int:
        taken = int(np.count_nonzero(seqs < pusher.early))
        if taken:
            pusher.early_taken[worker] = pusher.early_taken.get(worker, 0) + taken
        return taken

    def _early_taken(self) -> dict[str, int]:
        """The slow-joiner line's pushers' early messages received so far, by worker, most first."""
        taken: dict[str, int] = {}
        for pusher in (self.pushers[name] for name in self._early_senders):
            for worker, count in pusher.early_taken.items():
                taken[worker] = taken.get(worker, 0) + count
        return dict(sorted(taken.items(), key=lambda item: -item[1]))

    def _age_undelivered(self) -> None:
        """Live view: an undelivered message is lost once it is lost_after_s old and no worker
        life can still deliver it: each running one (and each that ended less than lost_after_s
        ago, whose last receipts may still be on their way) has received a later message from
        its pusher, or was started after it was sent.  A pipe is first in, first out, so it was
        dealt to none of them: it went to a worker that died (or was dropped).  A message waiting
        behind a slow or paused worker's queue is in flight, however old."""
        if self.now_ns < self._next_aging_ns:
            return
        self._next_aging_ns = self.now_ns + AGING_INTERVAL_NS
        horizon = self.now_ns - self.lost_after_ns
        newly: dict[int, np.ndarray] = {}
        for pusher in self.pushers.values():
            while pusher.checkpoints and pusher.checkpoints[0][0] <= horizon:
                pusher.overdue = pusher.checkpoints.popleft()[1]
            index = pusher_index(pusher.name)
            ledger = self.ledger.pusher(index)
            if self.retry_budget_ns:  # when every worker passed a message counts: noted whether or not it is overdue
                passed = self._caught_up_everywhere(index, horizon)
                passed = min(passed, self._passed_budget_ago(pusher, passed))
            elif pusher.overdue <= ledger.lost_scan:
                continue
            else:
                passed = self._caught_up_everywhere(index, horizon)
            boundary = min(pusher.overdue, passed)
            if boundary > ledger.lost_scan:
                newly[index] = ledger.declare_lost_below(boundary)
        self._note_lost(self.now_ns, newly, "overdue")

    def _passed_budget_ago(self, pusher: PusherView, passed_now: float) -> float:
        """Under a pattern that sends messages again, a message every worker has passed may still
        come (its retry): the seq below which every worker had passed its messages a retry budget
        ago.  Counted from when they passed it, not from when it was sent: it may have waited in a
        broker's queue before its first hand-over."""
        if not pusher.passed or pusher.passed[-1][1] != passed_now:
            pusher.passed.append((self.now_ns, passed_now))
        while pusher.passed and pusher.passed[0][0] <= self.now_ns - self.retry_budget_ns:
            pusher.passed_budget_ago = pusher.passed.popleft()[1]
        return pusher.passed_budget_ago

    def _caught_up_everywhere(self, index: int, ended_after_ns: int) -> float:
        """The lowest seq of pusher ``index`` that some worker life may still deliver."""
        lives = [life for w in self.workers.values() for life in w.lives
                 if (life is w.lives[-1] and (w.running or life.queue_outlives)) or (life.ended_ns or 0) > ended_after_ns]
        return min((life.caught_up.get(index, 0) for life in lives), default=float("inf"))

    def _count_waiting(self) -> None:
        if self.now_ns < self._next_held_count_ns:
            return
        self._next_held_count_ns = self.now_ns + HELD_COUNT_INTERVAL_NS
        self._count_queued_for_dead()
        for worker in self.workers.values():
            if worker.state == "paused" and worker.life is not None:
                self._count_held_while_paused(worker)

    def _count_held_while_paused(self, worker: WorkerView) -> None:
        """A paused worker fed by a sender: its pipe is first in, first out, so what it was dealt
        is what it has not received and every other running worker has passed.  Once that stops
        growing for a second while the others still receive, its pipe is full and the sender's
        round robin skips it: say so once, the count growing in place."""
        if self._fed_by(worker) != SENDER:
            return
        others = [w.life for w in self.workers.values() if w.running and w.state != "paused" and w.life]
        if not others:
            return
        held = 0
        for index, ledger in self.ledger.pushers.items():
            passed = min(life.caught_up.get(index, 0) for life in others)
            held += ledger.undelivered_between(max(worker.life.caught_up.get(index, 0), ledger.lost_scan), passed)
        if held > worker.held:
            worker.held, worker.held_grew_ns = held, self.now_ns
        key = ("pipe-full", worker.name, worker.paused_ns)
        if held and (key in self._causes or self.now_ns - worker.held_grew_ns >= NS):
            self._note_cause(key, worker.held_grew_ns, "pause", "pipe-full", name=worker.name, held=worker.held,
                             sndhwm=self.setup.get("sndhwm"), rcvhwm=self.setup.get("rcvhwm"))

    def _count_queued_for_dead(self) -> None:
        """Live view: how many messages wait in a queue kept for a dead worker's next life.  A pipe
        is first in, first out: an undelivered message that every running life has passed, and
        that is not lost, waits for a dead life whose queue outlives it."""
        dead = [w for w in self.workers.values() if not w.running and w.life is not None and w.life.queue_outlives]
        if not dead:
            self.queued_for_dead = {}
            return
        waiting = 0
        for index, ledger in self.ledger.pushers.items():
            passed = min((w.life.caught_up.get(index, 0) for w in self.workers.values() if w.running and w.life),
                         default=ledger.sent)
            waiting += ledger.undelivered_between(ledger.lost_scan, passed)
        names = ", ".join(w.name for w in dead)
        self.queued_for_dead = {names: waiting} if waiting else {}
        if waiting:
            key = ("kept", tuple((w.name, w.life.number) for w in dead))
            self._note_cause(key, self.now_ns, "info", "kept", names=names, count=waiting)

    def _note_recovered(self) -> None:
        for (index, worker), count in self._recovered.items():
            key = ("arrived-after-all", index, worker)
            before = self._causes[key].facts["count"] if key in self._causes else 0
            self._note_cause(key, self.now_ns, "info", "arrived-after-all", pusher=pusher_name(index), name=worker,
                             count=before + count)
        self._recovered.clear()
        self._recovered_noted_ns = self.now_ns

    def _note_lost(self, t_ns: int, newly: dict[int, np.ndarray], why: str) -> None:
        """``why``: "overdue" (live view) or "undelivered" (the run is over).  Each lost message is
        traced to the ended lives it may have been dealt to, one log line per cause.  One that no
        ended life can have had, sent while a stranger was connected to its pusher, is counted as
        strayed instead (every running worker has had a later message: that is why it is lost);
        one a dead life may have had stays lost, since either may have taken it."""
        for index, seqs in newly.items():
            for lives, dealt in self._dealt_to(index, seqs):
                if not lives:
                    dealt = self._stray(index, dealt)
                if len(dealt):
                    self._count_lost(t_ns, index, lives, dealt, why)

    def _dealt_to(self, index: int, seqs: np.ndarray) -> list[tuple[tuple[tuple[WorkerView, Life], ...], np.ndarray]]:
        """Lost ``seqs`` of pusher ``index``, grouped by the ended lives each may have been dealt to.

        A life was dealt a message if it was sent after the life could first get it (for a life
        that inherits no backlog, from what was sent when it started), not before the life's last
        delivery from that pusher (a pipe is first in, first out: an earlier one it did not get
        went elsewhere), and not after its sender could have seen it die (or, if its queue outlives
        it, before its next life started).  One candidate is the answer; several are named."""
        if not len(seqs):
            return []
        pusher = self.pushers.get(pusher_name(index))
        candidates: list[tuple[WorkerView, Life, int, float]] = []
        for station in self.stations():
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
        for value in np.unique(code).tolist():
            lives = tuple((station, life) for bit, (station, life, _, _) in enumerate(kept) if value >> bit & 1)
            groups.append((lives, seqs[code == value]))
        return groups

    def _count_lost(self, t_ns: int, index: int, lives: tuple[tuple[WorkerView, Life], ...], seqs: np.ndarray,
                    why: str) -> None:
        """Add ``seqs`` to the one log line of their cause: the lives they were dealt to (none known:
        why they count as lost)."""
        if lives:
            key: tuple = ("lost", tuple((station.name, life.number) for station, life in lives))
            station = lives[0][0]
            for dead, life in lives:  # several: it was dealt to one of them; each row shows it
                self.message_map.record_lost(dead.name, life.number, life.ended_ns or t_ns, len(seqs))
            facts: dict[str, Any] = {
                "lives": [(s.name, life.number, life.how_ended) for s, life in lives],
                "station_kind": station.kind,
                "fed_by": self._fed_by(station),
                "queue_outlives": all(life.queue_outlives for _, life in lives),
                "revived": all(life is not s.lives[-1] for s, life in lives),
            }
        else:
            key, facts = ("lost", why), {"why": why}
        ranges = self._ranges_grown(key, index, seqs)
        self._note_cause(key, t_ns, "lost", "lost", **facts, count=sum(r[2] for r in ranges.values()), ranges=ranges)

    def _ranges_grown(self, key: tuple, index: int, seqs: np.ndarray) -> dict[str, tuple[int, int, int, int]]:
        """The id ranges of cause ``key``'s line, per pusher, with pusher ``index``'s sorted ``seqs`` added."""
        old = self._causes.get(key)
        ranges = dict(old.facts["ranges"]) if old else {}
        name = pusher_name(index)
        ranges[name] = _grown_range(ranges.get(name), seqs)
        return ranges

    def _count_late(self, t_ns: int, worker: WorkerView, life: Life, before_life: np.ndarray,
                    router_down: dict[str, np.ndarray], firsts: np.ndarray) -> None:
        """One log line per cause of lateness, its count growing: a queue kept for this life while
        its worker was dead (or, from a router, sent before this life started), or a router that
        was dead when they were sent."""
        causes = [(("late", worker.name, life.number), int(before_life.sum()),
                   {"name": worker.name, "life": life.number, "fed_by": self._fed_by(worker)})]
        causes += [(("late", worker.name, life.number, router), int((down & firsts).sum()),
                    {"name": worker.name, "life": life.number, "fed_by": ROUTER, "router": router})
                   for router, down in router_down.items()]
        for key, count, facts in causes:
            if count:
                before = self._causes[key].facts["count"] if key in self._causes else 0
                self._note_cause(key, t_ns, "info", "late", **facts, count=before + count)

    def _fed_by(self, station: WorkerView) -> str:
        """The kind of process that hands ``station`` its messages: a sender (PUSH) or a router."""
        kinds = [self.kinds.get(role, "") for role in station.links_to]
        return ROUTER if ROUTER in kinds and station.kind != ROUTER else SENDER

    def _stray(self, index: int, seqs: np.ndarray) -> np.ndarray:
        """Count the lost ``seqs`` a stranger took as strayed; return the rest."""
        name = pusher_name(index)
        for stranger in self.strangers:
            if stranger.binder != name or not len(seqs):
                continue
            end = float("inf")
            if stranger.disconnected_ns is not None:
                # It reported the stranger gone before its next progress report: that one bounds
                # what was sent while the stranger was there.
                end = self.pushers[name].sent_after(stranger.disconnected_ns)
            taken = (seqs >= stranger.from_seq) & (seqs < end)
            if taken.any():
                self.ledger.pusher(index).mark_strayed(seqs[taken])
                stranger.took += int(np.count_nonzero(taken))
                if not stranger.admitted:  # an admitted plain PULL is a worker: what it takes is no warning
                    self._note_cause(("stranger", stranger.binder, stranger.peer), self.now_ns, "warn", "stranger",
                                     took=stranger.took)
                seqs = seqs[~taken]
        return seqs

    # ----------------------------------------------------------------- questions
    def totals(self) -> Totals:
        ledger = self.ledger
        return Totals(
            sent=ledger.sent,
            delivered=ledger.delivered_unique,
            in_flight=ledger.in_flight,
            lost=ledger.lost,
            late=self.late,
            duplicates=ledger.duplicates,
            foreign=self.foreign,
            malformed=self.malformed,
            # A worker reports a message once its work is done: what was delivered was done.
            completed=ledger.delivered_unique,
            strayed=ledger.strayed,
            retried=self.counter("retried"),
            given_up=self.counter("given_up"),
        )

    def external_workers(self) -> list[Stranger]:
        """Plain PULLs let in by address: what each took is estimated from its pusher's side."""
        return [s for s in self.strangers if s.admitted]

    def _taken_by_all(self) -> int:
        """What our workers received and the let-in plain PULLs are estimated to have taken: one
        denominator for every share, so that they add up to 100%."""
        return sum(w.received for w in self.workers.values()) + sum(s.took for s in self.external_workers())

    def external_share(self, external: Stranger) -> float:
        total = self._taken_by_all()
        return external.took / total if total else 0.0

    def share(self, worker: WorkerView) -> float:
        total = self._taken_by_all()
        return worker.received / total if total and worker.kind == RECEIVER else 0.0

    def fairness(self) -> float | None:
        """Jain's index over received per second alive (1.0 = perfectly even)."""
        rates = [w.received / s for w in self.workers.values() if (s := w.alive_seconds(self.now_ns)) > 0]
        if not rates or not any(rates):
            return None
        return sum(rates) ** 2 / (len(rates) * sum(r * r for r in rates))

    def longest_queue(self) -> tuple[int, str] | None:
        """(messages, where): the most messages seen waiting at one worker or router, or None
        when no station's queue is known."""
        seen = [(w.queue.max, w.name) for w in self.workers.values() if w.queue is not None]
        seen += [(b.max_queued, b.name) for b in self.brokers.values()]
        return max(seen, key=lambda pair: pair[0]) if seen else None

    def elapsed_s(self) -> float:
        return (self.now_ns - self.started_ns) / NS if self.started_ns is not None else 0.0

    def throughput_window_s(self) -> float:
        """From the first send to the last delivery: what the throughput is counted over."""
        if self.first_send_ns is None or self.last_delivery_ns is None:
            return 0.0
        return max(0, self.last_delivery_ns - self.first_send_ns) / NS

    def throughput(self) -> float:
        window = self.throughput_window_s()
        return self.ledger.delivered_unique / window if window > 0 else 0.0

    def service_ms(self) -> float | None:
        """How long a worker's work took per message, on average over every message done."""
        received = sum(w.received for w in self.workers.values())
        return sum(w.busy_ns for w in self.workers.values()) / received / 1e6 if received else None

    def overheads(self) -> Overheads:
        """Every worker's overheads together."""
        total = Overheads()
        for worker in self.workers.values():
            for name in ("handover_ns", "handovers", "transit_ns", "transits"):
                setattr(total, name, getattr(total, name) + getattr(worker.overheads, name))
        return total


def _grown_range(old: tuple[int, int, int, int] | None, seqs: np.ndarray) -> tuple[int, int, int, int]:
    """(first, last, count, step) of sorted ids, grown by ``seqs``: ``step`` is the gap between
    every two neighbours when it is always the same (every 3rd), 0 when it is not, -1 for one id."""
    first, last, count = int(seqs[0]), int(seqs[-1]), len(seqs)
    gaps = np.unique(np.diff(seqs)).tolist()
    steps = set(gaps)
    if old is not None:
        steps |= {first - old[1]} | ({old[3]} if old[3] >= 0 else set())
        first, count = old[0], old[2] + count
    step = -1 if count == 1 else (steps.pop() if len(steps) == 1 else 0)
    return first, last, count, step


def _trim(buckets: dict[int, int], newest: int) -> None:
    for old in [b for b in buckets if b <= newest - RATE_BUCKETS]:
        del buckets[old]

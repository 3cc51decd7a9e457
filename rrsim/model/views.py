"""What the model knows about each process, connection and peer: records the fold keeps and
front ends read, the roster that holds them, and the constants they are measured by."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rrsim import events as ev
from rrsim.kinds import RECEIVER, ROUTER, SENDER
from rrsim.model.distribution import Binned, Durations, RecentDurations
from rrsim.model.overheads import Overheads
from rrsim.model.queue_depth import QueueDepth
from rrsim.names import name_number, process_name

NS = 1_000_000_000
HISTORY_REPORTS = 1000  # a pusher reports at most every 10 ms: 10 s of them
# A remote worker (not our child) can also have left on its own, or fallen silent (lost contact).
WORKER_STATES = ("starting", "alive", "paused", "stopped", "killed", "crashed", "silent", "left", "lost contact")
LATENCY_WINDOW_S = 10  # the live view's latency: the last 10 s (the report has the whole run)
RECENT_IDS = 24
LATENCY_ERROR_SHARE = 0.1  # a remote worker's latency is shown if its clock's uncertainty is within this share of it
RATE_BUCKET_NS = NS // 2
RATE_BUCKETS = 120  # one minute of history

def pusher_name(index: int) -> str:
    """The pusher whose number message headers carry (``p3`` for 3)."""
    return process_name("p", index)


def pusher_index(name: str) -> int:
    return name_number(name)


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
    latency: Durations = field(default_factory=Durations)  # sent to received (= work started); a program's: none
    sojourn: Durations = field(default_factory=Durations)  # sent to work done
    # the last seconds' latency (a program's: its sojourn)
    recent_latency: RecentDurations = field(default_factory=lambda: RecentDurations(LATENCY_WINDOW_S))
    busy_ns: int = 0  # time spent working on the messages it has done
    overheads: Overheads = field(default_factory=lambda: Overheads())
    # delivered (routed, for a broker) per half-second bucket: bucket index -> count
    rate_buckets: dict[int, int] = field(default_factory=dict)
    # The last rate_history read, (current bucket, points, rates): the buckets before the current
    # one seldom change, and the live view reads every worker's many times a second.
    history_read: tuple[int, int, list[float]] | None = field(default=None, repr=False, compare=False)
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
    waiting_until_ns: int = 0  # while waiting: when it connects again (its back-off's end)
    # The most messages waiting for it, known only when a message is dealt to it as it is sent
    # (None: dealt to it later, by a router, whose own queue is ``max_queued``).
    queue: QueueDepth | None = None
    max_queued: int = 0  # a router: the most messages it said it held
    queued_peaks: dict[int, int] = field(default_factory=dict)  # a router: the most it said it held per 100 ms slot
    max_held: int | None = None  # fed by a router: the most messages it said this worker held at once
    # Paused: since when, how many messages wait in its pipe (dealt to it, passed by every other
    # running worker), and when that last grew
    paused_ns: int | None = None
    held: int = 0
    held_grew_ns: int = 0
    # A worker on another machine (rrsim worker --join): its host, and how far its clock can be trusted
    remote_host: str = ""
    remote_label: str = ""
    clock_uncertainty_ns: int | None = None
    # The user's program (worker_cmd), as typed: only when a message came back is seen, so its
    # latency is a sojourn (sent to done) and its wait and service are not measured.
    program: str = ""

    @property
    def max_queue(self) -> int | None:
        """The most messages seen waiting for it behind the one it worked on: worked out from its
        receipts when it is dealt messages as they are sent, else (behind a router) from what the
        router handed it and it had not done; None while neither is known."""
        if self.queue is not None:
            return self.queue.max
        return None if self.max_held is None else max(0, self.max_held - 1)

    @property
    def life(self) -> Life | None:
        return self.lives[-1] if self.lives else None

    def life_numbered(self, number: int) -> Life | None:
        return next((life for life in reversed(self.lives) if life.number == number), None)

    @property
    def running(self) -> bool:
        return self.state in ("starting", "alive", "paused")

    def close_alive(self, t_ns: int) -> None:
        """It stops running (paused or ended) at ``t_ns``: its time alive so far is counted."""
        if self.alive_since is not None:
            self.alive_ns += t_ns - self.alive_since
            self.alive_since = None

    def alive_seconds(self, now_ns: int) -> float:
        open_ns = now_ns - self.alive_since if self.alive_since is not None else 0
        return (self.alive_ns + open_ns) / NS

    def latency_ms(self, quantile: float) -> float | None:
        return self.latency.quantile_ms(quantile)

    def service_ms(self) -> float | None:
        """How long its work took per message, on average (hand-over to done); None for a program."""
        return self.busy_ns / self.received / 1e6 if self.received and not self.program else None

    def latency_trusted(self) -> bool:
        """Whether its latency can be shown: a remote worker's receive times are its clock moved
        onto ours, right within the offset's uncertainty; a latency whose error could be over a
        tenth of it is not shown (n/a) rather than shown wrong."""
        if self.clock_uncertainty_ns is None:
            return True
        p50 = self.latency.quantile_ms(0.5)
        return p50 is not None and self.clock_uncertainty_ns / 1e6 <= LATENCY_ERROR_SHARE * p50

    def busy_fraction(self, now_ns: int) -> float | None:
        if self.program:
            return None  # when it works is not seen
        alive_s = self.alive_seconds(now_ns)
        return None if alive_s <= 0 else min(1.0, self.busy_ns / NS / alive_s)

    def rate(self, now_ns: int) -> float:
        """Messages per second over the last full second."""
        current = now_ns // RATE_BUCKET_NS
        return float(self.rate_buckets.get(current - 1, 0) + self.rate_buckets.get(current - 2, 0))

    def rate_history(self, now_ns: int, points: int) -> list[float]:
        """Messages per second for each of the last ``points`` half-second buckets, oldest first."""
        current = now_ns // RATE_BUCKET_NS
        if self.history_read is not None and self.history_read[:2] == (current, points):
            return self.history_read[2]
        per_s = NS / RATE_BUCKET_NS
        rates = [self.rate_buckets.get(b, 0) * per_s for b in range(current - points, current)]
        self.history_read = (current, points, rates)
        return rates

    def note_waiting(self, waiting: bool, until_ns: int) -> bool:
        """Its router fell silent and it connects again at ``until_ns`` (a back-off doubles each
        time), or it spoke again; True when that changes whether it waits."""
        self.waiting_until_ns = until_ns if waiting else 0
        changed, self.waiting = self.waiting != waiting, waiting
        return changed

    def add_receipts(self, e: ev.Deliveries, waits: Binned, sojourns: Binned, current_life: bool) -> None:
        """A batch of its receipts: how long they waited, its queue, how busy it was, its rate and
        the latest ids (``current_life``: of its latest life, not one before it).  A program's
        receive time is when the message came back: ``waits`` are then its sojourns."""
        if not self.program:
            self.latency.add_binned(waits)
        self.sojourn.add_binned(sojourns)
        if self.queue is not None:
            self.queue.add(e.pushers, e.sent_ns, e.recv_ns)
        self.recent_latency.add_binned(waits, e.t_ns)
        if e.done_ns is not None:
            self.busy_ns += int((e.done_ns - e.recv_ns).sum())
            if current_life:  # receipts of a life before it are history
                self.overheads.add(e.sent_ns, e.recv_ns, e.done_ns, e.t_ns)
        buckets = e.recv_ns // RATE_BUCKET_NS
        low = int(buckets.min())
        if self.history_read is not None and low < self.history_read[0]:
            self.history_read = None  # a late receipt changes a bucket already read
        for offset, count in enumerate(np.bincount(buckets - low).tolist()):
            if count:
                self.rate_buckets[low + offset] = self.rate_buckets.get(low + offset, 0) + count
        trim_buckets(self.rate_buckets, int(buckets.max()))
        tail = min(len(e.seqs), RECENT_IDS)
        self.recent.extend(zip(e.pushers[-tail:].tolist(), e.seqs[-tail:].tolist(), strict=True))


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
    # A sender that picks each receiver itself: per receiver, the load it ranks it by, and its own
    # messages not yet done there (the latest report)
    believed: dict[str, int] = field(default_factory=dict)
    outstanding: dict[str, int] = field(default_factory=dict)
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


class Roster:
    """Every process of the run by name and kind: workers (receivers), brokers (routers) and
    pushers (senders), and what each role is.  The dicts are filled in place, never replaced, so
    the model's parts can hold them."""

    def __init__(self) -> None:
        self.workers: dict[str, WorkerView] = {}  # receivers
        self.brokers: dict[str, WorkerView] = {}  # routers
        self.pushers: dict[str, PusherView] = {}  # senders
        self.roles: dict[str, str] = {}  # every process name -> its role
        self.kinds: dict[str, str] = {}  # role -> kind (sender, router, receiver)
        self._retried_from: dict[tuple[str, int], dict[str, int]] = {}  # (router, life) -> its last word, by worker

    def station(self, name: str) -> WorkerView | None:
        """The worker or broker called ``name``: what can be killed, paused and revived."""
        return self.workers.get(name) or self.brokers.get(name)

    def stations(self) -> list[WorkerView]:
        return [*self.brokers.values(), *self.workers.values()]

    def running(self, name: str) -> bool:
        station = self.station(name)
        if station is not None:
            return station.running
        pusher = self.pushers.get(name)
        return pusher is not None and pusher.state in ("starting", "running")

    def note_retried(self, router: tuple[str, int], retried_from: dict[str, int]) -> None:
        """A router life's count of the messages it took back from each worker and handed on again."""
        said = self._retried_from.setdefault(router, {})
        for name, count in retried_from.items():
            worker = self.workers.get(name)
            if worker is not None and count > said.get(name, 0):  # counts only grow: a stale report adds nothing
                worker.retried += count - said.get(name, 0)
                said[name] = count

    def note_held(self, held_by: dict[str, int]) -> None:
        """A router's word on the most messages each worker held at once (handed, not yet done)."""
        for name, held in held_by.items():
            if (worker := self.workers.get(name)) is not None:
                worker.max_held = max(worker.max_held or 0, held)

    def fed_by(self, station: WorkerView) -> str:
        """The kind of process that hands ``station`` its messages: a sender (PUSH) or a router."""
        kinds = [self.kinds.get(role, "") for role in station.links_to]
        return ROUTER if ROUTER in kinds and station.kind != ROUTER else SENDER

    def dealt_between(self) -> bool:
        """Whether every message passes a process between senders and receivers (which keeps them
        in its queue and hands each over), rather than being dealt by a sender straight to a
        receiver: no sender links to a receiver's role, nor a receiver to a sender's."""
        if not self.pushers or not self.workers:
            return False
        roles = {kind: {role for role, of in self.kinds.items() if of == kind} for kind in (SENDER, RECEIVER)}
        return not (any(roles[RECEIVER] & set(p.links_to) for p in self.pushers.values())
                    or any(roles[SENDER] & set(w.links_to) for w in self.workers.values()))

    def peers_expected(self, name: str, links_to: tuple[str, ...]) -> list[str]:
        """The running processes of the roles ``name`` must be connected with."""
        return [peer for peer, role in self.roles.items() if role in links_to and peer != name and self.running(peer)]


def count_in_buckets(buckets: dict[int, int], bucket: int, count: int) -> None:
    """Add ``count`` to a half-second rate bucket, forgetting those older than the history kept."""
    buckets[bucket] = buckets.get(bucket, 0) + count
    trim_buckets(buckets, bucket)


def trim_buckets(buckets: dict[int, int], newest: int) -> None:
    for old in [b for b in buckets if b <= newest - RATE_BUCKETS]:
        del buckets[old]

"""Frames: immutable copies of what each screen region shows, read from the model in one go.

The screen reads a frame while holding the engine lock, then lets go and hands each widget
its part.  Frames are frozen dataclasses, so a widget whose part did not change (equal
value) is not repainted.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import cache

from rrsim import patterns
from rrsim.endpoints import is_loopback, parse_listen
from rrsim.errors import UserError
from rrsim.kinds import RECEIVER
from rrsim.model.model import ROUTER, LogEntry, Model, Stranger, Totals, WorkerView
from rrsim.model.stats import BeliefGap, belief_gaps, recent_handover, share, worker_share

RATE_POINTS = 80  # half-second buckets kept for a sparkline: 40 s, wider than any tile


@dataclass(frozen=True)
class WorkerFrame:
    """A worker's tile, or a broker's (``router``: it routes rather than receives)."""

    name: str
    state: str
    pid: int | None
    life: int
    received: int  # by every life
    share: float
    rate: float
    rates: tuple[float, ...]  # messages/s per half second, oldest first
    peak: float  # the highest rate any worker had: one scale for every sparkline
    p50_ms: float | None
    p99_ms: float | None
    work_ms: float
    late: int
    duplicates: int
    recent: tuple[tuple[int, int], ...]  # (pusher index, seq), oldest first
    router: bool = False
    queued: int = 0  # a broker: messages it holds
    ready: int = 0  # a broker: workers ready for a message
    speed: float = 1.0  # a worker's: its work per message is divided by it
    waiting: bool = False  # a worker whose broker fell silent: it waits to connect again
    life_received: int = 0  # by this life
    remote_host: str = ""  # a worker on another machine (rrsim worker --join), not our child
    latency_trusted: bool = True  # False: its clock offset is too uncertain to show latency
    foreign: int = 0  # payloads without rrsim's header: a plain pusher's (--connect-pusher), or garbage
    estimated: bool = False  # a plain PULL let in by address: no telemetry, its count is estimated
    retried: int = 0  # messages it held and did not acknowledge in time, handed over again by a router
    program: bool = False  # it runs the user's program: p50/p99 are its sojourn, wait and service not seen
    # a router: the workers' median hand-over of the last seconds (done to the next message, when one waited)
    handover_ms: float | None = None


@dataclass(frozen=True)
class PusherFrame:
    name: str
    state: str
    pid: int
    sent: int
    rate: float
    blocked: bool
    peers: int
    done: bool
    strangers: int = 0  # peers connected to it now that are not ours
    gap: BeliefGap | None = None  # a sender that picks its receivers: where its belief is furthest from the truth


@dataclass(frozen=True)
class TopologyFrame:
    scenario: str
    pattern: str
    transport: str
    bind: str
    sndhwm: int
    rcvhwm: int
    immediate: bool
    binders: tuple[tuple[str, str], ...]  # (name, endpoint) of every socket that binds
    strangers: tuple[tuple[str, str], ...] = ()  # (whose endpoint, peer) connected now, not ours
    strategy: str = ""  # the broker's, when there is a broker
    join_line: str = ""  # what a remote worker types to join, when the run listens
    join_here_only: bool = False  # it listens on loopback: only this machine can join
    worker_prefix: str = ""  # the pattern's receivers are named with it and a number (w3)
    loops: str = ""  # the children's per-message loops: "compiled" or "python" ("": not said)


@dataclass(frozen=True)
class ReplayFrame:
    """Where a replay is: playing or not, how fast, at which second of how many."""

    playing: bool
    speed: float  # times real time; infinity: as fast as it folds
    elapsed_s: float  # to a tenth
    length_s: float
    truncated: bool  # the recording was cut off: it ends early
    loading: int | None = None  # percent of the recording read while it is still being folded
    waiting: str | None = None  # a move waiting for the fold: "the end", "12.5 s"


@dataclass(frozen=True)
class StatusFrame:
    elapsed_s: float  # to a tenth
    rate: float  # per pusher, 0 = as fast as possible
    held: bool
    finished: bool
    replay: ReplayFrame | None = None


@dataclass(frozen=True)
class TotalsFrame:
    totals: Totals
    fairness: float | None  # to three places; None until some worker has received something
    queued_for_dead: tuple[tuple[str, int], ...] = ()  # in flight, kept for dead workers' next lives


@dataclass(frozen=True)
class Frame:
    topology: TopologyFrame
    status: StatusFrame
    totals: TotalsFrame
    workers: tuple[WorkerFrame, ...]
    pushers: tuple[PusherFrame, ...]


def read_frame(model: Model, scenario: str, finished: bool, replay: ReplayFrame | None = None) -> Frame:
    """Everything the main screen shows; call it holding the engine lock."""
    now = model.now_ns
    stations = model.stations()
    histories = {w.name: tuple(w.rate_history(now, RATE_POINTS)) for w in stations}
    peak = max((max(h, default=0.0) for h in histories.values()), default=0.0)
    gaps = belief_gaps(model.pushers.values())
    externals = model.external_workers()
    taken = model.taken_by_all()  # once: per worker it was O(n^2)
    handover = _rounded(recent_handover(model.workers.values(), now).quantile_ms(0.5), 2) if model.brokers else None
    return Frame(
        topology=read_topology(model, scenario),
        status=StatusFrame(round(model.elapsed_s(), 1), model.rate, model.sending_held, finished, replay),
        totals=TotalsFrame(model.totals(), _rounded(model.fairness(), 3), tuple(model.queued_for_dead.items())),
        workers=(*(_worker_frame(model, w, histories[w.name], peak, finished, taken, handover) for w in stations),
                 *(_external_frame(number, s, taken) for number, s in enumerate(externals, 1))),
        pushers=tuple(
            PusherFrame(p.name, p.state, p.pid, p.sent, p.rate(now), p.blocked, p.peers, p.done,
                        sum(1 for s in model.strangers if s.binder == p.name and s.disconnected_ns is None
                            and not s.admitted), gaps.get(p.name))
            for p in model.pushers.values()
        ),
    )


def _worker_frame(model: Model, worker: WorkerView, rates: tuple[float, ...], peak: float,
                  finished: bool, taken: int, handover_ms: float | None = None) -> WorkerFrame:
    life = worker.life
    p50_ms, p99_ms = worker.recent_latency.window(model.now_ns).quantiles_ms(0.5, 0.99)
    return WorkerFrame(
        name=worker.name,
        # The run is over and drained: a worker still running then is done, not alive.
        state="done" if finished and worker.state in ("starting", "alive") else worker.state,
        pid=life.pid if life else None,
        life=life.number if life else 0,
        received=worker.received,
        share=worker_share(worker, taken),
        rate=worker.rate(model.now_ns),
        rates=rates,
        peak=peak,
        p50_ms=p50_ms,
        p99_ms=p99_ms,
        work_ms=worker.work_ms,
        late=worker.late,
        duplicates=worker.duplicates,
        recent=tuple(worker.recent),
        router=worker.kind == ROUTER,
        queued=worker.queued,
        ready=worker.ready,
        speed=worker.speed,
        waiting=worker.waiting,
        life_received=life.received if life else 0,
        remote_host=worker.remote_host,
        latency_trusted=worker.latency_trusted(),
        foreign=worker.foreign,
        retried=worker.retried,
        program=bool(worker.program),
        handover_ms=handover_ms if worker.kind == ROUTER else None,
    )


def _external_frame(number: int, external: Stranger, taken: int) -> WorkerFrame:
    return WorkerFrame(
        name=f"x{number}", state="alive" if external.disconnected_ns is None else "left", pid=None, life=0,
        received=external.took, share=share(external.took, taken), rate=0.0, rates=(), peak=0.0, p50_ms=None,
        p99_ms=None, work_ms=0.0, late=0, duplicates=0, recent=(), remote_host=external.peer, latency_trusted=False,
        estimated=True,
    )


def read_topology(model: Model, scenario: str) -> TopologyFrame:
    setup = model.setup
    bind = str(setup.get("bind", "?"))
    pattern = str(setup.get("pattern", "?"))
    binders = tuple((label, endpoint) for label, endpoint in model.endpoints.items() if label != "telemetry")
    return TopologyFrame(
        scenario=scenario,
        pattern=pattern,
        transport=str(setup.get("transport", "?")),
        bind=bind,
        sndhwm=int(setup.get("sndhwm", 0)),
        rcvhwm=int(setup.get("rcvhwm", 0)),
        immediate=bool(setup.get("immediate", False)),
        binders=binders,
        strangers=tuple((s.binder, s.peer) for s in model.strangers if s.disconnected_ns is None and not s.admitted),
        strategy=model.strategy if model.brokers else "",
        join_line=model.join_line,
        join_here_only=_on_loopback(setup.get("listen")),
        worker_prefix=receiver_prefix(pattern),
        loops=model.loops,
    )


@cache
def receiver_prefix(pattern: str) -> str:
    """What the names of ``pattern``'s receivers start with (w), from the registry; "" for no pattern."""
    if pattern not in patterns.names():
        return ""
    return next((role.prefix for role in patterns.load(pattern).ROLES.values() if role.kind == RECEIVER), "")


def _on_loopback(listen: object) -> bool:
    if not isinstance(listen, str):
        return False
    try:
        return is_loopback(parse_listen(listen, "listen")[0])
    except UserError:
        return False


def _rounded(value: float | None, digits: int) -> float | None:
    """As shown: a frame that differs only in digits nobody sees is an equal frame, not a repaint."""
    return None if value is None else round(value, digits)


def log_changes(log: deque[LogEntry], seen_revision: int) -> list[LogEntry]:
    """The entries added or updated in place since the log's ``seen_revision``, oldest first."""
    return sorted((entry for entry in log if entry.revision > seen_revision), key=lambda entry: entry.serial)

"""Engine events: everything that happens in a run, as small dataclasses with a JSON form.

The supervisor and the telemetry receiver produce them; the model folds them; the
recorder writes them as JSON lines.  Times are CLOCK_MONOTONIC nanoseconds.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Event:
    t_ns: int

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": type(self).__name__}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.tolist() if isinstance(value, np.ndarray) else value
        return out


@dataclass(frozen=True)
class RunStarted(Event):
    setup: dict[str, Any]
    endpoints: dict[str, str]  # owner name -> endpoint it binds ("engine" for telemetry)
    retry_budget_s: float = 0.0  # the pattern's: a message every worker passed may still arrive this long after
    loss_rule: str = ""  # the pattern's words for what a receiver's death loses ("": its kind's usual rule)
    loops: str = ""  # the per-message loops the children run: "compiled" or "python" ("": not said)


@dataclass(frozen=True)
class ProcessStarted(Event):
    """A child process started.  Besides its role's name, the facts the model needs about it,
    as the pattern states them: what its telemetry means (``kind``), which roles it must be
    connected with to take part, and whether this life may be handed messages sent before it
    started (a pipe it inherits from a dead life, or a broker's queue), and whether what was dealt
    to it and not yet received outlives it, waiting for its next life (``queue_outlives``)."""

    name: str
    role: str  # the pattern's word: "pusher", "broker", "worker"
    life: int
    pid: int
    work_ms: float = 0.0
    endpoints: dict[str, str] = field(default_factory=dict)  # what it binds: label -> endpoint
    kind: str = "receiver"  # "sender" | "router" | "receiver"
    links_to: tuple[str, ...] = ()  # roles
    inherits_backlog: bool = False
    speed: float = 1.0  # a worker's: its work per message is divided by it
    queue_outlives: bool = False
    # A worker that runs the user's program (worker_cmd), as typed; "" for rrsim's own.  Only when
    # a message came back is seen: its wait and service are not measured, only its sojourn.
    program: str = ""


@dataclass(frozen=True)
class ProcessReady(Event):
    """The child said hello over telemetry: its sockets are open."""

    name: str
    life: int


@dataclass(frozen=True)
class ProcessEnded(Event):
    name: str
    life: int
    how: str  # "killed" | "stopped" | "crashed" | "run-end"
    exit_code: int | None
    log_tail: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkerPaused(Event):
    name: str


@dataclass(frozen=True)
class WorkerResumed(Event):
    name: str


@dataclass(frozen=True)
class WorkSet(Event):
    name: str
    work_ms: float


@dataclass(frozen=True)
class RateSet(Event):
    rate: float


@dataclass(frozen=True)
class StrategySet(Event):
    """The broker's way of choosing a worker changed."""

    strategy: str


@dataclass(frozen=True)
class SendingHeld(Event):
    held: bool
    for_good: bool = False  # the duration is up (or the run was told to end): it drains, then ends
    why: str = ""  # for good, and not because the duration is up: why (every worker program exited)


@dataclass(frozen=True)
class LinkChanged(Event):
    """A ZeroMQ socket monitor saw a connection come up or go down: ``a`` connected to ``b``."""

    a: str
    b: str
    up: bool
    via: str = ""  # who ``a`` is to ``b``'s socket: "pid N" (ipc) or its address (tcp)


@dataclass(frozen=True)
class PeerChanged(Event):
    """Someone connected to (or left) an endpoint that ``name`` binds: one of ours, or a stranger."""

    name: str
    peer: str  # "pid N" (ipc) or "host:port" (tcp)
    up: bool
    endpoint: str = ""  # which of its endpoints


@dataclass(frozen=True)
class SentProgress(Event):
    pusher: str
    sent: int
    blocked: bool
    peers: int
    done: bool
    joined: bool = True  # it has had every peer it expects at once
    early: int = 0  # messages it sent before that: dealt among fewer peers (slow joiners)
    jobs: str = ""  # a fingerprint of the jobs it drew for what it sent ("" when nothing is drawn)
    counters: dict[str, int] = field(default_factory=dict)  # a pattern's own counts so far ("retried": resends)
    # A sender that picks each message's receiver itself: per receiver, the load it ranks it by (what
    # it believes), and its own messages it has not heard done there (the run's truth is their sum)
    believed: dict[str, int] = field(default_factory=dict)
    outstanding: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Deliveries(Event):
    """A batch of receipts from one worker incarnation; arrays of equal length.  A message was
    received when its work started, and done when its work ended."""

    worker: str
    life: int
    pushers: np.ndarray  # pusher index (1 = p1)
    seqs: np.ndarray
    sent_ns: np.ndarray
    recv_ns: np.ndarray
    done_ns: np.ndarray | None = None  # None: each was done when it was received
    work_us: np.ndarray | None = None  # the work size each message carried (None in recordings made before)


@dataclass(frozen=True)
class RouterState(Event):
    """A router (the broker) says what it holds: messages queued, workers ready, routed so far."""

    name: str
    life: int
    queued: int
    ready: int
    routed: int
    counters: dict[str, int] = field(default_factory=dict)  # a pattern's own counts, this life ("retried", "given_up", "attempts_N")
    # worker -> messages it had been handed and did not acknowledge in time (dead, silent or slow)
    # that this router life handed over again
    retried_from: dict[str, int] = field(default_factory=dict)
    # worker -> the most messages it held at once (handed to it, not yet done) since the last report
    held_by: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PeerSilent(Event):
    """A router took a receiver for dead: it missed ``missed`` heartbeats ("silent") or its
    connection went ("gone").  What it held was re-queued at once, ``to`` the workers it went to."""

    name: str  # the router
    peer: str
    peer_life: int
    missed: int
    why: str  # "silent" | "gone"
    requeued: int
    to: tuple[str, ...] = ()


@dataclass(frozen=True)
class GaveUp(Event):
    """A router gave messages up after their last attempt: counted lost, with the reason."""

    name: str
    pusher: int
    seqs: tuple[int, ...]
    attempts: int
    why: str  # "no-ack" | "silent" | "gone"
    peer: str = ""  # the worker that had it last


@dataclass(frozen=True)
class Waiting(Event):
    """A receiver's router fell silent (it waits ``retry_s`` to connect again), or spoke again."""

    name: str
    life: int
    waiting: bool
    retry_s: float = 0.0


@dataclass(frozen=True)
class NothingBack(Event):
    """A user's program (worker_cmd) has sent nothing back ``after_s`` after it started; ``hint``:
    its pattern's words on where it should have connected and what it should send back."""

    name: str
    life: int
    after_s: float
    program: str  # as typed
    hint: str
    received: str = ""  # what it is known to have received, where its pattern knows ("": its links say)


@dataclass(frozen=True)
class ForeignPayloads(Event):
    worker: str
    count: int


@dataclass(frozen=True)
class MalformedTelemetry(Event):
    reason: str
    count: int = 1


@dataclass(frozen=True)
class Heartbeat(Event):
    """A remote worker is still there (``last``: it is leaving).  The engine's own business:
    it tells the model only when one falls silent or leaves."""

    name: str
    life: int
    last: bool = False
    clock_uncertainty_ns: int = -1  # its clock offset's, as now estimated; -1: not said
    clock_estimates: int = 0  # how many times it has estimated its offset so far


@dataclass(frozen=True)
class ClockEstimated(Event):
    """A remote worker's clock offset was estimated anew: right within ``uncertainty_ns``."""

    name: str
    uncertainty_ns: int


@dataclass(frozen=True)
class Listening(Event):
    """The run lets remote workers join at ``endpoint``; ``join_line`` is what they type."""

    endpoint: str
    join_line: str
    secure: bool


@dataclass(frozen=True)
class RemoteJoined(Event):
    """Process ``name`` is a worker on another machine, not our child."""

    name: str
    host: str  # the machine it says it is on
    address: str  # where its connection came from
    label: str  # the name it asked for (--name), or its host
    clock_offset_ns: int  # its CLOCK_MONOTONIC minus ours, as estimated when it joined
    clock_uncertainty_ns: int  # half the best round trip: the offset is right within this


@dataclass(frozen=True)
class PeerRefused(Event):
    """A handshake refused: an unknown key, a plain-text peer, something not ZeroMQ."""

    address: str
    why: str
    endpoint: str  # which socket: join, telemetry, control, or a process's label


@dataclass(frozen=True)
class ActionFired(Event):
    description: str


@dataclass(frozen=True)
class Tick(Event):
    """Time passes: lets the model age undelivered messages into 'lost' when nothing else happens."""


@dataclass(frozen=True)
class Drained(Event):
    """Every pusher is done and nothing more can arrive: what is undelivered now is lost."""


QUIT = "quit"  # RunStopped.by when the live view's q ended the run


@dataclass(frozen=True)
class RunStopped(Event):
    """The run was ended before it drained: ``by`` is QUIT (the live view's q) or a signal's name."""

    by: str


_ARRAY_FIELDS = {"pushers", "seqs", "sent_ns", "recv_ns", "done_ns", "work_us"}


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value is of the type a field is declared with (an int is a float too)."""
    if hint is Any:
        return True
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        return any(_fits(value, arg) for arg in args)
    if origin is tuple:
        return isinstance(value, (list, tuple)) and all(_fits(item, args[0]) for item in value)
    if origin is dict:
        return isinstance(value, dict) and all(isinstance(key, str) and _fits(item, args[1])
                                               for key, item in value.items())
    return hint is type(None) and value is None


def from_json(line: dict[str, Any]) -> Event:
    """The event a ``to_json`` line describes (extra keys, such as ``t_s``, are ignored).

    A value of the wrong type is a ValueError naming the field: a recorded file is input like
    any other, and a string where a life number belongs would otherwise fail far from here."""
    kind = globals().get(str(line.get("event")))
    if not (isinstance(kind, type) and issubclass(kind, Event)):
        raise ValueError(f"not an event: {line.get('event')!r}")
    hints = _hints(kind)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(kind):
        if f.name not in line:
            continue
        value = line[f.name]
        if f.name in _ARRAY_FIELDS and value is not None:
            if not isinstance(value, np.ndarray) and not (isinstance(value, list)
                                                          and all(_fits(item, int) for item in value)):
                raise ValueError(f"{kind.__name__}.{f.name} is not a list of integers")
            try:
                value = np.asarray(value, dtype=np.int64)
            except OverflowError:
                raise ValueError(f"{kind.__name__}.{f.name} holds an integer over 64 bits") from None
        elif not _fits(value, hints[f.name]):
            raise ValueError(f"{kind.__name__}.{f.name} = {value!r:.40} is not of type {_type_name(hints[f.name])}")
        elif isinstance(value, list):
            value = tuple(value)
        values[f.name] = value
    return kind(**values)


_HINTS: dict[type[Event], dict[str, Any]] = {}  # each event class's field types, read once


def _hints(kind: type[Event]) -> dict[str, Any]:
    # A dict rather than functools.cache: mypy takes Event's instance __hash__ for the class's and
    # would refuse the class as a cache key.
    if kind not in _HINTS:
        _HINTS[kind] = typing.get_type_hints(kind)
    return _HINTS[kind]


def _type_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")

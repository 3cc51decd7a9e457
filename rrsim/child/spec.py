"""What a child process is told: its orders as a frozen dataclass, built once by the engine and
carried as JSON (on the command line of a local child, in the join answer to a remote worker).

A spec that does not fit is a programming error, not a user's: ``from_dict`` raises on a missing
or unknown key, and nothing reads the orders as a dict.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SocketPlan:
    """One work socket as the engine planned it: the endpoint it binds ("" if none) and those it connects to."""

    bind_at: str
    connect_to: tuple[str, ...]


@dataclass(frozen=True)
class Curve:
    """A secure run's keys, as file paths and public keys (never a secret)."""

    secret_file: str  # our key pair's secret file ("" until a remote worker names its own)
    server_key: str  # the run's public key (Z85)
    allowed_dir: str  # the keys let in where we bind ("" for a remote worker, which binds nothing)


@dataclass(frozen=True)
class ChildSpec:
    """A child's orders: who it is, where the run is, its sockets, and the settings its role reads."""

    # who
    pattern: str
    role: str
    name: str
    life: int
    index: int  # the number in its name: a pusher's is in every message it sends
    # the run around it
    telemetry: str
    control: str
    sockets: dict[str, SocketPlan]  # socket name in the pattern's wires -> its plan
    external: tuple[str, ...]  # endpoints of plain peers (a seed's PUSH): no link reports for them
    curve: Curve | None
    clock_offset_ns: int  # added to our clock to get the run's (a remote worker's machine differs)
    parent_pid: int  # the engine's process, which a local child dies with
    # sockets
    sndhwm: int
    rcvhwm: int
    immediate: bool
    # sending
    size: int
    messages: int  # 0: no limit
    rate: float  # 0: as fast as the socket takes them
    held: bool
    min_peers: int
    expected_peers: int
    arrivals: str
    work_dist: str
    work_cv: float
    seed: int
    # working
    mean_work_ms: float  # the run's work_ms, which a pusher's drawn work sizes are centred on
    work_ms: float  # this worker's own
    speed: float
    # routing
    strategy: str
    max_outstanding: int
    broker_queue: int
    pattern_setup: dict[str, float | str]  # the pattern's own setup keys (its SETUP_KEYS) and their values
    worker_cmd: tuple[str, ...] = ()  # a worker: the user's program that does its work instead of ours

    def to_dict(self) -> dict[str, Any]:
        """As JSON has it."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChildSpec:
        """The spec ``to_dict`` gave; raises TypeError or KeyError on anything else."""
        curve = data["curve"]
        return cls(**{
            **data,
            "sockets": {name: SocketPlan(plan["bind_at"], tuple(plan["connect_to"])) for name, plan in data["sockets"].items()},
            "external": tuple(data["external"]),
            "worker_cmd": tuple(data.get("worker_cmd", ())),
            "curve": Curve(**curve) if curve is not None else None,
        })

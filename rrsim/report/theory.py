"""What queueing theory predicts for the runs it has exact answers for: small pure functions.

With Poisson arrivals and exponential work, a broker that deals at random (no limit on what a
worker holds) splits the arrivals into c independent Poisson streams: each worker is an M/M/1
queue.  A broker that hands a message only to a worker with nothing in hand (``lru``, or any
strategy with ``max_outstanding = 1``) keeps one first-come-first-served queue for c servers:
M/M/c, whose chance of waiting is Erlang's C formula.  Waits are in the queue, before the work
starts, which is what rrsim's ``wait_ms`` measures.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rrsim import patterns


def erlang_c(servers: int, offered: float) -> float:
    """The chance that an arrival waits in an M/M/c queue with ``offered`` = arrival rate /
    service rate (in erlangs); 1 when the queue is unstable (offered >= servers).

    Through Erlang B's recursion, B(k) = a B(k-1) / (k + a B(k-1)), which never forms a^c / c!."""
    if servers < 1 or offered < 0:
        raise ValueError(f"need servers >= 1 and offered >= 0, got {servers}, {offered}")
    if offered >= servers:
        return 1.0
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered * blocking / (k + offered * blocking)
    return servers * blocking / (servers - offered * (1 - blocking))


def mmc_wait(servers: int, arrival_rate: float, service_rate: float) -> float:
    """Mean wait in queue of M/M/c: C(c, a) / (c mu - lambda); infinite when unstable."""
    if arrival_rate >= servers * service_rate:
        return float("inf")
    return erlang_c(servers, arrival_rate / service_rate) / (servers * service_rate - arrival_rate)


def mm1_wait(arrival_rate: float, service_rate: float) -> float:
    """Mean wait in queue of M/M/1: rho / (mu - lambda); infinite when unstable."""
    if arrival_rate >= service_rate:
        return float("inf")
    return arrival_rate / service_rate / (service_rate - arrival_rate)


@dataclass(frozen=True)
class Measured:
    """What a real run did, with its overheads taken apart so that theory can be held to it.

    ``service_ms``: how long a worker is taken per message, as the broker's queue sees it: its work
    (the sleep and its overshoot) and the hand-over (under lru: ready to the broker, the broker's
    hand-over, the receive).  Every message pays the hand-over: from the broker's side a worker is
    busy from the moment a message leaves for it until its ready comes back, whether or not another
    message was waiting.  It is measured where it can be seen, on the messages that were waiting
    (from the end of the one before to their receipt).  ``transit_ms``: the
    wait of a message that found its worker free, which is its hops alone, and ``found_free`` the
    share of such messages.  ``queueing_ms``: the mean wait less those hops, what theory calls the
    wait in queue."""

    messages: int
    service_ms: float
    transit_ms: float
    found_free: float
    wait_ms: float

    @property
    def queueing_ms(self) -> float:
        return self.wait_ms - self.found_free * self.transit_ms


@dataclass(frozen=True)
class Prediction:
    model: str  # "M/M/1 per worker" | "M/M/c"
    servers: int
    arrivals_per_s: float  # into the whole system
    service_ms: float  # mean work per message
    utilisation: float  # of each worker
    wait_mean_ms: float | None  # None: unstable, the queue grows without bound

    def to_json(self) -> dict[str, Any]:
        return {key: round(value, 6) if isinstance(value, float) else value for key, value in asdict(self).items()}


def worker_speeds(setup: dict[str, Any]) -> list[float]:
    """Every starting worker's speed (the ones ``speeds`` leaves out run at 1)."""
    speeds = [float(speed) for speed in setup.get("speeds") or ()]
    return speeds + [1.0] * (setup["workers"] - len(speeds))


@dataclass(frozen=True)
class Wiring:
    """How messages reach the workers, as far as theory cares: ``dealt_between``, each waits in
    the queue of a process between senders and workers that hands it to one (a broker), rather
    than being dealt by a sender straight away; ``resends``, one may be handed over again."""

    dealt_between: bool
    resends: bool = False

    @classmethod
    def of(cls, setup: dict[str, Any]) -> Wiring:
        """What the registry says of the setup's pattern: whether one of its roles routes."""
        return cls(dealt_between=setup.get("pattern") in patterns.with_router())


def queue_model(setup: dict[str, Any], wiring: Wiring | None = None) -> str | None:
    """Which queue theory makes of a run's setup, or None where it has no exact answer: only for
    messages that wait in one broker's queue, handed over once each."""
    wiring = Wiring.of(setup) if wiring is None else wiring
    if (not wiring.dealt_between or wiring.resends or setup.get("arrivals") != "poisson"
            or setup.get("work_dist") != "exponential" or not setup.get("rate") or not setup.get("work_ms")
            or len(set(worker_speeds(setup))) != 1):
        return None
    if setup.get("max_outstanding") == 1 or (setup.get("strategy") == "lru" and setup.get("max_outstanding") == 0):
        return "M/M/c"
    if setup.get("strategy") == "random" and setup.get("max_outstanding") == 0:
        return "M/M/1 per worker"
    return None


def predict(setup: dict[str, Any], service_ms: float | None = None, wiring: Wiring | None = None) -> Prediction | None:
    """Theory's mean wait for a run of ``setup`` whose workers take ``service_ms`` per message on
    average (by default what the setup asks: work_ms / speed).  None where theory has no exact
    answer: another wiring, strategy or workload, or workers of different speeds.  ``wiring``: what
    the run's model saw (by default, what the registry says of the setup's pattern)."""
    model = queue_model(setup, wiring)
    if model is None:
        return None
    servers = setup["workers"]
    service_ms = setup["work_ms"] / worker_speeds(setup)[0] if service_ms is None else service_ms
    arrivals = setup["rate"] * setup["pushers"]
    service_rate = 1000 / service_ms
    if model == "M/M/c":
        wait = mmc_wait(servers, arrivals, service_rate)
    else:
        wait = mm1_wait(arrivals / servers, service_rate)
    utilisation = arrivals / servers / service_rate
    return Prediction(model, servers, arrivals, service_ms, utilisation, None if wait == float("inf") else wait * 1000)


def simulated_mean_waits(model: str, servers: int, arrival_rate: float, service_s: float, messages: int,
                         runs: int, rng: np.random.Generator) -> np.ndarray:
    """The mean wait (s) of each of ``runs`` ideal runs of ``messages`` Poisson arrivals with
    exponential work, each starting empty as a real run does: how far a run of that length may
    land from the formula by chance alone.  ``model`` is "M/M/1 per worker" (each message to a
    worker at random, each worker first come first served) or "M/M/c" (one queue, the first free
    worker takes its head)."""
    arrivals = np.cumsum(rng.exponential(1 / arrival_rate, (runs, messages)), axis=1)
    services = rng.exponential(service_s, (runs, messages))
    chosen = rng.integers(0, servers, (runs, messages))
    free_at = np.zeros((runs, servers))  # when each worker is next free
    total = np.zeros(runs)
    rows = np.arange(runs)
    for i in range(messages):
        worker = chosen[:, i] if model == "M/M/1 per worker" else free_at.argmin(axis=1)
        start = np.maximum(free_at[rows, worker], arrivals[:, i])
        total += start - arrivals[:, i]
        free_at[rows, worker] = start + services[:, i]
    return total / messages

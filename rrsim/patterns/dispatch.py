"""How a broker (or a pusher that picks its worker itself) chooses a worker: small pure
policies, no sockets, tested on their own.

The chooser keeps a ``Dispatcher``: what it has handed each worker and what each says it has
done.  A worker with room (fewer messages outstanding than ``max_outstanding``) is a
candidate; the strategy picks one of the candidates.  ``lru`` is the guide's ready queue.  The
load-aware strategies rank by what the chooser handed out and has not heard done, unless the
worker's own report of its queue is given (``Dispatcher.reported``): then by that, however old.
"""

from __future__ import annotations

import random
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from rrsim.limits import Limit

PEWMA_DECAY_NS = 10_000_000_000  # how fast a peak of service time fades: about 10 s


def worker_name(identity: bytes) -> tuple[str, int] | None:
    """``w3.2`` -> ("w3", 2): a worker's identity is its name and life; None for one not ours."""
    name, _, life = identity.decode(errors="replace").partition(".")
    return (name, int(life)) if life.isdigit() and len(life) < 9 else None


@dataclass
class Candidate:
    """What the broker knows of one worker."""

    identity: bytes
    order: int  # when it first spoke (a count that only grows): round robin goes by this
    given: int = 0  # messages handed to it, counted from its first word
    done: int = 0  # what it last said it had done
    room_since: int = 0  # a counter: when it last got room for a message (lru goes by this)
    service_ns: float = 0.0  # peak-EWMA of how long a message took, hand-over to done
    sent_at: deque[int] = field(default_factory=deque)  # when each outstanding message was handed over
    last_ns: int = 0
    full: bool = False  # its pipe took no more: skipped until it says ready
    reported: int | None = None  # the queue the worker last said it had (shared load information)

    @property
    def outstanding(self) -> int:
        return self.given - self.done

    @property
    def load(self) -> int:
        """What the load-aware strategies rank by: its own report if there is one, else what is outstanding."""
        return self.outstanding if self.reported is None else self.reported


def lru(candidates: list[Candidate], rng: random.Random, turn: int) -> Candidate:
    return min(candidates, key=lambda c: c.room_since)


def round_robin(candidates: list[Candidate], rng: random.Random, turn: int) -> Candidate:
    """The next one in the order they first spoke, after the one served last (``turn``)."""
    later = [c for c in candidates if c.order > turn]
    return min(later or candidates, key=lambda c: c.order)


def uniform(candidates: list[Candidate], rng: random.Random, turn: int) -> Candidate:
    return candidates[rng.randrange(len(candidates))]


def least_loaded(candidates: list[Candidate], rng: random.Random, turn: int) -> Candidate:
    return min(candidates, key=lambda c: (c.load, c.room_since))


def p2c(candidates: list[Candidate], rng: random.Random, turn: int) -> Candidate:
    """Power of two choices: two at random, the one with the lower load."""
    if len(candidates) == 1:
        return candidates[0]
    a, b = rng.sample(candidates, 2)
    return a if a.load <= b.load else b


def pewma(candidates: list[Candidate], rng: random.Random, turn: int) -> Candidate:
    """Peak-EWMA of service time, times outstanding + 1 (Finagle's and Linkerd's load balancer)."""
    return min(candidates, key=lambda c: (c.service_ns * (c.load + 1), c.room_since))


STRATEGIES: dict[str, Callable[[list[Candidate], random.Random, int], Candidate]] = {
    "lru": lru,
    "round-robin": round_robin,
    "random": uniform,
    "least-loaded": least_loaded,
    "p2c": p2c,
    "pewma": pewma,
}

# The setup keys of a broker that dispatches with these strategies (lb-broker and reliable).
BROKER_KEYS: dict[str, Limit] = {
    "strategy": Limit(str, choices=tuple(STRATEGIES), help="lb-broker, reliable, direct: how a worker is picked (by the broker; by each "
                      "pusher under direct): lru (the "
                      "guide's ready queue), round-robin, random, least-loaded, p2c (power of two choices) or "
                      "pewma (peak-EWMA of service time)", needs_router=True),
    "max_outstanding": Limit(int, 0, 1_000_000, help="lb-broker, reliable, direct: messages a worker may hold at once "
                             "(under direct: from each pusher); 0 = the strategy's default (1 for lru, no limit for the others)", needs_router=True),
    "broker_queue": Limit(int, 1, 10_000_000, help="lb-broker: messages the broker holds while no worker is ready; "
                          "beyond that it stops reading and the pushers block at their HWM", needs_router=True),
}


class Dispatcher:
    """The broker's book of workers.  A worker says how many messages it has done when it says
    ready; a "ready" that does not account for every message handed to it only says it has room
    for more, so with ``max_outstanding`` 1 a worker never holds two messages at once.

    ``room`` holds the workers with room for a message, in the order they got it (lru takes the
    first, in constant time, as the guide's ready queue does)."""

    def __init__(self, strategy: str = "lru", max_outstanding: int = 0, seed: int | str = 0) -> None:
        self.max_outstanding = max_outstanding
        self.set_strategy(strategy)
        self.rng = random.Random(seed)
        self.workers: dict[bytes, Candidate] = {}
        self.room: OrderedDict[bytes, Candidate] = OrderedDict()
        self._clock = 0  # counts reports and hand-overs: an order, not a time
        # The most each worker has held at once (handed, not yet done) since they were last taken:
        # the queue at a worker behind the broker, which neither the worker nor the engine can see.
        self._peaks: dict[bytes, int] = {}
        self._turn = -1  # round robin: the order of the one served last

    def set_strategy(self, strategy: str) -> None:
        self.strategy, self.choose = strategy, STRATEGIES[strategy]
        # max_outstanding 0: the strategy's own default, one at a time for lru (the guide's), no
        # limit for the others
        self.limit = self.max_outstanding or (1 if strategy == "lru" else 0)
        if hasattr(self, "workers"):
            self._refresh_room()

    def ready(self, identity: bytes, done: int, now_ns: int = 0) -> None:
        worker = self.workers.get(identity)
        if worker is None:
            worker = self.workers[identity] = Candidate(identity, order=self._tick(), given=done, done=done)
            self._update_room(worker)
            return
        finished = min(done, worker.given) - worker.done
        for _ in range(max(0, finished)):
            handed = worker.sent_at.popleft() if worker.sent_at else now_ns
            self._sample(worker, now_ns - handed, now_ns)
        worker.done = max(worker.done, min(done, worker.given))
        worker.full = False  # it took what was in its pipe, or it would not have said so
        self._update_room(worker)

    def next(self, now_ns: int = 0, avoid: bytes | None = None) -> bytes | None:
        """The chosen worker, handed one message (None: nobody has room).  ``avoid`` is chosen only
        if nobody else has room: a message sent again goes to another worker where one is ready."""
        if not self.room:
            return None
        if avoid in self.room and len(self.room) > 1:
            candidates = [c for c in self.room.values() if c.identity != avoid]
            worker = candidates[0] if self.choose is lru else self.choose(candidates, self.rng, self._turn)
        elif self.choose is lru:
            worker = next(iter(self.room.values()))  # the first with room, in constant time
        else:
            worker = self.choose(list(self.room.values()), self.rng, self._turn)
        self._turn = worker.order
        worker.given += 1
        worker.sent_at.append(now_ns)
        self._peaks[worker.identity] = max(self._peaks.get(worker.identity, 0), worker.outstanding)
        self.room.pop(worker.identity)
        self._update_room(worker)  # with room left it goes to the back: served now
        return worker.identity

    def take_peaks(self) -> dict[str, int]:
        """By worker name, the most messages each held at once since the last call (only those
        handed one since)."""
        peaks: dict[str, int] = {}
        for identity, peak in self._peaks.items():
            if (who := worker_name(identity)) is not None:
                peaks[who[0]] = max(peaks.get(who[0], 0), peak)
        self._peaks = {}
        return peaks

    def full(self, identity: bytes) -> None:
        """Its pipe is full (the send would block): the message was not sent; no more until it says ready."""
        worker = self.workers.get(identity)
        if worker is not None:
            worker.given -= 1
            worker.sent_at.pop()
            worker.full = True
            self.room.pop(identity, None)

    def reported(self, identity: bytes, queue: int) -> None:
        """The worker says it has ``queue`` messages waiting or in hand: rank it by that from now on."""
        worker = self.workers.get(identity)
        if worker is not None:
            worker.reported = queue

    def gone(self, identity: bytes) -> None:
        """It has disconnected, or is stopping: forget it (a message chosen for it was not sent)."""
        self.workers.pop(identity, None)
        self.room.pop(identity, None)

    def __len__(self) -> int:
        """How many have room for a message now."""
        return len(self.room)

    def _has_room(self, worker: Candidate) -> bool:
        return not worker.full and (self.limit == 0 or worker.outstanding < self.limit)

    def _update_room(self, worker: Candidate) -> None:
        if not self._has_room(worker):
            self.room.pop(worker.identity, None)
        elif worker.identity not in self.room:
            worker.room_since = self._tick()
            self.room[worker.identity] = worker

    def _refresh_room(self) -> None:
        for worker in sorted(self.workers.values(), key=lambda w: w.room_since):
            self._update_room(worker)
        for identity in [i for i, w in self.room.items() if not self._has_room(w)]:
            del self.room[identity]

    def _sample(self, worker: Candidate, service_ns: int, now_ns: int) -> None:
        if service_ns >= worker.service_ns:
            worker.service_ns = float(service_ns)  # a peak is taken at once
        else:
            weight = min(1.0, max(0.0, (now_ns - worker.last_ns) / PEWMA_DECAY_NS))
            worker.service_ns += (service_ns - worker.service_ns) * max(weight, 0.05)
        worker.last_ns = now_ns

    def _tick(self) -> int:
        self._clock += 1
        return self._clock

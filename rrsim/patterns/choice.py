"""How a broker chooses a worker: small pure policies, no sockets, tested on their own."""

from __future__ import annotations

from collections import OrderedDict


class LeastRecentlyUsed:
    """The guide's ready queue: the worker that has been ready longest gets the next message.

    A worker says how many messages it has done when it says ready; ``given`` counts what it
    was handed since it first spoke to this broker.  A "ready" that does not account for every
    message handed to it is stale (sent before the last one arrived), and is ignored, so a
    worker never holds two messages at once."""

    def __init__(self) -> None:
        self._ready: OrderedDict[bytes, None] = OrderedDict()
        self._given: dict[bytes, int] = {}  # identity -> messages handed to it, counted from its first word

    def ready(self, identity: bytes, done: int) -> None:
        given = self._given.setdefault(identity, done)
        if done >= given:
            self._given[identity] = done
            self._ready.setdefault(identity, None)

    def next(self) -> bytes:
        """The least recently ready worker, handed one message: it is busy until it says ready."""
        identity, _ = self._ready.popitem(last=False)
        self._given[identity] += 1
        return identity

    def gone(self, identity: bytes) -> None:
        """It was popped by ``next`` but has disconnected: forget it (the message was not sent)."""
        self._given.pop(identity, None)

    def __len__(self) -> int:
        return len(self._ready)

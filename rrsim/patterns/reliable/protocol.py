"""reliable's words on the wire beside lb-broker's READY and BYE, a message's id, and its own
setup keys as a child's spec carries them."""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass

from rrsim import wire
from rrsim.child.spec import ChildSpec
from rrsim.patterns.brokered import BYE, READY
from rrsim.patterns.dispatch import worker_name

__all__ = ["BYE", "READY"]  # with the rest below: every frame this pattern speaks, in one place

# READY: worker -> broker: [empty, READY, done so far] or, acknowledging, [..., sender, id]
HEARTBEAT = b"HEARTBEAT"  # broker -> worker [empty, HEARTBEAT]; worker -> broker [empty, HEARTBEAT, done]
ACK = b"ACK"  # broker -> pusher: [ACK, id]: done, drop your copy
GIVEUP = b"GIVEUP"  # broker -> pusher: [GIVEUP, id]: every attempt failed, drop your copy
HANDED = b"HANDED"  # broker -> pusher: [HANDED, id]: handed to a worker (a copy sent again says how often)
ID = struct.Struct("<HQ")  # a message's id, bytes 4 to 14 of its header: the pusher's number and seq
ID_AT = slice(len(wire.MAGIC), len(wire.MAGIC) + ID.size)
BURST = 1024  # messages read from one socket in one turn
REPORT_NS = 10_000_000

Key = tuple[bytes, bytes]  # (the pusher's routing id, the message's id)


@dataclass(frozen=True)
class Settings:
    """This pattern's own setup keys, as a child's spec carries them."""

    retry_ms: float
    retries: int
    heartbeat_ms: float
    liveness: int

    @classmethod
    def of(cls, spec: ChildSpec) -> Settings:
        own = spec.pattern_setup
        return cls(float(own["retry_ms"]), int(own["retries"]), float(own["heartbeat_ms"]), int(own["liveness"]))


def per_worker(counts: Counter[bytes]) -> dict[str, int]:
    """Counts by identity (``w3.2``) added up by worker (``w3``): the engine knows no other names."""
    out: Counter[str] = Counter()
    for identity, count in counts.items():
        if (who := worker_name(identity)) is not None:
            out[who[0]] += count
    return dict(out)



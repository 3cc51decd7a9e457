"""reliable: lb-broker with acknowledgements, retries and heartbeats, the ZeroMQ guide's Pirates
(chapter 4): Lazy Pirate pushers, a Paranoid Pirate broker and workers.

Where an unacknowledged message lives: with its pusher, and with the broker while a worker has
it.  A pusher keeps a copy of every message it sends until the broker tells it the message was
done (ACK) or given up (GIVEUP); when its connection to a broker is made again (a new broker
life) it sends every copy it still keeps, so killing the broker loses nothing.  The broker keeps
what it took until a worker acknowledges it: a message not acknowledged within ``retry_ms`` goes
to the front of the queue and on to the next ready worker, up to ``retries`` more times; then it
is given up.  The broker tells the pusher of each hand-over (HANDED), and a copy sent to the next
broker life carries how many there were: a message's attempts, and its retries, count across
broker lives.  Broker and workers send each other heartbeats every ``heartbeat_ms``; a worker not
heard for ``liveness`` of them (or whose connection is gone: ROUTER_MANDATORY says so) is dead
and what it held is re-queued at once.  A worker whose broker falls silent closes its socket,
waits, and connects again, waiting 1 s, then 2, 4 ... up to 32 s (the guide's ppworker).

The price is duplicates: a worker that was only slow, or paused, finishes a message that has
been handed to another since; a pusher's copies sent to a new broker life may already be done.
Every completion is reported, and the ledger counts each extra one once.

The pushers' DEALERs set ZMQ_IMMEDIATE: nothing queues for a broker that is not there (the
copies are the queue), and sending blocks at the HWM while no broker is up, as a PUSH would.
``bind`` picks who binds the first hop, as under lb-broker ("broker" is the guide's ppqueue,
which binds both its sockets); either way a new connection, made or accepted, means a broker
life that may not hold what the last one did.
"""

from __future__ import annotations

from rrsim.limits import Limit
from rrsim.patterns.base import PatternSetup, Wire
from rrsim.patterns.brokered import broker_roles
from rrsim.patterns.dispatch import BROKER_KEYS
from rrsim.patterns.reliable.book import Book
from rrsim.patterns.reliable.broker import broker
from rrsim.patterns.reliable.copies import Copies, pusher
from rrsim.patterns.reliable.protocol import ACK, HANDED, per_worker
from rrsim.patterns.reliable.worker import worker

__all__ = ["ACK", "HANDED", "Book", "Copies", "per_worker"]  # the parts its tests take apart

SUMMARY = ("lb-broker with acknowledgements, retries and heartbeats (the guide's Pirates): a kill loses "
           "nothing, at the price of duplicates")
BINDERS = ("pusher", "broker")
OWN_WORKER_WHY_NOT = ("its broker acknowledges and retries with rrsim's own frames, not the guide's Paranoid Pirate "
                      "protocol, so the guide's ppworker cannot be its worker")
SETUP_KEYS: dict[str, Limit] = {**BROKER_KEYS,  # its own after the broker's: no other pattern takes them
    "retry_ms": Limit(float, 1, 3_600_000, help="reliable: a message a worker has not acknowledged after this "
                      "long goes to the next ready worker"),
    "retries": Limit(int, 0, 1000, help="reliable: how many times a message is handed over again before it is "
                     "given up (and counted lost)"),
    "heartbeat_ms": Limit(float, 1, 3_600_000, help="reliable: broker and workers send each other a heartbeat "
                          "this often"),
    "liveness": Limit(int, 1, 1000, help="reliable: heartbeats missed in a row before a peer is taken for dead "
                      "(its messages go to another worker at once)"),
}


def wires(bind: str) -> list[Wire]:
    first = (Wire("broker", "frontend", "pusher", "dealer") if bind == "broker"
             else Wire("pusher", "dealer", "broker", "frontend"))
    return [first, Wire("broker", "backend", "worker", "dealer")]


def inherits_backlog(role: str, life: int, setup: PatternSetup) -> bool:
    return True  # the broker's queue, and the pushers' copies, serve whoever is up


def queue_outlives(role: str, setup: PatternSetup) -> bool:
    # Nothing waits for a dead process's next life: the broker re-queues what a dead worker held
    # for whoever is ready, and the pushers resend what a dead broker held to its next life.
    return False


def retry_budget_s(setup: PatternSetup) -> float:
    """How long a message every worker has passed may still arrive: each of its 1 + ``retries``
    hand-overs is taken back at the latest ``retry_ms`` later (sooner if its worker is found dead),
    and a worker that lost its broker hears of it after ``liveness`` heartbeats and connects again."""
    return (setup.retry_ms * (setup.retries + 1) + setup.heartbeat_ms * setup.liveness) / 1000


ROLES = broker_roles(pusher, broker, worker)

"""What a run's numbers add up to: totals, shares, fairness, queues, throughput and a
pattern's own counts, as pure functions of what the model holds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rrsim.kinds import RECEIVER
from rrsim.model.distribution import Durations
from rrsim.model.ledger import Ledger
from rrsim.model.overheads import Overheads, merge_overheads, recent_handovers
from rrsim.model.views import NS, PusherView, Stranger, Totals, WorkerView

Counters = Mapping[tuple[str, int], Mapping[str, int]]  # a pattern's own counts per (process, life)


def counter(counters: Counters, key: str) -> int:
    """A pattern's own count, over every process and life: "retried", "given_up"..."""
    return sum(counts.get(key, 0) for counts in counters.values())


def kept(counters: Counters, pushers: Iterable[PusherView]) -> int:
    """Messages the running senders keep copies of until they are acknowledged (a pattern whose
    senders send again): while there are any, something may still arrive."""
    return sum(counters.get((p.name, 1), {}).get("kept", 0) for p in pushers if p.state in ("starting", "running"))


def attempts(counters: Counters) -> dict[int, int]:
    """Messages acknowledged, by how many hand-overs each took (a pattern that counts them)."""
    out: dict[int, int] = {}
    for counts in counters.values():
        for key, count in counts.items():
            if key.startswith("attempts_") and key[9:].isdigit():
                out[int(key[9:])] = out.get(int(key[9:]), 0) + count
    return dict(sorted(out.items()))


def totals(ledger: Ledger, counters: Counters, late: int, foreign: int, malformed: int) -> Totals:
    return Totals(
        sent=ledger.sent,
        delivered=ledger.delivered_unique,
        in_flight=ledger.in_flight,
        lost=ledger.lost,
        late=late,
        duplicates=ledger.duplicates,
        foreign=foreign,
        malformed=malformed,
        # A worker reports a message once its work is done: what was delivered was done.
        completed=ledger.delivered_unique,
        strayed=ledger.strayed,
        retried=counter(counters, "retried"),
        given_up=counter(counters, "given_up"),
    )


def taken_by_all(workers: Iterable[WorkerView], externals: Iterable[Stranger]) -> int:
    """What our workers received and the let-in plain PULLs are estimated to have taken: one
    denominator for every share, so that they add up to 100%."""
    return sum(w.received for w in workers) + sum(s.took for s in externals)


def share(taken: int, total: int) -> float:
    return taken / total if total else 0.0


def worker_share(worker: WorkerView, total: int) -> float:
    return share(worker.received, total) if worker.kind == RECEIVER else 0.0


def fairness(workers: Iterable[WorkerView], now_ns: int) -> float | None:
    """Jain's index over received per second alive (1.0 = perfectly even)."""
    rates = [w.received / s for w in workers if (s := w.alive_seconds(now_ns)) > 0]
    if not rates or not any(rates):
        return None
    return sum(rates) ** 2 / (len(rates) * sum(r * r for r in rates))


def longest_queue(workers: Iterable[WorkerView], brokers: Iterable[WorkerView]) -> tuple[int, str] | None:
    """(messages, where): the most messages seen waiting at one worker or router, or None
    when no station's queue is known."""
    # The brokers first: at a tie, the first is named, and behind a broker that is where messages wait.
    seen = [(b.max_queued, b.name) for b in brokers]
    seen += [(queue, w.name) for w in workers if (queue := w.max_queue) is not None]
    return max(seen, key=lambda pair: pair[0]) if seen else None


def window_s(first_ns: int | None, last_ns: int | None) -> float:
    """From the first send to the last delivery: what the throughput is counted over."""
    if first_ns is None or last_ns is None:
        return 0.0
    return max(0, last_ns - first_ns) / NS


def service_ms(workers: Iterable[WorkerView]) -> float | None:
    """How long a worker's work took per message, on average over every message done (a user's
    program's work is not seen: its messages are not counted)."""
    workers = [w for w in workers if not w.program]
    received = sum(w.received for w in workers)
    return sum(w.busy_ns for w in workers) / received / 1e6 if received else None


def overheads(workers: Iterable[WorkerView]) -> Overheads:
    """Every worker's overheads together."""
    return merge_overheads([worker.overheads for worker in workers])


def recent_handover(workers: Iterable[WorkerView], now_ns: int) -> Durations:
    """Every worker's hand-overs of the last seconds: what the live view shows on a router's tile."""
    return recent_handovers([worker.overheads for worker in workers], now_ns)


@dataclass(frozen=True)
class BeliefGap:
    """What a sender that picks its receivers believes of one receiver's load, against the truth:
    every sender's messages there not yet done."""

    receiver: str
    believed: int
    truth: int


def belief_gaps(pushers: Iterable[PusherView]) -> dict[str, BeliefGap]:
    """Per sender that reports its beliefs, the receiver where belief and truth differ most."""
    senders = list(pushers)
    truth: dict[str, int] = {}
    for p in senders:
        for receiver, count in p.outstanding.items():
            truth[receiver] = truth.get(receiver, 0) + count
    worst: dict[str, BeliefGap] = {}
    for p in senders:
        gaps = [BeliefGap(r, b, truth.get(r, 0)) for r, b in sorted(p.believed.items())]
        if gaps:
            worst[p.name] = max(gaps, key=lambda g: abs(g.believed - g.truth))
    return worst

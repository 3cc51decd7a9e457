"""Telemetry decoding without processes: frames in, events out."""

from __future__ import annotations

import struct

from rrsim import events as ev
from rrsim import wire
from rrsim.engine.telemetry import Roster, decode_batch

STARTED_NS = 1_000_000_000
NOW_NS = 2_000_000_000


def roster() -> Roster:
    return Roster(lives={"p1": 1, "w1": 2, "w2": 1}, kinds={"p1": "sender", "w1": "receiver", "w2": "receiver"},
                  senders={1: "p1"}, roles={"p1": "pusher", "w1": "worker", "w2": "worker"},
                  links_to={"p1": ("worker",), "w1": ("pusher",), "w2": ("pusher",)}, messages=0, started_ns=STARTED_NS)


def receipts(name: str, life: int, seqs: list[int], foreign: int = 0) -> list[bytes]:
    heads = b"".join(struct.pack("<HQqI", 1, seq, STARTED_NS + seq, 0) for seq in seqs)
    stamps = b"".join(struct.pack("<q", STARTED_NS + seq + 10) for seq in seqs)
    header = wire.telemetry(wire.RECEIPTS, name=name, life=life, n=len(seqs), foreign=foreign)
    return [header, heads, stamps]


def decode(batch: list[list[bytes]]) -> list[ev.Event]:
    return decode_batch(batch, NOW_NS, roster(), sent_of=lambda index: 1000)


def test_each_worker_lifes_receipts_in_a_batch_become_one_delivery_event_in_order():
    events = decode([
        receipts("w1", 2, [0, 2]),
        [wire.telemetry(wire.HELLO, name="w2", life=1)],
        receipts("w2", 1, [1]),
        receipts("w1", 2, [3, 5], foreign=2),
        receipts("w1", 1, [4]),  # the life before: kept apart
    ])
    assert isinstance(events[0], ev.ProcessReady)  # everything else keeps its place, ahead of the receipts
    deliveries = [(e.worker, e.life, e.seqs.tolist(), e.recv_ns.tolist()) for e in events if isinstance(e, ev.Deliveries)]
    assert deliveries == [
        ("w1", 2, [0, 2, 3, 5], [STARTED_NS + s + 10 for s in (0, 2, 3, 5)]),
        ("w2", 1, [1], [STARTED_NS + 11]),
        ("w1", 1, [4], [STARTED_NS + 14]),
    ]
    assert [(e.worker, e.count) for e in events if isinstance(e, ev.ForeignPayloads)] == [("w1", 2)]


def test_a_malformed_message_in_a_batch_costs_only_itself():
    bad_count = receipts("w1", 2, [7])
    bad_count[0] = wire.telemetry(wire.RECEIPTS, name="w1", life=2, n=2, foreign=0)  # frames hold one receipt
    events = decode([receipts("w1", 2, [0]), bad_count, [b"not json"], receipts("w1", 2, [1])])
    assert sum(isinstance(e, ev.MalformedTelemetry) for e in events) == 2
    assert [e.seqs.tolist() for e in events if isinstance(e, ev.Deliveries)] == [[0, 1]]


def test_receipts_for_messages_never_sent_are_foreign_even_when_merged():
    events = decode([receipts("w1", 2, [1]), receipts("w1", 2, [10**9])])  # far past what p1 has sent
    assert [e.seqs.tolist() for e in events if isinstance(e, ev.Deliveries)] == [[1]]
    assert [e.count for e in events if isinstance(e, ev.ForeignPayloads)] == [1]


def test_a_routers_resends_by_worker_keep_our_workers_and_refuse_bad_counts():
    with_router = roster()
    with_router.lives["b1"], with_router.kinds["b1"] = 1, "router"

    def router_state(retried_from: object) -> ev.Event:
        header = wire.telemetry(wire.QUEUE, name="b1", life=1, queued=0, ready=2, routed=9, retried_from=retried_from)
        return decode_batch([[header]], NOW_NS, with_router, sent_of=lambda index: 1000)[0]

    # "x" is a stranger that took messages from the router: not one of our workers, left out
    assert router_state({"w1": 3, "w2": 1, "x": 5}).retried_from == {"w1": 3, "w2": 1}
    for bad in ({"w1": -1}, {"w1": "3"}, ["w1", 3], {"w1": True}):
        assert isinstance(router_state(bad), ev.MalformedTelemetry), bad

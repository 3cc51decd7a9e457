"""The longest queue at a worker, from its receipts: checked against counting every moment by hand."""

from __future__ import annotations

import numpy as np

from rrsim.model.queue_depth import QueueDepth


def by_hand(sent: list[int], recv: list[int]) -> int:
    """The most messages left waiting as one starts: sent before that start, started after it."""
    return max(sum(1 for s, r in zip(sent, recv, strict=True) if s < start < r) for start in recv)


def fold(batches: list[tuple[list[int], list[int], list[int]]]) -> QueueDepth:
    depth = QueueDepth()
    for pushers, sent, recv in batches:
        depth.add(np.array(pushers, dtype=np.int64), np.array(sent, dtype=np.int64), np.array(recv, dtype=np.int64))
    return depth


def test_a_slow_worker_builds_a_queue_that_falls_as_it_works() -> None:
    # Sent every 1 ms, 10 ms of work each: at the 2nd start (10.1 ms) messages 3..10 wait.
    sent = list(range(0, 10_000_000, 1_000_000))
    recv = [100_000 + 10_000_000 * k for k in range(10)]
    assert fold([([1] * 10, sent, recv)]).max == by_hand(sent, recv) == 8


def test_a_worker_that_keeps_up_has_no_queue() -> None:
    sent = [k * 10_000_000 for k in range(20)]
    recv = [s + 50_000 for s in sent]
    assert fold([([1] * 20, sent, recv)]).max == 0


def test_messages_reported_in_later_batches_count_for_earlier_starts() -> None:
    # Two pushers; the worker takes p1's backlog first, and p2's messages, sent early, come in a
    # later batch: they were waiting at the first starts too.
    rng = np.random.default_rng(7)
    sent1 = np.sort(rng.integers(0, 50_000_000, 40))
    sent2 = np.sort(rng.integers(0, 50_000_000, 40))
    recv = 60_000_000 + np.arange(80) * 1_000_000
    sent = np.concatenate((sent1, sent2))
    pushers = [1] * 40 + [2] * 40
    batches = [(pushers[i:i + 16], sent[i:i + 16].tolist(), recv[i:i + 16].tolist()) for i in range(0, 80, 16)]
    assert fold(batches).max == by_hand(sent.tolist(), recv.tolist()) == 79


def test_a_new_life_starts_empty_but_the_worst_is_kept() -> None:
    depth = fold([([1] * 4, [0, 1, 2, 3], [10, 20, 30, 40])])
    assert depth.max == 3
    depth.new_life()
    depth.add(np.array([1]), np.array([100]), np.array([101]))
    assert depth.max == 3

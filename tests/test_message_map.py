"""The message map's data from fixed deliveries: cells per life and time, aggregation, lost, late."""

from __future__ import annotations

import time

import numpy as np

from rrsim.message_map import SLOT_NS, MessageMap


def arr(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def test_cells_count_per_life_and_time_by_pusher_with_lost_and_late():
    m = MessageMap()
    m.record_deliveries("w1", 1, arr(1, 1, 2), arr(0, SLOT_NS // 2, SLOT_NS), np.zeros(3, bool))
    m.record_deliveries("w1", 2, arr(2, 2), arr(3 * SLOT_NS, 3 * SLOT_NS), np.array([True, False]))
    m.record_lost("w1", 1, 2 * SLOT_NS, 5)
    frame = m.frame(0, 3 * SLOT_NS, 4)  # one slot a column
    assert not frame.aggregated and frame.column_ns == SLOT_NS and frame.peak == 2
    life1, life2 = frame.rows
    assert (life1.counts, life1.pushers, life1.lost) == ((2, 1, 0, 0), (1, 2, 0, 0), (0, 0, 5, 0))
    assert (life2.counts, life2.pushers, life2.late) == ((0, 0, 0, 2), (0, 0, 0, 2), (0, 0, 0, 1))


def test_more_time_than_columns_is_aggregated_and_says_so():
    m = MessageMap()
    m.record_deliveries("w1", 1, np.ones(10, np.int64), np.arange(10) * SLOT_NS, np.zeros(10, bool))
    frame = m.frame(0, 9 * SLOT_NS, 3)  # ten slots in three columns: four a column
    assert frame.aggregated and frame.column_ns == 4 * SLOT_NS
    assert frame.rows[0].counts == (4, 4, 2)


def test_a_hundred_thousand_messages_a_second_at_128_workers_stays_cheap():
    # A second of 100,000 messages a second over 128 worker lives, in 20 ms batches, then ten
    # minutes of run drawn 200 columns wide: printed, not asserted (timings belong to benchmarks).
    m = MessageMap()
    rng = np.random.default_rng(1)
    started = time.perf_counter()
    for batch in range(50):
        t0 = batch * 20_000_000
        for worker in range(1, 129):
            n = 100_000 // 50 // 128
            recv = t0 + rng.integers(0, 20_000_000, n)
            m.record_deliveries(f"w{worker}", 1, rng.integers(1, 3, n), recv, np.zeros(n, bool))
    recorded = time.perf_counter() - started
    started = time.perf_counter()
    frame = m.frame(0, 600 * 10**9, 200)
    drawn = time.perf_counter() - started
    print(f"recorded 100,000 messages in {recorded:.2f} s, drew 128 rows in {drawn * 1000:.1f} ms")
    assert len(frame.rows) == 128 and sum(sum(r.counts) for r in frame.rows) == 50 * 128 * (100_000 // 50 // 128)

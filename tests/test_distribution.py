"""The latency histograms' binning: the fast one finds the bin a binary search over the edges does."""

from __future__ import annotations

import numpy as np

from rrsim.model.distribution import EDGES_NS, SMALL_BATCH, Durations, RecentDurations, bins


def test_a_duration_falls_in_the_bin_a_binary_search_over_the_edges_finds() -> None:
    # Every edge, either side of it, the ends and beyond, and a spread of ordinary latencies.
    rng = np.random.default_rng(22)
    edges = np.concatenate([np.floor(EDGES_NS), np.ceil(EDGES_NS), np.ceil(EDGES_NS) + 1]).astype(np.int64)
    durations = np.concatenate([edges, [0, 1, 999, 1000, 1001, 10**12, 10**12 + 1, 2**62],
                                (10 ** rng.uniform(0, 13, 100_000)).astype(np.int64)])
    assert np.array_equal(bins(durations), np.searchsorted(EDGES_NS, durations))
    at_and_just_above = np.concatenate([EDGES_NS, np.nextafter(EDGES_NS, np.inf)])  # where a logarithm rounds either way
    assert np.array_equal(bins(at_and_just_above), np.searchsorted(EDGES_NS, at_and_just_above))


def test_a_small_batch_counts_as_a_large_one_does() -> None:
    # Batches up to SMALL_BATCH are binned one by one in Python, larger ones with numpy: the same
    # histogram, count, total and maximum either way, edges and negatives (clock skew) included.
    rng = np.random.default_rng(11)
    durations = np.concatenate((rng.integers(-1000, 10**10, 500), EDGES_NS[::50].astype(np.int64),
                                EDGES_NS[::50].astype(np.int64) + 1, [0, 10**13]))
    one_by_one, whole = Durations(), Durations()
    for start in range(0, len(durations), SMALL_BATCH):
        one_by_one.add(durations[start : start + SMALL_BATCH])
    whole.add(durations)
    assert np.array_equal(one_by_one.counts, whole.counts)
    assert (one_by_one.count, one_by_one.total_ns, one_by_one.max_ns) == (whole.count, whole.total_ns, whole.max_ns)


def test_the_recent_window_is_what_its_seconds_hold_as_they_come_and_go() -> None:
    """The kept sum equals a merge of the seconds still in the window, maximum included, at every
    step, as the model reads it: at its latest event's time, which never goes back."""
    rng = np.random.default_rng(7)
    recent = RecentDurations(window_s=3)
    second = 1_000_000_000
    added: list[tuple[int, np.ndarray]] = []
    for at in [*range(0, 6 * second, second // 4), 9 * second, 9 * second + 1, 14 * second]:  # gaps too
        size = int(rng.integers(1, 3 * SMALL_BATCH))  # small batches and large ones
        durations = rng.exponential(1e6 * (1 + at // second), size).astype(np.int64)  # each second longer
        recent.add(durations, at)
        added.append((at, durations))
        expected = Durations()
        for when, batch in added:
            if when // second > at // second - 3:
                expected.add(batch)
        window = recent.window(at)
        assert (window.count, window.total_ns, window.max_ns) == (expected.count, expected.total_ns, expected.max_ns)
        assert np.array_equal(window.counts, expected.counts)
        assert window.quantiles_ms(0.5, 0.99) == [expected.quantile_ms(0.5), expected.quantile_ms(0.99)]
    later = recent.window(20 * second)  # nothing added since: the window empties as time passes
    assert (later.count, later.total_ns, later.max_ns, int(later.counts.sum())) == (0, 0, 0, 0)

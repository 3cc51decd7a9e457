"""The latency histograms' binning: the fast one finds the bin a binary search over the edges does."""

from __future__ import annotations

import numpy as np

from rrsim.model.distribution import EDGES_NS, SMALL_BATCH, Durations, bins


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

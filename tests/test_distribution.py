"""The latency histograms' binning: the fast one finds the bin a binary search over the edges does."""

from __future__ import annotations

import numpy as np

from rrsim.model.distribution import EDGES_NS, bins


def test_a_duration_falls_in_the_bin_a_binary_search_over_the_edges_finds() -> None:
    # Every edge, either side of it, the ends and beyond, and a spread of ordinary latencies.
    rng = np.random.default_rng(22)
    edges = np.concatenate([np.floor(EDGES_NS), np.ceil(EDGES_NS), np.ceil(EDGES_NS) + 1]).astype(np.int64)
    durations = np.concatenate([edges, [0, 1, 999, 1000, 1001, 10**12, 10**12 + 1, 2**62],
                                (10 ** rng.uniform(0, 13, 100_000)).astype(np.int64)])
    assert np.array_equal(bins(durations), np.searchsorted(EDGES_NS, durations))
    at_and_just_above = np.concatenate([EDGES_NS, np.nextafter(EDGES_NS, np.inf)])  # where a logarithm rounds either way
    assert np.array_equal(bins(at_and_just_above), np.searchsorted(EDGES_NS, at_and_just_above))

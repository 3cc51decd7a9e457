"""A distribution of durations kept as a fine log-scale histogram, with an exact count, mean
and maximum: constant memory however long the run, and percentiles within 0.6%."""

from __future__ import annotations

import bisect

import numpy as np

BINS_PER_DECADE = 200  # each bin is 1.16% wide: a percentile read at its middle is off by at most 0.6%
# From 1 us to 1000 s; shorter durations fall in the first bin, longer in the last.
EDGES_NS = np.logspace(3, 12, 9 * BINS_PER_DECADE + 1)
_MIDDLES_NS = np.sqrt(EDGES_NS[1:] * EDGES_NS[:-1])
_VALUES_NS = np.concatenate(([EDGES_NS[0]], _MIDDLES_NS, [EDGES_NS[-1]]))
_BOUNDS_NS = np.concatenate(([-np.inf], EDGES_NS, [np.inf]))  # _BOUNDS_NS[i + 1] is EDGES_NS[i]
_EDGES_LIST = EDGES_NS.tolist()  # bisect_left over it is np.searchsorted's bin, for one duration
SMALL_BATCH = 16  # up to this many durations are binned one by one (Durations.add)


def bins(durations_ns: np.ndarray) -> np.ndarray:
    """``np.searchsorted(EDGES_NS, durations_ns)``, exactly, in a fifth of its time: the bin each
    falls in is read off its logarithm, then moved one bin where that rounded the wrong way.
    (A binary search over 1801 edges was most of the engine's cost per message.)"""
    x = durations_ns.astype(np.float64)
    guess = (np.log10(np.maximum(x, 1.0)) - 3.0) * BINS_PER_DECADE + 1.0
    index = np.clip(guess, 0, len(EDGES_NS)).astype(np.int64)
    index += x > _BOUNDS_NS[index + 1]  # above its bin's upper edge: the next one
    index -= x <= _BOUNDS_NS[index]  # not above its lower edge: the one before
    return index


class Binned:
    """Durations sorted into their bins once, to be added to more than one distribution."""

    __slots__ = ("bins", "counts", "n", "total_ns", "max_ns")

    def __init__(self, durations_ns: np.ndarray) -> None:
        self.n = len(durations_ns)
        self.bins: list[int] = []  # the bin of each of a small batch
        self.counts: np.ndarray | None = None  # or the count in every bin
        if self.n <= SMALL_BATCH:
            # One by one: numpy's fixed cost per call (a count over every bin) is ten times a small
            # batch's work, and 256 workers at 80 msgs/s each report batches of one or two.
            values = [max(v, 0) for v in durations_ns.tolist()]
            self.bins = [bisect.bisect_left(_EDGES_LIST, value) for value in values]
            self.total_ns, self.max_ns = int(sum(values)), int(max(values, default=0))
        else:
            durations_ns = np.maximum(durations_ns, 0)
            self.counts = np.bincount(bins(durations_ns), minlength=len(EDGES_NS) + 1)
            self.total_ns, self.max_ns = int(durations_ns.sum()), int(durations_ns.max())


class Durations:
    def __init__(self) -> None:
        self.counts = np.zeros(len(EDGES_NS) + 1, dtype=np.int64)
        self.count = 0
        self.total_ns = 0
        self.max_ns = 0

    def add(self, durations_ns: np.ndarray) -> None:
        if len(durations_ns):
            self.add_binned(Binned(durations_ns))

    def add_binned(self, binned: Binned) -> None:
        if binned.counts is None:
            counts = self.counts
            for index in binned.bins:
                counts[index] += 1
        else:
            self.counts += binned.counts
        self.count += binned.n
        self.total_ns += binned.total_ns
        self.max_ns = max(self.max_ns, binned.max_ns)

    def remove(self, part: Durations) -> None:
        """Take away ``part``, added before (its maximum stays: the caller knows what is left)."""
        self.counts -= part.counts
        self.count -= part.count
        self.total_ns -= part.total_ns

    @classmethod
    def merged(cls, parts: list[Durations]) -> Durations:
        whole = cls()
        for part in parts:
            whole.counts += part.counts
            whole.count += part.count
            whole.total_ns += part.total_ns
            whole.max_ns = max(whole.max_ns, part.max_ns)
        return whole

    def quantile_ms(self, q: float) -> float | None:
        return self.quantiles_ms(q)[0]

    def quantiles_ms(self, *qs: float) -> list[float | None]:
        """Several quantiles for one pass over the bins."""
        if self.count == 0:
            return [None] * len(qs)
        below = np.cumsum(self.counts)
        indexes = np.searchsorted(below, [q * self.count for q in qs]).tolist()
        return [min(float(_VALUES_NS[min(index, len(_VALUES_NS) - 1)]), self.max_ns) / 1e6 for index in indexes]

    def share_within_ms(self, limit_ms: float) -> float | None:
        """The share of durations at most ``limit_ms`` (to a bin: within 1.2% of the limit)."""
        if self.count == 0:
            return None
        below = int(np.searchsorted(EDGES_NS, limit_ms * 1e6, side="right"))
        return float(self.counts[:below].sum()) / self.count

    def mean_ms(self) -> float | None:
        return None if self.count == 0 else self.total_ns / self.count / 1e6

    def summary_ms(self) -> dict[str, float | None]:
        """``{mean, p50, p95, p99, max}`` in ms, rounded to the microsecond (None when empty)."""
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 3)

        return {
            "mean": rounded(self.mean_ms()),
            "p50": rounded(self.quantile_ms(0.5)),
            "p95": rounded(self.quantile_ms(0.95)),
            "p99": rounded(self.quantile_ms(0.99)),
            "max": rounded(None if self.count == 0 else self.max_ns / 1e6),
        }


SECOND_NS = 1_000_000_000


class RecentDurations:
    """The last ``window_s`` seconds of a distribution, one ``Durations`` per second of event
    time: what latency is now, not since the start.  Their sum is kept as they come and go, so
    that reading it costs nothing however many seconds it holds (the live view reads it for
    every worker, many times a second)."""

    def __init__(self, window_s: int = 10) -> None:
        self.window_s = window_s
        self.seconds: dict[int, Durations] = {}
        self.total = Durations()

    def add(self, durations_ns: np.ndarray, at_ns: int) -> None:
        if len(durations_ns):
            self.add_binned(Binned(durations_ns), at_ns)

    def add_binned(self, binned: Binned, at_ns: int) -> None:
        second = at_ns // SECOND_NS
        self.seconds.setdefault(second, Durations()).add_binned(binned)
        self.total.add_binned(binned)
        self._forget_up_to(second - self.window_s)

    def window(self, now_ns: int) -> Durations:
        """Every duration added in the last ``window_s`` seconds before ``now_ns``, which never goes
        back (kept up to date in place: read it, do not change it)."""
        self._forget_up_to(now_ns // SECOND_NS - self.window_s)
        return self.total

    def _forget_up_to(self, oldest: int) -> None:
        old = [second for second in self.seconds if second <= oldest]
        if not old:
            return
        for second in old:
            self.total.remove(self.seconds.pop(second))
        self.total.max_ns = max((part.max_ns for part in self.seconds.values()), default=0)

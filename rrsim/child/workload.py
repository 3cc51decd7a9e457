"""The jobs a pusher sends when they are drawn at random: when each message is due and how much
work it carries, fixed by the run's seed and the pusher's number.  Pure: no sockets, no clocks.

Arrivals are offsets in units of 1/rate (message n of a Poisson process is due at the sum of n
exponential gaps of mean 1), so that a change of rate rescales the same stream instead of drawing
another.  Work sizes are whole microseconds with mean ``work_ms``, capped at ``MAX_WORK_FACTOR``
times the mean (a worker refuses more from anyone).  Both are drawn a block at a time with numpy,
each from its own generator, so the sizes are the same whichever the arrivals.

The pusher imports this module only when something is drawn (``sending.EvenJobs`` is the fixed
stream): numpy is a fifth of a second of a child's start-up.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from rrsim.child.work import MAX_WORK_FACTOR
from rrsim.wire import MAX_WORK_US

ARRIVALS = ("fixed", "poisson")
WORK_DISTS = ("fixed", "exponential", "uniform", "lognormal")
BLOCK = 4096  # jobs drawn at once
DIGEST_SIZE = 8


def work_cap_us(work_ms: float) -> int:
    """The largest work size, in microseconds, of a job whose mean is ``work_ms`` (for lognormal
    with work_cv at most 4, one job in a million or fewer would be larger)."""
    return min(MAX_WORK_US, round(work_ms * 1000 * MAX_WORK_FACTOR))


def draw_sizes(rng: np.random.Generator, work_dist: str, work_ms: float, work_cv: float, count: int) -> np.ndarray:
    """``count`` work sizes in whole microseconds (uint32) of mean ``work_ms``.

    uniform is 0 to twice the mean; lognormal has coefficient of variation ``work_cv``."""
    mean_us = work_ms * 1000
    if work_dist == "fixed" or mean_us == 0:
        sizes = np.full(count, mean_us)
    elif work_dist == "exponential":
        sizes = rng.exponential(mean_us, count)
    elif work_dist == "uniform":
        sizes = rng.uniform(0, 2 * mean_us, count)
    elif work_dist == "lognormal":
        sigma = math.sqrt(math.log1p(work_cv**2))
        sizes = rng.lognormal(math.log(mean_us) - sigma**2 / 2, sigma, count)
    else:
        raise ValueError(f"unknown work distribution {work_dist!r}")
    clipped: np.ndarray = np.clip(np.rint(sizes), 0, work_cap_us(work_ms)).astype(np.uint32)
    return clipped


class DrawnJobs:
    """One pusher's jobs, asked for in order of sequence number (never backwards).

    ``at(seq)`` is when message ``seq`` is due, in units of 1/rate since message 0; ``due(units)``
    how many messages are due by then (it looks no further than the current block: the pusher
    asks again); ``sizes_from(seq)`` the work sizes of the block that holds ``seq``, for a loop
    that stamps them one by one; ``digest(sent)`` a fingerprint of the first ``sent`` jobs."""

    def __init__(self, seed: int, index: int, arrivals: str, work_dist: str, work_ms: float,
                 work_cv: float = 1.0) -> None:
        if arrivals not in ARRIVALS:
            raise ValueError(f"unknown arrivals {arrivals!r}")
        # One generator per stream and per pusher, each fixed by (seed, pusher, stream).
        self._gap_rng = np.random.default_rng([seed, index, 0])
        self._size_rng = np.random.default_rng([seed, index, 1])
        self.poisson = arrivals == "poisson"
        self.work_dist, self.work_ms, self.work_cv = work_dist, work_ms, work_cv
        self.start = -BLOCK  # the first sequence number of the current block
        self._next_at = 0.0  # when the first message of the next block is due
        self._hash = hashlib.blake2b(digest_size=DIGEST_SIZE)  # of every block before the current one
        self.arrivals = np.empty(0)
        self.sizes: list[int] = []
        self._sizes = np.empty(0, dtype=np.uint32)
        self._next_block()

    def _next_block(self) -> None:
        if len(self._sizes):
            self._hash.update(self.arrivals.tobytes())
            self._hash.update(self._sizes.tobytes())
        self.start += BLOCK
        if self.poisson:
            gaps = self._gap_rng.standard_exponential(BLOCK)
            ends = self._next_at + np.cumsum(gaps)
            self.arrivals = ends - gaps
            self._next_at = float(ends[-1])
        else:
            self.arrivals = np.arange(self.start, self.start + BLOCK, dtype=np.float64)
        self._sizes = draw_sizes(self._size_rng, self.work_dist, self.work_ms, self.work_cv, BLOCK)
        self.sizes = self._sizes.tolist()  # indexed once per message: a list is faster than an array

    def _reach(self, seq: int) -> None:
        if seq < self.start:
            raise ValueError(f"message {seq} is before the current block ({self.start}): jobs go forwards only")
        while seq >= self.start + BLOCK:
            self._next_block()

    def at(self, seq: int) -> float:
        self._reach(seq)
        return float(self.arrivals[seq - self.start])

    def due(self, units: float) -> int:
        """Messages due by ``units``, counted from message 0, up to the end of the current block."""
        return self.start + int(np.searchsorted(self.arrivals, units, side="right"))

    def sizes_from(self, seq: int) -> tuple[int, list[int]]:
        """(first sequence number, work sizes) of the block that holds ``seq``."""
        self._reach(seq)
        return self.start, self.sizes

    def digest(self, sent: int) -> str:
        """A fingerprint of the arrival offsets and work sizes of messages 0 to ``sent`` - 1."""
        self._reach(max(sent - 1, self.start))
        digest = self._hash.copy()
        taken = max(0, sent - self.start)
        digest.update(self.arrivals[:taken].tobytes())
        digest.update(self._sizes[:taken].tobytes())
        return digest.hexdigest()

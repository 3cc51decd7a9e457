"""The longest queue a worker had, worked out from when its messages were sent and started: a
pure fold of its receipts, with no help from the worker (which cannot see its own pipes).

It holds for a worker whose messages are dealt to it when they are sent, as PUSH does (the pipe
is chosen in ``zmq_send``): from then on the message waits for that worker, in a pipe or a
socket buffer.  At a moment ``t`` the messages waiting for it are those sent by ``t`` and not yet
started.  The count only falls when the worker starts one, so its peaks are just before each
start; the figure kept is the number left waiting as a message starts (the one starting not
counted, so a worker that never had a backlog scores 0).

Messages that were waiting at a start may be reported in later batches, so each start stays
open, counting what later batches add, until no later message can count for it.  A pipe is
first in, first out, and PULL takes from its pipes in turn, so a pusher's later messages to
this worker were sent after the last one of its seen here: a start before every pusher's last
send seen here is final.  At most ``MAX_OPEN`` starts stay open (the oldest are closed first).
"""

from __future__ import annotations

import numpy as np

MAX_OPEN = 8192
PEAK_SLOT_NS = 100_000_000  # the queue over time is kept as its peak per tenth of a second


class QueueDepth:
    """The messages waiting behind the one a worker (one life of it) starts, at the worst start."""

    def __init__(self) -> None:
        self.max = 0
        self._starts = np.empty(0, dtype=np.int64)  # start times still open, ascending
        self._waiting = np.empty(0, dtype=np.int64)  # messages counted waiting at each
        self._last_sent: dict[int, int] = {}  # pusher index -> its latest send seen here
        self._peaks: dict[int, int] = {}  # PEAK_SLOT_NS slot -> the most left waiting at a final start in it

    def peaks(self) -> dict[int, int]:
        """The queue over time: for each tenth of a second (slot index of ``PEAK_SLOT_NS``) with a
        start, the most messages left waiting at a start in it, the starts still open included."""
        peaks = dict(self._peaks)
        _add_peaks(peaks, self._starts, self._waiting)
        return peaks

    def new_life(self) -> None:
        """A new process: an empty worker, whatever the last one had."""
        self._starts = self._waiting = np.empty(0, dtype=np.int64)
        self._last_sent.clear()

    def add(self, pushers: np.ndarray, sent_ns: np.ndarray, recv_ns: np.ndarray) -> None:
        """A batch of receipts of this life: each message's pusher, send and start times."""
        if len(recv_ns) == 0:
            return
        sent, recv = sent_ns, recv_ns
        if not _ascending(recv):  # a worker reports in the order it started, but do not rely on it
            order = np.argsort(recv, kind="stable")
            sent, recv = sent[order], recv[order]
        sorted_sent = sent if _ascending(sent) else np.sort(sent)  # ascending from one pusher
        # Every message of this batch started after every open start: it was waiting at an open
        # start if it was sent before it.
        waiting = self._waiting + np.searchsorted(sorted_sent, self._starts, side="left")
        # At this batch's k-th start, the batch's messages sent before it, less itself and the k
        # before it (each sent before it started, so all counted by the search).
        fresh = np.searchsorted(sorted_sent, recv, side="left") - np.arange(1, len(recv) + 1)
        self._starts = np.concatenate((self._starts, recv))
        self._waiting = np.concatenate((waiting, np.maximum(fresh, 0)))
        self.max = max(self.max, int(self._waiting.max()))
        single = bool((pushers == pushers[0]).all())
        for index in [pushers[0]] if single else np.unique(pushers):
            latest = int(sent_ns.max() if single else sent_ns[pushers == index].max())
            self._last_sent[int(index)] = max(self._last_sent.get(int(index), 0), latest)
        final = int(np.searchsorted(self._starts, min(self._last_sent.values()), side="right"))
        final = max(final, len(self._starts) - MAX_OPEN)
        _add_peaks(self._peaks, self._starts[:final], self._waiting[:final])
        self._starts, self._waiting = self._starts[final:], self._waiting[final:]


def _ascending(values: np.ndarray) -> bool:
    return bool((values[1:] >= values[:-1]).all())


def _add_peaks(peaks: dict[int, int], starts: np.ndarray, waiting: np.ndarray) -> None:
    """Raise each slot's peak in ``peaks`` to the most ``waiting`` at ``starts`` (ascending) in it."""
    if len(starts) == 0:
        return
    slots = starts // PEAK_SLOT_NS
    first = np.flatnonzero(np.concatenate(([True], slots[1:] != slots[:-1])))
    for slot, most in zip(slots[first].tolist(), np.maximum.reduceat(waiting, first).tolist(), strict=True):
        if most > peaks.get(slot, -1):
            peaks[slot] = most

"""The run's log as facts: entries added, and one entry per cause whose count grows in place."""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from rrsim.model.views import NS, LogEntry, pusher_name

LOG_LENGTH = 1000
FOLD_NS = NS  # connections coming up, or first lives starting, this close together are one log line
BURST_NS = 2 * NS  # the same setting changed again within this time is one log line (a key held down)

CauseKey = tuple[Any, ...]
IdRange = tuple[int, int, int, int]  # (first, last, count, step): see grown_range


class EventLog:
    """The last ``LOG_LENGTH`` entries; ``revision`` grows whenever one is added or updated, so a
    front end redraws only what changed."""

    def __init__(self) -> None:
        self.entries: deque[LogEntry] = deque(maxlen=LOG_LENGTH)
        self.revision = 0
        self.last_start_serial = 0  # the latest entry that a process started
        self._serial = 0
        self._causes: dict[CauseKey, LogEntry] = {}

    def note(self, t_ns: int, kind: str, what: str, **facts: Any) -> LogEntry:
        self._serial += 1
        self.revision += 1
        entry = LogEntry(t_ns, kind, what, facts, self._serial, self.revision, t_ns)
        self.entries.append(entry)
        if kind == "start":
            self.last_start_serial = entry.serial
        return entry

    def note_start(self, t_ns: int, **facts: Any) -> None:
        """A process started.  A receiver's or router's first life within FOLD_NS of the last one
        joins its line (256 workers are one line, as their connections are); others have their own."""
        key = ("started",)
        wave = self._causes.get(key)
        if facts["life"] != 1 or facts.get("sender"):
            self.note(t_ns, "start", "started", **facts)
        elif wave is not None and t_ns - (wave.until_ns or wave.t_ns) < FOLD_NS:
            names, pids = wave.facts.get("names", [wave.facts["name"]]), wave.facts.get("pids", [wave.facts["pid"]])
            self._causes[key] = self.rewrite(wave, t_ns, names=[*names, facts["name"]], pids=[*pids, facts["pid"]])
            self._serial += 1
            self.last_start_serial = self._serial  # links told from now on go on a line after it
        else:
            self._causes[key] = self.note(t_ns, "start", "started", **facts)

    def rewrite(self, old: LogEntry, t_ns: int, **facts: Any) -> LogEntry:
        """Update ``old`` in place (same place in the log, new facts); if it has left the log, add it anew."""
        self.revision += 1
        new = replace(old, facts={**old.facts, **facts}, revision=self.revision, until_ns=t_ns)
        for i in range(len(self.entries) - 1, -1, -1):
            if self.entries[i] is old:
                self.entries[i] = new
                return new
        self.entries.append(new)
        return new

    def cause(self, key: CauseKey) -> LogEntry | None:
        """The entry of cause ``key``, if it has one."""
        return self._causes.get(key)

    def update_cause(self, key: CauseKey, **facts: Any) -> None:
        """New facts for the entry of cause ``key`` (a count that grew), if it has one: its time stays."""
        old = self._causes.get(key)
        if old is not None:
            self._causes[key] = self.rewrite(old, old.until_ns or old.t_ns, **facts)

    def forget_cause(self, key: CauseKey) -> None:
        """The next entry of cause ``key`` starts a line of its own."""
        self._causes.pop(key, None)

    def count_of(self, key: CauseKey) -> int:
        """The count the entry of cause ``key`` says so far (0: none yet)."""
        old = self._causes.get(key)
        return int(old.facts["count"]) if old is not None else 0

    def note_cause(self, key: CauseKey, t_ns: int, kind: str, what: str, **facts: Any) -> LogEntry:
        """One entry per cause: the first time it is added, afterwards it is updated in place."""
        old = self._causes.get(key)
        entry = self.note(t_ns, kind, what, **facts) if old is None else self.rewrite(old, t_ns, **facts)
        self._causes[key] = entry
        return entry

    def note_burst(self, t_ns: int, kind: str, what: str, first: dict[str, Any], **facts: Any) -> None:
        """A change made again soon after (a key pressed twelve times) updates the last line,
        keeping ``first`` (what it was before the burst) from the line's first write."""
        last = self.entries[-1] if self.entries else None
        if (last is not None and last.what == what and last.until_ns is not None and t_ns - last.until_ns < BURST_NS
                and last.facts.get("name") == facts.get("name")):  # the same worker's work, or the rate
            self.rewrite(last, t_ns, **facts)
        else:
            self.note(t_ns, kind, what, **first, **facts)

    def ranges_grown(self, key: CauseKey, index: int, seqs: npt.NDArray[np.int64]) -> dict[str, IdRange]:
        """The id ranges of cause ``key``'s line, per pusher, with pusher ``index``'s sorted ``seqs`` added."""
        old = self._causes.get(key)
        ranges: dict[str, IdRange] = dict(old.facts["ranges"]) if old else {}
        name = pusher_name(index)
        ranges[name] = grown_range(ranges.get(name), seqs)
        return ranges


def grown_range(old: IdRange | None, seqs: npt.NDArray[np.int64]) -> IdRange:
    """(first, last, count, step) of sorted ids, grown by ``seqs``: ``step`` is the gap between
    every two neighbours when it is always the same (every 3rd), 0 when it is not, -1 for one id."""
    first, last, count = int(seqs[0]), int(seqs[-1]), len(seqs)
    gaps: list[int] = np.unique(np.diff(seqs)).tolist()
    steps = set(gaps)
    if old is not None:
        steps |= {first - old[1]} | ({old[3]} if old[3] >= 0 else set())
        first, count = old[0], old[2] + count
    step = -1 if count == 1 else (steps.pop() if len(steps) == 1 else 0)
    return first, last, count, step

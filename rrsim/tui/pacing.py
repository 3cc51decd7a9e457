"""Frame pacing: keep the UI thread's share of a CPU under a budget, so the engine keeps up.

The engine shares the process (and its GIL) with the UI.  With many busy workers a frame
can cost tens of milliseconds to render; at 20 frames a second that would starve the
engine thread, and a key would take seconds to act.  The pacer lets a frame through only
while the UI thread's CPU time since the last frame is under ``share`` of the wall time.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Pacer:
    def __init__(self, share: float, cpu: Callable[[], float] = time.thread_time,
                 wall: Callable[[], float] = time.monotonic) -> None:
        self.share = share
        self.cpu = cpu  # CPU time of the calling thread: the UI's event loop renders there too
        self.wall = wall
        self.cpu_mark = cpu()
        self.wall_mark = wall()

    def ready(self) -> bool:
        """True (and start a new interval) if the last frame's cost has been paid off."""
        cpu, wall = self.cpu(), self.wall()
        elapsed = wall - self.wall_mark
        if elapsed <= 0 or (cpu - self.cpu_mark) / elapsed > self.share:
            return False
        self.cpu_mark, self.wall_mark = cpu, wall
        return True

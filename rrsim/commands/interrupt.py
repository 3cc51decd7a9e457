"""Ending a headless run early: ctrl+c, SIGTERM or SIGHUP is noted rather than raised, so the run
stops between two engine steps and still reports what happened so far, and a second signal
cannot cut the clean-up or the writing of the report short."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, Self

NOTED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# A terminal sends ctrl+c (and its hang-up) to the whole foreground process group, children
# included.  Blocked in the thread that starts the children, they stay blocked in them (a
# signal mask is inherited), so the children are ended by the engine, not by the key.  SIGTERM
# is not blocked: the engine stops a worker with it.
BLOCKED = {signal.SIGINT, signal.SIGHUP}
# What signal.signal takes and returns: a function, SIG_DFL or SIG_IGN, or None (set outside Python).
Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class Interruption:
    """``with Interruption() as interruption:`` notes the first of NOTED in ``signum``.

    Only the main thread can install signal handlers; elsewhere this does nothing."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._saved: dict[int, Handler] = {}
        self._waiter: threading.Thread | None = None
        self._closing = False

    @property
    def interrupted(self) -> bool:
        return self.signum is not None

    @property
    def exit_code(self) -> int:
        """What a shell expects of a process ended by the signal: 128 + its number."""
        return 128 + (self.signum or 0)

    @property
    def signal_name(self) -> str | None:
        """The signal's name (SIGINT), once one came."""
        return None if self.signum is None else signal.Signals(self.signum).name

    def _note(self, signum: int, _frame: FrameType | None = None) -> None:
        if self.signum is None:
            self.signum = signum

    def _wait_blocked(self) -> None:
        while True:
            signum = signal.sigwait(BLOCKED)
            if self._closing:
                return
            self._note(signum)

    def __enter__(self) -> Self:
        if threading.current_thread() is not threading.main_thread():
            return self
        for signum in NOTED:
            self._saved[signum] = signal.signal(signum, self._note)
        self._old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, BLOCKED)
        # Blocked everywhere, they wait for a thread that asks for them.
        self._waiter = threading.Thread(target=self._wait_blocked, name="rrsim-interruption", daemon=True)
        self._waiter.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._waiter is None:
            return
        self._closing = True
        assert self._waiter.ident is not None  # started in __enter__
        signal.pthread_kill(self._waiter.ident, signal.SIGINT)
        self._waiter.join(timeout=5)
        # Unblocking runs the handler of anything still pending (pthread_sigmask checks), so a
        # signal that came at the very end is noted, not raised after the report is written.
        signal.pthread_sigmask(signal.SIG_SETMASK, self._old_mask)
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)

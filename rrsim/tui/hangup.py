"""When the terminal goes away (its window closed): the run ends first, then the app, in bounded time.

A terminal that hangs up sends SIGHUP and SIGCONT, and every write to it fails with EIO from
then on.  Textual's SIGCONT handler, meant for ``fg`` after ctrl+z, restarts its output on the
dead terminal; that writer thread dies on its first write, and one frame more than its queue
holds (30 writes) blocks the app for ever.  So the clean-up never waits for Textual, a failed
write does not end Textual's writer, and a process that still has not ended is ended.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import termios
import threading
import time
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any, TextIO

from textual.app import App
from textual.drivers.linux_driver import LinuxDriver

HANGUP_EXIT_CODE = 128 + signal.SIGHUP
EXIT_WITHIN_S = 1.5  # from the hangup of a vanished terminal to the end of the process
RESTORE_WITHIN_S = 10.0  # SIGHUP with the terminal still there (kill -HUP): time to restore the screen


def terminal_gone(fd: int) -> bool:
    """True once the terminal on ``fd`` has hung up: every call on it fails with EIO."""
    try:
        termios.tcgetattr(fd)
    except termios.error as error:
        return bool(error.args[0] == errno.EIO)
    return False


class TerminalOutput:
    """The terminal as Textual's writer thread writes to it.

    Once a write fails the terminal is gone: later writes are dropped, so that the thread lives
    on and empties its queue, and the process gets the SIGHUP of a hangup, which a terminal that
    rrsim does not lead never sends.
    """

    def __init__(self, file: TextIO) -> None:
        self._file = file
        self._gone = False

    def write(self, text: str) -> None:
        if not self._gone:
            try:
                self._file.write(text)
            except OSError:
                self._hang_up()

    def flush(self) -> None:
        if not self._gone:
            try:
                self._file.flush()
            except OSError:
                self._hang_up()

    def fileno(self) -> int:
        return self._file.fileno()

    def _hang_up(self) -> None:
        self._gone = True
        os.kill(os.getpid(), signal.SIGHUP)


class TerminalDriver(LinuxDriver):
    """Textual's Linux driver, for a terminal that may vanish while the app runs."""

    def __init__(self, app: App[Any], **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        # LinuxDriver hands ``_file`` to the writer thread it starts in start_application_mode.
        assert self._file is not None  # sys.__stderr__: Textual draws on it
        # Textual infers _file's type from sys.__stderr__ (TextIOWrapper); its writer thread takes any
        # IO[str] and only writes, flushes and asks fileno, which TerminalOutput does.
        self._file = TerminalOutput(self._file)  # type: ignore[assignment]

    def resume_application_mode(self) -> None:
        # On SIGCONT: after fg there is a terminal to resume on; after a hangup there is none.
        if not terminal_gone(self.fileno):
            super().resume_application_mode()


class Hangup:
    """While in use, SIGHUP (the terminal went away) closes the run at once, then quits the app.

    The run is closed on a thread of its own, so that a blocked event loop cannot hold it up;
    once it is closed, a process that has not left the ``with`` block in time is ended with
    os._exit.  Leaving the block waits for that clean-up, so that nothing can cut it short.
    """

    def __init__(self, app: App[Any], close_run: Callable[[], None]) -> None:
        self.app = app
        self.close_run = close_run
        self._begun = threading.Lock()
        self._thread: threading.Thread | None = None
        self._left = threading.Event()
        self._previous: Any = None

    def __enter__(self) -> Hangup:
        # A plain handler, not the event loop's: it runs whatever the loop is doing, stuck or not.
        self._previous = signal.signal(signal.SIGHUP, self._on_sighup)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._left.set()
        if self._thread is not None:
            self._thread.join()
        signal.signal(signal.SIGHUP, self._previous)

    def _on_sighup(self, signum: int, frame: FrameType | None) -> None:
        if self._begun.acquire(blocking=False):  # once: a shell and the kernel may each send one
            self._thread = threading.Thread(target=self._end, name="rrsim-hangup", daemon=True)
            self._thread.start()

    def _end(self) -> None:
        deadline = time.monotonic() + EXIT_WITHIN_S
        try:
            self.close_run()  # first: every child ended and the run directory removed, whatever Textual does
        finally:
            self.app.exit(return_code=HANGUP_EXIT_CODE)  # from another thread, Textual posts it to its loop
            stdin = sys.__stdin__
            if stdin is not None and not terminal_gone(stdin.fileno()):
                deadline += RESTORE_WITHIN_S
            if not self._left.wait(max(0.0, deadline - time.monotonic())):
                os._exit(HANGUP_EXIT_CODE)

"""Dying with the parent: every process rrsim starts must end when rrsim ends, even by SIGKILL."""

from __future__ import annotations

import ctypes
import os
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int, signum: int = signal.SIGKILL) -> None:
    """Ask Linux to send ``signum`` when the parent goes; and check it is not gone already.

    The signal follows the parent *thread* that forked us, so the engine starts children
    from the one thread that steps it; the periodic parent check covers the rest.
    """
    signal_when_parent_dies(signum)
    if os.getppid() != parent_pid:
        os._exit(0)


def signal_when_parent_dies(signum: int) -> None:
    """Ask Linux to send ``signum`` when the parent thread goes (nothing elsewhere: a periodic
    check of the parent covers it)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signum)
    except (OSError, AttributeError):
        pass  # not Linux

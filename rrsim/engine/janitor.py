"""The janitor: ends a run's children and removes its directory if the engine that made them dies
without doing so.

Started by the engine as ``python -m rrsim.engine.janitor RUN_DIR PARENT_PID``.  The pushers and
workers die with the engine by themselves (PR_SET_PDEATHSIG, and a check of their parent), but
one that is stopped (SIGSTOP: paused) runs no check, and one that had not yet asked for the
signal when the engine died never gets it: the janitor SIGKILLs whatever still names the run
directory on its command line (the fork server's names it, and its children keep that line).  Then
nothing else is left to remove a SIGKILLed engine's ipc sockets and logs.  Imports nothing
heavy: it starts in ~20 ms.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time

from rrsim.child.deathsig import signal_when_parent_dies

CHECK_S = 0.1


def main() -> None:
    run_dir, parent_pid = sys.argv[1], int(sys.argv[2])
    # The engine ends us with SIGTERM once it has cleaned up itself: then there is nothing to do.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGUSR1, lambda *_: None)  # wakes the sleep below at once
    # A shell forwards a closed terminal's SIGHUP to the whole job: we are the one that must outlive it.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    # Not die_with_parent: an engine gone before we got this far still leaves a run to clean up.
    signal_when_parent_dies(signal.SIGUSR1)
    while os.getppid() == parent_pid:
        time.sleep(CHECK_S)
    for pid in processes_naming(run_dir):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass  # gone meanwhile
    shutil.rmtree(run_dir, ignore_errors=True)


def processes_naming(run_dir: str) -> list[int]:
    """Our user's processes but this one whose command line holds ``run_dir``: the run's children."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != os.getuid():
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                if run_dir.encode() in cmdline.read():
                    found.append(int(entry))
        except OSError:
            continue  # ended meanwhile
    return found


if __name__ == "__main__":
    main()

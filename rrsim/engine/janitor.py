"""The janitor: removes a run directory if the engine that made it dies without doing so.

Started by the engine as ``python -m rrsim.engine.janitor RUN_DIR PARENT_PID``.  The pushers and
workers die with the engine by themselves (PR_SET_PDEATHSIG); nothing else is left to
remove a SIGKILLed engine's ipc sockets and logs.  Imports nothing heavy: it starts in ~20 ms.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time

from rrsim.child.deathsig import die_with_parent

CHECK_S = 0.1


def main() -> None:
    run_dir, parent_pid = sys.argv[1], int(sys.argv[2])
    # The engine ends us with SIGTERM once it has cleaned up itself: then there is nothing to do.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGUSR1, lambda *_: None)  # wakes the sleep below at once
    # A shell forwards a closed terminal's SIGHUP to the whole job: we are the one that must outlive it.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    die_with_parent(parent_pid, signal.SIGUSR1)
    while os.getppid() == parent_pid:
        time.sleep(CHECK_S)
    shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    main()

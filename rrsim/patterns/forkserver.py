"""The fork server: one process per run that imports every pattern once and forks each of the run's
local children from itself.

A child started as a new interpreter spends about 50 ms of CPU on Python and its imports before
it opens a socket: 256 workers took 12 s to connect on 2 cores.  Forked from a process that has
done that already, a child starts in a few milliseconds, and shares those pages with its siblings.

Started by the engine (``rrsim/engine/forking.py``) as ``python -P -m rrsim.patterns.forkserver
RUN_DIR ENGINE_PID``; the run directory on the command line is what the janitor and the tests
find the run's processes by, and a forked child keeps its parent's command line.  It reads one
request a line on stdin, ``{"spec": ..., "log": PATH, "group": BOOL}``, and answers on stdout:
``pid PID`` for each request, in order, and ``end PID CODE`` whenever a child ends (CODE as
``subprocess`` gives it: the exit status, or minus the signal that ended it).  When stdin closes
(the engine is done), it kills the children it still has, says how they ended, and ends.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import sys
import traceback

from rrsim.child.deathsig import die_with_parent
from rrsim.child.runtime import give_way
from rrsim.patterns import MODULES, load
from rrsim.patterns.__main__ import run

_PR_SET_NAME = 15


def main() -> None:
    die_with_parent(int(sys.argv[2]))
    for name in MODULES:
        load(name)  # what makes a child quick: every pattern imported before the first fork
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)  # a child's end wakes the select below
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: set[int] = set()
    pending = b""
    while True:
        try:
            readable, _, _ = select.select([0, wake_r], [], [])
        except InterruptedError:
            continue
        if wake_r in readable:
            os.read(wake_r, 4096)
            _reap(children)
        if 0 in readable:
            chunk = os.read(0, 65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    os.close(wake_r)
                    os.close(wake_w)
                    _become_child(request["spec"], request["log"], request["group"], request["idle"])
                if request["group"]:
                    try:
                        os.setpgid(pid, pid)  # here too, as a shell does: its group exists before anyone signals it
                    except OSError:
                        pass  # it did so itself already, or has ended: its end is reported as any other
                children.add(pid)
                _say(f"pid {pid}")
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    while children:
        _reap(children, wait=True)


def _reap(children: set[int], wait: bool = False) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, 0 if wait else os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        _say(f"end {pid} {os.waitstatus_to_exitcode(status)}")


def _say(line: str) -> None:
    os.write(1, f"{line}\n".encode())


def _become_child(spec_json: str, log_path: str, group: bool, idle: bool) -> None:
    """In the forked child: what ``subprocess`` would have set up, then the child's loop; never returns."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        if group:
            os.setpgid(0, 0)  # the user's program runs beside it in a group of their own
        give_way(idle)
        nothing = os.open(os.devnull, os.O_RDONLY)
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(nothing, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(nothing)
        os.close(log)
        _name_process(json.loads(spec_json).get("name", ""))
        run(spec_json)
        code = 0
    except SystemExit as leaving:
        code = leaving.code if isinstance(leaving.code, int) else (0 if leaving.code is None else 1)
        if isinstance(leaving.code, str):
            print(leaving.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


def _name_process(name: str) -> None:
    """``rrsim w3`` in top and ps -o comm (the command line stays the fork server's)."""
    try:
        ctypes.CDLL(None).prctl(_PR_SET_NAME, f"rrsim {name}".encode()[:15])
    except (OSError, AttributeError):
        pass  # not Linux


if __name__ == "__main__":
    main()

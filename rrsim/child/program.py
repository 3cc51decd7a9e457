"""A user's own worker program in place of ours: started with its endpoints in its environment,
what it sends back counted as done, and its end passed on as ours.  Knows no pattern: the
pattern's loop says which variables hold which endpoints and hands over the socket the
program's returns arrive on.

The program runs in this process's group (the supervisor starts us in a group of our own), so
the engine's kill, stop, pause and resume reach both at once.  Its stdout and stderr are ours:
the life's log file.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import zmq

from rrsim import wire
from rrsim.child.deathsig import die_with_parent
from rrsim.child.receipts import Receipts
from rrsim.child.runtime import PARENT_CHECK_NS, ChildRuntime, idle_timeout_ms
from rrsim.child.sockets import program_address
from rrsim.child.spec import ChildSpec

SILENT_S = 3.0  # nothing back for this long after the start: say which variable it should use
# (not counting the time a busy machine kept the program waiting to run: its start is slower then)
END_WAIT_S = 0.2  # after the program ends, what it sent last is still read for this long


def own_address(spec: ChildSpec) -> str:
    """Over tcp, the loopback address this life's program connects from, its own (``program_address``),
    by which the pushers or the broker tell its connections from a stranger's; "" over ipc (its pid tells)."""
    endpoints = [endpoint for plan in spec.sockets.values() for endpoint in (plan.bind_at, *plan.connect_to)]
    return program_address(spec.index, spec.life) if any(e.startswith("tcp://") for e in endpoints) else ""


def single_frame(frames: list[bytes]) -> bytes | None:
    """A message sent back as it came: one frame (anything else is foreign bytes)."""
    return frames[0] if len(frames) == 1 else b"".join(frames)


@dataclass(frozen=True)
class Returns:
    """Where the program's finished messages come back, as its pattern wires it.

    ``socket``: what they arrive on; ``unwrap``: the message in what arrived (None: not one of its
    returns, as the broker's word to us); ``hint(connected)``: what the program should do with its
    variables, told in the run's log when nothing comes back (``connected``: whether it connected
    to ``socket``, when ``watch`` says that it connects there); ``each_turn``: the pattern's own
    housekeeping (say who we are to a broker that came back); ``received``: what it is known to
    have received, in words, where its pattern knows ("": the run's links say); ``reached``: whether
    it has reached us (None: whether it connected to ``socket``): a program that ends before it did,
    having sent nothing back, ended at start, however long it took on a busy machine."""

    socket: zmq.Socket[bytes]
    hint: Callable[[bool], str]
    unwrap: Callable[[list[bytes]], bytes | None] = single_frame
    watch: bool = True
    each_turn: Callable[[], None] = lambda: None
    received: Callable[[], str] = lambda: ""
    reached: Callable[[], bool] | None = None


def run_program(runtime: ChildRuntime, env: dict[str, str], back: Returns) -> None:
    """Start ``spec.worker_cmd`` with ``env`` added to ours, count what comes back (see
    ``Returns``: a message's bytes as sent), and end as the program ends, with its status."""
    spec = runtime.spec
    argv = list(spec.worker_cmd)
    shown = shlex.join(argv)
    parent = os.getpid()
    returns = back.socket
    # Made before it starts, so that its connection is seen (a socket it connects to only).
    accepted = returns.get_monitor_socket(zmq.EVENT_ACCEPTED) if back.watch else None
    program = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, close_fds=True,
        env={**os.environ, "RRSIM_NAME": spec.name, "RRSIM_LIFE": str(spec.life), **env},
        preexec_fn=lambda: die_with_parent(parent),  # nothing of the run outlives it
    )
    runtime.stop_on_sigterm()  # SIGTERM reaches the program too (same group): we wait for it below
    runtime.report(wire.HELLO, pid=os.getpid(), known_as=own_address(spec) or f"pid {program.pid}")
    receipts = Receipts(runtime, spec.size)
    poller = runtime.poller(returns)
    started = time.monotonic()
    returned = 0
    told_silent = False

    def connected() -> bool:
        return accepted is not None and accepted.poll(0) != 0
    next_parent_check_ns = 0
    while True:
        ready = dict(poller.poll(idle_timeout_ms(receipts, runtime.clock()) if receipts.pending() else 50))
        while returns in ready:
            try:
                message = back.unwrap(returns.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                break
            if message is not None:
                receipts.add(message, runtime.clock())
                returned += 1
        now = runtime.clock()
        if receipts.due(now):
            receipts.flush()
        if runtime.wants_housekeeping(ready) or now >= next_parent_check_ns:
            runtime.housekeeping(now)
            back.each_turn()
            next_parent_check_ns = now + PARENT_CHECK_NS
        # /proc is read only once SILENT_S of wall time has passed.
        if (not returned and not told_silent and (elapsed := time.monotonic() - started) > SILENT_S
                and elapsed - _kept_waiting_s(program.pid) > SILENT_S):
            told_silent = True
            words = back.hint(connected())
            runtime.report(wire.NOTHING_BACK, after_s=SILENT_S, program=shown, hint=words, received=back.received())
            _say(f"{spec.name} (`{shown}`) has sent nothing back after {SILENT_S:g} s: {words}")
        status = program.poll()
        if status is not None:
            break
    returned += _read_last(back, receipts, runtime)
    receipts.flush()
    at_start = " at start" if not returned and not (back.reached or connected)() else ""
    if accepted is not None:
        returns.disable_monitor()
        accepted.close(linger=0)
    returns.close(linger=0)
    runtime.close()
    if runtime.stopping:
        sys.exit(0)  # asked to stop, and it did
    how = f"status {status}" if status >= 0 else f"signal {-status}"
    _say(f"{spec.name} (`{shown}`) exited with {how}{at_start}: {_last_line() or '(no output)'}")
    sys.exit(status if status >= 0 else 128 - status)


def _read_last(back: Returns, receipts: Receipts, runtime: ChildRuntime) -> int:
    """What the program sent just before it ended is still on its way: read it for a moment; how many."""
    deadline = time.monotonic() + END_WAIT_S
    count = 0
    while time.monotonic() < deadline:
        if back.socket.poll(10) and (message := back.unwrap(back.socket.recv_multipart())) is not None:
            receipts.add(message, runtime.clock())
            count += 1
    return count


def _kept_waiting_s(pid: int) -> float:
    """How long the program has waited to run while it could have (its time on a run queue, from
    /proc/PID/schedstat): on a loaded machine its interpreter and imports take that much longer."""
    try:
        with open(f"/proc/{pid}/schedstat") as stats:
            return int(stats.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0  # gone, or a kernel without scheduler statistics


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _last_line() -> str:
    """The program's last line of output: the last of our log file (its stdout and stderr are ours)."""
    try:
        with open(f"/proc/self/fd/{sys.stderr.fileno()}", "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 4096))
            lines = [line for line in log.read().decode(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1].strip()[:200] if lines else ""

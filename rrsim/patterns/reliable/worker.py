"""reliable's worker: the guide's Paranoid Pirate worker (ppworker) on the shared receipts."""

from __future__ import annotations

import time

import zmq

from rrsim import wire
from rrsim.child.receipts import Receipts
from rrsim.child.receiving import drain_and_close
from rrsim.child.runtime import ChildRuntime
from rrsim.child.sockets import has_input
from rrsim.child.work import Work
from rrsim.patterns.brokered import STOP_GRACE_MS
from rrsim.patterns.reliable.protocol import (
    BURST,
    BYE,
    HEARTBEAT,
    ID_AT,
    READY,
    Settings,
)

BACKOFF_S, BACKOFF_MAX_S = 1.0, 32.0  # ppworker's INTERVAL_INIT and INTERVAL_MAX


def connect_dealer(runtime: ChildRuntime) -> zmq.Socket[bytes]:
    dealer = runtime.ctx.socket(zmq.DEALER)
    dealer.rcvhwm = runtime.spec.rcvhwm
    dealer.routing_id = f"{runtime.name}.{runtime.life}".encode()
    return dealer


def worker(runtime: ChildRuntime) -> None:
    """ppworker: receive, work, acknowledge; heartbeats both ways, also while working; when the
    broker is silent for ``liveness`` heartbeats, close the socket, wait (1 s doubling to 32 s)
    and connect again.  It says READY, with how many messages it has done, on every connection.

    SIGTERM stops it gracefully: it says BYE, finishes and acknowledges what it has, and exits 0."""
    spec = runtime.spec
    runtime.stop_on_sigterm()
    dealer = runtime.wire("dealer", connect_dealer(runtime))
    runtime.hello()
    work = Work(spec.mean_work_ms, spec.work_ms, spec.speed)
    settings = Settings.of(spec)
    heartbeat_ns, liveness = int(settings.heartbeat_ms * 1_000_000), settings.liveness
    receipts = Receipts(runtime, spec.size)
    poller = runtime.poller(dealer)
    clock = runtime.clock  # the run's: a remote worker's receipts are on the run's clock too
    done = said_ready_at = 0
    next_beat_ns = clock() + heartbeat_ns
    heard, missed = True, 0  # the broker, since our last heartbeat; heartbeats it missed in a row
    backoff_s = BACKOFF_S
    waiting = False

    def beat(now_ns: int) -> None:
        """At each of our heartbeats: send it, and count one more miss if the broker said nothing."""
        nonlocal next_beat_ns, heard, missed
        if now_ns >= next_beat_ns:
            try:
                dealer.send_multipart([b"", HEARTBEAT, b"%d" % done], zmq.NOBLOCK)
            except zmq.Again:
                pass  # no broker to take it: its silence is what we go by
            # Busy working, we read nothing: whatever waits for us is a word from the broker too.
            heard = heard or has_input(dealer)
            missed = 0 if heard else missed + 1
            heard = False
            next_beat_ns = max(next_beat_ns + heartbeat_ns, now_ns)

    def work_on(frames: list[bytes]) -> None:
        """Work on a message [empty, sender, message] and acknowledge it, heartbeating meanwhile."""
        nonlocal done
        sender, message = (frames[1], frames[2]) if len(frames) == 3 and not frames[0] else (b"", b"")
        ours = receipts.add(message, clock())
        end_ns = clock() + int(work.seconds(message) * 1e9)
        while (left_ns := end_ns - clock()) > 0:
            time.sleep(min(left_ns, max(next_beat_ns - clock(), 0) or heartbeat_ns) / 1e9)
            beat(clock())
        if work.any and ours:
            receipts.finish(clock())
        done += 1  # foreign bytes too: the broker counts every message it handed us
        # Reported before it is acknowledged: once the broker forgets it, only our report says it
        # was done (a kill between the two would leave it done and counted nowhere).
        receipts.flush()
        ack = [sender, message[ID_AT]] if sender else []
        dealer.send_multipart([b"", READY, b"%d" % done, *ack])

    while not runtime.stopping:
        now = clock()
        timeout_ns = min(next_beat_ns - now, 100_000_000)
        if receipts.pending():
            timeout_ns = min(timeout_ns, receipts.deadline_ns() - now)
        ready = dict(poller.poll(max(0, -(-timeout_ns // 1_000_000))))
        now = clock()
        if dealer in ready:
            for _ in range(BURST):
                if not has_input(dealer):
                    break
                frames = dealer.recv_multipart()
                heard, missed = True, 0
                if waiting:
                    waiting, backoff_s = False, BACKOFF_S
                    runtime.report(wire.WAITING, waiting=False, retry_s=0.0)
                if frames != [b"", HEARTBEAT]:
                    work_on(frames)
                    if runtime.stopping:
                        break
                if receipts.due(clock()):
                    receipts.flush()
            now = clock()
        beat(now)
        if missed >= liveness:
            # The broker is silent: as ppworker, wait, then a new socket and a new connection.
            waiting = True
            runtime.report(wire.WAITING, waiting=True, retry_s=backoff_s)
            receipts.flush()
            resume_ns = now + int(backoff_s * 1e9)
            while not runtime.stopping and (left := resume_ns - clock()) > 0:
                runtime.poller().poll(min(100, -(-left // 1_000_000)))
                state = runtime.housekeeping(clock())
                if state is not None:
                    work.set(state["work_ms"], state["speed"])
            backoff_s = min(backoff_s * 2, BACKOFF_MAX_S)
            dealer = runtime.rewire("dealer", connect_dealer(runtime))
            poller = runtime.poller(dealer)
            heard, missed = True, 0
            next_beat_ns = clock() + heartbeat_ns
        if receipts.due(now):
            receipts.flush()
        state = runtime.housekeeping(now)
        if state is not None:
            work.set(state["work_ms"], state["speed"])
        if runtime.handshakes["dealer"] > said_ready_at:
            said_ready_at = runtime.handshakes["dealer"]
            dealer.send_multipart([b"", READY, b"%d" % done])

    # Stopping: tell the broker, then finish and acknowledge what was handed to us before it heard.
    def take(frames: list[bytes]) -> None:
        if frames != [b"", HEARTBEAT]:
            work_on(frames)

    dealer.send_multipart([b"", BYE])
    drain_and_close(runtime, receipts, lambda: dealer.recv_multipart() if dealer.poll(STOP_GRACE_MS, zmq.POLLIN) else None,
                    take)

"""A pusher process: send numbered, timestamped messages at a rate, report progress.

Run by the supervisor as ``python -m rrsim.pusher SPEC_JSON``.  One loop: wait until it may
send (enough peers when ``wait_ready``, not held), send what is due without blocking, and
report how far it got at least every 10 ms while anything changes.
"""

from __future__ import annotations

import math
import time

import zmq

from rrsim import wire
from rrsim.child import Child, spec_from_argv

REPORT_NS = 10_000_000
BURST = 1024  # messages sent between housekeeping rounds at full speed (about 1 ms)
MAX_BACKLOG_NS = 1_000_000_000  # after a stall, catch up at most one second of sends


def main() -> None:
    spec = spec_from_argv()
    child = Child("pusher", spec)
    sock, index = child.sock, spec["index"]
    # One message buffer, re-stamped in place for each send (zmq copies it): no allocation per
    # message, and only the sequence number and the send time are written each time.
    message = bytearray(spec["size"])
    wire.HEADER.pack_into(message, 0, wire.MAGIC, index, 0, 0)
    stamp, at = wire.SEQ_AND_TIME.pack_into, wire.SEQ_OFFSET
    send, clock = sock.send, time.monotonic_ns
    limit = spec["messages"] or float("inf")
    rate, held, min_peers = spec["rate"], spec["held"], spec["min_peers"]
    seq = 0
    blocked = started = False
    epoch_ns, epoch_seq = time.monotonic_ns(), 0  # the rate schedule restarts here
    reported = (-1, False, -1)
    last_report_ns = 0
    poller = zmq.Poller()
    poller.register(child.control, zmq.POLLIN)
    poller.register(child.monitor, zmq.POLLIN)

    while True:
        now = time.monotonic_ns()
        state = child.housekeeping(now)
        if state is not None:
            held = state["held"]
            if state["rate"] != rate:
                rate, epoch_ns, epoch_seq = state["rate"], now, seq
        started = started or child.peers >= min_peers

        # Send what is due.
        sending = started and not held and seq < limit
        due = seq
        if sending:
            if rate > 0:
                if now - epoch_ns - (seq - epoch_seq) * 1e9 / rate > MAX_BACKLOG_NS:
                    epoch_ns, epoch_seq = now - MAX_BACKLOG_NS, seq
                due = min(limit, epoch_seq + int((now - epoch_ns) * rate / 1e9) + 1)
            else:
                due = min(limit, seq + BURST)
            blocked = False
            while seq < due:
                stamp(message, at, seq, clock())
                try:
                    send(message, zmq.NOBLOCK)
                except zmq.Again:
                    blocked = True  # every peer's pipe is full (or there is no peer yet)
                    break
                seq += 1

        # Report progress: promptly at low rates, every REPORT_NS at high ones.
        now = time.monotonic_ns()
        current = (seq, blocked, child.peers)
        if current != reported and now - last_report_ns >= REPORT_NS:
            child.report(wire.SENT, sent=seq, blocked=blocked, peers=child.peers, done=seq >= limit)
            reported, last_report_ns = current, now

        # Sleep until the next send is due, the socket can take more, or something arrives.
        if sending and rate == 0 and not blocked:
            continue
        timeout_ms = 100.0
        if sending and rate > 0 and not blocked:
            timeout_ms = max(0.0, (epoch_ns + (seq - epoch_seq) * 1e9 / rate - now) / 1e6)
        if current != reported:
            timeout_ms = min(timeout_ms, max(0.0, (last_report_ns + REPORT_NS - now) / 1e6))
        if blocked:
            poller.register(sock, zmq.POLLOUT)
        # zmq_poll takes whole milliseconds and pyzmq truncates: round up, or a wait under 1 ms spins.
        poller.poll(math.ceil(timeout_ms))
        if blocked:
            poller.unregister(sock)


if __name__ == "__main__":
    main()

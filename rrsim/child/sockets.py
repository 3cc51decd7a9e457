"""What a child (or the run's listener) learns from a socket's monitor and its file descriptors:
each monitor event, and who is at either end of a connection."""

from __future__ import annotations

import os
import socket
import struct
from typing import cast

import zmq

# A monitor event's first frame: u16 event id, u32 value (an fd, for the events we watch); the
# second is the endpoint.  The layout pyzmq's zmq.utils.monitor.parse_monitor_message reads, parsed
# here because importing that module imports asyncio: ~35 of the ~65 ms a worker spends importing,
# and 64 workers took 3.6 s instead of 2.1 s to connect (benchmarks/findings.py, "child start-up").
MONITOR_EVENT = struct.Struct("=HI")
UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid
# What libzmq says when it refuses a peer's handshake, by the name the wire's HANDSHAKE_FAILED uses.
HANDSHAKE_FAILED_EVENTS: dict[int, str] = {
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "protocol",
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "no-detail",
    zmq.EVENT_HANDSHAKE_FAILED_AUTH: "auth",
}


def monitor_event(frames: list[bytes]) -> tuple[int, int, str]:
    """(event id, value, endpoint) of the two frames a socket monitor sent."""
    event, endpoint = frames
    event_id, value = MONITOR_EVENT.unpack(event)
    return event_id, value, endpoint.decode()


def their_side(fd: int) -> str:
    """Who is at the other end of a connection made to us: a process id over ipc (SO_PEERCRED),
    an address over tcp."""
    try:
        with socket.socket(fileno=os.dup(fd)) as conn:
            if conn.family == socket.AF_UNIX:
                pid, _uid, _gid = UCRED.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, UCRED.size))
                return f"pid {pid}"
            host, port = conn.getpeername()[:2]
            return f"{host}:{port}"
    except OSError:
        return "unknown"  # gone already


def our_side(fd: int) -> str:
    """Who we are to the owner of an endpoint we connected to: what ``their_side`` says there."""
    try:
        with socket.socket(fileno=os.dup(fd)) as conn:
            if conn.family == socket.AF_UNIX:
                return f"pid {os.getpid()}"
            host, port = conn.getsockname()[:2]
            return f"{host}:{port}"
    except OSError:
        return ""


def has_input(sock: zmq.Socket[bytes]) -> bool:
    """A message waits on ``sock`` (ZMQ_EVENTS): read it without raising zmq.Again at the end of a burst."""
    return bool(cast(int, sock.getsockopt(zmq.EVENTS)) & zmq.POLLIN)

"""What a child (or the run's listener) learns from a socket's monitor and its file descriptors:
each monitor event, and who is at either end of a connection."""

from __future__ import annotations

import ipaddress
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
# Over tcp a user's worker program connects from a loopback address of its life's own, in this
# block (``program_address``): whoever it connects to tells its connections from a stranger's by it.
PROGRAM_ADDRESSES = ipaddress.IPv4Network("127.128.0.0/9")
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


def program_address(number: int, life: int) -> str:
    """The loopback address worker ``number``'s program connects from in ``life`` over tcp:
    127.128.3.2 for w3's second life (lives wrap at 256, long after the one before has gone)."""
    return str(PROGRAM_ADDRESSES[(number << 8) | life % 256])


def from_address(source: str, endpoint: str) -> str:
    """``endpoint`` connected from ``source`` if it is tcp (zmq_tcp: ``tcp://SOURCE:0;PEER:PORT``,
    port 0: any), as it is otherwise."""
    return f"tcp://{source}:0;{endpoint.removeprefix('tcp://')}" if endpoint.startswith("tcp://") else endpoint


def their_side(fd: int) -> str:
    """Who is at the other end of a connection made to us: a process id over ipc (SO_PEERCRED),
    an address over tcp; a worker program's address alone (its port changes with each connection)."""
    try:
        with socket.socket(fileno=os.dup(fd)) as conn:
            if conn.family == socket.AF_UNIX:
                pid, _uid, _gid = UCRED.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, UCRED.size))
                return f"pid {pid}"
            host, port = conn.getpeername()[:2]
            return host if is_program_address(host) else f"{host}:{port}"
    except OSError:
        return "unknown"  # gone already


def is_program_address(host: str) -> bool:
    try:
        return ipaddress.ip_address(host) in PROGRAM_ADDRESSES
    except ValueError:
        return False


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

"""Bytes on the wire: the message header pushers send, and the telemetry and control frames.

Imported by the child processes, so it uses nothing heavier than ``struct`` and ``json``.

A work message is ``MAGIC | pusher index (u16) | seq (u64) | send time (CLOCK_MONOTONIC ns, i64)``
followed by padding up to the configured size.  Telemetry is a multipart message whose first
frame is a small JSON header; receipts add two or three binary frames (the 18 bytes after each
message's magic, one i64 receive time per message and, when the work took time, one i64 time per
message when its work was done), so a worker never decodes what it receives.
"""

from __future__ import annotations

import json
import struct
from typing import Any

MAGIC = b"RRS1"
HEADER = struct.Struct("<4sHQq")
HEADER_SIZE = HEADER.size  # 22
SEQ_AND_TIME = struct.Struct("<Qq")  # the part of the header that changes from message to message
SEQ_OFFSET = HEADER_SIZE - SEQ_AND_TIME.size
RECEIPT_SIZE = HEADER_SIZE - len(MAGIC)  # what a worker keeps of each message
STAMP_SIZE = 8

# Telemetry header kinds, child -> engine.
HELLO = "hello"  # a child is up: pid
RECEIPTS = "receipts"  # a receiver's batch of messages received and done (+ count of foreign payloads)
SENT = "sent"  # a sender's progress: sent so far, blocked on HWM, connected peers, done, slow-joiner count
LINK = "link"  # a socket monitor saw a connection to an endpoint come up or go down
QUEUE = "queue"  # a router's state: messages it holds, workers ready, messages routed so far
PEER = "peer"  # a peer connected to (or left) an endpoint we bind: a process id (ipc) or an address (tcp)
BEAT = "beat"  # a remote worker is still there (it is not our child: nothing else would tell us); last: leaving
REFUSED = "refused"  # a handshake on an endpoint we bind failed: a peer without CURVE, or not ZeroMQ
TELEMETRY_KINDS = (HELLO, RECEIPTS, SENT, LINK, QUEUE, PEER, BEAT, REFUSED)
# Why libzmq failed a handshake, by the socket monitor's event (zmq_socket_monitor).
HANDSHAKE_FAILED = {
    "protocol": "not a CURVE handshake (a plain-text peer, or not ZeroMQ)",
    "no-detail": "handshake failed (not ZeroMQ, or the connection dropped)",
    "auth": "key not allowed",
}


def telemetry(kind: str, **fields: Any) -> bytes:
    return json.dumps({"kind": kind, **fields}, separators=(",", ":")).encode()


def control_topic(name: str) -> bytes:
    """PUB/SUB topic for one child; the NUL stops 'w1' from also matching 'w10'."""
    return name.encode() + b"\0"


BROADCAST = control_topic("*")

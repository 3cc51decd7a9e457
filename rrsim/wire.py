"""Bytes on the wire: the message header pushers send, and the telemetry and control frames.

Imported by the child processes, so it uses nothing heavier than ``struct`` and ``json``.

A work message is ``MAGIC | pusher index (u16) | seq (u64) | send time (CLOCK_MONOTONIC ns, i64) |
work size (u32 microseconds)`` followed by padding up to the configured size.  The work size is
what the pusher drew for the message (``rrsim.child.workload``); a worker works it divided by its speed
(``rrsim.child.work``).  Telemetry is a multipart message whose first frame is a small JSON header;
receipts add two or three binary frames (the 22 bytes after each message's magic, one i64
receive time per message and, when the work took time, one i64 time per message when its work
was done), so a worker never decodes what it receives.
"""

from __future__ import annotations

import json
import struct
from typing import Any

MAGIC = b"RRS2"  # RRS1 had no work size
HEADER = struct.Struct("<4sHQqI")
HEADER_SIZE = HEADER.size  # 26
SEQ_AND_TIME = struct.Struct("<Qq")  # what changes from message to message when every message has the same work
SEQ_TIME_AND_WORK = struct.Struct("<QqI")  # ... and when each has its own
SEQ_OFFSET = 6  # after the magic and the pusher index
WORK = struct.Struct("<I")
WORK_OFFSET = SEQ_OFFSET + SEQ_AND_TIME.size
MAX_WORK_US = 2**32 - 1  # about 71 minutes
RECEIPT_SIZE = HEADER_SIZE - len(MAGIC)  # what a worker keeps of each message
STAMP_SIZE = 8

# Telemetry header kinds, child -> engine.
HELLO = "hello"  # a child is up: pid
RECEIPTS = "receipts"  # a receiver's batch of messages received and done (+ count of foreign payloads)
SENT = "sent"  # a sender's progress: sent so far, blocked on HWM, connected peers, done, slow-joiner count
LINK = "link"  # a socket monitor saw a connection to an endpoint come up or go down
QUEUE = "queue"  # a router's state: messages it holds, workers ready, messages routed so far
PEER = "peer"  # a peer connected to (or left) an endpoint we bind: a process id (ipc) or an address (tcp)
SILENT = "silent"  # a router declared a receiver dead (missed heartbeats, or gone): what it re-queued where
GAVE_UP = "gave-up"  # a router gave messages up after their last attempt, and why
WAITING = "waiting"  # a receiver's router fell silent (it waits to reconnect), or spoke again
BEAT = "beat"  # a remote worker is still there (it is not our child: nothing else would tell us); last: leaving
REFUSED = "refused"  # a handshake on an endpoint we bind failed: a peer without CURVE, or not ZeroMQ
NOTHING_BACK = "nothing-back"  # a user's program has sent nothing back a few seconds after it started: why
TELEMETRY_KINDS = (HELLO, RECEIPTS, SENT, LINK, QUEUE, PEER, SILENT, GAVE_UP, WAITING, BEAT, REFUSED, NOTHING_BACK)
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

"""reliable's pusher: the shared open-loop sender on a DEALER that keeps a copy of each message
until the broker acknowledges it (the guide's Lazy Pirate client)."""

from __future__ import annotations

from collections import Counter, deque

import zmq

from rrsim.child.runtime import ChildRuntime
from rrsim.child.sending import send_at_rate
from rrsim.child.sockets import has_input
from rrsim.patterns.reliable.protocol import ACK, BURST, GIVEUP, HANDED, ID


class Copies:
    """A pusher's copies of the messages not yet acknowledged (the Lazy Pirate client's part):
    dropped on ACK or GIVEUP, all sent again when a broker connection is made again, and again when
    one of two connections drops: a broker's new life may connect before the old one's connection
    is seen to go (a killed process starved of the CPU takes a while to die), and the DEALER deals
    some of the copies to the dead one."""

    def __init__(self, runtime: ChildRuntime, socket_name: str) -> None:
        self.runtime, self.socket_name = runtime, socket_name
        self.sock = runtime.sockets[socket_name]
        self.copies: dict[int, bytes] = {}
        # Hand-overs to a worker the broker told of, per copy: a copy sent to the broker's next life
        # carries the count, so that a message's attempts are counted across broker lives
        self.handed: Counter[int] = Counter()
        self.resend: deque[int] = deque()
        self.connections = 0
        self.peers = 0
        self.blocked = False
        self.resent = 0

    def kept(self, seq: int, message: bytes) -> None:
        self.copies[seq] = message

    def turn(self) -> None:
        for _ in range(BURST):
            if not has_input(self.sock):
                break
            frames = self.sock.recv_multipart()
            if len(frames) != 2 or len(frames[1]) != ID.size:
                continue
            seq = ID.unpack(frames[1])[1]
            if frames[0] == HANDED and seq in self.copies:
                self.handed[seq] += 1
            elif frames[0] in (ACK, GIVEUP):
                self.copies.pop(seq, None)
                self.handed.pop(seq, None)
        connections, peers = self.runtime.handshakes[self.socket_name], self.runtime.peers[self.socket_name]
        # A broker again (what the last one held may be gone with it), or a connection gone while
        # another is up (what was dealt to it is gone)
        if (connections > self.connections and self.connections) or 0 < peers < self.peers:
            self.resend = deque(sorted(self.copies))
        self.connections, self.peers = connections, peers
        self.blocked = False
        while self.resend:
            message = self.copies.get(self.resend[0])
            if message is not None:
                try:
                    self.sock.send_multipart([message, b"%d" % self.handed[self.resend[0]]], zmq.NOBLOCK)
                except zmq.Again:
                    self.blocked = True
                    return
                self.resent += 1
            self.resend.popleft()

    def busy(self) -> bool:
        return bool(self.resend) and not self.blocked

    def counters(self) -> dict[str, int]:
        return {"retried": self.resent, "kept": len(self.copies)}


def pusher(runtime: ChildRuntime) -> None:
    """The shared open-loop sender, on a DEALER that keeps a copy of each message until acknowledged."""
    dealer = runtime.ctx.socket(zmq.DEALER)
    dealer.sndhwm = runtime.spec.sndhwm
    dealer.rcvhwm = 0  # an acknowledgement must never be dropped
    dealer.immediate = 1  # queue only to a broker that is there: the copies are the queue
    dealer.routing_id = runtime.name.encode()
    runtime.wire("dealer", dealer)
    send_at_rate(runtime, "dealer", Copies(runtime, "dealer"))

"""What every child process (pusher or worker) shares: dying with its parent, the telemetry and
control sockets, and the socket monitor that reports connections coming and going.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import time
from typing import Any

import zmq

from rrsim import wire
from rrsim.deathsig import die_with_parent
from rrsim.patterns import load as load_pattern

PARENT_CHECK_NS = 200_000_000
# A socket monitor event: u16 event id, u32 value, then a frame with the endpoint (zmq_socket_monitor).
# Parsed here rather than with zmq.utils.monitor, whose asyncio import is half a child's start-up time.
MONITOR_EVENT = struct.Struct("=HI")
CHILD_NICENESS = 19


class Child:
    """The sockets around a child's work socket; ``spec`` is the JSON the supervisor passed."""

    def __init__(self, role: str, spec: dict[str, Any]) -> None:
        self.role = role
        self.spec = spec
        self.name: str = spec["name"]
        self.life: int = spec["life"]
        self.parent_pid: int = spec["parent_pid"]
        die_with_parent(self.parent_pid)
        # The engine accounts for what we do, and the TUI shares its process: when the cores are
        # short, they must not be the ones that starve, or the numbers fall behind the run and
        # keys go unanswered.  At niceness 19 (weight 15 against 1024) even 144 busy children
        # leave the engine what it needs; at 10 (weight 110), 128 workers and 16 pushers left it
        # 17% of a core and it fell 9 s behind.  Among themselves the children are all equal.
        os.nice(CHILD_NICENESS)
        self.ctx = zmq.Context()
        pattern = load_pattern(spec["pattern"])
        make = pattern.pusher_socket if role == "pusher" else pattern.worker_socket
        self.sock: zmq.Socket = make(self.ctx, spec)
        self.monitor = self.sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
        self.peers = 0  # completed connections on the work socket, either side
        if spec["bind"]:
            self.sock.bind(spec["bind"])
        self.connected: set[str] = set()
        self.telemetry = self.ctx.socket(zmq.PUSH)
        self.telemetry.linger = 2000  # an ending child's last report still goes out
        self.telemetry.connect(spec["telemetry"])
        self.control = self.ctx.socket(zmq.SUB)
        self.control.setsockopt(zmq.SUBSCRIBE, wire.control_topic(self.name))
        self.control.setsockopt(zmq.SUBSCRIBE, wire.BROADCAST)
        self.control.connect(spec["control"])
        self.connect_to(spec["connect"])
        self.next_parent_check = time.monotonic_ns() + PARENT_CHECK_NS
        self.report(wire.HELLO, pid=os.getpid(), role=role)

    def connect_to(self, endpoints: list[str]) -> None:
        for endpoint in endpoints:
            if endpoint not in self.connected:
                self.sock.connect(endpoint)
                self.connected.add(endpoint)

    def report(self, kind: str, *frames: bytes, **fields: Any) -> None:
        header = wire.telemetry(kind, name=self.name, life=self.life, t=time.monotonic_ns(), **fields)
        self.telemetry.send_multipart([header, *frames])

    def read_control(self) -> dict[str, Any] | None:
        """The newest control state addressed to us, if any arrived; applies new endpoints."""
        state = None
        while True:
            try:
                _topic, body = self.control.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            state = json.loads(body)
        if state is not None:
            self.connect_to(state.get("connect", []))
        return state

    def read_monitor(self) -> None:
        """Count completed connections, and report the ones we made (we know their endpoint)."""
        while True:
            try:
                event, endpoint_bytes = self.monitor.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            event_id, _value = MONITOR_EVENT.unpack(event)
            up = event_id == zmq.EVENT_HANDSHAKE_SUCCEEDED
            self.peers = max(0, self.peers + (1 if up else -1))
            endpoint = endpoint_bytes.decode()
            if endpoint in self.connected:
                self.report(wire.LINK, endpoint=endpoint, up=up)

    def housekeeping(self, now_ns: int) -> dict[str, Any] | None:
        """Control, monitor and parent check; returns a new control state if one came."""
        self.read_monitor()
        if now_ns >= self.next_parent_check:
            self.next_parent_check = now_ns + PARENT_CHECK_NS
            if os.getppid() != self.parent_pid:
                os._exit(0)  # the engine is gone: nobody will read what we do
        return self.read_control()

    def close(self) -> None:
        self.sock.close(linger=0)
        self.monitor.close(linger=0)
        self.control.close(linger=0)
        self.telemetry.close()
        self.ctx.term()


def spec_from_argv() -> dict[str, Any]:
    return json.loads(sys.argv[1])

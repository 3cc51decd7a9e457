"""What every child process shares, whatever its pattern and role: dying with its parent, the
telemetry and control sockets, and the socket monitors that report connections coming and going.

A role's loop (in its pattern module) makes its own sockets and hands each to ``wire()``, which
binds and connects it as the engine planned and watches it.  Nothing here knows a pattern.
"""

from __future__ import annotations

import json
import math
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import zmq

from rrsim import wire
from rrsim.child.deathsig import die_with_parent
from rrsim.child.security import (
    curve_keys,
    plain_authenticator,
    secure_client,
    secure_server,
    start_authenticator,
)
from rrsim.child.sockets import (
    HANDSHAKE_FAILED_EVENTS,
    monitor_event,
    our_side,
    their_side,
)
from rrsim.child.spec import ChildSpec

if TYPE_CHECKING:
    from zmq.auth.thread import ThreadAuthenticator

PARENT_CHECK_NS = 200_000_000
CHILD_NICENESS = 19


def give_way(idle: bool = False) -> None:
    """Let the engine and the TUI have the CPU first, in this thread and those it starts (ZeroMQ's).

    The engine accounts for what we do, and the TUI shares its process: when the cores are short,
    they must not be the ones that starve, or the numbers fall behind the run and keys go
    unanswered.  Niceness 19 (weight 15 against 1024) is enough for the engine up to about 144 busy
    children.  With the live view open (``idle``) it is not: at 256 workers and 20,000 msgs/s they
    outweighed the UI thread, whose frames took up to 4x their CPU time (timer lag p99 200 ms).
    SCHED_IDLE (weight 3, and a waking engine or UI preempts a child at once) brought that to 70 ms.
    Headless, nobody waits for a frame, and SCHED_IDLE would leave the children next to nothing
    beside any other busy program on the machine (a test beside them, say): niceness alone.
    Among themselves the children are all equal; on cores with nothing else to do they run as ever.
    """
    os.setpriority(os.PRIO_PROCESS, 0, CHILD_NICENESS)
    if idle:
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError:
            pass  # a sandbox that forbids it: niceness 19 still holds


class ChildRuntime:
    """The sockets around a local child's work sockets; ``spec`` is what the engine planned.

    A remote worker (``rrsim.remote.worker.RemoteRuntime``) is one too, with its own clock, and
    it takes its orders from control messages rather than from signals and its parent."""

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.life = spec.life
        self.clock_offset_ns = spec.clock_offset_ns
        self.clock: Callable[[], int] = self.run_clock()
        self.last_control_ns = self.clock()
        self.auth: ThreadAuthenticator | None = None
        self.curve = curve_keys(spec.curve)
        self.parent_pid = spec.parent_pid
        self.start_as_child()
        self.ctx = zmq.Context()
        self.sockets: dict[str, zmq.Socket[bytes]] = {}  # socket name in the plan -> the socket
        self.monitors: list[tuple[str, zmq.Socket[bytes]]] = []
        self.monitors_made = 0
        self.peers: dict[str, int] = {}  # completed connections per work socket, either side
        self.handshakes: dict[str, int] = {}  # connections completed so far per work socket, ever
        self.shaking: dict[str, deque[int]] = {}  # per work socket: fds of connections not yet shaken hands
        self.live: dict[str, set[int]] = {}  # per work socket: fds of connections that did
        self.connected: set[str] = set()
        self.connected_from: dict[str, str] = {}  # endpoint -> the socket that connected to it
        self.external: set[str] = set(spec.external)  # plain peers (a seed's PUSH): no link reports
        self.via: dict[str, str] = {}  # endpoint we connected to -> who we are to its owner
        self.accepted: dict[int, tuple[str, str]] = {}  # fd -> (our endpoint, the peer) for connections made to us
        self.naming_peers: set[str] = set()  # work sockets whose peers are named by the endpoint connected to
        self.telemetry = self.ctx.socket(zmq.PUSH)
        self.telemetry.linger = 2000  # an ending child's last report still goes out
        self._secure_client(self.telemetry)
        self.telemetry.connect(spec.telemetry)
        self.control = self.ctx.socket(zmq.SUB)
        self.control.setsockopt(zmq.SUBSCRIBE, wire.control_topic(self.name))
        self.control.setsockopt(zmq.SUBSCRIBE, wire.BROADCAST)
        self._secure_client(self.control)
        self.control.connect(spec.control)
        self.next_parent_check = time.monotonic_ns() + PARENT_CHECK_NS
        self.stopping = False  # asked to stop gracefully, see stop_on_sigterm

    def run_clock(self) -> Callable[[], int]:
        """The run's clock: a local child's is the engine's."""
        return time.monotonic_ns

    def start_as_child(self) -> None:
        die_with_parent(self.parent_pid)
        give_way()  # the fork server did it already (and SCHED_IDLE, if so); set, not added, it is the same twice

    def _secure_client(self, sock: zmq.Socket[bytes]) -> None:
        if self.curve is not None:
            secure_client(sock, *self.curve)

    def _secure_server(self, sock: zmq.Socket[bytes]) -> None:
        """CURVE server with the run's key, letting in the run's allow-list (pyzmq's authenticator)."""
        assert self.curve is not None and self.spec.curve is not None
        public, secret, _server = self.curve
        if self.auth is None:
            self.auth = start_authenticator(plain_authenticator(self.ctx), self.spec.curve.allowed_dir)
        secure_server(sock, public, secret)

    def wire(self, socket_name: str, sock: zmq.Socket[bytes], name_peers: bool = False) -> zmq.Socket[bytes]:
        """Watch ``sock``, bind it and connect it as planned for ``socket_name``; returns it.

        ``name_peers`` (a ROUTER): each peer it connects to, now or later, gets the endpoint as its
        routing id (ZMQ_CONNECT_ROUTING_ID), so that a message can be addressed to a peer that has
        not spoken yet: the pipe exists from the connect on, and what is sent waits in it."""
        plan = self.spec.sockets[socket_name]
        if name_peers:
            self.naming_peers.add(socket_name)
        sock.linger = 0
        # Our own inproc address, never used twice: pyzmq's default names it after the socket's fd,
        # which a socket made after another was closed (rewire) can get again while the old
        # monitor's endpoint is still bound ("Address already in use").
        self.monitors_made += 1
        events = zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED | zmq.EVENT_ACCEPTED | zmq.EVENT_CONNECTED
        if self.curve is not None:
            events |= zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
        monitor = sock.get_monitor_socket(events, addr=f"inproc://monitor.{socket_name}.{self.monitors_made}")
        self.sockets[socket_name] = sock
        self.monitors.append((socket_name, monitor))
        self.peers[socket_name] = 0
        self.handshakes[socket_name] = 0
        self.shaking[socket_name], self.live[socket_name] = deque(), set()
        if self.curve is not None:
            (self._secure_server if plan.bind_at else self._secure_client)(sock)
        if plan.bind_at:
            sock.bind(plan.bind_at)
        self._connect(socket_name, plan.connect_to)
        return sock

    def rewire(self, socket_name: str, sock: zmq.Socket[bytes]) -> zmq.Socket[bytes]:
        """Close the socket wired as ``socket_name`` and wire ``sock`` in its place (the guide's
        Paranoid Pirate worker does this when its broker falls silent).  The connections the old
        one had are reported down: closing it ends them whatever its monitor still says."""
        old = self.sockets.pop(socket_name)
        monitor = next(m for name, m in self.monitors if name == socket_name)
        self.monitors = [(name, m) for name, m in self.monitors if name != socket_name]
        ends = self.connected_by(socket_name)
        if self.live[socket_name]:
            for endpoint in ends:
                if endpoint in self.connected:
                    self.report(wire.LINK, endpoint=endpoint, up=False, via=self.via.get(endpoint, ""))
        old.close(linger=0)
        monitor.close(linger=0)
        self.connected.difference_update(ends)
        for endpoint in ends:
            del self.connected_from[endpoint]
        handshakes = self.handshakes[socket_name]
        self.wire(socket_name, sock)
        self.handshakes[socket_name] = handshakes  # a count that only grows: new connections are told from old
        return sock

    def stop_on_sigterm(self) -> None:
        """SIGTERM sets ``stopping``: the loop finishes what it has, reports it and leaves."""
        def on_sigterm(_signum: int, _frame: object) -> None:
            self.stopping = True

        signal.signal(signal.SIGTERM, on_sigterm)

    def connected_by(self, socket_name: str) -> list[str]:
        """The endpoints ``socket_name`` has connected to (peers it may address, if it names them)."""
        return [endpoint for endpoint, name in self.connected_from.items() if name == socket_name]

    def hello(self) -> None:
        """Tell the engine our sockets are open (call once every socket is wired)."""
        self.report(wire.HELLO, pid=os.getpid())

    def _connect(self, socket_name: str, endpoints: Iterable[str]) -> None:
        for endpoint in endpoints:
            if endpoint not in self.connected:
                if socket_name in self.naming_peers:
                    self.sockets[socket_name].setsockopt(zmq.CONNECT_ROUTING_ID, endpoint.encode())
                self.sockets[socket_name].connect(endpoint)
                self.connected.add(endpoint)
                self.connected_from[endpoint] = socket_name

    def report(self, kind: str, *frames: bytes | bytearray, **fields: Any) -> None:
        header = wire.telemetry(kind, name=self.name, life=self.life, t=self.clock(), **fields)
        self.telemetry.send_multipart([header, *frames])

    def read_control(self) -> dict[str, Any] | None:
        """The newest control state addressed to us, if any arrived; connects to new endpoints."""
        state = None
        while True:
            try:
                _topic, body = self.control.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            state = json.loads(body)
        if state is not None:
            self.last_control_ns = self.clock()
            for socket_name, endpoints in state.get("connect", {}).items():
                if socket_name in self.sockets:
                    self._connect(socket_name, endpoints)
        return state

    def read_monitors(self) -> None:
        """Count completed connections; report the ones we made (we know their endpoint, and say
        who we are to its owner), and who connected to us (any peer: the engine tells ours from
        strangers)."""
        for socket_name, monitor in self.monitors:
            while True:
                try:
                    event_id, fd, endpoint = monitor_event(monitor.recv_multipart(zmq.NOBLOCK))
                except zmq.Again:
                    break
                # A connection counts as a peer once its handshake succeeded (that event carries no
                # fd: the oldest connection still shaking hands is taken to be the one); one that
                # closes before, a probe or a failed handshake, was never a peer.
                shaking, live = self.shaking[socket_name], self.live[socket_name]
                if event_id == zmq.EVENT_CONNECTED:
                    self.via[endpoint] = our_side(fd)
                    shaking.append(fd)
                elif event_id == zmq.EVENT_ACCEPTED:
                    # Named by the endpoint as planned: libzmq says 127.0.0.1 where we bound 0.0.0.0.
                    bound = self.spec.sockets[socket_name].bind_at or endpoint
                    self.accepted[fd] = (bound, their_side(fd))
                    self.report(wire.PEER, endpoint=bound, peer=self.accepted[fd][1], up=True)
                    shaking.append(fd)
                elif event_id == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                    live.add(shaking.popleft() if shaking else -1 - len(live))
                    self.handshakes[socket_name] += 1
                    if endpoint in self.connected and endpoint not in self.external:
                        self.report(wire.LINK, endpoint=endpoint, up=True, via=self.via.get(endpoint, ""))
                elif event_id in HANDSHAKE_FAILED_EVENTS:  # (AUTH is not watched: the authenticator reports it)
                    # A secure run's endpoint refused a peer (no fd: the oldest still shaking hands).
                    fd = shaking.popleft() if shaking else -1
                    if fd in self.accepted:
                        bound, peer = self.accepted[fd]
                        self.report(wire.REFUSED, endpoint=bound, peer=peer, why=HANDSHAKE_FAILED_EVENTS[event_id])
                else:  # disconnected
                    if fd in live:
                        live.discard(fd)
                        if endpoint in self.connected and endpoint not in self.external:
                            self.report(wire.LINK, endpoint=endpoint, up=False, via=self.via.get(endpoint, ""))
                    elif fd in shaking:
                        shaking.remove(fd)
                    if fd in self.accepted:
                        bound, peer = self.accepted.pop(fd)
                        self.report(wire.PEER, endpoint=bound, peer=peer, up=False)
                self.peers[socket_name] = len(live)

    def housekeeping(self, now_ns: int) -> dict[str, Any] | None:
        """Control, monitors and parent check; returns a new control state if one came."""
        self.read_monitors()
        return self.read_orders(now_ns)

    def read_orders(self, now_ns: int) -> dict[str, Any] | None:
        """Control, and the parent check: a child whose engine is gone leaves at once."""
        if now_ns >= self.next_parent_check:
            self.next_parent_check = now_ns + PARENT_CHECK_NS
            if os.getppid() != self.parent_pid:
                os._exit(0)  # the engine is gone: nobody will read what we do
        return self.read_control()

    def poller(self, *socks: zmq.Socket[bytes]) -> zmq.Poller:
        """A poller on ``socks`` and on everything housekeeping reads."""
        poller = zmq.Poller()
        for sock in (*socks, self.control, *(monitor for _name, monitor in self.monitors)):
            poller.register(sock, zmq.POLLIN)
        return poller

    def wants_housekeeping(self, ready: dict[zmq.Socket[bytes], int]) -> bool:
        return self.control in ready or any(monitor in ready for _name, monitor in self.monitors)

    def close(self) -> None:
        for sock in self.sockets.values():
            sock.close(linger=0)
        for _name, monitor in self.monitors:
            monitor.close(linger=0)
        self.control.close(linger=0)
        self.telemetry.close()
        if self.auth is not None:
            self.auth.stop()
        self.ctx.term()


def idle_timeout_ms(receipts: Any, now_ns: int) -> int:
    """How long an idle worker may sleep: until its receipts are due, else 100 ms.

    Whole milliseconds, rounded up: pyzmq would truncate, and a poll of 0 ms spins."""
    return max(0, math.ceil((receipts.deadline_ns() - now_ns) / 1e6)) if receipts.pending() else 100

"""The run's side of remote workers: the join endpoint, CURVE on every socket they reach, and who
was refused (the conversations on the join endpoint are ``host.py``'s).

``--listen tcp://ADDRESS:PORT`` opens one ROUTER there.  A remote ``rrsim worker`` (a DEALER)
asks it for the time (to estimate its clock's offset from ours, NTP-style) and then to join;
the engine names it like a local worker and answers with the spec a local child would get,
with tcp endpoints for telemetry and control.  With keys (``rrsim keys``), every socket of the
run is a CURVE server or client with the run's key pair, and pyzmq's ``ThreadAuthenticator``
lets in only the keys in the allow-list: the guide's Ironhouse pattern.
"""

from __future__ import annotations

import ipaddress
import json
import queue
import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85

from rrsim.child.security import secure_server, start_authenticator
from rrsim.child.sockets import HANDSHAKE_FAILED_EVENTS, monitor_event, their_side
from rrsim.endpoints import is_loopback, parse_listen, url_host
from rrsim.errors import UserError
from rrsim.remote import keys
from rrsim.scenario.setup import Setup
from rrsim.wire import HANDSHAKE_FAILED

HEARTBEAT_NS = 500_000_000  # a remote worker reports this often, even with nothing to say
LOST_CONTACT_NS = 3_000_000_000  # silent this long: its machine, process or cable is gone
ENGINE_SILENT_NS = 3_000_000_000  # a remote worker that hears no control this long leaves
HANDSHAKE_FAILURES = {event: HANDSHAKE_FAILED[why] for event, why in HANDSHAKE_FAILED_EVENTS.items()}




@dataclass(frozen=True)
class Refusal:
    address: str
    why: str
    endpoint: str


class RecordingAuthenticator(ThreadAuthenticator):
    """pyzmq's authenticator, unchanged in what it decides, telling us whom it refused and why:
    the ZAP request carries the peer's address and key, the reply the reason."""

    def __init__(self, context: zmq.Context[zmq.Socket[bytes]], refusals: queue.SimpleQueue[Refusal], endpoint: str) -> None:
        super().__init__(context)
        self.refusals, self.endpoint = refusals, endpoint
        self._request: list[bytes] = []

    async def handle_zap_message(self, msg: list[bytes]) -> None:
        self._request = msg  # one request at a time: the thread awaits each before reading the next
        await super().handle_zap_message(msg)

    def _send_zap_reply(self, request_id: bytes, status_code: bytes, status_text: bytes,
                        user_id: str = "anonymous") -> None:
        super()._send_zap_reply(request_id, status_code, status_text, user_id)
        msg = self._request
        if status_code != b"200" and len(msg) >= 6:
            credential = msg[6] if len(msg) > 6 else b""
            key = f" {z85.encode(credential).decode()}" if len(credential) == 32 else ""
            why = f"{status_text.decode(errors='replace').lower()}{key} ({msg[5].decode(errors='replace')})"
            self.refusals.put(Refusal(msg[3].decode(errors="replace"), why, self.endpoint))


@dataclass
class Listener:
    """The join endpoint and the security of a listening run.  ``pair`` is None without keys."""

    setup: Setup
    ctx: zmq.Context[zmq.Socket[bytes]]
    run_dir: Path
    host: str = ""
    port: int = 0
    pair: keys.KeyPair | None = None
    allowed_dir: Path | None = None
    refusals: queue.SimpleQueue[Refusal] = field(default_factory=queue.SimpleQueue)
    auth: ThreadAuthenticator | None = None
    join_sock: zmq.Socket[bytes] | None = None
    endpoint: str = ""
    _monitors: list[tuple[str, zmq.Socket[bytes], list[tuple[int, str]]]] = field(default_factory=list)
    _watcher: threading.Thread | None = None
    _closing: threading.Event = field(default_factory=threading.Event)

    def open(self) -> None:
        setup = self.setup
        assert setup.listen, "a listener is for a listening run"
        self.host, self.port = parse_listen(setup.listen, "--listen")
        if not setup.insecure:
            self.pair = keys.find_pair(keys.keys_dir(setup.keys))
        if self.pair is None and not setup.insecure and not is_loopback(self.host):
            raise UserError(f"--listen {setup.listen}: other machines could join without a key; make the run's keys "
                            f"with `rrsim keys` (then `rrsim keys allow WORKER.key`), or pass --insecure")
        if self.pair is not None and setup.connect_pusher:
            raise UserError(f"--connect-pusher {setup.connect_pusher} speaks plain text, and with keys every worker "
                            "socket is CURVE: pass --insecure to join a plain PUSH")
        if self.pair is not None:
            # Our own children present the run's key too: it is let in beside the allow-list.
            self.allowed_dir = self.run_dir / "allowed"
            self.allowed_dir.mkdir(mode=0o700)
            shutil.copyfile(self.pair.public_file, self.allowed_dir / "rrsim-run.key")
            for path in self.pair.allowed_dir.glob("*.key"):
                shutil.copyfile(path, self.allowed_dir / path.name)
            self.auth = start_authenticator(RecordingAuthenticator(self.ctx, self.refusals, "join"), self.allowed_dir)
        self.join_sock = self.ctx.socket(zmq.ROUTER)
        self.join_sock.linger = 0
        self.bind(self.join_sock, "join", self.port)
        self.endpoint = f"tcp://{url_host(self.host)}:{self.port_of(self.join_sock)}"

    def bind(self, sock: zmq.Socket[bytes], label: str, port: int = 0) -> str:
        """Secure ``sock`` (if there are keys), watch its handshakes and bind it on the listen
        address; returns the endpoint."""
        if self.pair is not None:
            secure_server(sock, self.pair.public, self.pair.secret)
        monitor = sock.get_monitor_socket(zmq.EVENT_ACCEPTED | zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED
                                          | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
                                          | zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        self._monitors.append((label, monitor, []))
        try:
            sock.bind(f"tcp://{url_host(self.host)}:{port}")
        except zmq.ZMQError as error:
            raise UserError(f"--listen {self.setup.listen}: cannot bind {label} on {self.host} port {port}: "
                            f"{error.strerror}") from None
        return sock.getsockopt_string(zmq.LAST_ENDPOINT)

    @staticmethod
    def port_of(sock: zmq.Socket[bytes]) -> int:
        return int(sock.getsockopt_string(zmq.LAST_ENDPOINT).rpartition(":")[2])

    def join_line(self) -> str:
        """What a remote user types to join.  Listening on every interface (0.0.0.0), the
        endpoint is named by this machine's host name, which the other machine may resolve."""
        where = self.endpoint
        assert self.join_sock is not None, "open() comes first"
        if ipaddress.ip_address(self.host).is_unspecified:
            where = f"tcp://{socket.gethostname()}:{self.port_of(self.join_sock)}"
        line = f"rrsim worker --join {where}"
        if self.pair is not None:
            # With '=': a Z85 key may start with '-', which a separate argument would make an option.
            line += f" --server-key='{self.pair.public.decode()}'"  # and its own key: --key, or the default
        return line

    def child_security(self) -> dict[str, str] | None:
        """What our own children need to take part in a secure run: file paths, never a secret."""
        if self.pair is None:
            return None
        return {"secret_file": str(self.pair.secret_file), "server_key": self.pair.public.decode(),
                "allowed_dir": str(self.allowed_dir)}

    def watch(self) -> None:
        """Start reading the socket monitors in a thread of their own: a peer that libzmq refuses
        is disconnected within a millisecond, and its address must be asked before that."""
        self._watcher = threading.Thread(target=self._watch, name="rrsim-refusals", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        poller = zmq.Poller()
        for _label, monitor, _shaking in self._monitors:
            poller.register(monitor, zmq.POLLIN)
        while not self._closing.is_set():
            ready = dict(poller.poll(100))
            for label, monitor, shaking in self._monitors:
                if monitor in ready:
                    self._read_monitor(label, monitor, shaking)

    def _read_monitor(self, label: str, monitor: zmq.Socket[bytes], shaking: list[tuple[int, str]]) -> None:
        while True:
            try:
                event_id, value, _endpoint = monitor_event(monitor.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                return
            if event_id == zmq.EVENT_ACCEPTED:
                shaking.append((value, their_side(value)))
            elif event_id == zmq.EVENT_DISCONNECTED:
                shaking[:] = [(fd, peer) for fd, peer in shaking if fd != value]
            elif shaking:
                # The handshake events carry no fd: the oldest connection still shaking hands.
                _fd, peer = shaking.pop(0)
                if event_id in HANDSHAKE_FAILURES and event_id != zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                    self.refusals.put(Refusal(peer, HANDSHAKE_FAILURES[event_id], label))

    def refused(self) -> list[Refusal]:
        """Handshakes refused since the last call: by the authenticator, or by libzmq itself
        (a peer that does not speak CURVE)."""
        out = []
        while True:
            try:
                out.append(self.refusals.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        self._closing.set()
        if self._watcher is not None:
            self._watcher.join()
        for _label, monitor, _shaking in self._monitors:
            monitor.close(linger=0)
        if self.join_sock is not None:
            self.join_sock.close(linger=0)
        if self.auth is not None:
            self.auth.stop()


def boot_id() -> str:
    """This boot of this machine ("" where Linux does not say): processes that share it share
    CLOCK_MONOTONIC, unless a time namespace shifts it (a clock question tells that apart)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def now_ns() -> int:
    return time.monotonic_ns()


def reply(sock: zmq.Socket[bytes], identity: bytes, body: dict[str, Any]) -> None:
    sock.send_multipart([identity, b"", json.dumps(body).encode()])

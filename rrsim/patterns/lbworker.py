"""The guide's ``lbworker``, unchanged, as lb-broker's worker (worker_cmd): the broker's book of such
workers, and the rrsim process that runs the program and counts what it sends back.

lbworker connects a REQ socket to the broker's backend (``RRSIM_BROKER``), sends READY, then
receives ``[address, "", request]`` and replies ``[address, "", reply]``.  Through REQ's envelope
the broker's ROUTER reads ``[id, "", READY]`` and ``[id, "", address, "", reply]``, and hands it
``[id, "", address, "", request]``: rrsim's messages have no client, so ``address`` is ours.

Which worker a REQ is, its connection tells: ZeroMQ gives each message its connection's
``Peer-Address``: on ipc the peer's pid (``host:uid:gid:pid``), and the program runs in the process
group of the rrsim process that started it; over tcp the peer's address, and the program connects
from its life's own (``tcp://SOURCE:0;BACKEND``, sockets.program_address).  That rrsim process
connects a DEALER of its own to the backend and claims its group, or its program's address
(CLAIM), before it starts the program; the broker passes each reply of that REQ on to it
(RETURNED), where it is counted as done.  A REQ says READY once, when it starts: a broker that
is revived never hears from the REQs of the broker before it (the guide's lbworker waits forever).
"""

from __future__ import annotations

import ipaddress
import os
import time

import zmq

from rrsim.child.program import Returns, own_address, run_program
from rrsim.child.runtime import ChildRuntime
from rrsim.child.sockets import from_address, is_program_address
from rrsim.patterns.brokered import READY
from rrsim.patterns.dispatch import Dispatcher

CLAIM = b"PROGRAM"  # runner -> broker: [empty, CLAIM, its process group or its program's address]; back: [empty, CLAIM]
RETURNED = b"RETURNED"  # broker -> runner: [empty, RETURNED, what its program replied]
ADDRESS = b"rrsim"  # the client address lbworker replies to: rrsim's pushers are not clients
CLAIM_WAIT_S = 2.0  # the runner waits this long for the broker's word before it starts the program


class ReqWorkers:
    """The broker's side: the REQ workers it knows, how many each has done, whose replies go where."""

    def __init__(self) -> None:
        self.group_of: dict[bytes, bytes | None] = {}  # a REQ's identity -> its program's process group, or address
        self.runner_of: dict[bytes, bytes] = {}  # a process group or address -> the identity of the runner that claimed it
        self.done: dict[bytes, int] = {}
        self.claimed = False  # a runner has claimed: each backend message is read with its peer's pid

    def read(self, backend: zmq.Socket[bytes]) -> tuple[bytes, list[bytes], str | None]:
        """(identity, the rest, the peer's Peer-Address) of the next backend message, once claimed."""
        frames = backend.recv_multipart(copy=False)
        return frames[0].bytes, [frame.bytes for frame in frames[1:]], str(frames[-1].get("Peer-Address"))

    def envelope(self, identity: bytes) -> list[bytes]:
        """What goes before a message handed to ``identity``: a REQ's envelope, or our DEALER's empty frame."""
        return [identity, b"", ADDRESS, b""] if identity in self.group_of else [identity, b""]

    def heard(self, backend: zmq.Socket[bytes], identity: bytes, said: list[bytes], peer: str | None,
              workers: Dispatcher) -> None:
        """A runner's claim, a REQ's READY or its reply; anything else is not ours and is dropped."""
        if len(said) == 2 and said[0] == b"" and said[1] == READY:
            self.group_of[identity] = group = _group(peer)
            self.done[identity] = 0
            workers.ready(identity, 0, time.monotonic_ns())
            if (runner := self.runner_of.get(group) if group is not None else None) is not None:
                _tell(backend, [runner, b"", READY])  # so that it can say so if nothing comes back
        elif len(said) == 4 and said[0] == said[2] == b"" and identity in self.group_of:
            self.done[identity] += 1
            group = self.group_of[identity]
            runner = self.runner_of.get(group) if group is not None else None
            if runner is not None:
                _tell(backend, [runner, b"", RETURNED, said[3]])
            workers.ready(identity, self.done[identity], time.monotonic_ns())
        elif len(said) == 3 and said[0] == b"" and said[1] == CLAIM and _claimable(said[2]):
            self.runner_of[said[2]] = identity
            self.claimed = True
            _tell(backend, [identity, b"", CLAIM])

    def gone(self, identity: bytes) -> None:
        self.group_of.pop(identity, None)
        self.done.pop(identity, None)


def _tell(backend: zmq.Socket[bytes], frames: list[bytes]) -> None:
    """A word to a runner, never blocking; one that is gone (killed with its program) misses it."""
    try:
        backend.send_multipart(frames, zmq.NOBLOCK)
    except zmq.ZMQError:
        pass


def _group(peer: str | None) -> bytes | None:
    """Who the peer whose Peer-Address is ``peer`` is, as its runner claims it: over tcp, a worker
    program's address; on ipc (``host:uid:gid:pid``), its process group."""
    if peer and is_program_address(peer):
        return peer.encode()
    try:
        return b"%d" % os.getpgid(int((peer or "").rsplit(":", 1)[-1]))
    except (ValueError, ProcessLookupError, PermissionError):
        return None


def _claimable(claim: bytes) -> bool:
    """A process group or a worker program's address (anything else is not a runner's claim)."""
    if claim.isdigit():
        return len(claim) <= 18
    try:
        return is_program_address(str(ipaddress.IPv4Address(claim.decode("ascii"))))
    except (UnicodeDecodeError, ValueError):
        return False


def program_worker(runtime: ChildRuntime) -> None:
    """The user's program is the worker: it connects a REQ to ``RRSIM_BROKER`` and speaks lbworker.
    We claim our process group (over tcp: its address) at the broker first, so that its replies come to us."""
    dealer = runtime.wire("dealer", runtime.ctx.socket(zmq.DEALER))
    source = own_address(runtime.spec)
    group = source.encode() or b"%d" % os.getpgid(0)
    claimed_at = 0

    def claim() -> None:  # again after every new connection: a revived broker knows nobody
        nonlocal claimed_at
        if runtime.handshakes["dealer"] > claimed_at:
            claimed_at = runtime.handshakes["dealer"]
            dealer.send_multipart([b"", CLAIM, group])

    deadline = time.monotonic() + CLAIM_WAIT_S
    while time.monotonic() < deadline:
        runtime.housekeeping(runtime.clock())
        claim()
        if claimed_at and dealer.poll(10) and dealer.recv_multipart() == [b"", CLAIM]:
            break
    endpoint = from_address(source, runtime.spec.sockets["dealer"].connect_to[0])

    said_ready = False

    def hint(connected: bool) -> str:
        return (f"it should connect a REQ socket to $RRSIM_BROKER ({endpoint}), send READY, then for each "
                '[address, "", request] it receives reply [address, "", reply], the reply beginning with the '
                "request's bytes (the guide's lbworker)")

    def received() -> str:
        return ("it said READY, so the broker hands it requests, but it has replied to none" if said_ready else
                "it never said READY to the broker on a REQ socket, so it has received nothing")

    def returned(frames: list[bytes]) -> bytes | None:
        nonlocal said_ready
        if frames == [b"", READY]:
            said_ready = True  # the broker's word: its REQ is connected and ready
        return frames[2] if len(frames) == 3 and frames[:2] == [b"", RETURNED] else None

    run_program(runtime, {"RRSIM_BROKER": endpoint},
                Returns(dealer, hint, returned, watch=False, each_turn=claim, received=received, reached=lambda: said_ready))

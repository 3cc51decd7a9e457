"""``rrsim worker --join tcp://HOST:PORT``: a worker of a run on another machine.

It asks the run's join endpoint for the time (a few round trips, NTP-style, to put its receipts
on the run's clock), then to join; the answer is the spec a local worker gets, and the pattern's
own worker loop runs on ``ChildRuntime`` as in a local child.  It is not the engine's child: it
obeys control messages instead of signals (pause, stop, exit at once), says it is there with
heartbeats, and leaves with one line when the run ends, falls silent, or refuses its key.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq

from rrsim import wire
from rrsim.child.runtime import ChildRuntime
from rrsim.child.security import secure_client
from rrsim.child.sockets import monitor_event
from rrsim.child.spec import ChildSpec, Curve
from rrsim.endpoints import parse_connect
from rrsim.errors import UserError
from rrsim.remote.listener import ENGINE_SILENT_NS, HANDSHAKE_FAILURES, HEARTBEAT_NS, boot_id

JOIN_TIMEOUT_S = 5.0
BOOT_ID = boot_id()
CLOCK_SAMPLES = 16  # round trips on joining; the shortest gives the offset (its error is within half of it)
CLOCK_REFRESH_NS = 2_000_000_000  # then one round trip this often: clocks drift apart (ppm) over a long run
CLOCK_FIRST_REFRESH_S = 0.5  # the first soon after joining, when the join's own traffic has settled
CLOCK_KEPT = 8  # the offset is the shortest of the last this many round trips
PAUSED_POLL_MS = 100


class RunEnded(Exception):
    """The run is over for this worker: the message says why, in one line."""


class RemoteRuntime(ChildRuntime):
    """A remote worker's runtime: no child of the engine, so it obeys control messages instead of
    signals (pause holds it in housekeeping, reading control and beating, as a SIGSTOP would hold
    a local worker without the beats), says it is there with heartbeats, and keeps its clock on
    the run's with the offset its ``clock_keeper`` refreshes."""

    def __init__(self, spec: ChildSpec) -> None:
        self.clock_keeper: ClockKeeper | None = None  # asks the run for the time now and then
        self.next_beat_ns = 0
        self.paused = False
        super().__init__(spec)

    def run_clock(self) -> Callable[[], int]:
        # Our clock as the engine's: CLOCK_MONOTONIC is another machine's.  The lambda reads the
        # offset each time, as the clock keeper refreshes it.
        return lambda: time.monotonic_ns() + self.clock_offset_ns

    def start_as_child(self) -> None:
        pass  # it leaves when told, or when the engine falls silent, not with a parent

    def read_orders(self, now_ns: int) -> dict[str, Any] | None:
        state = self.read_control()
        while True:
            keeper = self.clock_keeper
            if self.clock() >= self.next_beat_ns:
                clock = {"uncertainty_ns": keeper.uncertainty_ns, "estimates": keeper.estimates} if keeper else {}
                self.report(wire.BEAT, **clock)
                self.next_beat_ns = self.clock() + HEARTBEAT_NS
            if state is not None:
                if state.get("end"):
                    raise RunEnded("the run has ended")
                if state.get("exit"):
                    print(f"rrsim worker: {self.name} killed from the run's live view: exiting at once", flush=True)
                    os._exit(1)
                if state.get("stop"):
                    self.stopping = True
                self.paused = bool(state.get("paused"))
            if self.clock() - self.last_control_ns > ENGINE_SILENT_NS:
                raise RunEnded(f"the run fell silent (no control message for {ENGINE_SILENT_NS / 1e9:g} s): it has "
                               "ended, or its machine or the network is gone")
            if not self.paused:
                return state
            self.control.poll(PAUSED_POLL_MS)
            state = self.read_control() or state

    def close(self) -> None:
        self.report(wire.BEAT, last=True)  # leaving: not to be taken for lost contact
        super().close()
        if self.clock_keeper is not None:
            self.clock_keeper.close()


def _keys(args: argparse.Namespace) -> tuple[tuple[bytes, bytes, bytes] | None, Path | None]:
    """(our public key, our secret key, the run's public key) and our secret key's file, or Nones."""
    from rrsim.remote import keys  # deferred for start-up speed: zmq.auth imports asyncio, and only a keyed join needs it

    if args.server_key is None:
        if args.key:
            raise UserError("--key needs --server-key (the run's public key: its header shows the line to type)")
        return None, None
    server = args.server_key.encode()
    if not keys._is_z85_key(server):
        raise UserError(f"--server-key: must be the run's public key, {keys.Z85_KEY_LENGTH} characters of Z85")
    key_file = Path(args.key) if args.key else keys.default_dir() / f"{keys.NAME}.key_secret"
    if not key_file.exists():
        raise UserError(f"{key_file}: no key pair: make one with `rrsim keys` and have the run host allow its rrsim.key")
    pair = keys.load_pair(key_file)
    return (pair.public, pair.secret, server), key_file


class Joiner:
    """The DEALER to the join endpoint, and a monitor that says why a handshake failed."""

    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str, curve: tuple[bytes, bytes, bytes] | None) -> None:
        self.endpoint = endpoint
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        if curve is not None:
            secure_client(self.sock, *curve)
        self.monitor = self.sock.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        self.sock.connect(endpoint)
        self.deadline = time.monotonic() + JOIN_TIMEOUT_S

    def ask(self, body: dict[str, Any]) -> dict[str, Any]:
        self.sock.send_multipart([b"", json.dumps(body).encode()])
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        poller.register(self.monitor, zmq.POLLIN)
        while True:
            left_ms = (self.deadline - time.monotonic()) * 1000
            if left_ms <= 0:
                raise RunEnded(f"no answer from {self.endpoint} in {JOIN_TIMEOUT_S:g} s: is a run listening there "
                               "(rrsim --listen), and can this machine reach it?")
            ready = dict(poller.poll(int(left_ms)))  # whole ms, as pyzmq would make a float
            if self.monitor in ready:
                event_id, _value, _endpoint = monitor_event(self.monitor.recv_multipart())
                if event_id == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                    raise RunEnded(f"the run at {self.endpoint} refused our key: ask its host to run "
                                   "`rrsim keys allow` with our public rrsim.key")
                raise RunEnded(f"handshake with {self.endpoint} failed: {HANDSHAKE_FAILURES[event_id]} "
                               "(does the run use keys? then give --server-key and --key)")
            if self.sock in ready:
                frames = self.sock.recv_multipart()
                try:
                    answer = json.loads(frames[-1])
                except ValueError:
                    answer = None
                if not isinstance(answer, dict):  # JSON but not an object was an AttributeError further on
                    raise RunEnded(f"{self.endpoint} answered something that is not rrsim's join protocol")
                return answer

    def clock(self) -> tuple[int, int]:
        """(offset to add to our clock to get the run's, its uncertainty), from the shortest of a
        few round trips: the run's clock was read somewhere inside it."""
        samples = []
        for _ in range(CLOCK_SAMPLES):
            sent = time.monotonic_ns()
            sample = clock_sample(self.ask({"clock": sent}), sent, time.monotonic_ns())
            if sample is not None:
                samples.append(sample)
        if not samples:
            raise RunEnded(f"{self.endpoint} did not answer the clock questions")
        return best_offset(samples)

    def close(self) -> None:
        self.monitor.close(linger=0)
        self.sock.close(linger=0)


def clock_sample(answer: dict[str, Any], sent_ns: int, back_ns: int) -> tuple[int, int] | None:
    """(round trip, offset) from the answer to a clock question asked at ``sent_ns``."""
    if answer.get("clock") != sent_ns or not isinstance(answer.get("ours_ns"), int):
        return None  # a late answer to an earlier question: its round trip is unknown
    rtt, offset = back_ns - sent_ns, answer["ours_ns"] - (sent_ns + back_ns) // 2
    if BOOT_ID and answer.get("boot") == BOOT_ID and abs(offset) <= rtt // 2:
        return 0, 0  # the same machine, and its clock read inside our trip: one clock, no offset
    return rtt, offset


def best_offset(samples: list[tuple[int, int]]) -> tuple[int, int]:
    """(offset, uncertainty) of the shortest round trip: the run's clock was read inside it,
    so the offset is right within half of it, however the trip was split."""
    rtt, offset = min(samples)
    return offset, rtt // 2


class ClockKeeper:
    """Asks the run for the time every CLOCK_REFRESH_NS, in a thread of its own with a socket of
    its own (the worker loop must not wait, and an answer read late would look like a long
    round trip), and keeps the runtime's offset on the best of the recent round trips."""

    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str, curve: tuple[bytes, bytes, bytes] | None,
                 first: tuple[int, int], runtime: ChildRuntime) -> None:
        self.ctx, self.endpoint, self.curve, self.runtime = ctx, endpoint, curve, runtime
        self.samples: list[tuple[int, int]] = [(first[1] * 2, first[0])]
        self.uncertainty_ns = first[1]
        self.estimates = 1  # how many times the offset was estimated: the engine notes each new one
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="rrsim-clock", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        sock = self.ctx.socket(zmq.DEALER)
        sock.linger = 0
        if self.curve is not None:
            secure_client(sock, *self.curve)
        sock.connect(self.endpoint)
        try:
            wait_s = CLOCK_FIRST_REFRESH_S
            while not self.stopping.wait(wait_s):
                wait_s = CLOCK_REFRESH_NS / 1e9
                sent = time.monotonic_ns()
                sock.send_multipart([b"", json.dumps({"clock": sent}).encode()])
                if not sock.poll(1000):
                    continue  # no answer in a second: a trip that long would tell nothing
                frames = sock.recv_multipart()
                try:
                    sample = clock_sample(json.loads(frames[-1]), sent, time.monotonic_ns())
                except ValueError:
                    sample = None
                if sample is not None:
                    self.samples = [*self.samples[-(CLOCK_KEPT - 1):], sample]
                    # One int assignment each: the worker loop reads them as they are.
                    self.runtime.clock_offset_ns, self.uncertainty_ns = best_offset(self.samples)
                    self.estimates += 1
        finally:
            sock.close(linger=0)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()


def rehost(endpoint: str, host: str) -> str:
    """An endpoint bound on every interface (0.0.0.0) is reached at the host we joined."""
    for anywhere in ("tcp://0.0.0.0:", "tcp://[::]:", "tcp://*:"):
        if endpoint.startswith(anywhere):
            return f"tcp://{host}:{endpoint[len(anywhere):]}"
    return endpoint


def join(args: argparse.Namespace) -> tuple[ChildSpec, tuple[bytes, bytes, bytes] | None, tuple[int, int]]:
    """Ask the run to take us; returns the spec to run, our keys and the clock estimate."""
    host, _port = parse_connect(args.join, "--join", " (the line the run's header shows)")
    curve, key_file = _keys(args)
    ctx = zmq.Context()
    joiner = Joiner(ctx, args.join, curve)
    try:
        offset_ns, uncertainty_ns = joiner.clock()
        answer = joiner.ask({"join": {"host": socket.gethostname(), "label": args.name or socket.gethostname(),
                                      "pid": os.getpid(), "work_ms": args.work_ms, "speed": args.speed,
                                      "offset_ns": offset_ns,
                                      "uncertainty_ns": uncertainty_ns}})
    finally:
        joiner.close()
        ctx.term()
    if "refused" in answer or "spec" not in answer:
        raise RunEnded(f"the run at {args.join} did not take us: {answer.get('refused', 'no spec in its answer')}")
    spec = ChildSpec.from_dict(answer["spec"])
    spec = dataclasses.replace(
        spec, clock_offset_ns=offset_ns, telemetry=rehost(spec.telemetry, host), control=rehost(spec.control, host),
        sockets={name: dataclasses.replace(plan, connect_to=tuple(rehost(endpoint, host) for endpoint in plan.connect_to))
                 for name, plan in spec.sockets.items()},
        curve=spec.curve if curve is None else Curve(str(key_file), curve[2].decode(), ""))
    print(f"rrsim worker: joined {args.join} as {spec.name} ({spec.pattern}); clock offset "
          f"{offset_ns / 1e6:+.3f} ms ± {uncertainty_ns / 1e6:.3f} ms", flush=True)
    return spec, curve, (offset_ns, uncertainty_ns)

"""The engine's own sockets: telemetry in (PULL), control out (PUB) and, in a listening run, the
join endpoint, with telemetry and control bound on the listen address too."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import zmq

from rrsim.engine.run_directory import RunDirectory
from rrsim.remote.listener import Listener
from rrsim.scenario.setup import Setup
from rrsim.wire import BROADCAST, control_topic

TELEMETRY_BUDGET_NS = 20_000_000  # per step, so commands are never far behind
TELEMETRY_BATCH = 1024  # messages read before decoding: each worker's receipts in them are merged


class RunSockets:
    def __init__(self, setup: Setup, directory: RunDirectory) -> None:
        self.telemetry_endpoint = directory.ipc_endpoint("telemetry")
        self.control_endpoint = directory.ipc_endpoint("control")
        self.remote_telemetry = self.remote_control = ""  # bound on the listen address, when listening
        self.listener: Listener | None = None
        self.ctx = zmq.Context()
        try:
            if setup.listen:
                self.listener = Listener(setup, self.ctx, directory.path)
                self.listener.open()
            self.telemetry_sock = self.ctx.socket(zmq.PULL)
            self.telemetry_sock.linger = 0
            self.telemetry_sock.rcvhwm = 0  # never make a child wait on its reports
            self.control_sock = self.ctx.socket(zmq.PUB)
            self.control_sock.linger = 0
            if self.listener is not None:
                # Bound over tcp too, for remote workers (and secured: local children use CURVE as well).
                self.remote_telemetry = self.listener.bind(self.telemetry_sock, "telemetry")
                self.remote_control = self.listener.bind(self.control_sock, "control")
            self.telemetry_sock.bind(self.telemetry_endpoint)
            self.control_sock.bind(self.control_endpoint)
            self._poller = zmq.Poller()
            self._poller.register(self.telemetry_sock, zmq.POLLIN)
            if self.listener is not None:
                self.listener.watch()
                self._poller.register(self.listener.join_sock, zmq.POLLIN)
        except BaseException:
            if self.listener is not None:
                self.listener.close()
            self.ctx.destroy(linger=0)
            raise

    def wait(self, timeout_ms: float) -> tuple[bool, bool]:
        """Wait up to ``timeout_ms`` for telemetry or (listening) a join request: (join, telemetry) ready."""
        if self.listener is None:
            return False, bool(self.telemetry_sock.poll(int(timeout_ms), zmq.POLLIN))  # pyzmq takes whole ms
        ready = dict(self._poller.poll(int(timeout_ms)))
        return self.listener.join_sock in ready, self.telemetry_sock in ready

    def telemetry_batches(self) -> Iterator[list[list[bytes]]]:
        """What telemetry waits, in batches, until none is left or this step's budget is spent
        (the rest waits for the next step, after commands and reaping)."""
        deadline = time.monotonic_ns() + TELEMETRY_BUDGET_NS
        while True:
            batch: list[list[bytes]] = []
            try:
                while len(batch) < TELEMETRY_BATCH:
                    batch.append(self.telemetry_sock.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                pass
            if not batch:
                return
            yield batch
            if len(batch) < TELEMETRY_BATCH or time.monotonic_ns() >= deadline:
                return

    def publish(self, name: str, state: dict[str, Any]) -> None:
        self.control_sock.send_multipart([control_topic(name), _json(state)])

    def close(self, remotes: bool) -> None:
        """Close everything; ``remotes``: tell remote workers the run is over first (those that
        miss it leave once the control messages stop, ENGINE_SILENT_NS)."""
        if remotes:
            self.control_sock.send_multipart([BROADCAST, _json({"end": True})])
            self.control_sock.linger = 200
        self.telemetry_sock.close(linger=0)
        self.control_sock.close()
        if self.listener is not None:
            self.listener.close()
        self.ctx.term()


def _json(state: dict[str, Any]) -> bytes:
    return json.dumps(state).encode()

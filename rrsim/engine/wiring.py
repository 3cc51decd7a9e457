"""Where every socket of a run binds and what it connects to, as the pattern's wires say.

Only what is bound gets an endpoint: ``ipc://RUN_DIR/LABEL`` or ``tcp://INTERFACE:PORT``, where
``--port`` gives the first bound endpoint its number and the next ones follow.  A label is the
process name (``p1``), or ``name.socket`` (``b1.backend``) for a role with several sockets.
"""

from __future__ import annotations

import socket
from typing import Any

from rrsim.engine.run_directory import RunDirectory
from rrsim.errors import UserError
from rrsim.patterns.base import Pattern, role_of
from rrsim.scenario.setup import Setup


class Wiring:
    def __init__(self, pattern: Pattern, setup: Setup, directory: RunDirectory) -> None:
        self.pattern = pattern
        self.setup = setup
        self.directory = directory
        self.wires = pattern.wires(setup.bind)
        self.bound: dict[tuple[str, str], str] = {}  # (process name, socket) -> endpoint
        self.labels: dict[tuple[str, str], str] = {}  # (process name, socket) -> label
        self.names: list[str] = []  # every process of the run, in the order it was added

    def sockets_of(self, role: str) -> list[str]:
        """The sockets a process of ``role`` has, in the order of the wires."""
        out: dict[str, None] = {}
        for wire in self.wires:
            if wire.binder == role:
                out[wire.binder_socket] = None
            if wire.connector == role:
                out[wire.connector_socket] = None
        return list(out)

    def add(self, name: str) -> dict[str, str]:
        """Give ``name`` its bound endpoints (once: a revived process binds the same ones)."""
        role = role_of(self.pattern, name).name
        several = len(self.sockets_of(role)) > 1
        if name not in self.names:
            self.names.append(name)
            for wire in self.wires:
                if wire.binder == role and (name, wire.binder_socket) not in self.bound:
                    label = f"{name}.{wire.binder_socket}" if several else name
                    self.bound[(name, wire.binder_socket)] = self._endpoint(label)
                    self.labels[(name, wire.binder_socket)] = label
        return self.endpoints_of(name)

    def endpoints_of(self, name: str) -> dict[str, str]:
        return {self.labels[key]: endpoint for key, endpoint in self.bound.items() if key[0] == name}

    def endpoints(self) -> dict[str, str]:
        return {self.labels[key]: endpoint for key, endpoint in self.bound.items()}

    def owners(self) -> dict[str, str]:
        """Endpoint -> the name that binds it."""
        return {endpoint: key[0] for key, endpoint in self.bound.items()}

    def plan(self, name: str) -> dict[str, dict[str, Any]]:
        """Per socket of ``name``: the endpoint it binds at (or None) and those it connects to."""
        role = role_of(self.pattern, name).name
        plan: dict[str, dict[str, Any]] = {s: {"bind_at": self.bound.get((name, s)), "connect_to": []} for s in self.sockets_of(role)}
        for wire in self.wires:
            if wire.connector == role:
                plan[wire.connector_socket]["connect_to"] += [
                    endpoint for (owner, sock), endpoint in self.bound.items()
                    if sock == wire.binder_socket and role_of(self.pattern, owner).name == wire.binder
                ]
        return plan

    def connects(self, name: str) -> dict[str, list[str]]:
        return {sock: part["connect_to"] for sock, part in self.plan(name).items() if part["connect_to"]}

    def _endpoint(self, label: str) -> str:
        setup = self.setup
        if setup.transport == "ipc":
            return self.directory.ipc_endpoint(label)
        if setup.port == 0:
            return f"tcp://{setup.interface}:{free_port(setup.interface, 0, label)}"
        port = setup.port + len(self.bound)
        if port > 65535:
            raise UserError(f"port {port} for {label} is past 65535: choose a lower --port")
        return f"tcp://{setup.interface}:{free_port(setup.interface, port, label)}"


def free_port(interface: str, port: int, name: str) -> int:
    """``port`` (or an ephemeral one for 0) if it can be bound on ``interface`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as libzmq does
        try:
            probe.bind((interface, port))
        except OSError as error:
            where = f"port {port} on {interface!r}" if port else f"interface {interface!r}"
            raise UserError(f"{name}: cannot bind {where}: {error.strerror}") from None
        except (OverflowError, UnicodeError, ValueError) as error:
            raise UserError(f"interface {interface!r}: not an address: {error}") from None
        port_bound: int = probe.getsockname()[1]  # an AF_INET address: (host, port)
        return port_bound

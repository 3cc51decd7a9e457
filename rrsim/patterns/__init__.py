"""The registry of wiring patterns, and what a pattern module declares.

A pattern module (``push_pull.py``, ``lb_broker.py``) holds, top to bottom:

- ``SUMMARY``: one line for ``--help`` and the docs;
- ``BINDERS``: the choices of the ``bind`` setup key it understands (who binds the first hop);
- ``ROLES``: its roles, each with a name prefix, a kind (what the engine and model make of its
  telemetry: a sender reports what it sent, a router what it holds, a receiver what it received)
  and its loop, run in the child process;
- ``wires(bind)``: which socket of which role binds, and which role's socket connects to it;
- ``inherits_backlog(role, life, setup)``: whether a new life of a receiver may be handed
  messages sent before it started (a pipe it inherits, or a broker's queue);
- ``SETUP_KEYS`` (optional): the setup keys only it takes (reliable's ``retry_ms``...).
- ``queue_outlives(role, setup)``: whether what was dealt to a receiver's life and not yet received
  waits for its next life when it dies (a connecting socket keeps its queue), or is dropped.
- ``retry_budget_s(setup)``: how long after every worker has passed it a message may still arrive,
  sent again (0: nothing is sent again).  The live view calls a message lost only after that, and a
  run whose senders still keep unacknowledged copies (their ``kept`` counter) drains only after
  that long with nothing delivered.

Everything else (engine, model, TUI, reports) is written against these facts, never against a
pattern's name.  Adding a pattern is a module and a line in ``MODULES``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable

MODULES = {
    "push-pull": "rrsim.patterns.push_pull",
    "lb-broker": "rrsim.patterns.lb_broker",
    "reliable": "rrsim.patterns.reliable",
}

from rrsim.kinds import RECEIVER, ROUTER, SENDER  # noqa: F401 (the kinds a pattern declares its roles of)


@dataclass(frozen=True)
class Role:
    name: str  # "pusher", "broker", "worker"
    prefix: str  # its processes are named prefix + number: p1, b1, w1
    kind: str  # SENDER | ROUTER | RECEIVER
    loop: Callable[[Any], None]  # run in the child with its ChildRuntime


@dataclass(frozen=True)
class Wire:
    """One hop: ``binder``'s socket binds, each process of ``connector`` connects its socket to it."""

    binder: str  # role
    binder_socket: str
    connector: str  # role
    connector_socket: str


def load(name: str) -> ModuleType:
    return importlib.import_module(MODULES[name])


def names() -> tuple[str, ...]:
    return tuple(MODULES)


def binders() -> tuple[str, ...]:
    """Every value of ``bind`` some pattern understands, in a stable order."""
    seen: dict[str, None] = {}
    for name in MODULES:
        seen.update(dict.fromkeys(load(name).BINDERS))
    return tuple(seen)


def with_router() -> tuple[str, ...]:
    """The patterns with a broker: those that a broker's setup keys (strategy ...) apply to."""
    return tuple(name for name in MODULES if any(role.kind == ROUTER for role in load(name).ROLES.values()))


def bound_by(binder: str) -> tuple[str, ...]:
    """The patterns that understand ``bind = binder``."""
    return tuple(name for name in MODULES if binder in load(name).BINDERS)


def taking(key: str) -> tuple[str, ...]:
    """The patterns that take setup key ``key`` as their own (none: every pattern may have it)."""
    return tuple(name for name in MODULES if key in getattr(load(name), "SETUP_KEYS", ()))


def role_of(pattern: ModuleType, name: str) -> Role:
    """The role of process ``name`` (``w3`` is a worker) in ``pattern``."""
    prefix = name.rstrip("0123456789")
    return next(role for role in pattern.ROLES.values() if role.prefix == prefix)


def linked_roles(pattern: ModuleType, bind: str, role: str) -> tuple[str, ...]:
    """The roles a process of ``role`` must be connected with to take part."""
    out: dict[str, None] = {}
    for wire in pattern.wires(bind):
        if wire.binder == role:
            out[wire.connector] = None
        if wire.connector == role:
            out[wire.binder] = None
    return tuple(out)

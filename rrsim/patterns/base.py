"""What a pattern is: the ``Pattern`` protocol each pattern module implements, its roles and
wires, and the questions asked of any pattern (whose role is a process, who must be linked).

A pattern module holds, top to bottom:

- ``SUMMARY``: one line for ``--help`` and the docs;
- ``BINDERS``: the choices of the ``bind`` setup key it understands (who binds the first hop);
- ``SETUP_KEYS``: the setup keys only it takes (reliable's ``retry_ms``...), none for most;
- ``ROLES``: its roles, each with a name prefix, a kind (what the engine and model make of its
  telemetry: a sender reports what it sent, a router what it holds, a receiver what it received)
  and its loop, run in the child process on a ``ChildRuntime``;
- ``OWN_WORKER_WHY_NOT``: "" when its worker role has a ``program_loop`` (a user's program can be
  the worker, ``worker_cmd``), else why not, in words;
- ``wires(bind)``: which socket of which role binds, and which role's socket connects to it;
- ``inherits_backlog(role, life, setup)``: whether a new life of a receiver may be handed
  messages sent before it started (a pipe it inherits, or a broker's queue);
- ``queue_outlives(role, setup)``: whether what was dealt to a receiver's life and not yet received
  waits for its next life when it dies (a connecting socket keeps its queue), or is dropped;
- ``LOSS_RULE`` (optional): the pattern's words for what a receiver's death loses, for the log's
  cause lines, where its kind's usual rule (a PUSH's, a broker's) does not say it;
- ``retry_budget_s(setup)``: how long after every worker has passed it a message may still arrive,
  sent again (0: nothing is sent again).  The live view calls a message lost only after that, and a
  run whose senders still keep unacknowledged copies (their ``kept`` counter) drains only after
  that long with nothing delivered.

Everything else (engine, model, TUI, reports) is written against these facts, never against a
pattern's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from rrsim.kinds import RECEIVER, ROUTER, SENDER
from rrsim.limits import Limit
from rrsim.names import split_name

if TYPE_CHECKING:  # the registry imports this module: what lists the patterns need not load the runtime
    from rrsim.child.runtime import ChildRuntime

__all__ = ["RECEIVER", "ROUTER", "SENDER", "Pattern", "PatternSetup", "Role", "Wire", "linked_roles", "role_of"]


@dataclass(frozen=True)
class Role:
    name: str  # "pusher", "broker", "worker"
    prefix: str  # its processes are named prefix + number: p1, b1, w1
    kind: str  # SENDER | ROUTER | RECEIVER
    loop: Callable[[ChildRuntime], None]  # run in the child with its ChildRuntime
    # A receiver's loop when the user's program does its work (worker_cmd): it starts the program
    # with the pattern's endpoints in its environment and counts what comes back.  None: not possible.
    program_loop: Callable[[ChildRuntime], None] | None = None


@dataclass(frozen=True)
class Wire:
    """One hop: ``binder``'s socket binds, each process of ``connector`` connects its socket to it."""

    binder: str  # role
    binder_socket: str
    connector: str  # role
    connector_socket: str


class PatternSetup(Protocol):
    """The setup values the patterns' hooks read (a pattern's own keys among them); patterns sit
    below the scenario, whose ``Setup`` has them all."""

    @property
    def bind(self) -> str: ...
    @property
    def immediate(self) -> bool: ...
    @property
    def retry_ms(self) -> float: ...
    @property
    def retries(self) -> int: ...
    @property
    def heartbeat_ms(self) -> float: ...
    @property
    def liveness(self) -> int: ...


class Pattern(Protocol):
    """A pattern module, as the registry hands it out."""

    SUMMARY: str
    BINDERS: tuple[str, ...]
    SETUP_KEYS: Mapping[str, Limit]  # its own keys: their checks and help (rrsim.limits)
    ROLES: dict[str, Role]
    OWN_WORKER_WHY_NOT: str  # why a user's program cannot be its worker (worker_cmd); "" when it can

    def wires(self, bind: str) -> list[Wire]: ...
    def inherits_backlog(self, role: str, life: int, setup: PatternSetup) -> bool: ...
    def queue_outlives(self, role: str, setup: PatternSetup) -> bool: ...
    def retry_budget_s(self, setup: PatternSetup) -> float: ...


def role_of(pattern: Pattern, name: str) -> Role:
    """The role of process ``name`` (``w3`` is a worker) in ``pattern``."""
    prefix = split_name(name)[0]
    return next(role for role in pattern.ROLES.values() if role.prefix == prefix)


def linked_roles(pattern: Pattern, bind: str, role: str) -> tuple[str, ...]:
    """The roles a process of ``role`` must be connected with to take part."""
    out: dict[str, None] = {}
    for wire in pattern.wires(bind):
        if wire.binder == role:
            out[wire.connector] = None
        if wire.connector == role:
            out[wire.binder] = None
    return tuple(out)


def senders_bind_for_receivers(pattern: Pattern, bind: str) -> bool:
    """Whether, wired with ``bind``, receivers connect straight to senders that bind: what a plain
    PULL or PUSH of someone else's can take part in (push-pull with bind = "pusher")."""
    return any(pattern.ROLES[wire.binder].kind == SENDER and pattern.ROLES[wire.connector].kind == RECEIVER
               for wire in pattern.wires(bind))


def receivers_bind(pattern: Pattern, bind: str) -> bool:
    """Whether, wired with ``bind``, receivers bind: then a remote worker has nothing to connect to."""
    return any(pattern.ROLES[wire.binder].kind == RECEIVER for wire in pattern.wires(bind))

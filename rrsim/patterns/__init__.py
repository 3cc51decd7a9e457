"""The registry of wiring patterns: each name and the module that implements ``Pattern``
(``base.py`` says what a pattern declares).  Adding a pattern is a module and a line in ``MODULES``."""

from __future__ import annotations

import importlib
from typing import cast

from rrsim.kinds import ROUTER
from rrsim.patterns.base import Pattern, senders_bind_for_receivers

MODULES = {
    "push-pull": "rrsim.patterns.push_pull",
    "lb-broker": "rrsim.patterns.lb_broker",
    "reliable": "rrsim.patterns.reliable",
    "direct": "rrsim.patterns.direct",
}


DEFAULT = next(iter(MODULES))  # what a run uses unless told


def load(name: str) -> Pattern:
    return cast(Pattern, importlib.import_module(MODULES[name]))


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
    return tuple(name for name in MODULES if key in load(name).SETUP_KEYS)


def with_plain_peers() -> str:
    """The wirings in which receivers connect straight to binding senders, as a user writes them
    ("push-pull, bind pusher"): those a plain ZeroMQ PUSH or PULL can join."""
    return " or ".join(f"{name}, bind {bind}" for name in MODULES for bind in load(name).BINDERS
                       if senders_bind_for_receivers(load(name), bind))


def taking_own_workers() -> tuple[str, ...]:
    """The patterns whose worker can be the user's own program (worker_cmd)."""
    return tuple(name for name in MODULES if not load(name).OWN_WORKER_WHY_NOT)

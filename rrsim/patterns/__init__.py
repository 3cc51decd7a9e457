"""Registry of wiring patterns: how sockets are made, who binds, who connects to whom.

A pattern module provides ``plan(role, name, bind, endpoints)``, ``pusher_socket(ctx, spec)``
and ``worker_socket(ctx, spec)``.  Adding a pattern is a module and a line here.
"""

from __future__ import annotations

import importlib
from types import ModuleType

MODULES = {
    "push-pull": "rrsim.patterns.push_pull",
}


def load(name: str) -> ModuleType:
    return importlib.import_module(MODULES[name])

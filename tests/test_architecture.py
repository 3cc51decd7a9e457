"""The house's rules, read from the code: no import cycle, imports only run downwards, no module over
500 lines (docs/architecture.md).  Every import counts, those inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rrsim"

# Layers from the bottom up; a module may import its own layer's and lower layers' modules.
LAYERS: list[tuple[str, ...]] = [
    ("rrsim", "rrsim.errors", "rrsim.events", "rrsim.wire", "rrsim.kinds", "rrsim.limits", "rrsim.endpoints",
     "rrsim.names"),
    ("rrsim.model",),
    ("rrsim.child",),
    ("rrsim.patterns",),
    ("rrsim.scenario",),
    ("rrsim.remote", "rrsim.recording", "rrsim.engine"),
    ("rrsim.report",),
    ("rrsim.tui",),
    ("rrsim.commands",),
    ("rrsim.cli", "rrsim.__main__"),
]
# Below it by layer, and still out of reach: the report reads the model, never the engine.
FORBIDDEN = {"rrsim.report": ("rrsim.engine", "rrsim.remote")}
# The packages that hold no socket: the fold, the setup checks, the report and the TUI's widgets.
NO_ZMQ = ("rrsim.model", "rrsim.scenario", "rrsim.report", "rrsim.tui")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    return {name for name in all_imports(path) if name == "rrsim" or name.startswith("rrsim.")}


def all_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: {imported for imported in imports_of(path) if imported in modules and imported != name}
            for name, path in modules.items()}


def layer_of(module: str) -> int:
    best, rank = "", -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
                best, rank = prefix, index
    assert rank >= 0, f"{module} is in no layer: add it to LAYERS and docs/architecture.md"
    return rank


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_imports_only_run_downwards():
    wrong = []
    for module, imported in graph().items():
        for target in imported:
            if package_of(target) == package_of(module) or target == "rrsim":
                continue
            if layer_of(target) > layer_of(module) or package_of(target) in FORBIDDEN.get(package_of(module), ()):
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports that climb:\n" + "\n".join(sorted(wrong))


def test_there_is_no_import_cycle():
    edges = graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                pytest.fail("import cycle: " + " -> ".join(path[path.index(target):] + [target]))
            if target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)


def test_no_socket_in_the_fold_the_setup_the_report_or_the_tui():
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    with_zmq = [name for name, path in modules.items() if name.startswith(NO_ZMQ)
                and any(imported == "zmq" or imported.startswith("zmq.") for imported in all_imports(path))]
    assert not with_zmq, with_zmq


def test_every_registered_pattern_declares_what_the_protocol_asks():
    from rrsim import patterns
    from rrsim.patterns.base import Pattern

    asked = [name for name in Pattern.__annotations__] + ["wires", "inherits_backlog", "queue_outlives", "retry_budget_s"]
    missing = {name: [a for a in asked if not hasattr(patterns.load(name), a)] for name in patterns.names()}
    assert not any(missing.values()), missing


def test_no_module_is_over_500_lines():
    long = {module_name(path): n for path in PACKAGE.rglob("*.py") if (n := len(path.read_text().splitlines())) > 500}
    assert not long, long

"""Checks: pass/fail conditions over a run's report, such as ``lost == 0`` or ``p99_ms < 50``,
given with ``rrsim run --check`` or in a scenario's ``[checks]`` table; what CI asserts.

A check is ``NAME OP NUMBER``.  The names are read off the report: every key of ``totals``,
``throughput``, ``fairness``, ``within_objective`` (the share of messages whose sojourn was within
the setup's ``objective_ms``), ``p50_ms``/``p95_ms``/``p99_ms`` (latency over all workers' messages
together), and for every top-level ``X_ms`` dict of statistics the names ``X_mean_ms``,
``X_p50_ms``, ``X_p95_ms``, ``X_p99_ms``, ``X_max_ms``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from rrsim.errors import UserError, did_you_mean

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
}
STATS = ("mean", "p50", "p95", "p99", "max")
# The all-workers statistics a report may hold as top-level {mean, p50, p95, p99, max} dicts named X_ms.
STAT_BLOCKS = ("latency", "wait", "sojourn", "work_size", "handover")
# The report's totals a check may name.
TOTALS = ("sent", "delivered", "lost", "late", "duplicates", "in_flight", "completed", "strayed", "foreign",
          "malformed_telemetry", "retried", "given_up")
LATENCY_ALIASES = {f"{q}_ms": f"latency_{q}_ms" for q in ("p50", "p95", "p99")}

_CHECK = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)
SYNTAX = "write NAME OP NUMBER, e.g. 'lost == 0', with OP one of < <= > >= == !="


@dataclass(frozen=True)
class Check:
    name: str
    op: str
    bound: int | float
    written: str  # the bound as the user wrote it

    def __str__(self) -> str:
        return f"{self.name} {self.op} {self.written}"


def known_names() -> set[str]:
    """The names a report can have, known before the run so that a mistyped name is caught before
    anything starts (tests/test_checking.py holds the report to them)."""
    names = {*TOTALS, "throughput", "fairness", "within_objective"}
    names.update(f"{block}_{stat}_ms" for block in STAT_BLOCKS for stat in STATS)
    names.update(LATENCY_ALIASES)
    return names


def parse_check(text: str, where: str, known: Collection[str]) -> Check:
    """``text`` ('lost == 0') as a Check, or a UserError naming ``where``."""
    match = _CHECK.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise UserError(f"{where}: {text!r} is not a check: {SYNTAX}")
    name, op, number = match.groups()
    if not _NUMBER.fullmatch(number):
        raise UserError(f"{where}: {text!r}: {number!r} is not a number: {SYNTAX}")
    if name not in known:
        raise UserError(f"{where}: {text!r}: unknown name {name!r}; names: {', '.join(sorted(known))}"
                        f"{did_you_mean(name, known)}")
    try:
        bound = float(number) if any(c in number for c in ".eE") else int(number)
    except ValueError:  # an integer of more digits than Python converts
        bound = float("inf")
    if bound in (float("inf"), float("-inf")):
        raise UserError(f"{where}: {text!r}: the number is too large")
    return Check(name, op, bound, number)


def checks_from_table(table: Any, where: str, line_of: Callable[[str], str]) -> tuple[Check, ...]:
    """A scenario's [checks] table: NAME = "OP NUMBER", or a list of them for a range.

    ``line_of(key)`` gives ' (line N)' for a key of the table, to name it in errors."""
    if not isinstance(table, dict):
        raise UserError(f"{where}: 'checks' must be a table [checks] of NAME = \"OP NUMBER\"")
    known = known_names()
    checks = []
    for name, value in table.items():
        here = f"{where} [checks] key {name!r}{line_of(name)}"
        conditions = value if isinstance(value, list) else [value]
        if not conditions or not all(isinstance(c, str) for c in conditions):
            raise UserError(f"{here}: must be a comparison in a string such as \"== 0\" or \"< 50\", "
                            f"or a list of them, got {value!r}")
        for condition in conditions:
            if _CHECK.fullmatch(f"x {condition}") is None:
                raise UserError(f"{here}: {condition!r} is not a comparison: write OP NUMBER, e.g. \"== 0\", "
                                "with OP one of < <= > >= == !=")
            checks.append(parse_check(f"{name} {condition.strip()}", here, known))
    return tuple(checks)

"""A run's report against its checks: the values a check's names have in a report, and the outcomes."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from rrsim.scenario.checks import LATENCY_ALIASES, OPERATORS, STATS, Check


@dataclass(frozen=True)
class Outcome:
    check: Check
    value: int | float | None
    why_none: str = ""  # why there is no value to compare, if there is none

    @property
    def passed(self) -> bool:
        return self.value is not None and OPERATORS[self.check.op](self.value, self.check.bound)

    def describe(self) -> str:
        """'lost == 0 (lost = 3)'"""
        name = self.check.name
        shown = f"{name} {self.why_none}" if self.value is None else f"{name} = {_number(self.value)}"
        return f"{self.check} ({shown})"

    def to_json(self) -> dict[str, Any]:
        return {"check": str(self.check), "value": self.value, "passed": self.passed}


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def report_values(report: dict[str, Any]) -> dict[str, Any]:
    """Every name a check can use, with its value in ``report`` (None where the run gave none)."""
    values: dict[str, Any] = {k: v for k, v in report.get("totals", {}).items() if _is_number(v)}
    values["throughput"] = report.get("throughput_msgs_per_s")
    values["fairness"] = report.get("fairness")
    values["within_objective"] = report.get("within_objective")
    for key, block in report.items():
        if key.endswith("_ms") and isinstance(block, dict):
            for stat in STATS:
                if stat in block and _is_number(block[stat]):
                    values[f"{key[:-3]}_{stat}_ms"] = block[stat]
    for alias, name in LATENCY_ALIASES.items():
        if name in values:
            values[alias] = values[name]
    return values


def evaluate(checks: Collection[Check], report: dict[str, Any]) -> list[Outcome]:
    values = report_values(report)
    outcomes = []
    for check in checks:
        if check.name not in values:
            outcomes.append(Outcome(check, None, "is not in this report"))
        elif values[check.name] is None:
            outcomes.append(Outcome(check, None, "has no value in this run"))
        else:
            outcomes.append(Outcome(check, values[check.name]))
    return outcomes

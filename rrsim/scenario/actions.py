"""Timeline actions: what a scenario's ``[[at]]`` entries may do, and the checks that they can happen."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rrsim import patterns
from rrsim.errors import UserError, did_you_mean
from rrsim.kinds import ROUTER
from rrsim.scenario.setup import Setup, check_speed, check_value, line_of

ACTIONS: dict[str, tuple[str, ...]] = {
    # action -> the keys it takes besides its trigger
    "kill": ("worker",),
    "stop": ("worker",),
    "pause": ("worker",),
    "resume": ("worker",),
    "revive": ("worker",),
    "add_worker": ("work_ms", "speed"),
    "add_pusher": (),
    "set_rate": ("rate",),
    "set_work": ("worker", "work_ms"),
}
NEEDS_WORKER = {"kill", "stop", "pause", "resume", "revive", "set_work"}


@dataclass(frozen=True)
class Action:
    """One timeline entry: fire ``action`` once its trigger is met and every earlier entry has fired."""

    action: str
    time: float | None = None
    after_sent: int | None = None
    worker: str | None = None
    work_ms: float | None = None
    rate: float | None = None
    speed: float | None = None

    def describe(self) -> str:
        trigger = f"at {self.time:g} s" if self.time is not None else f"after {self.after_sent} sent"
        target = f" {self.worker}" if self.worker else ""
        extra = f" rate={self.rate:g}" if self.rate is not None else ""
        extra += f" work_ms={self.work_ms:g}" if self.work_ms is not None else ""
        extra += f" speed={self.speed:g}" if self.speed is not None else ""
        return f"{trigger}: {self.action}{target}{extra}"


def check_action(raw: Any, index: int, where: str, text: str, pos: int) -> Action:
    here = f"{where} [[at]] #{index + 1}"
    if not isinstance(raw, dict):
        raise UserError(f"{here}: must be a table")
    name = raw.get("action")
    if not isinstance(name, str) or name not in ACTIONS:
        raise UserError(f"{here}{line_of(text, 'action', pos)}: action must be one of {', '.join(ACTIONS)}, "
                        f"got {name!r}{did_you_mean(name, ACTIONS)}")
    allowed = {"action", "time", "after_sent", *ACTIONS[name]}
    if "worker" in allowed:
        allowed.add("target")  # the same: a broker is a target, not a worker
    for key in raw:
        if key not in allowed:
            raise UserError(f"{here}{line_of(text, key, pos)}: unknown key {key!r} for action {name!r}; "
                            f"it takes {', '.join(sorted(allowed))}{did_you_mean(key, allowed)}")
    if ("time" in raw) == ("after_sent" in raw):
        raise UserError(f"{here}: give exactly one trigger, time or after_sent")
    fields: dict[str, Any] = {"action": name}
    for key, kind, low in (("time", float, 0.0), ("after_sent", int, 0)):
        if key in raw:
            fields[key] = _number(raw[key], kind, low, f"{here} key {key!r}{line_of(text, key, pos)}")
    for key in ("work_ms", "rate"):  # the same values as the setup keys of that name, checked by one validator
        if key in raw:
            fields[key] = check_value(key, raw[key], f"{here} key {key!r}{line_of(text, key, pos)}")
    if "speed" in raw:
        fields["speed"] = check_speed(raw["speed"], f"{here} key 'speed'{line_of(text, 'speed', pos)}")
    if name in NEEDS_WORKER:
        if "worker" in raw and "target" in raw:
            raise UserError(f"{here}: give worker or target, not both")
        worker = raw.get("worker", raw.get("target"))
        if not isinstance(worker, str) or not worker:
            raise UserError(f"{here}: action {name!r} needs worker = \"wN\" (or target = \"b1\" for a broker)")
        fields["worker"] = worker
    if name == "set_rate" and "rate" not in raw:
        raise UserError(f"{here}: action 'set_rate' needs rate")
    if name == "set_work" and "work_ms" not in raw:
        raise UserError(f"{here}: action 'set_work' needs work_ms")
    return Action(**fields)


def _number(value: Any, kind: type, low: float, where: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"{where}: must be a number, got {value!r}")
    if kind is int and isinstance(value, float) and not value.is_integer():
        raise UserError(f"{where}: must be a whole number, got {value!r}")
    value = kind(value)
    if (isinstance(value, float) and not math.isfinite(value)) or value < low or value > 1e12:
        raise UserError(f"{where}: must be between {low:g} and 1e12, got {value!r}")
    return value


def check_timeline(setup: Setup, timeline: list[Action], where: str) -> None:
    """Walk the timeline in order, as the engine will, and reject what cannot happen."""
    pattern = patterns.load(setup.pattern)
    brokers = [f"{role.prefix}1" for role in pattern.ROLES.values() if role.kind == ROUTER]
    workers = setup.workers
    alive = {name: "alive" for name in [*brokers, *(f"w{i}" for i in range(1, workers + 1))]}
    last_time = last_sent = 0.0
    for index, action in enumerate(timeline):
        here = f"{where} [[at]] #{index + 1} ({action.action})"
        if action.time is not None:
            if action.time < last_time:
                raise UserError(f"{here}: time {action.time:g} goes back in time (an earlier entry is at {last_time:g})")
            last_time = action.time
        if action.after_sent is not None:
            if action.after_sent < last_sent:
                raise UserError(f"{here}: after_sent {action.after_sent} goes back (an earlier entry is at {last_sent:g})")
            last_sent = action.after_sent
        if action.action == "add_worker":
            workers += 1
            alive[f"w{workers}"] = "alive"
            continue
        if action.worker is None:
            continue
        state = alive.get(action.worker)
        if state is None:
            raise UserError(f"{here}: unknown worker {action.worker!r}; known at that point: {', '.join(alive)}")
        problem = timeline_problem(action.action, state)
        if action.action == "set_work" and action.worker in brokers:
            problem = "is a broker: only workers do work"
        if action.action == "stop" and action.worker in brokers:
            problem = BROKER_NO_STOP
        if problem:
            raise UserError(f"{here}: {action.worker} {problem}")
        alive[action.worker] = {"kill": "dead", "stop": "dead", "pause": "paused", "resume": "alive", "revive": "alive"}.get(action.action, state)


# A broker's queue lives in its process: there is no stopping it without losing what it holds.
BROKER_NO_STOP = ("is a broker: it has no graceful stop (what it holds lives in its process); kill, pause or "
                  "revive it")


def timeline_problem(action: str, state: str) -> str:
    """Why ``action`` cannot apply to a worker in ``state`` ('alive', 'paused' or 'dead'), or ''."""
    if action == "revive" and state != "dead":
        return "is still running; only a killed, stopped or crashed worker can be revived"
    if action in ("kill", "stop", "pause", "set_work") and state == "dead":
        return "is not running"
    if action == "pause" and state == "paused":
        return "is already paused"
    if action == "resume" and state != "paused":
        return "is not paused"
    return ""

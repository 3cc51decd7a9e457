"""A scenario's timeline as a run plays it: which actions are due, and which can never be."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rrsim.model.model import Model
from rrsim.scenario.actions import ACTIONS, Action


@dataclass(frozen=True)
class Due:
    action: Action
    skipped: str = ""  # why it will never fire, or "" when it fires now
    late_s: float = 0.0  # how long after its time a timed entry fires, held by an earlier entry

    def describe(self) -> str:
        """The entry as the log tells it: a timed entry held behind an earlier one says when it fired,
        so that "at 2.5 s" printed at 6.1 s is not a mystery."""
        if self.late_s < LATE_S:
            return self.action.describe()
        return f"{self.action.describe()} (fired {self.late_s:.1f} s late: entries fire in order, after the one before it)"


LATE_S = 0.2  # later than the engine's steps and a loaded machine explain


class Timeline:
    def __init__(self, actions: tuple[Action, ...]) -> None:
        self.pending = list(actions)

    def __bool__(self) -> bool:
        return bool(self.pending)

    def due(self, model: Model, now_ns: int, time_up: bool) -> list[Due]:
        """The entries due now, in order: each fires once its trigger is met and every earlier one fired."""
        out: list[Due] = []
        while self.pending:
            action = self.pending[0]
            sending_done = bool(model.pushers) and all(p.done for p in model.pushers.values())
            if time_up or (action.after_sent is not None and model.ledger.sent < action.after_sent and sending_done):
                # Its trigger can never be met now: say so rather than wait for ever.
                why = "time is up" if time_up else f"only {model.ledger.sent} messages were sent"
                out.append(Due(self.pending.pop(0), why))
                continue
            if action.time is not None:
                if model.first_send_ns is None or now_ns < model.first_send_ns + action.time * 1e9:
                    break
            elif action.after_sent is not None and model.ledger.sent < action.after_sent:
                break
            late_s = 0.0
            if action.time is not None and model.first_send_ns is not None:
                late_s = max(0.0, (now_ns - model.first_send_ns) / 1e9 - action.time)
            out.append(Due(self.pending.pop(0), late_s=late_s))
        return out


def engine_command(action: Action) -> tuple[str, tuple[Any, ...]]:
    """The engine command that performs ``action`` (named alike), and its arguments: the keys the
    action takes, in the command's order."""
    return action.action, tuple(getattr(action, key) for key in ACTIONS[action.action])

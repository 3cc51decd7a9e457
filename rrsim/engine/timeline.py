"""A scenario's timeline as a run plays it: which actions are due, and which can never be."""

from __future__ import annotations

from dataclasses import dataclass

from rrsim.scenario.actions import Action
from rrsim.model.model import Model


@dataclass(frozen=True)
class Due:
    action: Action
    skipped: str = ""  # why it will never fire, or "" when it fires now


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
            elif model.ledger.sent < action.after_sent:
                break
            out.append(Due(self.pending.pop(0)))
        return out

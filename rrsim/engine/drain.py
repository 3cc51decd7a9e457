"""When a run is over: sending has ended, and what was sent has landed or nothing has for a while."""

from __future__ import annotations

from rrsim.model.model import Model

SETTLE_NS = 50_000_000  # the senders' final progress reports land within this after they finish


def no_program_left(model: Model) -> str:
    """Why the run cannot go on when every worker, each a user's program, ended by itself ("" if
    one is running, or was ended by a key or an action: it can be revived)."""
    workers = model.workers.values()
    if not workers or any(w.state != "crashed" for w in workers):
        return ""
    return f"no worker is left: every worker program ({', '.join(w.name for w in workers)}) exited by itself"


class Drain:
    def __init__(self, drain_s: float, retry_budget_s: float) -> None:
        self.drain_s = drain_s  # quiet this long: what is still missing is not coming
        self.retry_budget_s = retry_budget_s
        self.started_ns: int | None = None  # when sending was over, while it still is

    def over(self, model: Model, now: int, time_up: bool, actions_pending: bool, last_activity_ns: int) -> bool:
        """Whether the run has drained at ``now``; ``last_activity_ns``: when anything last
        happened (a delivery, a process's end, an action)."""
        senders = model.pushers.values()
        # A sender that died (killed or crashed from outside) will send no more either.
        finished_sending = [p.done or p.state not in ("starting", "running") for p in senders]
        sending_over = time_up or (bool(senders) and all(finished_sending))
        if not sending_over or actions_pending:
            self.started_ns = None
            return False
        if self.started_ns is None:
            self.started_ns = now
        # Give the senders' final progress reports time to land before trusting in_flight == 0.
        settled = now - self.started_ns >= SETTLE_NS
        quiet_s, last_ns = self.drain_s, max(last_activity_ns, self.started_ns)
        if model.kept():  # sent again until acknowledged: nothing delivered for a while proves nothing yet
            quiet_s = max(quiet_s, self.retry_budget_s)
            # A worker that lost its broker connects again when its back-off ends (up to 32 s,
            # beyond the retry budget): what the broker then hands it is still to come.
            last_ns = max([last_ns, *(w.waiting_until_ns for w in model.workers.values()
                                      if w.waiting and w.life is not None and w.life.ended_ns is None)])
        quiet = now - last_ns >= quiet_s * 1e9
        # Undelivered, not in_flight: the live view may already count slow messages as lost.
        return (settled and model.ledger.sent == model.ledger.delivered_unique) or quiet

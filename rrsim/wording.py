"""The event log in words: what the model's log entries (facts) say to a person.

The model records what happened as facts; the TUI, the report and the headless summary all
say it through ``describe``, so one wording serves every view.
"""

from __future__ import annotations

from typing import Any, Callable

from rrsim.model import LogEntry

NAMES_SHOWN = 4  # a line names this many at most, then says how many more


def describe(entry: LogEntry) -> str:
    return _WORDING[entry.what](**entry.facts)


def names(items: list[str]) -> str:
    """``a, b, c, d and 5 more``: a line names a few, then counts the rest."""
    shown = ", ".join(items[:NAMES_SHOWN])
    return shown + (f" and {len(items) - NAMES_SHOWN} more" if len(items) > NAMES_SHOWN else "")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _run_started(pattern: str, transport: str, endpoints: dict[str, str]) -> str:
    where = ", ".join(f"{label} {endpoint}" for label, endpoint in endpoints.items())
    return f"run started: {pattern} over {transport}, {where}"


def _started(name: str, life: int, pid: int, sender: bool = False) -> str:
    if sender:
        return f"{name} started (pid {pid})"
    return f"{name} {'revived' if life > 1 else 'started'}: life {life}, pid {pid}"


def _ended(name: str, how: str, exit_code: int | None, life: int | None = None, pid: int | None = None,
           earlier_life: bool = False, received: int | None = None, routed: int | None = None,
           held: int = 0) -> str:
    if life is None:
        return f"{name} {how} (exit code {exit_code})"
    if earlier_life:  # reaped after its next life started: said the same way, whichever came first
        return f"{name} {how} (life {life}, pid {pid}, exit code {exit_code}; its next life had started)"
    done = f"routed {routed}" if routed is not None else f"received {received}"
    text = f"{name} {how} (life {life}, pid {pid}, exit code {exit_code}, {done})"
    return text + (f": the {plural(held, 'message')} it held are lost" if held else "")


def _rate_set(rate: float) -> str:
    return f"send rate now {rate:g}/s per pusher" if rate else "send rate now unlimited"


def _slow_joiner(senders: list[str], count: int, workers: int) -> str:
    return (f"slow joiner: {names(senders)} sent {plural(count, 'message')} before all {workers} workers were "
            "connected, dealt among those connected then (wait_ready holds the pushers until all are)")


def _lost(why: str, pusher: str, count: int, first_seqs: list[int]) -> str:
    reason = "(no worker can still deliver them)" if why == "overdue" else "undelivered at the end of the run"
    shown = ", ".join(f"{pusher}:{seq}" for seq in first_seqs)
    more = f" and {count - len(first_seqs)} more" if count > len(first_seqs) else ""
    return f"lost {count} {reason}: {shown}{more}"


_WORDING: dict[str, Callable[..., str]] = {
    "run-started": _run_started,
    "started": _started,
    "ended": _ended,
    "log-line": lambda name, line: f"  {name}: {line}",
    "paused": lambda name, remote=False: f"{name} paused ({'by control message: not our child' if remote else 'SIGSTOP'})",
    "resumed": lambda name, remote=False: f"{name} resumed ({'by control message' if remote else 'SIGCONT'})",
    "work-set": lambda name, work_ms: f"{name} now works {work_ms:g} ms per message",
    "rate-set": _rate_set,
    "strategy-set": lambda strategy: f"the broker now chooses workers by {strategy}",
    "sending-held": lambda held: "sending paused" if held else "sending resumed",
    "link": lambda a, b, up: f"{a} {'connected to' if up else 'disconnected from'} {b}",
    "sent-all": lambda name, sent: f"{name} has sent all {sent} messages",
    "foreign": lambda name, count: f"{name} received {count} foreign payload(s): counted, not fatal",
    "malformed": lambda reason: f"dropped malformed telemetry: {reason}",
    "action": lambda description: f"scenario: {description}",
    "slow-joiner": _slow_joiner,
    "arrived-after-all": lambda pusher, name, count: f"{plural(count, 'message')} of {pusher} counted lost arrived after all at {name}",
    "lost": _lost,
    "stranger": lambda name, peer, endpoint, sender=True: (
        f"stranger on {endpoint}: {peer} is not one of ours"
        + (f"; what {name} deals it is not lost but strayed (PUSH deals to every connected peer in turn, "
           "ZeroMQ guide ch. 1)" if sender else "")),
    "stranger-left": lambda name, peer: f"stranger {peer} left {name}",
    "external-worker": lambda name, peer, endpoint: (
        f"external worker {peer} on {endpoint}: a plain PULL let in by address (no telemetry: its share is "
        f"estimated from what {name} dealt and our workers never received)"),
    "listening": lambda endpoint, secure: (f"remote workers may join at {endpoint}"
                                           + (" (CURVE: keys in the allow-list only)" if secure else " (no keys: anyone)")),
    "remote-joined": lambda name, host, address, label, uncertainty_ms: (
        f"{name} joined from {host}" + (f" ({label})" if label and label != host else "")
        + f" at {address or 'an unknown address'}: remote, not our child; clock within ±{uncertainty_ms:.3f} ms"),
    "refused": lambda address, why, endpoint: f"refused {address or 'a peer'} on {endpoint}: {why}",
}


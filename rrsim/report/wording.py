"""The event log in words: what the model's log entries (facts) say to a person.

The model records what happened as facts; the TUI, the report and the headless summary all
say it through ``describe``, so one wording serves every view.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rrsim.events import QUIT
from rrsim.kinds import ROUTER, SENDER
from rrsim.model.views import NS, LogEntry

NAMES_SHOWN = 4  # a line names this many at most, then says how many more


def describe(entry: LogEntry) -> str:
    if entry.what == "links":  # how long the wave of connections took
        return _links(**entry.facts, t_ns=entry.t_ns, until_ns=entry.until_ns or entry.t_ns)
    return _WORDING[entry.what](**entry.facts)


def subjects(entry: LogEntry) -> set[str]:
    """The processes an entry is about (for a log filtered to one worker)."""
    facts = entry.facts
    about = {facts[key] for key in ("name", "a", "b", "pusher", "router") if isinstance(facts.get(key), str)}
    about.update(facts.get("names", ()))
    about.update(name for pair in facts.get("pairs", ()) for name in pair)
    about.update(life[0] for life in facts.get("lives", ()) or ())
    about.update(facts.get("senders", ()))
    about.update(facts["names"].split(", ") if isinstance(facts.get("names"), str) else ())
    about.update(facts.get("ranges", {}))
    about.update(facts.get("taken", {}))  # the workers that got a slow joiner's early messages
    if entry.what == "action":  # a scenario's action names its worker in words: "kill w1"
        about.update(re.findall(r"\b[a-z]+\d+\b", facts.get("description", "")))
    return about


def names(items: list[str]) -> str:
    """``a, b, c, d and 5 more``: a line names a few, then counts the rest."""
    shown = ", ".join(items[:NAMES_SHOWN])
    return shown + (f" and {len(items) - NAMES_SHOWN} more" if len(items) > NAMES_SHOWN else "")


def plural(count: int, noun: str) -> str:
    return f"1 {noun}" if count == 1 else f"{count:,} {noun}s"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def name_runs(items: list[str]) -> str:
    """``w1-w8, w10``: names with the same prefix and consecutive numbers said as a run."""
    parsed = [(m.group(1), int(m.group(2))) if (m := re.fullmatch(r"(\D+)(\d+)", item)) else (item, None)
              for item in dict.fromkeys(items)]
    parts: list[str] = []
    run: list[tuple[str, int]] = []

    def flush() -> None:
        if len(run) > 2:
            parts.append(f"{run[0][0]}{run[0][1]}-{run[-1][0]}{run[-1][1]}")
        else:
            parts.extend(f"{prefix}{number}" for prefix, number in run)
        run.clear()

    for prefix, number in sorted(parsed, key=lambda p: (p[0], p[1] if p[1] is not None else -1)):
        if number is None:
            flush()
            parts.append(prefix)
        elif run and (run[-1][0] != prefix or run[-1][1] + 1 != number):
            flush()
            run.append((prefix, number))
        else:
            run.append((prefix, number))
    flush()
    return " and ".join(parts) if len(parts) == 2 else ", ".join(parts)


def id_range(pusher: str, first: int, last: int, count: int, step: int) -> str:
    """``p1:12102..p1:15931, every 3rd``: the ids of one pusher a cause took."""
    if count == 1:
        return f"{pusher}:{first}"
    spacing = {1: ", one after another", 0: ""}.get(step, f", every {ordinal(step)}")
    return f"{pusher}:{first}..{pusher}:{last}{spacing}"


def _run_started(pattern: str, transport: str, endpoints: dict[str, str]) -> str:
    where = ", ".join(f"{label} {endpoint}" for label, endpoint in endpoints.items())
    return f"run started: {pattern} over {transport}, {where}"


def _started(name: str, life: int, pid: int, sender: bool = False, names: list[str] | None = None,
             pids: list[int] | None = None) -> str:
    if names and pids:  # first lives started together
        return f"{name_runs(names)} started: life 1, pids {min(pids)}..{max(pids)}"
    if sender:
        return f"{name} started (pid {pid})"
    return f"{name} {'revived' if life > 1 else 'started'}: life {life}, pid {pid}"


def _ended(name: str, how: str, exit_code: int | None, life: int | None = None, pid: int | None = None,
           earlier_life: bool = False, received: int | None = None, routed: int | None = None,
           held: int = 0, host: str = "") -> str:
    # A remote worker is not our child: no pid or exit code of its reaches us.
    code = f"remote on {host}" if host else f"exit code {exit_code}"
    if life is None:
        return f"{name} {how} ({code})"
    if earlier_life:  # reaped after its next life started: said the same way, whichever came first
        return f"{name} {how} (life {life}, pid {pid}, {code}; its next life had started)"
    done = f"routed {routed}" if routed is not None else f"received {received}"
    text = f"{name} {how} (life {life}, {f'pid {pid}, ' if not host else ''}{code}, {done})"
    # The broker's last report of its queue, up to a tick old; the ledger counts what was lost.
    return text + (f": it last reported holding {plural(held, 'message')}" if held else "")


def _rate_text(rate: float) -> str:
    return f"{rate:g}/s" if rate else "unlimited"


def _rate_set(rate: float, was: float | None = None) -> str:
    now = f"{_rate_text(rate)} per pusher" if rate else "unlimited"
    return f"send rate now {now}" + (f" (was {_rate_text(was)})" if was is not None and was != rate else "")


def _work_set(name: str, work_ms: float, was_ms: float | None = None) -> str:
    was = f" (was {was_ms:g} ms)" if was_ms is not None and was_ms != work_ms else ""
    return f"{name} now works {work_ms:g} ms per message{was}"


def _slow_joiner(senders: list[str], count: int, workers: int, taken: dict[str, int] | None = None) -> str:
    # taken: who has received them so far (it grows in place as their receipts come in)
    who = f" ({names([f'{worker} got {got:,}' for worker, got in taken.items()])})" if taken else ""
    return (f"slow joiner: {names(senders)} sent {plural(count, 'message')} before all {workers} workers were "
            f"connected, dealt among those connected then{who}: the first to connect gets a whole load while the "
            "others are still connecting (zguide ch. 1 \"Divide and Conquer\"; wait_ready holds the pushers until "
            "all are)")


def _links(pairs: list[tuple[str, str]], up: bool, t_ns: int = 0, until_ns: int = 0) -> str:
    verb = "connected to" if up else "disconnected from"
    by_target: dict[tuple[str, ...], list[str]] = {}
    peers: dict[str, list[str]] = {}
    for a, b in pairs:
        peers.setdefault(a, []).append(b)
    for a, targets in peers.items():
        by_target.setdefault(tuple(sorted(set(targets))), []).append(a)
    told = "; ".join(f"{name_runs(sources)} {verb} {name_runs(list(targets))}" for targets, sources in by_target.items())
    took = (until_ns - t_ns) / NS
    return told + (f" in {took:.2f} s" if len(pairs) > 1 and took >= 0.005 else "")


_DROPPED_BY = {
    SENDER: "a PUSH drops a departed peer's queue (RFC 30; zguide ch. 1 \"Divide and Conquer\")",
    ROUTER: "a ROUTER drops a departed peer's queue, and what the worker held died with it (RFC 28; zguide ch. 3)",
}
_KEPT_BY = "a connecting PUSH keeps a peer's queue while it is away (RFC 30)"


def _lives(lives: list[tuple[str, int, str]]) -> str:
    told = [f"{name} (life {life})" for name, life, _ in lives]
    return told[0] if len(told) == 1 else f"{', '.join(told[:-1])} or {told[-1]}"


def _lost(count: int, ranges: dict[str, tuple[int, int, int, int]], why: str = "",
          lives: list[tuple[str, int, str]] | None = None, station_kind: str = "", fed_by: str = SENDER,
          queue_outlives: bool = False, revived: bool = False, rule: str = "") -> str:
    ids = "; ".join(id_range(pusher, *span) for pusher, span in ranges.items())
    lost = f"{plural(count, 'message')} lost ({ids})"
    if not lives:
        if why == "overdue":
            return f"{lost}: no worker can still deliver them"
        return f"{lost}: undelivered at the end of the run"
    hows = sorted({how for _, _, how in lives})
    how = hows[0] if len(hows) == 1 else "ended"
    who = _lives(lives)
    if queue_outlives and revived:
        return (f"{who} {how}: {lost} that it had taken in, into its own receive queue, which died with it; "
                f"what waited in the sender's queue went to its next life: {_KEPT_BY}")
    if queue_outlives:
        return (f"{who} {how}: {lost} that waited for a next life that never came; {_KEPT_BY}, "
                "until the run ends")
    if station_kind == ROUTER:
        return (f"{who} {how} with the messages it held: {lost}: a broker's queue lives in its process "
                "(zguide ch. 3 \"A Load Balancing Message Broker\")")
    held = "with its queue" if len(lives) == 1 else "with their queues (one of them was dealt each)"
    return f"{who} {how} {held}: {lost}: {rule or _DROPPED_BY.get(fed_by, _DROPPED_BY[SENDER])}"


def _late(name: str, life: int, count: int, fed_by: str, router: str = "") -> str:
    if router:
        return (f"{plural(count, 'message')} sent while {router} was dead were delivered late to {name} (life {life}): "
                f"{_KEPT_BY}")
    if fed_by == ROUTER:
        return (f"{plural(count, 'message')} sent before {name} (life {life}) started were handed to it from the "
                "broker's queue, late: they waited for a ready worker (zguide ch. 3 \"A Load Balancing Message Broker\")")
    return (f"{plural(count, 'message')} sent while {name} was dead were delivered late to its life {life}: "
            f"{_KEPT_BY}")


def _pipe_full(name: str, held: int, sndhwm: int | None, rcvhwm: int | None) -> str:
    limits = f" (rcvhwm {rcvhwm} + sndhwm {sndhwm}, give or take ZeroMQ's batches and the socket buffers)" \
        if sndhwm is not None and rcvhwm is not None else ""
    return (f"{name} paused: its pipe filled at {plural(held, 'message')}{limits}, and round robin now skips it: "
            "a PUSH deals only to peers whose queue is not full (RFC 30; libzmq lb.cpp)")


def _stranger(name: str, peer: str, endpoint: str, sender: bool = True, took: int = 0) -> str:
    text = f"stranger on {endpoint}: {peer} is not one of ours"
    if not sender:
        return text
    took_text = f"; it took {plural(took, 'message')}" if took else ""
    return (text + f"; what {name} deals it is not lost but strayed (PUSH deals to every connected peer in turn, "
            f"ZeroMQ guide ch. 1){took_text}")


WHY_WORDS = {"no-ack": "no acknowledgement within retry_ms", "silent": "its worker missed its heartbeats",
             "gone": "its worker disconnected"}


def _silent(name: str, router: str, missed: int, why: str, requeued: int, to: list[str]) -> str:
    verdict = f"{name} missed {plural(missed, 'heartbeat')}" if why == "silent" else f"{name} disconnected"
    if not requeued:
        # a message it held on its last attempt was given up, not re-queued: told on a line of its own
        return f"{verdict}: {router} takes it for dead; nothing to re-queue"
    where = f" to {names(to)}" if to else ", waiting for a ready worker"
    return f"{verdict}: {plural(requeued, 'message')} re-queued{where}"


def _gave_up(ranges: dict[str, tuple[int, int, int, int]], count: int, attempts: int, why: str, peer: str) -> str:
    ids = "; ".join(id_range(pusher, *span) for pusher, span in ranges.items())
    last = f" (last at {peer})" if peer else ""
    # The worker that had it last may still finish it: then it is delivered, not lost.
    return (f"gave up {plural(count, 'message')} ({ids}) after {plural(attempts, 'attempt')} each: "
            f"{WHY_WORDS[why]}{last}; lost unless a worker still finishes it")


def _nothing_back(name: str, life: int, after_s: float, program: str, hint: str, linked: list[str],
                  sent: dict[str, int], received: str = "") -> str:
    """A user's program that sends nothing back: what it could receive (as its pattern knows it, or
    as its links say), and what it should do."""
    if not received:
        received = ("it is connected to none of ours, so it has received nothing" if not linked else
                    "it is connected to " + names([f"{peer} (which has sent {plural(sent[peer], 'message')})"
                                                  if peer in sent else peer for peer in linked]))
    return f"{name} (`{program}`) has sent nothing back {after_s:g} s after it started: {received}; {hint}"


def _reqs_stuck(name: str, workers: list[str]) -> str:
    """A broker revived while users' programs (lb-broker) run: their REQs wait on the one before."""
    who, waits, them = ((f"{workers[0]}'s program", "waits", "it") if len(workers) == 1 else
                        (f"the programs of {names(workers)}", "wait", "them"))
    return (f"{name} is back, but {who} said READY on a REQ to the {name} before and {waits} forever for its answer "
            f"(the guide's lbworker says READY once): kill (k) and revive (r) {names(workers)} to get {them} going")


def _waiting(name: str, waiting: bool, retry_s: float) -> str:
    if waiting:
        return f"{name} hears nothing from its broker: waiting {retry_s:g} s, then connecting again"
    return f"{name} hears its broker again"


_WORDING: dict[str, Callable[..., str]] = {
    "silent": _silent,
    "gave-up": _gave_up,
    "waiting": _waiting,
    "nothing-back": _nothing_back,
    "reqs-stuck": _reqs_stuck,
    "run-started": _run_started,
    "started": _started,
    "ended": _ended,
    "stopped": lambda by: "run ended with q, before it drained" if by == QUIT else f"run ended by {by}, before it drained",
    "log-line": lambda name, line: f"  {name}: {line}",
    "paused": lambda name, remote=False: f"{name} paused ({'by control message: not our child' if remote else 'SIGSTOP'})",
    "resumed": lambda name, remote=False: f"{name} resumed ({'by control message' if remote else 'SIGCONT'})",
    "work-set": _work_set,
    "rate-set": _rate_set,
    "strategy-set": lambda strategy: f"the broker now chooses workers by {strategy}",
    "sending-held": lambda held, for_good=False, why="": (
        f"sending stopped for good ({why or 'the duration is up'}): the run drains what is in flight, then ends"
        if for_good else "sending paused" if held else "sending resumed"),
    "links": _links,
    "sent-all": lambda name, sent: f"{name} has sent all {sent} messages",
    "foreign": lambda name, count, expected=False: (
        f"{name} received {plural(count, 'foreign payload')} "
        + ("from the plain PUSH it was asked to connect to (--connect-pusher): counted apart from ours" if expected
           else "(no rrsim header: not one of our pushers' messages): counted, not fatal")),
    "malformed": lambda reason: f"dropped malformed telemetry: {reason}",
    "action": lambda description: f"scenario: {description}",
    "slow-joiner": _slow_joiner,
    "arrived-after-all": lambda pusher, name, count: f"{plural(count, 'message')} of {pusher} counted lost arrived after all at {name}",
    "lost": _lost,
    "late": _late,
    "pipe-full": _pipe_full,
    "kept": lambda names, count: (f"{plural(count, 'message')} queued for {names} (dead) wait in flight for its next "
                                  f"life, not lost: {_KEPT_BY}"),
    "stranger": _stranger,
    "stranger-left": lambda name, peer: f"stranger {peer} left {name}",
    "external-worker-left": lambda name, peer: f"external worker {peer} left {name}",
    "external-worker": lambda name, peer, endpoint: (
        f"external worker {peer} on {endpoint}: a plain PULL let in by address (no telemetry: its share is "
        f"estimated from what {name} dealt and our workers never received)"),
    "listening": lambda endpoint, secure: (f"remote workers may join at {endpoint}"
                                           + (" (CURVE: keys in the allow-list only)" if secure else " (no keys: anyone)")),
    "remote-joined": lambda name, host, address, label, uncertainty_ms: (
        f"{name} joined from {host}" + (f" ({label})" if label and label != host else "")
        + f" at {address or 'an unknown address'}: remote, not our child; "
        + (f"clock within ±{uncertainty_ms:.3f} ms" if uncertainty_ms else "same clock as ours (this machine)")),
    "refused": lambda address, why, endpoint: f"refused {address or 'a peer'} on {endpoint}: {why}",
}


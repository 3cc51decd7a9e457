"""Setup and scenario: validated, frozen descriptions of a run, read from TOML or options.

Every check that a user can fail raises ``UserError`` with one line naming the
file, the key (and its line where it can be found) and what was wrong.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from rrsim import patterns
from rrsim.patterns.dispatch import STRATEGIES
from rrsim.scenario.checks import Check, checks_from_table
from rrsim.errors import UserError, did_you_mean
from rrsim.wire import HEADER_SIZE
from rrsim.child.workload import ARRIVALS, WORK_DISTS

PATTERNS = patterns.names()
TRANSPORTS = ("ipc", "tcp")
BINDERS = patterns.binders()
MAX_PUSHERS = 16
# Measured on 2 cores with 24 GiB (benchmarks/many_workers.py): 256 workers take ~30 s to start
# and connect, 512 ~2 min; and libzmq aborts the engine when it runs out of file descriptors.
MAX_WORKERS = 256
WORKERS_LIMIT_WHY = (
    "each worker is a process (~8 MB of memory of its own, 256 take ~30 s to start on 2 cores) "
    "and the engine holds 2 sockets per worker: a common limit of 1024 open files allows no more than ~500"
)


@dataclass(frozen=True)
class Limit:
    """How one setup key is checked: its type and its allowed range."""

    kind: type
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""
    why_high: str = ""  # why ``high`` is the limit, for the error that refuses more
    needs_router: bool = False  # it shapes a router (the broker): a pattern without one ignores it
    # kind tuple: a list of numbers (float), each within low..high


# One table drives the TOML checks, the CLI options and the --help text.
SETUP_KEYS: dict[str, Limit] = {
    "pattern": Limit(str, choices=PATTERNS, help="how sockets are wired and messages routed"),
    "transport": Limit(str, choices=TRANSPORTS, help="ipc (private socket files) or tcp (127.0.0.1)"),
    "bind": Limit(str, choices=BINDERS, help="who binds the first hop: pusher (the others connect to it, as in the "
                  f"2012 post's scripts), worker ({', '.join(patterns.bound_by('worker'))}: pushers connect to each) "
                  f"or broker ({', '.join(patterns.bound_by('broker'))})"),
    "pushers": Limit(int, 1, MAX_PUSHERS, help="number of pusher processes"),
    "workers": Limit(int, 1, MAX_WORKERS, help="number of worker processes at start", why_high=WORKERS_LIMIT_WHY),
    "rate": Limit(float, 0, 10_000_000, help="messages per second per pusher, 0 = as fast as possible"),
    "messages": Limit(int, 0, 10**11, help="messages per pusher, 0 = unlimited"),
    "size": Limit(int, HEADER_SIZE, 10_000_000, help=f"bytes per message (at least the {HEADER_SIZE}-byte header)"),
    "work_ms": Limit(float, 0, 600_000, help="simulated work per message in each worker, in ms: the mean of work_dist"),
    "arrivals": Limit(str, choices=ARRIVALS, help="fixed: messages evenly spaced at rate; poisson: a Poisson process "
                      "of mean rate per pusher (at rate 0, as fast as possible, arrivals do not apply)"),
    "work_dist": Limit(str, choices=WORK_DISTS, help="how each message's work size is drawn around work_ms: fixed, "
                       "exponential, uniform (0 to 2x work_ms) or lognormal (coefficient of variation work_cv)"),
    "work_cv": Limit(float, 0, 4, help="lognormal work_dist: coefficient of variation (standard deviation / mean)"),
    "speeds": Limit(tuple, 0.001, 1000, help="one speed factor per starting worker, e.g. 1,0.25 (a worker at 0.25 "
                    "takes 4x as long for the same message); workers not named run at 1"),
    "seed": Limit(int, 0, 2**53, help="the seed of every random draw (arrivals, work sizes, the broker's random "
                  "choices): the same seed sends the same jobs; without it the run picks one and reports it"),
    "sndhwm": Limit(int, 0, 10_000_000, help="ZMQ_SNDHWM of the sending sockets: the pushers' and the broker's backend (0 = no limit)"),
    "rcvhwm": Limit(int, 0, 10_000_000, help="ZMQ_RCVHWM of the receiving sockets: the workers' and the broker's frontend (0 = no limit)"),
    "immediate": Limit(bool, help="ZMQ_IMMEDIATE on the connecting side: queue only to completed connections"),
    "wait_ready": Limit(bool, help="pushers start only once every worker is connected (exact even split)"),
    "duration": Limit(float, 0.001, 7 * 86400, help="seconds from the run's start after which the pushers stop sending "
                     "(the run then drains what is in flight)"),
    "interface": Limit(str, help="tcp only: the address to bind"),
    "port": Limit(int, 0, 65535, help="tcp only: first port to bind, the next ones follow; 0 = ephemeral ports"),
    "strategy": Limit(str, choices=tuple(STRATEGIES), help="lb-broker: how the broker picks a worker: lru (the "
                      "guide's ready queue), round-robin, random, least-loaded, p2c (power of two choices) or "
                      "pewma (peak-EWMA of service time)", needs_router=True),
    "max_outstanding": Limit(int, 0, 1_000_000, help="lb-broker: messages a worker may hold at once; 0 = the "
                             "strategy's default (1 for lru, no limit for the others)", needs_router=True),
    "broker_queue": Limit(int, 1, 10_000_000, help="lb-broker: messages the broker holds while no worker is ready; "
                          "beyond that it stops reading and the pushers block at their HWM", needs_router=True),
    "retry_ms": Limit(float, 1, 3_600_000, help="reliable: a message a worker has not acknowledged after this "
                      "long goes to the next ready worker"),
    "retries": Limit(int, 0, 1000, help="reliable: how many times a message is handed over again before it is "
                     "given up (and counted lost)"),
    "heartbeat_ms": Limit(float, 1, 3_600_000, help="reliable: broker and workers send each other a heartbeat "
                          "this often"),
    "liveness": Limit(int, 1, 1000, help="reliable: heartbeats missed in a row before a peer is taken for dead "
                      "(its messages go to another worker at once)"),
    "drain_s": Limit(float, 0.01, 3600, help="a run has drained after this long with nothing delivered"),
    "lost_after_s": Limit(float, 0.01, 3600, help="live view: an undelivered message counts as lost after this long"),
    "listen": Limit(str, help="tcp://ADDRESS:PORT: let workers on other machines join there (rrsim worker --join); "
                    "the pattern's sockets then bind on ADDRESS over tcp.  Beyond loopback it needs keys (rrsim keys)"),
    "keys": Limit(str, help="with listen: the keys directory of rrsim keys (default ~/.config/rrsim)"),
    "insecure": Limit(bool, help="with listen: no CURVE, let anyone join (plain text on the wire)"),
    "external_worker": Limit(str, help="the address (IP) of a plain ZeroMQ PULL (the 2012 post's zeroMQ_PULL.py) "
                             "let connect to the pushers: a worker without telemetry whose share is estimated, not "
                             "a stranger; needs tcp"),
    "connect_pusher": Limit(str, help="tcp://HOST:PORT of a plain ZeroMQ PUSH that binds (the 2012 post's "
                            "zeroMQ_PUSH.py): every worker connects to it too; its payloads count as foreign"),
}


@dataclass(frozen=True)
class Setup:
    """Everything that shapes a run; the defaults are the headless defaults."""

    pattern: str = "push-pull"
    transport: str = "ipc"
    bind: str = "pusher"
    pushers: int = 1
    workers: int = 2
    rate: float = 10.0
    messages: int = 100
    size: int = 64
    work_ms: float = 0.0
    arrivals: str = "fixed"
    work_dist: str = "fixed"
    work_cv: float = 1.0
    speeds: tuple[float, ...] = ()
    seed: int | None = None  # None: the engine picks one
    sndhwm: int = 1000
    rcvhwm: int = 1000
    immediate: bool = False
    wait_ready: bool = False
    duration: float | None = None
    interface: str = "127.0.0.1"
    port: int = 0
    strategy: str = "lru"
    max_outstanding: int = 0
    broker_queue: int = 1000
    retry_ms: float = 2000.0
    retries: int = 3
    heartbeat_ms: float = 1000.0
    liveness: int = 3
    drain_s: float = 1.0
    lost_after_s: float = 2.0
    listen: str | None = None  # no join endpoint
    keys: str | None = None  # the default keys directory
    insecure: bool = False
    connect_pusher: str | None = None  # no external pusher
    external_worker: str | None = None  # no plain PULL admitted

    def to_dict(self) -> dict[str, Any]:
        """As JSON has it (a list where the setup holds a tuple), so a setup read back from a
        recording or a report compares equal to the one written."""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in dataclasses.asdict(self).items()}

    def speed_of(self, worker: int) -> float:
        """The speed of starting worker number ``worker`` (1 = w1)."""
        return self.speeds[worker - 1] if worker <= len(self.speeds) else 1.0


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


@dataclass(frozen=True)
class Scenario:
    name: str
    setup: Setup
    timeline: tuple[Action, ...] = field(default_factory=tuple)
    source: str = ""  # the file it came from, for messages
    checks: tuple[Check, ...] = ()  # what `rrsim run` asserts of the report


def _line_of(text: str, key: str, start: int = 0) -> str:
    """' (line N)' for the first ``key =`` at or after character ``start``, or '' if not found."""
    match = re.compile(rf"^\s*{re.escape(key)}\s*=", re.M).search(text, start)
    return f" (line {text.count(chr(10), 0, match.start()) + 1})" if match else ""


def _table_start(text: str, table: str) -> int:
    match = re.compile(rf"^\s*\[\s*{re.escape(table)}\s*\]", re.M).search(text)
    return match.start() if match else 0


def check_value(key: str, value: Any, where: str) -> Any:
    """Return ``value`` converted for setup key ``key``, or raise UserError naming ``where``."""
    limit = SETUP_KEYS[key]
    if limit.kind is bool:
        if not isinstance(value, bool):
            raise UserError(f"{where}: must be true or false, got {value!r}")
        return value
    if limit.kind is str:
        if not isinstance(value, str):
            raise UserError(f"{where}: must be a string, got {value!r}")
        if limit.choices and value not in limit.choices:
            raise UserError(f"{where}: must be one of {', '.join(limit.choices)}, got {value!r}")
        if not value.strip() or value != value.strip():
            raise UserError(f"{where}: must not be empty or padded with spaces, got {value!r}")
        return value
    if limit.kind is tuple:
        if not isinstance(value, (list, tuple)):
            raise UserError(f"{where}: must be a list of numbers, e.g. [1.0, 0.25], got {value!r}")
        return tuple(_in_limit(item, limit, float, f"{where} item {i + 1}") for i, item in enumerate(value))
    return _in_limit(value, limit, limit.kind, where)


def check_speed(value: Any, where: str) -> float:
    """One worker's speed, checked as an item of ``speeds``."""
    return _in_limit(value, SETUP_KEYS["speeds"], float, where)


def _in_limit(value: Any, limit: Limit, kind: type, where: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"{where}: must be a number, got {value!r}")
    if kind is int:
        if isinstance(value, float) and not value.is_integer():
            raise UserError(f"{where}: must be a whole number, got {value!r}")
        value = int(value)
    else:
        try:
            value = float(value)
        except OverflowError:  # an int of hundreds of digits: no float holds it
            raise UserError(f"{where}: must be a finite number, got one of {len(str(value))} digits") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise UserError(f"{where}: must be a finite number, got {value!r}")
    if limit.low is not None and value < limit.low:
        raise UserError(f"{where}: must be at least {limit.low:g}, got {value!r}")
    if limit.high is not None and value > limit.high:
        why = f": {limit.why_high}" if limit.why_high else ""
        raise UserError(f"{where}: must be at most {limit.high:g}, got {value!r}{why}")
    return value


def value_from_text(key: str, text: str, where: str) -> Any:
    """The value of setup key ``key`` written as ``text`` on the command line, unchecked: a
    number for a numeric key, true/false for a flag, TOML for any other kind (a list)."""
    kind = SETUP_KEYS[key].kind
    if kind is str:
        return text
    if kind is bool:
        if text.lower() not in ("true", "false"):
            raise UserError(f"{where}: must be true or false, got {text!r}")
        return text.lower() == "true"
    if kind in (int, float):
        try:
            return int(text) if kind is int else float(text)
        except ValueError:
            raise UserError(f"{where}: must be {'a whole number' if kind is int else 'a number'}, got {text!r}") from None
    if kind is tuple and not text.lstrip().startswith("["):  # --speeds 1,0.25: numbers separated by commas
        try:
            return [float(item) for item in text.split(",")]
        except ValueError:
            raise UserError(f"{where}: must be numbers separated by commas, e.g. 1,0.25, got {text!r}") from None
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        raise UserError(f"{where}: cannot read {text!r} as a value (write it as in a scenario file)") from None


def ignored_by_pattern(key: str, setup: Setup) -> str:
    """Why setup key ``key`` does nothing in ``setup``'s pattern, or '' if it does something."""
    with_router = patterns.with_router()
    if not SETUP_KEYS[key].needs_router or setup.pattern in with_router:
        return ""
    return (f"{key} shapes a broker, and pattern {setup.pattern!r} has none "
            f"(it takes pattern = {' or '.join(repr(name) for name in with_router)})")


def build_setup(values: dict[str, Any], where: str, base: Setup | None = None, text: str = "",
                need_end: bool = True, text_start: int = 0, partial: bool = False) -> Setup:
    """Check every key of ``values`` and return ``base`` with them applied.

    ``text`` (from ``text_start``) is the TOML they came from, to name the line of a bad key.
    ``partial``: more keys follow (options applied one by one), so keys that must agree with
    each other (speeds and workers) are checked later, by ``check_speeds``.
    """
    checked: dict[str, Any] = {}
    for key, value in values.items():
        line = _line_of(text, key, text_start)
        if key not in SETUP_KEYS:
            known = ", ".join(SETUP_KEYS)
            raise UserError(f"{where}: unknown key {key!r}{line}; known keys: {known}{did_you_mean(key, SETUP_KEYS)}")
        checked[key] = check_value(key, value, f"{where} key {key!r}{line}")
    setup = dataclasses.replace(base or Setup(), **checked)
    binders = patterns.load(setup.pattern).BINDERS
    if setup.bind not in binders:
        key = "bind" if "bind" in values else "pattern"
        raise UserError(f"{where}: bind = {setup.bind!r} does not fit pattern {setup.pattern!r}{_line_of(text, key, text_start)}: "
                        f"it takes bind = {' or '.join(binders)}")
    if not partial:
        check_speeds(setup, where, _line_of(text, "speeds", text_start))
    for key in values:
        takers = patterns.taking(key)
        if takers and setup.pattern not in takers:
            raise UserError(f"{where}: {key} applies to pattern {' or '.join(takers)} only, not {setup.pattern!r}"
                            f"{_line_of(text, key, text_start)}")
        ignored = ignored_by_pattern(key, setup)  # a broker's key with no broker would do nothing, unsaid
        if ignored:
            raise UserError(f"{where}: {ignored}{_line_of(text, key, text_start)}")
    if need_end and setup.messages == 0 and setup.duration is None:
        raise UserError(f"{where}: messages = 0 (unlimited) needs a duration")
    if setup.listen:
        _check_listen(setup, values, where, text, text_start)
    if setup.connect_pusher:
        _check_connect_pusher(setup, where, text, text_start)
    if setup.external_worker:
        _check_external_worker(setup, where, text, text_start)
    return setup


def check_speeds(setup: Setup, where: str, line: str = "") -> None:
    if len(setup.speeds) > setup.workers:
        raise UserError(f"{where}: speeds has {len(setup.speeds)} factors for {setup.workers} workers{line}: give one "
                        "per starting worker (a worker added later takes its own speed)")
def _check_external_worker(setup: Setup, where: str, text: str, text_start: int) -> None:
    import ipaddress

    here = f"{where} key 'external_worker'{_line_of(text, 'external_worker', text_start)}"
    try:
        ipaddress.ip_address(setup.external_worker)
    except ValueError:
        raise UserError(f"{here}: must be an IP address (the plain PULL's machine), got {setup.external_worker!r}") from None
    if setup.transport != "tcp" and not setup.listen:
        raise UserError(f"{here}: a plain PULL elsewhere reaches the pushers over tcp: add transport = \"tcp\" "
                        "(and an interface it can reach) or listen")
    if not any(wire.binder == "pusher" and wire.connector == "worker" for wire in patterns.load(setup.pattern).wires(setup.bind)):
        raise UserError(f"{here}: needs pushers that bind and workers that connect (push-pull, bind pusher)")


def _check_connect_pusher(setup: Setup, where: str, text: str, text_start: int) -> None:
    """A plain PUSH deals to PULL sockets: only a pattern whose workers pull from pushers can join one."""
    here = f"{where} key 'connect_pusher'{_line_of(text, 'connect_pusher', text_start)}"
    host, _, port = setup.connect_pusher.removeprefix("tcp://").rpartition(":")
    if not setup.connect_pusher.startswith("tcp://") or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"{here}: must be tcp://HOST:PORT, got {setup.connect_pusher!r}")
    if not any(wire.connector == "worker" and wire.binder == "pusher" for wire in patterns.load(setup.pattern).wires(setup.bind)):
        raise UserError(f"{here}: needs workers that connect to pushers (pattern push-pull, bind pusher), "
                        f"not {setup.pattern} with bind {setup.bind}")


def _check_listen(setup: Setup, values: dict[str, Any], where: str, text: str, text_start: int) -> None:
    """A remote worker connects to what the pattern binds: a wiring where workers bind has
    nothing for it to connect to."""
    from rrsim.remote.listener import parse_listen

    parse_listen(setup.listen, f"{where} key 'listen'{_line_of(text, 'listen', text_start)}")
    if any(wire.binder == "worker" for wire in patterns.load(setup.pattern).wires(setup.bind)):
        others = " or ".join(repr(binder) for binder in patterns.load(setup.pattern).BINDERS if binder != "worker")
        raise UserError(f"{where}: listen needs the workers to connect (bind = {setup.bind!r} makes them bind): "
                        f"use bind = {others}")


def _check_action(raw: Any, index: int, where: str, text: str, pos: int) -> Action:
    here = f"{where} [[at]] #{index + 1}"
    if not isinstance(raw, dict):
        raise UserError(f"{here}: must be a table")
    name = raw.get("action")
    if not isinstance(name, str) or name not in ACTIONS:
        raise UserError(f"{here}{_line_of(text, 'action', pos)}: action must be one of {', '.join(ACTIONS)}, "
                        f"got {name!r}{did_you_mean(name, ACTIONS)}")
    allowed = {"action", "time", "after_sent", *ACTIONS[name]}
    if "worker" in allowed:
        allowed.add("target")  # the same: a broker is a target, not a worker
    for key in raw:
        if key not in allowed:
            raise UserError(f"{here}{_line_of(text, key, pos)}: unknown key {key!r} for action {name!r}; "
                            f"it takes {', '.join(sorted(allowed))}{did_you_mean(key, allowed)}")
    if ("time" in raw) == ("after_sent" in raw):
        raise UserError(f"{here}: give exactly one trigger, time or after_sent")
    fields: dict[str, Any] = {"action": name}
    for key, kind, low in (("time", float, 0.0), ("after_sent", int, 0)):
        if key in raw:
            fields[key] = _number(raw[key], kind, low, f"{here} key {key!r}{_line_of(text, key, pos)}")
    for key in ("work_ms", "rate"):  # the same values as the setup keys of that name, checked by one validator
        if key in raw:
            fields[key] = check_value(key, raw[key], f"{here} key {key!r}{_line_of(text, key, pos)}")
    if "speed" in raw:
        fields["speed"] = check_speed(raw["speed"], f"{here} key 'speed'{_line_of(text, 'speed', pos)}")
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
    if value != value or value in (float("inf"), float("-inf")) or value < low or value > 1e12:
        raise UserError(f"{where}: must be between {low:g} and 1e12, got {value!r}")
    return value


def check_timeline(setup: Setup, timeline: list[Action], where: str) -> None:
    """Walk the timeline in order, as the engine will, and reject what cannot happen."""
    pattern = patterns.load(setup.pattern)
    brokers = [f"{role.prefix}1" for role in pattern.ROLES.values() if role.kind == patterns.ROUTER]
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


def builtin_scenarios() -> list[str]:
    folder = resources.files("rrsim") / "scenarios"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_scenario(name_or_path: str) -> Scenario:
    """Read a scenario from a file path or a built-in name such as ``seed``."""
    path = Path(name_or_path)
    try:
        exists = path.exists()
    except OSError as error:  # a name too long for the file system, say
        raise UserError(f"{name_or_path[:60]}{'...' if len(name_or_path) > 60 else ''}: cannot be a scenario file: "
                        f"{error.strerror}") from None
    if not exists and "/" not in name_or_path and name_or_path in builtin_scenarios():
        text = (resources.files("rrsim") / "scenarios" / f"{name_or_path}.toml").read_text()
        return parse_scenario(text, f"{name_or_path}.toml", name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        known = ", ".join(builtin_scenarios())
        raise UserError(f"{name_or_path}: no such scenario file or built-in scenario (built-ins: {known})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{name_or_path}: cannot read scenario: {getattr(error, 'strerror', None) or error}") from None
    return parse_scenario(text, name_or_path, path.stem)


def parse_scenario(text: str, where: str, name: str) -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{where}: not valid TOML: {error}") from None
    except ValueError as error:  # e.g. an integer of more digits than Python converts
        raise UserError(f"{where}: cannot read a value: {error}") from None
    for key in data:
        if key not in ("setup", "at", "checks"):
            raise UserError(f"{where}: unknown table {key!r}{_line_of(text, key)}; "
                            f"a scenario has [setup], [[at]] and [checks]{did_you_mean(key, ('setup', 'at', 'checks'))}")
    raw_setup = data.get("setup", {})
    if not isinstance(raw_setup, dict):
        raise UserError(f"{where}: 'setup' must be a table [setup]")
    # An endless scenario is fine in the TUI; `rrsim run` asks for a duration itself.
    setup = build_setup(raw_setup, f"{where} [setup]", text=text, need_end=False, text_start=_table_start(text, "setup"))
    raw_timeline = data.get("at", [])
    if not isinstance(raw_timeline, list):
        raise UserError(f"{where}: 'at' must be an array of tables [[at]]")
    starts = [m.start() for m in re.finditer(r"^\s*\[\[at\]\]", text, re.M)]
    timeline = [
        _check_action(raw, i, where, text, starts[i] if i < len(starts) else 0) for i, raw in enumerate(raw_timeline)
    ]
    check_timeline(setup, timeline, where)
    checks_start = _table_start(text, "checks")
    checks = checks_from_table(data.get("checks", {}), where, lambda key: _line_of(text, key, checks_start))
    return Scenario(name=name, setup=setup, timeline=tuple(timeline), source=where, checks=checks)

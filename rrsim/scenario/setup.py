"""Setup keys and values: the limits, the one table of keys, the frozen ``Setup`` and its checks.

Every check that a user can fail raises ``UserError`` with one line naming the file, the key (and
its line where it can be found) and what was wrong.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import re
import shlex
import shutil
import sys
import tomllib
from dataclasses import dataclass
from typing import Any

from rrsim import patterns
from rrsim.child.workload import ARRIVALS, WORK_DISTS
from rrsim.endpoints import parse_connect, parse_listen
from rrsim.errors import UserError, did_you_mean
from rrsim.limits import Limit
from rrsim.patterns.base import receivers_bind, senders_bind_for_receivers
from rrsim.wire import HEADER_SIZE

PATTERNS = patterns.names()
TRANSPORTS = ("ipc", "tcp")
BINDERS = patterns.binders()
MAX_PUSHERS = 16
# Measured on 2 cores with 24 GiB (benchmarks/many_workers.py): 256 workers take ~30 s to start
# and connect, 512 ~2 min; and libzmq aborts the engine when it runs out of file descriptors.
MAX_WORKERS = 256
MAX_WORK_MS = 600_000.0  # ten minutes of simulated work per message
WORKERS_LIMIT_WHY = (
    "each worker is a process (~8 MB of memory of its own, 256 take ~30 s to start on 2 cores) "
    "and the engine holds 2 sockets per worker: a common limit of 1024 open files allows no more than ~500"
)


# The keys every pattern takes.  With the patterns' own keys (``SETUP_KEYS`` of each pattern module, in
# the registry's order) they make the one table that drives the TOML checks, the CLI options and --help.
COMMON_KEYS: dict[str, Limit] = {
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
    "work_ms": Limit(float, 0, MAX_WORK_MS, help="simulated work per message in each worker, in ms: the mean of work_dist"),
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
}
# The keys every pattern takes that --help lists after the patterns' own.
RUN_KEYS: dict[str, Limit] = {
    "objective_ms": Limit(float, 0.001, 3_600_000, help="a latency objective: the report gives the share of messages "
                          "whose sojourn (sent to work done) is within it (within_objective)"),
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
    "worker_cmd": Limit(str, help="'PROGRAM ARGS...': every worker life runs this program of yours instead of "
                        "rrsim's worker (no shell), its endpoints in RRSIM_* variables: see docs/workers.md"),
}


def _pattern_keys() -> dict[str, Limit]:
    keys: dict[str, Limit] = {}
    for name in patterns.names():
        keys.update(patterns.load(name).SETUP_KEYS)
    return keys


SETUP_KEYS: dict[str, Limit] = {**COMMON_KEYS, **_pattern_keys(), **RUN_KEYS}


@dataclass(frozen=True)
class Setup:
    """Everything that shapes a run; the defaults are the headless defaults."""

    pattern: str = patterns.DEFAULT
    transport: str = "ipc"
    bind: str = patterns.load(patterns.DEFAULT).BINDERS[0]  # the first is the pattern's default
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
    load_info: str = "own"
    load_report_ms: float = 100.0
    objective_ms: float | None = None  # no objective: no share within it
    drain_s: float = 1.0
    lost_after_s: float = 2.0
    listen: str | None = None  # no join endpoint
    keys: str | None = None  # the default keys directory
    insecure: bool = False
    connect_pusher: str | None = None  # no external pusher
    external_worker: str | None = None  # no plain PULL admitted
    worker_cmd: str | None = None  # rrsim's own workers

    def to_dict(self) -> dict[str, Any]:
        """As JSON has it (a list where the setup holds a tuple), so a setup read back from a
        recording or a report compares equal to the one written."""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in dataclasses.asdict(self).items()}

    def speed_of(self, worker: int) -> float:
        """The speed of starting worker number ``worker`` (1 = w1)."""
        return self.speeds[worker - 1] if worker <= len(self.speeds) else 1.0


# A pattern's own key is a field here too: what the run is given is one frozen Setup.
assert set(SETUP_KEYS) == {f.name for f in dataclasses.fields(Setup)}, "a setup key without a Setup field"


def line_of(text: str, key: str, start: int = 0) -> str:
    """' (line N)' for the first ``key =`` at or after character ``start``, or '' if not found."""
    match = re.compile(rf"^\s*{re.escape(key)}\s*=", re.MULTILINE).search(text, start)
    return f" (line {text.count(chr(10), 0, match.start()) + 1})" if match else ""


def table_start(text: str, table: str) -> int:
    match = re.compile(rf"^\s*\[\s*{re.escape(table)}\s*\]", re.MULTILINE).search(text)
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
    return float(_in_limit(value, SETUP_KEYS["speeds"], float, where))


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
        if not math.isfinite(value):
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
    takers = patterns.taking(key)  # a broker's, or a pusher that chooses its worker itself
    if not SETUP_KEYS[key].needs_router or setup.pattern in takers:
        return ""
    return (f"{key} shapes a broker (or a pusher that picks each worker), and pattern {setup.pattern!r} has none "
            f"(it takes pattern = {' or '.join(repr(name) for name in takers)})")


def build_setup(values: dict[str, Any], where: str, base: Setup | None = None, text: str = "",
                need_end: bool = True, text_start: int = 0, partial: bool = False) -> Setup:
    """Check every key of ``values`` and return ``base`` with them applied.

    ``text`` (from ``text_start``) is the TOML they came from, to name the line of a bad key.
    ``partial``: more keys follow (options applied one by one), so keys that must agree with
    each other (speeds and workers) are checked later, by ``check_speeds``.
    """
    checked: dict[str, Any] = {}
    for key, value in values.items():
        line = line_of(text, key, text_start)
        if key not in SETUP_KEYS:
            known = ", ".join(SETUP_KEYS)
            raise UserError(f"{where}: unknown key {key!r}{line}; known keys: {known}{did_you_mean(key, SETUP_KEYS)}")
        checked[key] = check_value(key, value, f"{where} key {key!r}{line}")
    setup = dataclasses.replace(base or Setup(), **checked)
    binders = patterns.load(setup.pattern).BINDERS
    if setup.bind not in binders:
        key = "bind" if "bind" in values else "pattern"
        raise UserError(f"{where}: bind = {setup.bind!r} does not fit pattern {setup.pattern!r}{line_of(text, key, text_start)}: "
                        f"it takes bind = {' or '.join(binders)}")
    if not partial:
        check_speeds(setup, where, line_of(text, "speeds", text_start))
    for key in values:
        takers = patterns.taking(key)
        if takers and setup.pattern not in takers and not SETUP_KEYS[key].needs_router:  # that, below
            raise UserError(f"{where}: {key} applies to pattern {' or '.join(takers)} only, not {setup.pattern!r}"
                            f"{line_of(text, key, text_start)}")
        ignored = ignored_by_pattern(key, setup)  # a broker's key with no broker would do nothing, unsaid
        if ignored:
            raise UserError(f"{where}: {ignored}{line_of(text, key, text_start)}")
    if need_end and setup.messages == 0 and setup.duration is None:
        raise UserError(f"{where}: messages = 0 (unlimited) needs a duration")
    if setup.listen:
        _check_listen(setup, setup.listen, where, text, text_start)
    if setup.connect_pusher:
        _check_connect_pusher(setup, setup.connect_pusher, where, text, text_start)
    if setup.external_worker:
        _check_external_worker(setup, setup.external_worker, where, text, text_start)
    if setup.worker_cmd and not partial:
        check_worker_cmd(setup, f"{where} key 'worker_cmd'{line_of(text, 'worker_cmd', text_start)}")
    return setup


def worker_argv(command: str) -> list[str]:
    """``worker_cmd`` as the program and its arguments (shell words, run without a shell); the
    word ``{python}`` is the Python that runs rrsim (with pyzmq: what the bundled examples need)."""
    return [sys.executable if word == "{python}" else word for word in shlex.split(command)]


def check_worker_cmd(setup: Setup, where: str) -> None:
    """The user's worker program: its pattern can take it, and it exists and can run."""
    assert setup.worker_cmd is not None
    why_not = patterns.load(setup.pattern).OWN_WORKER_WHY_NOT
    if why_not:
        raise UserError(f"{where}: pattern {setup.pattern!r} cannot run your worker program: {why_not} "
                        f"(it takes pattern {' or '.join(patterns.taking_own_workers())})")
    if setup.listen:
        raise UserError(f"{where}: your worker program cannot run with listen: listen is for rrsim's own workers "
                        "joining from other machines (rrsim worker --join), and its sockets let in the run's CURVE "
                        "keys only, which your program does not have")
    if setup.transport == "tcp" and not _is_ipv4(setup.interface):
        raise UserError(f"{where}: over tcp your worker program connects from a loopback address of its own "
                        f"(127.128.N.LIFE), which reaches this machine's IPv4 addresses only, not interface "
                        f"{setup.interface!r}")
    try:
        argv = worker_argv(setup.worker_cmd)
    except ValueError as error:
        raise UserError(f"{where}: cannot read {setup.worker_cmd!r} as a command: {error}") from None
    if not argv:
        raise UserError(f"{where}: names no program")
    found = shutil.which(argv[0])
    if found is None:
        there = os.path.exists(argv[0]) if os.sep in argv[0] else False
        raise UserError(f"{where}: {argv[0]!r} is {'not executable' if there else 'not found'}"
                        f"{'' if os.sep in argv[0] else ' on PATH'}")


def _is_ipv4(address: str) -> bool:
    try:
        ipaddress.IPv4Address(address)
    except ValueError:
        return False
    return True


def check_speeds(setup: Setup, where: str, line: str = "") -> None:
    if len(setup.speeds) > setup.workers:
        raise UserError(f"{where}: speeds has {len(setup.speeds)} factors for {setup.workers} workers{line}: give one "
                        "per starting worker (a worker added later takes its own speed)")


def _check_external_worker(setup: Setup, address: str, where: str, text: str, text_start: int) -> None:
    here = f"{where} key 'external_worker'{line_of(text, 'external_worker', text_start)}"
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise UserError(f"{here}: must be an IP address (the plain PULL's machine), got {address!r}") from None
    if setup.transport != "tcp" and not setup.listen:
        raise UserError(f"{here}: a plain PULL elsewhere reaches the pushers over tcp: add transport = \"tcp\" "
                        "(and an interface it can reach) or listen")
    if not senders_bind_for_receivers(patterns.load(setup.pattern), setup.bind):
        raise UserError(f"{here}: needs pushers that bind and workers that connect ({patterns.with_plain_peers()})")


def _check_connect_pusher(setup: Setup, endpoint: str, where: str, text: str, text_start: int) -> None:
    """A plain PUSH deals to PULL sockets: only a pattern whose workers pull from pushers can join one."""
    here = f"{where} key 'connect_pusher'{line_of(text, 'connect_pusher', text_start)}"
    parse_connect(endpoint, here)
    if not senders_bind_for_receivers(patterns.load(setup.pattern), setup.bind):
        raise UserError(f"{here}: needs workers that connect to pushers (pattern {patterns.with_plain_peers()}), "
                        f"not {setup.pattern} with bind {setup.bind}")


def _check_listen(setup: Setup, endpoint: str, where: str, text: str, text_start: int) -> None:
    """A remote worker connects to what the pattern binds: a wiring where workers bind has
    nothing for it to connect to."""
    parse_listen(endpoint, f"{where} key 'listen'{line_of(text, 'listen', text_start)}")
    pattern = patterns.load(setup.pattern)
    if receivers_bind(pattern, setup.bind):
        others = " or ".join(repr(binder) for binder in pattern.BINDERS if not receivers_bind(pattern, binder))
        raise UserError(f"{where}: listen needs the workers to connect (bind = {setup.bind!r} makes them bind): "
                        f"use bind = {others}")

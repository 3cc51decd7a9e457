"""The engine: one run's processes, sockets, timeline and model, driven by ``step()``.

Everything that happens becomes an event, applied to the model under ``lock`` and passed to subscribers.
Front ends read ``model`` (holding ``lock``) and change the run through the command methods, either directly
from the thread that steps it or with ``request()`` from any other thread (the TUI does).  Its parts: docs/architecture.md.
"""

from __future__ import annotations

import dataclasses
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Self

from rrsim import events as ev
from rrsim import patterns
from rrsim.child import loops
from rrsim.child.spec import ChildSpec, Curve, SocketPlan
from rrsim.endpoints import parse_listen
from rrsim.engine import telemetry
from rrsim.engine.drain import Drain, no_program_left
from rrsim.engine.processes import Processes
from rrsim.engine.requests import Requests
from rrsim.engine.run_directory import RunDirectory
from rrsim.engine.run_sockets import RunSockets
from rrsim.engine.supervisor import Supervisor
from rrsim.engine.timeline import Timeline, engine_command
from rrsim.engine.wiring import Wiring
from rrsim.errors import UserError
from rrsim.kinds import RECEIVER, ROUTER, SENDER
from rrsim.model.model import Model
from rrsim.names import name_number
from rrsim.patterns.base import Role, linked_roles, role_of
from rrsim.patterns.dispatch import STRATEGIES
from rrsim.remote.host import Host, Join
from rrsim.scenario.actions import BROKER_NO_STOP, Action, timeline_problem
from rrsim.scenario.setup import MAX_PUSHERS, MAX_WORKERS, Setup, worker_argv

CONTROL_REPEAT_NS = 100_000_000  # control state is re-sent this often: late joiners catch up
TICK_NS = 50_000_000
MOST = {RECEIVER: MAX_WORKERS, SENDER: MAX_PUSHERS}  # the most processes of a kind a run can add


def now_ns() -> int:
    return time.monotonic_ns()


class Engine:
    def __init__(self, setup: Setup, timeline: tuple[Action, ...] = (), keep_logs: Path | None = None) -> None:
        if setup.seed is None:  # picked here, so that the report says which it was and the run can be repeated
            setup = dataclasses.replace(setup, seed=secrets.randbelow(2**32))
        if setup.listen:
            # Remote workers connect to what the pattern binds: over tcp, on the listen address.
            setup = dataclasses.replace(setup, transport="tcp", interface=parse_listen(setup.listen, "--listen")[0])
        self.setup = setup
        self.timeline = Timeline(timeline)
        self.pattern = patterns.load(setup.pattern)
        self.model = Model(lost_after_s=setup.lost_after_s)
        self.lock = threading.RLock()
        self.subscribers: list[Callable[[ev.Event], None]] = []
        self._cause: ev.ActionFired | None = None  # an action being performed, logged with its first effect
        self.roster = telemetry.Roster()
        self.work_ms: dict[str, float] = {}
        self.speed: dict[str, float] = {}
        self.rate = setup.rate
        self.strategy = setup.strategy
        self.held = False  # sending paused (by the user, or because time is up)
        # wait_ready: the pushers are held until every worker (and broker) is connected as the
        # model sees it; a pusher also waits for its own peers (its socket monitor), which is
        # exact for push-pull, but a pusher that feeds a broker cannot see the workers.
        self.waiting_for_workers = setup.wait_ready
        self.time_up = False
        self.finished = False
        self.drain = Drain(setup.drain_s, self.pattern.retry_budget_s(setup))
        self._requests = Requests()
        self._next_control_ns = 0
        self._next_tick_ns = 0
        self._started_ns = 0
        self._deadline_ns: int | None = None
        self._last_activity_ns = 0
        self._closed = False
        self.directory = RunDirectory(keep_logs)
        self.run_dir = self.directory.path
        try:
            self.wiring = Wiring(self.pattern, setup, self.directory)
            self.supervisor = Supervisor(self.directory.logs)
            self.sockets = RunSockets(setup, self.directory)
        except BaseException:
            self.directory.remove()
            raise
        self.processes = Processes(self.supervisor)
        self.telemetry_endpoint = self.sockets.telemetry_endpoint
        self.control_endpoint = self.sockets.control_endpoint
        self.control_sock = self.sockets.control_sock
        self.listener = self.sockets.listener
        self.host = None if self.listener is None else Host(self.listener, self.sockets.remote_telemetry,
                                                             self.sockets.remote_control)

    # ------------------------------------------------------------------ setup
    @property
    def endpoints(self) -> dict[str, str]:
        """What is bound: label (p1, b1.backend) -> endpoint."""
        return self.wiring.endpoints()

    def subscribe(self, callback: Callable[[ev.Event], None]) -> None:
        self.subscribers.append(callback)

    def emit(self, event: ev.Event) -> None:
        if self._cause is not None:  # an action's first effect: the action goes in the log first
            cause, self._cause = self._cause, None
            self.emit(cause)
        with self.lock:
            self.model.apply(event)
        for callback in self.subscribers:
            callback(event)

    def start(self) -> None:
        setup = self.setup
        count = {ROUTER: 1, RECEIVER: setup.workers, SENDER: setup.pushers}
        # Routers and receivers first: whoever connects needs their endpoints, and a sender
        # started last finds everyone it deals to already there.
        order = sorted(self.pattern.ROLES.values(), key=lambda role: (ROUTER, RECEIVER, SENDER).index(role.kind))
        names = [f"{role.prefix}{i}" for role in order for i in range(1, count[role.kind] + 1)]
        for name in names:
            self._add_name(name)
        self._started_ns = now_ns()
        self.roster.messages, self.roster.started_ns = setup.messages, self._started_ns
        if setup.duration is not None:
            self._deadline_ns = self._started_ns + int(setup.duration * 1e9)
        self.emit(ev.RunStarted(self._started_ns, setup.to_dict(), {"telemetry": self.telemetry_endpoint, **self.endpoints},
                                self.pattern.retry_budget_s(setup), getattr(self.pattern, "LOSS_RULE", ""), loops.implementation()))
        if self.listener is not None:
            self.emit(ev.Listening(now_ns(), self.listener.endpoint, self.listener.join_line(),
                                   self.listener.pair is not None))
        for name in names:
            speed = setup.speed_of(name_number(name)) if self.roster.kinds[name] == RECEIVER else 1.0
            self._start(name, 1, setup.work_ms, speed, wait_ready=setup.wait_ready)

    def _add_name(self, name: str) -> None:
        self.wiring.add(name)
        self.roster.owners.update(self.wiring.owners())
        role = role_of(self.pattern, name)
        self.roster.kinds[name], self.roster.roles[name] = role.kind, role.name
        self.roster.links_to[name] = linked_roles(self.pattern, self.setup.bind, role.name)
        if role.kind == SENDER:
            self.roster.senders[name_number(name)] = name

    def _expected_peers(self, name: str, running: dict[str, int]) -> int:
        """How many running processes ``name`` should be connected with."""
        return sum(running.get(role, 0) for role in self.roster.links_to[name])

    def _spec(self, name: str, life: int, work_ms: float, speed: float = 1.0, wait_ready: bool = False) -> ChildSpec:
        """What a process of the run needs to know to take part."""
        role: Role = role_of(self.pattern, name)
        setup = self.setup
        self.work_ms[name], self.speed[name] = work_ms, speed
        expected = self._expected_peers(name, self.processes.count_running(self.roster.roles))
        plan = self.wiring.plan(name)
        external: tuple[str, ...] = ()
        if setup.connect_pusher and role.kind == RECEIVER:
            # A plain PUSH that binds elsewhere (the seed's script): our workers connect to it too.
            connector = next(wire.connector_socket for wire in self.pattern.wires(setup.bind)
                             if wire.connector == role.name)
            plan[connector]["connect_to"].append(setup.connect_pusher)
            external = (setup.connect_pusher,)
        security = self.listener.child_security() if self.listener is not None else None
        assert setup.seed is not None  # picked in __init__ when the setup gave none
        return ChildSpec(
            pattern=setup.pattern, role=role.name, name=name, life=life, index=name_number(name),
            telemetry=self.telemetry_endpoint, control=self.control_endpoint,
            sockets={socket: SocketPlan(part["bind_at"] or "", tuple(part["connect_to"])) for socket, part in plan.items()},
            external=external, curve=Curve(**security) if security is not None else None,
            clock_offset_ns=0, parent_pid=0,
            sndhwm=setup.sndhwm, rcvhwm=setup.rcvhwm, immediate=setup.immediate,
            size=setup.size, messages=setup.messages, rate=self.rate, held=self._pushers_held(),
            min_peers=expected if wait_ready else 0, expected_peers=expected,
            arrivals=setup.arrivals, work_dist=setup.work_dist, work_cv=setup.work_cv, seed=setup.seed,
            mean_work_ms=setup.work_ms, work_ms=work_ms, speed=speed,
            strategy=self.strategy, max_outstanding=setup.max_outstanding, broker_queue=setup.broker_queue,
            pattern_setup={key: getattr(setup, key) for key in getattr(self.pattern, "SETUP_KEYS", ())},
            worker_cmd=tuple(worker_argv(setup.worker_cmd)) if setup.worker_cmd and role.kind == RECEIVER else (),
        )

    def _start(self, name: str, life: int, work_ms: float, speed: float = 1.0, wait_ready: bool = False) -> None:
        spec = self._spec(name, life, work_ms, speed, wait_ready)
        pid = self.processes.start(name, life, spec)
        self._started(name, life, pid)

    def _started(self, name: str, life: int, pid: int) -> None:
        role: Role = role_of(self.pattern, name)
        work_ms, speed = self.work_ms[name], self.speed[name]
        self.roster.lives[name] = life  # only once it started: a failed revive is no new life
        self.emit(ev.ProcessStarted(
            now_ns(), name, role.name, life, pid, work_ms if role.kind == RECEIVER else 0.0,
            speed=speed, endpoints=self.wiring.endpoints_of(name), kind=role.kind,
            links_to=self.roster.links_to[name],
            inherits_backlog=self.pattern.inherits_backlog(role.name, life, self.setup),
            queue_outlives=self.pattern.queue_outlives(role.name, self.setup),
            program=(self.setup.worker_cmd or "") if role.kind == RECEIVER else "",
        ))
        self._next_control_ns = 0

    # ------------------------------------------------------------------ commands
    def _worker_state(self, name: str) -> str:
        worker = self.model.station(name)
        if worker is None:
            known = ", ".join(w.name for w in self.model.stations()) or "none"
            raise UserError(f"unknown worker {name!r} (workers and brokers: {known})")
        if not worker.running or not self.processes.running(name):
            return "dead"
        return "paused" if worker.state == "paused" else "alive"

    def _check(self, action: str, name: str) -> None:
        self._reap(now_ns())  # what ended since the step began is known before a command is judged
        problem = timeline_problem(action, self._worker_state(name))
        if problem:
            raise UserError(f"{name} {problem}")

    def kill(self, name: str) -> None:
        self._check("kill", name)
        self.processes[name].kill()
        self._publish_control([name])  # one reached by control state is told to exit at once; the rest can wait
        self._reap(now_ns())  # the model says "killed" as soon as the command returns

    def stop(self, name: str) -> None:
        self._check("stop", name)
        if self.roster.kinds[name] == ROUTER:
            raise UserError(f"{name} {BROKER_NO_STOP}")
        self.processes[name].stop()
        self._next_control_ns = 0

    def pause(self, name: str) -> None:
        self._check("pause", name)
        self.processes[name].pause()
        self._next_control_ns = 0
        self.emit(ev.WorkerPaused(now_ns(), name))

    def resume(self, name: str) -> None:
        self._check("resume", name)
        self.processes[name].resume()
        self._next_control_ns = 0
        self.emit(ev.WorkerResumed(now_ns(), name))

    def revive(self, name: str) -> None:
        self._check("revive", name)
        self.processes[name].check_revivable()
        self._start(name, self.roster.lives[name] + 1, self.work_ms[name], self.speed[name])

    def add_worker(self, work_ms: float | None = None, speed: float | None = None) -> str:
        name = self._next_name(RECEIVER)
        self._add_name(name)
        self._start(name, 1, self.setup.work_ms if work_ms is None else work_ms, 1.0 if speed is None else speed)
        return name

    def add_pusher(self) -> str:
        name = self._next_name(SENDER)
        self._add_name(name)
        self._start(name, 1, 0.0)
        return name

    def _next_name(self, kind: str) -> str:
        role = next(role for role in self.pattern.ROLES.values() if role.kind == kind)
        count = sum(1 for name in self.wiring.names if role_of(self.pattern, name) == role)
        if count >= MOST[kind]:
            raise UserError(f"already {MOST[kind]} {role.name}s, the most a run can have")
        return f"{role.prefix}{count + 1}"

    def set_rate(self, rate: float) -> None:
        self.rate = rate
        self._tell_processes(ev.RateSet(now_ns(), rate))

    def set_work(self, name: str, work_ms: float) -> None:
        self._check("set_work", name)
        if self.roster.kinds[name] != RECEIVER:
            raise UserError(f"{name} is not a worker: only workers do work")
        if self.setup.worker_cmd:
            raise UserError(f"{name} runs your program (worker_cmd): its work is its own, rrsim cannot set it")
        self.work_ms[name] = work_ms
        self._tell_processes(ev.WorkSet(now_ns(), name, work_ms))

    def _tell_processes(self, change: ev.Event) -> None:
        """Note a change of what the processes are told, and tell them at the next step."""
        self.emit(change)
        self._next_control_ns = 0

    def _pushers_held(self) -> bool:
        return self.held or self.waiting_for_workers

    def _open_gate_when_ready(self) -> None:
        stations = self.model.stations()
        if stations and all(station.state == "alive" for station in stations):
            self.waiting_for_workers = False
            self._next_control_ns = 0

    def set_strategy(self, strategy: str) -> None:
        if not any(role.kind == ROUTER for role in self.pattern.ROLES.values()):
            raise UserError(f"{self.setup.pattern} has no broker: strategies are a broker's "
                            f"(--pattern {' or '.join(patterns.with_router())})")
        if strategy not in STRATEGIES:
            raise UserError(f"unknown strategy {strategy!r}: one of {', '.join(STRATEGIES)}")
        self.strategy = strategy
        self._tell_processes(ev.StrategySet(now_ns(), strategy))

    def hold_sending(self, held: bool, for_good: bool = False, why: str = "") -> None:
        self.held = held
        self._tell_processes(ev.SendingHeld(now_ns(), held, for_good, why))

    def end_sending(self, why: str = "") -> None:
        """Stop sending for good: the run ends once what is in flight has landed, as at its duration."""
        self.time_up = True
        self.hold_sending(True, for_good=True, why=why)

    def output(self, name: str) -> tuple[str, ...]:
        """The last lines the selected worker's program wrote (its latest life's stdout and stderr)."""
        program = self.setup.worker_cmd if self.roster.kinds.get(name) == RECEIVER else None
        return self.directory.output_tail(name, self.roster.lives.get(name, 0), program)

    def request(self, command: str, *args: Any) -> Future[Any]:
        """Run a command on the engine's thread; the future holds its result or its UserError."""
        return self._requests.put(lambda: getattr(self, command)(*args))

    # ------------------------------------------------------------------ the loop
    def step(self, timeout_ms: float = 10.0) -> None:
        """Do whatever is due, then receive telemetry for up to ``timeout_ms``."""
        if self.finished:
            self._requests.run(self.finished)  # answered, not run: a command queued just before the end must not hang
            return
        # Commands and deaths first: a key press must not wait behind a backlog of telemetry.
        now = now_ns()
        self._reap(now)
        if self.host is not None:
            self._serve(self.host, now)
        self._requests.run(self.finished)
        self._run_timeline(now)
        if self.waiting_for_workers:
            self._open_gate_when_ready()
        if now >= self._next_control_ns:
            self._publish_control()
            self._next_control_ns = now + CONTROL_REPEAT_NS
        # A join request wakes us too: a remote worker times its clock questions round trip,
        # and an answer that waited here would skew its offset by half the wait.
        join_ready, telemetry_ready = self.sockets.wait(timeout_ms)
        if join_ready and self.host is not None:
            self._serve(self.host, now_ns())
        if telemetry_ready:
            self._receive_telemetry()
        now = now_ns()
        if now >= self._next_tick_ns:
            self.emit(ev.Tick(now))
            self._next_tick_ns = now + TICK_NS
        self._check_drained(now)

    def _reap(self, now: int) -> None:
        for ended in self.processes.reap(now):
            self.emit(ended)
            self._last_activity_ns = now
            if ended.how == "crashed" and self.setup.worker_cmd and not self.time_up and not self.timeline:
                if why := no_program_left(self.model):
                    self.end_sending(why)

    def _receive_telemetry(self) -> None:
        for batch in self.sockets.telemetry_batches():
            t = now_ns()
            # No lock: only this thread changes the model, and decoding only reads it.
            for event in telemetry.decode_batch(batch, t, self.roster, self._sent_of):
                self._requests.run(self.finished)  # a key waits for one event, not a batch's tens of ms
                time.sleep(0)  # a UI thread waiting for the GIL takes it now, not after the 5 ms switch interval
                if isinstance(event, ev.Deliveries):
                    self._last_activity_ns = t
                instead = self.host.heard(event, t) if self.host is not None else None
                if instead is None:
                    self.emit(event)
                else:
                    self._emit_remote(instead)

    def _sent_of(self, index: int) -> int:
        return self.model.ledger.pusher(index).sent

    def _run_timeline(self, now: int) -> None:
        for due in self.timeline.due(self.model, now, self.time_up):
            if due.skipped:
                self.emit(ev.ActionFired(now, f"{due.action.describe()} skipped: {due.skipped}"))
                continue
            self._last_activity_ns = now
            # Said before its first effect, so that the log tells the cause before the effect; and
            # not at all when it cannot be done, so that the log does not say it was done, then not.
            self._cause = ev.ActionFired(now_ns(), due.describe())
            try:
                command, args = engine_command(due.action)
                getattr(self, command)(*args)
            except UserError as error:
                self._cause = None
                self.emit(ev.ActionFired(now_ns(), f"{due.action.describe()} skipped: {error}"))
            else:
                cause, self._cause = self._cause, None
                if cause is not None:  # nothing it did was an event yet
                    self.emit(cause)

    def _publish_control(self, names: list[str] | None = None) -> None:
        running = self.processes.count_running(self.roster.roles)  # once: per process it made this O(n^2) at 256 workers
        for name in self.wiring.names if names is None else names:
            own = self.processes.control(name)
            if own is None:
                continue
            self.sockets.publish(name, {
                "connect": self.wiring.connects(name), "rate": self.rate, "held": self._pushers_held(),
                "work_ms": self.work_ms[name], "speed": self.speed[name],
                "expected_peers": self._expected_peers(name, running),
                "strategy": self.strategy, **own,
            })

    def _check_drained(self, now: int) -> None:
        if self._deadline_ns is not None and now >= self._deadline_ns and not self.time_up:
            self.end_sending()
        if self.drain.over(self.model, now, self.time_up, bool(self.timeline), self._last_activity_ns):
            self.emit(ev.Drained(now))
            self.finished = True

    # ------------------------------------------------------------------ remote workers
    def _serve(self, host: Host, now: int) -> None:
        for news in host.serve(now):
            if isinstance(news, Join):
                self._admit(host, news)
            else:
                self._emit_remote((news,))

    def _admit(self, host: Host, join: Join) -> None:
        """Name a remote worker that asks to join, and tell it what a local child would be told."""
        try:
            name = self._next_name(RECEIVER)
            if self.finished or self.time_up:
                raise UserError("the run has finished sending")
        except UserError as error:
            host.refuse(join.identity, str(error))
            return
        self._add_name(name)
        work_ms = self.setup.work_ms if join.work_ms is None else join.work_ms
        now = now_ns()
        self.roster.clock_slack_ns[name] = join.uncertainty_ns
        self.processes.add(host.admit(join, name, self._spec(name, 1, work_ms, join.speed), now))
        self._started(name, 1, join.pid)
        self.emit(ev.RemoteJoined(now_ns(), name, join.host, join.address, join.label, join.offset_ns,
                                  join.uncertainty_ns))
        self._last_activity_ns = now

    def _emit_remote(self, events: Iterable[ev.Event]) -> None:
        """Emit what the host says of remote workers, keeping the books it does not keep."""
        for event in events:
            if isinstance(event, ev.ClockEstimated):
                self.roster.clock_slack_ns[event.name] = event.uncertainty_ns
            self.emit(event)
            if isinstance(event, ev.ProcessEnded):
                self._last_activity_ns = now_ns()
                self._next_control_ns = 0

    # ------------------------------------------------------------------ the end
    def expect_run_end(self) -> None:
        """Call from the stepping thread as it stops stepping, before ``close``: see
        ``Supervisor.expect_run_end``."""
        if hasattr(self, "supervisor"):
            self.supervisor.expect_run_end()

    def close(self, stopped_by: str | None = None) -> None:
        """End every process, close the sockets, remove the run directory.  Safe to call twice.
        ``stopped_by`` ("quit", or a signal's name) says who ended a run that had not finished."""
        if self._closed:
            return
        self._closed = True
        if stopped_by is not None and not self.finished and self.model.started_ns is not None:
            self.emit(ev.RunStopped(now_ns(), stopped_by))
        # A second ctrl+c or SIGTERM must not cut the clean-up short: hold them until it is done.
        in_main = threading.current_thread() is threading.main_thread()
        held = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
        if in_main:
            signal.pthread_sigmask(signal.SIG_BLOCK, held)
        try:
            if hasattr(self, "processes"):
                for ended in self.processes.shutdown(now_ns()):
                    self.emit(ended)
        finally:
            if hasattr(self, "sockets"):
                self.sockets.close(remotes=self.host is not None and bool(self.host.remotes))
            self.directory.remove()
            if in_main:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, held)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()



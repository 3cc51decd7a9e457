"""The engine: one run's processes, sockets, timeline and model, driven by ``step()``.

Everything that happens becomes an event, applied to the model under ``lock`` and passed to
subscribers.  Front ends read ``model`` (holding ``lock``) and change the run through the
command methods, either directly from the thread that steps the engine or with ``request()``
from any other thread (the TUI does that).
"""

from __future__ import annotations

import dataclasses
import json
import queue
import secrets
import signal
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable

import zmq

from rrsim import events as ev
from rrsim.engine import telemetry
from rrsim.scenario.config import BROKER_NO_STOP, MAX_PUSHERS, MAX_WORKERS, Action, Setup, check_value, timeline_problem
from rrsim.errors import UserError
from rrsim.remote.listener import LOST_CONTACT_NS, Listener, RemoteWorker, parse_listen, reply
from rrsim.model.model import Model
from rrsim.kinds import RECEIVER, ROUTER, SENDER
from rrsim.names import name_number as _number
from rrsim.patterns.base import Role, linked_roles, role_of
from rrsim.patterns import load as load_pattern
from rrsim.patterns.dispatch import STRATEGIES
from rrsim.engine.supervisor import Supervisor
from rrsim.child.spec import ChildSpec, Curve, SocketPlan
from rrsim.wire import BROADCAST, control_topic
from rrsim.engine.run_directory import RunDirectory
from rrsim.engine.timeline import Timeline
from rrsim.engine.wiring import Wiring

CONTROL_REPEAT_NS = 100_000_000  # control state is re-sent this often: late joiners catch up
TICK_NS = 50_000_000
TELEMETRY_BUDGET_NS = 20_000_000  # per step, so commands are never far behind
TELEMETRY_BATCH = 1024  # messages read before decoding: each worker's receipts in them are merged


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
        self.pattern = load_pattern(setup.pattern)
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
        self.drain_started_ns: int | None = None
        self._requests: queue.SimpleQueue[tuple[Callable[[], Any], Future]] = queue.SimpleQueue()
        self._next_control_ns = 0
        self._next_tick_ns = 0
        self._started_ns = 0
        self._deadline_ns: int | None = None
        self._last_activity_ns = 0
        self._closed = False
        self.listener: Listener | None = None
        self.remotes: dict[str, RemoteWorker] = {}  # workers on other machines: not our children

        self.directory = RunDirectory(keep_logs)
        self.run_dir = self.directory.path
        try:
            self.telemetry_endpoint = self.directory.ipc_endpoint("telemetry")
            self.wiring = Wiring(self.pattern, setup, self.directory)
            self.supervisor = Supervisor(self.directory.logs)
            self.ctx = zmq.Context()
            if setup.listen:
                self.listener = Listener(setup, self.ctx, self.directory.path)
                self.listener.open()
            self.telemetry_sock = self.ctx.socket(zmq.PULL)
            self.telemetry_sock.linger = 0
            self.telemetry_sock.rcvhwm = 0  # never make a child wait on its reports
            self.control_sock = self.ctx.socket(zmq.PUB)
            self.control_sock.linger = 0
            self.control_endpoint = self.directory.ipc_endpoint("control")
            if self.listener is not None:
                # Bound over tcp too, for remote workers (and secured: local children use CURVE as well).
                self.remote_telemetry = self.listener.bind(self.telemetry_sock, "telemetry")
                self.remote_control = self.listener.bind(self.control_sock, "control")
            self.telemetry_sock.bind(self.telemetry_endpoint)
            self.control_sock.bind(self.control_endpoint)
            self._poller = zmq.Poller()
            if self.listener is not None:
                self.listener.watch()
            for sock in (self.telemetry_sock, *([self.listener.join_sock] if self.listener else [])):
                self._poller.register(sock, zmq.POLLIN)
        except BaseException:
            if hasattr(self, "ctx"):
                if self.listener is not None:
                    self.listener.close()
                self.ctx.destroy(linger=0)
            self.directory.remove()
            raise

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
                                self.pattern.retry_budget_s(setup)))
        if self.listener is not None:
            self.emit(ev.Listening(now_ns(), self.listener.endpoint, self.listener.join_line(),
                                   self.listener.pair is not None))
        for name in names:
            speed = setup.speed_of(_number(name)) if self.roster.kinds[name] == RECEIVER else 1.0
            self._start(name, 1, setup.work_ms, speed, wait_ready=setup.wait_ready)

    def _add_name(self, name: str) -> None:
        self.wiring.add(name)
        self.roster.owners.update(self.wiring.owners())
        role = role_of(self.pattern, name)
        self.roster.kinds[name], self.roster.roles[name] = role.kind, role.name
        self.roster.links_to[name] = linked_roles(self.pattern, self.setup.bind, role.name)
        if role.kind == SENDER:
            self.roster.senders[_number(name)] = name

    def _running(self, name: str) -> bool:
        """Running and not asked to end: our child, or a remote worker still in touch."""
        remote = self.remotes.get(name)
        if remote is not None:
            return not remote.ended and remote.ending is None
        return self.supervisor.running(name)

    def _running_by_role(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for name in self.wiring.names:
            if self._running(name):
                counts[self.roster.roles[name]] = counts.get(self.roster.roles[name], 0) + 1
        return counts

    def _expected_peers(self, name: str, running: dict[str, int]) -> int:
        """How many running processes ``name`` should be connected with."""
        return sum(running.get(role, 0) for role in self.roster.links_to[name])

    def _spec(self, name: str, life: int, work_ms: float, speed: float = 1.0, wait_ready: bool = False) -> ChildSpec:
        """What a process of the run needs to know to take part."""
        role: Role = role_of(self.pattern, name)
        setup = self.setup
        self.work_ms[name], self.speed[name] = work_ms, speed
        expected = self._expected_peers(name, self._running_by_role())
        plan = self.wiring.plan(name)
        external: tuple[str, ...] = ()
        if setup.connect_pusher and role.kind == RECEIVER:
            # A plain PUSH that binds elsewhere (the seed's script): our workers connect to it too.
            connector = next(wire.connector_socket for wire in self.pattern.wires(setup.bind)
                             if wire.connector == role.name)
            plan[connector]["connect_to"].append(setup.connect_pusher)
            external = (setup.connect_pusher,)
        security = self.listener.child_security() if self.listener is not None else None
        return ChildSpec(
            pattern=setup.pattern, role=role.name, name=name, life=life, index=_number(name),
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
        )

    def _start(self, name: str, life: int, work_ms: float, speed: float = 1.0, wait_ready: bool = False) -> None:
        spec = self._spec(name, life, work_ms, speed, wait_ready)
        pid = self.supervisor.start(name, life, spec)
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
        ))
        self._next_control_ns = 0

    # ------------------------------------------------------------------ commands
    def _worker_state(self, name: str) -> str:
        worker = self.model.station(name)
        if worker is None:
            known = ", ".join(w.name for w in self.model.stations()) or "none"
            raise UserError(f"unknown worker {name!r} (workers and brokers: {known})")
        if not worker.running or not self._running(name):
            return "dead"
        return "paused" if worker.state == "paused" else "alive"

    def _check(self, action: str, name: str) -> None:
        problem = timeline_problem(action, self._worker_state(name))
        if problem:
            raise UserError(f"{name} {problem}")

    def kill(self, name: str) -> None:
        self._check("kill", name)
        if name in self.remotes:
            # Not our child: no signal reaches it.  It is told to exit at once, and counts as killed now.
            self.remotes[name].ending = "killed"
            self._publish_control()
            self._remote_ended(self.remotes[name], "killed", None)
            return
        self.supervisor.kill(name)
        self._reap(now_ns())  # the model says "killed" as soon as the command returns

    def stop(self, name: str) -> None:
        self._check("stop", name)
        if name in self.model.brokers:
            raise UserError(f"{name} {BROKER_NO_STOP}")
        if name in self.remotes:
            self.remotes[name].ending = "stopped"  # it finishes what it holds and says goodbye
            self._next_control_ns = 0
            return
        self.supervisor.stop(name)

    def pause(self, name: str) -> None:
        self._check("pause", name)
        if name in self.remotes:
            self.remotes[name].paused = True
            self._next_control_ns = 0
        else:
            self.supervisor.pause(name)
        self.emit(ev.WorkerPaused(now_ns(), name))

    def resume(self, name: str) -> None:
        self._check("resume", name)
        if name in self.remotes:
            self.remotes[name].paused = False
            self._next_control_ns = 0
        else:
            self.supervisor.resume(name)
        self.emit(ev.WorkerResumed(now_ns(), name))

    def revive(self, name: str) -> None:
        self._check("revive", name)
        if name in self.remotes:
            raise UserError(f"{name} is a remote worker, not our child: run rrsim worker --join again on "
                            f"{self.remotes[name].host} to bring a worker back")
        self._start(name, self.roster.lives[name] + 1, self.work_ms[name], self.speed[name])

    def add_worker(self, work_ms: float | None = None, speed: float | None = None) -> str:
        name = self._next_name(RECEIVER, MAX_WORKERS, "workers")
        self._add_name(name)
        self._start(name, 1, self.setup.work_ms if work_ms is None else work_ms, 1.0 if speed is None else speed)
        return name

    def add_pusher(self) -> str:
        name = self._next_name(SENDER, MAX_PUSHERS, "pushers")
        self._add_name(name)
        self._start(name, 1, 0.0)
        return name

    def _next_name(self, kind: str, most: int, what: str) -> str:
        role = next(role for role in self.pattern.ROLES.values() if role.kind == kind)
        count = sum(1 for name in self.wiring.names if role_of(self.pattern, name) == role)
        if count >= most:
            raise UserError(f"already {most} {what}, the most a run can have")
        return f"{role.prefix}{count + 1}"

    def set_rate(self, rate: float) -> None:
        self.rate = rate
        self.emit(ev.RateSet(now_ns(), rate))
        self._next_control_ns = 0

    def set_work(self, name: str, work_ms: float) -> None:
        self._check("set_work", name)
        if name not in self.model.workers:
            raise UserError(f"{name} is not a worker: only workers do work")
        self.work_ms[name] = work_ms
        self.emit(ev.WorkSet(now_ns(), name, work_ms))
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
            raise UserError(f"{self.setup.pattern} has no broker: strategies are a broker's (--pattern lb-broker)")
        if strategy not in STRATEGIES:
            raise UserError(f"unknown strategy {strategy!r}: one of {', '.join(STRATEGIES)}")
        self.strategy = strategy
        self.emit(ev.StrategySet(now_ns(), strategy))
        self._next_control_ns = 0

    def hold_sending(self, held: bool, for_good: bool = False) -> None:
        self.held = held
        self.emit(ev.SendingHeld(now_ns(), held, for_good))
        self._next_control_ns = 0

    def end_sending(self) -> None:
        """Stop sending for good: the run ends once what is in flight has landed, as at its duration."""
        self.time_up = True
        self.hold_sending(True, for_good=True)

    def request(self, command: str, *args: Any) -> Future:
        """Run a command on the engine's thread; the future holds its result or its UserError."""
        future: Future = Future()
        self._requests.put((lambda: getattr(self, command)(*args), future))
        return future

    def perform(self, action: Action) -> None:
        if action.action in ("kill", "stop", "pause", "resume", "revive"):
            getattr(self, action.action)(action.worker)
        elif action.action == "add_worker":
            self.add_worker(action.work_ms, action.speed)
        elif action.action == "add_pusher":
            self.add_pusher()
        elif action.action == "set_rate":
            self.set_rate(action.rate)
        elif action.action == "set_work":
            self.set_work(action.worker, action.work_ms)

    # ------------------------------------------------------------------ the loop
    def step(self, timeout_ms: float = 10.0) -> None:
        """Do whatever is due, then receive telemetry for up to ``timeout_ms``."""
        if self.finished:
            self._run_requests()  # answered, not run: a command queued just before the end must not hang
            return
        # Commands and deaths first: a key press must not wait behind a backlog of telemetry.
        now = now_ns()
        self._reap(now)
        if self.listener is not None:
            self._serve_listener(now)
        self._run_requests()
        self._run_timeline(now)
        if self.waiting_for_workers:
            self._open_gate_when_ready()
        if now >= self._next_control_ns:
            self._publish_control()
            self._next_control_ns = now + CONTROL_REPEAT_NS
        if self.listener is None:
            if self.telemetry_sock.poll(timeout_ms, zmq.POLLIN):
                self._receive_telemetry()
        else:
            # A join request wakes us too: a remote worker times its clock questions round trip,
            # and an answer that waited here would skew its offset by half the wait.
            ready = dict(self._poller.poll(timeout_ms))
            if self.listener.join_sock in ready:
                self._serve_listener(now_ns())
            if self.telemetry_sock in ready:
                self._receive_telemetry()
        now = now_ns()
        if now >= self._next_tick_ns:
            self.emit(ev.Tick(now))
            self._next_tick_ns = now + TICK_NS
        self._check_drained(now)

    def _reap(self, now: int) -> None:
        for ended in self.supervisor.reap():
            self.emit(ev.ProcessEnded(now, ended.name, ended.life, ended.how, ended.exit_code, ended.log_tail))
            self._last_activity_ns = now

    def _receive_telemetry(self) -> None:
        deadline = now_ns() + TELEMETRY_BUDGET_NS
        while True:
            batch = []
            try:
                while len(batch) < TELEMETRY_BATCH:
                    batch.append(self.telemetry_sock.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                pass
            if not batch:
                return
            t = now_ns()
            # No lock: only this thread changes the model, and decoding only reads it.
            decoded = telemetry.decode_batch(batch, t, self.roster, self._sent_of)
            for event in decoded:
                if isinstance(event, ev.Deliveries):
                    self._last_activity_ns = t
                if self.remotes and self._heard_from_remote(event, t):
                    continue
                self.emit(event)
            if len(batch) < TELEMETRY_BATCH or now_ns() >= deadline:
                return  # the rest waits for the next step, after commands and reaping

    def _sent_of(self, index: int) -> int:
        return self.model.ledger.pusher(index).sent

    def _run_requests(self) -> None:
        while True:
            try:
                command, future = self._requests.get_nowait()
            except queue.Empty:
                return
            if self.finished:
                future.set_exception(UserError("the run has finished"))
                continue
            try:
                future.set_result(command())
            except UserError as error:
                future.set_exception(error)

    def _run_timeline(self, now: int) -> None:
        for due in self.timeline.due(self.model, now, self.time_up):
            if due.skipped:
                self.emit(ev.ActionFired(now, f"{due.action.describe()} skipped: {due.skipped}"))
                continue
            self._last_activity_ns = now
            # Said before its first effect, so that the log tells the cause before the effect; and
            # not at all when it cannot be done, so that the log does not say it was done, then not.
            self._cause = ev.ActionFired(now_ns(), due.action.describe())
            try:
                self.perform(due.action)
            except UserError as error:
                self._cause = None
                self.emit(ev.ActionFired(now_ns(), f"{due.action.describe()} skipped: {error}"))
            else:
                cause, self._cause = self._cause, None
                if cause is not None:  # nothing it did was an event yet
                    self.emit(cause)

    def _publish_control(self) -> None:
        running = self._running_by_role()  # once: per process it made this O(n^2) at 256 workers
        for name in self.wiring.names:
            remote = self.remotes.get(name)
            if not self._running(name) and (remote is None or remote.ended and remote.ending != "killed"):
                continue
            state: dict[str, Any] = {
                "connect": self.wiring.connects(name), "rate": self.rate, "held": self._pushers_held(),
                "work_ms": self.work_ms[name], "speed": self.speed[name],
                "expected_peers": self._expected_peers(name, running),
                "strategy": self.strategy,
            }
            if remote is not None:
                state.update(paused=remote.paused, stop=remote.ending == "stopped", exit=remote.ending == "killed")
            self.control_sock.send_multipart([control_topic(name), _json(state)])

    def _check_drained(self, now: int) -> None:
        model = self.model
        if self._deadline_ns is not None and now >= self._deadline_ns and not self.time_up:
            self.end_sending()
        pushers = model.pushers.values()
        # A pusher that died (killed or crashed from outside) will send no more either.
        finished_sending = [p.done or p.state not in ("starting", "running") for p in pushers]
        sending_over = self.time_up or (bool(pushers) and all(finished_sending))
        if not sending_over or self.timeline:
            self.drain_started_ns = None
            return
        if self.drain_started_ns is None:
            self.drain_started_ns = now
        # Give the pushers' final progress reports time to land before trusting in_flight == 0.
        settled = now - self.drain_started_ns >= 50_000_000
        quiet_s = self.setup.drain_s
        if model.kept():  # sent again until acknowledged: nothing delivered for a while proves nothing yet
            quiet_s = max(quiet_s, self.pattern.retry_budget_s(self.setup))
        quiet = now - max(self._last_activity_ns, self.drain_started_ns) >= quiet_s * 1e9
        # Undelivered, not in_flight: the live view may already count slow messages as lost.
        if (settled and model.ledger.sent == model.ledger.delivered_unique) or quiet:
            self.emit(ev.Drained(now))
            self.finished = True

    # ------------------------------------------------------------------ the end
    def expect_run_end(self) -> None:
        """Call from the stepping thread as it stops stepping, before ``close``: see
        ``Supervisor.expect_run_end``."""
        if hasattr(self, "supervisor"):
            self.supervisor.expect_run_end()

    def close(self) -> None:
        """End every child, close the sockets, remove the run directory.  Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        # A second ctrl+c or SIGTERM must not cut the clean-up short: hold them until it is done.
        in_main = threading.current_thread() is threading.main_thread()
        held = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
        if in_main:
            signal.pthread_sigmask(signal.SIG_BLOCK, held)
        try:
            if hasattr(self, "supervisor"):
                now = now_ns()
                for ended in self.supervisor.shutdown():
                    self.emit(ev.ProcessEnded(now, ended.name, ended.life, ended.how, ended.exit_code, ended.log_tail))
                for remote in self.remotes.values():
                    if not remote.ended:
                        self._remote_ended(remote, "run-end", None)
        finally:
            if hasattr(self, "ctx"):
                if self.remotes:
                    # Remote workers are told the run is over; those that miss it leave once the
                    # control messages stop (ENGINE_SILENT_NS).
                    self.control_sock.send_multipart([BROADCAST, _json({"end": True})])
                    self.control_sock.linger = 200
                self.telemetry_sock.close(linger=0)
                self.control_sock.close()
                if self.listener is not None:
                    self.listener.close()
                self.ctx.term()
            self.directory.remove()
            if in_main:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, held)

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


    # ------------------------------------------------------------------ remote workers
    def _serve_listener(self, now: int) -> None:
        """Answer the join endpoint, note refused handshakes, and notice remote workers gone silent."""
        listener = self.listener
        for refusal in listener.refused():
            self.emit(ev.PeerRefused(now, refusal.address, refusal.why, refusal.endpoint))
        while True:
            try:
                frames = listener.join_sock.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                break
            if len(frames) == 3 and not frames[1].bytes:
                # libzmq says where the connection came from (ZMQ_MSG_PROPERTY_PEER_ADDRESS).
                self._answer_join(frames[0].bytes, frames[2].bytes, frames[2].get("Peer-Address"))
        for remote in self.remotes.values():
            if not remote.ended and now - remote.last_seen_ns > LOST_CONTACT_NS:
                self._remote_ended(remote, remote.ending or "lost contact", None)

    def _answer_join(self, identity: bytes, body: bytes, address: str) -> None:
        try:
            request = json.loads(body)
            if not isinstance(request, dict):
                raise ValueError
        except (ValueError, UnicodeDecodeError, RecursionError):
            self.emit(ev.MalformedTelemetry(now_ns(), "join request is not a JSON object"))
            return
        if "clock" in request:  # NTP-style: the worker times the round trip around our clock
            reply(self.listener.join_sock, identity, {"clock": request["clock"], "ours_ns": now_ns()})
            return
        try:
            joined = _join_request(request)
            joined["address"] = address
            name = self._next_name(RECEIVER, MAX_WORKERS, "workers")
            if self.finished or self.time_up:
                raise UserError("the run has finished sending")
        except UserError as error:
            reply(self.listener.join_sock, identity, {"refused": str(error)})
            return
        self._add_name(name)
        work_ms = self.setup.work_ms if joined["work_ms"] is None else joined["work_ms"]
        spec = dataclasses.replace(
            self._spec(name, 1, work_ms, joined["speed"]), telemetry=self.remote_telemetry, control=self.remote_control,
            curve=Curve("", self.listener.pair.public.decode(), "") if self.listener.pair else None)
        now = now_ns()
        self.roster.clock_slack_ns[name] = joined["uncertainty_ns"]
        self.remotes[name] = RemoteWorker(name, joined["host"], joined["label"], joined["pid"], now,
                                          joined["uncertainty_ns"])
        reply(self.listener.join_sock, identity, {"spec": spec.to_dict()})
        self._started(name, 1, joined["pid"])
        self.emit(ev.RemoteJoined(now_ns(), name, joined["host"], joined["address"], joined["label"],
                                  joined["offset_ns"], joined["uncertainty_ns"]))
        self._last_activity_ns = now

    def _heard_from_remote(self, event: ev.Event, t: int) -> bool:
        """Note that a remote worker spoke; True if ``event`` is the engine's alone (a heartbeat)."""
        name = getattr(event, "name", None) or getattr(event, "worker", None)
        remote = self.remotes.get(name) if isinstance(name, str) else None
        if remote is None:
            return False
        remote.last_seen_ns = t
        if isinstance(event, ev.Heartbeat):
            if event.clock_uncertainty_ns >= 0 and event.clock_estimates > remote.clock_estimates:
                remote.clock_estimates = event.clock_estimates
                self.roster.clock_slack_ns[name] = event.clock_uncertainty_ns
                self.emit(ev.ClockEstimated(t, name, event.clock_uncertainty_ns))
            if event.last and not remote.ended:
                self._remote_ended(remote, remote.ending or "left", 0)
            return True
        return False

    def _remote_ended(self, remote: RemoteWorker, how: str, exit_code: int | None) -> None:
        remote.ended = True
        self.emit(ev.ProcessEnded(now_ns(), remote.name, 1, how, exit_code))
        self._last_activity_ns = now_ns()
        self._next_control_ns = 0


def _join_request(request: dict[str, Any]) -> dict[str, Any]:
    """The facts of a join request, checked: it comes from another machine."""
    join = request.get("join")
    if not isinstance(join, dict):
        raise UserError("not a join request")
    out: dict[str, Any] = {}
    for key in ("host", "label"):
        value = join.get(key, "")
        if not isinstance(value, str) or len(value) > 120:
            raise UserError(f"bad {key} in the join request")
        out[key] = value
    for key in ("pid", "offset_ns", "uncertainty_ns"):
        value = join.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or abs(value) >= 1 << 62:
            raise UserError(f"bad {key} in the join request")
        out[key] = value
    speed = join.get("speed", 1.0)
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0 < speed <= 1e6:
        raise UserError("bad speed in the join request")
    out["speed"] = float(speed)
    work_ms = join.get("work_ms")
    if work_ms is not None:
        work_ms = check_value("work_ms", work_ms, "work_ms in the join request")
    out["work_ms"] = work_ms
    return out


def _json(state: dict[str, Any]) -> bytes:
    return json.dumps(state).encode()

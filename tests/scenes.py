"""Pretend runs for the snapshot tests and the screenshots: fixed events, no processes.

``Script`` plays the engine's part: it feeds a ``Model`` the events a real run would produce,
with pushers dealing messages round robin to the workers they are linked to.  Time moves
only when a script says so, so every picture is the same on every machine.  What a script
cannot fake honestly (queues growing behind a slow worker, a broker's choices) comes from
recordings of real runs in ``rrsim/tui/recordings/``, replayed up to a chosen moment.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib import resources

import numpy as np

from rrsim import events as ev
from rrsim import patterns
from rrsim.model.model import NS, Model, pusher_name
from rrsim.patterns.base import linked_roles
from rrsim.recording.file import Recording, read_recording
from rrsim.recording.player import Player, Timeline
from rrsim.scenario.scenario import TUI_DEFAULTS, load_scenario
from rrsim.scenario.setup import Setup
from rrsim.tui.source import StaticRun

T0_NS = 1_000 * NS
STEP_NS = NS // 10
FIRST_PID = 4101
RUN_DIR = "/tmp/rrsim-demo"
LATENCY_NS = 300_000  # what the pipe adds to the simulated work
KILL_NOTICED_S = 1.0  # how long a pusher deals to a killed worker's pipe: a few messages lost


@dataclass
class Target:
    """A worker as the pushers see it: a pipe that takes messages until its link goes down."""

    name: str
    life: int
    work_ms: float
    speed: float = 1.0
    state: str = "alive"  # alive | paused | dead
    forgotten: bool = False  # the broker took it for dead: it hands it nothing until it hears from it
    unlinked_at_ns: int | None = None  # a killed worker's link goes down a little later
    queued: list[tuple[int, int, int]] | None = None  # (pusher, seq, sent_ns) held while paused


def endpoint(name: str) -> str:
    return f"ipc://{RUN_DIR}/{name}"


class Script:
    """Feeds a model what a run of ``setup`` would do; time moves only in ``run`` and ``wait``.

    Under a pattern with a broker (b1), the pushers send to it and it hands each message on, in
    turn, to a worker that holds none (lru with equal workers): a paused or hung worker keeps the
    one it has and is passed over; ``retry`` plays the broker taking that one back."""

    def __init__(self, setup: Setup = TUI_DEFAULTS) -> None:
        self.setup = setup
        self.pattern = patterns.load(setup.pattern)
        self.brokered = "broker" in self.pattern.ROLES
        self.broker_alive = False
        self.routed = 0
        self.router_counters: Counter[str] = Counter()  # the broker's own counts: retried, given_up
        self.retried_from: Counter[str] = Counter()
        self.model = Model(lost_after_s=setup.lost_after_s)
        self.t_ns = T0_NS
        self.next_pid = FIRST_PID
        self.targets: dict[str, Target] = {}
        self.sent: dict[int, int] = {}  # pusher index -> messages sent
        self.turn: dict[int, int] = {}  # pusher index -> round robin position
        self.owed: dict[int, float] = {}  # pusher index -> fraction of a message due

    def emit(self, event: ev.Event) -> None:
        self.model.apply(event)

    def _link(self, pusher: str, worker: str, up: bool) -> ev.LinkChanged:
        """As the connecting side's socket monitor reports it; under a broker, each has one link,
        with b1."""
        if self.brokered:
            pusher, worker = ("b1", worker) if worker != "b1" else (pusher, "b1")
        a, b = (worker, pusher) if self._binds(pusher) else (pusher, worker)
        return ev.LinkChanged(self.t_ns, a, b, up)

    def _binds(self, name: str) -> bool:
        return name == "telemetry" or name.startswith(self.setup.bind[0]) or name == "b1"

    def _links_to(self, role: str) -> tuple[str, ...]:
        return linked_roles(self.pattern, self.setup.bind, role)

    def _bound(self, name: str) -> dict[str, str]:
        return {name: endpoint(name)} if self._binds(name) else {}

    def _pid(self) -> int:
        self.next_pid += 1
        return self.next_pid - 1

    # ------------------------------------------------------------------ processes
    def start(self) -> Script:
        names = [f"w{i}" for i in range(1, self.setup.workers + 1)] + [pusher_name(i) for i in range(1, self.setup.pushers + 1)]
        endpoints = {name: endpoint(name) for name in ["telemetry", *names] if self._binds(name)}
        self.emit(ev.RunStarted(self.t_ns, self.setup.to_dict(), endpoints, self.pattern.retry_budget_s(self.setup)))
        if self.brokered:
            self._start_broker()
        for name in names[: self.setup.workers]:
            self._start_worker(name, self.setup.work_ms)
        for index in range(1, self.setup.pushers + 1):
            self.add_pusher(index)
        return self

    def _start_worker(self, name: str, work_ms: float, speed: float = 1.0) -> None:
        life = self.targets[name].life + 1 if name in self.targets else 1
        kept = self.targets[name].queued if name in self.targets else None  # a queue kept for this life
        self.emit(ev.ProcessStarted(self.t_ns, name, "worker", life, self._pid(), work_ms, self._bound(name),
                                    "receiver", self._links_to("worker"),
                                    self.pattern.inherits_backlog("worker", life, self.setup),
                                    queue_outlives=self.pattern.queue_outlives("worker", self.setup), speed=speed,
                                    program=self.setup.worker_cmd or ""))
        self.emit(ev.ProcessReady(self.t_ns, name, life))
        self.targets[name] = Target(name, life, work_ms, speed)
        if self.brokered:
            if self.broker_alive:
                self.emit(self._link("b1", name, True))
        else:
            for index in self.sent:
                self.emit(self._link(pusher_name(index), name, True))
        if kept:
            self._deliver(self.targets[name], kept)

    def add_worker(self, speed: float = 1.0) -> str:
        name = f"w{len(self.model.workers) + 1}"
        self._start_worker(name, self.setup.work_ms, speed)
        return name

    def add_pusher(self, index: int | None = None) -> None:
        index = index or len(self.sent) + 1
        name = pusher_name(index)
        self.emit(ev.ProcessStarted(self.t_ns, name, "pusher", 1, self._pid(), endpoints=self._bound(name),
                                    kind="sender", links_to=self._links_to("pusher")))
        self.emit(ev.ProcessReady(self.t_ns, name, 1))
        self.sent[index], self.turn[index], self.owed[index] = 0, 0, 0.0
        if self.brokered:
            if self.broker_alive:
                self.emit(self._link(name, "b1", True))
            return
        for target in self.targets.values():
            if target.state != "dead":
                self.emit(self._link(name, target.name, True))

    def _start_broker(self) -> None:
        bound = {f"b1.{label}": endpoint(f"b1.{label}") for label in ("frontend", "backend")
                 if label == "backend" or self.setup.bind == "broker"}
        self.emit(ev.ProcessStarted(self.t_ns, "b1", "broker", 1, self._pid(), endpoints=bound, kind="router",
                                    links_to=self._links_to("broker"), inherits_backlog=True))
        self.emit(ev.ProcessReady(self.t_ns, "b1", 1))
        self.broker_alive = True

    def kill_broker(self) -> None:
        """SIGKILL b1: its connections go down at once; the pushers block (their DEALERs queue to no one)."""
        self.emit(ev.ProcessEnded(self.t_ns, "b1", 1, "killed", -9))
        self.broker_alive = False
        for name in [*map(pusher_name, self.sent), *self.targets]:
            self.emit(self._link(name, "b1", False))

    def retry(self, held_by: str, to: str, why: str = "silent", missed: int = 3) -> None:
        """b1 takes ``held_by`` for dead and hands what it held to ``to`` (who may hold it in turn)."""
        source, target = self.targets[held_by], self.targets[to]
        held, source.forgotten = list(source.queued or []), True  # it still has them: it may do them yet
        self.emit(ev.PeerSilent(self.t_ns, "b1", held_by, source.life, missed, why, len(held), (to,) if held else ()))
        self.router_counters["retried"] += len(held)
        self.retried_from[held_by] += len(held)
        self.routed += len(held)
        if target.queued is not None:
            target.queued.extend(held)
        elif held:
            self._deliver(target, held)

    def give_up(self, held_by: str, attempts: int) -> None:
        """b1 finds ``held_by`` gone and gives up what it held: that was the message's last attempt."""
        source = self.targets[held_by]
        held, source.queued = source.queued or [], []
        self.emit(ev.PeerSilent(self.t_ns, "b1", held_by, source.life, 0, "gone", 0))
        for index, seq, _sent_ns in held:
            self.emit(ev.GaveUp(self.t_ns, "b1", index, (seq,), attempts, "gone", held_by))
        self.router_counters["given_up"] += len(held)

    def kill(self, name: str, noticed_after_s: float = 0.25) -> None:
        """SIGKILL: the pushers keep dealing to the dead pipe until they notice it is gone, or,
        when their queue outlives it (they connect), keep it for its next life."""
        target = self.targets[name]
        self.emit(ev.ProcessEnded(self.t_ns, name, target.life, "killed", -9))
        kept = self.pattern.queue_outlives("worker", self.setup)
        target.state = "dead"
        if self.brokered:  # what it held is the broker's to take back (``give_up``, ``retry``)
            return
        target.queued = [] if kept else None
        target.unlinked_at_ns = self.t_ns + int(noticed_after_s * NS)

    def revive(self, name: str) -> None:
        self._start_worker(name, self.targets[name].work_ms, self.targets[name].speed)

    def pause(self, name: str) -> None:
        self.emit(ev.WorkerPaused(self.t_ns, name))
        self.targets[name].state, self.targets[name].queued = "paused", []

    def resume(self, name: str) -> None:
        target = self.targets[name]
        self.emit(ev.WorkerResumed(self.t_ns, name))
        queued, target.state, target.queued, target.forgotten = target.queued or [], "alive", None, False
        if queued:
            self._deliver(target, queued)

    def hang(self, name: str) -> None:
        """The process stops answering, not by our doing (no event): what is dealt to it waits."""
        self.targets[name].state, self.targets[name].queued = "paused", []

    def set_work(self, name: str, work_ms: float) -> None:
        self.targets[name].work_ms = work_ms
        self.emit(ev.WorkSet(self.t_ns, name, work_ms))

    # ------------------------------------------------------------------ time
    def run(self, seconds: float) -> Script:
        """Send at the setup's rate for ``seconds``, a tenth of a second at a time."""
        return self._advance(seconds, sending=True)

    def wait(self, seconds: float) -> Script:
        """Let time pass with nothing sent, as after the last message."""
        return self._advance(seconds, sending=False)

    def _advance(self, seconds: float, sending: bool) -> Script:
        for _ in range(round(seconds * NS / STEP_NS)):
            self.t_ns += STEP_NS
            self._unlink_noticed()
            if sending:
                for index in self.sent:
                    self._send(index)
            if self.brokered and self.broker_alive:
                ready = sum(1 for t in self.targets.values() if t.state == "alive" and not t.queued and not t.forgotten)
                self.emit(ev.RouterState(self.t_ns, "b1", 1, 0, ready, self.routed, dict(self.router_counters),
                                         dict(self.retried_from)))
            self.emit(ev.Tick(self.t_ns))
        return self

    def _unlink_noticed(self) -> None:
        for target in self.targets.values():
            if target.unlinked_at_ns is not None and target.unlinked_at_ns <= self.t_ns:
                target.unlinked_at_ns = None
                for index in self.sent:
                    self.emit(self._link(pusher_name(index), target.name, False))

    def _linked(self) -> list[Target]:
        if self.brokered:  # the workers the broker may hand a message: alive, or stuck with none yet
            return ([t for t in self.targets.values() if t.state != "dead" and not t.queued and not t.forgotten]
                    if self.broker_alive else [])
        return [t for t in self.targets.values()
                if t.state != "dead" or t.unlinked_at_ns is not None or t.queued is not None]

    def _send(self, index: int) -> None:
        limit = self.setup.messages or None
        self.owed[index] += self.setup.rate * STEP_NS / NS
        batches: dict[str, list[tuple[int, int, int]]] = {}
        linked = self._linked()
        while self.owed[index] >= 1 and linked and (limit is None or self.sent[index] < limit):
            self.owed[index] -= 1
            target = linked[self.turn[index] % len(linked)]
            self.turn[index] += 1
            message = (index, self.sent[index], self.t_ns)
            self.sent[index] += 1
            self.routed += self.brokered
            if target.queued is not None:  # paused, or dead with its queue kept
                target.queued.append(message)
                if self.brokered:
                    linked = self._linked()  # it holds one: the broker passes it over
            elif target.state == "alive":
                batches.setdefault(target.name, []).append(message)
            # else: dealt to a dead pipe, never delivered
        done = limit is not None and self.sent[index] >= limit
        peers = int(self.broker_alive) if self.brokered else len(linked)
        self.emit(ev.SentProgress(self.t_ns, pusher_name(index), self.sent[index], self.brokered and not peers, peers,
                                  done))
        for name, messages in batches.items():
            self._deliver(self.targets[name], messages)

    def _deliver(self, target: Target, messages: list[tuple[int, int, int]]) -> None:
        pushers, seqs, sent_ns = (np.array(column, dtype=np.int64) for column in zip(*messages, strict=True))
        recv_ns = np.maximum(sent_ns, self.t_ns) + LATENCY_NS + int(target.work_ms / target.speed * 1e6)
        self.emit(ev.Deliveries(self.t_ns, target.name, target.life, pushers, seqs, sent_ns, recv_ns))

    def drain(self) -> Script:
        self.emit(ev.Drained(self.t_ns))
        return self


# ---------------------------------------------------------------------- the scenes
@dataclass(frozen=True)
class Scene:
    """A named pretend run: what the app is given in a test or a screenshot."""

    scenario: str
    model: Model
    finished: bool = False

    def source(self) -> StaticRun:
        return StaticRun(self.model, self.finished)


def start_scene() -> Scene:
    """`rrsim` a few seconds in: three workers taking turns."""
    return Scene("interactive", Script().start().run(6.0).model)


def kill_scene() -> Scene:
    """w2 killed; what was dealt to it before the pusher noticed is lost two seconds later."""
    script = Script().start().run(4.0)
    script.kill("w2", noticed_after_s=KILL_NOTICED_S)
    return Scene("interactive", script.run(4.0).model)


def revive_scene() -> Scene:
    """After the kill, w2 comes back with a new pid and life 2, and takes turns again."""
    script = Script().start().run(4.0)
    script.kill("w2", noticed_after_s=KILL_NOTICED_S)
    script.run(3.0)
    script.revive("w2")
    return Scene("interactive", script.run(3.0).model)


def paused_scene() -> Scene:
    """w3 paused: the pusher still deals it every third message, which wait in flight."""
    script = Script().start().run(4.0)
    script.pause("w3")
    return Scene("interactive", script.run(1.5).model)


def drained_scene() -> Scene:
    """The seed scenario played out: w1 killed mid-run, revived, the run drained with losses."""
    setup = load_scenario("seed").setup
    script = Script(setup).start().run(1.4)
    script.kill("w1", noticed_after_s=0.5)
    script.run(1.1)
    script.revive("w1")
    script.run(2.0).wait(0.3).drain()
    return Scene("seed", script.model, finished=True)


def dead_queue_scene() -> Scene:
    """The workers bind: w2 killed, the pusher keeps what it deals w2 for its next life."""
    script = Script(replace(TUI_DEFAULTS, bind="worker")).start().run(4.0)
    script.kill("w2", noticed_after_s=KILL_NOTICED_S)
    return Scene("interactive", script.run(4.0).model)


def busy_scene() -> Scene:
    """Two pushers and eight workers, one of them slowed down and one added later, at half speed."""
    script = Script(replace(TUI_DEFAULTS, pushers=2, workers=7, rate=40.0)).start().run(3.0)
    script.set_work("w3", 40.0)
    script.add_worker(speed=0.5)
    return Scene("interactive", script.run(3.0).model)


RELIABLE = replace(TUI_DEFAULTS, pattern="reliable")
VERDICT_S = RELIABLE.liveness * RELIABLE.heartbeat_ms / 1000  # a silent peer is taken for dead after this


def many_workers_scene() -> Scene:
    """128 workers, w5 killed and revived: more lives than the map has rows for."""
    script = Script(replace(TUI_DEFAULTS, workers=128, rate=640.0)).start().run(0.6)
    script.kill("w5", noticed_after_s=0.2)
    script.run(0.6)
    script.revive("w5")
    return Scene("interactive", script.run(0.6).model)


def silent_scene() -> Scene:
    """reliable: w2 hangs holding a message; when it has missed three heartbeats the broker takes it
    for dead (`silent`: its process state is not known) and hands that message to w3."""
    script = Script(RELIABLE).start().run(4.0)
    script.hang("w2")
    script.run(VERDICT_S)
    script.retry("w2", "w3")
    return Scene("interactive", script.run(1.0).model)


def waiting_scene() -> Scene:
    """reliable: the broker killed; when they have missed three of its heartbeats the workers close
    their sockets and wait a second (ppworker's back-off) before they connect again."""
    script = Script(RELIABLE).start().run(3.0)
    script.kill_broker()
    script.run(VERDICT_S)
    for name, target in script.targets.items():
        script.emit(ev.Waiting(script.t_ns, name, target.life, True, 1.0))
    return Scene("interactive", script.run(0.5).model)


def given_up_scene() -> Scene:
    """reliable with one retry, played out: w4 paused and taken for dead, its message done by w1 and,
    once w4 is resumed, by w4 too (a duplicate); w2 and w3 hang, their messages go to w1 and w4, and
    w4 is killed holding its one: that was its last attempt, given up and counted lost."""
    script = Script(replace(RELIABLE, workers=4, retries=1)).start().run(3.0)
    script.pause("w4")
    script.run(VERDICT_S)
    script.retry("w4", "w1")
    script.run(0.5)
    script.resume("w4")
    script.run(1.0)
    script.hang("w2")
    script.hang("w3")
    script.run(VERDICT_S)
    script.retry("w2", "w1")
    script.hang("w4")  # it is handed w3's message and killed before it is done
    script.retry("w3", "w4")
    script.kill("w4")
    script.give_up("w4", attempts=2)
    script.run(1.0).wait(0.5).drain()
    return Scene("interactive", script.model, finished=True)


def recorded(name: str, after: Callable[[ev.Event], bool] | None = None, then_s: float = 0.0) -> Model:
    """A model fed a recording of a real run (made as rrsim/tui/recordings/README.md says) up to ``then_s``
    seconds after the first event that ``after`` picks, or to its end.

    Counted from an event of the run rather than from its start: how long the processes took to
    start depends on how busy the machine was when it was recorded.
    """
    events = recording(name).events
    timeline = Timeline(events).load_all()
    player = Player(timeline)
    if after is None:
        player.go_to(timeline.end)
    else:
        at_ns = next(event.t_ns for event in events if after(event))
        player.seek_s((at_ns - timeline.started_ns) / NS + then_s)
    return player.model


def first_sent(event: ev.Event) -> bool:
    return isinstance(event, ev.SentProgress) and event.sent > 0


def broker_ended(event: ev.Event) -> bool:
    return isinstance(event, ev.ProcessEnded) and event.name == "b1"


def recording(name: str) -> Recording:
    with resources.as_file(resources.files("rrsim.tui") / "recordings" / f"{name}.jsonl.gz") as path:
        return read_recording(path)


def busy_worker_push_pull_scene() -> Scene:
    """busy-worker under push-pull, recorded: w1 (8x slower) gets every fourth message, its queue grows."""
    return Scene("busy-worker", recorded("busy-worker-push-pull", first_sent, 1.2))


def busy_worker_lb_broker_scene() -> Scene:
    """busy-worker under lb-broker, recorded: w1 gets what it can do, nothing waits long."""
    return Scene("busy-worker", recorded("busy-worker-lb-broker", first_sent, 1.2))


def broker_killed_scene() -> Scene:
    """The broker killed mid-run, recorded: the workers wait for it."""
    return Scene("broker-kill", recorded("broker-kill", broker_ended, 0.4))


def broker_revived_scene() -> Scene:
    """The broker's second life: the workers have registered again, messages flow."""
    return Scene("broker-kill", recorded("broker-kill"), finished=True)


SCENES: dict[str, Callable[[], Scene]] = {
    "start": start_scene,
    "kill": kill_scene,
    "revive": revive_scene,
    "paused": paused_scene,
    "drained": drained_scene,
    "dead-queue": dead_queue_scene,
    "busy": busy_scene,
    "many-workers": many_workers_scene,
    "silent": silent_scene,
    "waiting": waiting_scene,
    "given-up": given_up_scene,
    "busy-worker-push-pull": busy_worker_push_pull_scene,
    "busy-worker-lb-broker": busy_worker_lb_broker_scene,
    "broker-killed": broker_killed_scene,
    "broker-revived": broker_revived_scene,
}

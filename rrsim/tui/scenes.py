"""Pretend runs for snapshot tests and screenshots: fixed events, no processes.

``Script`` plays the engine's part: it feeds a ``Model`` the events a real run would produce,
with pushers dealing messages round robin to the workers they are linked to.  Time moves
only when a script says so, so every picture is the same on every machine.  What a script
cannot fake honestly (queues growing behind a slow worker, a broker's choices) comes from
recordings of real runs in ``recordings/``, replayed up to a chosen moment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib import resources

import numpy as np

from rrsim import events as ev
from rrsim.cli import TUI_DEFAULTS
from rrsim.config import Setup, load_scenario
from rrsim.model import NS, Model, pusher_name
from rrsim.recording import Recording, read_recording
from rrsim.replay import Player, Timeline
from rrsim.patterns import push_pull
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
    unlinked_at_ns: int | None = None  # a killed worker's link goes down a little later
    queued: list[tuple[int, int, int]] | None = None  # (pusher, seq, sent_ns) held while paused


def endpoint(name: str) -> str:
    return f"ipc://{RUN_DIR}/{name}"


class Script:
    """Feeds a model what a run of ``setup`` would do; time moves only in ``run`` and ``wait``."""

    def __init__(self, setup: Setup = TUI_DEFAULTS) -> None:
        self.setup = setup
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
        """As the connecting side's socket monitor reports it."""
        a, b = (worker, pusher) if self._binds(pusher) else (pusher, worker)
        return ev.LinkChanged(self.t_ns, a, b, up)

    def _binds(self, name: str) -> bool:
        return name == "telemetry" or name.startswith(self.setup.bind[0])

    def _bound(self, name: str) -> dict[str, str]:
        return {name: endpoint(name)} if self._binds(name) else {}

    def _pid(self) -> int:
        self.next_pid += 1
        return self.next_pid - 1

    # ------------------------------------------------------------------ processes
    def start(self) -> Script:
        names = [f"w{i}" for i in range(1, self.setup.workers + 1)] + [pusher_name(i) for i in range(1, self.setup.pushers + 1)]
        endpoints = {name: endpoint(name) for name in ["telemetry", *names] if self._binds(name)}
        self.emit(ev.RunStarted(self.t_ns, self.setup.to_dict(), endpoints))
        for name in names[: self.setup.workers]:
            self._start_worker(name, self.setup.work_ms)
        for index in range(1, self.setup.pushers + 1):
            self.add_pusher(index)
        return self

    def _start_worker(self, name: str, work_ms: float, speed: float = 1.0) -> None:
        life = self.targets[name].life + 1 if name in self.targets else 1
        kept = self.targets[name].queued if name in self.targets else None  # a queue kept for this life
        self.emit(ev.ProcessStarted(self.t_ns, name, "worker", life, self._pid(), work_ms, self._bound(name),
                                    "receiver", ("pusher",), push_pull.inherits_backlog("worker", life, self.setup),
                                    queue_outlives=push_pull.queue_outlives("worker", self.setup), speed=speed))
        self.emit(ev.ProcessReady(self.t_ns, name, life))
        self.targets[name] = Target(name, life, work_ms, speed)
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
                                    kind="sender", links_to=("worker",)))
        self.emit(ev.ProcessReady(self.t_ns, name, 1))
        self.sent[index], self.turn[index], self.owed[index] = 0, 0, 0.0
        for target in self.targets.values():
            if target.state != "dead":
                self.emit(self._link(name, target.name, True))

    def kill(self, name: str, noticed_after_s: float = 0.25) -> None:
        """SIGKILL: the pushers keep dealing to the dead pipe until they notice it is gone, or,
        when their queue outlives it (they connect), keep it for its next life."""
        target = self.targets[name]
        self.emit(ev.ProcessEnded(self.t_ns, name, target.life, "killed", -9))
        kept = push_pull.queue_outlives("worker", self.setup)
        target.state, target.queued = "dead", [] if kept else None
        target.unlinked_at_ns = self.t_ns + int(noticed_after_s * NS)

    def revive(self, name: str) -> None:
        self._start_worker(name, self.targets[name].work_ms, self.targets[name].speed)

    def pause(self, name: str) -> None:
        self.emit(ev.WorkerPaused(self.t_ns, name))
        self.targets[name].state, self.targets[name].queued = "paused", []

    def resume(self, name: str) -> None:
        target = self.targets[name]
        self.emit(ev.WorkerResumed(self.t_ns, name))
        queued, target.state, target.queued = target.queued or [], "alive", None
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
            self.emit(ev.Tick(self.t_ns))
        return self

    def _unlink_noticed(self) -> None:
        for target in self.targets.values():
            if target.unlinked_at_ns is not None and target.unlinked_at_ns <= self.t_ns:
                target.unlinked_at_ns = None
                for index in self.sent:
                    self.emit(self._link(pusher_name(index), target.name, False))

    def _linked(self) -> list[Target]:
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
            if target.queued is not None:  # paused, or dead with its queue kept
                target.queued.append(message)
            elif target.state == "alive":
                batches.setdefault(target.name, []).append(message)
            # else: dealt to a dead pipe, never delivered
        done = limit is not None and self.sent[index] >= limit
        self.emit(ev.SentProgress(self.t_ns, pusher_name(index), self.sent[index], False, len(linked), done))
        for name, messages in batches.items():
            self._deliver(self.targets[name], messages)

    def _deliver(self, target: Target, messages: list[tuple[int, int, int]]) -> None:
        pushers, seqs, sent_ns = (np.array(column, dtype=np.int64) for column in zip(*messages))
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


def silent_scene() -> Scene:
    """reliable: w2 hangs, and the broker's heartbeats declare it dead (`silent`: its process state is
    not known); its message went to w3, which also did one message twice; the totals count retries."""
    script = Script(replace(TUI_DEFAULTS, pattern="reliable")).start().run(4.0)
    script.hang("w2")
    script.run(0.4)
    script.emit(ev.PeerSilent(script.t_ns, "b1", "w2", 1, 3, "silent", 1, ("w3",)))
    script.emit(ev.SentProgress(script.t_ns, "p1", script.sent[1], False, 3, False, counters={"retried": 1, "kept": 4}))
    w3 = script.targets["w3"]
    script._deliver(w3, [(1, 2, script.t_ns - NS)])  # done before by w3, in its first turn: a duplicate
    return Scene("interactive", script.run(1.0).model)


def recorded(name: str, until_s: float | None = None) -> Model:
    """A model fed a recording of a real run (``rrsim run ... --events``, its run directory
    renamed /tmp/rrsim-demo) up to ``until_s`` seconds after it started, or to its end."""
    player = Player(Timeline(recording(name).events).load_all())
    if until_s is None:
        player.go_to(player.timeline.end)
    else:
        player.seek_s(until_s)
    return player.model


def recording(name: str) -> Recording:
    with resources.as_file(resources.files("rrsim.tui") / "recordings" / f"{name}.jsonl.gz") as path:
        return read_recording(path)


def busy_worker_push_pull_scene() -> Scene:
    """busy-worker under push-pull, recorded: w1 (8x slower) gets every fourth message, its queue grows."""
    return Scene("busy-worker", recorded("busy-worker-push-pull", 1.9))


def busy_worker_lb_broker_scene() -> Scene:
    """busy-worker under lb-broker, recorded: w1 gets what it can do, nothing waits long."""
    return Scene("busy-worker", recorded("busy-worker-lb-broker", 1.9))


def broker_killed_scene() -> Scene:
    """The broker killed mid-run, recorded: the workers wait for it."""
    return Scene("broker-kill", recorded("broker-kill", 2.3))


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
    "silent": silent_scene,
    "busy-worker-push-pull": busy_worker_push_pull_scene,
    "busy-worker-lb-broker": busy_worker_lb_broker_scene,
    "broker-killed": broker_killed_scene,
    "broker-revived": broker_revived_scene,
}

"""The TUI over real processes: keys reach the engine, and the tiles show what the processes did.

Every wait is for a condition with a deadline (the machine may be loaded), never a bare sleep.
The last tests start the real ``rrsim`` command in a pseudo-terminal and end it with q, ctrl+c
and SIGTERM: nothing may be left behind, neither a child process nor the run directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import shutil
import time
from collections.abc import AsyncIterator, Callable

import pytest
from textual.pilot import Pilot

from rrsim.engine.engine import Engine
from rrsim.scenario.scenario import TUI_DEFAULTS
from rrsim.tui.app import RrsimApp
from rrsim.tui.frames import WorkerFrame
from rrsim.tui.source import LiveRun
from rrsim.tui.widgets.worker_tile import WorkerTile

pytestmark = pytest.mark.system  # every test here starts processes or opens sockets

DEADLINE_S = 30.0  # generous: a condition usually holds within a second, but the machine may be busy
# Faster than the interactive default so that every worker gets messages within a second.
LIVE = dataclasses.replace(TUI_DEFAULTS, rate=40.0, work_ms=0.0)


@dataclasses.dataclass
class Session:
    app: RrsimApp
    pilot: Pilot
    run: LiveRun

    async def press(self, *keys: str) -> None:
        # Not pilot.press: it waits for the whole process to go idle after each key, and with
        # an engine thread and busy workers that takes seconds.  A key event is all a user sends.
        for key in keys:
            self.app.simulate_key(key)
            await self.pilot.pause(0.05)

    def tile(self, name: str) -> WorkerFrame | None:
        """What the worker's tile shows now (None until the tile exists)."""
        tiles = self.app.screen.query(f"#tile-{name}")
        return tiles.first(WorkerTile).frame if tiles else None

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while not condition():
            assert time.monotonic() < deadline, f"timed out after {DEADLINE_S} s waiting for {what}"
            await self.pilot.pause(0.05)

    async def until_tile(self, name: str, condition: Callable[[WorkerFrame], bool], what: str) -> WorkerFrame:
        await self.until(lambda: (frame := self.tile(name)) is not None and condition(frame), f"{name}: {what}")
        frame = self.tile(name)
        assert frame is not None
        return frame

    async def receiving(self, name: str, more: int = 5) -> WorkerFrame:
        """Wait until the tile shows ``more`` messages beyond what it shows now."""
        frame = self.tile(name)
        start = frame.received if frame else 0
        return await self.until_tile(name, lambda f: f.received >= start + more, f"{more} more messages")


@contextlib.asynccontextmanager
async def session(setup=LIVE) -> AsyncIterator[Session]:
    run = LiveRun(Engine(setup))
    run.begin()
    try:
        app = RrsimApp(run)
        async with app.run_test(size=(120, 36)) as pilot:
            live = Session(app, pilot, run)
            for n in range(1, setup.workers + 1):
                await live.until_tile(f"w{n}", lambda f: f.state == "alive" and f.received > 0, "alive and receiving")
            yield live
    finally:
        run.close()


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as status:
            return "State:\tZ" not in status.read()
    except OSError:  # gone; ProcessLookupError if it was reaped between the open and the read
        return False


def test_a_adds_a_worker_that_receives_messages() -> None:
    async def scenario() -> None:
        async with session() as live:
            await live.press("a")
            frame = await live.until_tile("w4", lambda f: f.state == "alive", "started and connected")
            assert frame.pid and alive(frame.pid)
            await live.receiving("w4")

    asyncio.run(scenario())


def test_k_kills_the_selected_worker_and_r_starts_a_new_process_that_receives() -> None:
    async def scenario() -> None:
        async with session() as live:
            await live.press("2")
            before = live.tile("w2")
            assert before is not None and before.pid is not None
            await live.press("k")
            await live.until_tile("w2", lambda f: f.state == "killed", "says killed")
            assert not alive(before.pid)
            # Its last report may land just after its end; after that, nothing more for w2.
            await live.receiving("w1", 5)
            dead = live.tile("w2").received
            await live.receiving("w1", 10)
            assert live.tile("w2").received == dead

            await live.press("r")
            after = await live.until_tile("w2", lambda f: f.life == 2 and f.state == "alive", "life 2, alive")
            assert after.pid != before.pid and after.pid is not None and alive(after.pid)
            await live.receiving("w2")

    asyncio.run(scenario())


def test_p_stops_delivery_to_the_selected_worker_until_p_again() -> None:
    async def scenario() -> None:
        async with session() as live:
            await live.press("3", "p")
            await live.until_tile("w3", lambda f: f.state == "paused", "says paused")
            # What was on its way when it froze may still land in the next report; then nothing.
            await live.receiving("w1", 5)
            frozen = live.tile("w3").received
            await live.receiving("w1", 10)
            assert live.tile("w3").received == frozen

            await live.press("p")
            await live.until_tile("w3", lambda f: f.state == "alive", "alive again")
            await live.receiving("w3")

    asyncio.run(scenario())


def test_a_key_that_does_not_apply_is_a_notification_not_an_error() -> None:
    async def scenario() -> None:
        async with session() as live:
            await live.press("r")  # w1 is alive: nothing to revive
            await live.until(lambda: any("still running" in n.message for n in live.app._notifications),
                             "a notification")
            assert live.tile("w1").state == "alive"

    asyncio.run(scenario())


def test_a_revive_after_the_run_directory_was_removed_is_a_notification_and_the_run_goes_on() -> None:
    async def scenario() -> None:
        async with session() as live:
            await live.press("2", "k")
            await live.until_tile("w2", lambda f: f.state == "killed", "says killed")
            shutil.rmtree(live.run.engine.run_dir)  # a /tmp cleaner
            await live.press("r")
            await live.until(lambda: any("w2" in n.message and "cannot start" in n.message
                                         for n in live.app._notifications), "a notification")
            assert live.run.failure is None
            assert live.tile("w2").state == "killed"
            await live.receiving("w1")

    asyncio.run(scenario())


def test_sixteen_workers_flat_out_still_answer_keys() -> None:
    async def scenario() -> None:
        async with session(dataclasses.replace(TUI_DEFAULTS, workers=16, rate=0.0)) as live:
            await live.press("6", "k")
            await live.until_tile("w6", lambda f: f.state == "killed", "says killed")
            await live.press("r")
            await live.receiving("w6")
            assert live.tile("w6").life == 2

    asyncio.run(scenario())


def test_the_broker_has_a_tile_that_k_kills_and_r_revives() -> None:
    async def scenario() -> None:
        async with session(dataclasses.replace(LIVE, pattern="lb-broker")) as live:
            broker = await live.until_tile("b1", lambda f: f.router and f.state == "alive" and f.received > 0,
                                           "a broker routing")
            assert broker.pid is not None and alive(broker.pid)
            await live.until(lambda: live.tile("b1").ready > 0, "workers ready at the broker")
            await live.press("k")  # the broker's tile comes first, and is selected
            await live.until_tile("b1", lambda f: f.state == "killed" and f.ready == 0, "says killed")
            assert not alive(broker.pid)
            await live.press("r")
            await live.until_tile("b1", lambda f: f.life == 2 and f.state == "alive", "life 2, alive")
            # The workers registered with the new broker: messages flow to them again.
            for name in ("w1", "w2", "w3"):
                await live.receiving(name, 3)

    asyncio.run(scenario())


# The real command in a terminal (q, ctrl+c, signals, SIGKILL, a UI bug): tests/test_tui_exits.py.


def test_s_cycles_the_live_brokers_strategy_and_the_log_says_so() -> None:
    async def scenario() -> None:
        async with session(dataclasses.replace(LIVE, pattern="lb-broker")) as live:
            await live.press("s")
            await live.until(lambda: live.run.model.strategy == "round-robin", "the strategy to change")
            await live.until(lambda: any(e.what == "strategy-set" for e in list(live.run.model.log)), "a log line")
            # The broker deals on: every worker still receives.
            for name in ("w1", "w2", "w3"):
                await live.receiving(name, 3)

    asyncio.run(scenario())


def test_s_without_a_broker_says_why() -> None:
    async def scenario() -> None:
        async with session() as live:
            await live.press("s")
            await live.until(lambda: any("No broker" in n.message for n in live.app._notifications), "a notification")

    asyncio.run(scenario())

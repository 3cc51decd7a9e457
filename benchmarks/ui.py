"""3. UI responsiveness under load: the Textual app, headless, over a live engine at rate 0.

The app runs with ``App.run_test()`` (no terminal) over a ``LiveRun``, the engine on its own
thread as in ``rrsim`` itself.  Once every worker is connected and messages flow:

- timer lag: a 50 ms interval timer in the app's event loop; each tick's lag is how much
  later than 50 ms after the previous tick it ran;
- kill: from the moment the ``k`` key event is posted to the app (the worker selected with its
  number key beforehand) until that worker's tile shows ``killed``, capped at ``KILL_CAP_S``.
  w1, w2, ... are killed in turn and not revived: the pusher still sends as fast as it can to
  the rest, and no kill waits for the engine to settle the previous one.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from textual import events

from benchmarks.settings import Settings
from benchmarks.stats import summary
from rrsim.engine.engine import Engine
from rrsim.scenario.setup import Setup

TIMER_S = 0.05
TARGET_TIMER_LAG_P99_MS = 50.0
TARGET_KILL_P95_MS = 100.0
SCREEN = (160, 50)
CONNECT_TIMEOUT_S = 60.0
KILL_CAP_S = 2.0  # a kill not shown by then counts as 2000 ms (and is counted as not shown)
SELECT_TIMEOUT_S = 10.0
POLL_S = 0.002  # how often the benchmark looks at the tile after a key press
BETWEEN_KILLS_S = 0.3


class TimerLag:
    """Lags of an interval timer's ticks, in milliseconds."""

    def __init__(self) -> None:
        self.last: float | None = None
        self.lags_ms: list[float] = []
        self.recording = False

    def tick(self) -> None:
        now = time.monotonic()
        if self.last is not None and self.recording:
            self.lags_ms.append(max(0.0, (now - self.last - TIMER_S) * 1000))
        self.last = now


async def _measure(setup: Setup, seconds: float, kills: int) -> dict[str, Any]:
    from rrsim.tui.app import RrsimApp  # the TUI is optional for the other benchmarks
    from rrsim.tui.source import LiveRun
    from rrsim.tui.widgets.worker_tile import WorkerTile

    run = LiveRun(Engine(setup))
    kills_ms: list[float] = []
    censored = 0
    lag = TimerLag()
    try:
        run.begin()
        app = RrsimApp(run, "benchmark")
        async with app.run_test(size=SCREEN) as pilot:
            await _wait(lambda: _delivering(run), CONNECT_TIMEOUT_S, "workers connecting")
            app.set_interval(TIMER_S, lag.tick)
            lag.recording = True
            await asyncio.sleep(seconds)
            screen = app.screen
            for number in range(1, kills + 1):  # keys 1-9 select w1-w9; each is killed once
                name = f"w{number}"
                _press(app, str(number))
                await _wait(lambda name=name: getattr(screen, "selected", None) == name, SELECT_TIMEOUT_S, f"{name} selected")
                pressed = time.monotonic()
                _press(app, "k")
                # Looked up each time: with many workers the grid mounts the tiles it shows, and may
                # mount a new one for the same worker as the view moves.
                shown = await _wait(lambda name=name: any(tile.frame is not None and tile.frame.state == "killed"
                                                          for tile in screen.query(f"#tile-{name}").results(WorkerTile)),
                                    KILL_CAP_S, f"{name} shown killed", required=False)
                kills_ms.append((time.monotonic() - pressed) * 1000 if shown else KILL_CAP_S * 1000)
                censored += not shown
                await asyncio.sleep(BETWEEN_KILLS_S)
            lag.recording = False
            await pilot.press("q")
    finally:
        run.close()
    if run.failure is not None:
        raise run.failure
    timer = summary(lag.lags_ms, 2)
    kill = summary(kills_ms, 2)
    totals = run.model.totals()
    rate = f"{setup.rate:g}/s each" if setup.rate else "rate 0"
    return {
        "setup": f"ipc, {setup.workers} workers, {setup.pushers} pusher(s) at {rate}; app headless at {SCREEN[0]}x{SCREEN[1]}",
        # Exact: every message sent is delivered, in flight or lost (to the killed workers) when the view closes.
        "ledger": {"sent": totals.sent, "delivered": totals.delivered, "in_flight": totals.in_flight, "lost": totals.lost,
                   "exact": totals.sent == totals.delivered + totals.in_flight + totals.lost + totals.strayed},
        "timer_lag_ms": {**timer, "target": f"p99 <= {TARGET_TIMER_LAG_P99_MS:g}",
                         "met": bool(lag.lags_ms) and timer["p99"] <= TARGET_TIMER_LAG_P99_MS},
        "kill_key_to_tile_ms": {**kill, "target": f"p95 <= {TARGET_KILL_P95_MS:g}",
                                "met": bool(kills_ms) and kill["p95"] <= TARGET_KILL_P95_MS,
                                "not_shown_within_cap": censored, "cap_ms": KILL_CAP_S * 1000},
    }


def _press(app: Any, key: str) -> None:
    """Send a key as a terminal would, without ``Pilot.press``: that waits until the whole process
    is idle, which with the engine's thread busy in the same process takes a second every time."""
    app.post_message(events.Key(key, key))


def _delivering(run: Any) -> bool:
    with run.lock:
        model = run.model
        workers = list(model.workers.values())
        return bool(workers) and all(w.state == "alive" for w in workers) and model.ledger.delivered_unique > 0


async def _wait(done: Any, timeout_s: float, what: str, required: bool = True) -> bool:
    """Poll ``done()`` until it holds (True) or ``timeout_s`` passes (False, or an error if ``required``)."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            if required:
                raise TimeoutError(f"UI benchmark: {what}: not within {timeout_s:g} s")
            return False
        await asyncio.sleep(POLL_S)
    return True


def run(settings: Settings) -> dict[str, Any]:
    result = asyncio.run(_measure(Setup(workers=settings.ui_workers, rate=0.0, messages=0, wait_ready=True),
                                  settings.ui_seconds, settings.ui_kills))
    if settings.ui_scale_workers:
        result["at_scale"] = asyncio.run(_measure(
            Setup(workers=settings.ui_scale_workers, pushers=settings.ui_scale_pushers, rate=settings.ui_scale_rate,
                  messages=0, wait_ready=True), settings.ui_scale_seconds, settings.ui_kills))
    return result

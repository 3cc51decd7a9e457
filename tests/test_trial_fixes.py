"""What a new user found wrong in the live view (issue 24), each checked as they saw it: the app
over fixed scenes and a fixed recording, keys pressed, and what the screen then shows."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from rrsim import events as ev
from rrsim import patterns
from rrsim.model.model import Totals
from rrsim.recording.player import Timeline
from rrsim.scenario.scenario import TUI_DEFAULTS
from rrsim.tui.app import RrsimApp
from rrsim.tui.frames import TotalsFrame, read_frame
from rrsim.tui.run_screen import RunScreen
from rrsim.tui.source import ReplayRun, StaticRun
from rrsim.tui.widgets.event_log import EventLog
from rrsim.tui.widgets.totals_bar import TotalsBar
from rrsim.tui.widgets.worker_grid import WorkerGrid
from tests.scenes import SCENES, Script, recording, start_scene

NARROW = (80, 24)
BROKER = next(name for name in patterns.names() if name in patterns.with_router())


def run_app(app: RrsimApp, size: tuple[int, int], steps: Callable[[Pilot], Awaitable[Any]],
            notifications: bool = False) -> Any:
    async def go() -> Any:
        async with app.run_test(size=size, notifications=notifications) as pilot:
            await pilot.pause()
            return await steps(pilot)

    return asyncio.run(go())


def screen_lines(app: RrsimApp) -> list[str]:
    """The screen's text as the terminal shows it, line by line."""
    strips = app.screen._compositor.render_strips()
    return ["".join(segment.text for segment in strip) for strip in strips]


def worker_model(workers: int = 3, pattern: str = "push-pull", run_s: float = 2.0, **setup: Any) -> Script:
    return Script(replace(TUI_DEFAULTS, pattern=pattern, workers=workers, **setup)).start().run(run_s)


# ---------------------------------------------------------------------- item 1
def test_digit_keys_pick_the_worker_of_that_number_when_a_broker_tile_comes_first() -> None:
    source = StaticRun(worker_model(pattern=BROKER).model)

    async def keys(pilot: Pilot) -> None:
        await pilot.press("1", "k", "2", "t", "3", "p")
        await pilot.pause()

    run_app(RrsimApp(source), NARROW, keys)
    assert source.requests == [("kill", ("w1",)), ("stop", ("w2",)), ("pause", ("w3",))]


# ---------------------------------------------------------------------- item 2
def test_after_any_seek_of_a_replay_every_tile_shows_the_replays_time() -> None:
    run = ReplayRun(recording("broker-kill"), Timeline(recording("broker-kill").events).load_all())
    app = RrsimApp(run, "broker-kill")
    seen: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    async def seeks(pilot: Pilot) -> None:
        for keys in (["G"], ["g"], ["G"], ["j", *"2.5", "enter"], ["n"], ["g"]):
            await pilot.press(*keys)
            await pilot.pause()
            with run.lock:
                expected = {w.name: w for w in read_frame(run.model, "x", run.finished, run.replay()).workers}
            shown = {name: tile.frame for name, tile in app.screen.query_one(WorkerGrid).tiles.items()}
            seen.append(("".join(keys), shown, expected))

    run_app(app, (120, 34), seeks)
    for keys, shown, expected in seen:
        assert shown == expected, keys


# ---------------------------------------------------------------------- item 3
JOIN = ("rrsim worker --join tcp://127.0.0.1:40123 "
        "--server-key='rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7'")


def squeezed(text: str) -> str:
    return "".join(text.split())


def listening_scene(listen: str) -> StaticRun:
    script = Script(replace(TUI_DEFAULTS, transport="tcp", listen=listen)).start()
    script.emit(ev.Listening(script.t_ns, "tcp://127.0.0.1:40123", JOIN, True))
    script.run(2.0)
    return StaticRun(script.model)


def join_seen(width: int) -> tuple[list[str], str, str, list[str], str]:
    """The screen, the log, what c shows, the screen then, and the clipboard, at ``width`` columns."""
    app = RrsimApp(listening_scene("tcp://127.0.0.1:40123"))

    async def look(pilot: Pilot) -> tuple[list[str], str, str, list[str], str]:
        on_screen = screen_lines(app)
        log = app.screen.query_one(EventLog).render().plain
        await pilot.press("c")
        await pilot.pause()
        shown = app.screen.query_one("#join-line").render().plain
        return on_screen, log, shown, screen_lines(app), app.clipboard

    return run_app(app, (width, 30), look)


def test_the_join_line_is_whole_at_every_width_in_the_header_a_key_and_the_log() -> None:
    for width in (80, 120):
        on_screen, log, shown, in_full, clipboard = join_seen(width)
        # The header's line wraps (between words, or within the key): its lines joined up hold it whole.
        assert squeezed(JOIN) in squeezed("".join(line.strip() for line in on_screen)), width
        assert squeezed(JOIN) in squeezed(log), width
        assert shown == JOIN and clipboard == JOIN, width  # c: the line alone, and copied
        assert any("this machine" in line for line in on_screen)  # loopback: only this machine can join
        assert not any("another machine" in line for line in on_screen + in_full)


def test_c_says_why_when_the_run_does_not_listen() -> None:
    app = RrsimApp(start_scene().source())

    async def press(pilot: Pilot) -> list[str]:
        await pilot.press("c")
        await pilot.pause()
        return [notification.message for notification in app._notifications]

    assert any("does not listen" in message for message in run_app(app, NARROW, press))


# ---------------------------------------------------------------------- item 8
TIME = re.compile(r"^\s*\d+\.\d ")


def test_at_80x24_the_log_shows_its_top_entry_from_its_start() -> None:
    app = RrsimApp(start_scene().source())

    async def look(pilot: Pilot) -> list[str]:
        return app.screen.query_one(EventLog).render().plain.splitlines()

    lines = run_app(app, NARROW, look)
    assert lines and TIME.match(lines[0]), lines


class AddingRun(StaticRun):
    """A static run whose engine starts the worker it is asked to add."""

    def __init__(self, script: Script) -> None:
        super().__init__(script.model)
        self.script = script

    def request(self, command: str, *args: Any) -> Future:
        super().request(command, *args)
        future: Future = Future()
        future.set_result(self.script.add_worker() if command == "add_worker" else None)
        return future


def test_after_a_the_new_tile_shows_whole_at_80x24() -> None:
    script = worker_model()
    app = RrsimApp(AddingRun(script))

    async def add(pilot: Pilot) -> tuple[Any, Any, list[str]]:
        await pilot.press("a")
        await pilot.pause()
        await pilot.pause()
        grid = app.screen.query_one(WorkerGrid)
        return grid.tiles["w4"].region, grid.region, screen_lines(app)

    tile, grid, lines = run_app(app, NARROW, add)
    assert grid.contains_region(tile), (tile, grid, "\n".join(lines))


def test_the_totals_keep_fairness_on_their_one_line_at_high_counts_at_80_columns() -> None:
    totals = TotalsFrame(Totals(sent=2_345_678, delivered=2_344_321, in_flight=1357, lost=0, late=0, duplicates=0,
                                foreign=0, malformed=0, completed=2_344_321, strayed=0), 0.998)
    app = RrsimApp(start_scene().source())

    async def look(pilot: Pilot) -> list[str]:
        bar = app.screen.query_one(TotalsBar)
        bar.totals = totals
        await pilot.pause()
        await pilot.pause()
        return [line for line in screen_lines(app) if "fairness" in line or "delivered" in line]

    lines = run_app(app, NARROW, look)
    assert len(lines) == 1 and "fairness 0.998" in lines[0] and "delivered" in lines[0], lines


def test_a_revived_workers_count_and_share_are_never_cut_at_80x24() -> None:
    script = worker_model(run_s=1.0, rate=1000.0)
    script.kill("w2", noticed_after_s=0.1)
    script.run(0.1)
    script.revive("w2")
    script.run(1.0)
    app = RrsimApp(StaticRun(script.model))

    async def look(pilot: Pilot) -> tuple[list[str], str]:
        frame = next(w for w in read_frame(script.model, "x", False).workers if w.name == "w2")
        return screen_lines(app), f"{frame.share:.1%}"

    lines, share = run_app(app, NARROW, look)
    counts = [line for line in lines if "recv" in line]
    assert counts and all(line.count("%") == 3 for line in counts), counts  # three tiles, each share whole
    assert any(share in line for line in counts), (share, counts)


# ---------------------------------------------------------------------- item 11
def test_toasts_leave_the_log_in_view_and_the_end_says_what_was_lost() -> None:
    scene = SCENES["drained"]()  # the seed scenario played out, with losses
    app = RrsimApp(scene.source(), scene.scenario)
    app.NOTIFICATION_TIMEOUT = 600

    async def look(pilot: Pilot) -> tuple[list[str], list[Any], Any]:
        await pilot.pause(0.2)
        toasts = [toast.region for toast in app.screen.query("Toast")]
        return [n.message for n in app._notifications], toasts, app.screen.query_one(EventLog).region

    messages, toasts, log = run_app(app, NARROW, look, notifications=True)
    lost = scene.model.totals().lost
    assert lost > 0 and toasts
    assert all(not toast.overlaps(log) for toast in toasts), (toasts, log)
    end = next(message for message in messages if "Drained" in message or "accounted" in message)
    assert f"{lost} lost" in end and "every message is accounted for" not in end.lower(), end


# ---------------------------------------------------------------------- item 12
def test_the_header_and_the_log_say_sending_paused_alike() -> None:
    script = worker_model()
    script.emit(ev.SendingHeld(script.t_ns, True))
    app = RrsimApp(StaticRun(script.model))

    async def look(pilot: Pilot) -> tuple[list[str], str]:
        return screen_lines(app), app.screen.query_one(EventLog).render().plain

    lines, log = run_app(app, NARROW, look)
    assert "sending paused" in log
    assert any("sending paused" in line for line in lines[:2]) and not any("held" in line for line in lines)


def footer_after(pattern: str) -> str:
    app = RrsimApp(StaticRun(worker_model(pattern=pattern).model))

    async def look(pilot: Pilot) -> str:
        await pilot.pause()
        return screen_lines(app)[-1]

    return run_app(app, (200, 60), look)


def test_s_is_in_the_footer_where_there_is_a_broker_and_only_there() -> None:
    assert "s strategy" in footer_after(BROKER)
    assert "strategy" not in footer_after("push-pull")


# ---------------------------------------------------------------------- item 9
def test_256_workers_are_a_line_each_the_grid_says_which_show_and_follows_the_selection() -> None:
    script = worker_model(workers=256, rate=2560.0, run_s=0.5)
    app = RrsimApp(StaticRun(script.model))

    async def look(pilot: Pilot) -> list[tuple[str, Any, Any, int]]:
        screen = app.screen
        assert isinstance(screen, RunScreen)
        grid = screen.query_one(WorkerGrid)
        seen = []
        for name in ("w1", "w200", "w256", "w3"):
            screen.selected = name
            await pilot.pause()
            await pilot.pause()
            seen.append((str(grid.border_title), grid.tiles[name].region, grid.region, grid.tiles[name].region.height))
        return seen

    for title, tile, grid, height in run_app(app, (200, 60), look):
        assert height == 1  # one line per worker
        assert grid.contains_region(tile), (title, tile, grid)
        first, last, total = re.fullmatch(r"w(\d+)-w(\d+) of (\d+) shown", title).groups()  # type: ignore[union-attr]
        assert total == "256" and int(first) <= int(last) <= 256 and (first, last) != ("1", "256")


def test_more_workers_than_full_tiles_fit_get_smaller_tiles_all_in_view() -> None:
    app = RrsimApp(StaticRun(worker_model(workers=8).model))

    async def look(pilot: Pilot) -> tuple[list[Any], Any, str]:
        grid = app.screen.query_one(WorkerGrid)
        return [tile.region for tile in grid.tiles.values()], grid.region, str(grid.border_title)

    tiles, grid, title = run_app(app, NARROW, look)
    assert all(grid.contains_region(tile) for tile in tiles) and not title


# ---------------------------------------------------------------------- issue 20 item 3
def test_no_module_of_the_live_view_names_a_pattern_or_compares_a_role_name() -> None:
    tui = Path(__file__).parent.parent / "rrsim" / "tui"
    moved_to_tests = {"scenes.py", "screenshots.py"}  # the fixed scenes: test tools, on their way to tests/
    roles = {role.name for name in patterns.names() for role in patterns.load(name).ROLES.values()}
    processes = {f"{role.prefix}1" for name in patterns.names() for role in patterns.load(name).ROLES.values()}
    for path in sorted(tui.rglob("*.py")):
        if path.name in moved_to_tests:
            continue
        text = path.read_text()
        for name in patterns.names():
            assert not re.search(rf"\b{re.escape(name)}\b(?!ory|ion)", text), (path.name, name)  # "direct", not "directory"
        for word in roles | processes:
            assert not re.search(rf'[=!]=\s*"{word}"|"{word}"\s*[=!]=|in \(?"{word}"', text), (path.name, word)

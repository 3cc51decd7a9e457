"""The TUI over pretend runs: fixed events, made-up pids, no processes and no clocks.

Snapshots are SVGs in tests/__snapshots__/; after a deliberate change to the screen,
regenerate them with ``pytest tests/test_tui_snapshots.py --snapshot-update`` and look at them.
The tests after the snapshots check what keys ask of the engine, with no engine at all.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

import pytest

from rrsim.errors import UserError
from rrsim.scenario.scenario import TUI_DEFAULTS
from rrsim.tui import controls
from rrsim.tui.app import RrsimApp
from rrsim.tui.frames import read_frame
from rrsim.tui.run_screen import RunScreen
from rrsim.tui.source import StaticRun
from rrsim.tui.widgets.worker_grid import TILES_PER_FRAME, WorkerGrid
from tests.scenes import SCENES, Script, paused_scene, start_scene

NARROW = (80, 24)
WIDE = (160, 50)


def app_for(scene_name: str) -> RrsimApp:
    scene = SCENES[scene_name]()
    return steady(RrsimApp(scene.source(), scene.scenario))


def steady(app: RrsimApp) -> RrsimApp:
    app.NOTIFICATION_TIMEOUT = 600  # a slow machine must not see a toast gone before the picture
    return app


@pytest.mark.parametrize("scene_name", ["start", "kill", "revive", "paused", "drained", "dead-queue"])
def test_scene_at_80x24(snap_compare, scene_name: str) -> None:
    assert snap_compare(app_for(scene_name), terminal_size=NARROW)


@pytest.mark.parametrize("scene_name", ["silent", "waiting", "given-up"])
def test_reliable_scenes(snap_compare, scene_name: str) -> None:
    # A worker taken for dead (silent) and its retried message; workers waiting for a dead broker;
    # the totals of retries, duplicates and a message given up.  The broker's tile and four
    # workers' need more room than 80x24.
    assert snap_compare(app_for(scene_name), terminal_size=(120, 34))


@pytest.mark.parametrize("scene_name", ["start", "busy"])
def test_scene_on_a_wide_terminal(snap_compare, scene_name: str) -> None:
    assert snap_compare(app_for(scene_name), terminal_size=WIDE)


@pytest.mark.parametrize("scene_name", ["busy-worker-push-pull", "busy-worker-lb-broker", "broker-killed",
                                        "broker-revived"])
def test_recorded_runs_of_both_patterns(snap_compare, scene_name: str) -> None:
    assert snap_compare(app_for(scene_name), terminal_size=(120, 34))


def test_help_screen(snap_compare) -> None:
    assert snap_compare(app_for("start"), press=["question_mark"], terminal_size=(100, 40))


def test_too_small_terminal_says_so(snap_compare) -> None:
    assert snap_compare(app_for("start"), terminal_size=(50, 14))


def test_selection_follows_number_keys_and_arrows(snap_compare) -> None:
    # 8 selects w8, in the second row of six tiles; up moves to w2 above it.
    assert snap_compare(app_for("busy"), press=["8", "up"], terminal_size=WIDE)


class RefusingRun(StaticRun):
    """A static run whose engine says no, as the real one does to a command that does not apply."""

    def request(self, command: str, *args: Any) -> Future:
        super().request(command, *args)
        future: Future = Future()
        future.set_exception(UserError(f"{args[0]} is still running; only a killed, stopped or crashed worker can be revived"))
        return future


def test_a_key_that_does_not_apply_shows_a_notification(snap_compare) -> None:
    scene = start_scene()
    assert snap_compare(steady(RrsimApp(RefusingRun(scene.model), scene.scenario)), press=["r"], terminal_size=NARROW)


# ---------------------------------------------------------------------- keys -> commands
def requests_after(keys: list[str], source: StaticRun) -> list[tuple[str, tuple[Any, ...]]]:
    async def press() -> None:
        app = RrsimApp(source)
        async with app.run_test(size=NARROW) as pilot:
            await pilot.pause()
            await pilot.press(*keys)
            await pilot.pause()

    asyncio.run(press())
    return source.requests


def test_worker_keys_act_on_the_selected_worker() -> None:
    assert requests_after(["k", "2", "t", "right", "r", "tab", "tab", "p"], start_scene().source()) == [
        ("kill", ("w1",)), ("stop", ("w2",)), ("revive", ("w3",)), ("pause", ("w2",)),
    ]


def test_a_click_selects_a_worker() -> None:
    source = start_scene().source()

    async def click_then_kill() -> None:
        app = RrsimApp(source)
        async with app.run_test(size=NARROW) as pilot:
            await pilot.pause()
            await pilot.click("#tile-w3")
            await pilot.press("k")
            await pilot.pause()

    asyncio.run(click_then_kill())
    assert source.requests == [("kill", ("w3",))]


def test_p_resumes_a_paused_worker() -> None:
    assert requests_after(["3", "p"], paused_scene().source()) == [("resume", ("w3",))]


def test_work_keys_double_and_halve_the_work_per_message() -> None:
    # The start scene's workers do 5 ms of work per message.
    assert requests_after(["left_square_bracket", "right_square_bracket"], start_scene().source()) == [
        ("set_work", ("w1", 10.0)), ("set_work", ("w1", 2.5)),
    ]


def test_work_and_rate_steps_have_sensible_ends() -> None:
    assert controls.slower_work(0.0) == 1.0  # [ on a worker that does no work
    assert controls.faster_work(0.6) == 0.0 and controls.faster_work(0.0) is None
    assert controls.faster_rate(100_000.0) == 0.0  # past the top step: as fast as possible
    assert controls.faster_rate(0.0) is None and controls.slower_rate(0.0) == 100_000.0
    assert controls.slower_rate(0.5) is None and controls.faster_rate(7.0) == 10.0


def test_run_keys_add_processes_and_change_sending() -> None:
    # The start scene sends 10 messages a second per pusher.
    assert requests_after(["a", "P", "plus", "minus", "space"], start_scene().source()) == [
        ("add_worker", ()), ("add_pusher", ()), ("set_rate", (20.0,)), ("set_rate", (5.0,)), ("hold_sending", (True,)),
    ]


class SlowRun(StaticRun):
    """A static run whose engine has not got round to any command yet."""

    def request(self, command: str, *args: Any) -> Future:
        self.requests.append((command, args))
        return Future()


def test_keys_pressed_faster_than_the_engine_answers_still_add_up() -> None:
    assert requests_after(["p", "p", "left_square_bracket", "left_square_bracket", "plus", "plus"],
                          SlowRun(start_scene().model)) == [
        ("pause", ("w1",)), ("resume", ("w1",)), ("set_work", ("w1", 10.0)), ("set_work", ("w1", 20.0)),
        ("set_rate", (20.0,)), ("set_rate", (50.0,)),
    ]


def test_no_command_reaches_a_finished_run() -> None:
    assert requests_after(["k", "a", "plus"], SCENES["drained"]().source()) == []


def test_every_main_screen_key_is_in_the_command_palette() -> None:
    async def titles() -> list[str]:
        app = RrsimApp(start_scene().source())
        async with app.run_test(size=NARROW) as pilot:
            await pilot.pause()
            return [command.title for command in app.get_system_commands(app.screen)]

    shown = asyncio.run(titles())
    described = [binding for binding in RunScreen.BINDINGS if binding.description]
    assert len(described) >= 14
    for binding in described:
        assert any(binding.description in title.lower() for title in shown), binding


def test_a_frame_redraws_a_few_busy_tiles_but_a_killed_one_at_once() -> None:
    # Sixteen busy workers: drawing every tile in one frame would hold keys up for tens of ms.
    script = Script(replace(TUI_DEFAULTS, workers=16, rate=400.0)).start().run(2.0)
    source = StaticRun(script.model)

    async def watch() -> None:
        app = RrsimApp(source)
        async with app.run_test(size=WIDE) as pilot:
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, RunScreen)
            tiles = screen.query_one(WorkerGrid).tiles
            script.run(1.0)
            script.kill("w16")
            latest = {w.name: w for w in read_frame(script.model, "x", False).workers}
            assert all(tiles[name].frame != frame for name, frame in latest.items())  # every tile is behind
            screen.read_model()  # no await: no timer tick can slip in between
            assert tiles["w16"].frame == latest["w16"] and tiles["w16"].frame.state == "killed"
            assert sum(tiles[name].frame == frame for name, frame in latest.items()) == 1 + TILES_PER_FRAME
            for _ in range(-(-15 // TILES_PER_FRAME) - 1):
                screen.read_model()  # the model has not changed: the waiting tiles catch up
            assert all(tiles[name].frame == frame for name, frame in latest.items())

    asyncio.run(watch())


def test_f_filters_the_log_to_the_selected_worker(snap_compare) -> None:
    assert snap_compare(app_for("busy"), press=["3", "f"], terminal_size=WIDE)


def test_the_log_scrolls_with_page_keys_home_and_end() -> None:
    from rrsim.tui.widgets.event_log import EventLog

    seen: list[tuple[int, str | None]] = []

    async def scroll() -> None:
        app = RrsimApp(SCENES["busy"]().source())
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            log = app.screen.query_one(EventLog)
            for key in ("pageup", "pageup", "home", "pagedown", "end", "2", "f", "3"):
                await pilot.press(key)
                await pilot.pause()
                seen.append((log.back, log.only))

    asyncio.run(scroll())
    page = seen[0][0]
    assert page > 0 and seen[1][0] == min(2 * page, seen[2][0])  # a page, another, then the oldest line
    assert seen[2][0] > 0 and seen[3][0] == seen[2][0] - page  # back a page from the oldest
    assert seen[4] == (0, None)  # End follows the newest again
    assert seen[6] == (0, "w2") and seen[7] == (0, "w3")  # f filters to the selection, which it follows


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=["80x24", "120x40", "200x60"])
def test_eight_workers_and_two_pushers_at_every_terminal_size(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(app_for("busy"), terminal_size=size)


@pytest.mark.parametrize("scene_name", ["revive", "busy"])
def test_m_shows_the_message_map(snap_compare, scene_name: str) -> None:
    assert snap_compare(app_for(scene_name), press=["m"], terminal_size=(120, 40))


def test_the_footer_and_the_totals_fit_every_width() -> None:
    """Every key the walk-through needs is in the footer, none past its edge; the totals take
    one line where they fit, two where they do not (fairness is never cut off)."""
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey, FooterLabel

    from rrsim.tui.run_screen import MIN_WIDTH
    from rrsim.tui.widgets.totals_bar import TotalsBar

    seen: dict[int, tuple[int, list[str]]] = {}
    totals_lines: dict[int, int] = {}
    totals_text: dict[int, list[str]] = {}

    async def resize() -> None:
        app = RrsimApp(SCENES["start"]().source())
        async with app.run_test(size=(200, 24)) as pilot:
            for width in (200, 80, 60, 102, 101, 40):  # one app: the footer follows a resize
                await pilot.resize_terminal(width, 24)
                await pilot.pause()
                await pilot.pause()
                footer = app.screen.query_one(Footer)
                labels = [f"{key.key_display} {key.description}".strip() for key in footer.query(FooterKey)]
                labels += [label.content for label in footer.query(FooterLabel)]
                seen[width] = (footer.max_scroll_x, labels)
                totals_lines[width] = app.screen.query_one(TotalsBar).region.height
                totals_text[width] = app.screen.query_one(TotalsBar).render().plain.splitlines()

    asyncio.run(resize())
    needed = {"? help", "k kill", "+", "-", "rate", "space hold", "P pusher", "m map", "f filter"}
    for width, (scroll, labels) in seen.items():
        assert scroll == 0, (width, labels)  # nothing beyond the edge, reachable only by scrolling
        assert width < MIN_WIDTH or needed <= set(labels), (width, labels)
    assert seen[40][1][0] == "? help" and len(seen[40][1]) < len(seen[60][1])  # too small: fewer keys, none cut
    assert len(seen[102][1]) == len(seen[200][1])  # from 102 columns every key is there
    assert "t stop" in seen[102][1] and "t stop" not in seen[101][1]  # the least needed goes first
    assert {"q quit", "a add", "r revive"} <= set(seen[80][1])
    # "sent 60  delivered 60  in flight 0  lost 0  late 0  dup 0  fairness 1.000": 73 cells
    assert totals_lines == {200: 1, 80: 1, 60: 2, 102: 1, 101: 1, 40: 0}  # too small: not shown
    assert [line.strip() for line in totals_text[60]] == [  # broken between items, never inside one
        "sent 60  delivered 60  in flight 0  lost 0  late 0  dup 0", "fairness 1.000"]


@pytest.mark.parametrize(("scene_name", "size", "keys"), [("busy", (80, 24), ()), ("busy", (200, 60), ()),
                                                          ("many-workers", (80, 24), ("9", "down", "down", "down"))],
                         ids=["80x24", "200x60", "80x24-128-workers-w12-selected"])
def test_the_map_at_every_size_and_at_128_workers(snap_compare, scene_name: str, size: tuple[int, int],
                                                 keys: tuple[str, ...]) -> None:
    assert snap_compare(app_for(scene_name), press=["m", *keys], terminal_size=size)

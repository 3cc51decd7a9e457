"""``rrsim --web``: the live view in a browser tab, through textual-serve.

Headless Chromium opens the page and must show the grid; a key pressed in the page kills a
worker; closing the tab, or ending the server however it ends, leaves no process and no run
directory.  The address rules are pure tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from cdp import CHROMIUM, Page, chromium
from helpers import Stderr, assert_nothing_left, main_in_process, one_error_line, start_rrsim, wait_until
from rrsim.commands.web import check_address
from rrsim.endpoints import parse_web
from rrsim.errors import UserError

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed here (Debian's package "
                                    "`chromium`; .ci/run installs it): there is no browser to open the page in")
WITHIN_S = 30.0  # a tab's rrsim starts Python, Textual and its children on a loaded 2-core machine
# The server ends once its tabs' runs have, each in a second or two; left to aiohttp, 23 s.
SERVER_ENDS_WITHIN_S = 12.0


# ---------------------------------------------------------------------------------- the address
def test_a_port_alone_serves_on_loopback() -> None:
    assert parse_web("8000", "--web") == ("127.0.0.1", 8000)
    assert parse_web("[::1]:8001", "--web") == ("::1", 8001)
    assert check_address("127.0.0.2:8002", unauthenticated=False) == ("127.0.0.2", 8002)


@pytest.mark.parametrize("value", ["eighty", "localhost:8000", "8000:", "0", "65536", "0.0.0.0:8000", "[::]:8000"])
def test_an_address_browsers_cannot_reach_is_refused(value: str) -> None:
    with pytest.raises(UserError, match="--web"):
        parse_web(value, "--web")


def test_beyond_loopback_only_when_the_user_says_there_is_no_authentication() -> None:
    refused = main_in_process(["--web", "192.0.2.7:8000"])
    line = one_error_line(refused, "--web 192.0.2.7:8000", "no authentication", "--unauthenticated")
    assert "--web 8000" in line  # what to do instead
    assert refused.started == []
    assert check_address("192.0.2.7:8000", unauthenticated=True) == ("192.0.2.7", 8000)
    alone = main_in_process(["--unauthenticated"])
    one_error_line(alone, "--unauthenticated is for --web")


def test_a_bad_option_is_told_on_the_command_line_not_in_each_tab() -> None:
    refused = main_in_process(["--web", "8000", "--workers", "zero"])
    one_error_line(refused, "workers")
    assert refused.started == []
    # a tab's standard output is its screen, on its way to the browser
    one_error_line(main_in_process(["--web", "8000", "--record", "-"]), "--record -", "record to a file")


# ---------------------------------------------------------------------------------- in a browser
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid``, as the kernel lists each one's children."""
    found: list[int] = []
    try:
        children = [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
                    for child in (task / "children").read_text().split()]
    except OSError:
        return found
    for child in children:
        found += [child, *descendants(child)]
    return found


def alive(pid: int) -> bool:
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


class Served:
    """``rrsim --web PORT`` with a run of 3 workers per tab, its TMPDIR ``tmp``."""

    def __init__(self, tmp: Path, log: Path, **popen: object) -> None:
        self.port = free_port()
        self.log = log.open("w")  # the tabs' own stderr, which textual-serve copies to its stdout
        self.process = start_rrsim("--web", str(self.port), "--workers", "3", "--rate", "20", tmp=tmp,
                                   stdout=self.log, stderr=subprocess.PIPE, text=True, **popen)
        self.stderr = Stderr(self.process)
        self.stderr.wait_for(rf"live view is on http://127\.0\.0\.1:{self.port} ", WITHIN_S)
        self.url = f"http://127.0.0.1:{self.port}/"

    def end(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        code = self.process.wait(timeout=WITHIN_S)
        self.log.close()
        return code


async def wait_for(condition: Callable[[], object], what: str | Callable[[], str]) -> None:
    """wait_until, for a test whose page reads its protocol on this event loop."""
    deadline = asyncio.get_running_loop().time() + WITHIN_S
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {WITHIN_S} s waiting for {what() if callable(what) else what}")
        await asyncio.sleep(0.05)


async def grid_shown(page: Page) -> None:
    await wait_for(lambda: all(f"w{n}  alive" in page.text() for n in (1, 2, 3)),
                   lambda: f"the grid of w1 to w3 in the page: {page.text()[-600:]!r}")


@pytest.mark.system
@needs_chromium
def test_a_tab_shows_the_grid_kills_on_k_and_leaves_nothing_once_closed(tmp_path: Path) -> None:
    served = Served(tmp_path, tmp_path.parent / f"{tmp_path.name}-server.log")

    async def in_the_browser() -> list[int]:
        async with chromium(tmp_path.parent / f"{tmp_path.name}-chromium") as browser:
            page = await browser.open(served.url)
            await grid_shown(page)
            tab = descendants(served.process.pid)
            assert tab, "no rrsim started for the tab"
            assert "killed" not in page.text()
            # the keys go where a user's would: the terminal's input, focused as a click would
            await page.call("Runtime.evaluate", expression="document.querySelector('.xterm-helper-textarea').focus()")
            await page.press("k")
            await wait_for(lambda: "w1  killed" in page.text(), lambda: f"w1's tile to say killed: {page.text()[-600:]!r}")
            await page.screenshot(tmp_path.parent / f"{tmp_path.name}-web.png")
            await browser.close(page)
            return tab

    try:
        tab = asyncio.run(in_the_browser())
        wait_until(lambda: not any(alive(pid) for pid in tab), WITHIN_S, lambda: f"the tab's processes to end: {tab}")
        assert_nothing_left(tmp_path)
        assert served.process.poll() is None, "the server serves on after a tab closes"
    finally:
        assert served.end() == 0


@pytest.mark.system
@needs_chromium
@pytest.mark.parametrize("ending", ["ctrl+c", "SIGTERM", "SIGKILL"])
def test_ending_the_server_ends_every_tabs_run(tmp_path: Path, ending: str) -> None:
    # ctrl+c reaches the terminal's whole process group; SIGTERM and SIGKILL the server alone.
    served = Served(tmp_path, tmp_path.parent / f"{tmp_path.name}-server.log", start_new_session=True)

    async def in_the_browser() -> None:
        async with chromium(tmp_path.parent / f"{tmp_path.name}-chromium") as browser:
            page = await browser.open(served.url)
            await grid_shown(page)
            tab = descendants(served.process.pid)
            if ending == "ctrl+c":
                os.killpg(served.process.pid, signal.SIGINT)
            else:
                served.process.send_signal(signal.SIGTERM if ending == "SIGTERM" else signal.SIGKILL)
            await asyncio.to_thread(served.process.wait, SERVER_ENDS_WITHIN_S)
            await wait_for(lambda: not any(alive(pid) for pid in tab), lambda: f"the tab's processes to end: {tab}")

    try:
        asyncio.run(in_the_browser())
        assert_nothing_left(tmp_path)
    finally:
        code = served.end()
    assert code == (-signal.SIGKILL if ending == "SIGKILL" else 0)

"""Headless Chromium driven over its DevTools protocol (aiohttp's websocket client): open a page,
press keys in it, read what its websockets received, take a screenshot, close it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
START_WITHIN_S = 30.0
# What a terminal stream holds besides its text: CSI and OSC sequences, charset and keypad switches.
ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]")


def terminal_text(stream: str) -> str:
    """The characters a terminal stream writes, its escape sequences taken out."""
    return ESCAPES.sub("", stream)


class Page:
    """One tab, its protocol session, and the text every websocket of it has received so far."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse, target_id: str) -> None:
        self.socket = socket
        self.target_id = target_id
        self.received: list[str] = []  # the payloads of the page's websocket frames, in order
        self._ids = itertools.count(1)
        self._answers: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.socket:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self._answers:
                self._answers.pop(data["id"]).set_result(data)
            elif data.get("method") == "Network.webSocketFrameReceived":
                frame = data["params"]["response"]
                payload = frame["payloadData"]
                # opcode 2: a binary frame, which the protocol hands over in base64
                self.received.append(base64.b64decode(payload).decode("utf-8", "replace") if frame["opcode"] == 2 else payload)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        answer = self._answers[ident] = asyncio.get_running_loop().create_future()
        await self.socket.send_json({"id": ident, "method": method, "params": params})
        data = await asyncio.wait_for(answer, START_WITHIN_S)
        if "error" in data:
            raise AssertionError(f"{method}: {data['error']}")
        return dict(data.get("result", {}))

    def text(self) -> str:
        return terminal_text("".join(self.received))

    async def press(self, key: str) -> None:
        """One printable key, as the keyboard would send it to the focused element."""
        await self.call("Input.dispatchKeyEvent", type="keyDown", key=key, text=key)
        await self.call("Input.dispatchKeyEvent", type="keyUp", key=key)

    async def screenshot(self, path: Path) -> None:
        shot = await self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))


@contextlib.asynccontextmanager
async def chromium(profile: Path, width: int = 1280, height: int = 800) -> AsyncIterator[Browser]:
    """A headless Chromium with its own profile in ``profile``, ended on leaving."""
    assert CHROMIUM is not None
    profile.mkdir(parents=True, exist_ok=True)
    active = profile / "DevToolsActivePort"  # Chromium writes the port it chose here once its protocol is open
    active.unlink(missing_ok=True)  # a profile used before holds the last one's
    with (profile / "chromium.log").open("w") as log:
        process = subprocess.Popen([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
                                    f"--user-data-dir={profile}", "--no-first-run", "about:blank"],
                                   stdout=log, stderr=log)
    try:
        deadline = asyncio.get_running_loop().time() + START_WITHIN_S
        while not (active.exists() and active.read_text().count("\n") >= 1):
            if process.poll() is not None or asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"chromium did not open its protocol: {(profile / 'chromium.log').read_text()[-800:]}")
            await asyncio.sleep(0.05)
        async with aiohttp.ClientSession() as http:
            yield Browser(http, f"127.0.0.1:{active.read_text().split()[0]}", (width, height))
    finally:
        process.terminate()
        process.wait(timeout=30)


class Browser:
    def __init__(self, http: aiohttp.ClientSession, address: str, size: tuple[int, int]) -> None:
        self.http = http
        self.address = address
        self.size = size

    async def open(self, url: str) -> Page:
        """A new tab on ``url``, its websocket frames recorded from the first."""
        async with self.http.put(f"http://{self.address}/json/new?about:blank") as answer:
            target = await answer.json()
        page = Page(await self.http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0), target["id"])
        await page.call("Network.enable")
        await page.call("Page.enable")
        width, height = self.size
        await page.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        await page.call("Page.navigate", url=url)
        return page

    async def close(self, page: Page) -> None:
        """Close the tab, as its user would."""
        async with self.http.get(f"http://{self.address}/json/close/{page.target_id}") as answer:
            assert answer.status == 200, await answer.text()
        await page.socket.close()

"""``rrsim --web``: the live view served to browsers by textual-serve, one ``rrsim`` per tab.

Each tab that opens the page starts ``python -m rrsim`` with the same options (its own run); the
tab's keys reach it as a terminal's would.  Closing the tab asks that rrsim to quit, as q does;
ending the server (ctrl+c, SIGTERM, SIGHUP) quits every tab's rrsim first.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import signal
import sys
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from textual_serve.server import Server

from rrsim.endpoints import is_loopback, parse_web, url_host
from rrsim.errors import UserError

# On shutdown, each tab's rrsim is asked to quit and given this long to end its run; one that has
# not is left to see the server gone (its input ends) and its children to see it gone.
TABS_END_WITHIN_S = 20.0
NO_AUTH_FLAG = "--unauthenticated"


def check_address(value: str, unauthenticated: bool) -> tuple[str, int]:
    """(address, port) to serve on; beyond loopback only with ``unauthenticated`` said aloud."""
    host, port = parse_web(value, "--web")
    if not is_loopback(host) and not unauthenticated:
        raise UserError(f"--web {value}: the browser view has no authentication, so anyone who reaches {host} could "
                        f"watch and steer the run; serve on loopback (--web {port}), or pass {NO_AUTH_FLAG}")
    return host, port


class TabServer(Server):
    """textual-serve's server, knowing its open tabs so that ending it ends their runs."""

    def __init__(self, command: str, host: str, port: int) -> None:
        # public_url: the page tells the browser where its websocket is; an IPv6 address needs brackets there
        super().__init__(command, host=host, port=port, title="rrsim", public_url=f"http://{url_host(host)}:{port}")
        self.tabs: set[asyncio.Task[Any]] = set()

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        # This handler lives as long as the tab's rrsim; cancelled, it asks it to quit and waits for it.
        task = asyncio.current_task()
        assert task is not None
        self.tabs.add(task)
        try:
            return await super().handle_websocket(request)
        finally:
            self.tabs.discard(task)

    def initialize_logging(self) -> None:
        # Its warnings and errors (a tab's rrsim that failed to start), not a line per request.
        super().initialize_logging()
        logging.getLogger().setLevel(logging.WARNING)

    async def on_startup(self, app: web.Application) -> None:
        pass  # textual-serve's banner; ours is said once the port is bound (serve)

    async def on_shutdown(self, app: web.Application) -> None:
        # Otherwise aiohttp waits for the open websockets before it cancels their handlers (23 s with one tab).
        for task in self.tabs:
            task.cancel()
        if self.tabs:
            await asyncio.wait(self.tabs, timeout=TABS_END_WITHIN_S)

    def serve(self, debug: bool = False) -> None:
        """Server.serve, with SIGHUP beside SIGINT and SIGTERM, and our line once the port is bound."""
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, self.request_exit)
        web.run_app(self._make_app(), host=self.host, port=self.port, handle_signals=False, loop=loop,
                     print=lambda *_: print(f"rrsim: the live view is on {self.public_url} (a run per tab); "
                                            "ctrl+c ends them all", file=sys.stderr, flush=True))


def serve(argv: Sequence[str], host: str, port: int) -> int:
    """Serve until ctrl+c, SIGTERM or SIGHUP; each tab runs ``rrsim ARGV`` with our environment
    (which tells it that it is a tab's)."""
    server = TabServer(shlex.join([sys.executable, "-m", "rrsim", *argv]), host, port)
    try:
        server.serve()
    except OSError as error:
        raise UserError(f"--web {url_host(host)}:{port}: cannot serve there: {error.strerror or error}") from None
    return 0

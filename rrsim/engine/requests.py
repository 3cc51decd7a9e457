"""Commands asked from other threads (the TUI's), run on the thread that steps the engine."""

from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from rrsim.errors import UserError


class Requests:
    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()

    def put(self, command: Callable[[], Any]) -> Future[Any]:
        """Queue ``command``; the future holds its result or its UserError."""
        future: Future[Any] = Future()
        self._queue.put((command, future))
        return future

    def run(self, finished: bool) -> None:
        """Run what was asked; once the run has finished, answer it instead, so that nobody waits."""
        while True:
            try:
                command, future = self._queue.get_nowait()
            except queue.Empty:
                return
            if finished:
                future.set_exception(UserError("the run has finished"))
                continue
            try:
                future.set_result(command())
            except UserError as error:
                future.set_exception(error)

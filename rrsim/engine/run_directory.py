"""A run's private directory: its ipc sockets and the children's logs, removed when the run ends,
by the janitor process if the engine is SIGKILLed before it can do so itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from rrsim.errors import UserError

IPC_PATH_LIMIT = 107
OUTPUT_LINES = 40  # of a user's program's output, shown by the live view's o key
OUTPUT_BYTES = 16_384


class RunDirectory:
    def __init__(self, keep_logs: Path | None = None) -> None:
        self.keep_logs = keep_logs
        self.path = Path(tempfile.mkdtemp(prefix="rrsim-"))  # mode 0700: private to this user
        self.janitor: subprocess.Popen[bytes] | None = None
        try:
            self.janitor = subprocess.Popen(
                [sys.executable, "-m", "rrsim.engine.janitor", str(self.path), str(os.getpid())],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True,
            )
            self.logs = self.path / "logs"
            self.logs.mkdir()
        except BaseException:
            self.remove()
            raise

    def ipc_endpoint(self, name: str) -> str:
        path = f"{self.path}/{name}"
        if len(path.encode()) > IPC_PATH_LIMIT:
            raise UserError(
                f"ipc path {path!r} is {len(path.encode())} bytes, over the {IPC_PATH_LIMIT}-byte limit: "
                "set TMPDIR to a shorter directory or use --transport tcp"
            )
        return f"ipc://{path}"

    def output_tail(self, name: str, life: int, program: str | None) -> tuple[str, ...]:
        """The last lines of what ``name``'s program wrote in its life ``life`` (stdout and stderr
        both go to its log file); refused for rrsim's own workers, whose log is rrsim's."""
        if not program:
            raise UserError(f"{name} is rrsim's own worker: o shows the output of your program (--worker-cmd)")
        try:
            with self.logs.joinpath(f"{name}.{life}.log").open("rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - OUTPUT_BYTES))
                lines = log.read().decode(errors="replace").splitlines()
        except OSError:
            raise UserError(f"{name} (life {life}) has no output file: it is not one of this run's workers") from None
        return tuple(lines[-OUTPUT_LINES:])

    def remove(self) -> None:
        """Keep the logs if asked, remove the directory, let the janitor go.  Safe to call twice."""
        try:
            if self.keep_logs is not None and self.path.joinpath("logs").exists():
                self.keep_logs.mkdir(parents=True, exist_ok=True)
                for log in self.path.joinpath("logs").iterdir():
                    shutil.copy2(log, self.keep_logs / log.name)
        finally:
            shutil.rmtree(self.path, ignore_errors=True)
            if self.janitor is not None:
                self.janitor.terminate()
                self.janitor.wait()
                self.janitor = None

"""Where a command writes a report, a CSV or events: a file (kept only once written whole), standard
output (``-``), or a device or pipe; ``.gz`` compressed."""

from __future__ import annotations

import io
import os
import sys
import tempfile
from pathlib import Path
from typing import IO

from rrsim.errors import UserError
from rrsim.recording.file import compressed, gzip_text

STDOUT = "-"  # as an output path: standard output


class OutputFile:
    """A file written beside its final path and moved there by ``keep()``, so that a run that
    fails to start never clobbers the report or events of an earlier one."""

    def __init__(self, path: Path, option: str) -> None:
        self.path = path
        if path.is_dir():
            raise UserError(f"{option} {path}: is a directory")
        try:
            fd, self.part = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        except OSError as error:
            raise UserError(f"{option} {path}: cannot write there: {error.strerror}") from None
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(fd, 0o666 & ~umask)  # as open() would make it, not mkstemp's 0600
        self.stream: IO[str] = gzip_text(os.fdopen(fd, "wb")) if compressed(path) else os.fdopen(fd, "w", encoding="utf-8")

    def keep(self) -> None:
        self.stream.close()
        os.replace(self.part, self.path)

    def discard(self) -> None:
        if not self.stream.closed:  # kept already: nothing to discard
            self.stream.close()
            Path(self.part).unlink(missing_ok=True)


class StandardOutput:
    """Standard output as an output file: written as it comes, nothing to move or remove."""

    def __init__(self) -> None:
        self.stream: IO[str] = sys.stdout

    def keep(self) -> None:
        self.stream.flush()

    def discard(self) -> None:
        pass


class StreamOutput:
    """A device or a pipe (``/dev/null``, ``/dev/stderr``, a FIFO): written as it comes.  Moving a
    finished file onto it would replace the device itself with a plain file."""

    def __init__(self, path: Path, option: str) -> None:
        try:
            raw = open(path, "wb")  # noqa: SIM115 - closed by keep() or discard()
        except OSError as error:
            raise UserError(f"{option} {path}: cannot write there: {error.strerror}") from None
        self.stream: IO[str] = gzip_text(raw) if compressed(path) else io.TextIOWrapper(raw, encoding="utf-8")

    def keep(self) -> None:
        self.stream.close()

    def discard(self) -> None:
        self.stream.close()


Output = OutputFile | StandardOutput | StreamOutput


def open_output(path: Path | str, option: str) -> Output:
    if path == STDOUT:
        return StandardOutput()
    path = Path(path)
    if path.exists() and not path.is_file() and not path.is_dir():
        return StreamOutput(path, option)
    # A link to a report is followed: the report is replaced where it lives, the link kept.
    return OutputFile(path.resolve() if path.is_symlink() else path, option)

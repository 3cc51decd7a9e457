"""Recordings: a run's engine events as JSON lines behind a versioned header, written and read.

``rrsim run --events FILE`` and ``rrsim --record FILE`` write one; ``rrsim replay FILE`` reads
it.  docs/events.md describes the format.  A name ending in ``.gz`` is gzip-compressed.
"""

from __future__ import annotations

import base64
import bisect
import gzip
import io
import json
import queue
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

from rrsim import __version__
from rrsim import events as ev
from rrsim.errors import UserError
from rrsim.scenario.checks import known_names, parse_check
from rrsim.scenario.scenario import Scenario
from rrsim.scenario.setup import Setup, build_setup

FORMAT = "rrsim-events"
VERSION = 3  # 2: a Deliveries line's deltas may be 4 bytes wide ("width"); 3: or 2 ("wide" in full)
READS = (1, 2, 3)
# Level 1: the events of a run at full speed compress to a third in a fraction of the time of
# the default 9 (benchmarks/recording.py measures both the size and the cost).
GZIP_LEVEL = 1
GzipWriter: type[gzip.GzipFile] = gzip.GzipFile
try:
    # ISA-L's gzip writes the same format nine times as fast as zlib at level 1 (4 MB of a
    # recording at rate 0: 2.5 ms against 23): compressing was most of what recording took from a run.
    from isal.igzip import IGzipFile as GzipWriter
except ImportError:  # a machine isal has no wheel for (pyproject.toml): zlib, slower
    pass
DEFAULTS = Setup().to_dict()


def header(scenario: Scenario) -> dict[str, Any]:
    """The first line of a recording: what it is, which rrsim wrote it, and the run's setup."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "rrsim": __version__,
        "scenario": scenario.name,
        "setup": scenario.setup.to_dict(),
        "checks": [str(check) for check in scenario.checks],
        "started_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }


def compressed(path: Path | str) -> bool:
    return str(path).endswith(".gz")


def gzip_text(binary: IO[bytes]) -> IO[str]:
    """A text stream that writes gzip to ``binary`` (closing it closes ``binary`` too)."""
    return io.TextIOWrapper(GzipWriter(fileobj=binary, mode="wb", compresslevel=GZIP_LEVEL, mtime=0), encoding="utf-8")


class EventRecorder:
    """Writes the header, then every engine event as one JSON line with ``t_s``: seconds since
    the run started.

    The engine's thread only hands each event over (``__call__``): a thread of the recorder's own
    turns them into lines and writes them, many at a time, so that gzip's compression (which lets
    go of the GIL) runs beside the engine rather than in its way.  ``close`` writes what is left;
    call it before closing the stream."""

    def __init__(self, stream: IO[str], scenario: Scenario) -> None:
        self.stream = stream
        self.started_ns: int | None = None
        self.failure: BaseException | None = None  # the writing thread's, raised again by close()
        self.cpu_s = 0.0  # the writing thread's CPU time, once closed (benchmarks/recording.py reads it)
        self._events: queue.SimpleQueue[ev.Event | None] = queue.SimpleQueue()
        self.stream.write(_json_line(header(scenario)))
        self._thread = threading.Thread(target=self._write_all, name="rrsim-recorder", daemon=True)
        self._thread.start()

    def __call__(self, event: ev.Event) -> None:
        self._events.put(event)

    def close(self) -> None:
        """Write every event handed over so far, then stop; the stream stays open."""
        if self._thread.is_alive():
            self._events.put(None)
            self._thread.join()
        if isinstance(self.failure, OSError):  # a full disk, say: the user's to mend
            raise UserError(f"cannot write the recording: {self.failure.strerror or self.failure}") from None
        if self.failure is not None:
            raise self.failure

    def _write_all(self) -> None:
        next_flush = time.monotonic() + FLUSH_EVERY_S
        try:
            while True:
                lines, last = [], self._events.get()
                while last is not None:  # what has queued up meanwhile goes in one write
                    lines.append(self._line(last))
                    if len(lines) == WRITE_LINES:
                        break
                    try:
                        last = self._events.get_nowait()
                    except queue.Empty:
                        break
                self.stream.write("".join(lines))
                if last is None:
                    return
                if time.monotonic() >= next_flush:
                    # A run killed with SIGKILL leaves what was flushed: gzip keeps tens of KB to
                    # itself otherwise, a whole short run (a sync flush costs a few bytes).
                    self.stream.flush()
                    next_flush = time.monotonic() + FLUSH_EVERY_S
        except BaseException as error:  # a full disk, say: told by close(), in the engine's thread
            self.failure = error
        finally:
            self.cpu_s = time.thread_time()

    def _line(self, event: ev.Event) -> str:
        if self.started_ns is None and isinstance(event, ev.RunStarted):
            self.started_ns = event.t_ns
        t_s = None if self.started_ns is None else round((event.t_ns - self.started_ns) / 1e9, 6)
        if isinstance(event, ev.Deliveries):
            # Spliced in by hand: json.dumps would look at every character of a long base64 string.
            deltas, how = _packed(event)
            fields = {"event": "Deliveries", "t_s": t_s, "t_ns": event.t_ns, "worker": event.worker,
                      "life": event.life, "done": event.done_ns is not None, "work": event.work_us is not None, **how}
            return f'{json.dumps(fields, separators=(",", ":"))[:-1]},"deltas":"{deltas}"}}\n'
        fields = event.to_json()
        return _json_line({"event": fields.pop("event"), "t_s": t_s, **fields})


FLUSH_EVERY_S = 1.0  # what a killed run's recording may miss at most
WRITE_LINES = 256  # at most this many lines a write: the queue's backlog is drained a piece at a time


def _json_line(line: dict[str, Any]) -> str:
    return json.dumps(line, separators=(",", ":")) + "\n"


# A batch of deliveries is up to thousands of messages of four or five numbers each.  As JSON lists
# a message cost the engine more to write than to fold into its model (38 bytes of text); packed
# (each array delta-coded, in base64) it costs a fifth of that.  The deltas after each row's first
# number almost always fit in 4 bytes (ids step by a few, times by microseconds), and at full
# speed most fit in 2 (times step by hundreds of nanoseconds): those are written 2 bytes wide, the
# few that do not (a pause of more than 32 us) in full after them.  That halves what base64 and
# gzip have to chew again, and with the low bytes apart from the (mostly zero) high ones zlib took
# 2.5 times less time over synthetic deltas: at rate 0 compressing was most of what recording cost.
ROWS = ("pushers", "seqs", "sent_ns", "recv_ns")  # always; then done_ns and work_us when the line says so
INT16, INT32 = np.iinfo(np.int16), np.iinfo(np.int32)
ESCAPE = int(INT16.min)  # a 2-byte delta written in full (int64) after the 2-byte ones


def _b64(packed: bytes) -> str:
    return base64.b64encode(packed).decode("ascii")


def _packed(event: ev.Deliveries) -> tuple[str, dict[str, int]]:
    """The line's ``deltas`` and how they are written: ``width``, the bytes of each delta after each
    row's first number (always 8), and at width 2 how many are ``wide`` (written in full)."""
    rows = [event.pushers, event.seqs, event.sent_ns, event.recv_ns]
    rows += [optional for optional in (event.done_ns, event.work_us) if optional is not None]
    deltas = np.diff(np.stack(rows), axis=1, prepend=0)
    rest, firsts = deltas[:, 1:], deltas[:, 0].astype("<i8").tobytes()
    wide = (rest <= ESCAPE) | (rest > INT16.max)
    escaped = int(np.count_nonzero(wide))
    fits32 = not rest.size or (INT32.min <= rest.min() and rest.max() <= INT32.max)
    if 2 * rest.size + 8 * escaped < (4 if fits32 else 8) * rest.size:
        narrow = np.where(wide, ESCAPE, rest).astype("<i2").view(np.uint8).reshape(-1, 2).T  # low bytes, then high
        return _b64(firsts + narrow.tobytes() + rest[wide].astype("<i8").tobytes()), {"width": 2, "wide": escaped}
    if fits32:
        return _b64(firsts + rest.astype("<i4").tobytes()), {"width": 4}
    return _b64(deltas.astype("<i8").tobytes()), {"width": 8}


def _unpacked(line: dict[str, Any]) -> dict[str, Any]:
    """The Deliveries fields of a packed line, as ``ev.from_json`` takes them."""
    names = ROWS + tuple(name for name, flag in (("done_ns", "done"), ("work_us", "work")) if line.pop(flag, False))
    if "deltas" not in line:
        raise ValueError("its deliveries are not packed (no deltas)")
    raw = base64.b64decode(str(line.pop("deltas")), validate=True)
    width, rows = line.pop("width", 8), len(names)  # version 1 wrote no width: always 8
    if width == 8:
        if len(raw) % (8 * rows):
            raise ValueError(f"deltas: {len(raw)} bytes are not {rows} rows of 8-byte numbers")
        deltas = np.frombuffer(raw, dtype="<i8").reshape(rows, -1)
    elif type(width) is int and width in (2, 4):
        wide = line.pop("wide", None) if width == 2 else None
        firsts = np.frombuffer(raw[:8 * rows], dtype="<i8").reshape(rows, 1) if len(raw) >= 8 * rows else None
        rest = _narrow(raw[8 * rows:], rows, 4) if width == 4 else _escaped(raw[8 * rows:], rows, wide)
        if firsts is None or rest is None:
            raise ValueError(f"deltas: {len(raw)} bytes are not {rows} rows of an 8-byte number and {width}-byte ones"
                             + (f", {wide!r} of them in full" if width == 2 else ""))
        deltas = np.hstack([firsts, rest])
    else:
        raise ValueError(f"width is {width!r}: deltas are 2, 4 or 8 bytes wide")
    line.update(zip(names, np.cumsum(deltas, axis=1, dtype=np.int64), strict=True))
    return line


def _narrow(raw: bytes, rows: int, width: int) -> np.ndarray | None:
    """``rows`` rows of ``width``-byte deltas, or None when ``raw`` is not that."""
    if len(raw) % (width * rows):
        return None
    return np.frombuffer(raw, dtype=f"<i{width}").reshape(rows, -1).astype(np.int64)


def _escaped(raw: bytes, rows: int, wide: Any) -> np.ndarray | None:
    """Width 2: ``rows`` rows of 2-byte deltas, their low bytes then their high bytes, then the
    ``wide`` ones marked ``ESCAPE`` in full."""
    split = len(raw) - 8 * wide if type(wide) is int else -1
    if not 0 <= split <= len(raw) or split % (2 * rows):
        return None
    planes = np.frombuffer(raw[:split], dtype=np.uint8).reshape(2, -1)
    narrow = np.ascontiguousarray(planes.T).view("<i2").reshape(rows, -1).astype(np.int64)
    escaped = narrow == ESCAPE
    if int(np.count_nonzero(escaped)) != wide:
        return None
    narrow[escaped] = np.frombuffer(raw[split:], dtype="<i8")
    return narrow


CHUNK_BYTES = 1 << 16
# A gzip stream can be read only from its start, or from a copy of the decompressor's state (its
# 32 KiB window and the rest, ~45 KB).  One such restart point per 4 MiB of text bounds what
# reaching a line decompresses (a few ms), however well the file compresses, and keeps the memory
# small (an hour at 10,000 msgs/s is ~1 GB of text: ~230 restart points, ~10 MB).
RESTART_EVERY_BYTES = 4 << 20
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class _Restart:
    """Where a gzip file's reader can begin: the file offset, the text before it, the decompressor there."""

    file_offset: int
    text_offset: int
    inflate: Any | None  # a zlib decompress object to copy; None: a gzip member begins here


class RecordingFile:
    """A recording on disk, read as a stream: its header at once, then its events from the first
    or from any line a reader has passed before (``read``), never all of them in memory."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self.gzipped = compressed(path)
        try:
            self.size = Path(path).stat().st_size
            with open(path, "rb") as file:
                magic = file.read(2)
        except OSError as error:
            raise UserError(f"{self.path}: cannot read it: {error.strerror}") from None
        if self.gzipped and magic and magic != GZIP_MAGIC:
            raise UserError(f"{self.path}: not gzip-compressed, yet its name ends in .gz")
        self.read_bytes = 0  # of the file, by the reader that got furthest: how much is loaded
        self.truncated = False  # the file ended inside a line (the run was killed while writing): known at its end
        self._restarts = [_Restart(0, 0, None)]
        self._restarts_lock = threading.Lock()  # two readers at the frontier must not both add one
        first = next(self._lines(0), None)
        if first is None or not first[1].strip():
            cut = " (it was cut off before its first line)" if self.truncated else ""
            raise UserError(f"{self.path}: empty, not a recording{cut}")
        self.header = _header(self.path, first[1])
        self.first_place = len(first[1]) + 1  # where the first event's line begins in the text

    def progress(self) -> float:
        """How much of the file has been read, 0 to 1."""
        return 1.0 if not self.size else min(1.0, self.read_bytes / self.size)

    def read(self, place: int | None = None, position: int = 0) -> Iterator[tuple[int, ev.Event]]:
        """Each event from the line that begins at text offset ``place`` (None: the first event),
        with where it begins; ``position`` is how many events come before it (for line numbers)."""
        number = position + 1  # the header is line 1
        for number, (offset, line) in enumerate(self._lines(self.first_place if place is None else place),
                                                start=position + 2):
            event = _event(self.path, number, line)
            if number == 2 and not isinstance(event, ev.RunStarted):
                raise UserError(f"{self.path}: no run in it: its first event is not the run's start (RunStarted)")
            yield offset, event
        if number == 1:
            cut = " (it was cut off before it)" if self.truncated else ""
            raise UserError(f"{self.path}: no run in it: its first event is not the run's start (RunStarted){cut}")

    def _lines(self, place: int) -> Iterator[tuple[int, bytes]]:
        """Every whole line from text offset ``place`` with the offset it begins at; a last line
        without its end marks the file cut off."""
        pending, offset = b"", place
        for text in self._text(place):
            lines = (pending + text).split(b"\n")
            pending = lines.pop()
            for line in lines:
                yield offset, line
                offset += len(line) + 1
        if pending:
            self.truncated = True  # the writer ends every line: this one was cut short

    def _text(self, place: int) -> Iterator[bytes]:
        """The file's text from ``place`` on, in chunks."""
        with open(self.path, "rb") as file:
            if not self.gzipped:
                file.seek(place)
                while chunk := file.read(CHUNK_BYTES):
                    self.read_bytes = max(self.read_bytes, file.tell())
                    yield chunk
                return
            yield from self._inflated(file, place)

    def _inflated(self, file: IO[bytes], place: int) -> Iterator[bytes]:
        with self._restarts_lock:
            restart = self._restarts[bisect.bisect_right([r.text_offset for r in self._restarts], place) - 1]
        file.seek(restart.file_offset)
        inflate = restart.inflate.copy() if restart.inflate is not None else zlib.decompressobj(wbits=31)
        skip, text_offset, fed = place - restart.text_offset, restart.text_offset, False
        try:
            while chunk := file.read(CHUNK_BYTES):
                fed = True
                self._note_restart(file.tell() - len(chunk), text_offset, inflate)
                text = inflate.decompress(chunk)
                while inflate.eof and inflate.unused_data:  # gzip members may be concatenated
                    rest = inflate.unused_data
                    inflate = zlib.decompressobj(wbits=31)
                    text += inflate.decompress(rest)
                self.read_bytes = max(self.read_bytes, file.tell())
                text_offset += len(text)
                if skip >= len(text):
                    skip -= len(text)
                    continue
                yield text[skip:]
                skip = 0
        except zlib.error as error:
            raise UserError(f"{self.path}: corrupt gzip data: {error}") from None
        if fed and not inflate.eof:
            self.truncated = True  # the gzip stream stops before its end

    def _note_restart(self, file_offset: int, text_offset: int, inflate: Any) -> None:
        """Keep a way back to ``file_offset`` if its text is far enough past the last one kept."""
        if text_offset < self._restarts[-1].text_offset + RESTART_EVERY_BYTES:
            return
        with self._restarts_lock:
            if text_offset >= self._restarts[-1].text_offset + RESTART_EVERY_BYTES:
                self._restarts.append(_Restart(file_offset, text_offset, None if inflate.eof else inflate.copy()))

    def restart_bytes(self) -> int:
        """Roughly what the restart points hold: a decompressor's state each (zlib's window and more)."""
        return sum(45_000 for restart in self._restarts if restart.inflate is not None)


@dataclass
class Recording:
    """A recording read whole: for short ones (tests, the TUI's fixed scenes)."""

    path: str
    header: dict[str, Any]
    events: list[ev.Event] = field(default_factory=list)
    truncated: bool = False  # the file ended inside a line (the run was killed while writing)


def read_recording(path: Path | str) -> Recording:
    """Every complete event of a recording; a UserError naming the file and what is wrong with it."""
    file = RecordingFile(path)
    events = [event for _, event in file.read()]
    return Recording(file.path, file.header, events, file.truncated)


def _header(name: str, line: bytes) -> dict[str, Any]:
    try:
        first = json.loads(line)
    except ValueError:
        first = None
    if not isinstance(first, dict) or first.get("format") != FORMAT:
        raise UserError(f"{name}: not an rrsim recording (its first line is not an {FORMAT} header)")
    if first.get("version") not in READS:
        raise UserError(f"{name}: recording format version {first.get('version')!r}; this rrsim ({__version__}) "
                        f"reads versions {' and '.join(map(str, READS))}")
    if not isinstance(first.get("setup"), dict):
        raise UserError(f"{name}: its header has no setup")
    return first


def _event(name: str, number: int, line: bytes) -> ev.Event:
    try:
        fields = json.loads(line)
        if isinstance(fields, dict) and fields.get("event") == "Deliveries":
            fields = _unpacked(fields)
        event = ev.from_json(fields)
        if not isinstance(event.t_ns, int):
            raise ValueError(f"t_ns is {event.t_ns!r}, not a whole number of nanoseconds")
        return event
    except (ValueError, TypeError, KeyError, AttributeError) as error:  # binascii.Error is a ValueError
        shown = line[:60].decode("utf-8", "replace") + ("..." if len(line) > 60 else "")
        raise UserError(f"{name}: line {number} is not an event ({error}): {shown!r}") from None


def scenario_of(recording: Recording | RecordingFile) -> Scenario:
    """The scenario the header names: its name, setup and checks (a replay has no timeline to play)."""
    head, where = recording.header, f"{recording.path}: header"
    checks = head.get("checks", [])
    if not isinstance(checks, list):
        raise UserError(f"{where}: checks is not a list")
    known = known_names()
    return Scenario(
        name=str(head.get("scenario", "replay")),
        # None is how to_dict writes a key that was not set (duration): not set here either.  A
        # key at its default is left out too: to_dict writes every key, also those the run's
        # pattern does not take (retry_ms under push-pull), which a setup given them refuses.
        setup=build_setup({key: value for key, value in head["setup"].items()
                           if value is not None and value != DEFAULTS.get(key)},
                          f"{where} setup", need_end=False),
        source=recording.path,
        checks=tuple(parse_check(text, f"{where} checks", known) for text in checks),
    )


def truncation_note(path: str, events: int) -> str:
    return (f"{path} was cut off inside a line (was the run killed while writing it?): "
            f"replaying its {events} complete events")

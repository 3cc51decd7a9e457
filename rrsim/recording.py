"""Recordings: a run's engine events as JSON lines behind a versioned header, written and read.

``rrsim run --events FILE`` and ``rrsim --record FILE`` write one; ``rrsim replay FILE`` reads
it.  docs/events.md describes the format.  A name ending in ``.gz`` is gzip-compressed.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import numpy as np

from rrsim import __version__
from rrsim import events as ev
from rrsim.config import Scenario, Setup, build_setup
from rrsim.errors import UserError

FORMAT = "rrsim-events"
VERSION = 1
# Level 1: the events of a run at full speed compress to a third in a fraction of the time of
# the default 9 (benchmarks/recording.py measures both the size and the cost).
GZIP_LEVEL = 1
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
        "started_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
    }


def compressed(path: Path | str) -> bool:
    return str(path).endswith(".gz")


def gzip_text(binary: IO[bytes]) -> IO[str]:
    """A text stream that writes gzip to ``binary`` (closing it closes ``binary`` too)."""
    return io.TextIOWrapper(gzip.GzipFile(fileobj=binary, mode="wb", compresslevel=GZIP_LEVEL, mtime=0),
                            encoding="utf-8")


class EventRecorder:
    """Writes the header, then every engine event as one JSON line with ``t_s``: seconds since
    the run started."""

    def __init__(self, stream: IO[str], scenario: Scenario) -> None:
        self.stream = stream
        self.started_ns: int | None = None
        self._write(header(scenario))

    def _write(self, line: dict[str, Any]) -> None:
        self.stream.write(json.dumps(line, separators=(",", ":")) + "\n")

    def __call__(self, event: ev.Event) -> None:
        if self.started_ns is None and isinstance(event, ev.RunStarted):
            self.started_ns = event.t_ns
        t_s = None if self.started_ns is None else round((event.t_ns - self.started_ns) / 1e9, 6)
        if isinstance(event, ev.Deliveries):
            # Spliced in by hand: json.dumps would look at every character of a long base64 string.
            fields = {"event": "Deliveries", "t_s": t_s, "t_ns": event.t_ns, "worker": event.worker,
                      "life": event.life, "done": event.done_ns is not None, "work": event.work_us is not None}
            self.stream.write(f'{json.dumps(fields, separators=(",", ":"))[:-1]},"deltas":"{_packed(event)}"}}\n')
        else:
            fields = event.to_json()
            self._write({"event": fields.pop("event"), "t_s": t_s, **fields})


# A batch of deliveries is up to thousands of messages of four or five numbers each.  As JSON lists
# a message cost the engine more to write than to fold into its model (38 bytes of text); packed
# (each array delta-coded, as little-endian int64 rows, in base64) it costs a fifth of that.
ROWS = ("pushers", "seqs", "sent_ns", "recv_ns")  # always; then done_ns and work_us when the line says so


def _packed(event: ev.Deliveries) -> str:
    rows = [event.pushers, event.seqs, event.sent_ns, event.recv_ns]
    rows += [optional for optional in (event.done_ns, event.work_us) if optional is not None]
    deltas = np.diff(np.stack(rows), axis=1, prepend=0)
    return base64.b64encode(deltas.astype("<i8").tobytes()).decode("ascii")


def _unpacked(line: dict[str, Any]) -> dict[str, Any]:
    """The Deliveries fields of a packed line, as ``ev.from_json`` takes them."""
    names = ROWS + tuple(name for name, flag in (("done_ns", "done"), ("work_us", "work")) if line.pop(flag, False))
    if "deltas" not in line:
        raise ValueError("its deliveries are not packed (no deltas)")
    raw = base64.b64decode(str(line.pop("deltas")), validate=True)
    if len(raw) % (8 * len(names)):
        raise ValueError(f"deltas: {len(raw)} bytes are not {len(names)} rows of 8-byte numbers")
    values = np.cumsum(np.frombuffer(raw, dtype="<i8").reshape(len(names), -1), axis=1)
    line.update(zip(names, values))
    return line


@dataclass
class Recording:
    path: str
    header: dict[str, Any]
    events: list[ev.Event] = field(default_factory=list)
    truncated: bool = False  # the file ended inside a line (the run was killed while writing)


def read_recording(path: Path | str) -> Recording:
    """Every complete event of a recording; a UserError naming the file and what is wrong with it."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise UserError(f"{name}: cannot read it: {error.strerror}") from None
    text, truncated = _decompress(name, raw) if compressed(path) else (raw, False)
    lines = text.split(b"\n")
    if lines[-1]:
        truncated = True  # the writer ends every line: this one was cut short
    lines.pop()
    if not lines or not lines[0].strip():
        raise UserError(f"{name}: empty, not a recording" + (" (it was cut off before its first line)" if truncated else ""))
    recording = Recording(name, _header(name, lines[0]), truncated=truncated)
    for number, line in enumerate(lines[1:], start=2):
        recording.events.append(_event(name, number, line))
    if not recording.events or not isinstance(recording.events[0], ev.RunStarted):
        cut = " (it was cut off before it)" if truncated and not recording.events else ""
        raise UserError(f"{name}: no run in it: its first event is not the run's start (RunStarted){cut}")
    return recording


def _decompress(name: str, raw: bytes) -> tuple[bytes, bool]:
    """What a gzip file holds, and whether it ended before its end (a run killed while writing)."""
    if not raw:
        return b"", False
    if raw[:2] != b"\x1f\x8b":
        raise UserError(f"{name}: not gzip-compressed, yet its name ends in .gz")
    out, rest = [], raw
    try:
        while rest[:2] == b"\x1f\x8b":  # gzip files may be concatenated
            unpack = zlib.decompressobj(wbits=31)
            out.append(unpack.decompress(rest))
            if not unpack.eof:
                return b"".join(out), True
            rest = unpack.unused_data
    except zlib.error as error:
        raise UserError(f"{name}: corrupt gzip data: {error}") from None
    return b"".join(out), False


def _header(name: str, line: bytes) -> dict[str, Any]:
    try:
        first = json.loads(line)
    except ValueError:
        first = None
    if not isinstance(first, dict) or first.get("format") != FORMAT:
        raise UserError(f"{name}: not an rrsim recording (its first line is not an {FORMAT} header)")
    if first.get("version") != VERSION:
        raise UserError(f"{name}: recording format version {first.get('version')!r}; this rrsim ({__version__}) "
                        f"reads version {VERSION}")
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


def scenario_of(recording: Recording) -> Scenario:
    """The scenario the header names: its name, setup and checks (a replay has no timeline to play)."""
    from rrsim.checks import known_names, parse_check

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


def truncation_note(recording: Recording) -> str:
    return (f"{recording.path} was cut off inside a line (was the run killed while writing it?): "
            f"replaying its {len(recording.events)} complete events")

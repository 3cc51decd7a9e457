"""The per-message loops every pattern's pusher and worker run: the worker's receive burst and the
pusher's send burst, in Python (the reference) or compiled (``_rrsim_loops``, built by
``pip install`` where a C compiler is), chosen once per process.  See docs/compiled.md.

Both do the same libzmq calls on the same pyzmq sockets; the compiled ones only leave out the
interpreter between them.  ``RRSIM_LOOPS=python`` forces the Python loops; ``RRSIM_LOOPS=compiled``
makes a process that cannot run the compiled ones fail rather than fall back (CI sets it).
"""

from __future__ import annotations

import ctypes
import errno
import os
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import zmq

from rrsim import wire
from rrsim.child.receipts import Receipts
from rrsim.child.work import Work

COMPILED, PYTHON = "compiled", "python"
ABI = 2  # what _rrsim_loops must say it is (an extension built from another rrsim is not used)
ENV = "RRSIM_LOOPS"


class Receive(Protocol):
    """Receive until a receive times out (the socket's RCVTIMEO) or a message arrives at or after
    ``until_ns``, keeping each one's receipt (and doing its work); returns (now, whether any came)."""

    def __call__(self, until_ns: int) -> tuple[int, bool]: ...


class Send(Protocol):
    """Stamp and send messages ``seq`` to ``end`` - 1 (work sizes ``sizes[seq - first]``) without
    blocking; returns (the next seq, whether it stopped because every peer's pipe is full)."""

    def __call__(self, seq: int, end: float, first: int, sizes: list[int]) -> tuple[int, bool]: ...


class Keeper(Protocol):
    """What the send burst asks of ``sending.Keeper``: to be told each message sent."""

    def kept(self, seq: int, message: bytes) -> None: ...


def python_receiver(sock: zmq.Socket[bytes], receipts: Receipts, work: Work, clock: Callable[[], int]) -> Receive:
    recv, add, finish, size = sock.recv, receipts.add, receipts.finish, receipts.size
    keep, stamp = receipts.messages.append, receipts.stamps.append

    def receive(until_ns: int) -> tuple[int, bool]:
        got = False
        while True:
            try:
                message = recv()
            except zmq.Again:
                return clock(), got
            now, got = clock(), True
            if len(message) == size:  # the usual message: Receipts.add, inlined
                keep(message)
                stamp(now)
                if work.any:
                    time.sleep(work.seconds(message))
                    now = clock()
                    finish(now)
            else:
                add(message, now)
                if work.any:
                    time.sleep(work.seconds(message))
                    now = clock()
            if now >= until_ns:
                return now, got

    return receive


def python_sender(sock: zmq.Socket[bytes], message: bytearray, outlet: Callable[[bytearray], object] | None = None,
                  keeper: Keeper | None = None) -> Send:
    send, clock, stamp, at = sock.send, time.monotonic_ns, wire.SEQ_TIME_AND_WORK.pack_into, wire.SEQ_OFFSET

    def burst(seq: int, end: float, first: int, sizes: list[int]) -> tuple[int, bool]:
        while seq < end:
            stamp(message, at, seq, clock(), sizes[seq - first])
            try:
                if outlet is None:
                    send(message, zmq.NOBLOCK)
                else:
                    outlet(message)
            except zmq.Again:
                return seq, True  # every peer's pipe is full (or there is no peer yet)
            if keeper is not None:
                keeper.kept(seq, bytes(message))
            seq += 1
        return seq, False

    return burst


def compiled_receiver(sock: zmq.Socket[bytes], receipts: Receipts, work: Work, runtime_offset: Callable[[], int],
                      python: Receive) -> Receive:
    """The compiled burst while messages carry no work (with work, each one's sleep outweighs the
    interpreter: the Python burst does it).  Its receipts are cut on arrival, as the Python loop
    cuts a message it looks at on its own."""
    receiver = compiled().Receiver(sock.underlying, wire.MAGIC, receipts.max_batch)

    def receive(until_ns: int) -> tuple[int, bool]:
        if work.any:
            return python(until_ns)
        kept, foreign, received, now, error = receiver.burst(until_ns, runtime_offset(), receipts.room())
        if kept:
            receipts.add_cut(receiver.heads_bytes(kept), receiver.stamps_bytes(kept))
        receipts.foreign += foreign
        if error not in (0, errno.EAGAIN, errno.EINTR):
            raise zmq.ZMQError(error)
        return int(now), received > 0

    return receive


def compiled_sender(sock: zmq.Socket[bytes], message: bytearray) -> Send:
    send_burst, handle = compiled().send_burst, sock.underlying

    def burst(seq: int, end: float, first: int, sizes: list[int]) -> tuple[int, bool]:
        seq, error = send_burst(handle, message, seq, int(end), first, sizes)
        if error not in (0, errno.EAGAIN, errno.EINTR):
            raise zmq.ZMQError(error)
        return int(seq), error == errno.EAGAIN

    return burst


def receiver(sock: zmq.Socket[bytes], receipts: Receipts, work: Work, clock: Callable[[], int],
             runtime_offset: Callable[[], int]) -> Receive:
    """The worker's receive burst on ``sock``: compiled where it can be, else Python."""
    python = python_receiver(sock, receipts, work, clock)
    return compiled_receiver(sock, receipts, work, runtime_offset, python) if implementation() == COMPILED else python


def sender(sock: zmq.Socket[bytes], message: bytearray, outlet: Callable[[bytearray], object] | None = None,
           keeper: Keeper | None = None) -> Send:
    """The pusher's send burst: compiled for a plain send (no outlet, no keeper), else Python."""
    if outlet is None and keeper is None and implementation() == COMPILED:
        return compiled_sender(sock, message)
    return python_sender(sock, message, outlet, keeper)


_chosen: tuple[str, ModuleType | None, str] | None = None


def implementation() -> str:
    """"compiled" or "python": which loops this process runs."""
    return _choose()[0]


def why_python() -> str:
    """Why the Python loops run ("" when the compiled ones do)."""
    return _choose()[2]


def compiled() -> Any:
    module = _choose()[1]
    assert module is not None, "the compiled loops are not in use"
    return module


def choose_again() -> None:
    """Forget the choice: the next question chooses again (after a change of RRSIM_LOOPS)."""
    global _chosen
    _chosen = None


def _choose() -> tuple[str, ModuleType | None, str]:
    global _chosen
    if _chosen is None:
        wanted = os.environ.get(ENV, "")
        module, why = (None, f"{ENV}=python") if wanted == PYTHON else _load()
        if module is None and wanted == COMPILED:
            raise RuntimeError(f"{ENV}=compiled, but the compiled loops cannot run: {why}")
        _chosen = (COMPILED, module, "") if module is not None else (PYTHON, None, why)
    return _chosen


def _load() -> tuple[ModuleType | None, str]:
    """The compiled module bound to pyzmq's libzmq, or None and why not."""
    try:
        import _rrsim_loops  # built by pip install where a C compiler is (setup.py)
    except ImportError:
        return None, "not built (no C compiler or Python headers when rrsim was installed)"
    if getattr(_rrsim_loops, "ABI", None) != ABI:
        return None, f"built for another rrsim ({_rrsim_loops.__file__}): reinstall rrsim"
    lib = loaded_libzmq()
    if lib is None:
        return None, "the libzmq pyzmq loaded was not found"
    _rrsim_loops.bind(*(_address(lib, name) for name in _rrsim_loops.CALLS))
    return _rrsim_loops, ""


def loaded_libzmq() -> ctypes.CDLL | None:
    """The libzmq pyzmq loaded (never another copy: RTLD_NOLOAD opens only what is already
    loaded), checked to be the version pyzmq reports."""
    for path in _mapped_libzmq():
        try:
            lib = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_NOW)
            major, minor, patch = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
            lib.zmq_version(ctypes.byref(major), ctypes.byref(minor), ctypes.byref(patch))
        except (OSError, AttributeError):
            continue
        if (major.value, minor.value, patch.value) == zmq.zmq_version_info():
            return lib
    return None


def _mapped_libzmq() -> list[str]:
    """Files mapped into this process that hold libzmq: a shared libzmq (pyzmq's wheels bundle
    one), or pyzmq's own extension where libzmq was linked into it."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return []
    fields = (line.split(maxsplit=5) for line in maps.splitlines())
    paths = dict.fromkeys(f[5] for f in fields if len(f) == 6 and f[5].startswith("/"))
    return [p for p in paths if Path(p).name.startswith("libzmq")] + [p for p in paths if "/zmq/backend/" in p]


def _address(lib: ctypes.CDLL, name: str) -> int:
    address = ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
    assert address is not None
    return address

"""4. Scale: many workers and pushers at rate 0 for a fixed window, in a process of its own.

The engine runs in a fresh ``python -m benchmarks.scale`` process so that its CPU time and
resident memory are the engine's alone.  The window opens at the first delivery the ledger
holds (each pusher waits for all its workers: ``wait_ready``).  It measures messages delivered per second by the workers'
receive stamps (each second of the window, once the ledger has caught up after sending stops)
and as accounted by the ledger during the window, how far the accounting lags at the end, the
engine's CPU share and resident memory, the children's CPU, and the ledger's bytes per message
sent: resident (what the machine pays) and allocated (address space, up to twice that).
"""

from __future__ import annotations

import ctypes
import json
import mmap
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.driving import all_connected, running, step_until
from benchmarks.settings import Settings
from benchmarks.stats import summary
from rrsim import events as ev
from rrsim.child.deathsig import die_with_parent
from rrsim.engine.engine import Engine, now_ns
from rrsim.scenario.setup import Setup

CONNECT_TIMEOUT_S = 120.0
SETTLE_S = 0.1  # pushers report progress every 10 ms
TARGET_LEDGER_BYTES_PER_MESSAGE = 1.0
_TICKS = os.sysconf("SC_CLK_TCK")
_libc = ctypes.CDLL(None, use_errno=True)


class DeliveryClock:
    """Engine subscriber: deliveries counted by when the worker received them, in 10 ms bins."""

    BIN_NS = 10_000_000

    def __init__(self) -> None:
        self.window_start_ns: int | None = None
        self.bins = np.zeros(0, dtype=np.int64)

    def __call__(self, event: ev.Event) -> None:
        if self.window_start_ns is None or not isinstance(event, ev.Deliveries):
            return
        offsets = event.recv_ns - self.window_start_ns
        bins = offsets[offsets >= 0] // self.BIN_NS
        if len(bins):
            counts = np.bincount(bins)
            if len(counts) > len(self.bins):
                self.bins = np.concatenate([self.bins, np.zeros(len(counts) - len(self.bins), np.int64)])
            self.bins[: len(counts)] += counts

    def delivered(self, seconds: float) -> int:
        """Messages received in the first ``seconds`` of the window (that the ledger has seen)."""
        return int(self.bins[: int(seconds * 1e9 // self.BIN_NS)].sum())

    def per_second(self, seconds: float) -> list[int]:
        per_bin = int(1e9 // self.BIN_NS)
        return [int(self.bins[i * per_bin:(i + 1) * per_bin].sum()) for i in range(int(seconds))]


def measure(workers: int, pushers: int, seconds: float, catch_up_s: float) -> dict[str, Any]:
    """Runs in the benchmark's child process: one engine, one window, then the catch-up."""
    setup = Setup(workers=workers, pushers=pushers, rate=0.0, messages=0, wait_ready=True, drain_s=5.0)
    started = time.monotonic()
    with running(setup) as engine:
        clock = DeliveryClock()
        engine.subscribe(clock)
        model, ledger = engine.model, engine.model.ledger
        # A pusher has had all its workers connected and has begun (the others begin within
        # milliseconds).  From here on the engine's view may lag behind what the processes do:
        # everything else it learns queues behind the receipts, so this is the last sure signal.
        step_until(engine, lambda: ledger.delivered_unique > 0,
                   CONNECT_TIMEOUT_S, f"{workers} workers and {pushers} pushers connecting")
        ready_s = time.monotonic() - started
        linked = all_connected(engine)
        clock.window_start_ns = now_ns()
        wall0, cpu0, children0 = time.monotonic(), time.process_time(), _children_cpu_s(engine)
        accounted0, rss0 = ledger.delivered_unique, _status_kb("VmRSS")
        while time.monotonic() < wall0 + seconds:
            engine.step(10)
        wall = time.monotonic() - wall0
        cpu, children = time.process_time() - cpu0, _children_cpu_s(engine) - children0
        accounted = ledger.delivered_unique - accounted0
        rss1 = _status_kb("VmRSS")
        lag_s = (now_ns() - (model.last_delivery_ns or 0)) / 1e9
        # Stop sending and let the ledger catch up with what the workers received in the window.
        engine.hold_sending(True)
        held = time.monotonic()
        while not (caught_up := _caught_up(engine, held)) and time.monotonic() - held < catch_up_s:
            engine.step(10)
        catching_up_s = time.monotonic() - held
        resident = sum(resident_bytes(p.delivered) for p in ledger.pushers.values())
        totals = model.totals()
        result = {
            "workers": workers, "pushers": pushers, "window_s": round(wall, 2),
            "start_to_first_delivery_s": round(ready_s, 2),
            "model_saw_every_link_by_then": linked,
            "delivered_msgs_per_s": round(clock.delivered(wall) / wall),
            "delivered_msgs_per_s_by_second": summary(clock.per_second(wall), 0),
            "accounted_msgs_per_s": round(accounted / wall),
            "accounting_lag_at_window_end_s": round(lag_s, 2),
            "catch_up_after_window_s": round(catching_up_s, 2),
            "caught_up": caught_up,  # if not, the delivered figures count only what the ledger had by then
            "engine_cpu_share_of_one_core": round(cpu / wall, 3),
            "engine_cpu_share_of_all_cpu_used": round(cpu / (cpu + children), 3) if cpu + children else None,
            "children_cpu_cores": round(children / wall, 2),
            "engine_rss_mb": {"window_start": _mb(rss0), "window_end": _mb(rss1), "peak": _mb(_status_kb("VmHWM"))},
            "ledger_bytes_per_message": round(resident / max(1, ledger.sent), 3),
            "ledger_allocated_bytes_per_message": round(ledger.memory_bytes() / max(1, ledger.sent), 3),
            "ledger_resident_bytes": resident,
            "sent": totals.sent, "delivered": totals.delivered, "lost": totals.lost, "in_flight": totals.in_flight,
        }
    return result


def resident_bytes(array: np.ndarray) -> int:
    """Bytes of ``array``'s pages that are in memory (mincore): the pages of a fresh ``np.zeros``
    cost nothing until written, so a ledger grown by doubling holds about what it has used."""
    page = mmap.PAGESIZE
    first = array.ctypes.data // page * page
    pages = (array.ctypes.data + array.nbytes - first + page - 1) // page
    flags = (ctypes.c_ubyte * pages)()
    if _libc.mincore(ctypes.c_void_p(first), ctypes.c_size_t(pages * page), flags) != 0:
        raise OSError(ctypes.get_errno(), "mincore failed")
    return (pages - bytes(flags).count(0)) * page


def _caught_up(engine: Engine, held: float) -> bool:
    """Every message sent is in the ledger, and the pushers have had time to report their last sends."""
    ledger = engine.model.ledger
    return time.monotonic() - held >= SETTLE_S and ledger.sent == ledger.delivered_unique


def _children_cpu_s(engine: Engine) -> float:
    """CPU seconds used so far by the engine's running children (all their threads)."""
    total = 0
    for child in engine.supervisor.children.values():
        try:
            fields = Path(f"/proc/{child.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICKS


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _mb(kb: int) -> float:
    return round(kb / 1024, 1)


def run(settings: Settings) -> dict[str, Any]:
    """The measurement in a child process; killed (and so its engine's children) if it overruns."""
    args = [str(settings.scale_workers), str(settings.scale_pushers), str(settings.scale_seconds),
            str(settings.scale_catch_up_s), str(os.getpid())]
    timeout_s = CONNECT_TIMEOUT_S + settings.scale_seconds + settings.scale_catch_up_s + 30
    done = subprocess.run([sys.executable, "-m", "benchmarks.scale", *args], capture_output=True, text=True,
                          timeout=timeout_s, cwd=Path(__file__).resolve().parent.parent)
    if done.returncode != 0:
        raise RuntimeError(f"scale benchmark failed: {done.stderr.strip()[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["ledger_target"] = f"<= {TARGET_LEDGER_BYTES_PER_MESSAGE:g} byte per message"
    result["ledger_met"] = result["ledger_bytes_per_message"] <= TARGET_LEDGER_BYTES_PER_MESSAGE
    return result


def main(argv: list[str]) -> None:
    workers, pushers, parent_pid = int(argv[0]), int(argv[1]), int(argv[4])
    seconds, catch_up_s = float(argv[2]), float(argv[3])
    die_with_parent(parent_pid)
    print(json.dumps(measure(workers, pushers, seconds, catch_up_s)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

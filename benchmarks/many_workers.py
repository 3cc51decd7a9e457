"""How many workers a run can hold: start N over ipc, wait until all are connected, send a few
small messages and drain, and measure what it costs the machine.

``python -m benchmarks.many_workers 128 256 512`` prints one JSON line per N: seconds to start
and connect them all, each worker's memory (RSS, and PSS: its share once pages shared with
the other children are split), the file descriptors the engine and the pusher hold, and the
engine's peak memory.  Each N runs in a process of its own, so the engine figures are its own.
This is what config.MAX_WORKERS is based on; it is not part of ``python -m benchmarks``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.driving import all_connected, running, step_until
from rrsim.child.deathsig import die_with_parent
from rrsim.scenario.setup import Setup


def _kb(path: str, key: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _fds(pid: int | str) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def measure(workers: int) -> dict[str, Any]:
    setup = Setup(workers=workers, pushers=1, rate=0.0, messages=4 * workers, size=32, wait_ready=True,
                  duration=300.0, drain_s=5.0)
    available_before = _kb("/proc/meminfo", "MemAvailable")
    fds_before = _fds("self")
    started = time.monotonic()
    with running(setup) as engine:
        spawned_s = time.monotonic() - started
        step_until(engine, lambda: all_connected(engine), 600, f"{workers} workers connecting")
        connected_s = time.monotonic() - started
        pids = {name: child.process.pid for name, child in engine.supervisor.children.items()}
        worker_pids = [pid for name, pid in pids.items() if name.startswith("w")]
        rss = [_kb(f"/proc/{pid}/status", "VmRSS") for pid in worker_pids]
        pss = [_kb(f"/proc/{pid}/smaps_rollup", "Pss") for pid in worker_pids]
        engine_fds = _fds("self") - fds_before
        pusher_fds = _fds(pids["p1"])
        available_connected = _kb("/proc/meminfo", "MemAvailable")
        step_until(engine, lambda: engine.finished, 600, f"{workers} workers draining")
        drained_s = time.monotonic() - started
        totals = engine.model.totals()
    return {
        "workers": workers,
        "spawn_s": round(spawned_s, 2),
        "all_connected_s": round(connected_s, 2),
        "drained_s": round(drained_s, 2),
        "worker_rss_mb": round(sum(rss) / len(rss) / 1024, 1),
        "worker_pss_mb": round(sum(pss) / len(pss) / 1024, 1),
        "machine_memory_used_mb": round((available_before - available_connected) / 1024),
        "engine_fds": engine_fds,
        "engine_fds_per_worker": round(engine_fds / workers, 2),
        "pusher_fds": pusher_fds,
        "engine_peak_rss_mb": round(_kb("/proc/self/status", "VmHWM") / 1024, 1),
        "sent": totals.sent,
        "delivered": totals.delivered,
        "load_average_1m": os.getloadavg()[0],
    }


def main(argv: list[str]) -> None:
    if argv[:1] == ["--one"]:
        die_with_parent(int(argv[2]))
        print(json.dumps(measure(int(argv[1]))), flush=True)
        return
    for workers in argv or ["128", "256", "512"]:
        done = subprocess.run([sys.executable, "-m", "benchmarks.many_workers", "--one", workers, str(os.getpid())],
                              capture_output=True, text=True, timeout=900, cwd=Path(__file__).resolve().parent.parent)
        print(done.stdout.strip() or done.stderr.strip()[-2000:], flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

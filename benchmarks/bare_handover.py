"""The hand-over floor: the guide's LRU broker in bare pyzmq, DEALER workers that sleep each
message's exponential work, one Poisson PUSH; no rrsim code on the path (issue 27).

``python -m benchmarks.bare_handover [RATE MESSAGES WORKERS WORK_MS]`` (defaults 720 3000 8 10, the
issue's load 0.9) prints, as rrsim's report measures them, the hand-over (a worker's done to its
next message's receipt, when that message was sent before the done), the mean wait and the mean
sojourn.  The children run at rrsim's children's niceness.  Run it beside ``rrsim run`` of the same
setup (lb-broker, strategy lru, Poisson arrivals, exponential work), alternating, to see what
rrsim adds to the round trip a worker pays per message.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import zmq

from rrsim.child.runtime import CHILD_NICENESS
from rrsim.model.overheads import split_overheads

SEED = 7
IDLE_MS = 3000  # a worker that has received nothing for this long has received everything


def pusher(endpoint: str, rate: float, messages: int, work_ms: float) -> None:
    """Poisson sends, each message its send time and its work in microseconds."""
    sock = zmq.Context().socket(zmq.PUSH)
    sock.bind(endpoint)
    rng = np.random.default_rng(SEED)
    gaps, works = rng.exponential(1 / rate, messages), rng.exponential(work_ms * 1000, messages).astype(np.int64)
    time.sleep(1.0)  # the broker connects
    due = time.monotonic()
    for gap, work_us in zip(gaps, works, strict=True):
        due += gap
        if (left := due - time.monotonic()) > 0:
            time.sleep(left)
        sock.send(np.array([time.monotonic_ns(), work_us], dtype=np.int64).tobytes())
    time.sleep(IDLE_MS / 1000)  # keep the queue until the workers have it


def broker(frontend_endpoint: str, backend_endpoint: str) -> None:
    """The guide's loop: poll the backend always, the frontend only while a worker is ready."""
    ctx = zmq.Context()
    frontend, backend = ctx.socket(zmq.PULL), ctx.socket(zmq.ROUTER)
    backend.bind(backend_endpoint)
    frontend.connect(frontend_endpoint)
    poll_both, poll_backend = zmq.Poller(), zmq.Poller()
    poll_both.register(frontend, zmq.POLLIN)
    for poller in (poll_both, poll_backend):
        poller.register(backend, zmq.POLLIN)
    ready: list[bytes] = []
    while events := dict((poll_both if ready else poll_backend).poll(IDLE_MS * 2)):
        if backend in events:
            ready.append(backend.recv_multipart()[0])
        if frontend in events and ready:
            backend.send_multipart([ready.pop(0), b"", frontend.recv()])


def worker(backend_endpoint: str, out: str) -> None:
    """READY, then for each message: receive, sleep its work, READY; (sent, received, done) of each to ``out``."""
    sock = zmq.Context().socket(zmq.DEALER)
    sock.connect(backend_endpoint)
    sock.rcvtimeo = IDLE_MS
    sock.send_multipart([b"", b"READY"])
    rows = []
    try:
        while True:
            message = sock.recv_multipart()[1]
            received = time.monotonic_ns()
            sent, work_us = np.frombuffer(message, dtype=np.int64)
            time.sleep(work_us / 1e6)
            done = time.monotonic_ns()
            sock.send_multipart([b"", b"READY"])
            rows.append((int(sent), received, done))
    except zmq.Again:
        pass
    Path(out).write_text(json.dumps(rows))


def measure(rate: float, messages: int, workers: int, work_ms: float) -> dict[str, float]:
    run_dir = tempfile.mkdtemp(prefix="rrsim-handover-")
    frontend, backend = f"ipc://{run_dir}/frontend", f"ipc://{run_dir}/backend"
    child = ["nice", "-n", str(CHILD_NICENESS), sys.executable, "-m", "benchmarks.bare_handover"]
    processes = [subprocess.Popen([*child, "broker", frontend, backend])]
    time.sleep(0.3)
    processes += [subprocess.Popen([*child, "worker", backend, f"{run_dir}/w{i}.json"]) for i in range(workers)]
    processes.append(subprocess.Popen([*child, "pusher", frontend, str(rate), str(messages), str(work_ms)]))
    for process in processes:
        process.wait(timeout=messages / rate + 60)
    handovers, waits, sojourns = [], [], []
    for i in range(workers):
        rows = np.array(json.loads(Path(f"{run_dir}/w{i}.json").read_text()), dtype=np.int64).reshape(-1, 3)
        if len(rows):
            sent, received, done = rows[:, 0], rows[:, 1], rows[:, 2]
            handovers.append(split_overheads(sent, received, done, None)[0])
            waits.append(received - sent)
            sojourns.append(done - sent)
    handover = np.concatenate(handovers) / 1e6
    return {"handover_p50_ms": round(float(np.median(handover)), 3), "handover_p99_ms": round(float(np.quantile(handover, 0.99)), 3),
            "handover_mean_ms": round(float(handover.mean()), 3), "wait_mean_ms": round(float(np.concatenate(waits).mean()) / 1e6, 2),
            "sojourn_mean_ms": round(float(np.concatenate(sojourns).mean()) / 1e6, 2), "messages": int(sum(len(w) for w in waits))}


def main(argv: list[str]) -> None:
    role, args = (argv[0], argv[1:]) if argv and argv[0] in ("pusher", "broker", "worker") else ("", argv)
    if role == "pusher":
        pusher(args[0], float(args[1]), int(args[2]), float(args[3]))
    elif role == "broker":
        broker(args[0], args[1])
    elif role == "worker":
        worker(args[0], args[1])
    else:
        rate, messages, workers, work_ms = (float(args[0]), int(args[1]), int(args[2]), float(args[3])) if args else (720.0, 3000, 8, 10.0)
        print(json.dumps(measure(rate, messages, workers, work_ms)))


if __name__ == "__main__":
    main(sys.argv[1:])

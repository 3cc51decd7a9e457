"""The bare pyzmq baselines: one PUSH process sending prebuilt payloads, PULL processes that count;
and the same PUSH into a least-recently-used broker in the style of the guide's ``lbbroker``
(PULL frontend, ROUTER backend) serving DEALER workers that count.

``push-compiled`` and ``pull-compiled`` are the same with the send and receive loops in C
(``_rrsim_loops.bare_send`` / ``bare_receive``, on the same pyzmq sockets): the limit of this
machine.  Each says the CPU it spent on its loop (``cpu_s``: from its first send, or its first
receipt, to its end).

No rrsim code on the message path: ``python -m benchmarks.bare push ENDPOINT MESSAGES SIZE PEERS``
binds, waits until ``PEERS`` PULLs have completed their handshake, sends as fast as one
``send`` loop can, and prints when it sent the first and last message.
``python -m benchmarks.bare pull ENDPOINT`` connects, counts, and prints how many it received
and when the last one came, once nothing has come for ``END_IDLE_MS``.  Times are
CLOCK_MONOTONIC nanoseconds, the clock rrsim's pushers and workers stamp with.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import zmq

from rrsim.child import loops
from rrsim.child.deathsig import die_with_parent

END_IDLE_MS = 300  # a PULL that has received nothing for this long has received everything
FIRST_MESSAGE_MS = 30_000
RUN_TIMEOUT_S = 120.0


def push(endpoint: str, messages: int, size: int, peers: int, compiled: bool = False) -> None:
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUSH)
    monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
    sock.bind(endpoint)
    _say({"endpoint": sock.last_endpoint.decode()})
    connected = 0
    while connected < peers:  # synchronized start, as rrsim's wait_ready
        monitor.recv_multipart()
        connected += 1
    payload = b"\0" * size
    send = sock.send
    cpu, first_send_ns = time.process_time(), time.monotonic_ns()
    if compiled:
        assert loops.compiled().bare_send(sock.underlying, payload, messages) == 0
    else:
        for _ in range(messages):
            send(payload)
    last_send_ns = time.monotonic_ns()
    _say({"first_send_ns": first_send_ns, "last_send_ns": last_send_ns, "cpu_s": time.process_time() - cpu})
    sys.stdin.read()  # stay (and keep the queues) until the driver is done with us


def pull(endpoint: str, compiled: bool = False) -> None:
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PULL)
    sock.connect(endpoint)
    if not compiled:
        _count(sock, sock.recv)
        return
    sock.rcvtimeo = FIRST_MESSAGE_MS
    sock.recv()
    cpu = time.process_time()
    sock.rcvtimeo = END_IDLE_MS
    count, last_recv_ns, _again = loops.compiled().bare_receive(sock.underlying)
    _say({"count": count + 1, "last_recv_ns": last_recv_ns, "cpu_s": time.process_time() - cpu})


def _count(sock: zmq.Socket, receive) -> None:
    """Call ``receive`` until nothing has come for END_IDLE_MS; say how many came, and when the last."""
    clock = time.monotonic_ns
    sock.rcvtimeo = FIRST_MESSAGE_MS
    receive()
    count, last_recv_ns, cpu = 1, clock(), time.process_time()
    sock.rcvtimeo = END_IDLE_MS
    try:
        while True:
            receive()
            count += 1
            last_recv_ns = clock()
    except zmq.Again:
        pass
    _say({"count": count, "last_recv_ns": last_recv_ns, "cpu_s": time.process_time() - cpu})


def lbbroker(frontend_endpoint: str, backend_endpoint: str, expected_workers: int) -> None:
    """The guide's LRU loop: poll the backend always, the frontend only while a worker is ready."""
    ctx = zmq.Context()
    frontend = ctx.socket(zmq.PULL)
    backend = ctx.socket(zmq.ROUTER)
    backend.bind(backend_endpoint)
    _say({"backend": backend.last_endpoint.decode()})
    workers: list[bytes] = []
    while len(workers) < expected_workers:  # a synchronized start: the pusher sends once we connect
        workers.append(backend.recv_multipart()[0])
    frontend.connect(frontend_endpoint)
    poll_both, poll_backend = zmq.Poller(), zmq.Poller()
    poll_both.register(frontend, zmq.POLLIN)
    for poller in (poll_both, poll_backend):
        poller.register(backend, zmq.POLLIN)
    started = False  # its CPU is counted from the first message (the driver reads the rest)
    while True:
        ready = dict((poll_both if workers else poll_backend).poll())
        if not started:
            _say({"cpu_s": time.process_time()})
            started = True
        if backend in ready:
            identity, _empty, _ready = backend.recv_multipart()
            workers.append(identity)
        if frontend in ready and workers:
            backend.send_multipart([workers.pop(0), b"", frontend.recv()])


def lbworker(endpoint: str) -> None:
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.connect(endpoint)
    recv, send = sock.recv_multipart, sock.send_multipart
    send([b"", b"READY"])

    def receive() -> None:
        recv()
        send([b"", b"READY"])

    _count(sock, receive)


def process_cpu_s(pid: int) -> float:
    """CPU a live process has spent so far, every thread (ZeroMQ's I/O thread too), to the
    nanosecond: /proc/PID/task/*/schedstat (/proc/PID/stat counts 10 ms ticks, as coarse as a
    worker's whole share of a quick run).  0 when it is gone."""
    total = 0
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


def _say(fields: dict) -> None:
    print(json.dumps(fields), flush=True)


@dataclass(frozen=True)
class BareResult:
    messages: int
    received: int
    window_s: float  # first send to last receipt
    sender_cpu_s: float = 0.0  # the pusher's CPU over its send loop
    receivers_cpu_s: float = 0.0  # the receivers' (or workers'), first receipt to the end, all together
    broker_cpu_s: float = 0.0  # the lbbroker's, first message to the end

    @property
    def msgs_per_s(self) -> float:
        return self.received / self.window_s


def run_bare(transport: str, workers: int, messages: int, size: int = 64, broker: bool = False,
             compiled: bool = False) -> BareResult:
    """One bare run on loopback; every process is gone and the ipc directory removed on return."""
    run_dir = tempfile.mkdtemp(prefix="rrsim-bench-")
    endpoint = f"ipc://{run_dir}/push" if transport == "ipc" else "tcp://127.0.0.1:*"
    children: list[subprocess.Popen] = []
    deadline = time.monotonic() + RUN_TIMEOUT_S
    try:
        pusher = _Child(children, "push-compiled" if compiled else "push", endpoint, str(messages), str(size), str(1 if broker else workers))
        endpoint = pusher.read(deadline)["endpoint"]
        lbbroker = None
        if broker:
            backend = f"ipc://{run_dir}/backend" if transport == "ipc" else "tcp://127.0.0.1:*"
            lbbroker = _Child(children, "lbbroker", endpoint, backend, str(workers))
            endpoint = lbbroker.read(deadline)["backend"]
        pulls = [_Child(children, "lbworker" if broker else "pull-compiled" if compiled else "pull", endpoint) for _ in range(workers)]
        sent = pusher.read(deadline)
        counts = [p.read(deadline) for p in pulls]
        # The lbbroker's CPU from its first message to now (it is idle once the workers are done)
        broker_cpu_s = process_cpu_s(lbbroker.process.pid) - lbbroker.read(deadline)["cpu_s"] if lbbroker else 0.0
    finally:
        for child in children:
            child.kill()
        for child in children:
            child.communicate()
        _remove(Path(run_dir))
    received = sum(c["count"] for c in counts)
    last_recv_ns = max(c["last_recv_ns"] for c in counts)
    return BareResult(messages, received, (last_recv_ns - sent["first_send_ns"]) / 1e9, sent["cpu_s"],
                      sum(c["cpu_s"] for c in counts), broker_cpu_s)


class _Child:
    """A baseline process and the JSON lines it prints."""

    def __init__(self, children: list[subprocess.Popen], *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bare", *args, str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parent.parent,
        )
        children.append(self.process)
        self.buffer = b""

    def read(self, deadline: float) -> dict:
        """The next line it prints, waiting at most until ``deadline`` (time.monotonic)."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError("bare baseline: a child did not answer in time")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RuntimeError("bare baseline: a child ended without answering")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)


def _remove(run_dir: Path) -> None:
    for entry in run_dir.iterdir():
        entry.unlink()
    run_dir.rmdir()


def main(argv: list[str]) -> None:
    role, *args, parent_pid = argv
    die_with_parent(int(parent_pid))
    if role in ("push", "push-compiled"):
        push(args[0], int(args[1]), int(args[2]), int(args[3]), role == "push-compiled")
    elif role == "lbbroker":
        lbbroker(args[0], args[1], int(args[2]))
    elif role == "lbworker":
        lbworker(args[0])
    else:
        pull(args[0], role == "pull-compiled")


if __name__ == "__main__":
    main(sys.argv[1:])

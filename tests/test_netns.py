"""Two machines as two network namespaces that the test makes itself (ip netns + a veth pair,
addresses on that private link only): the run listens beyond loopback, so with keys; a worker
joins from the other side, receives, and is lost contact when the cable is cut."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_remote import PATIENCE_S, read_until

from helpers import processes_mentioning, wait_until
from rrsim.remote import keys

pytestmark = pytest.mark.system  # every test here starts processes or opens sockets

RUN = """
[setup]
workers = 1
messages = 0
rate = 100.0
duration = 30.0  # ended by the test once the worker is gone
"""


# Set by .ci/run when it has made a network namespace itself: then this test must run, and a refusal
# that would skip it elsewhere fails it, so CI cannot pass with it silently skipped.
REQUIRED = "RRSIM_REQUIRE_NETNS"


def _cannot(reason: str) -> None:
    """Skip, saying why in the summary (-ra), unless CI found namespaces work here: then fail."""
    if os.environ.get(REQUIRED):
        pytest.fail(f"{reason}; yet {REQUIRED} is set: .ci/run made a network namespace on this machine")
    pytest.skip(reason)


def _ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)


@pytest.fixture
def two_hosts():
    """(run host's namespace, its address, worker's namespace); removed afterwards."""
    if os.geteuid() != 0:
        _cannot("needs root to make network namespaces (ip netns): CI runs as root")
    if shutil.which("ip") is None:
        _cannot("needs the ip command (iproute2) to make network namespaces")
    tag = os.getpid() % 200 + 20
    host, far = f"rrsim-host-{os.getpid()}", f"rrsim-far-{os.getpid()}"
    host_link, far_link = f"rrh{os.getpid() % 100000}", f"rrf{os.getpid() % 100000}"
    address = f"10.231.{tag}.1"
    made = _ip("netns", "add", host)
    if made.returncode != 0:
        _cannot(f"cannot make a network namespace here: {made.stderr.strip()}")
    try:
        for step in (("netns", "add", far), ("link", "add", host_link, "type", "veth", "peer", "name", far_link),
                     ("link", "set", host_link, "netns", host), ("link", "set", far_link, "netns", far),
                     ("-n", host, "addr", "add", f"{address}/24", "dev", host_link),
                     ("-n", far, "addr", "add", f"10.231.{tag}.2/24", "dev", far_link),
                     ("-n", host, "link", "set", host_link, "up"), ("-n", far, "link", "set", far_link, "up"),
                     ("-n", host, "link", "set", "lo", "up"), ("-n", far, "link", "set", "lo", "up")):
            done = _ip(*step)
            assert done.returncode == 0, (step, done.stderr)
        yield host, address, far, far_link
    finally:
        _ip("netns", "del", host)
        _ip("netns", "del", far)


def in_namespace(namespace: str, tmp: Path, *args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen(["ip", "netns", "exec", namespace, sys.executable, "-m", "rrsim", *args],
                            env={**os.environ, "TMPDIR": str(tmp)}, stdin=subprocess.DEVNULL, text=True, **popen)


def test_a_worker_joins_from_another_namespace_and_is_lost_when_the_cable_is_cut(tmp_path, two_hosts):
    host_ns, address, far_ns, far_link = two_hosts
    host = keys.create(tmp_path / "host")[0]
    far = keys.create(tmp_path / "far")[0]
    keys.allow(host.directory, far.public_file)
    (tmp_path / "run.toml").write_text(RUN)
    report = tmp_path / "report.json"
    run = in_namespace(host_ns, tmp_path, "run", str(tmp_path / "run.toml"), "--listen", f"tcp://{address}:0",
                       "--keys", str(host.directory), "--json", str(report),
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    joined = None
    try:
        line = read_until(run.stderr, "rrsim worker --join", PATIENCE_S)
        join = line.split("--join ")[1].split()[0]
        assert join.startswith(f"tcp://{address}:")
        joined = in_namespace(far_ns, tmp_path, "worker", "--join", join, f"--server-key={host.public.decode()}",
                              "--key", str(far.secret_file), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        read_until(joined.stdout, "joined", PATIENCE_S)
        joined_at = time.monotonic()
        time.sleep(0.5)  # it works a while: its receipts come over the link
        cut = time.monotonic()
        assert _ip("-n", far_ns, "link", "set", far_link, "down").returncode == 0  # the cable is cut
        # On its side the run falls silent: it leaves with a line saying so.
        assert joined.wait(PATIENCE_S) == 0
        assert "fell silent" in joined.stdout.read()
        left_s = time.monotonic() - cut
        time.sleep(0.5)  # the run heard nothing either: by now it has said so
        run.send_signal(signal.SIGINT)  # ctrl+c: the report of the run so far
        assert run.wait(20) == 130
    finally:
        for process in (run, joined):
            if process is not None:
                process.kill()
                process.wait()
    result = json.loads(report.read_text())
    remote = next(w for w in result["workers"] if w["remote"])
    assert remote["received"] > 0 and remote["foreign"] == 0
    assert remote["state"] == "lost contact", remote["state"]
    assert left_s < 10
    # Noticed by heartbeats (3 s of silence) before the run's end, not at it.
    life = remote["lives"][0]
    assert life["how_ended"] == "lost contact"
    assert life["ended_s"] - life["started_s"] < (cut - joined_at) + 3.0 + 1.5
    totals = result["totals"]
    assert totals["sent"] == totals["delivered"] + totals["lost"] + totals["in_flight"]
    wait_until(lambda: not processes_mentioning(str(tmp_path)), 5, "nothing left running")

"""The run's side of the join protocol: it answers remote workers' clock questions and join
requests, and watches that those who joined are still in touch.

It decides nothing about the run: a join request comes back to the engine as a ``Join`` (the
engine names the worker and says what it is told), and everything else as events to emit.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import zmq

from rrsim import events as ev
from rrsim.child.spec import ChildSpec, Curve
from rrsim.errors import UserError
from rrsim.remote.listener import LOST_CONTACT_NS, Listener, boot_id, now_ns, reply
from rrsim.scenario.setup import check_value


@dataclass(frozen=True)
class Join:
    """A remote worker's join request, its facts checked (it comes from another machine)."""

    identity: bytes  # its connection on the join socket, to answer it
    host: str  # its machine, as it says
    label: str
    pid: int
    offset_ns: int
    uncertainty_ns: int
    speed: float
    work_ms: float | None  # None: the run's
    address: str  # where its connection came from


@dataclass
class RemoteWorker:
    """A worker that joined from elsewhere: not our child, so commands reach it as control state."""

    name: str
    host: str  # its machine, as it says
    label: str
    pid: int
    last_seen_ns: int
    clock_uncertainty_ns: int
    clock_estimates: int = 1
    ending: str | None = None  # "killed" | "stopped" once asked
    paused: bool = False
    ended: bool = False

    def running(self) -> bool:
        """Still in touch and not asked to end."""
        return not self.ended and self.ending is None

    def kill(self) -> None:
        # No signal reaches it: it is told to exit at once, and counts as killed now (take_end).
        self.ending = "killed"

    def stop(self) -> None:
        self.ending = "stopped"  # it finishes what it holds and says goodbye

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def check_revivable(self) -> None:
        raise UserError(f"{self.name} is a remote worker, not our child: run rrsim worker --join again on "
                        f"{self.host} to bring a worker back")

    def control(self) -> dict[str, bool] | None:
        """What its control messages add to a local child's, or None once it needs none.  A killed
        worker is told to exit for as long as the run lasts: it may have missed the first."""
        if self.ended and self.ending != "killed":
            return None
        return {"paused": self.paused, "stop": self.ending == "stopped", "exit": self.ending == "killed"}

    def end(self, how: str, exit_code: int | None) -> ev.ProcessEnded:
        self.ended = True
        return ev.ProcessEnded(now_ns(), self.name, 1, how, exit_code)

    def take_end(self) -> ev.ProcessEnded | None:
        """Its end, if it was killed since the last call."""
        return self.end("killed", None) if self.ending == "killed" and not self.ended else None

    def end_with_run(self) -> ev.ProcessEnded | None:
        return None if self.ended else self.end("run-end", None)


BOOT_ID = boot_id()  # read once: a clock answer must not wait for a file


class Host:
    """The join endpoint's conversations and the remote workers that joined through it."""

    def __init__(self, listener: Listener, telemetry: str, control: str) -> None:
        assert listener.join_sock is not None, "the listener is opened first"
        self.listener, self.join_sock = listener, listener.join_sock
        self.telemetry, self.control = telemetry, control  # the run's sockets, bound on the listen address
        self.remotes: dict[str, RemoteWorker] = {}

    def serve(self, now: int) -> list[ev.Event | Join]:
        """Answer the join endpoint, note refused handshakes, and notice remote workers gone silent:
        the join requests to decide on, and the events to emit."""
        listener = self.listener
        out: list[ev.Event | Join] = [ev.PeerRefused(now, r.address, r.why, r.endpoint) for r in listener.refused()]
        while True:
            try:
                frames = self.join_sock.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                break
            if len(frames) == 3 and not frames[1].bytes:
                # libzmq says where the connection came from (ZMQ_MSG_PROPERTY_PEER_ADDRESS).
                answer = self._answer(frames[0].bytes, frames[2].bytes, str(frames[2].get("Peer-Address")))
                if answer is not None:
                    out.append(answer)
        for remote in self.remotes.values():
            if not remote.ended and now - remote.last_seen_ns > LOST_CONTACT_NS:
                out.append(remote.end(remote.ending or "lost contact", None))
        return out

    def _answer(self, identity: bytes, body: bytes, address: str) -> ev.Event | Join | None:
        """A clock question is answered here; a join request goes to the engine."""
        try:
            request = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            request = None
        if not isinstance(request, dict):
            return ev.MalformedTelemetry(now_ns(), "join request is not a JSON object")
        if "clock" in request:  # NTP-style: the worker times the round trip around our clock
            reply(self.join_sock, identity, {"clock": request["clock"], "ours_ns": now_ns(), "boot": BOOT_ID})
            return None
        try:
            return _join_request(identity, request, address)
        except UserError as error:
            self.refuse(identity, str(error))
            return None

    def refuse(self, identity: bytes, why: str) -> None:
        reply(self.join_sock, identity, {"refused": why})

    def admit(self, join: Join, name: str, spec: ChildSpec, now: int) -> RemoteWorker:
        """Answer ``join`` with ``spec`` (a local child's, with the run's endpoints and key for
        another machine), and know it from now on as ``name``."""
        pair = self.listener.pair
        spec = dataclasses.replace(spec, telemetry=self.telemetry, control=self.control,
                                   curve=Curve("", pair.public.decode(), "") if pair else None)
        remote = RemoteWorker(name, join.host, join.label, join.pid, now, join.uncertainty_ns)
        self.remotes[name] = remote
        reply(self.join_sock, identity=join.identity, body={"spec": spec.to_dict()})
        return remote

    def heard(self, event: ev.Event, t: int) -> tuple[ev.Event, ...] | None:
        """Note that a remote worker spoke.  None: ``event`` is not the host's business, emit it;
        otherwise (a heartbeat) the events to emit in its place."""
        if not self.remotes:
            return None
        name = getattr(event, "name", None) or getattr(event, "worker", None)
        remote = self.remotes.get(name) if isinstance(name, str) else None
        if remote is None:
            return None
        remote.last_seen_ns = t
        if not isinstance(event, ev.Heartbeat):
            return None
        out: list[ev.Event] = []
        if event.clock_uncertainty_ns >= 0 and event.clock_estimates > remote.clock_estimates:
            remote.clock_estimates = event.clock_estimates
            out.append(ev.ClockEstimated(t, remote.name, event.clock_uncertainty_ns))
        if event.last and not remote.ended:
            out.append(remote.end(remote.ending or "left", 0))
        return tuple(out)


def _join_request(identity: bytes, request: dict[str, Any], address: str) -> Join:
    """The facts of a join request, checked: it comes from another machine."""
    join = request.get("join")
    if not isinstance(join, dict):
        raise UserError("not a join request")
    text: dict[str, str] = {}
    for key in ("host", "label"):
        value = join.get(key, "")
        if not isinstance(value, str) or len(value) > 120:
            raise UserError(f"bad {key} in the join request")
        text[key] = value
    numbers: dict[str, int] = {}
    for key in ("pid", "offset_ns", "uncertainty_ns"):
        value = join.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or abs(value) >= 1 << 62:
            raise UserError(f"bad {key} in the join request")
        numbers[key] = value
    speed = join.get("speed", 1.0)
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0 < speed <= 1e6:
        raise UserError("bad speed in the join request")
    work_ms = join.get("work_ms")
    if work_ms is not None:
        work_ms = check_value("work_ms", work_ms, "work_ms in the join request")
    return Join(identity, text["host"], text["label"], numbers["pid"], numbers["offset_ns"], numbers["uncertainty_ns"],
                float(speed), work_ms, address)

"""reliable: lb-broker with acknowledgements, retries and heartbeats, the ZeroMQ guide's Pirates
(chapter 4): Lazy Pirate pushers, a Paranoid Pirate broker and workers.

Where an unacknowledged message lives: with its pusher, and with the broker while a worker has
it.  A pusher keeps a copy of every message it sends until the broker tells it the message was
done (ACK) or given up (GIVEUP); when its connection to a broker is made again (a new broker
life) it sends every copy it still keeps, so killing the broker loses nothing.  The broker keeps
what it took until a worker acknowledges it: a message not acknowledged within ``retry_ms`` goes
to the front of the queue and on to the next ready worker, up to ``retries`` more times; then it
is given up.  The broker tells the pusher of each hand-over (HANDED), and a copy sent to the next
broker life carries how many there were: a message's attempts, and its retries, count across
broker lives.  Broker and workers send each other heartbeats every ``heartbeat_ms``; a worker not
heard for ``liveness`` of them (or whose connection is gone: ROUTER_MANDATORY says so) is dead
and what it held is re-queued at once.  A worker whose broker falls silent closes its socket,
waits, and connects again, waiting 1 s, then 2, 4 ... up to 32 s (the guide's ppworker).

The price is duplicates: a worker that was only slow, or paused, finishes a message that has
been handed to another since; a pusher's copies sent to a new broker life may already be done.
Every completion is reported, and the ledger counts each extra one once.

The pushers' DEALERs set ZMQ_IMMEDIATE: nothing queues for a broker that is not there (the
copies are the queue), and sending blocks at the HWM while no broker is up, as a PUSH would.
``bind`` picks who binds the first hop, as under lb-broker ("broker" is the guide's ppqueue,
which binds both its sockets); either way a new connection, made or accepted, means a broker
life that may not hold what the last one did.
"""

from __future__ import annotations

import struct
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import zmq

from rrsim import wire
from rrsim.patterns.base import RECEIVER, ROUTER, SENDER, Role, Wire, PatternSetup
from rrsim.patterns.dispatch import Dispatcher
from rrsim.child.receipts import Receipts
from rrsim.child.spec import ChildSpec
from rrsim.child.runtime import ChildRuntime
from rrsim.child.sending import send_at_rate
from rrsim.child.work import Work

SUMMARY = ("lb-broker with acknowledgements, retries and heartbeats (the guide's Pirates): a kill loses "
           "nothing, at the price of duplicates")
BINDERS = ("pusher", "broker")
SETUP_KEYS = ("retry_ms", "retries", "heartbeat_ms", "liveness")  # its own: no other pattern takes them

READY = b"READY"  # worker -> broker: [empty, READY, done so far] or, acknowledging, [..., sender, id]
BYE = b"BYE"  # worker -> broker: [empty, BYE]: stopping, deal it nothing more
HEARTBEAT = b"HEARTBEAT"  # broker -> worker [empty, HEARTBEAT]; worker -> broker [empty, HEARTBEAT, done]
ACK = b"ACK"  # broker -> pusher: [ACK, id]: done, drop your copy
GIVEUP = b"GIVEUP"  # broker -> pusher: [GIVEUP, id]: every attempt failed, drop your copy
HANDED = b"HANDED"  # broker -> pusher: [HANDED, id]: handed to a worker (a copy sent again says how often)
ID = struct.Struct("<HQ")  # a message's id, bytes 4 to 14 of its header: the pusher's number and seq
ID_AT = slice(len(wire.MAGIC), len(wire.MAGIC) + ID.size)
BACKOFF_S, BACKOFF_MAX_S = 1.0, 32.0  # ppworker's INTERVAL_INIT and INTERVAL_MAX
BURST = 1024  # messages read from one socket in one turn
REPORT_NS = 10_000_000
STOP_GRACE_MS = 20

Key = tuple[bytes, bytes]  # (the pusher's routing id, the message's id)


@dataclass(frozen=True)
class Settings:
    """This pattern's own setup keys, as a child's spec carries them."""

    retry_ms: float
    retries: int
    heartbeat_ms: float
    liveness: int

    @classmethod
    def of(cls, spec: ChildSpec) -> Settings:
        own = spec.pattern_setup
        return cls(float(own["retry_ms"]), int(own["retries"]), float(own["heartbeat_ms"]), int(own["liveness"]))


def wires(bind: str) -> list[Wire]:
    first = (Wire("broker", "frontend", "pusher", "dealer") if bind == "broker"
             else Wire("pusher", "dealer", "broker", "frontend"))
    return [first, Wire("broker", "backend", "worker", "dealer")]


def inherits_backlog(role: str, life: int, setup: PatternSetup) -> bool:
    return True  # the broker's queue, and the pushers' copies, serve whoever is up


def queue_outlives(role: str, setup: PatternSetup) -> bool:
    # Nothing waits for a dead process's next life: the broker re-queues what a dead worker held
    # for whoever is ready, and the pushers resend what a dead broker held to its next life.
    return False


def retry_budget_s(setup: PatternSetup) -> float:
    """How long a message every worker has passed may still arrive: each of its 1 + ``retries``
    hand-overs is taken back at the latest ``retry_ms`` later (sooner if its worker is found dead),
    and a worker that lost its broker hears of it after ``liveness`` heartbeats and connects again."""
    return (setup.retry_ms * (setup.retries + 1) + setup.heartbeat_ms * setup.liveness) / 1000


# ----------------------------------------------------------------------------- the pusher
class Copies:
    """A pusher's copies of the messages not yet acknowledged (the Lazy Pirate client's part):
    dropped on ACK or GIVEUP, all sent again when a broker connection is made again, and again when
    one of two connections drops: a broker's new life may connect before the old one's connection
    is seen to go (a killed process starved of the CPU takes a while to die), and the DEALER deals
    some of the copies to the dead one."""

    def __init__(self, runtime: ChildRuntime, socket_name: str) -> None:
        self.runtime, self.socket_name = runtime, socket_name
        self.sock = runtime.sockets[socket_name]
        self.copies: dict[int, bytes] = {}
        # Hand-overs to a worker the broker told of, per copy: a copy sent to the broker's next life
        # carries the count, so that a message's attempts are counted across broker lives
        self.handed: Counter[int] = Counter()
        self.resend: deque[int] = deque()
        self.connections = 0
        self.peers = 0
        self.blocked = False
        self.resent = 0

    def kept(self, seq: int, message: bytes) -> None:
        self.copies[seq] = message

    def turn(self) -> None:
        for _ in range(BURST):
            if not self.sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                break
            frames = self.sock.recv_multipart()
            if len(frames) != 2 or len(frames[1]) != ID.size:
                continue
            seq = ID.unpack(frames[1])[1]
            if frames[0] == HANDED and seq in self.copies:
                self.handed[seq] += 1
            elif frames[0] in (ACK, GIVEUP):
                self.copies.pop(seq, None)
                self.handed.pop(seq, None)
        connections, peers = self.runtime.handshakes[self.socket_name], self.runtime.peers[self.socket_name]
        # A broker again (what the last one held may be gone with it), or a connection gone while
        # another is up (what was dealt to it is gone)
        if (connections > self.connections and self.connections) or 0 < peers < self.peers:
            self.resend = deque(sorted(self.copies))
        self.connections, self.peers = connections, peers
        self.blocked = False
        while self.resend:
            message = self.copies.get(self.resend[0])
            if message is not None:
                try:
                    self.sock.send_multipart([message, b"%d" % self.handed[self.resend[0]]], zmq.NOBLOCK)
                except zmq.Again:
                    self.blocked = True
                    return
                self.resent += 1
            self.resend.popleft()

    def busy(self) -> bool:
        return bool(self.resend) and not self.blocked

    def counters(self) -> dict[str, int]:
        return {"retried": self.resent, "kept": len(self.copies)}


def pusher(runtime: ChildRuntime) -> None:
    """The shared open-loop sender, on a DEALER that keeps a copy of each message until acknowledged."""
    dealer = runtime.ctx.socket(zmq.DEALER)
    dealer.sndhwm = runtime.spec.sndhwm
    dealer.rcvhwm = 0  # an acknowledgement must never be dropped
    dealer.immediate = 1  # queue only to a broker that is there: the copies are the queue
    dealer.routing_id = runtime.name.encode()
    runtime.wire("dealer", dealer)
    send_at_rate(runtime, "dealer", Copies(runtime, "dealer"))


# ----------------------------------------------------------------------------- the broker
@dataclass
class Entry:
    sender: bytes
    message: bytes
    attempts: int = 0  # hand-overs to a worker, by this broker life and the ones before
    worker: bytes | None = None  # who has it now; None: queued
    last: bytes | None = None  # who had it before it was taken back: its next hand-over avoids it


@dataclass(frozen=True)
class GivenUp:
    key: Key
    entry: Entry
    why: str  # "no-ack" (retry_ms passed), "silent" (missed heartbeats) or "gone" (disconnected)
    worker: bytes


class Book:
    """The broker's record of every message taken and not yet acknowledged: pure, no sockets.

    ``held`` is the queue (re-queued messages go to its front); ``holds`` what each worker has
    been handed; ``timers`` when each hand-over's acknowledgement is due, in order (``retry_ms``
    is one for all)."""

    def __init__(self, retry_ms: float, retries: int) -> None:
        self.retry_ns, self.retries = int(retry_ms * 1_000_000), retries
        self.entries: dict[Key, Entry] = {}
        self.held: deque[Key] = deque()
        self.queued = 0
        self.holds: dict[bytes, set[Key]] = {}
        self.timers: deque[tuple[int, Key, int]] = deque()
        self.retried = self.given_up = 0
        self.attempts: Counter[int] = Counter()  # of each message acknowledged: hand-overs it took
        # hand-overs again of messages each worker had been handed and did not acknowledge in time
        self.retried_from: Counter[bytes] = Counter()

    def take(self, sender: bytes, message: bytes, handed_before: int = 0) -> bool:
        """Queue a message from ``sender``; False if it is here already (a pusher's copy).
        ``handed_before``: hand-overs an earlier broker life made of it, as its pusher was told."""
        key = (sender, message[ID_AT])
        if key in self.entries:
            return False
        self.entries[key] = Entry(sender, message, attempts=handed_before)
        self.held.append(key)
        self.queued += 1
        return True

    def first(self) -> Key | None:
        """The message to hand over next, if any is queued."""
        while self.held:
            entry = self.entries.get(self.held[0])
            if entry is not None and entry.worker is None:
                return self.held[0]
            self.held.popleft()  # acknowledged while queued, or queued twice
        return None

    def handed(self, key: Key, worker: bytes, now_ns: int) -> None:
        self.held.popleft()
        self.queued -= 1
        entry = self.entries[key]
        entry.attempts += 1
        entry.worker = worker
        self.holds.setdefault(worker, set()).add(key)
        self.timers.append((now_ns + self.retry_ns, key, entry.attempts))
        if entry.last is not None:  # taken back from a worker of this life: a retry
            self.retried += 1
            self.retried_from[entry.last] += 1

    def acked(self, key: Key) -> Entry | None:
        entry = self.entries.pop(key, None)
        if entry is None:
            return None  # done before (a duplicate), or handed out by an earlier broker life
        if entry.worker is None:
            self.queued -= 1
        else:
            self.holds.get(entry.worker, set()).discard(key)
        self.attempts[entry.attempts] += 1
        return entry

    def overdue(self, now_ns: int) -> list[GivenUp]:
        """Take back every hand-over not acknowledged within retry_ms: re-queued, or given up."""
        late: list[Key] = []
        while self.timers and self.timers[0][0] <= now_ns:
            _due, key, attempt = self.timers.popleft()
            entry = self.entries.get(key)
            if entry is not None and entry.worker is not None and entry.attempts == attempt:
                late.append(key)
        return self._take_back(late, "no-ack")

    def lost_worker(self, worker: bytes, why: str) -> tuple[list[Key], list[GivenUp]]:
        """``worker`` is dead: what it held goes back to the front of the queue at once."""
        keys = sorted(self.holds.pop(worker, set()), key=lambda k: k[1])
        given_up = self._take_back(keys, why)
        return [k for k in keys if k in self.entries], given_up

    def _take_back(self, keys: list[Key], why: str) -> list[GivenUp]:
        given_up: list[GivenUp] = []
        for key in reversed(keys):  # to the front, oldest first
            entry = self.entries[key]
            worker = entry.worker or b""
            self.holds.get(worker, set()).discard(key)
            entry.worker, entry.last = None, worker
            if entry.attempts >= 1 + self.retries:
                del self.entries[key]
                self.given_up += 1
                given_up.append(GivenUp(key, entry, why, worker))
            else:
                self.held.appendleft(key)
                self.queued += 1
        return given_up[::-1]

    def counters(self) -> dict[str, int]:
        out = {"retried": self.retried, "given_up": self.given_up}
        out.update({f"attempts_{n}": count for n, count in sorted(self.attempts.items())})
        return out


@dataclass
class Peer:
    """A worker as the broker hears it: heartbeats missed in a row, counted at each of our own
    heartbeats (ppworker's liveness, kept by the broker), so a broker that was itself starved of
    the CPU for a while counts one miss for the stall, not all the heartbeats it slept through."""

    heard: bool = True  # since our last heartbeat
    missed: int = 0


def worker_name(identity: bytes) -> tuple[str, int] | None:
    """``w3.2`` -> ("w3", 2); None for an identity that is not one of ours."""
    name, _, life = identity.decode(errors="replace").partition(".")
    return (name, int(life)) if life.isdigit() and len(life) < 9 else None


def per_worker(counts: Counter[bytes]) -> dict[str, int]:
    """Counts by identity (``w3.2``) added up by worker (``w3``): the engine knows no other names."""
    out: Counter[str] = Counter()
    for identity, count in counts.items():
        if (who := worker_name(identity)) is not None:
            out[who[0]] += count
    return dict(out)


def broker(runtime: ChildRuntime) -> None:
    """lb-broker's loop, plus acknowledgements forwarded to the pushers, retries, and heartbeats."""
    spec = runtime.spec
    frontend = runtime.ctx.socket(zmq.ROUTER)
    frontend.rcvhwm = spec.rcvhwm
    frontend.sndhwm = 0  # acknowledgements to the pushers: never dropped at a HWM
    frontend.router_mandatory = 1  # an ACK for a pusher that is gone raises, and is dropped here
    backend = runtime.ctx.socket(zmq.ROUTER)
    backend.sndhwm = spec.sndhwm
    backend.router_mandatory = 1  # a send to a worker that is gone raises EHOSTUNREACH: it is dead
    backend.router_handover = 1  # a worker that reconnects (ppworker) takes its routing id back
    runtime.wire("frontend", frontend)
    runtime.wire("backend", backend)
    runtime.hello()
    workers = Dispatcher(spec.strategy, spec.max_outstanding, seed=f"{spec.seed}/{spec.life}")
    settings = Settings.of(spec)
    book = Book(settings.retry_ms, settings.retries)
    heartbeat_ns, liveness = int(settings.heartbeat_ms * 1_000_000), settings.liveness
    peers: dict[bytes, Peer] = {}
    verdicts: list[tuple[bytes, int, str, list[Key]]] = []  # told once their messages went on
    bound = spec.broker_queue
    routed = 0
    reported: tuple = ()
    clock = time.monotonic_ns
    last_report_ns = next_housekeeping_ns = 0
    next_heartbeat_ns = clock() + heartbeat_ns
    poll_both, poll_backend = zmq.Poller(), zmq.Poller()
    poll_both.register(frontend, zmq.POLLIN)
    for poller in (poll_both, poll_backend):
        poller.register(backend, zmq.POLLIN)

    def dead(identity: bytes, why: str) -> None:
        peer = peers.pop(identity)
        workers.gone(identity)
        requeued, given_up = book.lost_worker(identity, why)
        verdicts.append((identity, peer.missed, why, requeued))
        give_up(given_up)

    def give_up(given_up: list[GivenUp]) -> None:
        for lost in given_up:
            sender, message_id = lost.key
            try:
                frontend.send_multipart([sender, GIVEUP, message_id], zmq.NOBLOCK)
            except zmq.ZMQError:
                pass  # that pusher is gone: nobody keeps a copy to drop
            if message_id and len(message_id) == ID.size and lost.entry.message.startswith(wire.MAGIC):
                pusher_number, seq = ID.unpack(message_id)
                who = worker_name(lost.worker)
                runtime.report(wire.GAVE_UP, pusher=pusher_number, seqs=[seq], attempts=lost.entry.attempts,
                               why=lost.why, peer=who[0] if who else "")

    def acknowledge(sender: bytes, message_id: bytes) -> None:
        book.acked((sender, message_id))
        try:
            frontend.send_multipart([sender, ACK, message_id], zmq.NOBLOCK)
        except zmq.ZMQError:
            pass  # the pusher is not connected (this broker life is new): its copy comes again, a duplicate

    while True:
        poller = poll_both if book.queued < bound else poll_backend
        ready = dict(poller.poll(REPORT_NS // 1_000_000))
        now = clock()
        if backend in ready:
            for _ in range(BURST):
                if not backend.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                    break
                identity, *said = backend.recv_multipart()
                if len(said) < 2 or said[0] != b"":
                    continue
                peer = peers.setdefault(identity, Peer())
                peer.heard, peer.missed = True, 0  # any word is a sign of life
                if said == [b"", BYE]:
                    workers.gone(identity)
                elif said[1] == HEARTBEAT and len(said) == 3 and said[2].isdigit() and len(said[2]) <= 18:
                    if identity not in workers.workers:  # back after a verdict: it has room again
                        workers.ready(identity, int(said[2]), now)
                elif said[1] == READY and len(said) in (3, 5) and said[2].isdigit() and len(said[2]) <= 18:
                    if len(said) == 5:
                        acknowledge(said[3], said[4])
                    workers.ready(identity, int(said[2]), now)
        if frontend in ready:
            room = min(BURST, bound - book.queued)
            while room > 0 and frontend.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                sender, *rest = frontend.recv_multipart()
                # [message], or a copy sent again: [message, hand-overs an earlier life made]
                if len(rest) == 2 and rest[1].isdigit() and len(rest[1]) <= 6:
                    taken = book.take(sender, rest[0], int(rest[1]))
                else:
                    taken = len(rest) == 1 and book.take(sender, rest[0])
                room -= taken
        give_up(book.overdue(now))
        if now >= next_heartbeat_ns:
            for identity, peer in list(peers.items()):
                peer.missed = 0 if peer.heard else peer.missed + 1
                peer.heard = False
                if peer.missed >= liveness:
                    dead(identity, "silent")
                    continue
                try:
                    backend.send_multipart([identity, b"", HEARTBEAT], zmq.NOBLOCK)
                except zmq.Again:
                    pass  # its pipe is full (paused?): its silence will tell
                except zmq.ZMQError as error:
                    if error.errno != zmq.EHOSTUNREACH:
                        raise
                    dead(identity, "gone")  # disconnected: no need to wait for its silence
            next_heartbeat_ns = max(next_heartbeat_ns + heartbeat_ns, now)
        while (key := book.first()) is not None:
            entry = book.entries[key]
            identity = workers.next(now, avoid=entry.last)  # sent again: to another worker if one is ready
            if identity is None:
                break
            try:
                backend.send_multipart([identity, b"", entry.sender, entry.message], zmq.NOBLOCK)
            except zmq.Again:
                workers.full(identity)
                continue
            except zmq.ZMQError as error:
                if error.errno != zmq.EHOSTUNREACH:
                    raise
                workers.gone(identity)
                if identity in peers:
                    dead(identity, "gone")
                continue
            book.handed(key, identity, now)
            try:
                frontend.send_multipart([entry.sender, HANDED, key[1]], zmq.NOBLOCK)
            except zmq.ZMQError:
                pass  # the pusher is not connected: its copy comes with the count it has
            routed += 1
        for identity, missed, why, requeued in verdicts:
            who = worker_name(identity)
            if who is not None:
                went = {worker_name(e.worker)[0] for k in requeued if (e := book.entries.get(k)) and e.worker
                        and worker_name(e.worker)}
                runtime.report(wire.SILENT, peer=who[0], peer_life=who[1], missed=int(missed), why=why,
                               requeued=len(requeued), to=sorted(went))
        verdicts.clear()
        if now >= next_housekeeping_ns:
            state = runtime.housekeeping(now)
            if state is not None and state["strategy"] != workers.strategy:
                workers.set_strategy(state["strategy"])
            next_housekeeping_ns = now + REPORT_NS
        counters = book.counters()
        current = (book.queued, len(workers), routed, *counters.values())
        if current != reported and now - last_report_ns >= REPORT_NS:
            runtime.report(wire.QUEUE, queued=book.queued, ready=len(workers), routed=routed, counters=counters,
                           retried_from=per_worker(book.retried_from))
            reported, last_report_ns = current, now


# ----------------------------------------------------------------------------- the worker
def connect_dealer(runtime: ChildRuntime) -> zmq.Socket:
    dealer = runtime.ctx.socket(zmq.DEALER)
    dealer.rcvhwm = runtime.spec.rcvhwm
    dealer.routing_id = f"{runtime.name}.{runtime.life}".encode()
    return dealer


def worker(runtime: ChildRuntime) -> None:
    """ppworker: receive, work, acknowledge; heartbeats both ways, also while working; when the
    broker is silent for ``liveness`` heartbeats, close the socket, wait (1 s doubling to 32 s)
    and connect again.  It says READY, with how many messages it has done, on every connection.

    SIGTERM stops it gracefully: it says BYE, finishes and acknowledges what it has, and exits 0."""
    spec = runtime.spec
    runtime.stop_on_sigterm()
    dealer = runtime.wire("dealer", connect_dealer(runtime))
    runtime.hello()
    work = Work(spec.mean_work_ms, spec.work_ms, spec.speed)
    settings = Settings.of(spec)
    heartbeat_ns, liveness = int(settings.heartbeat_ms * 1_000_000), settings.liveness
    receipts = Receipts(runtime, spec.size)
    poller = runtime.poller(dealer)
    clock = time.monotonic_ns
    done = said_ready_at = 0
    next_beat_ns = clock() + heartbeat_ns
    heard, missed = True, 0  # the broker, since our last heartbeat; heartbeats it missed in a row
    backoff_s = BACKOFF_S
    waiting = False

    def beat(now_ns: int) -> None:
        """At each of our heartbeats: send it, and count one more miss if the broker said nothing."""
        nonlocal next_beat_ns, heard, missed
        if now_ns >= next_beat_ns:
            try:
                dealer.send_multipart([b"", HEARTBEAT, b"%d" % done], zmq.NOBLOCK)
            except zmq.Again:
                pass  # no broker to take it: its silence is what we go by
            # Busy working, we read nothing: whatever waits for us is a word from the broker too.
            heard = heard or bool(dealer.getsockopt(zmq.EVENTS) & zmq.POLLIN)
            missed = 0 if heard else missed + 1
            heard = False
            next_beat_ns = max(next_beat_ns + heartbeat_ns, now_ns)

    def work_on(frames: list[bytes]) -> None:
        """Work on a message [empty, sender, message] and acknowledge it, heartbeating meanwhile."""
        nonlocal done
        sender, message = (frames[1], frames[2]) if len(frames) == 3 and not frames[0] else (b"", b"")
        ours = receipts.add(message, clock())
        end_ns = clock() + int(work.seconds(message) * 1e9)
        while (left_ns := end_ns - clock()) > 0:
            time.sleep(min(left_ns, max(next_beat_ns - clock(), 0) or heartbeat_ns) / 1e9)
            beat(clock())
        if work.any and ours:
            receipts.finish(clock())
        done += 1  # foreign bytes too: the broker counts every message it handed us
        # Reported before it is acknowledged: once the broker forgets it, only our report says it
        # was done (a kill between the two would leave it done and counted nowhere).
        receipts.flush()
        ack = [sender, message[ID_AT]] if sender else []
        dealer.send_multipart([b"", READY, b"%d" % done, *ack])

    while not runtime.stopping:
        now = clock()
        timeout_ns = min(next_beat_ns - now, 100_000_000)
        if receipts.pending():
            timeout_ns = min(timeout_ns, receipts.deadline_ns() - now)
        ready = dict(poller.poll(max(0, -(-timeout_ns // 1_000_000))))
        now = clock()
        if dealer in ready:
            for _ in range(BURST):
                if not dealer.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                    break
                frames = dealer.recv_multipart()
                heard, missed = True, 0
                if waiting:
                    waiting, backoff_s = False, BACKOFF_S
                    runtime.report(wire.WAITING, waiting=False, retry_s=0.0)
                if frames != [b"", HEARTBEAT]:
                    work_on(frames)
                    if runtime.stopping:
                        break
                if receipts.due(clock()):
                    receipts.flush()
            now = clock()
        beat(now)
        if missed >= liveness:
            # The broker is silent: as ppworker, wait, then a new socket and a new connection.
            waiting = True
            runtime.report(wire.WAITING, waiting=True, retry_s=backoff_s)
            receipts.flush()
            resume_ns = now + int(backoff_s * 1e9)
            while not runtime.stopping and (left := resume_ns - clock()) > 0:
                runtime.poller().poll(min(100, -(-left // 1_000_000)))
                state = runtime.housekeeping(clock())
                if state is not None:
                    work.set(state["work_ms"], state["speed"])
            backoff_s = min(backoff_s * 2, BACKOFF_MAX_S)
            dealer = runtime.rewire("dealer", connect_dealer(runtime))
            poller = runtime.poller(dealer)
            heard, missed = True, 0
            next_beat_ns = clock() + heartbeat_ns
        if receipts.due(now):
            receipts.flush()
        state = runtime.housekeeping(now)
        if state is not None:
            work.set(state["work_ms"], state["speed"])
        if runtime.handshakes["dealer"] > said_ready_at:
            said_ready_at = runtime.handshakes["dealer"]
            dealer.send_multipart([b"", READY, b"%d" % done])

    # Stopping: tell the broker, then finish and acknowledge what was handed to us before it heard.
    dealer.send_multipart([b"", BYE])
    for _ in range(max(spec.rcvhwm, 1000) + 1000):
        if not dealer.poll(STOP_GRACE_MS, zmq.POLLIN):
            break
        frames = dealer.recv_multipart()
        if frames != [b"", HEARTBEAT]:
            work_on(frames)
        if receipts.due(clock()):
            receipts.flush()
    receipts.flush()
    runtime.close()


ROLES = {
    "pusher": Role("pusher", "p", SENDER, pusher),
    "broker": Role("broker", "b", ROUTER, broker),
    "worker": Role("worker", "w", RECEIVER, worker),
}

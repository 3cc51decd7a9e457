"""reliable's broker: lb-broker's loop plus acknowledgements forwarded to the pushers, retries,
and heartbeats both ways (the guide's Paranoid Pirate queue), as a class with a handler per
thing that happens, in the manner of pyzmq's ``examples/heartbeat/heartbeater.py``."""

from __future__ import annotations

import time
from dataclasses import dataclass

import zmq

from rrsim import wire
from rrsim.child.runtime import ChildRuntime
from rrsim.child.sockets import has_input
from rrsim.patterns.brokered import GONE, SENT, hand_to
from rrsim.patterns.dispatch import Dispatcher, worker_name
from rrsim.patterns.reliable.book import Book, GivenUp
from rrsim.patterns.reliable.protocol import (
    ACK,
    BURST,
    BYE,
    GIVEUP,
    HANDED,
    HEARTBEAT,
    ID,
    READY,
    REPORT_NS,
    Key,
    Settings,
    per_worker,
)


@dataclass
class Peer:
    """A worker as the broker hears it: heartbeats missed in a row, counted at each of our own
    heartbeats (ppworker's liveness, kept by the broker), so a broker that was itself starved of
    the CPU for a while counts one miss for the stall, not all the heartbeats it slept through."""

    heard: bool = True  # since our last heartbeat
    missed: int = 0


def is_count(frame: bytes, digits: int = 18) -> bool:
    return frame.isdigit() and len(frame) <= digits


class Broker:
    """One broker life: its two ROUTERs, the book of messages not yet acknowledged, the workers
    ready for more, and what it hears of each worker."""

    def __init__(self, runtime: ChildRuntime) -> None:
        spec = runtime.spec
        self.runtime = runtime
        self.frontend = frontend = runtime.ctx.socket(zmq.ROUTER)
        frontend.rcvhwm = spec.rcvhwm
        frontend.sndhwm = 0  # acknowledgements to the pushers: never dropped at a HWM
        frontend.router_mandatory = 1  # an ACK for a pusher that is gone raises, and is dropped here
        self.backend = backend = runtime.ctx.socket(zmq.ROUTER)
        backend.sndhwm = spec.sndhwm
        backend.router_mandatory = 1  # a send to a worker that is gone raises EHOSTUNREACH: it is dead
        backend.router_handover = 1  # a worker that reconnects (ppworker) takes its routing id back
        runtime.wire("frontend", frontend)
        runtime.wire("backend", backend)
        runtime.hello()
        settings = Settings.of(spec)
        self.workers = Dispatcher(spec.strategy, spec.max_outstanding, seed=f"{spec.seed}/{spec.life}")
        self.book = Book(settings.retry_ms, settings.retries)
        self.heartbeat_ns, self.liveness = int(settings.heartbeat_ms * 1_000_000), settings.liveness
        self.peers: dict[bytes, Peer] = {}
        self.verdicts: list[tuple[bytes, int, str, list[Key]]] = []  # told once their messages went on
        self.bound = spec.broker_queue
        self.routed = 0
        self.reported: tuple[int, ...] = ()
        self.last_report_ns = self.next_housekeeping_ns = 0
        self.next_heartbeat_ns = time.monotonic_ns() + self.heartbeat_ns
        self.poll_both, self.poll_backend = zmq.Poller(), zmq.Poller()
        self.poll_both.register(frontend, zmq.POLLIN)
        for poller in (self.poll_both, self.poll_backend):
            poller.register(backend, zmq.POLLIN)

    def run(self) -> None:
        clock = time.monotonic_ns
        while True:
            poller = self.poll_both if self.book.queued < self.bound else self.poll_backend
            ready = dict(poller.poll(REPORT_NS // 1_000_000))
            now = clock()
            if self.backend in ready:
                self.on_backend(now)
            if self.frontend in ready:
                self.on_frontend()
            self.give_up(self.book.overdue(now))
            if now >= self.next_heartbeat_ns:
                self.on_heartbeat(now)
            self.hand_out(now)
            self.tell_verdicts()
            if now >= self.next_housekeeping_ns:
                state = self.runtime.housekeeping(now)
                if state is not None and state["strategy"] != self.workers.strategy:
                    self.workers.set_strategy(state["strategy"])
                self.next_housekeeping_ns = now + REPORT_NS
            self.report(now)

    def on_backend(self, now: int) -> None:
        """What the workers said: ready (perhaps acknowledging one), a heartbeat, or bye."""
        backend, workers = self.backend, self.workers
        for _ in range(BURST):
            if not has_input(backend):
                break
            identity, *said = backend.recv_multipart()
            if len(said) < 2 or said[0] != b"":
                continue
            peer = self.peers.setdefault(identity, Peer())
            peer.heard, peer.missed = True, 0  # any word is a sign of life
            if said == [b"", BYE]:
                workers.gone(identity)
            elif said[1] == HEARTBEAT and len(said) == 3 and is_count(said[2]):
                if identity not in workers.workers:  # back after a verdict: it has room again
                    workers.ready(identity, int(said[2]), now)
            elif said[1] == READY and len(said) in (3, 5) and is_count(said[2]):
                if len(said) == 5:
                    self.acknowledge(said[3], said[4])
                workers.ready(identity, int(said[2]), now)

    def on_frontend(self) -> None:
        """Take what the pushers sent, while there is room."""
        room = min(BURST, self.bound - self.book.queued)
        while room > 0 and has_input(self.frontend):
            sender, *rest = self.frontend.recv_multipart()
            # [message], or a copy sent again: [message, hand-overs an earlier life made]
            if len(rest) == 2 and is_count(rest[1], 6):
                taken = self.book.take(sender, rest[0], int(rest[1]))
            else:
                taken = len(rest) == 1 and self.book.take(sender, rest[0])
            room -= taken

    def on_heartbeat(self, now: int) -> None:
        """Our heartbeat to every worker, and a verdict on those silent for ``liveness`` of them."""
        for identity, peer in list(self.peers.items()):
            peer.missed = 0 if peer.heard else peer.missed + 1
            peer.heard = False
            if peer.missed >= self.liveness:
                self.dead(identity, "silent")
                continue
            try:
                self.backend.send_multipart([identity, b"", HEARTBEAT], zmq.NOBLOCK)
            except zmq.Again:
                pass  # its pipe is full (paused?): its silence will tell
            except zmq.ZMQError as error:
                if error.errno != zmq.EHOSTUNREACH:
                    raise
                self.dead(identity, "gone")  # disconnected: no need to wait for its silence
        self.next_heartbeat_ns = max(self.next_heartbeat_ns + self.heartbeat_ns, now)

    def hand_out(self, now: int) -> None:
        """Hand each queued message to the worker the strategy picks, telling its pusher."""
        book, workers = self.book, self.workers
        while (key := book.first()) is not None:
            entry = book.entries[key]
            identity = workers.next(now, avoid=entry.last)  # sent again: to another worker if one is ready
            if identity is None:
                break
            handed = hand_to(self.backend, [identity, b"", entry.sender, entry.message], identity, workers)
            if handed == GONE and identity in self.peers:
                self.dead(identity, "gone")
            if handed != SENT:
                continue
            book.handed(key, identity, now)
            try:
                self.frontend.send_multipart([entry.sender, HANDED, key[1]], zmq.NOBLOCK)
            except zmq.ZMQError:
                pass  # the pusher is not connected: its copy comes with the count it has
            self.routed += 1

    def dead(self, identity: bytes, why: str) -> None:
        """``identity`` is dead: what it held goes back to the queue (or is given up)."""
        peer = self.peers.pop(identity)
        self.workers.gone(identity)
        requeued, given_up = self.book.lost_worker(identity, why)
        self.verdicts.append((identity, peer.missed, why, requeued))
        self.give_up(given_up)

    def give_up(self, given_up: list[GivenUp]) -> None:
        for lost in given_up:
            sender, message_id = lost.key
            try:
                self.frontend.send_multipart([sender, GIVEUP, message_id], zmq.NOBLOCK)
            except zmq.ZMQError:
                pass  # that pusher is gone: nobody keeps a copy to drop
            if message_id and len(message_id) == ID.size and lost.entry.message.startswith(wire.MAGIC):
                pusher_number, seq = ID.unpack(message_id)
                who = worker_name(lost.worker)
                self.runtime.report(wire.GAVE_UP, pusher=pusher_number, seqs=[seq], attempts=lost.entry.attempts,
                                    why=lost.why, peer=who[0] if who else "")

    def acknowledge(self, sender: bytes, message_id: bytes) -> None:
        self.book.acked((sender, message_id))
        try:
            self.frontend.send_multipart([sender, ACK, message_id], zmq.NOBLOCK)
        except zmq.ZMQError:
            pass  # the pusher is not connected (this broker life is new): its copy comes again, a duplicate

    def tell_verdicts(self) -> None:
        """Report the workers found dead this turn, once their messages went on."""
        for identity, missed, why, requeued in self.verdicts:
            who = worker_name(identity)
            if who is not None:
                went = {named[0] for k in requeued if (e := self.book.entries.get(k)) and e.worker
                        and (named := worker_name(e.worker))}
                self.runtime.report(wire.SILENT, peer=who[0], peer_life=who[1], missed=int(missed), why=why,
                                    requeued=len(requeued), to=sorted(went))
        self.verdicts.clear()

    def report(self, now: int) -> None:
        book = self.book
        counters = book.counters()
        current = (book.queued, len(self.workers), self.routed, *counters.values())
        if current != self.reported and now - self.last_report_ns >= REPORT_NS:
            self.runtime.report(wire.QUEUE, queued=book.queued, ready=len(self.workers), routed=self.routed,
                                counters=counters, retried_from=per_worker(book.retried_from),
                                held_by=self.workers.take_peaks())
            self.reported, self.last_report_ns = current, now


def broker(runtime: ChildRuntime) -> None:
    Broker(runtime).run()

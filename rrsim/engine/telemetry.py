"""Telemetry in: turn the frames children send into engine events, trusting nothing.

Anything that is not well-formed telemetry from a known child becomes one
``MalformedTelemetry`` event and changes nothing else.  Receipts that carry the rrsim magic
but cannot come from our pushers (unknown pusher, a sequence number never sent) are
counted as foreign payloads of the worker that received them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import numpy as np

from rrsim import events as ev
from rrsim import wire
from rrsim.kinds import RECEIVER, ROUTER, SENDER

RECEIPT_DTYPE = np.dtype([("pusher", "<u2"), ("seq", "<u8"), ("sent_ns", "<i8"), ("work_us", "<u4")])
assert RECEIPT_DTYPE.itemsize == wire.RECEIPT_SIZE
# A receipt may overtake its pusher's progress report, but not by this many messages.
SEQ_SLACK = 10_000_000
MAX_PEER_TEXT = 120  # "pid N" or "host:port", with room for an IPv6 address
MAX_DIGEST_TEXT = 64  # a pusher's fingerprint of its jobs: 16 hex digits
MAX_HINT_TEXT = 2000  # a user's program as typed, and what it should do with its endpoints
MAX_COUNTERS = 64  # a pattern's own counters in one report
MAX_WORKER_COUNTS = 4096  # workers named in one router report
MAX_SEQS = 4096  # message ids in one report
WHY = ("no-ack", "silent", "gone")  # why a router re-queued or gave up a message


@dataclass
class Roster:
    """What the decoder must know about the run: who exists, in which life, and where."""

    lives: dict[str, int] = field(default_factory=dict)  # name -> current life
    kinds: dict[str, str] = field(default_factory=dict)  # name -> "sender" | "router" | "receiver"
    owners: dict[str, str] = field(default_factory=dict)  # endpoint -> name that binds it
    senders: dict[int, str] = field(default_factory=dict)  # sender number -> name (1 -> p1)
    roles: dict[str, str] = field(default_factory=dict)  # name -> its role in the pattern
    links_to: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name -> roles it may connect with
    messages: int = 0  # what each pusher will send at most, 0 = no limit
    started_ns: int = 0  # when the run started: every real clock stamp is later
    # name -> how far its clock may be off ours: a remote worker's stamps are its clock plus an
    # estimated offset, right within this much (half the best round trip when it joined)
    clock_slack_ns: dict[str, int] = field(default_factory=dict)
    # Who a process is to the peers it connects to ("pid N"), when that is not itself: a user's
    # worker program.  A pusher's report of such a peer is then that worker's link.
    known_as: dict[str, str] = field(default_factory=dict)  # "pid N" -> name
    peers_up: dict[str, set[str]] = field(default_factory=dict)  # peer -> binders it is connected to now

    def peer_changed(self, binder: str, peer: str, up: bool) -> None:
        """Keep who is connected to whom, so that a name given later names links made before."""
        binders = self.peers_up.setdefault(peer, set())
        (binders.add if up else binders.discard)(binder)
        if not binders:
            del self.peers_up[peer]

    def link_of(self, now_ns: int, name: str, binder: str, up: bool, peer: str) -> ev.LinkChanged | None:
        """``name``'s link to ``binder`` seen from the binder's side, if they may be linked."""
        if self.roles.get(binder) not in self.links_to.get(name, ()):
            return None
        return ev.LinkChanged(now_ns, name, binder, up, peer)


class MalformedError(ValueError):
    pass


@dataclass
class ReceiptFrames:
    """The receipts of one worker life, gathered from one or more telemetry messages."""

    name: str
    life: int
    foreign: int = 0
    heads: list[bytes] = field(default_factory=list)
    stamps: list[bytes] = field(default_factory=list)
    dones: list[bytes] = field(default_factory=list)  # for each frame of stamps: its done times, or b""


def decode(frames: list[bytes], now_ns: int, roster: Roster, sent_of: Callable[[int], int]) -> list[ev.Event]:
    """Events for one telemetry message; ``sent_of(pusher_index)`` is what the ledger has seen sent."""
    return decode_batch([frames], now_ns, roster, sent_of)


def decode_batch(batch: list[list[bytes]], now_ns: int, roster: Roster,
                 sent_of: Callable[[int], int]) -> list[ev.Event]:
    """Events for telemetry messages read together, in order, except that each worker life's
    receipts become one ``Deliveries`` at the end: with many workers the engine's cost is per
    batch, not per message, and merging is what lets it catch up when it falls behind."""
    out: list[ev.Event] = []
    gathered: dict[tuple[str, int], ReceiptFrames] = {}
    for frames in batch:
        try:
            parsed = _parse(frames, now_ns, roster)
        except MalformedError as error:
            out.append(ev.MalformedTelemetry(now_ns, str(error)))
            continue
        if isinstance(parsed, list):
            out.extend(parsed)
        elif isinstance(parsed, ReceiptFrames):
            receipts = gathered.setdefault((parsed.name, parsed.life), ReceiptFrames(parsed.name, parsed.life))
            receipts.foreign += parsed.foreign
            receipts.heads += parsed.heads
            receipts.stamps += parsed.stamps
            receipts.dones += parsed.dones
        else:
            out.append(parsed)
    for receipts in gathered.values():
        out.extend(_deliveries(receipts, now_ns, roster, sent_of))
    return out


def _parse(frames: list[bytes], now_ns: int, roster: Roster) -> ev.Event | list[ev.Event] | ReceiptFrames:
    if not frames or len(frames) > 4:
        raise MalformedError(f"{len(frames)} frames")
    try:
        header = json.loads(frames[0])
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MalformedError("header is not JSON") from None
    if not isinstance(header, dict):
        raise MalformedError("header is not an object")
    kind, name, life = header.get("kind"), header.get("name"), header.get("life")
    if kind not in wire.TELEMETRY_KINDS:
        raise MalformedError(f"unknown kind {str(kind)[:40]!r}")
    if not isinstance(name, str) or name not in roster.lives:
        raise MalformedError(f"unknown sender {str(name)[:40]!r}")
    if not isinstance(life, int) or isinstance(life, bool) or not 1 <= life <= roster.lives[name]:
        raise MalformedError(f"{name}: unknown life {str(life)[:20]!r}")
    sender_kind = roster.kinds[name]
    allowed_frames = (3, 4) if kind == wire.RECEIPTS else (1,)
    if len(frames) not in allowed_frames:
        raise MalformedError(f"{kind} from {name} with {len(frames)} frames")

    if kind == wire.HELLO:
        known_as = header.get("known_as")
        if known_as is None:
            return ev.ProcessReady(now_ns, name, life)
        if not isinstance(known_as, str) or not known_as or len(known_as) > MAX_PEER_TEXT:
            raise MalformedError(f"{name}: bad hello")
        roster.known_as[known_as] = name
        links = [roster.link_of(now_ns, name, binder, True, known_as) for binder in sorted(roster.peers_up.get(known_as, ()))]
        return [ev.ProcessReady(now_ns, name, life), *(link for link in links if link)]
    if kind == wire.BEAT:
        uncertainty, estimates = header.get("uncertainty_ns", -1), header.get("estimates", 0)
        if not (_is_count(uncertainty) or uncertainty == -1) or not _is_count(estimates):
            raise MalformedError(f"{name}: bad heartbeat")
        return ev.Heartbeat(now_ns, name, life, bool(header.get("last")), uncertainty, estimates)
    if kind == wire.LINK:
        endpoint, up, via = header.get("endpoint"), header.get("up"), header.get("via", "")
        peer = roster.owners.get(endpoint) if isinstance(endpoint, str) else None
        if peer is None or roster.roles.get(peer) not in roster.links_to.get(name, ()) or not isinstance(up, bool):
            raise MalformedError(f"{name}: bad link report")
        if not isinstance(via, str) or len(via) > MAX_PEER_TEXT:
            raise MalformedError(f"{name}: bad link report")
        return ev.LinkChanged(now_ns, name, peer, up, via)
    if kind == wire.REFUSED:
        endpoint, peer, why = header.get("endpoint"), header.get("peer"), header.get("why")
        if (not isinstance(endpoint, str) or roster.owners.get(endpoint) != name or not isinstance(peer, str)
                or len(peer) > MAX_PEER_TEXT or why not in wire.HANDSHAKE_FAILED):
            raise MalformedError(f"{name}: bad refusal report")
        return ev.PeerRefused(now_ns, peer, wire.HANDSHAKE_FAILED[why], name)
    if kind == wire.PEER:
        endpoint, peer, up = header.get("endpoint"), header.get("peer"), header.get("up")
        if (not isinstance(endpoint, str) or roster.owners.get(endpoint) != name or not isinstance(peer, str)
                or not peer or len(peer) > MAX_PEER_TEXT or not isinstance(up, bool)):
            raise MalformedError(f"{name}: bad peer report")
        roster.peer_changed(name, peer, up)
        link = roster.link_of(now_ns, roster.known_as[peer], name, up, peer) if peer in roster.known_as else None
        return link or ev.PeerChanged(now_ns, name, peer, up, endpoint)
    if kind == wire.NOTHING_BACK:
        after_s, words = header.get("after_s"), [header.get(key, "") for key in ("program", "hint", "received")]
        if (sender_kind != RECEIVER or isinstance(after_s, bool) or not isinstance(after_s, (int, float))
                or not 0 <= after_s <= 3600 or not all(isinstance(text, str) for text in words)
                or sum(len(text) for text in words) > MAX_HINT_TEXT):
            raise MalformedError(f"{name}: bad nothing-back report")
        return ev.NothingBack(now_ns, name, life, float(after_s), *words)
    expected_kind = {wire.SENT: SENDER, wire.QUEUE: ROUTER, wire.RECEIPTS: RECEIVER, wire.SILENT: ROUTER,
                     wire.GAVE_UP: ROUTER, wire.WAITING: RECEIVER}[kind]
    if sender_kind != expected_kind:
        raise MalformedError(f"{kind} report from {name}, a {sender_kind}")
    if kind == wire.SENT:
        sent: Any = header.get("sent")
        peers: Any = header.get("peers")
        early: Any = header.get("early", 0)
        if not all(_is_count(v) for v in (sent, peers, early)) or (roster.messages and sent > roster.messages):
            raise MalformedError(f"{name}: bad progress counts")
        jobs = header.get("jobs", "")
        if not isinstance(jobs, str) or len(jobs) > MAX_DIGEST_TEXT:
            raise MalformedError(f"{name}: bad jobs fingerprint")
        return ev.SentProgress(now_ns, name, sent, bool(header.get("blocked")), peers, bool(header.get("done")),
                               joined=bool(header.get("joined", True)), early=min(early, sent), jobs=jobs,
                               counters=_counters(header, name), believed=_by_worker(header, "believed", name, roster),
                               outstanding=_by_worker(header, "outstanding", name, roster))
    if kind == wire.QUEUE:
        counts: list[Any] = [header.get(key) for key in ("queued", "ready", "routed")]
        if not all(_is_count(v) for v in counts):
            raise MalformedError(f"{name}: bad queue counts")
        return ev.RouterState(now_ns, name, life, counts[0], counts[1], counts[2], counters=_counters(header, name),
                              retried_from=_by_worker(header, "retried_from", name, roster),
                              held_by=_by_worker(header, "held_by", name, roster))
    if kind == wire.SILENT:
        peer, peer_life, to = header.get("peer"), header.get("peer_life"), header.get("to")
        silent: list[Any] = [peer_life, header.get("missed"), header.get("requeued")]
        if (not _is_receiver(peer, roster) or not all(_is_count(v) for v in silent)
                or header.get("why") not in WHY or not isinstance(to, list) or len(to) > len(roster.kinds)
                or not all(_is_receiver(w, roster) for w in to)):
            raise MalformedError(f"{name}: bad silent-peer report")
        return ev.PeerSilent(now_ns, name, peer, silent[0], silent[1], header["why"], silent[2], tuple(to))
    if kind == wire.GAVE_UP:
        pusher, seqs, attempts, peer = header.get("pusher"), header.get("seqs"), header.get("attempts"), header.get("peer")
        if (not _is_count(pusher) or pusher not in roster.senders or not isinstance(seqs, list) or not 0 < len(seqs) <= MAX_SEQS
                or not all(_is_count(s) for s in seqs) or not _is_count(attempts) or header.get("why") not in WHY
                or not (peer == "" or _is_receiver(peer, roster))):
            raise MalformedError(f"{name}: bad given-up report")
        return ev.GaveUp(now_ns, name, pusher, tuple(seqs), attempts, header["why"], str(peer))
    if kind == wire.WAITING:
        waiting, retry_s = header.get("waiting"), header.get("retry_s")
        if not isinstance(waiting, bool) or isinstance(retry_s, bool) or not isinstance(retry_s, (int, float)) \
                or not 0 <= retry_s <= 3600:
            raise MalformedError(f"{name}: bad waiting report")
        return ev.Waiting(now_ns, name, life, waiting, float(retry_s))
    n, foreign = header.get("n"), header.get("foreign")
    if not _is_count(n) or not _is_count(foreign):
        raise MalformedError(f"{name}: bad receipt counts")
    heads, stamps = frames[1], frames[2]
    dones = frames[3] if len(frames) == 4 else b""
    if len(heads) != n * wire.RECEIPT_SIZE or len(stamps) != n * wire.STAMP_SIZE or len(dones) not in (0, len(stamps)):
        raise MalformedError(f"{name}: receipt frames do not match n={n}")
    return ReceiptFrames(name, life, foreign, [heads], [stamps], [dones])


def _deliveries(receipts: ReceiptFrames, now_ns: int, roster: Roster,
                sent_of: Callable[[int], int]) -> list[ev.Event]:
    name, life, foreign = receipts.name, receipts.life, receipts.foreign
    heads, stamps = b"".join(receipts.heads), b"".join(receipts.stamps)
    # Done times where the work took time, else the receive times themselves.
    dones = b"".join(d or s for d, s in zip(receipts.dones, receipts.stamps, strict=True)) if any(receipts.dones) else b""
    n = len(stamps) // wire.STAMP_SIZE
    out: list[ev.Event] = []
    if n:
        records = np.frombuffer(heads, dtype=RECEIPT_DTYPE)
        recv_ns = np.frombuffer(stamps, dtype="<i8")
        done_ns = np.frombuffer(dones, dtype="<i8").astype(np.int64) if dones else None
        pushers = records["pusher"].astype(np.int64)
        seqs = records["seq"].astype(np.int64)  # below 2**63: larger values fail the sent check
        sent_ns = records["sent_ns"].astype(np.int64)
        work_us = records["work_us"].astype(np.int64)
        # The pusher's clock stamp must precede the receipt: both are CLOCK_MONOTONIC (a remote
        # worker's moved onto ours, within its slack).
        slack = roster.clock_slack_ns.get(name, 0)
        known = (roster.started_ns <= sent_ns) & (sent_ns <= recv_ns + slack) & (recv_ns <= now_ns + slack)
        if done_ns is not None:
            known &= (recv_ns <= done_ns) & (done_ns <= now_ns + slack)
        lowest, highest = int(pushers.min()), int(pushers.max())
        # One pusher is the usual batch: skip np.unique, the costliest step of a batch.
        indexes = [lowest] if lowest == highest else np.unique(pushers).tolist()
        sent_ok = np.zeros(n, dtype=bool)
        for index in indexes:
            if index in roster.senders:
                limit = sent_of(index) + SEQ_SLACK
                if roster.messages:
                    limit = min(limit, roster.messages)
                below = (seqs >= 0) & (seqs < limit)
                sent_ok |= below if lowest == highest else below & (pushers == index)
        known &= sent_ok
        accepted = int(np.count_nonzero(known))
        foreign += n - accepted
        if accepted == n:
            out.append(ev.Deliveries(now_ns, name, life, pushers=pushers, seqs=seqs, sent_ns=sent_ns,
                                     recv_ns=recv_ns.astype(np.int64), done_ns=done_ns, work_us=work_us))
        elif accepted:
            out.append(ev.Deliveries(
                now_ns, name, life,
                pushers=pushers[known], seqs=seqs[known], sent_ns=sent_ns[known], recv_ns=recv_ns[known].astype(np.int64),
                done_ns=None if done_ns is None else done_ns[known], work_us=work_us[known],
            ))
    if foreign:
        out.append(ev.ForeignPayloads(now_ns, name, foreign))
    return out


def _is_receiver(name: object, roster: Roster) -> TypeGuard[str]:
    return isinstance(name, str) and roster.kinds.get(name) == RECEIVER


def _counters(header: dict[str, Any], name: str) -> dict[str, int]:
    """A pattern's own counters in a report (none: an empty dict), checked."""
    counters = header.get("counters", {})
    if (not isinstance(counters, dict) or len(counters) > MAX_COUNTERS
            or not all(isinstance(k, str) and len(k) <= 40 and _is_count(v) for k, v in counters.items())):
        raise MalformedError(f"{name}: bad counters")
    return counters


def _by_worker(header: dict[str, Any], key: str, name: str, roster: Roster) -> dict[str, int]:
    """A sender's or router's counts by worker (a router's resends by the worker that had each
    message before and the most each held at once; a sender's belief of each worker's load and its
    own messages not yet done there), checked; a name that is not one of our workers (a stranger
    took messages) is left out."""
    counts = header.get(key, {})
    if (not isinstance(counts, dict) or len(counts) > MAX_WORKER_COUNTS
            or not all(isinstance(k, str) and _is_count(v) for k, v in counts.items())):
        raise MalformedError(f"{name}: bad {key}")
    return {worker: count for worker, count in counts.items() if _is_receiver(worker, roster)}


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 62

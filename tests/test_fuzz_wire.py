"""Junk on rrsim's sockets: hypothesis-generated frames at a worker's PULL and at the engine's telemetry PULL.

Nothing sent may crash anything, go uncounted, or change what the ledger says about the real
messages.  Telemetry junk is judged by the decoder (``telemetry.decode``), a pure function: it
is fuzzed here message by message, as a run of two pushers and two workers would see it.  Junk
at a worker's PULL goes through a real run: the test connects its own PUSH next to the real
pushers and sends hundreds of frames while the run goes on.
"""

from __future__ import annotations

import dataclasses
import json
import struct
from typing import Any

import pytest
import zmq
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from helpers import wait_until
from rrsim import events as ev
from rrsim import wire
from rrsim.engine import telemetry
from rrsim.engine.engine import Engine
from rrsim.engine.telemetry import SEQ_SLACK
from rrsim.scenario.setup import Setup

# The real run is a whole run on real processes carrying hundreds of payloads: one example, no shrinking.
WIRE = settings(derandomize=True, deadline=None, max_examples=1, database=None, phases=[Phase.explicit, Phase.generate],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
# The decoder is pure: many examples, always the same ones.
DECODER = settings(derandomize=True, deadline=None, max_examples=150, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])

PUSHERS, MESSAGES, RATE = 2, 1500, 1500.0  # per pusher: 1 s of sending, during which the junk goes in
HEAD = struct.Struct("<HQqI")  # what follows the magic in a work message: pusher index, seq, send time, work size
BEFORE_ANY_RUN_NS = 10**9  # CLOCK_MONOTONIC one second after boot: earlier than any run of this test
FAR_FUTURE_NS = 2**62
CHUNK = 25  # junk messages sent between two engine steps
# A run drains at once when everything is delivered; this long a silence only ends it if something was lost.
# Long, because on a loaded machine workers can stall for a second with messages in flight.
DRAIN_S = 10.0


def json_values(max_leaves: int = 5) -> st.SearchStrategy:
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                        max_leaves=max_leaves)


def small_run(bind: str = "pusher") -> Setup:
    return Setup(bind=bind, workers=2, pushers=PUSHERS, rate=RATE, messages=MESSAGES, wait_ready=True, drain_s=DRAIN_S)


def wait_for(engine: Engine, condition, timeout_s: float, what: str) -> None:
    wait_until(condition, timeout_s, lambda: f"{what}: {engine.model.totals()}", between=lambda: engine.step(5))


@dataclasses.dataclass
class Result:
    engine: Engine  # closed
    events: list[ev.Event]
    running_at_end: dict[str, bool]  # worker -> its process still running when the run had drained


def run_with_intruder(setup: Setup, at: str, send_all) -> Result:
    """Run ``setup`` to the end while ``send_all(engine, intruder)`` sends junk from a PUSH connected to
    ``at`` ("telemetry" or a worker's name), once the real pushers are sending."""
    engine = Engine(setup)
    events: list[ev.Event] = []
    engine.subscribe(events.append)
    ctx = zmq.Context()
    intruder = ctx.socket(zmq.PUSH)
    intruder.sndtimeo = 10_000  # a full pipe for 10 s means the other side is stuck: fail, do not hang
    try:
        engine.start()
        intruder.connect(engine.telemetry_endpoint if at == "telemetry" else engine.endpoints[at])
        wait_for(engine, lambda: all(engine.model.ledger.pusher(i).sent > 100 for i in range(1, PUSHERS + 1)), 60,
                 "the pushers to send")
        send_all(engine, intruder)
        assert not engine.finished, "the run ended while junk was still being sent: make the run longer"
        wait_for(engine, lambda: engine.finished, 60, "the run to drain")
        running = {name: engine.supervisor.running(name) for name in engine.model.workers}
    finally:
        intruder.close(linger=0)
        ctx.term()
        engine.close()
    return Result(engine, events, running)


def send_in_chunks(messages: list, render_one=lambda message, engine: message):
    def send_all(engine: Engine, intruder: zmq.Socket) -> None:
        for start in range(0, len(messages), CHUNK):
            for message in messages[start : start + CHUNK]:
                intruder.send_multipart(render_one(message, engine))
            engine.step(1)

    return send_all


def assert_real_messages_untouched(result: Result, duplicates: int = 0) -> None:
    totals = result.engine.model.totals()
    assert totals.sent == PUSHERS * MESSAGES, totals
    assert totals.delivered == totals.sent and totals.lost == 0 and totals.in_flight == 0, totals
    assert totals.duplicates == duplicates and totals.late == 0, totals
    for name, worker in result.engine.model.workers.items():
        assert len(worker.lives) == 1 and result.running_at_end[name], f"{name}: {worker.state}, {len(worker.lives)} lives"


def accepted_as_deliveries(result: Result) -> list[tuple[str, int, int, int]]:
    """Receipts the model took that no pusher of the run can have caused: past the last message, or sent before the run."""
    return [(e.worker, p, s, t) for e in result.events if isinstance(e, ev.Deliveries)
            for p, s, t in zip(e.pushers.tolist(), e.seqs.tolist(), e.sent_ns.tolist(), strict=True)
            if s >= MESSAGES or t < result.engine.model.started_ns]


# ---------------------------------------------------------------------------------- (a) a worker's PULL
@dataclasses.dataclass(frozen=True)
class Repeat:
    """``unit * times`` after ``prefix``, made only when sent (so a failing example prints short)."""

    prefix: bytes
    unit: bytes
    times: int

    def __bytes__(self) -> bytes:
        return self.prefix + self.unit * self.times


def frames_of(message: list) -> list[bytes]:
    return [bytes(frame) for frame in message]


def forged_header(pusher: int, seq: int, sent_ns: int, tail: bytes) -> bytes:
    return wire.MAGIC + HEAD.pack(pusher, seq, sent_ns, 0) + tail


# rrsim-looking messages that no pusher of this run can have sent: an unknown pusher, a sequence number
# past the last message, a send time before the run or in the far future.
FORGED = st.builds(
    forged_header,
    pusher=st.sampled_from([0, 1, 2, 3, 65535]) | st.integers(0, 65535),
    seq=st.integers(0, 50) | st.integers(MESSAGES, MESSAGES + SEQ_SLACK) | st.integers(2**40, 2**64 - 1),
    sent_ns=st.integers(-(2**63), BEFORE_ANY_RUN_NS) | st.integers(FAR_FUTURE_NS, 2**63 - 1),
    tail=st.binary(max_size=24),
)
SIZE = Setup().size  # what the run's pushers send: a worker keeps messages of this size whole until it reports
WORK_FRAMES = st.one_of(
    st.binary(max_size=48),
    st.binary(min_size=SIZE, max_size=SIZE),  # the size of real messages, mostly without the magic
    st.builds(forged_header, pusher=st.integers(0, 65535), seq=st.integers(0, 2**64 - 1),
              sent_ns=st.integers(-(2**63), 2**63 - 1), tail=st.just(bytes(SIZE - wire.HEADER_SIZE))),
    st.binary(max_size=30).map(lambda rest: wire.MAGIC + rest),
    st.sampled_from([b"", b"R", b"RRS", b"RRS1", b"RRS2" + bytes(18), b"7 , 1344600000.12"]),
    st.builds(Repeat, st.just(wire.MAGIC), st.just(b"\xab"), st.integers(1000, 300_000)),
    FORGED, FORGED,
)
WORK_MESSAGES = st.lists(st.lists(WORK_FRAMES, min_size=1, max_size=4), min_size=150, max_size=400)


def could_be_real(frame: bytes, started_ns: int, ended_ns: int) -> bool:
    """Whether a frame is byte for byte a message one of this run's pushers might have sent."""
    if frame[: len(wire.MAGIC)] != wire.MAGIC or len(frame) < wire.HEADER_SIZE:
        return False
    pusher, seq, sent_ns, _work = HEAD.unpack_from(frame, len(wire.MAGIC))
    return 1 <= pusher <= PUSHERS and seq < MESSAGES and started_ns <= sent_ns <= ended_ns


@pytest.mark.system
@WIRE
@given(WORK_MESSAGES)
def test_junk_at_a_worker_is_counted_foreign_frame_by_frame(messages):
    result = run_with_intruder(small_run("worker"), "w1", send_in_chunks(messages, lambda m, _engine: frames_of(m)))
    model = result.engine.model
    # A PULL hands over a k-frame message as k receives, and the worker judges each on its own.
    frames = [bytes(frame) for message in messages for frame in message]
    lookalikes = sum(could_be_real(f, model.started_ns, model.now_ns) for f in frames)
    forged = accepted_as_deliveries(result)
    assert not forged, f"junk counted as deliveries (worker, pusher, seq, sent_ns): {forged[:10]} ({len(forged)} in all)"
    assert model.workers["w1"].foreign == len(frames) - lookalikes, (model.workers["w1"].foreign, len(frames))
    assert model.foreign == model.workers["w1"].foreign and model.malformed == 0
    assert_real_messages_untouched(result, duplicates=lookalikes)


# ---------------------------------------------------------------------------------- (b) the telemetry PULL
REAL_ROLES = {"p1": "pusher", "p2": "pusher", "w1": "worker", "w2": "worker"}
KINDS = wire.TELEMETRY_KINDS


@dataclasses.dataclass(frozen=True)
class Now:
    """A time filled in when the message is sent: the test's CLOCK_MONOTONIC plus ``offset_ns``."""

    offset_ns: int = 0


@dataclasses.dataclass(frozen=True)
class SentSoFar:
    """A sequence number filled in when sent: this fraction of what pusher ``index`` has sent by then."""

    index: int
    fraction: float


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """The endpoint of a real child, filled in when sent."""

    name: str


@dataclasses.dataclass(frozen=True)
class Junk:
    """One telemetry message: a header (any JSON value, or raw bytes) and frames after it.

    ``entries`` (pusher, seq, sent_ns, recv_ns) make the two receipt frames when given.  ``expect`` is
    what rrsim must make of it: "malformed", "foreign" (each entry plus the header's foreign count),
    "duplicate" (each entry: indistinguishable from a real receipt) or "harmless".
    """

    header: Any
    expect: str
    frames: tuple[bytes, ...] = ()
    entries: tuple[tuple[Any, Any, Any, Any], ...] | None = None
    foreign: int = 0


def header(kind: Any, name: Any, life: Any = 1, **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "name": name, "life": life, **fields}


def is_real_sender(name: Any, life: Any) -> bool:
    return isinstance(name, str) and name in REAL_ROLES and type(life) is int and life == 1


def _mentions_real_sender(raw: bytes) -> bool:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return isinstance(value, dict) and isinstance(value.get("name"), str) and value["name"] in REAL_ROLES


def valid_fields(kind: str) -> dict[str, Any]:
    return {wire.SENT: {"sent": 1, "peers": 2, "done": False}, wire.LINK: {"up": True},
            wire.RECEIPTS: {"n": 0, "foreign": 0}}.get(kind, {"pid": 1, "role": "x"})


def sender_for(kind: str, draw) -> str:
    role = {wire.SENT: "pusher", wire.RECEIPTS: "worker"}.get(kind)
    return draw(st.sampled_from(sorted(n for n, r in REAL_ROLES.items() if role in (None, r))))


NOT_A_COUNT = st.one_of(st.integers(max_value=-1), st.integers(min_value=2**62), st.booleans(), st.floats(),
                        st.text(max_size=4), st.none(), st.lists(st.integers(0, 3), max_size=2))
ANY_KIND = st.sampled_from(KINDS) | json_values()
ANY_NAME = st.sampled_from(sorted(REAL_ROLES)) | st.sampled_from(["p0", "p3", "w0", "w3", "engine", ""]) | json_values()
ANY_LIFE = st.just(1) | st.sampled_from([0, -1, 2, 10**30, True, 1.0, "1"]) | json_values()


@st.composite
def malformed(draw) -> Junk:
    """Telemetry rrsim must drop as malformed, from plain noise to a header one field off."""
    how = draw(st.sampled_from(["noise", "not-an-object", "deep", "sender", "frame-count", "role", "counts", "link",
                                "receipt-lengths", "absurd-progress"]))
    if how == "noise":
        frames = draw(st.lists(st.binary(max_size=40), min_size=1, max_size=5).filter(
            lambda f: not _mentions_real_sender(f[0])))
        return Junk(frames[0], "malformed", tuple(frames[1:]))
    if how == "not-an-object":
        value = draw(json_values().filter(lambda v: not isinstance(v, dict)))
        return Junk(json.dumps(value).encode(), "malformed", tuple(draw(st.lists(st.binary(max_size=8), max_size=2))))
    if how == "deep":  # nesting past the recursion limit: json.loads raises RecursionError, not ValueError
        opener = draw(st.sampled_from([b"[", b'{"a":']))
        return Junk(Repeat(b"", opener, draw(st.integers(1000, 200_000))), "malformed")
    if how == "sender":
        kind, name, life = draw(ANY_KIND), draw(ANY_NAME), draw(ANY_LIFE)
        if kind in KINDS and is_real_sender(name, life):
            life = 2  # a life the child has not reached
        fields = valid_fields(kind) if kind in KINDS else {}
        extra = (b"", b"") if kind == wire.RECEIPTS else ()
        return Junk(header(kind, name, life, **fields), "malformed", extra)
    if how == "frame-count":
        kind = draw(st.sampled_from(KINDS))
        right = (3, 4) if kind == wire.RECEIPTS else (1,)  # receipts: a fourth frame holds the done times
        count = draw(st.integers(1, 6).filter(lambda c: c not in right))
        return Junk(header(kind, sender_for(kind, draw), **valid_fields(kind)), "malformed", (b"",) * (count - 1))
    if how == "role":
        kind = draw(st.sampled_from([wire.SENT, wire.RECEIPTS]))
        name = draw(st.sampled_from(["w1", "w2"] if kind == wire.SENT else ["p1", "p2"]))
        return Junk(header(kind, name, **valid_fields(kind)), "malformed", (b"", b"") if kind == wire.RECEIPTS else ())
    if how == "counts":
        if draw(st.booleans()):
            fields = {"sent": draw(NOT_A_COUNT), "peers": 1} if draw(st.booleans()) else {"sent": 1, "peers": draw(NOT_A_COUNT)}
            return Junk(header(wire.SENT, sender_for(wire.SENT, draw), **fields), "malformed")
        fields = {"n": draw(NOT_A_COUNT), "foreign": 0} if draw(st.booleans()) else {"n": 0, "foreign": draw(NOT_A_COUNT)}
        return Junk(header(wire.RECEIPTS, sender_for(wire.RECEIPTS, draw), **fields), "malformed", (b"", b""))
    if how == "link":  # an endpoint nobody owns, or one owned by a child of the sender's own role
        name = draw(st.sampled_from(["p1", "p2"]))  # only the pushers bind in small_run()
        same_role = sorted(n for n, r in REAL_ROLES.items() if r == REAL_ROLES[name])
        endpoint = draw(st.one_of(json_values(), st.builds(Endpoint, st.sampled_from(same_role)),
                                  st.sampled_from(["ipc:///nowhere", "tcp://127.0.0.1:1", ""])))
        return Junk(header(wire.LINK, name, endpoint=endpoint, up=draw(st.booleans() | NOT_A_COUNT)), "malformed")
    if how == "receipt-lengths":
        n = draw(st.integers(0, 5))
        lengths = (n * wire.RECEIPT_SIZE, n * wire.STAMP_SIZE)
        wrong = draw(st.tuples(st.integers(0, 6 * wire.RECEIPT_SIZE), st.integers(0, 6 * wire.STAMP_SIZE))
                     .filter(lambda pair: pair != lengths))
        frames = (bytes(wrong[0]), bytes(wrong[1]))
        return Junk(header(wire.RECEIPTS, sender_for(wire.RECEIPTS, draw), n=n, foreign=0), "malformed", frames)
    # A progress count past the run's last message: no real pusher reports that.  (Kept small here: a huge
    # one makes the ledger allocate a byte per message, see the test of that below.)
    sent = draw(st.integers(MESSAGES + 1, MESSAGES + 10**6))
    return Junk(header(wire.SENT, draw(st.sampled_from(["p1", "p2"])), sent=sent, peers=2, done=False), "malformed")


ENTRY_PUSHER = st.sampled_from([1, 2])


@st.composite
def impossible_entry(draw) -> tuple[Any, Any, Any, Any]:
    """A receipt no pusher of this run can have caused."""
    why = draw(st.sampled_from(["unknown-pusher", "past-the-slack", "seq-over-2**63", "sent-after-receipt",
                                "received-in-the-future", "never-sent", "sent-before-the-run", "received-before-the-run"]))
    pusher, seq, sent, recv = draw(ENTRY_PUSHER), draw(st.builds(SentSoFar, ENTRY_PUSHER, st.floats(0, 0.99))), Now(-10**6), Now()
    if why == "unknown-pusher":
        pusher = draw(st.sampled_from([0, 3, 4, 65535]) | st.integers(3, 65535))
    elif why == "past-the-slack":
        seq = draw(st.integers(MESSAGES + SEQ_SLACK, 2**63 - 1))
    elif why == "seq-over-2**63":
        seq = draw(st.integers(2**63, 2**64 - 1))
    elif why == "sent-after-receipt":
        recv = Now(-draw(st.integers(0, 10**6)))
        sent = Now(recv.offset_ns + draw(st.integers(1, 10**9)))
    elif why == "received-in-the-future":
        recv = draw(st.integers(FAR_FUTURE_NS, 2**63 - 1))
    elif why == "never-sent":  # past the last message this run's pushers will ever send
        seq = draw(st.integers(MESSAGES, MESSAGES + SEQ_SLACK - 1))
    elif why == "sent-before-the-run":
        sent = draw(st.integers(-(2**63), BEFORE_ANY_RUN_NS))
    else:  # both stamps before the run (not too far: the model bins receive times, see the test below)
        recv = draw(st.integers(-(2**40), BEFORE_ANY_RUN_NS))
        sent = draw(st.integers(-(2**63), recv))
    return pusher, seq, sent, recv


@st.composite
def receipts(draw) -> Junk:
    worker = draw(st.sampled_from(["w1", "w2"]))
    if draw(st.integers(0, 3)) == 0:
        # Indistinguishable from a real receipt: a message already sent, stamped a millisecond ago.
        entries = tuple((p, SentSoFar(p, draw(st.floats(0, 0.99))), Now(-10**6), Now())
                        for p in draw(st.lists(ENTRY_PUSHER, min_size=1, max_size=3)))
        return Junk(header(wire.RECEIPTS, worker), "duplicate", entries=entries)
    entries = tuple(draw(st.lists(impossible_entry(), max_size=6)))
    return Junk(header(wire.RECEIPTS, worker), "foreign", entries=entries, foreign=draw(st.integers(0, 1000)))


@st.composite
def harmless(draw) -> Junk:
    if draw(st.booleans()):
        name = draw(st.sampled_from(sorted(REAL_ROLES)))
        return Junk(header(wire.HELLO, name, pid=draw(st.integers(0, 2**31)), role=REAL_ROLES[name]), "harmless")
    # As a worker's monitor reports its connection to a pusher's endpoint (the pushers bind in small_run()).
    name, peer = draw(st.sampled_from(["w1", "w2"])), draw(st.sampled_from(["p1", "p2"]))
    return Junk(header(wire.LINK, name, endpoint=Endpoint(peer), up=draw(st.booleans())), "harmless")


# A backlog the engine reads at once; each piece is also judged alone.
TELEMETRY_JUNK = st.lists(st.one_of(malformed(), malformed(), receipts(), harmless()), min_size=1, max_size=30)


# As a run of small_run() would know it, mid-run: the pushers bind, each has sent SENT_SO_FAR.
STARTED_NS = 10**12
SENT_SO_FAR = MESSAGES // 2
ENDPOINTS = {"p1": "ipc:///tmp/rrsim-fuzz/p1", "p2": "ipc:///tmp/rrsim-fuzz/p2"}


def small_roster() -> telemetry.Roster:
    return telemetry.Roster(
        lives={name: 1 for name in REAL_ROLES}, kinds={"p1": "sender", "p2": "sender", "w1": "receiver", "w2": "receiver"},
        owners={endpoint: name for name, endpoint in ENDPOINTS.items()}, senders={1: "p1", 2: "p2"},
        roles=dict(REAL_ROLES), links_to={"p1": ("worker",), "p2": ("worker",), "w1": ("pusher",), "w2": ("pusher",)},
        messages=MESSAGES, started_ns=STARTED_NS)


def sent_of(index: int) -> int:
    return SENT_SO_FAR


def resolve(value: Any, now_ns: int) -> Any:
    if isinstance(value, Now):
        return now_ns + value.offset_ns
    if isinstance(value, SentSoFar):
        return int(value.fraction * sent_of(value.index))
    if isinstance(value, Endpoint):
        return ENDPOINTS[value.name]
    if isinstance(value, dict):
        return {k: resolve(v, now_ns) for k, v in value.items()}
    return value


def render(junk: Junk, now_ns: int) -> list[bytes]:
    if isinstance(junk.header, (bytes, Repeat)):
        return [bytes(junk.header), *junk.frames]
    head = resolve(junk.header, now_ns)
    if junk.entries is None:
        return [json.dumps(head).encode(), *junk.frames]
    entries = [tuple(resolve(v, now_ns) for v in entry) for entry in junk.entries]
    heads = b"".join(HEAD.pack(p, s, t, 0) for p, s, t, _ in entries)
    stamps = b"".join(struct.pack("<q", r) for *_, r in entries)
    head.update(n=len(entries), foreign=junk.foreign)
    return [json.dumps(head).encode(), heads, stamps]


def decoded(junk: Junk, now_ns: int = STARTED_NS + 2 * 10**9) -> list[ev.Event]:
    """The events the engine makes of ``junk``, sent a microsecond before it reads it."""
    return telemetry.decode(render(junk, now_ns - 1000), now_ns, small_roster(), sent_of)


def of(events: list[ev.Event], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def assert_judged(junk: Junk, events: list[ev.Event]) -> None:
    """What rrsim must make of one piece of junk, as ``junk.expect`` says."""
    shown = f"{junk}\n-> {events}"
    malformed, foreign, deliveries = of(events, ev.MalformedTelemetry), of(events, ev.ForeignPayloads), of(events, ev.Deliveries)
    if junk.expect == "malformed":
        assert len(events) == 1 and len(malformed) == 1, shown
    elif junk.expect == "foreign":
        assert not malformed and not deliveries, shown
        assert sum(e.count for e in foreign) == len(junk.entries or ()) + junk.foreign, shown
    elif junk.expect == "duplicate":
        assert not malformed and not foreign, shown
        assert sum(len(e.seqs) for e in deliveries) == len(junk.entries or ()), shown
    else:
        assert not malformed and not foreign and not deliveries, shown


@DECODER
@given(TELEMETRY_JUNK)
def test_junk_telemetry_is_dropped_or_counted_and_never_taken_for_a_delivery(junk):
    for one in junk:
        assert_judged(one, decoded(one))
    # Read together, as the engine reads a backlog: the same counts.
    now_ns = STARTED_NS + 2 * 10**9
    events = telemetry.decode_batch([render(j, now_ns - 1000) for j in junk], now_ns, small_roster(), sent_of)
    assert sum(e.count for e in of(events, ev.MalformedTelemetry)) == sum(j.expect == "malformed" for j in junk)
    assert sum(e.count for e in of(events, ev.ForeignPayloads)) == sum(len(j.entries) + j.foreign for j in junk
                                                                      if j.expect == "foreign")
    assert sum(len(e.seqs) for e in of(events, ev.Deliveries)) == sum(len(j.entries) for j in junk if j.expect == "duplicate")


# ---------------------------------------------------------------------------------- findings, one case each
def test_a_work_message_naming_a_real_pusher_but_stamped_before_the_run_is_foreign():
    # pusher 1 exists and seq 5 was sent, but no pusher of this run stamped a message at CLOCK_MONOTONIC 0..1 s;
    # nor will any send seq MESSAGES + 3.  A worker passes on the rrsim header of such a message as a receipt.
    junk = Junk(header(wire.RECEIPTS, "w1"), "foreign", entries=((1, 5, 0, Now()), (2, 7, -1, Now()),
                                                                 (1, MESSAGES + 3, 10**6, Now())))
    assert_judged(junk, decoded(junk))


def test_a_header_nested_past_the_recursion_limit_is_malformed_not_fatal():
    # json.loads raises RecursionError here, which telemetry.decode did not catch: the engine's step() raised.
    for nested in (b"[" * 100_000, b'{"a":' * 50_000):
        assert_judged(Junk(nested, "malformed"), decoded(Junk(nested, "malformed")))


def test_a_progress_report_past_the_last_message_is_malformed():
    # _is_count accepts up to 2**62; the ledger then reserved one byte per message (2 EiB: MemoryError).
    junk = Junk(header(wire.SENT, "p1", sent=2**61, peers=2, done=False), "malformed")
    assert_judged(junk, decoded(junk))


def test_receipts_stamped_before_the_run_are_foreign():
    # Both passed the check (sent_ns <= recv_ns <= now); the model then binned receive times from -2**62 to
    # now, one counter per half second: np.bincount over 9.2e9 bins (MemoryError, or an endless loop with RAM).
    junk = Junk(header(wire.RECEIPTS, "w1"), "foreign", entries=((1, 0, -(2**63), -(2**62)), (1, 1, 0, Now())))
    assert_judged(junk, decoded(junk))

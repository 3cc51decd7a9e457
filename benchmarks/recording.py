"""5. Recording and replay: what recording costs a run, and how fast a long recording seeks.

Cost: one pusher at rate 0 and 4 workers over ipc (throughput's window), run without a
recorder, with one writing JSON lines and with one writing them gzipped, the order rotating
each repetition; the figures are the medians of the per-repetition ratios to the run without,
and the recordings' bytes per message.

Seeks: a synthetic recording of a push-pull run at 10,000 msgs/s (one pusher, 4 workers, each
worker's receipts batched every 20 ms, as rrsim.receipts does) made event by event on demand,
folded once into a Timeline (the cost of opening it), then seeks to random moments, back and
forth, each timed.
"""

from __future__ import annotations

import gzip
import io
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from benchmarks.settings import Settings
from benchmarks.stats import summary
from benchmarks.throughput import run_rrsim
from rrsim import events as ev
from rrsim.config import Scenario, Setup
from rrsim.model import NS
from rrsim.recording import EventRecorder, compressed, gzip_text
from rrsim.replay import Player, Timeline

WORKERS = 4
TARGET_RATIO = 0.9
SEEK_RATE = 10_000  # msgs/s of the synthetic recording
BATCH_NS = 20_000_000  # a worker's receipts go out every 20 ms
SEEKS = 30
SEEK_TARGET_S = 0.5  # "well under a second"
WAIT_NS = 300_000  # send to receipt in the synthetic run
T0_NS = 1_000 * NS


class TimedRecorder:
    """A recorder that counts the CPU time its thread spends in it: what recording costs the engine."""

    def __init__(self, recorder: EventRecorder) -> None:
        self.recorder = recorder
        self.cpu_s = 0.0

    def __call__(self, event: ev.Event) -> None:
        began = time.thread_time()
        self.recorder(event)
        self.cpu_s += time.thread_time() - began


def _recorded_run(messages: int, path: Path | None) -> tuple[float, float]:
    """(msgs/s, share of the engine's CPU time spent recording) of one run."""
    began = time.process_time()
    if path is None:
        return run_rrsim("ipc", WORKERS, messages)["msgs_per_s"], 0.0
    binary = path.open("wb")
    stream = gzip_text(binary) if compressed(path) else io.TextIOWrapper(binary, encoding="utf-8")
    recorder = TimedRecorder(EventRecorder(stream, Scenario("benchmark", Setup())))
    try:
        rate = run_rrsim("ipc", WORKERS, messages, recorder)["msgs_per_s"]
        stream.close()  # the last of the compression: part of the cost
    finally:
        stream.close()
    return rate, recorder.cpu_s / (time.process_time() - began)


def cost(settings: Settings) -> dict[str, Any]:
    messages = settings.recording_messages
    rates: dict[str, list[float]] = {"none": [], "jsonl": [], "jsonl.gz": []}
    shares: dict[str, list[float]] = {"jsonl": [], "jsonl.gz": []}
    sizes: dict[str, list[float]] = {"jsonl": [], "jsonl.gz": [], "jsonl, uncompressed from .gz": []}
    kinds = list(rates)
    with tempfile.TemporaryDirectory(prefix="rrsim-bench-rec-") as tmp:
        for rep in range(settings.reps):
            for kind in kinds[rep % 3:] + kinds[: rep % 3]:
                path = None if kind == "none" else Path(tmp) / f"events.{kind}"
                rate, share = _recorded_run(messages, path)
                rates[kind].append(rate)
                if path is not None:
                    shares[kind].append(share)
                    sizes[kind].append(path.stat().st_size / messages)
                    if kind == "jsonl.gz":
                        with gzip.open(path) as text:
                            sizes["jsonl, uncompressed from .gz"].append(len(text.read()) / messages)
                    path.unlink()
    ratios = {kind: summary([r / base for r, base in zip(rates[kind], rates["none"])])
              for kind in ("jsonl", "jsonl.gz")}
    return {
        "case": f"ipc, {WORKERS} workers, rate 0, {messages} messages",
        "msgs_per_s": {kind: summary(values, 0) for kind, values in rates.items()},
        "ratio": ratios,
        # Steadier than the ratio on a busy machine: the engine's CPU time that went to recording.
        "recorder_cpu_share": {kind: summary(values) for kind, values in shares.items()},
        "bytes_per_message": {kind: summary(values, 2) for kind, values in sizes.items()},
        "target": f"ratio >= {TARGET_RATIO}",
        "met": all(ratio["median"] >= TARGET_RATIO for ratio in ratios.values()),
    }


class SyntheticRecording(Sequence[ev.Event]):
    """A push-pull run at ``rate`` msgs/s for ``seconds``, made one event at a time: every 20 ms
    the pusher's progress and each worker's batch of the messages dealt to it round robin."""

    PER_BATCH = 1 + WORKERS  # SentProgress, then one Deliveries per worker

    def __init__(self, seconds: float, rate: int = SEEK_RATE) -> None:
        self.per_batch_messages = rate * BATCH_NS // NS
        self.batches = int(seconds * NS // BATCH_NS)
        self.gap_ns = NS // rate
        workers = [f"w{i}" for i in range(1, WORKERS + 1)]
        setup = Setup(workers=WORKERS, rate=0.0, messages=self.batches * self.per_batch_messages).to_dict()
        self.prelude: list[ev.Event] = [ev.RunStarted(T0_NS, setup, {"p1": "ipc:///tmp/rrsim-bench/p1"})]
        self.prelude += [ev.ProcessStarted(T0_NS, name, "worker", 1, 100 + i, links_to=("pusher",))
                         for i, name in enumerate(workers)]
        self.prelude.append(ev.ProcessStarted(T0_NS, "p1", "pusher", 1, 99, kind="sender", links_to=("worker",)))
        self.prelude += [ev.LinkChanged(T0_NS, name, "p1", True) for name in workers]
        self.ending = [ev.SentProgress(self._batch_end(self.batches), "p1", self._sent(self.batches), False, WORKERS,
                                       True),
                       ev.Drained(self._batch_end(self.batches) + BATCH_NS)]
        self.ones = np.ones(self.per_batch_messages // WORKERS, dtype=np.int64)

    def _batch_end(self, batch: int) -> int:
        return T0_NS + (batch + 1) * BATCH_NS

    def _sent(self, batches: int) -> int:
        return batches * self.per_batch_messages

    def __len__(self) -> int:
        return len(self.prelude) + self.batches * self.PER_BATCH + len(self.ending)

    @overload
    def __getitem__(self, index: int) -> ev.Event: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[ev.Event]: ...

    def __getitem__(self, index: int | slice) -> ev.Event | Sequence[ev.Event]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        if index < len(self.prelude):
            return self.prelude[index]
        index -= len(self.prelude)
        batch, part = divmod(index, self.PER_BATCH)
        if batch >= self.batches:
            return self.ending[index - self.batches * self.PER_BATCH]
        t_ns = self._batch_end(batch)
        if part == 0:
            return ev.SentProgress(t_ns, "p1", self._sent(batch + 1), False, WORKERS, False)
        seqs = np.arange(batch * self.per_batch_messages + part - 1, (batch + 1) * self.per_batch_messages, WORKERS)
        sent_ns = T0_NS + seqs * self.gap_ns
        return ev.Deliveries(t_ns + 1_000_000, f"w{part}", 1, self.ones, seqs, sent_ns, sent_ns + WAIT_NS)


def seeks(settings: Settings) -> dict[str, Any]:
    events = SyntheticRecording(settings.seek_recording_s)
    began, began_cpu = time.perf_counter(), time.thread_time()
    timeline = Timeline(events)
    opened_s, opened_cpu_s = time.perf_counter() - began, time.thread_time() - began_cpu
    totals = timeline.final.totals()
    if totals.delivered != totals.sent or totals.lost:
        raise RuntimeError(f"the synthetic recording does not add up: {totals}")
    player = Player(timeline)
    rng = random.Random(15)
    times_ms, cpu_ms = [], []
    for _ in range(SEEKS):
        target = rng.uniform(0, settings.seek_recording_s)
        began, began_cpu = time.perf_counter(), time.thread_time()
        player.seek_s(target)
        times_ms.append((time.perf_counter() - began) * 1000)
        cpu_ms.append((time.thread_time() - began_cpu) * 1000)
        if abs(player.elapsed_s() - target) > 1e-6:
            raise RuntimeError(f"seek to {target} s ended at {player.elapsed_s()} s")
    seek_ms = summary(times_ms, 1)
    return {
        "recording_s": settings.seek_recording_s,
        "msgs_per_s": SEEK_RATE,
        "messages": totals.sent,
        "events": len(events),
        "open_s": round(opened_s, 1),
        "open_cpu_s": round(opened_cpu_s, 1),
        "snapshots": len(timeline.snapshots),
        "snapshot_mb": round(sum(len(s.state) for s in timeline.snapshots) / 1e6, 1),
        "seek_ms": seek_ms,
        # On a busy machine the wall time is mostly waiting for a core: this is the seek's own work.
        "seek_cpu_ms": summary(cpu_ms, 1),
        "target": f"max seek < {SEEK_TARGET_S * 1000:.0f} ms",
        "met": seek_ms["max"] < SEEK_TARGET_S * 1000,
    }


def run(settings: Settings) -> dict[str, Any]:
    return {"cost": cost(settings), "seek": seeks(settings)}

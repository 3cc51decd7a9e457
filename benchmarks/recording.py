"""5. Recording and replay: what recording costs a run, and how fast a long recording seeks.

Cost: one pusher at rate 0 and 4 workers over ipc (throughput's window), run without a
recorder, with one writing JSON lines and with one writing them gzipped, the order rotating
each repetition; the figures are the medians of the per-repetition ratios to the run without,
the recordings' bytes per message, and the recorder thread's CPU time as a share of the engine
process's and of the whole run's (the engine and its children): on a shared machine the ratio of
throughputs is mostly noise, and these shares are the steadier figures.

Opening and seeking: a synthetic recording of a push-pull run at 10,000 msgs/s (one pusher, 4
workers, each worker's receipts batched every 20 ms, as rrsim.child.receipts does) written to a gzip
file; in a process of its own, opened as ``rrsim replay`` opens it (time to the first frame, and
the memory it took), folded to its end (as the replay does behind the view), then seeks to
random moments, back and forth, each timed; and ``rrsim replay FILE --json`` (which must fold it
all) timed with its peak memory.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np

from benchmarks.settings import Settings
from benchmarks.stats import summary
from benchmarks.throughput import run_rrsim
from rrsim import events as ev
from rrsim.cli import main
from rrsim.model.model import NS
from rrsim.recording.file import EventRecorder, RecordingFile, compressed, gzip_text
from rrsim.recording.player import Player, Timeline
from rrsim.scenario.scenario import Scenario
from rrsim.scenario.setup import Setup
from rrsim.tui.frames import read_frame

WORKERS = 4
TARGET_RATIO = 0.9
SEEK_RATE = 10_000  # msgs/s of the synthetic recording
BATCH_NS = 20_000_000  # a worker's receipts go out every 20 ms
SEEKS = 30
SEEK_TARGET_S = 0.5  # "well under a second"
FIRST_FRAME_TARGET_S = 0.5  # a video player shows its first frame at once
WAIT_NS = 300_000  # send to receipt in the synthetic run
T0_NS = 1_000 * NS


@dataclass
class RecordedRun:
    msgs_per_s: float
    cpu_us_per_msg: float  # the engine process's CPU time (every thread of it), per message
    recorder_share: float = 0.0  # of that, the recorder's writing thread's
    run_share: float = 0.0  # of the whole run's CPU time (the engine process and every child), the recorder's
    close_s: float = 0.0  # what was left to write once the run had accounted for every message


def _run_cpu_s() -> float:
    """CPU time of this process and of its children that have ended (a run's end every one of them)."""
    return sum(usage.ru_utime + usage.ru_stime
               for usage in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)))


def _recorded_run(messages: int, path: Path | None) -> RecordedRun:
    began = time.process_time()
    if path is None:
        rate = run_rrsim("ipc", WORKERS, messages)["msgs_per_s"]
        return RecordedRun(rate, (time.process_time() - began) / messages * 1e6)
    run_began = _run_cpu_s()
    binary = path.open("wb")
    stream = gzip_text(binary) if compressed(path) else io.TextIOWrapper(binary, encoding="utf-8")
    recorder = EventRecorder(stream, Scenario("benchmark", Setup()))
    try:
        rate = run_rrsim("ipc", WORKERS, messages, recorder)["msgs_per_s"]
        closing = time.perf_counter()
        recorder.close()
        stream.close()  # the last of the compression: part of the cost
        close_s = time.perf_counter() - closing
    finally:
        stream.close()
    cpu_s = time.process_time() - began
    return RecordedRun(rate, cpu_s / messages * 1e6, recorder.cpu_s / cpu_s, recorder.cpu_s / (_run_cpu_s() - run_began),
                       close_s)


def cost(settings: Settings) -> dict[str, Any]:
    messages = settings.recording_messages
    runs: dict[str, list[RecordedRun]] = {"none": [], "jsonl": [], "jsonl.gz": []}
    sizes: dict[str, list[float]] = {"jsonl": [], "jsonl.gz": [], "jsonl, uncompressed from .gz": []}
    kinds = list(runs)
    with tempfile.TemporaryDirectory(prefix="rrsim-bench-rec-") as tmp:
        for rep in range(settings.reps):
            for kind in kinds[rep % 3:] + kinds[: rep % 3]:
                path = None if kind == "none" else Path(tmp) / f"events.{kind}"
                runs[kind].append(_recorded_run(messages, path))
                if path is not None:
                    sizes[kind].append(path.stat().st_size / messages)
                    if kind == "jsonl.gz":
                        with gzip.open(path) as text:
                            sizes["jsonl, uncompressed from .gz"].append(len(text.read()) / messages)
                    path.unlink()
    recorded = ("jsonl", "jsonl.gz")
    # Each repetition's runs took turns: their ratio compares runs made under the same load.
    ratios = {kind: summary([run.msgs_per_s / base.msgs_per_s for run, base in zip(runs[kind], runs["none"], strict=True)])
              for kind in recorded}
    return {
        "case": f"ipc, {WORKERS} workers, rate 0, {messages} messages",
        "msgs_per_s": {kind: summary([run.msgs_per_s for run in values], 0) for kind, values in runs.items()},
        "ratio": ratios,
        # Steadier than the ratio on a busy machine: the engine process's CPU time per message, with
        # a recorder over without, and the share of it the recorder's own thread took.
        "cpu_ratio": {kind: summary([run.cpu_us_per_msg / base.cpu_us_per_msg
                                     for run, base in zip(runs[kind], runs["none"], strict=True)]) for kind in recorded},
        "recorder_cpu_share": {kind: summary([run.recorder_share for run in runs[kind]]) for kind in recorded},
        # The steadiest: at rate 0 the engine's own thread is mostly waiting (~6% busy), the pusher and
        # the workers are what the two cores are busy with, so what recording takes from the run is
        # about its share of the whole run's CPU time.
        "recorder_run_cpu_share": {kind: summary([run.run_share for run in runs[kind]]) for kind in recorded},
        "close_s": {kind: summary([run.close_s for run in runs[kind]], 3) for kind in recorded},
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


def _write_synthetic(seconds: float, path: Path) -> None:
    events = SyntheticRecording(seconds)
    with path.open("wb") as binary:
        stream = gzip_text(binary)
        record = EventRecorder(stream, Scenario("synthetic", Setup()))
        for index in range(len(events)):
            record(events[index])
        record.close()
        stream.close()


def _rss_mb() -> float:
    """This process's resident memory now (Linux)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def open_and_seek(path: Path, seconds: float) -> dict[str, Any]:
    """In a process of its own (``python -m benchmarks.recording PATH SECONDS``): open the recording
    as ``rrsim replay`` does, to its first frame, then fold it all, then seek back and forth."""
    began, began_cpu, rss_before = time.perf_counter(), time.process_time(), _rss_mb()
    timeline = Timeline(RecordingFile(path))
    player = Player(timeline)
    read_frame(player.model, "synthetic", player.model.drained, None)
    first_frame_s = time.perf_counter() - began
    rss_first = _rss_mb()
    began, began_cpu = time.perf_counter(), time.process_time()
    timeline.load_all()
    loaded_s, loaded_cpu_s = time.perf_counter() - began, time.process_time() - began_cpu
    totals = timeline.final.totals()
    if totals.delivered != totals.sent or totals.lost:
        raise RuntimeError(f"the synthetic recording does not add up: {totals}")
    rng = random.Random(15)
    times_ms, cpu_ms = [], []
    for _ in range(SEEKS):
        target = rng.uniform(0, seconds)
        began, began_cpu = time.perf_counter(), time.thread_time()
        player.seek_s(target)
        times_ms.append((time.perf_counter() - began) * 1000)
        cpu_ms.append((time.thread_time() - began_cpu) * 1000)
        if abs(player.elapsed_s() - target) > 1e-6:
            raise RuntimeError(f"seek to {target} s ended at {player.elapsed_s()} s")
    return {
        "messages": totals.sent,
        "events": timeline.loaded,
        "first_frame_s": round(first_frame_s, 3),
        "first_frame_rss_mb": round(rss_first - rss_before, 1),
        "load_s": round(loaded_s, 1),
        "load_cpu_s": round(loaded_cpu_s, 1),
        "loaded_rss_mb": round(_rss_mb() - rss_before, 1),
        "snapshots": len(timeline.snapshots),
        "snapshot_mb": round(timeline.snapshot_bytes() / 1e6, 1),
        "seek_ms": times_ms,
        "seek_cpu_ms": cpu_ms,
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: an exec starts it afresh, unlike ru_maxrss,
    which a child forked from a big benchmark process inherits)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e6
    return float("nan")


def report_in_child(path: Path, report: Path) -> dict[str, Any]:
    """``rrsim replay PATH --json REPORT`` in this process (``python -m benchmarks.recording
    --report PATH REPORT``), its summary swallowed; then its peak memory."""
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["replay", str(path), "--json", str(report)])
    return {"code": code, "peak_rss_mb": round(_peak_rss_mb(), 1)}


def _in_child(command: list[str]) -> tuple[dict[str, Any], float]:
    """(the JSON it printed, wall seconds) of a command run to its end."""
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, stdin=subprocess.DEVNULL)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.decode(errors='replace')[-500:]}")
    return json.loads(done.stdout), time.perf_counter() - began


def seeks(settings: Settings) -> dict[str, Any]:
    seconds = settings.seek_recording_s
    with tempfile.TemporaryDirectory(prefix="rrsim-bench-replay-") as tmp:
        path = Path(tmp) / "synthetic.jsonl.gz"
        began = time.perf_counter()
        _write_synthetic(seconds, path)
        written_s = time.perf_counter() - began
        opened, _ = _in_child([sys.executable, "-m", "benchmarks.recording", str(path), str(seconds)])
        reported, report_s = _in_child([sys.executable, "-m", "benchmarks.recording", "--report", str(path),
                                        str(Path(tmp) / "report.json")])
        size_mb = path.stat().st_size / 1e6
    seek_ms = summary(opened.pop("seek_ms"), 1)
    return {
        "recording_s": seconds,
        "msgs_per_s": SEEK_RATE,
        "file_mb": round(size_mb, 1),
        "written_s": round(written_s, 1),
        **opened,
        "seek_ms": seek_ms,
        # On a busy machine the wall time is mostly waiting for a core: this is the seek's own work.
        "seek_cpu_ms": summary(opened["seek_cpu_ms"], 1),
        # rrsim replay FILE --json: the whole file folded, one event at a time, in a process of its own.
        "report_s": round(report_s, 1),
        "report_peak_rss_mb": reported["peak_rss_mb"],
        "target": f"max seek < {SEEK_TARGET_S * 1000:.0f} ms, first frame < {FIRST_FRAME_TARGET_S:g} s",
        "met": seek_ms["max"] < SEEK_TARGET_S * 1000 and opened["first_frame_s"] < FIRST_FRAME_TARGET_S,
    }


def run(settings: Settings) -> dict[str, Any]:
    return {"cost": cost(settings), "seek": seeks(settings)}


if __name__ == "__main__":
    if sys.argv[1] == "--report":
        print(json.dumps(report_in_child(Path(sys.argv[2]), Path(sys.argv[3]))))
    else:
        print(json.dumps(open_and_seek(Path(sys.argv[1]), float(sys.argv[2]))))

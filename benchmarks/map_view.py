"""7. The message map at scale: 128 worker lives at 100,000 messages a second, no processes.

Fold: a push-pull run of 128 workers and one pusher at 100,000 msgs/s, as events (every 20 ms
the pusher's progress and each worker's batch of what it was dealt round robin, as
rrsim.child.receipts batches them), folded into a Model; the map's own part (recording each batch) is
timed apart on the same batches. Figures are per second of run.

Draw: what the screen does for one frame of the map, summing the lives shown into columns
(``MessageMap.frame``) and making their lines (``map_line``), on a map of 128 lives that holds
ten minutes of run (``map_drawn_s``; a message per life per 100 ms slot), at 80x24 and 200x60 and, for
comparison, with every life drawn. A cold frame sums every slot (the first, or after the layout
changed); a steady frame follows a 20 ms batch for each life, as in a live run. Textual's own
rendering of the lines is not in these figures.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from benchmarks.settings import Settings
from benchmarks.stats import summary
from rrsim import events as ev
from rrsim.model.message_map import SLOT_NS, MessageMap
from rrsim.model.model import NS, Model
from rrsim.scenario.setup import Setup
from rrsim.tui.widgets.message_map import BORDER_HEIGHT, FRAME_WIDTH, LABEL_WIDTH, MAX_HEIGHT, map_line

WORKERS = 128
RATE = 100_000  # msgs/s, over every worker
BATCH_NS = 20_000_000
WAIT_NS = 200_000
T0_NS = 1_000 * NS
REFRESH_MS = 50.0  # the live view's frame interval (run_screen.REFRESH_HZ)
TARGET_FRAME_MS = 10.0  # a steady frame: a fifth of the interval, leaving the rest to Textual and the tiles
TARGET_RECORD_SHARE = 0.1  # recording the map: at most a tenth of what folding the same batches costs the model
FRAMES_PER_REP = 4  # steady frames timed: this many for each of the settings' repetitions
SCREENS = {"80x24": (80, 24), "200x60": (200, 60)}
NOT_BODY = 1  # the footer: the map's share is of the body above it


def run_events(seconds: float) -> Iterator[ev.Event]:
    """The run's events in order: setup, then every 20 ms a SentProgress and 128 Deliveries."""
    names = [f"w{i}" for i in range(1, WORKERS + 1)]
    yield ev.RunStarted(T0_NS, Setup(workers=WORKERS, rate=0.0).to_dict(), {"p1": "ipc:///tmp/rrsim-bench/p1"})
    yield from (ev.ProcessStarted(T0_NS, name, "worker", 1, 1000 + i, links_to=("pusher",)) for i, name in enumerate(names))
    yield ev.ProcessStarted(T0_NS, "p1", "pusher", 1, 999, kind="sender", links_to=("worker",))
    yield from (ev.LinkChanged(T0_NS, name, "p1", True) for name in names)
    per_batch = RATE * BATCH_NS // NS
    ones = np.ones(-(-per_batch // WORKERS), dtype=np.int64)  # the most any worker gets in a batch
    for batch in range(int(seconds * NS // BATCH_NS)):
        t_ns = T0_NS + (batch + 1) * BATCH_NS
        yield ev.SentProgress(t_ns, "p1", (batch + 1) * per_batch, False, WORKERS, False)
        for number, name in enumerate(names):
            seqs = np.arange(batch * per_batch + number, (batch + 1) * per_batch, WORKERS)
            sent_ns = T0_NS + seqs * (NS // RATE)
            yield ev.Deliveries(t_ns, name, 1, ones[: len(seqs)], seqs, sent_ns, sent_ns + WAIT_NS)
        yield ev.Tick(t_ns)


def fold(seconds: float) -> dict[str, Any]:
    events = list(run_events(seconds))
    model = Model()
    began = time.process_time()
    for event in events:
        model.apply(event)
    folded_s = time.process_time() - began
    if model.totals().delivered != model.totals().sent or model.totals().lost:
        raise RuntimeError(f"the synthetic run does not add up: {model.totals()}")
    batches = [e for e in events if isinstance(e, ev.Deliveries)]
    no_late = np.zeros(max(len(batch.seqs) for batch in batches), dtype=bool)
    alone = MessageMap()
    began = time.process_time()
    for batch in batches:
        alone.record_deliveries(batch.worker, batch.life, batch.pushers, batch.recv_ns, no_late[: len(batch.seqs)])
    recorded_s = time.process_time() - began
    return {
        "batches_per_s": round(len(batches) / seconds),
        "model_fold_ms_per_s": round(folded_s * 1000 / seconds, 1),  # the model's fold, the map's part included
        "map_record_ms_per_s": round(recorded_s * 1000 / seconds, 1),
        "map_share_of_fold": round(recorded_s / folded_s, 3),
        "target": f"map record <= {TARGET_RECORD_SHARE:.0%} of the fold",
        "met": recorded_s <= TARGET_RECORD_SHARE * folded_s,
    }


def long_map(seconds: float) -> tuple[MessageMap, int]:
    """128 lives with a message in every 100 ms slot of ``seconds``, and the time it ends."""
    m = MessageMap()
    slots = int(seconds * NS // SLOT_NS)
    recv_ns = T0_NS + np.arange(slots, dtype=np.int64) * SLOT_NS
    pushers = np.ones(slots, dtype=np.int64)
    for number in range(1, WORKERS + 1):
        m.record_deliveries(f"w{number}", 1, pushers, recv_ns, np.zeros(slots, dtype=bool))
    return m, int(recv_ns[-1])


def draw_times(width: int, height: int, every_life: bool, seconds: float, frames: int) -> dict[str, Any]:
    m, now_ns = long_map(seconds)
    columns = width - FRAME_WIDTH - LABEL_WIDTH
    rows = None if every_life else max(int((height - NOT_BODY) * MAX_HEIGHT) - BORDER_HEIGHT, 1)

    def frame() -> float:
        began = time.process_time()
        drawn = m.frame(T0_NS, now_ns, columns, 0, rows)
        for row in drawn.rows:
            map_line(row, drawn.peak)
        return (time.process_time() - began) * 1000

    cold = frame()
    steady = []
    batch = np.ones(RATE * BATCH_NS // NS // WORKERS, dtype=np.int64)
    for _ in range(frames):
        now_ns += BATCH_NS
        recv = np.full(len(batch), now_ns, dtype=np.int64)
        for number in range(1, WORKERS + 1):
            m.record_deliveries(f"w{number}", 1, batch, recv, np.zeros(len(batch), dtype=bool))
        steady.append(frame())
    return {"lives_drawn": rows or WORKERS, "columns": columns, "cold_ms": round(cold, 2), "steady_ms": summary(steady, 2)}


def run(settings: Settings) -> dict[str, Any]:
    long_s, frames = settings.map_drawn_s, settings.reps * FRAMES_PER_REP
    draw: dict[str, Any] = {name: draw_times(*size, False, long_s, frames) for name, size in SCREENS.items()}
    draw["200x60, every life"] = draw_times(*SCREENS["200x60"], True, long_s, frames)
    for name in SCREENS:
        draw[name]["met"] = draw[name]["steady_ms"]["median"] <= TARGET_FRAME_MS
    worst = max(draw[name]["steady_ms"]["median"] for name in SCREENS)
    return {
        "setup": f"{WORKERS} worker lives, 1 pusher, {RATE:,} msgs/s in 20 ms batches; map of {long_s:g} s drawn",
        "fold": fold(settings.map_seconds),
        "drawn_s": long_s,
        "draw": draw,
        "frame_target": f"steady frame median <= {TARGET_FRAME_MS:g} ms (refresh every {REFRESH_MS:g} ms)",
        "frame_met": all(draw[name]["met"] for name in SCREENS),
        "per_second_of_run_ms": round(worst * 1000 / REFRESH_MS, 1),  # at the live view's 20 frames a second
    }


"""A tile's recent latency after a pause (issue 24 item 4): the backlog a paused worker finds on
resuming lifts its p99 to seconds, and its p50 stays what most of its messages waited."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from test_causes import push_pull

from rrsim import events as ev
from rrsim.model.model import NS
from rrsim.tui.frames import read_frame
from rrsim.tui.widgets.worker_tile import _draw_latency

MS = 1_000_000


def paused_for_three_seconds():
    """w1 receives ten messages every 100 ms, each 0.31 ms after it was sent; it is paused from
    5 s to 8 s, and on resuming receives at once the 300 messages dealt to it meanwhile."""
    model = push_pull(1)
    seq = 0

    def batch(t_ns: int, sent_ns: np.ndarray) -> None:
        nonlocal seq
        n = len(sent_ns)
        model.apply(ev.Deliveries(t_ns, "w1", 1, np.ones(n, dtype=np.int64), np.arange(seq, seq + n, dtype=np.int64),
                                  sent_ns.astype(np.int64), np.full(n, t_ns, dtype=np.int64)))
        seq += n

    def steady(start_ns: int, end_ns: int) -> None:
        for t in range(start_ns, end_ns, 100 * MS):
            batch(t, np.full(10, t - 310_000))

    steady(NS, 5 * NS)
    model.apply(ev.WorkerPaused(5 * NS, "w1"))
    model.apply(ev.WorkerResumed(8 * NS, "w1"))
    batch(8 * NS, np.linspace(5 * NS, 8 * NS, 300, endpoint=False))  # what waited in its pipe
    steady(8 * NS + 100 * MS, 9 * NS)
    return model


def test_the_recent_window_keeps_the_usual_wait_as_p50_after_a_pause():
    model = paused_for_three_seconds()
    recent = model.workers["w1"].recent_latency.window(model.now_ns)
    assert recent.quantile_ms(0.5) == pytest.approx(0.31, rel=0.01)
    assert recent.quantile_ms(0.99) > 2800
    shown = next(w for w in read_frame(model, "test", False).workers if w.name == "w1")
    assert shown.p50_ms == pytest.approx(0.31, rel=0.01) and shown.p99_ms > 2800


def test_a_tile_shows_p50_in_its_own_unit_when_p99_is_seconds():
    text = " ".join(str(line) for line in _draw_latency(SimpleNamespace(latency_trusted=True, p50_ms=0.31, p99_ms=2800.0, program=False), 40))
    assert "0.31" in text and "2.8" in text, text

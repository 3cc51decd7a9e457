"""Numbers that mean now, from fixed events: tile latency over the last 10 s, a revived worker's
count for this life, and what a tile says once the run is over."""

from __future__ import annotations

import numpy as np
from test_causes import deliver, push_pull
from test_ledger_model import worker_started

from rrsim import events as ev
from rrsim.model.model import NS
from rrsim.tui.frames import read_frame
from rrsim.tui.widgets.worker_tile import recent_id_lines


def tile(model, name: str, finished: bool = False):
    return next(w for w in read_frame(model, "test", finished).workers if w.name == name)


def test_tile_latency_is_the_last_ten_seconds_and_the_report_keeps_the_whole_run():
    model = push_pull(1)
    deliver(model, NS, "w1", 1, list(range(100)), sent_ns=NS - 10_000 * 1_000_000)  # a 10 s backlog
    deliver(model, 20 * NS, "w1", 1, list(range(100, 110)), sent_ns=20 * NS - 200_000)  # 0.2 ms now
    shown = tile(model, "w1")
    assert abs(shown.p99_ms - 0.2) < 0.01 and abs(shown.p50_ms - 0.2) < 0.01
    assert model.workers["w1"].latency_ms(0.5) > 9000  # the whole run: what the report says
    model.apply(ev.Tick(40 * NS))
    assert tile(model, "w1").p50_ms is None  # nothing received in the last 10 s


def test_a_revived_worker_shows_this_lifes_count_and_where_its_ids_begin():
    model = push_pull(1)
    deliver(model, NS, "w1", 1, [0, 1, 2], sent_ns=NS - 1000)
    model.apply(ev.ProcessEnded(2 * NS, "w1", 1, "killed", -9))
    model.apply(worker_started(3 * NS, "w1", 2, 201))
    deliver(model, 4 * NS, "w1", 2, [5, 6], sent_ns=4 * NS - 1000)
    shown = tile(model, "w1")
    assert (shown.life, shown.life_received, shown.received) == (2, 2, 5)
    text = " ".join(line.plain for line in recent_id_lines(shown.recent, 80, 3))
    assert text == "p1:0 p1:1 p1:2 │life 2 p1:5 p1:6"


def test_once_the_run_is_over_a_running_worker_says_done_and_a_dead_one_keeps_its_state():
    model = push_pull(2)
    model.apply(ev.ProcessEnded(NS, "w2", 1, "killed", -9))
    model.apply(ev.Drained(2 * NS))
    assert [w.state for w in read_frame(model, "test", False).workers] == ["alive", "killed"]
    assert [w.state for w in read_frame(model, "test", True).workers] == ["done", "killed"]


def test_a_life_killed_before_it_received_anything_still_has_a_row_on_the_map():
    model = push_pull(2)
    model.apply(ev.ProcessEnded(NS, "w2", 1, "killed", -9))
    model.apply(worker_started(2 * NS, "w2", 2, 202))
    rows = model.message_map.frame(0, 3 * NS, 30).rows
    assert [(r.name, r.life, sum(r.counts)) for r in rows] == [("w1", 1, 0), ("w2", 1, 0), ("w2", 2, 0)]


def test_a_tiles_sparkline_takes_a_late_receipt_into_a_half_second_it_has_shown_already():
    model = push_pull(1)
    deliver(model, 3 * NS, "w1", 1, list(range(10)), sent_ns=3 * NS - 1000)
    before = tile(model, "w1").rates
    assert tile(model, "w1").rates == before  # read twice in the same half-second: the same
    # A batch reported late: received at 2.2 s, in a half-second the sparkline shows already.
    model.apply(ev.Deliveries(3 * NS + 1, "w1", 1, np.ones(4, dtype=np.int64), np.arange(10, 14),
                              np.full(4, 2 * NS, dtype=np.int64), np.full(4, 2 * NS + NS // 5, dtype=np.int64)))
    after = tile(model, "w1").rates
    assert sum(after) - sum(before) == 4 * 2  # 4 messages in a half-second: 8 a second

"""Left from earlier notes (issue 24 item 13), on fixed events: what the fold says about a broker
back from a pause, connections and starts at scale, the message map, slow joiners and given-up
messages."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from rrsim import events as ev
from rrsim.model.message_map import SLOT_NS, TIED, MessageMap
from rrsim.report.wording import describe, subjects
from rrsim.scenario.scenario import TUI_DEFAULTS
from rrsim.tui.palette import pusher_colour
from rrsim.tui.widgets.message_map import LABEL_WIDTH, map_line
from tests.scenes import Script


def test_a_broker_resumed_is_alive_once_it_routes_even_before_every_worker_is_back() -> None:
    script = Script(replace(TUI_DEFAULTS, pattern="reliable", workers=2)).start().run(1.0)
    script.emit(ev.WorkerPaused(script.t_ns, "b1"))
    script.emit(ev.LinkChanged(script.t_ns, "w2", "b1", False))  # w2 gave up on its silent broker: back-off
    script.run(1.0)
    script.emit(ev.WorkerResumed(script.t_ns, "b1"))
    assert script.model.brokers["b1"].state == "starting"
    routed = script.model.brokers["b1"].routed
    script.emit(ev.RouterState(script.t_ns + 10_000_000, "b1", 1, 0, 1, routed + 5))
    assert script.model.brokers["b1"].state == "alive"


def test_many_workers_starting_at_once_are_one_line_in_the_log() -> None:
    script = Script(replace(TUI_DEFAULTS, workers=128)).start()
    started = [entry for entry in script.model.log if entry.what == "started"]
    texts = [describe(entry) for entry in started]
    assert len(started) <= 2, texts[:5]  # the workers' line, and the pusher's
    assert any(text.startswith("w1-w128 started: life 1, pids ") for text in texts), texts
    assert "w77" in subjects(next(entry for entry in started if "w1-w128" in describe(entry)))


def test_a_revived_worker_still_has_a_line_of_its_own() -> None:
    script = Script(replace(TUI_DEFAULTS, workers=3)).start().run(0.5)
    script.kill("w2")
    script.run(0.5)
    script.revive("w2")
    assert describe(script.model.log[-1] if script.model.log[-1].what == "started" else
                    next(e for e in reversed(script.model.log) if e.what == "started")).startswith("w2 revived: life 2")


def test_a_map_cell_where_pushers_tie_is_not_given_p1s_colour() -> None:
    book = MessageMap()
    t0 = 10 * SLOT_NS
    book.record_deliveries("w1", 1, np.array([1, 2, 2, 1]), np.full(4, t0), np.zeros(4, dtype=bool))  # p1 2, p2 2
    book.record_deliveries("w1", 1, np.array([2, 2, 1]), np.full(3, t0 + SLOT_NS), np.zeros(3, dtype=bool))  # p2 most
    row = book.frame(t0, t0 + SLOT_NS, columns=2).rows[0]
    assert row.pushers == (TIED, 2)
    line = map_line(row, peak=4)
    tied_style = next(span.style for span in line.spans if span.start == LABEL_WIDTH)
    assert tied_style not in (pusher_colour(1), pusher_colour(2))


def test_a_pusher_added_later_that_sends_before_every_worker_has_joined_is_a_slow_joiner() -> None:
    script = Script(replace(TUI_DEFAULTS, workers=3)).start().run(1.0)
    t = script.t_ns
    script.emit(ev.ProcessStarted(t, "p2", "pusher", 1, 9999, kind="sender", links_to=("worker",)))
    script.emit(ev.LinkChanged(t, "p2", "w1", True))
    script.emit(ev.SentProgress(t + 1, "p2", 30, False, 1, False, joined=False, early=30))  # only w1 connected
    seqs = np.arange(30, dtype=np.int64)
    script.emit(ev.Deliveries(t + 2, "w1", 1, np.full(30, 2), seqs, np.full(30, t), np.full(30, t + 2)))
    script.emit(ev.SentProgress(t + 3, "p2", 40, False, 3, False, joined=True, early=30))
    lines = [describe(entry) for entry in script.model.log if entry.what == "slow-joiner"]
    assert len(lines) == 1 and lines[0].startswith("slow joiner: p2 sent 30 messages before all 3 workers"), lines
    assert "w1 got 30" in lines[0]

"""The timeline as a run plays it, on a model fed fixed events: when entries fire and what the log says."""

from __future__ import annotations

from rrsim import events as ev
from rrsim.engine.timeline import Timeline
from rrsim.model.model import Model
from rrsim.scenario.actions import Action
from rrsim.scenario.scenario import load_scenario

NS = 1_000_000_000


def sent(model: Model, t_s: float, count: int) -> None:
    model.apply(ev.SentProgress(int(t_s * NS), "p1", count, False, 1, False))


def test_a_timed_entry_held_behind_a_counted_one_says_it_fired_late():
    model = Model()
    model.apply(ev.ProcessStarted(0, "p1", "pusher", 1, 100, kind="sender", links_to=("worker",)))
    timeline = Timeline((Action("kill", after_sent=7, worker="w1"), Action("revive", time=2.5, worker="w1")))
    sent(model, 0.0, 1)
    sent(model, 6.0, 7)  # at 1 message a second, the 7th goes out 6 s after the first
    fired = timeline.due(model, int(6.05 * NS), time_up=False)
    assert [due.action.action for due in fired] == ["kill", "revive"]
    assert fired[0].describe() == "after 7 sent: kill w1"
    assert fired[1].describe().startswith("at 2.5 s: revive w1 (fired 3.5 s late")


def test_a_timed_entry_on_time_says_only_its_time():
    model = Model()
    model.apply(ev.ProcessStarted(0, "p1", "pusher", 1, 100, kind="sender", links_to=("worker",)))
    timeline = Timeline((Action("revive", time=2.5, worker="w1"),))
    sent(model, 1.0, 1)
    assert timeline.due(model, int(3.4 * NS), time_up=False) == []
    (due,) = timeline.due(model, int(3.55 * NS), time_up=False)
    assert due.describe() == "at 2.5 s: revive w1"


def test_the_seeds_phases_are_counted_in_messages_so_they_keep_their_length_at_any_rate():
    timeline = load_scenario("seed").timeline
    assert [(a.action, a.after_sent, a.time) for a in timeline] == [("kill", 7, None), ("revive", 13, None)]

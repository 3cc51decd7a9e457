"""churn under the three patterns: what each loses when workers die, pause and come back."""

from __future__ import annotations

import dataclasses

import pytest

from rrsim.scenario.scenario import load_scenario
from rrsim.scenario.setup import build_setup
from runs import assert_ledger_consistent, run

pytestmark = pytest.mark.system

SCALE = 0.25  # churn's own 20 s of actions, four times as fast: the same story in a fifth of the time


def short_churn(pattern: str):
    scenario = load_scenario("churn")
    setup = build_setup({"pattern": pattern, "messages": int(scenario.setup.messages * SCALE),
                         "duration": scenario.setup.duration * SCALE}, "test", base=scenario.setup)
    timeline = [dataclasses.replace(action, time=action.time * SCALE) for action in scenario.timeline]
    return run(setup, timeline, timeout_s=120)


def test_churn_push_pull_loses_most_the_broker_only_what_its_dead_held_and_reliable_nothing():
    lost = {}
    kills = sum(action.action == "kill" for action in load_scenario("churn").timeline)
    for pattern in ("push-pull", "lb-broker", "reliable"):
        result = short_churn(pattern)
        assert_ledger_consistent(result)
        lost[pattern] = result.model.totals().lost
    # A paused worker is killed twice: push-pull kept dealing to it all the while it was stopped,
    # the broker handed it one message (lru), reliable hands that one to another worker again.
    assert lost["reliable"] == 0, lost
    assert lost["lb-broker"] <= kills, lost
    assert lost["push-pull"] > lost["lb-broker"], lost

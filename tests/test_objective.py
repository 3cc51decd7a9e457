"""A latency objective (``objective_ms``): the share of messages whose sojourn is within it, as the
report, the summary line and the checks give it."""

from __future__ import annotations

import numpy as np

from rrsim.model.distribution import Durations
from rrsim.report.checking import evaluate
from rrsim.report.report import objective_words
from rrsim.scenario.checks import known_names, parse_check
from rrsim.scenario.setup import Setup


def test_the_share_within_counts_what_is_at_most_the_limit():
    sojourns = Durations()
    sojourns.add(np.array([10, 50, 99, 150, 400], dtype=np.int64) * 1_000_000)  # ms
    assert sojourns.share_within_ms(100.0) == 3 / 5
    assert sojourns.share_within_ms(5.0) == 0.0 and sojourns.share_within_ms(1000.0) == 1.0
    assert Durations().share_within_ms(100.0) is None  # nothing done: no share


def test_the_objective_is_a_setup_key_and_its_share_a_check_name():
    assert Setup(objective_ms=200.0).objective_ms == 200.0 and Setup().objective_ms is None
    names = known_names()
    checks = [parse_check("within_objective >= 0.99", "cli", names), parse_check("sojourn_p99_ms < 200", "cli", names)]
    report = {"within_objective": 0.995, "objective_ms": 200.0, "sojourn_ms": {"p99": 150.0}, "totals": {}}
    assert [o.passed for o in evaluate(checks, report)] == [True, True]
    assert objective_words(report) == "99.50% within 200 ms  "
    # Without an objective the check has no value and fails, saying so; the summary says nothing.
    outcome = evaluate(checks[:1], {"within_objective": None, "totals": {}})[0]
    assert not outcome.passed and "no value" in outcome.describe()
    assert objective_words({"within_objective": None}) == ""

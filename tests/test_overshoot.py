"""A worker's sleep overshoots; the work it stands for must not: the overshoot is learnt and taken
off the next sleep, so that on average a message takes the work it was given (pure)."""

from __future__ import annotations

import pytest

from rrsim.child.work import MAX_OVERSHOOT_S, next_overshoot


def test_the_estimate_follows_a_steady_overshoot_and_then_cancels_it():
    # Every sleep wakes 150 us late: with the estimate taken off, the error is what is left of it.
    estimate, late_s = 0.0, 150e-6
    errors = []
    for _ in range(200):
        error = late_s - estimate  # asked for less by the estimate, woke late by the same 150 us
        errors.append(error)
        estimate = next_overshoot(estimate, error)
    assert errors[0] == pytest.approx(150e-6)
    assert abs(errors[-1]) < 2e-6  # the work now takes what it was asked, on average
    assert estimate == pytest.approx(150e-6, rel=0.02)


def test_the_estimate_is_never_negative_and_never_more_than_its_cap():
    assert next_overshoot(0.0, -0.001) == 0.0  # woke early: nothing to take off
    assert next_overshoot(MAX_OVERSHOOT_S, 1.0) == MAX_OVERSHOOT_S  # one stall of a second is not a habit

"""What the rate, work and replay speed keys change a value to: pure functions, no UI."""

from __future__ import annotations

from rrsim.recording.player import FASTEST, MAX_SPEED, SLOWEST
from rrsim.scenario.setup import MAX_WORK_MS as WORK_CEILING_MS  # the setup's own limit on work_ms

# Send rates per pusher that `+` and `-` step through; 0 (as fast as possible) sits above the top.
RATE_STEPS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0,
              10_000.0, 20_000.0, 50_000.0, 100_000.0)
UNLIMITED = 0.0
WORK_FROM_ZERO_MS = 1.0  # `[` on a worker that does no work: something visible, not 0 x 2
WORK_FLOOR_MS = 0.5  # `]` below this means no work at all


def faster_rate(rate: float) -> float | None:
    """The next send rate up, or None if the pushers already send as fast as they can."""
    if rate == UNLIMITED:
        return None
    return next((step for step in RATE_STEPS if step > rate), UNLIMITED)


def slower_rate(rate: float) -> float | None:
    """The next send rate down, or None if it is already the lowest step."""
    if rate == UNLIMITED:
        return RATE_STEPS[-1]
    return next((step for step in reversed(RATE_STEPS) if step < rate), None)


def slower_work(work_ms: float) -> float | None:
    """Twice the work per message (from none: 1 ms), or None at the ceiling."""
    if work_ms >= WORK_CEILING_MS:
        return None
    return WORK_FROM_ZERO_MS if work_ms == 0 else min(work_ms * 2, WORK_CEILING_MS)


def faster_work(work_ms: float) -> float | None:
    """Half the work per message (under the floor: none), or None if there is no work to halve."""
    if work_ms == 0:
        return None
    half = work_ms / 2
    return 0.0 if half < WORK_FLOOR_MS else half


def rate_text(rate: float) -> str:
    return "unlimited" if rate == UNLIMITED else f"{rate:g}/s"


# Replay speeds, times real time, that `+` and `-` step through; "max" (as fast as the model folds) sits above.
REPLAY_SPEEDS = (SLOWEST, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, FASTEST)


def faster_speed(speed: float) -> float | None:
    """The next replay speed up, or None at max."""
    if speed == MAX_SPEED:
        return None
    return next((step for step in REPLAY_SPEEDS if step > speed), MAX_SPEED)


def slower_speed(speed: float) -> float | None:
    """The next replay speed down, or None at the slowest."""
    if speed == MAX_SPEED:
        return REPLAY_SPEEDS[-1]
    return next((step for step in reversed(REPLAY_SPEEDS) if step < speed), None)


def speed_text(speed: float) -> str:
    return "max" if speed == MAX_SPEED else f"{speed:g}x"

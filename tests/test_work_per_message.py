"""Each message's work on real workers: what a worker spent on it (its receipt's start and done)
against the work size the message carried and the pusher drew, under every pattern, and the
report's service time and busy fraction against the same sizes."""

from __future__ import annotations

import numpy as np
import pytest

from rrsim import patterns
from rrsim.child.workload import DrawnJobs
from rrsim.report.report import build_report
from rrsim.scenario.setup import Setup
from runs import Run, assert_ledger_consistent, run

pytestmark = pytest.mark.system

# w2 at half speed: a message takes it twice its size.  150 messages at 75/s over 10 ms of work on
# average: w1 is busy ~40% and w2 ~75% of the time, so a message seldom waits and the run takes 2 s.
WORK_MS, SPEEDS, RATE, MESSAGES, SEED = 10.0, (1.0, 0.5), 75.0, 150, 31
# A sleep never ends early; it may end late on a loaded machine, by a scheduler's slice or several
# (a median of 4 ms over 10 ms of work, and stalls of 170 ms, beside busy test processes).  So what
# is judged is not how late: a worker that slept twice each size spends twice what is due (the
# median ratio is judged under TWICE), and one that slept the mean, or another message's size,
# ends early on the larger messages (a third of exponential sizes are over the mean).
EARLY_MS = 0.05  # the clock's rounding: what "never early" allows
TWICE = 1.6  # spent over due, median: 1 on a quiet machine, 1.4 at the worst load seen, 2 for a double sleep


def _work_run(pattern: str, work_dist: str) -> Run:
    setup = Setup(pattern=pattern, workers=2, speeds=SPEEDS, work_ms=WORK_MS, work_dist=work_dist, rate=RATE,
                  messages=MESSAGES, wait_ready=True, seed=SEED, drain_s=10.0,
                  **({"strategy": "round-robin"} if pattern in patterns.with_router() else {}))
    result = run(setup, timeout_s=60)
    assert result.model.totals().delivered == MESSAGES
    assert_ledger_consistent(result)
    return result


@pytest.mark.parametrize("work_dist", ["fixed", "exponential"])
@pytest.mark.parametrize("pattern", patterns.names())
def test_each_message_takes_its_worker_the_work_it_carried(pattern, work_dist):
    result = _work_run(pattern, work_dist)
    drawn = DrawnJobs(SEED, 1, "fixed", work_dist, WORK_MS)
    report = {w["name"]: w for w in build_report(result.model)["workers"]}
    for index, speed in enumerate(SPEEDS, start=1):
        name = f"w{index}"
        batches = result.deliveries(name)
        assert batches and all(b.done_ns is not None and b.work_us is not None for b in batches)
        seqs = np.concatenate([b.seqs for b in batches])
        carried_us = np.concatenate([b.work_us for b in batches]).astype(float)
        spent_ms = np.concatenate([(b.done_ns - b.recv_ns) for b in batches]) / 1e6
        # The size a message carried is the one its pusher drew for its seq ...
        expected_sizes = np.array([_size(drawn, int(seq)) for seq in seqs], dtype=float)
        assert np.array_equal(carried_us, expected_sizes), (name, carried_us[:5], expected_sizes[:5])
        # ... and its worker spent that size over its speed on it: never less, and typically just over.
        due_ms = carried_us / 1000 / speed
        overshoot = spent_ms - due_ms
        said = f"{name} ({pattern}, {work_dist}): overshoot ms median {np.median(overshoot):.2f}, " \
               f"min {overshoot.min():.2f}, max {overshoot.max():.2f}, spent/due median {np.median(spent_ms / due_ms):.2f}, " \
               f"over {len(seqs)} messages"
        assert overshoot.min() >= -EARLY_MS, said
        assert np.median(spent_ms / due_ms) <= TWICE, said
        # The report: its service time is the mean of what the worker spent, and it was busy for
        # their sum out of its time alive; with the checks above, both follow the drawn sizes.  Not
        # judged by a margin over the sizes' mean: one stall of a starved machine (293 ms once, at
        # a load of 26) moves a mean of 75 messages by 4 ms, never the median overshoot.
        worker = result.model.workers[name]
        assert report[name]["service_ms"] == pytest.approx(spent_ms.mean(), rel=0.01, abs=0.01), (said, report[name])
        assert report[name]["service_ms"] >= due_ms.mean() - EARLY_MS, (said, report[name])
        busy = spent_ms.sum() / 1000 / worker.alive_seconds(result.model.now_ns)
        assert report[name]["busy_fraction"] == pytest.approx(busy, rel=0.01, abs=0.001), (said, report[name], busy)


def _size(jobs: DrawnJobs, seq: int) -> int:
    first, sizes = jobs.sizes_from(seq)
    return int(sizes[seq - first])


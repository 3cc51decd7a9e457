"""Workloads: what the pushers draw from the seed, what a worker makes of it, and two real runs
with the same seed sending the same jobs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from rrsim import cli, wire
from rrsim.child.sending import EvenJobs, jobs_for
from rrsim.child.work import Work
from rrsim.child.workload import BLOCK, DrawnJobs, draw_sizes, work_cap_us
from rrsim.commands.parser import apply_overrides
from rrsim.engine.engine import Engine
from rrsim.errors import UserError
from rrsim.report.report import build_report
from rrsim.scenario.actions import Action
from rrsim.scenario.scenario import load_scenario, parse_scenario
from rrsim.scenario.setup import Setup
from runs import assert_ledger_consistent, run


def _sizes(jobs: DrawnJobs, count: int) -> np.ndarray:
    out = []
    while len(out) < count:
        first, sizes = jobs.sizes_from(len(out))
        out.extend(sizes[len(out) - first:])
    return np.array(out[:count])


def _arrivals(jobs: DrawnJobs, count: int) -> np.ndarray:
    return np.array([jobs.at(seq) for seq in range(count)])


def test_the_same_seed_and_pusher_draw_the_same_jobs_and_others_do_not():
    def draw(seed: int, index: int) -> tuple[np.ndarray, np.ndarray]:
        jobs = DrawnJobs(seed, index, "poisson", "exponential", 10.0)
        return _arrivals(jobs, 5000), _sizes(DrawnJobs(seed, index, "poisson", "exponential", 10.0), 5000)

    first = draw(7, 1)
    assert all(np.array_equal(a, b) for a, b in zip(first, draw(7, 1), strict=True))
    for other in (draw(7, 2), draw(8, 1)):
        assert not np.array_equal(first[0], other[0]) and not np.array_equal(first[1], other[1])
    # The sizes do not depend on the arrivals: the same work whether messages come evenly or not.
    assert np.array_equal(_sizes(DrawnJobs(7, 1, "fixed", "exponential", 10.0), 5000), first[1])


def test_poisson_arrivals_have_exponential_gaps_of_mean_one_rate_period():
    arrivals = _arrivals(DrawnJobs(3, 1, "poisson", "fixed", 1.0), 3 * BLOCK)
    gaps = np.diff(arrivals)
    assert arrivals[0] == 0.0  # the first message goes out at once, as with even spacing
    assert gaps.mean() == pytest.approx(1.0, rel=0.05) and gaps.std() == pytest.approx(1.0, rel=0.05)
    assert (gaps > 0).all()
    # Exponential: as many gaps below the median ln 2 as above it.
    assert np.mean(gaps < np.log(2)) == pytest.approx(0.5, abs=0.03)


def test_due_counts_the_messages_whose_arrival_has_come():
    jobs = DrawnJobs(5, 2, "poisson", "fixed", 1.0)
    arrivals = _arrivals(DrawnJobs(5, 2, "poisson", "fixed", 1.0), BLOCK)
    for units in (0.0, 0.5, 17.3, float(arrivals[100]), arrivals[-1] + 5):
        assert jobs.due(units) == min(BLOCK, int(np.count_nonzero(arrivals <= units)))
    even = EvenJobs(0)
    assert [even.due(u) for u in (0.0, 0.99, 1.0, 41.5)] == [1, 1, 2, 42]  # message n is due at n / rate
    assert DrawnJobs(5, 2, "fixed", "exponential", 1.0).due(41.5) == 42


@pytest.mark.parametrize("dist, cv", [("exponential", 1.0), ("uniform", 1 / np.sqrt(3)), ("lognormal", 1.0),
                                      ("lognormal", 0.5), ("fixed", 0.0)])
def test_work_sizes_have_the_mean_and_spread_of_their_distribution(dist, cv):
    sizes = draw_sizes(np.random.default_rng(1), dist, 10.0, cv if dist == "lognormal" else 1.0, 200_000) / 1000
    assert sizes.mean() == pytest.approx(10.0, rel=0.02)
    assert sizes.std() / sizes.mean() == pytest.approx(cv, abs=0.03)
    if dist == "uniform":
        assert sizes.min() >= 0 and sizes.max() <= 20.0


def test_work_sizes_are_capped_and_fit_the_header():
    assert work_cap_us(10.0) == 10_000_000 and work_cap_us(600_000.0) == wire.MAX_WORK_US
    sizes = draw_sizes(np.random.default_rng(1), "lognormal", 600_000.0, 4.0, 10_000)
    assert sizes.dtype == np.uint32 and sizes.max() <= wire.MAX_WORK_US


def test_the_fingerprint_covers_exactly_what_was_sent():
    def digest(sent: int) -> str:
        jobs = DrawnJobs(9, 1, "poisson", "uniform", 3.0)
        jobs.at(sent)  # the pusher has looked at the next message, in the next block at a block's end
        return jobs.digest(sent)

    assert len({digest(n) for n in (0, 1, BLOCK - 1, BLOCK, BLOCK + 1)}) == 5
    assert digest(BLOCK) == DrawnJobs(9, 1, "poisson", "uniform", 3.0).digest(BLOCK)
    assert EvenJobs(5000).digest(100) == ""


def test_a_pusher_draws_only_when_something_is_random():
    spec = {"arrivals": "fixed", "work_dist": "fixed", "mean_work_ms": 5.0, "seed": 1, "index": 1, "work_cv": 1.0}
    assert isinstance(jobs_for(SimpleNamespace(**spec)), EvenJobs) and jobs_for(SimpleNamespace(**spec)).sizes_from(0)[1][0] == 5000
    assert isinstance(jobs_for(SimpleNamespace(**{**spec, "work_dist": "exponential", "mean_work_ms": 0.0})), EvenJobs)
    assert isinstance(jobs_for(SimpleNamespace(**{**spec, "arrivals": "poisson"})), DrawnJobs)


def _message(work_us: int) -> bytes:
    return wire.HEADER.pack(wire.MAGIC, 1, 0, 0, work_us) + bytes(10)


def test_a_worker_works_the_message_size_over_its_speed_scaled_by_its_own_work_ms():
    assert Work(10.0, 10.0, 1.0).seconds(_message(25_000)) == pytest.approx(0.025)
    assert Work(10.0, 10.0, 0.25).seconds(_message(25_000)) == pytest.approx(0.1)  # a quarter speed: 4x as long
    assert Work(10.0, 20.0, 1.0).seconds(_message(25_000)) == pytest.approx(0.05)  # `[`: its work_ms doubled
    # The run's work_ms is 0: messages carry none, and a worker given work by set_work does its own.
    assert Work(0.0, 4.0, 0.5).seconds(_message(0)) == pytest.approx(0.008)
    assert not Work(0.0, 0.0, 1.0).any and Work(0.0, 4.0, 1.0).any
    # Not one of ours: the worker's mean.  One of ours claiming a day of work: capped.
    assert Work(10.0, 10.0, 1.0).seconds(b"junk" * 10) == pytest.approx(0.01)
    assert Work(10.0, 10.0, 1.0).seconds(_message(wire.MAX_WORK_US)) == pytest.approx(10.0)


def test_workload_keys_in_a_scenario():
    scenario = parse_scenario(
        '[setup]\nworkers = 3\narrivals = "poisson"\nwork_dist = "lognormal"\nwork_cv = 0.5\nspeeds = [1, 0.25]\n'
        'seed = 99\n[[at]]\ntime = 1.0\naction = "add_worker"\nspeed = 2\n', "s.toml", "s")
    setup = scenario.setup
    assert (setup.arrivals, setup.work_dist, setup.work_cv, setup.speeds, setup.seed) == \
        ("poisson", "lognormal", 0.5, (1.0, 0.25), 99)
    assert [setup.speed_of(i) for i in (1, 2, 3)] == [1.0, 0.25, 1.0]
    assert scenario.timeline == (Action("add_worker", time=1.0, speed=2.0),)


@pytest.mark.parametrize("body, needle", [
    ('speeds = [1, 1, 1]', "speeds has 3 factors for 2 workers (line 3)"),
    ('speeds = [1, 0]', "item 2: must be at least 0.001"),
    ('speeds = 0.5', "must be a list of numbers"),
    ('arrivals = "bursty"', "must be one of fixed, poisson"),
    ('work_dist = "normal"', "fixed, exponential, uniform, lognormal"),
    ('seed = -1', "'seed' (line 3): must be at least 0"),
    ('work_cv = 9', "must be at most 4"),
])
def test_bad_workload_keys_are_one_line_naming_the_key(body, needle):
    with pytest.raises(UserError, match=None) as caught:
        parse_scenario(f"[setup]\nworkers = 2\n{body}\n", "bad.toml", "bad")
    assert needle in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(UserError, match="speed"):
        parse_scenario('[[at]]\ntime = 1\naction = "add_worker"\nspeed = "fast"\n', "bad.toml", "bad")


@pytest.mark.parametrize("args, needle", [
    (["--speeds", "1,x"], "option --speeds: must be numbers separated by commas"),
    (["--speeds", "1,1,1"], "speeds has 3 factors for 2 workers"),
    (["--seed", "1.5"], "option --seed: must be a whole number"),
])
def test_bad_workload_options_exit_2_with_one_line(capsys, args, needle):
    assert cli.main(["run", "seed", *args]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_more_workers_on_the_command_line_make_room_for_the_speeds():
    assert apply_overrides(load_scenario("seed"), {"workers": 3, "speeds": [1.0, 1.0, 0.5]}, need_end=True).setup.speeds \
        == (1.0, 1.0, 0.5)


@pytest.mark.system
def test_a_run_without_a_seed_picks_one_and_says_which():
    engines = [Engine(Setup()) for _ in range(2)]
    try:
        seeds = [engine.setup.seed for engine in engines]
    finally:
        for engine in engines:
            engine.close()
    assert all(isinstance(seed, int) for seed in seeds) and seeds[0] != seeds[1]


# Two pushers, Poisson arrivals and exponential work, through real sockets twice.
REPEATED = Setup(pushers=2, workers=2, rate=100.0, messages=100, arrivals="poisson", work_dist="exponential",
                 work_ms=1.0, wait_ready=True, seed=1234, drain_s=10.0)


def _job_stream(result) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per pusher, what the workers received, in order of seq: seq, work size, send time."""
    out = {}
    for index in (1, 2):
        parts = [(d.seqs[d.pushers == index], d.work_us[d.pushers == index], d.sent_ns[d.pushers == index])
                 for d in result.deliveries()]
        seqs, work, sent = (np.concatenate(column) for column in zip(*parts, strict=True))
        order = np.argsort(seqs)
        out[index] = seqs[order], work[order], sent[order]
    return out


@pytest.mark.system
def test_two_runs_with_the_same_seed_send_the_same_jobs():
    runs = [run(REPEATED, timeout_s=60) for _ in range(2)]
    streams = [_job_stream(result) for result in runs]
    for result in runs:
        assert result.model.totals().delivered == 200
        assert_ledger_consistent(result)
        assert build_report(result.model)["seed"] == 1234
    for index in (1, 2):
        (seqs, work, sent), (seqs_again, work_again, sent_again) = streams[0][index], streams[1][index]
        # The same (pusher, seq, work size) sequence, as the workers read it off the wire ...
        assert np.array_equal(seqs, np.arange(100)) and np.array_equal(seqs_again, seqs)
        assert np.array_equal(work, work_again)
        drawn = DrawnJobs(1234, index, "poisson", "exponential", 1.0)
        assert np.array_equal(work, _sizes(drawn, 100))
        # ... the same arrival offsets, as each pusher fingerprinted what it sent ...
        fingerprints = {[p for p in build_report(r.model)["pushers"] if p["name"] == f"p{index}"][0]["jobs"]
                        for r in runs}
        assert fingerprints == {drawn.digest(100)}
        # ... and the pushers sent by them.  Against an even schedule a Poisson process wanders off by
        # a random walk (about 100 ms after 100 messages at 100/s); each send lies near its drawn
        # moment, give or take the scheduler.  Judged by the median, on the times themselves: a
        # starved pusher is late, then catches up in a burst, which moves a few times and scrambles
        # the gaps between them.
        offsets = _arrivals(DrawnJobs(1234, index, "poisson", "exponential", 1.0), 100) / REPEATED.rate
        even = np.arange(100) / REPEATED.rate
        for sent_times in (sent, sent_again):
            assert _misfit(sent_times, offsets) < _misfit(sent_times, even) / 2, (
                _misfit(sent_times, offsets), _misfit(sent_times, even))


def _misfit(sent_ns: np.ndarray, schedule_s: np.ndarray) -> float:
    """How far sends stray from a schedule, whatever its start: the median distance from the typical offset."""
    offset = sent_ns / 1e9 - schedule_s
    return float(np.median(np.abs(offset - np.median(offset))))

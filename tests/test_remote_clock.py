"""A remote worker's clock: the offset from NTP-style round trips, and latency shown only where
that offset is known well enough (pure: no processes)."""

from __future__ import annotations

import numpy as np

from rrsim import events as ev
from rrsim.model.model import Model
from rrsim.remote.listener import boot_id
from rrsim.remote.worker import best_offset, clock_sample
from rrsim.report.report import build_report
from rrsim.report.wording import describe

SECOND = 1_000_000_000


def test_the_shortest_round_trip_gives_the_offset_within_half_of_it():
    skew = 5 * SECOND  # the run's clock is 5 s ahead of the worker's
    samples = []
    # (worker's send time, way out, way back): the engine reads its clock on arrival.
    for sent, out, back in ((100, 900_000, 100_000), (2_000_000, 150_000, 160_000), (5_000_000, 40_000, 3_000_000)):
        ours = sent + out + skew
        sample = clock_sample({"clock": sent, "ours_ns": ours}, sent, sent + out + back)
        samples.append(sample)
    offset, uncertainty = best_offset(samples)
    assert uncertainty == (150_000 + 160_000) // 2  # the second trip was the shortest
    assert abs(offset - skew) <= uncertainty
    assert abs(offset - skew) == 5_000  # half the asymmetry of that trip


def test_an_answer_to_another_question_is_no_sample():
    assert clock_sample({"clock": 1, "ours_ns": 10}, 2, 30) is None
    assert clock_sample({"clock": 2, "ours_ns": "x"}, 2, 30) is None


def _model_with_remote(uncertainty_ns: int, latency_ns: int) -> Model:
    model = Model()
    model.apply(ev.RunStarted(0, {"pattern": "push-pull"}, {}))
    model.apply(ev.ProcessStarted(1, "p1", "pusher", 1, 10, kind="sender", links_to=("worker",)))
    model.apply(ev.ProcessStarted(2, "w1", "worker", 1, 11, links_to=("pusher",)))
    model.apply(ev.RemoteJoined(3, "w1", "far", "10.0.0.2", "far", 0, uncertainty_ns))
    model.apply(ev.SentProgress(SECOND, "p1", 10, False, 1, False))
    sent = np.arange(10, dtype=np.int64) * 1000 + SECOND // 2
    model.apply(ev.Deliveries(SECOND, "w1", 1, pushers=np.ones(10, dtype=np.int64), seqs=np.arange(10, dtype=np.int64),
                              sent_ns=sent, recv_ns=sent + latency_ns))
    return model


def test_latency_of_a_remote_worker_is_shown_only_when_its_clock_is_known_well_enough():
    trusted = build_report(_model_with_remote(uncertainty_ns=100_000, latency_ns=5_000_000))["workers"][0]
    assert trusted["remote"] and trusted["host"] == "far" and trusted["clock_uncertainty_ms"] == 0.1
    assert abs(trusted["latency_ms"]["p50"] - 5.0) < 0.1
    # An offset unsure by 2 ms says nothing of a 5 ms latency: n/a, not a wrong number.
    unsure = build_report(_model_with_remote(uncertainty_ns=2_000_000, latency_ns=5_000_000))["workers"][0]
    assert unsure["latency_ms"] == {"p50": "n/a", "p95": "n/a", "p99": "n/a"}
    # A later, better estimate makes it trusted again.
    model = _model_with_remote(uncertainty_ns=2_000_000, latency_ns=5_000_000)
    model.apply(ev.ClockEstimated(2 * SECOND, "w1", 200_000))
    assert model.workers["w1"].latency_trusted()


def test_on_the_same_machine_the_clock_is_shared_not_estimated():
    sent = 1_000_000_000
    same = {"clock": sent, "ours_ns": sent + 40_000, "boot": boot_id()}
    assert clock_sample(same, sent, sent + 94_000) == (0, 0)  # one CLOCK_MONOTONIC: offset 0, known exactly
    assert best_offset([(188_000, 12), clock_sample(same, sent, sent + 94_000)]) == (0, 0)
    elsewhere = {**same, "boot": "another-machine"}
    assert clock_sample(elsewhere, sent, sent + 94_000) == (94_000, 40_000 - 47_000)
    # The same boot, but a clock that is not ours (a time namespace): measured, not assumed.
    shifted = {**same, "ours_ns": sent + 5_000_000_000}
    assert clock_sample(shifted, sent, sent + 94_000)[0] == 94_000
    model = _model_with_remote(uncertainty_ns=0, latency_ns=50_000)
    assert build_report(model)["workers"][0]["latency_ms"]["p50"] != "n/a"
    assert "same clock as ours" in describe(next(e for e in model.log if e.what == "remote-joined"))

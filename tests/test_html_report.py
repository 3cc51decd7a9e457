"""The HTML report without a browser: what goes into each chart (the aggregation off the model),
and the page it makes (self-contained, every chart present, small for a long run)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from helpers import main_in_process, one_error_line
from rrsim.model.model import Model
from rrsim.model.queue_depth import PEAK_SLOT_NS, QueueDepth
from rrsim.report.comparison import COLUMNS, full_headings
from rrsim.report.figures import MAX_COLUMNS, RunFigures, run_figures
from rrsim.report.html_report import VariantResult, compare_page, run_page
from rrsim.report.report import build_report
from rrsim.scenario.scenario import TUI_DEFAULTS
from tests.scenes import KILL_NOTICED_S, Script

KILLED_AT_S, REVIVED_AT_S = 4.0, 7.0


def _report(model: Model) -> dict[str, Any]:
    return {**build_report(model), "scenario": "test", "interrupted": False, "theory": None, "checks": []}


@pytest.fixture(scope="module")
def revived() -> tuple[Model, dict[str, Any], RunFigures]:
    """Three workers; w2 killed at 4 s (messages dealt to it until the pusher noticed are lost),
    revived at 7 s, and the run goes on to 10 s."""
    script = Script().start().run(KILLED_AT_S)
    script.kill("w2", noticed_after_s=KILL_NOTICED_S)
    script.run(REVIVED_AT_S - KILLED_AT_S)
    script.revive("w2")
    model = script.run(3.0).wait(2.5).drain().model
    report = _report(model)
    return model, report, run_figures(model, report)


def _interval_of(figures: RunFigures, t_s: float) -> int:
    return max(i for i, start in enumerate(figures.starts_s) if start <= t_s)


def test_per_interval_counts_add_up_to_what_each_worker_received(revived: tuple[Model, dict, RunFigures]) -> None:
    model, _, figures = revived
    assert {w.name for w in figures.workers} == {"w1", "w2", "w3"}
    for series in figures.workers:
        assert sum(series.received) == model.workers[series.name].received > 0
        assert len(series.received) == len(series.share) == len(figures.starts_s)
    assert sum(figures.delivered) == model.totals().delivered


def test_shares_split_each_interval_and_a_dead_worker_gets_none(revived: tuple[Model, dict, RunFigures]) -> None:
    _, _, figures = revived
    for column in zip(*(w.share for w in figures.workers), strict=True):
        known = [s for s in column if s is not None]
        assert known == [] or sum(known) == pytest.approx(1.0, abs=1e-5)
    w2 = next(w for w in figures.workers if w.name == "w2")
    dead = range(_interval_of(figures, KILLED_AT_S + 0.2), _interval_of(figures, REVIVED_AT_S - 0.2))
    assert all(w2.received[i] == 0 for i in dead) and len(dead) > 10
    assert sum(w2.received[_interval_of(figures, REVIVED_AT_S + 0.2):]) > 0  # its second life takes turns


def test_message_map_has_a_row_per_life_and_marks_every_loss(revived: tuple[Model, dict, RunFigures]) -> None:
    model, report, figures = revived
    picture = figures.message_map
    assert picture.labels == ("w1", "w2", "w2 life 2", "w3")
    assert report["totals"]["lost"] > 0
    lost_by_row = [sum(row) for row in picture.lost]
    assert lost_by_row == [0, report["totals"]["lost"], 0, 0]  # all dealt to w2's first life
    assert sum(map(sum, picture.received)) == model.totals().delivered
    assert all(len(row) == len(figures.starts_s) for row in picture.received)


def test_timeline_and_loss_causes_are_the_logs_words(revived: tuple[Model, dict, RunFigures]) -> None:
    _, report, figures = revived
    ended = [h for h in figures.timeline if h.kind == "end"]
    assert len(ended) == 1 and "w2" in ended[0].text and "killed" in ended[0].text
    assert ended[0].t_s == pytest.approx(KILLED_AT_S, abs=0.01)
    causes = [entry["text"].strip() for entry in report["log"] if entry["kind"] == "lost"]
    assert figures.losses == tuple(causes) and causes


def test_wait_curves_hold_every_message_and_rise(revived: tuple[Model, dict, RunFigures]) -> None:
    model, _, figures = revived
    assert [c.label for c in figures.wait] == ["all workers", "w1", "w2", "w3"]
    everyone = figures.wait[0]
    assert everyone.count == model.wait.count
    assert list(everyone.ms) == sorted(everyone.ms)
    # a percentile is drawn only where the count can tell it: p99.99 needs ten thousand messages
    assert min(min(q, 1 - q) for q in everyone.quantiles) * everyone.count >= 1


def test_a_long_run_is_drawn_in_at_most_max_columns_intervals() -> None:
    model = Script(replace(TUI_DEFAULTS, rate=50.0)).start().run(60.0).model
    figures = run_figures(model, _report(model))
    assert len(figures.starts_s) <= MAX_COLUMNS
    assert figures.interval_s > 0.1
    assert sum(figures.delivered) == model.totals().delivered


def test_queue_peaks_per_tenth_of_a_second() -> None:
    """Five messages sent at once to one worker, started 10 ms apart: 4 wait at the first start;
    three more sent at once later, started in the next tenth of a second: 2 wait behind the first."""
    depth = QueueDepth()
    depth.add(np.ones(5, dtype=np.int64), np.zeros(5, dtype=np.int64), 1_000_000 + np.arange(5) * 10_000_000)
    later = PEAK_SLOT_NS + np.arange(3, dtype=np.int64) * 10_000_000
    depth.add(np.ones(3, dtype=np.int64), np.full(3, PEAK_SLOT_NS - 5_000_000), later)
    assert depth.peaks() == {0: 4, 1: 2}
    assert depth.max == 4


def test_a_broker_queue_is_kept_over_time() -> None:
    from rrsim import events as ev

    script = Script(replace(TUI_DEFAULTS, pattern="lb-broker")).start().run(1.0)
    script.emit(ev.RouterState(script.t_ns, "b1", 1, 17, 0, script.routed, {}, {}))
    model = script.run(1.0).model
    figures = run_figures(model, _report(model))
    (broker,) = figures.brokers
    assert max(v for v in broker.queue or () if v is not None) == 17


def _svgs(page: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", page, flags=re.S)


def test_run_page_is_self_contained_and_has_each_chart(revived: tuple[Model, dict, RunFigures]) -> None:
    model, report, figures = revived
    page = run_page({**report, "theory": {"model": "M/M/1 per worker", "servers": 3, "wait_mean_ms": 2.5,
                                          "measured_wait_in_queue_ms": 3.1, "measured_wait_mean_ms": 3.4,
                                          "found_free": 0.5, "transit_ms": 0.6, "service_ms": 5.0,
                                          "utilisation": 0.4}}, figures)
    # timeline, received, share, queue, wait, sojourn, message map, theory
    assert len(_svgs(page)) == 8
    assert "<script" not in page and "@import" not in page and "@font-face" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)  # nothing fetched
    assert "url(http" not in page
    for words in ("w2 (life 1) killed", "seed", "Message map", "theory (M/M/1 per worker)"):
        assert words in page


def test_log_text_is_escaped(revived: tuple[Model, dict, RunFigures]) -> None:
    _, report, figures = revived
    log = [*report["log"], {"t_s": 1.0, "kind": "warn", "text": "<b>bold</b> & more"}]
    page = run_page({**report, "log": log}, replace(figures, timeline=(*figures.timeline,)))
    assert "<b>bold</b> & more" not in page


def test_compare_page_draws_every_variant_on_shared_axes() -> None:
    results = []
    for rate in (20.0, 60.0):
        model = Script(replace(TUI_DEFAULTS, rate=rate)).start().run(3.0).wait(0.5).drain().model
        report = _report(model)
        results.append(VariantResult(f"rate={rate:g}", (f"{rate:g}",), "ok", "", report, run_figures(model, report)))
    results.append(VariantResult("rate=999", ("999",), "failed", "port taken", None, None))
    page = compare_page({"scenario": "test", "shared": "every variant uses seed 1", "interrupted": False}, results)
    svgs = _svgs(page)
    assert len(svgs) == 5  # wait, sojourn, throughput, lost, over time
    wait = svgs[0]
    assert "rate=20" in wait and "rate=60" in wait  # both variants' curves on the one wait chart
    assert "port taken" in page and "rate=999" in page
    assert page.count("<tr>") == 1 + len(results)


def test_full_headings_name_each_column() -> None:
    assert len(full_headings()) == len(COLUMNS)
    assert full_headings()[3:6] == ["wait p50", "wait p95", "wait p99"]
    assert "fairness" in full_headings()


def test_ten_minutes_at_a_thousand_a_second_is_a_few_megabytes() -> None:
    """Sizes depend on intervals, lives and the log, never on messages: 600,000 fed a second at a time."""
    from rrsim import events as ev

    workers = 8
    script = Script(replace(TUI_DEFAULTS, rate=1000.0, workers=workers)).start()
    per_worker, sent = 1000 // workers, 0
    for _second in range(600):
        start = script.t_ns
        for number in range(1, workers + 1):
            seqs = np.arange(sent, sent + per_worker, dtype=np.int64)
            sent_ns = start + (seqs - sent) * (1_000_000_000 // per_worker)
            script.emit(ev.Deliveries(start, f"w{number}", 1, np.ones(per_worker, dtype=np.int64), seqs, sent_ns,
                                      sent_ns + 1_000_000 + seqs % 7 * 100_000))
            sent += per_worker
        script.t_ns = start + 1_000_000_000
        script.emit(ev.SentProgress(script.t_ns, "p1", sent, False, workers, False))
    model = script.drain().model
    report = _report(model)
    page = run_page(report, run_figures(model, report))
    assert model.totals().delivered == 600_000
    assert len(page.encode()) < 3_000_000, len(page.encode())


@pytest.mark.parametrize("argv, needle", [
    (["run", "seed", "--html", "no/such/dir/r.html"], "--html no/such/dir/r.html: cannot write there"),
    (["compare", "seed", "--vary", "workers=2,3", "--html", "no/such/dir/c.html"],
     "--html no/such/dir/c.html: cannot write there"),
    (["run", "seed", "--json", "-", "--html", "-"], "--json and --html both ask for standard output"),
    (["compare", "seed", "--vary", "workers=2,3", "--csv", "-", "--html", "-"], "--csv and --html both ask"),
    (["replay", "r.jsonl", "--html", "r.html", "--speed", "2"], "--speed, --at and --paused are for the live view"),
    (["replay", "r.jsonl", "--json", "-", "--html", "-"], "--json and --html both ask for standard output"),
])
def test_bad_html_options_are_one_line_and_nothing_runs(tmp_path, argv, needle) -> None:
    outcome = main_in_process(argv, cwd=tmp_path, tmp=tmp_path, stand_ins=False)
    line = one_error_line(outcome)
    assert needle in line, line
    assert outcome.code == 2 or outcome.exited == 2
    assert list(tmp_path.iterdir()) == []  # no run directory, no part file

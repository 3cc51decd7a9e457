"""The hand-over: a worker's done to its next message's receipt, when that message was waiting.
Read off the receipts the engine already has (pure), reported in the summary, the comparison's
table and the JSON report."""

from __future__ import annotations

import numpy as np

from rrsim.model.overheads import Overheads, merge_overheads, recent_handovers, split_overheads
from rrsim.report.comparison import columns, full_headings, measured_handover, row_figures
from rrsim.report.report import handover_line

MS = 1_000_000


def times(*ms: float) -> np.ndarray:
    return (np.array(ms) * MS).astype(np.int64)


def test_only_a_message_sent_before_its_worker_was_done_counts_as_a_hand_over() -> None:
    # Three messages on one life: the second was sent (at 5) before the first was done (12), so it
    # waited and its hand-over is 12 -> 13; the third was sent after the second was done: it found
    # the worker free, and its 1 ms from send to receipt is its hops, not a hand-over.
    handovers, transits = split_overheads(times(0, 5, 30), times(2, 13, 31), times(12, 20, 40), None)
    assert handovers.tolist() == [1 * MS]
    assert transits.tolist() == [2 * MS, 1 * MS]


def test_a_batch_s_first_message_is_measured_from_the_last_batch_s_done() -> None:
    handovers, _ = split_overheads(times(39), times(40.25), times(50), last_done_ns=40 * MS)
    assert handovers.tolist() == [MS // 4]
    handovers, _ = split_overheads(times(39), times(40.25), times(50), last_done_ns=None)  # a new life: none
    assert handovers.tolist() == []


def test_workers_hand_overs_merge_into_one_distribution_and_a_recent_window() -> None:
    fast, slow = Overheads(), Overheads()
    fast.add(times(0, 1, 2), times(1, 10.2, 20.2), times(10, 20, 30), at_ns=5 * 10**9)
    slow.add(times(0, 1), times(1, 12), times(10, 20), at_ns=5 * 10**9)
    whole = merge_overheads([fast, slow])
    assert whole.handovers == 3
    assert round(whole.handover.quantile_ms(0.5) or 0, 1) == 0.2  # two of 0.2 ms, one of 2 ms
    assert round(whole.handover.quantile_ms(0.99) or 0, 1) == 2.0
    assert recent_handovers([fast, slow], now_ns=6 * 10**9).count == 3
    assert recent_handovers([fast, slow], now_ns=60 * 10**9).count == 0  # long gone from the window


def test_the_summary_and_the_comparison_say_the_hand_over() -> None:
    report = {"handover_ms": {"mean": 0.5, "p50": 0.412, "p95": 1.1, "p99": 1.93, "max": 3.0}, "handovers": 2311}
    assert handover_line(report) == ("hand-over (a worker's done to its next message, when that one was waiting): "
                                     "p50 0.412 ms, p99 1.93 ms, over 2,311 messages")
    assert handover_line({"handover_ms": {"p50": None, "p99": None, "mean": None}, "handovers": 0}) is None
    # The comparison's table has a column for it, beside the sojourn, when any variant measured one.
    assert not measured_handover([_variant({"handovers": 0}), None])
    assert measured_handover([_variant({"handovers": 0}), _variant(report)])
    headings = full_headings(columns(None, handover=True))
    figures = dict(zip(headings, row_figures(_variant(report), handover=True), strict=True))
    assert figures["handover"] == "0.412"
    assert headings.index("handover") == headings.index("sojourn p99") + 1
    assert "handover" not in full_headings(columns(None))


def _variant(extra: dict[str, object]) -> dict[str, object]:
    """A variant's report with only what its row reads."""
    return {"throughput_msgs_per_s": 700.0, "totals": {"completed": 10, "lost": 0},
            "wait_ms": {"p50": 1.0, "p95": 2.0, "p99": 3.0}, "sojourn_ms": {"mean": 11.0, "p99": 14.0},
            "fairness": 1.0, "max_queue": None, **extra}

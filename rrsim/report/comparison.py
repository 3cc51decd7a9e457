"""A comparison's figures per variant, as its table shows them (in a terminal and in HTML)."""

from __future__ import annotations

from typing import Any

from rrsim.report.report import format_ms

# Column headings, a line break where a terminal stacks them; a run of headings under one word
# ("wait" p50, p95, p99) leaves the word out after the first.
COLUMNS = ("msg/s", "done", "lost", "wait\np50", "\np95", "\np99", "sojourn\nmean", "\np99", "fair-\nness", "max\nqueue")
CAPTION = "wait and sojourn in ms; max queue: the most messages seen waiting at one worker or broker"
HANDOVER_AFTER = COLUMNS.index("\np99", COLUMNS.index("sojourn\nmean"))  # beside the sojourn
HANDOVER_COLUMN = "hand-\nover"
HANDOVER_CAPTION = "; hand-over: the median from a worker's done to its next message, when that one was waiting (ms)"
OBJECTIVE_CAPTION = "; within: the share of messages whose sojourn was within the objective (ms)"


def objective_of(reports: list[dict[str, Any] | None]) -> float | None:
    """The objective the variants' reports give a share within (the first one set), if any."""
    return next((r["objective_ms"] for r in reports if r is not None and r.get("objective_ms") is not None), None)


def measured_handover(reports: list[dict[str, Any] | None]) -> bool:
    """Whether any variant's workers were handed a message that was waiting as they finished one."""
    return any(r is not None and r.get("handovers") for r in reports)


def columns(objective_ms: float | None, handover: bool = False) -> tuple[str, ...]:
    """``COLUMNS``, the hand-over beside the sojourn when ``handover``, and the share within the
    objective when there is one."""
    shown = list(COLUMNS)
    if handover:
        shown.insert(HANDOVER_AFTER + 1, HANDOVER_COLUMN)
    return tuple(shown) if objective_ms is None else (*shown, f"within\n{format_ms(objective_ms)}")


def row_figures(report: dict[str, Any], objective: bool = False, handover: bool = False) -> list[str]:
    """A variant's report as the table's cells, in the order of ``columns`` (with the hand-over
    when ``handover``, the share within the objective when ``objective``)."""
    totals, wait, sojourn, longest = report["totals"], report["wait_ms"], report["sojourn_ms"], report["max_queue"]
    fairness = report["fairness"]
    return [
        f"{report['throughput_msgs_per_s']:.0f}", str(totals["completed"]), str(totals["lost"]),
        format_ms(wait["p50"]), format_ms(wait["p95"]), format_ms(wait["p99"]),
        format_ms(sojourn["mean"]), format_ms(sojourn["p99"]),
        *([format_ms((report.get("handover_ms") or {}).get("p50"))] if handover else []),
        "-" if fairness is None else f"{fairness:.3f}",
        "-" if longest is None else f"{longest['messages']} {longest['at']}",
        *([] if not objective else ["-" if report.get("within_objective") is None else f"{report['within_objective']:.2%}"]),
    ]


def full_headings(headings: tuple[str, ...] = COLUMNS) -> list[str]:
    """``headings`` each whole ("wait p95"), for a table that does not stack them."""
    whole, word = [], ""
    for heading in headings:
        top, broken, bottom = heading.partition("\n")
        if not broken:
            word, top, bottom = "", "", heading
        elif top.endswith("-"):  # a word broken in two: "fair-", "ness"
            word, top, bottom = "", "", top[:-1] + bottom
        elif top:
            word = top
        whole.append(f"{top or word} {bottom}".strip() if broken and (top or word) else bottom)
    return whole

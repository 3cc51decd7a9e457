"""A comparison's figures per variant, as its table shows them (in a terminal and in HTML)."""

from __future__ import annotations

from typing import Any

from rrsim.report.report import format_ms

# Column headings, a line break where a terminal stacks them; a run of headings under one word
# ("wait" p50, p95, p99) leaves the word out after the first.
COLUMNS = ("msg/s", "done", "lost", "wait\np50", "\np95", "\np99", "sojourn\nmean", "\np99", "fair-\nness", "max\nqueue")
CAPTION = "wait and sojourn in ms; max queue: the most messages seen waiting at one worker or broker"
OBJECTIVE_CAPTION = "; within: the share of messages whose sojourn was within the objective (ms)"


def objective_of(reports: list[dict[str, Any] | None]) -> float | None:
    """The objective the variants' reports give a share within (the first one set), if any."""
    return next((r["objective_ms"] for r in reports if r is not None and r.get("objective_ms") is not None), None)


def columns(objective_ms: float | None) -> tuple[str, ...]:
    """``COLUMNS``, and the share within the objective when there is one."""
    return COLUMNS if objective_ms is None else (*COLUMNS, f"within\n{format_ms(objective_ms)}")


def row_figures(report: dict[str, Any], objective: bool = False) -> list[str]:
    """A variant's report as the table's cells, in the order of ``columns`` (with the share
    within the objective when ``objective``)."""
    totals, wait, sojourn, longest = report["totals"], report["wait_ms"], report["sojourn_ms"], report["max_queue"]
    fairness = report["fairness"]
    return [
        f"{report['throughput_msgs_per_s']:.0f}", str(totals["completed"]), str(totals["lost"]),
        format_ms(wait["p50"]), format_ms(wait["p95"]), format_ms(wait["p99"]),
        format_ms(sojourn["mean"]), format_ms(sojourn["p99"]),
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

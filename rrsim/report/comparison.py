"""A comparison's figures per variant, as its table shows them (in a terminal and in HTML)."""

from __future__ import annotations

from typing import Any

from rrsim.report.report import format_ms

# Column headings, a line break where a terminal stacks them; a run of headings under one word
# ("wait" p50, p95, p99) leaves the word out after the first.
COLUMNS = ("msg/s", "done", "lost", "wait\np50", "\np95", "\np99", "sojourn\nmean", "\np99", "fair-\nness", "max\nqueue")
CAPTION = "wait and sojourn in ms; max queue: the most messages seen waiting at one worker or broker"


def row_figures(report: dict[str, Any]) -> list[str]:
    """A variant's report as the table's cells, in the order of ``COLUMNS``."""
    totals, wait, sojourn, longest = report["totals"], report["wait_ms"], report["sojourn_ms"], report["max_queue"]
    fairness = report["fairness"]
    return [
        f"{report['throughput_msgs_per_s']:.0f}", str(totals["completed"]), str(totals["lost"]),
        format_ms(wait["p50"]), format_ms(wait["p95"]), format_ms(wait["p99"]),
        format_ms(sojourn["mean"]), format_ms(sojourn["p99"]),
        "-" if fairness is None else f"{fairness:.3f}",
        "-" if longest is None else f"{longest['messages']} {longest['at']}",
    ]


def full_headings() -> list[str]:
    """``COLUMNS`` with each heading whole ("wait p95"), for a table that does not stack them."""
    whole, word = [], ""
    for heading in COLUMNS:
        top, broken, bottom = heading.partition("\n")
        if not broken:
            word, top, bottom = "", "", heading
        elif top.endswith("-"):  # a word broken in two: "fair-", "ness"
            word, top, bottom = "", "", top[:-1] + bottom
        elif top:
            word = top
        whole.append(f"{top or word} {bottom}".strip() if broken and (top or word) else bottom)
    return whole

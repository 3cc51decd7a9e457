"""A terminal chart of several runs' wait, one row each on one log-scale axis: a line from p1
to p99.9, a box from p25 to p75, a mark at p50 and at p99.  Plain characters, no colour, so it
reads the same in a terminal, a pipe or a file; it fits the width it is given (80 by default).
"""

from __future__ import annotations

import math

LEGEND = "├─┤ p1 to p99.9   ▒▒ p25 to p75   ┃ p50   ◆ p99"
MIN_MS = 0.001  # the shortest wait a report resolves (1 us)
MAX_LABEL = 24
PERCENTILES = ("p1", "p25", "p50", "p75", "p99", "p99.9")


def decade_label(exponent: int) -> str:
    """10**exponent ms, as a tick label: 0.01, 1, 100, 1s, 10s."""
    if exponent >= 3:
        return f"{10 ** (exponent - 3)}s"
    return f"{10.0 ** exponent:g}"


def wait_chart(rows: list[tuple[str, dict[str, float | None] | None, str]], width: int = 80) -> list[str]:
    """The chart's lines for ``rows`` of (label, the report's ``wait_percentiles``, what to say
    instead when there are none), at most ``width`` characters each."""
    label_width = min(MAX_LABEL, max([len(label) for label, _, _ in rows] + [5]))
    axis_width = max(10, width - label_width - 2)
    drawn = [values for _, p, _ in rows if (values := _drawable(p)) is not None]
    lines = [f"wait, ms, log scale:  {LEGEND}"]
    if not drawn:
        return lines + [f"{_fit(label, label_width)}  ({note or 'no messages'})" for label, _, note in rows]
    low = math.floor(math.log10(max(MIN_MS, min(p["p1"] for p in drawn))))
    high = math.ceil(math.log10(max(MIN_MS, max(p["p99.9"] for p in drawn))))
    high = max(high, low + 1)

    def column(value_ms: float) -> int:
        share = (math.log10(max(value_ms, 10.0 ** low)) - low) / (high - low)
        return round(min(1.0, share) * (axis_width - 1))

    for label, percentiles, note in rows:
        values = _drawable(percentiles)
        if values is None:
            lines.append(f"{_fit(label, label_width)}  ({note or 'no messages'})")
            continue
        at = {name: column(values[name]) for name in PERCENTILES}
        cells = [" "] * axis_width
        for i in range(at["p1"], at["p99.9"] + 1):
            cells[i] = "─"
        for i in range(at["p25"], at["p75"] + 1):
            cells[i] = "▒"
        cells[at["p1"]], cells[at["p99.9"]] = "├", "┤"
        cells[at["p99"]] = "◆"
        cells[at["p50"]] = "┃"
        lines.append(f"{_fit(label, label_width)}  {''.join(cells).rstrip()}")
    ticks = {column(10.0 ** exponent): decade_label(exponent) for exponent in range(low, high + 1)}
    axis = "".join("┬" if i in ticks else "─" for i in range(axis_width))
    names = [" "] * axis_width
    free_from = 0
    for position, text in sorted(ticks.items()):
        start = min(max(0, position - len(text) // 2), axis_width - len(text))
        if start >= free_from and start + len(text) <= axis_width:
            names[start:start + len(text)] = text
            free_from = start + len(text) + 1
    pad = " " * (label_width + 2)
    return lines + [pad + axis, (pad + "".join(names)).rstrip()]


def _drawable(percentiles: dict[str, float | None] | None) -> dict[str, float] | None:
    """The percentiles the chart draws, or None when any of them is missing."""
    if percentiles is None:
        return None
    values = {name: value for name in PERCENTILES if (value := percentiles.get(name)) is not None}
    return values if len(values) == len(PERCENTILES) else None


def _fit(label: str, width: int) -> str:
    return label.ljust(width) if len(label) <= width else label[: width - 1] + "…"

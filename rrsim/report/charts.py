"""The HTML report's charts, drawn by matplotlib as inline SVG: no JavaScript, no fonts or files
of their own (text is left as text, in the page's font), and each prints as drawn.  One function
per chart; each takes the aggregated figures (``rrsim.report.figures``) and returns SVG markup."""

from __future__ import annotations

import io
from collections.abc import Sequence
from itertools import count

import matplotlib as mpl
import numpy as np
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter

from rrsim.report.figures import Curve, Happening, MapPicture, RunFigures, WorkerSeries

WIDE = 10.0  # inches (72 points each in SVG): the page scales a chart down to its width
KIND_COLOURS = {"action": "#1f77b4", "end": "#d62728", "pause": "#ff7f0e", "lost": "#9467bd",
                "warn": "#8c564b", "info": "#7f7f7f"}
KIND_NAMES = {"action": "scenario action", "end": "process ended", "pause": "paused", "lost": "loss",
              "warn": "warning", "info": "note"}
MAP_COLOURS = LinearSegmentedColormap.from_list("received", ["#ffffff", "#9ecae1", "#08519c"])
PERCENTILE_TICKS = (0.001, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999)
_ids = count(1)  # each chart's SVG ids get their own salt: several charts share one page


def colour(index: int) -> str:
    """The colour of the ``index``-th series (a worker, a variant), the same in every chart."""
    return f"C{index % 10}"


def figure(height: float, width: float = WIDE) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def to_svg(fig: Figure) -> str:
    """``fig`` as an ``<svg>`` element to put in a page (no XML prologue, text as text)."""
    buffer = io.StringIO()
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"rrsim-chart-{next(_ids)}"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _milliseconds(value: float, _position: float = 0) -> str:
    if value >= 1000:
        return f"{value / 1000:g} s"
    return f"{value:g} ms"


def _percentile(value: float, _position: float = 0) -> str:
    return f"p{value * 100:g}"


def _time_axis(ax: object, figures: RunFigures) -> None:
    end = figures.starts_s[-1] + figures.interval_s if figures.starts_s else 1.0
    ax.set_xlim(0, max(end, figures.interval_s))  # type: ignore[attr-defined]
    ax.set_xlabel("seconds since the run started")  # type: ignore[attr-defined]
    ax.grid(True, alpha=0.3)  # type: ignore[attr-defined]


def _marks(ax: object, happenings: Sequence[Happening]) -> None:
    """A faint line at each action and each process that ended: what the series answer to."""
    for happening in happenings:
        if happening.t_s is not None and happening.kind in ("action", "end", "pause"):
            ax.axvline(happening.t_s, color=KIND_COLOURS[happening.kind], alpha=0.35, linewidth=0.8,  # type: ignore[attr-defined]
                       linestyle=":")


def _legend(ax: object, entries: int) -> None:
    if entries:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small",  # type: ignore[attr-defined]
                  ncols=1 if entries <= 14 else 2, frameon=False)


def timeline_chart(happenings: Sequence[Happening], end_s: float) -> str:
    """The notable log entries on a time axis, one row per kind, numbered as the list under it."""
    kinds = [kind for kind in KIND_COLOURS if any(h.kind == kind for h in happenings)]
    fig = figure(0.6 + 0.35 * max(len(kinds), 1))
    ax = fig.add_subplot()
    numbered = len(happenings) <= 60
    for number, happening in enumerate(happenings, start=1):
        if happening.t_s is None:
            continue
        row = kinds.index(happening.kind)
        ax.plot([happening.t_s], [row], marker="|" if happening.kind == "action" else "o", markersize=9,
                color=KIND_COLOURS[happening.kind], linestyle="none")
        if numbered:
            ax.annotate(str(number), (happening.t_s, row), xytext=(0, 6), textcoords="offset points",
                        ha="center", fontsize="x-small")
    ax.set_yticks(range(len(kinds)), [KIND_NAMES[kind] for kind in kinds])
    ax.set_ylim(-0.6, max(len(kinds), 1) - 0.3)
    ax.set_xlim(0, max(end_s, 0.1))
    ax.set_xlabel("seconds since the run started")
    ax.grid(True, axis="x", alpha=0.3)
    return to_svg(fig)


def received_chart(figures: RunFigures) -> str:
    """Messages each worker received per second, per interval (a step at each interval)."""
    fig = figure(3.2)
    ax = fig.add_subplot()
    for index, worker in enumerate(figures.workers):
        rates = np.asarray(worker.received, dtype=float) / figures.interval_s
        ax.step(figures.starts_s, rates, where="post", color=colour(index), label=worker.name, linewidth=1.2)
    _marks(ax, figures.timeline)
    ax.set_ylabel("messages received / s")
    ax.set_ylim(bottom=0)
    _time_axis(ax, figures)
    _legend(ax, len(figures.workers))
    return to_svg(fig)


def share_chart(figures: RunFigures) -> str:
    """Each worker's share of what every worker received in each interval, stacked to 100%."""
    fig = figure(3.0)
    ax = fig.add_subplot()
    shares = np.array([[s if s is not None else 0.0 for s in w.share] for w in figures.workers], dtype=float)
    edges = [*figures.starts_s, figures.starts_s[-1] + figures.interval_s] if figures.starts_s else [0.0]
    if len(shares) and shares.shape[1]:
        ax.stackplot(edges, *(np.append(row, row[-1]) * 100 for row in shares), step="post",
                     labels=[w.name for w in figures.workers], colors=[colour(i) for i in range(len(shares))],
                     alpha=0.85)
    ax.set_ylabel("share of messages, %")
    ax.set_ylim(0, 100)
    _time_axis(ax, figures)
    _legend(ax, len(figures.workers))
    return to_svg(fig)


def queue_chart(figures: RunFigures) -> str | None:
    """The most messages waiting at each worker (and broker) per interval; None when none is known."""
    series: list[tuple[int, WorkerSeries]] = [(i, w) for i, w in enumerate(figures.workers) if w.queue is not None]
    brokers = [(len(figures.workers) + i, b) for i, b in enumerate(figures.brokers) if b.queue is not None]
    if not any(v is not None for _, s in series + brokers for v in s.queue or ()):
        return None
    fig = figure(3.0)
    ax = fig.add_subplot()
    middles = np.asarray(figures.starts_s) + figures.interval_s / 2
    for index, one in series + brokers:
        values = np.array([np.nan if v is None else v for v in one.queue or ()], dtype=float)
        ax.plot(middles, values, color=colour(index), marker=".", markersize=3, linewidth=1.2,
                label=one.name + (" (broker)" if (index, one) in brokers else ""))
    _marks(ax, figures.timeline)
    ax.set_ylabel("messages waiting (peak)")
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    _time_axis(ax, figures)
    _legend(ax, len(series) + len(brokers))
    return to_svg(fig)


def curves_chart(curves: Sequence[Curve], what: str, colours: Sequence[str] | None = None,
                 widths: Sequence[float] | None = None) -> str:
    """Percentile curves on one chart: the percentile on a logit axis (both tails spread out),
    the duration on a log axis."""
    fig = figure(3.6)
    ax = fig.add_subplot()
    for index, one in enumerate(curves):
        ax.plot(one.quantiles, one.ms, color=colours[index] if colours else colour(index),
                linewidth=widths[index] if widths else 1.4, marker=".", markersize=3,
                label=f"{one.label} ({one.count:,})")
    ax.set_xscale("logit")
    ax.xaxis.set_major_locator(FixedLocator(PERCENTILE_TICKS))
    ax.xaxis.set_major_formatter(FuncFormatter(_percentile))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(min(min(c.quantiles) for c in curves) if curves else 0.01,
                max(max(c.quantiles) for c in curves) if curves else 0.99)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(_milliseconds))
    ax.set_xlabel(f"percentile (the share of messages whose {what} was at most this)")
    ax.set_ylabel(f"{what} (log scale)")
    ax.grid(True, which="major", alpha=0.3)
    _legend(ax, len(curves))
    return to_svg(fig)


def map_chart(picture: MapPicture, figures: RunFigures) -> str:
    """The message map: a row per worker life, shaded by the messages it received per interval;
    a red cross where messages dealt to it were lost, an orange dot where some came late."""
    rows = len(picture.labels)
    fig = figure(1.0 + 0.22 * max(rows, 1))
    ax = fig.add_subplot()
    end = figures.starts_s[-1] + figures.interval_s if figures.starts_s else 1.0
    if rows:
        cells = np.array(picture.received, dtype=float)
        start = figures.starts_s[0] if figures.starts_s else 0.0
        shown = ax.imshow(cells, aspect="auto", interpolation="nearest", cmap=MAP_COLOURS,
                          extent=(start, start + cells.shape[1] * figures.interval_s, rows - 0.5, -0.5),
                          vmin=0, vmax=max(float(cells.max()), 1.0))
        fig.colorbar(shown, ax=ax, label=f"messages per {figures.interval_s:g} s", pad=0.01, fraction=0.04)
        for marks, colour_, marker, label in ((picture.lost, "#d62728", "x", "lost"),
                                              (picture.late, "#ff7f0e", ".", "late")):
            found = [(r, c) for r, row in enumerate(marks) for c, n in enumerate(row) if n]
            if found:
                ax.scatter([start + (c + 0.5) * figures.interval_s for _, c in found], [r for r, _ in found],
                           marker=marker, color=colour_, s=40, linewidths=2, label=label, zorder=3)
        if any(any(row) for row in picture.lost) or any(any(row) for row in picture.late):
            fig.legend(loc="outside upper left", ncols=2, fontsize="small", frameon=False)
    ax.set_yticks(range(rows), picture.labels, fontsize="small" if rows < 40 else "x-small")
    ax.set_xlim(0, max(end, 0.1))
    ax.set_xlabel("seconds since the run started")
    return to_svg(fig)


def theory_chart(predicted_ms: float | None, measured_ms: float, model: str) -> str:
    """Theory's mean wait in queue beside the one measured, as two bars."""
    fig = figure(1.5, width=7.0)
    ax = fig.add_subplot()
    values = [measured_ms, predicted_ms if predicted_ms is not None else 0.0]
    bars = ax.barh([0, 1], values, color=["#1f77b4", "#bbbbbb"], height=0.6)
    ax.bar_label(bars, labels=[_milliseconds(round(measured_ms, 3)),
                               "unbounded (unstable)" if predicted_ms is None else _milliseconds(round(predicted_ms, 3))],
                 padding=4, fontsize="small")
    ax.set_yticks([0, 1], ["measured", f"theory ({model})"])
    ax.set_xlabel("mean wait in queue, ms")
    ax.set_xlim(0, max(max(values), 0.001) * 1.35)
    ax.invert_yaxis()
    return to_svg(fig)


def bars_chart(labels: Sequence[str], values: Sequence[float | None], what: str) -> str:
    """One bar per variant (a missing value leaves a gap, labelled '-')."""
    fig = figure(0.7 + 0.32 * max(len(labels), 1), width=7.0)
    ax = fig.add_subplot()
    drawn = [0.0 if v is None else v for v in values]
    bars = ax.barh(range(len(labels)), drawn, color=[colour(i) for i in range(len(labels))], height=0.6)
    ax.bar_label(bars, labels=["-" if v is None else f"{v:,.0f}" if v >= 10 else f"{v:.3g}" for v in values],
                 padding=4, fontsize="small")
    ax.set_yticks(range(len(labels)), labels, fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel(what)
    ax.set_xlim(0, max([*drawn, 1.0]) * 1.2)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 0.2 of a message
    return to_svg(fig)


def delivered_chart(series: Sequence[tuple[str, RunFigures]]) -> str:
    """Messages received per second by every worker together, one line per variant."""
    fig = figure(3.0)
    ax = fig.add_subplot()
    end = 0.0
    for index, (label, figures) in enumerate(series):
        rates = np.asarray(figures.delivered, dtype=float) / figures.interval_s
        ax.step(figures.starts_s, rates, where="post", color=colour(index), label=label, linewidth=1.2)
        end = max(end, figures.starts_s[-1] + figures.interval_s if figures.starts_s else 0.0)
    ax.set_xlim(0, max(end, 0.1))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("seconds since the variant's run started")
    ax.set_ylabel("messages received / s")
    ax.grid(True, alpha=0.3)
    _legend(ax, len(series))
    return to_svg(fig)


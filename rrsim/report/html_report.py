"""The HTML report of a run or of a comparison: one self-contained page (styles inline, charts as
inline SVG, no script, no font, nothing fetched), readable on a laptop and printable."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from html import escape
from typing import Any

from rrsim import __version__
from rrsim.report import charts
from rrsim.report.comparison import CAPTION, HANDOVER_CAPTION, columns, full_headings, measured_handover, row_figures
from rrsim.report.figures import Curve, RunFigures
from rrsim.report.report import format_ms, theory_line, totals_line
from rrsim.report.wait_chart import wait_chart

STYLE = """
:root { color-scheme: light; --muted: #666; --line: #ddd; --bad: #b00020; --good: #1b7a2f; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       margin: 0 auto; max-width: 1180px; padding: 1.2em 1.6em 3em; color: #222; background: #fff; }
h1 { font-size: 1.6em; margin: 0 0 .2em; } h2 { font-size: 1.25em; margin: 1.8em 0 .5em;
     border-bottom: 1px solid var(--line); padding-bottom: .2em; } h3 { font-size: 1.05em; margin: 1.2em 0 .3em; }
.sub, .note, figcaption { color: var(--muted); } .note { font-size: .92em; }
nav { margin: .8em 0 0; font-size: .92em; } nav a { margin-right: 1em; color: #1f5fa8; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(130px, 1fr)); gap: .6em; margin: 1em 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: .45em .7em; }
.card b { display: block; font-size: 1.35em; } .card span { color: var(--muted); font-size: .85em; }
.card.bad b { color: var(--bad); }
table { border-collapse: collapse; margin: .5em 0; font-size: .92em; }
th, td { padding: .25em .7em; border-bottom: 1px solid var(--line); text-align: right; vertical-align: top; }
th { background: #f6f6f6; } td.text, th.text { text-align: left; }
.passed { color: var(--good); } .failed, .banner { color: var(--bad); } .banner { font-weight: bold; }
.setup { columns: 3 18em; font-size: .9em; margin: .5em 0; } .setup div { break-inside: avoid; }
.setup b { font-weight: 600; }
figure { margin: .6em 0 1.2em; } figure svg { max-width: 100%; height: auto; display: block; }
ol.timeline { font-size: .9em; padding-left: 2.6em; } ol.timeline .t { color: var(--muted);
  display: inline-block; min-width: 4.5em; } pre { font-size: .8em; overflow-x: auto; }
footer { margin-top: 3em; color: var(--muted); font-size: .85em; }
@media print { body { max-width: none; padding: 0; font-size: 11pt; } nav { display: none; }
  figure, table, .cards, section h2 { break-inside: avoid; } h2 { break-after: avoid; } }
"""


@dataclass(frozen=True)
class VariantResult:
    """One variant of a comparison as the page shows it: its varied values, how its run went, its
    report (None if it did not run) and its figures."""

    label: str
    values: tuple[str, ...]
    status: str
    problem: str
    report: dict[str, Any] | None
    figures: RunFigures | None


def page(title: str, subtitle: str, sections: Iterable[tuple[str, str, str]]) -> str:
    """A whole page: ``sections`` are (anchor, heading, body HTML), listed in a nav at the top."""
    sections = list(sections)
    nav = " ".join(f'<a href="#{anchor}">{escape(heading)}</a>' for anchor, heading, _ in sections)
    body = "\n".join(f'<section id="{anchor}"><h2>{escape(heading)}</h2>\n{html}\n</section>'
                     for anchor, heading, html in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{escape(title)}</title>\n<style>{STYLE}</style></head>\n<body>\n"
            f"<header><h1>{escape(title)}</h1><div class=sub>{subtitle}</div><nav>{nav}</nav></header>\n"
            f"{body}\n<footer>written by rrsim {escape(__version__)}</footer>\n</body></html>\n")


def figure_html(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


def table(headings: Sequence[str], rows: Iterable[Sequence[str]], text_columns: int = 1) -> str:
    """A table whose first ``text_columns`` columns are words (left), the rest figures (right)."""
    def cell(tag: str, index: int, value: str) -> str:
        return f"<{tag}{' class=text' if index < text_columns else ''}>{escape(value)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headings))
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def cards(items: Iterable[tuple[str, str, bool]]) -> str:
    """Headline figures: (value, what it is, whether it is bad news)."""
    return "<div class=cards>" + "".join(
        f"<div class='card{' bad' if bad else ''}'><b>{escape(value)}</b><span>{escape(what)}</span></div>"
        for value, what, bad in items) + "</div>"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(v) for v in value) or "-"
    return "-" if value is None or value == "" else f"{value:g}" if isinstance(value, float) else str(value)


def setup_html(setup: dict[str, Any]) -> str:
    return "<div class=setup>" + "".join(f"<div><b>{escape(key)}</b> {escape(_value(value))}</div>"
                                         for key, value in setup.items()) + "</div>"


def checks_html(checks: list[dict[str, Any]], interrupted: bool) -> str:
    if interrupted:
        return "<p class=note>Not evaluated: the run was interrupted.</p>"
    if not checks:
        return "<p class=note>The scenario set no checks.</p>"
    return "<ul>" + "".join(
        f"<li class={'passed' if c['passed'] else 'failed'}>{'passed' if c['passed'] else 'FAILED'}: "
        f"{escape(c['check'])} (value {escape(_value(c['value']))})</li>" for c in checks) + "</ul>"


def _headline(report: dict[str, Any]) -> str:
    totals, wait = report["totals"], report["wait_ms"]
    fairness = report["fairness"]
    return cards([
        (f"{totals['sent']:,}", "sent", False), (f"{totals['delivered']:,}", "delivered", False),
        (f"{totals['lost']:,}", "lost", totals["lost"] > 0), (f"{totals['late']:,}", "late", totals["late"] > 0),
        (f"{totals['duplicates']:,}", "duplicates", totals["duplicates"] > 0),
        (f"{report['throughput_msgs_per_s']:,.0f}", "msgs/s", False),
        ("-" if fairness is None else f"{fairness:.3f}", "fairness (Jain)", False),
        (format_ms(wait["p50"]), "wait p50, ms", False), (format_ms(wait["p99"]), "wait p99, ms", False),
        (f"{report['elapsed_s']:.2f} s", "the run took", False),
    ])


def workers_table(report: dict[str, Any]) -> str:
    headings = ("worker", "state", "received", "share", "lives", "late", "max queue",
                "wait p50 ms", "wait p95 ms", "wait p99 ms", "busy")
    rows = [(w["name"], w["state"], f"{w['received']:,}", f"{w['share']:.1%}", str(len(w["lives"])),
             str(w["late"]), _value(w.get("max_queue")), *(format_ms(w["latency_ms"][p]) for p in ("p50", "p95", "p99")),
             "-" if w.get("busy_fraction") is None else f"{w['busy_fraction']:.0%}")
            for w in report["workers"]]
    return table(headings, rows, text_columns=2)


def timeline_html(figures: RunFigures) -> str:
    if not figures.timeline:
        return "<p class=note>Nothing notable: no action, no process ended, nothing lost, no warning.</p>"
    end = figures.starts_s[-1] + figures.interval_s if figures.starts_s else 1.0
    items = "".join(f"<li><span class=t>{'-' if h.t_s is None else f'{h.t_s:.2f} s'}</span> "
                    f"<b>{escape(h.kind)}</b> {escape(h.text)}</li>" for h in figures.timeline)
    return (figure_html(charts.timeline_chart(figures.timeline, end),
                        "What happened when: each mark is numbered as the list below.")
            + f"<ol class=timeline>{items}</ol>")


def losses_html(report: dict[str, Any], figures: RunFigures) -> str:
    totals = report["totals"]
    if not figures.losses:
        said = "Nothing was lost." if totals["lost"] == 0 else f"{totals['lost']:,} lost, for no cause the log names."
        return f"<p>{escape(said)}</p>"
    shown = ", ".join(report["lost_ids"][:20])
    more = f" and {totals['lost'] - 20:,} more" if totals["lost"] > 20 else ""
    ids = f"<p class=note>lost: {escape(shown)}{escape(more)}</p>" if shown else ""
    return "<ul>" + "".join(f"<li>{escape(text)}</li>" for text in figures.losses) + "</ul>" + ids


def over_time_html(figures: RunFigures) -> str:
    interval = f"{figures.interval_s:g} s"
    parts = [figure_html(charts.received_chart(figures),
                         f"Messages each worker received, per second, in intervals of {interval}; "
                         "dotted lines: scenario actions (blue), processes that ended (red), pauses (orange)."),
             figure_html(charts.share_chart(figures), f"Each worker's share of the messages received in each {interval}.")]
    queue = charts.queue_chart(figures)
    parts.append(figure_html(queue, "The most messages waiting for each worker (or held by a broker) in each "
                                    f"{interval}, known when a message started; a gap: no message started then.")
                 if queue else "<p class=note>No queue is known for this run's workers.</p>")
    return "\n".join(parts)


def distributions_html(figures: RunFigures) -> str:
    if not figures.wait:
        return "<p class=note>No message was done: no distribution to draw.</p>"
    widths = [2.6] + [1.2] * (len(figures.wait) - 1)
    colours = ["#222222", *(charts.colour(i) for i in range(len(figures.wait) - 1))]
    return (figure_html(charts.curves_chart(figures.wait, "wait", colours, widths),
                        "Wait (sent to work started) per worker and for all (black), as percentiles: "
                        "the count of messages in brackets.")
            + figure_html(charts.curves_chart(figures.sojourn, "sojourn", colours, widths),
                          "Sojourn (sent to work done) per worker and for all (black)."))


def map_html(figures: RunFigures) -> str:
    hidden = figures.message_map.hidden
    more = f" {hidden} later lives are not drawn." if hidden else ""
    return figure_html(charts.map_chart(figures.message_map, figures),
                       "The message map: a row per worker life, darker where it received more; "
                       f"a red cross where messages dealt to a life were lost, an orange dot where some came late.{more}")


def theory_html(report: dict[str, Any]) -> str:
    block = report.get("theory")
    if not block:
        return ("<p class=note>No prediction for this run: queueing theory has an exact answer only for a run "
                "with Poisson arrivals and exponential work that no timeline changed and nothing interrupted.</p>")
    return (figure_html(charts.theory_chart(block["wait_mean_ms"], block["measured_wait_in_queue_ms"], block["model"]),
                        "Mean wait in queue: as measured, and as queueing theory predicts with the service time "
                        "measured.") + f"<p>{escape(theory_line(report))}</p>")


def run_page(report: dict[str, Any], figures: RunFigures, what: str = "run") -> str:
    """The HTML report of one run (``what``: "run", or "replay of FILE")."""
    setup = report["setup"]
    subtitle = escape(f"{what}: {setup.get('pattern', '')}, {setup.get('transport', '')}, "
                      f"{setup.get('workers', '')} workers, seed {report['seed']}, {report['elapsed_s']:.2f} s")
    if report.get("interrupted"):
        subtitle += ("<div class=banner>interrupted: these are the figures until then (what was in flight "
                     "was not waited for)</div>")
    sections = [
        ("totals", "Totals and checks", _headline(report) + f"<p class=note>{escape(totals_line(report))}</p>"
         + checks_html(report.get("checks", []), bool(report.get("interrupted")))),
        ("setup", "Setup", setup_html(setup) + (f"<p class=note>endpoints: {escape(_value(list(report['endpoints'].items())))}</p>"
                                                if report.get("endpoints") else "")),
        ("timeline", "Timeline", timeline_html(figures)),
        ("losses", "Losses", losses_html(report, figures)),
        ("workers", "Workers over time", over_time_html(figures) + workers_table(report)),
        ("waits", "Wait and sojourn", distributions_html(figures)),
        ("map", "Message map", map_html(figures)),
        ("theory", "Theory", theory_html(report)),
    ]
    return page(f"rrsim: {report.get('scenario', 'run')}", subtitle, sections)


def compare_page(document: dict[str, Any], variants: Sequence[VariantResult]) -> str:
    """The HTML report of a comparison: one series per variant on shared axes, and the table."""
    ran = [v for v in variants if v.report is not None]
    drawn = [v for v in ran if v.figures is not None and v.figures.wait]
    labels = [v.label for v in ran]
    subtitle = escape(f"{len(variants)} variants of {document['scenario']}, one after the other; {document['shared']}")
    if document.get("interrupted"):
        subtitle += "<div class=banner>interrupted: variants not run are marked</div>"
    handover = measured_handover([v.report for v in variants])
    headings, caption = full_headings(columns(None, handover)), CAPTION + (HANDOVER_CAPTION if handover else "")
    rows = [(v.label, v.status, *(row_figures(v.report, handover=handover) if v.report else ["-"] * len(headings)))
            for v in variants]
    problems = "".join(f"<li><b>{escape(v.label)}</b>: {escape(v.status)}: {escape(v.problem)}</li>"
                       for v in variants if v.problem)
    sections = [("table", "Table", table(("variant", "status", *headings), rows, text_columns=2)
                 + f"<p class=note>{escape(caption)}</p>" + (f"<ul class=failed>{problems}</ul>" if problems else ""))]
    if drawn:
        colours = [charts.colour(ran.index(v)) for v in drawn]
        sections.append(("waits", "Wait and sojourn", figure_html(
            charts.curves_chart([_named(v.figures.wait[0], v.label) for v in drawn if v.figures], "wait", colours),
            "Each variant's wait (sent to work started) over all its workers, as percentiles.") + figure_html(
            charts.curves_chart([_named(v.figures.sojourn[0], v.label) for v in drawn if v.figures], "sojourn", colours),
            "Each variant's sojourn (sent to work done).")))
    if ran:
        reports = [v.report for v in ran if v.report]
        sections.append(("bars", "Throughput and losses", figure_html(
            charts.bars_chart(labels, [r["throughput_msgs_per_s"] for r in reports], "messages / s"),
            "Throughput: from the first send to the last delivery.") + figure_html(
            charts.bars_chart(labels, [r["totals"]["lost"] for r in reports], "messages lost"), "Messages lost.")))
        sections.append(("time", "Over time", figure_html(
            charts.delivered_chart([(v.label, v.figures) for v in ran if v.figures]),
            "Messages received per second by all workers together, each variant from its own start.")))
    chart = wait_chart([(", ".join(v.values), v.report["wait_percentiles"] if v.report else None, v.status)
                        for v in variants], width=100)
    sections.append(("text", "As the terminal shows it", "<pre>" + escape("\n".join(chart)) + "</pre>"))
    for v in ran:
        if v.figures is not None and v.figures.losses:
            sections.append((f"losses-{variants.index(v) + 1}", f"Losses: {v.label}",
                             "<ul>" + "".join(f"<li>{escape(t)}</li>" for t in v.figures.losses) + "</ul>"))
    return page(f"rrsim compare: {document['scenario']}", subtitle, sections)


def _named(curve: Curve, label: str) -> Curve:
    return replace(curve, label=label)

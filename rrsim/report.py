"""The end-of-run report: a JSON-ready dict read off the model, and its summary table."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.table import Table

from rrsim.model import _LATENCY_EDGES_NS, NS, Model, WorkerView


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _seconds(model: Model, t_ns: int | None) -> float | None:
    return None if t_ns is None or model.started_ns is None else round((t_ns - model.started_ns) / NS, 6)


def worker_report(model: Model, worker: WorkerView) -> dict[str, Any]:
    return {
        "name": worker.name,
        "received": worker.received,
        "share": round(model.share(worker), 6),
        "state": worker.state,
        "late": worker.late,
        "duplicates": worker.duplicates,
        "foreign": worker.foreign,
        "work_ms": worker.work_ms,
        "latency_ms": {q: _ms(worker.latency_ms(v)) for q, v in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))},
        "lives": [
            {
                "life": life.number,
                "pid": life.pid,
                "started_s": _seconds(model, life.started_ns),
                "ended_s": _seconds(model, life.ended_ns),
                "how_ended": life.how_ended,
                "exit_code": life.exit_code,
                "received": life.received,
            }
            for life in worker.lives
        ],
    }


def build_report(model: Model) -> dict[str, Any]:
    totals = model.totals()
    fairness = model.fairness()
    return {
        "setup": model.setup,
        "endpoints": model.endpoints,
        "elapsed_s": round(model.elapsed_s(), 6),
        "drained": model.drained,
        "throughput_msgs_per_s": round(model.throughput(), 3),
        "totals": {
            "sent": totals.sent,
            "delivered": totals.delivered,
            "lost": totals.lost,
            "late": totals.late,
            "duplicates": totals.duplicates,
            "in_flight": totals.in_flight,
            "foreign": totals.foreign,
            "malformed_telemetry": totals.malformed,
        },
        "pushers": [{"name": p.name, "sent": p.sent} for p in model.pushers.values()],
        "workers": [worker_report(model, w) for w in model.workers.values()],
        "latency_ms": all_workers_latency(model),
        "fairness": None if fairness is None else round(fairness, 6),
        "lost_ids": model.ledger.lost_ids(1000),
        "log": [{"t_s": _seconds(model, entry.t_ns), "kind": entry.kind, "text": entry.text} for entry in model.log],
    }


def all_workers_latency(model: Model) -> dict[str, float | None]:
    """Latency over every message delivered, from the sum of the workers' histograms (a
    percentile of the whole, not of per-worker figures).  Percentiles and max are a bin's upper
    edge, at most ~6% above the true value; the mean takes each bin's geometric centre."""
    combined = WorkerView("all workers", work_ms=0.0)
    for worker in model.workers.values():
        combined.latency_hist += worker.latency_hist
    total = int(combined.latency_hist.sum())
    if total == 0:
        return {"mean": None, "p50": None, "p95": None, "p99": None, "max": None}
    edges = _LATENCY_EDGES_NS
    # Bin 0 holds what is at most the first edge, the last bin what is past the last one.
    centres = np.concatenate([edges[:1], np.sqrt(edges[:-1] * edges[1:]), edges[-1:]])
    mean_ms = float((combined.latency_hist * centres).sum() / total) / 1e6
    return {"mean": _ms(mean_ms), **{q: _ms(combined.latency_ms(v)) for q, v in (("p50", 0.5), ("p95", 0.95),
                                                                                 ("p99", 0.99), ("max", 1.0))}}


def _latency(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def summary_table(report: dict[str, Any]) -> Table:
    table = Table(title="workers", title_justify="left")
    for column in ("worker", "state", "received", "share", "lives", "late", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column, justify="left" if column in ("worker", "state") else "right")
    for w in report["workers"]:
        latency = w["latency_ms"]
        table.add_row(
            w["name"], w["state"], str(w["received"]), f"{w['share']:.1%}", str(len(w["lives"])), str(w["late"]),
            _latency(latency["p50"]), _latency(latency["p95"]), _latency(latency["p99"]),
        )
    return table


def totals_line(report: dict[str, Any]) -> str:
    t = report["totals"]
    fairness = report["fairness"]
    return (
        f"sent {t['sent']}  delivered {t['delivered']}  lost {t['lost']}  late {t['late']}  "
        f"duplicates {t['duplicates']}  in flight {t['in_flight']}  foreign {t['foreign']}  "
        f"fairness {'-' if fairness is None else f'{fairness:.3f}'}  "
        f"{report['throughput_msgs_per_s']:.0f} msg/s over {report['elapsed_s']:.2f} s"
    )

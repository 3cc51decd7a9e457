"""The end-of-run report: a JSON-ready dict read off the model, and its summary table."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from rrsim.model import stats
from rrsim.model.model import Model
from rrsim.model.views import NS, Life, Stranger, WorkerView
from rrsim.report import theory
from rrsim.report.wording import describe


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _seconds(model: Model, t_ns: int | None) -> float | None:
    return None if t_ns is None or model.started_ns is None else round((t_ns - model.started_ns) / NS, 6)


def _life_report(model: Model, life: Life, count: str) -> dict[str, Any]:
    return {
        "life": life.number,
        "pid": life.pid,
        "started_s": _seconds(model, life.started_ns),
        "ended_s": _seconds(model, life.ended_ns),
        "how_ended": life.how_ended,
        "exit_code": life.exit_code,
        count: life.received,
    }


# Why a user's program (worker_cmd) has no wait, service or busy time in the report.
NOT_MEASURED_WHY = ("it runs your program (worker_cmd): rrsim sees only when a message came back, not when the "
                    "program received it, so wait and service are not measured, only sojourn (sent to done)")
QUANTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))


def worker_report(model: Model, worker: WorkerView, taken: int) -> dict[str, Any]:
    remote: dict[str, Any] = {}
    if worker.remote_host:
        assert worker.clock_uncertainty_ns is not None  # it came with the join, as the host did
        remote = {"host": worker.remote_host, "label": worker.remote_label,
                  "clock_uncertainty_ms": _ms(worker.clock_uncertainty_ns / 1e6)}
    return {
        "name": worker.name,
        "received": worker.received,
        "share": round(stats.worker_share(worker, taken), 6),
        "state": worker.state,
        "late": worker.late,
        "duplicates": worker.duplicates,
        "foreign": worker.foreign,
        "work_ms": worker.work_ms,
        "speed": worker.speed,
        "service_ms": _ms(worker.service_ms()),
        "completed": worker.received,  # a worker reports a message once its work is done
        "busy_fraction": _rounded(worker.busy_fraction(model.now_ns)),
        "latency_ms": ({q: _ms(worker.latency_ms(v)) for q, v in QUANTILES}
                       if worker.latency_trusted() else dict.fromkeys(("p50", "p95", "p99"), "n/a")),
        "sojourn_ms": {q: _ms(worker.sojourn.quantile_ms(v)) for q, v in QUANTILES},
        "max_queue": worker.max_queue,
        "lives": [_life_report(model, life, "received") for life in worker.lives],
        # messages it held and did not acknowledge in time that a router handed over again
        "retried": worker.retried,
        "heartbeats_missed": worker.heartbeats_missed,
        # how long after it was paused or ended a router took it for dead, per verdict
        "verdict_ms": [round(ms, 3) for ms in worker.verdict_ms],
        "remote": bool(worker.remote_host),
        **remote,
        **({"program": worker.program, "not_measured": ["latency_ms", "service_ms", "busy_fraction"],
            "not_measured_why": NOT_MEASURED_WHY} if worker.program else {}),
    }


def external_report(number: int, external: Stranger, taken: int) -> dict[str, Any]:
    """A plain PULL let in by address: no telemetry, so what it received is an estimate (the
    messages its pusher dealt while it was connected that none of our workers received)."""
    return {
        "name": f"x{number}", "received": external.took, "share": round(stats.share(external.took, taken), 6),
        "state": "external", "late": 0, "duplicates": 0, "retried": 0, "foreign": 0, "work_ms": None, "completed": None,
        "busy_fraction": None, "latency_ms": dict.fromkeys(("p50", "p95", "p99"), "n/a"), "lives": [],
        "remote": True, "host": external.peer, "external": True, "estimated": True, "at": external.binder,
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def broker_report(model: Model, broker: WorkerView) -> dict[str, Any]:
    return {
        "name": broker.name,
        "state": broker.state,
        "routed": broker.received,
        "queued": broker.queued,
        "ready_workers": broker.ready,
        "max_queued": broker.max_queued,
        "lives": [_life_report(model, life, "routed") for life in broker.lives],
    }


# The percentiles of wait a report keeps beyond its summary: enough to draw its distribution.
WAIT_PERCENTILES = (1, 5, 25, 50, 75, 95, 99, 99.9)


def build_report(model: Model) -> dict[str, Any]:
    totals = model.totals()
    fairness = model.fairness()
    longest = model.longest_queue()
    taken = model.taken_by_all()  # every share's denominator, once: per worker it was O(n^2)
    return {
        "setup": model.setup,
        "seed": model.setup.get("seed"),
        "endpoints": model.endpoints,
        "elapsed_s": round(model.elapsed_s(), 6),
        "loops": model.loops or None,  # the children's per-message loops: "compiled" or "python" (None: not said)
        "drained": model.drained,
        "throughput_msgs_per_s": round(model.throughput(), 3),
        "throughput_window_s": round(model.throughput_window_s(), 6),
        "wait_ms": model.wait.summary_ms(),  # rrsim's own workers' (a program's wait is not seen)
        **_programs_wait(model),
        "sojourn_ms": model.sojourn.summary_ms(),
        # A worker's done to its next message's receipt, when that one was waiting, and how many were
        "handover_ms": model.overheads().handover.summary_ms(),
        "handovers": model.overheads().handovers,
        # The share of messages whose sojourn was within the setup's objective (None: no objective)
        "objective_ms": model.setup.get("objective_ms"),
        "within_objective": within_objective(model),
        "wait_percentiles": {f"p{p:g}": _ms(model.wait.quantile_ms(p / 100)) for p in WAIT_PERCENTILES},
        # The most messages seen waiting at one worker (dealt as sent) or broker (as it said).
        "max_queue": None if longest is None else {"messages": longest[0], "at": longest[1]},
        "work_size_ms": model.work_sizes.summary_ms(),
        "totals": {
            "sent": totals.sent,
            "delivered": totals.delivered,
            "lost": totals.lost,
            "late": totals.late,
            "duplicates": totals.duplicates,
            "in_flight": totals.in_flight,
            "completed": totals.completed,
            "strayed": totals.strayed,
            "foreign": totals.foreign,
            "malformed_telemetry": totals.malformed,
            "retried": totals.retried,
            "given_up": totals.given_up,
        },
        # Messages acknowledged, by the hand-overs each took (a pattern that counts them), and
        # why messages were given up
        "attempts": {str(n): count for n, count in model.attempts().items()},
        "given_up_why": dict(model.given_up_why),
        "pushers": [{"name": p.name, "sent": p.sent, "jobs": p.jobs} for p in model.pushers.values()],
        "brokers": [broker_report(model, b) for b in model.brokers.values()],
        "unknown_peers": [
            {"peer": s.peer, "at": s.binder, "endpoint": model.endpoints.get(s.endpoint, ""),
             "connected_s": _seconds(model, s.connected_ns), "disconnected_s": _seconds(model, s.disconnected_ns),
             "took_estimate": s.took}
            for s in model.strangers if not s.admitted
        ],
        "workers": [*(worker_report(model, w, taken) for w in model.workers.values()),
                    *(external_report(number, s, taken) for number, s in enumerate(model.external_workers(), 1))],
        # Over every message, all workers together: a worker starts a message when it receives
        # it, so this is the same distribution as wait_ms, under the name the workers' use.
        "latency_ms": model.wait.summary_ms(),
        "fairness": None if fairness is None else round(fairness, 6),
        "lost_ids": model.ledger.lost_ids(1000),
        "refused": [{"address": r.address, "t_s": _seconds(model, r.t_ns), "why": r.why, "endpoint": r.endpoint,
                     "attempts": r.attempts} for r in model.refused.values()],
        "log": [{"t_s": _seconds(model, entry.t_ns), "kind": entry.kind, "text": describe(entry)} for entry in model.log],
    }


def within_objective(model: Model) -> float | None:
    objective = model.setup.get("objective_ms")
    share = None if objective is None else model.sojourn.share_within_ms(float(objective))
    return None if share is None else round(share, 6)


def _programs_wait(model: Model) -> dict[str, Any]:
    """Which workers' waits the run's wait (and latency) leaves out, and why: those running a program."""
    programs = [w.name for w in model.workers.values() if w.program]
    return {"wait_left_out": {"workers": programs, "why": NOT_MEASURED_WHY}} if programs else {}


def measured(model: Model) -> theory.Measured | None:
    """The run's queueing as theory sees it (see ``theory.Measured``); None before any work was done."""
    work_ms, wait_ms = model.service_ms(), model.wait.mean_ms()
    over = model.overheads()
    if not work_ms or wait_ms is None or not over.transits + over.handovers:
        return None
    handover_ms = over.handover_ns / over.handovers / 1e6 if over.handovers else 0.0
    return theory.Measured(
        messages=over.transits + over.handovers, service_ms=work_ms + handover_ms,
        transit_ms=over.transit_ns / over.transits / 1e6 if over.transits else 0.0,
        found_free=over.transits / (over.transits + over.handovers), wait_ms=wait_ms,
    )


def theory_block(model: Model) -> dict[str, Any] | None:
    """What queueing theory predicts for this run, with the service time its workers really took
    (work and hand-over; a sleep overshoots, more on a busy machine), beside the wait in queue
    rrsim measured; None where theory has no exact answer (see ``rrsim.report.theory``)."""
    run = measured(model)
    if run is None:
        return None
    wiring = theory.Wiring(dealt_between=model.roster.dealt_between(), resends=model.losses.retry_budget_ns > 0)
    prediction = theory.predict(model.setup, run.service_ms, wiring)
    if prediction is None:
        return None
    return {**prediction.to_json(), "transit_ms": round(run.transit_ms, 3), "found_free": round(run.found_free, 6),
            "measured_wait_mean_ms": round(run.wait_ms, 3), "measured_wait_in_queue_ms": round(run.queueing_ms, 3)}


def format_ms(value: float | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value  # n/a: a remote worker's clock is not known well enough
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def summary_table(report: dict[str, Any]) -> Table:
    table = Table(title="workers", title_justify="left")
    for column in ("worker", "state", "received", "share", "lives", "late", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column, justify="left" if column in ("worker", "state") else "right")
    programs = [w["name"] for w in report["workers"] if w.get("program")]
    if programs:
        table.caption_justify = "left"
        table.caption = (f"{' '.join(programs)}: p50-p99 are sojourn (sent to done): each runs your program, "
                         "whose wait and service rrsim does not see")
    for w in report["workers"]:
        latency = w["sojourn_ms"] if w.get("program") else w["latency_ms"]
        table.add_row(
            w["name"], w["state"], str(w["received"]), f"{w['share']:.1%}", str(len(w["lives"])), str(w["late"]),
            format_ms(latency["p50"]), format_ms(latency["p95"]), format_ms(latency["p99"]),
        )
    return table


def totals_line(report: dict[str, Any]) -> str:
    t = report["totals"]
    fairness = report["fairness"]
    strayed = f"strayed {t['strayed']}  " if t.get("strayed") else ""
    if t.get("retried") or t.get("given_up"):
        strayed += f"retried {t['retried']}  given up {t['given_up']}  "
    return (
        f"sent {t['sent']}  delivered {t['delivered']}  lost {t['lost']}  late {t['late']}  "
        f"duplicates {t['duplicates']}  in flight {t['in_flight']}  foreign {t['foreign']}  {strayed}"
        f"fairness {'-' if fairness is None else f'{fairness:.3f}'}  {objective_words(report)}"
        f"{report['throughput_msgs_per_s']:.0f} msg/s from the first send to the last delivery "
        f"({report.get('throughput_window_s', 0):.2f} s; the run {report['elapsed_s']:.2f} s)"
    )


def objective_words(report: dict[str, Any]) -> str:
    """'99.21% within 200 ms  ' when the setup gives an objective, else ''."""
    share = report.get("within_objective")
    return "" if share is None else f"{share:.2%} within {format_ms(report['objective_ms'])} ms  "


def handover_line(report: dict[str, Any]) -> str | None:
    """The hand-over in words, or None when no message was waiting as its worker finished."""
    handover = report.get("handover_ms")
    if not report.get("handovers") or not handover:
        return None
    return (f"hand-over (a worker's done to its next message, when that one was waiting): p50 "
            f"{format_ms(handover['p50'])} ms, p99 {format_ms(handover['p99'])} ms, over {report['handovers']:,} messages")


def theory_line(report: dict[str, Any]) -> str:
    block = report["theory"]
    predicted = "unbounded (unstable)" if block["wait_mean_ms"] is None else f"{block['wait_mean_ms']:.3g} ms"
    return (f"theory ({block['model']}, {block['servers']} workers, {block['service_ms']:.3g} ms per message as "
            f"measured, utilisation {block['utilisation']:.2f}): mean wait in queue {predicted}; measured "
            f"{block['measured_wait_in_queue_ms']:.3g} ms ({block['measured_wait_mean_ms']:.3g} ms less "
            f"{block['found_free']:.0%} x {block['transit_ms']:.3g} ms of hops)")

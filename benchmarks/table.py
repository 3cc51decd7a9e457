"""The headline figures of a results dict, as rows (saved in the JSON) and as a rich table."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from benchmarks.recording import FIRST_FRAME_TARGET_S, SEEK_TARGET_S


def _row(figure: str, value: str, target: str = "", met: bool | None = None) -> dict[str, Any]:
    return {"figure": figure, "value": value, "target": target, "met": met}


def _failed(part: str, results: dict[str, Any]) -> list[dict[str, Any]]:
    return [_row(f"{part}: did not run", results[part]["error"][:120])]


def _throughput_rows(part: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for case in part["cases"]:
        ratio = case["ratio"]
        value = (f"{ratio['median']:.2f}x  (bare {case['bare_msgs_per_s']['median'] / 1e6:.2f}M/s, "
                 f"rrsim {case['rrsim_msgs_per_s']['median'] / 1e6:.2f}M/s)")
        rows.append(_row(f"throughput, {case['case']}: rrsim / bare", value, "0.9x", case["met"]))
        for side, figures in case.get("sides", {}).items():
            to = [f"{figures[key]['median']:.2f}x {name}" for key, name in (("to_bare", "bare"), ("to_bare_compiled", "bare compiled"))
                  if key in figures]
            cpu = figures["cpu_us_per_message"]
            where = ", ".join(f"{part} {cpu[part]['median']:.2f}" for part in cpu if part != "total")
            stamped = f" (stamped {figures['stamped_msgs_per_s']['median'] / 1e6:.2f}M/s)" if "stamped_msgs_per_s" in figures else ""
            rows.append(_row(f"  {side}: {figures['msgs_per_s']['median'] / 1e6:.2f}M/s{stamped}", ", ".join(to) +
                             (f"; CPU {cpu['total']['median']:.2f} us/msg ({where})" if cpu else "")))
    return rows


def _reaction_rows(part: dict[str, Any]) -> list[dict[str, Any]]:
    kill, revive = part["kill_to_killed_ms"], part["revive_to_first_delivery_ms"]
    rows = [
        _row("kill -> killed in the model, p95", f"{kill['p95']:.0f} ms", "<= 100 ms", kill["met"]),
        _row("revive -> first delivery to the new life, p95", f"{revive['p95']:.0f} ms", "<= 300 ms", revive["met"]),
    ]
    for workers, start in part["start_to_all_connected_s"].items():
        target = start.get("target", "").replace("median <= ", "<= ")
        rows.append(_row(f"start -> all {workers} workers connected, median", f"{start['median']:.2f} s",
                         f"{target} s" if target else "", start.get("met")))
    return rows


def _scale_rows(part: dict[str, Any]) -> list[dict[str, Any]]:
    where = f"{part['workers']} workers, {part['pushers']} pushers"
    behind = "" if part["caught_up"] else " (lower bound: the ledger had not caught up)"
    return [
        _row(f"scale, {where}: delivered", f"{part['delivered_msgs_per_s'] / 1e3:.0f}k msgs/s{behind}"),
        _row(f"scale, {where}: accounted by the ledger in the window",
             f"{part['accounted_msgs_per_s'] / 1e3:.0f}k msgs/s (lag {part['accounting_lag_at_window_end_s']:.1f} s)"),
        _row(f"scale, {where}: engine CPU", f"{part['engine_cpu_share_of_one_core']:.0%} of a core"),
        _row(f"scale, {where}: engine resident memory, peak", f"{part['engine_rss_mb']['peak']:.0f} MB"),
        _row(f"scale, {where}: ledger bytes per message, resident",
             f"{part['ledger_bytes_per_message']:.2f} (allocated {part['ledger_allocated_bytes_per_message']:.2f})",
             "<= 1", part["ledger_met"]),
    ]


def _ui_rows(part: dict[str, Any], where: str = "") -> list[dict[str, Any]]:
    timer, kill = part["timer_lag_ms"], part["kill_key_to_tile_ms"]
    rows = [
        _row(f"UI{where}: 50 ms timer lag, p99", f"{timer['p99']:.0f} ms", "<= 50 ms", timer["met"]),
        _row(f"UI{where}: kill key -> tile shows killed, p95", f"{kill['p95']:.0f} ms", "<= 100 ms", kill["met"]),
    ]
    if "at_scale" in part:
        scale = part["at_scale"]
        rows += _ui_rows(scale, f", {scale['setup'].split(';')[0]}")
        rows.append(_row(f"UI, {scale['setup'].split(';')[0]}: ledger exact", f"{scale['ledger']['sent']:,} sent",
                         "exact", scale["ledger"]["exact"]))
    return rows


def _broker_rows(part: dict[str, Any]) -> list[dict[str, Any]]:
    ratio, latency = part["ratio"], part["latency"]
    added = latency["added_ms"]
    return [
        _row(f"lb-broker throughput, {part['case']}: rrsim / bare lbbroker",
             f"{ratio['median']:.2f}x  (bare {part['bare_msgs_per_s']['median'] / 1e3:.1f}k/s, "
             f"rrsim {part['rrsim_msgs_per_s']['median'] / 1e3:.1f}k/s)", "1.0x", part["met"]),
        *([_row("lb-broker CPU per message, every process (rrsim: the engine's too)",
                f"rrsim {cpu['rrsim']['total']['median']:.1f} us, bare {cpu['bare']['total']['median']:.1f} us")]
          if (cpu := part.get("cpu_us_per_message")) and {"rrsim", "bare"} <= set(cpu) else []),
        *([_row("reliable beside it (acknowledgements, heartbeats; rate 0): msgs/s, CPU per message",
                f"{part['reliable_msgs_per_s']['median'] / 1e3:.1f}k/s, {cpu['reliable']['total']['median']:.1f} us")]
          if "reliable_msgs_per_s" in part and "reliable" in (cpu := part.get("cpu_us_per_message") or {}) else []),
        _row(f"lb-broker added wait at {latency['rate']:g}/s, p50 / p99 (vs push-pull)",
             f"{_ms(added['p50'])} / {_ms(added['p99'])} ms"),
    ]


def _recording_rows(part: dict[str, Any]) -> list[dict[str, Any]]:
    cost, seek = part["cost"], part["seek"]
    size = cost["bytes_per_message"]
    rows = [
        _row(f"recording, {cost['case']}: with / without, {kind}", f"{cost['ratio'][kind]['median']:.2f}x  "
             f"({size[kind]['median']:.1f} bytes per message; the recorder: "
             f"{cost['recorder_run_cpu_share'][kind]['median']:.1%} of the run's CPU, "
             f"{cost['recorder_cpu_share'][kind]['median']:.0%} of the engine process's)", "0.9x",
             cost["ratio"][kind]["median"] >= 0.9)
        for kind in ("jsonl", "jsonl.gz")
    ]
    seek_ms = seek["seek_ms"]
    length = f"{seek['recording_s'] / 60:.3g} min recording at {seek['msgs_per_s']:,}/s ({seek['file_mb']:g} MB gz)"
    rows.append(_row(f"replay: first frame of a {length}",
                     f"{seek['first_frame_s'] * 1000:.0f} ms, {seek['first_frame_rss_mb']:g} MB (all loaded: "
                     f"{seek['load_s']:g} s, {seek['loaded_rss_mb']:g} MB; --json: {seek['report_s']:g} s, "
                     f"peak {seek['report_peak_rss_mb']:g} MB)", f"< {FIRST_FRAME_TARGET_S:g} s",
                     seek["first_frame_s"] < FIRST_FRAME_TARGET_S))
    rows.append(_row("replay: seek in it, max",
                     f"{seek_ms['max']:.0f} ms (median {seek_ms['median']:.0f}, CPU {seek['seek_cpu_ms']['max']:.0f} ms max)",
                     f"< {SEEK_TARGET_S * 1000:.0f} ms", seek_ms["max"] < SEEK_TARGET_S * 1000))
    return rows


def _map_rows(part: dict[str, Any]) -> list[dict[str, Any]]:
    fold, draw = part["fold"], part["draw"]
    rows = [_row("map: recording 128 lives at 100k msgs/s, per second of run",
                 f"{fold['map_record_ms_per_s']:.0f} ms ({fold['map_share_of_fold']:.0%} of the model's fold, "
                 f"{fold['model_fold_ms_per_s']:.0f} ms)", fold["target"].replace("map record ", ""), fold["met"])]
    for screen, figures in draw.items():
        rows.append(_row(f"map: a frame at {screen} ({figures['lives_drawn']} of 128 lives, {part['drawn_s']:g} s), "
                         "steady median",
                         f"{figures['steady_ms']['median']:.1f} ms (cold {figures['cold_ms']:.0f} ms)",
                         "<= 10 ms" if "met" in figures else "", figures.get("met")))
    return rows


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


PART_ROWS = {"throughput": _throughput_rows, "reaction": _reaction_rows, "scale": _scale_rows, "broker": _broker_rows,
             "ui": _ui_rows, "recording": _recording_rows, "map": _map_rows}


def headline_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for part, build in PART_ROWS.items():
        if part in results:
            rows += _failed(part, results) if "error" in results[part] else build(results[part])
    return rows


def render(results: dict[str, Any]) -> Table:
    machine = results["machine"]
    settings = results["settings"]
    table = Table(
        title=f"rrsim benchmarks ({settings['name']}, medians of {settings['reps']})",
        caption=(f"{machine['date']}  {machine['usable_cores']} cores {machine['cpu']}  Python {machine['python']}  "
                 f"pyzmq {machine['pyzmq']}  libzmq {machine['libzmq']}  load {results['load_average']['before']}  "
                 f"{results['elapsed_s']} s"),
    )
    for column in ("figure", "measured", "target", "met"):
        table.add_column(column, no_wrap=column != "figure")
    for row in results["headline"]:
        met = {True: "[green]yes[/green]", False: "[red]no[/red]", None: ""}[row["met"]]
        table.add_row(row["figure"], row["value"], row["target"], met)
    return table

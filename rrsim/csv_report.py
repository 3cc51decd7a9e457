"""``rrsim run --csv``: the report's workers as one row per worker life, for a spreadsheet or pandas.

The columns follow the report: a life's own figures first (worker, life, pid, started_s,
ended_s, how_ended, exit_code, received), then its worker's (state, work_ms, latency ...),
repeated on each of the worker's lives; a statistics dict ``X_ms`` becomes ``X_p50_ms``, ...
"""

from __future__ import annotations

import csv
from typing import IO, Any

LIFE_COLUMNS = ("worker", "life", "pid", "started_s", "ended_s", "how_ended", "exit_code", "received")


def _worker_columns(worker: dict[str, Any]) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    for key, value in worker.items():
        if key in ("name", "lives"):
            continue
        if isinstance(value, dict):
            stem, unit = (key[:-3], "_ms") if key.endswith("_ms") else (key, "")
            columns.update({f"{stem}_{part}{unit}": inner for part, inner in value.items()})
        else:
            # The worker's total beside a life's own figure of the same name.
            columns[f"worker_{key}" if key in LIFE_COLUMNS else key] = value
    return columns


def write_csv(report: dict[str, Any], stream: IO[str]) -> None:
    workers = report["workers"]
    extra = list(_worker_columns(workers[0])) if workers else []
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow([*LIFE_COLUMNS, *extra])
    for worker in workers:
        columns = _worker_columns(worker)
        for life in worker["lives"]:
            row = [worker["name"], *(life.get(key) for key in LIFE_COLUMNS[1:]), *(columns.get(key) for key in extra)]
            writer.writerow(["" if value is None else value for value in row])

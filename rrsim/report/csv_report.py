"""``rrsim run --csv``: the report's workers as one row per worker life, for a spreadsheet or pandas
(and the columns ``rrsim compare --csv`` flattens its variants into).

The columns follow the report: a life's own figures first (worker, life, pid, started_s,
ended_s, how_ended, exit_code, received), then its worker's (state, work_ms, latency ...),
repeated on each of the worker's lives; a statistics dict ``X_ms`` becomes ``X_p50_ms``, ...
"""

from __future__ import annotations

import csv
from typing import IO, Any

LIFE_COLUMNS = ("worker", "life", "pid", "started_s", "ended_s", "how_ended", "exit_code", "received")


def flat_columns(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` as columns: a dict ``X_ms`` becomes ``X_p50_ms``, ..., any other dict ``X``
    becomes ``X_part``, ...; a value that is None stays None."""
    columns: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            stem, unit = (key[:-3], "_ms") if key.endswith("_ms") else (key, "")
            columns.update({f"{stem}_{part}{unit}": inner for part, inner in value.items()})
        else:
            columns[key] = value
    return columns


def _worker_columns(worker: dict[str, Any]) -> dict[str, Any]:
    # The worker's total beside a life's own figure of the same name.
    renamed = {f"worker_{key}" if key in LIFE_COLUMNS else key: value
               for key, value in worker.items() if key not in ("name", "lives")}
    return flat_columns(renamed)


def cell(value: Any) -> Any:
    """A report value as a spreadsheet reads it: nothing for None, true/false, a list joined by ';'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ";".join(str(cell(item)) for item in value)
    return value


def write_rows(rows: list[dict[str, Any]], stream: IO[str]) -> None:
    """One CSV row per dict; the columns are every key, in the order they first appear."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(row.get(key)) for key in columns])


def write_csv(report: dict[str, Any], stream: IO[str]) -> None:
    workers = report["workers"]
    extra = list(_worker_columns(workers[0])) if workers else []
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow([*LIFE_COLUMNS, *extra])
    for worker in workers:
        columns = _worker_columns(worker)
        for life in worker["lives"]:
            row = [worker["name"], *(life.get(key) for key in LIFE_COLUMNS[1:]), *(columns.get(key) for key in extra)]
            writer.writerow([cell(value) for value in row])

"""``python -m benchmarks [--quick | --tiny] [--parts ...] [--out PATH]``: run, print a table, write JSON.

Run from the repository root.  The full suite writes ``benchmarks/results.json``; ``--quick``
(under 30 s) and ``--tiny`` (a smoke test) write ``results-quick.json`` / ``results-tiny.json``
unless ``--out`` says otherwise.  A part that fails is recorded with its error and the others
still run; the exit code is 1 then.  Missed targets are figures, not failures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from benchmarks import broker, findings, machine, map_view, reaction, recording, scale, throughput, ui
from benchmarks.settings import BY_NAME, FULL, Settings
from benchmarks.table import headline_rows, render

PARTS: dict[str, Callable[[Settings], dict[str, Any]]] = {
    "throughput": throughput.run,
    "reaction": reaction.run,
    "scale": scale.run,
    "broker": broker.run,
    "recording": recording.run,
    "map": map_view.run,
    "ui": ui.run,  # last: the heaviest import, and the other parts do not need it
}
HERE = Path(__file__).resolve().parent


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_const", dest="settings", const="quick", help="under 30 seconds")
    size.add_argument("--tiny", action="store_const", dest="settings", const="tiny",
                      help="a smoke test of the machinery; the figures mean little")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated subset of {', '.join(PARTS)} (default: all)")
    parser.add_argument("--out", type=Path, help="where to write the JSON results")
    args = parser.parse_args(argv)
    args.settings = BY_NAME[args.settings or FULL.name]
    args.parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = [p for p in args.parts if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; known: {', '.join(PARTS)}")
    if args.out is None:
        args.out = HERE / ("results.json" if args.settings is FULL else f"results-{args.settings.name}.json")
    return args


def run(settings: Settings, parts: list[str], console: Console) -> dict[str, Any]:
    results: dict[str, Any] = {
        "schema": 1,
        "settings": settings.to_dict(),
        "machine": machine.describe(),
        "load_average": {"before": machine.load_average()},
    }
    began = time.monotonic()
    for name in parts:
        console.print(f"[bold]{name}[/bold] ...", highlight=False)
        part_began = time.monotonic()
        try:
            results[name] = PARTS[name](settings)
        except Exception as error:  # noqa: BLE001 - recorded, and the other parts still run
            results[name] = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
            console.print(f"  [red]failed[/red]: {type(error).__name__}: {error}", highlight=False)
        results[name + "_elapsed_s"] = round(time.monotonic() - part_began, 1)
    results["elapsed_s"] = round(time.monotonic() - began, 1)
    results["load_average"]["after"] = machine.load_average()
    results["headline"] = headline_rows(results)
    results["findings"] = findings.FINDINGS
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    console = Console()
    if not console.is_terminal:
        console = Console(width=140)  # a log file: room for the table's columns
    results = run(args.settings, args.parts, console)
    console.print(render(results))
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"wrote {args.out}", highlight=False)
    failed = [name for name in args.parts if "error" in results[name]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

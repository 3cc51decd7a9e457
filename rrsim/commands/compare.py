"""``rrsim compare``: one scenario run once per combination of varied setup keys, one run after
the other, each the way ``rrsim run`` plays it, and the results side by side: a table of
figures and a chart of each variant's wait.

A variant that cannot run (a combination the setup refuses, a key its pattern ignores, a port
taken) is reported in its row and the others still run.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from rrsim.commands.interrupt import Interruption
from rrsim.commands.parser import (
    KeepEpilogFormatter,
    Parser,
    add_setup_options,
    apply_overrides,
    describe_defaults,
    output_path,
    setup_overrides,
)
from rrsim.commands.run import play
from rrsim.engine.engine import Engine
from rrsim.errors import UserError, did_you_mean
from rrsim.recording.outputs import STDOUT, Output, open_output
from rrsim.report.comparison import (
    CAPTION,
    HANDOVER_CAPTION,
    OBJECTIVE_CAPTION,
    columns,
    measured_handover,
    objective_of,
    row_figures,
)
from rrsim.report.csv_report import flat_columns, write_rows
from rrsim.report.figures import RunFigures, run_figures
from rrsim.report.wait_chart import wait_chart
from rrsim.scenario.actions import check_timeline
from rrsim.scenario.scenario import Scenario, load_scenario
from rrsim.scenario.setup import (
    SETUP_KEYS,
    Setup,
    build_setup,
    check_value,
    ignored_by_pattern,
    value_from_text,
)

START_AND_DRAIN_S = 1.0  # a guess at what a run adds to its sending time, until one has been measured
MAX_NAME_WIDTH = 16  # a longer varied value wraps in the table, so that the figures fit
VARY_SYNTAX = "write KEY=V1,V2,..., e.g. --vary pattern=push-pull,lb-broker"


@dataclass(frozen=True)
class Vary:
    """One ``--vary KEY=V1,V2,...``: a setup key and the values to try, each checked."""

    key: str
    values: tuple[Any, ...]


def _split_values(text: str) -> list[str]:
    """``a,b`` -> [a, b]; a comma inside brackets belongs to its value (``[1, 0.25],[1, 1]``)."""
    values, depth, current = [], 0, ""
    for char in text:
        if char == "," and depth == 0:
            values.append(current)
            current = ""
            continue
        depth += {"[": 1, "]": -1}.get(char, 0)
        current += char
    return [*values, current]


def parse_vary(texts: list[str], set_by_option: set[str]) -> list[Vary]:
    """Every ``--vary`` checked by each key's own validator; a mistake is one UserError line."""
    varies: list[Vary] = []
    for text in texts:
        key, equals, listed = text.partition("=")
        key = key.strip()
        if not equals or not key:
            raise UserError(f"--vary {text!r}: {'no key before =' if equals else 'no ='}; {VARY_SYNTAX}")
        key = key.replace("-", "_")
        if key not in SETUP_KEYS:
            raise UserError(f"--vary {text!r}: unknown setup key {key!r}; known keys: {', '.join(SETUP_KEYS)}"
                            f"{did_you_mean(key, SETUP_KEYS)}")
        if any(vary.key == key for vary in varies):
            raise UserError(f"--vary {key}: given twice; list every value in one --vary {key}=V1,V2,...")
        if key in set_by_option:
            raise UserError(f"--vary {key} and option --{key.replace('_', '-')}: give one of them")
        if not listed.strip():
            raise UserError(f"--vary {text!r}: no values; {VARY_SYNTAX}")
        values = []
        for written in _split_values(listed):
            where = f"--vary {key} value {written!r}"
            if not written.strip():
                raise UserError(f"--vary {text!r}: an empty value; {VARY_SYNTAX}")
            value = check_value(key, value_from_text(key, written.strip(), where), where)
            if value in values:
                raise UserError(f"--vary {key}: {written.strip()!r} is listed twice")
            values.append(value)
        varies.append(Vary(key, tuple(values)))
    if not varies:
        raise UserError(f"rrsim compare needs at least one --vary: {VARY_SYNTAX}")
    return varies


@dataclass
class Variant:
    """One combination of the varied values, and how its run went."""

    number: int
    vary: dict[str, Any]
    setup: Setup | None  # None: the combination cannot run (``problem`` says why)
    problem: str = ""
    status: str = "waiting"  # then "ok", "failed", "interrupted" or "not run"
    report: dict[str, Any] | None = None
    wall_s: float = 0.0
    figures: RunFigures | None = None  # what an HTML report draws of its run (kept only for --html)

    @property
    def label(self) -> str:
        return " ".join(f"{key}={_text(value)}" for key, value in self.vary.items())

    @property
    def values(self) -> list[str]:
        return [_text(value) for value in self.vary.values()]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


def make_variants(scenario: Scenario, varies: list[Vary]) -> list[Variant]:
    """The cartesian product of the varied values, in the order given; each checked as a whole
    the way a scenario's [setup] is."""
    variants = []
    for number, values in enumerate(itertools.product(*(vary.values for vary in varies)), start=1):
        vary = {v.key: value for v, value in zip(varies, values, strict=True)}
        variant = Variant(number, vary, None)
        where = "this combination"
        try:
            setup = build_setup(vary, where, base=scenario.setup)
            check_timeline(setup, list(scenario.timeline), where)
            ignored = [why for key in vary if (why := ignored_by_pattern(key, setup))]
            if ignored:
                raise UserError(f"{where}: {ignored[0]}: it would run the same as the others")
            variant.setup = setup
        except UserError as error:
            variant.problem = str(error)
        variants.append(variant)
    return variants


def share_seed(scenario: Scenario, varies: list[Vary]) -> tuple[Scenario, int | None, str]:
    """The scenario with one seed for every variant, the seed, and a sentence saying what is shared.

    With a ``seed`` setup key the variants get the same random draws (one picked now if the
    scenario sets none), so they differ only in what was varied."""
    if any(vary.key == "seed" for vary in varies):
        return scenario, None, "the seed is one of the varied keys"
    seed = scenario.setup.seed
    if seed is None:
        seed = random.randrange(2**31)
        setup = build_setup({"seed": seed}, "the shared seed", base=scenario.setup, need_end=False)
        scenario = dataclasses.replace(scenario, setup=setup)
    return scenario, seed, f"every variant uses seed {seed}"


def expected_s(setup: Setup) -> float | None:
    """How long a run should send for, from its setup: messages at the rate, within the
    duration; None when neither says (as fast as possible, no cap)."""
    sending = setup.messages / setup.rate if setup.rate > 0 and setup.messages > 0 else None
    if setup.duration is not None:
        sending = setup.duration if sending is None else min(sending, setup.duration)
    return sending


@dataclass
class TimeLeft:
    """How long the variants still to run should take: each one's expected sending time plus a
    start and a drain, times how much longer than expected the runs done so far took."""

    variants: list[Variant]
    runs: list[tuple[float | None, float]] = field(default_factory=list)  # (expected, took) of runs done

    def guess(self, variant: Variant) -> float | None:
        assert variant.setup is not None
        sending = expected_s(variant.setup)
        if sending is None:  # as fast as possible with no cap: as long as the runs before it, if any
            return sum(took for _, took in self.runs) / len(self.runs) if self.runs else None
        known = [(expected, took) for expected, took in self.runs if expected is not None]
        pace = sum(took for _, took in known) / sum(expected for expected, _ in known) if known else 1.0
        return (sending + START_AND_DRAIN_S) * pace

    def done(self, variant: Variant) -> None:
        assert variant.setup is not None
        sending = expected_s(variant.setup)
        self.runs.append((None if sending is None else sending + START_AND_DRAIN_S, variant.wall_s))

    def left_s(self, current: Variant, running_s: float) -> float | None:
        """Seconds left, ``running_s`` into ``current``; None when a variant's length cannot be guessed."""
        later = [v for v in self.variants if v.number > current.number and v.setup is not None]
        guesses = [self.guess(v) for v in (current, *later)]
        known = [g for g in guesses if g is not None]
        if len(known) < len(guesses):
            return None
        return max(0.0, known[0] - running_s) + sum(known[1:])


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "time left unknown"
    return f"about {seconds:.0f} s left" if seconds < 120 else f"about {seconds / 60:.0f} min left"


def run_compare(scenario: Scenario, varies: list[Vary], json_path: Path | str | None,
                csv_path: Path | str | None, html_path: Path | str | None = None) -> int:
    """Run every variant, print the table and the chart, write the outputs.  Returns the exit
    code: 0, 1 if a variant failed, 128 + the signal's number if one stopped the comparison."""
    scenario, seed, seed_note = share_seed(scenario, varies)
    variants = make_variants(scenario, varies)
    paths = {"--json": json_path, "--csv": csv_path, "--html": html_path}
    taken = STDOUT in paths.values()
    progress, summary = Console(stderr=True), Console(stderr=taken)
    outputs: dict[str, Output] = {}
    with Interruption() as interruption:
        try:
            for option, path in paths.items():
                if path is not None:
                    outputs[option] = open_output(path, option)
            _run_variants(scenario, variants, progress, interruption, keep_figures="--html" in outputs)
            document = comparison_json(scenario, varies, variants, seed, seed_note, interruption.interrupted)
            if "--json" in outputs:
                json.dump(document, outputs["--json"].stream, indent=2)
                outputs["--json"].stream.write("\n")
                outputs["--json"].keep()
            if "--csv" in outputs:
                write_rows([variant_columns(v) for v in variants], outputs["--csv"].stream)
                outputs["--csv"].keep()
            if "--html" in outputs:
                write_compare_html(document, variants, outputs["--html"])
        finally:
            for output in outputs.values():
                output.discard()  # a no-op for one already kept
        print_comparison(summary, scenario, variants, seed_note)
    if interruption.interrupted:
        return interruption.exit_code
    return 1 if any(v.status == "failed" for v in variants) else 0


def _run_variants(scenario: Scenario, variants: list[Variant], progress: Console, interruption: Interruption,
                  keep_figures: bool = False) -> None:
    time_left = TimeLeft(variants)
    total = len(variants)
    for variant in variants:
        if interruption.interrupted:
            variant.status = "not run"
            continue
        if variant.setup is None:
            variant.status = "failed"
            progress.print(f"[{variant.number}/{total}] {variant.label}: cannot run: {variant.problem}",
                           highlight=False, markup=False, soft_wrap=True)
            continue
        started = time.monotonic()

        def status(variant: Variant = variant, started: float = started) -> str:
            left = time_left.left_s(variant, time.monotonic() - started)
            return f"[{variant.number}/{total}] {variant.label}, {_duration(left)}"

        progress.print(status(), highlight=False, markup=False, soft_wrap=True)
        try:
            engine = Engine(variant.setup, scenario.timeline)
            variant.report = play(engine, dataclasses.replace(scenario, setup=variant.setup), progress,
                                  interruption, status)
        except Exception as error:  # noqa: BLE001 - one variant's failure must not lose the others
            variant.status, variant.problem = "failed", _one_line(error)
            progress.print(f"[{variant.number}/{total}] {variant.label} failed: {variant.problem}",
                           highlight=False, markup=False, soft_wrap=True)
        else:
            variant.status = "interrupted" if variant.report["interrupted"] else "ok"
            if keep_figures:
                variant.figures = run_figures(engine.model, variant.report)
        variant.wall_s = time.monotonic() - started
        if variant.status == "ok":
            time_left.done(variant)


def _one_line(error: Exception) -> str:
    text = str(error).replace("\r", "\\r").replace("\n", "\\n")
    return text if isinstance(error, UserError) else f"{type(error).__name__}: {text}"


def comparison_json(scenario: Scenario, varies: list[Vary], variants: list[Variant], seed: int | None,
                    seed_note: str, interrupted: bool) -> dict[str, Any]:
    return {
        "scenario": scenario.name,
        "vary": {vary.key: list(vary.values) for vary in varies},
        "seed": seed,
        "shared": seed_note,
        "interrupted": interrupted,
        "variants": [
            {"variant": v.number, "vary": v.vary, "status": v.status, "problem": v.problem or None,
             "wall_s": round(v.wall_s, 3), "report": v.report}
            for v in variants
        ],
    }


def write_compare_html(document: dict[str, Any], variants: list[Variant], output: Output) -> None:
    """The comparison as one HTML page with charts, to ``output``."""
    # Deferred for start-up speed: the page's charts need matplotlib, slow to import, and only --html does.
    from rrsim.report.html_report import VariantResult, compare_page

    results = [VariantResult(v.label, tuple(v.values), v.status, v.problem, v.report, v.figures) for v in variants]
    output.stream.write(compare_page(document, results))
    output.keep()


def variant_columns(variant: Variant) -> dict[str, Any]:
    """A variant as one CSV row: its varied values, how it went, and its report's figures."""
    row: dict[str, Any] = {"variant": variant.number, **variant.vary, "status": variant.status,
                           "problem": variant.problem or None}
    report = variant.report
    if report is not None:
        row.update(flat_columns({
            "elapsed_s": report["elapsed_s"], "throughput_msgs_per_s": report["throughput_msgs_per_s"],
            **report["totals"], "wait_ms": report["wait_ms"], "sojourn_ms": report["sojourn_ms"],
            "handover_ms": report.get("handover_ms", {}), "handovers": report.get("handovers"),
            "fairness": report["fairness"], "max_queue": report["max_queue"],
            "within_objective": report.get("within_objective"),
        }))
    return row


def comparison_table(variants: list[Variant]) -> Table:
    """A row per variant: its varied values, then its figures (never cut short: where 80 columns
    are too few, the varied values wrap instead)."""
    # The varied values one above the other in one column: it stays narrow however many keys vary.
    objective = objective_of([v.report for v in variants])
    handover = measured_handover([v.report for v in variants])
    headings = columns(objective, handover)
    rows = [["\n".join(v.values), *(row_figures(v.report, objective is not None, handover) if v.report
                                    else [v.status, *["-"] * (len(headings) - 1)])]
            for v in variants]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=0, show_edge=False,
                  caption=CAPTION + (HANDOVER_CAPTION if handover else "") + ("" if objective is None else OBJECTIVE_CAPTION),
                  caption_justify="left")
    names = [part for row in rows for part in row[0].split("\n")] + list(variants[0].vary)
    table.add_column("\n".join(variants[0].vary), justify="left", overflow="fold",
                     min_width=min(MAX_NAME_WIDTH, max(len(name) for name in names)))
    for index, header in enumerate(headings, start=1):
        widest = max(len(part) for part in [*header.split("\n"), *(row[index] for row in rows)])
        table.add_column(header, justify="right", no_wrap=True, min_width=widest)
    for row in rows:
        table.add_row(*row)
    return table


def table_width(table: Table) -> int:
    """The fewest columns ``comparison_table``'s table takes: its columns' least widths, one
    space between two (the box's column separator)."""
    return sum(column.min_width or 0 for column in table.columns) + len(table.columns) - 1


def print_comparison(console: Console, scenario: Scenario, variants: list[Variant], seed_note: str) -> None:
    def say(text: str, wrap: bool = True) -> None:
        console.print(text, highlight=False, markup=False, soft_wrap=not wrap)

    say(f"scenario {scenario.name}: {len(variants)} variants, one after the other; {seed_note}")
    table = comparison_table(variants)
    width = console.width
    console.width = max(width, table_width(table))  # wider than the console rather than a figure cut short
    try:
        console.print(table)
    finally:
        console.width = width
    rows = [(", ".join(v.values), v.report["wait_percentiles"] if v.report else None, v.status) for v in variants]
    for line in wait_chart(rows, width=min(console.width, 100)):
        say(line, wrap=False)
    for variant in variants:
        if variant.status == "interrupted":
            assert variant.report is not None  # an interrupted variant ran, and reported
            say(f"{variant.label}: interrupted after {variant.report['elapsed_s']:.2f} s: its figures are until then")
        elif variant.status == "failed":
            say(f"{variant.label}: failed: {variant.problem}")
    failed = [v.label for v in variants if v.status == "failed"]
    not_run = [v.label for v in variants if v.status == "not run"]
    ran = sum(v.status in ("ok", "interrupted") for v in variants)
    last = f"{ran} of {len(variants)} variants ran"
    if failed:
        last += f"; {len(failed)} failed: {'; '.join(failed)}"
    if not_run:
        last += f"; interrupted before {'; '.join(not_run)}"
    say(last, wrap=False)  # one line, for a script's tail -1


COMPARE_EPILOG = """\
examples:
  rrsim compare busy-worker --vary pattern=push-pull,lb-broker
  rrsim compare busy-worker --pattern lb-broker --vary strategy=lru,random,p2c,round-robin --json cmp.json
  rrsim compare seed --vary workers=2,4 --vary transport=ipc,tcp --csv cmp.csv

Each --vary names a setup key (any of the setup options below, with _ or -) and the values
to try, checked as the option would be; several --vary run every combination.  A variant
that cannot run (a combination the setup refuses, such as bind = "broker" with push-pull, or
a broker's key with a pattern that has no broker) or that fails is reported in its row, and
the others still run.

The table: throughput (msgs/s), completed, lost, wait p50/p95/p99 and sojourn mean/p99 (ms),
fairness (Jain's index), and max queue: the most messages seen waiting at one worker (one
dealt messages as they are sent, as push-pull's are; behind a broker, what the broker handed
it and it had not done, less the one it worked on) or at the broker (as it reports, every
10 ms), with where.  The chart: each variant's wait on one log-scale axis (p1 to p99.9, p25 to p75, p50, p99).

--json FILE holds every variant's full report (as rrsim run --json writes it) under
"variants", each with its varied keys under "vary"; --csv FILE one row per variant; --html
PAGE one page with the table and charts (every variant's wait and sojourn on one axis,
throughput and losses as bars, messages over time).  Each takes - for standard output (the
table then goes to stderr).  Progress goes to stderr.

exit status: 0 every variant ran, 1 a variant failed, 2 bad input (nothing ran),
  130 / 143 / 129 ended by SIGINT (ctrl+c) / SIGTERM / SIGHUP: the run in progress is ended
  and what was done so far is printed and written
"""


def compare_command(argv: Sequence[str]) -> int:
    parser = Parser(
        prog="rrsim compare",
        description="Run a scenario once per combination of varied setup keys, one after the other, each as "
                    "rrsim run plays it, and compare them: one table, and a chart of each variant's wait.  A setup "
                    f"option overrides the scenario's [setup] for every variant (defaults: {describe_defaults(Setup())}).",
        epilog=COMPARE_EPILOG,
        formatter_class=KeepEpilogFormatter,
    )
    parser.add_argument("scenario", help="a scenario TOML file or a built-in name")
    parser.add_argument("--vary", metavar="KEY=V1,V2,...", action="append", default=[],
                        help="a setup key and the values to try; repeat for more keys (every combination runs)")
    parser.add_argument("--json", metavar="FILE", help="write every variant's report here (- for standard output)")
    parser.add_argument("--csv", metavar="FILE", help="write one row per variant here (- for standard output)")
    parser.add_argument("--html", metavar="PAGE", help="write the comparison as one HTML page with charts here "
                                                       "(opens offline; - for standard output)")
    add_setup_options(parser, Setup(), "setup options (override the scenario's [setup] in every variant)")
    args = parser.parse_args(argv)
    overrides = setup_overrides(args)
    varies = parse_vary(args.vary, set(overrides))
    # Whether the run has an end is each variant's to say when what ends it is varied.
    ends_varied = any(vary.key in ("messages", "duration") for vary in varies)
    scenario = apply_overrides(load_scenario(args.scenario), overrides, need_end=not ends_varied)
    to_stdout = [option for option in ("--json", "--csv", "--html") if getattr(args, option[2:]) == "-"]
    if len(to_stdout) > 1:
        raise UserError(f"{' and '.join(to_stdout)} both ask for standard output (-): give one of them a file")
    return run_compare(scenario, varies, output_path(args.json), output_path(args.csv), output_path(args.html))

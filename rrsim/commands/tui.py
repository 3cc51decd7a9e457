"""``rrsim``: the live view of a run, from the defaults, a scenario or setup options."""

from __future__ import annotations

import argparse
import os
import textwrap
from collections.abc import Sequence

from rrsim import patterns
from rrsim.commands.parser import (
    Parser,
    add_setup_options,
    apply_overrides,
    describe_defaults,
    log_dir,
    path_or_none,
    setup_overrides,
)
from rrsim.commands.version import version_command
from rrsim.errors import UserError
from rrsim.scenario.actions import ACTIONS
from rrsim.scenario.scenario import (
    TUI_DEFAULTS,
    Scenario,
    builtin_scenarios,
    load_scenario,
)
from rrsim.scenario.setup import Setup

# Set by rrsim --web for the rrsim it starts per browser tab, with the same options: that one draws
# for its tab.
TAB_VARIABLE = "RRSIM_WEB_TAB"

EPILOG = f"""\
patterns (--pattern):
{chr(10).join(f"  {name:<11}{patterns.load(name).SUMMARY}" for name in patterns.names())}

headless runs:
  rrsim run SCENARIO [--json REPORT] [--csv FILE] [--events EVENTS.jsonl] [--check CHECK]...
                    [setup options]          (rrsim run --help says more)
      SCENARIO is a TOML file or a built-in name: {', '.join(builtin_scenarios())}
  rrsim compare SCENARIO --vary KEY=V1,V2,... [--vary ...] [--json FILE] [--csv FILE]
                    [setup options]          (rrsim compare --help says more)
      runs the scenario once per combination of the varied setup keys, one after the other,
      and prints a table and a chart of their wait side by side
  rrsim scenarios      list the built-in scenarios

recordings:
  rrsim --record FILE or rrsim run ... --events FILE records a run (FILE.gz: compressed)
  rrsim replay FILE    watch it again: space play/pause, . , step, + - speed, g G start/end,
                       n next kill/loss/revive, j jump to a time (rrsim replay --help)

scenario files:
  [setup] takes the keys of the setup options above (with _ for -), e.g.
      [setup]
      bind = "worker"
      workers = 3
      messages = 20
  each [[at]] entry has one trigger, time = SECONDS after the first send or
  after_sent = N messages in total, and an action:
      {', '.join(ACTIONS)}
  kill/stop/pause/resume/revive/set_work name a worker (worker = "w1"; the first five
  also take the broker, target = "b1"); add_worker
  takes work_ms and speed; set_rate takes rate; set_work takes work_ms.  Entries fire in order.

workloads:
  each message carries a work size drawn around work_ms (work_dist) and is sent at rate, evenly
  or as a Poisson process (arrivals), from the run's seed: the same seed, the same jobs.  A worker
  takes size x (its work_ms / the run's work_ms) / its speed: `[` / `]` and set_work change its
  work_ms, so they scale every message it gets; speeds and add_worker's speed set its speed.
  [checks] (for rrsim run) holds conditions on the report, e.g. lost = "== 0".

keys in the TUI: a add worker, k kill, t stop, r revive, p pause/resume, [ ] work x2 / x0.5,
  P add pusher, + - send rate, space hold sending, s broker strategy, m message map,
  f log of the selected worker, PgUp PgDn Home End scroll the log, 1-9 tab arrows select,
  c the line a remote worker joins with (--listen), o the output of your program (--worker-cmd),
  ? help, q quit

in a browser:
  rrsim --web 8000 [options]   serves this view on http://127.0.0.1:8000: every tab that opens it
                               starts a run of its own with these options, and closing it ends that run
"""


def tui_command(argv: Sequence[str]) -> int:
    parser = Parser(
        prog="rrsim",
        description=textwrap.fill(
            "Watch ZeroMQ distribute work over real processes; kill, pause and revive workers live.  "
            f"Without --scenario it starts {describe_defaults(TUI_DEFAULTS)}; `rrsim run` starts from "
            f"other defaults ({describe_defaults(Setup())}).", 79),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", "-V", action="store_true",
                        help="say rrsim's version and which per-message loops it runs (compiled or python), and leave")
    parser.add_argument("--scenario", metavar="FILE|NAME", help="play a scenario's setup and timeline in the TUI")
    parser.add_argument("--keep-logs", metavar="DIR", help="copy the children's log files here at the end")
    parser.add_argument("--record", metavar="FILE", help="write every event to FILE (gzip if it ends in .gz) "
                                                         "for rrsim replay FILE")
    parser.add_argument("--web", nargs="?", const="8000", metavar="[ADDRESS:]PORT",
                        help="serve the live view to browsers on ADDRESS (default 127.0.0.1) and PORT (default 8000) "
                             "instead of showing it here; there is no authentication")
    parser.add_argument("--unauthenticated", action="store_true",
                        help="with --web ADDRESS:PORT beyond loopback: serve anyway, and let anyone who reaches it "
                             "watch and steer the runs")
    add_setup_options(parser, TUI_DEFAULTS, "setup options (the [setup] keys of a scenario; they override --scenario's)")
    args = parser.parse_args(argv)
    if args.version:
        return version_command()
    in_tab = os.environ.get(TAB_VARIABLE) == "1"
    if args.unauthenticated and args.web is None:
        raise UserError("--unauthenticated is for --web ADDRESS:PORT")
    if args.web is not None and args.record == "-":
        raise UserError("--record -: with --web standard output carries each tab's screen; record to a file")
    address = None
    if args.web is not None and not in_tab:
        # Deferred for start-up speed: the web server (aiohttp, textual-serve) only for --web.
        from rrsim.commands.web import check_address, serve

        address = check_address(args.web, args.unauthenticated)
    base = load_scenario(args.scenario) if args.scenario else Scenario("interactive", TUI_DEFAULTS)
    scenario = apply_overrides(base, setup_overrides(args), need_end=False)  # a mistake is told here, not per tab
    if address is not None:
        os.environ[TAB_VARIABLE] = "1"  # textual-serve passes our environment to each tab's rrsim
        return serve(argv, *address)
    # Deferred for start-up speed: Textual is slow to import, and only the live view needs it.
    from rrsim.tui.app import run_tui

    return run_tui(scenario, log_dir(args.keep_logs), path_or_none(args.record), browser=in_tab)

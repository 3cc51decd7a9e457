"""``rrsim worker --join tcp://HOST:PORT``: join a run on this or another machine as one more worker."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rrsim.commands.parser import Parser
from rrsim.errors import UserError
from rrsim.kinds import RECEIVER
from rrsim.patterns import load as load_pattern
from rrsim.remote.worker import ClockKeeper, RemoteRuntime, RunEnded, join
from rrsim.scenario.setup import check_value, value_from_text

WORKER_HELP = """\
Join a run that listens (rrsim --listen) as one more worker of its pattern, from this machine
or another.  The run's header shows the line to type.  This process is not the run's child:
pause, resume and stop reach it as control messages, and a kill from the live view asks it to
exit at once; it leaves on its own when the run ends or falls silent.

exit status: 0 the run ended (or stopped us), 1 killed from the run, 2 bad input, refused, or
no run answered
"""


def worker_command(argv: Sequence[str]) -> int:
    parser = Parser(prog="rrsim worker", description=WORKER_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--join", required=True, metavar="tcp://HOST:PORT", help="the run's join endpoint")
    parser.add_argument("--server-key", metavar="KEY", help="the run's public key (Z85), for a run with keys")
    parser.add_argument("--key", metavar="FILE", help="this worker's secret key file (rrsim keys; default "
                        "~/.config/rrsim/rrsim.key_secret); the run host must allow its public rrsim.key")
    parser.add_argument("--name", help="what the run calls this machine (default: its host name)")
    parser.add_argument("--speed", default="1", help="work this many times faster than the run's work_ms (default 1)")
    parser.add_argument("--work-ms", dest="work_ms", help="simulated work per message in ms (default: the run's)")
    args = parser.parse_args(argv)
    args.speed = _positive(args.speed, "--speed")
    if args.work_ms is not None:  # as the run checks the work_ms a worker joins with
        args.work_ms = check_value("work_ms", value_from_text("work_ms", args.work_ms, "--work-ms"), "--work-ms")
    if args.name is not None and (not args.name.strip() or len(args.name) > 60):
        raise UserError("--name: must be 1 to 60 characters")
    try:
        spec, curve, estimate = join(args)
    except RunEnded as ended:
        print(f"rrsim worker: {ended}", file=sys.stderr)
        return 2
    role = next(role for role in load_pattern(spec.pattern).ROLES.values() if role.kind == RECEIVER)
    runtime = RemoteRuntime(spec)
    runtime.clock_keeper = ClockKeeper(runtime.ctx, args.join, curve, estimate, runtime)
    try:
        role.loop(runtime)
        print(f"rrsim worker: {spec.name} stopped from the run: finished what it held, leaving", flush=True)
        return 0
    except RunEnded as ended:
        print(f"rrsim worker: {spec.name}: {ended}", flush=True)
        runtime.close()
        return 0
    except KeyboardInterrupt:
        runtime.close()
        return 130


def _positive(text: str, option: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{option}: must be a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise UserError(f"{option}: must be above 0, got {text!r}")
    return value

"""``rrsim replay FILE``: a recorded run in the live view again, or its report."""

from __future__ import annotations

from collections.abc import Sequence

from rrsim.commands.parser import Parser, output_path
from rrsim.commands.run import report_recording
from rrsim.errors import UserError
from rrsim.recording.file import RecordingFile
from rrsim.recording.player import TIME_FORMS, parse_speed, parse_time


def replay_command(argv: Sequence[str]) -> int:
    parser = Parser(
        prog="rrsim replay",
        description="Watch a recorded run again in the live view, without processes: space plays and pauses, "
                    ". and , step, + and - change the speed, g and G go to the start and the end, n jumps to the "
                    "next kill, loss, revive or slow joiner, j to a time.  With --json or --html, no view: write "
                    "the report the run wrote.",
    )
    parser.add_argument("file", metavar="FILE", help="a recording: rrsim run --events FILE, or rrsim --record FILE")
    parser.add_argument("--json", metavar="REPORT", help="write the run's report here (- for standard output) "
                                                         "instead of opening the live view")
    parser.add_argument("--html", metavar="PAGE", help="write the run's report as one HTML page with charts here "
                                                       "(opens offline; - for standard output) instead of opening the live view")
    view = parser.add_argument_group("the live view")
    view.add_argument("--speed", metavar="X", help="play at X times real time, 0.1 to 100, or max (default: 1)")
    view.add_argument("--at", metavar="TIME", help="begin at this time of the run: seconds (12.5 or 12.5s) or m:ss "
                                                    "(1:05); past the end, at the end")
    view.add_argument("--paused", action="store_true", help="begin paused (space plays)")
    args = parser.parse_args(argv)
    speed = 1.0 if args.speed is None else parse_speed(args.speed)
    if speed is None:
        raise UserError(f"--speed {args.speed}: not a speed: a number from 0.1 to 100 (times real time), or max")
    at_s = None if args.at is None else parse_time(args.at)
    if args.at is not None and at_s is None:
        raise UserError(f"--at {args.at}: not a time: {TIME_FORMS}")
    reports = [option for option in ("--json", "--html") if getattr(args, option[2:]) is not None]
    if reports and (args.speed, args.at, args.paused) != (None, None, False):
        raise UserError(f"--speed, --at and --paused are for the live view: {' and '.join(reports)} "
                        "write the whole run's report")
    if args.json == "-" and args.html == "-":
        raise UserError("--json and --html both ask for standard output (-): give one of them a file")
    for option in reports:  # --json "": was a traceback from deep in the report's writing
        if output_path(getattr(args, option[2:])) is None:
            raise UserError(f"{option}: an empty file name; give a file, or - for standard output")
    recording = RecordingFile(args.file)
    if reports:
        return report_recording(recording, output_path(args.json), output_path(args.html))
    # Deferred for start-up speed: Textual is slow to import, and only the live view needs it.
    from rrsim.tui.app import run_replay

    return run_replay(recording, speed, at_s, paused=args.paused)

"""The command line: ``rrsim`` opens the TUI, ``rrsim run SCENARIO`` runs one headless; each
subcommand is a module of ``rrsim.commands``.

Every mistake a user can make ends here as one line on stderr and exit code 2.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence

from rrsim.errors import UserError


def _exit_on_signal(signum: int, _frame: object) -> None:
    # Unwind through every finally, so the engine ends its children and removes its run directory.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    code = _command(list(sys.argv[1:] if argv is None else argv))
    if code > 128:
        # Ended by a signal, and on its way out with 128 + its number: as Python finalizes it
        # resets its handlers to the default, and a second ctrl+c then would kill it instead.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
    return code


def _command(argv: list[str]) -> int:
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _exit_on_signal)
    try:
        # Each command imports only what it needs, when it is chosen: start-up speed (`rrsim keys`
        # needs neither the engine nor Textual).
        if argv and argv[0] == "run":
            from rrsim.commands.run import run_command

            return run_command(argv[1:])
        if argv and argv[0] == "replay":
            from rrsim.commands.replay import replay_command

            return replay_command(argv[1:])
        if argv and argv[0] == "compare":
            from rrsim.commands.compare import compare_command

            return compare_command(argv[1:])
        if argv and argv[0] == "scenarios":
            from rrsim.commands.scenarios import scenarios_command

            return scenarios_command(argv[1:])
        if argv and argv[0] == "keys":
            from rrsim.commands.keys import keys_command

            return keys_command(argv[1:])
        if argv and argv[0] == "worker":
            from rrsim.commands.worker import worker_command

            return worker_command(argv[1:])
        from rrsim.commands.tui import tui_command

        return tui_command(argv)
    except UserError as error:
        # One line, whatever the user typed into the names it quotes.
        message = str(error).replace("\r", "\\r").replace("\n", "\\n")
        print(f"rrsim: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Whoever read our standard output has gone (`| head`): end quietly, as SIGPIPE would, and
        # point stdout at /dev/null so that the interpreter's last flush does not complain.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE

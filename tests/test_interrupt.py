"""How rrsim leaves once a signal ended it (rrsim/cli.py): in this process, no children."""

from __future__ import annotations

import signal

from rrsim import cli


def test_a_command_ended_by_a_signal_leaves_with_its_code_whatever_comes_next(monkeypatch):
    """A second ctrl+c that lands while Python finalizes would meet the default handler it resets
    to and kill rrsim by SIGINT (seen in CI: returncode -2 where 130 was due)."""
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        monkeypatch.setattr(cli, "_command", lambda argv: 0)
        assert cli.main(["run", "x"]) == 0
        assert signal.getsignal(signal.SIGINT) == before[signal.SIGINT]  # a run that ended by itself: untouched
        monkeypatch.setattr(cli, "_command", lambda argv: 128 + signal.SIGINT)
        assert cli.main(["run", "x"]) == 130
        assert [signal.getsignal(signum) for signum in before] == [signal.SIG_IGN] * 3
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)

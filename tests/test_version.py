"""``rrsim --version`` says which per-message loops run, and why the Python ones when they do."""

from __future__ import annotations

import re

import pytest

from rrsim.child import loops
from rrsim.cli import main


def test_the_version_says_which_loops_run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(loops.ENV, raising=False)
    monkeypatch.setattr(loops, "_chosen", None)  # chosen again, and as before afterwards
    assert main(["--version"]) == 0
    assert re.fullmatch(r"rrsim \S+, (compiled loops|python loops \(.+\))\n", capsys.readouterr().out)
    monkeypatch.setenv(loops.ENV, loops.PYTHON)
    loops.choose_again()
    assert main(["-V"]) == 0
    assert capsys.readouterr().out.endswith(", python loops (RRSIM_LOOPS=python)\n")

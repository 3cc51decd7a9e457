"""What a new user found wrong in the headless commands (issue 24), each checked on a real run:
what `rrsim run` prints, and whether every number it prints about one thing agrees with the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import run_rrsim

pytestmark = pytest.mark.system  # every test here starts rrsim

SMALL_RUN = """
[setup]
workers = 1
messages = 5
rate = 100.0
"""


# ---------------------------------------------------------------------- item 3
def test_a_run_listening_on_loopback_says_only_this_machine_can_join(tmp_path: Path) -> None:
    (tmp_path / "run.toml").write_text(SMALL_RUN)
    result = run_rrsim("run", "run.toml", "--listen", "tcp://127.0.0.1:0", tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    join = next(line for line in (result.stdout + result.stderr).splitlines() if "rrsim worker --join" in line)
    assert join.startswith("to join (this machine only): rrsim worker --join tcp://127.0.0.1:"), join
    assert "another machine" not in result.stdout + result.stderr

"""``python -m rrsim.patterns SPEC_JSON``: a local child's entry: load the spec's pattern and run
its role's loop on a ``ChildRuntime``.  The engine forks its children from the fork server
(``forkserver.py``), which calls ``run`` the same way."""

from __future__ import annotations

import json
import sys

from rrsim.child.runtime import ChildRuntime
from rrsim.child.spec import ChildSpec
from rrsim.patterns import load


def run(spec_json: str) -> None:
    spec = ChildSpec.from_dict(json.loads(spec_json))
    role = load(spec.pattern).ROLES[spec.role]
    loop = role.program_loop if spec.worker_cmd and role.program_loop is not None else role.loop
    loop(ChildRuntime(spec))


if __name__ == "__main__":
    run(sys.argv[1])

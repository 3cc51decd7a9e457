"""What profiling found and what changed, recorded with every results file.

Kept by hand: each entry says where the time went, what was done about it (or proposed, for
files another engineer owns), and what it was worth, measured as a same-run ratio.
"""

from __future__ import annotations

FINDINGS: list[dict[str, str]] = []

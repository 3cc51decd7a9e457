"""rrsim's benchmark suite: rrsim against bare pyzmq in the same run, reaction times, UI lag, scale.

``python -m benchmarks`` runs everything, prints a table and writes ``benchmarks/results.json``.
Benchmarks print figures; they are not timed tests (``tests/test_benchmarks.py`` only checks
that a tiny run produces well-formed results).
"""

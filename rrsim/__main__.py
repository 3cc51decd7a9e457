"""``python -m rrsim``: the same as the ``rrsim`` command."""

from rrsim.cli import main

raise SystemExit(main())

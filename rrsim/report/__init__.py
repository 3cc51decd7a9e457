"""What a run's model says in words, tables, files and theory: the report, its wording, CSV, charts."""

"""Recordings of a run's events: the file format, and playing one back to any moment."""

"""One run on this machine: its processes, sockets, telemetry, timeline and clean-up, driven by ``step()``."""

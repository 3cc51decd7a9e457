"""What a process's telemetry means, whatever its pattern: a sender reports what it sent, a router
what it holds, a receiver what it received.  Shared by the patterns that declare roles of a kind and
the model that folds their telemetry."""

SENDER, ROUTER, RECEIVER = "sender", "router", "receiver"

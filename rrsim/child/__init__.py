"""What every child process shares, whatever its pattern: the runtime, the sending loop, receipts, work and workload."""

"""The pure fold of a run's events into what front ends show: no sockets, no clocks, no processes."""

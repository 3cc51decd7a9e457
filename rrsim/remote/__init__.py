"""Workers on other machines: the run's join listener, the joining worker, and CURVE keys."""

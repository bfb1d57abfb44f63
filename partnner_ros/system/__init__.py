"""Running the system as processes: spawn, wait until ready, stop."""

"""Link traces and the trace-driven simulator that drives the policies offline."""

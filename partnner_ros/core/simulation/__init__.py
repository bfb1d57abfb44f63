"""Link traces and the trace-driven simulator that drives the policies offline."""

# the policies a simulation runs, by name; here, not in the simulator, so that command-line help need not
# import it
SIM_POLICIES = ('partnner', 'edge_only', 'cloud_only', 'best_static', 'informed', 'neurosurgeon', 'ans')

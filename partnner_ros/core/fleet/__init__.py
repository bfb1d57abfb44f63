"""Many robots sharing servers: batching, the server's load state and congestion price,
and the fleet simulator with its offline optimum.
"""

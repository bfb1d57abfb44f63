"""Recordings of real runs (MCAP): reading and writing them, and the conditions a replay takes from them."""

"""Emulating a robot, a server and the link between them on one Linux machine (root)."""
